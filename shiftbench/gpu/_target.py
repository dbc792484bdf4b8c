"""The CUDA target: availability, the simulator switch, the decorators.

``numba.cuda`` comes from the ``cuda`` extra (numba-cuda).  With
``NUMBA_ENABLE_CUDASIM=1`` numba runs every kernel in its CUDA simulator
(Python threads, one per CUDA thread): the same source, so the tests check
the device code on machines without a GPU.  Nothing here imports the
device modules; :func:`require` is the one gate in front of them.
"""
from __future__ import annotations

import contextlib
import contextvars
import warnings

from numba import config

try:  # numba-cuda is the `cuda` extra
    from numba import cuda
    AVAILABLE = bool(cuda.is_available())
except Exception:  # noqa: BLE001 - no numba-cuda at all
    cuda = None
    AVAILABLE = False

SIMULATOR = bool(config.ENABLE_CUDASIM) and cuda is not None

if SIMULATOR:
    # the simulator runs device code as Python on NumPy scalars; uint64
    # arithmetic wraps exactly as on the device, NumPy only warns about it
    warnings.filterwarnings("ignore", "overflow encountered in scalar", RuntimeWarning)

HOW = ("install the `cuda` extra (pip install 'shiftbench[cuda]') on a machine with an NVIDIA "
       "GPU, or set NUMBA_ENABLE_CUDASIM=1 to run the device code in numba's CUDA simulator")


class CUDAUnavailable(ValueError, RuntimeError):
    """``device="cuda"`` without CUDA (a ValueError, so every CLI prints it
    as one line; a RuntimeError for callers of the older GPU entry points)."""


def require(what="device='cuda'"):
    """Raise :class:`CUDAUnavailable` (one line) unless CUDA or its
    simulator is available."""
    if not AVAILABLE:
        why = ("numba-cuda is not installed" if cuda is None
               else "no CUDA GPU or driver was found")
        raise CUDAUnavailable(f"{what}: CUDA is not available ({why}); {HOW}")


def dev(f):
    """A CUDA device function from a plain Python function."""
    return cuda.jit(device=True)(f)


# ---------------------------------------------------------------------------
# no fused multiply-add in shiftbench's kernels
#
# NVVM fuses a * b + c into one FMA by default (-fma=1); the CPU kernels
# round the product first.  shiftbench compiles its kernels (and users'
# compressor kernels) inside ``exact()``, which passes -fma=0, so every
# element-wise operation rounds as on the CPU.  Other code is unaffected.

_EXACT = contextvars.ContextVar("shiftbench_exact", default=False)


def _install_exact():
    if cuda is None or SIMULATOR:
        return
    try:
        from numba.cuda.cudadrv import nvvm
    except Exception:  # noqa: BLE001 - another numba-cuda layout: keep its default
        return
    orig = nvvm.compile_ir
    if getattr(orig, "_shiftbench_exact", False):
        return

    def compile_ir(llvmir, **options):
        if _EXACT.get():
            options["fma"] = False
        return orig(llvmir, **options)

    compile_ir._shiftbench_exact = True
    nvvm.compile_ir = compile_ir


_install_exact()


@contextlib.contextmanager
def exact():
    """Kernels first compiled (or launched) in this block round every
    product on its own (no FMA contraction), as the CPU kernels do."""
    tok = _EXACT.set(True)
    try:
        yield
    finally:
        _EXACT.reset(tok)
