"""Execution backends: where a method's compiled loop runs.

The seam between the method model and the machines.  Everything above it
(declarations, validation, theory defaults, :class:`~shiftbench.methods.model.Build`,
traces, results) is shared; a backend only takes

* the :class:`~shiftbench.methods.model.Method` (its ``loop`` and ``code``),
* its :class:`~shiftbench.methods.model.Build` (loop configuration and
  compressor programs),
* the :class:`~shiftbench.methods.loopdata.ProblemData` and
  :class:`~shiftbench.methods.loopdata.StopRule`,
* the seeds and the number of trace rows,

and returns, per seed, ``(status, iterations, trace rows, x records)`` plus
the wall time.  ``cpu`` (numba, the default) is the first backend; a CUDA
backend (``numba.cuda``) and a multi-process one (MPI) plug in here under
their own names without a copy of the glue.
"""
from __future__ import annotations

BACKENDS = {"cpu": ("shiftbench.backends.cpu", "CPUBackend")}


def register_backend(name, module, cls):
    BACKENDS[name] = (module, cls)


register_backend("cuda", "shiftbench.backends.cuda", "CUDABackend")
register_backend("mpi", "shiftbench.backends.mpi", "MPIBackend")


def get_backend(name="cpu"):
    import importlib
    key = str(name).strip().lower()
    if key not in BACKENDS:
        hint = ""
        if key == "cuda":
            hint = (" (the CUDA backend is not built yet: install the `cuda` extra for the "
                    "GPU compressor kernels, shiftbench.compressors.gpu)")
        raise ValueError(f"device/backend {name!r} is not available{hint}; allowed: "
                         f"{', '.join(BACKENDS)}")
    mod, cls = BACKENDS[key]
    return getattr(importlib.import_module(mod), cls)()
