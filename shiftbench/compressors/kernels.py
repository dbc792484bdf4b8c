"""Compiled compressor kernels (numba nopython).

Every primitive writes into a preallocated ``out``, takes explicit RNG state
(``uint64[2]``, see :mod:`shiftbench._rng`) and returns the bits of the
message it produced as a pair ``(bits_full, bits_values)``:

* ``bits_full``  -- everything a receiver needs: values, indices or masks,
  norms, signs and levels (``SPEC.md`` §2);
* ``bits_values`` -- the "values only" convention of many papers (no index,
  mask or norm overhead).  Reported beside ``bits_full``, never instead.

Workspaces are passed in, nothing is allocated on the hot path:

* ``iwork`` -- int64 scratch of length >= d + 65536;
* ``mark``  -- uint8 of length >= d that is all zero on entry and is left all
  zero on exit (used by Floyd sampling in O(K)).

Parameters of a primitive live in a float64 vector ``p`` with the layout of
:data:`PARAM_LAYOUT` (resolved from spec strings in :mod:`.registry`).
"""
import math

import numpy as np
from llvmlite import ir
from numba import njit, uint64, types
from numba.core import cgutils
from numba.extending import intrinsic

from .._stack import stack_f64
from .._rng import bounded, uniform, next_u64

# ----------------------------------------------------------------------------
# primitive codes (stable: stored in compiled programs)
IDENTITY = 0
ZERO = 1
TOPK = 2
RANDK = 3          # unbiased, scaled by d/K
CRANDK = 4         # biased, unscaled
BERNOULLI = 5      # whole vector with probability p (optionally scaled by 1/p)
ADAPTIVE = 6       # adaptive random sparsification (reconstructed)
NATURAL = 7        # unbiased natural compression C_nat
NATURAL_DET = 8    # deterministic (biased) C_nat: nearest power of two
DITHER = 9         # random dithering / QSGD
NATDITHER = 10     # natural dithering
TERNGRAD = 11
SIGN = 12          # scaled sign (||x||_1/d) sign(x)

N_PARAMS = 4
# p[0]: K (>=1) or -1;  p[1]: q (fraction, used when p[0] < 1);
# p[2]: value bits (32 or 64);  p[3]: code-specific
#   RANDK/CRANDK: p[3] = 1 if the index set comes from a seed shared with
#                 the receiver (no index bits)
#   BERNOULLI:    p[0] = probability, p[3] = 1 if scaled by 1/p
#   DITHER/NATDITHER: p[0] = s (levels), p[3] = norm p (np.inf allowed)

SIGN_MASK = np.uint64(0x7FFFFFFFFFFFFFFF)


@njit(cache=True, inline="always")
def ceil_log2(n):
    """ceil(log2(n)) for n >= 1 (0 for n == 1)."""
    b = 0
    v = 1
    while v < n:
        v <<= 1
        b += 1
    return b


@njit(cache=True, inline="always")
def support_bits(m, d):
    """Bits to tell the receiver which m of d coordinates are present.

    The cheaper of an index list (m * ceil(log2 d)) and a d-bit mask; zero
    when every coordinate is present.
    """
    if m >= d:
        return 0
    a = m * ceil_log2(d)
    return a if a < d else d


@njit(cache=True, inline="always")
def resolve_k(p, d):
    """K from p[0] (absolute) or p[1] (fraction q of d), clipped to [1, d]."""
    if p[0] >= 1.0:
        k = int(p[0])
    else:
        k = int(math.floor(p[1] * d + 0.5))
    if k < 1:
        k = 1
    if k > d:
        k = d
    return k


@njit(cache=True, inline="always")
def count_nonzero(x):
    m = 0
    for i in range(x.size):
        if x[i] != 0.0:
            m += 1
    return m


# ----------------------------------------------------------------------------
# Top-K: exact, O(d), deterministic ties (lowest index wins)
#
# Keys are the IEEE-754 bit patterns of |x| (monotone in |x| for non-NaN
# values).  Large d: a strided sample of x brackets the threshold key in
# [lo, hi]; ONE fused pass writes out[i] = x[i] for keys > hi (surely kept),
# 0 elsewhere, and collects the indices with keys in [lo, hi]; an 11-bit
# radix select on those few candidates gives the exact threshold, and the
# kept candidates are written back.  If the sample's bracket misses (only
# possible for adversarial orderings), an exact radix select over all of x
# redoes the work: the result never depends on the sample, only the time.

RADIX = 2048                  # 11-bit digits
TOPK_SAMPLE = 16384           # sample size for the bracket (at most d/8)
TOPK_SAMPLE_MIN_D = 4096      # below this, radix select over all of x
TOPK_BLOCK = 32               # block of the fused pass (vectorised; 16 is not)
_CAND0 = 65536                # candidates live in iwork[65536:]


@njit(cache=True, inline="always")
def _absbits(v):
    return np.float64(v).view(np.uint64) & SIGN_MASK


@njit(cache=True)
def _radix_select(x, src, n, need, hist, dst):
    """Exact selection among the keys of ``x[src[:n]]``.

    Parameters
    ----------
    x : float64[:]
        The data; the key of index i is the bit pattern of ``|x[i]|``.
    src : int64[:]
        Candidate indices, ``src[:n]``, in increasing order.
    n, need : int
        Number of candidates and how many of the largest keys are wanted
        (``1 <= need <= n``).
    hist : int64[:]
        Scratch of length >= ``RADIX``.
    dst : int64[:]
        Scratch of length >= n (may be ``src`` itself, which is then
        overwritten); candidates are compacted into it, order preserved.

    Returns
    -------
    thr : uint64
        Key of the ``need``-th largest key.
    ties : int
        How many entries with key ``thr`` are taken (the lowest indices).
    """
    nc = n
    cur = src
    if nc != need:
        shift = 52
        while True:
            sh = np.uint64(shift)
            for b in range(RADIX):
                hist[b] = 0
            for j in range(nc):
                hist[np.int64((_absbits(x[cur[j]]) >> sh) & np.uint64(RADIX - 1))] += 1
            q = RADIX - 1
            while q > 0 and hist[q] < need:
                need -= hist[q]
                q -= 1
            qq = np.uint64(q)
            m = 0
            for j in range(nc):
                i = cur[j]
                if ((_absbits(x[i]) >> sh) & np.uint64(RADIX - 1)) == qq:
                    dst[m] = i
                    m += 1
            nc = m
            cur = dst
            if nc == need or shift == 0:
                break
            shift = shift - 11 if shift > 11 else 0
    # the threshold key is the smallest key among the remaining candidates
    # (when nc == need all of them are taken; otherwise all share one key)
    thr = _absbits(x[cur[0]])
    for j in range(1, nc):
        v = _absbits(x[cur[j]])
        if v < thr:
            thr = v
    above = 0
    for j in range(nc):
        if _absbits(x[cur[j]]) > thr:
            above += 1
    return thr, need - above


@njit(cache=True)
def topk_threshold(x, k, iwork):
    """Key (|x| bit pattern) of the k-th largest |x_i| and how many entries
    with exactly that key must be taken (lowest indices first).

    Exact radix select (11-bit digits) over all of x; O(d) time.  Uses
    ``iwork[:RADIX]`` for the histogram and ``iwork[65536:65536+d]`` for
    candidate indices.
    """
    d = x.size
    idx = iwork[_CAND0:_CAND0 + d]
    for i in range(d):
        idx[i] = i
    return _radix_select(x, idx, d, k, iwork[:RADIX], idx)


@njit(cache=True)
def _topk_write(x, out, thr, ties):
    for i in range(x.size):
        v = x[i]
        a = _absbits(v)
        if a > thr:
            out[i] = v
        elif a == thr and ties > 0:
            out[i] = v
            ties -= 1
        else:
            out[i] = 0.0


@njit(cache=True)
def _sample_key(x, samp, stride, r, hist):
    """Key of the r-th largest |x| among x[0], x[stride], x[2 stride], ..."""
    S = samp.size
    for j in range(S):
        samp[j] = j * stride
    thr, ties = _radix_select(x, samp, S, r, hist, samp)
    return thr


@njit(cache=True)
def _topk_pass(x, out, lo, hi, cand, write):
    """Count keys > hi and collect candidates with lo <= key <= hi; when
    ``write``, also out = x where key > hi, else 0.

    Returns ``(n_above, n_candidates)``.  Blocks of ``TOPK_BLOCK`` are
    processed branch-free (vectorised) while counting the block's
    candidates; a block with candidates is rescanned (from L1) only until
    they are all appended, in index order.
    """
    d = x.size
    lo = uint64(lo)
    hi = uint64(hi)
    width = hi - lo
    nab = 0
    nc = 0
    nb = d // TOPK_BLOCK
    for b in range(nb):
        base = b * TOPK_BLOCK
        hit = 0
        for i in range(base, base + TOPK_BLOCK):
            v = x[i]
            a = _absbits(v)
            if write:
                out[i] = v if a > hi else 0.0
            nab += np.int64(a > hi)
            hit += np.int64((a - lo) <= width)
        i = base
        while hit > 0:
            if (_absbits(x[i]) - lo) <= width:
                cand[nc] = i
                nc += 1
                hit -= 1
            i += 1
    for i in range(nb * TOPK_BLOCK, d):
        v = x[i]
        a = _absbits(v)
        if a > hi:
            nab += 1
        elif (a - lo) <= width:
            cand[nc] = i
            nc += 1
        if write:
            out[i] = v if a > hi else 0.0
    return nab, nc


@njit(cache=True)
def _topk_sampled(x, out, k, iwork, write):
    """Sample-bracketed exact selection of the k largest keys (d large).

    Returns ``(ok, thr, ties, nc)``: the selection is every key > thr plus
    the ``ties`` lowest-index entries with key == thr, all of which are
    among the candidates ``iwork[65536:65536+nc]`` (increasing indices).
    When ``write``, out already holds x on the keys above the bracket and 0
    elsewhere; the caller writes the selected candidates.  ``ok`` is False
    when the bracket missed (then nothing is selected; use
    :func:`topk_threshold`).
    """
    d = x.size
    hist = iwork[:RADIX]
    S = min(TOPK_SAMPLE, d // 8)
    stride = d // S
    samp = iwork[RADIX:RADIX + S]
    p = k / d
    mu = S * p
    sd = math.sqrt(mu * (1.0 - p))
    r_hi = int(math.floor(mu - 5.0 * sd - 2.0))
    r_lo = int(math.ceil(mu + 5.0 * sd + 2.0))
    hi = SIGN_MASK if r_hi < 1 else _sample_key(x, samp, stride, r_hi, hist)
    lo = np.uint64(0) if r_lo > S else _sample_key(x, samp, stride, r_lo, hist)
    cand = iwork[_CAND0:_CAND0 + d]
    nab, nc = _topk_pass(x, out, lo, hi, cand, write)
    need = k - nab
    if need < 0 or need > nc or 2 * nc > d:
        return False, np.uint64(0), 0, nc
    if need == 0:
        return True, hi, 0, nc
    thr, ties = _radix_select(x, cand, nc, need, hist, iwork[_CAND0 + nc:_CAND0 + 2 * nc])
    return True, thr, ties, nc


@njit(cache=True)
def topk(x, out, k, iwork):
    """Top-K of x into ``out`` (exact; ties go to the lowest index).

    Returns the number of entries kept (k, or d when k >= d).  Uses
    ``iwork`` (length >= d + 65536) as scratch.
    """
    d = x.size
    if k >= d:
        for i in range(d):
            out[i] = x[i]
        return d
    if d >= TOPK_SAMPLE_MIN_D:
        ok, thr, ties, nc = _topk_sampled(x, out, k, iwork, True)
        if ok:
            for j in range(nc):
                i = iwork[_CAND0 + j]
                a = _absbits(x[i])
                if a > thr:
                    out[i] = x[i]
                elif a == thr and ties > 0:
                    out[i] = x[i]
                    ties -= 1
            return k
    # small d, or the sample's bracket missed: exact select over all of x
    thr, ties = topk_threshold(x, k, iwork)
    _topk_write(x, out, thr, ties)
    return k


@njit(cache=True)
def topk_sparse(x, k, iwork, idx, vals):
    """Top-K as (indices, values): ``idx[:k]`` increasing, ``vals = x[idx]``.

    Returns the number kept (min(k, d)).  O(d) (two read passes over x);
    same selection as :func:`topk`.
    """
    d = x.size
    if k >= d:
        for i in range(d):
            idx[i] = i
            vals[i] = x[i]
        return d
    ok = False
    if d >= TOPK_SAMPLE_MIN_D:
        ok, thr, ties, nc = _topk_sampled(x, vals, k, iwork, False)
    if not ok:
        thr, ties = topk_threshold(x, k, iwork)
    m = 0
    nb = d // TOPK_BLOCK
    for b in range(nb):
        base = b * TOPK_BLOCK
        hit = 0
        for i in range(base, base + TOPK_BLOCK):
            hit += np.int64(_absbits(x[i]) >= thr)
        i = base
        while hit > 0:
            a = _absbits(x[i])
            if a >= thr:
                hit -= 1
                if a > thr or ties > 0:
                    if a == thr:
                        ties -= 1
                    idx[m] = i
                    vals[m] = x[i]
                    m += 1
            i += 1
    for i in range(nb * TOPK_BLOCK, d):
        a = _absbits(x[i])
        if a > thr or (a == thr and ties > 0):
            if a == thr:
                ties -= 1
            idx[m] = i
            vals[m] = x[i]
            m += 1
    return m


# ----------------------------------------------------------------------------
# Rand-K: Floyd's algorithm, O(K) index sampling

@intrinsic
def _mul_wide(typingctx, a, b):
    """(hi, lo) 64-bit halves of the 128-bit product of two uint64."""
    sig = types.UniTuple(types.uint64, 2)(types.uint64, types.uint64)

    def codegen(context, builder, signature, args):
        i128 = ir.IntType(128)
        i64 = ir.IntType(64)
        prod = builder.mul(builder.zext(args[0], i128), builder.zext(args[1], i128))
        hi = builder.trunc(builder.lshr(prod, ir.Constant(i128, 64)), i64)
        lo = builder.trunc(prod, i64)
        return context.make_tuple(builder, signature.return_type, (hi, lo))

    return sig, codegen


@njit(cache=True, inline="always")
def _bounded(rng, n):
    """Same draws and results as :func:`shiftbench._rng.bounded` (Lemire's
    multiply-shift with rejection), with one 64x64->128-bit multiply."""
    nn = uint64(n)
    while True:
        hi, lo = _mul_wide(next_u64(rng), nn)
        if lo >= nn:
            return np.int64(hi)
        if lo >= (uint64(0) - nn) % nn:
            return np.int64(hi)


def _make_prefetch(write):
    """An intrinsic ``prefetch(arr, i)``: hint that ``arr[i]`` is needed
    soon (``llvm.prefetch``; ``write`` selects prefetch-for-write)."""
    @intrinsic
    def _prefetch(typingctx, arr, i):
        sig = types.void(arr, i)

        def codegen(context, builder, signature, args):
            aryty = signature.args[0]
            ary = context.make_array(aryty)(context, builder, args[0])
            ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]],
                                           wraparound=False)
            i8p = ir.IntType(8).as_pointer()
            i32 = ir.IntType(32)
            fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
            fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
            builder.call(fn, [builder.bitcast(ptr, i8p), i32(1 if write else 0),
                              i32(3), i32(1)])
            return context.get_dummy_value()

        return sig, codegen

    return _prefetch


_prefetch_r = _make_prefetch(False)
_prefetch_w = _make_prefetch(True)
PREFETCH_AHEAD = 128          # iterations; random accesses to d-sized arrays


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
        idx[n] = _bounded(rng, j + 1)
        n += 1
    n = 0
    for j in range(d - k, d):
        if n + PREFETCH_AHEAD < k:
            nxt = idx[n + PREFETCH_AHEAD]
            _prefetch_w(mark, nxt >> 3)
            if gather:
                _prefetch_r(x, nxt)
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


@njit(cache=True)
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


@njit(cache=True)
def randk_sparse(x, k, scale, rng, mark, idx, vals):
    """Sparse Rand-K: ``idx[:k]`` (sampling order) and ``vals = scale x[idx]``.

    O(K) time and draws: nothing of size d is touched except K entries of x
    and d/8 bytes of ``mark`` at most.  Draws exactly as :func:`randk`, so
    scattering ``vals`` at ``idx`` into zeros gives :func:`randk`'s output.
    """
    _floyd(x.size, k, rng, mark, idx, x, vals, scale, True)
    return k


# ----------------------------------------------------------------------------
# element-wise quantisers
#
# Randomness: a stochastic element-wise quantiser advances the stream by ONE
# 64-bit draw per call, ``key = next_u64(rng)``, and entry i uses the i-th
# output of SplitMix64 started at ``key`` (Steele, Lea & Flood, OOPSLA 2014):
# ``u64_i = mix(key + (i + 1) * GAMMA)``, ``u_i = (u64_i >> 11) * 2**-53``.
# The draw of entry i does not depend on the other entries (counter-based),
# so the loops vectorise and a GPU thread per entry gives the same stream;
# every entry has its u_i whether or not it uses it.
#
# Norms: sums run over ``LANES`` interleaved partial sums (entry i goes to
# lane i % LANES, in index order), combined by a fixed pairwise tree
# (see :func:`lane_reduce`): the order is fixed, so results are bit for bit
# reproducible on every machine, and the loop vectorises without fastmath.

GAMMA = np.uint64(0x9E3779B97F4A7C15)
LANES = 16
PREFETCH_STREAM = 1024        # elements ahead in the read-only norm passes
_EXP = np.uint64(0x7FF0000000000000)
_MANT = np.uint64(0x000FFFFFFFFFFFFF)
_SIGN = np.uint64(0x8000000000000000)
_EXP_MAX_FINITE = np.uint64(0x7FE0000000000000)
_ONE_EXP = np.uint64(0x0010000000000000)     # 1 << 52
_TWO64 = 18446744073709551616.0               # 2**64
_INV_TWO64 = 1.0 / 18446744073709551616.0
_INV_2_53 = 1.0 / 9007199254740992.0


@njit(cache=True, inline="always")
def _mix64(z):
    z = (z ^ (z >> uint64(30))) * uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> uint64(27))) * uint64(0x94D049BB133111EB)
    return z ^ (z >> uint64(31))


@njit(cache=True, inline="always")
def ctr_u64(key, i):
    """The i-th (i = 0, 1, ...) 64-bit output of SplitMix64 started at key."""
    return _mix64(key + (uint64(i) + uint64(1)) * uint64(0x9E3779B97F4A7C15))


@njit(cache=True, inline="always")
def ctr_uniform(key, i):
    """``u_i`` in [0, 1) with 53 random bits, from :func:`ctr_u64`."""
    return float(ctr_u64(key, i) >> uint64(11)) * _INV_2_53


@njit(cache=True)
def _f2u(v):
    return np.float64(v).view(np.uint64)


@njit(cache=True)
def _u2f(b):
    return np.uint64(b).view(np.float64)


@njit(cache=True)
def lane_reduce(acc):
    """Fixed pairwise tree over ``acc[:LANES]``: (a0+a1), (a2+a3), ... then
    pairs of those, and so on (``acc`` is overwritten)."""
    w = LANES // 2
    while w >= 1:
        for j in range(w):
            acc[j] = acc[2 * j] + acc[2 * j + 1]
        w //= 2
    return acc[0]


@njit(cache=True)
def sum_sq_nnz(x):
    """(sum of x_i**2 in lane order, number of nonzero x_i)."""
    d = x.size
    acc = stack_f64(LANES)      # on the stack: nothing allocated per call
    for j in range(LANES):
        acc[j] = 0.0
    nz = 0
    nb = d // LANES
    for b in range(nb):
        base = b * LANES
        if base + PREFETCH_STREAM < d:           # 8 KB ahead: +20% read bandwidth
            _prefetch_r(x, base + PREFETCH_STREAM)
            _prefetch_r(x, base + PREFETCH_STREAM + 8)
        c = 0
        for j in range(LANES):
            v = x[base + j]
            acc[j] += v * v
            c += np.int64(v != 0.0)
        nz += c
    for i in range(nb * LANES, d):
        v = x[i]
        acc[i - nb * LANES] += v * v
        nz += np.int64(v != 0.0)
    return lane_reduce(acc), nz


@njit(cache=True)
def sum_abs_nnz(x):
    """(sum of |x_i| in lane order, number of nonzero x_i)."""
    d = x.size
    acc = stack_f64(LANES)      # on the stack: nothing allocated per call
    for j in range(LANES):
        acc[j] = 0.0
    nz = 0
    nb = d // LANES
    for b in range(nb):
        base = b * LANES
        if base + PREFETCH_STREAM < d:           # 8 KB ahead: +20% read bandwidth
            _prefetch_r(x, base + PREFETCH_STREAM)
            _prefetch_r(x, base + PREFETCH_STREAM + 8)
        c = 0
        for j in range(LANES):
            v = x[base + j]
            acc[j] += abs(v)
            c += np.int64(v != 0.0)
        nz += c
    for i in range(nb * LANES, d):
        v = x[i]
        acc[i - nb * LANES] += abs(v)
        nz += np.int64(v != 0.0)
    return lane_reduce(acc), nz


@njit(cache=True)
def max_abs_nnz(x):
    """(max |x_i|, number of nonzero x_i); NaN entries are ignored.

    The max is order-free; lanes only make the loop vectorise.
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
            _prefetch_r(x, base + PREFETCH_STREAM)
            _prefetch_r(x, base + PREFETCH_STREAM + 8)
        c = 0
        for j in range(LANES):
            v = x[base + j]
            a = abs(v)
            acc[j] = a if a > acc[j] else acc[j]
            c += np.int64(v != 0.0)
        nz += c
    m = 0.0
    for j in range(LANES):
        m = acc[j] if acc[j] > m else m
    for i in range(nb * LANES, d):
        a = abs(x[i])
        m = a if a > m else m
        nz += np.int64(x[i] != 0.0)
    return m, nz


@njit(cache=True)
def sum_sq(x):
    """Sum of x_i**2 in lane order (as :func:`sum_sq_nnz`, without the count)."""
    d = x.size
    acc = stack_f64(LANES)      # on the stack: nothing allocated per call
    for j in range(LANES):
        acc[j] = 0.0
    nb = d // LANES
    for b in range(nb):
        base = b * LANES
        if base + PREFETCH_STREAM < d:
            _prefetch_r(x, base + PREFETCH_STREAM)
            _prefetch_r(x, base + PREFETCH_STREAM + 8)
        for j in range(LANES):
            v = x[base + j]
            acc[j] += v * v
    for i in range(nb * LANES, d):
        v = x[i]
        acc[i - nb * LANES] += v * v
    return lane_reduce(acc)


@njit(cache=True)
def sum_abs(x):
    """Sum of |x_i| in lane order (as :func:`sum_abs_nnz`, without the
    count: a read pass that counts runs ~30% slower)."""
    d = x.size
    acc = stack_f64(LANES)      # on the stack: nothing allocated per call
    for j in range(LANES):
        acc[j] = 0.0
    nb = d // LANES
    for b in range(nb):
        base = b * LANES
        if base + PREFETCH_STREAM < d:
            _prefetch_r(x, base + PREFETCH_STREAM)
            _prefetch_r(x, base + PREFETCH_STREAM + 8)
        for j in range(LANES):
            acc[j] += abs(x[base + j])
    for i in range(nb * LANES, d):
        acc[i - nb * LANES] += abs(x[i])
    return lane_reduce(acc)


@njit(cache=True)
def max_abs(x):
    """max |x_i| (NaN entries ignored), as :func:`max_abs_nnz` without the count."""
    d = x.size
    acc = stack_f64(LANES)      # on the stack: nothing allocated per call
    for j in range(LANES):
        acc[j] = 0.0
    nb = d // LANES
    for b in range(nb):
        base = b * LANES
        if base + PREFETCH_STREAM < d:
            _prefetch_r(x, base + PREFETCH_STREAM)
            _prefetch_r(x, base + PREFETCH_STREAM + 8)
        for j in range(LANES):
            a = abs(x[base + j])
            acc[j] = a if a > acc[j] else acc[j]
    m = 0.0
    for j in range(LANES):
        m = acc[j] if acc[j] > m else m
    for i in range(nb * LANES, d):
        a = abs(x[i])
        m = a if a > m else m
    return m


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
    d = x.size
    acc = stack_f64(LANES)      # on the stack: nothing allocated per call
    for j in range(LANES):
        acc[j] = 0.0
    nz = 0
    for i in range(d):
        v = x[i]
        acc[i % LANES] += abs(v) ** pn
        nz += np.int64(v != 0.0)
    return lane_reduce(acc) ** (1.0 / pn), nz


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


@njit(cache=True, inline="always")
def _nat_bits(b, r, deterministic):
    """C_nat on the bits ``b`` of a float; ``r`` is its 64-bit draw.

    Branch-free: the result is sign | 2**floor(log2|t|), times 2 when
    rounding up: stochastically when ``(r >> 11) * 2**-53 < frac`` (the
    mantissa fraction, so E C(t) = t), or when ``frac >= 1/2``
    (deterministic).  Zeros and non-finite values come back unchanged,
    subnormals are scaled by 2**64 first (exact), and 2**1023 never rounds
    up (2**1024 overflows; see :func:`_nat_round`).
    """
    sgn = b & _SIGN
    a = b & SIGN_MASK
    sub = a < _ONE_EXP
    a2 = _f2u(_u2f(a) * (_TWO64 if sub else 1.0))
    expo = a2 & _EXP
    mant = a2 & _MANT
    if deterministic:
        up = mant >= uint64(0x0008000000000000)
    else:
        up = (r >> uint64(11)) < (mant << uint64(1))
    up = up & (expo != _EXP_MAX_FINITE)
    rb = expo + (_ONE_EXP if up else uint64(0))
    mag = _u2f(rb) * (_INV_TWO64 if sub else 1.0)
    res = sgn | _f2u(mag)
    return b if (a & _EXP) == _EXP else res


@njit(cache=True, inline="always")
def _nat_round(t, u, deterministic):
    """Round t to a power of two: stochastic-unbiased (u ~ U[0,1)) or nearest.

    The scalar reference form of :func:`_nat_bits` (same results when
    ``u = (r >> 11) * 2**-53``); used where an entry is not a plain float.
    """
    if t == 0.0 or not math.isfinite(t):
        return t
    a = abs(t)
    bits = np.float64(a).view(np.uint64)
    expo = bits & np.uint64(0x7FF0000000000000)
    if expo != 0:
        lo = np.uint64(expo).view(np.float64)
        frac = float(bits & np.uint64(0x000FFFFFFFFFFFFF)) * (1.0 / 4503599627370496.0)
    else:  # subnormal: a = m * 2**e with m in [0.5, 1)
        m, e = math.frexp(a)
        lo = math.ldexp(1.0, e - 1)
        frac = a / lo - 1.0
    if deterministic:
        up = frac >= 0.5
    else:
        up = u < frac
    if expo == np.uint64(0x7FE0000000000000):
        up = False  # 2**1024 overflows: saturate at 2**1023 (biased only there)
    r = lo * 2.0 if up else lo
    return -r if t < 0.0 else r


@njit(cache=True)
def natural(x, out, rng, deterministic):
    """C_nat of x into out (one key draw unless deterministic).

    Returns the number of nonzero entries of x.
    """
    key = uint64(0) if deterministic else next_u64(rng)
    nz = 0
    for i in range(x.size):
        b = _f2u(x[i])
        out[i] = _u2f(_nat_bits(b, ctr_u64(key, i), deterministic))
        nz += np.int64((b & SIGN_MASK) != uint64(0))
    return nz


_DITHER_NORM_LO = 2.0 ** -500   # outside (LO, HI) dither() rescales x first
_DITHER_NORM_HI = 2.0 ** 500


@njit(cache=True)
def dither(x, out, s, pn, natural_levels, rng):
    """Random (or natural) dithering with s levels in the p-norm.

    One key draw per call (also when x = 0).  Returns ``(norm, nnz(x))``;
    the level of each entry is implicit in ``out``.
    """
    key = next_u64(rng)
    nrm = pnorm(x, pn)        # nnz(x) is counted in the quantising pass: a
    d = x.size                # read pass that also counts is ~30% slower
    nz = -1
    src = x
    e = 0
    if not (_DITHER_NORM_LO < nrm < _DITHER_NORM_HI):
        # x = 0, or |x| so large or small that the norm (or 1/norm) may over-
        # or underflow: dither x 2**-e (max |x| 2**-e in [1/2, 1)) in out,
        # then scale back by 2**e; exact, as dithering commutes with powers
        # of two
        mx, nz = max_abs_nnz(x)
        if nz == 0:
            for i in range(d):
                out[i] = 0.0
            return 0.0, nz
        e = math.frexp(mx)[1]
        for i in range(d):
            out[i] = math.ldexp(x[i], -e)
        src = out
        nrm = pnorm_nnz(out, pn)[0]
    inv = 1.0 / nrm
    cnt = 0                   # nnz(src); = nnz(x) when src is x (e = 0)
    if not natural_levels:
        for i in range(d):
            a = abs(src[i]) * inv * s
            lvl = math.floor(a)
            lvl = lvl + 1.0 if ctr_uniform(key, i) < a - lvl else lvl
            v = nrm * lvl / s
            cnt += np.int64(src[i] != 0.0)
            out[i] = -v if src[i] < 0.0 else v
    else:
        smallest = math.ldexp(1.0, 1 - int(s))
        if smallest >= 2.2250738585072014e-308:      # normal: u / smallest exact
            cnt = _natdither_fast(src, out, nrm, inv, smallest, key)
        else:
            for i in range(d):                       # s > 1023: scalar form
                cnt += np.int64(src[i] != 0.0)
                u = abs(src[i]) * inv
                ui = ctr_uniform(key, i)
                if u >= 1.0:
                    lv = 1.0
                elif u < smallest:
                    lv = smallest if ui < u / smallest else 0.0
                else:
                    lv = _nat_round(u, ui, False)
                v = nrm * lv
                out[i] = -v if src[i] < 0.0 else v
    if e != 0:
        for i in range(d):
            out[i] = math.ldexp(out[i], e)
        nrm = math.ldexp(nrm, e)
    else:
        nz = cnt
    return nrm, nz


@njit(cache=True)
def _natdither_fast(x, out, nrm, inv, smallest, key):
    """Natural dithering, branch-free, for a normal smallest level; returns
    the number of nonzero x_i.

    In the C_nat branch ``smallest <= u < 1`` is positive and normal, so
    :func:`_nat_bits` reduces to exponent + (round up) (NaN passes through).
    """
    inv_small = 1.0 / smallest
    nz = 0
    for i in range(x.size):
        nz += np.int64(x[i] != 0.0)
        u = abs(x[i]) * inv
        r = ctr_u64(key, i)
        b = _f2u(u)
        expo = b & _EXP
        up = (r >> uint64(11)) < ((b & _MANT) << uint64(1))
        lv_nat = _u2f(expo + (_ONE_EXP if up else uint64(0)))
        lv_nat = u if expo == _EXP else lv_nat
        lv_small = smallest if float(r >> uint64(11)) * _INV_2_53 < u * inv_small else 0.0
        lv = 1.0 if u >= 1.0 else (lv_small if u < smallest else lv_nat)
        v = nrm * lv
        out[i] = -v if x[i] < 0.0 else v
    return nz


@njit(cache=True)
def terngrad(x, out, rng):
    """TernGrad of x into out (one key draw per call, also when x = 0).

    Returns the number of nonzero entries of out.
    """
    key = next_u64(rng)
    m = max_abs(x)
    if m == 0.0:
        for i in range(x.size):
            out[i] = 0.0
        return 0
    kept = 0
    for i in range(x.size):
        keep = ctr_uniform(key, i) < abs(x[i]) / m
        out[i] = (m if x[i] > 0.0 else -m) if keep else 0.0
        kept += np.int64(keep)
    return kept


@njit(cache=True)
def scaled_sign(x, out):
    """(||x||_1/d) sign(x) into out; returns the number of nonzero x_i."""
    d = x.size
    c = sum_abs(x) / d
    nz = 0
    for i in range(d):
        v = x[i]
        out[i] = c if v > 0.0 else (-c if v < 0.0 else 0.0)
        nz += np.int64(v != 0.0)
    return nz


@njit(cache=True)
def adaptive(x, out, k, vb, rng):
    """Adaptive random sparsification (reconstructed; Wangni et al. 2018).

    p_i = min(1, lam |x_i|) with lam chosen so that sum p_i = min(K, nnz):
    coordinates that saturate at 1 are fixed and lam is recomputed on the
    rest until no new coordinate saturates (at most d rounds, usually 1-3).
    Kept entries are x_i / p_i (unbiased).  Returns the kept count.
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


# ----------------------------------------------------------------------------
# dispatch: one primitive

# One small function per primitive, and a thin switch over them: a large
# function taking many arrays makes numba keep NRT reference-count updates on
# every array argument (about 100 ns per call), which dominated small-d method
# loops; small functions let the reference-count pruning remove them.

@njit(cache=True, inline="always")
def _p_identity(p, x, out):
    d = x.size
    vb = int(p[2])
    m = 0
    for i in range(d):
        out[i] = x[i]
        m += np.int64(x[i] != 0.0)
    dense = vb * d
    sparse = support_bits(m, d) + vb * m
    return (dense if dense < sparse else sparse), vb * m


@njit(cache=True, inline="always")
def _p_zero(x, out):
    for i in range(x.size):
        out[i] = 0.0
    return 0, 0


@njit(cache=True, inline="always")
def _p_topk(p, x, out, iwork):
    d = x.size
    vb = int(p[2])
    k = resolve_k(p, d)
    topk(x, out, k, iwork)
    return support_bits(k, d) + vb * k, vb * k


@njit(cache=True, inline="always")
def _p_randk(scaled, p, x, out, rng, iwork, mark):
    d = x.size
    vb = int(p[2])
    k = resolve_k(p, d)
    scale = d / k if scaled else 1.0
    randk(x, out, k, scale, rng, mark, iwork)
    ib = 0 if p[3] != 0.0 else support_bits(k, d)
    return ib + vb * k, vb * k


@njit(cache=True, inline="always")
def _p_bernoulli(p, x, out, rng):
    d = x.size
    vb = int(p[2])
    prob = p[0]
    if uniform(rng) < prob:
        sc = 1.0 / prob if p[3] != 0.0 else 1.0
        m = 0
        for i in range(d):
            out[i] = sc * x[i]
            if x[i] != 0.0:
                m += 1
        dense = vb * d
        sparse = support_bits(m, d) + vb * m
        return 1 + (dense if dense < sparse else sparse), vb * m
    for i in range(d):
        out[i] = 0.0
    return 1, 0


@njit(cache=True, inline="always")
def _p_adaptive(p, x, out, rng):
    d = x.size
    vb = int(p[2])
    k = resolve_k(p, d)
    kept = adaptive(x, out, k, vb, rng)
    return support_bits(kept, d) + vb * kept, vb * kept


@njit(cache=True, inline="always")
def _p_natural(deterministic, p, x, out, rng):
    d = x.size
    vb = int(p[2])
    m = natural(x, out, rng, deterministic)
    per = 9 if vb == 32 else 12
    dense = per * d
    sparse = support_bits(m, d) + per * m
    return (dense if dense < sparse else sparse), per * m


@njit(cache=True, inline="always")
def _p_dither(natural_levels, p, x, out, rng):
    d = x.size
    vb = int(p[2])
    s = p[0]
    nrm, m = dither(x, out, s, p[3], natural_levels, rng)
    per = 1 + ceil_log2(int(s) + 1)
    dense = per * d
    sparse = support_bits(m, d) + per * m
    body = dense if dense < sparse else sparse
    return vb + body, per * m


@njit(cache=True, inline="always")
def _p_terngrad(p, x, out, rng):
    d = x.size
    vb = int(p[2])
    m = terngrad(x, out, rng)
    dense = 2 * d
    sparse = support_bits(m, d) + m
    return vb + (dense if dense < sparse else sparse), m


@njit(cache=True, inline="always")
def _p_sign(p, x, out):
    d = x.size
    vb = int(p[2])
    m = scaled_sign(x, out)
    if m == d:
        return vb + d, d
    sparse = support_bits(m, d) + m
    return vb + (2 * d if 2 * d < sparse else sparse), m


@njit(cache=True, inline="always")
def apply_primitive(code, p, x, out, rng, iwork, mark):
    """Apply primitive ``code`` with params ``p`` to x -> out.

    Returns ``(bits_full, bits_values)`` for this message (``(-1, -1)`` for
    an unknown code).
    """
    if code == IDENTITY:
        return _p_identity(p, x, out)
    elif code == ZERO:
        return _p_zero(x, out)
    elif code == TOPK:
        return _p_topk(p, x, out, iwork)
    elif code == RANDK or code == CRANDK:
        return _p_randk(code == RANDK, p, x, out, rng, iwork, mark)
    elif code == BERNOULLI:
        return _p_bernoulli(p, x, out, rng)
    elif code == ADAPTIVE:
        return _p_adaptive(p, x, out, rng)
    elif code == NATURAL or code == NATURAL_DET:
        return _p_natural(code == NATURAL_DET, p, x, out, rng)
    elif code == DITHER or code == NATDITHER:
        return _p_dither(code == NATDITHER, p, x, out, rng)
    elif code == TERNGRAD:
        return _p_terngrad(p, x, out, rng)
    elif code == SIGN:
        return _p_sign(p, x, out)
    return -1, -1


@njit(cache=True)
def apply_sparse(code, p, x, rng, iwork, mark, idx, vals):
    """Sparse output ``(idx[:m], vals[:m])`` of a Rand-K, cRand-K or Top-K
    primitive; returns ``(m, bits_full, bits_values)``.

    Same draws, kept set and bits as :func:`apply_primitive` with the same
    ``code`` and ``p``: scattering ``vals`` at ``idx`` into zeros gives its
    dense output.  Rand-K costs O(K) (indices in sampling order); Top-K
    costs O(d) (indices increasing).  ``idx`` and ``vals`` need length
    >= K.  Returns ``(-1, -1, -1)`` for any other code.
    """
    d = x.size
    vb = int(p[2])
    if code == RANDK or code == CRANDK:
        k = resolve_k(p, d)
        scale = d / k if code == RANDK else 1.0
        randk_sparse(x, k, scale, rng, mark, idx, vals)
        ib = 0 if p[3] != 0.0 else support_bits(k, d)
        return k, ib + vb * k, vb * k
    elif code == TOPK:
        k = resolve_k(p, d)
        m = topk_sparse(x, k, iwork, idx, vals)
        return m, support_bits(m, d) + vb * m, vb * m
    return -1, -1, -1


# ----------------------------------------------------------------------------
# programs: composite compressors as a straight-line list of ops
#
# ops[j] = (opcode, code, src, dst, src2, poff)
#   registers: -1 is the input x, -2 is the output, r >= 0 is regs[r]
OP_PRIM = 0      # dst = prim(code, params[poff:poff+N_PARAMS])(src); bits += ...
OP_PRIM_SILENT = 1  # same, but its bits are not counted (inner of a composition)
OP_PRIM_REPL = OP_PRIM_SILENT  # old name, kept for compatibility
OP_SUB = 2       # dst = src - src2
OP_ADD = 3       # dst = src + src2
OP_SCALE = 4     # dst = params[poff] * src
OP_COPY = 5      # dst = src
OP_WIDTH = 6


@njit(cache=True, inline="always")
def _reg(r, x, out, regs):
    if r == -1:
        return x
    if r == -2:
        return out
    return regs[r]


@njit(cache=True)
def apply_program(ops, params, x, out, rng, regs, iwork, mark):
    """Run a compressor program on x into out; returns (bits_full, bits_values).

    A primitive compressor is a one-op program.  ``induced(C, Q)`` is
    ``r0 = C(x); r1 = x - r0; r2 = Q(r1); out = r0 + r2`` and costs the bits
    of both messages.  ``compose(C2, C1)`` is ``r0 = C1(x); out = C2(r0)``:
    what travels is C2's message about C1's output, so C1's primitives are
    emitted as ``OP_PRIM_SILENT`` (their bits are not counted) and C2 sees
    C1's support and pays for it via ``support_bits``.  Bits of messages
    outside the composition (e.g. C in ``induced(C, compose(..))``) are kept.
    """
    if ops.shape[0] == 1 and ops[0, 0] == OP_PRIM and ops[0, 2] == -1 and ops[0, 3] == -2:
        # a primitive compressor: no register traffic
        poff = ops[0, 5]
        return apply_primitive(ops[0, 1], params[poff:poff + N_PARAMS], x, out, rng,
                               iwork, mark)
    bf = 0
    bv = 0
    for j in range(ops.shape[0]):
        op = ops[j, 0]
        src = _reg(ops[j, 2], x, out, regs)
        dst = _reg(ops[j, 3], x, out, regs)
        if op == OP_PRIM or op == OP_PRIM_SILENT:
            poff = ops[j, 5]
            a, b = apply_primitive(ops[j, 1], params[poff:poff + N_PARAMS],
                                   src, dst, rng, iwork, mark)
            if op == OP_PRIM:
                bf += a
                bv += b
        elif op == OP_SUB:
            s2 = _reg(ops[j, 4], x, out, regs)
            for i in range(dst.size):
                dst[i] = src[i] - s2[i]
        elif op == OP_ADD:
            s2 = _reg(ops[j, 4], x, out, regs)
            for i in range(dst.size):
                dst[i] = src[i] + s2[i]
        elif op == OP_SCALE:
            lam = params[ops[j, 5]]
            for i in range(dst.size):
                dst[i] = lam * src[i]
        elif op == OP_COPY:
            for i in range(dst.size):
                dst[i] = src[i]
    return bf, bv
