"""Block-cooperative building blocks: every thread of a block calls them
with the same arguments and gets the same result.

Conventions of the device code (:mod:`.prims`, :mod:`.device`):

* one thread block works on one vector at a time; element ``i`` of every
  element-wise pass belongs to thread ``i mod blockDim`` (so element-wise
  passes need no barrier between them), and anything else (a reduction, a
  compressor, a serial part run by thread 0) is bracketed by
  ``syncthreads``;
* ``blockDim.x`` is a power of two, at most :data:`MAXT`;
* the scratch lives in shared memory allocated by the kernel and passed
  down: ``sf`` (float64[MAXT]), ``si`` (int64[MAXT]), ``su`` (uint64[8]) and
  ``hist`` (int32[RADIX], Top-K's histogram).

Sums that decide a compressor's output are taken in the CPU kernels' own
order (:mod:`shiftbench.compressors.kernels.reductions`: 16 lanes in index
order, then a fixed pairwise tree), with products rounded before they are
added (``mul_rn``: no fused multiply-add), so the device reproduces the
CPU bit for bit.  Other sums (gradients, trace columns) use a tree over the
threads and agree with the CPU to rounding.
"""
import math

from numba import float64, int64, uint64

from ..compressors.kernels.reductions import LANES, SUM_SQ, SUM_ABS, MAX_ABS
from ._target import cuda, dev, SIMULATOR
from .rng import next_u64, uniform

MAXT = 1024          # most threads per block
RADIX = 2048         # Top-K's 11-bit digits

if SIMULATOR:
    @dev
    def mul_rn(a, b):
        return a * b

    @dev
    def ldexp(v, e):
        """math.ldexp, overflowing to +-inf as on the device (Python raises)."""
        try:
            return math.ldexp(v, int(e))
        except OverflowError:
            return math.copysign(math.inf, v)
else:
    from numba.cuda import libdevice

    @dev
    def mul_rn(a, b):
        """a * b rounded on its own (never fused into an FMA), as on the CPU."""
        return libdevice.dmul_rn(a, b)

    @dev
    def ldexp(v, e):
        return math.ldexp(v, e)


@dev
def bsum_i(v, si):
    """Sum of an integer over the block."""
    t = cuda.threadIdx.x
    nt = cuda.blockDim.x
    si[t] = v
    cuda.syncthreads()
    s = nt // 2
    while s > 0:
        if t < s:
            si[t] += si[t + s]
        cuda.syncthreads()
        s //= 2
    r = si[0]
    cuda.syncthreads()
    return r


@dev
def bsum_f(v, sf):
    """Sum of a float over the block (a fixed tree: reproducible for a
    given block size, equal to a serial sum to rounding)."""
    t = cuda.threadIdx.x
    nt = cuda.blockDim.x
    sf[t] = v
    cuda.syncthreads()
    s = nt // 2
    while s > 0:
        if t < s:
            sf[t] += sf[t + s]
        cuda.syncthreads()
        s //= 2
    r = sf[0]
    cuda.syncthreads()
    return r


@dev
def fold_lanes(sf):
    """Sum of the LANES partial sums in sf into sf[0], pairwise in the CPU's
    lane order (one thread)."""
    w = LANES // 2
    while w >= 1:
        for j in range(w):
            sf[j] = sf[2 * j] + sf[2 * j + 1]
        w //= 2


@dev
def bmax_f(v, sf):
    """Max of a float over the block (order-free: exact)."""
    t = cuda.threadIdx.x
    nt = cuda.blockDim.x
    sf[t] = v
    cuda.syncthreads()
    s = nt // 2
    while s > 0:
        if t < s and sf[t + s] > sf[t]:
            sf[t] = sf[t + s]
        cuda.syncthreads()
        s //= 2
    r = sf[0]
    cuda.syncthreads()
    return r


@dev
def bcast_f(v, sf):
    """Thread 0's float, for every thread."""
    if cuda.threadIdx.x == 0:
        sf[0] = v
    cuda.syncthreads()
    r = sf[0]
    cuda.syncthreads()
    return r


@dev
def bcast_i(v, si):
    """Thread 0's integer, for every thread."""
    if cuda.threadIdx.x == 0:
        si[0] = v
    cuda.syncthreads()
    r = si[0]
    cuda.syncthreads()
    return r


@dev
def draw_key(rng, su):
    """One ``next_u64`` of the stream (thread 0 advances it), for every thread."""
    if cuda.threadIdx.x == 0:
        su[0] = next_u64(rng)
    cuda.syncthreads()
    r = su[0]
    cuda.syncthreads()
    return r


@dev
def draw_uniform(rng, sf):
    """One ``uniform`` of the stream (thread 0 advances it), for every thread."""
    if cuda.threadIdx.x == 0:
        sf[0] = uniform(rng)
    cuda.syncthreads()
    r = sf[0]
    cuda.syncthreads()
    return r


@dev
def lanes(x, op, sf, si):
    """``(value, nnz(x))``: the reduction ``op`` (SUM_SQ, SUM_ABS, MAX_ABS)
    of x in the CPU's lane order (bit-identical to
    :func:`shiftbench.compressors.kernels.reductions.lanes`)."""
    t = cuda.threadIdx.x
    nt = cuda.blockDim.x
    d = x.size
    nz = 0
    cuda.syncthreads()
    for j in range(t, LANES, nt):
        a = 0.0
        i = j
        while i < d:
            v = x[i]
            if op == SUM_SQ:
                a = a + mul_rn(v, v)
            elif op == SUM_ABS:
                a = a + abs(v)
            else:
                b = abs(v)
                a = b if b > a else a
            nz += int64(v != 0.0)
            i += LANES
        sf[j] = a
    cuda.syncthreads()
    if t == 0:
        if op == MAX_ABS:
            m = 0.0
            for j in range(LANES):
                m = sf[j] if sf[j] > m else m
            sf[0] = m
        else:
            fold_lanes(sf)
    cuda.syncthreads()
    r = sf[0]
    cuda.syncthreads()
    nz = bsum_i(nz, si)
    return r, nz


@dev
def lanes_pow(x, pn, sf, si):
    """``(sum |x_i|**pn in lane order, nnz(x))`` (the general p-norm of
    :func:`shiftbench.compressors.kernels.reductions.pnorm_nnz`)."""
    t = cuda.threadIdx.x
    nt = cuda.blockDim.x
    d = x.size
    nz = 0
    cuda.syncthreads()
    for j in range(t, LANES, nt):
        a = 0.0
        i = j
        while i < d:
            v = x[i]
            a = a + abs(v) ** pn
            nz += int64(v != 0.0)
            i += LANES
        sf[j] = a
    cuda.syncthreads()
    if t == 0:
        fold_lanes(sf)
    cuda.syncthreads()
    r = sf[0]
    cuda.syncthreads()
    nz = bsum_i(nz, si)
    return r, nz


@dev
def pnorm_nnz(x, pn, sf, si):
    """``(||x||_p, nnz(x))`` exactly as the CPU's ``pnorm_nnz``."""
    if pn == math.inf:
        return lanes(x, MAX_ABS, sf, si)
    if pn == 2.0:
        s, nz = lanes(x, SUM_SQ, sf, si)
        return math.sqrt(s), nz
    if pn == 1.0:
        return lanes(x, SUM_ABS, sf, si)
    s, nz = lanes_pow(x, pn, sf, si)
    return s ** (1.0 / pn), nz


@dev
def max_abs_nnz(x, sf, si):
    """``(max |x_i|, nnz(x))`` over the block (order-free)."""
    t = cuda.threadIdx.x
    nt = cuda.blockDim.x
    m = 0.0
    nz = 0
    cuda.syncthreads()
    for i in range(t, x.size, nt):
        b = abs(x[i])
        m = b if b > m else m
        nz += int64(x[i] != 0.0)
    return bmax_f(m, sf), bsum_i(nz, si)


@dev
def sqdist(a, b, sf):
    """||a - b||^2 (tree order)."""
    t = cuda.threadIdx.x
    nt = cuda.blockDim.x
    s = 0.0
    for k in range(t, a.size, nt):
        u = a[k] - b[k]
        s += u * u
    return bsum_f(s, sf)


@dev
def sqnorm(a, sf):
    """||a||^2 (tree order)."""
    t = cuda.threadIdx.x
    nt = cuda.blockDim.x
    s = 0.0
    for k in range(t, a.size, nt):
        s += a[k] * a[k]
    return bsum_f(s, sf)
