"""Plain NumPy references for the problems of :mod:`shiftbench.problems`.

Written for clarity, sharing nothing with :mod:`shiftbench.problems.base`
except the kind codes: per-worker losses and gradients straight from the
formulas (module docstring of ``base``), Hessians, and the
constants recomputed by dense eigen-solves.

Every function takes the raw arrays ``(kind, A, b, offsets, scale, lam)``
through a ``problem`` object (anything with those attributes).
"""
from __future__ import annotations

import numpy as np

LSQ, LOGREG, LOGREG_NC = 0, 1, 2


def _block(p, i):
    sl = slice(int(p.offsets[i]), int(p.offsets[i + 1]))
    return np.asarray(p.A[sl], float), np.asarray(p.b[sl], float)


def _sigmoid(t):
    return 0.5 * (1.0 + np.tanh(0.5 * t))


def f_i(p, i, x):
    """f_i(x) from the formula of the problem's kind."""
    Ai, bi = _block(p, i)
    x = np.asarray(x, float)
    s = float(p.scale[i])
    if p.kind == LSQ:
        r = Ai @ x - bi
        data = s * 0.5 * float(r @ r)
    else:
        data = s * float(np.sum(np.logaddexp(0.0, -bi * (Ai @ x))))
    if p.kind == LOGREG_NC:
        return data + p.lam * float(np.sum(x * x / (1.0 + x * x)))
    return data + 0.5 * p.lam * float(x @ x)


def grad_i(p, i, x):
    """grad f_i(x) from the formula of the problem's kind."""
    Ai, bi = _block(p, i)
    x = np.asarray(x, float)
    s = float(p.scale[i])
    if p.kind == LSQ:
        g = s * Ai.T @ (Ai @ x - bi)
    else:
        g = s * Ai.T @ (-bi * _sigmoid(-bi * (Ai @ x)))
    if p.kind == LOGREG_NC:
        return g + p.lam * 2.0 * x / (1.0 + x * x) ** 2
    return g + p.lam * x


def f(p, x):
    n = len(p.offsets) - 1
    return sum(f_i(p, i, x) for i in range(n)) / n


def grad(p, x):
    n = len(p.offsets) - 1
    return sum(grad_i(p, i, x) for i in range(n)) / n


def hessian_i(p, i, x=None):
    """Hessian of f_i (at x for the logistic kinds; LSQ ignores x)."""
    Ai, bi = _block(p, i)
    d = Ai.shape[1]
    s = float(p.scale[i])
    if p.kind == LSQ:
        return s * Ai.T @ Ai + p.lam * np.eye(d)
    x = np.asarray(x, float)
    sg = _sigmoid(bi * (Ai @ x))
    H = s * (Ai.T * (sg * (1.0 - sg))) @ Ai
    if p.kind == LOGREG_NC:
        return H + np.diag(p.lam * (2.0 - 6.0 * x * x) / (1.0 + x * x) ** 3)
    return H + p.lam * np.eye(d)


def constants(p):
    """L, L_i, mu, L_plus by dense eigen-solves (L_plus: the L_+ of
    Richtárik et al., 3PC, ICML 2022).

    LSQ: the exact values from H_i = scale_i A_i^T A_i + lam I.  Logistic kinds:
    the standard bounds with sigmoid' <= 1/4 (L_i = lambda_max(scale_i A_i^T A_i)/4
    + lam, or + 2 lam for the nonconvex regulariser), mu = lam (convex) or 0,
    L_plus = sqrt(mean L_i^2).
    """
    n = len(p.offsets) - 1
    d = p.A.shape[1]
    if p.kind == LSQ:
        Hs = [hessian_i(p, i) for i in range(n)]
        H = sum(Hs) / n
        ev = np.linalg.eigh(H)[0]
        L_i = np.array([np.linalg.eigh(h)[0][-1] for h in Hs])
        Lp2 = np.linalg.eigh(sum(h @ h for h in Hs) / n)[0][-1]
        return {"L": ev[-1], "mu": ev[0], "L_i": L_i, "L_plus": float(np.sqrt(Lp2))}
    reg = p.lam if p.kind == LOGREG else 2.0 * p.lam
    Gs = []
    for i in range(n):
        Ai, _ = _block(p, i)
        Gs.append(float(p.scale[i]) * Ai.T @ Ai / 4.0)
    L_i = np.array([np.linalg.eigh(g)[0][-1] for g in Gs]) + reg
    L = np.linalg.eigh(sum(Gs) / n)[0][-1] + reg
    return {"L": L, "mu": p.lam if p.kind == LOGREG else 0.0, "L_i": L_i,
            "L_plus": float(np.sqrt(np.mean(L_i ** 2)))}


def split_sizes(N, n, split):
    """Rows per worker of n contiguous blocks of N rows (plain reference of
    ``problems.base.block_offsets``): ``drop`` N // n each (the rest dropped),
    ``last`` the rest to the last worker, ``balanced`` one more row for each
    of the first N mod n workers."""
    q, r = divmod(N, n)
    if split == "drop":
        return [q] * n
    if split == "last":
        return [q] * (n - 1) + [q + r]
    if split == "balanced":
        return [q + 1 if i < r else q for i in range(n)]
    raise ValueError(split)


def x_star_lsq(p):
    """Minimiser of an LSQ problem by one dense solve of the normal equations."""
    n = len(p.offsets) - 1
    d = p.A.shape[1]
    H = np.zeros((d, d))
    r = np.zeros(d)
    for i in range(n):
        Ai, bi = _block(p, i)
        H += float(p.scale[i]) * Ai.T @ Ai
        r += float(p.scale[i]) * Ai.T @ bi
    H = H / n + p.lam * np.eye(d)
    return np.linalg.solve(H, r / n)


def topk(v, k):
    """Top-K by magnitude, ties to the lowest index (a plain reference)."""
    v = np.asarray(v, float)
    idx = sorted(range(v.size), key=lambda j: (-abs(v[j]), j))[:k]
    out = np.zeros_like(v)
    out[idx] = v[idx]
    return out
