"""CGD, error feedback and the 3PC methods (shiftbench.methods.tpc):
NumPy reference agreement, the Top-1 divergence example, reductions to GD,
honest bits, theory defaults, CLI and bad input."""
import json
import math
from pathlib import Path

import numpy as np
import pytest

import shiftbench.harness as H
from shiftbench.compressors import Compressor
from shiftbench.methods import METHODS
from shiftbench.methods import theory as T
from shiftbench.naive import tpc as N
from shiftbench.problems import make

TPC_NAMES = ("cgd", "ef", "ef21", "lag", "clag", "3pcv1", "3pcv2", "3pcv3", "3pcv4",
             "3pcv5", "marina")
LIBSVM = Path(__file__).resolve().parents[2] / "shared" / "data" / "libsvm"


@pytest.fixture(scope="module")
def small():
    return make("quadratic(kappa=10, n=4, d=12, hetero=1, seed=2)")


@pytest.fixture(scope="module")
def div3():
    return make("divergence3")


# ---------------------------------------------------------------- reference
CASES = [
    ("cgd", "top-k(k=2)", None, {}),
    ("cgd", "rand-k(k=3)", None, {}),
    ("dcgd", "crand-k(k=3)", None, {}),
    ("ef", "crand-k(k=2)", None, {}),
    ("ef", "top-k(k=1)", None, {"ef_form": "literal"}),
    ("ef21", "top-k(k=2)", None, {}),
    ("ef21", "natural-det", None, {}),
    ("lag", "identity", None, {"zeta": 0.5}),
    ("clag", "crand-k(k=3)", None, {"zeta": 0.5}),
    ("3pcv1", "top-k(k=2)", None, {}),
    ("3pcv2", "top-k(k=2)", "rand-k(k=3)", {}),
    ("3pcv3", "top-k(k=2)", "crand-k(k=3)", {"inner": "ef21"}),
    ("3pcv3", "top-k(k=2)", None, {"inner": "lag", "zeta": 0.7}),
    ("3pcv3", "top-k(k=2)", "crand-k(k=3)", {"inner": "clag", "zeta": 0.7}),
    ("3pcv4", "crand-k(k=2)", "top-k(k=3)", {}),
    ("3pcv5", "crand-k(k=2)", None, {"p": 0.3}),
    ("marina", "rand-k(k=3)", None, {"p": 0.3}),
]


@pytest.mark.parametrize("method,c1,c2,kw", CASES,
                         ids=[f"{m}-{c1}-{c2}-{'-'.join(map(str, kw.values()))}"
                              for m, c1, c2, kw in CASES])
def test_matches_numpy_reference(small, method, c1, c2, kw):
    """Iterate by iterate and bit by bit, with the same compressor randomness."""
    iters, gamma = 30, 0.05
    res = H.run(method, small, c1, compressor2=c2, gamma=gamma, iters=iters, stride=1,
                      eps=0.0, seed=5, record_x=True, **kw)
    C1 = [Compressor(c1)] * small.n
    C2 = [Compressor(c2)] * small.n if c2 else None
    xs, bs = N.run(small, method, C1, C2, gamma=gamma, zeta=kw.get("zeta", 0.0),
                   p=kw.get("p", 1.0), inner=kw.get("inner", "ef21"),
                   ef_outer=gamma if kw.get("ef_form") == "literal" else 1.0,
                   iters=iters, seed=5)
    assert len(res.trace) == iters + 1
    np.testing.assert_allclose(res.x, np.array(xs), rtol=1e-10, atol=1e-13)
    np.testing.assert_array_equal(res.trace["bits_per_worker"].to_numpy(), np.array(bs))


def test_literal_ef_form_is_standard_ef_with_squared_step(small):
    """For a positively homogeneous C (Top-K), the poster's literal EF update
    x -= eta mean C(e + eta g) equals standard EF (Karimireddy et al.) with step eta^2."""
    a = H.run("ef", small, "top-k(k=2)", gamma=0.3, ef_form="literal", iters=40,
                    eps=0.0, stride=1, record_x=True)
    b = H.run("ef", small, "top-k(k=2)", gamma=0.09, iters=40, eps=0.0, stride=1,
                    record_x=True)
    np.testing.assert_allclose(a.x, b.x, rtol=1e-12, atol=1e-14)


def test_run_many_equals_single_runs(small):
    mc = H.run("3pcv5", small, "crand-k(k=2)", p=0.4, iters=50, eps=0.0, stride=1,
                     seeds=[3, 4])
    for r in mc.runs:
        one = H.run("3pcv5", small, "crand-k(k=2)", p=0.4, iters=50, eps=0.0, stride=1,
                          seed=r.seed)
        np.testing.assert_array_equal(r.trace["dist_sq"].to_numpy(),
                                      one.trace["dist_sq"].to_numpy())
        np.testing.assert_array_equal(r.trace["bits_per_worker"].to_numpy(),
                                      one.trace["bits_per_worker"].to_numpy())


# ------------------------------------------- Beznosikov et al.: Top-1 example
@pytest.mark.parametrize("eta", [0.02, 0.1])
def test_divergence3_top1_closed_form(div3, eta):
    """x^k = (1 + 11 eta/6)^k x^0 for distributed CGD with Top-1 (Beznosikov et al.),
    in this module's loop, in the NumPy reference and in the engine's dcgd."""
    k = 40
    r = H.run("dcgd", div3, "top-k(k=1)", gamma=eta, iters=k, eps=0.0, stride=1,
                    explode=math.inf, record_x=True)
    ref = (1 + 11 * eta / 6) ** np.arange(k + 1)[:, None] * div3.x0[None, :]
    tol = 8 * k * np.finfo(float).eps
    np.testing.assert_allclose(r.x, ref, rtol=tol, atol=0)
    xs, _ = N.run(div3, "dcgd", [Compressor("top-k(k=1)")] * 3, gamma=eta, iters=k)
    np.testing.assert_allclose(np.array(xs), ref, rtol=tol, atol=0)
    e = H.run("dcgd", div3, "top-k(k=1)", gamma=eta, iters=k, eps=0.0, stride=1,
              explode=math.inf)
    np.testing.assert_allclose(e.trace["dist_sq"].to_numpy(), np.sum(ref ** 2, axis=1),
                               rtol=2 * tol, atol=0)
    assert r.status == "max_iter"


@pytest.mark.parametrize("eta", [0.02, 0.1])
def test_divergence3_error_feedback_converges(div3, eta):
    for m in ("ef", "ef21"):
        r = H.run(m, div3, "top-k(k=1)", gamma=eta, iters=5000, eps=1e-12)
        assert r.status == "converged", m
    d = H.run("dcgd", div3, "top-k(k=1)", gamma=eta, iters=5000, eps=1e-12)
    assert d.status == "diverged"


def test_cgd_single_node_converges_on_divergence3(div3):
    """CGD works on the full gradient (n = 1 semantics): no divergence."""
    r = H.run("cgd", div3, "top-k(k=1)", iters=20000, eps=1e-12)
    assert r.status == "converged"
    assert r.theory.cls in ("B1", "B2", "B3")
    assert r.params["gamma"] == pytest.approx(1.0 / div3.L)


# ---------------------------------------------------------------- reductions to GD
def _gd(P, gamma, k):
    x = P.x0.copy()
    out = [x.copy()]
    for _ in range(k):
        x = x - gamma * P.grad(x)
        out.append(x.copy())
    return np.array(out)


def test_lag_with_zeta_zero_is_gd(small):
    k = 60
    r = H.run("lag", small, zeta=0.0, iters=k, eps=0.0, stride=1, record_x=True)
    assert r.params["gamma"] == pytest.approx(1.0 / small.L)      # 1/(L + L_+ sqrt(0))
    np.testing.assert_allclose(r.x, _gd(small, r.params["gamma"], k), rtol=1e-12, atol=1e-14)
    # every round triggers (the gradient changes): 1 flag + d values
    d = small.d
    np.testing.assert_array_equal(np.diff(r.trace["bits_per_worker"].to_numpy()),
                                  np.full(k, 1 + 32 * d))


def test_ef21_with_identity_is_gd(small):
    k = 60
    r = H.run("ef21", small, "identity", iters=k, eps=0.0, stride=1, record_x=True)
    assert r.theory.A == 1.0 and r.theory.B == 0.0
    assert r.params["gamma"] == pytest.approx(1.0 / small.L)
    np.testing.assert_allclose(r.x, _gd(small, r.params["gamma"], k), rtol=1e-12, atol=1e-14)
    g = H.run("dgd", small, gamma=r.params["gamma"], iters=k, eps=0.0, stride=1)
    np.testing.assert_allclose(r.trace["dist_sq"], g.trace["dist_sq"], rtol=1e-10, atol=1e-15)


# ---------------------------------------------------------------- bits
def test_bits_initial_round_and_lazy_rounds(small):
    d, k = small.d, 20
    # a trigger that never fires after g_i^0: d values once, then 1-bit flags
    r = H.run("lag", small, zeta=1e30, gamma=0.01, iters=k, eps=0.0, stride=1)
    b = r.trace["bits_per_worker"].to_numpy()
    np.testing.assert_array_equal(b, 32 * d + np.arange(k + 1))
    np.testing.assert_array_equal(r.trace["values_bits_per_worker"], np.full(k + 1, 32 * d))
    r = H.run("clag", small, "top-k(k=2)", zeta=1e30, gamma=0.01, iters=k, eps=0.0,
                    stride=1)
    np.testing.assert_array_equal(r.trace["bits_per_worker"], 32 * d + np.arange(k + 1))
    # 3PCv5 with p = 1: every round full (flag + d values); MARINA p = 1: shared coin, no flag
    r = H.run("3pcv5", small, "top-k(k=2)", p=1.0, gamma=0.01, iters=k, eps=0.0, stride=1)
    np.testing.assert_array_equal(r.trace["bits_per_worker"],
                                  32 * d + (1 + 32 * d) * np.arange(k + 1))
    r = H.run("marina", small, "rand-k(k=3)", p=1.0, gamma=0.01, iters=k, eps=0.0,
                    stride=1)
    np.testing.assert_array_equal(r.trace["bits_per_worker"], 32 * d * (1 + np.arange(k + 1)))
    # EF21 with Top-K: initial d values, then K values + indices per round
    topk = int(Compressor("top-k(k=2)").compress(np.arange(1.0, d + 1))[1])
    r = H.run("ef21", small, "top-k(k=2)", gamma=0.01, iters=k, eps=0.0, stride=1)
    np.testing.assert_array_equal(r.trace["bits_per_worker"],
                                  32 * d + topk * np.arange(k + 1))
    # EF and CGD have no initial round
    r = H.run("ef", small, "top-k(k=2)", gamma=0.01, iters=k, eps=0.0, stride=1)
    np.testing.assert_array_equal(r.trace["bits_per_worker"], topk * np.arange(k + 1))
    r = H.run("cgd", small, "top-k(k=2)", iters=k, eps=0.0, stride=1)
    np.testing.assert_array_equal(r.trace["bits_per_worker"], topk * np.arange(k + 1))
    assert r.trace["downlink_bits_per_worker"].iloc[-1] == 32 * d * k


def test_bits_budget_and_divergence_are_statuses(small, div3):
    r = H.run("ef21", small, "top-k(k=2)", gamma=0.01, iters=10000, eps=0.0,
                    bits_budget=32 * small.d + 500)
    assert r.status == "bits_budget"
    assert r.trace["bits_per_worker"].iloc[-1] >= 32 * small.d + 500
    r = H.run("ef21", div3, "top-k(k=1)", gamma=5.0, iters=10000)
    assert r.status == "diverged"


# ---------------------------------------------------------------- theory
def test_tpc_constants():
    assert T.tpc_ab("ef21", alpha=1.0) == (1.0, 0.0)
    A, B = T.tpc_ab("ef21", alpha=0.19)
    assert A == pytest.approx(0.1) and B == pytest.approx(0.81 / 0.1)
    assert T.tpc_ab("lag", zeta=2.5) == (1.0, 2.5)
    assert T.tpc_ab("clag", alpha=0.19, zeta=100.0) == (pytest.approx(0.1), 100.0)
    assert T.tpc_ab("3pcv1", alpha=0.25) == (1.0, 0.75)
    assert T.tpc_ab("3pcv2", alpha=0.25, omega=3.0) == (0.25, 2.25)
    assert T.tpc_ab("3pcv4", alpha=0.1, alpha2=0.1) == pytest.approx(T.tpc_ab("ef21", alpha=0.19))
    assert T.tpc_ab("3pcv3", alpha=0.5, zeta=2.0, inner="lag") == (1.0, 1.0)
    A, B = T.tpc_ab("3pcv5", alpha=0.5, p=0.75)
    assert A == pytest.approx(0.5) and B == pytest.approx(0.25 * 0.5 / 0.5)
    g, gpl = T.tpc_steps(0.25, 4.0, 1.0, 2.0, mu=0.01)
    assert g == pytest.approx(1 / (1 + 2 * 4)) and gpl == pytest.approx(1 / (1 + 2 * math.sqrt(32)))
    assert T.tpc_steps(0.04, 1.0, 1.0, 1.0, mu=10.0)[1] == pytest.approx(0.04 / 20)


def test_cgd_theory_per_class():
    assert T.cgd_complexity("U", 10.0, 1.0, zeta=3.0) == 30.0
    assert T.cgd_complexity("B1", 10.0, 1.0, alpha=0.5, beta=2.0) == 80.0
    assert T.cgd_complexity("B2", 10.0, 1.0, gamma=0.5, beta=2.0) == 40.0
    assert T.cgd_complexity("B3", 10.0, 1.0, delta=4.0) == 40.0
    th = T.cgd(2.0, 0.1, Compressor("rand-k(k=2)").claims(20))
    assert th.cls == "U" and th.gamma == pytest.approx(1 / (10 * 2.0))
    assert th.complexity == pytest.approx(10 * 20)
    th = T.cgd(2.0, 0.1, Compressor("top-k(k=2)").claims(20))
    assert th.gamma == pytest.approx(0.5) and th.complexity == pytest.approx(200)


def test_defaults_use_theory_times_factor(small):
    a = H.run("ef21", small, "top-k(k=3)", iters=5)
    b = H.run("ef21", small, "top-k(k=3)", iters=5, gamma_factor=4)
    A, B = T.tpc_ab("ef21", alpha=3 / 12)
    assert a.params["gamma"] == pytest.approx(1 / (small.L + small.L_plus * math.sqrt(B / A)))
    assert b.params["gamma"] == pytest.approx(4 * a.params["gamma"])
    m = H.run("marina", small, "rand-k(k=3)", iters=5)
    assert m.params["p"] == [pytest.approx(0.25)]
    v5 = H.run("3pcv5", small, "top-k(k=3)", iters=5)
    assert v5.params["p"] == [pytest.approx(0.25)]
    v3 = H.run("3pcv3", small, "top-k(k=3)", compressor2="top-k(k=2)", zeta=2.0, iters=5)
    assert v3.params["inner"] == "clag"


# ---------------------------------------------------------------- registry / CLI / errors
def test_registry_and_methods_listing(capsys):
    from shiftbench.harness.cli import methods_main
    for name in TPC_NAMES:
        info = METHODS[name]
        assert info.loop == "tpc"
    assert METHODS["dcgd"].loop == "shift"         # one dcgd: Algorithm 1's engine
    assert methods_main(["--json"]) == 0
    names = {r["name"] for r in json.loads(capsys.readouterr().out)}
    assert set(TPC_NAMES) <= names


def test_cli_run(capsys):
    from shiftbench.harness.cli import run_main
    rc = run_main(["--method", "3pcv2", "--compressor", "top-k(k=1)", "--compressor2",
                   "rand-k(k=1)", "--problem", "divergence3", "--gamma-factor", "2",
                   "--iters", "3000", "--json"])
    assert rc == 0
    s = json.loads(capsys.readouterr().out)
    assert s["method"] == "3pcv2" and s["status"] == "converged"
    rc = run_main(["--method", "lag", "--zeta", "0.5", "--problem", "divergence3", "--json"])
    assert rc == 0 and json.loads(capsys.readouterr().out)["status"] == "converged"


@pytest.mark.parametrize("method,kw,msg", [
    ("ef21", {"compressor": "rand-k(k=2)"}, "contractive"),
    ("lag", {"compressor": "top-k(k=1)"}, "does not take compressor"),
    ("3pcv3", {}, "inner 3PC"),
    ("3pcv3", {"inner": "foo", "zeta": 1.0}, "allowed: ef21 [|] lag [|] clag"),
    ("ef21", {"zeta": 1.0}, "allowed"),
    ("ef", {"eta": 0.1}, "does not take eta"),
    ("3pcv5", {"p": 1.5}, "0 < p <= 1"),
    ("ef21", {"gamma": 0.1, "gamma_factor": 2.0}, "not both"),
    ("ef", {"ef_form": "poster"}, "allowed: standard [|] literal"),
    ("lag", {"zeta": -1.0}, "zeta >= 0"),
])
def test_bad_input_one_line(small, method, kw, msg):
    kw = dict(kw)
    comp = kw.pop("compressor", None)
    with pytest.raises(ValueError, match=msg) as e:
        H.run(method, small, comp, iters=5, **kw)
    assert "\n" not in str(e.value)


# ---------------------------------------------------------------- LIBSVM
def _libsvm():
    for name in ("mushrooms", "a9a"):
        p = LIBSVM / f"{name}.txt"
        if p.exists():
            return p
    pytest.skip(f"no a9a/mushrooms LIBSVM file under {LIBSVM}")


def test_libsvm_ef21_beats_dcgd_top1():
    """Nonconvex logistic regression (lam = 0.1, n = 20): EF21 with Top-1
    drives ||grad f||^2 below 1e-4 within a bits budget; distributed CGD
    with Top-1, same step and same budget, does not."""
    path = _libsvm()
    P = make(f"logreg-nc(data={path}, lam=0.1, n=20)")
    budget = 32 * P.d + 60 * 1000          # the initial round + about 1000 Top-1 messages
    ef = H.run("ef21", P, "top-k(k=1)", gamma_factor=128, iters=20000, eps=1e-4,
                     stop="grad_norm_sq", bits_budget=budget)
    assert ef.status == "converged"
    assert ef.summary()["grad_norm_sq"] < 1e-4
    assert ef.summary()["bits_per_worker"] < budget
    d = H.run("dcgd", P, "top-k(k=1)", gamma=ef.params["gamma"], iters=20000, eps=1e-4,
              stop="grad_norm_sq", bits_budget=budget)
    assert d.status != "converged"
    assert d.summary()["grad_norm_sq"] > 1e-4
