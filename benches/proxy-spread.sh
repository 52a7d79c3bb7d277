#!/usr/bin/env bash
# Quick A/B of two builds on the proxy-mode spread: three nodes (one worker
# each, N = 3, W = 2) on ports from a random base, 300,000 keys, three
# redis-benchmark at pipeline 16 at once, one per node (51 connections in
# all). Prints the summed rps and the nodes' CPU per request (utime+stime
# from /proc). Run two builds alternately; `make bench-cluster` is the full
# comparison with Redis Cluster.
#
#   benches/proxy-spread.sh BIN get|set [REQUESTS_PER_CLIENT]
set -euo pipefail
bin=$(realpath "$1")
test=$2
n=${3:-1200000}
secret=bench-secret-0123456789abcdef
base=${PORT_BASE:-$((20000 + RANDOM % 9000))}
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
for i in 1 2 3; do
    port=$((base + i))
    seeds=()
    [ "$i" -gt 1 ] && seeds=(--seeds "127.0.0.1:$((base + 1 + 10000))")
    "$bin" --port "$port" --node-id "node-$i" --cluster-enabled yes --cluster-secret "$secret" \
        --cluster-mode proxy --threads 1 "${seeds[@]}" > "n$i.log" 2>&1 &
    pids+=($!)
    sleep 0.3
done
for _ in $(seq 100); do
    ok=0
    for i in 1 2 3; do
        redis-cli -p $((base + i)) cluster info 2>/dev/null | grep -q cluster_state:ok && ok=$((ok + 1))
    done
    [ "$ok" = 3 ] && break
    sleep 0.2
done
[ "$ok" = 3 ] || { echo "the cluster did not come up" >&2; exit 1; }
sleep 2
redis-benchmark -p $((base + 1)) -t set -n 600000 -r 300000 -P 16 -d 32 -q > /dev/null
ticks() {
    local t=0 u s
    for p in "${pids[@]}"; do
        read -r u s < <(cut -d' ' -f14,15 "/proc/$p/stat")
        t=$((t + u + s))
    done
    echo "$t"
}
t0=$(ticks)
bench=()
for i in 1 2 3; do
    redis-benchmark -p $((base + i)) -t "$test" -n "$n" -r 300000 -P 16 -c 17 -d 32 -q > "b$i.txt" 2>&1 &
    bench+=($!)
done
wait "${bench[@]}"
t1=$(ticks)
rps=0
for i in 1 2 3; do
    r=$(tr '\r' '\n' < "b$i.txt" | grep -E '^[A-Z]+:' | tail -1 | awk '{print $2}')
    rps=$(echo "$rps + $r" | bc)
done
hz=$(getconf CLK_TCK)
echo "$(basename "$bin") $test rps=$rps cpu_us_per_req=$(echo "scale=3; ($t1 - $t0) * 1000000 / $hz / (3 * $n)" | bc)"
