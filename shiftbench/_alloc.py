"""Array allocation in nopython code without numba's ``np.empty`` /
``np.zeros`` overloads.

Each ``np.empty(shape, dtype)`` / ``np.zeros`` form a loop uses is a separate
overload implementation that numba compiles through its whole pipeline on a
cold cache (0.1-0.2 s apiece: about 1.3 s of every cold start went to the
method loops' eight allocation forms).  ``empty(shape, dtype)`` and
``zeros(shape, dtype)`` here emit the same runtime allocation inline
(numba's own ``_empty_nd_impl``: NRT memory, C order, the same overflow
check; ``zeros`` adds a memset), so they cost the caller's compilation
almost nothing.  ``shape`` is an integer or a tuple of integers (all >= 0:
the callers' sizes are validated), ``dtype`` a NumPy scalar type such as
``np.float64``.
"""
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.core.imputils import impl_ret_new_ref
from numba.extending import intrinsic
from numba.np.arrayobj import _empty_nd_impl


def _typed(shape, dtype):
    """The C-order array type of (shape, dtype), or None."""
    if isinstance(shape, types.Integer):
        nd = 1
    elif isinstance(shape, types.UniTuple) and isinstance(shape.dtype, types.Integer):
        nd = shape.count
    else:
        return None
    if not isinstance(dtype, types.NumberClass):
        return None
    return types.Array(dtype.dtype, nd, "C")


def _lower(context, builder, sig, args, zero):
    arrty = sig.return_type
    shty, shval = sig.args[0], args[0]
    if isinstance(shty, types.Integer):
        shapes = [context.cast(builder, shval, shty, types.intp)]
    else:
        shapes = [context.cast(builder, v, shty.dtype, types.intp)
                  for v in cgutils.unpack_tuple(builder, shval, shty.count)]
    ary = _empty_nd_impl(context, builder, arrty, shapes)
    if zero:
        nbytes = builder.mul(ary.itemsize, ary.nitems)
        cgutils.memset(builder, ary.data, nbytes, ir.Constant(ir.IntType(8), 0))
    return impl_ret_new_ref(context, builder, arrty, ary._getvalue())


@intrinsic
def empty(typingctx, shape, dtype):
    """``np.empty(shape, dtype)`` (C order), allocated inline."""
    arrty = _typed(shape, dtype)
    if arrty is None:
        return None
    return arrty(shape, dtype), lambda c, b, s, a: _lower(c, b, s, a, False)


@intrinsic
def zeros(typingctx, shape, dtype):
    """``np.zeros(shape, dtype)`` (C order), allocated inline."""
    arrty = _typed(shape, dtype)
    if arrty is None:
        return None
    return arrty(shape, dtype), lambda c, b, s, a: _lower(c, b, s, a, True)
