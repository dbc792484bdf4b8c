"""A cycle counter readable from nopython code (for wall time in traces).

``cycles()`` lowers to LLVM's ``readcyclecounter`` (RDTSC on x86-64), so a
compiled loop can time itself without returning to Python.  The counter's
frequency is calibrated once per process against ``time.perf_counter``.
On machines other than x86-64 ``cycles()`` returns 0 and traces
interpolate wall time from the total run time instead.
"""
import platform
import time

from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

HAVE_TSC = platform.machine().lower() in ("x86_64", "amd64")


@intrinsic
def _readcyclecounter(typingctx):
    sig = types.int64()

    def codegen(context, builder, signature, args):
        if not HAVE_TSC:
            return ir.Constant(ir.IntType(64), 0)
        fnty = ir.FunctionType(ir.IntType(64), [])
        fn = builder.module.declare_intrinsic("llvm.readcyclecounter", fnty=fnty)
        return builder.call(fn, [])

    return sig, codegen


@njit(cache=True)
def cycles():
    """Current value of the CPU cycle counter (0 where unavailable)."""
    return _readcyclecounter()


_HZ = None


def cycles_per_second():
    """Calibrated counter frequency (Hz); None without a counter."""
    global _HZ
    if not HAVE_TSC:
        return None
    if _HZ is None:
        cycles()
        t0, c0 = time.perf_counter(), cycles()
        while time.perf_counter() - t0 < 0.02:
            pass
        t1, c1 = time.perf_counter(), cycles()
        _HZ = (c1 - c0) / (t1 - t0) if c1 > c0 else None
    return _HZ
