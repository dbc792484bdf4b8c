"""``python -m shiftbench.figures``: every figure rendered headless on tiny
settings, its plotted data read back from the matplotlib artists and checked
against its CSV; the claims table's columns, ids and conventions; a verdict
checked against an independent ``shiftbench.run`` measurement; the
statistical rules on synthetic data; the CLI's errors."""
import math
import re

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("matplotlib")

import shiftbench as sb  # noqa: E402
from shiftbench import figures as FG  # noqa: E402
from shiftbench.figures import biased, core as C, shifted, tpc  # noqa: E402

R = 3
SEED = 0


def _tiny_figures():
    f1 = shifted.Fig1Left(quick=True)
    f1.qs = (0.1, 0.5)
    f2 = shifted.Fig1Right(quick=True)
    f2.ss = (2, 12)
    f3 = shifted.Fig2Left(quick=True)
    f3.bs = (0.5, 1.0, 2.0)
    f4 = shifted.Fig2Right(quick=True)
    f4.ps = (0.1, 1.0)
    f5 = biased.Fig2(quick=True)
    f6 = biased.Top1(quick=True)
    f7 = tpc.TPC("tiny", "logreg-nc(synthetic=1, N=400, d=10, n=4, seed=1)", "tiny synthetic",
                 quick=True, runs=2)
    return [f1, f2, f3, f4, f5, f6, f7]


@pytest.fixture(scope="module")
def produced(tmp_path_factory):
    """Run the tiny figures once through the same functions as the CLI."""
    out = tmp_path_factory.mktemp("figs")
    figs = _tiny_figures()
    runner = C.Runner(R=R, seed=SEED, quick=True, tune_runs=1)
    runner.factors = (1, 4, 16)
    meta = C._provenance()
    res = {}
    for f in figs:
        res[f.name] = FG.produce(f, runner, str(out), meta)
    claims = FG.run([], str(out / "empty"), R=R)          # the table writer on no figure
    return out, figs, res, claims, runner


def _read(path):
    return pd.read_csv(path, comment="#")


def test_every_figure_renders_and_matches_its_csv(produced):
    out, figs, res, _, _ = produced
    for f in figs:
        mfig, plotted, runs, _ = res[f.name]
        assert (out / f"{f.name}.png").stat().st_size > 1000
        assert (out / f"{f.name}.pdf").read_bytes()[:4] == b"%PDF"
        csv = _read(out / f"{f.name}.csv")
        head = [ln for ln in (out / f"{f.name}.csv").read_text().splitlines() if ln[:1] == "#"]
        assert any(ln.startswith("# git:") for ln in head)
        assert any(ln.startswith("# figure:") for ln in head)
        panels = list(dict.fromkeys(csv["panel"]))
        axes = [ax for ax in mfig.axes if ax.get_visible()]
        assert len(axes) == len(panels), f.name
        for ax, title in zip(axes, panels):
            assert ax.get_title() == title
            sub = csv[csv["panel"] == title]
            lines = [ln for ln in ax.get_lines() if not ln.get_label().startswith("_")]
            assert sorted(ln.get_label() for ln in lines) == sorted(sub["series"].unique())
            for ln in lines:
                rows = sub[sub["series"] == ln.get_label()]
                np.testing.assert_allclose(np.asarray(ln.get_xdata(), float), rows["x"],
                                           rtol=1e-9, err_msg=f"{f.name} {ln.get_label()}")
                np.testing.assert_allclose(np.asarray(ln.get_ydata(), float), rows["y"],
                                           rtol=1e-9, err_msg=f"{f.name} {ln.get_label()}")
                assert np.all(rows["y_lo"] <= rows["y"] * (1 + 1e-9))
                assert np.all(rows["y"] <= rows["y_hi"] * (1 + 1e-9))
            # bands: fill_between polygons lie within the CSV's band
            for coll in ax.collections:
                for path in coll.get_paths():
                    ys = path.vertices[:, 1]
                    assert ys.min() >= sub["y_lo"].min() * (1 - 1e-9)
                    assert ys.max() <= sub["y_hi"].max() * (1 + 1e-9)
            assert ax.get_yscale() == "log"
        assert len(runs) == len(_read(out / f"{f.name}-runs.csv"))


def test_curves_are_the_geometric_mean_over_runs(produced):
    """The plotted y of a random setting is the geometric mean of its runs."""
    out, figs, res, _, runner = produced
    f = figs[0]
    s = shifted._setting("diana", "rand-k(q=0.5)")
    b = runner.batch(s, "theory")
    plotted = res[f.name][1]                 # the frame written to NAME.csv, unrounded
    rows = plotted[(plotted["series"] == "DIANA q=0.5")
                   & (plotted["panel"] == "theorems' step sizes")]
    # DIANA's bits per iteration are fixed: all runs share the x grid; compare at
    # the first x where every run is still going
    t = [r.trace.set_index("bits_per_worker")["rel_error"] for r in b.runs]
    x0 = rows["x"].iloc[1]
    want = 10 ** np.mean([math.log10(tt.loc[x0]) for tt in t])
    got = rows.loc[rows["x"] == x0, "y"].iloc[0]
    assert got == pytest.approx(want, rel=1e-12)
    assert rows.loc[rows["x"] == x0, "n_runs"].iloc[0] == R


CONV = re.compile(r"^bits=(full|values|any); refresh=(counted|free|any); "
                  r"step=(theory|tuned|any)$")


def test_claims_table_columns_ids_and_conventions(produced, tmp_path):
    out, figs, res, empty, runner = produced
    claims = [c for f in figs for c in res[f.name][3]]
    df = pd.DataFrame([c.__dict__ for c in claims])
    assert tuple(df.columns) == C.CLAIM_COLUMNS
    assert tuple(empty.columns) == C.CLAIM_COLUMNS and empty.empty
    ids = set(df["claim_id"])
    assert {"s1-fig1l-rand-beats-diana", "s1-fig1l-diana-better-high-q",
            "s1-fig1l-rand-better-low-q", "s1-fig1r-diana-best-s-beats-rand",
            "s1-fig1r-rand-better-s2", "s1-fig2l-small-M-unstable", "s1-fig2l-large-M-slow",
            "s1-fig2r-small-p-faster", "s1-fig2r-large-p-diverges"} <= ids
    assert {"b-fig2-quad-topk-beats-randk", "b-fig2-linreg-topk-beats-randk",
            "b-top1-diverges", "b-top1-ef-fixes", "3pc-tiny-clag-beats-lag"} <= ids
    assert set(df["verdict"]) <= set(C.VERDICTS)
    assert all(CONV.match(c) for c in df["convention"])
    # every claim id: one row per convention of its axes, no duplicates
    assert not df.duplicated(["claim_id", "convention"]).any()
    n = df.groupby("claim_id").size()
    assert n["s1-fig1l-rand-beats-diana"] == 8          # bits x refresh x step
    assert n["s1-fig1l-diana-better-high-q"] == 4       # DIANA sends no refresh
    assert n["s1-fig2l-small-M-unstable"] == 2          # step only
    assert n["b-top1-diverges"] == 1
    # the divergence example is exact
    v = df.set_index("claim_id")
    assert v.loc["b-top1-diverges", "verdict"] == "holds"
    assert v.loc["b-top1-ef-fixes", "verdict"] == "holds"
    assert all("Rule" in m for m in df["measured"])
    # the written table and its summary
    FG.run([], str(tmp_path), R=R)
    md = FG.claims_markdown(df, {"x": 1}, ["a note"], ["--quick"], 1.0)
    assert "| `s1-fig1l-rand-beats-diana` |" in md and "a note" in md
    assert "## Summary" in md


def test_verdict_agrees_with_independent_run(produced):
    """s1-fig1l-rand-beats-diana at full bits, refreshes counted, theory steps,
    recomputed from scratch with shiftbench.run and the stated rule."""
    out, figs, res, _, _ = produced
    from scipy import stats
    f = figs[0]
    cl = {(c.claim_id, c.convention): c for c in res[f.name][3]}
    P = sb.problem("ridge")
    seeds = list(range(SEED, SEED + R))
    dirs = []
    for q in f.qs:
        bits = {}
        for m in ("diana", "rand-diana"):
            mc = sb.run(m, P, f"rand-k(q={q})", eps=1e-6, iters=400_000, seeds=seeds)
            assert all(r.status == "converged" for r in mc.runs)
            bits[m] = np.array([r.trace["bits_per_worker"].iloc[-1] for r in mc.runs])
        d = np.log10(bits["rand-diana"]) - np.log10(bits["diana"])
        lev = 0.05 / len(f.qs)
        h = stats.t.ppf(1 - lev / 2, R - 1) * d.std(ddof=1) / math.sqrt(R)
        dirs.append("<" if d.mean() + h < 0 else (">" if d.mean() - h > 0 else "?"))
    want = ("holds" if all(x == "<" for x in dirs) else
            "does not hold" if any(x == ">" for x in dirs) else "inconclusive")
    got = cl[("s1-fig1l-rand-beats-diana", "bits=full; refresh=counted; step=theory")]
    assert got.verdict == want
    # the refresh-free convention: iterations x one Rand-K message
    K = 8                                   # q = 0.1 of d = 80
    msg = K * 32 + min(K * math.ceil(math.log2(80)), 80)
    s = shifted._setting("rand-diana", "rand-k(q=0.1)")
    rb = [r for r in sb.run("rand-diana", P, "rand-k(q=0.1)", eps=1e-6, iters=400_000,
                            seeds=seeds).runs]
    free = C.cost_to_eps(C.Batch(s, "theory", 1.0, 0.0, rb, msg_bits=C.message_bits(s, 80)),
                         "full", "free")
    np.testing.assert_allclose(free, [r.iterations * msg for r in rb])
    counted = C.cost_to_eps(C.Batch(s, "theory", 1.0, 0.0, rb), "full", "counted")
    refreshes = (counted - free) / (32 * 80) * P.n       # over the n = 10 workers
    assert np.all(refreshes >= P.n) and np.allclose(refreshes, np.round(refreshes))
    its = np.array([r.iterations for r in rb])
    # about p = 1/(omega + 1) = 0.1 refreshes per worker and iteration
    assert np.all(np.abs(refreshes / (P.n * its) - 0.1) < 0.01)


def test_statistical_rules():
    rng = np.random.default_rng(0)
    a = 10 ** rng.normal(0.0, 0.05, 12)
    b = 10 ** rng.normal(0.3, 0.05, 12)
    assert C.compare(a, b).direction == "<"
    assert C.compare(b, a).direction == ">"
    c = 10 ** rng.normal(0.0, 0.05, 12)
    assert C.compare(a, c).direction == "?"
    # deterministic vs deterministic, vs a sample
    assert C.compare([1.0], [2.0]).direction == "<"
    assert C.compare([2.0], [2.0]).direction == "?"
    assert C.compare([1.0], b).direction == "<" and C.compare(b, [1.0]).direction == ">"
    # a run that did not reach the target: sign test
    bb = b.copy()
    bb[0] = math.inf
    cmp = C.compare(a, bb)
    assert cmp.direction == "<" and "sign test" in cmp.text
    assert C.compare(a[:3], np.full(3, math.inf)).direction == "?"     # 3/3: p = 0.25
    # Bonferroni: a borderline difference becomes inconclusive when split
    assert "97.5%" in C.compare(a, b, m=2).text
    # trends
    xs = [0.1, 0.2, 0.5]
    up = [10 ** (0.5 * math.log10(x) + rng.normal(0, 0.01, 5)) for x in xs]
    assert C.trend(xs, up).direction == "+"
    assert C.trend(xs, [1 / u for u in up]).direction == "-"
    flat = [10 ** rng.normal(0, 0.1, 5) for _ in xs]
    assert C.trend(xs, flat).direction == "?"
    # instability
    p, _ = C.more_unstable(8, 10, 0, 10)
    assert p < 0.01
    p, txt = C.more_unstable(0, 20, 0, 20)
    assert p == 1.0 and "upper bound" in txt
    assert C.all_of([C.Cmp("<", ""), C.Cmp("?", "")], "<") == "inconclusive"
    assert C.all_of([C.Cmp("<", ""), C.Cmp(">", "")], "<") == "does not hold"
    with pytest.raises(ValueError):
        C.Claim("x", "p", "f", "c", "bits=any; refresh=any; step=any", "m", "maybe")


def test_conventions_enumeration():
    assert len(C.conventions({"bits", "refresh", "step"})) == 8
    assert [C.convention(**c) for c in C.conventions({"step"})] == [
        "bits=any; refresh=any; step=theory", "bits=any; refresh=any; step=tuned"]


@pytest.mark.parametrize("argv, msg", [
    (["--only", "nope"], "no such figure"),
    (["--runs", "1"], "--runs must be >= 2"),
    (["--data", "/no/such/file.txt"], "no such file"),
    (["--bogus"], "unrecognized arguments"),
])
def test_cli_errors_are_one_line(argv, msg, capsys):
    with pytest.raises(SystemExit) if argv[0] in ("--runs", "--bogus") else _nullcontext():
        rc = FG.main(argv)
        assert rc == 2
    err = capsys.readouterr().err.strip()
    assert msg in err and len(err.splitlines()) == 1


def test_cli_list_and_selection(capsys):
    assert FG.main(["--list", "--only", "s1,b-top1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [ln.split()[0] for ln in out] == ["s1-fig1-left", "s1-fig1-right", "s1-fig2-left",
                                             "s1-fig2-right", "b-top1"]


class _nullcontext:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False
