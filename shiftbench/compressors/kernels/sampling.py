"""Random sparsification: Rand-K (Floyd's algorithm, O(K), for small K; a
streaming O(d) selection for large K) and adaptive random sparsification.

Sampling kernels draw from the worker's xoroshiro128+ stream directly
(:mod:`shiftbench._rng`), in the order documented per kernel; the NumPy
references of :mod:`shiftbench.naive.compressors` draw in the same order.
"""
import numpy as np
from numba import njit

from numba import uint64

from ..._rng import bounded, next_u64, ctr_u64
from .intrinsics import (stack_f64, prefetch_r, prefetch_w, PREFETCH_AHEAD, u2f, f2u, SIGN_BIT,
                         IW_SUPPORT)
from .reductions import LANES, lane_tree

RANDK_STREAM_RATIO = 12
RANDK_STREAM_RATIO_LARGE = 40
RANDK_STREAM_LARGE_D = 1 << 22
STREAM_LEVELS = 1 << 16      # resolution of the streaming rule's 16-bit draws
"""Rand-K streams (O(d), :func:`randk_streams`) when ``K * ratio >= d``,
ratio = RANDK_STREAM_RATIO (12) below d = 2**22 and RANDK_STREAM_RATIO_LARGE
(40) from there; below, Floyd's algorithm (O(K)) is faster.  Measured
crossovers (2-core AMD EPYC): K/d ~ 0.06-0.08 while x is in cache (the pass
is bound by its hashing, 0.4 ns/entry), ~0.02 at d = 10**7 (Floyd's random
accesses miss the cache, the pass runs at copy speed)."""


@njit(cache=True, inline="always")
def randk_streams(k, d):
    """True when Rand-K selects by the streaming rule (a deterministic
    function of (K, d) only, so every implementation takes the same path)."""
    ratio = RANDK_STREAM_RATIO_LARGE if d >= RANDK_STREAM_LARGE_D else RANDK_STREAM_RATIO
    return np.int64(k) * ratio >= d


@njit(cache=True, inline="always")
def stream_threshold(k, d):
    """The 16-bit acceptance threshold ``round(STREAM_LEVELS K / d)`` of the streaming
    rule (entry i is a candidate when its 16-bit draw is below it)."""
    return (np.int64(k) * STREAM_LEVELS + d // 2) // d


@njit(cache=True, inline="always")
def stream_bit(key, i, thr):
    """Whether entry i is a first-pass candidate: its 16-bit draw, bits
    ``16 (i % 4) ...`` of ``ctr_u64(key, i // 4)``, is below ``thr``."""
    r = ctr_u64(key, i >> 2)
    return np.int64((r >> uint64(16 * (i & 3))) & uint64(0xFFFF)) < thr


@njit(cache=True, inline="always")
def _stream_pass(d, x, out, key, thr, scale, write):
    """Candidates of the streaming rule among {0..d-1}: returns their count
    and, when ``write``, out[i] = scale x[i] on them and 0 elsewhere
    (branch-free; the plain loop over i, which recomputes the hash of each
    group of 4, vectorises and runs at copy speed; a loop over the groups
    does not vectorise and is 5x slower)."""
    c = 0
    for i in range(d):
        sel = stream_bit(key, i, thr)
        if write:
            out[i] = scale * x[i] if sel else 0.0
        c += np.int64(sel)
    return c


@njit(cache=True, inline="always")
def _stream_fix(d, k, c, key, thr, rng, mark, lst, x, out, scale, write):
    """Bring the c candidates to exactly K: if c > K, drop c - K of them, else
    add K - c non-candidates, each drawn as ``bounded(d)`` from the stream
    and accepted when it is of the wanted kind and not yet toggled (bit t of
    ``mark``).  The toggled entries go to ``lst`` (when ``lst.size > 0``),
    and into out when ``write``.  Returns the number toggled.

    The candidates are exchangeable and the toggled set is a uniform sample
    of the wanted kind, so the K-subset is uniform over all K-subsets.
    """
    drop = c > k
    want = c - k if drop else k - c
    m = 0
    while m < want:
        t = bounded(rng, d)
        byte = t >> 3
        bit = np.uint8(1 << (t & 7))
        if (mark[byte] & bit) != 0 or stream_bit(key, t, thr) != drop:
            continue
        mark[byte] |= bit
        if lst.size > 0:
            lst[m] = t
        if write:
            out[t] = 0.0 if drop else scale * x[t]
        m += 1
    return m


@njit(cache=True, inline="always")
def _stream_sparse(d, x, k, scale, rng, mark, idx, vals, gather):
    """The streaming rule as indices (increasing) into idx[:k] (and vals =
    scale x[idx] if gather); ``mark`` is cleared on the way."""
    key = next_u64(rng)
    thr = stream_threshold(k, d)
    c = _stream_pass(d, x, x, key, thr, 1.0, False)
    m = _stream_fix(d, k, c, key, thr, rng, mark, idx[:0], x, x, scale, False)
    n = 0
    if k > 0:
        for i in range(d):               # branch-free compaction, stops at K
            sel = stream_bit(key, i, thr) != (((mark[i >> 3] >> (i & 7)) & 1) != 0)
            idx[n] = i
            if gather:
                vals[n] = scale * x[i]
            n += np.int64(sel)
            if n == k:
                break
    if m > 0:
        for b in range((d + 7) >> 3):
            mark[b] = 0
    return n


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
    """Rand-K's index set: K distinct indices uniform over the K-subsets of
    {0..d-1} into idx[:k], with exactly Rand-K's draws (so a receiver that
    shares the stream replays the sender's set and stream).

    Small K (``not randk_streams(k, d)``): Floyd's algorithm, for j = d-K,
    ..., d-1 draw ``t = bounded(j + 1)`` and take t, or j if t was taken
    already; O(K) work and draws, indices in that order (not sorted).
    Large K: the streaming rule (:func:`randk`), indices increasing.
    ``mark`` (uint8, length >= d, all zero on entry) is left all zero.
    """
    dummy = stack_f64(1)        # gather arrays are unused: nothing allocated
    if randk_streams(k, d):
        _stream_sparse(d, dummy, k, 1.0, rng, mark, idx, dummy, False)
        return
    _floyd(d, k, rng, mark, idx, dummy, dummy, 1.0, False)


@njit(cache=True, inline="always")
def randk(x, out, k, scale, rng, mark, iwork):
    """(scale) * x on K random coordinates; returns the kept count.

    Small K: Floyd's algorithm (:func:`floyd_sample`).  Large K
    (:func:`randk_streams`), one streaming pass: draw ``key = next_u64``;
    entry i is a candidate when its 16-bit counter-based draw is below
    ``round(STREAM_LEVELS K / d)`` (:func:`stream_bit`), which writes out; then the
    candidate count is corrected to exactly K by ``bounded(d)`` draws
    (:func:`_stream_fix`).  The candidates are exchangeable and the
    correction removes (adds) a uniform subset of them (of the others), so
    the kept set is uniform over the K-subsets, like Floyd's.
    """
    d = x.size
    if randk_streams(k, d):
        key = next_u64(rng)
        thr = stream_threshold(k, d)
        c = _stream_pass(d, x, out, key, thr, scale, True)
        m = _stream_fix(d, k, c, key, thr, rng, mark, iwork, x, out, scale, True)
        for j in range(m):
            mark[iwork[j] >> 3] = 0
        iwork[IW_SUPPORT] = -1         # no support list (the fix-ups may cover the slot)
        return k
    for i in range(d):
        out[i] = 0.0
    # same draws as floyd_sample; x and out stand in for the unused gather
    # arrays, so nothing is allocated
    _floyd(d, k, rng, mark, iwork, x, out, scale, False)
    for j in range(k):
        t = iwork[j]
        out[t] = scale * x[t]
    # the support hint (out is zero off iwork[:k]), unless the list itself
    # covers the hint's slot
    iwork[IW_SUPPORT] = k if k < IW_SUPPORT else -1
    return k


@njit(cache=True, inline="always")
def randk_sparse(x, k, scale, rng, mark, idx, vals):
    """Sparse Rand-K: ``idx[:k]`` (sampling order; increasing for large K)
    and ``vals = scale x[idx]``.

    Small K: O(K) time and draws: nothing of size d is touched except K entries of x
    and d/8 bytes of ``mark`` at most.  Draws exactly as :func:`randk`, so
    scattering ``vals`` at ``idx`` into zeros gives :func:`randk`'s output.
    """
    d = x.size
    if randk_streams(k, d):
        _stream_sparse(d, x, k, scale, rng, mark, idx, vals, True)
        return k
    _floyd(d, k, rng, mark, idx, x, vals, scale, True)
    return k


@njit(cache=True, inline="always")
def unit52(r):
    """``(r >> 12) * 2**-52`` (exact), a double in [0, 1), by bit operations:
    the double 1 + (r >> 12) 2**-52 minus 1."""
    return u2f(np.uint64(0x3FF0000000000000) | (r >> uint64(12))) - 1.0


@njit(cache=True, inline="always")
def _adaptive_stats(x):
    """(||x||_1 in lane order, nnz(x), max |x_i|) in one vectorised pass
    (the counts are kept as float lanes: int64 counters beside two float
    accumulators run at half the speed)."""
    d = x.size
    acc = stack_f64(LANES)
    mx = stack_f64(LANES)
    cn = stack_f64(LANES)
    for j in range(LANES):
        acc[j] = 0.0
        mx[j] = 0.0
        cn[j] = 0.0
    nb = d // LANES
    for b in range(nb):
        base = b * LANES
        for j in range(LANES):
            a = abs(x[base + j])
            acc[j] += a
            mx[j] = a if a > mx[j] else mx[j]
            cn[j] += 1.0 if a > 0.0 else 0.0
    for i in range(nb * LANES, d):
        a = abs(x[i])
        j = i - nb * LANES
        acc[j] += a
        mx[j] = a if a > mx[j] else mx[j]
        cn[j] += 1.0 if a > 0.0 else 0.0
    m = 0.0
    c = 0.0
    for j in range(LANES):
        m = mx[j] if mx[j] > m else m
        c += cn[j]
    return lane_tree(acc), np.int64(c), m


@njit(cache=True, inline="always")
def _adaptive_rest(x, lam):
    """(number of |x_i| with lam |x_i| >= 1, lane-order sum of the other
    |x_i|, the saturated ones counted as 0 in their lanes)."""
    d = x.size
    acc = stack_f64(LANES)
    cn = stack_f64(LANES)
    for j in range(LANES):
        acc[j] = 0.0
        cn[j] = 0.0
    nb = d // LANES
    for b in range(nb):
        base = b * LANES
        for j in range(LANES):
            a = abs(x[base + j])
            s = lam * a >= 1.0
            acc[j] += 0.0 if s else a
            cn[j] += 1.0 if s else 0.0
    for i in range(nb * LANES, d):
        a = abs(x[i])
        s = lam * a >= 1.0
        j = i - nb * LANES
        acc[j] += 0.0 if s else a
        cn[j] += 1.0 if s else 0.0
    c = 0.0
    for j in range(LANES):
        c += cn[j]
    return np.int64(c), lane_tree(acc)


@njit(cache=True, inline="always")
def adaptive(x, out, k, rng):
    """Adaptive random sparsification (reconstructed from J. Wangni, J. Wang,
    J. Liu and T. Zhang, "Gradient sparsification for communication-efficient
    distributed optimization", NeurIPS 2018).

    p_i = min(1, lam |x_i|) with lam chosen so that sum p_i = min(K, nnz):
    coordinates that saturate at 1 are fixed and lam is recomputed on the
    rest until no new coordinate saturates (at most d rounds, usually 1-3;
    none when lam max|x_i| < 1, where a round would leave lam unchanged).
    Sums are in the lane order of :mod:`.reductions` (vectorised).  A kept
    entry with p_i < 1 is sent as ``sign(x_i) / lam`` (= x_i / p_i, one
    rounding), with p_i = 1 as x_i (unbiased).  Draws: ONE key per call
    (``next_u64``, also when x = 0); entry i is kept when
    ``(ctr_u64(key, i) >> 12) 2**-52 < p_i`` (:func:`unit52`: counter-based
    and converted by bit operations, so the pass vectorises on AVX2, which
    has no 64-bit integer to float conversion).
    Returns the kept count.

    Variance (the claimed omega, derived): lam starts at K/||x||_1 and never
    decreases, so p_i >= K |x_i| / ||x||_1 for every i (if p_i = 1 then
    1 >= lam |x_i|).  Hence E||C(x)||^2 = sum_i x_i^2 / p_i <= ||x||_1^2 / K
    <= (d/K) ||x||^2, i.e. C is in U(omega) with omega = d/K - 1.  When
    nnz(x) < K the target is nnz(x) and the same argument over the support
    gives E||C(x)||^2 <= ||x||_1^2 / nnz <= ||x||^2 (omega = 0 there).
    """
    d = x.size
    key = next_u64(rng)
    l1, nnz, mx = _adaptive_stats(x)
    if l1 == 0.0:
        for i in range(d):
            out[i] = 0.0
        return 0
    target = k if k < nnz else nnz
    lam = target / l1
    if lam * mx >= 1.0:                  # some coordinate saturates: iterate
        for _ in range(d):
            sat, rest = _adaptive_rest(x, lam)
            if rest == 0.0:
                break
            new_lam = (target - sat) / rest
            if new_lam <= lam * (1.0 + 1e-15):
                break
            lam = new_lam
    # lam = 0: ||x||_1 overflowed, nothing kept
    invb = f2u(1.0 / lam if lam > 0.0 else 0.0)
    kept = 0
    for i in range(d):
        v = x[i]
        pi = lam * abs(v)
        keep = unit52(ctr_u64(key, i)) < pi
        sv = u2f(invb | (f2u(v) & SIGN_BIT))    # sign(x_i) / lam, branch-free
        out[i] = v if pi >= 1.0 else (sv if keep else 0.0)
        kept += np.int64(keep | (pi >= 1.0))
    return kept
