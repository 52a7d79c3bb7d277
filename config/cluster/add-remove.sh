#!/bin/sh
# `make cluster-add-remove`: adds node 4 (config/cluster/node4.toml) to the
# running local cluster by CLUSTER MEET, waits until it serves, then makes
# it leave again with CLUSTER LEAVE, printing where the slots and keys are
# at each step. Needs `make cluster` running. See docs/membership.md.
set -eu
dir=${CLUSTER_DIR:-target/cluster}
bin=${BIN:-target/release/ringcache}
keys=${KEYS:-20000}

cli() { port=$1; shift; redis-cli -p "$port" "$@"; }
field() { cli "$1" info "$2" | tr -d '\r' | sed -n "s/^$3://p"; }

for i in 1 2 3; do
    if ! [ -f "$dir/node$i.pid" ] || ! kill -0 "$(cat "$dir/node$i.pid")" 2>/dev/null; then
        echo "node $i is not running: start the cluster with 'make cluster' first" >&2
        exit 1
    fi
done

table() {
    printf '  %-8s %-9s %12s %16s %8s\n' node phase owned-slots coordinated keys
    for port in "$@"; do
        keyspace=$(field "$port" keyspace db0 | sed -n 's/^keys=\([0-9]*\).*/\1/p')
        printf '  %-8s %-9s %12s %16s %8s\n' "$(cli "$port" cluster myid)" "$(field "$port" cluster cluster_phase)" \
            "$(field "$port" replication owned_slots)" "$(field "$port" replication coordinated_slots)" "${keyspace:-0}"
    done
}

wait_phase() {
    port=$1 want=$2
    for _ in $(seq 600); do
        [ "$(field "$port" cluster cluster_phase)" = "$want" ] && return 0
        sleep 0.1
    done
    echo "node at $port not $want after 60 s" >&2
    exit 1
}

echo "writing $keys keys through node 1"
seq 1 "$keys" | awk '{ printf "SET add-remove:%d v%d\n", $1, $1 }' | cli 7001 --pipe >/dev/null
echo "three nodes:"
table 7001 7002 7003

if [ -f "$dir/node4.pid" ] && kill -0 "$(cat "$dir/node4.pid")" 2>/dev/null; then
    echo "node 4 is already running (pid $(cat "$dir/node4.pid"))" >&2
    exit 1
fi
"$bin" --config config/cluster/node4.toml >"$dir/node4.log" 2>&1 &
echo $! >"$dir/node4.pid"
sleep 0.5
began=$(date +%s.%N)
cli 7001 cluster meet 127.0.0.1 7004 17004 >/dev/null
wait_phase 7004 serving
printf 'node 4 met and serving after %.2f s (it owned nothing until its slots were streamed to it):\n' \
    "$(echo "$(date +%s.%N) - $began" | bc)"
table 7001 7002 7003 7004

began=$(date +%s.%N)
cli 7004 cluster leave >/dev/null
wait_phase 7004 left
printf 'node 4 left after %.2f s, having handed %s keys to the nodes that took its slots:\n' \
    "$(echo "$(date +%s.%N) - $began" | bc)" "$(field 7004 cluster cluster_handoff_keys)"
kill "$(cat "$dir/node4.pid")" 2>/dev/null || true
rm -f "$dir/node4.pid"
sleep 1
table 7001 7002 7003
echo "keys through node 1: $(cli 7001 dbsize) (of $keys written)"
