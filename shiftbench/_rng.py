"""Explicit-state random numbers: xoroshiro128+ seeded by splitmix64.

Every random kernel in shiftbench takes its generator state as a ``uint64``
array of length 2 and advances it in place, so one integer seed determines a
whole run.  The same generator is written for ``numba.cuda`` so that CPU and
GPU streams agree bit for bit.

References
----------
D. Blackman and S. Vigna, "Scrambled linear pseudorandom number generators",
ACM TOMS 47(4), 2021.  (xoroshiro128+ and splitmix64.)
"""
import numpy as np
from numba import njit, uint64

_M64 = 0xFFFFFFFFFFFFFFFF
INV_2_53 = 1.0 / 9007199254740992.0  # 2**-53


@njit(cache=True, inline="always")
def _rotl(x, k):
    return (x << uint64(k)) | (x >> uint64(64 - k))


@njit(cache=True)
def splitmix64(z):
    """One splitmix64 step on a uint64; returns the mixed value."""
    z = uint64(z) + uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> uint64(30))) * uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> uint64(27))) * uint64(0x94D049BB133111EB)
    return z ^ (z >> uint64(31))


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


@njit(cache=True, inline="always")
def bounded(state, n):
    """An integer uniform on {0, ..., n-1} (Lemire's multiply-shift, unbiased)."""
    nn = uint64(n)
    # 128-bit product via two 64-bit halves
    while True:
        x = next_u64(state)
        x_hi = x >> uint64(32)
        x_lo = x & uint64(0xFFFFFFFF)
        n_hi = nn >> uint64(32)
        n_lo = nn & uint64(0xFFFFFFFF)
        lo_lo = x_lo * n_lo
        hi_lo = x_hi * n_lo
        lo_hi = x_lo * n_hi
        hi_hi = x_hi * n_hi
        cross = (lo_lo >> uint64(32)) + (hi_lo & uint64(0xFFFFFFFF)) + lo_hi
        hi = hi_hi + (hi_lo >> uint64(32)) + (cross >> uint64(32))
        lo = (cross << uint64(32)) | (lo_lo & uint64(0xFFFFFFFF))
        if lo >= nn:
            return np.int64(hi)
        # rejection threshold: (2**64 - n) mod n
        t = (uint64(0) - nn) % nn
        if lo >= t:
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
