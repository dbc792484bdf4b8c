"""Strongly convex quadratics in least-squares form, and the LSQ builder.

Every quadratic here is stored in the ``LSQ`` kind of :mod:`.base`,

    f_i(x) = scale_i * 1/2 ||A_i x - b_i||^2 + lam/2 ||x||^2,
    f(x)   = (1/n) sum_i f_i(x),

so the compiled method loops need no special case.  :func:`lsq_problem`
turns such data into a :class:`~.base.Problem` with *exact* constants from
dense eigen-solves of the d x d Hessians

    H_i = scale_i A_i^T A_i + lam I,    H = (1/n) sum_i H_i:

``L = lambda_max(H)``, ``mu = lambda_min(H)``, ``L_i = lambda_max(H_i)``,
``L_plus = sqrt(lambda_max((1/n) sum_i H_i^2))`` (exact for quadratics:
(1/n) sum ||H_i v||^2 = v^T ((1/n) sum H_i^2) v; the L_+ of Richtárik et
al., 3PC, ICML 2022), and
``x* = H^{-1} (1/n) sum_i scale_i A_i^T b_i`` (one step of iterative
refinement), ``f* = f(x*)``, ``grad f_i(x*) = H_i x* - scale_i A_i^T b_i``.

:func:`quadratic` builds test problems for the complexities of Table 1 of
Shulgin & Richtárik, Shifted compression framework, UAI 2022:
a chosen condition number kappa = L/mu, n workers, a heterogeneity knob and
an interpolation variant with grad f_i(x*) = 0 for every i.  Its Hessians
share their eigenvectors, so its constants are known in closed form
(:func:`quadratic_constants`) and need no eigen-solve.
"""
from __future__ import annotations

import math

import numpy as np

from . import memory, sources
from .base import LSQ, Problem


# ----------------------------------------------------------------------------
# generic LSQ builder with exact constants

def lsq_hessians(A, offsets, scale, lam):
    """Local Hessians H_i = scale_i A_i^T A_i + lam I, shape (n, d, d)."""
    n = offsets.size - 1
    d = A.shape[1]
    H = np.empty((n, d, d))
    for i in range(n):
        Ai = A[offsets[i]:offsets[i + 1]]
        H[i] = scale[i] * (Ai.T @ Ai)
        H[i] += lam * np.eye(d)
    return H


def _lsq_constants(A, b, offsets, scale, lam, n, d):
    """L, mu, L_i, L_plus, x*, f*, grad f_i(x*) of LSQ data (see lsq_problem)."""
    Hs = lsq_hessians(A, offsets, scale, lam)
    H = Hs.mean(axis=0)
    H = 0.5 * (H + H.T)
    ev = np.linalg.eigvalsh(H)
    L, mu = float(ev[-1]), float(max(ev[0], 0.0))
    L_i = np.array([np.linalg.eigvalsh(0.5 * (h + h.T))[-1] for h in Hs])
    H2 = np.zeros((d, d))
    for h in Hs:
        H2 += h.T @ h                                   # = H_i^2 (symmetric; BLAS syrk)
    L_plus = math.sqrt(max(np.linalg.eigvalsh(H2 / n)[-1], 0.0))
    del H2
    r = np.zeros((n, d))
    for i in range(n):
        sl = slice(offsets[i], offsets[i + 1])
        r[i] = scale[i] * (A[sl].T @ b[sl])
    rhs = r.mean(axis=0)
    if mu > 0:
        xs = np.linalg.solve(H, rhs)
        xs += np.linalg.solve(H, rhs - H @ xs)         # one refinement step
    else:
        xs = np.linalg.lstsq(H, rhs, rcond=None)[0]
    gs = Hs @ xs - r
    fs = 0.0
    for i in range(n):
        sl = slice(offsets[i], offsets[i + 1])
        res = A[sl] @ xs - b[sl]
        fs += 0.5 * scale[i] * float(res @ res)
    fs = fs / n + 0.5 * lam * float(xs @ xs)
    return L, mu, L_i, L_plus, xs, fs, gs


def lsq_problem(name, A, b, offsets, scale, lam, x0, meta=None):
    """Wrap least-squares data into a :class:`Problem` with exact constants.

    Parameters
    ----------
    name : str
        Spec-style name.
    A : array (N, d)
        Row-stacked local data matrices.
    b : array (N,)
        Row-stacked targets.
    offsets : int array (n+1,)
        Worker i owns rows ``offsets[i]:offsets[i+1]``.
    scale : array (n,)
        Weight of each worker's data term.
    lam : float
        Weight of the regulariser lam/2 ||x||^2.
    x0 : array (d,)
        Starting point.
    meta : dict, optional
        Extra description, stored in ``Problem.meta``.

    Returns
    -------
    Problem
        With ``L, L_i, mu, L_plus`` exact (eigen-solves) and ``x_star``,
        ``f_star``, ``grad_star`` (n x d) from a dense solve; ``mu`` is the
        smallest eigenvalue of the mean Hessian (0 is returned as is, and
        ``x_star`` is then the minimum-norm least-squares solution).
    """
    A = np.ascontiguousarray(A, dtype=np.float64)
    b = np.ascontiguousarray(b, dtype=np.float64).reshape(-1)
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    scale = np.ascontiguousarray(scale, dtype=np.float64).reshape(-1)
    x0 = np.ascontiguousarray(x0, dtype=np.float64).reshape(-1)
    n = offsets.size - 1
    N, d = A.shape
    if b.size != N or offsets[0] != 0 or offsets[-1] != N or np.any(np.diff(offsets) < 0):
        raise ValueError(f"{name}: inconsistent data (A {A.shape}, b {b.shape}, "
                         f"offsets {offsets[0]}..{offsets[-1]})")
    if scale.size != n or x0.size != d:
        raise ValueError(f"{name}: scale must have n = {n} entries and x0 d = {d}")
    for what, arr in (("A", A), ("b", b), ("scale", scale), ("x0", x0)):
        if not np.all(np.isfinite(arr)):
            bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
            raise ValueError(f"{name}: {what} has {bad} NaN or infinite entr"
                             f"{'y' if bad == 1 else 'ies'}; only finite values are allowed")
    if not (lam >= 0 and math.isfinite(lam)):
        raise ValueError(f"{name}: lam must be a finite number >= 0, got {lam!r}")
    memory.check(memory.F8 * (2.0 * n * d * d + 4.0 * d * d + 2.0 * n * d),
                 f"n = {n} local {d} x {d} Hessians", name)
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            with memory.lapack_threads():
                out = _lsq_constants(A, b, offsets, scale, lam, n, d)
    except (np.linalg.LinAlgError, ValueError) as e:
        raise ValueError(f"{name}: the constants cannot be computed ({e}); the data "
                         f"are too large or ill-conditioned for float64") from None
    L, mu, L_i, L_plus, xs, fs, gs = out
    if not all(np.all(np.isfinite(v)) for v in (L, mu, L_i, L_plus, xs, fs, gs)):
        raise ValueError(f"{name}: the constants overflow float64 (L = {L:g}); use data "
                         f"of a smaller magnitude")
    m = dict(meta or {})
    m.setdefault("L_plus", "exact: sqrt(lambda_max((1/n) sum H_i^2))")
    return Problem(name=name, kind=LSQ, A=A, b=b, offsets=offsets, scale=scale,
                   lam=float(lam), L=L, L_i=L_i, mu=mu, x0=x0, x_star=xs,
                   f_star=float(fs), grad_star=np.ascontiguousarray(gs),
                   L_plus=L_plus, meta=m)


# ----------------------------------------------------------------------------
# quadratics with chosen kappa

def _orthogonal(rng, d):
    Z = rng.standard_normal((d, d))
    Q, R = np.linalg.qr(Z)
    return Q * np.sign(np.diag(R))


def _spectrum(kappa, d, L):
    """Eigenvalues of the mean Hessian: geometric from L/kappa to L."""
    if d == 1:
        return np.array([L])
    return L * kappa ** (np.arange(d) / (d - 1) - 1.0)


def _mixers(rng, n, d, alpha=0.2):
    """Weights w (n x d), each column summing to n: the share of worker i in
    the curvature along eigen-direction j of the mean Hessian.

    The top direction (j = d - 1, the largest eigenvalue) belongs to one
    random worker i0 (w[i0, d-1] = n, the others 0), so at mixing t
    L_{i0} = (1 + t (n - 1)) L; for every other direction j the column
    (w_1j, ..., w_nj) is n * Dirichlet(alpha, ..., alpha).
    """
    g = np.maximum(rng.gamma(alpha, size=(n, d)), 1e-300)
    w = n * g / g.sum(axis=0)
    w[:, d - 1] = 0.0
    w[int(rng.integers(n)), d - 1] = float(n)
    return w


def quadratic_constants(lamb, m2, u):
    """Closed-form constants of f_i(x) = 1/2 (x - c_i)^T H_i (x - c_i) with
    H_i = Q diag(lamb * m2[i]) Q^T (Q orthogonal) and u[i] = Q^T c_i.

    Returns ``L, mu, L_i, L_plus, z*, f*, G`` where x* = Q z* and
    grad f_i(x*) = Q G[i]:

    * H = (1/n) sum_i H_i = Q diag(lamb * mbar) Q^T, mbar = mean_i m2[i]:
      L = max_j lamb_j mbar_j, mu = min_j lamb_j mbar_j;
    * L_i = max_j lamb_j m2[i, j];
    * (1/n) sum_i H_i^2 = Q diag(lamb^2 mean_i m2[i]^2) Q^T:
      L_plus = sqrt(max_j lamb_j^2 mean_i m2[i, j]^2);
    * z*_j = mean_i(m2[i, j] u[i, j]) / mbar_j, G[i] = lamb m2[i] (z* - u[i]),
      f* = (1/n) sum_i 1/2 sum_j lamb_j m2[i, j] (z*_j - u[i, j])^2.
    """
    mbar = m2.mean(axis=0)
    h = lamb * mbar
    L, mu = float(h.max()), float(h.min())
    L_i = (lamb * m2).max(axis=1)
    L_plus = math.sqrt(float((lamb * lamb * (m2 * m2).mean(axis=0)).max()))
    z = (m2 * u).mean(axis=0) / mbar
    r = z - u
    G = lamb * m2 * r
    fs = 0.5 * float(np.mean(np.sum(G * r, axis=1)))
    return L, mu, L_i, L_plus, z, fs, G


def quadratic(kappa=10.0, n=10, d=20, hetero=0.0, interp=0, seed=0, L=1.0,
              lmax_ratio=None, name=None):
    """Strongly convex quadratic with exactly kappa = L/mu (Shulgin & Richtárik, UAI 2022, Table 1).

    f_i(x) = 1/2 (x - c_i)^T H_i (x - c_i) stored as LSQ data with
    A_i a d x d square root of H_i, b_i = A_i c_i, scale_i = 1, lam = 0.

    Construction: Q is a random orthogonal matrix (QR of a Gaussian matrix)
    and lambda is geometric from L/kappa to L.  The local Hessians share
    the eigenvectors Q and split the curvature of each eigen-direction j
    among the workers:

        H_i = Q diag(lambda * m_i^2) Q^T,   m_i^2 = (1 - t) + t w_i,
        A_i = diag(m_i sqrt(lambda)) Q^T   (so A_i^T A_i = H_i),

    with w (n x d) from :func:`_mixers`: each column sums to n, so
    (1/n) sum_i H_i = Q diag(lambda) Q^T = H for every mixing t in [0, 1]
    (up to rounding), and the top direction belongs to one worker, so
    L_max/L = 1 + t (n - 1) exactly.  Every constant (L, mu, L_i, L_plus,
    x*, f*, grad f_i(x*)) follows in closed form
    (:func:`quadratic_constants`): no eigen-solve and no d x d Hessian, so
    ``quadratic(d=2000)`` builds in ~1-2 s (one d x d QR and the n d^2
    data) instead of ~18 s of 12 dense eigen-solves.  The values are those
    of the stored (rounded) data to ~1e-15 relative; the tests compare them
    with dense eigen-solves at small d.

    Parameters
    ----------
    kappa : float
        Condition number L/mu >= 1 of f.
    n, d : int
        Workers and dimension.
    hetero : float
        Heterogeneity H >= 0.  0: identical workers.  It sets the Hessian
        mixing t = H/(1+H) (unless ``lmax_ratio`` is given), so
        L_max/L = 1 + t (n - 1), and, when ``interp=0``, spreads the local
        minimisers c_i = c + H z_i around a random unit vector c (z_i
        Gaussian, centred over workers and scaled so that
        (1/n) sum ||z_i||^2 = 1).
    interp : {0, 1}
        1: interpolation regime, c_i = 0 for every worker, so x* = 0 and
        grad f_i(x*) = 0 for all i (what Table 1 of Shulgin & Richtárik needs
        for DCGD-FIXED and GDCI); only the Hessians differ.
    seed : int
        Fixes Q, the w, the c_i and x0.
    L : float
        Smoothness constant of f (mu = L/kappa).
    lmax_ratio : float, optional
        Target L_max/L in [1, n]: sets the mixing t = (lmax_ratio - 1)/(n - 1)
        (for n = 1 only 1 is allowed); a ratio outside raises ValueError.
    name : str, optional
        Spec name stored in the problem.

    Returns
    -------
    Problem
        ``x0 = x* + u`` with u a random unit vector.
    """
    kappa, L, hetero = float(kappa), float(L), float(hetero)
    n, d, interp = int(n), int(d), int(interp)
    where = name or "quadratic"
    if not (kappa >= 1.0 and math.isfinite(kappa)):
        raise ValueError(f"{where}: kappa must be a finite number >= 1, got {kappa:g}")
    if d == 1 and kappa != 1.0:
        raise ValueError(f"{where}: d = 1 allows only kappa = 1")
    if n < 1 or d < 1:
        raise ValueError(f"{where}: n and d must be integers >= 1")
    if not (hetero >= 0.0 and math.isfinite(hetero)):
        raise ValueError(f"{where}: hetero must be a finite number >= 0, got {hetero:g}")
    if interp not in (0, 1):
        raise ValueError(f"{where}: interp must be 0 or 1")
    if not (L > 0 and math.isfinite(L)):
        raise ValueError(f"{where}: L must be a finite number > 0")
    if not (0 <= int(seed) < 2 ** 63):
        raise ValueError(f"{where}: seed must be an integer in [0, 2^63), got {seed}")
    if lmax_ratio is not None:
        R = float(lmax_ratio)
        if not (1.0 <= R <= n):
            raise ValueError(f"{where}: lmax_ratio={R:g} not reachable; allowed "
                             f"1 <= lmax_ratio <= n = {n}")
        t = (R - 1.0) / (n - 1) if n > 1 else 0.0
    else:
        t = hetero / (1.0 + hetero)
    # peak: the data A (n d x d) and the d x d Gaussian matrix, Q and R of its QR
    memory.check(memory.F8 * (n * d * d + 4.0 * d * d + 8.0 * n * d),
                 f"the n = {n} local {d} x {d} square roots of the Hessians", where)
    with memory.lapack_threads():
        return _quadratic(kappa, n, d, hetero, interp, seed, L, t, name, where)


def _quadratic(kappa, n, d, hetero, interp, seed, L, t, name, where):
    ss = np.random.SeedSequence(int(seed))
    r_q, r_w, r_c, r_x = (np.random.default_rng(s) for s in ss.spawn(4))
    lamb = _spectrum(kappa, d, L)
    Q = _orthogonal(r_q, d)
    w = _mixers(r_w, n, d)
    m2 = (1.0 - t) + t * w                                     # (n, d)
    root = np.sqrt(m2 * lamb)                                  # A_i = diag(root[i]) Q^T
    A = np.empty((n, d, d))
    np.multiply(root[:, :, None], Q.T[None, :, :], out=A)
    A = A.reshape(n * d, d)
    if interp:
        c = np.zeros((n, d))
    else:
        c0 = r_c.standard_normal(d)
        c0 /= np.linalg.norm(c0)
        z = r_c.standard_normal((n, d))
        if n > 1:
            z -= z.mean(axis=0)
        nz = math.sqrt(float(np.mean(np.sum(z * z, axis=1))))
        z = z / nz if nz > 0 else z
        c = c0 + hetero * z
    with np.errstate(over="ignore", invalid="ignore"):
        u = c @ Q                                              # rows Q^T c_i
        b = (root * u).reshape(-1)                             # b_i = A_i c_i
    if not np.all(np.isfinite(b)):
        raise ValueError(f"{where}: hetero={hetero:g} with L={L:g} overflows float64; "
                         f"use a smaller hetero or L")
    offsets = np.arange(n + 1, dtype=np.int64) * d
    v = r_x.standard_normal(d)
    v /= np.linalg.norm(v)
    with np.errstate(over="ignore", invalid="ignore"):
        Lc, mu, L_i, L_plus, zs, fs, G = quadratic_constants(lamb, m2, u)
        if interp:
            xs, gs, fs = np.zeros(d), np.zeros((n, d)), 0.0
        else:
            xs = Q @ zs
            gs = G @ Q.T                                       # rows Q G[i]
    meta = {"family": "quadratic", "kappa_target": kappa, "hetero": hetero,
            "interp": interp, "mixing_t": t, "seed": int(seed),
            "spectrum": "geometric from L/kappa to L",
            "constants": "closed form: H_i = Q diag(lambda m_i^2) Q^T",
            "L_plus": "exact: sqrt(lambda_max((1/n) sum H_i^2))",
            "source": sources.QUADRATIC}
    if name is None:
        name = "quadratic(" + ", ".join(
            f"{k}={v:g}" for k, v in (("kappa", kappa), ("n", n), ("d", d),
                                       ("hetero", hetero), ("interp", interp),
                                       ("seed", seed))) + ")"
    if not all(np.all(np.isfinite(q)) for q in (Lc, mu, L_i, L_plus, xs, fs, gs)):
        raise ValueError(f"{where}: hetero={hetero:g} with L={L:g} overflows float64 in "
                         f"f* or grad f_i(x*); use a smaller hetero or L")
    return Problem(name=name, kind=LSQ, A=A, b=b, offsets=offsets, scale=np.ones(n),
                   lam=0.0, L=Lc, L_i=L_i, mu=mu, x0=np.ascontiguousarray(xs + v),
                   x_star=np.ascontiguousarray(xs), f_star=float(fs),
                   grad_star=np.ascontiguousarray(gs), L_plus=L_plus, meta=meta)


# ----------------------------------------------------------------------------
# Beznosikov et al.: divergence of distributed CGD with Top-1

DIVERGENCE3_ROWS = np.array([[-3.0, 2.0, 2.0], [2.0, -3.0, 2.0], [2.0, 2.0, -3.0]])


def divergence3(t=1.0, name=None):
    """The n = d = 3 example where distributed CGD with Top-1 diverges.

    Beznosikov, Horváth, Richtárik & Safaryan, On biased compression for
    distributed learning, 'Exponential divergence with biased compressor'.

    f_i(x) = <a_i, x>^2 + 1/4 ||x||^2 with a_1 = (-3, 2, 2), a_2 = (2, -3, 2),
    a_3 = (2, 2, -3), stored as LSQ data: A_i = a_i (one row), b_i = 0,
    scale_i = 2, lam = 1/2.  From x0 = (t, t, t), every grad f_i(x0) =
    t (2 a_i + 1/2 (1, 1, 1)) has its largest entry (-11t/2) on coordinate i,
    so distributed CGD with Top-1 per worker gives
    x^1 = x0 - (eta/3) (-11t/2) (1, 1, 1) = (1 + 11 eta/6) x0, and
    x^k = (1 + 11 eta/6)^k x0 -> infinity, although x* = 0 and f is strongly
    convex.

    Parameters
    ----------
    t : float
        Start x0 = (t, t, t).
    """
    t = float(t)
    if not math.isfinite(t):
        raise ValueError(f"{name or 'divergence3'}: t must be finite")
    if name is None:
        name = "divergence3" if t == 1.0 else f"divergence3(t={t:g})"
    meta = {"family": "divergence3", "t": t,
            "source": sources.DIVERGENCE3}
    return lsq_problem(name, DIVERGENCE3_ROWS.copy(), np.zeros(3),
                       np.arange(4, dtype=np.int64), np.full(3, 2.0), 0.5,
                       np.full(3, t), meta)
