"""Kernel speed report: every compressor kernel against a memory copy.

``python -m shiftbench.perf`` times, in ONE process and interleaved round by
round (so that machine noise hits all of them alike):

* the compiled kernel (what the method engine calls in its loop,
  :func:`shiftbench.compressors.kernels.program.apply_program`, or the
  compressor's sparse kernel for the ``sparse`` variant);
* the user-facing call (:meth:`~shiftbench.compressors.Compressor.compress`,
  which also validates x);
* ``np.copyto`` of the same array (the memory-bandwidth yardstick: one read
  and one write of d float64);
* the exact NumPy/Python reference of :mod:`shiftbench.naive.compressors`
  (skipped where its predicted time exceeds ``--budget``; the reason is
  reported);
* an idiomatic vectorised NumPy version of the same mathematics (e.g.
  ``argpartition`` for Top-K, ``Generator.choice`` for Rand-K), which is
  not bit-identical to the kernel but is what a NumPy user would write.

Compilation is never timed: every callable is called once before timing.
Each timing is the minimum over ``--repeat`` rounds of the mean over
``number`` back-to-back calls (``number`` chosen so one round lasts
>= ``--min-time``).

Benchmarks are :class:`Entry` objects in :data:`ENTRIES`; another module
adds its own with :func:`register` (method timings, e.g. one DIANA
iteration against a NumPy loop).  ``--plugin`` takes a Python file (loaded
as by ``python -m shiftbench --plugin FILE``) or a module name; plugins are
imported first, then the modules of :data:`PLUGIN_MODULES`, and the method
rows are built from the method registry after that, so a method a plugin
registers with :func:`shiftbench.methods.model.register` gets its
``<name>/ridge`` row (and a compressor registered there its rows).

Examples
--------
``python -m shiftbench.perf --d 1e7 --kernels "top-k;rand-k;natural"``

``python -m shiftbench.perf --json --quick``
"""
from __future__ import annotations

import argparse
import gc
import importlib
import json
import math
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

__all__ = ["Case", "Entry", "ENTRIES", "register", "compressor_entry",
           "default_compressor_specs", "numpy_vectorised", "measure", "run",
           "main", "PLUGIN_MODULES"]

#: modules imported (if they exist) before a run; each may call :func:`register`
PLUGIN_MODULES = ("shiftbench.perf_methods",)

Q_SPARSE = 0.01               # K = d/100 for every K-parameterised compressor

NOTE_NO_REFERENCE = "skipped (--no-reference)"
NOTE_BUDGET = "skipped by --budget"


# ----------------------------------------------------------------------------
# the entry protocol

@dataclass
class Case:
    """One benchmark at one dimension: the callables to time.

    Attributes
    ----------
    kernel : callable
        The compiled operation (no arguments); its time is ``seconds``.
    copy : callable, optional
        The yardstick; default ``np.copyto`` of a d-vector.
    api : callable, optional
        The user-facing call, if different from ``kernel``.
    reference : callable, optional
        The exact (bit-identical) NumPy/Python reference.
    reference_cost : float, optional
        Predicted seconds of one ``reference`` call (used with ``--budget``
        to skip it); ``None`` means "measure one call at a small d first".
    numpy_vec : callable, optional
        An idiomatic vectorised NumPy baseline (not bit-identical).
    floor : callable, optional
        What the kernel cannot avoid, timed alone (method rows: the n local
        gradients and the n compressor calls of the same iterations); gives
        ``floor_seconds`` and ``ratio_to_floor``.
    setup : callable, optional
        The kernel with no iterations (method rows on large problems: the
        run's allocation and first gradients); gives ``setup_seconds`` and
        the steady-state ``iter_seconds`` = (seconds - setup_seconds) /
        iters_per_call, from which the floor ratios are taken.
    info : dict
        Extra JSON fields (e.g. ``bits``).
    reference_note : str, optional
        Why there is no ``reference`` (shown in ``numpy_note``).
    """
    kernel: Callable[[], object]
    copy: Optional[Callable[[], object]] = None
    api: Optional[Callable[[], object]] = None
    reference: Optional[Callable[[], object]] = None
    reference_cost: Optional[float] = None
    numpy_vec: Optional[Callable[[], object]] = None
    floor: Optional[Callable[[], object]] = None
    setup: Optional[Callable[[], object]] = None
    info: dict = field(default_factory=dict)
    reference_note: Optional[str] = None


@dataclass
class Entry:
    """A benchmark: a name and a factory ``make(d) -> Case``.

    Attributes
    ----------
    kernel : str
        A compressor spec, or a method name (the ``kernel`` JSON key).
    make : callable
        ``make(d)`` builds the data and returns a :class:`Case`; called once
        per dimension, outside any timing.
    variant : str
        ``"dense"``, ``"sparse"``, ``"iteration"``, ...
    kind : str
        ``"compressor"`` or ``"method"``.
    reference_scale : callable, optional
        ``reference_scale(d)``: relative cost of the reference at d (default
        ``d``), used to extrapolate its time from a small-d calibration.
    """
    kernel: str
    make: Callable[[int], Case]
    variant: str = "dense"
    kind: str = "compressor"
    reference_scale: Optional[Callable[[int], float]] = None
    default: bool = True          # False: only when selected with --kernels (slow rows)

    @property
    def name(self):
        return self.kernel if self.variant == "dense" else f"{self.kernel} [{self.variant}]"


#: every registered benchmark (compressors first; plugins append)
ENTRIES: list = []


def register(entry: Entry):
    """Add a benchmark entry (e.g. from a plugin module); returns it."""
    ENTRIES.append(entry)
    return entry


# ----------------------------------------------------------------------------
# compressor entries

def default_compressor_specs():
    """One spec per registry entry: its example, with q = 1/100 for every
    compressor parameterised by K (so K = d/100 at every d)."""
    from .compressors.registry import REGISTRY
    specs = []
    for name, e in REGISTRY.items():
        if not e.composite and e.param("q") is not None:
            specs.append(f"{name}(q={Q_SPARSE})")
        else:
            specs.append(e.example)
    return specs


def _input(d, seed=0):
    return np.random.default_rng(seed).standard_normal(d)


def numpy_vectorised(spec, d, sparse=False):
    """An idiomatic vectorised NumPy version of a primitive compressor.

    Returns ``f(x, gen)`` (``gen`` a ``numpy.random.Generator``) or None for
    composites and compressors without one.  Each compressor's definition
    provides it (:mod:`shiftbench.compressors.builtins`).  The mathematics is
    the kernel's; the random stream, the summation order and Top-K's tie rule
    are NumPy's, so outputs are not bit-identical: these are speed baselines
    only.
    """
    from .compressors.registry import parse
    node = parse(spec)
    e = node.definition
    if node.kids or e.vectorised is None:
        return None
    return e.vectorised(node.values(), d, sparse)


def _has_sparse(spec):
    from .compressors.registry import parse
    node = parse(spec)
    return not node.kids and node.definition.sparse is not None


def _missing_reference(node):
    """The name of the first compressor in the spec tree ``node`` without a
    NumPy reference (a user compressor registered without ``reference=``),
    or None when the whole tree has one."""
    if node.kids:
        for k in node.kids:
            miss = _missing_reference(k)
            if miss is not None:
                return miss
        if node.name in ("induced", "compose", "scale"):
            return None
    return None if getattr(node.definition, "reference", None) is not None else node.name


def _gather(x, idx, vals):
    for j in range(idx.size):
        vals[j] = x[idx[j]]


_gather_jit = None


def gather_floor(x, m, seed=5, footprint=256 << 20):
    """A no-argument callable reading ``m`` random entries of ``x`` (sorted
    indices, a fresh set each call: the sets together span ``footprint``
    bytes of cache lines, more than any last-level cache), the floor of a
    sparse Rand-K message: it cannot read fewer entries, and nothing it
    draws is in cache."""
    global _gather_jit
    if _gather_jit is None:
        from numba import njit
        _gather_jit = njit(cache=True)(_gather)
    d = x.size
    m = max(int(m), 1)
    g = np.random.default_rng(seed)
    nsets = int(min(64, max(2, footprint // (64 * m))))
    sets = [np.sort(g.integers(0, d, m)) for _ in range(nsets)]
    vals = np.empty(m)
    state = [0]

    def floor():
        j = state[0]
        state[0] = (j + 1) % nsets
        _gather_jit(x, sets[j], vals)
    return floor


def compressor_entry(spec, variant="dense"):
    """The :class:`Entry` of one compressor spec (``variant`` "dense" or
    "sparse"; sparse is for compressors with a sparse form: rand-k, crand-k,
    top-k)."""

    def make(d):
        from . import _rng
        from .compressors import compressor
        from .compressors.kernels.program import apply_arrays
        C = compressor(spec)
        C.node.check_d(d)
        x = _input(d)
        out = np.empty(d)
        ws = C.workspace(d)
        rng = _rng.new_state(1)
        gen = np.random.default_rng(1)
        vec = numpy_vectorised(spec, d, sparse=(variant == "sparse"))
        try:
            from .naive.compressors import naive_compress
        except ImportError:          # reference module not available
            naive_compress = None
        if variant == "sparse":
            kern, p = C.sparse_kernel()
            idx, vals, _ = C.compress_sparse(x, 0)
            idx = np.empty(max(idx.size, 1), dtype=np.int64)
            vals = np.empty(idx.size)

            def kernel():
                return kern(x, p, rng, ws.iwork, ws.mark, idx, vals)

            def api():
                return C.compress_sparse(x, rng=rng)
        else:
            pg = C.program
            addr = pg._addresses()

            def kernel():
                return apply_arrays(pg.ops, pg.params, pg.ptr, addr, 0, x, out, rng, ws.regs,
                                    ws.iwork, ws.mark)

            def api():
                return C.compress(x, rng=rng, out=out)

        _, b = C.compress(x, 0)
        ref, note = None, None
        missing = _missing_reference(C.node)
        if naive_compress is None:
            note = "no reference (shiftbench.naive not importable)"
        elif missing is not None:
            note = (f"no NumPy reference: {missing!r} was registered without reference= "
                    f"(register_compressor(..., reference=f) adds one)")
        else:
            def ref():
                return naive_compress(spec, x, 0)
        floor = None
        info = {"bits": int(b), "bits_values": b.values, "spec": C.spec}
        if variant == "sparse" and C.node.name in ("rand-k", "crand-k"):
            m = C.compress_sparse(x, 0)[0].size
            floor = gather_floor(x, m)
            info["floor"] = f"read {m} random entries of x (fresh, sorted indices)"
        return Case(kernel=kernel, api=api, reference=ref, reference_note=note,
                    numpy_vec=(lambda: vec(x, gen)) if vec is not None else None,
                    floor=floor, info=info)

    return Entry(spec, make, variant=variant, kind="compressor")


def _register_compressors():
    """Put one entry per compressor (and the sparse variants) first in
    :data:`ENTRIES`: on the first call every registry entry, later only the
    compressors registered since (e.g. by a ``--plugin`` file); idempotent."""
    have = {(e.kernel, e.variant) for e in ENTRIES if e.kind == "compressor"}
    mine = []
    for spec in default_compressor_specs():
        if (spec, "dense") not in have:
            mine.append(compressor_entry(spec))
        if _has_sparse(spec) and (spec, "sparse") not in have:
            mine.append(compressor_entry(spec, "sparse"))
    if mine:
        at = next((i for i, e in enumerate(ENTRIES) if e.kind != "compressor"), len(ENTRIES))
        ENTRIES[at:at] = mine


# ----------------------------------------------------------------------------
# timing

def _number(fn, min_time):
    """Calls per round so that one round lasts about ``min_time`` seconds."""
    t0 = time.perf_counter()
    fn()
    t = time.perf_counter() - t0
    if t >= min_time:
        return 1
    return int(min(1_000_000, max(1, math.ceil(min_time / max(t, 1e-9)))))


def _round(fn, number):
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - t0) / number


def measure(case, d, repeat=7, min_time=0.005, budget=1.0, ref_cost=None,
            with_reference=True):
    """Time one :class:`Case` (min over rounds of the mean per call).

    Parameters
    ----------
    case : Case
    d : int
        The dimension (for the default copy yardstick and the report).
    repeat : int
        Rounds; the kernel, the copy and the other callables alternate
        within each round.
    min_time : float
        Seconds per round and callable (sets ``number``).
    budget : float
        Skip the exact reference when one call is predicted to take longer.
    ref_cost : float, optional
        Predicted seconds of one reference call (overrides
        ``case.reference_cost``).
    with_reference : bool
        Time the exact reference at all.

    Returns
    -------
    dict
        ``seconds``, ``copy_seconds``, ``api_seconds`` (if any),
        ``numpy_vec_seconds`` (if any), ``numpy_seconds`` (None when
        skipped, with the reason in ``numpy_note``), ``number``, ``repeat``.
    """
    if case.copy is None:
        src = _input(d, 2)
        dst = np.empty(d)
        copy = (lambda: np.copyto(dst, src))
    else:
        copy = case.copy
    fns = {"seconds": case.kernel, "copy_seconds": copy}
    if case.api is not None:
        fns["api_seconds"] = case.api
    if case.numpy_vec is not None:
        fns["numpy_vec_seconds"] = case.numpy_vec
    if case.floor is not None:
        fns["floor_call_seconds"] = case.floor
    if case.setup is not None:
        fns["setup_seconds"] = case.setup
    # warm-up: compiles everything before any timing
    numbers = {k: _number(f, min_time) for k, f in fns.items()}
    best = {k: math.inf for k in fns}
    for _ in range(repeat):
        for k, f in fns.items():
            best[k] = min(best[k], _round(f, numbers[k]))
    res = dict(best)
    res["number"] = numbers["seconds"]
    res["repeat"] = repeat
    # the exact reference: fewer rounds, skipped when predicted too slow
    res["numpy_seconds"] = None
    note = None
    cost = ref_cost if ref_cost is not None else case.reference_cost
    if case.reference is None:
        note = case.reference_note or "no reference for this row"
    elif not with_reference:
        note = NOTE_NO_REFERENCE
    elif cost is not None and cost > budget:
        note = (f"{NOTE_BUDGET}: predicted {cost:.3g} s per call > budget {budget:g} s "
                f"(pure-Python reference)")
    else:
        try:
            t0 = time.perf_counter()
            case.reference()
            t1 = time.perf_counter() - t0
            ts = [t1]
            nrep = max(1, min(repeat, int(min(3.0 * budget, 2.0) / max(t1, 1e-9))))
            for _ in range(nrep - 1):
                ts.append(_round(case.reference, max(1, _number(case.reference, min_time))))
            res["numpy_seconds"] = min(ts)
        except Exception as err:        # noqa: BLE001 - the kernel's timings still stand
            msg = str(err).strip().splitlines()[0] if str(err).strip() else ""
            note = f"reference failed: {type(err).__name__}: {msg}"
    res["numpy_note"] = note
    return res


def _finish(row):
    s = row["seconds"]
    row["ratio_to_copy"] = s / row["copy_seconds"]
    if row.get("api_seconds") is not None:
        row["api_ratio_to_copy"] = row["api_seconds"] / row["copy_seconds"]
    ns = row.get("numpy_seconds")
    row["speedup_vs_numpy"] = ns / s if ns is not None else None
    nv = row.get("numpy_vec_seconds")
    row["speedup_vs_numpy_vec"] = nv / s if nv is not None else None
    k = row.get("iters_per_call") or 1
    setup = row.get("setup_seconds")
    # per iteration: the steady state when the run's setup was timed apart
    # (a large problem allocates and faults in n x d arrays once per run)
    it = (s - setup) / k if setup is not None else s / k
    if setup is not None:
        row["iter_seconds"] = it
    fl = row.pop("floor_call_seconds", None)
    if fl is not None:
        row["floor_seconds"] = fl / k              # per iteration
        row["seconds_per_iter"] = s / k
        row["ratio_to_floor"] = it / (fl / k)
    mem = row.get("memory_floor_seconds")
    if mem:
        row["ratio_to_memory_floor"] = it / mem
        if setup is not None:
            row["ratio_to_memory_floor_with_setup"] = s / k / mem
    return row


def _select(entries, names):
    if not names:
        return [e for e in entries if e.default]
    out = []
    for want in names:
        w = want.strip()
        if not w:
            continue
        hits = [e for e in entries if w in (e.kernel, e.name)]
        if not hits and "(" in w:
            # a full spec times exactly that spec (never another entry of
            # the same compressor); "[sparse]" selects its sparse form
            spec, _, var = w.partition("[")
            spec, variant = spec.strip(), (var.rstrip("]").strip() or "dense")
            if variant not in ("dense", "sparse"):
                raise SystemExit(f"perf: {w!r}: unknown variant [{variant}]; allowed: "
                                 f"[sparse] (or none)")
            try:
                from .compressors import compressor
                compressor(spec)
            except ValueError as err:
                raise SystemExit(f"perf: {w!r}: {err}") from None
            if variant == "sparse" and not _has_sparse(spec):
                raise SystemExit(f"perf: {w!r}: {spec} has no sparse form (rand-k, crand-k "
                                 f"and top-k do)")
            hits = [e for e in entries if e.kind == "compressor" and e.variant == variant
                    and e.kernel == spec] or [compressor_entry(spec, variant)]
        if not hits:
            base = w.split("(")[0].lower()
            hits = [e for e in entries if e.kernel.split("(")[0].lower() == base]
        if not hits:
            raise SystemExit(f"perf: unknown kernel {w!r}; allowed: "
                             + "; ".join(e.name for e in entries))
        out.extend(h for h in hits if h not in out)
    return out


def run(ds, names=None, repeat=7, min_time=0.005, budget=1.0, with_reference=True,
        progress=None):
    """Time the selected entries at every d.

    Parameters
    ----------
    ds : list of int
        Dimensions.
    names : list of str, optional
        Specs, registry names or entry names (see ``--kernels``); default
        every entry of :data:`ENTRIES`.
    repeat, min_time, budget, with_reference
        As in :func:`measure`.
    progress : callable, optional
        Called with each finished row.

    Returns
    -------
    list of dict
        One row per (entry, d): ``kernel``, ``variant``, ``kind``, ``d``,
        ``seconds``, ``copy_seconds``, ``ratio_to_copy``, ``api_seconds``,
        ``api_ratio_to_copy``, ``numpy_seconds``, ``speedup_vs_numpy``,
        ``numpy_note``, ``numpy_vec_seconds``, ``speedup_vs_numpy_vec``,
        ``number``, ``repeat`` and the case's ``info`` (e.g. ``bits``); or
        ``error`` when the case could not be built or timed.

    Notes
    -----
    The reference's cost at d is predicted from one call at a small d
    (scaled by ``entry.reference_scale``, default linear in d), so a
    pure-Python reference is never started where it would take minutes.
    """
    _register_compressors()
    _refresh_entries()
    entries = _select(ENTRIES, names)
    rows = []
    for e in entries:
        scale = e.reference_scale or (lambda d: float(d))
        calib = None                                      # (d, seconds)
        d_cal = min(min(ds), 1000)
        if with_reference and min(ds) > d_cal:
            try:                                          # one call at a small d
                c = e.make(d_cal)
                if c.reference is not None:
                    c.reference()
                    t0 = time.perf_counter()
                    c.reference()
                    calib = (d_cal, time.perf_counter() - t0)
            except Exception:
                pass
        # method rows run on fixed problems: once, whatever --d
        for d in (sorted(ds) if e.kind != "method" else sorted(ds)[:1]):
            pred = None
            if calib is not None:
                pred = calib[1] * scale(d) / scale(calib[0])
            try:
                case = e.make(d)
                res = measure(case, d, repeat=repeat, min_time=min_time, budget=budget,
                              ref_cost=pred, with_reference=with_reference)
            except Exception as err:                      # e.g. K > d
                rows.append({"kernel": e.kernel, "variant": e.variant, "kind": e.kind,
                             "d": d, "error": f"{type(err).__name__}: {err}"})
                if progress:
                    progress(rows[-1])
                continue
            if res["numpy_seconds"] is not None and calib is None:
                calib = (d, res["numpy_seconds"])
            row = {"kernel": e.kernel, "variant": e.variant, "kind": e.kind, "d": d}
            row.update(res)
            row.update(case.info)
            rows.append(_finish(row))
            if progress:
                progress(row)
            del case
            gc.collect()
    return rows


# ----------------------------------------------------------------------------
# CLI

def _fmt_s(s):
    if s is None:
        return "-"
    if s < 1e-3:
        return f"{s * 1e6:.1f}us"
    if s < 1:
        return f"{s * 1e3:.2f}ms"
    return f"{s:.2f}s"


def _fmt_x(v, nd=2):
    return "-" if v is None else f"{v:.{nd}f}"


NAME_W = 44
HEADER = (f"{'kernel':{NAME_W}s} {'n':>4s} {'d':>9s} {'kernel':>9s} {'copy':>9s} {'k/copy':>7s} "
          f"{'api/copy':>8s} {'numpy':>9s} {'speedup':>8s} {'np-vec':>9s} {'vs vec':>7s} "
          f"{'floor/it':>9s} {'k/floor':>7s}")


def _line(r):
    name = r["kernel"] if r["variant"] == "dense" else f"{r['kernel']} [{r['variant']}]"
    w = max(NAME_W, len(name))
    n = str(r.get("n", "")) if r.get("n") is not None else "-"
    if "error" in r:
        return f"{name:{w}s} {n:>4s} {r['d']:>9d}  {r['error']}"
    return (f"{name:{w}s} {n:>4s} {r['d']:>9d} {_fmt_s(r['seconds']):>9s} "
            f"{_fmt_s(r['copy_seconds']):>9s} {_fmt_x(r['ratio_to_copy']):>7s} "
            f"{_fmt_x(r.get('api_ratio_to_copy')):>8s} {_fmt_s(r['numpy_seconds']):>9s} "
            f"{_fmt_x(r['speedup_vs_numpy'], 1):>8s} {_fmt_s(r.get('numpy_vec_seconds')):>9s} "
            f"{_fmt_x(r['speedup_vs_numpy_vec'], 1):>7s} {_fmt_s(r.get('floor_seconds')):>9s} "
            f"{_fmt_x(r.get('ratio_to_floor')):>7s}" + _mc_text(r) + _mem_text(r))


def _mem_text(r):
    """Large-d rows: bytes an iteration must move over copy bandwidth."""
    if r.get("memory_floor_seconds") is None:
        return ""
    text = (f"  memory floor {_fmt_s(r['memory_floor_seconds'])}/it "
            f"({r['bytes_per_iter'] / 1e9:.2f} GB at {r['copy_bandwidth'] / 1e9:.1f} GB/s): "
            f"x{r['ratio_to_memory_floor']:.2f}")
    if r.get("setup_seconds") is not None:
        text += (f" per iteration ({_fmt_s(r['iter_seconds'])}; with the run's setup, "
                 f"{_fmt_s(r['setup_seconds'])}, over {r['iters_per_call']} iterations: "
                 f"x{r['ratio_to_memory_floor_with_setup']:.2f})")
    return text


def _mc_text(r):
    """Monte-Carlo rows: both throughputs and the speed-up, all from the same
    median times (speed-up = parallel runs/s / sequential runs/s)."""
    if r.get("mc_runs_per_s") is None:
        return ""
    par, seq = r["mc_runs_per_s"], r["seq_runs_per_s"]
    return (f"  Monte-Carlo: parallel {par:.0f} runs/s ({r['threads']} threads), "
            f"sequential {seq:.0f} runs/s; speed-up parallel/sequential "
            f"x{par / seq:.2f} (median times of {r['mc_rounds']} rounds)")


def environment():
    """Facts that change timings: CPU, cores, library versions, env flags."""
    import numba
    env = {"python": platform.python_version(), "numpy": np.__version__,
           "numba": numba.__version__, "machine": platform.machine(),
           "processor": platform.processor() or None, "cpu_count": os.cpu_count()}
    for k in ("OPENBLAS_CORETYPE", "NUMBA_NUM_THREADS", "OMP_NUM_THREADS",
              "NUMBA_CACHE_DIR"):
        if os.environ.get(k):
            env[k] = os.environ[k]
    return env


def _parse_ds(s):
    """``--d``: comma-separated integers >= 1 (``1e3`` allowed); a one-line
    ``argparse.ArgumentTypeError`` otherwise."""
    out = []
    for t in str(s).split(","):
        t = t.strip()
        if not t:
            continue
        try:
            v = float(t)
        except ValueError:
            v = None
        if v is None or not math.isfinite(v) or v < 1 or v != int(v):
            raise argparse.ArgumentTypeError(
                f"{t!r} is not an integer >= 1; allowed: comma-separated dimensions "
                f"such as 1e3,1e5,1e7 or 1000,50000")
        out.append(int(v))
    if not out:
        raise argparse.ArgumentTypeError(
            "no dimension given; allowed: comma-separated integers >= 1 such as 1e3,1e5,1e7")
    return out


def load_plugins(names):
    """Import each ``--plugin``: a Python file (a path, or a name ending in
    ``.py``) through the main CLI's loader, else a module name (e.g.
    ``shiftbench.wire.perf``).  Raises a one-line ``ValueError``."""
    from .__main__ import load_plugin
    for name in names:
        if name.endswith(".py") or os.sep in name or "/" in name or os.path.isfile(name):
            load_plugin(name)
            continue
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name is not None and name.startswith(err.name):
                raise ValueError(f"--plugin {name!r}: no such file or module (give a "
                                 f"Python file such as my_methods.py, or a module name "
                                 f"such as shiftbench.perf_methods)") from None
            raise ValueError(f"--plugin {name!r} failed: {type(err).__name__}: {err}") \
                from None
        except Exception as err:  # noqa: BLE001 - one line, not the plugin's traceback
            msg = str(err).strip().splitlines()[0] if str(err).strip() else ""
            raise ValueError(f"--plugin {name!r} failed: {type(err).__name__}: {msg}") \
                from None


def _refresh_entries():
    """Entries for methods registered since the method rows were built (a
    plugin's ``shiftbench.methods.model.register``)."""
    mod = sys.modules.get("shiftbench.perf_methods")
    if mod is not None and hasattr(mod, "register_methods"):
        mod.register_methods()


class _Parser(argparse.ArgumentParser):
    """Errors as one line (no usage block): ``PROG: error: ...``."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def main(argv=None):
    ap = _Parser(
        prog="python -m shiftbench.perf",
        description="Time every compressor kernel against np.copyto of the same "
                    "array and against NumPy, in one run.")
    ap.add_argument("--d", default="1e3,1e5,1e7", type=_parse_ds,
                    help="comma-separated dimensions (default 1e3,1e5,1e7)")
    ap.add_argument("--kernels", action="append", default=[],
                    help="';'-separated specs or names (top-k, natural, 'dither(s=8)', "
                         "'rand-k [sparse]'); repeatable; default: all")
    ap.add_argument("--repeat", type=int, default=7, help="rounds (default 7)")
    ap.add_argument("--min-time", type=float, default=0.005,
                    help="seconds per timed round (default 0.005)")
    ap.add_argument("--budget", type=float, default=1.0,
                    help="skip the exact reference when one call is predicted "
                         "to take longer (seconds, default 1)")
    ap.add_argument("--no-reference", action="store_true",
                    help="do not time the exact (pure-Python) reference")
    ap.add_argument("--plugin", action="append", default=[],
                    help="Python file (my_methods.py) or module name to import first; it "
                         "may register methods, compressors or perf entries; repeatable")
    ap.add_argument("--quick", action="store_true",
                    help="small run for smoke tests: d = 1e3,1e4, 2 rounds")
    ap.add_argument("--json", action="store_true", help="print a JSON list of rows")
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                    help="cuda: the GPU rows (shiftbench.gpu.perf: kernels against a device "
                         "copy, the loops against the CPU engine)")
    a = ap.parse_args(argv)
    if a.repeat < 1:
        ap.error(f"--repeat must be >= 1, got {a.repeat}")
    ds = a.d
    if a.quick:
        ds, a.repeat, a.min_time, a.budget = [1000, 10000], 2, 0.001, 0.5
    names = [n for k in a.kernels for n in k.split(";") if n.strip()]
    try:
        # the user's plugins first (they may register compressors and methods),
        # then the built-in rows, built from the registries as they are now
        load_plugins(a.plugin)
    except ValueError as err:
        print(f"python -m shiftbench.perf: error: {err}", file=sys.stderr)
        return 2
    _register_compressors()
    for mod in PLUGIN_MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as err:
            if err.name != mod:
                raise
    _refresh_entries()
    if a.device == "cuda":
        try:
            from .gpu import perf as gpu_perf
        except ValueError as err:
            raise SystemExit(f"perf: {err}") from None
        names = gpu_perf.select(names)
    if not a.json:
        env = environment()
        print("# " + ", ".join(f"{k}={v}" for k, v in env.items()))
        print("# times: min over rounds; k/copy = kernel / np.copyto of the same "
              "array; api = Compressor.compress(_sparse); numpy = exact reference "
              "(shiftbench.naive); np-vec = vectorised NumPy (not bit-identical)")
        print(HEADER)
    rows = run(ds, names, repeat=a.repeat, min_time=a.min_time, budget=a.budget,
               with_reference=not a.no_reference,
               progress=None if a.json else (lambda r: print(_line(r), flush=True)))
    if a.json:
        print(json.dumps(rows, indent=1, default=float))
    else:
        for line in _skip_summary(rows):
            print(line)
    return 0


def _skip_summary(rows):
    """Comment lines saying why the numpy column is blank, by reason."""
    def pairs(pred):
        return sorted({(r["kernel"], r["d"]) for r in rows
                       if r.get("numpy_seconds") is None and pred(r.get("numpy_note") or "")})
    out = []
    budget = pairs(lambda n: n.startswith(NOTE_BUDGET))
    if budget:
        out.append(f"# exact reference skipped for {len(budget)} (kernel, d) pairs: its "
                   "predicted time per call exceeds --budget (see numpy_note in --json)")
    noref = sorted({r["kernel"] for r in rows if r.get("numpy_seconds") is None
                    and (r.get("numpy_note") or "").startswith("no NumPy reference")})
    if noref:
        out.append(f"# numpy blank for {', '.join(noref)}: no NumPy reference was registered "
                   "(register_compressor(..., reference=f) adds one)")
    failed = pairs(lambda n: n.startswith("reference failed"))
    if failed:
        out.append(f"# exact reference failed for {len(failed)} (kernel, d) pairs "
                   "(see numpy_note in --json)")
    return out


if __name__ == "__main__":
    # run the imported module, not this __main__ copy: plugins register their
    # entries into ``shiftbench.perf.ENTRIES``
    from shiftbench.perf import main as _main
    sys.exit(_main())
