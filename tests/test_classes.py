"""``python -m shiftbench.classes``: compressor classes and seed 004's
conversions, measured 3PC constants vs the claims, CGD complexities and the
divergence example.

Statistical checks use fixed seeds and one-sided tolerances of z = 5
standard errors computed from the trial counts (never loosened): a false
alarm has probability about 2.9e-7 per comparison.
"""
import numpy as np
import pytest

from shiftbench import classes as CL


def test_class_table_claims_hold():
    specs = ["top-k(k=5)", "rand-k(q=0.1)", "crand-k(q=0.1)", "natural", "natural-det",
             "sign", "scale(rand-k(q=0.5), lam=0.5)", "induced(top-k(k=2), rand-k(k=4))"]
    t, checks = CL.class_table(d=40, trials=2000, seed=1, specs=specs)
    assert t["ok"].all(), t.loc[~t["ok"], "spec"].tolist()
    assert set(checks["constant"]) >= {"b1.alpha", "b1.beta", "b2.gamma", "b2.beta", "b3"}
    top = t[t["spec"] == "top-k(k=5)"].iloc[0]
    # Top-K attains its claims exactly on the constant input
    assert top["b1_alpha_measured"] == pytest.approx(5 / 40)
    assert top["b3_measured"] == pytest.approx(40 / 5)


def test_seed004_conversions():
    conv = CL.conversion_table(d=40, trials=2000, seed=2)
    gated = conv[conv["gated"]]
    assert gated["ok"].all(), gated.loc[~gated["ok"], ["entry", "source"]].values.tolist()
    printed = conv[conv["entry"].str.contains("as printed")]
    # the printed B1 -> B2(alpha, beta^2) holds for beta <= 1 (e.g. Top-K) ...
    assert printed[printed["source"] == "top-k(k=5)"]["ok"].all()
    # ... and fails for 2 Top-K in B1(4K/d, 2), where B2(alpha/beta, beta) holds
    two = conv[conv["source"] == "scale(top-k(k=5), lam=2)"]
    assert not two[two["entry"].str.contains("as printed")]["ok"].any()
    assert two[two["entry"].str.contains("derived")]["ok"].all()
    assert {"U(z) -> C/z in B3(z) [printed B3(1/z)]", "B3(d) -> C in B1(1/(4d^2), 2)",
            "B2(g,b) -> C/b in B3(b/g)"} <= set(conv["entry"])


def test_tpc_measured_constants_respect_claims():
    t = CL.tpc_table(d=20, trials=1500, seed=3)
    assert t["ok"].all(), t.loc[~t["ok"], "case"].tolist()
    assert set(t["mechanism"]) == {"ef21", "lag", "clag", "3pcv1", "3pcv2", "3pcv3", "3pcv4",
                                   "3pcv5", "marina"}
    g = t[t["gated"]]
    # measured constants never beyond the claims ...
    assert (g["B_needed"] <= g["B_claimed"] * (1 + 1e-9) + 1e-9).all()
    assert (g["A_allowed"] >= g["A_claimed"] * (1 - 1e-9) - 1e-9).all()
    # ... and the sampled triples reach the bound where it is tight
    for case in ("ef21 top-k(k=2)", "3pcv1 top-k(k=2)", "3pcv2 top-k(k=4), Q=rand-k(k=5)"):
        r = t[t["case"] == case].iloc[0]
        assert r["B_needed"] >= 0.95 * r["B_claimed"], case


def test_tpc_detects_a_violation():
    """The check has teeth: Top-2 at d = 20 meets EF21's (A, B) for alpha = 2/d
    on the sampled triples and breaks the constants claimed for alpha = 4/d."""
    from shiftbench.compressors import Compressor
    from shiftbench.compressors import pack_programs, empty_programs
    from shiftbench.methods import theory as T
    from shiftbench.methods import tpc as K
    H, Y, X = CL.sample_triples(20, seed=0)
    A_true, B_true = T.tpc_ab("ef21", alpha=2 / 20)
    A_fake, B_fake = T.tpc_ab("ef21", alpha=4 / 20)
    c1, nr = pack_programs([Compressor("top-k(k=2)")], 20)
    err = np.empty((X.shape[0], 1))
    K.tpc_errors(K.EF21, 0, H, Y, X, c1, empty_programs(1), 0.0, 1.0,
                 32, np.uint64(0), 1, nr, err)
    hy = np.sum((H - Y) ** 2, axis=1)
    xy = np.sum((X - Y) ** 2, axis=1)
    assert np.all(err[:, 0] <= (1 - A_true) * hy + B_true * xy + 1e-9 * (1 + hy + xy))
    assert np.any(err[:, 0] > (1 - A_fake) * hy + B_fake * xy + 1e-6)


def test_cgd_iterations_scale_with_class_complexity():
    df, sl = CL.cgd_table(kappas=(10, 40, 160), d=20, seeds=(0, 1),
                          specs=("rand-k(k=2)", "top-k(k=2)", "natural-det", "sign"))
    assert df["ok"].all()                                  # below complexity x log(1/eps)
    assert ((sl["slope_kappa"] > 0.5) & (sl["slope_kappa"] < 1.5)).all(), sl
    assert set(df["class"]) >= {"U", "B1", "B3"}
    # Rand-K's iterations grow with zeta = d/K like the theory's complexity
    r = df[(df["kappa"] == 160) & (df["compressor"] == "rand-k(k=2)")].iloc[0]
    assert r["complexity"] == pytest.approx(10 * 160)


def test_divergence_check():
    dv = CL.divergence_check(etas=(0.05,), k=30, ef_iters=5000)
    assert dv["ok"].all()
    assert dv["max_rel_err_x (tpc dcgd)"].iloc[0] < 1e-13


def test_cli_arguments():
    with pytest.raises(SystemExit) as e:
        CL.main(["--d", "5"])
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        CL.main(["--trials", "1"])
    assert e.value.code == 2
