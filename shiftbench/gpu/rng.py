"""The counter-based and stream RNG of :mod:`shiftbench._rng` on the device.

Same generators, same outputs: xoroshiro128+ streams seeded by SplitMix64
per (seed, stream), Lemire's bounded integers, and the counter-based
SplitMix64 draws ``ctr_u64(key, i)`` that give entry i of a vector its own
draw (one GPU thread per entry reproduces the CPU loop).  The state is a
uint64[2] device array, advanced in place; a block calls the stream
functions from one thread only.
"""
from numba import uint64, int64

from .. import _rng
from ._target import dev

GAMMA = _rng.GAMMA
INV_2_53 = _rng.INV_2_53

mix64 = dev(_rng._mix64_py)


@dev
def splitmix64(z):
    return mix64(uint64(z) + uint64(GAMMA))


@dev
def ctr_u64(key, i):
    return mix64(key + (uint64(i) + uint64(1)) * uint64(GAMMA))


@dev
def ctr_uniform(key, i):
    return float(ctr_u64(key, i) >> uint64(11)) * INV_2_53


@dev
def rotl(x, k):
    return (x << uint64(k)) | (x >> uint64(64 - k))


@dev
def next_u64(state):
    s0 = state[0]
    s1 = state[1]
    result = s0 + s1
    s1 ^= s0
    state[0] = rotl(s0, 24) ^ s1 ^ (s1 << uint64(16))
    state[1] = rotl(s1, 37)
    return result


@dev
def uniform(state):
    return float(next_u64(state) >> uint64(11)) * INV_2_53


@dev
def mulhi(a, b):
    """High 64 bits of the 128-bit product of two uint64 (32-bit limbs)."""
    m32 = uint64(0xFFFFFFFF)
    a0 = a & m32
    a1 = a >> uint64(32)
    b0 = b & m32
    b1 = b >> uint64(32)
    p00 = a0 * b0
    p01 = a0 * b1
    p10 = a1 * b0
    p11 = a1 * b1
    mid = (p00 >> uint64(32)) + (p01 & m32) + (p10 & m32)
    return p11 + (p01 >> uint64(32)) + (p10 >> uint64(32)) + (mid >> uint64(32))


@dev
def bounded(state, n):
    """Lemire's multiply-shift with rejection, as :func:`shiftbench._rng.bounded`."""
    nn = uint64(n)
    while True:
        r = next_u64(state)
        lo = r * nn
        hi = mulhi(r, nn)
        if lo >= nn:
            return int64(hi)
        if lo >= (uint64(0) - nn) % nn:
            return int64(hi)


@dev
def seed_state(state, seed, stream):
    z = splitmix64(uint64(seed) ^ splitmix64(uint64(stream) + uint64(0x632BE59BD9B4E019)))
    s0 = splitmix64(z)
    s1 = splitmix64(s0 ^ uint64(0xD1B54A32D192ED03))
    if s0 == 0 and s1 == 0:
        s1 = uint64(1)
    state[0] = s0
    state[1] = s1
