"""Low-level pieces shared by the compressor kernels: LLVM intrinsics, float
bit patterns and the bit-cost helpers.

Conventions of every kernel (see :mod:`.program` for the uniform signature):

* ``iwork`` is int64 scratch of length >= ``d + IWORK_EXTRA``;
* ``mark`` is uint8 of length >= d, all zero on entry and left all zero;
* bits are returned as ``(bits_full, bits_values)``: everything a receiver
  needs (values, indices or masks, norms, signs, levels) and the "values
  only" convention of many papers, reported beside the full count.
"""
import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from ..._stack import stack_f64  # noqa: F401  (re-exported for the kernels)

IWORK_EXTRA = 65536
"""Words of ``iwork`` before the d candidate slots of Top-K (``iwork[:2048]``
is its radix histogram, ``iwork[2048:2048+16384]`` its sample): an
``iwork`` for dimension d has length ``d + IWORK_EXTRA``."""

IW_SUPPORT = IWORK_EXTRA - 1
"""The support hint: after :func:`~shiftbench.compressors.kernels.program.apply_program`,
``iwork[IW_SUPPORT] = m >= 0`` says that the output is +0.0 outside the m
distinct indices ``iwork[:m]`` (a primitive that lists its support: Rand-K with
Floyd's algorithm and Top-K, for m < IW_SUPPORT, so that the list never
covers the hint; Top-K's scratch lies outside ``iwork[2048 + 16384:IWORK_EXTRA]``,
which holds the slot); -1 says nothing.  A loop that only adds the message
(DIANA's x and shift updates) then touches those m entries only, and so do
``induced``'s residual and sum in the program interpreter."""

SIGN_MASK = np.uint64(0x7FFFFFFFFFFFFFFF)
EXP_MASK = np.uint64(0x7FF0000000000000)
MANT_MASK = np.uint64(0x000FFFFFFFFFFFFF)
SIGN_BIT = np.uint64(0x8000000000000000)
EXP_MAX_FINITE = np.uint64(0x7FE0000000000000)
ONE_EXP = np.uint64(0x0010000000000000)        # 1 << 52
TWO64 = 18446744073709551616.0                  # 2**64
INV_TWO64 = 1.0 / 18446744073709551616.0
PREFETCH_AHEAD = 128          # iterations ahead, for random accesses to d-sized arrays
PREFETCH_STREAM = 1024        # elements ahead, in the read-only streaming passes


# ----------------------------------------------------------------------------
# bit patterns

@njit(cache=True, inline="always")
def f2u(v):
    """The IEEE-754 bit pattern of a float64."""
    return np.float64(v).view(np.uint64)


@njit(cache=True, inline="always")
def u2f(b):
    """The float64 with bit pattern ``b``."""
    return np.uint64(b).view(np.float64)


@njit(cache=True, inline="always")
def f2i(v):
    """The bit pattern of a float64 as an int64 (to park it in ``iwork``)."""
    return np.float64(v).view(np.int64)


@njit(cache=True, inline="always")
def i2f(b):
    """The float64 with bit pattern ``b`` (an int64)."""
    return np.int64(b).view(np.float64)


@njit(cache=True, inline="always")
def absbits(v):
    """Bit pattern of ``|v|`` (monotone in |v| for non-NaN values)."""
    return np.float64(v).view(np.uint64) & SIGN_MASK


# ----------------------------------------------------------------------------
# bit costs

@intrinsic
def _clz64(typingctx, v):
    """Leading zero bits of a 64-bit integer (``llvm.ctlz``; 64 for 0)."""
    if not isinstance(v, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        i64 = ir.IntType(64)
        val = context.cast(builder, args[0], sig.args[0], types.int64)
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(
            i64, [i64, ir.IntType(1)]), "llvm.ctlz.i64")
        return builder.call(fn, [val, ir.Constant(ir.IntType(1), 0)])

    return types.int64(v), codegen


@njit(cache=True, inline="always")
def ceil_log2(n):
    """ceil(log2(n)) for 1 <= n <= 2**62 (0 for n == 1): one instruction."""
    return 0 if n <= 1 else 64 - _clz64(np.int64(n) - 1)


@njit(cache=True, inline="always")
def support_bits(m, d):
    """Bits to tell the receiver which m of d coordinates are present.

    The cheaper of an index list (m * ceil(log2 d)) and a d-bit mask; zero
    when every coordinate is present.
    """
    if m >= d:
        return 0
    a = m * ceil_log2(d)
    return a if a < d else d


@njit(cache=True, inline="always")
def sparse_or_dense(m, d, per):
    """Cost of m present entries of ``per`` bits each: all d entries (no
    support) or the support plus m entries, whichever is cheaper."""
    dense = per * d
    sparse = support_bits(m, d) + per * m
    return dense if dense < sparse else sparse


@njit(cache=True, inline="always")
def resolve_k(kk, q, d):
    """K from ``kk`` (absolute, when >= 1) or the fraction ``q`` of d
    (``round(q d)``), clipped to [1, d]."""
    if kk >= 1.0:
        k = int(kk)
    else:
        k = int(math.floor(q * d + 0.5))
    if k < 1:
        k = 1
    if k > d:
        k = d
    return k


# ----------------------------------------------------------------------------
# LLVM intrinsics

def _make_prefetch(write):
    """An intrinsic ``prefetch(arr, i)``: hint that ``arr[i]`` is needed
    soon (``llvm.prefetch``; ``write`` selects prefetch-for-write)."""
    @intrinsic
    def _prefetch(typingctx, arr, i):
        sig = types.void(arr, i)

        def codegen(context, builder, signature, args):
            aryty = signature.args[0]
            ary = context.make_array(aryty)(context, builder, args[0])
            ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]],
                                           wraparound=False)
            i8p = ir.IntType(8).as_pointer()
            i32 = ir.IntType(32)
            fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
            fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
            builder.call(fn, [builder.bitcast(ptr, i8p), i32(1 if write else 0),
                              i32(3), i32(1)])
            return context.get_dummy_value()

        return sig, codegen

    return _prefetch


prefetch_r = _make_prefetch(False)
prefetch_w = _make_prefetch(True)


def _borrow_value(context, builder, ty, val):
    """``val`` (of type ``ty``) with every array's meminfo set to NULL
    (members of tuples and named tuples too); other values unchanged."""
    if isinstance(ty, types.Array):
        src = context.make_array(ty)(context, builder, val)
        dst = context.make_array(ty)(context, builder)
        context.populate_array(dst, data=src.data, shape=src.shape, strides=src.strides,
                               itemsize=src.itemsize, meminfo=None)
        return dst._getvalue()
    if isinstance(ty, types.BaseTuple):
        out = val
        for j, mty in enumerate(ty):
            m = builder.extract_value(val, j)
            out = builder.insert_value(out, _borrow_value(context, builder, mty, m), j)
        return out
    return val


@intrinsic
def borrow(typingctx, arr):
    """A view of ``arr`` that holds no reference (its meminfo is NULL); for
    a tuple or named tuple (``ProblemData``, ``Programs``), the same tuple
    with every array member borrowed.

    Reference-count updates on the view cost nothing (no atomic operation);
    the program interpreter passes such views to the primitives it calls
    through function pointers, where numba cannot prune the updates, and
    the method loops borrow their arrays once at entry (every call inside
    the loop otherwise increments and decrements the count of each array
    argument: 36 atomic operations per worker and iteration in the 3PC
    loop).  The view must not outlive ``arr`` (never return or store it).
    """
    if not isinstance(arr, (types.Array, types.BaseTuple)):
        return None

    def codegen(context, builder, sig, args):
        return _borrow_value(context, builder, sig.args[0], args[0])

    return arr(arr), codegen


@intrinsic
def keep_alive(typingctx, own):
    """A use of ``own`` (arrays whose borrowed views a loop used) that
    compiles to nothing: numba releases a variable after its last use, so a
    loop that works on borrowed views calls this after the loop to keep
    their owners alive.  (An intrinsic, not a cached function: a cache
    index holding a caller's own tuple type could not be read elsewhere.)"""
    def codegen(context, builder, sig, args):
        return context.get_constant(types.intp, 0)

    return types.intp(own), codegen


@intrinsic
def borrow_row(typingctx, arr, i):
    """``arr[i]`` (an array of one dimension less; 0 <= i < arr.shape[0],
    unchecked) as a view that holds no reference, like :func:`borrow`.

    The method loops take the workers' rows (``H[i]``, ``G[i]``, the
    streams ``rng[i]``) with it: numba's ``H[i]`` increments and decrements
    the parent's reference count, two atomic operations per row per
    iteration, which cost a quarter of LAG's iteration at d = 80.  The view
    must not outlive ``arr``.
    """
    if not isinstance(arr, types.Array) or arr.ndim < 2 or not isinstance(i, types.Integer):
        return None
    rty = arr.copy(ndim=arr.ndim - 1, layout="C" if arr.layout == "C" else "A")

    def codegen(context, builder, sig, args):
        aty = sig.args[0]
        src = context.make_array(aty)(context, builder, args[0])
        idx = context.cast(builder, args[1], sig.args[1], types.intp)
        shape = cgutils.unpack_tuple(builder, src.shape, aty.ndim)
        strides = cgutils.unpack_tuple(builder, src.strides, aty.ndim)
        data = cgutils.pointer_add(builder, src.data, builder.mul(idx, strides[0]))
        dst = context.make_array(sig.return_type)(context, builder)
        context.populate_array(dst, data=data, shape=cgutils.pack_array(builder, shape[1:]),
                               strides=cgutils.pack_array(builder, strides[1:]),
                               itemsize=src.itemsize, meminfo=None)
        return dst._getvalue()

    return rty(arr, i), codegen
