"""Norms and counts in a fixed, vectorisable order.

Sums run over ``LANES`` interleaved partial sums (entry i goes to lane
i % LANES, in index order), combined by a fixed pairwise tree
(:func:`lane_tree`): the order is fixed, so results are bit for bit
reproducible on every machine, without fastmath.  (numba disables LLVM's
SLP vectoriser, so the unrolled lane loops run as 16 scalar chains; the
method loops' distances and norms, :func:`sq_dist`, :func:`sq_dist2` and
:func:`sq_mean`, are explicit vector code with the same lanes.)
One loop, :func:`lanes`, serves every reduction; the named functions below
are its constant-argument instances (numba inlines :func:`lanes` into each,
and LLVM drops the branches that the constants rule out).
"""
import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from .intrinsics import stack_f64, prefetch_r, PREFETCH_STREAM

LANES = 16
SUM_SQ = 0        # sum x_i**2
SUM_ABS = 1       # sum |x_i|
MAX_ABS = 2       # max |x_i| (NaN ignored; order-free, lanes only vectorise)


@njit(cache=True, inline="always")
def lane_tree(acc):
    """Fixed pairwise tree over ``acc[:LANES]``: (a0+a1), (a2+a3), ... then
    pairs of those, and so on (``acc`` is overwritten)."""
    w = LANES // 2
    while w >= 1:
        for j in range(w):
            acc[j] = acc[2 * j] + acc[2 * j + 1]
        w //= 2
    return acc[0]


@njit(cache=True, inline="always")
def _lane_op(op, a, v):
    if op == SUM_SQ:
        return a + v * v
    if op == SUM_ABS:
        return a + abs(v)
    b = abs(v)
    return b if b > a else a


@njit(cache=True, inline="always")
def lanes(x, op, count):
    """``(value, nnz)``: the reduction ``op`` of x in lane order and, when
    ``count``, the number of nonzero x_i (0 otherwise).

    ``op`` and ``count`` must be compile-time constants at the call site (a
    read pass that also counts runs ~30% slower, so counting is opt-in).
    """
    d = x.size
    acc = stack_f64(LANES)      # on the stack: nothing allocated per call
    for j in range(LANES):
        acc[j] = 0.0
    nz = 0
    nb = d // LANES
    for b in range(nb):
        base = b * LANES
        if base + PREFETCH_STREAM < d:           # 8 KB ahead: +20% read bandwidth
            prefetch_r(x, base + PREFETCH_STREAM)
            prefetch_r(x, base + PREFETCH_STREAM + 8)
        c = 0
        for j in range(LANES):
            v = x[base + j]
            acc[j] = _lane_op(op, acc[j], v)
            if count:
                c += np.int64(v != 0.0)
        nz += c
    for i in range(nb * LANES, d):
        v = x[i]
        acc[i - nb * LANES] = _lane_op(op, acc[i - nb * LANES], v)
        if count:
            nz += np.int64(v != 0.0)
    if op == MAX_ABS:
        m = 0.0
        for j in range(LANES):
            m = acc[j] if acc[j] > m else m
        return m, nz
    return lane_tree(acc), nz


# ----------------------------------------------------------------------------
# distances and norms of the method loops: explicit vector code
#
# numba runs LLVM without its SLP vectoriser (disabled for miscompilations,
# numba PR #8852), so the fully unrolled lane loops above compile to scalar
# code: 16 independent chains, but one element at a time.  The loops' own
# distances and norms (small d, every iteration, every worker) are therefore
# written as LLVM vector code: the same lanes, the same terms and the same
# pairwise tree, so the sums are bit for bit those of the scalar lane loop
# (and of the GPU's mirror), 3-4x faster at d = 80.

DIST = 0      # sum (x - a)^2
DIST2 = 1     # (sum (x - a)^2, sum (x - b)^2)
MEANSQ = 2    # sum (x / s)^2

_F1C = types.Array(types.float64, 1, "C")
_I32 = ir.IntType(32)


def _ir_tree(builder, v, n):
    """:func:`lane_tree` on an n-lane vector: lanes (2j, 2j+1) added, then
    pairs of those, until one lane."""
    while n > 1:
        h = n // 2
        mty = ir.VectorType(_I32, h)
        ev = builder.shuffle_vector(v, v, ir.Constant(mty, [2 * j for j in range(h)]))
        od = builder.shuffle_vector(v, v, ir.Constant(mty, [2 * j + 1 for j in range(h)]))
        v = builder.fadd(ev, od)
        n = h
    return builder.extract_element(v, ir.Constant(_I32, 0))


@intrinsic
def vector_lanes(typingctx, mode, x, a, b, s):
    """``(r1, r2)``: lane-order sums over C-contiguous float64 vectors as
    LLVM vector code (``mode`` a literal: :data:`DIST` r1 = sum (x - a)^2;
    :data:`DIST2` also r2 = sum (x - b)^2; :data:`MEANSQ` r1 = sum (x /
    s)^2; unused results are 0).

    Entry i goes to lane i % LANES: full blocks of LANES entries are one
    vector operation each, the last d % LANES entries are added to lanes 0..
    in a second vector whose other lanes are +0.0 (exact: a partial sum of
    squares is never -0.0), and :func:`lane_tree`'s pairwise tree ends it.
    """
    if not isinstance(mode, types.IntegerLiteral) or mode.literal_value not in (DIST, DIST2,
                                                                                MEANSQ):
        return None
    if any(t != _F1C for t in (x, a, b)) or s != types.float64:
        return None
    m = mode.literal_value
    rty = types.UniTuple(types.float64, 2)

    def codegen(context, builder, sig, args):
        _, xv, av, bv, sv = args
        dbl = ir.DoubleType()
        vty = ir.VectorType(dbl, LANES)
        intp = context.get_value_type(types.intp)
        arrs = [context.make_array(_F1C)(context, builder, v) for v in (xv, av, bv)]
        d = builder.extract_value(arrs[0].shape, 0)
        ptrs = [ar.data for ar in arrs]
        zero = ir.Constant(vty, None)
        acc = [cgutils.alloca_once_value(builder, zero) for _ in range(2)]
        tail = [cgutils.alloca_once_value(builder, zero) for _ in range(2)]
        vl = ir.Constant(intp, LANES)
        nfull = builder.mul(builder.udiv(d, vl), vl)
        if m == MEANSQ:
            one = builder.insert_element(ir.Constant(vty, ir.Undefined), sv, ir.Constant(_I32, 0))
            svec = builder.shuffle_vector(one, ir.Constant(vty, ir.Undefined),
                                          ir.Constant(ir.VectorType(_I32, LANES), None))

        def terms(load, sval):
            xx = load(0)
            if m == MEANSQ:
                t = builder.fdiv(xx, sval)
                return [builder.fmul(t, t)]
            t = builder.fsub(xx, load(1))
            out = [builder.fmul(t, t)]
            if m == DIST2:
                u = builder.fsub(xx, load(2))
                out.append(builder.fmul(u, u))
            return out

        def vload(k, idx):
            q = builder.gep(ptrs[k], [idx], inbounds=True)
            return builder.load(builder.bitcast(q, vty.as_pointer()), align=8)

        with cgutils.for_range_slice(builder, ir.Constant(intp, 0), nfull, vl,
                                     intp=intp) as (idx, _):
            for r, t in zip(acc, terms(lambda k: vload(k, idx),
                                       svec if m == MEANSQ else None)):
                builder.store(builder.fadd(builder.load(r), t), r)
        builder.store(zero, tail[0])
        builder.store(zero, tail[1])
        with cgutils.for_range(builder, builder.sub(d, nfull), intp=intp) as loop:
            gi = builder.add(nfull, loop.index)
            ts = terms(lambda k: builder.load(builder.gep(ptrs[k], [gi], inbounds=True)), sv)
            for tb, t in zip(tail, ts):
                builder.store(t, builder.gep(builder.bitcast(tb, dbl.as_pointer()),
                                             [loop.index], inbounds=True))
        res = [_ir_tree(builder, builder.fadd(builder.load(acc[0]), builder.load(tail[0])),
                        LANES)]
        res.append(_ir_tree(builder, builder.fadd(builder.load(acc[1]), builder.load(tail[1])),
                            LANES) if m == DIST2 else ir.Constant(dbl, 0.0))
        return context.make_tuple(builder, rty, res)

    return rty(mode, x, a, b, s), codegen


@njit(cache=True, inline="always")
def sq_dist(a, b):
    """||a - b||^2 in lane order (entry i in lane i % LANES, then
    :func:`lane_tree`), as vector code (:func:`vector_lanes`; a and b
    C-contiguous float64).  The one-vector form of :func:`sq_dist2`, which
    sums each distance exactly as this does; the traces' distances to x*
    (``methods.engine._sqdist``) and LAG's trigger use them."""
    return vector_lanes(DIST, a, b, b, 1.0)[0]


@njit(cache=True, inline="always")
def sq_dist2(x, a, b):
    """(||x - a||^2, ||x - b||^2) in one pass, each exactly as
    :func:`sq_dist` sums it (LAG's trigger reads x once)."""
    return vector_lanes(DIST2, x, a, b, 1.0)


@njit(cache=True, inline="always")
def sq_mean(a, n):
    """sum_k (a_k / n)^2 in lane order (the squared norm of a mean from
    its sum, the trace's gradient norm), as vector code."""
    return vector_lanes(MEANSQ, a, a, a, float(n))[0]


@njit(cache=True)
def sum_sq_nnz(x):
    """(sum of x_i**2 in lane order, number of nonzero x_i)."""
    return lanes(x, SUM_SQ, True)


@njit(cache=True)
def sum_abs_nnz(x):
    """(sum of |x_i| in lane order, number of nonzero x_i)."""
    return lanes(x, SUM_ABS, True)


@njit(cache=True)
def max_abs_nnz(x):
    """(max |x_i|, number of nonzero x_i); NaN entries are ignored."""
    return lanes(x, MAX_ABS, True)


@njit(cache=True)
def sum_sq(x):
    """Sum of x_i**2 in lane order."""
    return lanes(x, SUM_SQ, False)[0]


@njit(cache=True)
def sum_abs(x):
    """Sum of |x_i| in lane order."""
    return lanes(x, SUM_ABS, False)[0]


@njit(cache=True)
def max_abs(x):
    """max |x_i| (NaN entries ignored)."""
    return lanes(x, MAX_ABS, False)[0]


@njit(cache=True)
def pnorm_nnz(x, pn):
    """(||x||_p, number of nonzero x_i); sums in lane order."""
    if pn == np.inf:
        return max_abs_nnz(x)
    if pn == 2.0:
        s, nz = sum_sq_nnz(x)
        return math.sqrt(s), nz
    if pn == 1.0:
        return sum_abs_nnz(x)
    acc = stack_f64(LANES)
    for j in range(LANES):
        acc[j] = 0.0
    nz = 0
    for i in range(x.size):
        v = x[i]
        acc[i % LANES] += abs(v) ** pn
        nz += np.int64(v != 0.0)
    return lane_tree(acc) ** (1.0 / pn), nz


@njit(cache=True)
def pnorm(x, pn):
    """||x||_p with the lane-order sums of :func:`pnorm_nnz` (no count)."""
    if pn == np.inf:
        return max_abs(x)
    if pn == 2.0:
        return math.sqrt(sum_sq(x))
    if pn == 1.0:
        return sum_abs(x)
    return pnorm_nnz(x, pn)[0]
