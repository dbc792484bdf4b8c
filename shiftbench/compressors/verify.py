"""``python -m shiftbench verify-compressors``: claimed vs measured constants.

Measures every registered compressor (its registry ``example`` spec plus the
extra parameterisations in :data:`EXTRA_SPECS`) by Monte Carlo on the input
kinds of :func:`shiftbench.compressors.measure.make_inputs`, and compares
omega (U(omega), Shulgin & Richtárik 2022), delta (B(delta)), the B1/B2/B3
constants of Beznosikov et al. (On biased compression for distributed learning)
and unbiasedness with the claims of
:mod:`shiftbench.compressors.registry`.  Each comparison is one-sided with a
tolerance of ``z`` standard errors (see :mod:`.measure`).

Exit status: 0 when every claim holds within its tolerance, 1 when one is
violated, 2 for bad arguments.

Usage::

    python -m shiftbench verify-compressors [--d D] [--trials N] [--seed S]
                                            [--z Z] [--spec SPEC ...] [--json]
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time

import numpy as np

from .measure import measure_many, INPUT_KINDS
from .registry import REGISTRY, parse

EXTRA_SPECS = (
    "top-k(k=1)",
    "top-k(q=0.1, bits=64)",
    "rand-k(k=1)",
    "rand-k(q=0.1, shared=1)",
    "rand-k(q=0.25, bits=64)",
    "crand-k(k=7)",
    "bernoulli(p=0.2)",
    "scaled-bernoulli(p=0.2)",
    "adaptive(k=3)",
    "natural(bits=64)",
    "dither(s=1)",
    "dither(s=16)",
    "dither(s=4, p=inf)",
    "natural-dither(s=2)",
    "natural-dither(s=8)",
    "terngrad(bits=64)",
    "induced(top-k(q=0.1), rand-k(q=0.1))",
    "induced(natural-det, natural)",
    "compose(natural, dither(s=4))",
    "compose(top-k(k=10), rand-k(q=0.5))",
    "scale(natural, lam=0.8)",
    "scale(top-k(k=5), lam=2)",
)
"""Parameterisations measured besides each registry entry's example."""


def default_specs(d=None):
    """Every registry example followed by :data:`EXTRA_SPECS`; with ``d``,
    only those that are valid at dimension d (K <= d)."""
    specs = [e.example for e in REGISTRY.values()] + list(EXTRA_SPECS)
    if d is None:
        return specs
    out = []
    for s in specs:
        try:
            parse(s).check_d(d)
        except ValueError:
            continue
        out.append(s)
    return out


def _fmt(v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, str):
        return "VIOLATED" if v == "violated" else v
    if isinstance(v, (bool, np.bool_)):
        return "ok" if v else "VIOLATED"
    v = float(v)
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
        return f"{v:.3e}"
    return f"{v:.4f}"


def _table(rows, cols, heads):
    cells = [[_fmt(r[c]) for c in cols] for r in rows]
    w = [max([len(h)] + [len(c[i]) for c in cells]) for i, h in enumerate(heads)]
    out = ["  ".join(h.ljust(w[i]) for i, h in enumerate(heads)),
           "  ".join("-" * w[i] for i in range(len(heads)))]
    prev = None
    for r, c in zip(rows, cells):
        if prev is not None and r.get("spec") != prev:
            out.append("")
        prev = r.get("spec")
        out.append("  ".join(c[i].ljust(w[i]) for i in range(len(heads))))
    return "\n".join(out)


def run(specs=None, d=100, trials=6000, seed=0, z=5.0):
    """Measure ``specs`` (default :func:`default_specs`); returns
    ``(per_input, checks)`` DataFrames from
    :func:`shiftbench.compressors.measure.measure_many`."""
    specs = default_specs(d) if specs is None else list(specs)
    return measure_many(specs, d, trials, seed, z)


def main(argv=None):
    """Entry point of ``python -m shiftbench verify-compressors``."""
    ap = argparse.ArgumentParser(
        prog="python -m shiftbench verify-compressors",
        description="Measure every compressor's constants by Monte Carlo and "
                    "compare them with the claimed ones (exit 1 on a violation).")
    ap.add_argument("--d", type=int, default=100, help="dimension (default 100)")
    ap.add_argument("--trials", type=int, default=6000,
                    help="Monte-Carlo trials per input for random compressors (default 6000)")
    ap.add_argument("--seed", type=int, default=0, help="seed of inputs and compressors (default 0)")
    ap.add_argument("--z", type=float, default=5.0,
                    help="one-sided tolerance in standard errors (default 5)")
    ap.add_argument("--spec", action="append", default=None,
                    help="measure this spec only (repeatable); default: every registry "
                         "example plus extra parameterisations")
    ap.add_argument("--json", action="store_true", help="print JSON instead of tables")
    try:
        a = ap.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    if a.d < 2 or a.trials < 2 or not a.z > 0:
        print("verify-compressors: need --d >= 2, --trials >= 2 and --z > 0", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    try:
        per_input, checks = run(a.spec, a.d, a.trials, a.seed, a.z)
    except ValueError as e:
        print(f"verify-compressors: {e}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - t0
    ok = bool(checks["ok"].all()) if len(checks) else True
    bad = checks[~checks["ok"].astype(bool)] if len(checks) else checks
    unsure = checks[checks["status"] == "inconclusive"] if len(checks) else checks
    skipped = ([] if a.spec else
               [s for s in default_specs() if s not in default_specs(a.d)])

    if a.json:
        doc = {"d": a.d, "trials": a.trials, "seed": a.seed, "z": a.z,
               "inputs": list(INPUT_KINDS), "ok": ok, "seconds": round(elapsed, 2),
               "skipped": skipped,
               "checks": json.loads(checks.to_json(orient="records")),
               "measurements": json.loads(per_input.to_json(orient="records"))}
        print(json.dumps(doc, indent=1))
        return 0 if ok else 1

    print(f"verify-compressors: d = {a.d}, {a.trials} trials per input (random "
          f"compressors; deterministic ones: 2), seed {a.seed}, inputs: "
          f"{', '.join(INPUT_KINDS)}")
    print(f"tolerance: {a.z:g} standard errors, one-sided, + 1e-9 relative; "
          f"'unbiased' compares chi = T||mean - x||^2 / mean||C - x||^2 with z^2")
    print("measured = worst over inputs (max omega, min delta/alpha/gamma, max beta/b3)\n")
    rows = checks.to_dict("records")
    print(_table(rows, ["spec", "kind", "constant", "claimed", "measured", "worst_input",
                        "excess", "tolerance", "status", "source"],
                 ["spec", "kind", "constant", "claimed", "measured", "worst input",
                  "excess", "tol", "status", "source"]))
    # specs with no claim at all still get their measured omega / delta
    unclaimed = sorted(set(per_input["spec"]) - set(checks["spec"] if len(checks) else []))
    if unclaimed:
        print("\nno claimed constants (measured only):")
        for s in unclaimed:
            m = per_input[per_input["spec"] == s]
            print(f"  {s}: max E||C-x||^2/||x||^2 = {_fmt(m['omega'].max())} "
                  f"({m.loc[m['omega'].idxmax(), 'input']}), max bias chi = "
                  f"{_fmt(m['bias_chi'].max())}")
    print("\nbits per message (mean over trials): full / values-only")
    brows = []
    for s, m in per_input.groupby("spec", sort=False):
        r = {"spec": s}
        for kind in ("gaussian", "sparse", "spike"):
            mm = m[m["input"] == kind]
            r[kind] = (f"{_fmt(mm['bits'].iloc[0])} / {_fmt(mm['values_bits'].iloc[0])}"
                       if len(mm) else "-")
        brows.append(r)
    print(_table(brows, ["spec", "gaussian", "sparse", "spike"],
                 ["spec", "gaussian", "sparse", "spike"]))
    n = len(checks)
    if skipped:
        print(f"\nskipped (K > d = {a.d}): {', '.join(skipped)}")
    print(f"\n{n - len(bad) - len(unsure)}/{n} claims hold within tolerance "
          f"({per_input['spec'].nunique()} compressors, {elapsed:.1f} s)")
    if len(unsure):
        print("INCONCLUSIVE (exceeded only where a random compressor's sample is "
              "degenerate or dominated by a rare event; run more --trials):")
        for r in unsure.to_dict("records"):
            print(f"  {r['spec']}: {r['constant']} on {r['worst_input']}")
    if not ok:
        print("VIOLATED:")
        for r in bad.to_dict("records"):
            print(f"  {r['spec']}: {r['constant']} claimed {_fmt(r['claimed'])}, measured "
                  f"{_fmt(r['measured'])} on {r['worst_input']} (excess {_fmt(r['excess'])} "
                  f"> tolerance {_fmt(r['tolerance'])})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
