#!/usr/bin/env bash
# benches/catchup.sh -- how long a node restarted with an empty memory takes
# to catch up, and what clients see meanwhile.
#
# Three ringcache nodes (N = 3, W = 2: every node owns every slot) are
# loaded with KEYS keys of 32-byte values; node 3 is killed with SIGKILL
# and started again empty. It serves none of its slots until it has
# streamed them from the other owners (INFO replication catching_up:1);
# the figure is the time from its start until catching_up:0, and until its
# owned_slots_digest equals node 1's (it then holds the same versions of
# every key). Meanwhile a redis-benchmark GET load runs on node 1, and its
# rate is compared with the same load before the kill.
#
# Usage: [RINGCACHE_BIN=...] [KEYS=1000000] benches/catchup.sh [--quick]
#   --quick: KEYS=100000

set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KEYS=${KEYS:-1000000}
[[ "${1:-}" == --quick ]] && KEYS=100000
READY_TIMEOUT=${READY_TIMEOUT:-30}
CATCHUP_TIMEOUT=${CATCHUP_TIMEOUT:-300}
OUT_DIR=${OUT_DIR:-$ROOT/bench-results}
# shellcheck source=lib.sh
source "$ROOT/benches/lib.sh"
bench_init ringcache-catchup
ensure_redis_tools timeout awk
build_ringcache


mapfile -t PORTS < <(free_ports 6)
SECRET=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
peers=""
for i in 0 1 2; do peers+="${peers:+,}node-$((i + 1))@127.0.0.1:${PORTS[2 * i]}@${PORTS[2 * i + 1]}"; done
start_node() {  # I: start node I (0-based); sets NODE_PID[I]
    local i=$1
    start_server "node-$((i + 1))" "" "${PORTS[2 * i]}" "$RC_BIN" --bind 127.0.0.1 --port "${PORTS[2 * i]}" \
        --node-id "node-$((i + 1))" --peers "$peers" --cluster-secret "$SECRET"
    NODE_PID[i]=$SERVER_PID
}
NODE_PID=()
for i in 0 1 2; do start_node "$i"; done
for i in 0 1 2; do
    deadline=$((SECONDS + READY_TIMEOUT))
    until timeout 5 redis-cli -p "${PORTS[2 * i]}" cluster info 2>/dev/null | tr -d '\r' | grep -qx cluster_state:ok; do
        [[ $SECONDS -lt $deadline ]] || die "node $((i + 1)) not ok after ${READY_TIMEOUT}s"
        sleep 0.1
    done
done
P1=${PORTS[0]} P3=${PORTS[4]}

log "loading $KEYS keys through node 1"
load_keys "$P1" "$KEYS"
load_ms=$LOAD_MS
deadline=$((SECONDS + CATCHUP_TIMEOUT))
until [[ "$(field "$P1" replication owned_slots_digest)" == "$(field "$P3" replication owned_slots_digest)" ]]; do
    [[ $SECONDS -lt $deadline ]] || die "owners did not converge after the load"
    sleep 0.2
done
keys3=$(timeout 5 redis-cli -p "$P3" dbsize)
used3=$(field "$P3" memory used_memory)
log "loaded in $load_ms ms; node 3 holds its share, used_memory $used3"

# GET load on node 1: rate alone, then while node 3 catches up.
record_raw "redis-benchmark -p <node 1> -n <40000 per second> -c 16 -P 16 -r $KEYS -t get"
before=$(gets "$P1" "$KEYS" 5)
log "GETs on node 1 before: $before/s"

kill -KILL "${NODE_PID[2]}"
wait "${NODE_PID[2]}" 2>/dev/null || true
forget_pid "${NODE_PID[2]}"
sleep 1
began=$(now_ms)
start_node 2
gets "$P1" "$KEYS" 10 >"$WORK/during.txt" &
load_pid=$!
ready_ms="" converged_ms=""
deadline=$((SECONDS + CATCHUP_TIMEOUT))
while [[ -z "$converged_ms" ]]; do
    [[ $SECONDS -lt $deadline ]] || die "node 3 had not caught up after ${CATCHUP_TIMEOUT}s"
    if [[ -z "$ready_ms" && "$(field "$P3" replication catching_up)" == 0 ]]; then
        ready_ms=$(($(now_ms) - began))
        log "node 3 serving again after $ready_ms ms"
    fi
    if [[ -n "$ready_ms" && "$(field "$P1" replication owned_slots_digest)" == "$(field "$P3" replication owned_slots_digest)" ]]; then
        converged_ms=$(($(now_ms) - began))
    fi
    sleep 0.05
done
wait "$load_pid" || true
during=$(cat "$WORK/during.txt")
keys_after=$(timeout 5 redis-cli -p "$P3" dbsize)
log "node 3 converged after $converged_ms ms; GETs on node 1 during: $during/s"

rate=$(awk -v k="$KEYS" -v ms="$converged_ms" 'BEGIN { printf "%.0f", k / (ms / 1000) }')
ratio=$(awk -v a="$during" -v b="$before" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
load=$(cut -d' ' -f1-3 /proc/loadavg)
# The secret is per run and random; keep it out of the report.
sed -i "s/$SECRET/<random per-run secret>/g" "$WORK/commands.txt"
mkdir -p "$OUT_DIR"
report="$OUT_DIR/$(date +%F)-catchup.md"
{
    echo "# Catch-up after an empty restart: $KEYS keys"
    echo
    echo "$(date -u +%FT%TZ), commit $(ringcache_commit), $(nproc) cores, load average $load at the end"
    echo "(other work shared the machine: absolute rates are low; the times are what matters). benches/catchup.sh."
    echo
    echo "Three nodes, N = 3, W = 2 (each node owns every slot), $KEYS keys of 32-byte"
    echo "values loaded through node 1 in $load_ms ms. Node 3 killed (SIGKILL) and started"
    echo "again with an empty memory; times from its start."
    echo
    echo "| figure | value |"
    echo "|---|---|"
    echo "| serving its slots again (catching_up:0) | $ready_ms ms |"
    echo "| same versions as node 1 (digests equal) | $converged_ms ms |"
    echo "| keys per second, from its start to equal digests | $rate |"
    echo "| DBSIZE on node 3 before / after | $keys3 / $keys_after |"
    echo "| node 3 used_memory before the kill | $used3 |"
    echo "| GETs/s on node 1 before (P16, 16 clients) | $before |"
    echo "| GETs/s on node 1 during the catch-up | $during ($ratio x) |"
    echo
    echo "Commands:"
    echo
    echo '```'
    cat "$WORK/commands.txt"
    echo '```'
} >"$report"
log "wrote $report"
cat "$report"
