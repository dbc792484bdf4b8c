"""GPU benchmarks (``numba.cuda``): skipped cleanly without a GPU.

asv skips a benchmark whose ``setup`` raises ``NotImplementedError``; every
class here does so when CUDA is not available (or only numba's simulator
is: its timings mean nothing).  Each timing ends with
``cuda.synchronize()``; data and one warm-up call (compilation) live in
``setup``.  ``time_copy`` is a device-to-device copy of the same array, the
yardstick of ``python -m shiftbench.perf --device cuda``.
"""
import numpy as np

from shiftbench.gpu import AVAILABLE, SIMULATOR
from shiftbench.perf import default_compressor_specs

DIMS = [100000, 10000000]
SPECS = default_compressor_specs()       # registry examples, K = d/100


def _need_gpu():
    if not AVAILABLE or SIMULATOR:
        raise NotImplementedError("no CUDA GPU (the `cuda` extra and a GPU are needed)")


class GPUCompressors:
    """``Compressor.compress(x_on_device, device="cuda")`` against a device copy."""
    params = (SPECS, DIMS)
    param_names = ["spec", "d"]
    timeout = 600

    def setup(self, spec, d):
        _need_gpu()
        from numba import cuda
        from shiftbench import _rng
        from shiftbench.compressors import compressor
        self.cuda = cuda
        self.C = compressor(spec)
        self.C.node.check_d(d)
        self.x = cuda.to_device(np.random.default_rng(0).standard_normal(d))
        self.dst = cuda.device_array(d)
        self.rng = _rng.new_state(1)
        self.C.compress(self.x, rng=self.rng, device="cuda")
        self.cuda.synchronize()

    def time_compress(self, spec, d):
        self.C.compress(self.x, rng=self.rng, device="cuda")
        self.cuda.synchronize()

    def time_copy(self, spec, d):
        self.dst.copy_to_device(self.x)
        self.cuda.synchronize()


class GPULoops:
    """20 iterations of DIANA + Rand-K(q=0.01) on n = 16 workers, one launch."""
    params = ([1000000, 10000000],)
    param_names = ["d"]
    timeout = 1200

    def setup(self, d):
        _need_gpu()
        import shiftbench as sb
        from shiftbench.perf_methods import large_lsq
        self.sb = sb
        self.P = large_lsq(n=16, d=d, rows=1)
        self.kw = dict(compressor="rand-k(q=0.01)", iters=20, eps=0.0, stride=20)
        sb.run("diana", self.P, device="cuda", **dict(self.kw, iters=1))

    def time_diana_20_iters(self, d):
        self.sb.run("diana", self.P, device="cuda", **self.kw)
