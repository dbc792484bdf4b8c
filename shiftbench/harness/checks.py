"""Fitting and bound-checking helpers for measured-versus-theory checks.

Pure NumPy functions, used by :mod:`shiftbench.table1` and unit-tested on
synthetic data (``tests/test_table1.py``):

* :func:`bound_check` -- does a Monte-Carlo mean stay below a theorem's
  right-hand side at every recorded iteration, up to a one-sided confidence
  margin derived from the number of runs?
* :func:`crossing`, :func:`crossing_jackknife` -- iterations for a (mean)
  trace to reach a level, with a jackknife standard error over runs.
* :func:`gd_mean_iters` -- the exact iteration count of gradient descent on
  a quadratic: a lower bound for every unbiased method whose mean iterate
  follows gradient descent (E x^{k+1} = x^k - gamma grad f(x^k)).
* :func:`loglog_fit`, :func:`slope_interval`, :func:`spread` -- the scaling
  statistics: the least-squares slope of log(measured) on log(predicted),
  the range of slopes that per-point bounds [lo_j, hi_j] allow (a linear
  programme with a closed form), and the spread max/min of measured/predicted.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, asdict

import numpy as np


# ----------------------------------------------------------------------------
# bounds

def t_quantile(runs, level):
    """One-sided Student-t quantile t_{1-level, runs-1} (normal if runs is huge)."""
    from scipy import stats
    runs = int(runs)
    if runs < 2:
        raise ValueError(f"need at least 2 runs for a confidence margin, got {runs}")
    return float(stats.t.ppf(1.0 - level, runs - 1))


@dataclass
class BoundCheck:
    """Result of :func:`bound_check`.

    ``passed``: at k = 0 all runs agree and sit at (or, with a
    neighbourhood, below) the bound, and at every other checked
    point ``mean - t sd/sqrt(R) <= bound``.  ``worst_z``: the largest
    standardised excess (mean - bound)/(sd/sqrt(R)) (negative when the mean is
    below the bound everywhere; +inf for a diverged run); ``worst_index``:
    where it occurs; ``max_ratio``: the largest mean/bound; ``points``: how
    many points were checked (the floor excludes the rest).
    """
    passed: bool
    t: float
    worst_z: float
    worst_index: int
    max_ratio: float
    k0_ok: bool
    points: int

    def as_dict(self):
        return asdict(self)


def bound_check(values, bound, level=1e-3, floor=1e-12, rtol=1e-9):
    """Check a Monte-Carlo mean against a theorem's right-hand side.

    Parameters
    ----------
    values : array (R, K)
        Per-run values of the bounded quantity (||x^k - x*||^2 or the
        Lyapunov function V^k) at K recorded iterations; index 0 is k = 0.
        NaN (a run that stopped, e.g. diverged) counts as +inf.
    bound : array (K,)
        The theorem's right-hand side at the same iterations; bound[0] is
        Phi^0 plus the neighbourhood (Phi^0: the initial value, which every
        run shares).
    level : float
        One-sided level of the per-point test: the mean may exceed the
        bound by at most t_{1-level, R-1} standard errors.  The points of one
        trace are strongly dependent, so no multiple-comparison correction.
    floor : float
        Points where the bound is below ``floor * bound[0]`` are not checked
        (double-precision round-off in x* and in the iterates is ~1e-30
        relative; the checks stop far above it).
    rtol : float
        Relative round-off allowed in the comparison (and at k = 0).

    Returns
    -------
    BoundCheck
    """
    V = np.asarray(values, dtype=float)
    b = np.asarray(bound, dtype=float)
    if V.ndim != 2 or V.shape[1] != b.size:
        raise ValueError(f"values must be (runs, K) with K = bound.size; got {V.shape}, {b.shape}")
    R = V.shape[0]
    V = np.where(np.isnan(V), np.inf, V)
    t = t_quantile(R, level)
    with np.errstate(invalid="ignore", over="ignore"):
        mean = V.mean(axis=0)
        sd = V.std(axis=0, ddof=1)
    se = sd / math.sqrt(R)
    # k = 0: every run starts from the same point, and the bound there is
    # Phi^0 (+ the neighbourhood, if any): equality up to the neighbourhood
    v0 = V[:, 0]
    k0_ok = bool(np.all(np.abs(v0 - v0[0]) <= rtol * abs(v0[0]) + 1e-300)
                 and v0[0] <= b[0] * (1 + rtol) + 1e-300)
    sel = np.arange(1, b.size)
    sel = sel[b[sel] >= floor * b[0]]
    if sel.size == 0:
        return BoundCheck(k0_ok, t, -math.inf, 0, 1.0, k0_ok, 0)
    m, s, bb = mean[sel], se[sel], b[sel]
    tol = rtol * np.abs(bb)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        excess = m - bb - tol
        z = np.where(np.isinf(m), np.inf,
                     np.where(s > 0, excess / np.where(s > 0, s, 1.0),
                              np.where(excess > 0, np.inf, -np.inf)))
        ratio = np.where(bb > 0, m / bb, np.inf)
    ok = bool(np.all(m - t * np.where(np.isfinite(s), s, 0.0) <= bb + tol)
              and np.all(np.isfinite(m)))
    w = int(np.argmax(z))
    return BoundCheck(ok and k0_ok, t, float(z[w]), int(sel[w]), float(np.max(ratio)),
                      k0_ok, int(sel.size))


# ----------------------------------------------------------------------------
# iterations to reach a level

def crossing(k, y, level):
    """First iteration where the trace ``y`` (recorded at iterations ``k``)
    is <= ``level``, interpolated log-linearly between the two recorded points
    around the crossing; NaN if it never gets there."""
    k = np.asarray(k, dtype=float)
    y = np.asarray(y, dtype=float)
    below = np.nonzero(y <= level)[0]
    if below.size == 0:
        return math.nan
    i = int(below[0])
    if i == 0:
        return float(k[0])
    y0, y1 = y[i - 1], y[i]
    if not (np.isfinite(y0) and y0 > level and y1 > 0):
        return float(k[i])
    f = (math.log(y0) - math.log(level)) / (math.log(y0) - math.log(y1))
    return float(k[i - 1] + f * (k[i] - k[i - 1]))


def crossing_jackknife(k, values, level):
    """Crossing of the mean of ``values`` (R, K) and its jackknife standard
    error over runs: (estimate, se).  se is NaN if a leave-one-out mean never
    crosses."""
    V = np.where(np.isnan(values), np.inf, np.asarray(values, dtype=float))
    R = V.shape[0]
    with np.errstate(invalid="ignore", over="ignore"):
        tot = V.sum(axis=0)
        est = crossing(k, tot / R, level)
        if R < 2:
            return est, math.nan
        loo = np.array([crossing(k, (tot - V[r]) / (R - 1), level) for r in range(R)])
    if not np.all(np.isfinite(loo)):
        return est, math.nan
    se = math.sqrt((R - 1) / R * float(np.sum((loo - loo.mean()) ** 2)))
    return est, se


def gd_mean_iters(eigs, coef, step, eps, kmax=10 ** 9):
    """Iterations of gradient descent x <- x - step H (x - x*) on a quadratic
    with Hessian eigenvalues ``eigs`` until ||x - x*||^2 <= eps ||x0 - x*||^2,
    where ``coef`` are the coordinates of x0 - x* in the eigenbasis (real
    valued: the first k with sum_j (1 - step l_j)^(2k) c_j^2 <= eps sum c_j^2,
    by bisection).

    For a method whose gradient estimator is unbiased, the mean iterate
    follows exactly this recursion on a quadratic, and by Jensen
    E||x^k - x*||^2 >= ||E x^k - x*||^2, so this is a lower bound on the
    iterations for the mean squared distance to reach eps.  inf if some
    direction with c_j != 0 does not contract.
    """
    lam = np.asarray(eigs, dtype=float)
    c2 = np.asarray(coef, dtype=float) ** 2
    tot = float(c2.sum())
    if tot == 0.0:
        return 0.0
    a = np.abs(1.0 - step * lam)
    act = c2 > 1e-30 * tot
    if np.any(a[act] >= 1.0):
        return math.inf
    la = np.log(np.maximum(a, 1e-300))

    def g(kk):
        return float(np.sum(c2[act] * np.exp(2.0 * kk * la[act]))) / tot - eps

    if g(0.0) <= 0:
        return 0.0
    lo, hi = 0.0, 1.0
    while g(hi) > 0:
        lo, hi = hi, hi * 2.0
        if hi > kmax:
            return math.inf
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if g(mid) > 0:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-6 * max(1.0, hi):
            break
    return hi


# ----------------------------------------------------------------------------
# scaling fits

def loglog_fit(x, y):
    """Least-squares fit log y = a + b log x: returns (slope b, intercept a)."""
    u = np.log(np.asarray(x, dtype=float))
    v = np.log(np.asarray(y, dtype=float))
    if u.size < 2 or np.ptp(u) == 0:
        raise ValueError("a log-log fit needs at least two distinct x values")
    uc = u - u.mean()
    b = float(np.dot(uc, v - v.mean()) / np.dot(uc, uc))
    return b, float(v.mean() - b * u.mean())


def slope_weights(x):
    """OLS weights w with slope = sum_j w_j log y_j (sum w_j = 0, sum w_j log x_j = 1)."""
    u = np.log(np.asarray(x, dtype=float))
    uc = u - u.mean()
    return uc / np.dot(uc, uc)


def slope_interval(x, lo, hi):
    """Range of the least-squares slope of log y on log x when each y_j may
    lie anywhere in [lo_j, hi_j].

    The slope is linear in log y (``slope_weights``), so its extremes over
    the box are attained at corners: max = sum_j w_j log(hi_j if w_j > 0 else
    lo_j), min likewise.  With per-point bounds derived from theory (see
    :mod:`shiftbench.table1`) this is the slope interval the theory permits,
    constants and log factors included.
    """
    w = slope_weights(x)
    llo = np.log(np.asarray(lo, dtype=float))
    lhi = np.log(np.asarray(hi, dtype=float))
    if np.any(llo > lhi):
        raise ValueError("need lo <= hi for every point")
    smax = float(np.sum(np.where(w > 0, w * lhi, w * llo)))
    smin = float(np.sum(np.where(w > 0, w * llo, w * lhi)))
    return smin, smax


def slope_se(x, y, y_se):
    """Standard error of the log-log slope from independent errors y_se of y
    (delta method: se(log y_j) = y_se_j / y_j)."""
    w = slope_weights(x)
    r = np.asarray(y_se, dtype=float) / np.asarray(y, dtype=float)
    return float(math.sqrt(np.sum((w * r) ** 2)))


def spread(ratios):
    """max/min of positive ratios (1 = perfectly proportional)."""
    r = np.asarray(ratios, dtype=float)
    if r.size == 0 or np.any(~(r > 0)) or np.any(~np.isfinite(r)):
        return math.inf
    return float(r.max() / r.min())
