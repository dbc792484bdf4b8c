"""Method timings for ``python -m shiftbench.perf`` (and the asv suite).

Imported by :mod:`shiftbench.perf` (it is in ``PLUGIN_MODULES``); it
registers one :class:`~shiftbench.perf.Entry` per row below.  The helpers
(:func:`engine_call`, :func:`large_lsq`, ...) are reused by
``benchmarks/bench_methods.py``.

Rows (``kind = "method"``)
--------------------------
``<method>/ridge`` for every method of :data:`shiftbench.methods.METHODS` (variant ``"<K> iters"``)
    ``seconds``: one call of the compiled engine
    (:func:`shiftbench.methods.engine.run_one` or
    :func:`shiftbench.methods.tpc.run_one`; every registered method) running K iterations of the
    method on ``ridge`` (Shulgin & Richtárik, UAI 2022, §4: n = 10, d = 80) with ``eps = 0`` (no
    early stop) and one trace row per call: no Python in the loop, no
    compilation (called once before timing).  The engine's per-run setup
    (allocation, seeding) is amortised over the K iterations.
    ``numpy_seconds``: the same K iterations of the plain NumPy reference
    loop :func:`shiftbench.naive.methods.dcgd_shift` with
    :func:`~shiftbench.naive.methods.numpy_compress` (``Generator.choice``
    Rand-K), for the Algorithm 1 methods; so ``speedup_vs_numpy`` is the
    per-iteration speed-up of the compiled engine over the NumPy loop (the
    target for DIANA with Rand-K(q=0.1) is >= 100).  The 3PC/EF/MARINA rows
    have no NumPy loop.
    ``copy_seconds``: K calls of ``np.copyto`` of one d-vector (d = the
    problem's, 80), so ``ratio_to_copy`` is the cost of one iteration in
    units of copying the iterate once (for d = 80 this is mostly call
    overhead: read it as "iteration cost in ~100 ns units", not bandwidth).
    ``api_seconds``: the user-facing ``shiftbench.run(..., iters=K)`` (setup,
    theory, DataFrame trace included).
    ``floor_seconds`` (per iteration): the n local gradients and the n
    calls of the method's first compressor, timed alone in the same rounds
    (:func:`floor_call`); ``ratio_to_floor`` = engine / floor.
    ``info``: ``iters_per_call`` (K), ``problem``, ``n``, ``d`` (the
    problem's real sizes), ``compressor``.

``monte-carlo diana/ridge`` (variant ``"<R> seeds x <K> iters"``)
    ``seconds``: one :func:`shiftbench.methods.engine.run_many` call (R
    independent seeds in parallel, ``prange``).  ``info`` holds the
    throughput measured in ``make`` (min of interleaved rounds):
    ``mc_runs_per_s``, ``mc_iters_per_s`` (parallel), ``seq_runs_per_s``,
    ``seq_iters_per_s`` (R sequential ``run_one`` calls) and
    ``parallel_speedup`` (median sequential / median parallel time, i.e.
    ``mc_runs_per_s / seq_runs_per_s``), ``threads``, ``mc_rounds``.
    ``api_seconds``: ``shiftbench.run(..., seeds=range(R))``.
    ``numpy_seconds`` would be R sequential NumPy loops; it is normally
    skipped by ``--budget`` (its predicted cost is given).

``diana/lsq-large`` (variant ``"<K> iters"``; opt-in: ``--kernels diana/lsq-large``)
    DIANA + Rand-K(q=0.01) on ``lsq(n=16, d=10^6, rows=10)`` (1.3 GB of
    data).  ``seconds``: one call of K iterations; ``setup_seconds``: the
    same call with 0 iterations (the run's n x d arrays allocated and
    faulted in, the first gradients); ``iter_seconds`` = (seconds -
    setup_seconds) / K, the steady state a long run sees, from which
    ``ratio_to_floor`` and ``ratio_to_memory_floor`` are taken
    (``ratio_to_memory_floor_with_setup`` counts the setup too).
    ``bytes_per_iter`` (:func:`iteration_bytes`) over ``copy_bandwidth``
    (np.copyto of 256 MB, read + write) is ``memory_floor_seconds``.  The
    floor's compressor inputs are random here (recording 2 K n vectors of
    10^6 would need GBs; at this d no branch predictor learns them).

The method rows are on fixed problems: their ``n`` and ``d`` columns are the
problem's (the rows do not depend on ``--d``).
``python -m shiftbench.perf --kernels "diana/ridge"`` selects one row.
"""
from __future__ import annotations

import math
import time
from functools import lru_cache

import numpy as np
from numba import njit

from .compressors.kernels import apply_program
from .compressors.kernels.intrinsics import borrow, borrow_row
from .problems.base import local_grad

__all__ = ["engine_call", "numpy_loop", "large_lsq", "ridge_problem", "mc_throughput",
           "ITERS_RIDGE", "MC_SEEDS", "MC_ITERS", "perf_methods"]

ITERS_RIDGE = 200          # iterations per timed call on ridge
MC_SEEDS = 16              # Monte-Carlo runs per batch
MC_ITERS = 1000            # iterations per Monte-Carlo run


def perf_methods():
    """Every registered method (the perf rows and asv parameters derive from it)."""
    from .methods.model import all_methods
    return list(all_methods())


# ----------------------------------------------------------------------------
# problems

@lru_cache(maxsize=None)
def ridge_problem(seed=0):
    """The paper's ridge problem (n = 10, d = 80), built once per process."""
    from .problems import make
    return make(f"ridge(seed={seed})")


@lru_cache(maxsize=None)
def large_lsq(n=100, d=10000, rows=10, seed=0):
    """The registered ``lsq(n, d, rows, seed)`` problem
    (:func:`shiftbench.problems.lsq`: n workers of ``rows`` rows in R^d,
    exact constants from N x N Gram matrices), built once per process."""
    from .problems import make
    return make(f"lsq(n={int(n)}, d={int(d)}, rows={int(rows)}, seed={int(seed)})")


# ----------------------------------------------------------------------------
# the compiled engines without Python in the loop

class EngineCall:
    """Pre-built arguments of one configuration; ``one(seed)`` runs the
    compiled loop once (K iterations), ``many(seeds)`` the parallel batch.
    The method's declared example options (``Method.example``) are used
    unless overridden, so every method runs with its defaults."""

    def __init__(self, method, problem, compressor=None, iters=100, stride=None,
                 eps=0.0, **options):
        from .harness.run import prepare, run_options
        from .methods.loopdata import NCOL, problem_data
        from .methods.model import get
        m = get(method)
        opts = dict(m.example)
        opts.update(options)
        self.iters = int(iters)
        self.stride = int(stride or max(self.iters, 1))
        m, P, b, _, ropts = prepare(m, problem, compressor, iters=self.iters,
                                    stride=self.stride, eps=eps, **opts)
        self.info, self.P, self.build = m, P, b
        self.family = m.loop
        rule, self.rows, X0, _ = run_options(P, ropts)
        self.pd = problem_data(P, X0)
        self.rule = rule
        if m.loop == "shift":
            from .methods import engine as mod
        else:
            from .methods import tpc as mod
        self.mod = mod
        self.params, self.theory, self.nreg = b.params, b.theory, b.nreg
        self.trace = np.full((self.rows, NCOL), np.nan)
        self.ncol = NCOL
        self.xrec = np.zeros((0, P.d))
        self.flag = np.zeros(1, np.uint8)

    def one(self, seed=0):
        """One compiled run; returns (status, iterations, rows)."""
        q, c = self.build.programs
        return self.mod.run_one(self.pd, self.build.config, q, c, self.rule, np.uint64(seed),
                                self.nreg, self.trace, self.xrec, self.flag)

    def many(self, seeds):
        """The parallel Monte-Carlo batch (``run_many``) over ``seeds``."""
        q, c = self.build.programs
        seeds = np.asarray(seeds, dtype=np.uint64)
        traces = np.full((seeds.size, self.rows, self.ncol), np.nan)
        st = np.zeros(seeds.size, np.int64)
        its = np.zeros(seeds.size, np.int64)
        nrs = np.zeros(seeds.size, np.int64)
        self.mod.run_many(self.pd, self.build.config, q, c, self.rule, seeds, self.nreg,
                          traces, st, its, nrs, self.flag)
        return st, its, nrs


def engine_call(method, problem, compressor=None, iters=100, **options):
    """An :class:`EngineCall` (arguments built once, outside any timing)."""
    return EngineCall(method, problem, compressor, iters=iters, **options)


def _shift_mode(ec):
    """The NumPy reference's mode of an Algorithm 1 configuration, from the
    compiled mode code, not the name: a user's method (e.g. diana-slow)
    runs the loop of the engine it reuses.  None if there is none."""
    from .methods import engine as E
    return {E.DCGD: "dcgd", E.FIXED: "dcgd-fixed", E.STAR: "dcgd-star", E.DIANA: "diana",
            E.RAND: "rand-diana", E.GDCI: "gdci", E.VRGDCI: "vr-gdci"}.get(int(ec.info.code))


def numpy_loop(ec, compressor="rand-k(q=0.1)", seed=0):
    """The plain NumPy reference loop of ``ec``'s Algorithm 1 configuration
    (:func:`shiftbench.naive.methods.dcgd_shift` with ``numpy_compress``),
    as a no-argument callable running ``ec.iters`` iterations; None for
    methods outside Algorithm 1 or compressors ``numpy_compress`` lacks."""
    if ec.family != "shift":
        return None
    try:
        from .naive.methods import dcgd_shift, numpy_compress
    except ImportError:
        return None
    mode = _shift_mode(ec)
    spec = ec.params["compressor"]
    if mode is None or spec.split("(")[0] not in ("rand-k", "identity"):
        return None
    pr = ec.params
    p = np.asarray(pr["p"], float)
    h0 = None
    if mode == "dcgd-fixed" and pr.get("shift") == "star":
        h0 = ec.P.grad_star
    P, iters = ec.P, ec.iters

    def loop():
        comp = numpy_compress(spec, seed)
        return dcgd_shift(P, mode, None, None, gamma=pr["gamma"], alpha=pr["alpha"],
                          eta=pr["eta"], p=p, h0=h0, iters=iters, seed=seed, compress=comp)
    return loop


def mc_throughput(ec, seeds, rounds=5):
    """Parallel (``run_many``) vs sequential (``run_one`` per seed) time of
    one Monte-Carlo batch over interleaved rounds (call once first to
    compile): the throughputs are from the median of the rounds' times and
    the speed-up is the ratio of those medians (sequential / parallel time,
    = parallel runs/s / sequential runs/s), so the three agree."""
    import numba
    seeds = list(seeds)
    pars, seqs = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        ec.many(seeds)
        pars.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for s in seeds:
            ec.one(s)
        seqs.append(time.perf_counter() - t0)
    par, seq = float(np.median(pars)), float(np.median(seqs))
    R, K = len(seeds), ec.iters
    return {"mc_seeds": R, "mc_iters": K, "threads": numba.get_num_threads(),
            "mc_seconds": par, "seq_seconds": seq, "mc_rounds": rounds,
            "mc_runs_per_s": R / par, "mc_iters_per_s": R * K / par,
            "seq_runs_per_s": R / seq, "seq_iters_per_s": R * K / seq,
            "parallel_speedup": seq / par}


# ----------------------------------------------------------------------------
# floors: what an iteration cannot avoid, timed alone

@njit(cache=True)
def _gradients(pd, K, G):
    """K iterations' worth of the n local gradients at x^0."""
    pd = borrow(pd)                     # as the engines do: no reference counting per call
    G = borrow(G)
    n = pd.off.size - 1
    s = 0.0
    for _ in range(K):
        for i in range(n):
            s += local_grad(pd.kind, pd.A, pd.b, pd.off, pd.scale, pd.lam, i, pd.x0,
                            borrow_row(G, i))
    return s


@njit(cache=True)
def _compressions(prog, K, X, out, rng, regs, iwork, mark):
    """K iterations' worth of the n compressor calls (worker i's program on X[i])."""
    prog = borrow(prog)
    X, out, rng, regs, iwork, mark = borrow((X, out, rng, regs, iwork, mark))
    n = X.shape[0]
    b = 0.0
    for _ in range(K):
        for i in range(n):
            bf, bv = apply_program(prog, i, borrow_row(X, i), out, borrow_row(rng, i), regs,
                                   iwork, mark)
            b += bf
    return b


@njit(cache=True)
def _replay(p0, p1, which, worker, V, out, rng, regs, iwork, mark):
    """The recorded compressor calls again: call j runs program ``p0``
    (which[j] == 0) or ``p1`` of worker ``worker[j]`` on ``V[j]``."""
    p0 = borrow(p0)
    p1 = borrow(p1)
    which, worker, V, out, rng, regs, iwork, mark = borrow(
        (which, worker, V, out, rng, regs, iwork, mark))
    b = 0.0
    for j in range(V.shape[0]):
        w = worker[j]
        if which[j] == 0:
            bf, bv = apply_program(p0, w, borrow_row(V, j), out, borrow_row(rng, w), regs,
                                   iwork, mark)
        else:
            bf, bv = apply_program(p1, w, borrow_row(V, j), out, borrow_row(rng, w), regs,
                                   iwork, mark)
        b += bf
    return b


REPLAY_MAX_BYTES = 64 << 20     # recorded inputs kept for the floor (else random inputs)


def recorded_calls(ec, max_bytes=REPLAY_MAX_BYTES):
    """The compressor calls of ``ec``'s run, in order: ``(which, worker, V)``
    with ``which[j]`` 0 for the first program (Q, or C of a 3PC method) and
    1 for the second, and ``V[j]`` the vector compressed.

    Recorded from the method's NumPy reference loop
    (:func:`shiftbench.naive.methods.dcgd_shift` or
    :func:`shiftbench.naive.tpc.run`) driving the engine's own compiled
    programs with the engine's streams, so the vectors are the run's (equal
    to rounding).  None where the method has no reference loop or the
    vectors would need more than ``max_bytes``.
    """
    from .compressors.kernels import IWORK_EXTRA
    P, K = ec.P, ec.iters
    n, d = P.n, P.d
    if 2 * K * n * d * 8 > max_bytes:
        return None
    p0, p1 = ec.build.programs
    regs = np.zeros((max(ec.nreg, 1), d))
    iwork = np.zeros(d + IWORK_EXTRA, np.int64)
    mark = np.zeros(d, np.uint8)
    rec = []

    def run(prog, w, v, rng):
        v = np.ascontiguousarray(v, dtype=float)
        out = np.empty(d)
        bf, bv = apply_program(prog, w, v, out, rng, regs, iwork, mark)
        rec.append((0 if prog is p0 else 1, w, v.copy()))
        return out, bf, bv

    cfg = ec.build.config
    if ec.family == "shift":
        from .naive.methods import dcgd_shift
        mode = _shift_mode(ec)
        if mode is None:
            return None
        dcgd_shift(P, mode, None, True if cfg.has_c else None, gamma=cfg.gamma,
                   alpha=cfg.alpha, eta=cfg.eta, p=np.asarray(cfg.p, float),
                   h0=np.asarray(cfg.h0, float), iters=K, seed=0,
                   compress=lambda w, which, v, rng: run(p0 if which == "Q" else p1, w, v,
                                                         rng)[:2])
    else:
        from .methods import tpc as T
        from .naive.tpc import run as tpc_run
        mech = {v: k for k, v in T.MECH_CODES.items()}.get(int(cfg.mech))
        inner = {v: k for k, v in T.INNER_CODES.items()}.get(int(cfg.inner), "ef21")
        if mech is None:
            return None
        tpc_run(P, mech, None, None, gamma=cfg.gamma, zeta=cfg.zeta, p=cfg.p, inner=inner,
                ef_outer=cfg.ef_outer, iters=K, seed=0, vb=int(cfg.value_bits),
                compress=lambda which, w, v, rng: run(p0 if which == 1 else p1, w, v, rng))
    if not rec:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, d))
    return (np.array([r[0] for r in rec], np.int64), np.array([r[1] for r in rec], np.int64),
            np.ascontiguousarray(np.stack([r[2] for r in rec])))


def floor_call(ec):
    """A no-argument callable timing the floor of ``ec``'s K iterations: the
    n local gradients per iteration plus the run's compressor calls.

    The calls are the run's own (:func:`recorded_calls`: every call of
    every program, on the vectors the method compressed) where a reference
    loop exists; else n calls of the first program per iteration on one
    fixed random vector per worker.  (Timing one vector again and again
    lets the branch predictor learn a selection's branches: Top-K at d =
    80 then runs 4x faster than on the vectors of a real run, and the
    floor is not one.)  ``floor_call.inputs`` says which.
    """
    from . import _rng
    from .compressors.kernels import IWORK_EXTRA
    P, K = ec.P, ec.iters
    n, d = P.n, P.d
    G = np.empty((n, d))
    out = np.empty(d)
    rng = np.stack([_rng.new_state(0, i) for i in range(n)])
    regs = np.zeros((max(ec.nreg, 1), d))
    iwork = np.zeros(d + IWORK_EXTRA, np.int64)
    mark = np.zeros(d, np.uint8)
    calls = recorded_calls(ec)
    p0, p1 = ec.build.programs
    if calls is not None:
        which, worker, V = calls

        def floor():
            _gradients(ec.pd, K, G)
            _replay(p0, p1, which, worker, V, out, rng, regs, iwork, mark)
        floor.inputs = f"recorded ({V.shape[0]} calls)"
        return floor
    X = np.ascontiguousarray(np.random.default_rng(3).standard_normal((n, d)))

    def floor():
        _gradients(ec.pd, K, G)
        _compressions(p0, K, X, out, rng, regs, iwork, mark)
    floor.inputs = "random"
    return floor


# ----------------------------------------------------------------------------
# perf entries

def _copy_k(d, k):
    src = np.random.default_rng(2).standard_normal(d)
    dst = np.empty(d)

    def copy():
        for _ in range(k):
            np.copyto(dst, src)
    return copy


def _iteration_entry(method, compressor=None, iters=ITERS_RIDGE, **options):
    def make(_d):
        from .harness.run import run as run_api
        from .perf import Case
        P = ridge_problem()
        ec = engine_call(method, P, compressor, iters=iters, **options)
        ec.one()                                                 # compile / warm up
        opts = dict(ec.info.example)
        opts.update(options)
        fl = floor_call(ec)
        return Case(
            kernel=ec.one,
            copy=_copy_k(P.d, iters),
            api=lambda: run_api(method, P, compressor, iters=iters, eps=0.0, stride=iters,
                                **opts),
            reference=numpy_loop(ec),
            floor=fl,
            info={"iters_per_call": iters, "problem": P.name, "n": P.n, "d": P.d,
                  "floor_inputs": fl.inputs,
                  "compressor": ec.params.get("compressor"),
                  "gamma": ec.params.get("gamma")})
    from .perf import Entry
    return Entry(f"{method}/ridge", make, variant=f"{iters} iters", kind="method",
                 reference_scale=lambda d: 1.0)


def _mc_entry(method="diana", compressor="rand-k(q=0.1)", seeds=MC_SEEDS, iters=MC_ITERS):
    def make(_d):
        from .harness.run import run as run_api
        from .perf import Case
        P = ridge_problem()
        ec = engine_call(method, P, compressor, iters=iters)
        ec.one()
        ec.many(range(seeds))                                    # compile / warm up
        info = mc_throughput(ec, range(seeds))
        info.update({"problem": P.name, "n": P.n, "d": P.d, "compressor": compressor,
                     "iters_per_call": iters * seeds})
        loop = numpy_loop(ec)
        per_loop = 3e-5 * P.n * iters                            # ~30 us per worker-iteration

        def ref():
            for _ in range(seeds):
                loop()
        return Case(kernel=lambda: ec.many(range(seeds)), copy=_copy_k(P.d, iters * seeds),
                    api=lambda: run_api(method, P, compressor, iters=iters, eps=0.0,
                                        stride=iters, seeds=range(seeds)),
                    reference=ref if loop is not None else None,
                    reference_cost=per_loop * seeds, info=info)
    from .perf import Entry
    return Entry(f"monte-carlo {method}/ridge", make, variant=f"{seeds} seeds x {iters} iters",
                 kind="method", reference_scale=lambda d: 1.0)


LARGE = dict(n=16, d=1_000_000, rows=10)     # the large-d row (issue: n = 16, d = 10^6)
LARGE_ITERS = 10          # the run's setup (~0.2 s: n x d arrays faulted in) is timed apart


def iteration_bytes(P, sparse_k=None):
    """Bytes an Algorithm 1 iteration must move on problem ``P``: the data
    read twice (A_i x^k, then A_i^T r_i: a row of length d does not stay in
    cache between the two), x^k read once per worker, every shift h_i read
    and written, the master's x^k and mean shift read and written, and the
    messages (K values and indices each when ``sparse_k``, else d values)."""
    n, d = P.n, P.d
    data = 2 * P.A.nbytes + P.b.nbytes
    msg = n * (12 * sparse_k if sparse_k else 8 * d)
    return data + n * 8 * d + n * 2 * 8 * d + 4 * 8 * d + msg


def _copy_bandwidth(nbytes=1 << 28):
    """Bytes per second of np.copyto on a large array (read + write counted)."""
    src = np.ones(nbytes // 8)
    dst = np.empty_like(src)
    best = math.inf
    for _ in range(3):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t0)
    return 2 * src.nbytes / best


def _large_entry(method="diana", compressor="rand-k(q=0.01)", iters=LARGE_ITERS):
    def make(_d):
        from .harness.run import run as run_api
        from .perf import Case
        P = large_lsq(**LARGE)
        ec = engine_call(method, P, compressor, iters=iters)
        ec.one()                                                 # compile / warm up
        ec0 = engine_call(method, P, compressor, iters=0)        # setup + first gradients
        k = int(round(0.01 * P.d))
        nbytes = iteration_bytes(P, sparse_k=k)
        bw = _copy_bandwidth()
        loop = numpy_loop(ec)
        fl = floor_call(ec)
        return Case(
            kernel=ec.one,
            copy=_copy_k(P.d, iters),
            api=lambda: run_api(method, P, compressor, iters=iters, eps=0.0, stride=iters),
            reference=loop, reference_cost=None,
            floor=fl,
            setup=ec0.one,
            info={"iters_per_call": iters, "problem": P.name, "n": P.n, "d": P.d,
                  "floor_inputs": fl.inputs,
                  "compressor": compressor, "bytes_per_iter": nbytes,
                  "copy_bandwidth": bw, "memory_floor_seconds": nbytes / bw})
    from .perf import Entry
    return Entry(f"{method}/lsq-large", make, variant=f"{iters} iters", kind="method",
                 reference_scale=lambda d: 1.0, default=False)


SPARSE_DATA = dict(N=32768, d=128, nnz=14, n=20)
"""The sparse-rows rows: a9a-like logistic regression (one-hot rows of 14
ones among 128 features, as a9a's 14 among 123), n = 20 workers."""
SPARSE_ITERS = 20


@lru_cache(maxsize=None)
def sparse_logreg(N=32768, d=128, nnz=14, n=20, seed=0):
    """The sparse-rows problem: ``problem_from_arrays`` on a 0/1 matrix with
    ``nnz`` ones per row, labels from a random linear model, lam = 0.1."""
    from .problems import problem_from_arrays
    rs = np.random.default_rng(seed)
    A = np.zeros((N, d))
    cols = np.argsort(rs.random((N, d)), axis=1)[:, :nnz]
    A[np.arange(N)[:, None], cols] = 1.0
    y = np.where(A @ rs.standard_normal(d) + 0.3 * rs.standard_normal(N) > 0, 1.0, -1.0)
    return problem_from_arrays(A, y, loss="logistic", n=n, lam=0.1,
                               name=f"a9a-like(N={N}, d={d}, nnz={nnz}, n={n})")


def _sparse_entry(rows, method="diana", compressor="rand-k(q=0.1)", iters=SPARSE_ITERS):
    """DIANA on :func:`sparse_logreg` with the loops reading the rows in ELL
    form (``rows="ell"``, what a run does) or dense (``rows="dense"``, what
    it would do without them): the two rows' times say what the sparse
    rows win."""
    def make(_d):
        from .methods.loopdata import problem_data
        from .perf import Case
        P = sparse_logreg(**SPARSE_DATA)
        ec = engine_call(method, P, compressor, iters=iters)
        ec.pd = problem_data(P, P.x0, sparse=(rows == "ell"))
        ec.one()                                                 # compile / warm up
        fl = floor_call(ec)
        return Case(kernel=ec.one, copy=_copy_k(P.d, iters), floor=fl,
                    reference_note="the NumPy loop is timed on ridge",
                    info={"iters_per_call": iters, "problem": P.name, "n": P.n, "d": P.d,
                          "rows": rows, "floor_inputs": fl.inputs, "compressor": compressor})
    from .perf import Entry
    return Entry(f"{method}/sparse-rows [{rows}]", make, variant=f"{iters} iters",
                 kind="method", reference_scale=lambda d: 1.0, default=False)


def _perf_modules():
    """The perf module whose ``ENTRIES`` the report reads."""
    from . import perf
    return [perf]


def _register():
    names = perf_methods()
    mine = [_iteration_entry("diana", "rand-k(q=0.1)")]
    mine += [_iteration_entry(m) for m in names if m != "diana"]
    mine.append(_mc_entry())
    mine.append(_large_entry())
    mine += [_sparse_entry("ell"), _sparse_entry("dense")]
    for mod in _perf_modules():
        have = {e.name for e in mod.ENTRIES}
        for e in mine:
            if e.name not in have:
                mod.register(e)


def register_methods():
    """Add a ``<method>/ridge`` row for every method registered since this
    module was imported (a plugin's ``shiftbench.methods.model.register``);
    idempotent.  ``python -m shiftbench.perf`` calls it after loading the
    ``--plugin`` files.  Returns the names of the rows added."""
    added = []
    for mod in _perf_modules():
        have = {e.kernel for e in mod.ENTRIES
                if e.kind == "method" and not e.variant.startswith("cuda")}
        for m in perf_methods():
            if f"{m}/ridge" not in have:
                e = mod.register(_iteration_entry(m))
                have.add(e.kernel)
                added.append(e.name)
    return added


_register()
