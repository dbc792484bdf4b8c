"""The theory: step sizes, rates and bounds, in one place, with their sources.

Every function takes problem constants (L, L_i, mu, n) and compressor
constants (omega_i of the unbiased Q_i, delta_i of the contractive C_i,
probabilities p_i) and returns a :class:`Theory` record: step sizes, the
linear rate, the neighbourhood and the Table 1 complexity, each with the
theorem and equation it comes from.

Source: E. Shulgin and P. Richtarik, "Shifted compression framework:
generalizations and improvements", UAI 2022, Theorems 1-5,
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
    valid: bool = True          # False when a parameter violates the theorem's conditions
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


def _use_gamma(t, gmax, gamma):
    """Apply a user step size: the bound is evaluated at it, and flagged when
    it exceeds the theorem's condition (then no guarantee is claimed)."""
    if gamma is not None:
        if gamma > gmax * (1 + 1e-12):
            t.notes.append(f"gamma={gamma:g} exceeds the theorem's {gmax:g}: no guarantee")
            t.valid = False
        t.gamma = float(gamma)
    return t.gamma


def dcgd_fixed(L, L_i, mu, n, omega, h_dist_sq=None, method="dcgd-fixed", gamma=None):
    """Theorem 1 (DCGD with fixed shifts h_i, eq. (6)).

    gamma = 1 / (L + 2 max_i L_i omega_i / n);
    E||x^k - x*||^2 <= (1 - gamma mu)^k ||x^0 - x*||^2
                      + (2 gamma / mu) (1/n) sum_i (omega_i / n) ||grad f_i(x*) - h_i||^2   (7).

    ``h_dist_sq[i] = ||grad f_i(x*) - h_i||^2`` (DCGD: h_i = 0).
    Table 1: kappa (1 + omega/n) in the interpolation regime.
    """
    L_i = _arr(L_i, n, "L_i")
    om = _arr(omega, n, "omega")
    gmax = 1.0 / (L + 2.0 * np.max(L_i * om / n))
    t = Theory(method, "Theorem 1, eq. (7)", gamma=gmax)
    gamma = _use_gamma(t, gmax, gamma)
    t.rate = 1.0 - gamma * mu
    if h_dist_sq is not None:
        hd = _arr(h_dist_sq, n, "h_dist_sq")
        t.neighbourhood = (2.0 * gamma / mu) * np.mean(om / n * hd) if mu > 0 else math.inf
    t.complexity = (L / mu) * (1.0 + np.max(om) / n) if mu > 0 else math.inf
    return t


def dcgd_star(L, L_i, mu, n, omega, delta=0.0, gamma=None):
    """Theorem 2 (DCGD-STAR, shift (8)).

    gamma = 1 / (L + max_i L_i omega_i (1 - delta_i) / n)   (9);
    E||x^k - x*||^2 <= (1 - gamma mu)^k ||x^0 - x*||^2.
    delta_i = 0 for C_i = 0.  Table 1: kappa (1 + omega (1 - delta)/n).
    """
    L_i = _arr(L_i, n, "L_i")
    om = _arr(omega, n, "omega")
    dl = _arr(delta, n, "delta")
    gmax = 1.0 / (L + np.max(L_i * om * (1.0 - dl) / n))
    t = Theory("dcgd-star", "Theorem 2, eq. (9)", gamma=gmax)
    t.rate = 1.0 - _use_gamma(t, gmax, gamma) * mu
    t.complexity = (L / mu) * (1.0 + np.max(om * (1.0 - dl)) / n)
    return t


def diana(L, L_i, mu, n, omega, delta=0.0, alpha=None, M=None, gamma=None):
    """Theorem 3 (generalised DIANA, shift (10); C_i = 0 gives (11)).

    alpha <= 1 / (1 + omega_i (1 - delta_i)),
    gamma <= 1 / ((2/n) max_i omega_i L_i + (1 + alpha M) L_max),  M > 2/(n alpha);
    E V^k <= max{(1 - gamma mu)^k, (1 - alpha + 2 omega/(n M))^k} V^0,
    V = ||x - x*||^2 + M gamma^2 (1/n) sum_i omega_i ||h_i - grad f_i(x*)||^2.

    Reading used here: the estimator compresses with the induced compressor
    C_i + Q_i(. - C_i(.)) in U(omega_i (1 - delta_i)) (footnote 1 of the
    paper), so omega_i in the gamma bound, in V and in the rate is
    omega_i (1 - delta_i) =: omega~_i -- the reading under which Table 1's
    complexity max{kappa(1 + omega(1-delta)/n), omega(1-delta)} follows.

    Lyapunov weights: 1, not omega_i.  As printed, Theorem 3 mixes two
    parametrisations: V weighted by omega_i (with M > 2/(n alpha)) needs
    gamma <= 1/(L + (2/n + alpha M) max_i omega_i L_i) and has second factor
    1 - alpha + 2/(n M); the printed gamma bound and factor
    1 - alpha + 2 omega/(n M) are those of the unweighted
    V = ||x - x*||^2 + M gamma^2 (1/n) sum_i ||h_i - grad f_i(x*)||^2 (the
    original DIANA analysis; both coincide for omega_i = 1 and M_unweighted =
    omega M_weighted).  With the printed gamma and the weighted V the bound
    fails (measured: n = 1, omega = 9, E V^k exceeds it by 4% at k = 5, 256
    runs, z = 37; python -m shiftbench.table1), so V here is unweighted, and
    so are M's default and its condition:

    * condition: M > 2 max_i omega~_i/(n alpha), exactly what makes the
      second factor 1 - alpha + 2 omega~/(n M) < 1 (the printed M > 2/(n alpha)
      is the weighted V's condition and is not used);
    * default: M = 4 max_i omega~_i/(n alpha), which makes the second factor
      1 - alpha/2 -- the same choice as Rand-DIANA's recommended
      M = 4 omega/(n p) (Theorem 4), so that with p = alpha = 1/(omega + 1)
      both methods get the same step size.  (M = 0 when omega~ = 0: no
      compression error, V = ||x - x*||^2.)
    """
    L_i = _arr(L_i, n, "L_i")
    om = _arr(omega, n, "omega") * (1.0 - _arr(delta, n, "delta"))
    amax = float(np.min(1.0 / (1.0 + om)))
    if alpha is None:
        alpha = amax
    wmax = float(np.max(om))
    if M is None:
        M = 4.0 * wmax / (n * alpha)
    Lmax = float(np.max(L_i))
    gmax = 1.0 / ((2.0 / n) * np.max(om * L_i) + (1.0 + alpha * M) * Lmax)
    r2 = 1.0 - alpha + ((2.0 * wmax / (n * M) if M > 0 else math.inf) if wmax > 0 else 0.0)
    t = Theory("diana", "Theorem 3", gamma=gmax, alpha=alpha, M=M,
               lyapunov_weights=np.ones(n))
    t.rate = max(1.0 - _use_gamma(t, gmax, gamma) * mu, r2)
    if alpha > amax * (1 + 1e-12):
        t.valid = False
        t.notes.append(f"alpha={alpha:g} exceeds Theorem 3's 1/(1+omega(1-delta))={amax:g}")
    if wmax > 0 and not M > 2.0 * wmax / (n * alpha):
        # the unweighted V's condition (see above): the second factor r2 < 1
        t.valid = False
        t.notes.append(f"M={M:g} violates M > 2 omega/(n alpha)={2 * wmax / (n * alpha):g} "
                       f"(second rate factor {r2:g} >= 1)")
    t.complexity = max((L / mu) * (1.0 + wmax / n), wmax)
    return t


def rand_diana(L, L_i, mu, n, omega, p=None, M=None, gamma=None):
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
    gmax = 1.0 / ((1.0 + 2.0 * w / n) * Lmax + M * np.max(p * L_i))
    r2 = 1.0 - pmin + (2.0 * w / (n * M) if M > 0 else 0.0)
    t = Theory("rand-diana", "Theorem 4", gamma=gmax, M=M, p=p, lyapunov_weights=np.ones(n))
    t.rate = max(1.0 - _use_gamma(t, gmax, gamma) * mu, r2)
    if w > 0 and M <= 2.0 * w / (n * pmin):
        t.notes.append(f"M={M:g} violates M > 2 omega/(n p_min)={2 * w / (n * pmin):g}")
        t.valid = False
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
    the returned gamma by the caller.
    Table 1: kappa (1 + omega/n) (previous analysis: kappa^2 (1 + omega/n)).

    A user gamma below the bound (derived here from the one-step inequality
    of Theorem 5's proof; the supplement with the proof was not available).
    With y_i = x - gamma grad f_i(x), unbiasedness and independence of the
    Q_i, E||Q_i(y) - y||^2 <= omega ||y||^2, ||y_i||^2 <= 2||y_i - y_i*||^2 +
    2||y_i*||^2 (y_i* = x* - gamma grad f_i(x*)), co-coercivity
    (1/n) sum_i ||grad f_i(x) - grad f_i(x*)||^2 <= L_max <grad f(x), x - x*>,
    ||grad f(x)||^2 <= L <grad f(x), x - x*> and strong convexity
    <grad f(x), x - x*> >= mu ||x - x*||^2 give, for
    0 < gamma <= 2 gamma_max(eta),

        E||x^+ - x*||^2 <= rho ||x - x*||^2 + (2 eta^2 omega/n) (1/n) sum_i ||y_i*||^2,
        rho(gamma, eta) = 1 + 2 eta^2 omega/n - 2 eta gamma mu (1 + 2 eta omega/n)
                          + eta^2 gamma^2 mu (L + 2 L_max omega/n).

    rho is smallest at gamma = gamma_max(eta), where rho <= 1 - eta exactly when
    eta <= eta_max: Theorem 5.  For gamma < gamma_max the rate is rho(gamma,
    eta) > 1 - eta (quadratic(kappa=10, n=2, interp=1), Rand-K(q=0.1),
    gamma_max/10: rho gives 15245 iterations to 1e-8, the mean of 16 runs
    took 7006 -- Theorem 5's 1 - eta would claim 1667), and the
    neighbourhood is (2 eta^2 omega/n) (1/n) sum_i ||y_i*||^2 / (1 - rho),
    which is (14) at gamma_max.  The theory is flagged invalid when rho >= 1.
    """
    L_i = _arr(L_i, n, "L_i")
    w = float(np.max(_arr(omega, n, "omega")))
    Lmax = float(np.max(L_i))
    eta_max = 1.0 / (L / mu + (2.0 * w / n) * (Lmax / mu - 1.0))
    if eta is None:
        eta = eta_max
    S = L + 2.0 * Lmax * w / n
    g_max = (1.0 + 2.0 * eta * w / n) / (eta * S)
    t = Theory(method, "Theorem 5, eq. (14)", gamma=g_max, eta=eta, rate=1.0 - eta)
    _use_gamma(t, g_max, gamma)
    if eta > eta_max * (1 + 1e-12):
        t.notes.append(f"eta={eta:g} exceeds Theorem 5's {eta_max:g}: no guarantee")
        t.valid = False
    if gamma is not None and gamma < g_max * (1 - 1e-12):
        rho = gdci_rate(gamma, eta, L, Lmax, mu, n, w)
        t.rate = rho
        t.notes.append(f"gamma={gamma:g} below Theorem 5's {g_max:g}: rate {rho:.6g} from "
                       f"the proof's one-step inequality (1 - eta = {1 - eta:.6g} holds at "
                       f"gamma_max only)")
        if rho >= 1.0:
            t.valid = False
            t.notes.append(f"rate {rho:g} >= 1: no contraction claimed")
    if x_star_shift_sq is not None:
        t.neighbourhood = gdci_neighbourhood(t, n, w, x_star_shift_sq)
    t.complexity = (L / mu) * (1.0 + w / n)
    return t


def gdci_rate(gamma, eta, L, L_max, mu, n, omega):
    """The one-step factor rho(gamma, eta) of Theorem 5's proof (see :func:`gdci`):
    1 + 2 eta^2 omega/n - 2 eta gamma mu (1 + 2 eta omega/n)
    + eta^2 gamma^2 mu (L + 2 L_max omega/n); valid for gamma <= 2 gamma_max(eta)."""
    w = float(omega)
    return (1.0 + 2.0 * eta ** 2 * w / n - 2.0 * eta * gamma * mu * (1.0 + 2.0 * eta * w / n)
            + eta ** 2 * gamma ** 2 * mu * (L + 2.0 * L_max * w / n))


def gdci_neighbourhood(t, n, omega, x_star_shift_sq):
    """(2 eta^2 omega/n) (1/n) sum_i ||x* - gamma grad f_i(x*)||^2 / (1 - rho) for
    the Theory ``t`` of :func:`gdci` (= eta (2 omega/n) mean, eq. (14), when
    rho = 1 - eta); inf when rho >= 1."""
    m = float(np.mean(np.asarray(x_star_shift_sq, dtype=float)))
    if t.rate >= 1.0:
        return math.inf
    return 2.0 * t.eta ** 2 * float(omega) / n * m / (1.0 - t.rate)


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


def gd(L, mu, gamma=None):
    """Gradient descent with gamma <= 1/L: ||x^k - x*||^2 <= (1 - gamma mu)^k ||x^0 - x*||^2."""
    t = Theory("dgd", "folklore (GD, gamma <= 1/L)", gamma=1.0 / L, complexity=L / mu)
    t.rate = 1.0 - _use_gamma(t, 1.0 / L, gamma) * mu
    return t


# ============================================================================
# Biased compression, error feedback and three point compressors
# (Beznosikov et al.; Richtarik et al., 3PC).  Appended for shiftbench.methods.tpc.
# ============================================================================

@dataclass
class TPCTheory(Theory):
    """:class:`Theory` of a 3PC / CGD / EF method, with its extra constants.

    ``A``, ``B``: the 3PC constants of the mechanism (3PC paper's table, reconstructed);
    ``gamma_nc``: the nonconvex step 1/(L_- + L_+ sqrt(B/A));
    ``gamma_pl``: the PL step min{1/(L_- + L_+ sqrt(2B/A)), A/(2 mu)}
    (the A/(2 mu) term is reconstructed);
    ``L_minus``, ``L_plus``: the smoothness constants used;
    ``cls``: the compressor class whose complexity is used (CGD).
    """
    A: Optional[float] = None
    B: Optional[float] = None
    gamma_nc: Optional[float] = None
    gamma_pl: Optional[float] = None
    L_minus: Optional[float] = None
    L_plus: Optional[float] = None
    cls: Optional[str] = None

    def grad_bound(self, T, delta0, G0):
        """Nonconvex bound E||grad f(x^)||^2 <= 2 Delta_0/(gamma T) + G^0/(A T)
        (3PC paper, reconstructed; G^0 = (1/n) sum ||g_i^0 - grad f_i(x^0)||^2,
        which is 0 with g_i^0 = grad f_i(x^0))."""
        T = np.asarray(T, dtype=float)
        return 2.0 * delta0 / (self.gamma * T) + G0 / (self.A * T)


def _contractive_alpha(alpha, what):
    if alpha is None or not (0.0 < float(alpha) <= 1.0):
        raise ValueError(f"{what}: needs a contractive compressor with claimed 0 < alpha <= 1 "
                         f"(E||C(x) - x||^2 <= (1 - alpha)||x||^2), got {alpha}; "
                         f"pass gamma, or use e.g. top-k, crand-k, or scale(Q, lam=1/(1+omega))")
    return float(alpha)


def _ef21_ab(a):
    """EF21's (A, B) for alpha: (1 - sqrt(1 - a), (1 - a)/(1 - sqrt(1 - a)))."""
    s = math.sqrt(1.0 - a)
    A = 1.0 - s
    return A, (1.0 - a) / A


def tpc_ab(mechanism, alpha=None, omega=None, zeta=None, p=None, alpha2=None,
           inner=None):
    """The 3PC constants (A, B) of a mechanism (reconstructed from the 3PC paper,
    Richtarik et al., ICML 2022; not stated in the available texts).

    ``alpha``: contractive parameter of C (C_1 for 3PCv4); ``omega``: variance
    of the unbiased Q (3PCv2); ``zeta``: the LAG/CLAG trigger; ``p``: the
    probability of 3PCv5; ``alpha2``: contractive parameter of C_2 (3PCv4, and
    the EF21/CLAG inner of 3PCv3); ``inner``: 3PCv3's inner mechanism
    ("ef21", "lag" or "clag").

    ============  ==========================================  ==========================================
    mechanism     A                                           B
    ============  ==========================================  ==========================================
    ef21          1 - sqrt(1 - alpha)                         (1 - alpha)/(1 - sqrt(1 - alpha))
    lag           1                                           zeta
    clag          1 - sqrt(1 - alpha)                         max{(1 - alpha)/(1 - sqrt(1 - alpha)), zeta}
    3pcv1         1                                           1 - alpha
    3pcv2         alpha                                       (1 - alpha) omega
    3pcv3         1 - (1 - alpha)(1 - A_1)                    (1 - alpha) B_1   (A_1, B_1: the inner's)
    3pcv4         1 - sqrt(1 - abar)                          (1 - abar)/(1 - sqrt(1 - abar)),
                                                              abar = 1 - (1 - alpha)(1 - alpha2)
    3pcv5         1 - sqrt(1 - p)                             (1 - p)(1 - alpha)/(1 - sqrt(1 - p))
    ============  ==========================================  ==========================================

    Returns
    -------
    (float, float)
    """
    m = mechanism
    if m == "ef21":
        return _ef21_ab(_contractive_alpha(alpha, m))
    if m == "lag":
        return 1.0, _zeta(zeta, m)
    if m == "clag":
        A, B = _ef21_ab(_contractive_alpha(alpha, m))
        return A, max(B, _zeta(zeta, m))
    if m == "3pcv1":
        return 1.0, 1.0 - _contractive_alpha(alpha, m)
    if m == "3pcv2":
        a = _contractive_alpha(alpha, m)
        if omega is None or not (omega >= 0 and math.isfinite(omega)):
            raise ValueError(f"3pcv2: needs an unbiased Q with a claimed omega >= 0 "
                             f"(compressor2), got {omega}")
        return a, (1.0 - a) * float(omega)
    if m == "3pcv3":
        a = _contractive_alpha(alpha, m)
        if inner not in ("ef21", "lag", "clag"):
            raise ValueError(f"3pcv3: inner must be one of ef21, lag, clag; got {inner!r}")
        A1, B1 = tpc_ab(inner, alpha=alpha2, zeta=zeta)
        return 1.0 - (1.0 - a) * (1.0 - A1), (1.0 - a) * B1
    if m == "3pcv4":
        a1 = _contractive_alpha(alpha, "3pcv4 (C_1)")
        a2 = _contractive_alpha(alpha2, "3pcv4 (C_2)")
        return _ef21_ab(1.0 - (1.0 - a1) * (1.0 - a2))
    if m == "3pcv5":
        a = _contractive_alpha(alpha, m)
        if p is None or not (0.0 < p <= 1.0):
            raise ValueError(f"3pcv5: p must satisfy 0 < p <= 1, got {p}")
        s = math.sqrt(1.0 - p)
        A = 1.0 - s
        return A, (1.0 - p) * (1.0 - a) / A
    raise ValueError(f"no 3PC constants for {mechanism!r}; allowed: ef21, lag, clag, "
                     f"3pcv1, 3pcv2, 3pcv3, 3pcv4, 3pcv5")


def _zeta(zeta, what):
    if zeta is None or not (zeta >= 0 and math.isfinite(zeta)):
        raise ValueError(f"{what}: the trigger zeta must be a finite number >= 0, got {zeta}")
    return float(zeta)


def tpc_steps(A, B, L_minus, L_plus, mu=0.0):
    """3PC step sizes (reconstructed from Richtarik et al., 3PC, ICML 2022).

    Nonconvex: gamma = 1/(L_- + L_+ sqrt(B/A)), with
    E||grad f(x^_T)||^2 <= 2 Delta_0/(gamma T) + G^0/(A T).
    PL (mu > 0): gamma = min{1/(L_- + L_+ sqrt(2B/A)), A/(2 mu)} (the A/(2 mu)
    term is reconstructed), with a linear rate (1 - gamma mu)^T.

    Returns
    -------
    (float, float or None)
        (gamma_nonconvex, gamma_pl); gamma_pl is None when mu = 0.
    """
    g_nc = 1.0 / (L_minus + L_plus * math.sqrt(B / A))
    g_pl = None
    if mu > 0:
        g_pl = min(1.0 / (L_minus + L_plus * math.sqrt(2.0 * B / A)), A / (2.0 * mu))
    return g_nc, g_pl


def tpc(mechanism, L_minus, L_plus, mu=0.0, **consts):
    """Theory of a 3PC method: (A, B) (:func:`tpc_ab`) and its steps (:func:`tpc_steps`).

    ``gamma`` defaults to the nonconvex step (valid with or without PL);
    ``gamma_pl`` and the PL rate are recorded when mu > 0.  For EF21
    (Richtarik, Sokolov & Fatkhullin, NeurIPS 2021), theta = A and
    beta = B with L~ = sqrt(mean L_i^2) in the role of L_+.
    """
    A, B = tpc_ab(mechanism, **consts)
    g_nc, g_pl = tpc_steps(A, B, L_minus, L_plus, mu)
    name = "EF21 Thm (theta = A, beta = B)" if mechanism == "ef21" else "3PC"
    t = TPCTheory(mechanism, f"{name}: gamma <= 1/(L_- + L_+ sqrt(B/A)) "
                             f"(reconstructed from Richtarik et al., 3PC, ICML 2022)",
                  gamma=g_nc, A=A, B=B, gamma_nc=g_nc, gamma_pl=g_pl,
                  L_minus=L_minus, L_plus=L_plus,
                  p=None if consts.get("p") is None else np.atleast_1d(float(consts["p"])))
    t.notes.append(f"3PC constants A={A:.6g}, B={B:.6g}")
    if mechanism == "ef21":
        t.notes.append(f"EF21: theta={A:.6g}, beta={B:.6g}")
    if g_pl is not None:
        t.rate = 1.0 - g_pl * mu
        t.notes.append(f"PL step gamma_pl={g_pl:.6g} (A/(2 mu) term reconstructed), "
                       f"rate (1 - gamma_pl mu)")
    return t


def ef21(L_minus, L_plus, alpha, mu=0.0):
    """EF21 (Richtarik, Sokolov & Fatkhullin 2021): theta = 1 - sqrt(1 - alpha),
    beta = (1 - alpha)/(1 - sqrt(1 - alpha)), gamma <= 1/(L + L~ sqrt(beta/theta))."""
    return tpc("ef21", L_minus, L_plus, mu, alpha=alpha)


def marina(L_minus, L_plus, n, omega, p=None):
    """MARINA (Gorbunov et al., ICML 2021, Thm 2.1; *reconstructed* here, not in
    the seeds): gamma <= 1/(L_- + L_+ sqrt((1 - p) omega/(p n))); the default
    p = 1/(omega + 1) (the expected density of Rand-K) is a reconstructed choice."""
    if omega is None or not (omega >= 0 and math.isfinite(omega)):
        raise ValueError(f"marina: needs an unbiased compressor with a claimed omega >= 0, "
                         f"got {omega}")
    if p is None:
        p = 1.0 / (1.0 + omega)
    if not (0.0 < p <= 1.0):
        raise ValueError(f"marina: p must satisfy 0 < p <= 1, got {p}")
    g = 1.0 / (L_minus + L_plus * math.sqrt((1.0 - p) * omega / (p * n)))
    t = TPCTheory("marina", "MARINA, Gorbunov et al. 2021, Thm 2.1 (reconstructed)",
                  gamma=g, gamma_nc=g, L_minus=L_minus, L_plus=L_plus,
                  p=np.atleast_1d(float(p)))
    t.notes.append("not a 3PC; shown for comparison")
    return t


def cgd_complexity(cls, L, mu, **c):
    """Iteration complexity of CGD x^{k+1} = x^k - eta C(grad f(x^k)) per class
    (Beznosikov et al.'s table; multiply by log(1/eps)):

    * U(zeta): zeta L/mu  (``zeta``)
    * B1(alpha, beta): beta^2 L/(alpha mu)  (``alpha``, ``beta``)
    * B2(gamma, beta): beta L/(gamma mu)  (``gamma``, ``beta``)
    * B3(delta): delta L/mu  (``delta``)
    """
    k = L / mu if mu > 0 else math.inf
    if cls == "U":
        return c["zeta"] * k
    if cls == "B1":
        return c["beta"] ** 2 * k / c["alpha"]
    if cls == "B2":
        return c["beta"] * k / c["gamma"]
    if cls == "B3":
        return c["delta"] * k
    raise ValueError(f"unknown class {cls!r}; allowed: U, B1, B2, B3")


def cgd_step(cls, L, **c):
    """CGD step for which Beznosikov et al.'s complexity follows (*derived* here with the
    descent lemma; the poster states the complexities only):
    U(zeta): 1/(zeta L); B1(alpha, beta) and B2(gamma, beta): 1/(beta L);
    B3(delta): 1/L.  Each gives f(x^{k+1}) - f* <= (1 - 1/K)(f(x^k) - f*) with K
    the class complexity (in expectation for random C)."""
    if cls == "U":
        return 1.0 / (c["zeta"] * L)
    if cls in ("B1", "B2"):
        return 1.0 / (c["beta"] * L)
    if cls == "B3":
        return 1.0 / L
    raise ValueError(f"unknown class {cls!r}; allowed: U, B1, B2, B3")


def cgd_classes(claims):
    """The classes a compressor's claims put it in, as {cls: constants}."""
    out = {}
    if claims.kind == "unbiased" and claims.omega is not None:
        out["U"] = {"zeta": 1.0 + claims.omega}
    if claims.b1 is not None:
        out["B1"] = {"alpha": claims.b1[0], "beta": claims.b1[1]}
    if claims.b2 is not None:
        out["B2"] = {"gamma": claims.b2[0], "beta": claims.b2[1]}
    if claims.b3 is not None:
        out["B3"] = {"delta": claims.b3}
    return out


def cgd(L, mu, claims):
    """Theory of CGD (single node) with a compressor's claimed classes.

    Among the classes the claims give (:func:`cgd_classes`), the one with the
    smallest Beznosikov et al. complexity (:func:`cgd_complexity`) is used; its step
    is :func:`cgd_step` and the rate in f(x) - f* is 1 - 1/complexity.
    """
    cl = cgd_classes(claims)
    if not cl:
        raise ValueError("cgd: the compressor claims no class (U, B1, B2, B3); pass gamma")
    if not mu > 0:
        best = min(cl, key=lambda c: cgd_complexity(c, 1.0, 1.0, **cl[c]))
        K = math.inf
    else:
        best = min(cl, key=lambda c: cgd_complexity(c, L, mu, **cl[c]))
        K = cgd_complexity(best, L, mu, **cl[best])
    g = cgd_step(best, L, **cl[best])
    consts = ", ".join(f"{k}={v:.6g}" for k, v in cl[best].items())
    t = TPCTheory("cgd", f"Beznosikov et al. CGD complexity for {best}({consts}); step derived",
                  gamma=g, rate=1.0 - 1.0 / K if math.isfinite(K) else 1.0,
                  complexity=K, L_minus=L, cls=best)
    for c, v in cl.items():
        if mu > 0:
            t.notes.append(f"{c}: complexity {cgd_complexity(c, L, mu, **v):.6g}, "
                           f"step {cgd_step(c, L, **v):.6g}")
    return t


def ef(L_minus, L_plus, alpha, mu=0.0):
    """Error feedback (Beznosikov et al.; Karimireddy et al. 2019; Stich & Karimireddy 2019).

    *Reconstructed* default step: the EF21 step of the same alpha,
    1/(L_- + L_+ sqrt(B/A)) ~ alpha/(2 L_+) for small alpha -- the order
    alpha/L of the EF analyses; it is not a theorem of the seeds.
    """
    t = ef21(L_minus, L_plus, alpha, mu)
    t.method = "ef"
    t.theorem = ("error feedback (Beznosikov et al.); step reconstructed: EF21's "
                 "1/(L_- + L_+ sqrt(B/A)) for the same alpha")
    t.notes = [f"alpha={alpha:.6g}; no rate claimed for this step (empirical)"]
    t.rate = 1.0
    return t
