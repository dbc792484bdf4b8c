#!/usr/bin/env bash
# The perf report's rows for two commits, interleaved in one session so that
# machine noise hits both alike (ratios from one run):
#   tools/perf-compare.sh BEFORE [AFTER] [KERNELS] [ROUNDS]
# AFTER defaults to the working tree; KERNELS to every method row on ridge and
# the Monte-Carlo row.  JSON per tree and round goes to ./perf-compare-<time>/.
set -euo pipefail
BEFORE=$1
AFTER=${2:-}
K=${3:-"dcgd/ridge;dcgd-fixed/ridge;dgd/ridge;dcgd-star/ridge;diana/ridge;rand-diana/ridge;gdci/ridge;vr-gdci/ridge;cgd/ridge;ef/ridge;ef21/ridge;lag/ridge;clag/ridge;3pcv1/ridge;3pcv2/ridge;3pcv3/ridge;3pcv4/ridge;3pcv5/ridge;marina/ridge;monte-carlo diana/ridge"}
ROUNDS=${4:-2}
PY=${PYTHON:-python}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$PWD/perf-compare-$(date +%Y%m%d-%H%M%S)
mkdir "$OUT"
base=$(mktemp -d)
trees=()
for rev in "$BEFORE" "$AFTER"; do
  if [ -z "$rev" ]; then trees+=("$ROOT"); continue; fi
  git -C "$ROOT" worktree add -q --detach "$base/$rev" "$rev"
  trees+=("$base/$rev")
done
trap 'for t in "${trees[@]}"; do [ "$t" != "$ROOT" ] && git -C "$ROOT" worktree remove --force "$t"; done' EXIT
for r in $(seq "$ROUNDS"); do
  i=0
  for t in "${trees[@]}"; do
    name=$([ $i -eq 0 ] && echo before || echo after)
    # no NUMBA_CACHE_DIR: shiftbench keys its numba cache on the package
    # source (shiftbench/_cache.py), so each tree gets its own; a fixed
    # folder reused across edits would run stale inlined kernels (numba
    # checks only the timestamp of the function's own file)
    (cd "$t" && PYTHONPATH="$t" "$PY" -m shiftbench.perf \
        --kernels "$K" --d 1000 --json > "$OUT/$name-$r.json")
    echo "$name round $r: $OUT/$name-$r.json ($(uptime | sed 's/.*load/load/'))"
    i=$((i + 1))
  done
done
"$PY" - "$OUT" "$ROUNDS" <<'PYEOF'
import json, sys
out, rounds = sys.argv[1], int(sys.argv[2])
def load(name):
    rows = {}
    for r in range(1, rounds + 1):
        for x in json.load(open(f"{out}/{name}-{r}.json")):
            rows.setdefault(x["kernel"], []).append(x)
    return rows
b, a = load("before"), load("after")
print("| row | before µs/iter | after µs/iter | after/before | after engine/floor |")
print("|---|---|---|---|---|")
for k, rows in a.items():
    if k not in b or "seconds" not in rows[0] or not rows[0].get("iters_per_call"):
        continue
    ip = rows[0]["iters_per_call"]
    bs = min(r["seconds"] for r in b[k]) / ip * 1e6
    as_ = min(r["seconds"] for r in rows) / ip * 1e6
    fl = min((r.get("ratio_to_floor") or float("nan")) for r in rows)
    print(f"| {k} | {bs:.2f} | {as_:.2f} | {as_ / bs:.2f} | {fl:.2f} |")
PYEOF
