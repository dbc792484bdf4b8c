"""Users' own problems from arrays: :func:`problem_from_arrays`.

>>> import numpy as np, shiftbench as sb
>>> A, y = np.random.default_rng(0).standard_normal((103, 5)), np.ones(103)
>>> p = sb.problem_from_arrays(A, y, loss="squared", n=10, lam=0.1, split="balanced")
>>> p.n, p.offsets[:3].tolist(), round(p.mu, 12) >= 0.1
(10, [0, 11, 22], True)

The rows of ``A`` (and entries of ``y``) are cut into n contiguous worker
blocks A_i (N_i rows); ``split`` says what happens to the N mod n rows left
over.  Worker i averages its own rows:

* ``"squared"``     f_i(x) = (1/N_i) sum_j 1/2 (a_j^T x - y_j)^2 + lam/2 ||x||^2
* ``"logistic"``    f_i(x) = (1/N_i) sum_j log(1 + exp(-y_j a_j^T x)) + lam/2 ||x||^2
* ``"logistic-nc"`` f_i(x) = (1/N_i) sum_j log(1 + exp(-y_j a_j^T x))
                             + lam sum_k x_k^2 / (1 + x_k^2)

(the nonconvex regulariser of the EF21 and 3PC experiments; Richtárik et al.,
3PC, ICML 2022), and f = (1/n) sum_i f_i.  With equal blocks f is the mean
loss over the kept rows.

The constants are those of the built-in problems: for ``"squared"`` exact
L, L_i, mu, L_plus, x*, f*, grad f_i(x*) from dense eigen-solves (see
:func:`.quadratic.lsq_problem`); for the logistic losses the standard
bounds L_i = lambda_max(A_i^T A_i)/(4 N_i) + lam (+ 2 lam for
``"logistic-nc"``), mu = lam or 0, and for ``"logistic"`` with lam > 0 the
minimiser x* to ~1e-15 (see :mod:`.logreg`).
"""
from __future__ import annotations

import math

import numpy as np

from . import memory
from .base import LOGREG, LOGREG_NC, SPLITS, block_offsets
from .logreg import _build
from .quadratic import lsq_problem

LOSSES = ("squared", "logistic", "logistic-nc")


def problem_from_arrays(A, y, loss="squared", n=1, lam=0.0, split="drop", x0=None,
                        name=None):
    """A finite-sum problem with exact constants from a data matrix and targets.

    Parameters
    ----------
    A : array_like (N, d) or scipy.sparse matrix
        Data rows (densified as float64; the memory is checked first).
    y : array_like (N,)
        Targets (``"squared"``) or labels in {-1, +1} (logistic losses).
    loss : {"squared", "logistic", "logistic-nc"}
        The loss (module docstring).
    n : int
        Workers, 1 <= n <= N.
    lam : float
        Regulariser weight >= 0.
    split : {"drop", "last", "balanced"}
        The N mod n rows left over by N // n rows per worker: ``"drop"``
        them (as the built-in logreg does), give them to the ``"last"``
        worker (as the EF21 authors' code does), or ``"balanced"``: the
        first N mod n workers get one row more (sizes differ by at most 1).
    x0 : array_like (d,), optional
        Starting point (default zeros).
    name : str, optional
        Name stored in the problem (default ``"arrays(loss=..., N=..., ...)"``).

    Returns
    -------
    Problem
        ``meta`` records ``split``, ``dropped_rows`` and ``rows_per_worker``.

    Raises
    ------
    ValueError
        One line: a bad shape, NaN/inf values, labels outside {-1, +1}, an
        unknown loss or split, n outside [1, N], lam < 0, or arrays larger than
        the memory available.
    """
    where = name or "problem_from_arrays"
    if not isinstance(loss, str) or loss.strip().lower() not in LOSSES:
        raise ValueError(f"{where}: loss={loss!r}; allowed: {', '.join(LOSSES)}")
    loss = loss.strip().lower()
    if not isinstance(split, str) or split.strip().lower() not in SPLITS:
        raise ValueError(f"{where}: split={split!r}; allowed: {', '.join(SPLITS)}")
    split = split.strip().lower()
    try:
        lam = float(lam)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: lam must be a finite number >= 0, got {lam!r}") from None
    if not (lam >= 0 and math.isfinite(lam)):
        raise ValueError(f"{where}: lam must be a finite number >= 0, got {lam!r}")
    if isinstance(n, float) and n.is_integer():
        n = int(n)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise ValueError(f"{where}: n (workers) must be an integer >= 1, got {n!r}")
    shape = getattr(A, "shape", None)
    if shape is None:
        A = np.asarray(A)
        shape = A.shape
    if len(shape) != 2 or shape[0] < 1 or shape[1] < 1:
        raise ValueError(f"{where}: A must be a 2-D array with at least one row and "
                         f"column, got shape {tuple(shape)}")
    N, d = int(shape[0]), int(shape[1])
    memory.check(memory.F8 * 2.0 * N * d, f"the dense data matrix {N} x {d}", where)
    if hasattr(A, "toarray") and not isinstance(A, np.ndarray):
        A = A.toarray()
    try:
        A = np.array(A, dtype=np.float64, order="C")
        y = np.array(y, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{where}: A and y must be numeric arrays ({e})") from None
    if y.size != N:
        raise ValueError(f"{where}: y has {y.size} entries but A has {N} rows")
    for what, arr in (("A", A), ("y", y)):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{where}: {what} contains NaN or infinite values; only "
                             f"finite values are allowed")
    if loss != "squared" and not np.all((y == 1.0) | (y == -1.0)):
        vals = ", ".join(f"{v:g}" for v in np.unique(y)[:6])
        raise ValueError(f"{where}: logistic labels must be -1 or +1, got {vals}; map "
                         f"them first, e.g. y = np.where(y == positive, 1.0, -1.0)")
    off, dropped = block_offsets(N, int(n), split, where)
    n = int(n)
    if x0 is None:
        x0 = np.zeros(d)
    else:
        x0 = np.array(x0, dtype=np.float64).reshape(-1)
        if x0.size != d or not np.all(np.isfinite(x0)):
            raise ValueError(f"{where}: x0 must be {d} finite numbers")
    if name is None:
        lam_s = f"{lam:g}" if float(f"{lam:g}") == lam else repr(lam)
        name = (f"arrays(loss={loss}, N={N}, d={d}, n={n}, lam={lam_s}"
                + (f", split={split})" if split != "drop" else ")"))
    sizes = np.diff(off)
    meta = {"family": "arrays", "loss": loss, "N_total": N}
    if loss == "squared":
        keep = int(off[-1])
        meta.update({"split": split, "dropped_rows": int(dropped),
                     "rows_per_worker": int(sizes[0]) if np.all(sizes == sizes[0])
                     else [int(v) for v in sizes]})
        return lsq_problem(name, A[:keep], y[:keep], off, 1.0 / sizes.astype(np.float64),
                           lam, x0, meta)
    kind = LOGREG if loss == "logistic" else LOGREG_NC
    p = _build(kind, A, y, n, lam, where, name, meta, split)
    p.x0 = np.ascontiguousarray(x0)
    return p
