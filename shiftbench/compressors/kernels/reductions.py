"""Norms and counts in a fixed, vectorisable order.

Sums run over ``LANES`` interleaved partial sums (entry i goes to lane
i % LANES, in index order), combined by a fixed pairwise tree
(:func:`lane_tree`): the order is fixed, so results are bit for bit
reproducible on every machine, and the loops vectorise without fastmath.
One loop, :func:`lanes`, serves every reduction; the named functions below
are its constant-argument instances (numba inlines :func:`lanes` into each,
and LLVM drops the branches that the constants rule out).
"""
import math

import numpy as np
from numba import njit

from .intrinsics import stack_f64, prefetch_r, PREFETCH_STREAM

LANES = 16
SUM_SQ = 0        # sum x_i**2
SUM_ABS = 1       # sum |x_i|
MAX_ABS = 2       # max |x_i| (NaN ignored; order-free, lanes only vectorise)


@njit(cache=True, inline="always")
def lane_tree(acc):
    """Fixed pairwise tree over ``acc[:LANES]``: (a0+a1), (a2+a3), ... then
    pairs of those, and so on (``acc`` is overwritten)."""
    w = LANES // 2
    while w >= 1:
        for j in range(w):
            acc[j] = acc[2 * j] + acc[2 * j + 1]
        w //= 2
    return acc[0]


@njit(cache=True, inline="always")
def _lane_op(op, a, v):
    if op == SUM_SQ:
        return a + v * v
    if op == SUM_ABS:
        return a + abs(v)
    b = abs(v)
    return b if b > a else a


@njit(cache=True, inline="always")
def lanes(x, op, count):
    """``(value, nnz)``: the reduction ``op`` of x in lane order and, when
    ``count``, the number of nonzero x_i (0 otherwise).

    ``op`` and ``count`` must be compile-time constants at the call site (a
    read pass that also counts runs ~30% slower, so counting is opt-in).
    """
    d = x.size
    acc = stack_f64(LANES)      # on the stack: nothing allocated per call
    for j in range(LANES):
        acc[j] = 0.0
    nz = 0
    nb = d // LANES
    for b in range(nb):
        base = b * LANES
        if base + PREFETCH_STREAM < d:           # 8 KB ahead: +20% read bandwidth
            prefetch_r(x, base + PREFETCH_STREAM)
            prefetch_r(x, base + PREFETCH_STREAM + 8)
        c = 0
        for j in range(LANES):
            v = x[base + j]
            acc[j] = _lane_op(op, acc[j], v)
            if count:
                c += np.int64(v != 0.0)
        nz += c
    for i in range(nb * LANES, d):
        v = x[i]
        acc[i - nb * LANES] = _lane_op(op, acc[i - nb * LANES], v)
        if count:
            nz += np.int64(v != 0.0)
    if op == MAX_ABS:
        m = 0.0
        for j in range(LANES):
            m = acc[j] if acc[j] > m else m
        return m, nz
    return lane_tree(acc), nz


@njit(cache=True, inline="always")
def sq_dist(a, b):
    """||a - b||^2 in lane order (entry i in lane i % LANES, then
    :func:`lane_tree`): vectorised, where a serial sum waits on one FMA
    chain (4 cycles per entry).  The one-vector form of
    :func:`sq_dist2` (LAG's trigger), which sums each distance exactly
    as this does; the traces' distances to x* are serial sums
    (``methods.engine._sqdist``)."""
    d = a.size
    acc = stack_f64(LANES)
    for j in range(LANES):
        acc[j] = 0.0
    nb = d // LANES
    for bb in range(nb):
        base = bb * LANES
        for j in range(LANES):
            t = a[base + j] - b[base + j]
            acc[j] += t * t
    for i in range(nb * LANES, d):
        t = a[i] - b[i]
        acc[i - nb * LANES] += t * t
    return lane_tree(acc)


@njit(cache=True, inline="always")
def sq_dist2(x, a, b):
    """(||x - a||^2, ||x - b||^2) in one pass, each exactly as
    :func:`sq_dist` sums it (LAG's trigger reads x once)."""
    d = x.size
    acc = stack_f64(LANES)
    acc2 = stack_f64(LANES)
    for j in range(LANES):
        acc[j] = 0.0
        acc2[j] = 0.0
    nb = d // LANES
    for bb in range(nb):
        base = bb * LANES
        for j in range(LANES):
            xv = x[base + j]
            t = xv - a[base + j]
            u = xv - b[base + j]
            acc[j] += t * t
            acc2[j] += u * u
    for i in range(nb * LANES, d):
        t = x[i] - a[i]
        u = x[i] - b[i]
        acc[i - nb * LANES] += t * t
        acc2[i - nb * LANES] += u * u
    return lane_tree(acc), lane_tree(acc2)


@njit(cache=True, inline="always")
def sq_mean(a, n):
    """sum_k (a_k / n)^2 in lane order (the squared norm of a mean from
    its sum, the trace's gradient norm)."""
    d = a.size
    acc = stack_f64(LANES)
    for j in range(LANES):
        acc[j] = 0.0
    nb = d // LANES
    for bb in range(nb):
        base = bb * LANES
        for j in range(LANES):
            t = a[base + j] / n
            acc[j] += t * t
    for i in range(nb * LANES, d):
        t = a[i] / n
        acc[i - nb * LANES] += t * t
    return lane_tree(acc)


@njit(cache=True)
def sum_sq_nnz(x):
    """(sum of x_i**2 in lane order, number of nonzero x_i)."""
    return lanes(x, SUM_SQ, True)


@njit(cache=True)
def sum_abs_nnz(x):
    """(sum of |x_i| in lane order, number of nonzero x_i)."""
    return lanes(x, SUM_ABS, True)


@njit(cache=True)
def max_abs_nnz(x):
    """(max |x_i|, number of nonzero x_i); NaN entries are ignored."""
    return lanes(x, MAX_ABS, True)


@njit(cache=True)
def sum_sq(x):
    """Sum of x_i**2 in lane order."""
    return lanes(x, SUM_SQ, False)[0]


@njit(cache=True)
def sum_abs(x):
    """Sum of |x_i| in lane order."""
    return lanes(x, SUM_ABS, False)[0]


@njit(cache=True)
def max_abs(x):
    """max |x_i| (NaN entries ignored)."""
    return lanes(x, MAX_ABS, False)[0]


@njit(cache=True)
def pnorm_nnz(x, pn):
    """(||x||_p, number of nonzero x_i); sums in lane order."""
    if pn == np.inf:
        return max_abs_nnz(x)
    if pn == 2.0:
        s, nz = sum_sq_nnz(x)
        return math.sqrt(s), nz
    if pn == 1.0:
        return sum_abs_nnz(x)
    acc = stack_f64(LANES)
    for j in range(LANES):
        acc[j] = 0.0
    nz = 0
    for i in range(x.size):
        v = x[i]
        acc[i % LANES] += abs(v) ** pn
        nz += np.int64(v != 0.0)
    return lane_tree(acc) ** (1.0 / pn), nz


@njit(cache=True)
def pnorm(x, pn):
    """||x||_p with the lane-order sums of :func:`pnorm_nnz` (no count)."""
    if pn == np.inf:
        return max_abs(x)
    if pn == 2.0:
        return math.sqrt(sum_sq(x))
    if pn == 1.0:
        return sum_abs(x)
    return pnorm_nnz(x, pn)[0]
