#!/usr/bin/env bash
# Cold and warm start of the README's run command, for the checkout at REV
# (default: the working tree), with this environment's Python.
#   tools/startup-time.sh [REV] [ROUNDS]
# Cold: an empty numba cache (a fresh NUMBA_CACHE_DIR); warm: the same cache again.
set -euo pipefail
REV=${1:-}
ROUNDS=${2:-2}
PY=${PYTHON:-python}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TREE=$ROOT
if [ -n "$REV" ]; then
  TREE=$(mktemp -d)/tree
  git -C "$ROOT" worktree add -q --detach "$TREE" "$REV"
  trap 'git -C "$ROOT" worktree remove --force "$TREE"' EXIT
fi
CMD=(-m shiftbench run --method diana --compressor "rand-k(q=0.1)" --problem ridge --iters 1000 --json)
cd "$TREE"
for r in $(seq "$ROUNDS"); do
  cache=$(mktemp -d)
  for kind in cold warm warm warm; do
    s=$(date +%s.%N)
    NUMBA_CACHE_DIR=$cache PYTHONPATH=$TREE "$PY" "${CMD[@]}" > /dev/null
    e=$(date +%s.%N)
    printf '%s %s %.2f s\n' "${REV:-worktree}" "$kind" "$(echo "$e - $s" | bc)"
  done
  rm -rf "$cache"
done
