"""Random sparsification: Rand-K (Floyd's algorithm, O(K)) and adaptive
random sparsification.

Sampling kernels draw from the worker's xoroshiro128+ stream directly
(:mod:`shiftbench._rng`), in the order documented per kernel; the NumPy
references of :mod:`shiftbench.naive.compressors` draw in the same order.
"""
import numpy as np
from numba import njit

from ..._rng import bounded, uniform
from .intrinsics import stack_f64, prefetch_r, prefetch_w, PREFETCH_AHEAD


@njit(cache=True)
def _floyd(d, k, rng, mark, idx, x, vals, scale, gather):
    """Floyd's algorithm into idx[:k] (and vals = scale x[idx] if gather).

    Phase 1 draws ``t_n = bounded(j + 1)`` for j = d-K, ..., d-1 (the RNG
    chain alone); phase 2 applies Floyd's rule ``t_n already chosen ->
    take j`` with a bitset in ``mark`` (bit t of byte t >> 3, so d/8 bytes
    that stay in cache) and prefetches ``PREFETCH_AHEAD`` entries ahead, so
    the random accesses overlap instead of queueing behind each other.
    """
    n = 0
    for j in range(d - k, d):
        idx[n] = bounded(rng, j + 1)
        n += 1
    n = 0
    for j in range(d - k, d):
        if n + PREFETCH_AHEAD < k:
            nxt = idx[n + PREFETCH_AHEAD]
            prefetch_w(mark, nxt >> 3)
            if gather:
                prefetch_r(x, nxt)
        t = idx[n]
        byte = t >> 3
        bit = np.uint8(1 << (t & 7))
        w = mark[byte]
        mark[byte] = w | bit
        if (w & bit) != 0:
            t = j
            idx[n] = j
            mark[j >> 3] |= np.uint8(1 << (j & 7))
        if gather:
            vals[n] = scale * x[t]
        n += 1
    for j in range(k):
        mark[idx[j] >> 3] = 0


@njit(cache=True)
def floyd_sample(d, k, rng, mark, idx):
    """K distinct indices uniform over the K-subsets of {0..d-1} into idx[:k].

    Floyd's algorithm: for j = d-K, ..., d-1 draw ``t = bounded(j + 1)``
    and take t, or j if t was taken already.  O(K) work and O(K) draws; the
    indices come in that order (not sorted).  ``mark`` (uint8, length >= d,
    all zero on entry) is used as a bitset and left all zero.
    """
    dummy = stack_f64(1)        # gather arrays are unused: nothing allocated
    _floyd(d, k, rng, mark, idx, dummy, dummy, 1.0, False)


@njit(cache=True, inline="always")
def randk(x, out, k, scale, rng, mark, iwork):
    """(scale) * x on K random coordinates; returns the kept count."""
    d = x.size
    for i in range(d):
        out[i] = 0.0
    # same draws as floyd_sample; x and out stand in for the unused gather
    # arrays, so nothing is allocated
    _floyd(d, k, rng, mark, iwork, x, out, scale, False)
    for j in range(k):
        t = iwork[j]
        out[t] = scale * x[t]
    return k


@njit(cache=True, inline="always")
def randk_sparse(x, k, scale, rng, mark, idx, vals):
    """Sparse Rand-K: ``idx[:k]`` (sampling order) and ``vals = scale x[idx]``.

    O(K) time and draws: nothing of size d is touched except K entries of x
    and d/8 bytes of ``mark`` at most.  Draws exactly as :func:`randk`, so
    scattering ``vals`` at ``idx`` into zeros gives :func:`randk`'s output.
    """
    _floyd(x.size, k, rng, mark, idx, x, vals, scale, True)
    return k


@njit(cache=True, inline="always")
def adaptive(x, out, k, rng):
    """Adaptive random sparsification (reconstructed from J. Wangni, J. Wang,
    J. Liu and T. Zhang, "Gradient sparsification for communication-efficient
    distributed optimization", NeurIPS 2018).

    p_i = min(1, lam |x_i|) with lam chosen so that sum p_i = min(K, nnz):
    coordinates that saturate at 1 are fixed and lam is recomputed on the
    rest until no new coordinate saturates (at most d rounds, usually 1-3).
    Kept entries are x_i / p_i (unbiased).  Draws: one uniform per
    coordinate with 0 < p_i < 1, in index order.  Returns the kept count.

    Variance (the claimed omega, derived): lam starts at K/||x||_1 and never
    decreases, so p_i >= K |x_i| / ||x||_1 for every i (if p_i = 1 then
    1 >= lam |x_i|).  Hence E||C(x)||^2 = sum_i x_i^2 / p_i <= ||x||_1^2 / K
    <= (d/K) ||x||^2, i.e. C is in U(omega) with omega = d/K - 1.  When
    nnz(x) < K the target is nnz(x) and the same argument over the support
    gives E||C(x)||^2 <= ||x||_1^2 / nnz <= ||x||^2 (omega = 0 there).
    """
    d = x.size
    l1 = 0.0
    nnz = 0
    for i in range(d):
        a = abs(x[i])
        l1 += a
        if a > 0.0:
            nnz += 1
    if l1 == 0.0:
        for i in range(d):
            out[i] = 0.0
        return 0
    target = k if k < nnz else nnz
    # lam: iterate saturation
    lam = target / l1
    for _ in range(d):
        sat = 0
        rest = 0.0
        for i in range(d):
            a = abs(x[i])
            if lam * a >= 1.0:
                sat += 1
            else:
                rest += a
        if rest == 0.0:
            break
        new_lam = (target - sat) / rest
        if new_lam <= lam * (1.0 + 1e-15):
            break
        lam = new_lam
    kept = 0
    for i in range(d):
        a = abs(x[i])
        pi = lam * a
        if pi >= 1.0:
            out[i] = x[i]
            kept += 1
        elif pi > 0.0 and uniform(rng) < pi:
            out[i] = x[i] / pi
            kept += 1
        else:
            out[i] = 0.0
    return kept
