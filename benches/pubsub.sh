#!/usr/bin/env bash
# benches/pubsub.sh -- PUBLISH fan-out: 1,000 subscribers of one channel,
# one publisher pipelining PUBLISHes, the clock running until every
# subscriber has every message; ringcache (--threads 1) and redis-server
# side by side, each server pinned to CPU 0 and the load generator
# (benches/pubsub_fanout.rs) to CPU 1.
#
# Usage: [RINGCACHE_BIN=...] [SUBSCRIBERS=1000] [MESSAGES=2000] [ROUNDS=3]
#        benches/pubsub.sh
# Prints a Markdown table (one row per message size, the best of ROUNDS).

set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SUBSCRIBERS=${SUBSCRIBERS:-1000}
MESSAGES=${MESSAGES:-2000}
ROUNDS=${ROUNDS:-3}
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
redis_port=$(free_port)
start_server redis 0 "$redis_port" redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no \
    --maxclients 10000

# best PORT SIZE: the best "publishes/s deliveries/s" of ROUNDS runs.
best() {
    local port=$1 size=$2 i line best_line="" best_rate=0 rate
    for ((i = 0; i < ROUNDS; i++)); do
        record_cmd taskset -c 1 "$GEN" "$port" "$SUBSCRIBERS" "$MESSAGES" "$size" "$PIPELINE"
        line=$(timeout 300 taskset -c 1 "$GEN" "$port" "$SUBSCRIBERS" "$MESSAGES" "$size" "$PIPELINE") ||
            die "load generator failed against port $port"
        rate=${line%% *}
        if ((rate > best_rate)); then best_rate=$rate; best_line=$line; fi
    done
    echo "$best_line"
}

echo "# PUBLISH fan-out to $SUBSCRIBERS subscribers ($(date -u +%F), ringcache ${RINGCACHE_BIN:+binary $RINGCACHE_BIN, }tree $(ringcache_commit))"
echo
echo "$MESSAGES PUBLISHes per run, $PIPELINE pipelined, best of $ROUNDS; server on CPU 0, load generator on CPU 1;"
echo "redis-server $(redis-server --version | awk '{print $3}' | tr -d 'v='). Deliveries/s = messages x subscribers / time until all arrived."
echo
echo "| message | ringcache PUBLISH/s | redis PUBLISH/s | ratio | ringcache deliveries/s | redis deliveries/s |"
echo "|---|---:|---:|---:|---:|---:|"
for size in 16 256 4096; do
    read -r rp rd _ _ <<<"$(best "$rc_port" "$size")"
    read -r sp sd _ _ <<<"$(best "$redis_port" "$size")"
    awk -v s="$size" -v rp="$rp" -v rd="$rd" -v sp="$sp" -v sd="$sd" \
        'BEGIN { printf "| %d B | %d | %d | %.2f | %d | %d |\n", s, rp, sp, (sp ? rp / sp : 0), rd, sd }'
done
