"""The theory: step sizes, rates and bounds, in one place, with their sources.

Every function takes problem constants (L, L_i, mu, n) and compressor
constants (omega_i of the unbiased Q_i, delta_i of the contractive C_i,
probabilities p_i) and returns a :class:`Theory` record: step sizes, the
linear rate, the neighbourhood and the Table 1 complexity, each with the
theorem and equation it comes from.

Source: E. Shulgin and P. Richtarik, "Shifted compression framework:
generalizations and improvements", UAI 2022 (``seeds/001``), Theorems 1-5,
equations (6)-(14), Table 1.  Items marked *reconstructed* are not in that
text (its supplement was not available); they are derived here and tests
treat them empirically.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, asdict
from typing import Optional

import numpy as np


@dataclass
class Theory:
    """Step sizes and guarantees of one method on one problem.

    ``rate``: the per-iteration contraction factor rho of the bound
    ``E Phi^k <= rho^k Phi^0 + neighbourhood`` (Phi = ||x - x*||^2, or the
    Lyapunov function V of Theorems 3-4).  ``complexity``: the simplified
    Table 1 iteration complexity (without log 1/eps).  ``iters(eps)`` gives
    the theorem's own iteration count log(Phi^0 / (eps Phi^0))/(1 - rho).
    """
    method: str
    theorem: str
    gamma: Optional[float] = None
    alpha: Optional[float] = None
    eta: Optional[float] = None
    M: Optional[float] = None
    p: Optional[np.ndarray] = None
    rate: float = 1.0
    neighbourhood: float = 0.0
    complexity: Optional[float] = None
    lyapunov_weights: Optional[np.ndarray] = None
    notes: list = field(default_factory=list)

    def iters(self, eps):
        """Iterations for the theorem's bound (without neighbourhood) to reach eps."""
        if self.rate >= 1.0:
            return math.inf
        return math.log(1.0 / eps) / -math.log(self.rate)

    def bound(self, k, phi0):
        """Right-hand side of the theorem's inequality at iteration(s) k."""
        k = np.asarray(k, dtype=float)
        return self.rate ** k * phi0 + self.neighbourhood

    def as_dict(self):
        d = asdict(self)
        for k, v in list(d.items()):
            if isinstance(v, np.ndarray):
                d[k] = v.tolist()
        return d


def _arr(v, n, name):
    a = np.broadcast_to(np.asarray(v, dtype=float), (n,)).copy()
    if np.any(~np.isfinite(a)):
        raise ValueError(f"{name} must be finite for the theoretical step size; got {a}")
    return a


def dcgd_fixed(L, L_i, mu, n, omega, h_dist_sq=None, method="dcgd-fixed"):
    """Theorem 1 (DCGD with fixed shifts h_i, eq. (6)).

    gamma = 1 / (L + 2 max_i L_i omega_i / n);
    E||x^k - x*||^2 <= (1 - gamma mu)^k ||x^0 - x*||^2
                      + (2 gamma / mu) (1/n) sum_i (omega_i / n) ||grad f_i(x*) - h_i||^2   (7).

    ``h_dist_sq[i] = ||grad f_i(x*) - h_i||^2`` (DCGD: h_i = 0).
    Table 1: kappa (1 + omega/n) in the interpolation regime.
    """
    L_i = _arr(L_i, n, "L_i")
    om = _arr(omega, n, "omega")
    gamma = 1.0 / (L + 2.0 * np.max(L_i * om / n))
    t = Theory(method, "Theorem 1, eq. (7)", gamma=gamma, rate=1.0 - gamma * mu)
    if h_dist_sq is not None:
        hd = _arr(h_dist_sq, n, "h_dist_sq")
        t.neighbourhood = (2.0 * gamma / mu) * np.mean(om / n * hd) if mu > 0 else math.inf
    t.complexity = (L / mu) * (1.0 + np.max(om) / n) if mu > 0 else math.inf
    return t


def dcgd_star(L, L_i, mu, n, omega, delta=0.0):
    """Theorem 2 (DCGD-STAR, shift (8)).

    gamma = 1 / (L + max_i L_i omega_i (1 - delta_i) / n)   (9);
    E||x^k - x*||^2 <= (1 - gamma mu)^k ||x^0 - x*||^2.
    delta_i = 0 for C_i = 0.  Table 1: kappa (1 + omega (1 - delta)/n).
    """
    L_i = _arr(L_i, n, "L_i")
    om = _arr(omega, n, "omega")
    dl = _arr(delta, n, "delta")
    gamma = 1.0 / (L + np.max(L_i * om * (1.0 - dl) / n))
    t = Theory("dcgd-star", "Theorem 2, eq. (9)", gamma=gamma, rate=1.0 - gamma * mu)
    t.complexity = (L / mu) * (1.0 + np.max(om * (1.0 - dl)) / n)
    return t


def diana(L, L_i, mu, n, omega, delta=0.0, alpha=None, M=None):
    """Theorem 3 (generalised DIANA, shift (10); C_i = 0 gives (11)).

    alpha <= 1 / (1 + omega_i (1 - delta_i)),
    gamma <= 1 / ((2/n) max_i omega_i L_i + (1 + alpha M) L_max),  M > 2/(n alpha);
    E V^k <= max{(1 - gamma mu)^k, (1 - alpha + 2 omega/(n M))^k} V^0,
    V = ||x - x*||^2 + M gamma^2 (1/n) sum_i omega_i ||h_i - grad f_i(x*)||^2.

    Reading used here: the estimator compresses with the induced compressor
    C_i + Q_i(. - C_i(.)) in U(omega_i (1 - delta_i)) (footnote 1 of 001), so
    omega_i in the gamma bound, in V and in the rate is omega_i (1 - delta_i)
    -- the reading under which Table 1's complexity
    max{kappa(1 + omega(1-delta)/n), omega(1-delta)} follows.
    M (free in the theorem) defaults to 4 max(1, omega~)/(n alpha): it
    satisfies M > 2/(n alpha) and makes the second factor <= 1 - alpha/2.
    """
    L_i = _arr(L_i, n, "L_i")
    om = _arr(omega, n, "omega") * (1.0 - _arr(delta, n, "delta"))
    amax = float(np.min(1.0 / (1.0 + om)))
    if alpha is None:
        alpha = amax
    wmax = float(np.max(om))
    if M is None:
        M = 4.0 * max(1.0, wmax) / (n * alpha)
    Lmax = float(np.max(L_i))
    gamma = 1.0 / ((2.0 / n) * np.max(om * L_i) + (1.0 + alpha * M) * Lmax)
    r2 = 1.0 - alpha + 2.0 * wmax / (n * M)
    t = Theory("diana", "Theorem 3", gamma=gamma, alpha=alpha, M=M,
               rate=max(1.0 - gamma * mu, r2), lyapunov_weights=om)
    if alpha > amax * (1 + 1e-12):
        t.notes.append(f"alpha={alpha:g} exceeds Theorem 3's 1/(1+omega(1-delta))={amax:g}")
    if M <= 2.0 / (n * alpha):
        t.notes.append(f"M={M:g} violates M > 2/(n alpha)={2 / (n * alpha):g}")
    t.complexity = max((L / mu) * (1.0 + wmax / n), wmax)
    return t


def rand_diana(L, L_i, mu, n, omega, p=None, M=None):
    """Theorem 4 (Rand-DIANA, shift (12)).

    gamma <= 1 / ((1 + 2 omega/n) L_max + M max_i p_i L_i),  M > 2 omega/(n p_min);
    E V^k <= max{(1 - gamma mu)^k, (1 - p_min + 2 omega/(n M))^k} V^0,
    V = ||x - x*||^2 + M gamma^2 (1/n) sum_i ||h_i - grad f_i(x*)||^2.
    Recommended (text after Thm 4): p_i = 1/(omega + 1), M = 4 omega/(n p_min).
    omega = max_i omega_i.  Table 1: max{kappa(1 + omega(1-delta)/n), 1/p}.
    """
    L_i = _arr(L_i, n, "L_i")
    om = _arr(omega, n, "omega")
    w = float(np.max(om))
    if p is None:
        p = 1.0 / (om + 1.0)
    p = _arr(p, n, "p")
    if np.any((p <= 0) | (p > 1)):
        raise ValueError(f"p must satisfy 0 < p <= 1, got {p}")
    pmin = float(np.min(p))
    if M is None:
        M = 4.0 * w / (n * pmin)
    Lmax = float(np.max(L_i))
    gamma = 1.0 / ((1.0 + 2.0 * w / n) * Lmax + M * np.max(p * L_i))
    r2 = 1.0 - pmin + (2.0 * w / (n * M) if M > 0 else 0.0)
    t = Theory("rand-diana", "Theorem 4", gamma=gamma, M=M, p=p,
               rate=max(1.0 - gamma * mu, r2), lyapunov_weights=np.ones(n))
    if w > 0 and M <= 2.0 * w / (n * pmin):
        t.notes.append(f"M={M:g} violates M > 2 omega/(n p_min)={2 * w / (n * pmin):g}")
    t.complexity = max((L / mu) * (1.0 + w / n), 1.0 / pmin)
    return t


def gdci(L, L_i, mu, n, omega, x_star_shift_sq=None, eta=None, gamma=None,
         method="gdci"):
    """Theorem 5 (distributed GDCI, eq. (13)).

    eta <= [L/mu + (2 omega/n)(L_max/mu - 1)]^-1,
    gamma <= (1 + 2 eta omega/n) / (eta (L + 2 L_max omega/n));
    E||x^k - x*||^2 <= (1 - eta)^k ||x^0 - x*||^2
                      + eta (2 omega/n) (1/n) sum_i ||x* - gamma grad f_i(x*)||^2   (14).
    ``x_star_shift_sq[i] = ||x* - gamma grad f_i(x*)||^2`` is evaluated at
    the returned gamma by the caller (see :func:`for_method`).
    Table 1: kappa (1 + omega/n) (previous analysis: kappa^2 (1 + omega/n)).
    """
    L_i = _arr(L_i, n, "L_i")
    w = float(np.max(_arr(omega, n, "omega")))
    Lmax = float(np.max(L_i))
    eta_max = 1.0 / (L / mu + (2.0 * w / n) * (Lmax / mu - 1.0))
    if eta is None:
        eta = eta_max
    g_max = (1.0 + 2.0 * eta * w / n) / (eta * (L + 2.0 * Lmax * w / n))
    if gamma is None:
        gamma = g_max
    t = Theory(method, "Theorem 5, eq. (14)", gamma=gamma, eta=eta, rate=1.0 - eta)
    if x_star_shift_sq is not None:
        t.neighbourhood = eta * (2.0 * w / n) * float(np.mean(x_star_shift_sq))
    t.complexity = (L / mu) * (1.0 + w / n)
    return t


def vr_gdci(L, L_i, mu, n, omega, alpha=None, eta=None, gamma=None):
    """VR-GDCI (*reconstructed*; the supplement of 001 was not available).

    Uses Theorem 5's eta and gamma and a DIANA-style shift step
    alpha = 1/(1 + omega) on the compressed iterates.  No bound is claimed:
    the test is empirical (linear convergence to x* where GDCI stalls).
    """
    t = gdci(L, L_i, mu, n, omega, eta=eta, gamma=gamma, method="vr-gdci")
    w = float(np.max(_arr(omega, n, "omega")))
    t.alpha = 1.0 / (1.0 + w) if alpha is None else alpha
    t.theorem = "reconstructed (VR-GDCI; no theorem in the available text)"
    t.neighbourhood = 0.0
    t.rate = 1.0
    t.notes.append("no rate claimed; empirical check only")
    return t


def gd(L, mu):
    """Gradient descent with gamma = 1/L: ||x^k - x*||^2 <= (1 - mu/L)^k ||x^0 - x*||^2."""
    return Theory("dgd", "folklore (GD, gamma = 1/L)", gamma=1.0 / L, rate=1.0 - mu / L,
                  complexity=L / mu)
