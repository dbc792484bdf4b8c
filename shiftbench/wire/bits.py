"""Bit-level I/O on byte buffers (compiled): the primitives every encoder uses.

A message is a little-endian bit string: bit ``p`` of a message is bit
``p & 7`` of byte ``p >> 3``.  Fields are written least significant bit
first.  Writers OR into a zeroed buffer and readers may read up to 8 bytes
past a field, so a working buffer has :data:`SLACK` zero bytes after its
last message byte (:func:`buffer` makes one).

Callable from compiled code, also from users' own encoders and decoders
(``shiftbench.wire.put_bits`` etc., see :func:`shiftbench.wire.register_codec`):

* :func:`put_bits` / :func:`get_bits` -- an unsigned field of 0..57 bits;
* :func:`put_u64` / :func:`get_u64` -- 64 bits;
* :func:`put_f32` / :func:`get_f32` -- a float64 rounded to fp32 (round to
  nearest even, overflow to +-inf), read back as float64;
* :func:`put_f64` / :func:`get_f64` -- a float64, exactly.
"""
import sys

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

SLACK = 16
"""Zero bytes a working buffer keeps after its last message byte."""

if sys.byteorder != "little":          # the unaligned 64-bit loads below assume it
    raise ImportError("shiftbench.wire needs a little-endian machine")


@intrinsic
def _load_u64(typingctx, buf, byte):
    """The 8 bytes ``buf[byte:byte+8]`` as a little-endian uint64 (unaligned)."""
    if not (isinstance(buf, types.Array) and buf.dtype == types.uint8):
        return None

    def codegen(context, builder, sig, args):
        ary = context.make_array(sig.args[0])(context, builder, args[0])
        i64 = ir.IntType(64)
        off = context.cast(builder, args[1], sig.args[1], types.int64)
        ptr = builder.gep(ary.data, [off])
        p64 = builder.bitcast(ptr, i64.as_pointer())
        v = builder.load(p64, align=1)
        return v

    return types.uint64(buf, byte), codegen


@intrinsic
def _store_u64(typingctx, buf, byte, val):
    """Store ``val`` as 8 little-endian bytes at ``buf[byte:byte+8]`` (unaligned)."""
    if not (isinstance(buf, types.Array) and buf.dtype == types.uint8):
        return None

    def codegen(context, builder, sig, args):
        ary = context.make_array(sig.args[0])(context, builder, args[0])
        i64 = ir.IntType(64)
        off = context.cast(builder, args[1], sig.args[1], types.int64)
        v = context.cast(builder, args[2], sig.args[2], types.uint64)
        ptr = builder.gep(ary.data, [off])
        p64 = builder.bitcast(ptr, i64.as_pointer())
        builder.store(v, p64, align=1)
        return context.get_dummy_value()

    return types.void(buf, byte, val), codegen


@njit(cache=True, inline="always")
def put_bits(buf, pos, v, n):
    """Write the low ``n`` (0..57) bits of ``v`` at bit ``pos``; returns pos + n.

    The bits at and after ``pos`` must be zero (a fresh buffer)."""
    if n == 0:
        return pos
    b = pos >> 3
    sh = np.uint64(pos & 7)
    w = _load_u64(buf, b)
    w |= (np.uint64(v) & ((np.uint64(1) << np.uint64(n)) - np.uint64(1))) << sh
    _store_u64(buf, b, w)
    return pos + n


@njit(cache=True, inline="always")
def get_bits(buf, pos, n):
    """The ``n``-bit (0..57) unsigned field at bit ``pos`` (a uint64)."""
    if n == 0:
        return np.uint64(0)
    w = _load_u64(buf, pos >> 3) >> np.uint64(pos & 7)
    return w & ((np.uint64(1) << np.uint64(n)) - np.uint64(1))


@njit(cache=True, inline="always")
def put_u64(buf, pos, v):
    v = np.uint64(v)
    pos = put_bits(buf, pos, v & np.uint64(0xFFFFFFFF), 32)
    return put_bits(buf, pos, v >> np.uint64(32), 32)


@njit(cache=True, inline="always")
def get_u64(buf, pos):
    lo = get_bits(buf, pos, 32)
    hi = get_bits(buf, pos + 32, 32)
    return lo | (hi << np.uint64(32))


@njit(cache=True, inline="always")
def f32_bits(v):
    """The fp32 bit pattern (uint64) of float64 ``v`` rounded to nearest even."""
    return np.uint64(np.float32(v).view(np.uint32))


@njit(cache=True, inline="always")
def bits_f32(b):
    """The float64 value of fp32 bit pattern ``b``."""
    return np.float64(np.uint32(b).view(np.float32))


@njit(cache=True, inline="always")
def round_f32(v):
    """``v`` rounded to fp32 (and back to float64)."""
    return np.float64(np.float32(v))


@njit(cache=True, inline="always")
def put_f32(buf, pos, v):
    return put_bits(buf, pos, f32_bits(v), 32)


@njit(cache=True, inline="always")
def get_f32(buf, pos):
    return bits_f32(get_bits(buf, pos, 32))


@njit(cache=True, inline="always")
def put_f64(buf, pos, v):
    return put_u64(buf, pos, np.float64(v).view(np.uint64))


@njit(cache=True, inline="always")
def get_f64(buf, pos):
    return np.uint64(get_u64(buf, pos)).view(np.float64)


@njit(cache=True, inline="always")
def put_value(buf, pos, v, vb):
    """A value field of ``vb`` (32 or 64) bits."""
    if vb == 64:
        return put_f64(buf, pos, v)
    return put_f32(buf, pos, v)


@njit(cache=True, inline="always")
def get_value(buf, pos, vb):
    if vb == 64:
        return get_f64(buf, pos)
    return get_f32(buf, pos)


def buffer(nbytes):
    """A zeroed uint8 working buffer for ``nbytes`` message bytes (+ slack)."""
    return np.zeros(int(nbytes) + SLACK, dtype=np.uint8)
