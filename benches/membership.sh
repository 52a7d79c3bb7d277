#!/usr/bin/env bash
# benches/membership.sh -- a node joining a loaded cluster, then leaving it.
#
# Three ringcache nodes (N = 3, W = 2) are loaded with KEYS keys of 32-byte
# values. Node 4 starts alone and is met by node 1 (CLUSTER MEET): it owns
# nothing until the slots it will own have been streamed to it, then
# serves (docs/membership.md, "Join"). Figures: time from MEET to serving,
# the keys it then holds, and a GET load's rate on node 1 meanwhile beside
# the same load before. Then node 4 leaves (CLUSTER LEAVE): time until it
# has left, keys handed over, and the same GET load meanwhile. Finally
# every node's keys and DBSIZE through node 1.
#
# Usage: [RINGCACHE_BIN=...] [KEYS=1000000] benches/membership.sh [--quick]
#   --quick: KEYS=100000

set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KEYS=${KEYS:-1000000}
[[ "${1:-}" == --quick ]] && KEYS=100000
READY_TIMEOUT=${READY_TIMEOUT:-30}
STEP_TIMEOUT=${STEP_TIMEOUT:-300}
OUT_DIR=${OUT_DIR:-$ROOT/bench-results}
# shellcheck source=lib.sh
source "$ROOT/benches/lib.sh"
bench_init ringcache-membership
ensure_redis_tools timeout awk
build_ringcache


mapfile -t PORTS < <(free_ports 8)
SECRET=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
peers=""
for i in 0 1 2; do peers+="${peers:+,}node-$((i + 1))@127.0.0.1:${PORTS[2 * i]}@${PORTS[2 * i + 1]}"; done
NODE_PID=()
for i in 0 1 2; do
    start_server "node-$((i + 1))" "" "${PORTS[2 * i]}" "$RC_BIN" --bind 127.0.0.1 --port "${PORTS[2 * i]}" \
        --node-id "node-$((i + 1))" --peers "$peers" --cluster-secret "$SECRET"
    NODE_PID[i]=$SERVER_PID
done
for i in 0 1 2; do
    deadline=$((SECONDS + READY_TIMEOUT))
    until [[ "$(field "${PORTS[2 * i]}" cluster cluster_phase)" == serving ]]; do
        [[ $SECONDS -lt $deadline ]] || die "node $((i + 1)) not serving after ${READY_TIMEOUT}s"
        sleep 0.1
    done
done
P1=${PORTS[0]} P4=${PORTS[6]} C4=${PORTS[7]}

log "loading $KEYS keys through node 1"
load_keys "$P1" "$KEYS"
load_ms=$LOAD_MS
sleep 2

record_raw "redis-benchmark -p <node 1> -n <40000 per second> -c 16 -P 16 -r $KEYS -t get"
before=$(gets "$P1" "$KEYS" 5)
log "GETs on node 1 before: $before/s"

# Join.
start_server node-4 "" "$P4" "$RC_BIN" --bind 127.0.0.1 --port "$P4" --cluster-port "$C4" \
    --node-id node-4 --cluster-enabled yes --cluster-secret "$SECRET"
NODE_PID[3]=$SERVER_PID
gets "$P1" "$KEYS" 10 >"$WORK/during-join.txt" &
load_pid=$!
began=$(now_ms)
timeout 5 redis-cli -p "$P1" cluster meet 127.0.0.1 "$P4" "$C4" >/dev/null
deadline=$((SECONDS + STEP_TIMEOUT))
until [[ "$(field "$P4" cluster cluster_phase)" == serving ]]; do
    [[ $SECONDS -lt $deadline ]] || die "node 4 not serving after ${STEP_TIMEOUT}s"
    sleep 0.05
done
join_ms=$(($(now_ms) - began))
wait "$load_pid" || true
during_join=$(cat "$WORK/during-join.txt")
[[ -n "$during_join" ]] || log "GET load during the join: $(tail -c 600 "$WORK/gets.err" | tr "\r" "\n" | tail -3)"
keys4=$(local_keys "$P4")
slots4=$(field "$P4" replication owned_slots)
log "node 4 serving $join_ms ms after MEET, holding $keys4 keys of $slots4 owned slots; GETs during: $during_join/s"
sleep 2

# Leave.
gets "$P1" "$KEYS" 10 >"$WORK/during-leave.txt" &
load_pid=$!
began=$(now_ms)
timeout 5 redis-cli -p "$P4" cluster leave >/dev/null
deadline=$((SECONDS + STEP_TIMEOUT))
until [[ "$(field "$P4" cluster cluster_phase)" == left ]]; do
    [[ $SECONDS -lt $deadline ]] || die "node 4 had not left after ${STEP_TIMEOUT}s"
    sleep 0.05
done
leave_ms=$(($(now_ms) - began))
handed=$(field "$P4" cluster cluster_handoff_keys)
wait "$load_pid" || true
during_leave=$(cat "$WORK/during-leave.txt")
log "node 4 left $leave_ms ms after CLUSTER LEAVE, $handed keys handed over; GETs during: $during_leave/s"
sleep 2
dbsize=$(timeout 10 redis-cli -p "$P1" dbsize)
[[ "$dbsize" == "$KEYS" ]] || die "DBSIZE through node 1 is $dbsize after the leave, not $KEYS"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
load=$(cut -d' ' -f1-3 /proc/loadavg)
sed -i "s/$SECRET/<random per-run secret>/g" "$WORK/commands.txt"
mkdir -p "$OUT_DIR"
report="$OUT_DIR/$(date +%F)-membership.md"
{
    echo "# A node joins a loaded cluster, then leaves it: $KEYS keys"
    echo
    echo "$(date -u +%FT%TZ), commit $(ringcache_commit), $(nproc) cores, load average $load at the end"
    echo "(other work may share the machine: absolute rates drift; the times are what matters). benches/membership.sh."
    echo
    echo "Three nodes from \`peers\`, N = 3, W = 2, $KEYS keys of 32-byte values loaded through"
    echo "node 1 in $load_ms ms. Node 4 started alone, met by node 1 (CLUSTER MEET); later"
    echo "CLUSTER LEAVE on node 4. A GET load (P16, 16 clients) on node 1 throughout each step."
    echo
    echo "| figure | value |"
    echo "|---|---|"
    echo "| node 4 serving, from CLUSTER MEET | $join_ms ms |"
    echo "| keys node 4 then holds / slots it owns | $keys4 / $slots4 |"
    echo "| node 4 left, from CLUSTER LEAVE | $leave_ms ms |"
    echo "| keys it handed over | $handed |"
    echo "| DBSIZE through node 1 afterwards | $dbsize |"
    echo "| GETs/s on node 1 before | $before |"
    echo "| GETs/s on node 1 during the join | $during_join ($(ratio "$during_join" "$before") x) |"
    echo "| GETs/s on node 1 during the leave | $during_leave ($(ratio "$during_leave" "$before") x) |"
    echo
    echo "Commands:"
    echo
    echo '```'
    cat "$WORK/commands.txt"
    echo '```'
} >"$report"
log "wrote $report"
cat "$report"
