#!/usr/bin/env bash
# benches/keyspace.sh -- keyspace-wide commands (SCAN, DBSIZE, INFO,
# RANDOMKEY, KEYS on a miss pattern) on a loaded node, and whether they
# hold other clients up: ringcache and redis-server side by side, each
# pinned to one CPU, the same KEYS keys loaded into both.
#
# For each command: redis-benchmark's rate of that command alone, then the
# rate of GETs while 4 other clients run that command in a loop (a command
# that stops the world drags the GETs down with it).
#
# Usage: [RINGCACHE_BIN=...] [KEYS=630000] [REQUESTS=20000] benches/keyspace.sh

set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KEYS=${KEYS:-630000}
REQUESTS=${REQUESTS:-20000}
LOAD_TIMEOUT=${LOAD_TIMEOUT:-300}
READY_TIMEOUT=${READY_TIMEOUT:-30}
# shellcheck source=lib.sh
source "$ROOT/benches/lib.sh"
bench_init ringcache-keyspace
ensure_redis_tools taskset timeout awk
build_ringcache

keys_resp "$KEYS" "$WORK/keys.resp"

rc_port=$(free_port)
start_server ringcache 0 "$rc_port" "$RC_BIN" --bind 127.0.0.1 --port "$rc_port" --threads 1
rc_pid=$SERVER_PID
redis_port=$(free_port)
start_server redis 0 "$redis_port" redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no
redis_pid=$SERVER_PID

for port in "$rc_port" "$redis_port"; do
    out=$(timeout "$LOAD_TIMEOUT" taskset -c 1 redis-cli -p "$port" --pipe <"$WORK/keys.resp" 2>&1) || die "preload failed: $out"
    [[ "$out" == *"errors: 0, replies: $KEYS"* ]] || die "preload reported: $out"
done

# rps PORT N CLIENTS ARGS...: requests per second of one redis-benchmark run.
rps() {
    local port=$1 n=$2 c=$3
    shift 3
    timeout 300 taskset -c 1 redis-benchmark -p "$port" -n "$n" -c "$c" -q --csv "$@" 2>/dev/null |
        awk -F'","' 'NR == 2 { gsub(/"/, "", $2); print int($2) }'
}

# gets_while PORT ARGS...: GET rate while 4 clients loop ARGS.
gets_while() {
    local port=$1 pids=() i
    shift
    for i in 1 2 3 4; do
        (while :; do redis-cli -p "$port" "$@" >/dev/null 2>&1 || exit 0; done) &
        pids+=("$!")
        PIDS+=("$!")
    done
    sleep 0.5
    rps "$port" "$REQUESTS" 10 -r 100000 GET key:__rand_int__
    for i in "${pids[@]}"; do kill "$i" 2>/dev/null || true; wait "$i" 2>/dev/null || true; forget_pid "$i"; done
}

echo "# keyspace-wide commands, $KEYS keys ($(date -u +%F), ringcache ${RINGCACHE_BIN:+binary $RINGCACHE_BIN, }tree $(ringcache_commit))"
echo
echo "| command | ringcache/s | redis/s | ratio | GETs/s beside it, ringcache | redis | ratio |"
echo "|---|---:|---:|---:|---:|---:|---:|"
base_rc=$(rps "$rc_port" "$REQUESTS" 10 -r 100000 GET key:__rand_int__)
base_redis=$(rps "$redis_port" "$REQUESTS" 10 -r 100000 GET key:__rand_int__)
awk -v a="$base_rc" -v b="$base_redis" 'BEGIN { printf "| GET alone | %d | %d | %.2f | | | |\n", a, b, a / b }'
for cmd in "SCAN 0 COUNT 10" "DBSIZE" "INFO keyspace" "RANDOMKEY" "KEYS nomatch:*"; do
    # KEYS walks every key: fewer of them.
    n=$REQUESTS
    [[ "$cmd" == KEYS* ]] && n=50
    # shellcheck disable=SC2086  # the command's words are separate arguments
    a=$(rps "$rc_port" "$n" 4 $cmd)
    # shellcheck disable=SC2086
    b=$(rps "$redis_port" "$n" 4 $cmd)
    # shellcheck disable=SC2086
    ga=$(gets_while "$rc_port" $cmd)
    # shellcheck disable=SC2086
    gb=$(gets_while "$redis_port" $cmd)
    awk -v c="$cmd" -v a="$a" -v b="$b" -v ga="$ga" -v gb="$gb" \
        'BEGIN { printf "| %s | %d | %d | %.2f | %d | %d | %.2f |\n", c, a, b, (b ? a / b : 0), ga, gb, (gb ? ga / gb : 0) }'
done
