"""Stack-allocated scratch arrays for nopython code.

``stack_f64(N)`` (N a compile-time integer constant) returns a float64
array of length N living on the calling function's stack: no NRT heap
allocation, no reference counting.  Kernels use it for small fixed-size
accumulators (e.g. 16 summation lanes) so that method loops allocate
nothing per iteration.  The array must not escape the function that made
it (never return it or store it in another array).
"""
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def stack_f64(typingctx, n):
    if not isinstance(n, types.IntegerLiteral):
        return None
    size = n.literal_value
    arrty = types.Array(types.float64, 1, "C")

    def codegen(context, builder, sig, args):
        buf = cgutils.alloca_once(builder, ir.DoubleType(), size=size)
        ary = context.make_array(arrty)(context, builder)
        itemsize = context.get_constant(types.intp, 8)
        shape = cgutils.pack_array(builder, [context.get_constant(types.intp, size)])
        strides = cgutils.pack_array(builder, [itemsize])
        context.populate_array(ary, data=buf, shape=shape, strides=strides,
                               itemsize=itemsize, meminfo=None)
        return ary._getvalue()

    return arrty(n), codegen
