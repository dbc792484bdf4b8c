"""Every built-in compressor kernel on the device, block-cooperative.

One device function per CPU kernel of :mod:`shiftbench.compressors.builtins`,
with one signature::

    prim(x, out, p, rng, iwork, mark, sf, si, su, hist) -> (bits_full, bits_values)

called by every thread of a block (see :mod:`.block` for the conventions and
the shared scratch ``sf, si, su, hist``).  ``iwork`` is int64 of length >= d
and ``mark`` uint8 of length >= d, all zero on entry and exit.  Each gives
the CPU kernel's output bit for bit and its bit count:

* element-wise quantisers (natural, dither, TernGrad, sign): thread 0 draws
  the call's key from the worker's stream, entry i uses ``ctr_u64(key, i)``;
  norms are summed in the CPU's lane order;
* Top-K: an exact radix select on the bit patterns of |x_i| (six passes of
  11-bit digits through a shared-memory histogram, no sort), ties to the
  lowest index through a block-wide prefix count;
* Rand-K: small K, thread 0 runs Floyd's algorithm on the worker's stream
  (the same draws, so the same index set), the block gathers; large K, the
  CPU's streaming rule (candidates from counter-based draws in parallel,
  thread 0 corrects their count to K with the same stream draws);
* adaptive sparsification: lane-order sums, one key, entry i uses
  ``ctr_uniform(key, i)`` (as the CPU).

:data:`DEVICE_IDS` maps each CPU kernel (a numba dispatcher) to its device
kernel's id; :func:`call_prim` dispatches on it.
"""
import math

from numba import float64, int64, uint64, uint8, int32

from ..compressors import builtins as B
from ..compressors.kernels import intrinsics as I
from ..compressors.kernels import quantisers as Q
from ..compressors.kernels import sampling as S
from ._target import cuda, dev
from .block import (RADIX, fold_lanes, bsum_i, bcast_f, bcast_i, lanes, pnorm_nnz,
                    max_abs_nnz,
                    draw_key, draw_uniform, ldexp, mul_rn, SUM_ABS, MAX_ABS, LANES)
from .rng import ctr_u64, ctr_uniform, bounded, uniform



@dev
def ceil_log2(n):
    """ceil(log2(n)) for 1 <= n <= 2**62 (0 for n == 1), as the CPU's."""
    b = 0
    v = 1
    while v < n:
        v <<= 1
        b += 1
    return b


@dev
def support_bits(m, d):
    """The CPU's ``support_bits``: the cheaper of an index list and a mask."""
    if m >= d:
        return 0
    a = m * ceil_log2(d)
    return a if a < d else d


@dev
def sparse_or_dense(m, d, per):
    """The CPU's ``sparse_or_dense``."""
    dense = per * d
    sparse = support_bits(m, d) + per * m
    return dense if dense < sparse else sparse


# scalar helpers of the CPU kernels, compiled for the device from their source
resolve_k = dev(I.resolve_k.py_func)
f2u = dev(I.f2u.py_func)
u2f = dev(I.u2f.py_func)
absbits = dev(I.absbits.py_func)
nat_bits = dev(Q._nat_bits.py_func)
nat_round = dev(Q._nat_round.py_func)

SIGN_MASK = I.SIGN_MASK
EXP_MASK = I.EXP_MASK
MANT_MASK = I.MANT_MASK
ONE_EXP = I.ONE_EXP
NORM_LO = Q._DITHER_NORM_LO
NORM_HI = Q._DITHER_NORM_HI
INV_2_53 = 1.0 / 9007199254740992.0
INV_2_52 = 1.0 / 4503599627370496.0

# device kernel ids
K_ZERO, K_IDENTITY, K_TOPK, K_RANDK, K_BERNOULLI, K_ADAPTIVE, K_NATURAL, K_DITHER, \
    K_TERNGRAD, K_SIGN = range(10)

DEVICE_IDS = {B.zero_kernel: K_ZERO, B.identity_kernel: K_IDENTITY, B.topk_kernel: K_TOPK,
              B.randk_kernel: K_RANDK, B.bernoulli_kernel: K_BERNOULLI,
              B.adaptive_kernel: K_ADAPTIVE, B.natural_kernel: K_NATURAL,
              B.dither_kernel: K_DITHER, B.terngrad_kernel: K_TERNGRAD,
              B.sign_kernel: K_SIGN}
"""CPU kernel (numba dispatcher) -> device kernel id."""


@dev
def fill_zero(out):
    t = cuda.threadIdx.x
    nt = cuda.blockDim.x
    for i in range(t, out.size, nt):
        out[i] = 0.0


# ---------------------------------------------------------------- zero, identity

@dev
def p_zero(x, out, p, rng, iwork, mark, sf, si, su, hist):
    cuda.syncthreads()
    fill_zero(out)
    cuda.syncthreads()
    return 0.0, 0.0


@dev
def p_identity(x, out, p, rng, iwork, mark, sf, si, su, hist):
    t = cuda.threadIdx.x
    nt = cuda.blockDim.x
    d = x.size
    vb = p[0]
    cuda.syncthreads()
    m = 0
    for i in range(t, d, nt):
        v = x[i]
        out[i] = v
        m += int64(v != 0.0)
    m = bsum_i(m, si)
    return float64(sparse_or_dense(m, d, vb)), vb * m


# ---------------------------------------------------------------- top-k

@dev
def topk(x, out, k, sf, si, hist):
    """Top-K of x into out: exact, ties to the lowest index (as the CPU)."""
    t = cuda.threadIdx.x
    nt = cuda.blockDim.x
    d = x.size
    cuda.syncthreads()
    if k >= d:
        for i in range(t, d, nt):
            out[i] = x[i]
        cuda.syncthreads()
        return
    prefix = uint64(0)
    mask = uint64(0)
    need = k
    shift = 52
    while True:
        for b in range(t, RADIX, nt):
            hist[b] = 0
        cuda.syncthreads()
        sh = uint64(shift)
        for i in range(t, d, nt):
            key = absbits(x[i])
            if (key & mask) == prefix:
                cuda.atomic.add(hist, int64((key >> sh) & uint64(RADIX - 1)), int32(1))
        cuda.syncthreads()
        if t == 0:
            q = RADIX - 1
            while q > 0 and hist[q] < need:
                need -= hist[q]
                q -= 1
            si[0] = q
            si[1] = need
        cuda.syncthreads()
        q = si[0]
        need = si[1]
        cuda.syncthreads()
        prefix |= uint64(q) << sh
        mask |= uint64(RADIX - 1) << sh
        if shift == 0:
            break
        shift = shift - 11 if shift > 11 else 0
    thr = prefix               # the key of the k-th largest |x_i|
    ties = need                # entries with key == thr to take, lowest index first
    neq = 0
    for i in range(t, d, nt):
        v = x[i]
        key = absbits(v)
        out[i] = v if key > thr else 0.0
        neq += int64(key == thr)
    neq = bsum_i(neq, si)
    if neq == ties:            # every tie is taken
        for i in range(t, d, nt):
            if absbits(x[i]) == thr:
                out[i] = x[i]
        cuda.syncthreads()
        return
    # rank the ties by index: contiguous chunks, an exclusive prefix count
    c = (d + nt - 1) // nt
    lo = t * c
    hi = min(d, lo + c)
    cnt = 0
    for i in range(lo, hi):
        cnt += int64(absbits(x[i]) == thr)
    si[t] = cnt
    cuda.syncthreads()
    if t == 0:
        run = 0
        for j in range(nt):
            v = si[j]
            si[j] = run
            run += v
    cuda.syncthreads()
    rank = si[t]
    for i in range(lo, hi):
        if absbits(x[i]) == thr:
            if rank < ties:
                out[i] = x[i]
            rank += 1
    cuda.syncthreads()


@dev
def p_topk(x, out, p, rng, iwork, mark, sf, si, su, hist):
    d = x.size
    k = resolve_k(p[0], p[1], d)
    vb = p[2]
    topk(x, out, k, sf, si, hist)
    return support_bits(k, d) + vb * k, vb * k


# ---------------------------------------------------------------- rand-k, crand-k

@dev
def floyd(d, k, rng, mark, idx):
    """Floyd's algorithm, serially (one thread), exactly as the CPU's
    ``_floyd``: K indices into idx[:k]; ``mark`` is a bitset left set."""
    n = 0
    for j in range(d - k, d):
        tt = bounded(rng, j + 1)
        byte = tt >> 3
        bit = uint8(1 << (tt & 7))
        w = mark[byte]
        mark[byte] = w | bit
        if (w & bit) != 0:
            tt = j
            mark[j >> 3] |= uint8(1 << (j & 7))
        idx[n] = tt
        n += 1


@dev
def randk_streams(k, d):
    """The CPU's ``randk_streams``: the streaming rule for large K."""
    ratio = S.RANDK_STREAM_RATIO_LARGE if d >= S.RANDK_STREAM_LARGE_D else S.RANDK_STREAM_RATIO
    return int64(k) * ratio >= d


@dev
def stream_bit(key, i, thr):
    """The CPU's ``stream_bit``: entry i's 16-bit draw is below thr."""
    r = ctr_u64(key, i >> 2)
    return int64((r >> uint64(16 * (i & 3))) & uint64(0xFFFF)) < thr


@dev
def stream_fix(d, k, c, key, thr, rng, mark, lst, x, out, scale):
    """The CPU's ``_stream_fix`` (one thread): same draws, same toggles."""
    drop = c > k
    want = c - k if drop else k - c
    m = 0
    while m < want:
        tt = bounded(rng, d)
        byte = tt >> 3
        bit = uint8(1 << (tt & 7))
        if (mark[byte] & bit) != 0 or stream_bit(key, tt, thr) != drop:
            continue
        mark[byte] |= bit
        lst[m] = tt
        out[tt] = 0.0 if drop else scale * x[tt]
        m += 1
    return m


@dev
def p_randk(x, out, p, rng, iwork, mark, sf, si, su, hist):
    """params: k, q, bits, shared, scaled (1: rand-k, 0: crand-k)."""
    t = cuda.threadIdx.x
    nt = cuda.blockDim.x
    d = x.size
    k = resolve_k(p[0], p[1], d)
    scale = d / k if p[4] != 0.0 else 1.0
    ib = 0 if p[3] != 0.0 else support_bits(k, d)
    vb = p[2]
    cuda.syncthreads()
    if randk_streams(k, d):
        # the CPU's streaming rule: candidates in parallel, the correction
        # to exactly K on thread 0 (the same draws), marks cleared in parallel
        key = draw_key(rng, su)
        thr = (int64(k) * S.STREAM_LEVELS + d // 2) // d
        c = 0
        for i in range(t, d, nt):
            sel = stream_bit(key, i, thr)
            out[i] = scale * x[i] if sel else 0.0
            c += int64(sel)
        c = bsum_i(c, si)
        m = 0
        if t == 0:
            m = stream_fix(d, k, c, key, thr, rng, mark, iwork, x, out, scale)
        m = bcast_i(m, si)
        for j in range(t, m, nt):
            mark[iwork[j] >> 3] = 0
        cuda.syncthreads()
        return ib + vb * k, vb * k
    fill_zero(out)
    if t == 0:
        floyd(d, k, rng, mark, iwork)
    cuda.syncthreads()
    for j in range(t, k, nt):
        i = iwork[j]
        out[i] = scale * x[i]
    cuda.syncthreads()
    for j in range(t, k, nt):
        mark[iwork[j] >> 3] = 0
    cuda.syncthreads()
    return ib + vb * k, vb * k


# ---------------------------------------------------------------- bernoulli

@dev
def p_bernoulli(x, out, p, rng, iwork, mark, sf, si, su, hist):
    """params: p, bits, scaled."""
    t = cuda.threadIdx.x
    nt = cuda.blockDim.x
    d = x.size
    prob = p[0]
    vb = p[1]
    cuda.syncthreads()
    u = draw_uniform(rng, sf)
    if u < prob:
        sc = 1.0 / prob if p[2] != 0.0 else 1.0
        m = 0
        for i in range(t, d, nt):
            out[i] = sc * x[i]
            m += int64(x[i] != 0.0)
        m = bsum_i(m, si)
        return 1.0 + sparse_or_dense(m, d, vb), vb * m
    fill_zero(out)
    cuda.syncthreads()
    return 1.0, 0.0


# ---------------------------------------------------------------- adaptive

@dev
def adaptive_rest(x, lam, sf, si):
    """The CPU's ``_adaptive_rest``: (saturated count, lane-order sum of
    the other |x_i|, saturated ones as 0 in their lanes)."""
    t = cuda.threadIdx.x
    nt = cuda.blockDim.x
    d = x.size
    sat = 0
    cuda.syncthreads()
    for j in range(t, LANES, nt):
        a = 0.0
        i = j
        while i < d:
            v = abs(x[i])
            s = lam * v >= 1.0
            a = a + (0.0 if s else v)
            sat += int64(s)
            i += LANES
        sf[j] = a
    cuda.syncthreads()
    if t == 0:
        fold_lanes(sf)
    cuda.syncthreads()
    r = sf[0]
    cuda.syncthreads()
    sat = bsum_i(sat, si)
    return sat, r


@dev
def p_adaptive(x, out, p, rng, iwork, mark, sf, si, su, hist):
    """The CPU's ``adaptive``: lane-order sums, one key, entry i kept when
    ``(ctr_u64(key, i) >> 12) 2**-52 < p_i``."""
    t = cuda.threadIdx.x
    nt = cuda.blockDim.x
    d = x.size
    k = resolve_k(p[0], p[1], d)
    vb = p[2]
    cuda.syncthreads()
    key = draw_key(rng, su)
    l1, nnz = lanes(x, SUM_ABS, sf, si)
    if l1 == 0.0:
        fill_zero(out)
        cuda.syncthreads()
        return 0.0, 0.0
    mx, _ = lanes(x, MAX_ABS, sf, si)
    target = k if k < nnz else nnz
    lam = target / l1
    if lam * mx >= 1.0:
        for _ in range(d):
            sat, rest = adaptive_rest(x, lam, sf, si)
            if rest == 0.0:
                break
            new_lam = (target - sat) / rest
            if new_lam <= lam * (1.0 + 1e-15):
                break
            lam = new_lam
    inv = 1.0 / lam if lam > 0.0 else 0.0
    kept = 0
    for i in range(t, d, nt):
        v = x[i]
        pi = lam * abs(v)
        keep = float64(ctr_u64(key, i) >> uint64(12)) * INV_2_52 < pi
        full = pi >= 1.0
        out[i] = v if full else ((inv if v > 0.0 else -inv) if keep else 0.0)
        kept += int64(full or keep)
    kept = bsum_i(kept, si)
    return support_bits(kept, d) + vb * kept, vb * kept


# ---------------------------------------------------------------- natural, natural-det

@dev
def p_natural(x, out, p, rng, iwork, mark, sf, si, su, hist):
    """params: bits, deterministic (natural-det)."""
    t = cuda.threadIdx.x
    nt = cuda.blockDim.x
    d = x.size
    det = p[1] != 0.0
    cuda.syncthreads()
    key = uint64(0)
    if not det:
        key = draw_key(rng, su)
    m = 0
    for i in range(t, d, nt):
        b = f2u(x[i])
        out[i] = u2f(nat_bits(b, ctr_u64(key, i), det))
        m += int64((b & SIGN_MASK) != uint64(0))
    m = bsum_i(m, si)
    per = 9.0 if p[0] == 32.0 else 12.0
    return float64(sparse_or_dense(m, d, per)), per * m


# ---------------------------------------------------------------- dither, natural-dither

@dev
def p_dither(x, out, p, rng, iwork, mark, sf, si, su, hist):
    """params: s, norm p, bits, natural levels; the CPU's ``dither``."""
    t = cuda.threadIdx.x
    nt = cuda.blockDim.x
    d = x.size
    s = p[0]
    pn = p[1]
    vb = p[2]
    natural_levels = p[3] != 0.0
    per = 1 + ceil_log2(int(s) + 1)
    cuda.syncthreads()
    key = draw_key(rng, su)
    nrm, nz = pnorm_nnz(x, pn, sf, si)
    e = 0
    scaled = False
    if not (NORM_LO < nrm < NORM_HI):
        mx, nz = max_abs_nnz(x, sf, si)
        if nz == 0:
            fill_zero(out)
            cuda.syncthreads()
            return vb + sparse_or_dense(0, d, per), 0.0
        e = math.frexp(mx)[1]
        for i in range(t, d, nt):
            out[i] = ldexp(x[i], -e)
        scaled = True
        nrm = pnorm_nnz(out, pn, sf, si)[0]
    inv = 1.0 / nrm
    cnt = 0
    if not natural_levels:
        for i in range(t, d, nt):
            v0 = out[i] if scaled else x[i]
            a = mul_rn(mul_rn(abs(v0), inv), s)     # rounded, never fused into a - lvl
            lvl = math.floor(a)
            lvl = lvl + 1.0 if ctr_uniform(key, i) < a - lvl else lvl
            v = nrm * lvl / s
            cnt += int64(v0 != 0.0)
            out[i] = -v if v0 < 0.0 else v
    else:
        smallest = ldexp(1.0, 1 - int(s))
        if smallest >= 2.2250738585072014e-308:
            inv_small = 1.0 / smallest
            for i in range(t, d, nt):
                v0 = out[i] if scaled else x[i]
                cnt += int64(v0 != 0.0)
                u = abs(v0) * inv
                r = ctr_u64(key, i)
                b = f2u(u)
                expo = b & EXP_MASK
                up = (r >> uint64(11)) < ((b & MANT_MASK) << uint64(1))
                lv_nat = u2f(expo + (ONE_EXP if up else uint64(0)))
                lv_nat = u if expo == EXP_MASK else lv_nat
                lv_small = smallest if float64(r >> uint64(11)) * INV_2_53 < u * inv_small \
                    else 0.0
                lv = 1.0 if u >= 1.0 else (lv_small if u < smallest else lv_nat)
                v = nrm * lv
                out[i] = -v if v0 < 0.0 else v
        else:
            for i in range(t, d, nt):
                v0 = out[i] if scaled else x[i]
                cnt += int64(v0 != 0.0)
                u = abs(v0) * inv
                ui = ctr_uniform(key, i)
                if u >= 1.0:
                    lv = 1.0
                elif u < smallest:
                    lv = smallest if ui < u / smallest else 0.0
                else:
                    lv = nat_round(u, ui, False)
                v = nrm * lv
                out[i] = -v if v0 < 0.0 else v
    cnt = bsum_i(cnt, si)
    if e != 0:
        for i in range(t, d, nt):
            out[i] = ldexp(out[i], e)
    else:
        nz = cnt
    cuda.syncthreads()
    return vb + sparse_or_dense(nz, d, per), float64(per * nz)


# ---------------------------------------------------------------- terngrad

@dev
def p_terngrad(x, out, p, rng, iwork, mark, sf, si, su, hist):
    t = cuda.threadIdx.x
    nt = cuda.blockDim.x
    d = x.size
    vb = p[0]
    cuda.syncthreads()
    key = draw_key(rng, su)
    m = max_abs_nnz(x, sf, si)[0]
    kept = 0
    if m == 0.0:
        fill_zero(out)
    else:
        for i in range(t, d, nt):
            keep = ctr_uniform(key, i) < abs(x[i]) / m
            out[i] = (m if x[i] > 0.0 else -m) if keep else 0.0
            kept += int64(keep)
    kept = bsum_i(kept, si)
    dense = 2.0 * d
    sparse = support_bits(kept, d) + kept
    return vb + (dense if dense < sparse else sparse), float64(kept)


# ---------------------------------------------------------------- sign

@dev
def p_sign(x, out, p, rng, iwork, mark, sf, si, su, hist):
    t = cuda.threadIdx.x
    nt = cuda.blockDim.x
    d = x.size
    vb = p[0]
    cuda.syncthreads()
    c = lanes(x, SUM_ABS, sf, si)[0] / d
    m = 0
    for i in range(t, d, nt):
        v = x[i]
        out[i] = c if v > 0.0 else (-c if v < 0.0 else 0.0)
        m += int64(v != 0.0)
    m = bsum_i(m, si)
    if m == d:
        return vb + d, float64(d)
    sparse = support_bits(m, d) + m
    return vb + (2 * d if 2 * d < sparse else sparse), float64(m)


# ---------------------------------------------------------------- dispatch

@dev
def call_prim(kid, x, out, p, rng, iwork, mark, sf, si, su, hist):
    """Device kernel ``kid`` (see :data:`DEVICE_IDS`)."""
    if kid == K_TOPK:
        return p_topk(x, out, p, rng, iwork, mark, sf, si, su, hist)
    if kid == K_RANDK:
        return p_randk(x, out, p, rng, iwork, mark, sf, si, su, hist)
    if kid == K_NATURAL:
        return p_natural(x, out, p, rng, iwork, mark, sf, si, su, hist)
    if kid == K_DITHER:
        return p_dither(x, out, p, rng, iwork, mark, sf, si, su, hist)
    if kid == K_TERNGRAD:
        return p_terngrad(x, out, p, rng, iwork, mark, sf, si, su, hist)
    if kid == K_SIGN:
        return p_sign(x, out, p, rng, iwork, mark, sf, si, su, hist)
    if kid == K_IDENTITY:
        return p_identity(x, out, p, rng, iwork, mark, sf, si, su, hist)
    if kid == K_BERNOULLI:
        return p_bernoulli(x, out, p, rng, iwork, mark, sf, si, su, hist)
    if kid == K_ADAPTIVE:
        return p_adaptive(x, out, p, rng, iwork, mark, sf, si, su, hist)
    return p_zero(x, out, p, rng, iwork, mark, sf, si, su, hist)
