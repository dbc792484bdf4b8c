"""``python -m shiftbench plot``: traces written by ``run --out`` and
sweep-like CSVs into a figure; the plotted data checked against the runs and
against the figure's artists; one-line errors."""
import math
import sys

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("matplotlib")

import shiftbench as sb  # noqa: E402
from shiftbench import plot as PL  # noqa: E402
from shiftbench.__main__ import main as cli  # noqa: E402
from shiftbench.harness.io import write_trace  # noqa: E402


@pytest.fixture(scope="module")
def traces(tmp_path_factory):
    d = tmp_path_factory.mktemp("plot")
    P = sb.problem("quadratic(kappa=10, n=4, d=10, hetero=1)")
    out = {}
    for m in ("diana", "rand-diana"):
        mc = sb.run(m, P, "rand-k(q=0.3)", iters=4000, eps=1e-8, stride=5, seeds=range(4))
        t = mc.trace
        t.attrs.update(mc.runs[0].trace.attrs)
        write_trace(t, d / f"{m}.csv")
        out[m] = (d / f"{m}.csv", mc)
    return d, out


def _csv(path):
    return pd.read_csv(path, comment="#")


def test_plot_run_traces(traces, capsys):
    d, out = traces
    png, data = d / "f.png", d / "f.csv"
    rc = cli(["plot", str(out["diana"][0]), str(out["rand-diana"][0]), "--x", "bits",
              "--y", "rel_error", "--out", str(png), "--csv", str(data)])
    assert rc == 0, capsys.readouterr().err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "geometric mean over runs" in capsys.readouterr().out
    agg = _csv(data)
    assert set(agg["series"]) == {"diana rand-k(q=0.3)", "rand-diana rand-k(q=0.3)"}
    # DIANA: bits per iteration are fixed, so the runs share the x grid and the
    # plotted y is exactly the geometric mean of the runs at each recorded point
    mc = out["diana"][1]
    piv = mc.trace.pivot_table(index="bits_per_worker", columns="seed", values="rel_error")
    piv = piv[piv.index > 0].dropna()
    a = agg[agg["series"] == "diana rand-k(q=0.3)"].set_index("x")
    common = piv.index.intersection(a.index)
    assert len(common) > 20
    want = 10 ** np.log10(piv.loc[common]).mean(axis=1)
    np.testing.assert_allclose(a.loc[common, "y"], want, rtol=1e-10)
    np.testing.assert_allclose(a.loc[common, "y_lo"], piv.loc[common].min(axis=1), rtol=1e-10)
    np.testing.assert_allclose(a.loc[common, "y_hi"], piv.loc[common].max(axis=1), rtol=1e-10)
    assert (a["n_runs"] <= 4).all() and (a["n_runs"] == 4).any()


def test_plot_artists_match_the_aggregate(traces):
    d, out = traces
    df = PL.load_many([out["diana"][0], out["rand-diana"][0]])
    agg = PL.aggregate(df, "iteration", "rel_error", by=["method"], band="iqr")
    fig, axes = PL.new_figure()
    ax = axes[0, 0]
    PL.draw(ax, agg, "iteration", "rel", band="iqr", xscale="linear")
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    assert set(lines) == {"diana", "rand-diana"}
    for s, ln in lines.items():
        g = agg[agg["series"] == s]
        np.testing.assert_allclose(ln.get_xdata(), g["x"])
        np.testing.assert_allclose(ln.get_ydata(), g["y"])
    assert "25-75% quantiles" in ax.get_legend().get_title().get_text()
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "iteration"
    PL.save(fig, d / "a.svg")
    assert (d / "a.svg").read_text().lstrip().startswith("<?xml")


def test_plot_sweep_like_csv(traces, capsys):
    """A sweep summary: one point per run (no traces), or the runs' traces."""
    d, out = traces
    rows = []
    for m in ("diana", "rand-diana"):
        for r in out[m][1].runs:
            s = r.summary()
            s["key"] = f"{m}-{r.seed}"
            rows.append(s)
    summ = pd.DataFrame(rows)
    summ.to_csv(d / "sweep.csv", index=False)
    rc = cli(["plot", str(d / "sweep.csv"), "--out", str(d / "s.png"), "--csv",
              str(d / "s.csv")])
    assert rc == 0, capsys.readouterr().err
    agg = _csv(d / "s.csv")
    assert (agg["kind"] == "points").all() and len(agg) == 2
    g = summ[summ["method"] == "diana"]
    row = agg[agg["series"].str.startswith("diana")].iloc[0]
    assert row["y"] == pytest.approx(10 ** np.log10(g["rel_error"]).mean())
    assert row["x_lo"] == g["bits_per_worker"].min() and row["n_runs"] == 4
    # with a trace column (sweep --traces): the traces are drawn
    tdir = d / "tr"
    tdir.mkdir()
    paths = []
    for m in ("diana", "rand-diana"):
        for r in out[m][1].runs:
            p = tdir / f"{m}-{r.seed}.csv"
            write_trace(r.trace, p)
            paths.append(f"tr/{p.name}")
    summ["trace"] = paths
    summ.to_csv(d / "sweep2.csv", index=False)
    rc = cli(["plot", str(d / "sweep2.csv"), "--x", "iteration", "--out", str(d / "s2.pdf"),
              "--csv", str(d / "s2.csv")])
    assert rc == 0, capsys.readouterr().err
    agg2 = _csv(d / "s2.csv")
    assert (agg2["kind"] == "curve").all() and agg2["series"].nunique() == 2
    assert agg2["n_runs"].max() == 4


@pytest.mark.parametrize("args, msg", [
    (["missing.csv"], "no such file"),
    (["TRACE", "--by", "nope"], "--by: no column nope"),
    (["TRACE", "--out", "x.jpg"], "unsupported format"),
    (["EMPTY"], "empty file"),
    (["OTHER"], "not a shiftbench trace or sweep result"),
    (["TRACE", "--y", "f_gap", "--by", "method", "--x", "time", "--xscale", "log"], None),
])
def test_plot_errors_one_line(traces, tmp_path, capsys, args, msg):
    d, out = traces
    (tmp_path / "empty.csv").write_text("")
    pd.DataFrame({"a": [1, 2], "b": [3, 4]}).to_csv(tmp_path / "other.csv", index=False)
    sub = {"TRACE": str(out["diana"][0]), "EMPTY": str(tmp_path / "empty.csv"),
           "OTHER": str(tmp_path / "other.csv"), "missing.csv": str(tmp_path / "missing.csv")}
    argv = [sub.get(a, a) for a in args]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "x.png")]
    rc = cli(["plot"] + argv)
    err = capsys.readouterr().err.strip()
    if msg is None:
        assert rc == 0, err
        return
    assert rc == 2 and msg in err and len(err.splitlines()) == 1, err


def test_plot_needs_matplotlib(traces, tmp_path, monkeypatch, capsys):
    d, out = traces
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    rc = cli(["plot", str(out["diana"][0]), "--out", str(tmp_path / "x.png")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and 'pip install "shiftbench[plot]"' in err
    assert len(err.splitlines()) == 1


def test_aggregate_interpolates_random_x():
    """Runs with different x values are interpolated in log x onto one grid and
    carried at their last value beyond their end."""
    rows = []
    for seed, (xs, ys) in enumerate((([1, 10, 100], [1.0, 1e-2, 1e-4]),
                                     ([2, 20], [1.0, 1e-2]))):
        for i, (x, y) in enumerate(zip(xs, ys)):
            rows.append({"run": f"r{seed}", "iteration": i, "bits_per_worker": x,
                         "rel_error": y, "method": "m"})
    agg = PL.aggregate(pd.DataFrame(rows), "bits", "rel_error", by=["method"], points=5)
    g = agg.set_index("x")
    assert g.index[0] == 1 and g.index[-1] == 100
    assert g.loc[1, "n_runs"] == 1                 # run 2 starts at x = 2
    assert g.loc[100, "n_runs"] == 2               # run 2 carried at 1e-2
    assert g.loc[100, "y"] == pytest.approx(math.sqrt(1e-4 * 1e-2))
    assert g.loc[100, "y_lo"] == pytest.approx(1e-4) and g.loc[100, "y_hi"] == pytest.approx(1e-2)
