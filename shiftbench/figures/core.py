"""Machinery of :mod:`shiftbench.figures`: settings, the runner (Monte-Carlo
runs through ``shiftbench.run``, step tuning, caching, progress), the bit
conventions, the statistical rules behind the verdicts, and the outputs."""
from __future__ import annotations

import json
import math
import os
import platform
import time
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import pandas as pd

# ----------------------------------------------------------------------------
# conventions

BITS = ("full", "values")
REFRESH = ("counted", "free")
STEPS = ("theory", "tuned")
VERDICTS = ("holds", "does not hold", "inconclusive")
CLAIM_COLUMNS = ("claim_id", "paper", "figure", "claim", "convention", "measured", "verdict")

LEVEL = 0.05            # two-sided level of every test (Bonferroni-split within a claim)
FACTORS = tuple(2 ** j for j in range(12))          # step factors 2^0 .. 2^11
QUICK_FACTORS = tuple(2 ** j for j in range(0, 12, 2)) + (2 ** 11,)

PAPERS = {
    "s1": "Shulgin & Richtarik, Shifted compression framework, UAI 2022",
    "b": "Beznosikov, Horvath, Richtarik & Safaryan, On biased compression for distributed "
         "learning",
    "3pc": "Richtarik et al., 3PC: three point compressors, ICML 2022",
}


def convention(bits="any", refresh="any", step="any"):
    return f"bits={bits}; refresh={refresh}; step={step}"


def conventions(axes):
    """Every convention over ``axes`` (a subset of {"bits", "refresh",
    "step"}); the other axes are written ``any`` (they do not enter the claim)."""
    out = []
    for b in (BITS if "bits" in axes else ("any",)):
        for r in (REFRESH if "refresh" in axes else ("any",)):
            for s in (STEPS if "step" in axes else ("any",)):
                out.append({"bits": b, "refresh": r, "step": s})
    return out


# ----------------------------------------------------------------------------
# settings and runs


@dataclass(frozen=True)
class Setting:
    """One configuration of a figure (run R times, or once if deterministic).

    ``opts``: extra keyword arguments of ``shiftbench.run`` as sorted
    (key, value) pairs; ``stop``/``eps``: the target (``eps_rel``: eps is
    relative to the metric at x^0, for f_gap); ``budget``: bits per worker;
    ``iters``: the iteration cap; ``gamma``: a fixed step (no theory/tuning).
    """
    key: str
    method: str
    problem: str
    compressor: Optional[str] = None
    opts: tuple = ()
    random: bool = True
    stop: str = "rel_error"
    eps: float = 1e-6
    eps_rel: bool = False
    budget: Optional[float] = None
    iters: int = 400_000
    gamma: Optional[float] = None
    explode: Optional[float] = None
    stride: Optional[int] = None
    runs: Optional[int] = None      # Monte-Carlo runs (default: the runner's R)

    def kwargs(self):
        return dict(self.opts)


@dataclass
class Batch:
    """The runs of one setting at one step convention."""
    setting: Setting
    step: str                       # "theory" | "tuned" | "given"
    factor: float                   # step = factor x the theory step (1 for theory)
    gamma: float
    runs: list                      # RunResult objects
    msg_bits: Optional[tuple] = None   # (full, values) bits of one Q message (refresh=free)
    tuning: list = field(default_factory=list)   # [(factor, score, iterations)]

    @property
    def R(self):
        return len(self.runs)


def _provenance():
    import numba
    import scipy
    from .._version import __version__
    out = {"shiftbench": __version__, "numpy": np.__version__, "numba": numba.__version__,
           "scipy": scipy.__version__, "pandas": pd.__version__,
           "python": platform.python_version(), "machine": platform.machine(),
           "node": platform.node(), "date": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    try:
        import subprocess
        here = os.path.dirname(os.path.abspath(__file__))
        out["git"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here,
                                    capture_output=True, text=True,
                                    timeout=5).stdout.strip() or None
    except Exception:  # noqa: BLE001 - provenance is best effort
        out["git"] = None
    return out


class Runner:
    """Runs settings through :func:`shiftbench.run`, with caching and tuning.

    ``R`` Monte-Carlo runs (seeds ``seed, ..., seed + R - 1``, in parallel)
    for random settings, one run for deterministic ones.  Tuning uses other
    seeds (``TUNE_SEED + i``) so that the tuned runs are not selected on the
    data they are evaluated on (deterministic settings: the same run).
    """
    TUNE_SEED = 1_000_003

    def __init__(self, R=20, seed=0, quick=False, progress=None, tune_runs=None):
        self.R = int(R)
        self.seed = int(seed)
        self.quick = bool(quick)
        self.progress = progress
        self.factors = QUICK_FACTORS if quick else FACTORS
        self.tune_runs = tune_runs or 2
        self._problems = {}
        self._batches = {}
        self._theory = {}
        self.n_runs = 0
        self.wall = 0.0

    # -- problems and theory --------------------------------------------
    def problem(self, spec):
        if spec not in self._problems:
            import shiftbench as sb
            self._problems[spec] = sb.problem(spec)
        return self._problems[spec]

    def theory(self, s: Setting):
        """(gamma, Theory) of the setting at its theory step."""
        if s.key not in self._theory:
            import shiftbench as sb
            r = sb.run(s.method, self.problem(s.problem), s.compressor, iters=0, eps=0.0,
                       seed=0, **s.kwargs())
            self._theory[s.key] = (float(r.params["gamma"]), r.theory, r.trace)
        return self._theory[s.key]

    def eps_abs(self, s: Setting):
        if not s.eps_rel:
            return s.eps
        _, _, tr0 = self.theory(s)
        return s.eps * float(tr0[s.stop].iloc[0])

    # -- one batch -------------------------------------------------------
    def _run(self, s: Setting, gamma, seeds, iters, stride):
        import shiftbench as sb
        kw = s.kwargs()
        extra = {}
        if s.explode is not None:
            extra["explode"] = s.explode
        t0 = time.perf_counter()
        res = sb.run(s.method, self.problem(s.problem), s.compressor, gamma=gamma,
                     iters=int(iters), eps=self.eps_abs(s), stop=s.stop,
                     bits_budget=s.budget, stride=int(stride), seeds=list(seeds), **kw,
                     **extra)
        self.wall += time.perf_counter() - t0
        self.n_runs += len(res.runs)
        return res.runs

    ROWS = 500              # trace rows a run records (about)

    def _stride(self, s, est_iters):
        if s.stride:
            return s.stride
        est = est_iters if math.isfinite(est_iters) and est_iters > 0 else s.iters
        return max(1, int(math.ceil(min(est, s.iters) / self.ROWS)))

    def _pilot(self, s, gamma):
        """Iterations of one run (evaluation seed, only its end recorded), to
        choose the recording stride of a batch at the theory step."""
        r = self._run(s, gamma, [self.seed], s.iters, s.iters)[0]
        self.n_runs -= 1
        return float(r.iterations)

    def seeds(self, s):
        R = s.runs or self.R
        return [self.seed + i for i in range(R)] if s.random else [self.seed]

    def batch(self, s: Setting, step="theory") -> Batch:
        """The runs of ``s`` at the theory step or at the tuned step (cached)."""
        ck = (s.key, step)
        if ck in self._batches:
            return self._batches[ck]
        if s.gamma is not None:
            step = "given"
            g, th = s.gamma, None
            runs = self._run(s, g, self.seeds(s), s.iters, self._stride(s, s.iters))
            b = Batch(s, "given", 1.0, g, runs)
        else:
            g0, th, _ = self.theory(s)
            if step == "theory":
                est = self._estimate(s, th)
                iters = s.iters if not math.isfinite(est) else min(s.iters, int(6 * est) + 10)
                if s.budget is None:
                    # the theory's count can be far above the runs': record them finely
                    est = min(self._pilot(s, g0), iters)
                runs = self._run(s, g0, self.seeds(s), iters, self._stride(s, est))
                b = Batch(s, "theory", 1.0, g0, runs)
            else:
                f, table, est = self.tune(s)
                key = (s.key, "factor", f)
                if not s.random and s.budget is not None and key in self._batches:
                    runs = self._batches[key]
                else:
                    iters = s.iters if not math.isfinite(est) else min(s.iters, int(4 * est) + 10)
                    runs = self._run(s, f * g0, self.seeds(s), iters, self._stride(s, est))
                b = Batch(s, "tuned", f, f * g0, runs, tuning=table)
        b.msg_bits = message_bits(s, self.problem(s.problem).d)
        self._batches[ck] = b
        if self.progress is not None:
            self.progress.update(note=f"{s.key} ({step})")
        return b

    @staticmethod
    def _estimate(s, th):
        """Iterations the theory's rate predicts to the (relative) target;
        the cap for budget targets; inf when the theory claims no rate."""
        if s.budget is not None:
            return s.iters
        if th is not None and th.rate < 1.0 and s.eps > 0 and (s.stop == "rel_error"
                                                              or s.eps_rel):
            return th.iters(s.eps)
        return s.iters

    # -- tuning ----------------------------------------------------------
    def score(self, s, runs):
        """Lower is better.  eps-targets: mean log(iterations to eps), inf if a
        run did not reach it; budget targets: mean log of the smallest
        recorded metric within the bits budget."""
        if s.budget is None:
            its = [r.iterations if r.status == "converged" else math.inf for r in runs]
            return float(np.mean(np.log(np.maximum(its, 1)))), float(np.mean(its))
        cost = budget_costs(runs, s.stop, self.eps_abs(s), s.budget)
        return float(np.mean(np.log(cost))), float(np.mean([r.iterations for r in runs]))

    def tune(self, s: Setting):
        """Best factor f on the grid 2^0..2^11 (x the theory step).

        Searched upwards from f = 1 (the theory step) while the score
        improves; the first worse factor ends the search (the score is
        unimodal in f: too small steps are slow, too large ones diverge or
        oscillate).  Scores: :meth:`score` on ``tune_runs`` tuning seeds
        (one run, the evaluation seed, for deterministic settings)."""
        g0, th, _ = self.theory(s)
        seeds = ([self.TUNE_SEED + i for i in range(self.tune_runs)] if s.random
                 else [self.seed])
        table = []
        best = (math.inf, 1.0, math.inf)
        cap = s.iters
        est = self._estimate(s, th)
        if math.isfinite(est) and est < s.iters:
            cap = min(s.iters, int(3 * est) + 10)
        for f in self.factors:
            runs = self._run(s, f * g0, seeds, cap, self._stride(s, cap))
            sc, its = self.score(s, runs)
            table.append((f, sc, its))
            if not s.random:
                self._batches[(s.key, "factor", f)] = runs
            if sc < best[0]:
                best = (sc, f, its)
                if s.budget is None and math.isfinite(its):
                    cap = min(cap, int(2 * its) + 10)    # slower than 2x the best: worse anyway
            elif math.isfinite(best[0]):
                break
        return best[1], table, best[2]


def message_bits(s: Setting, d):
    """(full, values) bits of one message of the setting's compressor when
    they do not depend on the input (Rand-K, dithering), else None.  Used for
    the refresh=free convention: Rand-DIANA's uplink bits without its
    full-vector refreshes are iterations x one message."""
    if s.compressor is None:
        return None
    import shiftbench as sb
    try:
        C = sb.compressor(s.compressor)
    except ValueError:
        return None
    rng = np.random.default_rng(12345)
    seen = set()
    for i in range(4):
        v = rng.standard_normal(d) * (10.0 ** rng.uniform(-3, 3))
        _, b = C.compress(v, seed=i)
        seen.add((float(int(b)), float(b.values)))
    return seen.pop() if len(seen) == 1 else None


# ----------------------------------------------------------------------------
# per-run measurements under a convention


def bits_column(bits):
    return "bits_per_worker" if bits in ("full", "any") else "values_bits_per_worker"


def cost_to_eps(batch: Batch, bits="full", refresh="counted"):
    """Per run: uplink bits per worker when the target was reached (inf if
    not), under the bits/refresh convention.  refresh=free (Rand-DIANA):
    iterations x one message (:func:`message_bits`), i.e. without the
    full-vector refreshes and the initial h_i^0."""
    out = []
    free = refresh == "free" and batch.setting.method == "rand-diana"
    if free and batch.msg_bits is None:
        raise ValueError(f"{batch.setting.key}: message size depends on the input; "
                         f"refresh=free is not computable")
    for r in batch.runs:
        if r.status != "converged":
            out.append(math.inf)
            continue
        last = r.trace.iloc[-1]
        if free:
            out.append(float(last["iteration"]) * batch.msg_bits[0 if bits != "values" else 1])
        else:
            out.append(float(last[bits_column(bits)]))
    return np.array(out)


def refresh_free_bits(batch: Batch, trace, bits="full"):
    """The bits column of ``trace`` with the refreshes taken out."""
    return trace["iteration"].to_numpy(float) * batch.msg_bits[0 if bits != "values" else 1]


def budget_costs(runs, metric, eps, budget, bits="full"):
    """Per run: uplink bits (under ``bits``) to reach ``metric`` <= eps; a run
    that did not reach it within the budget gets ``budget x (its smallest
    metric)/eps`` -- more than any run that reached eps, and ordered by how
    close it came (a censored cost, so that every run has one)."""
    col = bits_column(bits)
    out = []
    for r in runs:
        t = r.trace
        m = t[metric].to_numpy(float)
        if r.status == "converged":
            out.append(float(t[col].iloc[-1]))
            continue
        m = m[np.isfinite(m)]
        if r.status == "diverged" or not m.size:
            out.append(math.inf)
        else:
            out.append(float(budget) * max(1.0, float(m.min()) / eps))
    return np.array(out)


def best_within(batch: Batch, metric, budget, bits="full"):
    """Per run: the smallest recorded ``metric`` among trace rows whose
    uplink bits (under ``bits``) are <= ``budget`` (inf if none)."""
    out = []
    col = bits_column(bits)
    for r in batch.runs:
        t = r.trace
        m = t[metric].to_numpy(float)
        x = t[col].to_numpy(float)
        ok = (x <= budget * (1 + 1e-12)) & np.isfinite(m)
        out.append(float(m[ok].min()) if ok.any() else math.inf)
    return np.array(out)


def unstable(batch: Batch):
    """Runs that diverged or did not reach the target within the iteration cap."""
    return int(sum(r.status in ("diverged", "max_iter") for r in batch.runs))


# ----------------------------------------------------------------------------
# statistics


@dataclass
class Cmp:
    """Outcome of one comparison: ``direction`` '<' (a lower), '>' or '?'."""
    direction: str
    text: str


def _tq(level, df):
    from scipy import stats
    return float(stats.t.ppf(1 - level / 2, df))


def _sign_test(k, n):
    from scipy import stats
    if n == 0:
        return 1.0
    return float(stats.binomtest(k, n, 0.5).pvalue)


def _fmt(v, nd=3):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "inf" if v == math.inf else "nan"
    return f"{v:.{nd}g}"


def compare(a, b, m=1, level=LEVEL, what="cost"):
    """Is ``a`` lower than ``b``?  a, b: per-run costs (lower is better; inf
    = target not reached).

    * both of length 1 (deterministic): exact comparison;
    * one of length 1 (c) and one sample x: one-sample Student-t interval of
      mean log10(x) - log10(c) at level ``level/m`` (two-sided); a sign test
      of x_i against c if some x_i is inf;
    * two samples of equal length (paired by seed): Student-t interval of the
      mean log10 ratio; a sign test (ties dropped) if some cost is inf.

    Direction '<' or '>' when the interval (or the sign test at level/m)
    excludes 0, '?' otherwise.
    """
    a = np.asarray(a, float)
    b = np.asarray(b, float)
    lev = level / m
    if a.size == 1 and b.size == 1:
        if a[0] == b[0]:
            return Cmp("?", f"{_fmt(a[0])} vs {_fmt(b[0])} (deterministic, equal)")
        d = "<" if a[0] < b[0] else ">"
        return Cmp(d, f"{_fmt(a[0])} vs {_fmt(b[0])} (deterministic)")
    if a.size == 1 or b.size == 1:
        flip = a.size == 1
        x, c = (b, a[0]) if flip else (a, b[0])
        if np.all(np.isfinite(x)) and math.isfinite(c) and x.size >= 2:
            dl = np.log10(x) - math.log10(c)
            lo, hi = _tint(dl, lev)
            d = "<" if hi < 0 else (">" if lo > 0 else "?")
            if flip:
                d = {"<": ">", ">": "<", "?": "?"}[d]
            txt = (f"{'sample/fixed' if not flip else 'fixed/sample'} log10 ratio "
                   f"{(1 if not flip else -1) * dl.mean():+.3f} "
                   f"[{_fmt((1 if not flip else -1) * (hi if flip else lo))}, "
                   f"{_fmt((1 if not flip else -1) * (lo if flip else hi))}] "
                   f"(t, {100 * (1 - lev):.4g}%)")
            return Cmp(d, txt)
        k = int(np.sum(x < c))
        n = int(np.sum(x != c))
        p = _sign_test(k, n)
        d = "?" if p >= lev else ("<" if k > n - k else ">")
        if flip:
            d = {"<": ">", ">": "<", "?": "?"}[d]
        return Cmp(d, f"sign test: {k}/{n} runs below {_fmt(c)}, p={p:.3g} "
                      f"(level {lev:.3g})")
    if a.size != b.size:
        raise ValueError("compare: samples must be paired (equal length)")
    if np.all(np.isfinite(a)) and np.all(np.isfinite(b)):
        dl = np.log10(a) - np.log10(b)
        lo, hi = _tint(dl, lev)
        d = "<" if hi < 0 else (">" if lo > 0 else "?")
        return Cmp(d, f"log10 ratio {dl.mean():+.3f} [{_fmt(lo)}, {_fmt(hi)}] "
                      f"(paired t, {100 * (1 - lev):.4g}%)")
    k = int(np.sum(a < b))
    n = int(np.sum(a != b))
    p = _sign_test(k, n)
    d = "?" if p >= lev else ("<" if k > n - k else ">")
    return Cmp(d, f"sign test: a lower in {k}/{n} pairs, p={p:.3g} (level {lev:.3g})")


def _tint(x, level):
    x = np.asarray(x, float)
    if x.size < 2:
        return float(x.mean()), float(x.mean())
    sd = float(x.std(ddof=1))
    h = _tq(level, x.size - 1) * sd / math.sqrt(x.size)
    return float(x.mean() - h), float(x.mean() + h)


def trend(xs, costs, level=LEVEL):
    """Does the cost grow with x?  Pooled OLS slope of log10 cost on log10 x
    over all runs, with a Student-t interval (N - 2 degrees of freedom);
    Kendall's tau test when some runs did not reach the target (inf cost).
    Returns Cmp with direction '+' (grows), '-' (falls) or '?'."""
    from scipy import stats
    X = np.concatenate([np.full(len(c), float(x)) for x, c in zip(xs, costs)])
    Y = np.concatenate([np.asarray(c, float) for c in costs])
    if np.all(np.isfinite(Y)):
        lx, ly = np.log10(X), np.log10(Y)
        res = stats.linregress(lx, ly)
        h = _tq(level, len(lx) - 2) * res.stderr
        lo, hi = res.slope - h, res.slope + h
        d = "+" if lo > 0 else ("-" if hi < 0 else "?")
        return Cmp(d, f"slope of log10 cost on log10 x {res.slope:+.3f} [{_fmt(lo)}, {_fmt(hi)}] "
                      f"(OLS t, {100 * (1 - level):.4g}%, {len(lx)} runs)")
    tau, p = stats.kendalltau(X, np.where(np.isfinite(Y), Y, np.inf))
    d = "?" if not (p < level) else ("+" if tau > 0 else "-")
    return Cmp(d, f"Kendall tau {tau:+.3f}, p={p:.3g} (some runs did not reach the target)")


def more_unstable(k1, n1, k0, n0, level=LEVEL):
    """Fisher's exact one-sided test: is the unstable fraction k1/n1 larger
    than k0/n0?  Returns (p, text); 95% upper bound when k1 = 0."""
    from scipy import stats
    if k1 == 0:
        ub = 1 - (level) ** (1.0 / max(n1, 1))
        return 1.0, f"0/{n1} unstable (95% upper bound on the rate {ub:.3g})"
    p = float(stats.fisher_exact([[k1, n1 - k1], [k0, n0 - k0]], alternative="greater")[1])
    return p, f"{k1}/{n1} vs {k0}/{n0} unstable, Fisher p={p:.3g}"


def all_of(cmps, want):
    """Verdict of 'every comparison goes ``want``': holds if all do, does not
    hold if any goes the other way, inconclusive otherwise."""
    other = {"<": ">", ">": "<", "+": "-", "-": "+"}[want]
    if all(c.direction == want for c in cmps):
        return "holds"
    if any(c.direction == other for c in cmps):
        return "does not hold"
    return "inconclusive"


def one(cmp, want):
    return all_of([cmp], want)


# ----------------------------------------------------------------------------
# figure outputs


@dataclass
class Claim:
    claim_id: str
    paper: str
    figure: str
    claim: str
    convention: str
    measured: str
    verdict: str

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict {self.verdict!r} not in {VERDICTS}")


def header_lines(meta):
    return "".join(f"# {k}: {json.dumps(v, default=str)}\n" for k, v in meta.items())


def write_csv(path, df, meta, float_format="%.10g"):
    from ..harness.io import atomic_write_text
    atomic_write_text(path, header_lines(meta) + df.to_csv(index=False,
                                                           float_format=float_format))


# ----------------------------------------------------------------------------
# figures


@dataclass
class Panel:
    """One axes of a figure: the aggregated series and how to draw them."""
    title: str
    agg: pd.DataFrame
    xlabel: str
    ylabel: str
    xscale: str = "log"
    yscale: str = "log"
    styles: dict = field(default_factory=dict)
    band: str = "minmax"


class FigureBase:
    """A reproduced figure: its settings, runs, panels and claims.

    Subclasses set ``name``, ``paper`` (a key of :data:`PAPERS`),
    ``figure`` (the paper's figure) and ``title``, and implement
    :meth:`settings`, :meth:`compute`, :meth:`panels`, :meth:`claims`."""
    name = ""
    paper = ""
    figure = ""
    title = ""
    steps = STEPS

    def __init__(self, quick=False, **kw):
        self.quick = bool(quick)
        self.notes = []
        self.meta = {}

    def settings(self):
        return []

    def units(self):
        """Batches this figure runs (for the progress report)."""
        return len(self.settings()) * len(self.steps)

    def compute(self, runner):
        return {(s.key, st): runner.batch(s, st) for s in self.settings() for st in self.steps}

    def panels(self, data):
        return []

    def claims(self, data):
        return []

    def runs_table(self, data):
        rows = []
        for (key, step), b in data.items():
            for r in b.runs:
                last = r.trace.iloc[-1]
                d = {"figure": self.name, "setting": key, "method": b.setting.method,
                     "problem": b.setting.problem, "compressor": b.setting.compressor,
                     "options": json.dumps(dict(b.setting.opts), default=str),
                     "step": b.step, "factor": b.factor, "gamma": b.gamma, "seed": r.seed,
                     "status": r.status, "iterations": r.iterations,
                     "bits_per_worker": float(last["bits_per_worker"]),
                     "values_bits_per_worker": float(last["values_bits_per_worker"]),
                     "final_" + b.setting.stop: float(last[b.setting.stop])}
                if b.setting.method == "rand-diana" and b.msg_bits is not None:
                    d["bits_refresh_free"] = float(last["iteration"]) * b.msg_bits[0]
                    d["values_bits_refresh_free"] = float(last["iteration"]) * b.msg_bits[1]
                rows.append(d)
        return pd.DataFrame(rows)

    def claim(self, cid, text, conv, measured, verdict):
        return Claim(cid, PAPERS[self.paper], self.figure, text, conv, measured, verdict)


def traces(batch: Batch, series, y=None, transform=None):
    """The runs of a batch as one long frame with ``series`` and ``run``
    columns (for :func:`shiftbench.plot.aggregate`)."""
    parts = []
    for r in batch.runs:
        t = r.trace.copy()
        if transform is not None:
            t = transform(t)
        t["series"] = series
        t["run"] = f"{batch.setting.key}#{batch.step}#{r.seed}"
        parts.append(t)
    return pd.concat(parts, ignore_index=True)


def curves(frames, x="bits", y="rel_error", xscale="log", points=150):
    """Aggregate frames of :func:`traces` into series (plot.aggregate)."""
    from ..plot import aggregate
    df = pd.concat(frames, ignore_index=True)
    return aggregate(df, x, y, by=["series"], band="minmax", points=points, xscale=xscale)


def geo(x):
    x = np.asarray(x, float)
    if x.size == 0 or not np.all(np.isfinite(x)):
        return math.inf
    return float(10 ** np.mean(np.log10(x)))
