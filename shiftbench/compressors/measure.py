"""Monte-Carlo measurement of compressor constants, compared with the claims.

The classes:

* U(omega) (Shulgin & Richtárik, UAI 2022, Definition 2):
  ``E C(x) = x`` and ``E||C(x) - x||^2 <= omega ||x||^2``;
* B(delta) (the same paper): ``E||C(x) - x||^2 <= (1 - delta) ||x||^2``;
* B1(alpha, beta), B2(gamma, beta), B3(delta) of Beznosikov, Horváth,
  Richtárik & Safaryan, *On biased compression for distributed learning*
  (Definitions 2-4):
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

The CLT needs the events that dominate a mean to be seen many times.  A
*random* compressor whose statistic did not vary at some input (a rare event
that never occurred, e.g. Rand-1 at d = 1000 missing the only nonzero entry
of a spike in 1000 trials), or varied with a skewness above ``sqrt(T)/4``
(a rare event seen fewer than about 16 times), has no usable standard error
there; a claim exceeded only on such inputs is reported as ``inconclusive``
(run more trials), not as violated.  Rule of thumb for sparsifiers: ``T``
well above ``16 d / K``.  A rare event that never occurred *and* left no
trace in the sample cannot be detected by any Monte-Carlo test.

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

from .core import Compressor, mc_accumulate
from .registry import Claims

INPUT_KINDS = ("gaussian", "student-t", "cauchy", "sparse", "spike",
               "spike+floor", "constant")
"""Input kinds used by default (see :func:`make_inputs`)."""


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
    """True if the parsed spec tree draws no random numbers (each
    compressor's definition says so; see :mod:`.builtins`)."""
    return node.deterministic()


# ----------------------------------------------------------------------------
# the compiled Monte-Carlo loop

def _mom(v):
    """(mean, sample standard deviation, skewness) of a per-trial statistic;
    exactly (v_0, 0, 0) when every trial gave the same value."""
    if np.ptp(v) == 0:
        return float(v[0]), 0.0, 0.0
    m = float(v.mean())
    c = v - m
    sd0 = math.sqrt(float(np.mean(c * c)))
    return m, float(v.std(ddof=1)), float(np.mean(c ** 3)) / sd0 ** 3


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

        ``omega``, ``omega_se``, ``omega_skew``: ``E||C - x||^2 / n2``, its
        standard error and the skewness of the per-trial values (the variance
        ratio; ``1 - delta`` for contractive compressors);
        ``sq_norm``, ``sq_norm_se``, ``sq_norm_skew``: ``E||C||^2 / n2``;
        ``inner``, ``inner_se``, ``inner_skew``: ``E<C, x> / n2``;
        ``var_sq_norm``, ``var_inner``, ``cov``: (co)variances of the
        per-trial ``||C||^2 / n2`` and ``<C, x> / n2`` (for the beta test);
        ``bias_rel``: ``||mean - x|| / ||x||``;
        ``bias_chi``: ``T ||mean - x||^2 / mean ||C - x||^2`` (see module
        notes; ``inf`` for a biased deterministic compressor), where
        per-coordinate offsets below ``REL_EPS max|x|`` count as rounding,
        not bias;
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
    mc_accumulate(comp.program, x, np.uint64(seed), s1, s2, stats, bits,
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
    # rounding (e.g. ||x|| l / s != |x_i| in the last bit) is not bias: the
    # chi statistic ignores per-coordinate offsets below REL_EPS max|x|
    shrunk = np.maximum(np.abs(bias) - REL_EPS * np.abs(x).max(), 0.0)
    b2s = float(shrunk @ shrunk) / n2
    if b2s == 0.0:
        chi = 0.0
    elif mean_err > 0:
        chi = T * b2s / mean_err
    else:
        chi = math.inf
    # a coordinate whose every trial is identical has zero variance; rounding
    # in s2 - T bias^2 must not turn that into a tiny positive variance
    pos = var_i > 1e-9 * (s2 / T)
    zmax = float(np.max(np.abs(bias[pos]) / np.sqrt(var_i[pos] / T))) if pos.any() else 0.0
    (m_e, sd_e, sk_e), (m_s, sd_s, sk_s), (m_i, sd_i, sk_i) = (_mom(err), _mom(sq), _mom(ip))
    cov = 0.0 if sd_s == 0 or sd_i == 0 else float(np.cov(sq, ip)[0, 1])
    det = bool(not pos.any() and np.ptp(stats, axis=0).max() == 0
               and np.ptp(bits, axis=0).max() == 0)
    return {
        "trials": T, "n2": n2,
        "omega": float(mean_err), "omega_se": sd_e / rt, "omega_skew": sk_e,
        "sq_norm": m_s, "sq_norm_se": sd_s / rt, "sq_norm_skew": sk_s,
        "inner": m_i, "inner_se": sd_i / rt, "inner_skew": sk_i,
        "var_sq_norm": sd_s ** 2, "var_inner": sd_i ** 2, "cov": cov,
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
        One row per input: ``spec`` (canonical), ``d``, ``input``,
        ``random`` (the compressor draws random numbers) and the fields of
        :func:`measure_input`.
    """
    comp = Compressor(spec)
    if inputs is None:
        inputs = make_inputs(d, kinds, seed)
    rnd = not is_deterministic(comp.node)
    T = int(trials) if rnd else 2
    rows = []
    for name, x in inputs.items():
        r = measure_input(comp, x, T, seed)
        rows.append({"spec": comp.spec, "d": int(np.asarray(x).size), "input": name,
                     "random": rnd, **r})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------
# claims vs measurements

def _unreliable(df, se=None, skew=None):
    """Inputs where the CLT tolerance of a *random* compressor is not usable.

    * No variation in T trials: every output identical (``se`` None) or the
      statistic constant (``se == 0``).  The true variance may still be
      positive (a rare event that never happened, e.g. Rand-1 at d = 1000
      never picking the spike of ``spike+floor`` in 1000 trials).
    * A skewed sample, ``|skew| > sqrt(T)/4``: the Edgeworth correction to a
      z = 5 tail, about ``|skew| (z^2 - 1) / (6 sqrt(T))``, is then of the
      order of the tail itself; this happens when the mean is dominated by
      a rare event (probability p, skewness about ``1/sqrt(p)``) seen fewer
      than about 16 times.
    """
    rnd = (df["random"] if "random" in df else pd.Series(True, index=df.index)).to_numpy(bool)
    if se is None:
        return rnd & df["deterministic"].to_numpy(bool)
    bad = np.asarray(se, dtype=float) == 0.0
    if skew is not None:
        bad |= np.abs(np.asarray(skew, dtype=float)) > np.sqrt(df["trials"].to_numpy()) / 4
    return rnd & bad


def _check(spec, const, claimed, measured, inputs, excess, tol, degenerate, source):
    """One claim: the worst input, its excess over the claim and the status.

    ``violated`` when an input with a usable standard error exceeds the claim
    by more than its tolerance; ``inconclusive`` when only degenerate inputs
    (see :func:`_unreliable`) do; ``ok`` otherwise.
    """
    excess = np.asarray(excess, dtype=float)
    tol = np.asarray(tol, dtype=float)
    over = excess - tol
    good = ~degenerate
    if good.any() and np.max(over[good]) > 0:
        j = int(np.argmax(np.where(good, over, -np.inf)))
        status = "violated"
    elif np.max(over) > 0:
        j = int(np.argmax(over))
        status = "inconclusive"
    else:
        j = int(np.argmax(over))
        status = "ok"
    return {"spec": spec, "constant": const, "claimed": claimed, "measured": measured,
            "worst_input": inputs[j], "excess": float(excess[j]), "tolerance": float(tol[j]),
            "ok": status != "violated", "status": status, "source": source}


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
        ``status`` (``ok``, ``violated``, or ``inconclusive`` when only
        inputs without a usable standard error exceed the claim: run more
        trials), ``ok`` (not violated) and the claim's ``source``.

    Notes
    -----
    The constraint tested per input, with ``n2 = ||x||^2``:

    * omega: ``E||C - x||^2/n2 - omega``;
    * delta: ``E||C - x||^2/n2 - (1 - delta)``; b3 likewise with ``1 - 1/b3``;
    * alpha: ``alpha - E||C||^2/n2``; gamma: ``gamma - E<C, x>/n2``;
    * beta: ``(E||C||^2 - beta E<C, x>)/n2``, whose standard error comes from
      the per-trial variances and covariance;
    * unbiased: ``bias_chi`` against ``z^2`` (see the module notes).
    """
    spec = df["spec"].iloc[0]
    src = claims.source
    rows = []
    inputs = list(df["input"])
    deg = _unreliable(df)
    deg_err = _unreliable(df, df["omega_se"], df["omega_skew"])

    def tols(se, scale):
        return [z * s + REL_EPS * max(1.0, abs(scale)) for s in se]

    if claims.kind == "unbiased":
        chi = df["bias_chi"].to_numpy()
        rows.append(_check(spec, "unbiased", 0.0, float(chi.max()), inputs, chi,
                           np.full(len(chi), z * z), deg, src))
    if claims.omega is not None:
        rows.append(_check(spec, "omega", claims.omega, float(df["omega"].max()), inputs,
                           df["omega"] - claims.omega, tols(df["omega_se"], claims.omega),
                           deg_err, src))
    for const, val in (("delta", claims.delta), ("b3", claims.b3)):
        if val is None:
            continue
        bound = 1.0 - val if const == "delta" else 1.0 - 1.0 / val
        wm = float(df["omega"].max())
        meas = 1.0 - wm if const == "delta" else (1.0 / (1.0 - wm) if wm < 1 else math.inf)
        rows.append(_check(spec, const, val, meas, inputs, df["omega"] - bound,
                           tols(df["omega_se"], 1.0), deg_err, src))
    for tag, pair in (("b1", claims.b1), ("b2", claims.b2)):
        if pair is None:
            continue
        lo, beta = pair
        col = "sq_norm" if tag == "b1" else "inner"
        name = "b1.alpha" if tag == "b1" else "b2.gamma"
        rows.append(_check(spec, name, lo, float(df[col].min()), inputs, lo - df[col],
                           tols(df[col + "_se"], lo),
                           _unreliable(df, df[col + "_se"], df[col + "_skew"]), src))
        var = df["var_sq_norm"] + beta * beta * df["var_inner"] - 2 * beta * df["cov"]
        se = np.sqrt(np.maximum(var, 0.0) / df["trials"])
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(df["inner"] > 0, df["sq_norm"] / df["inner"], np.inf)
        rows.append(_check(spec, f"{tag}.beta", beta, float(np.max(ratio)), inputs,
                           df["sq_norm"] - beta * df["inner"], tols(se, beta),
                           _unreliable(df, se, np.maximum(np.abs(df["sq_norm_skew"]),
                                                          np.abs(df["inner_skew"]))), src))
    return pd.DataFrame(rows, columns=CHECK_COLUMNS)


CHECK_COLUMNS = ["spec", "constant", "claimed", "measured", "worst_input", "excess",
                 "tolerance", "status", "ok", "source"]


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
