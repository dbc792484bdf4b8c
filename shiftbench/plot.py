"""``python -m shiftbench plot``: a figure from run traces and sweep results.

::

    python -m shiftbench plot FILES... --x bits|values_bits|downlink|iteration|time
        --y rel_error|grad_norm_sq|f_gap [--by method,compressor] [--band minmax|iqr|q10-90]
        [--xscale log|linear] [--title TEXT] [--csv DATA.csv] --out fig.png|.pdf|.svg

Each series (one per value of the ``--by`` columns) is drawn as the
**geometric mean over runs** (the mean of log10 y; the y axis is
logarithmic) with a **band** over runs: min-max (default) or a quantile range,
stated in the legend.  The runs are evaluated at the x values they recorded
(thinned to about 400, evenly on the x scale): a run's own points exactly,
log10 y interpolated linearly in (log) x between them; a run that stopped
(converged, budget, diverged) is carried at its last value beyond its end,
as in
:meth:`shiftbench.harness.run.MonteCarloResult.mean_trace`.  Files:

* a trace written by ``python -m shiftbench run --out`` (one run or a
  Monte-Carlo set, with ``# key: value`` header lines);
* a sweep summary written by ``python -m shiftbench sweep --out``: with
  ``--traces`` its ``trace`` column points at each run's trace, which are
  drawn; without, each run is one point (its final x and y) and each series
  is its mean with a min-max error bar;
* a SQLite result store (``shiftbench.store``), when this build has one.

:func:`load` is the one reader for all of them; :func:`aggregate` and
:func:`draw` are used by :mod:`shiftbench.figures` as well.  matplotlib (the
``plot`` extra) is imported lazily and only through its object-oriented API
with the Agg canvas: nothing here changes the global pyplot backend.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys

import numpy as np
import pandas as pd

X_AXES = {
    # name: (column, label, default scale)
    "bits": ("bits_per_worker", "uplink bits per worker (bits)", "log"),
    "values_bits": ("values_bits_per_worker", "uplink bits per worker, values only (bits)",
                    "log"),
    "downlink": ("downlink_bits_per_worker", "downlink bits per worker (bits)", "log"),
    "iteration": ("iteration", "iteration", "linear"),
    "time": ("wall_s", "wall-clock time (s)", "log"),
}
Y_AXES = {
    "rel_error": ("rel_error", r"relative error $\|x^k - x^\star\|^2 / \|x^0 - x^\star\|^2$"),
    "grad_norm_sq": ("grad_norm_sq", r"$\|\nabla f(x^k)\|^2$"),
    "f_gap": ("f_gap", r"$f(x^k) - f^\star$"),
}
BANDS = {"minmax": ("min-max", 0.0, 1.0), "iqr": ("25-75% quantiles", 0.25, 0.75),
         "q10-90": ("10-90% quantiles", 0.10, 0.90)}
TRACE_COLUMNS = ("iteration", "dist_sq", "rel_error", "f_gap", "grad_norm_sq",
                 "bits_per_worker", "bits_max_worker", "values_bits_per_worker",
                 "downlink_bits_per_worker", "shift_error", "wall_s")


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


# ----------------------------------------------------------------------------
# reading


def _read_csv(path):
    """(attrs, DataFrame) of a CSV with optional '# key: json' header lines."""
    attrs = {}
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not line.startswith("#"):
                break
            k, sep, v = line[1:].strip().partition(":")
            if not sep:
                continue
            try:
                attrs[k.strip()] = json.loads(v)
            except ValueError:
                attrs[k.strip()] = v.strip()
    try:
        df = pd.read_csv(path, comment="#")
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path}: empty file (no CSV header)") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not a readable CSV ({str(e).splitlines()[0]})") from None
    return attrs, df


def _scalar_attrs(attrs):
    return {k: v for k, v in attrs.items()
            if isinstance(v, (str, int, float, bool)) or v is None}


def load(path) -> pd.DataFrame:
    """Read one result file into a long DataFrame, one row per recorded point.

    Columns: the trace columns present (``iteration``, ``bits_per_worker``,
    ``rel_error``, ...), ``method``, ``seed``, the run's parameters from the
    file's header or sweep row (``compressor``, ``problem``, ...), ``file``
    (the file's name) and ``run`` (one id per run).  ``df.attrs["kind"]`` is
    ``trace`` (curves) or ``points`` (one final point per run: a sweep
    summary without traces).

    Raises
    ------
    ValueError
        One line: a missing or unreadable file, or one that is neither a
        trace nor a sweep result.
    """
    p = os.fspath(path)
    if not os.path.exists(p):
        raise ValueError(f"{p}: no such file")
    if not os.path.isfile(p):
        raise ValueError(f"{p}: not a regular file")
    with open(p, "rb") as fh:
        magic = fh.read(16)
    if magic.startswith(b"SQLite format 3"):
        try:
            from .store import Store          # the reliability issue's result store
        except ImportError:
            raise ValueError(f"{p}: a SQLite result store, which this build cannot read "
                             f"(no shiftbench.store)") from None
        return _normalise(Store(p).frame(), {}, p)
    attrs, df = _read_csv(p)
    return _normalise(df, attrs, p)


def _normalise(df, attrs, p):
    name = os.path.basename(p)
    if df.empty:
        raise ValueError(f"{p}: no rows")
    if "iteration" in df.columns:
        df = df.copy()
        for k, v in _scalar_attrs(attrs).items():
            if k not in df.columns and k not in ("status",):
                df[k] = v
        if "seed" not in df.columns:
            df["seed"] = attrs.get("seed", 0) if not isinstance(attrs.get("seed"), list) else 0
        df["file"] = name
        df["run"] = name + "#" + df["seed"].astype(str)
        df.attrs["kind"] = "trace"
        return df
    if "trace" in df.columns and df["trace"].notna().any():
        base = os.path.dirname(os.path.abspath(p))
        parts = []
        for i, row in df.iterrows():
            tp = row["trace"]
            if not isinstance(tp, str) or not tp:
                continue
            cand = tp if os.path.isabs(tp) or os.path.exists(tp) else os.path.join(base, tp)
            if not os.path.exists(cand):
                cand2 = os.path.join(base, os.path.basename(tp))
                if not os.path.exists(cand2):
                    raise ValueError(f"{p}: row {i}: trace file {tp!r} not found")
                cand = cand2
            t = load(cand)
            for k, v in row.items():
                if k not in t.columns and k not in ("trace",) and k not in TRACE_COLUMNS:
                    t[k] = v
            rid = row["key"] if "key" in row and isinstance(row["key"], str) else str(i)
            t["file"] = name
            t["run"] = f"{name}#{rid}"
            parts.append(t)
        out = pd.concat(parts, ignore_index=True)
        out.attrs["kind"] = "trace"
        return out
    if "bits_per_worker" in df.columns and any(c in df.columns for c in Y_AXES):
        df = df.copy()
        if "iterations" in df.columns:
            df["iteration"] = df["iterations"]
        if "seed" not in df.columns:
            df["seed"] = np.arange(len(df))
        df["file"] = name
        df["run"] = name + "#" + pd.Series(np.arange(len(df)), index=df.index).astype(str)
        df.attrs["kind"] = "points"
        return df
    raise ValueError(f"{p}: not a shiftbench trace or sweep result (no 'iteration', 'trace' "
                     f"or 'bits_per_worker' column; columns: "
                     f"{', '.join(map(str, df.columns[:12]))})")


def load_many(paths):
    """:func:`load` each file and stack them (kind ``points`` only if all are)."""
    if not paths:
        raise ValueError("give at least one file")
    frames = [load(p) for p in paths]
    kinds = {f.attrs.get("kind") for f in frames}
    out = pd.concat(frames, ignore_index=True)
    out.attrs["kind"] = "points" if kinds == {"points"} else "trace"
    out.attrs["mixed"] = len(kinds) > 1
    return out


# ----------------------------------------------------------------------------
# aggregating runs


def _label(key, by):
    if not by:
        return "all runs"
    key = key if isinstance(key, tuple) else (key,)
    parts = []
    for k, v in zip(by, key):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        parts.append(f"{v:g}" if isinstance(v, float) else str(v))
    return " ".join(parts) or "all runs"


def _run_xy(g, xcol, ycol, logx):
    g = g.sort_values("iteration", kind="stable") if "iteration" in g.columns else g
    x = g[xcol].to_numpy(float)
    y = g[ycol].to_numpy(float)
    ok = np.isfinite(x) & np.isfinite(y) & (y > 0)
    if logx:
        ok &= x > 0
    x, y = x[ok], y[ok]
    if x.size and np.any(np.diff(x) < 0):
        # a clock or counter that is not monotone: keep the running maximum
        x = np.maximum.accumulate(x)
    return x, np.log10(y)


def _dedupe(x, ly):
    """Keep the last value at each repeated x (np.interp needs increasing x)."""
    if x.size < 2:
        return x, ly
    keep = np.append(np.diff(x) > 0, True)
    return x[keep], ly[keep]


def aggregate(df, x="bits", y="rel_error", by=("method", "compressor"), band="minmax",
              points=400, xscale=None):
    """Series over runs: geometric mean and band of ``y`` against ``x``.

    Parameters
    ----------
    df : DataFrame
        From :func:`load` (or any frame with the trace columns, ``run`` and
        the ``by`` columns).
    x, y : str
        Axis names of :data:`X_AXES` / :data:`Y_AXES` (or column names).
    by : sequence of str
        Columns whose values define a series.
    band : str
        A key of :data:`BANDS`.
    points : int
        At most about this many x values per series: the x values the runs
        recorded, thinned evenly on the x scale when there are more.
    xscale : {"log", "linear"}, optional
        Interpolation (and plotting) scale of x; default per axis.

    Returns
    -------
    DataFrame
        One row per plotted point: ``series``, ``kind`` (``curve`` or
        ``points``), ``x``, ``y`` (geometric mean), ``y_lo``, ``y_hi`` (the
        band), ``x_lo``, ``x_hi`` (points only), ``n_runs`` and the ``by``
        columns.
    """
    xcol = X_AXES[x][0] if x in X_AXES else x
    ycol = Y_AXES[y][0] if y in Y_AXES else y
    if band not in BANDS:
        raise ValueError(f"band = {band!r} is not allowed; allowed: {', '.join(BANDS)}")
    for c in (xcol, ycol):
        if c not in df.columns:
            raise ValueError(f"no column {c!r} in the data; columns: "
                             f"{', '.join(map(str, df.columns))}")
    by = [b for b in by]
    miss = [b for b in by if b not in df.columns]
    if miss:
        raise ValueError(f"--by: no column {', '.join(miss)} in the data; columns: "
                         f"{', '.join(map(str, df.columns))}")
    xscale = xscale or (X_AXES[x][2] if x in X_AXES else "linear")
    logx = xscale == "log"
    _, qlo, qhi = BANDS[band]
    if "run" not in df.columns:
        df = df.assign(run=df["seed"].astype(str) if "seed" in df.columns else "0")
    rows = []
    groups = df.groupby(by, sort=False, dropna=False) if by else [((), df)]
    for key, g in groups:
        label = _label(key, by)
        extra = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        runs = [_run_xy(r, xcol, ycol, logx) for _, r in g.groupby("run", sort=False)]
        runs = [(a, b) for a, b in runs if a.size]
        if not runs:
            continue
        if all(a.size == 1 for a, _ in runs):
            xs = np.array([a[0] for a, _ in runs])
            ly = np.array([b[0] for _, b in runs])
            rows.append({"series": label, "kind": "points",
                         "x": float(10 ** np.mean(np.log10(xs))) if logx else float(np.mean(xs)),
                         "y": float(10 ** ly.mean()),
                         "y_lo": float(10 ** np.quantile(ly, qlo)),
                         "y_hi": float(10 ** np.quantile(ly, qhi)),
                         "x_lo": float(xs.min()), "x_hi": float(xs.max()),
                         "n_runs": len(runs), **extra})
            continue
        # the recorded x values (a run's own points are exact there), thinned to
        # about ``points`` values evenly spread on the plot's x scale
        grid = np.unique(np.concatenate([a for a, _ in runs]))
        if grid.size > points:
            lo, hi = grid[0], grid[-1]
            target = np.geomspace(lo, hi, points) if logx else np.linspace(lo, hi, points)
            idx = np.clip(np.searchsorted(grid, target), 0, grid.size - 1)
            grid = grid[np.unique(np.concatenate([[0], idx, [grid.size - 1]]))]
        gx = np.log10(grid) if logx else grid
        V = np.full((len(runs), grid.size), np.nan)
        for j, (a, b) in enumerate(runs):
            a2, b2 = _dedupe(a, b)
            ax_ = np.log10(a2) if logx else a2
            v = np.interp(gx, ax_, b2)
            v[grid < a2[0] * (1 - 1e-12)] = np.nan      # before the run's first point
            V[j] = v                                     # after its last: carried (np.interp)
        n = np.sum(np.isfinite(V), axis=0)
        keep = n > 0
        with np.errstate(all="ignore"):
            mean = np.nanmean(V[:, keep], axis=0)
            vlo = np.nanquantile(V[:, keep], qlo, axis=0)
            vhi = np.nanquantile(V[:, keep], qhi, axis=0)
        for xi, m, a_, b_, k in zip(grid[keep], mean, vlo, vhi, n[keep]):
            rows.append({"series": label, "kind": "curve", "x": float(xi), "y": float(10 ** m),
                         "y_lo": float(10 ** a_), "y_hi": float(10 ** b_),
                         "x_lo": math.nan, "x_hi": math.nan, "n_runs": int(k), **extra})
    out = pd.DataFrame(rows)
    if out.empty:
        raise ValueError(f"nothing to plot: no run has finite, positive {ycol}"
                         + (f" at positive {xcol}" if logx else ""))
    return out


# ----------------------------------------------------------------------------
# drawing


def need_matplotlib():
    """Import matplotlib's object-oriented API (Agg canvas), or a one-line error."""
    try:
        from matplotlib.figure import Figure
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
    except ImportError:
        raise ValueError('plotting needs matplotlib: pip install "shiftbench[plot]"') from None
    return Figure


def new_figure(ncols=1, nrows=1, width=5.2, height=3.8):
    """A headless matplotlib Figure (Agg canvas) and its axes array."""
    Figure = need_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def draw(ax, agg, xlabel, ylabel, band="minmax", xscale="log", yscale="log", title=None,
         legend=True, styles=None):
    """Draw the series of :func:`aggregate` on ``ax``: a line (geometric mean)
    and a band per curve, markers with error bars for point series.  Each
    line's label is its series name (tests read the data back by label).
    ``styles``: optional {series: dict of plot keywords}."""
    styles = styles or {}
    nruns = []
    for s, g in agg.groupby("series", sort=False):
        st = dict(styles.get(s, {}))
        if (g["kind"] == "points").all():
            r = g.iloc[0]
            ax.errorbar([r["x"]], [r["y"]],
                        yerr=[[max(0.0, r["y"] - r["y_lo"])], [max(0.0, r["y_hi"] - r["y"])]],
                        xerr=[[max(0.0, r["x"] - r["x_lo"])], [max(0.0, r["x_hi"] - r["x"])]],
                        fmt="o", capsize=3, label=s, **st)
            nruns.append(int(r["n_runs"]))
            continue
        (line,) = ax.plot(g["x"].to_numpy(), g["y"].to_numpy(), label=s, lw=1.6, **st)
        if (g["y_hi"] > g["y_lo"]).any():
            ax.fill_between(g["x"].to_numpy(), g["y_lo"].to_numpy(), g["y_hi"].to_numpy(),
                            color=line.get_color(), alpha=0.18, lw=0)
        nruns.append(int(g["n_runs"].max()))
    ax.set_xscale(xscale)
    ax.set_yscale(yscale)
    if xscale == "log":
        from matplotlib.ticker import NullFormatter
        ax.xaxis.set_minor_formatter(NullFormatter())     # no overlapping 2x10^3 labels
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    if legend:
        pts = bool((agg["kind"] == "points").all())
        ax.legend(fontsize=7, title=band_note(band, nruns, pts), title_fontsize=7, loc="best")
    return ax


def band_note(band="minmax", nruns=None, points=False):
    """The legend's statement of what line (marker) and band (error bar) are.
    ``nruns``: runs per series (an int or a list)."""
    what = BANDS[band][0]
    ns = sorted(set(nruns if isinstance(nruns, (list, tuple)) else
                    ([nruns] if nruns else [])))
    if ns == [1]:
        return "marker: one run (deterministic)" if points else "line: one run (deterministic)"
    if not ns:
        r = "runs"
    elif len(ns) == 1:
        r = f"{ns[0]} runs"
    else:
        r = f"{ns[0]}-{ns[-1]} runs" + (" (1: deterministic)" if ns[0] == 1 else "")
    if points:
        return f"marker: geometric mean over {r}; bars: {what}"
    return f"line: geometric mean over {r}; band: {what}"


def save(fig, path, **kw):
    """Save atomically (temporary file in the same folder, then rename)."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext not in ("png", "pdf", "svg"):
        raise ValueError(f"{path}: unsupported figure format {ext!r}; allowed: png, pdf, svg")
    tmp = os.path.join(folder, f".tmp-{os.getpid()}-{os.path.basename(path)}")
    try:
        fig.savefig(tmp, format=ext, dpi=kw.pop("dpi", 150), **kw)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


# ----------------------------------------------------------------------------
# CLI


def main(argv=None):
    ap = _Parser(prog="python -m shiftbench plot",
                 description="Plot run traces or sweep results: the geometric mean over runs "
                             "of each series with a band over runs, on log axes.")
    ap.add_argument("files", nargs="+", help="run traces (run --out), sweep outputs, stores")
    ap.add_argument("--x", default="bits", choices=list(X_AXES),
                    help="x axis (default bits: uplink bits per worker)")
    ap.add_argument("--y", default=None, choices=list(Y_AXES),
                    help="y axis (default rel_error if the data have it, else grad_norm_sq)")
    ap.add_argument("--by", default=None,
                    help="comma list of columns defining a series (default method,compressor "
                         "where present; 'file' separates the input files)")
    ap.add_argument("--band", default="minmax", choices=list(BANDS),
                    help="band over runs (default min-max)")
    ap.add_argument("--xscale", default=None, choices=("log", "linear"),
                    help="x scale (default log, linear for iteration)")
    ap.add_argument("--title", default=None)
    ap.add_argument("--csv", default=None, help="also write the plotted data to this CSV")
    ap.add_argument("--out", required=True,
                    help="figure file (.png, .pdf or .svg); an existing file needs --force")
    ap.add_argument("--force", action="store_true",
                    help="replace an existing --out (and --csv) file")
    a = ap.parse_args(argv)
    prog = "python -m shiftbench plot"
    try:
        ext = os.path.splitext(a.out)[1].lower()
        if ext not in (".png", ".pdf", ".svg"):
            raise ValueError(f"--out {a.out}: unsupported format {ext or '(none)'!r}; "
                             f"allowed: .png, .pdf, .svg")
        from .harness.io import check_writable
        for flag, path in (("--out", a.out), ("--csv", a.csv)):
            if path is None:
                continue
            try:                      # before loading and drawing, never after
                check_writable(path, overwrite=a.force)
            except ValueError as e:
                hint = " (add --force to replace it)" if "refusing to overwrite" in str(e) \
                    else ""
                raise ValueError(f"{flag} {e}{hint}") from None
        if a.csv is not None and os.path.abspath(a.csv) == os.path.abspath(a.out):
            raise ValueError(f"--csv {a.csv}: same file as --out; give two different files")
        need_matplotlib()
        df = load_many(a.files)
        y = a.y
        if y is None:
            y = ("rel_error" if "rel_error" in df.columns and
                 np.isfinite(pd.to_numeric(df["rel_error"], errors="coerce")).any()
                 else "grad_norm_sq")
        if a.by is None:
            by = [c for c in ("method", "compressor") if c in df.columns]
            if df["file"].nunique() > 1 and not by:
                by = ["file"]
        else:
            by = [b.strip() for b in a.by.split(",") if b.strip()]
        xscale = a.xscale or X_AXES[a.x][2]
        agg = aggregate(df, a.x, y, by, a.band, xscale=xscale)
        fig, axes = new_figure()
        draw(axes[0, 0], agg, X_AXES[a.x][1], Y_AXES[y][1], a.band, xscale, "log", a.title)
        save(fig, a.out)
        if a.csv:
            from .harness.io import atomic_write_text
            head = (f"# files: {json.dumps([os.path.basename(f) for f in a.files])}\n"
                    f"# x: {json.dumps(a.x)}\n# y: {json.dumps(y)}\n# by: {json.dumps(by)}\n"
                    f"# band: {json.dumps(band_note(a.band))}\n")
            atomic_write_text(a.csv, head + agg.to_csv(index=False))
    except ValueError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    nrun = df["run"].nunique()
    print(f"wrote {a.out}: {agg['series'].nunique()} series from {nrun} runs "
          f"({band_note(a.band)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
