"""Compressor kernels, in the style of NumPy's asv suite.

Every class builds its data and makes ONE warm-up call in ``setup``, so
numba compilation never lands in a timing (the on-disk cache makes later
processes cheap).  ``time_copy`` times ``np.copyto`` of the same array: the
memory-bandwidth yardstick the kernels are compared with (see
``python -m shiftbench.perf`` for the ratios in one run).
``time_numpy_reference`` times the exact reference of
:mod:`shiftbench.naive.compressors`; it is skipped (``NotImplementedError``
in setup) where that pure-Python reference would take too long.
"""
import numpy as np

from shiftbench import _rng
from shiftbench.compressors import compressor
from shiftbench.compressors.kernels.program import apply_arrays
from shiftbench.perf import default_compressor_specs, _has_sparse

try:
    from shiftbench.naive.compressors import naive_compress
except ImportError:                      # older checkouts have no reference
    naive_compress = None

DIMS = [1000, 100000, 10000000]
SPECS = default_compressor_specs()       # registry examples, K = d/100
SPARSE_SPECS = [s for s in SPECS if _has_sparse(s)]   # rand-k, crand-k, top-k
REFERENCE_MAX_D = 100000                 # the exact reference is pure Python


def _x(d):
    return np.random.default_rng(0).standard_normal(d)


class Compressors:
    """Dense kernels through the engine's program interpreter (``apply_program``)."""
    params = (SPECS, DIMS)
    param_names = ["spec", "d"]
    timeout = 300
    repeat = (2, 10, 10.0)
    warmup_time = 0.05

    def setup(self, spec, d):
        self.C = compressor(spec)
        self.C.node.check_d(d)
        self.x = _x(d)
        self.out = np.empty(d)
        self.dst = np.empty(d)
        self.ws = self.C.workspace(d)
        self.prog = self.C.program
        self.addr = self.prog._addresses()
        self.rng = _rng.new_state(1)
        self.time_kernel()                                  # compile / warm up
        self.time_copy()                                    # fault in dst's pages
        _, self.bits = self.C.compress(self.x, 0)

    def time_kernel(self, *_):
        p = self.prog
        apply_arrays(p.ops, p.params, p.ptr, self.addr, 0, self.x, self.out, self.rng,
                     self.ws.regs, self.ws.iwork, self.ws.mark)

    def time_compress(self, *_):
        """The user-facing call (validates x, then the same kernel)."""
        self.C.compress(self.x, rng=self.rng, out=self.out)

    def time_copy(self, *_):
        np.copyto(self.dst, self.x)

    def track_bits(self, *_):
        """Bits of one message (values, indices, norms)."""
        return int(self.bits)
    track_bits.unit = "bits"


class NumpyReference:
    """The exact (bit-identical) pure NumPy/Python reference."""
    params = (SPECS, DIMS)
    param_names = ["spec", "d"]
    timeout = 300
    number = 1
    repeat = (1, 3, 5.0)
    warmup_time = 0

    def setup(self, spec, d):
        if naive_compress is None:
            raise NotImplementedError("shiftbench.naive is not available")
        if d > REFERENCE_MAX_D:
            raise NotImplementedError(f"pure-Python reference too slow at d={d}")
        compressor(spec).node.check_d(d)
        self.spec = spec
        self.x = _x(d)

    def time_numpy_reference(self, *_):
        naive_compress(self.spec, self.x, 0)


class SparseCompressors:
    """Sparse (indices, values) output: Rand-K in O(K), Top-K in O(d)."""
    params = (SPARSE_SPECS, DIMS)
    param_names = ["spec", "d"]
    timeout = 300
    repeat = (2, 10, 10.0)
    warmup_time = 0.05

    def setup(self, spec, d):
        self.C = compressor(spec)
        self.x = _x(d)
        self.dst = np.empty(d)
        ws = self.C.workspace(d)
        self.iwork, self.mark = ws.iwork, ws.mark
        self.kern, self.p = self.C.sparse_kernel()
        k = self.C.compress_sparse(self.x, 0)[0].size
        self.idx = np.empty(k, dtype=np.int64)
        self.vals = np.empty(k)
        self.rng = _rng.new_state(1)
        self.time_kernel()                                  # compile / warm up
        self.time_copy()                                    # fault in dst's pages
        self.C.compress_sparse(self.x, 0)

    def time_kernel(self, *_):
        self.kern(self.x, self.p, self.rng, self.iwork, self.mark, self.idx, self.vals)

    def time_compress_sparse(self, *_):
        self.C.compress_sparse(self.x, rng=self.rng)

    def time_copy(self, *_):
        np.copyto(self.dst, self.x)


class ImportCompile:
    """Cold start: import shiftbench and compile one compressor (the program
    interpreter and that compressor's kernel only) into an empty numba cache."""
    timeout = 900
    number = 1
    repeat = (1, 2, 60.0)
    warmup_time = 0

    def timeraw_import_and_compile(self):
        setup = """
        import atexit, os, shutil, tempfile
        _cache = tempfile.mkdtemp(prefix="sb-asv-numba-")
        os.environ["NUMBA_CACHE_DIR"] = _cache
        atexit.register(shutil.rmtree, _cache, True)
        """
        code = """
        import numpy as np
        from shiftbench.compressors import compressor
        compressor("natural").compress(np.ones(16), 0)
        """
        return code, setup
