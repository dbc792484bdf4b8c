"""The compiled DCGD-SHIFT engine: reference agreement, convergence as the
theorems say, honest bits, reproducibility, stopping and bad input."""
import math

import numpy as np
import pytest

import shiftbench.harness as H
from shiftbench import _rng
from shiftbench.compressors import Compressor
from shiftbench.harness.run import prepare
from shiftbench.methods import engine as E
from shiftbench.naive import methods as NM
from shiftbench.problems import make


@pytest.fixture(scope="module")
def ridge():
    return make("ridge")


@pytest.fixture(scope="module")
def small():
    # heterogeneous least squares, small enough for the NumPy reference
    return make("quadratic(kappa=20, n=4, d=12, hetero=1, seed=3)")


# ---------------------------------------------------------------- reference
CASES = [
    ("dcgd", "rand-k(k=3)", None, {}),
    ("dcgd-fixed", "natural", None, {"shift": "star"}),
    ("dcgd-star", "rand-k(k=4)", "top-k(k=2)", {}),
    ("diana", "dither(s=2)", None, {}),
    ("diana", "rand-k(k=3)", "top-k(k=2)", {}),
    ("rand-diana", "rand-k(k=3)", None, {"p": 0.3}),
    ("gdci", "rand-k(k=6)", None, {}),
    ("vr-gdci", "rand-k(k=6)", None, {}),
]


@pytest.mark.parametrize("method,q,c,kw", CASES, ids=[f"{m}-{q}-{c}" for m, q, c, _ in CASES])
def test_engine_matches_numpy_reference(small, method, q, c, kw):
    """Iterate by iterate (distance to x* and cumulative bits), same randomness."""
    iters = 25
    res = H.run(method, small, q, c, iters=iters, eps=0.0, stride=1, seed=7, **kw)
    _, _, b, _, _ = prepare(method, small, q, c, **kw)
    params = b.params
    mode = {"dcgd-fixed": "dcgd-fixed"}.get(method, method)
    Q = [Compressor(q)] * small.n
    C = [Compressor(c)] * small.n if c else None
    xs, bs = NM.dcgd_shift(small, mode, Q, C, gamma=params["gamma"], alpha=params["alpha"],
                           eta=params["eta"], p=np.array(params["p"]), h0=b.h0,
                           iters=iters, seed=7)
    dist_ref = np.array([np.sum((x - small.x_star) ** 2) for x in xs])
    tr = res.trace
    assert len(tr) == iters + 1
    np.testing.assert_allclose(tr["dist_sq"].to_numpy(), dist_ref, rtol=1e-9, atol=1e-13)
    np.testing.assert_array_equal(tr["bits_per_worker"].to_numpy(), np.array(bs))


def test_diana_sparse_message_updates_equal_the_dense_ones():
    """Rand-K with Floyd's algorithm (K * 12 < d) lists its support
    (IW_SUPPORT), and DIANA then adds the message into x's and the shift's
    updates on those K entries only.  The same compressor as a composite
    (``scale(.., lam=1)``: no support hint) takes the dense path: the traces
    and iterates are bit for bit equal, and both match the NumPy loop."""
    P = make("quadratic(kappa=20, n=4, d=100, hetero=1, seed=3)")
    a = H.run("diana", P, "rand-k(k=2)", iters=30, eps=0.0, stride=1, seed=7,
              record_x=True, alpha=0.5)
    kw = dict(iters=30, eps=0.0, stride=1, seed=7, record_x=True, alpha=0.5,
              gamma=a.params["gamma"])
    b = H.run("diana", P, "scale(rand-k(k=2), lam=1)", **kw)
    assert np.array_equal(a.x, b.x)
    cols = ["dist_sq", "grad_norm_sq", "bits_per_worker"]
    assert a.trace[cols].equals(b.trace[cols])
    _, _, bd, _, _ = prepare("diana", P, "rand-k(k=2)", alpha=0.5)
    xs, _ = NM.dcgd_shift(P, "diana", [Compressor("rand-k(k=2)")] * P.n, None,
                          gamma=bd.params["gamma"], alpha=0.5, iters=30, seed=7)
    np.testing.assert_allclose(a.x, np.array(xs), rtol=1e-10, atol=1e-13)


def test_diana_sparse_updates_with_more_indices_than_the_hint_slot():
    """K > IW_SUPPORT: Floyd's index list in iwork[:K] would cover the
    hint's own slot, so no hint is given and the dense path runs; the
    result equals the dense composite's bit for bit."""
    from shiftbench.compressors.kernels.intrinsics import IW_SUPPORT
    P = make("lsq(n=2, d=1000000, rows=1, seed=1)")
    k = IW_SUPPORT + 5000
    a = H.run("diana", P, f"rand-k(k={k})", iters=2, eps=0.0, stride=1, seed=3,
              record_x=True, alpha=0.5)
    b = H.run("diana", P, f"scale(rand-k(k={k}), lam=1)", iters=2, eps=0.0, stride=1,
              seed=3, record_x=True, alpha=0.5, gamma=a.params["gamma"])
    assert np.array_equal(a.x, b.x)


def test_rng_stream_layout():
    """Worker i draws from stream i of the run's seed (documented contract)."""
    st = np.zeros(2, np.uint64)
    _rng.seed_state(st, np.uint64(5), np.uint64(2))
    assert np.array_equal(st, _rng.new_state(5, 2))
    assert not np.array_equal(_rng.new_state(5, 2), _rng.new_state(5, 3))


# ---------------------------------------------------------------- theory
@pytest.mark.parametrize("method,q,c", [
    ("diana", "rand-k(q=0.1)", None),
    ("diana", "rand-k(q=0.1)", "top-k(k=8)"),
    ("rand-diana", "rand-k(q=0.1)", None),
    ("dcgd-star", "rand-k(q=0.1)", None),
    ("dcgd-star", "rand-k(q=0.1)", "top-k(k=8)"),
    ("vr-gdci", "rand-k(q=0.5)", None),
])
def test_exact_convergence_with_theoretical_steps(ridge, method, q, c):
    res = H.run(method, ridge, q, c, iters=400_000, eps=1e-10)
    assert res.status == "converged", res.summary()
    assert res.trace["rel_error"].iloc[-1] <= 1e-10


def test_dcgd_fixed_with_optimal_shift_converges_exactly(ridge):
    res = H.run("dcgd-fixed", ridge, "rand-k(q=0.1)", shift="star", iters=200_000, eps=1e-10)
    assert res.status == "converged"
    zero = H.run("dcgd-fixed", ridge, "rand-k(q=0.1)", shift="zero", iters=20_000, eps=1e-10)
    assert zero.status == "max_iter"      # h = 0 is not optimal on heterogeneous ridge


@pytest.mark.parametrize("method,q", [("dcgd", "rand-k(q=0.1)"), ("gdci", "rand-k(q=0.5)")])
def test_neighbourhood_matches_theorem(ridge, method, q):
    """DCGD (Thm 1, h = 0) and GDCI (Thm 5) stall at a neighbourhood that is
    below the theorem's and of its order; halving the step (gamma for DCGD,
    eta for GDCI, whose gamma then follows Thm 5) changes it in the
    proportion the bound (7) / (14) predicts."""
    R = 16
    sizes, bounds = [], []
    for scale in (1.0, 0.5):
        th = H.run(method, ridge, q, iters=0).theory
        kw = {"gamma": th.gamma * scale} if method == "dcgd" else {"eta": th.eta * scale}
        iters = int(8 / (1 - th.rate) / scale)
        mc = H.run(method, ridge, q, iters=iters, eps=0.0, seeds=range(R), stride=iters // 200,
                   **kw)
        th = mc.runs[0].theory
        tail = mc.trace.groupby("seed").tail(60)       # last 30% of each run
        per_run = tail.groupby("seed")["dist_sq"].mean().to_numpy()
        m, se = per_run.mean(), per_run.std(ddof=1) / math.sqrt(R)
        # below the bound (one-sided, z = 4 standard errors), and not vacuously so
        assert m - 4 * se <= th.neighbourhood
        assert m >= th.neighbourhood / 200
        sizes.append(m)
        bounds.append(th.neighbourhood)
    if method == "dcgd":
        # bound (7) is linear in gamma: halving gamma halves it, and so the
        # measured neighbourhood (R = 16 runs: +-30% covers the noise)
        assert bounds[0] / bounds[1] == pytest.approx(2.0)
        assert 0.7 < (sizes[0] / sizes[1]) / 2.0 < 1.3


# ---------------------------------------------------------------- bits
def test_bits_per_iteration_hand_counts(ridge):
    d, n = ridge.d, ridge.n
    # Rand-K, K = 8 of d = 80: 8 values x 32 + min(8 * ceil(log2 80) = 56, 80) index bits
    per = 8 * 32 + 8 * 7
    r = H.run("diana", ridge, "rand-k(k=8)", iters=10, eps=0, stride=1)
    assert np.all(np.diff(r.trace["bits_per_worker"]) == per)
    assert np.all(np.diff(r.trace["values_bits_per_worker"]) == 8 * 32)
    assert np.all(np.diff(r.trace["downlink_bits_per_worker"]) == 32 * d)
    # shared seed: no index bits
    r = H.run("diana", ridge, "rand-k(k=8, shared=1)", iters=10, eps=0, stride=1)
    assert np.all(np.diff(r.trace["bits_per_worker"]) == 8 * 32)
    # DIANA with C = Top-2 sends both messages: (2*32 + 2*7) + (8*32 + 8*7)
    r = H.run("diana", ridge, "rand-k(k=8)", "top-k(k=2)", iters=10, eps=0, stride=1)
    assert np.all(np.diff(r.trace["bits_per_worker"]) == (2 * 32 + 2 * 7) + per)
    # Rand-DIANA: initial full h_i^0 (d values), each refresh d values more
    r = H.run("rand-diana", ridge, "rand-k(k=8)", iters=400, eps=0, stride=1, p=0.1)
    b = r.trace["bits_per_worker"].to_numpy()
    assert b[0] == 32 * d
    extra = np.diff(b) * n - n * per        # total refresh bits over workers per iteration
    assert np.all(extra % (32 * d) == 0)
    refreshes = extra.sum() / (32 * d)
    # binomial(400 n, 0.1): mean 400, sd 19 -> 5 sd bounds
    assert abs(refreshes - 0.1 * 400 * n) < 5 * math.sqrt(400 * n * 0.1 * 0.9)


# ---------------------------------------------------------------- reproducibility
def test_same_seed_same_trace_any_thread_count(ridge):
    import numba
    a = H.run("rand-diana", ridge, "rand-k(q=0.1)", iters=3000, eps=0, seed=11)
    b = H.run("rand-diana", ridge, "rand-k(q=0.1)", iters=3000, eps=0, seed=11)
    cols = ["dist_sq", "bits_per_worker", "grad_norm_sq"]
    assert a.trace[cols].equals(b.trace[cols])
    old = numba.get_num_threads()
    try:
        outs = []
        for t in sorted({1, numba.config.NUMBA_NUM_THREADS}):
            numba.set_num_threads(t)
            mc = H.run("rand-diana", ridge, "rand-k(q=0.1)", iters=3000, eps=0,
                       seeds=[11, 12, 13])
            outs.append(mc)
    finally:
        numba.set_num_threads(old)
    for mc in outs:
        assert mc.runs[0].trace[cols].equals(a.trace[cols])
    assert not outs[0].runs[1].trace[cols].equals(a.trace[cols])


# ---------------------------------------------------------------- stopping
def test_divergence_is_a_status_with_trace(ridge):
    r = H.run("dcgd", ridge, "rand-k(q=0.1)", gamma=1.0, iters=1000)
    assert r.status == "diverged"
    assert len(r.trace) >= 2 and r.iterations < 1000


def test_bits_budget_and_max_iter(ridge):
    r = H.run("diana", ridge, "rand-k(k=8)", iters=10_000, bits_budget=312 * 50, eps=0)
    assert r.status == "bits_budget"
    assert r.trace["bits_per_worker"].iloc[-1] == 312 * 50
    r = H.run("diana", ridge, "rand-k(k=8)", iters=123, eps=0)
    assert r.status == "max_iter" and r.iterations == 123


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("kw,msg", [
    (dict(gamma=-1.0), "gamma"),
    (dict(gamma=0.0), "gamma"),
    (dict(alpha=2.0), "alpha"),
    (dict(iters=-5), "iters"),
    (dict(stride=0), "stride"),
    (dict(stop="nope"), "allowed"),
])
def test_bad_arguments(ridge, kw, msg):
    with pytest.raises(ValueError, match=msg):
        H.run("diana", ridge, "rand-k(q=0.1)", **kw)


def test_bad_method_and_compressor(ridge):
    with pytest.raises(ValueError, match="allowed: dcgd"):
        H.run("dianna", ridge, "rand-k(q=0.1)")
    with pytest.raises(ValueError, match="K = 100 > d = 80"):
        H.run("diana", ridge, "rand-k(k=100)")
    with pytest.raises(ValueError, match="exactly n"):
        H.run("diana", ridge, ["rand-k(q=0.1)"] * 3)


def test_heterogeneous_workers(ridge):
    """Different Q_i per worker (bandwidth heterogeneity): theory uses max omega."""
    r = H.run("diana", ridge, "rand-k(q=0.1)*5; rand-k(q=0.5)*5", iters=200_000, eps=1e-8)
    assert r.status == "converged"
    assert r.params["omega"][:5] == [9.0] * 5 and r.params["omega"][5:] == [1.0] * 5


ALLOC_SCRIPT = r"""
import json, sys
from numba.core.runtime import rtsys
import shiftbench.harness as H
from shiftbench.problems import make
P = make("quadratic(kappa=10, n=3, d=40, hetero=1, seed=1)")
cases = [("diana", "rand-k(k=4)", None), ("diana", "natural", "top-k(k=3)"),
         ("rand-diana", "dither(s=2)", None), ("dcgd-star", "induced(top-k(k=2), rand-k(k=4))", "top-k(k=2)"),
         ("vr-gdci", "terngrad", None), ("ef21", "top-k(k=2)", None), ("lag", None, None)]
out = {}
for m, q, c in cases:
    counts = []
    for iters in (5, 300):
        H.run(m, P, q, c, iters=iters, eps=0.0, stride=10**6)      # compile / warm
        a0 = rtsys.get_allocation_stats().alloc
        H.run(m, P, q, c, iters=iters, eps=0.0, stride=10**6)
        counts.append(rtsys.get_allocation_stats().alloc - a0)
    out[m + ":" + str(q)] = counts
print(json.dumps(out))
"""


def test_nothing_allocated_per_iteration():
    """NRT allocations of a run do not grow with its iteration count."""
    import json
    import os
    import subprocess
    import sys
    env = dict(os.environ, NUMBA_NRT_STATS="1")
    r = subprocess.run([sys.executable, "-c", ALLOC_SCRIPT], capture_output=True, text=True,
                       env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    counts = json.loads(r.stdout.strip().splitlines()[-1])
    for case, (short, long) in counts.items():
        assert short == long, f"{case}: {short} allocations for 5 iterations, {long} for 300"
