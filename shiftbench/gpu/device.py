"""The device kernels: the compressor-program interpreter, the standalone
compression kernel and the method loops (one thread block per seed).

This module is compiled once for the built-in compressors.  Users' kernels
cannot be called through pointers on the device, so a program that uses
them runs in a copy of this module whose ``user_call`` dispatches to them
(:func:`shiftbench.gpu.programs.device_module`); everything else is shared.
"""
import math

import numpy as np
from numba import float64, int64, uint64, int32

from ..compressors.kernels.program import (OP_PRIM, OP_UPRIM, OP_SUB, OP_ADD, OP_SCALE,
                                           OP_COPY, C_KIND, C_SLOT, C_SRC, C_DST, C_SRC2,
                                           C_POFF, C_PLEN, C_SILENT)
from ._target import cuda, dev
from .block import MAXT, RADIX
from .prims import call_prim


@dev
def _no_user_call(slot, x, out, p, rng, sf):
    return 0.0, 0.0


# a copy of this module made for users' kernels has ``user_call`` set before
# its code runs (see programs.device_module)
user_call = globals().get("user_call", _no_user_call)
CACHE = user_call is _no_user_call       # only the built-in copy is cached on disk


@cuda.jit(device=True, inline="always")
def reg(r, x, out, regs):
    if r == -1:
        return x
    if r == -2:
        return out
    return regs[r]


@dev
def run_program(ops, par, ptr, w, x, out, rng, regs, iwork, mark, sf, si, su, hist):
    """Worker w's compressor program on x into out (block-cooperative);
    returns ``(bits_full, bits_values)`` on every thread, as the CPU's
    :func:`~shiftbench.compressors.kernels.program.run_program`."""
    t = cuda.threadIdx.x
    nt = cuda.blockDim.x
    bf = 0.0
    bv = 0.0
    for j in range(ptr[w], ptr[w + 1]):
        kind = ops[j, C_KIND]
        src = reg(ops[j, C_SRC], x, out, regs)
        dst = reg(ops[j, C_DST], x, out, regs)
        if kind == OP_PRIM or kind == OP_UPRIM:
            p0 = ops[j, C_POFF]
            p = par[p0:p0 + ops[j, C_PLEN]]
            if kind == OP_PRIM:
                a, b = call_prim(ops[j, C_SLOT], src, dst, p, rng, iwork, mark, sf, si, su,
                                 hist)
            else:
                a, b = user_call(ops[j, C_SLOT], src, dst, p, rng, sf)
            if ops[j, C_SILENT] == 0:
                bf += a
                bv += b
        elif kind == OP_SUB:
            s2 = reg(ops[j, C_SRC2], x, out, regs)
            for i in range(t, dst.size, nt):
                dst[i] = src[i] - s2[i]
        elif kind == OP_ADD:
            s2 = reg(ops[j, C_SRC2], x, out, regs)
            for i in range(t, dst.size, nt):
                dst[i] = src[i] + s2[i]
        elif kind == OP_SCALE:
            lam = par[ops[j, C_POFF]]
            for i in range(t, dst.size, nt):
                dst[i] = lam * src[i]
        elif kind == OP_COPY:
            for i in range(t, dst.size, nt):
                dst[i] = src[i]
    cuda.syncthreads()
    return bf, bv


@cuda.jit(cache=CACHE)
def compress_kernel(ops, par, ptr, x, out, rng, regs, iwork, mark, bits):
    """One compression by worker 0's program (one block)."""
    sf = cuda.shared.array(MAXT, float64)
    si = cuda.shared.array(MAXT, int64)
    su = cuda.shared.array(8, uint64)
    hist = cuda.shared.array(RADIX, int32)
    a, b = run_program(ops, par, ptr, 0, x, out, rng, regs, iwork, mark, sf, si, su, hist)
    if cuda.threadIdx.x == 0:
        bits[0] = a
        bits[1] = b
