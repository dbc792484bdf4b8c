"""Tests of shiftbench.problems: kernels vs NumPy references, exact constants,
x*, the generators, the LIBSVM loader, the registry/parser and the CLI."""
import json
import math
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from shiftbench.naive import problems as ref
from shiftbench.problems import (LOGREG, LOGREG_NC, LSQ, divergence3, list_problems,
                                 load_libsvm, logreg, logreg_nc, make, parse, quadratic,
                                 ridge)
from shiftbench.problems import cli

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "libsvm"
REAL = {"a9a": (32561, 123), "mushrooms": (8124, 112), "phishing": (11055, 68)}


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("SHIFTBENCH_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


SMALL = {
    "ridge": lambda: ridge(seed=0),
    "ridge-small": lambda: ridge(seed=1, m=30, d=7, n=3),
    "quad-hetero": lambda: quadratic(kappa=50, n=4, d=6, hetero=1, seed=2),
    "quad-interp": lambda: quadratic(kappa=1e3, n=5, d=8, hetero=2, interp=1, seed=3),
    "divergence3": lambda: divergence3(t=0.7),
    "logreg": lambda: logreg(synthetic=1, N=200, d=5, n=4, lam=0.05, seed=1),
    "logreg-nc": lambda: logreg_nc(synthetic=1, N=200, d=5, n=4, lam=0.1, seed=1),
}


@pytest.fixture(scope="module", params=sorted(SMALL))
def prob(request):
    return SMALL[request.param]()


def _points(p, k=3, seed=0):
    rng = np.random.default_rng(seed)
    s = 1.0 + (0.0 if p.x_star is None else float(np.linalg.norm(p.x_star)) / math.sqrt(p.d))
    return [s * rng.standard_normal(p.d) for _ in range(k)]


# ----------------------------------------------------------------------------
# kernels against the references

def test_local_grad_matches_reference(prob):
    for x in _points(prob):
        for i in range(prob.n):
            g, gr = prob.grad_i(i, x), ref.grad_i(prob, i, x)
            assert np.allclose(g, gr, rtol=1e-11, atol=1e-11 * (1 + np.abs(gr).max()))
            assert prob.f_i(i, x) == pytest.approx(ref.f_i(prob, i, x), rel=1e-11, abs=1e-12)
        assert prob.f(x) == pytest.approx(ref.f(prob, x), rel=1e-11, abs=1e-12)
        assert np.allclose(prob.grad(x), ref.grad(prob, x), rtol=1e-10,
                           atol=1e-11 * (1 + np.abs(ref.grad(prob, x)).max()))



@pytest.mark.parametrize("kind", [LSQ, LOGREG, LOGREG_NC])
@pytest.mark.parametrize("d", [1, 13, 80, 1100])
def test_local_grad_every_block_shape(kind, d):
    """Worker blocks of 0..19 rows cover every path of the blocked kernel
    (8-row blocks when d >= WIDE_D, 4-row blocks, the 2- and 1-row tails),
    with large |a_j^T x| on both sides of the logistic branch."""
    from shiftbench.problems import Problem
    from shiftbench.problems.base import WIDE_D
    assert 1100 >= WIDE_D > 80
    rng = np.random.default_rng(d)
    sizes = np.arange(20)
    off = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    A = rng.standard_normal((off[-1], d)) * 3.0 / math.sqrt(d)
    b = rng.choice([-1.0, 1.0], off[-1]) if kind != LSQ else rng.standard_normal(off[-1])
    p = Problem("t", kind, A, b, off, rng.uniform(0.5, 2.0, sizes.size), 0.3, 1.0,
                np.ones(sizes.size), 0.0, np.zeros(d))
    for x in (rng.standard_normal(d), 10.0 * rng.standard_normal(d)):
        for i in range(p.n):
            g, gr = p.grad_i(i, x), ref.grad_i(p, i, x)
            assert np.allclose(g, gr, rtol=1e-12, atol=1e-12 * (1 + np.abs(gr).max())), i
            assert p.f_i(i, x) == pytest.approx(ref.f_i(p, i, x), rel=1e-12, abs=1e-12)

def _sparse_rows_problem(kind, N=203, d=96, n=7, seed=0):
    """A Problem whose rows have 0..6 nonzeros (one empty row, one row of
    exactly the widest count), large |a_j^T x| on both logistic branches."""
    from shiftbench.problems import Problem
    rng = np.random.default_rng(seed)
    A = np.zeros((N, d))
    for j in range(N):
        c = 0 if j == 5 else rng.integers(1, 7)
        A[j, rng.choice(d, c, replace=False)] = rng.standard_normal(c) * 3.0
    b = rng.choice([-1.0, 1.0], N) if kind != LSQ else rng.standard_normal(N)
    off = np.linspace(0, N, n + 1).astype(np.int64)
    return Problem("t", kind, A, b, off, rng.uniform(0.5, 2.0, n), 0.3, 1.0, np.ones(n), 0.0,
                   np.zeros(d))


def test_ell_rows_hold_exactly_the_nonzeros():
    from shiftbench.problems.base import ell_rows
    A = _sparse_rows_problem(LSQ).A
    E = ell_rows(A)
    w = (E.shape[1] - 1) // 2
    assert w == np.count_nonzero(A, axis=1).max()
    back = np.zeros_like(A)
    for j in range(A.shape[0]):
        c = int(E[j, 0])
        cols = E[j, 1 + w:1 + w + c].astype(np.int64)
        assert np.all(np.diff(cols) > 0) and np.all(E[j, 1 + c:1 + w] == 0.0)
        back[j, cols] = E[j, 1:1 + c]
    assert np.array_equal(back, A)


@pytest.mark.parametrize("kind", [LSQ, LOGREG, LOGREG_NC])
def test_sparse_rows_gradient_matches_the_dense_one(kind):
    """local_grad on ELL rows (kind + SPARSE) is the dense kernel's gradient
    and loss to rounding, on every worker, empty rows included."""
    from shiftbench.problems.base import SPARSE, ell_rows, local_grad
    p = _sparse_rows_problem(kind)
    E = ell_rows(p.A)
    rng = np.random.default_rng(1)
    for x in (rng.standard_normal(p.d), 10.0 * rng.standard_normal(p.d)):
        for i in range(p.n):
            g, gs = np.empty(p.d), np.empty(p.d)
            f = local_grad(kind, p.A, p.b, p.offsets, p.scale, p.lam, i, x, g)
            fs = local_grad(kind + SPARSE, E, p.b, p.offsets, p.scale, p.lam, i, x, gs)
            assert np.allclose(gs, g, rtol=1e-13, atol=1e-13 * (1 + np.abs(g).max())), i
            assert fs == pytest.approx(f, rel=1e-13, abs=1e-13)


def test_loops_read_sparse_rows_where_they_win():
    """problem_data passes ELL rows for sparse data (the CPU and MPI loops)
    and dense rows for dense data or when asked (the GPU loops); a DIANA
    run on the sparse form gives the dense form's trace to rounding."""
    from shiftbench.methods.loopdata import problem_data
    from shiftbench.perf_methods import engine_call
    from shiftbench.problems.base import SPARSE, use_sparse_rows
    P = sb_problem_from_sparse()
    assert use_sparse_rows(P.A)
    pd = problem_data(P, P.x0)
    assert pd.kind == P.kind + SPARSE and pd.A.shape[1] < P.d
    assert problem_data(P, P.x0, sparse=False).kind == P.kind
    R = ridge()
    assert not use_sparse_rows(R.A) and problem_data(R, R.x0).kind == R.kind
    ec = engine_call("diana", P, "rand-k(q=0.25)", iters=60)
    ec.one(3)
    sparse_trace = ec.trace.copy()
    ec.pd = problem_data(P, P.x0, sparse=False)
    ec.one(3)
    from shiftbench.methods.engine import C_CYC
    keep = [c for c in range(sparse_trace.shape[1]) if c != C_CYC]    # not the clock
    np.testing.assert_allclose(sparse_trace[:, keep], ec.trace[:, keep], rtol=1e-9, atol=0.0)
    written = np.isfinite(sparse_trace[:, 0])
    assert written.sum() >= 2 and np.isfinite(sparse_trace[written][:, keep]).all()


def sb_problem_from_sparse():
    from shiftbench import problem_from_arrays
    rng = np.random.default_rng(4)
    N, d = 400, 128
    A = np.zeros((N, d))
    for j in range(N):
        A[j, rng.choice(d, 6, replace=False)] = rng.standard_normal(6)
    y = rng.choice([-1.0, 1.0], N)
    return problem_from_arrays(A, y, loss="logistic", n=8, lam=0.1)


def test_gradient_finite_differences(prob):
    x = _points(prob, 1, seed=5)[0]
    h = 1e-6 * (1 + np.linalg.norm(x) / math.sqrt(prob.d))
    for i in range(prob.n):
        g = prob.grad_i(i, x)
        fd = np.array([(prob.f_i(i, x + h * e) - prob.f_i(i, x - h * e)) / (2 * h)
                       for e in np.eye(prob.d)])
        assert np.allclose(g, fd, rtol=1e-5, atol=1e-6 * (1 + np.abs(g).max()))


def test_constants_against_eigen_solves(prob):
    c = ref.constants(prob)
    assert prob.L == pytest.approx(c["L"], rel=1e-10)
    assert np.allclose(prob.L_i, c["L_i"], rtol=1e-10)
    assert prob.mu == pytest.approx(c["mu"], rel=1e-9, abs=1e-12)
    assert prob.L_plus == pytest.approx(c["L_plus"], rel=1e-10)
    assert prob.L <= prob.L_max * (1 + 1e-12)
    assert prob.L_max == pytest.approx(float(np.max(c["L_i"])), rel=1e-10)


def test_smoothness_bounds_hold_at_random_points(prob):
    """Every Hessian (exact, at random points) stays within the constants."""
    for x in _points(prob, 2, seed=7):
        Hs = [ref.hessian_i(prob, i, x) for i in range(prob.n)]
        for Li, H in zip(prob.L_i, Hs):
            ev = np.linalg.eigvalsh(H)
            assert ev[-1] <= Li * (1 + 1e-10) and ev[0] >= -Li * (1 + 1e-10)
        evm = np.linalg.eigvalsh(sum(Hs) / prob.n)
        assert evm[-1] <= prob.L * (1 + 1e-10)
        if prob.kind != LOGREG_NC:
            assert evm[0] >= prob.mu * (1 - 1e-9)


def test_x_star(prob):
    if prob.kind == LOGREG_NC:
        assert prob.x_star is None and prob.mu == 0.0
        return
    xs = prob.x_star
    scale = max(1.0, float(np.abs(prob.grad_star).max()))
    assert np.linalg.norm(prob.grad(xs)) < 1e-10 * scale
    assert np.allclose(prob.grad_star.sum(axis=0), 0.0, atol=1e-10 * scale)
    for i in range(prob.n):
        assert np.allclose(prob.grad_star[i], ref.grad_i(prob, i, xs), atol=1e-10 * scale)
    assert prob.f_star == pytest.approx(ref.f(prob, xs), rel=1e-12, abs=1e-14)
    if prob.kind == LSQ:
        xr = ref.x_star_lsq(prob)
        assert np.allclose(xs, xr, rtol=1e-8, atol=1e-8 * (1 + np.abs(xr).max()))
    # a minimum: f(x* + small) > f*
    rng = np.random.default_rng(1)
    for _ in range(3):
        assert prob.f(xs + 1e-3 * rng.standard_normal(prob.d)) > prob.f_star


def test_logreg_x_star_very_accurate():
    p = logreg(synthetic=1, N=500, d=10, n=5, lam=1e-3, seed=4)
    assert p.meta["grad_norm_star"] < 1e-12
    assert np.linalg.norm(ref.grad(p, p.x_star)) < 1e-12


# ----------------------------------------------------------------------------
# quadratics

@pytest.mark.parametrize("kappa,n,d,hetero,interp", [
    (1.0, 3, 4, 0.0, 0), (10.0, 10, 20, 1.0, 0), (1e3, 4, 30, 5.0, 1),
    (1e5, 8, 12, 0.5, 0), (100.0, 1, 5, 2.0, 1)])
def test_quadratic_kappa_exact(kappa, n, d, hetero, interp):
    p = quadratic(kappa=kappa, n=n, d=d, hetero=hetero, interp=interp, seed=1, L=2.0)
    ev = np.linalg.eigvalsh(sum(ref.hessian_i(p, i) for i in range(n)) / n)
    assert ev[-1] == pytest.approx(2.0, rel=1e-12)
    assert ev[-1] / ev[0] == pytest.approx(kappa, rel=1e-9)
    assert p.kappa == pytest.approx(kappa, rel=1e-9)
    if n > 1:
        assert p.L_max / p.L == pytest.approx(1 + (hetero / (1 + hetero)) * (n - 1), rel=1e-9)


def test_quadratic_interpolation():
    p = quadratic(kappa=100, n=6, d=10, hetero=3, interp=1, seed=5)
    assert np.all(p.x_star == 0) and np.all(p.grad_star == 0) and p.f_star == 0
    for i in range(p.n):
        assert np.all(ref.grad_i(p, i, np.zeros(p.d)) == 0)
        assert np.all(p.grad_i(i, np.zeros(p.d)) == 0)
    assert not np.allclose(p.A[:p.d], p.A[p.d:2 * p.d])       # Hessians do differ
    assert np.linalg.norm(p.x0 - p.x_star) == pytest.approx(1.0)


def test_quadratic_heterogeneity_knob():
    p0 = quadratic(kappa=20, n=5, d=6, hetero=0, seed=3)
    for i in range(1, 5):
        assert np.allclose(p0.A[i * 6:(i + 1) * 6], p0.A[:6])
        assert np.allclose(p0.b[i * 6:(i + 1) * 6], p0.b[:6])
    assert np.abs(p0.grad_star).max() < 1e-12                  # identical workers
    spread = [np.sqrt(np.mean(np.sum(quadratic(kappa=20, n=5, d=6, hetero=h, seed=3)
                                      .grad_star ** 2, axis=1))) for h in (0.1, 1.0, 10.0)]
    assert spread[0] < spread[1] < spread[2]


def test_quadratic_lmax_ratio():
    p = quadratic(kappa=30, n=10, d=15, lmax_ratio=4.0, seed=2)
    assert p.L_max / p.L == pytest.approx(4.0, rel=1e-9)
    assert p.kappa == pytest.approx(30, rel=1e-9)
    with pytest.raises(ValueError, match="lmax_ratio"):
        quadratic(n=3, d=4, lmax_ratio=50)
    assert quadratic(n=3, d=4, lmax_ratio=3).L_max == pytest.approx(3.0, rel=1e-13)
    with pytest.raises(ValueError, match=r"allowed 1 <= lmax_ratio <= n = 1"):
        quadratic(n=1, d=4, lmax_ratio=1.5)


@pytest.mark.parametrize("kw,msg", [({"kappa": 0.5}, "kappa"), ({"hetero": -1}, "hetero"),
                                    ({"interp": 2}, "interp"), ({"d": 1, "kappa": 3}, "d = 1")])
def test_quadratic_bad_parameters(kw, msg):
    with pytest.raises(ValueError, match=msg):
        quadratic(**kw)


# ----------------------------------------------------------------------------
# ridge (Shulgin & Richtárik, UAI 2022, §4)

def test_ridge_matches_paper_setup():
    from sklearn.datasets import make_regression
    p = ridge(seed=0)
    assert (p.n, p.d, p.A.shape) == (10, 80, (100, 80))
    assert p.lam == pytest.approx(1 / 100) and np.all(p.scale == 10)
    assert np.all(np.diff(p.offsets) == 10)
    A, y = make_regression(n_samples=100, n_features=80, random_state=0)
    # a row permutation of sklearn's data
    key = lambda M: np.lexsort(M.T[::-1])                      # noqa: E731
    assert np.array_equal(p.A[key(p.A)], A[key(A)])
    assert np.array_equal(np.sort(p.b), np.sort(y))
    assert not np.array_equal(p.A, A)                           # really shuffled
    x = np.random.default_rng(0).standard_normal(80)
    f = 0.5 * np.sum((A @ x - y) ** 2) + 0.5 / 100 * x @ x      # the paper's f
    assert p.f(x) == pytest.approx(f, rel=1e-12)
    H = A.T @ A + np.eye(80) / 100
    ev = np.linalg.eigvalsh(H)
    assert p.L == pytest.approx(ev[-1], rel=1e-10) and p.mu == pytest.approx(ev[0], rel=1e-8)
    assert np.allclose(p.x_star, np.linalg.solve(H, A.T @ y), rtol=1e-8, atol=1e-8)


def test_ridge_x0_variance_10():
    x0 = np.concatenate([ridge(seed=s).x0 for s in range(6)])
    assert abs(np.mean(x0)) < 0.6 and 8.0 < np.var(x0) < 12.0


def test_reproducibility():
    for build in (lambda s: ridge(seed=s), lambda s: quadratic(kappa=10, n=3, d=4, hetero=1, seed=s),
                  lambda s: logreg(synthetic=1, N=100, d=3, n=2, seed=s)):
        a, b, c = build(0), build(0), build(1)
        for f in ("A", "b", "offsets", "scale", "x0"):
            assert np.array_equal(getattr(a, f), getattr(b, f))
        assert a.L == b.L and np.array_equal(a.x_star, b.x_star)
        assert not np.array_equal(a.A, c.A) or not np.array_equal(a.x0, c.x0)


def test_ridge_does_not_need_sklearn(monkeypatch):
    """ridge builds without scikit-learn (its make_regression is reproduced)."""
    ref = ridge(seed=0)
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    P = ridge(seed=0)
    np.testing.assert_array_equal(P.A, ref.A)


# ----------------------------------------------------------------------------
# logistic regression

def test_logreg_blocks_and_spec_formula():
    p = logreg_nc(synthetic=1, N=103, d=4, n=10, lam=0.1, seed=2)
    assert p.meta["dropped_rows"] == 3 and p.A.shape == (100, 4)
    assert np.all(np.diff(p.offsets) == 10) and np.all(p.scale == 0.1)
    x = np.array([0.3, -1.2, 2.0, 0.0])
    A, b = p.A, p.b
    f = np.mean(np.log1p(np.exp(-b * (A @ x)))) + 0.1 * np.sum(x * x / (1 + x * x))
    assert p.f(x) == pytest.approx(f, rel=1e-12)
    L_i = [np.linalg.eigvalsh(A[10 * i:10 * i + 10].T @ A[10 * i:10 * i + 10])[-1] / 40 + 0.2
           for i in range(10)]
    assert np.allclose(p.L_i, L_i, rtol=1e-12)
    assert p.L_plus == pytest.approx(math.sqrt(np.mean(np.square(L_i))))
    q = logreg(synthetic=1, N=103, d=4, n=10, lam=0.1, seed=2)
    assert q.mu == 0.1 and q.L == pytest.approx(p.L - 0.1)


def test_logreg_needs_data():
    with pytest.raises(ValueError, match="data=PATH"):
        logreg()
    with pytest.raises(FileNotFoundError, match="no such LIBSVM file"):
        logreg(data="/nonexistent/x.txt")


def test_logreg_from_file_maps_labels(tmp_path):
    rng = np.random.default_rng(0)
    lines = []
    for j in range(40):
        lab = 1 + (j % 2)                                        # labels 1/2 like mushrooms
        feats = " ".join(f"{k + 1}:{rng.standard_normal():.6f}" for k in range(3))
        lines.append(f"{lab} {feats}")
    f = _write(tmp_path, "toy.txt", "\n".join(lines) + "\n")
    p = make(f"logreg(data={f}, n=4, lam=0.01)")
    assert set(np.unique(p.b)) == {-1.0, 1.0}
    assert p.b[0] == -1.0 and p.b[1] == 1.0                      # 1 -> -1, 2 -> +1
    assert np.linalg.norm(p.grad(p.x_star)) < 1e-12


# ----------------------------------------------------------------------------
# LIBSVM loader

@pytest.mark.parametrize("text,msg", [
    ("1 1:0.5 2:1\n-1 1:x 2:3\n", "malformed"),
    ("", "empty"),
    ("1 1:0.5\n-1 1:nan\n", "NaN"),
    ("1 1:0.5\n-1 1:inf\n", "NaN or infinite"),
    ("1 1:0.5\n2 1:1\n3 2:1\n", "3 distinct label"),
    ("1 1:0.5\n1 2:1\n", "1 distinct label"),
])
def test_loader_errors(tmp_path, text, msg):
    f = _write(tmp_path, "bad.txt", text)
    with pytest.raises(ValueError, match=msg) as e:
        load_libsvm(f)
    s = str(e.value)
    assert "\n" not in s and str(f) in s


def test_loader_label_maps_and_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SHIFTBENCH_CACHE", str(tmp_path / "c"))
    f = _write(tmp_path, "p.txt", "0 1:0.5 3:1\n1 2:2\n0 1:-1\n")
    d = load_libsvm(f)
    assert d.X.shape == (3, 3) and d.X.flags.c_contiguous
    assert np.array_equal(d.y, [-1.0, 1.0, -1.0])
    assert np.array_equal(d.X, [[0.5, 0, 1], [0, 2, 0], [-1, 0, 0]])
    cached = list((tmp_path / "c").rglob("*.npz"))
    assert len(cached) == 1
    d2 = load_libsvm(f)                                          # from the cache
    assert np.array_equal(d.X, d2.X) and np.array_equal(d.y, d2.y)
    f.write_text("-1 1:7\n1 2:1\n")                              # changed file -> re-read
    os.utime(f, ns=(os.stat(f).st_atime_ns, os.stat(f).st_mtime_ns + 10 ** 9))
    d3 = load_libsvm(f)
    assert d3.X.shape == (2, 2) and d3.X[0, 0] == 7


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared LIBSVM data not available")
@pytest.mark.parametrize("name", sorted(REAL))
def test_real_datasets(name):
    d = load_libsvm(SHARED / f"{name}.txt")
    assert d.X.shape == REAL[name]
    assert set(np.unique(d.y)) == {-1.0, 1.0}
    p = make(f"logreg-nc(data={SHARED / (name + '.txt')}, lam=0.1, n=20)")
    assert p.kind == LOGREG_NC and p.n == 20 and p.d == REAL[name][1]
    assert p.meta["dropped_rows"] == REAL[name][0] % 20
    c = ref.constants(p)
    assert np.allclose(p.L_i, c["L_i"], rtol=1e-10) and p.L == pytest.approx(c["L"], rel=1e-10)
    x = 0.1 * np.random.default_rng(0).standard_normal(p.d)
    assert p.f(x) == pytest.approx(ref.f(p, x), rel=1e-11)
    assert np.allclose(p.grad(x), ref.grad(p, x), rtol=1e-9, atol=1e-12)


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared LIBSVM data not available")
def test_real_convex_x_star():
    p = make(f"logreg(data={SHARED / 'mushrooms.txt'}, lam=0.01, n=10)")
    assert np.linalg.norm(p.grad(p.x_star)) < 1e-12
    assert np.allclose(p.grad_star.sum(axis=0), 0, atol=1e-11)


# ----------------------------------------------------------------------------
# the divergence example of Beznosikov et al., On biased compression

@pytest.mark.parametrize("t", [1.0, -0.5, 3.0])
@pytest.mark.parametrize("eta", [0.01, 0.1, 0.5])
def test_divergence3_top1_step(t, eta):
    p = make(f"divergence3(t={t})") if t != 1.0 else make("divergence3")
    assert p.kind == LSQ and (p.n, p.d) == (3, 3) and p.lam == 0.5 and np.all(p.scale == 2)
    x0 = np.full(3, t)
    assert np.array_equal(p.x0, x0)
    a = [np.array([-3.0, 2, 2]), np.array([2.0, -3, 2]), np.array([2.0, 2, -3])]
    x = x0.copy()
    for k in range(1, 4):
        msgs = []
        for i in range(3):
            g = p.grad_i(i, x)
            assert np.allclose(g, 2 * (a[i] @ x) * a[i] + 0.5 * x)   # <a_i,x>^2 + |x|^2/4
            j = int(np.argmax(np.abs(g)))                            # Top-1 by hand
            c = np.zeros(3)
            c[j] = g[j]
            msgs.append(c)
        x = x - eta * sum(msgs) / 3
        assert np.allclose(x, (1 + 11 * eta / 6) ** k * x0, rtol=1e-12)
    assert np.allclose(p.x_star, 0) and p.mu > 0


# ----------------------------------------------------------------------------
# registry, parser, CLI

@pytest.mark.parametrize("spec,name,kw", [
    ("ridge", "ridge", {}),
    ("  RIDGE ( Seed = 3 ) ", "ridge", {"seed": 3}),
    ("Quadratic(kappa=1e2, n=10, d=50, hetero=1)", "quadratic",
     {"kappa": 100.0, "n": 10, "d": 50, "hetero": 1.0}),
    ("quad(interp=1, lmax_ratio=2.5)", "quadratic", {"interp": 1, "lmax_ratio": 2.5}),
    ("logreg-nc(data=/path/to/my-file.v2.txt, lam=0.1, n=20)", "logreg-nc",
     {"data": "/path/to/my-file.v2.txt", "lam": 0.1, "n": 20}),
    ("logreg_NC(data=~/Data/A9A.txt)", "logreg-nc", {"data": "~/Data/A9A.txt"}),
    ("logreg(data='/my dir/x (1).txt', synthetic=0)", "logreg",
     {"data": "/my dir/x (1).txt", "synthetic": 0}),
    ('logreg(data="a,b=c.txt")', "logreg", {"data": "a,b=c.txt"}),
    ("logreg(synthetic=1, N=50, n=5)", "logreg", {"synthetic": 1, "N": 50, "n": 5}),
    ("divergence3", "divergence3", {}),
    ("Divergence-3(t=2)", "divergence3", {"t": 2.0}),
])
def test_parse(spec, name, kw):
    e, got = parse(spec)
    assert e.name == name and got == kw


@pytest.mark.parametrize("spec,msg", [
    ("nosuch", "unknown problem 'nosuch'.*allowed: ridge, quadratic"),
    ("ridge(sed=1)", "unknown parameter 'sed'; allowed: seed, m, d, n, lam"),
    ("ridge(n=2.5)", "n must be an integer"),
    ("quadratic(interp=3)", "interp must be 0 or 1"),
    ("quadratic(kappa=abc)", "not a number"),
    ("ridge(seed=1", "expected"),
    ("ridge(seed=1) x", "unexpected"),
    ("ridge(seed=1, seed=2)", "given twice"),
    ("ridge(seed)", "expected '='"),
    ("", "non-empty"),
])
def test_parse_errors(spec, msg):
    with pytest.raises(ValueError, match=msg) as e:
        make(spec)
    assert "\n" not in str(e.value)


def test_make_names_round_trip_and_overrides():
    p = make("quadratic(KAPPA=20, n=3, d=4, hetero=0.5, seed=9)")
    assert p.name == "quadratic(kappa=20, n=3, d=4, hetero=0.5, seed=9)"
    q = make(p.name)
    assert np.array_equal(p.A, q.A) and np.array_equal(p.x0, q.x0)
    r = make("quadratic(kappa=20, n=3, d=4)", hetero=0.5, seed=9)
    assert np.array_equal(p.A, r.A)
    assert make("ridge(seed=2)").name == "ridge(seed=2)"
    assert make("logreg(synthetic=1, N=40, d=3, n=4)").name.startswith("logreg(")


def test_list_problems_and_examples_build():
    rows = list_problems()
    assert [r["name"] for r in rows] == ["ridge", "quadratic", "logreg", "logreg-nc",
                                         "divergence3", "lsq"]
    for r in rows:
        e, _ = parse(r["example"])
        assert e.name == r["name"]
        assert set(r["params"]) == set(e.params)


def test_cli(capsys):
    assert cli.main([]) == 0
    out = capsys.readouterr().out
    for n in ("ridge", "quadratic", "logreg-nc", "divergence3"):
        assert n in out
    assert cli.main(["--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in rows} >= {"ridge", "divergence3"}
    assert cli.main(["--json", "divergence3", "quadratic(kappa=7, d=3, n=2)"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got[0]["L_max"] == pytest.approx(34.5) and got[1]["kappa"] == pytest.approx(7)
    assert cli.main(["bogus(1)"]) == 2
    assert "unknown problem" in capsys.readouterr().err


def test_dispatcher_routes_problems(capsys):
    from shiftbench.__main__ import main
    assert main(["problems", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)


# ----------------------------------------------------------------------------
# users' own problems: problem_from_arrays with every split

from shiftbench.problems import problem_from_arrays, spec_with  # noqa: E402
from shiftbench.problems.quadratic import lsq_problem  # noqa: E402


def _arrays(N=23, d=4, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((N, d))
    return A, A @ rng.standard_normal(d) + 0.3 * rng.standard_normal(N), \
        np.where(rng.random(N) < 0.5, 1.0, -1.0)


@pytest.mark.parametrize("split", ["drop", "last", "balanced"])
@pytest.mark.parametrize("loss", ["squared", "logistic", "logistic-nc"])
def test_problem_from_arrays_splits(split, loss):
    import shiftbench as sb
    N, n = 23, 5                                                 # remainder 3
    A, y_reg, y_lab = _arrays(N)
    y = y_reg if loss == "squared" else y_lab
    p = sb.problem_from_arrays(A, y, loss=loss, n=n, lam=0.1, split=split)
    sizes = ref.split_sizes(N, n, split)
    assert np.diff(p.offsets).tolist() == sizes
    assert p.meta["dropped_rows"] == (3 if split == "drop" else 0)
    kept = sum(sizes)
    assert np.array_equal(p.A, A[:kept]) and np.array_equal(p.b, y[:kept])
    assert np.allclose(p.scale, 1.0 / np.array(sizes))
    c = ref.constants(p)                                         # dense eigen-solves
    assert p.L == pytest.approx(c["L"], rel=1e-12)
    assert np.allclose(p.L_i, c["L_i"], rtol=1e-12)
    assert p.mu == pytest.approx(c["mu"], rel=1e-10, abs=1e-14)
    assert p.L_plus == pytest.approx(c["L_plus"], rel=1e-12)
    rng = np.random.default_rng(1)
    for _ in range(3):
        x = rng.standard_normal(A.shape[1])
        for i in range(n):                                       # unequal blocks
            assert np.allclose(p.grad_i(i, x), ref.grad_i(p, i, x), rtol=1e-12, atol=1e-13)
            assert p.f_i(i, x) == pytest.approx(ref.f_i(p, i, x), rel=1e-12)
        assert np.allclose(p.grad(x), ref.grad(p, x), rtol=1e-12, atol=1e-13)
    # f_i is the mean loss over worker i's own rows, straight from NumPy
    x = rng.standard_normal(A.shape[1])
    lo, hi = p.offsets[-2], p.offsets[-1]
    t = A[lo:hi] @ x
    data = (0.5 * np.mean((t - y[lo:hi]) ** 2) if loss == "squared"
            else np.mean(np.logaddexp(0.0, -y[lo:hi] * t)))
    reg = 0.1 * np.sum(x * x / (1 + x * x)) if loss == "logistic-nc" else 0.05 * x @ x
    assert p.f_i(n - 1, x) == pytest.approx(data + reg, rel=1e-12)
    if loss == "squared":
        assert np.allclose(p.x_star, ref.x_star_lsq(p), rtol=1e-10, atol=1e-12)
    if loss != "logistic-nc":
        assert np.linalg.norm(p.grad(p.x_star)) < 1e-12
        assert np.allclose(p.grad_star.sum(axis=0), 0, atol=1e-11)
    else:
        assert p.x_star is None and p.mu == 0


def test_problem_from_arrays_balanced_sizes_differ_by_one():
    A, y, _ = _arrays(N=103, d=3)
    p = problem_from_arrays(A, y, n=10, split="balanced")
    s = np.diff(p.offsets)
    assert s.sum() == 103 and s.max() - s.min() == 1
    q = problem_from_arrays(A, y, n=10, split="last")
    assert np.diff(q.offsets).tolist() == [10] * 9 + [13]
    r = problem_from_arrays(A, y, n=10)                          # default: drop
    assert r.offsets[-1] == 100 and r.meta["dropped_rows"] == 3


@pytest.mark.parametrize("kw,msg", [
    (dict(loss="hinge"), "loss='hinge'; allowed: squared, logistic, logistic-nc"),
    (dict(split="even"), "split='even'; allowed: drop, last, balanced"),
    (dict(n=0), "n .workers. must be an integer >= 1"),
    (dict(n=2.5), "n .workers. must be an integer"),
    (dict(n=30), "23 rows cannot give n = 30"),
    (dict(lam=-1), "lam must be a finite number >= 0"),
    (dict(lam=float("nan")), "lam must be a finite number >= 0"),
    (dict(loss="logistic"), "labels must be -1 or \\+1"),
    (dict(x0=[1.0]), "x0 must be 4 finite numbers"),
])
def test_problem_from_arrays_errors(kw, msg):
    A, y, _ = _arrays()
    with pytest.raises(ValueError, match=msg) as e:
        problem_from_arrays(A, y, **kw)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_data_is_a_one_line_error(bad):
    A, y, _ = _arrays()
    A[3, 1] = bad
    with pytest.raises(ValueError, match="A contains NaN or infinite") as e:
        problem_from_arrays(A, y, n=2)
    assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="A has 1 NaN or infinite entry"):
        lsq_problem("mine", A, y, np.array([0, 23]), np.ones(1), 0.0, np.zeros(4))
    A, y, _ = _arrays()
    y[0] = bad
    with pytest.raises(ValueError, match="b has 1 NaN or infinite entry"):
        lsq_problem("mine", A, y, np.array([0, 23]), np.ones(1), 0.0, np.zeros(4))
    with pytest.raises(ValueError, match="y contains NaN"):
        problem_from_arrays(A, y)


def test_problem_from_arrays_sparse_and_lists():
    sp = pytest.importorskip("scipy.sparse")
    A, y, _ = _arrays()
    p = problem_from_arrays(sp.csr_matrix(A), list(y), n=3)
    q = problem_from_arrays(A.tolist(), y, n=3)
    assert np.array_equal(p.A, q.A) and p.L == q.L


# ----------------------------------------------------------------------------
# quadratic: closed-form constants (no eigen-solve), large d

def test_quadratic_roots_match_the_definition():
    """A_i^T A_i = Q diag(lambda m_i^2) Q^T with mean lambda, and the closed-form
    constants equal dense eigen-solves / solves of the stored data."""
    from shiftbench.problems.quadratic import _spectrum
    for kw in ({"hetero": 0.7}, {"lmax_ratio": 3.0}, {"lmax_ratio": 4.0, "interp": 1},
               {"hetero": 3.0, "kappa": 1.0}):
        p = quadratic(n=4, d=9, seed=11, L=3.0, **{"kappa": 50.0, **kw})
        lamb = _spectrum(p.meta["kappa_target"], 9, 3.0)
        Hs = [ref.hessian_i(p, i) for i in range(4)]
        ev = np.linalg.eigvalsh(sum(Hs) / 4)
        assert np.allclose(ev, lamb, rtol=1e-12)
        t = p.meta["mixing_t"]
        for H in Hs:                       # same eigenvectors as the mean
            assert np.allclose(H @ (sum(Hs) / 4), (sum(Hs) / 4) @ H, atol=1e-12)
            e = np.linalg.eigvalsh(H)
            assert e[0] >= (1 - t) * lamb[0] - 1e-12 * lamb[-1]
        c = ref.constants(p)
        assert p.L == pytest.approx(c["L"], rel=1e-13) and p.mu == pytest.approx(c["mu"], rel=1e-12)
        assert np.allclose(p.L_i, c["L_i"], rtol=1e-13)
        assert p.L_plus == pytest.approx(c["L_plus"], rel=1e-13)
        assert p.L_max / p.L == pytest.approx(1 + t * 3, rel=1e-13)
        xs = ref.x_star_lsq(p)
        assert np.allclose(p.x_star, xs, rtol=1e-11, atol=1e-13)
        assert p.f_star == pytest.approx(ref.f(p, xs), rel=1e-11, abs=1e-15)
        gs = np.array([ref.grad_i(p, i, p.x_star) for i in range(4)])
        assert np.allclose(p.grad_star, gs, atol=1e-12)


def test_quadratic_large_d_exact_constants():
    p = quadratic(kappa=100, n=3, d=300, hetero=1, seed=1)      # closed-form constants
    assert p.L == pytest.approx(1.0, rel=1e-12) and p.kappa == pytest.approx(100, rel=1e-10)
    assert np.linalg.norm(p.grad(p.x_star)) < 1e-10


def test_quadratic_huge_d_is_a_memory_error():
    with pytest.raises(ValueError, match=r"quadratic\(d=100000000\).*needs .* of memory, "
                                         r"but only .* is available") as e:
        make("quadratic(d=1e8)")
    assert "\n" not in str(e.value)



# ----------------------------------------------------------------------------
# lsq: the synthetic least squares for speed work (constants via Gram matrices)

@pytest.mark.parametrize("n,d,rows,lam", [(3, 40, 4, None), (5, 200, 7, 0.3),
                                          (4, 8, 2, None), (3, 5, 4, 0.01), (1, 9, 3, None)])
def test_lsq_constants_match_dense_solves(n, d, rows, lam):
    """N < d (Gram path), N = d and N > d (dense path) against eigen-solves of
    the d x d Hessians and a dense solve of the normal equations."""
    from shiftbench.problems import lsq
    p = lsq(n=n, d=d, rows=rows, seed=7, lam=lam)
    c = ref.constants(p)
    assert p.n == n and p.d == d and p.A.shape == (n * rows, d)
    assert p.lam == (1.0 / (n * rows) if lam is None else lam)
    assert p.L == pytest.approx(c["L"], rel=1e-11)
    assert p.mu == pytest.approx(max(c["mu"], p.lam), rel=1e-9)
    assert np.allclose(p.L_i, c["L_i"], rtol=1e-11)
    assert p.L_plus == pytest.approx(c["L_plus"], rel=1e-11)
    xs = ref.x_star_lsq(p)
    assert np.allclose(p.x_star, xs, rtol=1e-9, atol=1e-11 * np.abs(xs).max())
    assert p.f_star == pytest.approx(ref.f(p, xs), rel=1e-12)
    gs = np.array([ref.grad_i(p, i, p.x_star) for i in range(n)])
    assert np.allclose(p.grad_star, gs, rtol=1e-9, atol=1e-12 * (1 + np.abs(gs).max()))
    assert np.linalg.norm(p.grad(p.x_star)) < 1e-12 * (1 + np.abs(gs).max())


def test_lsq_spec_names_and_reproducibility():
    p = make("lsq(n=2, d=30, rows=3, seed=1)")
    assert p.name == "lsq(n=2, d=30, rows=3, seed=1)"
    q = make(p.name)
    assert np.array_equal(p.A, q.A) and np.array_equal(p.b, q.b) and np.array_equal(p.x0, q.x0)
    r = make("large-lsq(n=2, d=30, rows=3, seed=2)")
    assert not np.array_equal(p.A, r.A)
    # entries uniform with variance 1/d: rows of squared norm ~1
    big = make("lsq(n=4, d=5000, rows=5)")
    assert np.abs(big.A).max() <= math.sqrt(3.0 / 5000) * (1 + 1e-12)
    assert np.mean(np.sum(big.A ** 2, axis=1)) == pytest.approx(1.0, abs=0.05)
    assert big.meta["memory_bytes"] == big.A.nbytes + big.b.nbytes


@pytest.mark.parametrize("spec,msg", [
    ("lsq(d=1e9)", r"lsq\(d=1000000000\): the data .* needs .* of memory, but only"),
    ("lsq(lam=0)", "lam must be a finite number in"),
    ("lsq(rows=0)", "rows must be an integer in"),
    ("lsq(n=2, d=3, rows=1e9)", "needs .* of memory"),
])
def test_lsq_errors(spec, msg):
    with pytest.raises(ValueError, match=msg) as e:
        make(spec)
    assert "\n" not in str(e.value)

def test_memory_limit_env(monkeypatch):
    monkeypatch.setenv("SHIFTBENCH_MEMORY_LIMIT", "1e5")
    with pytest.raises(ValueError, match="needs .* of memory, but only 97.7 KiB"):
        quadratic(d=60, n=2)
    with pytest.raises(ValueError, match="synthetic data 1000 x 20 needs"):
        make("logreg(synthetic=1)")
    monkeypatch.setenv("SHIFTBENCH_MEMORY_LIMIT", "lots")
    with pytest.raises(ValueError, match="SHIFTBENCH_MEMORY_LIMIT='lots' is not a number"):
        quadratic(d=4)


# ----------------------------------------------------------------------------
# spec ranges, choices, quoting

@pytest.mark.parametrize("spec,msg", [
    ("quadratic(seed=-1)", r"seed must be an integer in \[0, 2\^63\)"),
    ("quadratic(seed=1e20)", r"seed must be an integer in \[0, 2\^63\)"),
    ("ridge(seed=4294967296)", r"seed must be an integer in \[0, 2\^32\)"),
    ("quadratic(n=0)", r"n must be an integer in \[1, 2\^31\)"),
    ("quadratic(kappa=0.5)", r"kappa must be a finite number in \[1, inf\)"),
    ("quadratic(kappa=inf)", r"kappa must be a finite number"),
    ("quadratic(kappa=nan)", r"kappa must be a number in \[1, inf\)"),
    ("quadratic(L=0)", r"L must be a finite number in \(0, inf\)"),
    ("quadratic(lmax_ratio=0.5)", r"lmax_ratio must be a finite number in \[1, inf\)"),
    ("logreg(lam=-0.1, synthetic=1)", r"lam must be a finite number in \[0, inf\)"),
    ("logreg(split=even, synthetic=1)", "split='even'; allowed: drop, last, balanced"),
    ("logreg(zero_based=2)", "zero_based must be 0 or 1"),
    ("divergence3(t=inf)", "t must be a finite number"),
    ("quadratic(hetero=1e308, d=3)", "overflows float64"),
    ("quadratic(L=1e308, d=3)", "float64"),
])
def test_spec_ranges(spec, msg):
    with pytest.raises(ValueError, match=msg) as e:
        make(spec)
    assert "\n" not in str(e.value)


def test_ranges_are_listed():
    rows = {r["name"]: r for r in list_problems()}
    assert rows["quadratic"]["params"]["seed"]["range"] == "[0, 2^63)"
    assert rows["quadratic"]["params"]["L"]["range"] == "(0, inf)"
    assert rows["logreg"]["params"]["split"]["range"] == "drop | last | balanced"


def test_split_spec_option():
    p = make("logreg(synthetic=1, N=103, d=3, n=10, split=balanced)")
    assert np.diff(p.offsets).max() == 11 and p.offsets[-1] == 103
    assert p.name == "logreg(n=10, synthetic=1, N=103, d=3, split=balanced)"
    q = make(p.name)
    assert np.array_equal(p.offsets, q.offsets)
    r = make("logreg(synthetic=1, N=103, d=3, n=10, split=last)")
    assert np.diff(r.offsets)[-1] == 13


def test_names_round_trip_floats_exactly():
    p = make("quadratic(kappa=12.345678901, d=3, n=2)")
    assert p.name == "quadratic(kappa=12.345678901, n=2, d=3)"
    assert make(p.name).L_i.tolist() == p.L_i.tolist()


def test_quoted_data_paths(tmp_path):
    d = tmp_path / "my data, v2 (copy)"
    d.mkdir()
    f = d / "it's here.txt"
    f.write_text("".join(f"{1 if j % 2 else -1} 1:{j % 3 + 0.5} 2:{(j * 7) % 5 - 2}\n"
                         for j in range(20)))
    dq = tmp_path / 'both"quote\'s.txt'
    dq.write_text(f.read_text())
    a = make(f'logreg(data="{f}", n=2)')
    assert a.d == 2 and a.n == 2
    g = tmp_path / "my data, v2.txt"
    g.write_text(f.read_text())
    b = make(f"logreg(data='{g}', n=2)")
    c = make("logreg(n=2)", data=str(g))                         # passed apart
    c2 = make("logreg(n=2)", data=g)                             # a Path works too
    assert np.array_equal(b.A, c.A) and np.array_equal(c.A, c2.A)
    s = spec_with("logreg-nc(lam=0.1)", data=str(g))
    assert s == f"logreg-nc(data='{g}', lam=0.1)"
    assert parse(s)[1]["data"] == str(g)
    s2 = spec_with("logreg(n=2)", data=str(f))                   # has a ' -> "..."
    assert parse(s2)[1]["data"] == str(f) and make(s2).d == 2
    assert make("logreg(n=2)", data=str(dq)).d == 2              # any path as a keyword
    with pytest.raises(ValueError, match="both quote characters"):
        spec_with("logreg(n=2)", data=str(dq))


def test_missing_data_file_is_a_value_error():
    with pytest.raises(ValueError, match="no such LIBSVM file"):
        make("logreg(data=/nonexistent/x.txt)")


# ----------------------------------------------------------------------------
# property: random specs build or give a one-line ValueError

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

_VALS = ["0", "1", "2", "3", "-1", "2.5", "1e20", "1e308", "-1e308", "nan", "inf", "-inf",
         "abc", "''", '""', "0x10", "1_0", "none", "drop", "last", "balanced", "4", "9",
         "0.5", "1e-300", "2147483648", "9223372036854775808"]
_KEYS = ["seed", "m", "d", "n", "lam", "kappa", "hetero", "interp", "L", "lmax_ratio",
         "synthetic", "N", "split", "zero_based", "t", "data", "bogus", "D", "Seed"]
_NAMES = ["ridge", "quadratic", "logreg", "logreg-nc", "divergence3", "nosuch", "QUAD",
          "logreg_nc", ""]


@st.composite
def _specs(draw):
    if draw(st.integers(0, 4)) == 0:
        return draw(st.text(alphabet="ridgequaxl(),=' \"0123456789.-_ne", max_size=30))
    name = draw(st.sampled_from(_NAMES))
    args = draw(st.lists(st.tuples(st.sampled_from(_KEYS), st.sampled_from(_VALS)),
                         max_size=4))
    # keep valid specs small: the sizes stay below 10
    sizes = {"m", "d", "n", "N", "D"}
    args = [(k, v) for k, v in args if not (k in sizes and v in ("2147483648", "1e20",
                                                                 "9223372036854775808"))
            or draw(st.booleans())]
    return name + "(" + ", ".join(f"{k}={v}" for k, v in args) + ")"


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(_specs())
def test_random_specs_build_or_one_line_value_error(spec):
    try:
        make(spec)
    except ValueError as e:
        assert "\n" not in str(e) and str(e)


@pytest.mark.parametrize("m,d,seed", [(100, 80, 0), (100, 80, 3), (37, 5, 11), (20, 64, 2)])
def test_ridge_data_equals_sklearn_make_regression(m, d, seed):
    """ridge's NumPy copy of make_regression gives scikit-learn's arrays exactly."""
    skd = pytest.importorskip("sklearn.datasets")
    from shiftbench.problems.ridge import make_regression
    A, y = make_regression(n_samples=m, n_features=d, random_state=seed)
    A2, y2 = skd.make_regression(n_samples=m, n_features=d, random_state=seed)
    np.testing.assert_array_equal(A, A2)
    np.testing.assert_array_equal(y, y2)
