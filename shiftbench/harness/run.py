"""Run a method on a problem: validation, theory defaults, the compiled
engine, and a tidy trace with provenance.

>>> import shiftbench as sb
>>> res = sb.run("diana", "ridge", compressor="rand-k(q=0.1)", iters=2000)   # doctest: +SKIP
>>> res.trace.tail()                                                       # doctest: +SKIP
"""
from __future__ import annotations

import math
import platform
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np
import pandas as pd

from .. import __version__
from .._clock import cycles_per_second
from ..compressors import Compressor, as_compressor, pack_programs, empty_programs  # noqa: F401
from ..methods import engine as E
from ..methods import registry as R
from ..methods import theory as T

STOP_METRICS = {"rel_error": E.STOP_REL_ERR, "grad_norm_sq": E.STOP_GRAD, "f_gap": E.STOP_FGAP}


def resolve_problem(problem):
    """A Problem object, or a problem spec string parsed by shiftbench.problems.make."""
    if isinstance(problem, str):
        from ..problems import make
        return make(problem)
    return problem


def _per_worker(spec, n, what):
    """One compressor for all workers, or a list (or ';'-separated string) of n."""
    if spec is None:
        return None
    if isinstance(spec, Compressor):
        return [as_compressor(spec, what)] * n
    if isinstance(spec, str):
        parts = [s.strip() for s in spec.split(";") if s.strip()]
        expanded = []
        for s in parts:
            # "spec*3" repeats a spec for 3 workers
            if "*" in s and s.rsplit("*", 1)[1].strip().isdigit():
                s0, cnt = s.rsplit("*", 1)
                expanded += [s0.strip()] * int(cnt)
            else:
                expanded.append(s)
        spec = expanded
    if callable(spec) or not hasattr(spec, "__iter__"):
        as_compressor(spec, what)            # a one-line error naming the right way
    spec = list(spec)
    if len(spec) == 1:
        spec = spec * n
    if len(spec) != n:
        raise ValueError(f"{what}: got {len(spec)} compressors for n = {n} workers; "
                         f"give one spec or exactly n (';'-separated, 'spec*count' repeats)")
    cache = {}
    out = []
    for s in spec:
        if isinstance(s, Compressor) or not isinstance(s, str):
            out.append(as_compressor(s, what))
        else:
            if s not in cache:
                cache[s] = Compressor(s)
            out.append(cache[s])
    return out


def _positive(name, v, upper=None):
    if v is None:
        return None
    v = float(v)
    if not (v > 0 and math.isfinite(v)) or (upper is not None and v > upper):
        rng = f"0 < {name} <= {upper:g}" if upper is not None else f"{name} > 0"
        raise ValueError(f"{name} = {v:g} is not allowed; need a finite {rng}")
    return v


def run_options(P, iters, eps, stop, stride, bits_budget, x0):
    """Validate the options every method loop shares; returns them resolved.

    One-line ``ValueError`` for a bad value, naming what is allowed.
    """
    iters = int(iters)
    if iters < 0:
        raise ValueError(f"iters = {iters} is not allowed; need iters >= 0")
    eps = float(eps)
    if not eps >= 0:
        raise ValueError(f"eps = {eps} is not allowed; need eps >= 0")
    if stop == "auto":
        stop = "rel_error" if P.x_star is not None else "grad_norm_sq"
    if stop not in STOP_METRICS:
        raise ValueError(f"stop = {stop!r} is not allowed; allowed: {', '.join(STOP_METRICS)}")
    if stop in ("rel_error", "f_gap") and P.x_star is None:
        raise ValueError(f"stop = {stop!r} needs x*, which {P.name} does not provide; "
                         f"use grad_norm_sq")
    if stride is None:
        stride = max(1, -(-iters // 5000))
    stride = int(stride)
    if stride < 1:
        raise ValueError(f"stride = {stride} is not allowed; need stride >= 1")
    budget = 0.0 if bits_budget is None else _positive("bits_budget", bits_budget)
    X0 = np.ascontiguousarray(P.x0 if x0 is None else x0, dtype=float)
    if X0.shape != (P.d,) or not np.all(np.isfinite(X0)):
        raise ValueError(f"x0 must be a finite vector of length d = {P.d}")
    has_star = P.x_star is not None
    return {"iters": iters, "eps": eps, "stop": stop, "stop_code": STOP_METRICS[stop],
            "stride": stride, "budget": budget, "x0": X0, "has_star": has_star,
            "x_star": P.x_star if has_star else np.zeros(P.d),
            "f_star": float(P.f_star) if P.f_star is not None else 0.0,
            "rows": iters // stride + 2}


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


def setup(method, problem, compressor=None, shift_compressor=None, gamma=None,
          alpha=None, eta=None, p=None, M=None, shift="zero", h0=None):
    """Resolve a configuration: compressors, theory defaults, engine arguments."""
    info = R.get(method)
    if info.family != "shift":
        raise ValueError(f"method {info.name!r} is not an Algorithm 1 instance")
    P = resolve_problem(problem)
    n, d = P.n, P.d
    if info.name == "dgd":
        if compressor not in (None, "identity"):
            raise ValueError("dgd is uncompressed: it takes no --compressor (use dcgd)")
        compressor = "identity"
    Q = _per_worker(compressor or info.default_compressor, n, "compressor")
    C = _per_worker(shift_compressor, n, "shift compressor")
    if C is not None and not info.uses_shift_compressor:
        raise ValueError(f"method {info.name!r} takes no shift compressor; "
                         f"only dcgd-star and diana do")
    gamma = _positive("gamma", gamma)
    alpha = _positive("alpha", alpha, 1.0)
    eta = _positive("eta", eta, 1.0)
    M = _positive("M", M)
    if p is not None:
        p = np.broadcast_to(np.asarray(p, dtype=float), (n,)).copy()
        if np.any(~(p > 0)) or np.any(p > 1):
            raise ValueError(f"p must satisfy 0 < p <= 1 for every worker, got {p}")
    for c in Q:
        c.node.check_d(d)
    omega = np.array([c.claims(d).omega if c.claims(d).omega is not None else np.nan for c in Q])
    delta = np.zeros(n)
    if C is not None:
        for c in C:
            c.node.check_d(d)
        delta = np.array([c.claims(d).delta if c.claims(d).delta is not None else np.nan
                          for c in C])
    need_theory = (gamma is None or (info.mode in (E.DIANA, E.VRGDCI) and alpha is None)
                   or (info.mode in (E.GDCI, E.VRGDCI) and eta is None)
                   or (info.mode == E.RAND and p is None))
    th = None
    if P.mu > 0 and not np.any(np.isnan(omega)) and not np.any(np.isnan(delta)):
        gs = P.grad_star if P.grad_star is not None else np.zeros((n, d))
        if info.mode in (E.DCGD, E.FIXED):
            if info.name == "dgd":
                th = T.gd(P.L, P.mu, gamma=gamma)
            else:
                hd = None
                if P.grad_star is not None:
                    hcur = gs if (info.mode == E.FIXED and shift == "star") else np.zeros((n, d))
                    hd = np.sum((gs - hcur) ** 2, axis=1)
                th = T.dcgd_fixed(P.L, P.L_i, P.mu, n, omega, hd, method=info.name, gamma=gamma)
        elif info.mode == E.STAR:
            th = T.dcgd_star(P.L, P.L_i, P.mu, n, omega, delta, gamma=gamma)
        elif info.mode == E.DIANA:
            th = T.diana(P.L, P.L_i, P.mu, n, omega, delta, alpha=alpha, M=M, gamma=gamma)
        elif info.mode == E.RAND:
            th = T.rand_diana(P.L, P.L_i, P.mu, n, omega, p=p, M=M, gamma=gamma)
        elif info.mode == E.GDCI:
            th = T.gdci(P.L, P.L_i, P.mu, n, omega, eta=eta, gamma=gamma)
            if P.x_star is not None:
                th.neighbourhood = th.eta * (2 * np.max(omega) / n) * float(
                    np.mean(np.sum((P.x_star[None, :] - th.gamma * gs) ** 2, axis=1)))
        elif info.mode == E.VRGDCI:
            th = T.vr_gdci(P.L, P.L_i, P.mu, n, omega, alpha=alpha, eta=eta, gamma=gamma)
    elif need_theory:
        why = ("the problem is not strongly convex (mu = 0)" if P.mu <= 0 else
               "a compressor has no claimed omega/delta")
        raise ValueError(f"{info.name}: no theoretical step size because {why}; "
                         f"pass gamma (and alpha/eta/p where the method uses them)")
    g = gamma if gamma is not None else th.gamma
    a = alpha if alpha is not None else (th.alpha if th is not None and th.alpha else 1.0)
    et = eta if eta is not None else (th.eta if th is not None and th.eta else 1.0)
    pp = p if p is not None else (th.p if th is not None and th.p is not None else np.ones(n))
    # shifts
    if h0 is not None:
        H0 = np.ascontiguousarray(np.broadcast_to(np.asarray(h0, float), (n, d))).copy()
    elif info.mode == E.STAR or (info.mode == E.FIXED and shift == "star"):
        if P.grad_star is None:
            raise ValueError(f"{info.name} with optimal shifts needs grad f_i(x*), which "
                             f"problem {P.name} does not provide")
        H0 = P.grad_star.copy()
    elif info.mode == E.FIXED and shift not in ("zero", "star"):
        raise ValueError(f"shift = {shift!r} is not allowed; allowed: zero, star")
    else:
        H0 = np.zeros((n, d))
    q_prog, nreg = pack_programs(Q, d)
    if C is not None:
        c_prog, nreg2 = pack_programs(C, d)
        nreg = max(nreg, nreg2)
    else:
        c_prog = empty_programs(n)
    lw = (th.lyapunov_weights if th is not None and th.lyapunov_weights is not None
          else np.ones(n))
    qspec = Q[0].spec if len({c.spec for c in Q}) == 1 else ";".join(c.spec for c in Q)
    cspec = None if C is None else (C[0].spec if len({c.spec for c in C}) == 1
                                    else ";".join(c.spec for c in C))
    vbits = max(c.value_bits for c in Q)
    params = {"method": info.name, "problem": P.name, "compressor": qspec,
              "shift_compressor": cspec, "gamma": float(g), "alpha": float(a),
              "eta": float(et), "p": [float(v) for v in pp], "M": th.M if th else M,
              "omega": omega.tolist(), "delta": delta.tolist(), "n": n, "d": d,
              "shift": shift if info.mode == E.FIXED else None,
              "theorem": info.theorem}
    args = dict(mode=info.mode, P=P, H0=H0, q=q_prog, c=c_prog,
                has_c=C is not None, gamma=float(g), alpha=float(a), eta=float(et),
                p=np.ascontiguousarray(pp, dtype=float), lyap_w=np.asarray(lw, float),
                nreg=nreg, value_bits=vbits)
    return info, P, params, th, args


def run(method, problem, compressor=None, shift_compressor=None, *, gamma=None,
        alpha=None, eta=None, p=None, M=None, shift="zero", h0=None, x0=None,
        iters=1000, eps=1e-10, stop="auto", bits_budget=None, stride=None,
        explode=1e12, seed=0, seeds=None, **method_options):
    """Run a method (compiled) and return its trace.

    Algorithm 1 methods run on :mod:`shiftbench.methods.engine`; methods of
    other families (registered with a ``runner``) receive the same arguments
    plus ``method_options`` (e.g. ``zeta``, ``compressor2``, ``gamma_factor``).

    Parameters
    ----------
    method : str
        ``dcgd``, ``dcgd-fixed``, ``dgd``, ``dcgd-star``, ``diana``,
        ``rand-diana``, ``gdci`` or ``vr-gdci``.
    problem : Problem or str
        A problem object or spec (e.g. ``"ridge"``).
    compressor, shift_compressor : str, Compressor or list
        Q_i and C_i; one for all workers or one per worker.
    gamma, alpha, eta, p, M : float, optional
        Override the theorem's values (see :mod:`shiftbench.methods.theory`).
    iters : int
        Maximum iterations.
    eps : float
        Target accuracy on the ``stop`` metric (``rel_error`` =
        ||x^k - x*||^2/||x^0 - x*||^2 by default when x* is known, else
        ``grad_norm_sq``).
    bits_budget : float, optional
        Stop once the mean uplink bits per worker reach this.
    stride : int, optional
        Record every ``stride`` iterations (default: about 5000 rows at most).
    seed, seeds : int or sequence of int
        One run, or independent Monte-Carlo runs in parallel.

    Returns
    -------
    RunResult or MonteCarloResult
    """
    info0 = R.get(method)
    if info0.family != "shift":
        import importlib
        mod, fn = info0.runner.split(":")
        return getattr(importlib.import_module(mod), fn)(
            info0.name, problem, compressor, shift_compressor, gamma=gamma, alpha=alpha,
            eta=eta, p=p, M=M, x0=x0, iters=iters, eps=eps, stop=stop,
            bits_budget=bits_budget, stride=stride, explode=explode, seed=seed, seeds=seeds,
            **method_options)
    if method_options:
        raise ValueError(f"{info0.name} does not take {', '.join(sorted(method_options))}; "
                         f"allowed: {', '.join(sorted(info0.params))}")
    info, P, params, th, a = setup(method, problem, compressor, shift_compressor, gamma,
                                   alpha, eta, p, M, shift, h0)
    o = run_options(P, iters, eps, stop, stride, bits_budget, x0)
    iters, stride, budget, X0 = o["iters"], o["stride"], o["budget"], o["x0"]
    has_star, xs, fs, rows, eps = o["has_star"], o["x_star"], o["f_star"], o["rows"], o["eps"]
    stop = o["stop"]
    gs = P.grad_star if P.grad_star is not None else np.zeros((P.n, P.d))
    kind, A, b, off, sc, lam = P.args()
    common = (a["mode"], kind, A, b, off, sc, lam, X0, xs, gs, a["H0"], fs, has_star,
              a["q"], a["c"], a["has_c"], a["gamma"], a["alpha"], a["eta"], a["p"],
              a["lyap_w"], iters, stride, eps, STOP_METRICS[stop], budget, float(explode),
              a["value_bits"])
    hz = cycles_per_second()
    if seeds is None:
        trace = np.full((rows, E.NCOL), np.nan)
        t0 = time.perf_counter()
        st, it, nr = E.run_one(*common, np.uint64(seed), a["nreg"], trace)
        wall = time.perf_counter() - t0
        return _result(info, P, params, th, seed, st, it, trace[:nr], hz, wall)
    return monte_carlo(E.run_many, common, a["nreg"], seeds, rows, info, P, params, th, hz)


def monte_carlo(run_many, common, nreg, seeds, rows, info, P, params, th, hz):
    """Run ``run_many(*common, seeds, nreg, traces, status, iters, rows)`` (a
    compiled prange loop) and wrap each seed's trace as a RunResult."""
    seeds = np.asarray(list(seeds), dtype=np.uint64)
    traces = np.full((seeds.size, rows, E.NCOL), np.nan)
    status = np.zeros(seeds.size, np.int64)
    its = np.zeros(seeds.size, np.int64)
    nrs = np.zeros(seeds.size, np.int64)
    t0 = time.perf_counter()
    run_many(*common, seeds, nreg, traces, status, its, nrs)
    wall = time.perf_counter() - t0
    runs = [_result(info, P, params, th, int(s), status[r], its[r], traces[r, :nrs[r]], hz, None)
            for r, s in enumerate(seeds)]
    return MonteCarloResult(runs, wall)


def _result(info, P, params, th, seed, st, it, tr, hz, wall):
    df = pd.DataFrame(tr, columns=E.COLUMNS)
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
    df.insert(0, "method", info.name)
    df.attrs.update(params)
    df.attrs["status"] = E.STATUS_NAMES[int(st)]
    df.attrs["provenance"] = provenance(int(seed))
    if th is not None:
        df.attrs["theory"] = th.as_dict()
    return RunResult(info.name, P.name, params["compressor"], int(seed),
                     E.STATUS_NAMES[int(st)], int(it), df, params, th)
