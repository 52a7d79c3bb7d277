#!/usr/bin/env bash
# benches/deltas.sh -- small changes to a big list through a replicated cluster.
#
# Three ringcache nodes (N = 3, W = 2, redis-cluster mode) on free ports. A
# list of ELEMENTS elements is built on its coordinator (RPUSHes of 1,000),
# then PUSHES LPUSHes of one element each are piped in (redis-cli --pipe).
# Figures: the LPUSHes' wall time, the nodes' CPU meanwhile, the errors,
# the list's length, and each node's INFO replication delta counters. With
# deltas (docs/replication.md, "Deltas") each LPUSH ships its element;
# without, the whole list. Run it with BEFORE=<binary> to measure another
# build beside RINGCACHE_BIN.
#
# KIND=zset does the same with a sorted set (ZADDs of 1,000, then ZINCRBYs
# of one existing member each: a leaderboard); KIND=stream with a stream
# (one XADD per entry, then XADDs with `*`: an event log).
#
# Usage: [RINGCACHE_BIN=...] [BEFORE=...] [KIND=list|zset] [ELEMENTS=100000] [PUSHES=2000] benches/deltas.sh

set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${RINGCACHE_BIN:-$ROOT/target/release/ringcache}
ELEMENTS=${ELEMENTS:-100000}
PUSHES=${PUSHES:-2000}
KIND=${KIND:-list}
case "$KIND" in
    list) WHAT="LPUSHes of one element on a list"; CARD=llen ;;
    zset) WHAT="ZINCRBYs of one member of a sorted set"; CARD=zcard ;;
    stream) WHAT="XADDs of one entry to a stream"; CARD=xlen ;;
    *) echo "KIND is list, zset or stream" >&2; exit 2 ;;
esac
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_ticks() { for p in "${PIDS[@]}"; do awk '{print $14+$15}' "/proc/$p/stat"; done | paste -sd+ | bc; }

# RESP for the fill and the pushes, made once.
python3 - "$ELEMENTS" "$PUSHES" "$WORK" "$KIND" <<'EOF'
import random, sys
elements, pushes, work, kind = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
random.seed(1)
def resp(args):
    return '*%d\r\n' % len(args) + ''.join('$%d\r\n%s\r\n' % (len(a), a) for a in args)
with open(work + '/fill.resp', 'w') as f:
    for c in range(0, elements, 1000):
        chunk = range(c, min(c + 1000, elements))
        if kind == 'list':
            f.write(resp(['RPUSH', 'biglist'] + ['element-%07d' % i for i in chunk]))
        elif kind == 'zset':
            f.write(resp(['ZADD', 'biglist'] + [x for i in chunk for x in (str(i), 'element-%07d' % i)]))
        else:
            for i in chunk:
                f.write(resp(['XADD', 'biglist', '%d-1' % (i + 1), 'n', str(i)]))
with open(work + '/push.resp', 'w') as f:
    for i in range(pushes):
        if kind == 'list':
            f.write(resp(['LPUSH', 'biglist', 'new-%06d' % i]))
        elif kind == 'zset':
            f.write(resp(['ZINCRBY', 'biglist', '1', 'element-%07d' % random.randrange(elements)]))
        else:
            f.write(resp(['XADD', 'biglist', '*', 'event', 'new-%06d' % i]))
EOF

# run BIN LABEL: one cluster, the fill, the pushes, one line of figures.
run() {
    local bin=$1 label=$2 ports=() cports=() peers="" i port=""
    PIDS=()
    for i in 0 1 2; do ports+=("$(free_port)"); cports+=("$(free_port)"); done
    for i in 0 1 2; do peers+="${peers:+,}node-$((i + 1))@127.0.0.1:${ports[$i]}@${cports[$i]}"; done
    local secret
    secret=$(head -c 24 /dev/urandom | base64)
    for i in 0 1 2; do
        "$bin" --bind 127.0.0.1 --port "${ports[$i]}" --threads 1 --node-id "node-$((i + 1))" --peers "$peers" \
            --cluster-secret "$secret" --cluster-mode redis-cluster >"$WORK/node-$i.log" 2>&1 &
        PIDS+=($!)
    done
    # One view: every node sees all three members serving (cluster_state
    # ok alone comes earlier, while a node may still see another joining,
    # owning nothing, and so name another coordinator).
    for _ in $(seq 150); do
        local ok=0
        for i in 0 1 2; do
            redis-cli -p "${ports[$i]}" info cluster 2>/dev/null | tr -d '\r' | grep '^cluster_members:' \
                | tr ',' '\n' | grep -c '/serving/' | grep -qx 3 && ok=$((ok + 1))
        done
        [[ $ok == 3 ]] && break
        sleep 0.2
    done
    # The list's coordinator: the node that does not redirect (strict off
    # forwards instead, so ask with cluster-strict on).
    for i in 0 1 2; do redis-cli -p "${ports[$i]}" config set cluster-strict yes >/dev/null; done
    for i in 0 1 2; do
        if ! redis-cli -p "${ports[$i]}" llen biglist | grep -q MOVED; then port=${ports[$i]}; break; fi
    done
    redis-cli -p "$port" --pipe <"$WORK/fill.resp" >/dev/null
    sleep 2
    local t0 t1 s e out
    t0=$(cpu_ticks)
    s=$(date +%s.%N)
    out=$(redis-cli -p "$port" --pipe <"$WORK/push.resp" 2>/dev/null | grep -E '^errors' | tail -1 || true)
    e=$(date +%s.%N)
    t1=$(cpu_ticks)
    local counters=""
    for i in 0 1 2; do
        counters+=" node-$((i + 1)): $(redis-cli -p "${ports[$i]}" info replication | tr -d '\r' \
            | { grep -E "^${DEBUG_FIELDS:-deltas_}" || echo "none"; } | sed 's/^deltas_//' | paste -sd' ');"
    done
    printf '| %s | %.3f s | %d ms | %s | %s |%s\n' "$label" "$(echo "$e - $s" | bc)" $(((t1 - t0) * 10)) "$out" \
        "$(redis-cli -p "$port" "$CARD" biglist)" "$counters"
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    PIDS=()
}

echo "$PUSHES $WHAT of $ELEMENTS elements, three nodes, N = 3, W = 2"
echo
echo "| build | wall | node CPU | redis-cli --pipe | ${CARD^^} after | INFO replication deltas (sent, applied, need_full) |"
echo "|---|---:|---:|---|---:|---|"
[[ -n "${BEFORE:-}" ]] && run "$BEFORE" "before: $BEFORE"
run "$BIN" "$BIN"
