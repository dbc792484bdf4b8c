"""``python -m shiftbench problems``: list the problems, or build some.

Usage::

    python -m shiftbench problems [--json]
    python -m shiftbench problems [--json] SPEC [SPEC ...]

Without specs: every registered problem with its syntax, an example spec,
a summary and its parameters (type, default, meaning).  ``--json`` prints a
JSON list of objects with the keys ``name``, ``syntax``, ``example``,
``summary``, ``aliases``, ``source``, ``needs`` and ``params``.

With specs: build each problem and print its constants (n, d, L, L_max, mu,
kappa, L_plus, f*, ||x*||); ``--json`` prints them as a JSON list.
"""
from __future__ import annotations

import argparse
import json
import math
import sys

import numpy as np

from .registry import list_problems, make


def _fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float):
        return "inf" if math.isinf(v) else f"{v:.6g}"
    return str(v)


def describe(p):
    """Constants of a built problem, JSON-ready."""
    out = p.summary()
    out.update({"L_plus": p.L_plus, "f_star": p.f_star,
                "x_star_norm": None if p.x_star is None else float(np.linalg.norm(p.x_star)),
                "grad_star_rms": None if p.grad_star is None else
                float(np.sqrt(np.mean(np.sum(p.grad_star ** 2, axis=1)))),
                "L_i_min": float(np.min(p.L_i))})
    out["kappa"] = None if math.isinf(out["kappa"]) else out["kappa"]
    return out


def main(argv=None):
    """Entry point of ``python -m shiftbench problems``; returns an exit code."""
    ap = argparse.ArgumentParser(
        prog="python -m shiftbench problems",
        description="List the problems and their parameters, or build the given specs "
                    "and print their constants.")
    ap.add_argument("specs", nargs="*", help="problem specs to build, e.g. 'ridge(seed=3)'")
    ap.add_argument("--json", action="store_true", help="print JSON")
    try:
        a = ap.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    if a.specs:
        rows = []
        for s in a.specs:
            try:
                rows.append(describe(make(s)))
            except (ValueError, ImportError, OSError) as e:
                print(f"problems: {e}", file=sys.stderr)
                return 2
        if a.json:
            print(json.dumps(rows, indent=1))
            return 0
        for r in rows:
            print(r["problem"] + f"  [{r['kind']}]")
            for k in ("n", "d", "L", "L_max", "L_i_min", "mu", "kappa", "L_plus", "lam",
                      "f_star", "x_star_norm", "grad_star_rms"):
                print(f"    {k:14s} {_fmt(r[k])}")
        return 0
    rs = list_problems()
    if a.json:
        print(json.dumps(rs, indent=1))
        return 0
    print(f"{len(rs)} problems; build one with shiftbench.problems.make(spec) or "
          f"'python -m shiftbench problems SPEC'\n")
    for r in rs:
        extra = f"; needs shiftbench[{r['needs']}]" if r["needs"] else ""
        print(f"{r['name']}  [{r['source']}{extra}]")
        print(f"    syntax   {r['syntax']}")
        print(f"    example  {r['example']}")
        print(f"    what     {r['summary']}")
        if r["aliases"]:
            print(f"    aliases  {', '.join(r['aliases'])}")
        for k, p in r["params"].items():
            rng = f"; range {p['range']}" if p["type"] in ("int", "float") else ""
            print(f"      {k:11s} {p['type']:6s} default {_fmt(p['default']):8s} {p['help']}{rng}")
        print()
    return 0
