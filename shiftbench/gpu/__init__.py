"""shiftbench on the GPU (``numba.cuda``; the ``cuda`` extra).

* every compressor of the registry on the device, through the same spec
  strings: ``sb.compressor(spec).compress(x, device="cuda")``, with the CPU's
  draws, output and bit count (:mod:`.prims`, the program interpreter in
  :mod:`.device`);
* the method loops on the device, one thread block per seed, every seed of
  a Monte-Carlo batch in one launch: ``sb.run(..., device="cuda")``,
  ``--device cuda`` (:mod:`.loops`, the backend
  :mod:`shiftbench.backends.cuda`).

Without CUDA, ``device="cuda"`` is a one-line error naming the ``cuda``
extra and ``NUMBA_ENABLE_CUDASIM=1`` (numba's CUDA simulator runs the same
device code in Python threads; the tests use it).  The device modules are
imported only once CUDA is known to be there.
"""
from ._target import AVAILABLE, SIMULATOR, CUDAUnavailable, require  # noqa: F401
