#!/usr/bin/env bash
# Runs units of Redis 7.2.6's own TCL test suite (vendored here from Redis 7.2.6, BSD: COPYING) against a server that is already running,
# in external mode (the suite only talks to it as a client).
#
#   tests/redis-tests/run.sh PORT [UNIT ...]     e.g.  run.sh 6379 unit/type/string unit/expire
#
# Needs tclsh (Debian package tcl). Tests tagged as needing replication, DEBUG, SAVE or
# pf-debug are skipped. Prints each unit's ok / err / exception counts, the first lines of
# every failure, and last "N passed, M failed". An exception aborts the rest of its unit, so
# fix those first. The suite is copied to a temporary folder because it writes there.
# The one change to Redis's files: FUNCTION FLUSH, which the harness sends before every
# unit, may fail (tests/support/server.tcl), since a server without scripting refuses it.
set -u
port=${1:?usage: run.sh PORT [UNIT ...]}; shift
units=("$@")
[ ${#units[@]} -gt 0 ] || units=(unit/type/string unit/type/incr unit/keyspace unit/expire unit/type/hash
  unit/type/list unit/type/set unit/type/zset unit/protocol unit/multi unit/scan unit/auth unit/info
  unit/quit unit/type/list-2 unit/type/list-3 unit/sort unit/bitops unit/bitfield unit/hyperloglog
  unit/pubsub unit/pubsubshard unit/scripting unit/functions unit/dump unit/maxmemory unit/introspection
  unit/introspection-2 unit/pause unit/other unit/tracking unit/acl unit/info-command unit/latency-monitor unit/slowlog
  unit/geo unit/type/stream unit/type/stream-cgroups unit/lazyfree unit/wait unit/limits unit/querybuf)
command -v tclsh >/dev/null || { echo "tclsh not found: apt-get install -y tcl" >&2; exit 2; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cp -r "$here/runtest" "$here/tests" "$work/"; chmod -R u+w "$work"
cd "$work"
# The harness listens for its test clients on a port near --baseport (Redis's
# default 21111): a random base keeps runs on one machine from colliding.
baseport=${REDIS_TESTS_BASEPORT:-$((22000 + RANDOM % 30000))}
total_ok=0; total_bad=0
for u in "${units[@]}"; do
  [ -f "tests/$u.tcl" ] || { echo "$u: no such unit"; continue; }
  log=$(mktemp)
  # The harness binds a port of its own for its test client; if another
  # process took it between its check and its bind, it dies before any
  # test runs ("test_server_main"): run the unit once more on another base.
  for attempt in 1 2; do
    timeout 600 ./runtest --host 127.0.0.1 --port "$port" --singledb --ignore-encoding --ignore-digest \
      --tags -needs:repl --tags -needs:debug --tags -needs:save --tags -needs:pfdebug \
      --single "$u" --clients 1 --timeout 60 --baseport "$baseport" >"$log" 2>&1
    clean=$(sed 's/\x1b\[[0-9;]*m//g' "$log")
    if grep -q -E '^\[(ok|err|exception)\]' <<<"$clean" || ! grep -q 'test_server_main' <<<"$clean"; then
      break
    fi
    echo "$u: the harness could not start (attempt $attempt): $(grep -m1 -i -E "couldn.t|error" <<<"$clean")" >&2
    baseport=$((22000 + RANDOM % 30000))
  done
  ok=$(grep -c '^\[ok\]' <<<"$clean"); err=$(grep -c '^\[err\]' <<<"$clean"); exc=$(grep -c '^\[exception\]' <<<"$clean")
  echo "$u: ok=$ok err=$err exception=$exc"
  grep -A2 -E '^\[(err|exception)\]' <<<"$clean" | head -12 | sed 's/^/    /'
  # Nothing ran at all (all skipped by tags, or the harness failed): say why.
  [ $((ok + err + exc)) -eq 0 ] && tail -3 <<<"$clean" | sed 's/^/    | /'
  total_ok=$((total_ok + ok)); total_bad=$((total_bad + err + exc))
  rm -f "$log"
done
echo "$total_ok passed, $total_bad failed"
