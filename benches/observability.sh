#!/usr/bin/env bash
# benches/observability.sh -- what per-command statistics cost: GET and SET
# throughput (redis-benchmark -P 16, 50 connections) of two ringcache
# binaries side by side, BEFORE_BIN (without them) and RINGCACHE_BIN (with
# them; also run with `latency-tracking no`), each node pinned to one CPU
# and redis-benchmark to the other, the three alternating run by run,
# ROUNDS times; prints the median of each and its ratio to BEFORE_BIN:
# requests per second, and the node's CPU time per request (utime + stime
# of the node over the run), which a busy machine skews much less.
#
# Usage: BEFORE_BIN=... [RINGCACHE_BIN=...] [ROUNDS=5] [REQUESTS=1000000] benches/observability.sh

set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=${ROUNDS:-5}
REQUESTS=${REQUESTS:-1000000}
READY_TIMEOUT=${READY_TIMEOUT:-30}
# shellcheck source=lib.sh
source "$ROOT/benches/lib.sh"
bench_init ringcache-observability
ensure_redis_tools taskset timeout awk sort
[[ -x "${BEFORE_BIN:-}" ]] || die "BEFORE_BIN must name the binary to compare with"
build_ringcache

check_loadavg
ports=()
pids=()
names=(before after after-no-tracking)
bins=("$BEFORE_BIN" "$RC_BIN" "$RC_BIN")
for i in 0 1 2; do
    port=$(free_port)
    ports+=("$port")
    start_server "${names[$i]}" 0 "$port" "${bins[$i]}" --bind 127.0.0.1 --port "$port" --threads 1
    pids+=("$SERVER_PID")
    timeout 60 redis-cli -p "$port" SET key:1 v >/dev/null
done
timeout 10 redis-cli -p "${ports[2]}" CONFIG SET latency-tracking no >/dev/null

# rps PORT TEST: requests per second of one redis-benchmark run.
rps() {
    timeout 300 taskset -c 1 redis-benchmark -p "$1" -n "$REQUESTS" -c 50 -P 16 -r 100000 -q --csv -t "$2" 2>/dev/null |
        awk -F'","' 'NR == 2 { gsub(/"/, "", $2); print int($2) }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

for t in set get; do
    for ((r = 0; r < ROUNDS; r++)); do
        for i in 0 1 2; do
            before=$(cpu_ticks "${pids[$i]}")
            r=$(rps "${ports[$i]}" "$t")
            ticks=$(($(cpu_ticks "${pids[$i]}") - before))
            # ns of node CPU per request (a tick is 1/100 s).
            echo "${names[$i]} $t $r $((ticks * 10000000 / REQUESTS))" >>"$WORK/runs"
        done
    done
done

echo "# Per-command statistics: what they cost ($(date -u +%F), tree $(ringcache_commit))"
echo
echo "redis-benchmark -P 16 -c 50 -n $REQUESTS, random keys among 100,000; each node --threads 1 on CPU 0,"
echo "the benchmark on CPU 1; the three nodes alternate run by run, $ROUNDS runs each; medians."
echo
echo "| test | before rps | after rps | ratio | no tracking rps | ratio | before CPU ns/req | after | ratio | no tracking | ratio |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for t in set get; do
    col() { awk -v n="$1" -v t="$t" -v c="$2" '$1 == n && $2 == t { print $c }' "$WORK/runs" | median; }
    awk -v t="$t" -v b="$(col before 3)" -v a="$(col after 3)" -v n="$(col after-no-tracking 3)" \
        -v cb="$(col before 4)" -v ca="$(col after 4)" -v cn="$(col after-no-tracking 4)" \
        'BEGIN { printf "| %s | %d | %d | %.3f | %d | %.3f | %d | %d | %.3f | %d | %.3f |\n", toupper(t), b, a, a / b, n, n / b, cb, ca, ca / cb, cn, cn / cb }'
done
echo
echo "Load average before the runs: $LOADAVG_START."
echo
echo "Every run (node, test, rps, CPU ns per request):"
echo
echo '```'
cat "$WORK/runs"
echo '```'
