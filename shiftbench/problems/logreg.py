"""Logistic regression, convex (L2) and nonconvex (the EF21/3PC experiments).

The nonconvex problem is the experimental setup of Richtárik, Sokolov &
Fatkhullin, EF21, NeurIPS 2021, and Richtárik et al., 3PC: three point
compressors, ICML 2022 (LIBSVM data, lam = 0.1, n = 20; details such as the
contiguous split reconstructed from the authors' public code).

With the data split into n contiguous blocks A_i (N_i rows) and labels
b_j in {-1, +1}:

* ``logreg``     f_i(x) = (1/N_i) sum_j log(1 + exp(-b_j a_j^T x)) + lam/2 ||x||^2
* ``logreg-nc``  f_i(x) = (1/N_i) sum_j log(1 + exp(-b_j a_j^T x))
                          + lam sum_k x_k^2 / (1 + x_k^2)          (EF21/3PC)

and f = (1/n) sum_i f_i.  The blocks are **contiguous**; by default
(``split="drop"``) they are equal and the last ``N mod n`` rows of the file
are dropped (recorded in ``meta["dropped_rows"]``), so f is exactly the
average loss over the N - (N mod n) kept rows.  ``split="last"`` gives the
remainder to the last worker (as the EF21 authors' code does) and
``split="balanced"`` spreads it (sizes differ by at most 1); every worker
still averages its own rows (scale_i = 1/N_i).

Constants (the standard bounds; sigmoid' <= 1/4, and the nonconvex
regulariser has r''(t) = 2 (1 - 3 t^2) / (1 + t^2)^3 in [-1/2, 2]):

* ``L_i = lambda_max(A_i^T A_i) / (4 N_i) + lam``  (convex) or ``+ 2 lam``
  (nonconvex; the L_i of the EF21/3PC experiments);
* ``L = lambda_max((1/n) sum_i A_i^T A_i / (4 N_i)) + lam`` (or ``+ 2 lam``):
  the same bound for the mean;
* ``mu = lam`` for the convex problem (a lower bound of its strong
  convexity), 0 for the nonconvex one;
* ``L_plus = sqrt((1/n) sum_i L_i^2)``: an upper bound of the L_+ of the 3PC
  paper's smoothness assumption (each grad f_i is L_i-Lipschitz), also the
  L~ of EF21.

For the convex problem x* is computed to high accuracy (scipy L-BFGS, then
Newton's method until ||grad f(x*)|| stops decreasing, typically ~1e-16);
``meta["grad_norm_star"]`` records the value reached.
"""
from __future__ import annotations

import math

import numpy as np

from . import memory, sources
from .base import LOGREG, LOGREG_NC, Problem, block_offsets
from .libsvm import load_libsvm


# ----------------------------------------------------------------------------
# data

def synthetic_classification(N=1000, d=20, seed=0):
    """Synthetic binary data drawn from a logistic model (not separable).

    a_j ~ N(0, I_d / d) (so ||a_j|| ~ 1), w ~ N(0, 4 I_d), and
    b_j = +1 with probability sigmoid(a_j^T w), else -1.  Both labels are
    guaranteed to occur (N >= 2).
    """
    N, d = int(N), int(d)
    rng = np.random.default_rng(np.random.SeedSequence(int(seed)))
    A = rng.standard_normal((N, d)) / math.sqrt(d)
    w = 2.0 * rng.standard_normal(d)
    p = 1.0 / (1.0 + np.exp(-(A @ w)))
    b = np.where(rng.random(N) < p, 1.0, -1.0)
    if N >= 2 and np.all(b == b[0]):
        b[-1] = -b[0]
    return np.ascontiguousarray(A), b


# ----------------------------------------------------------------------------
# vectorised NumPy objective (used to compute x*; the kernels live in base.py)

def _row_weights(offsets, scale):
    n = offsets.size - 1
    return np.repeat(scale / n, np.diff(offsets))


def _sig(t):
    out = np.empty_like(t)
    pos = t >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-t[pos]))
    e = np.exp(t[~pos])
    out[~pos] = e / (1.0 + e)
    return out


def _fg(x, A, b, w, lam):
    m = -b * (A @ x)
    f = float(w @ np.logaddexp(0.0, m)) + 0.5 * lam * float(x @ x)
    g = A.T @ (w * (-b) * _sig(m)) + lam * x
    return f, g


def _newton_step(x, A, b, w, lam, g):
    """H^{-1} g for the convex logreg Hessian H = A^T diag(D) A + lam I (lam > 0).

    d <= N: the d x d Hessian, as always.  d > N (e.g. a LIBSVM file with
    a large feature index): the Woodbury form with the N x N matrix
    lam I + B B^T, B = diag(D)^{1/2} A, so nothing d x d is formed.
    """
    s = _sig(b * (A @ x))
    D = w * s * (1.0 - s)
    N, d = A.shape
    if d <= N:
        H = A.T @ (A * D[:, None])
        H[np.diag_indices_from(H)] += lam
        return np.linalg.solve(H, g)
    B = A * np.sqrt(D)[:, None]
    K = B @ B.T
    K[np.diag_indices_from(K)] += lam
    z = np.linalg.solve(K, B @ g)
    return (g - B.T @ z) / lam


def _lmax_gram(M):
    """lambda_max(M^T M) = sigma_max(M)^2, from the smaller Gram matrix."""
    if M.shape[0] < M.shape[1]:
        return float(np.linalg.eigvalsh(M @ M.T)[-1])
    return float(np.linalg.eigvalsh(M.T @ M)[-1])


def _solve_convex(A, b, offsets, scale, lam):
    """Minimiser of the convex logreg f: L-BFGS, then Newton polish."""
    from scipy.optimize import minimize
    w = _row_weights(offsets, scale)
    d = A.shape[1]
    res = minimize(_fg, np.zeros(d), args=(A, b, w, lam), jac=True, method="L-BFGS-B",
                   options={"maxiter": 10000, "gtol": 1e-10, "ftol": 1e-15})
    x = np.asarray(res.x, float)
    f, g = _fg(x, A, b, w, lam)
    best = (np.linalg.norm(g), x)
    stall = 0
    for _ in range(50):
        step = _newton_step(x, A, b, w, lam, g)
        t = 1.0
        while True:
            xn = x - t * step
            fn, gn = _fg(xn, A, b, w, lam)
            # near the optimum f is flat to rounding: accept on the gradient
            if fn <= f - 1e-4 * t * float(g @ step) or np.linalg.norm(gn) < np.linalg.norm(g):
                break
            t *= 0.5
            if t < 1e-10:
                xn, fn, gn = x, f, g
                break
        x, f, g = xn, fn, gn
        gn_ = np.linalg.norm(g)
        if gn_ < best[0]:
            best = (gn_, x.copy())
            stall = 0
        else:
            stall += 1
        if gn_ < 1e-15 or stall >= 3:
            break
    return best[1], best[0]


# ----------------------------------------------------------------------------
# builders

def _build(kind, A, b, n, lam, where, name, meta, split="drop"):
    if not (lam >= 0 and math.isfinite(lam)):
        raise ValueError(f"{where}: lam must be a finite number >= 0, got {lam:g}")
    N, d = A.shape
    offsets, dropped = block_offsets(N, n, split, where)
    keep = int(offsets[-1])
    k = min(keep, d)
    # the kept data, one scaled copy for L, a k x k Gram matrix (k = min(N, d)),
    # and for x* a Hessian (or its Woodbury counterpart) of the same size
    memory.check(memory.F8 * (2 * keep * d + 3 * k * k), f"the data ({keep} x {d}) and "
                 f"{k} x {k} Gram/Hessian matrices", where)
    A = np.ascontiguousarray(A[:keep], dtype=np.float64)
    b = np.ascontiguousarray(b[:keep], dtype=np.float64)
    sizes = np.diff(offsets)
    scale = 1.0 / sizes.astype(np.float64)
    reg = lam if kind == LOGREG else 2.0 * lam
    with memory.lapack_threads():
        L_i = np.array([_lmax_gram(A[offsets[i]:offsets[i + 1]]) / (4.0 * sizes[i])
                        for i in range(n)]) + reg
        # mean_i A_i^T A_i / (4 N_i) = B^T B with row j of B = a_j / sqrt(4 n N_i)
        B = A * np.sqrt(_row_weights(offsets, scale) / 4.0)[:, None]
        L = _lmax_gram(B) + reg
    del B
    L_plus = float(math.sqrt(np.mean(L_i ** 2)))
    m = dict(meta)
    m.update({"dropped_rows": int(dropped), "split": split,
              "rows_per_worker": int(sizes[0]) if np.all(sizes == sizes[0])
              else [int(v) for v in sizes], "lam": lam,
              "L": "bound: lambda_max(mean A_i^T A_i/(4 N_i)) + " +
                   ("lam" if kind == LOGREG else "2 lam"),
              "L_plus": "bound: sqrt(mean L_i^2)"})
    x0 = np.zeros(d)
    if kind == LOGREG:
        mu = lam
        xs = fs = gs = None
        if lam > 0:
            xs, gnorm = _solve_convex(A, b, offsets, scale, lam)
            w = _row_weights(offsets, scale)
            fs, _ = _fg(xs, A, b, w, lam)
            gs = np.empty((n, d))
            for i in range(n):
                sl = slice(offsets[i], offsets[i + 1])
                mm = -b[sl] * (A[sl] @ xs)
                gs[i] = scale[i] * (A[sl].T @ (-b[sl] * _sig(mm))) + lam * xs
            m["grad_norm_star"] = float(gnorm)
            m["mu"] = "lam (lower bound of the strong convexity of f)"
    else:
        mu = 0.0
        xs = fs = gs = None
        m["f_lower_bound"] = 0.0
    return Problem(name=name, kind=kind, A=A, b=b, offsets=offsets, scale=scale,
                   lam=float(lam), L=L, L_i=L_i, mu=float(mu), x0=x0, x_star=xs,
                   f_star=None if fs is None else float(fs), grad_star=gs,
                   L_plus=L_plus, meta=m)


def _data(data, synthetic, N, d, seed, where, zero_based=0):
    if synthetic:
        if int(N) < 2 or int(d) < 1:
            raise ValueError(f"{where}: synthetic data needs N >= 2 and d >= 1")
        if not (0 <= int(seed) < 2 ** 63):
            raise ValueError(f"{where}: seed must be an integer in [0, 2^63), got {seed}")
        memory.check(memory.F8 * 2 * int(N) * int(d),
                     f"synthetic data {int(N)} x {int(d)}", where)
        A, b = synthetic_classification(N, d, seed)
        return A, b, {"data": "synthetic", "N_total": int(N), "seed": int(seed)}
    if data is None:
        raise ValueError(f"{where}: give data=PATH (a LIBSVM file or a name such as a9a) "
                         f"or synthetic=1")
    ds = load_libsvm(data, zero_based=bool(zero_based))
    return ds.X, ds.y, {"data": ds.path, "dataset": ds.name, "N_total": ds.X.shape[0],
                        "label_map": {str(k): v for k, v in ds.label_map.items()}}


def _name(fam, data, lam, n, synthetic, N, d, seed, split="drop", zero_based=0):
    args = []
    if synthetic:
        args += ["synthetic=1", f"N={int(N)}", f"d={int(d)}", f"seed={int(seed)}"]
    else:
        s = str(data)
        if any(c in s for c in " \t(),='\""):
            s = repr(s)
        args.append(f"data={s}")
        if zero_based:
            args.append("zero_based=1")
    args += [f"lam={lam:g}", f"n={int(n)}"]
    if split != "drop":
        args.append(f"split={split}")
    return f"{fam}({', '.join(args)})"


def logreg(data=None, lam=0.1, n=20, synthetic=0, N=1000, d=20, seed=0, split="drop",
           zero_based=0, name=None):
    """L2-regularised logistic regression with x*, f*, grad f_i(x*).

    Parameters
    ----------
    data : str or Path, optional
        LIBSVM file (or bare name looked up by :func:`.libsvm.resolve_path`).
    lam : float
        Weight of lam/2 ||x||^2 (default 0.1); mu = lam.  With lam = 0 the
        minimiser may not exist and x*, f*, grad f_i(x*) are left None.
    n : int
        Workers (contiguous blocks of rows, see ``split``).
    synthetic : {0, 1}
        1: use :func:`synthetic_classification` (N, d, seed) instead of a file.
    N, d, seed : int
        Synthetic data size and seed (ignored for files).
    split : {"drop", "last", "balanced"}
        How the N mod n remainder rows go to workers (see
        :func:`.base.block_offsets`): dropped (default), given to the last
        worker, or spread (block sizes differ by at most 1).
    zero_based : {0, 1}
        1: the LIBSVM file's indices are 0-based (default: 1-based, as the
        format says; an index 0 is then an error naming its line).
    name : str, optional
        Spec name stored in the problem.

    Returns
    -------
    Problem
        Kind ``LOGREG``; x0 = 0.
    """
    where = name or "logreg"
    lam = float(lam)
    A, b, meta = _data(data, int(synthetic), N, d, seed, where, zero_based)
    meta.update({"family": "logreg", "source": sources.LOGREG})
    if name is None:
        name = _name("logreg", data, lam, n, int(synthetic), N, d, seed, split, zero_based)
    return _build(LOGREG, A, b, int(n), lam, where, name, meta, split)


def logreg_nc(data=None, lam=0.1, n=20, synthetic=0, N=1000, d=20, seed=0, split="drop",
              zero_based=0, name=None):
    """Nonconvex logistic regression of the EF21 (NeurIPS 2021) and 3PC (ICML 2022) experiments.

    f = (1/N) sum_j log(1 + exp(-b_j a_j^T x)) + lam sum_k x_k^2/(1 + x_k^2),
    lam = 0.1, n = 20 by default; L_i = lambda_max(A_i^T A_i)/(4 N_i) + 2 lam.

    Parameters are those of :func:`logreg`.  There is no x*: ``x_star``,
    ``f_star`` and ``grad_star`` are None, ``mu = 0`` and
    ``meta["f_lower_bound"] = 0``.
    """
    where = name or "logreg-nc"
    lam = float(lam)
    A, b, meta = _data(data, int(synthetic), N, d, seed, where, zero_based)
    meta.update({"family": "logreg-nc", "source": sources.LOGREG_NC})
    if name is None:
        name = _name("logreg-nc", data, lam, n, int(synthetic), N, d, seed, split, zero_based)
    return _build(LOGREG_NC, A, b, int(n), lam, where, name, meta, split)
