#!/usr/bin/env bash
# `make test-redis`: Redis 7.2.6's own TCL units (run.sh, beside this file),
# each against a fresh ringcache node, compared with baseline.txt.
#
#   tests/redis-tests/check.sh [--update] [UNIT ...]
#
# Runs the units run.sh lists by default (or the ones given), each against
# a fresh RINGCACHE_BIN (default target/release/ringcache) on a free port,
# stopped by its pid after the unit, REDIS_TESTS_JOBS (default 2) units at
# a time, and prints each unit's output in the units' order and its passing
# tests beside its baseline.
# Fails when a unit passes fewer tests than its baseline (a regression) or
# when the run itself fails; says so when a unit passes more, so that the
# baseline can be raised (`--update` rewrites baseline.txt from this run).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${RINGCACHE_BIN:-$root/target/release/ringcache}
baseline=$here/baseline.txt
# The whole suite must finish within this many seconds (a hung unit must
# not eat the CI budget; run.sh also bounds each test at 60 s).
limit_s=${REDIS_TESTS_LIMIT_S:-480}

update=0
if [ "${1:-}" = --update ]; then
    update=1
    shift
fi

[ -x "$bin" ] || { echo "no ringcache binary at $bin: run cargo build --release" >&2; exit 2; }
command -v tclsh >/dev/null || { echo "tclsh not found: apt-get install -y tcl (make deps does)" >&2; exit 2; }

work=$(mktemp -d)
# Units run this many at a time, each against its own node on its own port
# (CI has 2 cores; a unit mostly waits on its client and its node).
jobs=${REDIS_TESTS_JOBS:-2}
[ "$jobs" -ge 1 ] 2>/dev/null || { echo "REDIS_TESTS_JOBS must be a positive integer" >&2; exit 2; }
# The running units: their subshells' pids, each of which stops its own node.
running=()
stop_all() {
    local p
    for p in "${running[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${running[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap stop_all EXIT

# A port nothing answers on; the node's own bind is the real test, so a
# port taken in between only means another try.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# run_unit I UNIT LEFT: in a subshell, starts a fresh node on a free port,
# runs UNIT against it for at most LEFT seconds (output in $work/I.log, exit
# status in $work/I.rc) and stops the node by its pid, whatever happens.
run_unit() {
    local i=$1 unit=$2 left=$3 pid="" port started=0 rc=0
    stop_node() {
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -9 "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
        pid=""
    }
    trap stop_node EXIT
    trap 'exit 143' TERM INT
    # Nodes on 10000-19999, the harnesses on 22000-31999: both under the
    # kernel's ephemeral ports (32768 and up), which the many client
    # connections of two units at once would otherwise take from them.
    for _ in $(seq 20); do
        port=$((10000 + RANDOM % 10000))
        port_in_use "$port" && continue
        "$bin" --port "$port" --bind 127.0.0.1 >"$work/$i.node.log" 2>&1 &
        pid=$!
        for _ in $(seq 100); do
            if ! kill -0 "$pid" 2>/dev/null; then break; fi
            if port_in_use "$port"; then started=1; break; fi
            sleep 0.05
        done
        [ "$started" = 1 ] && break
        stop_node
    done
    if [ "$started" != 1 ]; then
        { echo "ringcache did not start:"; cat "$work/$i.node.log"; } >"$work/$i.log"
        echo 1 >"$work/$i.rc"
        exit 0
    fi
    # Each unit's harness listens for its client near its own base port.
    REDIS_TESTS_BASEPORT=$((22032 + (RANDOM % 99) * 100 + (i % 2) * 50)) \
        timeout --kill-after=10 "$left" bash "$here/run.sh" "$port" "$unit" >"$work/$i.log" 2>&1 || rc=$?
    echo "$rc" >"$work/$i.rc"
}

# The units to run: those given, else run.sh's default list (its own
# `units=(...)` line, so the two never disagree).
if [ $# -gt 0 ]; then
    units=("$@")
else
    eval "$(sed -n '/^\[ ${#units\[@\]} -gt 0 \] || units=(/,/)$/p' "$here/run.sh" | sed 's/^\[ ${#units\[@\]} -gt 0 \] || //')"
fi
echo "Redis's TCL units, each against a fresh ringcache node (a unit that fails"
echo "half-way can leave a setting or a script behind that would fail the next),"
echo "$jobs at a time"

# One node per unit, $jobs units at once; the whole run bounded by limit_s.
deadline=$((SECONDS + limit_s))
over=0
for i in "${!units[@]}"; do
    while [ "${#running[@]}" -ge "$jobs" ]; do
        wait -n "${running[@]}" 2>/dev/null || true
        alive=()
        for p in "${running[@]}"; do kill -0 "$p" 2>/dev/null && alive+=("$p"); done
        running=("${alive[@]}")
    done
    left=$((deadline - SECONDS))
    if [ "$left" -le 0 ]; then
        over=1
        break
    fi
    run_unit "$i" "${units[$i]}" "$left" &
    running+=("$!")
done
for p in "${running[@]}"; do wait "$p" 2>/dev/null || true; done
running=()

# Every unit's output in the units' order, then the first failure to run.
: >"$work/run.log"
failed=""
for i in "${!units[@]}"; do
    [ -f "$work/$i.log" ] && cat "$work/$i.log" >>"$work/run.log"
    rc=$(cat "$work/$i.rc" 2>/dev/null || echo missing)
    if [ -z "$failed" ] && [ "$rc" != 0 ]; then failed="$i:$rc"; fi
done
if [ "$over" = 1 ] || [ -n "$failed" ]; then
    cat "$work/run.log"
    rc=${failed#*:}
    if [ "$over" = 1 ] || [ "$rc" = 124 ] || [ "$rc" = 137 ] || [ "$rc" = missing ]; then
        echo "FAILED: the suite ran past ${limit_s}s" >&2
    else
        echo "FAILED: run.sh exited $rc on ${units[${failed%%:*}]}" >&2
    fi
    exit 1
fi

# unit ok err exception, one line per unit run.
sed -n -E 's/^(unit[^:]*): ok=([0-9]+) err=([0-9]+) exception=([0-9]+)$/\1 \2 \3 \4/p' "$work/run.log" >"$work/figures"

if [ "$update" = 1 ] && [ $# -gt 0 ]; then
    echo "--update rewrites the whole baseline: run it without units" >&2
    exit 2
fi
if [ "$update" = 1 ]; then
    {
        echo "# Tests of each Redis TCL unit that pass on ringcache (tests/redis-tests/check.sh)."
        echo "# make test fails when a unit passes fewer; raise a figure when it passes more."
        awk '{print $1, $2}' "$work/figures"
    } >"$baseline"
    echo "baseline.txt rewritten"
fi

subset=0
[ $# -gt 0 ] && subset=1
awk -v baseline="$baseline" -v subset="$subset" '
    BEGIN {
        while ((getline line < baseline) > 0) {
            if (line ~ /^#/ || line == "") continue
            split(line, f, " ")
            base[f[1]] = f[2]; order[++n] = f[1]
        }
    }
    { ok[$1] = $2; err[$1] = $3; exc[$1] = $4; if (!($1 in base)) { order[++n] = $1; base[$1] = 0; fresh[$1] = 1 } }
    END {
        printf "%-28s %8s %6s %5s %9s\n", "unit", "baseline", "ok", "err", "exception"
        for (i = 1; i <= n; i++) {
            u = order[i]
            if (!(u in ok) && subset) continue
            if (!(u in ok)) { note = "  <- REGRESSION: not run"; if (base[u] > 0) bad++; else note = "  (not run)" }
            else if (ok[u] < base[u]) { note = "  <- REGRESSION"; bad++ }
            else if (ok[u] > base[u]) { note = fresh[u] ? "  <- new unit: add it to baseline.txt" : "  <- better: raise the baseline"; better++ }
            else note = ""
            printf "%-28s %8d %6d %5d %9d%s\n", u, base[u], ok[u], err[u], exc[u], note
            tb += base[u]; to += ok[u]; te += err[u]; tx += exc[u]
        }
        printf "%-28s %8d %6d %5d %9d\n", "total", tb, to, te, tx
        if (bad) { printf "FAILED: %d unit(s) pass fewer tests than their baseline (run.sh'"'"'s output follows)\n", bad; exit 1 }
        if (better) printf "%d unit(s) pass more tests than their baseline: raise them in %s (check.sh --update)\n", better, baseline
    }
' "$work/figures" || { echo "run.sh's output:"; cat "$work/run.log"; exit 1; }
