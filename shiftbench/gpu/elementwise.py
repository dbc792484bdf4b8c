"""Grid-wide CUDA kernels of the element-wise quantisers (``numba.cuda``).

Standalone kernels over the whole grid (one thread per entry, any d), used
by the GPU perf report for the element-wise rows; every compressor,
including these, also runs block-cooperatively inside the method loops and
``compress(device="cuda")`` (:mod:`.prims`).  Paired with
:mod:`shiftbench.compressors.kernels.quantisers`.  The CPU quantisers draw ONE 64-bit key per call from
the worker's xoroshiro128+ stream and give entry i the i-th SplitMix64 output
from that key (:func:`shiftbench._rng.ctr_u64`; the mixing function is the
same source, compiled here as a device function); this counter-based scheme is what
lets a GPU thread per entry reproduce the CPU result bit for bit: the key is
drawn on the host from the same stream, every thread computes its own draw.

Provided: natural compression C_nat (unbiased and deterministic) and
TernGrad (its max |x| is a reduction whose result does not depend on the
order).  Entry points are bound only when CUDA (or the CUDA simulator,
``NUMBA_ENABLE_CUDASIM=1``) is available: check :data:`AVAILABLE`.

References
----------
S. Horvath et al., "Natural compression for distributed deep learning",
MSML 2022.  W. Wen et al., "TernGrad", NeurIPS 2017.
"""
from __future__ import annotations

import math

import numpy as np

from .. import _rng
from ._target import cuda, AVAILABLE, require

THREADS = 256
_M64 = (1 << 64) - 1

if cuda is not None:
    from numba import uint64

    _mix64 = cuda.jit(device=True, inline=True)(_rng._mix64_py)

    @cuda.jit(device=True, inline=True)
    def _ctr_u64(key, i):
        return _mix64(key + (uint64(i) + uint64(1)) * uint64(_rng.GAMMA))

    @cuda.jit(device=True, inline=True)
    def _nat(t, r, deterministic):
        # t = m 2**e, m in [1/2, 1): lower power lo = 2**(e-1), frac = 2m - 1
        # (exact); up when (r >> 11) 2**-53 < frac, as the CPU bit version
        if t == 0.0 or math.isinf(t) or math.isnan(t):
            return t
        a = abs(t)
        m, e = math.frexp(a)
        lo = math.ldexp(1.0, e - 1)
        frac = 2.0 * m - 1.0
        if deterministic:
            up = frac >= 0.5
        else:
            up = float(r >> uint64(11)) * (1.0 / 9007199254740992.0) < frac
        if e - 1 == 1023:          # 2**1024 overflows: saturate (as the CPU)
            up = False
        v = lo * 2.0 if up else lo
        return -v if t < 0.0 else v

    @cuda.jit
    def _natural_kernel(x, out, key, deterministic):
        i = cuda.grid(1)
        if i < x.size:
            out[i] = _nat(x[i], _ctr_u64(key, i), deterministic)

    @cuda.jit
    def _absmax_kernel(x, partial):
        # one block-wide max per block (order-free: the result is exact)
        sm = cuda.shared.array(THREADS, dtype=np.float64)
        tid = cuda.threadIdx.x
        i = cuda.grid(1)
        stride = cuda.gridsize(1)
        m = 0.0
        while i < x.size:
            a = abs(x[i])
            if a > m:
                m = a
            i += stride
        sm[tid] = m
        cuda.syncthreads()
        s = THREADS // 2
        while s > 0:
            if tid < s and sm[tid + s] > sm[tid]:
                sm[tid] = sm[tid + s]
            cuda.syncthreads()
            s //= 2
        if tid == 0:
            partial[cuda.blockIdx.x] = sm[0]

    @cuda.jit
    def _terngrad_kernel(x, out, key, m):
        i = cuda.grid(1)
        if i < x.size:
            u = float(_ctr_u64(key, i) >> uint64(11)) * (1.0 / 9007199254740992.0)
            if u < abs(x[i]) / m:
                out[i] = m if x[i] > 0.0 else -m
            else:
                out[i] = 0.0


def _blocks(d):
    return max(1, (d + THREADS - 1) // THREADS)


def _to_device(x):
    if hasattr(x, "__cuda_array_interface__") or hasattr(x, "copy_to_host"):
        return x
    return cuda.to_device(np.ascontiguousarray(x, dtype=np.float64))


def _require():
    require("shiftbench.gpu.elementwise")


def _key(rng):
    """The key the CPU kernel would draw: one xoroshiro128+ step of ``rng``."""
    return np.uint64(_rng.next_u64(rng))


def natural(x, rng, deterministic=False, out=None):
    """C_nat of a device (or host) array; same result as the CPU kernel.

    ``rng`` (uint64[2]) is advanced by one draw unless ``deterministic``,
    exactly as :func:`shiftbench.compressors.kernels.quantisers.natural`.  Returns the
    device array ``out``.
    """
    _require()
    dx = _to_device(x)
    dout = cuda.device_array_like(dx) if out is None else out
    key = np.uint64(0) if deterministic else _key(rng)
    _natural_kernel[_blocks(dx.size), THREADS](dx, dout, key, deterministic)
    return dout


def terngrad(x, rng, out=None):
    """TernGrad of a device (or host) array; same result as the CPU kernel."""
    _require()
    dx = _to_device(x)
    dout = cuda.device_array_like(dx) if out is None else out
    key = _key(rng)
    nb = min(_blocks(dx.size), 1024)
    partial = cuda.device_array(nb, dtype=np.float64)
    _absmax_kernel[nb, THREADS](dx, partial)
    m = float(partial.copy_to_host().max())
    if m == 0.0:
        _natural_kernel[_blocks(dx.size), THREADS](dx, dout, np.uint64(0), True)  # zeros
        return dout
    _terngrad_kernel[_blocks(dx.size), THREADS](dx, dout, key, m)
    return dout
