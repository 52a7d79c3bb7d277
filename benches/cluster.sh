#!/usr/bin/env bash
# benches/cluster.sh -- cluster macro benchmark: ringcache vs Redis Cluster.
#
# Starts, on free 127.0.0.1 ports of this one machine, a Redis Cluster of 3
# primaries + 3 replicas and two three-node ringcache clusters (one in
# redis-cluster mode, one in proxy mode), preloads all of them, then drives
# them with redis-benchmark (SET and GET, 32-byte values, pipeline 1/16,
# 50 connections): a cluster-aware client (`redis-benchmark --cluster`)
# against Redis Cluster and ringcache redis-cluster, and three plain clients
# at once, one per node, against ringcache proxy. Points alternate between
# the three setups and every point is repeated REPEATS times. Writes
# bench-results/YYYY-MM-DD-cluster.{md,csv,svg} (benches/cluster_report.py).
#
# See benches/README.md for what is measured and all environment variables.
# Usage: benches/cluster.sh [--quick] [--repeats N]

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() {
    sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit "${1:-0}"
}

# ---------------------------------------------------------------- arguments --
while [[ $# -gt 0 ]]; do
    case "$1" in
        --quick) QUICK=1; shift ;;
        --repeats) REPEATS=${2:?--repeats needs a value}; shift 2 ;;
        --repeats=*) REPEATS=${1#*=}; shift ;;
        -h|--help) usage 0 ;;
        *) echo "unknown argument: $1" >&2; usage 2 ;;
    esac
done

# ---------------------------------------------------------------- settings --
QUICK=${QUICK:-0}
REPEATS=${REPEATS:-3}
CLIENTS=${CLIENTS:-50}
PIPELINES=${PIPELINES:-"1 16"}
TESTS=${TESTS:-"set get"}
VALUE_SIZE=32                       # fixed, as in run.sh
NODES=3                             # primaries / ringcache nodes (fixed)
if [[ "$QUICK" == 1 ]]; then
    # Smoke-test sizes: every step, in well under a minute.
    KEYS=${KEYS:-10000}
    N_P1=${N_P1:-10000}
    N_P16=${N_P16:-60000}
else
    # Sized on the 2-core dev VM so that the fastest setup at each depth
    # takes ~4-5 s a point (the slowest ~8-10 s). Not shorter: in cluster
    # mode redis-benchmark only notices the end of a run every 250 ms, so
    # its elapsed time, and rps, has that resolution.
    KEYS=${KEYS:-100000}
    N_P1=${N_P1:-500000}
    N_P16=${N_P16:-5000000}
fi
RC_THREADS=${RC_THREADS:-1}         # ringcache --threads per node
# Extra arguments for every ringcache node, word-split, e.g.
# RINGCACHE_CLUSTER_ARGS="--replicas 3 --write-quorum 2" once replication
# lands. Must not repeat an option the script sets (clap refuses duplicates).
RINGCACHE_CLUSTER_ARGS=${RINGCACHE_CLUSTER_ARGS:-}
READY_TIMEOUT=${READY_TIMEOUT:-30}     # seconds for a server to answer PING
CLUSTER_TIMEOUT=${CLUSTER_TIMEOUT:-60} # seconds for cluster_state:ok everywhere
RUN_TIMEOUT=${RUN_TIMEOUT:-300}        # seconds per redis-benchmark invocation
LOAD_TIMEOUT=${LOAD_TIMEOUT:-300}      # seconds per preload
OUT_DIR=${OUT_DIR:-$ROOT/bench-results}
DATE=${DATE:-$(date +%F)}

PIPELINES=${PIPELINES//,/ }
TESTS=$(echo "${TESTS//,/ }" | tr 'A-Z' 'a-z')

# ----------------------------------------------------------------- helpers --
# shellcheck source=benches/lib.sh
source "$ROOT/benches/lib.sh"
bench_init ringcache-cluster-bench

redis() { timeout 10 redis-cli -h 127.0.0.1 -p "$@"; }

# wait_until DESCRIPTION CMD...: retry CMD until it succeeds, at most
# CLUSTER_TIMEOUT seconds.
wait_until() {
    local what=$1; shift
    local deadline=$((SECONDS + CLUSTER_TIMEOUT))
    until "$@"; do
        [[ $SECONDS -lt $deadline ]] || die "timed out after ${CLUSTER_TIMEOUT}s waiting for $what"
        sleep 0.2
    done
}

# all_state_ok PORT...: every node answers cluster_state:ok to CLUSTER INFO.
all_state_ok() {
    local p
    for p in "$@"; do
        redis "$p" cluster info 2>/dev/null | tr -d '\r' | grep -qx 'cluster_state:ok' || return 1
    done
}

# redis_topology_settled PORT...: on every node, CLUSTER NODES shows NODES
# masters holding slots and NODES replicas (a fresh replica shows up as a
# slot-less master for a moment, and redis-benchmark would skip it).
redis_topology_settled() {
    local p out
    for p in "$@"; do
        out=$(redis "$p" cluster nodes 2>/dev/null) || return 1
        [[ $(awk '$3 ~ /master/ && NF >= 9' <<<"$out" | wc -l) -eq $NODES ]] || return 1
        [[ $(awk '$3 ~ /slave/' <<<"$out" | wc -l) -eq $NODES ]] || return 1
    done
}

# replica_links_up PORT...: every replica's link to its master is up.
replica_links_up() {
    local p
    for p in "$@"; do
        redis "$p" info replication 2>/dev/null | tr -d '\r' | grep -qx 'master_link_status:up' || return 1
    done
}

# gen_resp PREFIX COUNT FILE: COUNT deterministic SETs PREFIX%012d -> v%031d, in RESP.
gen_resp() {
    awk -v n="$2" -v vs="$VALUE_SIZE" -v pre="$1" 'BEGIN {
        vfmt = "v%0" (vs - 1) "d"
        for (i = 0; i < n; i++) {
            k = sprintf("%s%012d", pre, i)
            v = sprintf(vfmt, i)
            printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(k), k, length(v), v
        }
    }' >"$3"
}

# preload NAME PORT FILE COUNT: redis-cli --pipe FILE into PORT, check the replies.
preload() {
    local name=$1 port=$2 file=$3 count=$4 out
    record_raw "redis-cli -h 127.0.0.1 -p $port --pipe < $(basename "$file")  # $count x SET"
    out=$(timeout "$LOAD_TIMEOUT" redis-cli -h 127.0.0.1 -p "$port" --pipe <"$file" 2>&1) \
        || die "$name preload failed: $out"
    [[ "$out" == *"errors: 0, replies: $count"* ]] || die "$name preload reported: $out"
}

dbsize_is() { [[ "$(redis "$1" dbsize 2>/dev/null)" == "$2" ]]; }

# discover_prefixes NAME ENTRY_PORT PRIMARY_PORT...: the key prefix
# redis-benchmark --cluster uses on each primary. For `-t set/get` it sends
# key:{TAG}:__rand_int__, and redis-benchmark 7.0 takes TAG from the first
# slot of each primary (one slot per primary for the whole run). One SET per
# primary with -r 1 leaves exactly key:{TAG}:000000000000 there; we read it
# back rather than re-implementing its slot->tag table. Sets PREFIXES (one
# per primary, in the order given).
discover_prefixes() {
    local name=$1 entry=$2; shift 2
    local p keys out
    out=$(timeout "$RUN_TIMEOUT" redis-benchmark --cluster -h 127.0.0.1 -p "$entry" \
        -t set -n $((20 * NODES)) -c $((2 * NODES)) -r 1 -d "$VALUE_SIZE" -q 2>&1) \
        || die "$name: redis-benchmark --cluster failed: $out"
    PREFIXES=()
    for p in "$@"; do
        keys=$(redis "$p" --scan | tr -d '\r')
        [[ -n "$keys" && $(wc -l <<<"$keys") -eq 1 && "$keys" == *:000000000000 ]] \
            || die "$name: expected one key key:{tag}:000000000000 on port $p after the probe, found: $(head -c 300 <<<"$keys") -- this redis-benchmark spreads a node's keys over several slots, so the preload cannot cover its keyspace"
        PREFIXES+=("${keys%000000000000}")
    done
    log "$name: redis-benchmark --cluster key prefixes per primary: ${PREFIXES[*]}"
}

CLK_TCK=$(getconf CLK_TCK)

# run_point SERIES TEST PIPELINE REPEAT [record]
# SERIES is redis-aware, rc-aware or rc-spread. All client processes of a
# point run at once; the point's wall time is from starting the first to
# reaping the last.
run_point() {
    local series=$1 test=$2 pl=$3 rep=$4 record=${5:-1}
    local nvar="N_P$pl" n
    n=${!nvar:-$N_P16}
    [[ "$record" == 1 ]] || n=$(( N_P1 / 4 ))
    local server mode ports=() rkeys pids=() others=()
    case "$series" in
        redis-aware) server=redis; mode=aware; ports=("${REDIS_PRIMARIES[0]}"); rkeys=$KEYS
                     pids=("${REDIS_PIDS[@]}"); others=("${RCC_PIDS[@]}" "${RCP_PIDS[@]}") ;;
        rc-aware)    server=ringcache; mode=aware; ports=("${RCC_PORTS[0]}"); rkeys=$KEYS
                     pids=("${RCC_PIDS[@]}"); others=("${REDIS_PIDS[@]}" "${RCP_PIDS[@]}") ;;
        rc-spread)   server=ringcache; mode=spread; ports=("${RCP_PORTS[@]}"); rkeys=$(( KEYS * NODES ))
                     pids=("${RCP_PIDS[@]}"); others=("${REDIS_PIDS[@]}" "${RCC_PIDS[@]}") ;;
        *) die "unknown series $series" ;;
    esac
    local k=${#ports[@]} i c_i n_i
    local cpids=() line=""
    local s0 o0 s1 o1 u0 u1 t0 t1
    s0=$(cpu_ticks_sum "${pids[@]}"); o0=$(cpu_ticks_sum "${others[@]}")
    local c0 c1
    children_cpu c0; read -r -a u0 <<<"$c0"
    t0=$EPOCHREALTIME
    for ((i = 0; i < k; i++)); do
        # Split connections and requests evenly; the first ones get the remainder.
        c_i=$(( CLIENTS / k + (i < CLIENTS % k ? 1 : 0) ))
        n_i=$(( n / k + (i < n % k ? 1 : 0) ))
        local cmd=(redis-benchmark)
        [[ $mode == aware ]] && cmd+=(--cluster)
        cmd+=(-h 127.0.0.1 -p "${ports[i]}" -t "$test" -n "$n_i" -c "$c_i" -P "$pl"
              -d "$VALUE_SIZE" -r "$rkeys" --csv)
        line+="${line:+ & }$(quote_cmd "${cmd[@]}")"
        timeout "$RUN_TIMEOUT" "${cmd[@]}" >"$WORK/bench.$i.out" 2>"$WORK/bench.$i.err" </dev/null &
        cpids+=($!); PIDS+=($!)
        echo "$n_i $c_i" >"$WORK/bench.$i.size"
    done
    if [[ "$record" == 1 ]]; then
        # The clients of a spread point run at once: one line, `&`-joined.
        if [[ $k -gt 1 ]]; then record_raw "$line & wait"; else record_raw "$line"; fi
    fi
    local rc failed=""
    for ((i = 0; i < k; i++)); do
        rc=0; wait "${cpids[i]}" || rc=$?
        forget_pid "${cpids[i]}"
        [[ $rc -eq 0 ]] || failed+=" #$i(rc $rc)"
    done
    t1=$EPOCHREALTIME
    children_cpu c1; read -r -a u1 <<<"$c1"
    s1=$(cpu_ticks_sum "${pids[@]}"); o1=$(cpu_ticks_sum "${others[@]}")
    if [[ -n "$failed" ]]; then
        for ((i = 0; i < k; i++)); do tail -n 3 "$WORK/bench.$i.err" "$WORK/bench.$i.out" >&2 || true; done
        die "redis-benchmark failed against $series ($test P$pl):$failed"
    fi
    local pid
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null || die "a $series server (pid $pid) died during $test P$pl"; done
    [[ "$record" == 1 ]] || return 0
    local wall cu cs summary="" nc
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    cu=$(awk -v a="${u0[0]}" -v b="${u1[0]}" 'BEGIN { printf "%.3f", b - a }')
    cs=$(awk -v a="${u0[1]}" -v b="${u1[1]}" 'BEGIN { printf "%.3f", b - a }')
    for ((i = 0; i < k; i++)); do
        # CSV row like "SET","164203.61","0.176","0.056","0.167","0.247","0.375","2.679"
        line=$(grep -i "^\"$test\"" "$WORK/bench.$i.out" | tail -n 1 | tr -d '"') \
            || die "no CSV result from redis-benchmark ($series $test P$pl #$i): $(cat "$WORK/bench.$i.out")"
        read -r n_i nc <"$WORK/bench.$i.size"
        # series,server,client,test,pipeline,repeat,proc,procs,requests,clients,
        # <bench csv minus test>,point wall,server ticks,other ticks,clk_tck,client user,client sys
        echo "$series,$server,$mode,${test^^},$pl,$rep,$i,$k,$n_i,$nc,${line#*,},$wall,$((s1 - s0)),$((o1 - o0)),$CLK_TCK,$cu,$cs" >>"$WORK/runs.csv"
        summary+=" ${line#*,}"
    done
    log "$(printf '%-11s %-3s P%-3s rep %s (%ss):%s' "$series" "${test^^}" "$pl" "$rep" "$wall" "$summary")"
}

# ------------------------------------------------------------------- main --
check_loadavg
ensure_redis_tools timeout python3 awk
build_ringcache

echo "series,server,client,test,pipeline,repeat,proc,procs,requests,clients,rps,avg_ms,min_ms,p50_ms,p95_ms,p99_ms,max_ms,wall_s,server_cpu_ticks,other_cpu_ticks,clk_tck,client_user_s,client_sys_s" >"$WORK/runs.csv"
printf 'cluster\tname\trole\tport\tbus_port\tpid\n' >"$WORK/nodes.tsv"

# 6 Redis nodes + 2 x 3 ringcache nodes, each a client port and a bus port.
# (Not port+10000: an ephemeral port + 10000 can be past 65535.)
mapfile -t PORTS < <(free_ports $(( 4 * NODES * 2 )))

# ---- Redis Cluster: 3 primaries + 3 replicas
REDIS_PORTS=() REDIS_PIDS=() REDIS_ADDRS=()
for ((i = 0; i < 2 * NODES; i++)); do
    port=${PORTS[2 * i]} bus=${PORTS[2 * i + 1]} dir=$WORK/redis-$((i + 1))
    mkdir -p "$dir"
    start_server "redis-$((i + 1))" "" "$port" \
        redis-server --cluster-enabled yes --cluster-config-file "$dir/nodes.conf" \
        --port "$port" --cluster-port "$bus" --save '' --appendonly no \
        --bind 127.0.0.1 --daemonize no --dir "$dir"
    REDIS_PORTS+=("$port"); REDIS_PIDS+=("$SERVER_PID"); REDIS_ADDRS+=("127.0.0.1:$port")
    printf 'redis\tredis-%s\t?\t%s\t%s\t%s\n' $((i + 1)) "$port" "$bus" "$SERVER_PID" >>"$WORK/nodes.tsv"
done
record_cmd redis-cli --cluster create "${REDIS_ADDRS[@]}" --cluster-replicas 1 --cluster-yes
out=$(timeout "$CLUSTER_TIMEOUT" redis-cli --cluster create "${REDIS_ADDRS[@]}" \
    --cluster-replicas 1 --cluster-yes 2>&1) || die "redis-cli --cluster create failed: $(tail -n 20 <<<"$out")"
wait_until "cluster_state:ok on every Redis node" all_state_ok "${REDIS_PORTS[@]}"
wait_until "3 primaries with slots and 3 replicas in every node's view" redis_topology_settled "${REDIS_PORTS[@]}"
# Roles come from the cluster itself, not from the order we listed the nodes in.
nodes_out=$(redis "${REDIS_PORTS[0]}" cluster nodes)
REDIS_PRIMARIES=() REDIS_REPLICAS=()
for p in "${REDIS_PORTS[@]}"; do
    role=$(awk -v a="127.0.0.1:$p" '{ split($2, x, "@") } x[1] == a { print ($3 ~ /slave/) ? "replica" : "primary" }' <<<"$nodes_out")
    if [[ $role == primary ]]; then REDIS_PRIMARIES+=("$p"); else REDIS_REPLICAS+=("$p"); fi
done
[[ ${#REDIS_PRIMARIES[@]} -eq $NODES ]] || die "expected $NODES primaries, CLUSTER NODES says: $nodes_out"
wait_until "every replica's link to its primary" replica_links_up "${REDIS_REPLICAS[@]}"
for p in "${REDIS_PORTS[@]}"; do
    r=$([[ " ${REDIS_PRIMARIES[*]} " == *" $p "* ]] && echo primary || echo replica)
    sed -i "s/^redis\t\([^\t]*\)\t?\t$p\t/redis\t\1\t$r\t$p\t/" "$WORK/nodes.tsv"
done
log "Redis Cluster up: primaries ${REDIS_PRIMARIES[*]}, replicas ${REDIS_REPLICAS[*]}"

# ---- ringcache: one cluster per mode
SECRET=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
read -r -a EXTRA <<<"$RINGCACHE_CLUSTER_ARGS"
start_rc_cluster() {  # MODE TAG FIRST_PORT_INDEX ; sets RC_P (ports) and RC_I (pids)
    local cmode=$1 tag=$2 base=$3 i peers="" port bus
    RC_P=() RC_I=()
    for ((i = 0; i < NODES; i++)); do
        peers+="${peers:+,}node-$((i + 1))@127.0.0.1:${PORTS[base + 2 * i]}@${PORTS[base + 2 * i + 1]}"
    done
    for ((i = 0; i < NODES; i++)); do
        port=${PORTS[base + 2 * i]} bus=${PORTS[base + 2 * i + 1]}
        start_server "$tag-$((i + 1))" "" "$port" \
            "$RC_BIN" --bind 127.0.0.1 --port "$port" --threads "$RC_THREADS" \
            --node-id "node-$((i + 1))" --peers "$peers" --cluster-secret "$SECRET" \
            --cluster-mode "$cmode" "${EXTRA[@]}"
        RC_P+=("$port"); RC_I+=("$SERVER_PID")
        printf 'ringcache-%s\t%s-%s\tnode-%s\t%s\t%s\t%s\n' "$cmode" "$tag" $((i + 1)) $((i + 1)) "$port" "$bus" "$SERVER_PID" >>"$WORK/nodes.tsv"
    done
    wait_until "cluster_state:ok on every ringcache $cmode node" all_state_ok "${RC_P[@]}"
    log "ringcache $cmode cluster up: ports ${RC_P[*]}"
}
start_rc_cluster redis-cluster rcc $(( 4 * NODES ))
RCC_PORTS=("${RC_P[@]}") RCC_PIDS=("${RC_I[@]}")
start_rc_cluster proxy rcp $(( 6 * NODES ))
RCP_PORTS=("${RC_P[@]}") RCP_PIDS=("${RC_I[@]}")
# The secret is per run and random; keep it out of the report.
sed -i "s/$SECRET/<random per-run secret>/g" "$WORK/commands.txt"

# ---- preload
# Cluster-aware client: KEYS keys per primary, key:{TAG}:%012d.
discover_prefixes "Redis Cluster" "${REDIS_PRIMARIES[0]}" "${REDIS_PRIMARIES[@]}"
REDIS_PREFIXES=("${PREFIXES[@]}")
discover_prefixes "ringcache redis-cluster" "${RCC_PORTS[0]}" "${RCC_PORTS[@]}"
RCC_PREFIXES=("${PREFIXES[@]}")
log "preloading $KEYS keys per node (cluster-aware keyspace) and $((KEYS * NODES)) plain keys (proxy)"
for ((i = 0; i < NODES; i++)); do
    gen_resp "${REDIS_PREFIXES[i]}" "$KEYS" "$WORK/redis-keys-$((i + 1)).resp"
    preload "redis primary $((i + 1))" "${REDIS_PRIMARIES[i]}" "$WORK/redis-keys-$((i + 1)).resp" "$KEYS"
    gen_resp "${RCC_PREFIXES[i]}" "$KEYS" "$WORK/rcc-keys-$((i + 1)).resp"
    preload "ringcache redis-cluster node $((i + 1))" "${RCC_PORTS[i]}" "$WORK/rcc-keys-$((i + 1)).resp" "$KEYS"
done
# Plain clients: key:%012d, KEYS * NODES keys (the same total), loaded
# through node 1, which forwards each key to its node.
gen_resp "key:" $((KEYS * NODES)) "$WORK/plain-keys.resp"
preload "ringcache proxy" "${RCP_PORTS[0]}" "$WORK/plain-keys.resp" $((KEYS * NODES))
rm -f "$WORK"/*.resp
for p in "${REDIS_PRIMARIES[@]}" "${RCC_PORTS[@]}"; do
    dbsize_is "$p" "$KEYS" || die "DBSIZE on port $p is '$(redis "$p" dbsize)', expected $KEYS"
done
for p in "${REDIS_REPLICAS[@]}"; do   # replication is asynchronous
    wait_until "replica on port $p to hold $KEYS keys" dbsize_is "$p" "$KEYS"
done
# proxy mode: DBSIZE on any node is the whole cluster's.
dbsize_is "${RCP_PORTS[0]}" $((KEYS * NODES)) \
    || die "proxy DBSIZE is '$(redis "${RCP_PORTS[0]}" dbsize)', expected $((KEYS * NODES))"
log "preload checked: DBSIZE $KEYS on every primary, replica and redis-cluster node; $((KEYS * NODES)) through proxy"

# ---- measure
SERIES=(redis-aware rc-aware rc-spread)
# Unrecorded warm-up so first-touch effects do not land on the first point.
for t in $TESTS; do
    for s in "${SERIES[@]}"; do run_point "$s" "$t" 1 0 0; done
done
# Repeats outermost, the three setups interleaved point by point, and the
# order rotated every repeat so each setup goes first equally often.
for ((rep = 1; rep <= REPEATS; rep++)); do
    for t in $TESTS; do
        for pl in $PIPELINES; do
            for ((j = 0; j < ${#SERIES[@]}; j++)); do
                run_point "${SERIES[(j + rep - 1) % ${#SERIES[@]}]}" "$t" "$pl" "$rep"
            done
        done
    done
done

# SETs overwrite preloaded keys only: the key counts must not have moved.
for p in "${REDIS_PRIMARIES[@]}" "${RCC_PORTS[@]}"; do
    dbsize_is "$p" "$KEYS" || log "warning: DBSIZE on port $p is $(redis "$p" dbsize) after the run (expected $KEYS)"
done
dbsize_is "${RCP_PORTS[0]}" $((KEYS * NODES)) \
    || log "warning: proxy DBSIZE is $(redis "${RCP_PORTS[0]}" dbsize) after the run (expected $((KEYS * NODES)))"
# GETs must have hit: every node counts its misses (INFO stats, where the
# command ran -- on the owner for forwarded ones).
misses() {
    local p m sum=0
    for p in "$@"; do
        m=$(redis "$p" info stats | tr -d '\r' | awk -F: '$1 == "keyspace_misses" { print $2 }')
        sum=$(( sum + ${m:-0} ))
    done
    echo "$sum"
}
MISSES="Redis Cluster $(misses "${REDIS_PRIMARIES[@]}"), ringcache redis-cluster $(misses "${RCC_PORTS[@]}"), ringcache proxy $(misses "${RCP_PORTS[@]}")"
[[ "$MISSES" =~ ^[^1-9]*$ ]] || log "warning: GET misses (expected 0 everywhere): $MISSES"

for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
PIDS=()

# ------------------------------------------------------------------ report --
{
    printf 'date\t%s\n' "$DATE"
    meta_machine
    printf 'keys_per_node\t%s\n' "$KEYS"
    printf 'nodes\t%s\n' "$NODES"
    printf 'value_size\t%s\n' "$VALUE_SIZE"
    printf 'clients\t%s\n' "$CLIENTS"
    printf 'repeats\t%s\n' "$REPEATS"
    printf 'quick\t%s\n' "$QUICK"
    printf 'pipelines\t%s\n' "$PIPELINES"
    printf 'requests\t%s\n' "$(for pl in $PIPELINES; do v="N_P$pl"; printf 'P%s=%s\n' "$pl" "${!v:-$N_P16}"; done | paste -sd ' ')"
    printf 'rc_threads\t%s\n' "$RC_THREADS"
    printf 'ringcache_cluster_args\t%s\n' "$RINGCACHE_CLUSTER_ARGS"
    printf 'redis_prefixes\t%s\n' "${REDIS_PREFIXES[*]}"
    printf 'rcc_prefixes\t%s\n' "${RCC_PREFIXES[*]}"
    printf 'get_misses\t%s\n' "$MISSES"
    printf 'clk_tck\t%s\n' "$CLK_TCK"
} >"$WORK/meta.tsv"

mkdir -p "$OUT_DIR"
python3 "$ROOT/benches/cluster_report.py" --work "$WORK" --out-dir "$OUT_DIR"
