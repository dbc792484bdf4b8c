"""The CUDA backend: the method loops on the GPU (``numba.cuda``).

Every seed of a run is one thread block of ONE kernel launch that runs the
whole loop on the device (see :mod:`shiftbench.gpu.loops`); the trace of a
seed equals the CPU backend's (same draws and bits, values to rounding).
Needs the ``cuda`` extra and a GPU, or ``NUMBA_ENABLE_CUDASIM=1`` (numba's
CUDA simulator: the same code, slowly).
"""
from __future__ import annotations


class CUDABackend:
    name = "cuda"
    sparse_rows = False     # the device loops read the dense rows

    def __init__(self):
        from ..gpu import require
        require("device='cuda'")

    def run(self, method, build, pd, stop_rule, rows, seeds, single, record_x=False,
            progress=None):
        """Run ``seeds``; returns (list of (status, iters, trace, xrec), wall, interrupted).

        ``progress`` is advanced once, when the traces come back from the
        device at the end of the launch."""
        from ..wire.loop import is_wire
        if is_wire(build):
            raise ValueError("wire runs on the cpu and mpi backends, not on cuda")
        from ..gpu.loops import run
        return run(method, build, pd, stop_rule, rows, seeds, single, record_x, progress)
