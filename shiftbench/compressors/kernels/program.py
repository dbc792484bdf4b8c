"""Compressor programs: the compiled interpreter every method loop calls.

A compressor is a short straight-line *program* of ops; a primitive
compressor is one op.  The primitives are numba functions with ONE uniform
signature, called through function pointers, so a run compiles the
interpreter once and only the primitives it uses (not a switch over all of
them):

* built-in kernels: ``kern(x, out, params, rng, iwork, mark) ->
  (bits_full, bits_values)`` (:data:`KERNEL_SIG`);
* users' kernels: ``f(x, out, params, rng) -> (bits_full, bits_values)``
  (:data:`USER_SIG`);

with ``x, out, params`` float64[::1] (``params``: that primitive's packed
parameters), ``rng`` the worker's uint64[2] xoroshiro128+ state, ``iwork``
int64 scratch of length ``d + IWORK_EXTRA`` and ``mark`` uint8 of length d
(all zero on entry and exit).  A primitive may list the support of its
output in ``iwork`` (the support hint, :data:`~.intrinsics.IW_SUPPORT`);
:func:`apply_program` clears the hint first and after any composite.

The compressors of several workers are packed into one :class:`Programs`
``(ops, params, ptr, prims, uprims)``: worker w runs ops rows
``ptr[w]:ptr[w+1]``; ``prims`` / ``uprims`` are tuples of exactly
:data:`NPRIM` kernels (unused slots hold the zero kernel) and an op names its
kernel by slot.  Compiled code sees a Programs as :func:`programs_type`: the
three arrays and ``addr``, the kernels' native entry points (filled in when a
Programs is passed in; each kernel is compiled, or loaded from numba's disk
cache, for its signature once per process).  :func:`call_kernel` calls slot
s of it with numba's own calling convention, exactly as numba calls a
first-class function's native address.  The type holds no addresses, so
every compiled caller is cached on disk once for all compressors, and it is
made of arrays only, so a Programs also passes into ``prange`` loops (whose
gufuncs take scalars and arrays; a tuple of first-class functions cannot).

Ops (rows of ``ops``, columns ``C_*``)::

    (kind, slot, src, dst, src2, poff, plen, silent)

registers: -1 is the input x, -2 the output, r >= 0 is ``regs[r]``.
"""
from collections import namedtuple

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.core.datamodel.models import TupleModel
from numba.core.registry import CPUDispatcher
from numba.extending import typeof_impl, register_model, unbox, NativeValue, intrinsic

from .intrinsics import borrow, f2i, i2f, IW_SUPPORT, IWORK_EXTRA

NPRIM = 8
"""Kernel slots per Programs (built-in and user kernels each)."""

# op kinds
OP_PRIM = 0      # dst = prims[slot](src; params[poff:poff+plen]); bits += unless silent
OP_UPRIM = 1     # the same with uprims (users' kernels)
OP_SUB = 2       # dst = src - src2
OP_ADD = 3       # dst = src + src2
OP_SCALE = 4     # dst = params[poff] * src
OP_COPY = 5      # dst = src
NO_REG = -3       # no register (the interpreter's support hint describes none)
# columns
C_KIND, C_SLOT, C_SRC, C_DST, C_SRC2, C_POFF, C_PLEN, C_SILENT = range(8)
OP_WIDTH = 8

_F = types.float64[::1]
_RET = types.UniTuple(types.float64, 2)
KERNEL_SIG = _RET(_F, _F, _F, types.uint64[::1], types.int64[::1], types.uint8[::1])
"""Signature of every built-in primitive kernel."""
USER_SIG = _RET(_F, _F, _F, types.uint64[::1])
"""Signature of users' kernels (``shiftbench.register_compressor``)."""


class Programs(namedtuple("Programs", "ops params ptr prims uprims")):
    """Packed compressor programs of one or more workers.

    Attributes
    ----------
    ops : int64[:, ::1]
        One row per op (see the module notes).
    params : float64[::1]
        The primitives' packed parameters.
    ptr : int64[::1]
        Worker w's ops are rows ``ptr[w]:ptr[w+1]``.
    prims, uprims : tuple of NPRIM numba dispatchers
        Built-in kernels (:data:`KERNEL_SIG`) and users' kernels
        (:data:`USER_SIG`), each compiled for its signature.
    """

    def _addresses(self):
        """int64[2 NPRIM]: the native entry point of every slot (built-in
        slots first); computed once per Programs.  Only the slots that an op
        calls are compiled; the others (the padding) hold 0 and are never
        called, so a run compiles only the kernels it uses."""
        a = self.__dict__.get("_addr")
        if a is None:
            used = set()
            rows = self.ops[int(self.ptr[0]):int(self.ptr[-1])]
            for kind, slot in zip(rows[:, C_KIND].tolist(), rows[:, C_SLOT].tolist()):
                if kind == OP_PRIM:
                    used.add(int(slot))
                elif kind == OP_UPRIM:
                    used.add(NPRIM + int(slot))
            a = np.array([kernel_address(f, KERNEL_SIG) if s in used else 0
                          for s, f in enumerate(self.prims)]
                         + [kernel_address(f, USER_SIG) if NPRIM + s in used else 0
                            for s, f in enumerate(self.uprims)], dtype=np.int64)
            self.__dict__["_addr"] = a
        return a


_ADDRESSES = {}


def kernel_address(disp, sig):
    """The native entry point of numba dispatcher ``disp`` compiled for
    ``sig`` (compiling it, or loading it from numba's disk cache, the first
    time).  The dispatcher must stay alive while the address is used (a
    Programs holds its kernels)."""
    key = (disp, sig)
    a = _ADDRESSES.get(key)
    if a is None:
        if not isinstance(disp, CPUDispatcher):
            raise ValueError(f"a compressor kernel must be a numba @njit function, "
                             f"got {type(disp).__name__}")
        disp.compile(sig)
        cres = disp.overloads[tuple(sig.args)]
        a = _ADDRESSES[key] = cres.library.get_pointer_to_function(cres.fndesc.llvm_func_name)
    return a


class _View(namedtuple("ProgramsView", "ops params ptr addr")):
    """What compiled code sees of a :class:`Programs`: four arrays, the
    kernels as their entry points ``addr`` (0..NPRIM-1: built-in slots,
    NPRIM..2 NPRIM-1: user slots)."""


class ProgramsType(types.NamedTuple):
    """The numba type of :class:`Programs` (see :class:`_View`)."""


register_model(ProgramsType)(TupleModel)

PROGRAMS_TYPE = ProgramsType([types.int64[:, ::1], _F, types.int64[::1], types.int64[::1]],
                             _View)


def programs_type():
    """The static numba type of a :class:`Programs`, for explicit signatures
    (``disp.compile(sig)``) of compiled functions that take one.  It holds no
    addresses, so those functions are cached on disk once for all
    compressors."""
    return PROGRAMS_TYPE


@typeof_impl.register(Programs)
def _typeof_programs(val, c):
    return PROGRAMS_TYPE


@unbox(ProgramsType)
def _unbox_programs(typ, obj, c):
    """ops, params, ptr as usual, and the cached address table."""
    builder = c.builder
    err = cgutils.alloca_once_value(builder, cgutils.false_bit)
    vals = []
    for i in range(3):
        nv = c.unbox(typ[i], c.pyapi.tuple_getitem(obj, i))
        with builder.if_then(nv.is_error, likely=False):
            builder.store(cgutils.true_bit, err)
        vals.append(nv.value)
    aty = typ[3]
    slot = cgutils.alloca_once(builder, c.context.get_value_type(aty))
    builder.store(cgutils.get_null_value(slot.type.pointee), slot)
    addr_obj = c.pyapi.call_method(obj, "_addresses", ())
    with builder.if_else(cgutils.is_not_null(builder, addr_obj), likely=True) as (then, other):
        with then:
            nv = c.unbox(aty, addr_obj)
            with builder.if_then(nv.is_error, likely=False):
                builder.store(cgutils.true_bit, err)
            builder.store(nv.value, slot)
            c.pyapi.decref(addr_obj)         # the Programs object keeps the table alive
        with other:
            builder.store(cgutils.true_bit, err)
    vals.append(builder.load(slot))
    return NativeValue(c.context.make_tuple(builder, typ, vals), is_error=builder.load(err))


def _caller(sig, offset):
    """An intrinsic ``call(addr, slot, *args)``: the kernel of signature
    ``sig`` at ``addr[offset + slot]``, called with numba's native calling
    convention (its exceptions propagate, as for any numba call)."""
    nargs = len(sig.args)

    def typer(addr, slot, args):
        if (isinstance(addr, types.Array) and addr.dtype == types.int64
                and isinstance(slot, types.Integer) and tuple(args) == tuple(sig.args)):
            return sig.return_type(addr, slot, *args)
        return None

    def codegen(context, builder, signature, llargs):
        arr = context.make_array(signature.args[0])(context, builder, llargs[0])
        i64 = ir.IntType(64)
        slot = context.cast(builder, llargs[1], signature.args[1], types.int64)
        entry = builder.load(builder.gep(arr.data, [builder.add(slot, ir.Constant(i64, offset))]))
        fnty = context.call_conv.get_function_type(sig.return_type, sig.args)
        fn = builder.inttoptr(entry, fnty.as_pointer())
        status, res = context.call_conv.call_function(builder, fn, sig.return_type, sig.args,
                                                      llargs[2:])
        with cgutils.if_unlikely(builder, status.is_error):
            context.call_conv.return_status_propagate(builder, status)
        return res

    if nargs == 6:
        @intrinsic
        def call(typingctx, addr, slot, a0, a1, a2, a3, a4, a5):
            s = typer(addr, slot, (a0, a1, a2, a3, a4, a5))
            return (s, codegen) if s is not None else None
    else:
        @intrinsic
        def call(typingctx, addr, slot, a0, a1, a2, a3):
            s = typer(addr, slot, (a0, a1, a2, a3))
            return (s, codegen) if s is not None else None
    return call


call_kernel = _caller(KERNEL_SIG, 0)
"""``call_kernel(addr, slot, x, out, params, rng, iwork, mark)``: built-in
kernel ``slot`` of a Programs' ``addr``."""
call_user_kernel = _caller(USER_SIG, NPRIM)
"""``call_user_kernel(addr, slot, x, out, params, rng)``: user kernel ``slot``."""


def make_programs(ops, params, ptr, prims, uprims, zero, uzero):
    """A :class:`Programs` with the kernel tuples padded to NPRIM slots
    (``zero`` / ``uzero``: the padding kernels); ValueError if more than
    NPRIM distinct kernels of one kind are needed."""
    for what, ks in (("built-in", prims), ("user", uprims)):
        if len(ks) > NPRIM:
            raise ValueError(f"at most {NPRIM} distinct {what} compressor kernels can run "
                             f"together in one method, got {len(ks)}")
    ops = np.ascontiguousarray(np.asarray(ops, dtype=np.int64).reshape(-1, OP_WIDTH))
    if ops.shape[0] == 0:
        ops = np.zeros((1, OP_WIDTH), dtype=np.int64)
    params = np.ascontiguousarray(params, dtype=np.float64)
    if params.size == 0:
        params = np.zeros(1)
    return Programs(ops, params, np.ascontiguousarray(ptr, dtype=np.int64),
                    tuple(prims) + (zero,) * (NPRIM - len(prims)),
                    tuple(uprims) + (uzero,) * (NPRIM - len(uprims)))


# ----------------------------------------------------------------------------
# the interpreter

@njit(cache=True, inline="always")
def _reg(r, x, out, regs):
    if r == -1:
        return x
    if r == -2:
        return out
    return regs[r]


@njit(cache=True)
def run_program(prog, w, x, out, rng, regs, iwork, mark):
    """Worker w's program on x into out (any program); returns
    ``(bits_full, bits_values)``.

    ``induced(C, Q)`` is ``out = C(x); r1 = x - out; r2 = Q(r1); out = out +
    r2`` and costs the bits of both messages.  ``compose(C2, C1)`` is ``r0 =
    C1(x); out = C2(r0)``: what travels is C2's message about C1's output,
    so C1's primitives are silent (their bits are not counted) and C2 sees
    C1's support and pays for it.  Bits of messages outside the composition
    (e.g. C in ``induced(C, compose(..))``) are kept.

    The support hint: each primitive starts with none, and the register it
    wrote keeps the hint it leaves (``hreg``) until an op writes that
    register again.  OP_SUB / OP_ADD whose ``src2`` is that register copy
    ``src`` (``src + 0.0`` for OP_ADD, which turns -0.0 into +0.0 as the
    dense sum does) and then subtract / add on the m listed entries only:
    the result is the dense op's, to the bit.
    """
    xb = borrow(x)
    ob = borrow(out)
    rb = borrow(rng)
    ib = borrow(iwork)
    mb = borrow(mark)
    gb = borrow(regs)
    par = borrow(prog.params)
    ops = prog.ops
    bf = 0.0
    bv = 0.0
    hreg = NO_REG                       # the register the hint describes
    for j in range(prog.ptr[w], prog.ptr[w + 1]):
        kind = ops[j, C_KIND]
        rd = ops[j, C_DST]
        src = _reg(ops[j, C_SRC], xb, ob, gb)
        dst = _reg(rd, xb, ob, gb)
        if kind == OP_PRIM or kind == OP_UPRIM:
            p0 = ops[j, C_POFF]
            p = par[p0:p0 + ops[j, C_PLEN]]
            ib[IW_SUPPORT] = -1
            if kind == OP_PRIM:
                a, b = call_kernel(prog.addr, ops[j, C_SLOT], src, dst, p, rb, ib, mb)
            else:
                a, b = call_user_kernel(prog.addr, ops[j, C_SLOT], src, dst, p, rb)
            if ops[j, C_SILENT] == 0:
                bf += a
                bv += b
            hreg = rd if ib[IW_SUPPORT] >= 0 else NO_REG
            continue
        if kind == OP_SUB or kind == OP_ADD:
            r2 = ops[j, C_SRC2]
            s2 = _reg(r2, xb, ob, gb)
            if r2 == hreg and r2 != rd:
                # s2 is +0.0 off iwork[:m]: there src - s2 is src to the bit,
                # and src + s2 is src + 0.0 (a -0.0 becomes +0.0)
                m = ib[IW_SUPPORT]
                if kind == OP_SUB:
                    for i in range(dst.size):
                        dst[i] = src[i]
                    for t in range(m):
                        i = ib[t]
                        dst[i] = src[i] - s2[i]
                elif ops[j, C_SRC] != rd:
                    for i in range(dst.size):
                        dst[i] = src[i] + 0.0
                    for t in range(m):
                        i = ib[t]
                        dst[i] = src[i] + s2[i]
                else:
                    # in place: the listed sums from the original values
                    # first (their bit patterns parked in iwork past the
                    # list's slots, free once the primitive has returned)
                    for t in range(m):
                        i = ib[t]
                        ib[IWORK_EXTRA + t] = f2i(dst[i] + s2[i])
                    for i in range(dst.size):
                        dst[i] = dst[i] + 0.0
                    for t in range(m):
                        dst[ib[t]] = i2f(ib[IWORK_EXTRA + t])
            elif kind == OP_SUB:
                for i in range(dst.size):
                    dst[i] = src[i] - s2[i]
            else:
                for i in range(dst.size):
                    dst[i] = src[i] + s2[i]
        elif kind == OP_SCALE:
            lam = par[ops[j, C_POFF]]
            for i in range(dst.size):
                dst[i] = lam * src[i]
        elif kind == OP_COPY:
            for i in range(dst.size):
                dst[i] = src[i]
        if rd == hreg:
            hreg = NO_REG
    return bf, bv


@njit(cache=True, inline="always")
def apply_program(prog, w, x, out, rng, regs, iwork, mark):
    """Run worker w's compressor program on x into out; returns
    ``(bits_full, bits_values)`` as floats.

    Inlined into its callers: a built-in primitive compressor (one op from x
    to out) is one indirect call on borrowed views (no reference counting);
    anything else goes through :func:`run_program`.  ``regs`` (nreg x d), ``iwork``
    and ``mark`` are the caller's scratch.
    """
    j = prog.ptr[w]
    ops = prog.ops
    iwork[IW_SUPPORT] = -1
    if (prog.ptr[w + 1] - j == 1 and ops[j, C_SRC] == -1 and ops[j, C_DST] == -2
            and ops[j, C_SILENT] == 0):
        p0 = ops[j, C_POFF]
        p = borrow(prog.params)[p0:p0 + ops[j, C_PLEN]]
        if ops[j, C_KIND] == OP_PRIM:
            # the primitive's support hint (IW_SUPPORT), if it lists one, stands
            return call_kernel(prog.addr, ops[j, C_SLOT], borrow(x), borrow(out), p,
                               borrow(rng), borrow(iwork), borrow(mark))
    bf, bv = run_program(prog, w, x, out, rng, regs, iwork, mark)
    iwork[IW_SUPPORT] = -1             # a composite's output: no hint
    return bf, bv


@intrinsic
def _programs_of(typingctx, ops, params, ptr, addr):
    """The :func:`programs_type` value made of its four arrays."""
    tys = PROGRAMS_TYPE.types
    if (ops, params, ptr, addr) != tuple(tys):
        return None

    def codegen(context, builder, sig, args):
        for ty, v in zip(sig.args, args):
            context.nrt.incref(builder, ty, v)       # the tuple owns its arrays
        return context.make_tuple(builder, PROGRAMS_TYPE, args)

    return PROGRAMS_TYPE(ops, params, ptr, addr), codegen


@njit(cache=True)
def apply_arrays(ops, params, ptr, addr, w, x, out, rng, regs, iwork, mark):
    """:func:`apply_program` on a Programs given as its arrays (``addr`` =
    ``Programs._addresses()``): the fast entry from Python (numba types
    plain arrays from a cache; a Programs argument costs ~4 us to type)."""
    return apply_program(_programs_of(ops, params, ptr, addr), w, x, out, rng, regs, iwork,
                         mark)
