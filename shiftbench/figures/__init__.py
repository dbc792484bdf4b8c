"""``python -m shiftbench.figures``: the papers' figures, reproduced, with a
verdict on every claim they support.

::

    python -m shiftbench.figures [--quick] [--only NAME[,NAME]] [--runs R] [--seed S]
                                 [--data FILE[,FILE]] [--out DIR] [--list]

Figures (``--list`` prints them; ``--only`` takes names or prefixes such as
``s1`` or ``3pc``):

* ``s1-fig1-left``, ``s1-fig1-right``, ``s1-fig2-left``, ``s1-fig2-right`` --
  Shulgin & Richtarik, Shifted compression framework (UAI 2022), Section 4:
  DIANA vs Rand-DIANA with Rand-K (q in {0.05, 0.1, 0.2, 0.5}) and with
  natural dithering (s in 2..20), Rand-DIANA over M = b 2 omega/(n p) and over
  p, on the paper's ridge regression (:mod:`.shifted`);
* ``b-fig2``, ``b-top1`` -- Beznosikov et al., On biased compression for
  distributed learning: CGD with Top-5 vs Rand-5 on a quadratic and on linear
  regression, and the Top-1 divergence example (:mod:`.biased`);
* ``3pc-<data>`` -- EF21, LAG, CLAG, 3PCv2, 3PCv5 and MARINA on nonconvex
  logistic regression over LIBSVM data (a9a, mushrooms, phishing from the
  shared data folder, or ``--data`` files; synthetic data when none is
  found), steps tuned over 2^0..2^11 x theory as the 3PC authors do
  (:mod:`.tpc`).

Each figure writes ``NAME.png`` and ``NAME.pdf`` (left/right panels: the
theory's step sizes, tuned step sizes), ``NAME.csv`` (every plotted point:
figure, panel, series, x, y and the band, with provenance in ``# key: value``
header lines) and ``NAME-runs.csv`` (one row per run: status, iterations,
bits under each convention).  ``claims.csv`` and ``claims.md`` hold one row
per claim and convention, with columns ``claim_id, paper, figure, claim,
convention, measured, verdict``:

* ``convention`` is ``bits=full|values; refresh=counted|free;
  step=theory|tuned``; ``any`` marks an axis that does not enter the claim
  (DIANA sends no refresh; the divergence example has its own step);
* ``verdict`` is ``holds``, ``does not hold`` or ``inconclusive``, by the rule
  written in ``measured`` (comparisons over seeds: Student-t 95% intervals of
  log ratios, Bonferroni-split over the parts of a claim, sign tests when a
  run did not reach the target; trends: OLS slopes with t intervals;
  instability: Fisher's exact test; deterministic runs: exact comparisons);
  inconclusive when the interval contains 0.

A claim that fails is a finding, not an error: the exit status is 0 when the
run completed (2 for bad arguments).  By default the output goes to a fresh
folder ``./shiftbench-figures-<date>-<time>``; ``--out DIR`` writes there:
a new or empty folder, checked before any run (an existing file is an error,
a non-empty folder needs ``--force``; ``--out results/figures --force``
refreshes the committed reference run).  When no LIBSVM file is found the
3PC figure runs on synthetic data and one line on stderr says so and how to
point at real data (``SHIFTBENCH_DATA`` or ``--data``).
``--quick`` runs fewer seeds, a coarser step grid and parameter grids, and
one data set (under 3 minutes on 2 cores, compilation included); the full
run takes 10-13 minutes.  Requires matplotlib (the ``plot`` extra).
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time

import pandas as pd

from . import core as C

__all__ = ["main", "build", "FIGURE_NAMES"]

FIGURE_NAMES = ("s1-fig1-left", "s1-fig1-right", "s1-fig2-left", "s1-fig2-right",
                "b-fig2", "b-top1", "3pc-<data>")


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def build(quick=False, only=None, data=None, runs=None):
    """The selected figure objects, in order.  ``only``: names or prefixes."""
    from . import biased, shifted, tpc
    figs = [F(quick=quick) for F in shifted.FIGURES] + [F(quick=quick) for F in biased.FIGURES]
    want = [w.strip().lower() for w in (only or []) if w.strip()]
    need_tpc = not want or any(w.startswith("3pc") or "3pc".startswith(w) for w in want)
    if need_tpc:
        figs += tpc.figures(quick=quick, data=data, runs=runs)
    if want:
        sel = []
        for w in want:
            hit = [f for f in figs if f.name == w or f.name.startswith(w)]
            if not hit:
                names = ", ".join(f.name for f in figs)
                raise ValueError(f"--only {w!r}: no such figure; allowed: {names} "
                                 f"(or a prefix: s1, b, 3pc)")
            sel += [f for f in hit if f not in sel]
        figs = sel
    return figs


def render(fig_obj, panels, out_dir):
    """Draw the panels (PNG + PDF in ``out_dir``); returns (matplotlib Figure,
    the plotted data as one frame: figure, panel, series, x, y, y_lo, y_hi, ...)."""
    from ..plot import draw, new_figure, save
    n = len(panels)
    ncols = min(n, 2)
    nrows = math.ceil(n / ncols)
    fig, axes = new_figure(ncols, nrows, width=5.4, height=4.0)
    rows = []
    for i, p in enumerate(panels):
        ax = axes[i // ncols, i % ncols]
        draw(ax, p.agg, p.xlabel, p.ylabel, p.band, p.xscale, p.yscale, p.title,
             styles=p.styles)
        a = p.agg.copy()
        a.insert(0, "panel", p.title)
        a.insert(0, "figure", fig_obj.name)
        if "x_lo" in a and a["x_lo"].isna().all():
            a = a.drop(columns=["x_lo", "x_hi"])
        rows.append(a)
    for j in range(n, nrows * ncols):
        axes[j // ncols, j % ncols].set_visible(False)
    fig.suptitle(fig_obj.title, fontsize=11)
    save(fig, os.path.join(out_dir, fig_obj.name + ".png"))
    save(fig, os.path.join(out_dir, fig_obj.name + ".pdf"))
    return fig, pd.concat(rows, ignore_index=True)


def produce(fig_obj, runner, out_dir, meta):
    """Run one figure and write NAME.png/.pdf/.csv/-runs.csv; returns
    (matplotlib Figure, plotted frame, runs frame, claims)."""
    data = fig_obj.compute(runner)
    panels = fig_obj.panels(data)
    mfig, plotted = render(fig_obj, panels, out_dir)
    fmeta = dict(meta)
    fmeta["axes"] = {p.title: {"x": p.xlabel, "y": p.ylabel, "xscale": p.xscale,
                               "yscale": p.yscale} for p in panels}
    fmeta.update({"figure": fig_obj.name, "paper": C.PAPERS[fig_obj.paper],
                  "title": fig_obj.title, **fig_obj.meta})
    for i, n in enumerate(fig_obj.notes):
        fmeta[f"note{i + 1}"] = n
    fmeta["plotted"] = ("x, y: the geometric mean over runs at each x (runs interpolated onto "
                        "a common x grid, a stopped run carried at its last value); y_lo, "
                        "y_hi: min-max over runs; n_runs: runs contributing")
    C.write_csv(os.path.join(out_dir, fig_obj.name + ".csv"), plotted, fmeta)
    runs = fig_obj.runs_table(data)
    C.write_csv(os.path.join(out_dir, fig_obj.name + "-runs.csv"), runs, fmeta)
    return mfig, plotted, runs, fig_obj.claims(data)


def run(figs, out_dir, R=20, seed=0, quick=False, argv=(), factors=None, tune_runs=None,
        stream=None):
    """Produce every figure of ``figs`` into ``out_dir`` and write the claims
    table; returns the claims DataFrame."""
    from ..harness.io import atomic_write_text
    from ..progress import Progress
    os.makedirs(out_dir, exist_ok=True)
    t0 = time.perf_counter()
    meta = C._provenance()
    meta.update({"runs": R, "seed": seed, "quick": bool(quick), "level": C.LEVEL})
    claims, notes = [], []
    units = sum(f.units() for f in figs)
    with Progress(units, "figures (the first runs compile)", stream=stream) as bar:
        runner = C.Runner(R=R, seed=seed, quick=quick, progress=bar, tune_runs=tune_runs)
        if factors is not None:
            runner.factors = tuple(factors)
        meta["step_factors"] = " ".join(f"{f:g}" for f in runner.factors)
        for f in figs:
            tf = time.perf_counter()
            _, _, runs, cl = produce(f, runner, out_dir, meta)
            claims += cl
            notes += [f"{f.name}: {n}" for n in f.notes]
            if f.meta:
                notes.append(f"{f.name}: " + ", ".join(f"{k} = {v}" for k, v in f.meta.items()))
            print(f"{f.name}: {len(runs)} runs, {time.perf_counter() - tf:.1f} s",
                  file=stream or sys.stderr)
    wall = time.perf_counter() - t0
    df = pd.DataFrame([c.__dict__ for c in claims], columns=list(C.CLAIM_COLUMNS))
    order = {cid: i for i, cid in enumerate(dict.fromkeys(df["claim_id"]))}
    df = df.sort_values("claim_id", key=lambda s: s.map(order), kind="stable")
    df = df.reset_index(drop=True)
    meta.update({"wall_s": round(wall, 1), "runs_total": runner.n_runs})
    C.write_csv(os.path.join(out_dir, "claims.csv"), df, meta)
    atomic_write_text(os.path.join(out_dir, "claims.md"),
                      claims_markdown(df, meta, notes, list(argv), wall))
    return df


def claims_markdown(df, meta, notes, argv, wall):
    L = ["# Claims of the reproduced figures", "",
         f"`python -m shiftbench.figures {' '.join(argv)}`  ({wall:.0f} s)", "",
         "Provenance: " + ", ".join(f"{k}={v}" for k, v in meta.items()), "",
         "## Summary: under which conventions each claim holds", "",
         "Conventions: `bits=full|values` (whole messages, or values only); "
         "`refresh=counted|free` (Rand-DIANA's full-vector refreshes); `step=theory|tuned` "
         "(the theorems' step sizes, or the best factor 2^0..2^11 of them); `any`: the axis "
         "does not enter the claim.", "",
         "| claim_id | claim | holds | does not hold | inconclusive |", "|---|---|---|---|---|"]

    def short(cv):
        parts = [p.strip() for p in cv.split(";") if not p.strip().endswith("=any")]
        return ", ".join(parts) if parts else "all"

    def cell(t):
        return str(t).replace("|", "\\|")

    for cid, g in df.groupby("claim_id", sort=False):
        cols = []
        for v in C.VERDICTS:
            cv = [short(c) for c in g.loc[g["verdict"] == v, "convention"]]
            cols.append("; ".join(f"`{c}`" for c in cv) if cv else "-")
        L.append(f"| `{cid}` | {cell(g['claim'].iloc[0])} | " + " | ".join(cols) + " |")
    L += ["", "## Every claim and convention", "",
          "| claim_id | paper | figure | convention | verdict | measured |",
          "|---|---|---|---|---|---|"]
    for _, r in df.iterrows():
        L.append(f"| `{r['claim_id']}` | {cell(r['paper'])} | {cell(r['figure'])} | "
                 f"`{r['convention']}` | **{r['verdict']}** | {cell(r['measured'])} |")
    if notes:
        L += ["", "## Settings and choices", ""] + [f"- {n}" for n in notes]
    return "\n".join(L) + "\n"


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = _Parser(prog="python -m shiftbench.figures",
                 description="Reproduce the papers' figures (PNG, PDF, CSV) and write a claims "
                             "table with verdicts.  Exit 0 when the run completed, whatever "
                             "the verdicts.")
    ap.add_argument("--quick", action="store_true",
                    help="fewer seeds, grids and one data set (< 3 minutes on 2 cores)")
    ap.add_argument("--only", default=None,
                    help="comma list of figure names or prefixes (s1, b, 3pc, s1-fig2-left, ...)")
    ap.add_argument("--runs", type=int, default=None,
                    help="Monte-Carlo runs per random setting (default 20, 6 with --quick; "
                         "the 3PC figures default to 6, 3 with --quick)")
    ap.add_argument("--seed", type=int, default=0, help="first run seed (default 0)")
    ap.add_argument("--data", default=None,
                    help="comma list of LIBSVM files for the 3PC figures (default: a9a, "
                         "mushrooms, phishing from the shared data folder, else synthetic)")
    ap.add_argument("--out", default=None,
                    help="output folder, new or empty (default: a fresh "
                         "./shiftbench-figures-<date>-<time>)")
    ap.add_argument("--force", action="store_true",
                    help="write into a non-empty --out folder (files of the same names are "
                         "replaced, other files are left)")
    ap.add_argument("--list", action="store_true", help="list the figures and exit")
    a = ap.parse_args(argv)
    prog = "python -m shiftbench.figures"
    if a.runs is not None and a.runs < 2:
        ap.error(f"--runs must be >= 2, got {a.runs}")
    try:
        if a.out is not None and not a.list:
            from ..progress import check_out_folder
            check_out_folder(a.out, force=a.force)
        data = [p.strip() for p in a.data.split(",") if p.strip()] if a.data else None
        if data:
            for p in data:
                if not os.path.isfile(p):
                    raise ValueError(f"--data {p}: no such file")
        figs = build(a.quick, a.only.split(",") if a.only else None, data, a.runs)
        from ..plot import need_matplotlib
        need_matplotlib()
    except ValueError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    note = data_note(figs)
    if note:
        print(f"{prog}: {note}", file=sys.stderr)
    if a.list:
        for f in figs:
            print(f"{f.name:16s} {f.title}")
        return 0
    out = a.out or _fresh()
    R = a.runs or (6 if a.quick else 20)
    t0 = time.perf_counter()
    df = run(figs, out, R=R, seed=a.seed, quick=a.quick, argv=argv)
    counts = df["verdict"].value_counts().to_dict()
    print(f"{len(df)} claim rows ({', '.join(f'{v}: {counts.get(v, 0)}' for v in C.VERDICTS)})"
          f" in {time.perf_counter() - t0:.0f} s; wrote {out}/claims.md and claims.csv")
    return 0


def data_note(figs):
    """One line naming the data of the 3PC figures when no LIBSVM file was
    found and the synthetic set stands in (None otherwise)."""
    from . import tpc
    if not any(getattr(f, "tag", None) == "synthetic" for f in figs):
        return None
    from ..problems.libsvm import data_dirs
    where = ", ".join(str(d) for d in data_dirs())
    return (f"no LIBSVM data found (a9a, mushrooms, phishing; looked in {where}): the 3PC "
            f"figure uses synthetic data, 3pc-synthetic = {tpc.SYNTHETIC}; for real data set "
            f"SHIFTBENCH_DATA=FOLDER (holding a9a, mushrooms, phishing as .txt/.libsvm/.svm "
            f"or no extension) or pass --data FILE[,FILE]")


def _fresh():
    from ..progress import fresh_folder
    return fresh_folder("shiftbench-figures")
