# benches/lib.sh -- shell helpers shared by benches/run.sh and benches/cluster.sh.
#
# Source it from a bash script running under `set -euo pipefail`, after
# setting ROOT (the repository root). Then call `bench_init WORK_PREFIX`:
# it creates the temp dir $WORK and installs the EXIT/INT/TERM traps that
# stop every pid in PIDS. Nothing here runs on its own.

# ----------------------------------------------------------------- logging --
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ----------------------------------------------------- processes, cleanup --
PIDS=()  # every process we start; cleanup() stops them

# bench_init PREFIX: make $WORK and install the traps.
bench_init() {
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
    : >"$WORK/commands.txt"
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

stop_pid() {
    # TERM, give it 10 s to exit, then KILL. Bounded in every case.
    local pid=$1 i
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "pid $pid ignored SIGTERM, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

# forget_pid PID: drop a pid we have already waited for from PIDS, so that
# cleanup() never signals a recycled pid.
forget_pid() {
    local p keep=()
    for p in "${PIDS[@]}"; do [[ "$p" == "$1" ]] || keep+=("$p"); done
    PIDS=("${keep[@]}")
}

cleanup() {
    local rc=$? pid
    trap - EXIT INT TERM
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    if [[ $rc -ne 0 && -n "${WORK:-}" ]]; then
        # Surface server logs: the usual reason for a failed run.
        for f in "$WORK"/*.log; do
            [[ -s "$f" ]] || continue
            log "---- tail of $(basename "$f") ----"
            tail -n 20 "$f" >&2 || true
        done
    fi
    if [[ -n "${WORK:-}" ]]; then
        if [[ "${KEEP_WORK:-0}" == 1 ]]; then
            log "work dir kept: $WORK"
        else
            rm -rf "$WORK"
        fi
    fi
    exit "$rc"
}

# ----------------------------------------------------------------- records --
# Record a command exactly as run (for the "exact commands" report section),
# shell-quoted so e.g. `--save ''` survives copy-paste.
quote_cmd() {
    local a out=()
    for a in "$@"; do
        # Our arguments never contain single quotes, so '...' is enough.
        if [[ -z "$a" || "$a" =~ [^A-Za-z0-9_./:=,+-] ]]; then a="'$a'"; fi
        out+=("$a")
    done
    printf '%s\n' "${out[*]}"
}
record_cmd() { quote_cmd "$@" >>"$WORK/commands.txt"; }
record_raw() { printf '%s\n' "$*" >>"$WORK/commands.txt"; }

# ------------------------------------------------------------------- tools --
as_root() {
    if [[ $(id -u) -eq 0 ]]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else die "need root to run: $*"; fi
}

# ensure_redis_tools TOOL...: install redis-server/redis-tools with apt-get
# if one of them is missing, then check that every TOOL is on PATH.
ensure_redis_tools() {
    if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null \
        || ! command -v redis-benchmark >/dev/null; then
        log "installing redis-server and redis-tools via apt-get"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools
    fi
    local t
    for t in redis-server redis-cli redis-benchmark "$@"; do
        command -v "$t" >/dev/null || die "required tool not found: $t"
    done
}

# build_ringcache: sets RC_BIN, from RINGCACHE_BIN or a cargo release build.
build_ringcache() {
    if [[ -n "${RINGCACHE_BIN:-}" ]]; then
        if [[ "$RINGCACHE_BIN" == */* ]]; then
            RC_BIN=$(cd "$(dirname "$RINGCACHE_BIN")" && pwd)/$(basename "$RINGCACHE_BIN")
        else
            RC_BIN=$(command -v "$RINGCACHE_BIN") || die "RINGCACHE_BIN=$RINGCACHE_BIN not found in PATH"
        fi
        [[ -x "$RC_BIN" ]] || die "RINGCACHE_BIN=$RINGCACHE_BIN is not executable"
        log "using RINGCACHE_BIN=$RC_BIN (no build)"
    else
        log "building ringcache (cargo build --release -p ringcache)"
        (cd "$ROOT" && cargo build --release -p ringcache) >&2
        local target=${CARGO_TARGET_DIR:-target}
        [[ "$target" == /* ]] || target=$ROOT/$target  # cargo resolves it from $ROOT
        RC_BIN=$target/release/ringcache
        [[ -x "$RC_BIN" ]] || die "build did not produce $RC_BIN"
    fi
}

# ringcache_commit: short HEAD, flagged when crates/ has uncommitted changes
# (then the binary may not be that commit).
ringcache_commit() {
    local commit
    commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "no commit")
    if [[ -n "$(git -C "$ROOT" status --porcelain -- crates Cargo.toml Cargo.lock 2>/dev/null)" ]]; then
        commit="$commit (uncommitted changes in crates/)"
    fi
    echo "$commit"
}

# ------------------------------------------------------------------- ports --
free_port() {
    # Ask the kernel for an unused port. There is a tiny window before the
    # server binds it, which is fine on a bench machine.
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# free_ports N: N distinct unused ports, one per line. All N sockets are
# held open at once, so the kernel cannot hand out the same port twice.
free_ports() {
    python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print("\n".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# ----------------------------------------------------------------- servers --
# wait_ping NAME PID PORT: until PORT answers PONG (READY_TIMEOUT seconds).
wait_ping() {
    local name=$1 pid=$2 port=$3
    local deadline=$((SECONDS + READY_TIMEOUT))
    until [[ "$(timeout 2 redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" == PONG ]]; do
        kill -0 "$pid" 2>/dev/null || die "$name exited during startup"
        [[ $SECONDS -lt $deadline ]] || die "$name not answering PING on port $port after ${READY_TIMEOUT}s"
        sleep 0.1
    done
}

# start_server NAME CPUS PORT CMD... ; sets SERVER_PID. Logs to $WORK/NAME.log.
# CPUS is a taskset list, or "" for no pinning. `taskset` execs the command,
# so $! is the server's own pid -- which is what /proc CPU and RSS
# accounting needs. A wrapper passed as RINGCACHE_BIN must `exec` the real
# server for the same reason.
start_server() {
    local name=$1 cpus=$2 port=$3; shift 3
    local cmd=("$@")
    [[ -z "$cpus" ]] || cmd=(taskset -c "$cpus" "$@")
    record_cmd "${cmd[@]}"
    "${cmd[@]}" >"$WORK/$name.log" 2>&1 </dev/null &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    wait_ping "$name" "$SERVER_PID" "$port"
    log "$name up: pid $SERVER_PID, port $port${cpus:+, cpus $cpus}"
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# utime+stime (fields 14, 15 of /proc/PID/stat; whole process, all threads)
# in clock ticks. Parse after the last ')' because comm may contain spaces.
cpu_ticks() {
    local line rest
    read -r line <"/proc/$1/stat"
    rest=${line##*) }
    # rest starts at field 3 (state) -> field 14 is word 12, field 15 word 13.
    set -- $rest
    echo $(( ${12} + ${13} ))
}

# cpu_ticks_sum PID...: cpu_ticks summed over several processes.
cpu_ticks_sum() {
    local pid sum=0
    for pid in "$@"; do sum=$(( sum + $(cpu_ticks "$pid") )); done
    echo "$sum"
}

# children_cpu VAR: set VAR to "USER SYS", the user and sys seconds of every
# child this shell has reaped so far (bash `times`, second line). Sampled
# around a wait, the difference is the CPU of the processes reaped in
# between -- which works for load generators run in the background, where
# `time` cannot be used. `times` must run in this shell, not in a $(...)
# subshell (which has reaped nothing), hence the file and the variable.
children_cpu() {
    times >"$WORK/times.out"
    local t
    t=$(sed -n 2p "$WORK/times.out")  # e.g. "0m1.234s 0m0.567s"
    printf -v "$1" '%s' "$(awk -v t="$t" 'BEGIN {
        split(t, a, " ")
        for (i = 1; i <= 2; i++) {
            s = a[i]; sub(/s$/, "", s); split(s, ms, "m")
            v[i] = ms[1] * 60 + ms[2]
        }
        printf "%.3f %.3f\n", v[1], v[2]
    }')"
}

# --------------------------------------------------------------- machine --
# check_loadavg: record the load average in LOADAVG_START; warn when busy.
# Anything else busy on this small machine (a cargo build, another bench)
# skews every number; record the load average and warn, but carry on.
check_loadavg() {
    LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
    if awk -v l="${LOADAVG_START%% *}" 'BEGIN { exit !(l > 0.5) }'; then
        log "warning: load average is $LOADAVG_START before starting -- other work on this machine will skew results"
    fi
}

# meta_machine: the machine/version lines of meta.tsv (key<TAB>value).
meta_machine() {
    printf 'nproc\t%s\n' "$(nproc)"
    printf 'cpu_model\t%s\n' "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
    printf 'kernel\t%s\n' "$(uname -srm)"
    printf 'loadavg_start\t%s\n' "$LOADAVG_START"
    printf 'redis_server\t%s\n' "$(redis-server --version)"
    printf 'redis_benchmark\t%s\n' "$(redis-benchmark --version)"
    printf 'ringcache_commit\t%s\n' "$(ringcache_commit)${RINGCACHE_BIN:+ -- of the checkout; the binary came from RINGCACHE_BIN}"
    printf 'ringcache_bin\t%s\n' "$RC_BIN${RINGCACHE_BIN:+ (from RINGCACHE_BIN)}"
    printf 'ringcache_version\t%s\n' "$(timeout 5 "$RC_BIN" --version 2>/dev/null | head -n 1 || true)"
}

# ------------------------------------------------------- loaded clusters --
# For benches of a running cluster (catchup.sh, membership.sh).

now_ms() { date +%s%3N; }
# info PORT SECTION: INFO SECTION of the node at PORT, without CRs.
info() { timeout 5 redis-cli -p "$1" info "$2" 2>/dev/null | tr -d '\r'; }
# field PORT SECTION NAME: one INFO field.
field() { info "$1" "$2" | awk -F: -v f="$3" '$1 == f { print $2 }'; }
# local_keys PORT: the keys of database 0 held by that node itself.
local_keys() { info "$1" keyspace | sed -n 's/^db0:keys=\([0-9]*\).*/\1/p'; }

# keys_resp N FILE: writes to FILE the RESP of N SETs of key:<12 digits>
# to 32-byte values, for redis-cli --pipe.
keys_resp() {
    awk -v n="$1" 'BEGIN {
        for (i = 0; i < n; i++) {
            k = sprintf("key:%012d", i); v = sprintf("v%031d", i)
            printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(k), k, length(v), v
        }
    }' >"$2"
}

# load_keys PORT N: SETs key:<12 digits> to 32-byte values for N keys
# through the node at PORT, pipelined (redis-cli --pipe); sets LOAD_MS.
load_keys() {
    local port=$1 n=$2 began out
    keys_resp "$n" "$WORK/keys.resp"
    began=$(now_ms)
    out=$(timeout 600 redis-cli -p "$port" --pipe <"$WORK/keys.resp" 2>&1) || die "load failed: $out"
    [[ "$out" == *"errors: 0, replies: $n"* ]] || die "load reported: $out"
    LOAD_MS=$(($(now_ms) - began))
    rm -f "$WORK/keys.resp"
}

# gets PORT KEYS SECONDS: requests/s of a redis-benchmark GET load over
# KEYS keys on the node at PORT lasting about SECONDS (its errors go to
# $WORK/gets.err).
gets() {
    timeout "$(($3 + 30))" redis-benchmark -p "$1" -n "$((40000 * $3))" -c 16 -P 16 -r "$2" -q --csv \
        -t get 2>>"$WORK/gets.err" | awk -F'","' 'NR == 2 { gsub(/"/, "", $2); print int($2) }'
}
