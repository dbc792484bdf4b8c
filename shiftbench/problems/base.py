"""Finite-sum problems f = (1/n) sum_i f_i as plain arrays + compiled pieces.

A problem is data, not code: a ``kind`` code, a row-stacked data matrix
``A`` (N x d) with targets/labels ``b``, row ``offsets`` per worker, a
per-worker weight ``scale`` of the data term and a regulariser weight
``lam``.  One njit function, :func:`local_grad`, evaluates any worker's
gradient (and loss) for any kind, so compiled method loops take problems as
arguments without closures (and stay cacheable).

Kinds (f_i with A_i = A[off[i]:off[i+1]], b_i likewise):

* ``LSQ``       f_i(x) = scale_i * 1/2 ||A_i x - b_i||^2 + lam/2 ||x||^2
* ``LOGREG``    f_i(x) = scale_i * sum_j log(1 + exp(-b_j a_j^T x)) + lam/2 ||x||^2
* ``LOGREG_NC`` f_i(x) = scale_i * sum_j log(1 + exp(-b_j a_j^T x))
                         + lam * sum_k x_k^2 / (1 + x_k^2)
                         (the nonconvex regulariser of the EF21, NeurIPS 2021, and
                         3PC, ICML 2022, experiments of Richtárik et al.)
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
from numba import njit

LSQ = 0
LOGREG = 1
LOGREG_NC = 2
KIND_NAMES = {LSQ: "least-squares", LOGREG: "logistic", LOGREG_NC: "logistic-nonconvex"}


@njit(cache=True, inline="always")
def _row_loss_coef(kind, t, bj, s):
    """Loss of one data row at t = a_j^T x, and the coefficient of a_j in the
    gradient (scale ``s`` applied to the coefficient, not to the loss).

    Logistic rows: one exp for both, e = exp(-|m|) with m = -b t:
    log(1 + exp(m)) = max(m, 0) + log1p(e), and
    d/dt log(1 + exp(-b t)) = -b sigmoid(m) = -b / (1 + e) (m >= 0) or
    -b e / (1 + e) (m < 0).
    """
    if kind == LSQ:
        r = t - bj
        return 0.5 * r * r, s * r
    m = -bj * t
    if m >= 0:
        ee = math.exp(-m)
        return m + math.log1p(ee), -s * bj / (1.0 + ee)
    ee = math.exp(m)
    return math.log1p(ee), -s * bj * ee / (1.0 + ee)


# Reassociation lets LLVM vectorise the row dot products (vfmadd...pd on zmm
# registers, several partial sums); no 'nnan'/'ninf', so NaN and inf still
# propagate and divergence is detected.
FASTMATH = {"reassoc", "contract"}

# From this dimension on, rows are taken 8 at a time (else 4): x and the
# output stream through memory once per 8 rows.  Measured on an AMD Zen 4 core:
# 8-row blocks are 5-10% faster from d ~ 1000 on (and 20-25% at d = 10^6,
# where A_i is read from DRAM), 4-row blocks faster at d <= 500.
WIDE_D = 1024


@njit(cache=True, fastmath=FASTMATH, inline="always")
def _dot4(A, j, x, d):
    t0 = 0.0
    t1 = 0.0
    t2 = 0.0
    t3 = 0.0
    for k in range(d):
        xk = x[k]
        t0 += A[j, k] * xk
        t1 += A[j + 1, k] * xk
        t2 += A[j + 2, k] * xk
        t3 += A[j + 3, k] * xk
    return t0, t1, t2, t3


SPARSE = 8
"""``kind + SPARSE``: the rows are stored sparse (:func:`ell_rows`); the
compiled loops use this form where it wins (:func:`use_sparse_rows`)."""

SPARSE_RATIO = 0.125
"""Sparse rows are used when a row has at most this fraction of d nonzeros
on average (see :func:`use_sparse_rows`)."""


def ell_rows(A):
    """The rows of a dense matrix A (N x d) in ELLPACK form, one float64
    array E (N x (1 + 2w)), w the most nonzeros in a row: ``E[j, 0]`` is
    row j's count c_j, ``E[j, 1:1+c_j]`` its nonzero values and ``E[j,
    1+w:1+w+c_j]`` their column indices (exact as float64 for d < 2^53), in
    increasing order; the padding is 0.  One array, so the loops' signature
    and their row slicing (MPI shards) are those of the dense form."""
    A = np.asarray(A, dtype=np.float64)
    N = A.shape[0]
    nz = A != 0.0
    cnt = nz.sum(axis=1)
    w = max(int(cnt.max()) if N else 0, 1)
    E = np.zeros((N, 1 + 2 * w))
    E[:, 0] = cnt
    rows, cols = np.nonzero(nz)
    pos = np.arange(rows.size) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    E[rows, 1 + pos] = A[rows, cols]
    E[rows, 1 + w + pos] = cols
    return E


def use_sparse_rows(A):
    """True when the loops should read A's rows sparse (:func:`ell_rows`):
    a row has at most ``SPARSE_RATIO`` d nonzeros on average, and the ELL
    form is no wider than the dense one.

    The sparse gradient does 2 c_j scalar gathers per row where the dense
    one does 2 d vectorised multiply-adds.  Measured (logistic, n = 20, on
    the 2-core VM): a9a (d = 123, 11% nonzero, 32 MB dense) 1.9x faster
    sparse; mushrooms (d = 112, 19%, in cache) 1.8x slower sparse; phishing
    (d = 68, 44%) 3.6x slower sparse."""
    A = np.asarray(A)
    if A.ndim != 2 or A.shape[0] == 0 or A.shape[1] < 16:
        return False
    cnt = np.count_nonzero(A, axis=1)
    N, d = A.shape
    return cnt.sum() <= SPARSE_RATIO * N * d and 1 + 2 * int(cnt.max()) <= d


@njit(cache=True, inline="always")
def _regulariser(kind, lam, x, out):
    """out = grad of the regulariser at x; returns its value."""
    d = x.size
    reg = 0.0
    if kind == LOGREG_NC:
        for k in range(d):
            xk = x[k]
            q = 1.0 + xk * xk
            reg += xk * xk / q
            out[k] = lam * 2.0 * xk / (q * q)
        return reg * lam
    for k in range(d):
        xk = x[k]
        reg += xk * xk
        out[k] = lam * xk
    return reg * (0.5 * lam)


@njit(cache=True, fastmath=FASTMATH)
def _local_grad_ell(kind, E, b, off, scale, lam, i, x, out):
    """:func:`local_grad` on ELL rows (:func:`ell_rows`): 2 c_j multiply-adds
    per row instead of 2 d."""
    s = scale[i]
    reg = _regulariser(kind, lam, x, out)
    w = (E.shape[1] - 1) // 2
    fval = 0.0
    for j in range(off[i], off[i + 1]):
        c = np.int64(E[j, 0])
        t = 0.0
        for q in range(c):
            t += E[j, 1 + q] * x[np.int64(E[j, 1 + w + q])]
        loss, cj = _row_loss_coef(kind, t, b[j], s)
        fval += loss
        for q in range(c):
            k = np.int64(E[j, 1 + w + q])
            out[k] += cj * E[j, 1 + q]
    return fval * s + reg


@njit(cache=True, fastmath=FASTMATH)
def local_grad(kind, A, b, off, scale, lam, i, x, out):
    """Gradient of f_i at x into ``out``; returns f_i(x).  No allocation.

    Rows are taken in blocks (8 or 4 rows, then 2, then 1): one pass over
    the block for its dot products a_j^T x, one for out += sum_j c_j a_j,
    so x and ``out`` stream once per block and each inner loop vectorises.
    The regulariser initialises ``out`` (no separate zeroing pass).  Sums
    are reassociated (``FASTMATH``), so results agree with a NumPy
    reference to rounding (~1e-16 relative at d = 80), not bit for bit.
    ``kind + SPARSE``: A holds the rows in ELL form (:func:`ell_rows`).
    """
    if kind >= SPARSE:
        return _local_grad_ell(kind - SPARSE, A, b, off, scale, lam, i, x, out)
    d = x.size
    s = scale[i]
    reg = _regulariser(kind, lam, x, out)
    fval = 0.0
    j = off[i]
    e = off[i + 1]
    if d >= WIDE_D:
        while j + 7 < e:
            t0 = 0.0
            t1 = 0.0
            t2 = 0.0
            t3 = 0.0
            t4 = 0.0
            t5 = 0.0
            t6 = 0.0
            t7 = 0.0
            for k in range(d):
                xk = x[k]
                t0 += A[j, k] * xk
                t1 += A[j + 1, k] * xk
                t2 += A[j + 2, k] * xk
                t3 += A[j + 3, k] * xk
                t4 += A[j + 4, k] * xk
                t5 += A[j + 5, k] * xk
                t6 += A[j + 6, k] * xk
                t7 += A[j + 7, k] * xk
            l0, c0 = _row_loss_coef(kind, t0, b[j], s)
            l1, c1 = _row_loss_coef(kind, t1, b[j + 1], s)
            l2, c2 = _row_loss_coef(kind, t2, b[j + 2], s)
            l3, c3 = _row_loss_coef(kind, t3, b[j + 3], s)
            l4, c4 = _row_loss_coef(kind, t4, b[j + 4], s)
            l5, c5 = _row_loss_coef(kind, t5, b[j + 5], s)
            l6, c6 = _row_loss_coef(kind, t6, b[j + 6], s)
            l7, c7 = _row_loss_coef(kind, t7, b[j + 7], s)
            fval += ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7))
            for k in range(d):
                out[k] += (((c0 * A[j, k] + c1 * A[j + 1, k])
                            + (c2 * A[j + 2, k] + c3 * A[j + 3, k]))
                           + ((c4 * A[j + 4, k] + c5 * A[j + 5, k])
                              + (c6 * A[j + 6, k] + c7 * A[j + 7, k])))
            j += 8
    while j + 3 < e:
        t0, t1, t2, t3 = _dot4(A, j, x, d)
        l0, c0 = _row_loss_coef(kind, t0, b[j], s)
        l1, c1 = _row_loss_coef(kind, t1, b[j + 1], s)
        l2, c2 = _row_loss_coef(kind, t2, b[j + 2], s)
        l3, c3 = _row_loss_coef(kind, t3, b[j + 3], s)
        fval += (l0 + l1) + (l2 + l3)
        for k in range(d):
            out[k] += (c0 * A[j, k] + c1 * A[j + 1, k]) + (c2 * A[j + 2, k] + c3 * A[j + 3, k])
        j += 4
    if j + 1 < e:
        t0 = 0.0
        t1 = 0.0
        for k in range(d):
            xk = x[k]
            t0 += A[j, k] * xk
            t1 += A[j + 1, k] * xk
        l0, c0 = _row_loss_coef(kind, t0, b[j], s)
        l1, c1 = _row_loss_coef(kind, t1, b[j + 1], s)
        fval += l0 + l1
        for k in range(d):
            out[k] += c0 * A[j, k] + c1 * A[j + 1, k]
        j += 2
    if j < e:
        t = 0.0
        for k in range(d):
            t += A[j, k] * x[k]
        loss, c = _row_loss_coef(kind, t, b[j], s)
        fval += loss
        for k in range(d):
            out[k] += c * A[j, k]
    return fval * s + reg


@njit(cache=True)
def full_grad(kind, A, b, off, scale, lam, x, out, work):
    """Gradient of f = (1/n) sum f_i into ``out`` (``work``: d scratch); returns f(x)."""
    n = off.size - 1
    d = x.size
    for k in range(d):
        out[k] = 0.0
    f = 0.0
    for i in range(n):
        f += local_grad(kind, A, b, off, scale, lam, i, x, work)
        for k in range(d):
            out[k] += work[k]
    inv = 1.0 / n
    for k in range(d):
        out[k] *= inv
    return f * inv


@dataclass
class Problem:
    """A finite-sum problem with the exact constants the theory needs.

    Attributes
    ----------
    name : str
        Spec-style name, e.g. ``"ridge(seed=0)"``.
    kind : int
        ``LSQ``, ``LOGREG`` or ``LOGREG_NC``.
    A, b, offsets, scale, lam
        Data (see module docstring).
    L : float
        Smoothness constant of f.
    L_i : ndarray (n,)
        Smoothness constants of the f_i.
    mu : float
        Strong-convexity constant of f (0 if not strongly convex / nonconvex).
    x_star, f_star, grad_star
        Minimiser, minimum and the local gradients grad f_i(x*) (n x d),
        where they exist (None otherwise).
    x0 : ndarray
        Default starting point.
    L_minus, L_plus : float
        constants of Richtárik et al., 3PC, ICML 2022: L_- = L, L_+^2 bounds the mean of
        ||grad f_i(x) - grad f_i(y)||^2 / ||x - y||^2.
    """
    name: str
    kind: int
    A: np.ndarray
    b: np.ndarray
    offsets: np.ndarray
    scale: np.ndarray
    lam: float
    L: float
    L_i: np.ndarray
    mu: float
    x0: np.ndarray
    x_star: Optional[np.ndarray] = None
    f_star: Optional[float] = None
    grad_star: Optional[np.ndarray] = None
    L_plus: Optional[float] = None
    meta: dict = field(default_factory=dict)

    @property
    def n(self):
        return self.offsets.size - 1

    @property
    def d(self):
        return self.A.shape[1]

    @property
    def L_max(self):
        return float(np.max(self.L_i))

    @property
    def L_minus(self):
        return self.L

    @property
    def kappa(self):
        return self.L / self.mu if self.mu > 0 else math.inf

    def args(self):
        """The tuple passed to compiled kernels."""
        return (self.kind, self.A, self.b, self.offsets, self.scale, float(self.lam))

    def grad_i(self, i, x):
        out = np.empty(self.d)
        local_grad(*self.args()[:5], float(self.lam), i, np.ascontiguousarray(x, float), out)
        return out

    def f_i(self, i, x):
        out = np.empty(self.d)
        return local_grad(*self.args()[:5], float(self.lam), i,
                          np.ascontiguousarray(x, float), out)

    def grad(self, x):
        out = np.empty(self.d)
        full_grad(*self.args(), np.ascontiguousarray(x, float), out, np.empty(self.d))
        return out

    def f(self, x):
        out = np.empty(self.d)
        return full_grad(*self.args(), np.ascontiguousarray(x, float), out, np.empty(self.d))

    def summary(self):
        return {"problem": self.name, "kind": KIND_NAMES[self.kind], "n": self.n,
                "d": self.d, "L": self.L, "L_max": self.L_max, "mu": self.mu,
                "kappa": self.kappa, "lam": self.lam}


SPLITS = ("drop", "last", "balanced")


def block_offsets(N, n, split="drop", where="problem"):
    """Row offsets (n+1,) of n contiguous worker blocks of N rows, and rows dropped.

    * ``"drop"``: N // n rows each; the last N mod n rows are dropped;
    * ``"last"``: N // n rows each, the last worker also gets the remainder
      (as in the EF21 authors' code);
    * ``"balanced"``: the first N mod n workers get one row more (sizes
      differ by at most 1).

    Raises a one-line ``ValueError`` for n < 1, N < n or an unknown split.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{where}: n (workers) must be an integer >= 1, got {n!r}")
    n, N = int(n), int(N)
    if split not in SPLITS:
        raise ValueError(f"{where}: split={split!r}; allowed: {', '.join(SPLITS)}")
    if N < n:
        raise ValueError(f"{where}: {N} rows cannot give n = {n} non-empty blocks")
    Nb = N // n
    if split == "balanced":
        sizes = np.full(n, Nb, dtype=np.int64)
        sizes[: N - Nb * n] += 1
        off = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        return off, 0
    off = (np.arange(n + 1) * Nb).astype(np.int64)
    if split == "last":
        off[-1] = N
        return off, 0
    return off, N - Nb * n
