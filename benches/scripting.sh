#!/usr/bin/env bash
# benches/scripting.sh -- EVALSHA of small scripts, ringcache and
# redis-server side by side, each pinned to one CPU, redis-benchmark on
# the other: `return redis.call('GET', KEYS[1])` and an INCR script, at
# pipeline depths 1 and 16, with plain GET beside them for scale.
#
# Usage: [RINGCACHE_BIN=...] [REQUESTS=100000] benches/scripting.sh

set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REQUESTS=${REQUESTS:-100000}
READY_TIMEOUT=${READY_TIMEOUT:-30}
# shellcheck source=lib.sh
source "$ROOT/benches/lib.sh"
bench_init ringcache-scripting
ensure_redis_tools taskset timeout awk
build_ringcache

rc_port=$(free_port)
start_server ringcache 0 "$rc_port" "$RC_BIN" --bind 127.0.0.1 --port "$rc_port" --threads 1
redis_port=$(free_port)
start_server redis 0 "$redis_port" redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no

GET_SCRIPT="return redis.call('GET', KEYS[1])"
INCR_SCRIPT="return redis.call('INCR', KEYS[1])"
for port in "$rc_port" "$redis_port"; do
    timeout 120 taskset -c 1 redis-benchmark -p "$port" -n 10000 -r 10000 -q SET key:__rand_int__ v >/dev/null
done
get_sha=$(redis-cli -p "$rc_port" SCRIPT LOAD "$GET_SCRIPT")
incr_sha=$(redis-cli -p "$rc_port" SCRIPT LOAD "$INCR_SCRIPT")
[[ "$(redis-cli -p "$redis_port" SCRIPT LOAD "$GET_SCRIPT")" == "$get_sha" ]] || die "SHA1s differ"
[[ "$(redis-cli -p "$redis_port" SCRIPT LOAD "$INCR_SCRIPT")" == "$incr_sha" ]] || die "SHA1s differ"

# rps PORT PIPELINE ARGS...: requests per second of one redis-benchmark run.
rps() {
    local port=$1 p=$2
    shift 2
    timeout 300 taskset -c 1 redis-benchmark -p "$port" -n "$REQUESTS" -c 50 -P "$p" -r 10000 -q --csv "$@" 2>/dev/null |
        awk -F'","' 'NR == 2 { gsub(/"/, "", $2); print int($2) }'
}

echo "# EVALSHA of small scripts ($(date -u +%F), ringcache ${RINGCACHE_BIN:+binary $RINGCACHE_BIN, }tree $(ringcache_commit), $(redis-server --version | awk '{print $3}'))"
echo
echo "$REQUESTS requests, 50 connections, 10,000 keys, each server on one CPU (ringcache --threads 1)."
echo
echo "| test | pipeline | ringcache rps | redis rps | ratio |"
echo "|---|---:|---:|---:|---:|"
for p in 1 16; do
    for t in "GET" "EVALSHA get" "EVALSHA incr"; do
        case $t in
            GET) args=(GET key:__rand_int__) ;;
            "EVALSHA get") args=(EVALSHA "$get_sha" 1 key:__rand_int__) ;;
            "EVALSHA incr") args=(EVALSHA "$incr_sha" 1 counter:__rand_int__) ;;
        esac
        a=$(rps "$rc_port" "$p" "${args[@]}")
        b=$(rps "$redis_port" "$p" "${args[@]}")
        awk -v t="$t" -v p="$p" -v a="$a" -v b="$b" 'BEGIN { printf "| %s | %d | %d | %d | %.2f |\n", t, p, a, b, (b ? a / b : 0) }'
    done
done
