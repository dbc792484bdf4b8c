"""Python glue for :mod:`shiftbench.methods.tpc`: validation, theory defaults,
the compiled loop, and a trace identical in format to Algorithm 1's.

:func:`run` is the ``runner`` of the methods ``cgd``, ``ef``, ``ef21``,
``lag``, ``clag``, ``3pcv1`` ... ``3pcv5`` and ``marina`` in
:mod:`shiftbench.methods.registry`; :func:`shiftbench.harness.run.run` and
``python -m shiftbench run`` call it.

>>> import shiftbench as sb
>>> res = sb.run("ef21", "logreg-nc(data=a9a.txt)", "top-k(k=1)",
...              gamma_factor=4, eps=1e-7, iters=100000)           # doctest: +SKIP

Compressor roles
----------------
* ``compressor``: C (contractive) of EF21, CLAG, 3PCv1-v5, EF and CGD;
  C_1 of 3PCv4; the unbiased Q of MARINA.  LAG takes none.
* ``compressor2``: Q (unbiased) of 3PCv2; C_2 of 3PCv4; the inner
  compressor of 3PCv3 (see below).

3PCv3's inner mechanism
-----------------------
``inner="ef21"`` (inner EF21 with ``compressor2``), ``"lag"`` (inner LAG
with ``zeta``) or ``"clag"`` (inner CLAG with ``compressor2`` and
``zeta``).  When ``inner`` is not given (the CLI has no flag for it) it
follows from what is given: ``compressor2`` alone -> ef21, ``zeta`` alone
-> lag, both -> clag.

Defaults (reconstructed, documented choices): ``zeta = 1`` for LAG/CLAG,
``p = alpha`` of C for 3PCv5, ``p = 1/(omega + 1)`` for MARINA.  The step
is the theory's (:mod:`shiftbench.methods.theory`), times ``gamma_factor``;
``gamma`` overrides it.  EF's step is seed 004's eta; ``ef_form="seed004"``
applies the poster's literal update x^{k+1} = x^k - eta (1/n) sum g~_i
instead of SPEC §4's x^{k+1} = x^k - (1/n) sum g~_i (the default).
"""
from __future__ import annotations

import math
import time

import numpy as np

from . import registry as R
from . import theory as T
from . import tpc as K

_ALLOWED = {
    "cgd": set(), "ef": {"ef_form"}, "ef21": set(), "lag": {"zeta"},
    "clag": {"zeta"}, "3pcv1": set(), "3pcv2": {"compressor2"},
    "3pcv3": {"compressor2", "zeta", "inner"}, "3pcv4": {"compressor2"},
    "3pcv5": {"p"}, "marina": {"p"}, "dcgd": set(),
}
_DEFAULT_C2 = {"3pcv2": "rand-k(q=0.1)", "3pcv4": "top-k(q=0.1)"}


def _claims(comps, d):
    return [c.claims(d) for c in comps]


def _worst_alpha(comps, d):
    """min_i of the claimed contractive parameter (None if any is missing)."""
    vals = []
    for cl in _claims(comps, d):
        if cl.delta is None or not cl.delta > 0:
            return None
        vals.append(cl.delta)
    return float(min(vals))


def _worst_omega(comps, d):
    vals = []
    for cl in _claims(comps, d):
        if cl.kind != "unbiased" or cl.omega is None:
            return None
        vals.append(cl.omega)
    return float(max(vals))


def _options(name, given, allowed):
    bad = sorted(k for k, v in given.items() if v is not None and k not in allowed)
    if bad:
        ok = ", ".join(sorted(allowed)) or "no method options"
        raise ValueError(f"{name} does not take {', '.join(bad)}; allowed: {ok}")


def setup(name, problem, compressor=None, compressor2=None, *, gamma=None,
          gamma_factor=None, zeta=None, p=None, inner=None, ef_form="standard"):
    """Resolve one configuration: compressors, mechanism options and step.

    Returns
    -------
    (MethodInfo, Problem, dict, TPCTheory or None, dict)
        The method, the problem, the params recorded in the trace, the
        theory (None when a user gamma is given and no theory applies) and
        the compiled loop's arguments.
    """
    from ..harness.run import _per_worker, _positive, pack_programs, empty_programs, resolve_problem
    info = R.get(name) if name != "dcgd" else None
    key = name if info is None else info.name
    mech = K.MECH_CODES[key]
    P = resolve_problem(problem)
    n, d = P.n, P.d
    _options(key, {"zeta": zeta, "p": p, "compressor2": compressor2, "inner": inner,
                   "ef_form": None if ef_form in (None, "standard") else ef_form},
             _ALLOWED[key])
    gamma = _positive("gamma", gamma)
    if gamma is not None and gamma_factor is not None:
        raise ValueError("give gamma or gamma_factor, not both")
    gf = 1.0 if gamma_factor is None else _positive("gamma_factor", gamma_factor)
    if key == "lag":
        if compressor not in (None, "identity"):
            raise ValueError("lag sends full vectors or nothing: it takes no compressor "
                             "(use clag for a compressed trigger)")
        compressor = "identity"
    default_c = "rand-k(q=0.1)" if key == "marina" else "top-k(q=0.1)"
    C1 = _per_worker(compressor or default_c, n, "compressor")
    if key == "cgd" and len({c.spec for c in C1}) != 1:
        raise ValueError("cgd is a single node: give one compressor, not one per worker")
    for c in C1:
        c.node.check_d(d)
    # --- mechanism options
    if key == "3pcv3":
        if inner is None:
            if compressor2 is not None and zeta is not None:
                inner = "clag"
            elif compressor2 is not None:
                inner = "ef21"
            elif zeta is not None:
                inner = "lag"
            else:
                raise ValueError("3pcv3 needs an inner 3PC: give compressor2 (inner EF21), "
                                 "zeta (inner LAG) or both (inner CLAG)")
        inner = str(inner).lower()
        if inner not in K.INNER_CODES:
            raise ValueError(f"3pcv3: inner = {inner!r} is not allowed; allowed: ef21, lag, clag")
        if inner in ("ef21", "clag") and compressor2 is None:
            raise ValueError(f"3pcv3 with inner {inner} needs compressor2 (the inner C_2)")
        if inner == "lag" and compressor2 is not None:
            raise ValueError("3pcv3 with inner lag takes no compressor2")
        if inner in ("lag", "clag") and zeta is None:
            zeta = 1.0
    if key in ("lag", "clag") and zeta is None:
        zeta = 1.0
    if zeta is not None:
        zeta = float(zeta)
        if not (zeta >= 0 and math.isfinite(zeta)):
            raise ValueError(f"zeta = {zeta:g} is not allowed; need a finite zeta >= 0")
    if key in _DEFAULT_C2 and compressor2 is None:
        compressor2 = _DEFAULT_C2[key]
    C2 = _per_worker(compressor2, n, "compressor2") if compressor2 is not None else None
    if C2 is not None:
        for c in C2:
            c.node.check_d(d)
    if p is not None:
        pa = np.atleast_1d(np.asarray(p, dtype=float))
        if pa.size != 1:
            raise ValueError(f"{key}: p must be one number (0 < p <= 1), got {p}")
        p = float(pa[0])
        if not (0.0 < p <= 1.0):
            raise ValueError(f"p = {p:g} is not allowed; need 0 < p <= 1")
    if ef_form not in (None, "standard", "seed004"):
        raise ValueError(f"ef_form = {ef_form!r} is not allowed; allowed: standard, seed004")
    # --- theory
    Lm, mu = float(P.L), float(P.mu)
    Lp = float(P.L_plus) if P.L_plus is not None else float(np.sqrt(np.mean(P.L_i ** 2)))
    a1 = _worst_alpha(C1, d)
    a2 = _worst_alpha(C2, d) if C2 is not None else None
    om1 = _worst_omega(C1, d)
    om2 = _worst_omega(C2, d) if C2 is not None else None
    if key == "3pcv5" and p is None:
        if a1 is None:
            raise ValueError("3pcv5: the default p = alpha needs a contractive compressor; pass p")
        p = a1
    if key == "marina" and p is None:
        if om1 is None:
            raise ValueError("marina: the default p = 1/(omega + 1) needs an unbiased "
                             "compressor with a claimed omega; pass p")
        p = 1.0 / (1.0 + om1)
    th = None
    err = None
    try:
        if key == "cgd":
            th = T.cgd(Lm, mu, C1[0].claims(d))
        elif key == "dcgd":
            th = None
            err = "distributed CGD has no step theory for biased compressors"
        elif key == "ef":
            th = T.ef(Lm, Lp, a1, mu)
        elif key == "marina":
            th = T.marina(Lm, Lp, n, om1, p)
        else:
            th = T.tpc(key, Lm, Lp, mu, alpha=a1, omega=om2, zeta=zeta, p=p, alpha2=a2,
                       inner=inner)
    except ValueError as e:
        err = str(e)
        th = None
    if gamma is None:
        if th is None:
            raise ValueError(f"{key}: no theoretical step size ({err}); pass gamma")
        g = th.gamma * gf
        if gamma_factor is not None:
            th.notes.append(f"step = theory x gamma_factor {gf:g}")
    else:
        g = gamma
        if th is not None:
            th.notes.append(f"user gamma={gamma:g} overrides the theory's {th.gamma:.6g}")
    ef_outer = 1.0
    if key == "ef" and ef_form == "seed004":
        ef_outer = g
    c1_prog, nreg = pack_programs(C1, d)
    if C2 is not None:
        c2_prog, nreg2 = pack_programs(C2, d)
        nreg = max(nreg, nreg2)
    else:
        c2_prog = empty_programs(n)
    comps = list(C1) + (list(C2) if C2 is not None else [])
    vbits = max(c.value_bits for c in comps)
    spec = lambda cs: (None if cs is None else cs[0].spec if len({c.spec for c in cs}) == 1  # noqa: E731
                       else ";".join(c.spec for c in cs))
    params = {"method": key, "problem": P.name, "compressor": spec(C1),
              "compressor2": spec(C2), "shift_compressor": None, "gamma": float(g),
              "gamma_factor": None if gamma_factor is None else gf,
              "zeta": zeta, "p": None if p is None else [float(p)],
              "inner": inner if key == "3pcv3" else None,
              "ef_form": (ef_form or "standard") if key == "ef" else None,
              "alpha_C": a1, "alpha_C2": a2, "omega_C": om1, "omega_C2": om2,
              "A": getattr(th, "A", None), "B": getattr(th, "B", None),
              "L_minus": Lm, "L_plus": Lp, "mu": mu, "n": n, "d": d,
              "theorem": info.theorem if info is not None else "seed 004 (distributed CGD)"}
    args = dict(mech=mech, inner=K.INNER_CODES.get(inner, 0) if key == "3pcv3" else 0,
                c1=c1_prog, c2=c2_prog,
                gamma=float(g), zeta=float(zeta or 0.0), p=float(p if p is not None else 1.0),
                ef_outer=float(ef_outer), nreg=nreg, value_bits=vbits)
    return info, P, params, th, args


class _Info:
    """Stand-in MethodInfo for the internal mechanism ``dcgd`` (not registered here)."""
    name = "dcgd"


def run(method, problem, compressor=None, shift_compressor=None, *, gamma=None,
        alpha=None, eta=None, p=None, M=None, x0=None, iters=1000, eps=1e-10,
        stop="auto", bits_budget=None, stride=None, explode=1e12, seed=0, seeds=None,
        zeta=None, compressor2=None, gamma_factor=None, inner=None, ef_form="standard",
        record_x=False, **unknown):
    """Run a CGD / EF / 3PC / MARINA method (compiled) and return its trace.

    Parameters
    ----------
    method : str
        ``cgd``, ``ef``, ``ef21``, ``lag``, ``clag``, ``3pcv1``, ``3pcv2``,
        ``3pcv3``, ``3pcv4``, ``3pcv5``, ``marina`` (or ``dcgd``: distributed
        CGD with any compressor run by this module's loop -- the registered
        ``dcgd`` method is Algorithm 1's engine).
    problem : Problem or str
    compressor, compressor2 : str, Compressor or list
        See the module notes for their roles.
    shift_compressor, alpha, eta, M :
        Not used by these methods (a ValueError if given).
    gamma : float, optional
        Step size; overrides the theory's.
    gamma_factor : float, optional
        Multiplies the theoretical step.
    zeta : float, optional
        LAG/CLAG trigger (default 1).
    p : float, optional
        3PCv5 / MARINA probability.
    inner : {"ef21", "lag", "clag"}, optional
        3PCv3's inner mechanism.
    ef_form : {"standard", "seed004"}
        EF's outer update (see the module notes).
    iters, eps, stop, bits_budget, stride, explode, seed, seeds :
        As in :func:`shiftbench.harness.run.run`.
    record_x : bool
        Single runs only: store the iterates of the trace rows in
        ``result.trace.attrs["x"]`` (a list of lists) and ``result.x``.

    Returns
    -------
    RunResult or MonteCarloResult
    """
    from ..harness.run import (monte_carlo, run_options, STOP_METRICS, _result,
                               cycles_per_second)
    if unknown:
        raise ValueError(f"{method} does not take {', '.join(sorted(unknown))}; allowed: "
                         f"gamma, gamma_factor, zeta, p, compressor2, inner, ef_form")
    key = str(method).strip().lower()
    if key not in _ALLOWED:
        raise ValueError(f"unknown method {method!r} for this runner; allowed: "
                         f"{', '.join(_ALLOWED)}")
    for nm, v in (("shift_compressor", shift_compressor), ("alpha", alpha), ("eta", eta),
                  ("M", M)):
        if v is not None:
            hint = " (the step is gamma)" if nm == "eta" else ""
            raise ValueError(f"{key} does not take {nm}{hint}; allowed: gamma, gamma_factor, "
                             f"zeta, p, compressor2, inner, ef_form")
    info, P, params, th, a = setup(key, problem, compressor, compressor2, gamma=gamma,
                                   gamma_factor=gamma_factor, zeta=zeta, p=p, inner=inner,
                                   ef_form=ef_form)
    if info is None:
        info = _Info()
    o = run_options(P, iters, eps, stop, stride, bits_budget, x0)
    iters, stride, budget, X0 = o["iters"], o["stride"], o["budget"], o["x0"]
    has_star, xs, fs, rows, eps = o["has_star"], o["x_star"], o["f_star"], o["rows"], o["eps"]
    stop = o["stop"]
    kind, A, b, off, sc, lam = P.args()
    common = (a["mech"], a["inner"], kind, A, b, off, sc, lam, X0, xs, fs, has_star,
              a["c1"], a["c2"], a["gamma"], a["zeta"], a["p"], a["ef_outer"],
              iters, stride, eps, STOP_METRICS[stop], budget, float(explode),
              a["value_bits"])
    hz = cycles_per_second()
    if seeds is None:
        trace = np.full((rows, K.NCOL), np.nan)
        xrec = np.zeros((rows if record_x else 0, P.d))
        t0 = time.perf_counter()
        st, it, nr = K.run_one(*common, np.uint64(seed), a["nreg"], trace, xrec)
        wall = time.perf_counter() - t0
        res = _result(info, P, params, th, seed, st, it, trace[:nr], hz, wall)
        if record_x:
            res.x = xrec[:nr].copy()
            res.trace.attrs["x"] = res.x.tolist()
        return res
    if record_x:
        raise ValueError("record_x is for single runs (seed=...), not seeds=...")
    return monte_carlo(K.run_many, common, a["nreg"], seeds, rows, info, P, params, th, hz)
