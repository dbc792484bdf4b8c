"""Compiled encoders and decoders of every built-in compressor, and the wire
interpreter that runs a compressor program and encodes its messages.

Message layouts (``vb``: the value bits of the spec, 32 or 64; ``cl`` =
ceil(log2 d); all fields little-endian, least significant bit first; see
:mod:`.bits`).  The size of every message is exactly the full bit count of
the kernel (:mod:`shiftbench.compressors.builtins`), padded to whole bytes.

==============  ============================================================
compressor      message
==============  ============================================================
zero            nothing
top-k, rand-k,  K entries: an index list (K x cl bits, then the values in the
crand-k         same order), a d-bit mask then the values in index order, or
                all d values (K = d); rand-k(shared=1): the K values in
                sampling order (the receiver draws the indices itself)
identity,       the entries of the support (x_i != 0; kept entries for
adaptive,       adaptive) as a sparse list, or every entry: see below
natural, dither,
terngrad, sign
bernoulli       a 1-bit flag, then (if sent) the identity message of x/p
==============  ============================================================

Entries: a vb-bit value (identity, adaptive, bernoulli, top-k, rand-k); C_nat:
the sign and the exponent field of the fp32 (8 bits) or fp64 (11 bits) power
of two; (natural) dithering: a vb-bit norm first, then per entry the sign and
the level (ceil(log2(s + 1)) bits); TernGrad and sign: a vb-bit scale first
(max|x|, ||x||_1/d), then one sign bit per entry, or 2 bits (0, +, -) per
entry in the dense form.

Sparse or dense.  A data-dependent support of m entries is sent as an index
list (pairs ``(index, entry)``, indices increasing), a d-bit mask followed by
the entries, or densely (every entry, zeros included), whichever the count
charges (:func:`body_bits`).  The count has no bits for m itself; the
receiver finds it from the message's length in bytes: the sender picks, among
the layouts of every m whose count has the same length, one that fits them
all (dense, else the mask, else the index list ended by the first index that
does not increase, or by the end of the message), and the receiver makes the
same choice from the length.  TernGrad and sign send every entry's sign with
no support when x has no zero (m = d): the sign bit of the non-negative scale
tells that case apart.  Where a message has no room for this (a program with
two data-dependent messages, e.g. ``induced(natural, dither(s=4))``), the
plan refuses it with a ValueError.

Values are rounded to the count's format: fp32 (round to nearest even,
overflow to inf) for ``bits=32``, exact for ``bits=64``; C_nat's exponent
codes flush powers of two below the smallest normal to zero.  ``wide``
encoding sends every value in 64 bits (what the MPI backend sends when its
trace must match the fp64 simulator), with sizes those of the ``bits=64``
count.
"""
import math

import numpy as np
from numba import njit, types

from .. import _rng
from ..compressors.kernels.intrinsics import ceil_log2, resolve_k, f2u, u2f
from ..compressors.kernels.program import (_caller, _reg, C_KIND, C_SRC, C_DST, C_SRC2, C_POFF,
                                           C_PLEN, C_SLOT, OP_PRIM, OP_UPRIM, OP_SUB, OP_ADD,
                                           OP_SCALE, OP_COPY, call_kernel, call_user_kernel)
from ..compressors.kernels.intrinsics import borrow
from ..compressors.kernels.reductions import pnorm, pnorm_nnz, max_abs_nnz
from ..compressors.kernels.sampling import floyd_sample
from .bits import put_bits, get_bits, put_value, get_value, f32_bits
from .._clock import cycles

# codec kinds (plan column P_KIND)
K_NONE = 0
K_ZERO = 1
K_IDENTITY = 2
K_TOPK = 3
K_RANDK = 4
K_BERNOULLI = 5
K_ADAPTIVE = 6
K_NATURAL = 7
K_DITHER = 8
K_TERNGRAD = 9
K_SIGN = 10
K_USER = 11

# draw replay kinds (plan column P_REPLAY): how a receiver advances the
# shared generator past a primitive it does not decode with it
R_NONE = 0
R_ONE = 1          # one next_u64 (natural, dither, terngrad, bernoulli)
R_FLOYD = 2        # Floyd's K bounded draws (rand-k, crand-k)
R_BAD = 3          # data-dependent draws (adaptive, users' kernels)

# plan columns
P_KIND, P_MSG, P_USER, P_REPLAY, P_SHARED = range(5)
PLAN_W = 8

# layouts of a data-dependent support
L_DENSE = 0
L_MASK = 1
L_INDEX = 2
L_ALL = 3

# users' codecs: encode(y, params, buf, pos) -> pos; decode(buf, pos, params, y) -> pos
_F = types.float64[::1]
_B = types.uint8[::1]
ENC_SIG = types.int64(_F, _F, _B, types.int64)
DEC_SIG = types.int64(_B, types.int64, _F, _F)
call_user_encoder = _caller(ENC_SIG, 0)
call_user_decoder = _caller(DEC_SIG, 0)


# ----------------------------------------------------------------------------
# sizes

@njit(cache=True, inline="always")
def _vb(kind, params, wide):
    """Value bits of a primitive's values (64 when ``wide``)."""
    if wide:
        return 64
    if kind == K_IDENTITY or kind == K_NATURAL or kind == K_TERNGRAD or kind == K_SIGN:
        v = params[0]
    elif kind == K_BERNOULLI:
        v = params[1]
    else:                                   # top-k, rand-k, adaptive, dither
        v = params[2]
    return 64 if v == 64.0 else 32


@njit(cache=True)
def fixed_bits(kind, params, d, wide):
    """Bits of a fixed-size message (zero, top-k, rand-k), -1 for the others."""
    if kind == K_ZERO:
        return 0
    if kind == K_TOPK or kind == K_RANDK:
        k = resolve_k(params[0], params[1], d)
        vb = _vb(kind, params, wide)
        if kind == K_RANDK and params[3] != 0.0:
            return vb * k
        return _support(k, d) + vb * k
    return -1


@njit(cache=True, inline="always")
def _support(m, d):
    """The count's support bits (``support_bits``)."""
    if m >= d:
        return 0
    a = m * ceil_log2(d)
    return a if a < d else d


@njit(cache=True)
def family(kind, params, wide):
    """(prefix bits, bits per present entry, bits per dense entry, capped,
    all-flag) of a data-dependent message."""
    vb = _vb(kind, params, wide)
    if kind == K_IDENTITY:
        return 0, vb, vb, True, False
    if kind == K_BERNOULLI:
        return 1, vb, vb, True, False
    if kind == K_ADAPTIVE:
        return 0, vb, vb, False, False
    if kind == K_NATURAL:
        per = 9 if vb == 32 else 12
        return 0, per, per, True, False
    if kind == K_DITHER:
        per = 1 + ceil_log2(int(params[0]) + 1)
        return vb, per, per, True, False
    # terngrad, sign
    return vb, 1, 2, True, True


@njit(cache=True, inline="always")
def body_bits(m, d, per, de, capped):
    """The count of m present entries out of d (without the prefix)."""
    if m >= d:
        return per * d
    sp = _support(m, d) + per * m
    if capped and de * d < sp:
        return de * d
    return sp


@njit(cache=True)
def _m_hi(B, d, per, de, capped):
    """Largest m in [0, d-1] with body_bits(m) <= B (body is nondecreasing there)."""
    lo = 0
    hi = d - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if body_bits(mid, d, per, de, capped) <= B:
            lo = mid
        else:
            hi = mid - 1
    return lo


@njit(cache=True)
def _m_lo(B8, d, per, de, capped):
    """Smallest m in [0, d-1] with body_bits(m) > B8 (d-1 if none)."""
    if B8 < 0:
        return 0
    lo = 0
    hi = d - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if body_bits(mid, d, per, de, capped) > B8:
            hi = mid
        else:
            lo = mid + 1
    return lo


@njit(cache=True)
def choose_layout(B, d, per, de, capped):
    """(layout, m_lo, m_hi) for a body of B available bits (sender and receiver alike)."""
    if de * d <= B:
        return L_DENSE, 0, d
    hi = _m_hi(B, d, per, de, capped)
    if d + per * hi <= B:
        return L_MASK, 0, hi
    return L_INDEX, _m_lo(B - 8, d, per, de, capped), hi


# ----------------------------------------------------------------------------
# entries

@njit(cache=True, inline="always")
def _nat_code(v, vb):
    """sign | exponent field of the power of two v (fp32: 8 bits, fp64: 11)."""
    b = f2u(v)
    sgn = np.int64(b >> np.uint64(63))
    e64 = np.int64((b >> np.uint64(52)) & np.uint64(0x7FF))
    mant = b & np.uint64(0x000FFFFFFFFFFFFF)
    if vb == 32:
        if e64 == 0:
            e = 0
        elif e64 == 0x7FF:
            e = 255
        else:
            e = e64 - 1023 + 127
            if e < 1:
                e = 0
            elif e > 254:
                e = 255
        return (sgn << 8) | e
    if e64 == 0x7FF:
        e = 0x7FF
    elif e64 == 0 or mant != np.uint64(0):
        e = 0 if e64 == 0 else e64           # subnormal -> 0 (a power of two has mant 0)
    else:
        e = e64
    return (sgn << 11) | e


@njit(cache=True, inline="always")
def _nat_value(code, vb):
    if vb == 32:
        sgn = (code >> 8) & 1
        e = code & 0xFF
        if e == 0:
            mag = 0.0
        elif e == 255:
            mag = np.inf
        else:
            mag = u2f(np.uint64(e - 127 + 1023) << np.uint64(52))
    else:
        sgn = (code >> 11) & 1
        e = code & 0x7FF
        mag = u2f(np.uint64(e) << np.uint64(52))
    return -mag if sgn else mag


@njit(cache=True, inline="always")
def _present(kind, x, y, i):
    """Entry i is in the support the count charges for."""
    if kind == K_ADAPTIVE or kind == K_TERNGRAD:
        return y[i] != 0.0
    return x[i] != 0.0


@njit(cache=True, inline="always")
def _level_code(kind, y, i, nrm, s, natural):
    """Dithering: the level code of entry i (0..s)."""
    a = abs(y[i])
    if a == 0.0 or nrm == 0.0 or not math.isfinite(a) or not math.isfinite(nrm):
        return 0
    if not natural:
        c = int(math.floor(a * s / nrm + 0.5))
    else:
        m, e = math.frexp(a / nrm)          # a / nrm = 2^(e - 1)
        c = int(s) + e - 1
    if c < 0:
        c = 0
    if c > int(s):
        c = int(s)
    return c


@njit(cache=True, inline="always")
def _put_entry(kind, buf, pos, x, y, i, vb, per, scal, s, natural):
    """One present entry (sparse layouts)."""
    if kind == K_NATURAL:
        return put_bits(buf, pos, _nat_code(y[i], vb), per)
    if kind == K_DITHER:
        sg = 1 if x[i] < 0.0 else 0
        c = _level_code(kind, y, i, scal, s, natural)
        return put_bits(buf, pos, sg | (c << 1), per)
    if kind == K_TERNGRAD:
        return put_bits(buf, pos, 1 if y[i] < 0.0 else 0, 1)
    if kind == K_SIGN:
        return put_bits(buf, pos, 1 if x[i] < 0.0 else 0, 1)
    return put_value(buf, pos, y[i], vb)


@njit(cache=True, inline="always")
def _put_dense(kind, buf, pos, x, y, i, vb, per, scal, s, natural):
    """One entry of the dense layout (zeros included)."""
    if kind == K_TERNGRAD or kind == K_SIGN:
        v = y[i] if kind == K_TERNGRAD else x[i]
        c = 1 if v > 0.0 else (2 if v < 0.0 else 0)
        if kind == K_TERNGRAD and y[i] == 0.0:
            c = 0
        return put_bits(buf, pos, c, 2)
    if kind == K_DITHER:
        if x[i] == 0.0:
            return pos + per
        return _put_entry(kind, buf, pos, x, y, i, vb, per, scal, s, natural)
    if kind == K_NATURAL:
        return put_bits(buf, pos, _nat_code(y[i], vb), per)
    return put_value(buf, pos, y[i], vb)


@njit(cache=True, inline="always")
def _get_entry(kind, buf, pos, vb, per, scal, s, natural):
    """(value, new pos) of one present entry."""
    if kind == K_NATURAL:
        return _nat_value(np.int64(get_bits(buf, pos, per)), vb), pos + per
    if kind == K_DITHER:
        f = np.int64(get_bits(buf, pos, per))
        c = f >> 1
        if not natural:
            v = scal * float(c) / s
        else:
            v = scal * (0.0 if c == 0 else math.ldexp(1.0, int(c) - int(s)))
        return (-v if (f & 1) else v), pos + per
    if kind == K_TERNGRAD or kind == K_SIGN:
        return (-scal if get_bits(buf, pos, 1) else scal), pos + 1
    return get_value(buf, pos, vb), pos + vb


@njit(cache=True, inline="always")
def _get_dense(kind, buf, pos, vb, per, scal, s, natural):
    if kind == K_TERNGRAD or kind == K_SIGN:
        c = get_bits(buf, pos, 2)
        v = scal if c == 1 else (-scal if c == 2 else 0.0)
        return v, pos + 2
    return _get_entry(kind, buf, pos, vb, per, scal, s, natural)


# ----------------------------------------------------------------------------
# the data-dependent family: encode / decode

@njit(cache=True)
def _dither_norm(x, pn, tmp):
    """The norm dither() computed for x (the same sums and rescaling)."""
    nrm = pnorm(x, pn)
    if 2.0 ** -500 < nrm < 2.0 ** 500:
        return nrm
    mx, nz = max_abs_nnz(x)
    if nz == 0:
        return 0.0
    e = math.frexp(mx)[1]
    for i in range(x.size):
        tmp[i] = math.ldexp(x[i], -e)
    return math.ldexp(pnorm_nnz(tmp, pn)[0], e)


@njit(cache=True)
def _scale_of(kind, params, x, y, tmp):
    """The prefix value of a message (norm or scale); 0 for prefix-free kinds."""
    if kind == K_DITHER:
        return _dither_norm(x, params[1], tmp)
    if kind == K_TERNGRAD or kind == K_SIGN:
        m = 0.0
        for i in range(y.size):
            a = abs(y[i])
            if a > m:
                m = a
        return m
    return 0.0


@njit(cache=True)
def count_present(kind, x, y):
    m = 0
    for i in range(x.size):
        m += np.int64(_present(kind, x, y, i))
    return m


@njit(cache=True)
def enc_family(kind, params, x, y, buf, S, wide, bf, tmp):
    """Encode a data-dependent message at bit S; returns S + its count (the
    layout may use fewer bits: the rest of its last byte is padding).

    ``bf`` is the kernel's full count (bernoulli: 1 means "not sent").
    """
    d = x.size
    cl = ceil_log2(d)
    pf, per, de, capped, allflag = family(kind, params, wide)
    vb = _vb(kind, params, wide)
    s = params[0] if kind == K_DITHER else 1.0
    natural = kind == K_DITHER and params[3] != 0.0
    pos = S
    if kind == K_BERNOULLI:
        if bf <= 1.0:
            return put_bits(buf, pos, 0, 1)
        pos = put_bits(buf, pos, 1, 1)
    m = count_present(kind, x, y)
    scal = _scale_of(kind, params, x, y, tmp)
    if allflag and m == d:
        b = f32_bits(scal) if vb == 32 else f2u(scal)
        if vb == 32:
            pos = put_bits(buf, pos, b | np.uint64(0x80000000), 32)
        else:
            pos = put_bits(buf, pos, b & np.uint64(0xFFFFFFFF), 32)
            pos = put_bits(buf, pos, (b >> np.uint64(32)) | np.uint64(0x80000000), 32)
        for i in range(d):
            pos = put_bits(buf, pos, 1 if ((y[i] if kind == K_TERNGRAD else x[i]) < 0.0)
                           else 0, 1)
        return pos
    if kind == K_DITHER or kind == K_TERNGRAD or kind == K_SIGN:
        pos = put_value(buf, pos, abs(scal) if allflag else scal, vb)
    body = body_bits(m, d, per, de, capped)
    E = pos + body                       # the count's end: the message is padded to it
    A = 8 * ((E + 7) // 8) - pos
    lay, mlo, mhi = choose_layout(A, d, per, de, capped)
    if lay == L_DENSE:
        for i in range(d):
            pos = _put_dense(kind, buf, pos, x, y, i, vb, per, scal, s, natural)
    elif lay == L_MASK:
        for i in range(d):
            if _present(kind, x, y, i):
                put_bits(buf, pos + i, 1, 1)
        pos += d
        for i in range(d):
            if _present(kind, x, y, i):
                pos = _put_entry(kind, buf, pos, x, y, i, vb, per, scal, s, natural)
    else:
        for i in range(d):
            if _present(kind, x, y, i):
                pos = put_bits(buf, pos, i, cl)
                pos = _put_entry(kind, buf, pos, x, y, i, vb, per, scal, s, natural)
    return E


@njit(cache=True)
def dec_family(kind, params, buf, S, end, y, wide):
    """Decode a data-dependent message at bit S (message ends at bit ``end``,
    a byte boundary) into y; returns the last bit read."""
    d = y.size
    cl = ceil_log2(d)
    pf, per, de, capped, allflag = family(kind, params, wide)
    vb = _vb(kind, params, wide)
    s = params[0] if kind == K_DITHER else 1.0
    natural = kind == K_DITHER and params[3] != 0.0
    for i in range(d):
        y[i] = 0.0
    pos = S
    if kind == K_BERNOULLI:
        if get_bits(buf, pos, 1) == 0:
            return pos + 1
        pos += 1
    scal = 0.0
    if kind == K_DITHER or kind == K_TERNGRAD or kind == K_SIGN:
        if vb == 32:
            b = get_bits(buf, pos, 32)
            flag = (b >> np.uint64(31)) & np.uint64(1)
            if allflag:
                b &= np.uint64(0x7FFFFFFF)
            scal = np.float64(np.uint32(b).view(np.float32))
        else:
            b = get_bits(buf, pos, 32) | (get_bits(buf, pos + 32, 32) << np.uint64(32))
            flag = b >> np.uint64(63)
            if allflag:
                b &= np.uint64(0x7FFFFFFFFFFFFFFF)
            scal = u2f(b)
        pos += vb
        if allflag and flag != 0:
            for i in range(d):
                y[i] = -scal if get_bits(buf, pos, 1) else scal
                pos += 1
            return pos
    A = end - pos
    lay, mlo, mhi = choose_layout(A, d, per, de, capped)
    if lay == L_DENSE:
        for i in range(d):
            y[i], pos = _get_dense(kind, buf, pos, vb, per, scal, s, natural)
        return pos
    if (kind == K_DITHER or kind == K_TERNGRAD or kind == K_SIGN) and scal == 0.0:
        return end                           # every value is zero
    if lay == L_MASK:
        mpos = pos
        pos += d
        for i in range(d):
            if get_bits(buf, mpos + i, 1):
                y[i], pos = _get_entry(kind, buf, pos, vb, per, scal, s, natural)
        return pos
    prev = -1
    pair = cl + per
    for j in range(mhi):
        if j >= mlo:
            if end - pos < pair:
                break
            idx = np.int64(get_bits(buf, pos, cl))
            if idx <= prev or idx >= d:
                break
        idx = np.int64(get_bits(buf, pos, cl))
        if idx >= d:
            raise ValueError("wire: malformed message (index out of range)")
        pos += cl
        y[idx], pos = _get_entry(kind, buf, pos, vb, per, scal, s, natural)
        prev = idx
    return pos


# ----------------------------------------------------------------------------
# fixed-size messages: top-k, rand-k

@njit(cache=True)
def enc_k(kind, params, y, buf, S, wide, rsave, mark, ridx):
    """Top-K / Rand-K at bit S; ``rsave`` is the generator state before the
    kernel ran (Rand-K's indices are replayed from it).  Returns the end bit."""
    d = y.size
    k = resolve_k(params[0], params[1], d)
    vb = _vb(kind, params, wide)
    cl = ceil_log2(d)
    pos = S
    if kind == K_RANDK:
        st = rsave.copy()
        floyd_sample(d, k, st, mark, ridx)
        if params[3] != 0.0:                     # shared: values in sampling order
            for j in range(k):
                pos = put_value(buf, pos, y[ridx[j]], vb)
            return pos
        if k >= d:
            for i in range(d):
                pos = put_value(buf, pos, y[i], vb)
            return pos
        if k * cl < d:
            for j in range(k):
                pos = put_bits(buf, pos, ridx[j], cl)
                pos = put_value(buf, pos, y[ridx[j]], vb)
            return pos
        for j in range(k):
            put_bits(buf, pos + ridx[j], 1, 1)
        mpos = pos
        pos += d
        for i in range(d):
            if get_bits(buf, mpos + i, 1):
                pos = put_value(buf, pos, y[i], vb)
        return pos
    # top-k: the support is y's nonzero entries, padded with zeros to K
    if k >= d:
        for i in range(d):
            pos = put_value(buf, pos, y[i], vb)
        return pos
    nz = 0
    for i in range(d):
        nz += np.int64(y[i] != 0.0)
    pad = k - nz
    if k * cl < d:
        for i in range(d):
            if y[i] != 0.0:
                pos = put_bits(buf, pos, i, cl)
                pos = put_value(buf, pos, y[i], vb)
            elif pad > 0:
                pos = put_bits(buf, pos, i, cl)
                pos = put_value(buf, pos, 0.0, vb)
                pad -= 1
        return pos
    mpos = pos
    pos += d
    for i in range(d):
        if y[i] != 0.0 or pad > 0:
            if y[i] == 0.0:
                pad -= 1
            put_bits(buf, mpos + i, 1, 1)
            pos = put_value(buf, pos, y[i], vb)
    return pos


@njit(cache=True)
def dec_k(kind, params, buf, S, y, wide, rng, mark, ridx):
    """Decode Top-K / Rand-K at bit S into y; ``rng`` (shared=1 only) is
    advanced as the sender's was.  Returns the end bit."""
    d = y.size
    k = resolve_k(params[0], params[1], d)
    vb = _vb(kind, params, wide)
    cl = ceil_log2(d)
    for i in range(d):
        y[i] = 0.0
    pos = S
    if kind == K_RANDK and params[3] != 0.0:
        floyd_sample(d, k, rng, mark, ridx)
        for j in range(k):
            y[ridx[j]] = get_value(buf, pos, vb)
            pos += vb
        return pos
    if k >= d:
        for i in range(d):
            y[i] = get_value(buf, pos, vb)
            pos += vb
        return pos
    if k * cl < d:
        for j in range(k):
            i = np.int64(get_bits(buf, pos, cl))
            if i >= d:
                raise ValueError("wire: malformed message (index out of range)")
            pos += cl
            y[i] = get_value(buf, pos, vb)
            pos += vb
        return pos
    mpos = pos
    pos += d
    for i in range(d):
        if get_bits(buf, mpos + i, 1):
            y[i] = get_value(buf, pos, vb)
            pos += vb
    return pos


# ----------------------------------------------------------------------------
# one primitive

@njit(cache=True)
def enc_prim(kind, params, x, y, buf, S, wide, bf, rsave, uaddr, uslot, tmp, mark, ridx):
    """Encode primitive output y (input x) at bit S; returns the end bit."""
    if kind == K_ZERO:
        return S
    if kind == K_TOPK or kind == K_RANDK:
        return enc_k(kind, params, y, buf, S, wide, rsave, mark, ridx)
    if kind == K_USER:
        return call_user_encoder(uaddr, 2 * uslot, borrow(y), borrow(params), buf, S)
    return enc_family(kind, params, x, y, buf, S, wide, bf, tmp)


@njit(cache=True)
def dec_prim(kind, params, buf, S, end, y, wide, rng, uaddr, uslot, mark, ridx):
    """Decode a primitive's message at bit S into y; returns the end bit."""
    if kind == K_ZERO:
        for i in range(y.size):
            y[i] = 0.0
        return S
    if kind == K_TOPK or kind == K_RANDK:
        return dec_k(kind, params, buf, S, y, wide, rng, mark, ridx)
    if kind == K_USER:
        return call_user_decoder(uaddr, 2 * uslot + 1, buf[:(end + 7) // 8], S,
                                 borrow(params), borrow(y))
    return dec_family(kind, params, buf, S, end, y, wide)


@njit(cache=True)
def replay_prim(replay, kind, params, d, rng, mark, ridx):
    """Advance the shared generator past a primitive as its kernel did."""
    if replay == R_NONE:
        return
    if replay == R_ONE:
        if kind == K_NATURAL and params[1] != 0.0:
            return
        _rng.next_u64(rng)
    elif replay == R_FLOYD:
        k = resolve_k(params[0], params[1], d)
        floyd_sample(d, k, rng, mark, ridx)
    # R_BAD (adaptive, users' kernels): nothing a receiver can replay; the plan
    # refuses a rand-k(shared=1) after one, so no shared draw depends on it


# ----------------------------------------------------------------------------
# programs

@njit(cache=True)
def message_layout(prog, rows, w, d, wide):
    """(fixed bits, row of the data-dependent message or -1) of worker w's program."""
    fixed = 0
    var = -1
    for j in range(prog.ptr[w], prog.ptr[w + 1]):
        if rows[j, P_MSG] == 0:
            continue
        p0 = prog.ops[j, C_POFF]
        fb = fixed_bits(rows[j, P_KIND], prog.params[p0:p0 + prog.ops[j, C_PLEN]], d, wide)
        if fb < 0:
            if var >= 0:
                raise ValueError("wire: two data-dependent messages in one compressor")
            var = j
        else:
            fixed += fb
    return fixed, var


@njit(cache=True)
def encode_program(prog, plan, w, x, out, rng, regs, iwork, mark, buf, pos0, wide, tmp,
                   ridx):
    """Worker w's program on x into out, its message encoded at bit pos0 of buf.

    The sender computes exactly what :func:`~shiftbench.compressors.kernels.
    program.apply_program` computes (same draws, same ``out``); only what
    travels is rounded.  The fixed-size messages come first (program order),
    the data-dependent one (at most one) last.  Returns ``(bits_full,
    bits_values, end bit, cycles spent encoding)``; the end is the bit
    count's (the message is padded to it).
    """
    rows = plan.rows
    d = x.size
    fixed, var = message_layout(prog, rows, w, d, wide)
    fpos = pos0
    vpos = pos0 + fixed
    end = vpos
    bf = 0.0
    bv = 0.0
    ops = prog.ops
    cyc = 0
    rsave = np.empty(2, dtype=np.uint64)
    for j in range(prog.ptr[w], prog.ptr[w + 1]):
        kind = ops[j, C_KIND]
        src = _reg(ops[j, C_SRC], x, out, regs)
        dst = _reg(ops[j, C_DST], x, out, regs)
        if kind == OP_PRIM or kind == OP_UPRIM:
            p0 = ops[j, C_POFF]
            p = prog.params[p0:p0 + ops[j, C_PLEN]]
            rsave[0] = rng[0]
            rsave[1] = rng[1]
            if kind == OP_PRIM:
                a, b = call_kernel(prog.addr, ops[j, C_SLOT], borrow(src), borrow(dst),
                                   borrow(p), borrow(rng), borrow(iwork), borrow(mark))
            else:
                a, b = call_user_kernel(prog.addr, ops[j, C_SLOT], borrow(src), borrow(dst),
                                        borrow(p), borrow(rng))
            if rows[j, P_MSG] != 0:
                bf += a
                bv += b
                ck = rows[j, P_KIND]
                at = vpos if j == var else fpos
                c0 = cycles()
                e = enc_prim(ck, p, src, dst, buf, at, wide, a, rsave, plan.uaddr,
                             rows[j, P_USER], tmp, mark, ridx)
                cyc += cycles() - c0
                if j == var:
                    end = e
                else:
                    fpos = e
        elif kind == OP_SUB:
            s2 = _reg(ops[j, C_SRC2], x, out, regs)
            for i in range(d):
                dst[i] = src[i] - s2[i]
        elif kind == OP_ADD:
            s2 = _reg(ops[j, C_SRC2], x, out, regs)
            for i in range(d):
                dst[i] = src[i] + s2[i]
        elif kind == OP_SCALE:
            lam = prog.params[ops[j, C_POFF]]
            for i in range(d):
                dst[i] = lam * src[i]
        elif kind == OP_COPY:
            for i in range(d):
                dst[i] = src[i]
    if var < 0:
        end = pos0 + fixed
    return bf, bv, end, cyc


@njit(cache=True)
def decode_program(prog, plan, w, buf, pos0, end, out, rng, use_rng, regs, mark, wide,
                   ridx):
    """Rebuild worker w's output from its message at bits [pos0, end) of buf.

    ``end`` is the message's last byte boundary.  ``rng`` (used when
    ``use_rng``) is the shared generator state at the start of the program.
    Returns the bit after the last one read.
    """
    rows = plan.rows
    d = out.size
    fixed, var = message_layout(prog, rows, w, d, wide)
    fpos = pos0
    vpos = pos0 + fixed
    last = vpos
    ops = prog.ops
    for r in range(regs.shape[0]):
        for i in range(d):
            regs[r, i] = 0.0
    for i in range(d):
        out[i] = 0.0
    for j in range(prog.ptr[w], prog.ptr[w + 1]):
        kind = ops[j, C_KIND]
        dst = _reg(ops[j, C_DST], out, out, regs)
        if kind == OP_PRIM or kind == OP_UPRIM:
            p0 = ops[j, C_POFF]
            p = prog.params[p0:p0 + ops[j, C_PLEN]]
            ck = rows[j, P_KIND]
            if rows[j, P_MSG] != 0:
                if j == var:
                    last = dec_prim(ck, p, buf, vpos, end, dst, wide, rng, plan.uaddr,
                                    rows[j, P_USER], mark, ridx)
                else:
                    fpos = dec_prim(ck, p, buf, fpos, end, dst, wide, rng, plan.uaddr,
                                    rows[j, P_USER], mark, ridx)
                if use_rng and not (ck == K_RANDK and rows[j, P_SHARED] != 0):
                    replay_prim(rows[j, P_REPLAY], ck, p, d, rng, mark, ridx)
            elif use_rng:
                replay_prim(rows[j, P_REPLAY], ck, p, d, rng, mark, ridx)
        elif kind == OP_ADD:
            src = _reg(ops[j, C_SRC], out, out, regs)
            s2 = _reg(ops[j, C_SRC2], out, out, regs)
            for i in range(d):
                dst[i] = src[i] + s2[i]
        elif kind == OP_SCALE:
            src = _reg(ops[j, C_SRC], out, out, regs)
            lam = prog.params[ops[j, C_POFF]]
            for i in range(d):
                dst[i] = lam * src[i]
        elif kind == OP_COPY:
            src = _reg(ops[j, C_SRC], out, out, regs)
            for i in range(d):
                dst[i] = src[i]
        # OP_SUB: the sender's own arithmetic (a nested compressor's input)
    return last if var >= 0 else pos0 + fixed


# ----------------------------------------------------------------------------
# full vectors and flags (messages of the method loops)

@njit(cache=True)
def encode_full(v, buf, pos, vb):
    """d values of vb bits (a vector sent in full); returns the end bit."""
    for i in range(v.size):
        pos = put_value(buf, pos, v[i], vb)
    return pos


@njit(cache=True)
def decode_full(buf, pos, out, vb):
    for i in range(out.size):
        out[i] = get_value(buf, pos, vb)
        pos += vb
    return pos


@njit(cache=True)
def round_full(v, out, vb):
    """out = v rounded to vb-bit values (what encode_full/decode_full give)."""
    if vb == 64:
        for i in range(v.size):
            out[i] = v[i]
    else:
        for i in range(v.size):
            out[i] = np.float64(np.float32(v[i]))


@njit(cache=True)
def wire_apply(prog, plan, w, x, out, rng, regs, iwork, mark, buf, wide, tmp, ridx, rs):
    """``out`` = what the receiver of worker w's message decodes (the sender's
    draws and bits as :func:`apply_program`'s); ``buf`` is scratch (zeroed
    on entry and on return).  Returns ``(bits_full, bits_values)``."""
    rs[0] = rng[0]
    rs[1] = rng[1]
    bf, bv, end, cyc = encode_program(prog, plan, w, x, out, rng, regs, iwork, mark, buf, 0,
                                      wide, tmp, ridx)
    stop = 8 * ((end + 7) // 8)
    use = False
    for j in range(prog.ptr[w], prog.ptr[w + 1]):
        if plan.rows[j, P_MSG] != 0 and plan.rows[j, P_SHARED] != 0:
            use = True
    decode_program(prog, plan, w, buf, 0, stop, out, rs, use, regs, mark, wide, ridx)
    for i in range((end + 7) // 8 + 8):
        buf[i] = 0
    return bf, bv
