"""Method loops, in the style of NumPy's asv suite.

Every class builds its data and makes ONE warm-up call in ``setup``, so
numba compilation never lands in a timing (the on-disk cache makes later
processes cheap).  The ``time_*`` methods call the compiled engines
directly (:class:`shiftbench.perf_methods.EngineCall`: arguments
built once, no Python in the loop); each call runs a fixed number of
iterations (``ITERS_RIDGE`` on ridge, ``ITERS_LARGE`` on the large problem),
chosen so that one call lasts ~10-100 ms: divide by it for the time per
iteration.  ``NumpyLoop.time_numpy_loop`` is the plain NumPy reference loop
of DIANA (the baseline of ``python -m shiftbench.perf``'s ``diana/ridge``
row).  ``track_*`` record iterations and bits to eps = 1e-6 on fixed seeds
(an algorithmic regression shows up there, not in the timings);
``timeraw_*`` cold import + first compilation; ``peakmem_*`` large runs.

Problems: ``ridge`` (Shulgin & Richtárik, UAI 2022, §4: n = 10, d = 80) and ``large``
(:func:`shiftbench.perf_methods.large_lsq`: n = 100 workers of 10
rows, d = 10^4, exact constants from Gram matrices).
"""
import numpy as np

from shiftbench.methods import METHODS
from shiftbench.perf_methods import (engine_call, large_lsq, numpy_loop, perf_methods,
                                     ridge_problem)

ALL_METHODS = perf_methods()
ITERS_RIDGE = 5000          # ~5-25 us per iteration on ridge
ITERS_LARGE = 5             # ~8-16 ms per iteration at n = 100, d = 10^4
ITERS_NUMPY = 200           # ~150-200 us per iteration for the NumPy loop
EPS = 1e-6
TRACK = ["diana", "rand-diana", "dcgd-star", "dgd", "ef21", "marina"]


def _problem(name):
    return ridge_problem() if name == "ridge" else large_lsq()


class MethodIterations:
    """Compiled engine, ``ITERS_RIDGE`` (ridge) or ``ITERS_LARGE`` (large)
    iterations per call, default compressor of each method, eps = 0."""
    params = (ALL_METHODS, ["ridge", "large"])
    param_names = ["method", "problem"]
    timeout = 300
    repeat = (2, 10, 10.0)
    number = 1
    warmup_time = 0

    def setup(self, method, problem):
        iters = ITERS_RIDGE if problem == "ridge" else ITERS_LARGE
        self.ec = engine_call(method, _problem(problem), iters=iters)
        self.ec.one()                                       # compile / warm up

    def time_iterations(self, *_):
        self.ec.one()


class NumpyLoop:
    """The plain NumPy reference loop (shiftbench.naive.methods.dcgd_shift
    with Generator.choice Rand-K), ``ITERS_NUMPY`` iterations on ridge, and
    the compiled engine for the same iterations (ratio = speed-up)."""
    params = (["diana", "dcgd", "rand-diana"],)
    param_names = ["method"]
    timeout = 300
    repeat = (2, 5, 10.0)
    number = 1
    warmup_time = 0

    def setup(self, method):
        self.ec = engine_call(method, ridge_problem(), "rand-k(q=0.1)", iters=ITERS_NUMPY)
        self.loop = numpy_loop(self.ec)
        if self.loop is None:
            raise NotImplementedError("no NumPy loop (shiftbench.naive missing)")
        self.ec.one()
        self.loop()

    def time_numpy_loop(self, *_):
        self.loop()

    def time_engine(self, *_):
        self.ec.one()


class MonteCarlo:
    """``run_many`` (parallel over seeds) vs the same runs one by one:
    DIANA, Rand-K(q=0.1), ridge, 1000 iterations per run."""
    params = ([16, 64],)
    param_names = ["seeds"]
    timeout = 300
    repeat = (2, 5, 10.0)
    number = 1
    warmup_time = 0

    def setup(self, seeds):
        self.ec = engine_call("diana", ridge_problem(), "rand-k(q=0.1)", iters=1000)
        self.seeds = list(range(seeds))
        self.ec.one()
        self.ec.many(self.seeds[:2])

    def time_parallel(self, *_):
        self.ec.many(self.seeds)

    def time_sequential(self, *_):
        for s in self.seeds:
            self.ec.one(s)


class ToEps:
    """Iterations and uplink bits per worker to rel_error <= 1e-6 on ridge
    (default compressor, theory step, seed 0): exact for a fixed seed, so
    any change is an algorithmic change."""
    params = (TRACK,)
    param_names = ["method"]
    timeout = 300

    def setup(self, method):
        from shiftbench import run
        opts = METHODS[method].example
        self.s = run(method, ridge_problem(), iters=200000, eps=EPS, seed=0,
                     stride=200000, **opts).summary()

    def track_iterations_to_eps(self, *_):
        return int(self.s["iterations"]) if self.s["status"] == "converged" else np.nan
    track_iterations_to_eps.unit = "iterations"

    def track_bits_to_eps(self, *_):
        return float(self.s["bits_per_worker"]) if self.s["status"] == "converged" else np.nan
    track_bits_to_eps.unit = "bits"


class ImportCompileMethods:
    """Cold start: import shiftbench, build ridge and compile the Algorithm 1
    engine (run_one + the compressor dispatch) into an empty numba cache."""
    timeout = 900
    number = 1
    repeat = (1, 2, 120.0)
    warmup_time = 0

    def timeraw_import_and_compile_engine(self):
        setup = """
        import atexit, os, shutil, tempfile
        _cache = tempfile.mkdtemp(prefix="sb-asv-numba-")
        os.environ["NUMBA_CACHE_DIR"] = _cache
        atexit.register(shutil.rmtree, _cache, True)
        """
        code = """
        import shiftbench as sb
        sb.run("diana", "ridge", "rand-k(q=0.1)", iters=10)
        """
        return code, setup

    def timeraw_import_and_compile_tpc(self):
        setup = """
        import atexit, os, shutil, tempfile
        _cache = tempfile.mkdtemp(prefix="sb-asv-numba-")
        os.environ["NUMBA_CACHE_DIR"] = _cache
        atexit.register(shutil.rmtree, _cache, True)
        """
        code = """
        import shiftbench as sb
        sb.run("ef21", "ridge", "top-k(q=0.1)", iters=10)
        """
        return code, setup


class PeakMemoryLarge:
    """Peak memory of a large run: building the large problem (A: 1000 x
    10^4, grad f_i(x*): 100 x 10^4, Gram matrices) plus 3 DIANA iterations."""
    timeout = 600

    def setup(self):
        engine_call("diana", ridge_problem(), iters=2).one()     # compile only

    def peakmem_large_problem_diana(self):
        engine_call("diana", large_lsq(), iters=3).one()


class PeakMemoryMonteCarlo:
    """Peak memory of a Monte-Carlo batch with a full trace."""
    timeout = 600

    def setup(self):
        engine_call("diana", ridge_problem(), iters=2).many([0, 1])   # compile only

    def peakmem_monte_carlo_256_seeds(self):
        """256 seeds x 2000 iterations of DIANA on ridge, full trace
        (stride 1: 256 x 2001 x NCOL float64)."""
        ec = engine_call("diana", ridge_problem(), "rand-k(q=0.1)", iters=2000, stride=1)
        ec.many(range(256))


class LargeD:
    """DIANA + Rand-K(q=0.01) on the synthetic least-squares problem with
    n = 16 workers and d = 10^6 (``lsq(n=16, d=1e6, rows=10)``, 1.3 GB of
    data): a run of ``LARGE_ITERS`` iterations, the same run with none
    (its setup: n x d arrays allocated and faulted in, first gradients),
    the steady-state time per iteration, the floor of what an iteration
    must move (``iteration_bytes`` over copy bandwidth) and the ratio of
    the two.  ``python -m shiftbench.perf --kernels diana/lsq-large``
    reports the same row with the NumPy loop beside it."""
    timeout = 900
    repeat = (1, 3, 120.0)
    number = 1
    warmup_time = 0

    def setup(self):
        from shiftbench.perf_methods import LARGE, LARGE_ITERS, iteration_bytes, _copy_bandwidth
        P = large_lsq(**LARGE)
        self.iters = LARGE_ITERS
        self.ec = engine_call("diana", P, "rand-k(q=0.01)", iters=LARGE_ITERS)
        self.ec0 = engine_call("diana", P, "rand-k(q=0.01)", iters=0)
        self.ec.one()                                       # compile / warm up
        self.floor = iteration_bytes(P, sparse_k=int(0.01 * P.d)) / _copy_bandwidth()

    def time_diana_run(self):
        self.ec.one()

    def time_diana_setup(self):
        self.ec0.one()

    def _iter_seconds(self):
        import time
        best = [float("inf"), float("inf")]
        for _ in range(2):
            for j, ec in enumerate((self.ec, self.ec0)):
                t0 = time.perf_counter()
                ec.one()
                best[j] = min(best[j], time.perf_counter() - t0)
        return (best[0] - best[1]) / self.iters

    def track_iteration_seconds(self):
        return self._iter_seconds()
    track_iteration_seconds.unit = "seconds"

    def track_ratio_to_memory_floor(self):
        return self._iter_seconds() / self.floor
    track_ratio_to_memory_floor.unit = "ratio"

    def track_memory_floor_seconds(self):
        return self.floor
    track_memory_floor_seconds.unit = "seconds"


class SparseRows:
    """DIANA + Rand-K(q=0.1) on a9a-like logistic regression
    (:func:`shiftbench.perf_methods.sparse_logreg`: 32768 rows of 14 ones
    among 128 features, n = 20 workers), with the loops reading the rows in
    ELL form (``ell``: what a run does on such data) or dense (``dense``).
    ``python -m shiftbench.perf --kernels "diana/sparse-rows [ell]"`` reports
    the same row with its floor."""
    params = ["ell", "dense"]
    param_names = ["rows"]
    timeout = 300

    def setup(self, rows):
        from shiftbench.methods.loopdata import problem_data
        from shiftbench.perf_methods import SPARSE_DATA, SPARSE_ITERS, sparse_logreg
        P = sparse_logreg(**SPARSE_DATA)
        self.ec = engine_call("diana", P, "rand-k(q=0.1)", iters=SPARSE_ITERS)
        self.ec.pd = problem_data(P, P.x0, sparse=(rows == "ell"))
        self.ec.one()                                       # compile / warm up

    def time_diana_run(self, rows):
        self.ec.one()
