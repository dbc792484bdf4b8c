"""``Compressor.compress(x, device="cuda")``: one compression on the device.

The same program, parameters, generator and bit count as the CPU path; x
and ``out`` may be host (NumPy) or device arrays, and ``y`` lives where x
lives.  The generator state is copied to the device and back, so ``rng``
advances in place exactly as on the CPU.
"""
from __future__ import annotations

import os

import numpy as np

from ._target import cuda, SIMULATOR, require, exact
from .block import MAXT

THREADS_ENV = "SHIFTBENCH_CUDA_THREADS"


def threads_per_block():
    """Threads per block: ``$SHIFTBENCH_CUDA_THREADS`` or 256 (8 under the
    simulator, whose threads are Python threads); a power of two <= 1024."""
    v = os.environ.get(THREADS_ENV)
    if v is None:
        return 8 if SIMULATOR else 256
    try:
        n = int(v)
    except ValueError:
        n = -1
    if n < 1 or n > MAXT or n & (n - 1):
        raise ValueError(f"{THREADS_ENV}={v!r}: allowed a power of two from 1 to {MAXT}")
    return n


from ..compressors.core import _is_device_array as is_device_array  # noqa: E402


def check_device_vector(x, what="x", finite=True):
    """The checks of :func:`shiftbench.compressors.core.check_vector` for a
    device array (same messages; the finiteness test runs on the device)."""
    if not hasattr(x, "is_c_contiguous"):         # CuPy etc.: numba's view of it
        x = cuda.as_cuda_array(x)
    shape = tuple(x.shape)
    if len(shape) != 1 or shape[0] == 0:
        raise ValueError(f"{what} must be a non-empty 1-D array, got shape {shape}")
    if np.dtype(x.dtype) != np.float64 or not x.is_c_contiguous():
        raise ValueError(f"{what} must be a contiguous float64 array on the device, "
                         f"got dtype {np.dtype(x.dtype)}")
    if finite:
        from .checks import all_finite
        if not all_finite(x):
            raise ValueError(f"{what} contains NaN or inf; allowed: finite float values")
    return x


class _DeviceWork:
    """A compressor's device arrays at dimension d (kept between calls)."""

    def __init__(self, comp, d):
        from .programs import device_programs
        self.d = d
        self.module, ((self.ops, self.params, self.ptr),) = device_programs(comp.program)
        self.regs = cuda.to_device(np.zeros((max(comp.nreg, 1), d)))
        self.iwork = cuda.to_device(np.zeros(d, dtype=np.int64))
        self.mark = cuda.to_device(np.zeros(d, dtype=np.uint8))
        self.rng = cuda.device_array(2, dtype=np.uint64)
        self.bits = cuda.device_array(2, dtype=np.float64)


def compress_device(comp, x, rng, out=None):
    """``(y, bf, bv)``: ``comp`` applied on the device to x (host or device
    array, validated by the caller) with generator state ``rng`` (a host
    uint64[2], advanced in place)."""
    require("compress(device='cuda')")
    on_dev = is_device_array(x)
    d = int(x.shape[0])
    w = comp.__dict__.get("_device_work")
    if w is None or w.d != d:
        w = comp.__dict__["_device_work"] = _DeviceWork(comp, d)
    dx = x if on_dev else cuda.to_device(x)
    if out is not None and is_device_array(out):
        dout = out
    else:
        dout = cuda.device_array(d, dtype=np.float64)
    w.rng.copy_to_device(rng)
    nt = threads_per_block()
    with exact():
        w.module.compress_kernel[1, nt](w.ops, w.params, w.ptr, dx, dout, w.rng, w.regs,
                                        w.iwork, w.mark, w.bits)
    w.rng.copy_to_host(rng)
    bits = w.bits.copy_to_host()
    if on_dev or (out is not None and is_device_array(out)):
        y = dout
    else:
        y = dout.copy_to_host() if out is None else out
        if out is not None:
            dout.copy_to_host(out)
    return y, bits[0], bits[1]
