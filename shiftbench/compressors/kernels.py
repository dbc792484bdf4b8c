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
from numba import njit, uint64

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

@njit(cache=True, inline="always")
def _absbits(v):
    return np.float64(v).view(np.uint64) & SIGN_MASK


@njit(cache=True)
def topk_threshold(x, k, iwork):
    """Key (|x| bit pattern) of the k-th largest |x_i| and how many entries
    with exactly that key must be taken (lowest indices first).

    Radix select on the IEEE-754 bit pattern of |x|, which is monotone in
    |x| for non-NaN values: one 16-bit histogram pass over x, then
    refinement on the (small) candidate bucket.  O(d) time.
    Uses ``iwork[:65536]`` for the histogram and ``iwork[65536:]`` for
    candidate indices.
    """
    d = x.size
    hist = iwork[:65536]
    cand = iwork[65536:]
    for b in range(65536):
        hist[b] = 0
    for i in range(d):
        hist[np.int64(_absbits(x[i]) >> np.uint64(48))] += 1
    # bucket holding the k-th largest
    need = k
    b = 65535
    while b > 0 and hist[b] < need:
        need -= hist[b]
        b -= 1
    # collect candidates of bucket b
    nc = 0
    bb = np.uint64(b)
    for i in range(d):
        if (_absbits(x[i]) >> np.uint64(48)) == bb:
            cand[nc] = i
            nc += 1
    # refine on the next 16-bit digits among candidates
    shift = 32
    while True:
        if nc == need or shift < 0:
            break
        for q in range(65536):
            hist[q] = 0
        sh = np.uint64(shift)
        for j in range(nc):
            hist[np.int64((_absbits(x[cand[j]]) >> sh) & np.uint64(0xFFFF))] += 1
        q = 65535
        while q > 0 and hist[q] < need:
            need -= hist[q]
            q -= 1
        m = 0
        qq = np.uint64(q)
        for j in range(nc):
            if ((_absbits(x[cand[j]]) >> sh) & np.uint64(0xFFFF)) == qq:
                cand[m] = cand[j]
                m += 1
        nc = m
        shift -= 16
    # the threshold key is the smallest key among the remaining candidates
    # (when nc == need all of them are taken; otherwise all share one key)
    thr = _absbits(x[cand[0]])
    for j in range(1, nc):
        v = _absbits(x[cand[j]])
        if v < thr:
            thr = v
    # how many entries equal to thr must be taken
    above = 0
    for j in range(nc):
        if _absbits(x[cand[j]]) > thr:
            above += 1
    return thr, need - above


@njit(cache=True)
def topk(x, out, k, iwork):
    """Top-K into ``out``; returns the number of entries kept (k)."""
    d = x.size
    if k >= d:
        for i in range(d):
            out[i] = x[i]
        return d
    thr, ties = topk_threshold(x, k, iwork)
    for i in range(d):
        v = x[i]
        a = _absbits(v)
        if a > thr:
            out[i] = v
        elif a == thr and ties > 0:
            out[i] = v
            ties -= 1
        else:
            out[i] = 0.0
    return k


# ----------------------------------------------------------------------------
# Rand-K: Floyd's algorithm, O(K) index sampling

@njit(cache=True)
def floyd_sample(d, k, rng, mark, idx):
    """K distinct indices uniform over the K-subsets of {0..d-1} into idx[:k].

    Floyd's algorithm with a byte mark array (all zero on entry, restored to
    zero on exit): O(K) work and O(K) random draws.
    """
    n = 0
    for j in range(d - k, d):
        t = bounded(rng, j + 1)
        if mark[t] != 0:
            t = j
        mark[t] = 1
        idx[n] = t
        n += 1
    for j in range(k):
        mark[idx[j]] = 0


@njit(cache=True)
def randk(x, out, k, scale, rng, mark, iwork):
    """(scale) * x on K random coordinates; returns the kept count."""
    d = x.size
    for i in range(d):
        out[i] = 0.0
    floyd_sample(d, k, rng, mark, iwork)
    for j in range(k):
        t = iwork[j]
        out[t] = scale * x[t]
    return k


# ----------------------------------------------------------------------------
# element-wise quantisers

@njit(cache=True, inline="always")
def _nat_round(t, u, deterministic):
    """Round t to a power of two: stochastic-unbiased (u ~ U[0,1)) or nearest."""
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
    for i in range(x.size):
        u = 0.0 if deterministic else uniform(rng)
        out[i] = _nat_round(x[i], u, deterministic)


@njit(cache=True)
def pnorm(x, pn):
    if pn == np.inf:
        m = 0.0
        for i in range(x.size):
            a = abs(x[i])
            if a > m:
                m = a
        return m
    s = 0.0
    if pn == 2.0:
        for i in range(x.size):
            s += x[i] * x[i]
        return math.sqrt(s)
    if pn == 1.0:
        for i in range(x.size):
            s += abs(x[i])
        return s
    for i in range(x.size):
        s += abs(x[i]) ** pn
    return s ** (1.0 / pn)


@njit(cache=True)
def dither(x, out, s, pn, natural_levels, rng):
    """Random (or natural) dithering with s levels in the p-norm.

    Returns the norm used.  Level index per entry is implicit in ``out``.
    """
    nrm = pnorm(x, pn)
    d = x.size
    if nrm == 0.0:
        for i in range(d):
            out[i] = 0.0
        return nrm
    inv = 1.0 / nrm
    if not natural_levels:
        for i in range(d):
            a = abs(x[i]) * inv * s
            lvl = math.floor(a)
            if uniform(rng) < a - lvl:
                lvl += 1.0
            v = nrm * lvl / s
            out[i] = -v if x[i] < 0.0 else v
    else:
        smallest = math.ldexp(1.0, 1 - int(s))
        for i in range(d):
            u = abs(x[i]) * inv
            if u >= 1.0:
                lv = 1.0
            elif u < smallest:
                lv = smallest if uniform(rng) < u / smallest else 0.0
            else:
                lv = _nat_round(u, uniform(rng), False)
            v = nrm * lv
            out[i] = -v if x[i] < 0.0 else v
    return nrm


@njit(cache=True)
def terngrad(x, out, rng):
    m = pnorm(x, np.inf)
    if m == 0.0:
        for i in range(x.size):
            out[i] = 0.0
        return
    for i in range(x.size):
        a = abs(x[i])
        if uniform(rng) < a / m:
            out[i] = m if x[i] > 0.0 else -m
        else:
            out[i] = 0.0


@njit(cache=True)
def scaled_sign(x, out):
    d = x.size
    c = pnorm(x, 1.0) / d
    for i in range(d):
        v = x[i]
        out[i] = c if v > 0.0 else (-c if v < 0.0 else 0.0)


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

@njit(cache=True)
def apply_primitive(code, p, x, out, rng, iwork, mark):
    """Apply primitive ``code`` with params ``p`` to x -> out.

    Returns ``(bits_full, bits_values)`` for this message.
    """
    d = x.size
    vb = int(p[2])
    if code == IDENTITY:
        m = count_nonzero(x)
        for i in range(d):
            out[i] = x[i]
        dense = vb * d
        sparse = support_bits(m, d) + vb * m
        return (dense if dense < sparse else sparse), vb * m
    elif code == ZERO:
        for i in range(d):
            out[i] = 0.0
        return 0, 0
    elif code == TOPK:
        k = resolve_k(p, d)
        topk(x, out, k, iwork)
        return support_bits(k, d) + vb * k, vb * k
    elif code == RANDK or code == CRANDK:
        k = resolve_k(p, d)
        scale = d / k if code == RANDK else 1.0
        randk(x, out, k, scale, rng, mark, iwork)
        ib = 0 if p[3] != 0.0 else support_bits(k, d)
        return ib + vb * k, vb * k
    elif code == BERNOULLI:
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
    elif code == ADAPTIVE:
        k = resolve_k(p, d)
        kept = adaptive(x, out, k, vb, rng)
        return support_bits(kept, d) + vb * kept, vb * kept
    elif code == NATURAL or code == NATURAL_DET:
        natural(x, out, rng, code == NATURAL_DET)
        per = 9 if vb == 32 else 12
        m = count_nonzero(x)
        dense = per * d
        sparse = support_bits(m, d) + per * m
        return (dense if dense < sparse else sparse), per * m
    elif code == DITHER or code == NATDITHER:
        s = p[0]
        dither(x, out, s, p[3], code == NATDITHER, rng)
        per = 1 + ceil_log2(int(s) + 1)
        m = count_nonzero(x)
        dense = per * d
        sparse = support_bits(m, d) + per * m
        body = dense if dense < sparse else sparse
        return vb + body, per * m
    elif code == TERNGRAD:
        terngrad(x, out, rng)
        m = count_nonzero(out)
        dense = 2 * d
        sparse = support_bits(m, d) + m
        return vb + (dense if dense < sparse else sparse), m
    elif code == SIGN:
        scaled_sign(x, out)
        m = count_nonzero(x)
        if m == d:
            return vb + d, d
        sparse = support_bits(m, d) + m
        return vb + (2 * d if 2 * d < sparse else sparse), m
    return -1, -1


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
