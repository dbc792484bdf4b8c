"""Element-wise quantisers: natural compression, random and natural
dithering, TernGrad, scaled sign.

Randomness: a stochastic element-wise quantiser advances the stream by ONE
64-bit draw per call, ``key = next_u64(rng)``, and entry i uses the i-th
output of SplitMix64 started at ``key`` (:func:`shiftbench._rng.ctr_u64`,
counter-based): the draw of entry i does not depend on the other entries,
so the loops vectorise and a GPU thread per entry gives the same stream
(:mod:`shiftbench.compressors.gpu`); every entry has its u_i whether or not
it uses it.  Norms are summed in the fixed lane order of :mod:`.reductions`.
"""
import math

import numpy as np
from numba import njit, uint64

from ..._rng import next_u64, ctr_u64, ctr_uniform, INV_2_53
from .intrinsics import (f2u, u2f, SIGN_MASK, SIGN_BIT, EXP_MASK, MANT_MASK, EXP_MAX_FINITE,
                         ONE_EXP, TWO64, INV_TWO64)
from .reductions import pnorm, pnorm_nnz, max_abs, max_abs_nnz, sum_abs


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
    sgn = b & SIGN_BIT
    a = b & SIGN_MASK
    sub = a < ONE_EXP
    a2 = f2u(u2f(a) * (TWO64 if sub else 1.0))
    expo = a2 & EXP_MASK
    mant = a2 & MANT_MASK
    if deterministic:
        up = mant >= uint64(0x0008000000000000)
    else:
        up = (r >> uint64(11)) < (mant << uint64(1))
    up = up & (expo != EXP_MAX_FINITE)
    rb = expo + (ONE_EXP if up else uint64(0))
    mag = u2f(rb) * (INV_TWO64 if sub else 1.0)
    res = sgn | f2u(mag)
    return b if (a & EXP_MASK) == EXP_MASK else res


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


@njit(cache=True, inline="always")
def _natural_loop(x, out, key, deterministic):
    nz = 0
    for i in range(x.size):
        b = f2u(x[i])
        out[i] = u2f(_nat_bits(b, ctr_u64(key, i), deterministic))
        nz += np.int64((b & SIGN_MASK) != uint64(0))
    return nz


@njit(cache=True, inline="always")
def natural(x, out, rng, deterministic):
    """C_nat of x into out (one key draw unless deterministic).

    Returns the number of nonzero entries of x.  ``deterministic`` may be a
    run-time value: each branch runs its own specialised loop.
    """
    if deterministic:
        return _natural_loop(x, out, uint64(0), True)
    return _natural_loop(x, out, next_u64(rng), False)


_DITHER_NORM_LO = 2.0 ** -500   # outside (LO, HI) dither() rescales x first
_DITHER_NORM_HI = 2.0 ** 500


@njit(cache=True, inline="always")
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
        b = f2u(u)
        expo = b & EXP_MASK
        up = (r >> uint64(11)) < ((b & MANT_MASK) << uint64(1))
        lv_nat = u2f(expo + (ONE_EXP if up else uint64(0)))
        lv_nat = u if expo == EXP_MASK else lv_nat
        lv_small = smallest if float(r >> uint64(11)) * INV_2_53 < u * inv_small else 0.0
        lv = 1.0 if u >= 1.0 else (lv_small if u < smallest else lv_nat)
        v = nrm * lv
        out[i] = -v if x[i] < 0.0 else v
    return nz


@njit(cache=True, inline="always")
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


@njit(cache=True, inline="always")
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
