"""Top-K selection: exact, O(d), deterministic ties (lowest index wins).

Keys are the IEEE-754 bit patterns of |x| (monotone in |x| for non-NaN
values).  Large d: a strided sample of x brackets the threshold key in
[lo, hi]; ONE fused pass writes out[i] = x[i] for keys > hi (surely kept),
0 elsewhere, and collects the indices with keys in [lo, hi]; an 11-bit
radix select on those few candidates gives the exact threshold, and the
kept candidates are written back.  If the sample's bracket misses (only
possible for adversarial orderings), an exact radix select over all of x
redoes the work: the result never depends on the sample, only the time.
Small K (<= ``TOPK_HEAP_MAX``, the usual K = d/10 on the papers' d ~ 100
problems and every K <= 64): one pass keeps the K largest keys in a min-heap
(a compare per entry, a sift only when an entry beats the heap's minimum),
which at d = 80 is several times faster than clearing and scanning radix
histograms.
"""
import math

import numpy as np
from numba import njit, uint64

from .intrinsics import absbits, SIGN_MASK, IWORK_EXTRA, IW_SUPPORT

RADIX = 2048                  # 11-bit digits
TOPK_SAMPLE = 16384           # sample size for the bracket (at most d/8)
TOPK_SAMPLE_MIN_D = 4096      # below this, radix select over all of x
TOPK_BLOCK = 32               # block of the fused pass (vectorised; 16 is not)
CAND0 = IWORK_EXTRA          # candidates live in iwork[IWORK_EXTRA:]
TOPK_HEAP_MAX = 64           # K up to this: min-heap threshold (O(d + K log K log(d/K)))


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
                hist[np.int64((absbits(x[cur[j]]) >> sh) & np.uint64(RADIX - 1))] += 1
            q = RADIX - 1
            while q > 0 and hist[q] < need:
                need -= hist[q]
                q -= 1
            qq = np.uint64(q)
            m = 0
            for j in range(nc):
                i = cur[j]
                if ((absbits(x[i]) >> sh) & np.uint64(RADIX - 1)) == qq:
                    dst[m] = i
                    m += 1
            nc = m
            cur = dst
            if nc == need or shift == 0:
                break
            shift = shift - 11 if shift > 11 else 0
    # the threshold key is the smallest key among the remaining candidates
    # (when nc == need all of them are taken; otherwise all share one key)
    thr = absbits(x[cur[0]])
    for j in range(1, nc):
        v = absbits(x[cur[j]])
        if v < thr:
            thr = v
    above = 0
    for j in range(nc):
        if absbits(x[cur[j]]) > thr:
            above += 1
    return thr, need - above


@njit(cache=True, inline="always")
def _sift_down(hp, j, k):
    """Restore the min-heap ``hp[:k]`` below position j."""
    v = hp[j]
    while True:
        c = 2 * j + 1
        if c >= k:
            break
        if c + 1 < k and hp[c + 1] < hp[c]:
            c += 1
        if hp[c] >= v:
            break
        hp[j] = hp[c]
        j = c
    hp[j] = v


@njit(cache=True)
def _heap_threshold(x, k, hp):
    """Key of the k-th largest |x| (1 <= k < d) with a min-heap of the k
    largest keys seen so far in ``hp[:k]`` (keys as int64: the sign bit is
    cleared, so the order is that of the uint64 keys).  Worst case (an
    ascending x) O(d log k); a random order sifts ~k ln(d/k) times."""
    for j in range(k):
        hp[j] = np.int64(absbits(x[j]))
    for j in range(k // 2 - 1, -1, -1):
        _sift_down(hp, j, k)
    root = hp[0]
    for i in range(k, x.size):
        a = np.int64(absbits(x[i]))
        if a > root:
            hp[0] = a
            _sift_down(hp, 0, k)
            root = hp[0]
    return np.uint64(root)


@njit(cache=True)
def topk_threshold(x, k, iwork):
    """Key (|x| bit pattern) of the k-th largest |x_i| and how many entries
    with exactly that key must be taken (lowest indices first).

    k <= ``TOPK_HEAP_MAX``: a min-heap of the k largest keys in one pass,
    then one counting pass.  Otherwise exact radix select (11-bit digits)
    over all of x; O(d) time.  Uses ``iwork[:RADIX]`` for the histogram and
    ``iwork[CAND0:CAND0+d]`` for candidate indices (the heap).
    """
    d = x.size
    if 1 <= k <= TOPK_HEAP_MAX and k < d:
        thr = _heap_threshold(x, k, iwork[CAND0:CAND0 + k])
        above = 0
        for i in range(d):
            above += np.int64(absbits(x[i]) > thr)
        return thr, k - above
    idx = iwork[CAND0:CAND0 + d]
    for i in range(d):
        idx[i] = i
    return _radix_select(x, idx, d, k, iwork[:RADIX], idx)


@njit(cache=True)
def _topk_write(x, out, thr, ties, listed):
    """out = x on the selection (keys > thr, then ``ties`` keys == thr), 0
    elsewhere; the selected indices go to ``listed[:m]`` (m returned)."""
    m = 0
    for i in range(x.size):
        v = x[i]
        a = absbits(v)
        if a > thr:
            out[i] = v
            listed[m] = i
            m += 1
        elif a == thr and ties > 0:
            out[i] = v
            listed[m] = i
            m += 1
            ties -= 1
        else:
            out[i] = 0.0
    return m


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
            a = absbits(v)
            if write:
                out[i] = v if a > hi else 0.0
            nab += np.int64(a > hi)
            hit += np.int64((a - lo) <= width)
        i = base
        while hit > 0:
            if (absbits(x[i]) - lo) <= width:
                cand[nc] = i
                nc += 1
                hit -= 1
            i += 1
    for i in range(nb * TOPK_BLOCK, d):
        v = x[i]
        a = absbits(v)
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

    Returns ``(ok, thr, ties, nc, nab)``: the selection is the ``nab`` keys
    above the bracket, every candidate key > thr and the ``ties``
    lowest-index candidates with key == thr; the candidates are
    ``iwork[CAND0:CAND0+nc]`` (increasing indices).
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
    cand = iwork[CAND0:CAND0 + d]
    nab, nc = _topk_pass(x, out, lo, hi, cand, write)
    need = k - nab
    if need < 0 or need > nc or 2 * nc > d:
        return False, np.uint64(0), 0, nc, nab
    if need == 0:
        return True, hi, 0, nc, nab
    thr, ties = _radix_select(x, cand, nc, need, hist, iwork[CAND0 + nc:CAND0 + 2 * nc])
    return True, thr, ties, nc, nab


@njit(cache=True, inline="always")
def topk(x, out, k, iwork):
    """Top-K of x into ``out`` (exact; ties go to the lowest index).

    Returns the number of entries kept (k, or d when k >= d).  Uses
    ``iwork`` (length >= d + IWORK_EXTRA) as scratch, and lists the support
    there when it can (the hint :data:`~.intrinsics.IW_SUPPORT`), for k <
    IW_SUPPORT: always on the exact path (d < ``TOPK_SAMPLE_MIN_D``), and on
    the sampled path when no key lay above the sample's bracket (small k).
    """
    d = x.size
    iwork[IW_SUPPORT] = -1
    if k >= d:
        for i in range(d):
            out[i] = x[i]
        return d
    if d >= TOPK_SAMPLE_MIN_D:
        ok, thr, ties, nc, nab = _topk_sampled(x, out, k, iwork, True)
        if ok:
            # the histogram and sample in iwork[:IW_SUPPORT] are spent: list
            # the selected candidates there while k fits below the slot
            lst = k < IW_SUPPORT
            m = 0
            for j in range(nc):
                i = iwork[CAND0 + j]
                a = absbits(x[i])
                take = a > thr
                if not take and a == thr and ties > 0:
                    take = True
                    ties -= 1
                if take:
                    out[i] = x[i]
                    if lst:
                        iwork[m] = i
                        m += 1
            if lst and nab == 0:
                iwork[IW_SUPPORT] = m
            return k
    # small d, or the sample's bracket missed: exact select over all of x
    thr, ties = topk_threshold(x, k, iwork)
    if k < IW_SUPPORT:
        # iwork[:k] is free once the threshold is known
        iwork[IW_SUPPORT] = _topk_write(x, out, thr, ties, iwork[:k])
    else:
        _topk_write(x, out, thr, ties, iwork[CAND0:CAND0 + d])
    return k


@njit(cache=True, inline="always")
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
        ok, thr, ties, nc, nab = _topk_sampled(x, vals, k, iwork, False)
    if not ok:
        thr, ties = topk_threshold(x, k, iwork)
    m = 0
    nb = d // TOPK_BLOCK
    for b in range(nb):
        base = b * TOPK_BLOCK
        hit = 0
        for i in range(base, base + TOPK_BLOCK):
            hit += np.int64(absbits(x[i]) >= thr)
        i = base
        while hit > 0:
            a = absbits(x[i])
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
        a = absbits(x[i])
        if a > thr or (a == thr and ties > 0):
            if a == thr:
                ties -= 1
            idx[m] = i
            vals[m] = x[i]
            m += 1
    return m

