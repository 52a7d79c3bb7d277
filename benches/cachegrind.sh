#!/usr/bin/env bash
# Instructions per request through the command path (no sockets), counted by
# callgrind: repeatable on noisy shared machines where timings are not.
# Usage: benches/cachegrind.sh [iterations]   (prints a Markdown table)
set -euo pipefail
cd "$(dirname "$0")/.."
iterations="${1:-2000}"
command -v valgrind >/dev/null || { echo "valgrind is needed: apt-get install -y valgrind" >&2; exit 1; }
cargo build --release -q -p ringcache-benches --bin profile_path
bin=target/release/profile_path
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Instructions inside `measured` alone (callgrind's --toggle-collect):
# the set-up, the preload and the one-time calibration of the CPU counter
# the statistics read (quanta's, whose length under valgrind varies from
# run to run by millions of instructions) are left out. Subtracting a
# 0-iteration run's total, as this script did before, let that variance
# through: up to ~4,000 instructions per request at pipeline 1.
count() {
    valgrind --tool=callgrind --toggle-collect='*measured*' --callgrind-out-file="$tmp/out" "$bin" "$@" 2>"$tmp/err" >/dev/null
    grep -E '^summary:' "$tmp/out" | awk '{print $2}'
}

echo "| op | pipeline | instructions/request |"
echo "|---|---|---|"
for op in get set; do
    for depth in 1 16 64; do
        total=$(count "$op" "$depth" "$iterations")
        awk -v t="$total" -v n="$iterations" -v d="$depth" -v op="$op" \
            'BEGIN { printf "| %s | %d | %.0f |\n", op, d, t / (n * d) }'
    done
done
