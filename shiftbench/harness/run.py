"""Run a method on a problem: validation, theory defaults, the compiled
engine, and a tidy trace with provenance.

>>> import shiftbench as sb
>>> res = sb.run("diana", "ridge", compressor="rand-k(q=0.1)", iters=2000)   # doctest: +SKIP
>>> res.trace.tail()                                                       # doctest: +SKIP
"""
from __future__ import annotations

import platform
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np
import pandas as pd

from .._version import __version__
from .._clock import cycles_per_second
from ..backends import get_backend
from ..backends.cpu import RunInterrupted  # noqa: F401  (re-exported)
from ..methods import theory as T
from ..methods.loopdata import (COLUMNS, NCOL, STATUS_NAMES, STOP_METRICS, StopRule,
                                problem_data)
from ..problems.memory import check as check_memory
from ..methods.model import RUN_OPTIONS, get as get_method, validate, validate_run

Option_seed = [o for o in RUN_OPTIONS if o.name == "seed"][0]


def resolve_problem(problem):
    """A Problem object, or a problem spec string parsed by shiftbench.problems.make."""
    if isinstance(problem, str):
        from ..problems import make
        return make(problem)
    return problem


def run_options(P, opts, x0=None, runs=1):
    """Resolve the run options (validated by :data:`shiftbench.methods.model.RUN_OPTIONS`)."""
    iters, eps, stop, stride = opts["iters"], opts["eps"], opts["stop"], opts["stride"]
    if stop == "auto":
        stop = "rel_error" if P.x_star is not None else "grad_norm_sq"
    if stop in ("rel_error", "f_gap") and P.x_star is None:
        raise ValueError(f"stop = {stop!r} needs x*, which {P.name} does not provide; "
                         f"use grad_norm_sq")
    if stride is None:
        stride = max(1, -(-iters // 5000))
    rows = iters // stride + 2
    check_memory(8.0 * runs * rows * NCOL, f"traces of {runs} run(s) x {rows} rows",
                 "the run", hint="use fewer runs or iterations, or a larger stride")
    X0 = np.ascontiguousarray(P.x0 if x0 is None else x0, dtype=float)
    if X0.shape != (P.d,) or not np.all(np.isfinite(X0)):
        raise ValueError(f"x0 must be a finite vector of length d = {P.d}")
    budget = 0.0 if opts["bits_budget"] is None else float(opts["bits_budget"])
    rule = StopRule(int(iters), int(stride), float(eps), STOP_METRICS[stop], budget,
                    float(opts["explode"]))
    return rule, rows, X0, stop


@dataclass
class RunResult:
    """One run: its trace (DataFrame), status and summary."""
    method: str
    problem: str
    compressor: str
    seed: int
    status: str
    iterations: int
    trace: pd.DataFrame
    params: dict
    theory: Optional[T.Theory] = None

    def summary(self):
        last = self.trace.iloc[-1]
        wall = float(last["wall_s"])
        return {
            "method": self.method, "compressor": self.compressor, "problem": self.problem,
            "status": self.status, "iterations": int(self.iterations),
            "rel_error": float(last["rel_error"]), "f_gap": float(last["f_gap"]),
            "grad_norm_sq": float(last["grad_norm_sq"]),
            "bits_per_worker": float(last["bits_per_worker"]),
            "values_bits_per_worker": float(last["values_bits_per_worker"]),
            "downlink_bits_per_worker": float(last["downlink_bits_per_worker"]),
            "wall_s": wall,
            "us_per_iter": 1e6 * wall / max(int(self.iterations), 1),
            "seed": self.seed, "gamma": self.params.get("gamma"),
        }


@dataclass
class MonteCarloResult:
    """Independent runs of one configuration (one per seed)."""
    runs: list
    wall_s: float

    @property
    def trace(self):
        return pd.concat([r.trace for r in self.runs], ignore_index=True)

    def summary(self):
        s = pd.DataFrame([r.summary() for r in self.runs])
        return s

    def mean_trace(self, column="dist_sq"):
        """Mean of ``column`` over runs at each recorded iteration (runs that
        stopped early are carried at their last value)."""
        t = self.trace.pivot_table(index="iteration", columns="seed", values=column)
        return t.ffill().mean(axis=1)


def provenance(seed=None):
    import numba
    import scipy
    out = {"shiftbench": __version__, "numpy": np.__version__, "numba": numba.__version__,
           "scipy": scipy.__version__, "pandas": pd.__version__,
           "python": platform.python_version(), "machine": platform.machine(),
           "node": platform.node(), "processor": platform.processor(),
           "date": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    try:
        import subprocess
        out["git"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                    text=True, timeout=5,
                                    cwd=__file__.rsplit("/", 3)[0]).stdout.strip() or None
    except Exception:  # noqa: BLE001 - provenance is best effort
        out["git"] = None
    if seed is not None:
        out["seed"] = seed
    return out


def prepare(method, problem, compressor=None, shift_compressor=None, **options):
    """Validate and resolve one configuration without running it.

    Returns ``(method, problem, build, method_options, run_options)``.
    """
    m = get_method(method)
    P = resolve_problem(problem)
    run_keys = {o.name for o in RUN_OPTIONS}
    given = {"compressor": compressor, "shift_compressor": shift_compressor}
    given.update({k: v for k, v in options.items() if k not in run_keys})
    ropts = validate_run({k: v for k, v in options.items() if k in run_keys})
    mopts = validate(m, given)
    b = m.build(m, P, mopts)
    if ropts.get("wire"):
        from ..wire.loop import wire_build
        b = wire_build(b, m.loop)
        b.params["wire"] = True
    return m, P, b, mopts, ropts


def run(method, problem, compressor=None, shift_compressor=None, *, seeds=None, x0=None,
        record_x=False, device="cpu", progress=False, checkpoint=None, **options):
    """Run a method (compiled) and return its trace.

    Parameters
    ----------
    method : str
        A registered method (``python -m shiftbench methods``).
    problem : Problem or str
        A problem object or spec (e.g. ``"ridge"``).
    compressor, shift_compressor : str, Compressor or list
        The method's compressors (one for all workers or one per worker).
    **options
        The method's options (``gamma``, ``gamma_factor``, ``alpha``, ``M``,
        ``p``, ``zeta``, ``compressor2``, ...; a value ``"2x"`` is twice the
        theory's) and the run options: ``iters`` (default 100000), ``eps``
        (1e-10, on the ``stop`` metric: ``rel_error`` =
        ||x^k - x*||^2/||x^0 - x*||^2 when x* is known, else
        ``grad_norm_sq``), ``bits_budget``, ``stride``, ``seed``.  An option
        the method does not take is an error.
    seeds : sequence of int, optional
        Independent Monte-Carlo runs, in parallel.
    device : str
        The execution backend (:mod:`shiftbench.backends`), ``"cpu"``.
    progress : bool
        Report progress on stderr (a bar on a terminal, else a line every
        few seconds; :mod:`shiftbench.progress`).
    checkpoint : str, optional
        ``device="mpi"``: trace rows are appended to ``CHECKPOINT.partial.csv``
        as they are recorded (kept when a worker fails; removed at the end).

    Returns
    -------
    RunResult or MonteCarloResult

    Raises
    ------
    RunInterrupted
        On Ctrl-C (a ``KeyboardInterrupt``); ``.result`` holds the partial
        result, whose status is ``interrupted``.
    """
    m, P, b, mopts, ropts = prepare(method, problem, compressor, shift_compressor, **options)
    runs = 1 if seeds is None else len(list(seeds))
    rule, rows, X0, stop = run_options(P, ropts, x0, runs)
    backend = get_backend(device)
    pd = problem_data(P, X0, sparse=getattr(backend, "sparse_rows", True))
    if checkpoint is not None and hasattr(backend, "checkpoint"):
        backend.checkpoint = checkpoint
    single = seeds is None
    S = [ropts["seed"]] if single else [Option_seed.validate(s) for s in seeds]
    if not S:
        raise ValueError("seeds is empty; give at least one seed")
    bar = None
    if progress:
        from ..progress import Progress
        bar = Progress(rule.max_iter * len(S), f"{m.name} ({len(S)} run{'s' * (len(S) > 1)}, "
                                               f"iterations)")
    try:
        out, wall, intr = backend.run(m, b, pd, rule, rows, S, single, record_x, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    hz = cycles_per_second()
    results = []
    for s, o in zip(S, out):
        st, it, tr, xr = o[:4]
        res = _result(m, P, b.params, b.theory, s, st, it, tr, hz, wall if single else None)
        if len(o) > 4:                      # backend's own measured columns (mpi)
            for k, col in o[4].items():
                res.trace[k] = col
        if xr is not None:
            res.x = xr
            res.trace.attrs["x"] = xr.tolist()
        results.append(res)
    final = results[0] if single else MonteCarloResult(results, wall)
    if intr:
        raise RunInterrupted(final)
    return final


def _result(m, P, params, th, seed, st, it, tr, hz, wall):
    df = pd.DataFrame(tr, columns=COLUMNS)
    df["iteration"] = df["iteration"].astype(np.int64)
    if P.f_star is None:
        df["f_gap"] = np.nan          # f* unknown (e.g. nonconvex): no gap to report
    if hz:
        df["wall_s"] = df["cycles"] / hz
    elif wall is not None and len(df):
        df["wall_s"] = wall * df["iteration"] / max(int(df["iteration"].iloc[-1]), 1)
    else:
        df["wall_s"] = np.nan
    df = df.drop(columns=["cycles"])
    df.insert(0, "seed", int(seed))
    df.insert(0, "method", m.name)
    df.attrs.update(params)
    df.attrs["status"] = STATUS_NAMES[int(st)]
    df.attrs["provenance"] = provenance(int(seed))
    if th is not None:
        df.attrs["theory"] = th.as_dict()
    return RunResult(m.name, P.name, params["compressor"], int(seed),
                     STATUS_NAMES[int(st)], int(it), df, params, th)
