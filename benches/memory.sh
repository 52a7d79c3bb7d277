#!/usr/bin/env bash
# benches/memory.sh -- memory per key of one ringcache node, measured as
# benches/run.sh measures it, without the rest of the benchmark (~15 s a run).
#
# Starts `ringcache --threads 1` pinned to CPU 0, reads VmRSS, loads KEYS
# SETs (keys `key:%0Nd` of KEY_LEN bytes, 32-byte values) with
# `redis-cli --pipe`, checks DBSIZE, reads VmRSS again, and prints
# (loaded - empty) / KEYS next to INFO's used_memory / KEYS (the accounted
# figure, ENTRY_OVERHEAD for keys of up to 22 bytes). RSS moves by a few
# bytes per key from run to run (what the allocator keeps), so it runs
# RUNS times.
#
# Usage: [RINGCACHE_BIN=...] [KEYS=1000000] [KEY_LEN=16] [RUNS=3] benches/memory.sh

set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KEYS=${KEYS:-1000000}
KEY_LEN=${KEY_LEN:-16}
RUNS=${RUNS:-3}
READY_TIMEOUT=${READY_TIMEOUT:-30}
LOAD_TIMEOUT=${LOAD_TIMEOUT:-300}
# shellcheck source=lib.sh
source "$ROOT/benches/lib.sh"
bench_init ringcache-memory
ensure_redis_tools taskset timeout awk
[[ "$KEY_LEN" -ge 5 ]] || die "KEY_LEN must be at least 5 (key: plus a digit)"
build_ringcache

awk -v n="$KEYS" -v kl="$KEY_LEN" 'BEGIN {
    kfmt = "key:%0" (kl - 4) "d"
    for (i = 0; i < n; i++) {
        k = sprintf(kfmt, i)
        v = sprintf("v%031d", i)
        printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(k), k, length(v), v
    }
}' >"$WORK/keys.resp"

echo "| run | RSS empty kB | RSS loaded kB | RSS B/key | used_memory B/key |"
echo "|---|---:|---:|---:|---:|"
for ((run = 1; run <= RUNS; run++)); do
    port=$(free_port)
    start_server "ringcache-$run" 0 "$port" "$RC_BIN" --bind 127.0.0.1 --port "$port" --threads 1
    sleep 1  # let the fresh process finish lazy init before sampling RSS
    empty=$(rss_kb "$SERVER_PID")
    out=$(timeout "$LOAD_TIMEOUT" taskset -c 1 redis-cli -h 127.0.0.1 -p "$port" --pipe <"$WORK/keys.resp" 2>&1) \
        || die "preload failed: $out"
    [[ "$out" == *"errors: 0, replies: $KEYS"* ]] || die "preload reported: $out"
    n=$(timeout 10 redis-cli -h 127.0.0.1 -p "$port" dbsize)
    [[ "$n" == "$KEYS" ]] || die "DBSIZE is '$n' after the preload, expected $KEYS"
    sleep 1
    loaded=$(rss_kb "$SERVER_PID")
    used=$(timeout 10 redis-cli -h 127.0.0.1 -p "$port" info memory | awk -F: '/^used_memory:/ { print $2 + 0 }')
    stop_pid "$SERVER_PID"
    forget_pid "$SERVER_PID"
    awk -v r="$run" -v e="$empty" -v l="$loaded" -v u="$used" -v n="$KEYS" \
        'BEGIN { printf "| %d | %d | %d | %.1f | %.1f |\n", r, e, l, (l - e) * 1024 / n, u / n }'
done
