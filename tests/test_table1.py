"""Table 1 verification: the fitting and bound-checking helpers on synthetic
data, planted violations the checker must flag, and ``table1 --quick`` end
to end (written to a temporary folder, never to results/)."""
import math

import numpy as np
import pandas as pd
import pytest

from shiftbench import table1 as T1
from shiftbench.harness import checks as CK


# ----------------------------------------------------------------------------
# fitting helpers

def test_loglog_fit_exact_slope():
    x = np.array([3.0, 10.0, 40.0, 170.0, 1000.0])
    b, a = CK.loglog_fit(x, 2.5 * x ** 1.7)
    assert b == pytest.approx(1.7, abs=1e-12)
    assert a == pytest.approx(math.log(2.5), abs=1e-12)
    with pytest.raises(ValueError):
        CK.loglog_fit([2.0, 2.0], [1.0, 3.0])


def test_slope_interval_collapses_and_contains():
    rng = np.random.default_rng(0)
    x = np.exp(rng.uniform(0, 5, size=12))
    y = 3.0 * x
    lo, hi = CK.slope_interval(x, y, y)
    assert lo == pytest.approx(1.0) and hi == pytest.approx(1.0)
    # any y inside the boxes gives a slope inside the interval, and the
    # extremes are attained at corners
    blo, bhi = 2.0 * x ** 0.9, 5.0 * x ** 1.1
    smin, smax = CK.slope_interval(x, blo, bhi)
    for _ in range(200):
        yy = np.exp(rng.uniform(np.log(blo), np.log(bhi)))
        b, _ = CK.loglog_fit(x, yy)
        assert smin - 1e-12 <= b <= smax + 1e-12
    w = CK.slope_weights(x)
    corner = np.where(w > 0, bhi, blo)
    assert CK.loglog_fit(x, corner)[0] == pytest.approx(smax)


def test_slope_se_and_spread():
    x = np.array([1.0, 10.0, 100.0])
    assert CK.slope_se(x, x, np.zeros(3)) == 0.0
    assert CK.slope_se(x, x, 0.1 * x) > 0
    assert CK.spread([2.0, 4.0, 3.0]) == pytest.approx(2.0)
    assert CK.spread([1.0, 0.0]) == math.inf


def test_crossing_interpolates_geometric_decay():
    k = np.arange(0, 101, 10)
    y = 0.9 ** k
    lvl = 1e-3
    exact = math.log(lvl) / math.log(0.9)
    assert CK.crossing(k, y, lvl) == pytest.approx(exact, rel=1e-12)
    assert math.isnan(CK.crossing(k, y, 1e-9))
    V = np.vstack([y, y, y])
    est, se = CK.crossing_jackknife(k, V, lvl)
    assert est == pytest.approx(exact) and se == pytest.approx(0.0, abs=1e-9)


def test_gd_mean_iters_closed_form():
    lam, step, eps = np.array([0.1]), 1.0, 1e-8
    exact = math.log(eps) / (2 * math.log(0.9))
    assert CK.gd_mean_iters(lam, np.array([1.0]), step, eps) == pytest.approx(exact, rel=1e-5)
    # a non-contracting direction: never
    assert CK.gd_mean_iters(np.array([0.1, 3.0]), np.array([1.0, 1.0]), 1.0, eps) == math.inf


# ----------------------------------------------------------------------------
# the bound checker

def _synthetic(R=16, K=50, rate=0.95, true_rate=0.9, noise=0.2, seed=0):
    rng = np.random.default_rng(seed)
    k = np.arange(K)
    mean = true_rate ** k
    vals = mean * np.exp(noise * rng.standard_normal((R, K)) - noise ** 2 / 2)
    vals[:, 0] = 1.0
    return k, vals, rate ** k


def test_bound_check_passes_below_bound():
    k, vals, b = _synthetic()
    bc = CK.bound_check(vals, b)
    assert bc.passed and bc.k0_ok and bc.worst_z < 0 and bc.points == len(k) - 1
    assert bc.t == pytest.approx(3.733, abs=1e-3)          # t_{0.999, 15}


def test_bound_check_flags_planted_violation():
    # the measured rate is slower than the claimed one (a step size or an
    # omega the theory got wrong): the mean crosses the bound
    k, vals, b = _synthetic(rate=0.9, true_rate=0.93)
    bc = CK.bound_check(vals, b)
    assert not bc.passed and bc.worst_z > bc.t and bc.max_ratio > 1
    # a diverged run (NaN after it stopped) fails
    k, vals, b = _synthetic()
    vals[3, 20:] = np.nan
    assert not CK.bound_check(vals, b).passed
    # k = 0 must be equality (every run starts at Phi^0)
    k, vals, b = _synthetic()
    vals[:, 0] = 1.5
    bc = CK.bound_check(vals, b)
    assert not bc.k0_ok and not bc.passed


def test_bound_check_tolerates_noise_within_the_margin():
    # mean exactly on the bound: exceeding it by noise alone is not a violation
    rng = np.random.default_rng(3)
    K, R = 40, 16
    b = 0.9 ** np.arange(K)
    vals = b * (1 + 0.3 * rng.standard_normal((R, K)))
    vals -= vals.mean(axis=0) - b                 # sample mean exactly on the bound
    vals[:, 0] = 1.0
    assert CK.bound_check(vals, b).passed


def test_bound_check_floor_skips_roundoff():
    K, R = 30, 4
    b = 1e-2 ** np.arange(K)                      # falls below 1e-12 after k = 6
    vals = np.maximum(np.tile(b, (R, 1)), 1e-30)  # round-off floor of the iterates
    bc = CK.bound_check(vals, b)
    assert bc.passed and bc.points == 6


# ----------------------------------------------------------------------------
# the scaling checker (check 2)

def _scaling_data(seed=0):
    """A Thm-1-like row: P = kappa (1 + w), T = kappa (1 + 2 w), w = omega/n;
    log factors ell_lo = 16, ell_hi = 20; N between N_lo and N_hi."""
    rng = np.random.default_rng(seed)
    kappa = np.repeat([10.0, 40.0, 160.0, 640.0], 4)
    w = np.tile([0.1, 0.5, 2.0, 8.0], 4)
    P = kappa * (1 + w)
    T = kappa * (1 + 2 * w)
    ell_lo, ell_hi = np.full(P.size, 16.0), np.full(P.size, 20.0)
    N = 8.0 * T * np.exp(rng.uniform(0.0, 0.3, P.size))
    return dict(P=P, T=T, N=N, se=0.01 * N, ell_lo=ell_lo, ell_hi=ell_hi, kappa=kappa)


def _check(d, P=None, N=None):
    return T1.scaling_check("2 scaling", "X", d["P"] if P is None else P,
                            d["N"] if N is None else N, d["se"], T=d["T"], ell_lo=d["ell_lo"],
                            ell_hi=d["ell_hi"], c_range=(1.0, 2.0))


def test_scaling_check_passes_when_n_follows_the_theory():
    d = _scaling_data()
    c = _check(d)
    assert c.passed, c
    # tuned: only the fit on P; perfectly proportional data pass
    c = T1.scaling_check("2 scaling (tuned)", "X", d["P"], 5.0 * d["P"], d["se"], T=d["T"],
                         ell_lo=d["ell_lo"], ell_hi=d["ell_hi"], c_range=(1.0, 2.0), tuned=True)
    assert c.passed, c


def test_scaling_check_flags_wrong_complexity():
    d = _scaling_data()
    # measured iterations growing like P^2
    assert not _check(d, N=d["N"] * d["P"] / d["P"].min()).passed
    # Table 1 entry with a too-small omega (omega = 0: P = kappa): T/P leaves
    # [c_min, c_max] and N/P spreads beyond Gamma_P
    c = _check(d, P=d["kappa"])
    assert not c.passed
    # a run that never reached eps
    N2 = d["N"].copy()
    N2[0] = np.nan
    assert not _check(d, N=N2).passed


# ----------------------------------------------------------------------------
# planted violations through the real engine

@pytest.mark.parametrize("cfg", [
    # step size 4x the theorem's
    T1.Config("DCGD-STAR", "dcgd-star", 10, 1, "rand-k(q=0.1)", gamma_factor=4.0),
    # DIANA with a too small omega (claimed 0.5, Rand-1 of 10 has omega = 9)
    T1.Config("DIANA", "diana", 10, 2, "rand-k(q=0.1)", omega_claim=0.5),
])
def test_planted_violation_fails(cfg):
    m = T1.measure(cfg, seed=0, R=8, parallel=False)
    assert not m.bound.passed
    checks = T1.evaluate([m])
    assert [c.passed for c in checks if c.name.startswith("1 ")] == [False]


def test_theory_step_passes_same_config():
    cfg = T1.Config("DIANA", "diana", 10, 2, "rand-k(q=0.1)")
    m = T1.measure(cfg, seed=0, R=8, parallel=False)
    assert m.bound.passed and m.bound.k0_ok
    assert m.N_lo * 0.85 <= m.N <= m.N_hi


def test_diana_lyapunov_is_unweighted():
    """Theorem 3 with omega_i-weighted V and the printed step size fails at
    n = 1, omega = 9 (4% above the bound at k = 5); the unweighted V holds."""
    cfg = T1.Config("DIANA", "diana", 10, 1, "rand-k(q=0.1)")
    m = T1.measure(cfg, seed=0, R=64, parallel=False, horizon=60)
    assert m.bound.passed
    np.testing.assert_allclose(m.theory.lyapunov_weights, 1.0)


def test_grid_covers_table1():
    g = T1.build_grid(quick=False)
    rows = {c.row for c in g}
    assert rows == set(T1.ROWS)
    sc = [c for c in g if c.purpose == "scaling"]
    assert {c.Q for c in sc} >= {"rand-k(q=0.1)", "rand-k(q=0.3)", "dither(s=1)",
                                 "dither(s=2)", "dither(s=4)"}
    assert len({c.kappa for c in sc}) >= 3 and len({c.n for c in sc}) >= 3
    assert len({c.C for c in sc if c.C}) == 3 and any(c.p for c in sc)
    assert all(c.interp == 1 for c in sc if c.row in ("DCGD-FIXED", "GDCI"))


def test_progress_reporter_modes(monkeypatch):
    import io
    from shiftbench import progress as PG
    # off a terminal: one plain line per interval (0 here: every update), a final line
    buf = io.StringIO()
    with PG.Progress(3, "t1", stream=buf, interval=0.0) as p:
        p.update(note="a")
        p.update(2)
    lines = buf.getvalue().splitlines()
    assert lines[0].startswith("t1: 1/3 (33%)") and "[a]" in lines[0]
    assert lines[-1].startswith("t1: 3/3 (100%)") and lines[-1].endswith("done")
    assert "\r" not in buf.getvalue()
    # long interval: nothing until close, and close prints nothing if nothing was printed
    buf = io.StringIO()
    p = PG.Progress(3, "t2", stream=buf, interval=3600)
    p.update()
    p.close()
    assert buf.getvalue() == ""
    # a terminal: a bar redrawn in place, ended by a newline
    buf = io.StringIO()
    with PG.Progress(4, "t3", stream=buf, tty=True) as p:
        p.update(2)
    out = buf.getvalue()
    assert out.count("\r") >= 2 and "2/4" in out and "4/4" not in out and out.endswith("\n")
    # switched off by the environment
    monkeypatch.setenv("SHIFTBENCH_PROGRESS", "0")
    buf = io.StringIO()
    with PG.Progress(2, "t4", stream=buf, tty=True, interval=0) as p:
        p.update(2)
    assert buf.getvalue() == ""


def test_fresh_folder_never_reuses(tmp_path):
    from shiftbench.progress import fresh_folder
    a = fresh_folder("x", tmp_path, stamp="s")
    assert a.endswith("x-s")
    (tmp_path / "x-s").mkdir()
    b = fresh_folder("x", tmp_path, stamp="s")
    assert b.endswith("x-s-2")


def test_theory_gdci_small_gamma_rate():
    """A gamma below Theorem 5's bound gets the slower rate of the proof's
    one-step inequality (not 1 - eta); measured iterations stay below it."""
    from shiftbench.methods import theory as TH
    import shiftbench as sb
    P = sb.problem("quadratic(kappa=10, n=2, interp=1)")
    th0 = sb.run("gdci", P, "rand-k(q=0.1)", iters=0).theory
    assert th0.rate == pytest.approx(1 - th0.eta)
    w = 9.0
    # at gamma_max the proof's factor is at most 1 - eta (equality at eta_max)
    assert TH.gdci_rate(th0.gamma, th0.eta, P.L, P.L_max, P.mu, P.n, w) == pytest.approx(
        1 - th0.eta)
    th = sb.run("gdci", P, "rand-k(q=0.1)", iters=0, gamma=th0.gamma / 10).theory
    assert th.valid and th.rate > 1 - th0.eta
    N_claim = th.iters(1e-8)
    assert N_claim > 5 * th0.iters(1e-8)
    mc = sb.run("gdci", P, "rand-k(q=0.1)", gamma=th0.gamma / 10, iters=60000, eps=1e-8,
                seeds=range(4))
    its = [r.iterations for r in mc.runs]
    assert all(r.status == "converged" for r in mc.runs)
    assert max(its) < N_claim                      # the bound holds ...
    assert np.mean(its) > 2 * th0.iters(1e-8)     # ... and 1 - eta would not
    # a gamma so small that rho >= 1 cannot happen for gamma > 0 here; eta above eta_max
    bad = TH.gdci(P.L, P.L_i, P.mu, P.n, w, eta=2 * th0.eta)
    assert not bad.valid


def test_theory_diana_unweighted_M():
    """DIANA's default M and validity follow the unweighted V: M = 4 omega/(n alpha),
    valid iff M > 2 omega/(n alpha); with p = alpha = 1/(omega+1) DIANA and
    Rand-DIANA get the same step, also for omega < 1."""
    from shiftbench.methods import theory as TH
    L, Li, mu, n = 1.0, np.array([1.0, 1.5]), 0.1, 2
    for om in (0.3, 4.0):
        d = TH.diana(L, Li, mu, n, om)
        r = TH.rand_diana(L, Li, mu, n, om)
        assert d.M == pytest.approx(4 * om / (n * d.alpha))
        assert d.gamma == pytest.approx(r.gamma)
        assert d.valid
        a = d.alpha
        assert not TH.diana(L, Li, mu, n, om, M=1.9 * om / (n * a)).valid
        assert TH.diana(L, Li, mu, n, om, M=2.1 * om / (n * a)).valid
    # no compression error: M = 0 and plain GD rate
    d0 = TH.diana(L, Li, mu, n, 0.0)
    assert d0.M == 0 and d0.valid and d0.rate == pytest.approx(1 - d0.gamma * mu)


# ----------------------------------------------------------------------------
# end to end

@pytest.mark.slow
def test_table1_quick_passes(tmp_path, capsys):
    rc = T1.main(["--quick", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "FAIL" not in out.split("check ")[-1]
    df = pd.read_csv(tmp_path / "table1.csv", comment="#")
    assert len(df) == len(T1.build_grid(quick=True))
    assert df.loc[df.purpose == "scaling", "bound_pass"].all()
    head = (tmp_path / "table1.csv").read_text().splitlines()
    keys = {h.split(":")[0][2:] for h in head if h.startswith("# ")}
    assert {"shiftbench", "git", "seed", "date", "machine", "check"} <= keys
    md = (tmp_path / "table1.md").read_text()
    assert "**Overall: PASS**" in md and "Provenance" in md


def test_progress_eta_ignores_the_start_and_close_is_truthful(monkeypatch):
    """No time left before the second update; the rate is from the first
    update on (compilation excluded); close prints the real count and done."""
    import io
    from shiftbench import progress as PG
    clock = {"t": 0.0}
    monkeypatch.setattr(PG.time, "perf_counter", lambda: clock["t"])
    buf = io.StringIO()
    p = PG.Progress(100, "run", stream=buf, interval=0.0)
    clock["t"] = 60.0                       # the first unit took 60 s (compilation)
    p.update(1)
    assert "left" not in buf.getvalue().splitlines()[-1]
    clock["t"] = 61.0                       # then 10 units per second
    p.update(10)
    last = buf.getvalue().splitlines()[-1]
    assert "~9s left" in last, last         # 89 units at 10/s, not 61 s * 89/11 = 8m14s
    clock["t"] = 62.0
    p.update(32)                            # converged early: 43 of 100
    p.close()
    last = buf.getvalue().splitlines()[-1]
    assert last.startswith("run: 43 done") and "left" not in last and "%" not in last
    assert "100" in last                    # names the planned total
    # a complete run ends at 100%
    buf = io.StringIO()
    with PG.Progress(3, "t", stream=buf, interval=0.0) as p:
        p.update(3)
    assert buf.getvalue().splitlines()[-1].startswith("t: 3/3 (100%)")
    # on a terminal the bar's last state is replaced by the final line
    buf = io.StringIO()
    with PG.Progress(4, "tt", stream=buf, tty=True) as p:
        p.update(1)
    final = buf.getvalue().rsplit("\r", 1)[-1]
    assert final.startswith("tt: 1 done") and "left" not in final and "[" not in final
