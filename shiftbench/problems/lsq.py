"""A synthetic least-squares problem of any size, for speed measurements.

    f_i(x) = n/2 ||A_i x - b_i||^2 + lam/2 ||x||^2   (scale_i = n, ridge's scaling),
    f(x)   = (1/n) sum_i f_i(x) = 1/2 ||A x - b||^2 + lam/2 ||x||^2,

with n workers of ``rows`` rows each (N = n rows in all), A with i.i.d.
entries uniform on [-sqrt(3/d), sqrt(3/d)] (mean 0, variance 1/d, so rows
have norm ~1; uniform rather than Gaussian because it draws ~4x faster),
b = A x_true + 0.01 noise
(x_true ~ N(0, I)), lam = 1/N by default and x0 ~ N(0, I).

Exact constants without any d x d matrix when N <= d (the usual case:
d = 10^6, N = 160), from the N x N Gram matrix K = A A^T and its diagonal
blocks K_i = A_i A_i^T (rows x rows):

* ``L = lambda_max(K) + lam``; ``mu = lam`` (A^T A has rank N < d; for
  N = d, ``mu = lambda_min(K) + lam``);
* ``L_i = n lambda_max(K_i) + lam``;
* ``L_plus^2 = lambda_max((1/n) sum_i H_i^2)`` with H_i = n A_i^T A_i + lam I:
  (1/n) sum_i H_i^2 = A^T B A + lam^2 I with B = blockdiag(n K_i + 2 lam I),
  whose largest eigenvalue is lambda_max(B^{1/2} K B^{1/2}) + lam^2;
* ``x* = A^T y`` with (K + lam I) y = b (one refinement step), ``f* = f(x*)``,
  ``grad f_i(x*) = n A_i^T (A_i x* - b_i) + lam x*``.

When N > d the problem is small in d and :func:`.quadratic.lsq_problem`
computes the same constants from the d x d Hessians.

Building ``lsq(n=16, d=10^6, rows=10)`` takes a few seconds: drawing the
1.6 * 10^8 entries of A and one N x N Gram matrix (a BLAS ``syrk``, on one
thread: with two threads on two busy cores it took 10 s instead of 0.9 s)
dominate.
"""
from __future__ import annotations

import math

import numpy as np

from . import memory, sources
from .base import LSQ, Problem
from .quadratic import lsq_problem


def lsq_memory(n, d, rows):
    """Estimated peak bytes of building ``lsq(n, d, rows)``: A (N x d), the
    n local gradients at x* (n x d), a few d-vectors and N x N matrices."""
    N = float(n) * float(rows)
    d = float(d)
    if N > d:
        return memory.F8 * (N * d + 2.0 * n * d * d + 4.0 * d * d + 8.0 * d)
    return memory.F8 * (N * d + n * d + 8.0 * d + 4.0 * N * N + 4.0 * N)


def lsq(n=16, d=1000000, rows=10, seed=0, lam=None, name=None):
    """Synthetic least squares with exact constants (see the module docstring).

    Parameters
    ----------
    n : int
        Workers.
    d : int
        Dimension.
    rows : int
        Rows per worker (N = n rows in all).
    seed : int
        Fixes A, b and x0 (one ``numpy.random.default_rng(seed)`` stream:
        A, x_true, the noise of b, x0, in this order).
    lam : float, optional
        Regulariser weight > 0; default 1/N.
    name : str, optional
        Spec name stored in the problem.

    Returns
    -------
    Problem
        Kind ``LSQ`` with L, L_i, mu, L_plus, x*, f*, grad f_i(x*) exact;
        ``meta["memory_bytes"]`` is the data's size (A, b).

    Raises
    ------
    ValueError
        One line, for a bad size or when the estimated memory
        (:func:`lsq_memory`) exceeds the memory available.
    """
    n, d, rows, seed = int(n), int(d), int(rows), int(seed)
    where = name or "lsq"
    if n < 1 or d < 1 or rows < 1:
        raise ValueError(f"{where}: n, d and rows must be integers >= 1 "
                         f"(got n={n}, d={d}, rows={rows})")
    if not (0 <= seed < 2 ** 63):
        raise ValueError(f"{where}: seed must be an integer in [0, 2^63), got {seed}")
    N = n * rows
    lam = 1.0 / N if lam is None else float(lam)
    if not (lam > 0 and math.isfinite(lam)):
        raise ValueError(f"{where}: lam must be a finite number > 0, got {lam:g}")
    need = lsq_memory(n, d, rows)
    memory.check(need, f"the data ({N} x {d}) and its constants", where)
    if name is None:
        name = f"lsq(n={n}, d={d}, rows={rows}, seed={seed}"
        name += ")" if lam == 1.0 / N else f", lam={lam:g})"
    rng = np.random.default_rng(seed)
    A = rng.random((N, d))
    A -= 0.5
    A *= math.sqrt(12.0 / d)
    xt = rng.standard_normal(d)
    b = A @ xt
    del xt
    b += 0.01 * rng.standard_normal(N)
    x0 = rng.standard_normal(d)
    offsets = np.arange(0, N + 1, rows, dtype=np.int64)
    scale = np.full(n, float(n))
    meta = {"family": "lsq", "n": n, "d": d, "rows": rows, "seed": seed, "lam": lam,
            "x0": "N(0, I)", "memory_bytes": int(A.nbytes + b.nbytes),
            "build_memory_estimate": int(need), "source": sources.LSQ}
    if N > d:
        return lsq_problem(name, A, b, offsets, scale, lam, x0, meta)
    meta["constants"] = "exact via the N x N Gram matrix"
    with memory.lapack_threads():
        K = A @ A.T                                      # BLAS syrk
        K = 0.5 * (K + K.T)
        ev = np.linalg.eigvalsh(K)
        L = float(ev[-1]) + lam
        mu = (max(float(ev[0]), 0.0) if N == d else 0.0) + lam
        Bh = np.zeros((N, N))                            # B^{1/2}, block diagonal
        L_i = np.empty(n)
        for i in range(n):
            o = i * rows
            w, V = np.linalg.eigh(n * K[o:o + rows, o:o + rows] + 2.0 * lam * np.eye(rows))
            w = np.maximum(w, 0.0)
            L_i[i] = float(w[-1]) - lam                 # n lambda_max(K_i) + lam
            Bh[o:o + rows, o:o + rows] = (V * np.sqrt(w)) @ V.T
        M = Bh @ K @ Bh
        L_plus = math.sqrt(float(np.linalg.eigvalsh(0.5 * (M + M.T))[-1]) + lam * lam)
        Kl = K + lam * np.eye(N)
        y = np.linalg.solve(Kl, b)
        y += np.linalg.solve(Kl, b - Kl @ y)             # one refinement step
    xs = A.T @ y
    res = A @ xs
    res -= b
    gs = np.empty((n, d))
    for i in range(n):
        o = i * rows
        np.dot(A[o:o + rows].T, res[o:o + rows], out=gs[i])
        gs[i] *= n
        gs[i] += lam * xs
    fs = 0.5 * float(res @ res) + 0.5 * lam * float(xs @ xs)
    return Problem(name=name, kind=LSQ, A=A, b=b, offsets=offsets, scale=scale,
                   lam=lam, L=L, L_i=L_i, mu=mu, x0=x0, x_star=xs, f_star=fs,
                   grad_star=gs, L_plus=L_plus, meta=meta)
