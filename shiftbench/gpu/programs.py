"""Compressor programs on the device: the host side.

A :class:`~shiftbench.compressors.kernels.program.Programs` names its CPU
kernels by slot; :func:`device_programs` rewrites the op table so that each
built-in op names its device kernel (:data:`.prims.DEVICE_IDS`) and copies
it to the device.  Users' kernels (``register_compressor``) run on the
device when their source compiles for it: :func:`device_module` returns the
copy of :mod:`.device` whose ``user_call`` dispatches to them.
"""
from __future__ import annotations

import importlib.util
import numpy as np

from ..compressors.kernels.program import OP_PRIM, OP_UPRIM, C_KIND, C_SLOT, USER_SIG, NPRIM
from ._target import cuda, dev, SIMULATOR

def _name(k):
    return getattr(getattr(k, "py_func", k), "__name__", repr(k))


def device_ops(prog, table):
    """The op table of ``prog`` with device kernel ids for the built-ins
    and, for users' kernels, their index in ``table`` (appended to as new
    ones are met: one table for all the programs of a run)."""
    from .prims import DEVICE_IDS
    ops = np.array(prog.ops, dtype=np.int64, copy=True)
    nops = int(prog.ptr[-1]) if len(prog.ptr) else 0
    for j in range(nops):
        k = None
        if ops[j, C_KIND] == OP_PRIM:
            k = prog.prims[int(ops[j, C_SLOT])]
            if k not in DEVICE_IDS:
                raise ValueError(f"compressor kernel {_name(k)} has no device version; "
                                 f"allowed on device='cuda': the built-ins and users' kernels")
            ops[j, C_SLOT] = DEVICE_IDS[k]
        elif ops[j, C_KIND] == OP_UPRIM:
            k = prog.uprims[int(ops[j, C_SLOT])]
            if k not in table:
                table.append(k)
            ops[j, C_SLOT] = table.index(k)
    if len(table) > NPRIM:
        raise ValueError(f"at most {NPRIM} distinct user compressor kernels can run together "
                         f"on device='cuda', got {len(table)}")
    return ops


# ---------------------------------------------------------------------------
# users' kernels

_USER_FNS = {}
_MODULES = {}


def _unwrap(a):
    """The NumPy array behind a simulator device array."""
    return a._item._ary if hasattr(a, "_item") else a


def user_device_fn(kernel):
    """The device form of a user's kernel ``f(x, out, params, rng)``.

    On a GPU its Python source is compiled for the device (the functions of
    ``shiftbench.rng`` it calls are compiled with it); a kernel that does not
    compile is a one-line ValueError.  Under the simulator the kernel runs
    as compiled for the CPU on the simulator's arrays.
    """
    f = _USER_FNS.get(kernel)
    if f is not None:
        return f
    if SIMULATOR:
        def f(x, out, p, rng):
            return kernel(_unwrap(x), _unwrap(out), _unwrap(p), _unwrap(rng))
    else:
        try:
            cuda.compile_ptx(kernel.py_func, USER_SIG.args, device=True,
                             cc=cuda.get_current_device().compute_capability)
        except Exception as e:  # noqa: BLE001 - numba's typing errors are many lines
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ValueError(f"user compressor kernel {_name(kernel)} does not compile for "
                             f"device='cuda': {first}; use it with device='cpu', or write it "
                             f"with what numba.cuda supports (no allocation, no objects)") \
                from None
        f = dev(kernel.py_func)
    _USER_FNS[kernel] = f
    return f


def _make_user_call(fns):
    stub = _stub
    f0, f1, f2, f3, f4, f5, f6, f7 = (tuple(f or stub for f in fns) + (stub,) * 8)[:8]

    def user_call(slot, x, out, p, rng, sf):
        cuda.syncthreads()
        if cuda.threadIdx.x == 0:
            if slot == 0:
                a, b = f0(x, out, p, rng)
            elif slot == 1:
                a, b = f1(x, out, p, rng)
            elif slot == 2:
                a, b = f2(x, out, p, rng)
            elif slot == 3:
                a, b = f3(x, out, p, rng)
            elif slot == 4:
                a, b = f4(x, out, p, rng)
            elif slot == 5:
                a, b = f5(x, out, p, rng)
            elif slot == 6:
                a, b = f6(x, out, p, rng)
            else:
                a, b = f7(x, out, p, rng)
            sf[0] = a
            sf[1] = b
        cuda.syncthreads()
        a = sf[0]
        b = sf[1]
        cuda.syncthreads()
        return a, b

    return dev(user_call)


def _stub_py(x, out, p, rng):
    return 0.0, 0.0


_stub = None


def device_module(user_kernels=()):
    """The :mod:`.device` module that runs programs calling ``user_kernels``
    (a tuple, by index): the shared one without users' kernels, else a copy
    compiled with them (cached per tuple)."""
    global _stub
    from . import device
    if not user_kernels:
        return device
    key = tuple(user_kernels)
    mod = _MODULES.get(key)
    if mod is None:
        if _stub is None:
            _stub = _stub_py if SIMULATOR else dev(_stub_py)
        fns = tuple(user_device_fn(k) for k in key)
        spec = importlib.util.spec_from_file_location(
            f"shiftbench.gpu._device_user{len(_MODULES)}", device.__file__)
        mod = importlib.util.module_from_spec(spec)
        mod.user_call = _make_user_call(fns)
        spec.loader.exec_module(mod)
        _MODULES[key] = mod
    return mod


def device_programs(*progs):
    """``(module, [(ops, params, ptr), ...])``: the programs of one run on
    the device (device arrays) and the :mod:`.device` module that runs them
    all (users' kernels of every program in one table)."""
    table = []
    out = []
    for prog in progs:
        ops = device_ops(prog, table)
        out.append((cuda.to_device(ops), cuda.to_device(np.ascontiguousarray(prog.params)),
                    cuda.to_device(np.asarray(prog.ptr, dtype=np.int64))))
    return device_module(tuple(table)), out
