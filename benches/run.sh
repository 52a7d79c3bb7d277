#!/usr/bin/env bash
# benches/run.sh -- side-by-side macro benchmark: ringcache vs redis-server.
#
# Starts one ringcache node and one redis-server on free 127.0.0.1 ports,
# loads the same 1,000,000 keys into both, then drives both with
# redis-benchmark (SET and GET, pipeline 1/16/64, 50 connections),
# alternating servers point by point and repeating every point REPEATS
# times. Writes bench-results/YYYY-MM-DD-<mode>.{md,csv,svg} and
# bench-results/latest.md (rendered by benches/report.py).
#
# See benches/README.md for what is measured and all environment variables.
# Usage: benches/run.sh [--threads 1|2|1,2] [--quick] [--repeats N]

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() {
    sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit "${1:-0}"
}

# ---------------------------------------------------------------- arguments --
while [[ $# -gt 0 ]]; do
    case "$1" in
        --threads) THREADS=${2:?--threads needs a value}; shift 2 ;;
        --threads=*) THREADS=${1#*=}; shift ;;
        --quick) QUICK=1; shift ;;
        --repeats) REPEATS=${2:?--repeats needs a value}; shift 2 ;;
        --repeats=*) REPEATS=${1#*=}; shift ;;
        -h|--help) usage 0 ;;
        *) echo "unknown argument: $1" >&2; usage 2 ;;
    esac
done

# ---------------------------------------------------------------- settings --
# Every knob is an environment variable so `make bench` and CI can tune it
# without editing the script.
QUICK=${QUICK:-0}
# THREADS: ringcache worker threads; a comma/space list runs several modes
# one after the other and puts them all in one report.
THREADS=${THREADS:-1}
REPEATS=${REPEATS:-3}
CLIENTS=${CLIENTS:-50}
PIPELINES=${PIPELINES:-"1 16 64"}
TESTS=${TESTS:-"set get"}
# Key/value shape is fixed by the comparison we want to make: 16-byte keys
# (`key:` + 12 digits, exactly what redis-benchmark's __rand_int__ produces)
# and 32-byte values. Not overridable on purpose.
VALUE_SIZE=32
if [[ "$QUICK" == 1 ]]; then
    # Smoke-test sizes: exercises every step in well under a minute.
    KEYS=${KEYS:-100000}
    N_P1=${N_P1:-20000}
    N_P16=${N_P16:-100000}
    N_P64=${N_P64:-200000}
else
    # Sized on the 2-core dev VM so that one point takes ~3-6 s against
    # redis-server 7.0 (≈165k rps at P1, ≈800k at P16, ≈930k at P64 with the
    # single-threaded load generator pinned to its own core). Long enough
    # that the 10 ms granularity of /proc CPU accounting is <1 % error.
    KEYS=${KEYS:-1000000}
    N_P1=${N_P1:-600000}
    N_P16=${N_P16:-3000000}
    N_P64=${N_P64:-4000000}
fi
SERVER_CPU=${SERVER_CPU:-0}        # where single-threaded servers run
CLIENT_CPU=${CLIENT_CPU:-1}        # where redis-benchmark / loaders run
READY_TIMEOUT=${READY_TIMEOUT:-30} # seconds to wait for a server to answer PING
RUN_TIMEOUT=${RUN_TIMEOUT:-300}    # seconds per redis-benchmark invocation
LOAD_TIMEOUT=${LOAD_TIMEOUT:-300}  # seconds for the key preload
OUT_DIR=${OUT_DIR:-$ROOT/bench-results}
DATE=${DATE:-$(date +%F)}

THREADS=${THREADS//,/ }
PIPELINES=${PIPELINES//,/ }
TESTS=$(echo "${TESTS//,/ }" | tr 'A-Z' 'a-z')

# ----------------------------------------------------------------- helpers --
# log, die, stop_pid, cleanup (and its traps), record_cmd, free_port,
# start_server, rss_kb, cpu_ticks, build_ringcache, ...: shared with
# benches/cluster.sh.
# shellcheck source=benches/lib.sh
source "$ROOT/benches/lib.sh"
bench_init ringcache-bench

ensure_tools() {
    ensure_redis_tools taskset timeout python3 awk
    local t ncpu; ncpu=$(nproc)
    for t in $SERVER_CPU $CLIENT_CPU; do
        [[ $t -lt $ncpu ]] || die "CPU $t does not exist (nproc=$ncpu); set SERVER_CPU/CLIENT_CPU"
    done
}

dbsize() { timeout 10 redis-cli -h 127.0.0.1 -p "$1" dbsize; }

# Generate the preload once: KEYS deterministic SETs in RESP, fed with
# `redis-cli --pipe` (fast, and reports errors/replies so we can verify).
gen_keys() {
    log "generating $KEYS SET commands (RESP) for the preload"
    awk -v n="$KEYS" -v vs="$VALUE_SIZE" 'BEGIN {
        vfmt = "v%0" (vs - 1) "d"
        for (i = 0; i < n; i++) {
            k = sprintf("key:%012d", i)
            v = sprintf(vfmt, i)
            printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(k), k, length(v), v
        }
    }' >"$WORK/keys.resp"
}

# load_and_measure NAME PID PORT MODE: empty RSS -> preload -> verify -> loaded RSS.
load_and_measure() {
    local name=$1 pid=$2 port=$3 mode=$4 empty loaded out n
    sleep 1  # let the fresh process finish lazy init before sampling RSS
    empty=$(rss_kb "$pid")
    record_raw "taskset -c $CLIENT_CPU redis-cli -h 127.0.0.1 -p $port --pipe < keys.resp  # $KEYS x SET key:%012d <${VALUE_SIZE}B>"
    out=$(timeout "$LOAD_TIMEOUT" taskset -c "$CLIENT_CPU" \
        redis-cli -h 127.0.0.1 -p "$port" --pipe <"$WORK/keys.resp" 2>&1) \
        || die "$name preload failed: $out"
    # redis-cli --pipe ends with "errors: E, replies: R"
    [[ "$out" == *"errors: 0, replies: $KEYS"* ]] || die "$name preload reported: $out"
    n=$(dbsize "$port")
    [[ "$n" == "$KEYS" ]] || die "$name DBSIZE is '$n' after preload, expected $KEYS"
    sleep 1
    loaded=$(rss_kb "$pid")
    echo "$mode,$name,$empty,$loaded,$n" >>"$WORK/mem.csv"
    log "$name: RSS empty ${empty} kB, loaded ${loaded} kB, DBSIZE $n"
}

# run_point MODE NAME PID PORT TEST PIPELINE REPEAT [record]
run_point() {
    local mode=$1 name=$2 pid=$3 port=$4 test=$5 pl=$6 rep=$7 record=${8:-1}
    local nvar="N_P$pl" n t0 t1 csv line times
    n=${!nvar:-$N_P64}
    [[ "$record" == 1 ]] || n=$(( N_P1 / 4 ))
    local cmd=(taskset -c "$CLIENT_CPU" redis-benchmark -h 127.0.0.1 -p "$port"
               -t "$test" -n "$n" -c "$CLIENTS" -P "$pl" -d "$VALUE_SIZE" -r "$KEYS" --csv)
    [[ "$record" == 1 ]] && record_cmd "${cmd[@]}"
    t0=$(cpu_ticks "$pid")
    # bash's `time` gives the load generator's own user/sys/real: if it is
    # ~100 % of a core the point is client-bound, which the report flags.
    local TIMEFORMAT='%3U %3S %3R'
    { time timeout "$RUN_TIMEOUT" "${cmd[@]}" >"$WORK/bench.out" 2>"$WORK/bench.err"; } 2>"$WORK/time.out" \
        || die "redis-benchmark failed against $name ($test P$pl): $(tail -n 3 "$WORK/bench.err" "$WORK/bench.out")"
    t1=$(cpu_ticks "$pid")
    kill -0 "$pid" 2>/dev/null || die "$name died during $test P$pl"
    [[ "$record" == 1 ]] || return 0
    # CSV row like "SET","164203.61","0.176","0.056","0.167","0.247","0.375","2.679"
    line=$(grep -i "^\"$test\"" "$WORK/bench.out" | tail -n 1 | tr -d '"') \
        || die "no CSV result from redis-benchmark ($name $test P$pl): $(cat "$WORK/bench.out")"
    times=$(tail -n 1 "$WORK/time.out")
    # mode,server,test,pipeline,repeat,requests,clients,<bench csv minus test>,ticks,clk_tck,client u s r
    echo "$mode,$name,${test^^},$pl,$rep,$n,$CLIENTS,${line#*,},$((t1 - t0)),$CLK_TCK,${times// /,}" >>"$WORK/runs.csv"
    log "$(printf '%-4s %-9s %-3s P%-3s rep %s: %s' "$mode" "$name" "${test^^}" "$pl" "$rep" "${line#*,}")"
}

# ------------------------------------------------------------------- main --
check_loadavg
ensure_tools
build_ringcache
CLK_TCK=$(getconf CLK_TCK)
gen_keys

echo "mode,server,rss_empty_kb,rss_loaded_kb,dbsize" >"$WORK/mem.csv"
echo "mode,server,test,pipeline,repeat,requests,clients,rps,avg_ms,min_ms,p50_ms,p95_ms,p99_ms,max_ms,server_cpu_ticks,clk_tck,client_user_s,client_sys_s,wall_s" >"$WORK/runs.csv"
: >"$WORK/commands.txt"
: >"$WORK/modes.tsv"

NCPU=$(nproc)
for threads in $THREADS; do
    mode="threads$threads"
    if [[ $threads -le 1 ]]; then
        rc_cpus=${RC_CPUS:-$SERVER_CPU}
        note="ringcache --threads $threads and redis-server on CPU $SERVER_CPU; redis-benchmark on CPU $CLIENT_CPU."
    else
        # Multi-threaded ringcache gets every core (0..threads-1), so it
        # necessarily shares a core with the load generator; redis-server
        # stays single-threaded on CPU $SERVER_CPU as the baseline.
        top=$(( threads < NCPU ? threads - 1 : NCPU - 1 ))
        rc_cpus=${RC_CPUS:-$(seq -s, 0 "$top")}
        note="ringcache --threads $threads on CPUs $rc_cpus, sharing CPU $CLIENT_CPU with redis-benchmark (so ringcache and the load generator compete for that core); redis-server single-threaded on CPU $SERVER_CPU; redis-benchmark on CPU $CLIENT_CPU."
    fi
    printf '%s\t%s\t%s\t%s\n' "$mode" "$threads" "$rc_cpus" "$note" >>"$WORK/modes.tsv"
    log "=== mode $mode: $note"

    rc_port=$(free_port)
    start_server "ringcache-$mode" "$rc_cpus" "$rc_port" \
        "$RC_BIN" --bind 127.0.0.1 --port "$rc_port" --threads "$threads"
    rc_pid=$SERVER_PID
    load_and_measure ringcache "$rc_pid" "$rc_port" "$mode"

    redis_port=$(free_port)
    start_server "redis-$mode" "$SERVER_CPU" "$redis_port" \
        redis-server --port "$redis_port" --save '' --appendonly no --bind 127.0.0.1 --daemonize no
    redis_pid=$SERVER_PID
    load_and_measure redis "$redis_pid" "$redis_port" "$mode"

    # Short unrecorded warm-up so first-touch effects (page faults, TCP
    # slow start, branch predictors) do not land on the first measured point.
    for t in $TESTS; do
        run_point "$mode" ringcache "$rc_pid" "$rc_port" "$t" 1 0 0
        run_point "$mode" redis "$redis_pid" "$redis_port" "$t" 1 0 0
    done

    # Interleave servers point by point (rather than all-ringcache then
    # all-redis) so slow drift of the machine (thermal, noisy neighbours)
    # hits both equally; flip who goes first on odd repeats to cancel
    # any "second runner" bias. Repeats are the outer loop for the same reason.
    for ((rep = 1; rep <= REPEATS; rep++)); do
        for t in $TESTS; do
            for pl in $PIPELINES; do
                if (( rep % 2 == 1 )); then
                    run_point "$mode" ringcache "$rc_pid" "$rc_port" "$t" "$pl" "$rep"
                    run_point "$mode" redis "$redis_pid" "$redis_port" "$t" "$pl" "$rep"
                else
                    run_point "$mode" redis "$redis_pid" "$redis_port" "$t" "$pl" "$rep"
                    run_point "$mode" ringcache "$rc_pid" "$rc_port" "$t" "$pl" "$rep"
                fi
            done
        done
    done

    # Verify SETs did not change the key count (they overwrite the preloaded keyspace).
    for p in "$rc_port" "$redis_port"; do
        n=$(dbsize "$p"); [[ "$n" == "$KEYS" ]] || log "warning: DBSIZE on port $p is $n after the run (expected $KEYS)"
    done
    stop_pid "$rc_pid"
    stop_pid "$redis_pid"
done

# ------------------------------------------------------------------ report --
{
    printf 'date\t%s\n' "$DATE"
    meta_machine
    printf 'keys\t%s\n' "$KEYS"
    printf 'value_size\t%s\n' "$VALUE_SIZE"
    printf 'clients\t%s\n' "$CLIENTS"
    printf 'repeats\t%s\n' "$REPEATS"
    printf 'quick\t%s\n' "$QUICK"
    printf 'server_cpu\t%s\n' "$SERVER_CPU"
    printf 'client_cpu\t%s\n' "$CLIENT_CPU"
    printf 'clk_tck\t%s\n' "$CLK_TCK"
} >"$WORK/meta.tsv"

mkdir -p "$OUT_DIR"
python3 "$ROOT/benches/report.py" --work "$WORK" --out-dir "$OUT_DIR"
