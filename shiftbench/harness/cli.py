"""``python -m shiftbench methods | run | sweep``."""
from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import math
import os
import sys

import numpy as np
import pandas as pd

from ..methods import METHODS
from . import io


class OneLineParser(argparse.ArgumentParser):
    """argparse whose errors are one line: what is wrong and what is allowed."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _floats(s, what):
    try:
        vals = [float(v) for v in str(s).split(",")]
    except ValueError:
        raise ValueError(f"{what} must be a number or a comma list of numbers, got {s!r}") from None
    return vals[0] if len(vals) == 1 else vals


def methods_main(argv):
    ap = OneLineParser(prog="python -m shiftbench methods",
                       description="List the methods, their parameters and their theorem.")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    rows = [{"name": m.name, "family": m.family, "summary": m.summary, "theorem": m.theorem,
             "params": m.params, "default_compressor": m.default_compressor}
            for m in METHODS.values()]
    if a.json:
        print(json.dumps(rows))
        return 0
    for r in rows:
        print(f"{r['name']:12s} {r['summary']}")
        print(f"{'':12s} theory: {r['theorem']}")
        for k, v in r["params"].items():
            print(f"{'':12s}   --{k.replace('_', '-'):18s} {v}")
    return 0


def _add_run_args(ap):
    ap.add_argument("--problem", default="ridge",
                    help="problem spec, e.g. ridge, 'quadratic(kappa=100)', logreg-nc")
    ap.add_argument("--data", default=None, help="LIBSVM file for logreg / logreg-nc")
    ap.add_argument("--compressor", default=None, help="Q_i spec (';'-separated per worker)")
    ap.add_argument("--shift-compressor", default=None, help="C_i spec (dcgd-star, diana)")
    ap.add_argument("--compressor2", default=None, help="second compressor (3PC mechanisms)")
    ap.add_argument("--gamma", default=None, help="step size (default: the theorem's)")
    ap.add_argument("--gamma-factor", type=float, default=None,
                    help="multiply the theoretical step size by this factor")
    ap.add_argument("--alpha", default=None)
    ap.add_argument("--eta", default=None)
    ap.add_argument("--p", default=None, help="probability (one, or a comma list per worker)")
    ap.add_argument("--M", default=None, help="Lyapunov constant M (diana, rand-diana)")
    ap.add_argument("--zeta", default=None, help="trigger zeta (lag, clag)")
    ap.add_argument("--shift", default="zero", help="dcgd-fixed shifts: zero | star")
    ap.add_argument("--iters", type=int, default=10000)
    ap.add_argument("--eps", type=float, default=1e-10)
    ap.add_argument("--stop", default="auto", help="rel_error | grad_norm_sq | f_gap")
    ap.add_argument("--bits-budget", type=float, default=None)
    ap.add_argument("--stride", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)


def _problem_spec(a):
    spec = a.problem
    if a.data:
        if "(" in spec:
            spec = spec.rstrip()[:-1] + f", data={a.data})"
        else:
            spec = f"{spec}(data={a.data})"
    return spec


def _kwargs(a):
    kw = {}
    if a.gamma is not None:
        kw["gamma"] = _floats(a.gamma, "--gamma")
    for name in ("alpha", "eta", "M", "zeta"):
        v = getattr(a, name)
        if v is not None:
            kw[name] = _floats(v, f"--{name}")
    if a.p is not None:
        kw["p"] = _floats(a.p, "--p")
    if a.compressor2 is not None:
        kw["compressor2"] = a.compressor2
    if a.gamma_factor is not None:
        kw["gamma_factor"] = a.gamma_factor
    return kw


def _run(method, problem, a, seed, seeds=None):
    from .run import run
    kw = _kwargs(a)
    gf = kw.pop("gamma_factor", None)
    if gf is not None:
        if not (gf > 0 and math.isfinite(gf)):
            raise ValueError(f"--gamma-factor must be a finite number > 0, got {gf}")
        if "gamma" in kw:
            raise ValueError("give --gamma or --gamma-factor, not both")
        from .run import setup
        info = METHODS[method]
        if info.family == "shift":
            _, _, params, _, _ = setup(method, problem, a.compressor, a.shift_compressor,
                                       None, kw.get("alpha"), kw.get("eta"), kw.get("p"),
                                       kw.get("M"), a.shift)
            kw["gamma"] = params["gamma"] * gf
        else:
            kw["gamma_factor"] = gf
    extra = {}
    if METHODS[method].family == "shift":
        extra["shift"] = a.shift
        kw.pop("zeta", None)
        kw.pop("compressor2", None)
    return run(method, problem, a.compressor, a.shift_compressor, iters=a.iters, eps=a.eps,
               stop=a.stop, bits_budget=a.bits_budget, stride=a.stride, seed=seed,
               seeds=seeds, **kw, **extra)


def run_main(argv):
    ap = OneLineParser(prog="python -m shiftbench run",
                       description="Run one experiment; print a summary, write its trace.")
    ap.add_argument("--method", required=True, help="one of: " + ", ".join(METHODS))
    _add_run_args(ap)
    ap.add_argument("--runs", type=int, default=1, help="Monte-Carlo runs (seeds seed..seed+runs-1)")
    ap.add_argument("--out", default=None, help="trace CSV (written atomically)")
    ap.add_argument("--json", action="store_true", help="print a one-line JSON summary")
    a = ap.parse_args(argv)
    try:
        from ..methods import get
        method = get(a.method).name
        problem = _problem_spec(a)
        from .run import resolve_problem
        P = resolve_problem(problem)
        if a.runs < 1:
            raise ValueError(f"--runs must be >= 1, got {a.runs}")
        if a.runs == 1:
            res = _run(method, P, a, a.seed)
            summary = res.summary()
            trace = res.trace
        else:
            mc = _run(method, P, a, a.seed, seeds=range(a.seed, a.seed + a.runs))
            s = mc.summary()
            summary = {k: (float(s[k].median()) if pd.api.types.is_numeric_dtype(s[k])
                           and k != "seed" else s[k].iloc[0]) for k in s.columns}
            summary.update({"runs": a.runs, "status": s["status"].value_counts().to_dict(),
                            "wall_s": mc.wall_s,
                            "runs_per_s": a.runs / mc.wall_s if mc.wall_s > 0 else None})
            trace = mc.trace
            trace.attrs.update(mc.runs[0].trace.attrs)
    except (ValueError, FileNotFoundError, ImportError) as e:
        print(f"python -m shiftbench run: error: {e}", file=sys.stderr)
        return 2
    if a.out:
        io.write_trace(trace, a.out)
    if a.json:
        print(json.dumps({k: _py(v) for k, v in summary.items()}, allow_nan=False))
    else:
        for k, v in summary.items():
            print(f"{k:26s} {_fmt(v)}")
        if a.out:
            print(f"{'trace':26s} {a.out}")
    return 0


def _py(v):
    """JSON-safe scalars: numpy types to Python, NaN/inf to null (strict JSON)."""
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        v = float(v)
        return v if math.isfinite(v) else None
    return v


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _parse_seeds(s):
    out = []
    for part in str(s).split(","):
        if "-" in part:
            lo, hi = part.split("-")
            out += list(range(int(lo), int(hi) + 1))
        else:
            out.append(int(part))
    return out


_OPTIONAL = ("compressor", "shift_compressor", "compressor2", "alpha", "eta", "p", "M", "zeta")


def _for_method(a, method, compressor):
    """The sweep's options restricted to those ``method`` takes (a grid over
    several methods shares one command line; e.g. --zeta only reaches lag and
    clag, and lag, which sends no compressed message, gets no compressor)."""
    import copy
    am = copy.copy(a)
    am.compressor = compressor
    takes = set(METHODS[method].params)
    for name in _OPTIONAL:
        if name not in takes and not (name == "compressor" and method == "dgd"):
            setattr(am, name, None)
    return am


def sweep_main(argv):
    ap = OneLineParser(prog="python -m shiftbench sweep",
                       description="Run a grid (methods x compressors x seeds); one summary "
                                   "row per run appended atomically to --out; re-running "
                                   "skips completed runs, so an interrupted sweep resumes.")
    ap.add_argument("--methods", required=True, help="comma list of methods")
    ap.add_argument("--compressors", default=None, help="'|'-separated compressor specs")
    ap.add_argument("--seeds", default="0", help="e.g. 0-9 or 0,3,7")
    ap.add_argument("--out", required=True, help="summary CSV")
    ap.add_argument("--traces", default=None, help="folder for one trace CSV per run")
    _add_run_args(ap)
    a = ap.parse_args(argv)
    try:
        from ..methods import get
        methods = [get(m).name for m in a.methods.split(",") if m.strip()]
        comps = [c.strip() for c in a.compressors.split("|")] if a.compressors else [None]
        seeds = _parse_seeds(a.seeds)
        from .run import resolve_problem
        problem = _problem_spec(a)
        P = resolve_problem(problem)
    except (ValueError, FileNotFoundError, ImportError) as e:
        print(f"python -m shiftbench sweep: error: {e}", file=sys.stderr)
        return 2
    done = set()
    rows = []
    if os.path.exists(a.out):
        prev = pd.read_csv(a.out)
        rows = prev.to_dict("records")
        done = set(prev["key"])
    grid = []
    for m, c, s in itertools.product(methods, comps, seeds):
        c_eff = c if ("compressor" in METHODS[m].params or m == "dgd") else None
        if (m, c_eff, s) not in grid:          # lag etc. take no compressor: run once
            grid.append((m, c_eff, s))
    n_fail = 0
    for k, (m, c, s) in enumerate(grid):
        key = hashlib.sha1(json.dumps([m, c, a.shift_compressor, problem, s, a.gamma,
                                       a.gamma_factor, a.alpha, a.eta, a.p, a.M, a.iters,
                                       a.eps, a.bits_budget]).encode()).hexdigest()[:16]
        if key in done:
            continue
        am = _for_method(a, m, c)
        try:
            res = _run(m, P, am, s)
        except ValueError as e:
            print(f"[{k + 1}/{len(grid)}] {m} {c} seed={s}: error: {e}", file=sys.stderr)
            n_fail += 1
            continue
        summ = res.summary()
        summ["key"] = key
        if a.traces:
            tpath = os.path.join(a.traces, f"{key}.csv")
            io.write_trace(res.trace, tpath)
            summ["trace"] = tpath
        rows.append(summ)
        io.write_table(pd.DataFrame(rows), a.out)
        print(f"[{k + 1}/{len(grid)}] {m} {summ['compressor']} seed={s}: {summ['status']} "
              f"it={summ['iterations']} rel_err={summ['rel_error']:.3g} "
              f"bits/worker={summ['bits_per_worker']:.4g}", file=sys.stderr)
    return 1 if n_fail else 0
