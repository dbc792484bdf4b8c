"""Monte-Carlo measurement of compressor constants, compared with the claims.

The classes are those of ``SPEC.md`` §1:

* U(omega) (Shulgin & Richtárik, UAI 2022, Definition 2):
  ``E C(x) = x`` and ``E||C(x) - x||^2 <= omega ||x||^2``;
* B(delta) (the same paper): ``E||C(x) - x||^2 <= (1 - delta) ||x||^2``;
* B1(alpha, beta), B2(gamma, beta), B3(delta) of Beznosikov, Horváth,
  Richtárik & Safaryan, *On biased compression for distributed learning*
  (seed 004, Definitions 2-4):
  ``alpha ||x||^2 <= E||C(x)||^2 <= beta E<C(x), x>``,
  ``max{gamma ||x||^2, E||C(x)||^2 / beta} <= E<C(x), x>``,
  ``E||C(x) - x||^2 <= (1 - 1/delta) ||x||^2``.

A class is a statement *for all x*; a Monte-Carlo run can only test it on
some inputs, so every constant is measured on several input kinds
(:data:`INPUT_KINDS`: Gaussian, heavy-tailed, sparse, one spike, the extremal
vector of TernGrad, a constant vector at the worst point of C_nat) and the
worst input is reported.  "Measured omega" is therefore a lower bound on the
true sup.

Statistical tolerances
----------------------
Every comparison with a claim is one-sided and allows ``z`` standard errors
of the Monte-Carlo mean (default ``z = 5``: a false alarm has probability
about 2.9e-7 per comparison under the CLT), plus a rounding slack of
``1e-9`` relative.  Deterministic compressors (no random draws) have zero
variance, so their claims are checked to rounding.

Unbiasedness is tested with the aggregate statistic
``chi = T ||mean - x||^2 / mean(||C(x) - x||^2)``: under ``E C(x) = x`` and the
CLT it is a weighted sum of chi-square(1) variables with weights summing to 1,
whose tail above ``z^2`` is at most that of one chi-square(1) (Székely &
Bakirov 2003, for thresholds >= 1.54), i.e. ``2 Phi(-z)``.  Unlike a
per-coordinate z-score it does not break on coordinates that are rarely
kept (zero sample variance); the per-coordinate maximum is reported too.

Functions
---------
:func:`make_inputs`, :func:`measure_input`, :func:`measure`,
:func:`compare`, :func:`measure_many`; all results are tidy
:class:`pandas.DataFrame` objects.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from numba import njit

from .. import _rng
from . import kernels as K
from .core import Compressor
from .registry import Claims

INPUT_KINDS = ("gaussian", "student-t", "cauchy", "sparse", "spike",
               "spike+floor", "constant")
"""Input kinds used by default (see :func:`make_inputs`)."""

DETERMINISTIC = frozenset({"identity", "zero", "top-k", "natural-det", "sign"})
"""Primitive compressors that draw no random numbers."""

REL_EPS = 1e-9
"""Rounding slack, relative to the scale of the compared quantity."""


# ----------------------------------------------------------------------------
# inputs

def make_inputs(d, kinds=INPUT_KINDS, seed=0):
    """Test vectors of dimension d, one per kind.

    Parameters
    ----------
    d : int
        Dimension (>= 1).
    kinds : sequence of str
        Any of :data:`INPUT_KINDS`:

        ``gaussian``     i.i.d. N(0, 1);
        ``student-t``    i.i.d. Student t with 2 degrees of freedom (heavy tails);
        ``cauchy``       i.i.d. standard Cauchy (one or two entries dominate);
        ``sparse``       10 % of the entries (at least one) N(0, 1), the rest 0;
        ``spike``        ``3 e_1``;
        ``spike+floor``  ``(1, c, ..., c)`` with ``c = 1/(sqrt(d) + 1)``: the
                         vector attaining TernGrad's variance bound;
        ``constant``     every entry 4/3: C_nat's variance ratio is exactly its
                         bound 1/8 there (Horváth et al. 2019).
    seed : int
        Seed of the NumPy generator for the random kinds.

    Returns
    -------
    dict
        kind -> float64 vector of length d.
    """
    rs = np.random.default_rng(seed)
    out = {}
    for kind in kinds:
        if kind == "gaussian":
            x = rs.standard_normal(d)
        elif kind == "student-t":
            x = rs.standard_t(2.0, size=d)
        elif kind == "cauchy":
            x = rs.standard_cauchy(d)
        elif kind == "sparse":
            x = np.zeros(d)
            m = max(1, d // 10)
            x[rs.choice(d, m, replace=False)] = rs.standard_normal(m)
        elif kind == "spike":
            x = np.zeros(d)
            x[0] = 3.0
        elif kind == "spike+floor":
            x = np.full(d, 1.0 / (math.sqrt(d) + 1.0))
            x[0] = 1.0
        elif kind == "constant":
            x = np.full(d, 4.0 / 3.0)
        else:
            raise ValueError(f"unknown input kind {kind!r}; allowed: {', '.join(INPUT_KINDS)}")
        out[kind] = np.ascontiguousarray(x, dtype=np.float64)
    return out


def is_deterministic(node):
    """True if the parsed spec tree draws no random numbers."""
    if node.kids:
        return all(is_deterministic(k) for k in node.kids)
    return node.name in DETERMINISTIC


# ----------------------------------------------------------------------------
# the compiled Monte-Carlo loop

@njit(cache=True)
def _accumulate(ops, params, x, seed, s1, s2, stats, bits, regs, iwork, mark):
    """T trials (T = stats.shape[0]); trial t uses stream t of ``seed``.

    s1[i] += y_i - x_i, s2[i] += (y_i - x_i)^2; stats[t] = (||y - x||^2,
    ||y||^2, <y, x>); bits[t] = (full, values).
    """
    rng = np.zeros(2, dtype=np.uint64)
    d = x.size
    y = np.empty(d)
    for t in range(stats.shape[0]):
        _rng.seed_state(rng, seed, np.uint64(t))
        a, b = K.apply_program(ops, params, x, y, rng, regs, iwork, mark)
        e = 0.0
        s = 0.0
        ip = 0.0
        for i in range(d):
            r = y[i] - x[i]
            s1[i] += r
            s2[i] += r * r
            e += r * r
            s += y[i] * y[i]
            ip += y[i] * x[i]
        stats[t, 0] = e
        stats[t, 1] = s
        stats[t, 2] = ip
        bits[t, 0] = a
        bits[t, 1] = b


def measure_input(comp, x, trials, seed=0):
    """Monte-Carlo moments of one compressor at one input.

    Parameters
    ----------
    comp : Compressor or str
    x : ndarray
        A nonzero finite vector.
    trials : int
        Number of independent compressions T (>= 2).
    seed : int
        Trial t uses stream t of ``seed`` (as :meth:`Compressor.sample`).

    Returns
    -------
    dict
        With ``n2 = ||x||^2``:

        ``omega``, ``omega_se``: ``E||C - x||^2 / n2`` and its standard error
        (the variance ratio; ``1 - delta`` for contractive compressors);
        ``sq_norm``, ``sq_norm_se``: ``E||C||^2 / n2``;
        ``inner``, ``inner_se``: ``E<C, x> / n2``;
        ``var_sq_norm``, ``var_inner``, ``cov``: (co)variances of the
        per-trial ``||C||^2 / n2`` and ``<C, x> / n2`` (for the beta test);
        ``bias_rel``: ``||mean - x|| / ||x||``;
        ``bias_chi``: ``T ||mean - x||^2 / mean ||C - x||^2`` (see module
        notes; ``inf`` for a biased deterministic compressor);
        ``bias_z_max``: the largest per-coordinate ``|mean_i - x_i| / se_i``
        over coordinates with nonzero sample variance;
        ``bits``, ``bits_min``, ``bits_max``, ``values_bits``: message sizes;
        ``deterministic``: every trial gave the same output.
    """
    if isinstance(comp, str):
        comp = Compressor(comp)
    x = np.ascontiguousarray(x, dtype=np.float64)
    T = int(trials)
    if T < 2:
        raise ValueError(f"trials must be >= 2, got {T}")
    d = x.size
    comp.node.check_d(d)
    ws = comp.workspace(d)
    s1 = np.zeros(d)
    s2 = np.zeros(d)
    stats = np.empty((T, 3))
    bits = np.empty((T, 2), dtype=np.int64)
    _accumulate(comp.ops, comp.params, x, np.uint64(seed), s1, s2, stats, bits,
                ws.regs, ws.iwork, ws.mark)
    n2 = float(x @ x)
    if n2 == 0.0:
        raise ValueError("x must be nonzero (constants are ratios to ||x||^2)")
    err, sq, ip = stats[:, 0] / n2, stats[:, 1] / n2, stats[:, 2] / n2
    rt = math.sqrt(T)
    bias = s1 / T
    var_i = np.maximum(s2 - T * bias * bias, 0.0) / (T - 1)
    mean_err = err.mean()
    b2 = float(bias @ bias) / n2
    if mean_err > 0:
        chi = T * b2 / mean_err
    else:
        chi = 0.0 if b2 <= (REL_EPS ** 2) else math.inf
    # a coordinate whose every trial is identical has zero variance; rounding
    # in s2 - T bias^2 must not turn that into a tiny positive variance
    pos = var_i > 1e-9 * (s2 / T)
    zmax = float(np.max(np.abs(bias[pos]) / np.sqrt(var_i[pos] / T))) if pos.any() else 0.0
    c = np.cov(np.vstack([sq, ip]))
    det = bool(np.all(var_i == 0) and np.ptp(stats, axis=0).max() == 0
               and np.ptp(bits, axis=0).max() == 0)
    return {
        "trials": T, "n2": n2,
        "omega": float(mean_err), "omega_se": float(err.std(ddof=1) / rt),
        "sq_norm": float(sq.mean()), "sq_norm_se": float(sq.std(ddof=1) / rt),
        "inner": float(ip.mean()), "inner_se": float(ip.std(ddof=1) / rt),
        "var_sq_norm": float(c[0, 0]), "var_inner": float(c[1, 1]), "cov": float(c[0, 1]),
        "bias_rel": math.sqrt(b2), "bias_chi": float(chi), "bias_z_max": zmax,
        "bits": float(bits[:, 0].mean()), "bits_min": int(bits[:, 0].min()),
        "bits_max": int(bits[:, 0].max()), "values_bits": float(bits[:, 1].mean()),
        "deterministic": det,
    }


def measure(spec, d, trials=4000, seed=0, kinds=INPUT_KINDS, inputs=None):
    """Measure one compressor on every input kind.

    Parameters
    ----------
    spec : str
        Compressor spec.
    d : int
        Dimension.
    trials : int
        Monte-Carlo trials per input; a deterministic compressor (see
        :func:`is_deterministic`) uses 2 (its variance is zero).
    seed : int
        Seed of both the inputs and the compressor's streams.
    kinds : sequence of str
        Input kinds (:func:`make_inputs`); ignored when ``inputs`` is given.
    inputs : dict, optional
        name -> vector, to measure on your own inputs.

    Returns
    -------
    pandas.DataFrame
        One row per input: ``spec`` (canonical), ``d``, ``input`` and the
        fields of :func:`measure_input`.
    """
    comp = Compressor(spec)
    if inputs is None:
        inputs = make_inputs(d, kinds, seed)
    T = 2 if is_deterministic(comp.node) else int(trials)
    rows = []
    for name, x in inputs.items():
        r = measure_input(comp, x, T, seed)
        rows.append({"spec": comp.spec, "d": int(np.asarray(x).size), "input": name, **r})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------
# claims vs measurements

def _row(spec, const, claimed, measured, worst, excess, tol, source):
    return {"spec": spec, "constant": const, "claimed": claimed, "measured": measured,
            "worst_input": worst, "excess": excess, "tolerance": tol,
            "ok": bool(excess <= tol), "source": source}


def compare(df, claims: Claims, z=5.0):
    """Compare the measurements of one compressor with its claimed constants.

    Parameters
    ----------
    df : pandas.DataFrame
        Output of :func:`measure` (one compressor, one or more inputs).
    claims : Claims
        The registry's claims at the same d.
    z : float
        Number of standard errors allowed (one-sided).

    Returns
    -------
    pandas.DataFrame
        One row per claimed constant: ``constant`` (``unbiased``, ``omega``,
        ``delta``, ``b1.alpha``, ``b1.beta``, ``b2.gamma``, ``b2.beta``,
        ``b3``), ``claimed``, ``measured`` (worst over inputs: max omega,
        min delta, min alpha, max beta, min gamma, max b3; for ``unbiased``
        the largest ``bias_chi``), ``worst_input`` (the input closest to
        violating the claim), ``excess`` (how far the worst input goes past
        the claim, in the normalised units of the constraint, negative when
        satisfied), ``tolerance`` (``z`` standard errors plus rounding),
        ``ok`` (``excess <= tolerance``) and the claim's ``source``.

    Notes
    -----
    The constraint tested per input, with ``n2 = ||x||^2``:

    * omega: ``E||C - x||^2/n2 - omega``;
    * delta: ``E||C - x||^2/n2 - (1 - delta)``; b3 likewise with ``1 - 1/b3``;
    * alpha: ``alpha - E||C||^2/n2``; gamma: ``gamma - E<C, x>/n2``;
    * beta: ``(E||C||^2 - beta E<C, x>)/n2``, whose standard error comes from
      the per-trial variances and covariance;
    * unbiased: ``bias_chi - z^2`` against 0 (see the module notes).
    """
    spec = df["spec"].iloc[0]
    src = claims.source
    rows = []
    se_tol = lambda se, scale: z * se + REL_EPS * max(1.0, abs(scale))  # noqa: E731

    def worst(excess, tol):
        j = int(np.argmax(np.asarray(excess) - np.asarray(tol)))
        return j, float(np.asarray(excess)[j]), float(np.asarray(tol)[j])

    inputs = list(df["input"])
    if claims.kind == "unbiased":
        chi = df["bias_chi"].to_numpy()
        j = int(np.argmax(chi))
        rows.append(_row(spec, "unbiased", 0.0, float(chi[j]), inputs[j],
                         float(chi[j]), z * z, src))
    if claims.omega is not None:
        ex = df["omega"] - claims.omega
        j, e, t = worst(ex, [se_tol(s, claims.omega) for s in df["omega_se"]])
        rows.append(_row(spec, "omega", claims.omega, float(df["omega"].max()),
                         inputs[j], e, t, src))
    for const, val in (("delta", claims.delta),
                       ("b3", claims.b3)):
        if val is None:
            continue
        bound = 1.0 - val if const == "delta" else 1.0 - 1.0 / val
        ex = df["omega"] - bound
        j, e, t = worst(ex, [se_tol(s, 1.0) for s in df["omega_se"]])
        wm = float(df["omega"].max())
        meas = 1.0 - wm if const == "delta" else (1.0 / (1.0 - wm) if wm < 1 else math.inf)
        rows.append(_row(spec, const, val, meas, inputs[j], e, t, src))
    for tag, pair in (("b1", claims.b1), ("b2", claims.b2)):
        if pair is None:
            continue
        lo, beta = pair
        col = "sq_norm" if tag == "b1" else "inner"
        name = "b1.alpha" if tag == "b1" else "b2.gamma"
        ex = lo - df[col]
        j, e, t = worst(ex, [se_tol(s, lo) for s in df[col + "_se"]])
        rows.append(_row(spec, name, lo, float(df[col].min()), inputs[j], e, t, src))
        ex = df["sq_norm"] - beta * df["inner"]
        var = df["var_sq_norm"] + beta * beta * df["var_inner"] - 2 * beta * df["cov"]
        se = np.sqrt(np.maximum(var, 0.0) / df["trials"])
        j, e, t = worst(ex, [se_tol(s, beta) for s in se])
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(df["inner"] > 0, df["sq_norm"] / df["inner"], np.inf)
        rows.append(_row(spec, f"{tag}.beta", beta, float(np.max(ratio)), inputs[j], e, t, src))
    return pd.DataFrame(rows, columns=CHECK_COLUMNS)


CHECK_COLUMNS = ["spec", "constant", "claimed", "measured", "worst_input", "excess",
                 "tolerance", "ok", "source"]


def measure_many(specs, d, trials=4000, seed=0, z=5.0, kinds=INPUT_KINDS):
    """Measure several compressors and compare each with its claims.

    Parameters
    ----------
    specs : iterable of str
    d, trials, seed, kinds :
        As in :func:`measure`.
    z : float
        As in :func:`compare`.

    Returns
    -------
    per_input : pandas.DataFrame
        Every row of :func:`measure` for every spec, plus ``kind``.
    checks : pandas.DataFrame
        Every row of :func:`compare`, plus ``kind``.
    """
    inputs = make_inputs(d, kinds, seed)
    meas, checks = [], []
    for spec in specs:
        m = measure(spec, d, trials, seed, inputs=inputs)
        cl = Compressor(spec).claims(d)
        m.insert(1, "kind", cl.kind)
        c = compare(m, cl, z)
        c.insert(1, "kind", cl.kind)
        meas.append(m)
        checks.append(c)
    checks = [c for c in checks if len(c)]
    return (pd.concat(meas, ignore_index=True),
            pd.concat(checks, ignore_index=True) if checks
            else pd.DataFrame(columns=["spec", "kind"] + CHECK_COLUMNS[1:]))
