"""Explicit-state random numbers: xoroshiro128+ seeded by SplitMix64.

Every random kernel in shiftbench takes its generator state as a ``uint64``
array of length 2 and advances it in place, so one integer seed determines a
whole run.  The same generator is written for ``numba.cuda`` so that CPU and
GPU streams agree bit for bit.

Functions callable from compiled code (also from users' own compressor
kernels, as ``shiftbench.rng.uniform(rng)`` etc.):

* :func:`next_u64` -- the next 64-bit output of the stream;
* :func:`uniform` -- a double in [0, 1) with 53 random bits;
* :func:`bounded` -- an integer uniform on {0, ..., n-1} (Lemire);
* :func:`normal` -- a standard normal (Box-Muller);
* :func:`ctr_u64`, :func:`ctr_uniform` -- counter-based draws: the i-th
  SplitMix64 output started at a key (one key per call gives every entry of
  a vector its own independent draw, in any order, on CPU or GPU).

References
----------
D. Blackman and S. Vigna, "Scrambled linear pseudorandom number generators",
ACM TOMS 47(4), 2021 (xoroshiro128+).  G. Steele, D. Lea and C. Flood,
"Fast splittable pseudorandom number generators", OOPSLA 2014 (SplitMix64).
D. Lemire, "Fast random integer generation in an interval", ACM TOMACS 29(1),
2019 (bounded integers).
"""
import numpy as np
from llvmlite import ir
from numba import njit, types, uint64
from numba.extending import intrinsic

__all__ = ["next_u64", "uniform", "bounded", "normal", "ctr_u64", "ctr_uniform",
           "splitmix64", "mix64", "seed_state", "new_state", "GAMMA", "INV_2_53"]

_M64 = 0xFFFFFFFFFFFFFFFF
INV_2_53 = 1.0 / 9007199254740992.0  # 2**-53
GAMMA = 0x9E3779B97F4A7C15           # SplitMix64's increment (golden ratio)


def _mix64_py(z):
    """The SplitMix64 output function (Stafford's Mix13) on a uint64.

    Plain Python body compiled both for the CPU (:func:`mix64`) and, in
    :mod:`shiftbench.compressors.gpu`, as a CUDA device function: one source
    for both targets.
    """
    z = (z ^ (z >> uint64(30))) * uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> uint64(27))) * uint64(0x94D049BB133111EB)
    return z ^ (z >> uint64(31))


mix64 = njit(cache=True, inline="always")(_mix64_py)


@njit(cache=True, inline="always")
def splitmix64(z):
    """One SplitMix64 step on a uint64 state value; returns the output."""
    return mix64(uint64(z) + uint64(GAMMA))


@njit(cache=True, inline="always")
def ctr_u64(key, i):
    """The i-th (i = 0, 1, ...) 64-bit output of SplitMix64 started at ``key``:
    ``mix64(key + (i + 1) * GAMMA)`` (counter-based: no state to carry)."""
    return mix64(key + (uint64(i) + uint64(1)) * uint64(GAMMA))


@njit(cache=True, inline="always")
def ctr_uniform(key, i):
    """``(ctr_u64(key, i) >> 11) * 2**-53``: a double in [0, 1)."""
    return float(ctr_u64(key, i) >> uint64(11)) * INV_2_53


@njit(cache=True, inline="always")
def _rotl(x, k):
    return (x << uint64(k)) | (x >> uint64(64 - k))


@njit(cache=True)
def seed_state(state, seed, stream):
    """Seed ``state`` (uint64[2]) from an integer seed and a stream number.

    Distinct (seed, stream) pairs give independent-looking streams; the
    stream number is how runs and workers get their own generators, so a
    result never depends on thread count or scheduling.
    """
    z = splitmix64(uint64(seed) ^ splitmix64(uint64(stream) + uint64(0x632BE59BD9B4E019)))
    s0 = splitmix64(z)
    s1 = splitmix64(s0 ^ uint64(0xD1B54A32D192ED03))
    if s0 == 0 and s1 == 0:
        s1 = uint64(1)
    state[0] = s0
    state[1] = s1


@njit(cache=True, inline="always")
def next_u64(state):
    """xoroshiro128+ : next 64-bit output, advancing ``state`` in place."""
    s0 = state[0]
    s1 = state[1]
    result = s0 + s1
    s1 ^= s0
    state[0] = _rotl(s0, 24) ^ s1 ^ (s1 << uint64(16))
    state[1] = _rotl(s1, 37)
    return result


@njit(cache=True, inline="always")
def uniform(state):
    """A double in [0, 1) with 53 random bits."""
    return float(next_u64(state) >> uint64(11)) * INV_2_53


@intrinsic
def mul_wide(typingctx, a, b):
    """``(hi, lo)``: the 64-bit halves of the 128-bit product of two uint64
    (one machine multiply)."""
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
def bounded(state, n):
    """An integer uniform on {0, ..., n-1} (Lemire's multiply-shift with
    rejection: unbiased; one draw except with probability < n / 2**64)."""
    nn = uint64(n)
    while True:
        hi, lo = mul_wide(next_u64(state), nn)
        if lo >= nn:
            return np.int64(hi)
        # rejection threshold: (2**64 - n) mod n
        if lo >= (uint64(0) - nn) % nn:
            return np.int64(hi)


@njit(cache=True)
def normal(state):
    """A standard normal variate (Box-Muller; one of the pair is used)."""
    u1 = uniform(state)
    while u1 <= 0.0:
        u1 = uniform(state)
    u2 = uniform(state)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def new_state(seed, stream=0):
    """A fresh generator state (uint64[2]) for ``seed`` and ``stream``."""
    st = np.zeros(2, dtype=np.uint64)
    seed_state(st, np.uint64(int(seed) & _M64), np.uint64(int(stream) & _M64))
    return st
