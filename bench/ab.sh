#!/bin/bash
# Same-run A/B of two checkouts on the clean 10k-page crawl, rounds interleaved so a noisy,
# shared machine slows both alike. Usage: bench/ab.sh OLD_TREE NEW_TREE [ROUNDS]
#   git worktree add /tmp/old <commit> && ln -s "$PWD/bench/site" /tmp/old/bench/site
#   bench/ab.sh /tmp/old . 5
# Each tree runs its own bench/run.py with this checkout's .venv; compare medians.
set -euo pipefail
old=$1 new=$2 rounds=${3:-3}
py="$(cd "$(dirname "$0")/.." && pwd)/.venv/bin/python"
for round in $(seq "$rounds"); do
  for tree in "$old" "$new"; do
    echo "=== $tree round $round $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)"
    (cd "$tree" && timeout 900 "$py" bench/run.py --only crawler --no-wrk 2>&1 | grep -E "^\[1/1\]")
  done
done
