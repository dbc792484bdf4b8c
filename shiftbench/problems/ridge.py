"""Ridge regression, the experiment of Shulgin & Richtárik, Shifted compression
framework: generalizations and improvements, UAI 2022, §4.

    f(x) = 1/2 ||A x - y||^2 + lam/2 ||x||^2,   lam = 1/m,   A in R^{m x d},

with ``A, y = sklearn.datasets.make_regression(n_samples=m, n_features=d,
random_state=seed)`` (all other parameters at sklearn's defaults: 10
informative features, no noise, no bias), m = 100, d = 80.  The m rows are
split uniformly at random into n = 10 equal parts, and

    f_i(x) = n * 1/2 ||A_i x - y_i||^2 + lam/2 ||x||^2   (scale_i = n),

so that f = (1/n) sum_i f_i exactly.  The start x0 has i.i.d. N(0, 10)
entries: **variance** 10 (standard deviation sqrt(10)), as in that §4.
"""
from __future__ import annotations

import math

import numpy as np

from . import sources
from .quadratic import lsq_problem


def make_regression(n_samples, n_features, random_state):
    """``sklearn.datasets.make_regression(n_samples, n_features,
    random_state=seed)`` at its defaults (10 informative features, no noise,
    no bias, shuffled), reproduced draw for draw with NumPy's ``RandomState``
    so that building ridge does not import scikit-learn (about 2 s);
    ``tests/test_problems.py`` checks the arrays equal scikit-learn's."""
    g = np.random.RandomState(random_state)
    X = g.standard_normal(size=(n_samples, n_features))
    k = min(n_features, 10)
    truth = np.zeros((n_features, 1))
    truth[:k, :] = 100 * g.uniform(size=(k, 1))
    y = X @ truth
    rows = np.arange(n_samples)
    g.shuffle(rows)
    X, y = X[rows], y[rows]
    cols = np.arange(n_features)
    g.shuffle(cols)
    X[:, :] = X[:, cols]
    return X, np.squeeze(y)


def ridge(seed=0, m=100, d=80, n=10, lam=None, name=None):
    """Ridge regression of Shulgin & Richtárik (UAI 2022, §4) with exact constants.

    Parameters
    ----------
    seed : int
        Fixes everything: ``make_regression(random_state=seed)``, the random
        split of the rows, and x0 (both from ``numpy.random.SeedSequence(seed)``).
    m, d : int
        Samples and features (the paper: m = 100, d = 80).
    n : int
        Workers; the rows are shuffled and cut into n parts of equal size
        (sizes differ by at most one when n does not divide m; f = (1/n) sum f_i
        holds either way since scale_i = n).
    lam : float, optional
        Regulariser weight; default 1/m (the paper's §4).
    name : str, optional
        Spec name stored in the problem.

    Returns
    -------
    Problem
        LSQ problem with L, L_i, mu, L_plus, x*, f*, grad f_i(x*) exact (dense
        eigen-solves / solve, see :func:`.quadratic.lsq_problem`).

    """
    seed, m, d, n = int(seed), int(m), int(d), int(n)
    where = name or "ridge"
    if not (0 <= seed < 2 ** 32):
        raise ValueError(f"{where}: seed must be an integer in [0, 2^32), got {seed}")
    if m < 1 or d < 1 or not (1 <= n <= m):
        raise ValueError(f"{where}: need m >= 1, d >= 1 and 1 <= n <= m "
                         f"(got m={m}, d={d}, n={n})")
    lam = 1.0 / m if lam is None else float(lam)
    if not (lam >= 0 and math.isfinite(lam)):
        raise ValueError(f"{where}: lam must be a finite number >= 0, got {lam:g}")
    from . import memory
    memory.check(memory.F8 * (4.0 * m * d + 2.0 * n * d * d + 4.0 * d * d),
                 f"the data ({m} x {d}) and n = {n} local {d} x {d} Hessians", where)
    A, y = make_regression(n_samples=m, n_features=d, random_state=seed)
    r_split, r_x0 = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    perm = r_split.permutation(m)
    A = np.ascontiguousarray(A[perm], dtype=np.float64)
    y = np.ascontiguousarray(y[perm], dtype=np.float64)
    sizes = np.full(n, m // n)
    sizes[: m % n] += 1
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    x0 = r_x0.normal(0.0, math.sqrt(10.0), size=d)
    if name is None:
        args = [f"seed={seed}"]
        for k, v, dv in (("m", m, 100), ("d", d, 80), ("n", n, 10)):
            if v != dv:
                args.append(f"{k}={v}")
        if lam != 1.0 / m:
            args.append(f"lam={lam:g}")
        name = f"ridge({', '.join(args)})"
    meta = {"family": "ridge", "seed": seed, "m": m, "d": d, "n": n, "lam": lam,
            "x0": "N(0, 10): variance 10",
            "source": sources.RIDGE}
    return lsq_problem(name, A, y, offsets, np.full(n, float(n)), lam, x0, meta)
