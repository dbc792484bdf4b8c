"""``python -m shiftbench compressors``: list every compressor.

For each registry entry: its spec syntax, an example spec, its class
(``unbiased`` U(omega), ``contractive`` B(delta), or ``biased``), the claimed
constants at a reference dimension (omega, delta; B1/B2/B3 of Beznosikov et al.) with
their source (``seed``, ``derived`` or ``reconstructed``) and its bit cost
(values, indices, norms: see the README's "Bits").

Usage::

    python -m shiftbench compressors [--d D] [--json]

``--json`` prints a JSON list of objects with (at least) the keys ``name``,
``example`` (a valid spec), ``kind``, ``omega`` and ``delta`` (null where they
do not apply), ``b1``, ``b2``, ``b3``, ``syntax``, ``bit_cost``, ``source``
and ``aliases``.
"""
from __future__ import annotations

import argparse
import json
import math
import sys

from .registry import list_compressors, parse


def rows(d=None):
    """The rows of :func:`shiftbench.compressors.registry.list_compressors`,
    with the claims recomputed at dimension ``d`` when given."""
    out = list_compressors()
    if d is not None:
        for r in out:
            c = parse(r["example"]).claims(int(d))
            r.update(kind=c.kind, omega=c.omega, delta=c.delta,
                     b1=list(c.b1) if c.b1 else None,
                     b2=list(c.b2) if c.b2 else None, b3=c.b3,
                     claims_at_d=int(d), source=c.source)
    return out


def _num(v):
    if v is None:
        return "-"
    if isinstance(v, (list, tuple)):
        return "(" + ", ".join(_num(u) for u in v) + ")"
    if math.isinf(v):
        return "inf"
    return f"{v:.4g}"


def main(argv=None):
    """Entry point of ``python -m shiftbench compressors``."""
    ap = argparse.ArgumentParser(
        prog="python -m shiftbench compressors",
        description="List every compressor: spec syntax, class, claimed constants, bit cost.")
    ap.add_argument("--d", type=int, default=None,
                    help="dimension for d-dependent constants (default 1000)")
    ap.add_argument("--json", action="store_true", help="print a JSON list")
    try:
        a = ap.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    if a.d is not None and a.d < 1:
        print("compressors: --d must be an integer >= 1", file=sys.stderr)
        return 2
    rs = rows(a.d)
    if a.json:
        print(json.dumps(rs, indent=1))
        return 0
    d = rs[0]["claims_at_d"] if rs else a.d
    print(f"{len(rs)} compressors; constants at d = {d} (those marked * depend on d); "
          f"class: unbiased U(omega), contractive B(delta), biased")
    print("B1(alpha, beta), B2(gamma, beta), B3(delta) as in Beznosikov et al., "
          "On biased compression for distributed learning (Definitions 2-4)\n")
    for r in rs:
        star = "*" if r["depends_on_d"] else ""
        print(f"{r['name']}  [{r['kind']}; {r['source']}]")
        print(f"    syntax   {r['syntax']}")
        print(f"    example  {r['example']}")
        print(f"    what     {r['summary']}")
        print(f"    claims{star:1s}  omega={_num(r['omega'])}  delta={_num(r['delta'])}  "
              f"B1={_num(r['b1'])}  B2={_num(r['b2'])}  B3={_num(r['b3'])}")
        for i, prm in enumerate(r["params"]):
            print(f"    {'params' if i == 0 else '':8s} {prm}")
        print(f"    bits     {r['bit_cost']}")
        if r["aliases"]:
            print(f"    aliases  {', '.join(r['aliases'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
