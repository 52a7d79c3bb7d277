#!/usr/bin/env bash
# benches/pubsub.sh -- PUBLISH fan-out: 1,000 subscribers of one channel,
# one publisher pipelining PUBLISHes, the clock running until every
# subscriber has every message; ringcache (--threads 1) and redis-server
# side by side, each server pinned to CPU 0 and the load generator
# (benches/pubsub_fanout.rs) to CPU 1.
#
# Usage: [RINGCACHE_BIN=...] [SUBSCRIBERS=1000] [MESSAGES=1000] [ROUNDS=2]
#        benches/pubsub.sh
# Prints a Markdown table (one row per message size, the best of ROUNDS).
# The load generator is one thread and often the bottleneck (both servers
# then show about the same rate), so the table also gives each server's own
# CPU time per PUBLISH (1,000 deliveries): that is what the server spends.

set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SUBSCRIBERS=${SUBSCRIBERS:-1000}
MESSAGES=${MESSAGES:-1000}
ROUNDS=${ROUNDS:-2}
PIPELINE=${PIPELINE:-16}
READY_TIMEOUT=${READY_TIMEOUT:-30}
# shellcheck source=lib.sh
source "$ROOT/benches/lib.sh"
bench_init ringcache-pubsub
ensure_redis_tools taskset timeout awk
build_ringcache
log "building the load generator"
(cd "$ROOT" && cargo build --release -p ringcache-benches --bin pubsub_fanout) >&2
target=${CARGO_TARGET_DIR:-target}
[[ "$target" == /* ]] || target=$ROOT/$target
GEN=$target/release/pubsub_fanout

# Room for the subscribers' sockets.
ulimit -n 8192 2>/dev/null || true

rc_port=$(free_port)
start_server ringcache 0 "$rc_port" "$RC_BIN" --bind 127.0.0.1 --port "$rc_port" --threads 1
rc_pid=$SERVER_PID
redis_port=$(free_port)
start_server redis 0 "$redis_port" redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no \
    --maxclients 10000
redis_pid=$SERVER_PID
CLK_TCK=$(getconf CLK_TCK)

# best PORT PID SIZE: "publishes/s deliveries/s server-cpu-us-per-publish"
# of the fastest of ROUNDS runs.
best() {
    local port=$1 pid=$2 size=$3 i line best_line="" best_rate=0 rate t0 t1
    for ((i = 0; i < ROUNDS; i++)); do
        record_cmd taskset -c 1 "$GEN" "$port" "$SUBSCRIBERS" "$MESSAGES" "$size" "$PIPELINE"
        t0=$(cpu_ticks "$pid")
        line=$(timeout 300 taskset -c 1 "$GEN" "$port" "$SUBSCRIBERS" "$MESSAGES" "$size" "$PIPELINE") ||
            die "load generator failed against port $port"
        t1=$(cpu_ticks "$pid")
        rate=${line%% *}
        if ((rate > best_rate)); then
            best_rate=$rate
            # The connects and SUBSCRIBEs are in the CPU time too: small
            # next to 1,000 x MESSAGES deliveries.
            best_line="$line $(awk -v t=$((t1 - t0)) -v hz="$CLK_TCK" -v m="$MESSAGES" 'BEGIN { printf "%.0f", t / hz / m * 1e6 }')"
        fi
    done
    echo "$best_line"
}

echo "# PUBLISH fan-out to $SUBSCRIBERS subscribers ($(date -u +%F), ringcache ${RINGCACHE_BIN:+binary $RINGCACHE_BIN, }tree $(ringcache_commit))"
echo
echo "$MESSAGES PUBLISHes per run, $PIPELINE pipelined, best of $ROUNDS; server on CPU 0, load generator on CPU 1;"
echo "redis-server $(redis-server --version | awk '{print $3}' | tr -d 'v='). Deliveries/s = messages x subscribers / time until all arrived."
echo
echo "| message | ringcache PUBLISH/s | redis PUBLISH/s | ratio | ringcache deliveries/s | redis deliveries/s | ringcache CPU µs/PUBLISH | redis CPU µs/PUBLISH |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for size in 16 256 1024; do
    read -r rp rd _ _ rc <<<"$(best "$rc_port" "$rc_pid" "$size")"
    read -r sp sd _ _ sc <<<"$(best "$redis_port" "$redis_pid" "$size")"
    awk -v s="$size" -v rp="$rp" -v rd="$rd" -v sp="$sp" -v sd="$sd" -v rc="$rc" -v sc="$sc" \
        'BEGIN { printf "| %d B | %d | %d | %.2f | %d | %d | %d | %d |\n", s, rp, sp, (sp ? rp / sp : 0), rd, sd, rc, sc }'
done
