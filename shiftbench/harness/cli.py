"""``python -m shiftbench methods | run | sweep``.

Every method flag, its ``--help`` text and its validation come from the
method declarations (:mod:`shiftbench.methods.model`); nothing here lists
methods or options by hand.
"""
from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import math
import os
import sys

import numpy as np
import pandas as pd

from ..methods import model as MM
from . import io


class OneLineParser(argparse.ArgumentParser):
    """argparse whose errors are one line: what is wrong and what is allowed."""

    def error(self, message):
        if "unrecognized arguments" in message and "--plugin" in message:
            message += " (--plugin goes before the command: python -m shiftbench --plugin FILE run ...)"
        self.exit(2, f"{self.prog}: error: {message}\n")


def _err(prog, e):
    print(f"{prog}: error: {e}", file=sys.stderr)
    return 2


# ---- methods -------------------------------------------------------------
def methods_main(argv):
    ap = OneLineParser(prog="python -m shiftbench methods",
                       description="List the methods, their options and their theory.")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    rows = [MM.describe(m) for m in MM.all_methods().values()]
    if a.json:
        print(json.dumps(rows))
        return 0
    for r in rows:
        print(f"{r['name']:12s} {r['summary']}")
        print(f"{'':12s} theory: {r['theorem']}")
        for o in r["options"]:
            if o["name"] in ("gamma", "gamma_factor"):
                continue
            d = o["default"]
            d = "" if d is None else f" (default {d})"
            print(f"{'':12s}   {o['flag']:20s} {o['help']}{d}")
    print("\nEvery method also takes --gamma (default: the theory's) and --gamma-factor.")
    return 0


# ---- shared --------------------------------------------------------------
def _add_common(ap):
    ap.add_argument("--problem", default="ridge",
                    help="problem spec, e.g. ridge, 'quadratic(kappa=100)', logreg-nc "
                         "(python -m shiftbench problems)")
    ap.add_argument("--data", default=None,
                    help="LIBSVM file for logreg / logreg-nc (any path; passed as is)")
    ap.add_argument("--device", "--backend", dest="device", default="cpu",
                    help="execution backend: cpu (default), cuda, or mpi (under mpiexec "
                         "with n + 1 ranks: rank 0 the master, ranks 1..n the workers)")
    MM.add_cli_options(ap)


def _problem(a):
    from ..problems import make
    if a.data is None:
        return make(a.problem)
    return make(a.problem, data=a.data)          # the path apart from the spec: any path works


def _py(v):
    """JSON-safe scalars: numpy types to Python, NaN/inf to null (strict JSON)."""
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, (float, np.floating)):
        v = float(v)
        return v if math.isfinite(v) else None
    if isinstance(v, (list, tuple)):
        return [_py(x) for x in v]
    if isinstance(v, np.ndarray):
        return [_py(x) for x in v.tolist()]
    if isinstance(v, MM.Relative):
        return str(v)
    return v


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


# ---- run -----------------------------------------------------------------
def run_main(argv):
    prog = "python -m shiftbench run"
    ap = OneLineParser(prog=prog, description="Run one experiment; print a summary, "
                       "write its trace.  Method options are validated against the method's "
                       "declaration: an option it does not take is an error.")
    ap.add_argument("--method", required=True,
                    help="one of: " + ", ".join(MM.all_methods()))
    _add_common(ap)
    ap.add_argument("--runs", default="1", help="Monte-Carlo runs (seeds seed..seed+runs-1)")
    ap.add_argument("--out", default=None,
                    help="trace CSV (written atomically; an existing file needs --force)")
    ap.add_argument("--force", action="store_true", help="replace an existing --out file")
    ap.add_argument("--json", action="store_true", help="print a one-line JSON summary")
    a = ap.parse_args(argv)
    if str(a.device).strip().lower() == "mpi":
        return _run_mpi(prog, a, argv)
    return _run(prog, a)


def _run_mpi(prog, a, argv):
    """``run --backend mpi``: workers serve, the master runs and then releases them."""
    try:
        from ..backends import mpi
        r = mpi.rank()
    except ImportError as e:
        return _err(prog, e)
    if r != 0:
        return mpi.serve_worker()
    try:
        try:
            return _run(prog, a)
        except mpi.WorkerFailed as e:
            print(f"{prog}: error: {e}", file=sys.stderr)
            sys.stderr.flush()
            import os
            import threading
            threading.Timer(5.0, os._exit, (1,)).start()   # a dead rank must not hang the exit
            return 1
    finally:
        mpi.release_workers()


def _run(prog, a):
    from .run import run
    from ..backends.cpu import RunInterrupted
    try:
        m = MM.get(a.method)
        mopts = MM.cli_method_options(a, m, strict=True)
        ropts = MM.cli_run_options(a)
        runs = MM.Option("runs", MM.INT, "", lo=1, hi=10 ** 7).validate(a.runs)
        if a.out:
            io.check_writable(a.out, overwrite=a.force)
        P = _problem(a)
        seed = ropts.pop("seed")
        ropts = {k: v for k, v in ropts.items() if v is not None}
        if seed + runs > 2 ** 63:
            raise ValueError("seed + runs must stay below 2^63")
        kw = dict(mopts, **ropts)
        interrupted = None
        try:
            if str(a.device).strip().lower() == "mpi" and a.out:
                kw["checkpoint"] = a.out
            if runs == 1:
                res = run(m.name, P, seed=seed, device=a.device, progress=True, **kw)
            else:
                res = run(m.name, P, seeds=range(seed, seed + runs), device=a.device,
                          progress=True, **kw)
        except RunInterrupted as e:
            res, interrupted = e.result, e
    except (ValueError, FileNotFoundError, ImportError, OSError) as e:
        return _err(prog, e)
    if runs == 1:
        summary = res.summary()
        trace = res.trace
    else:
        s = res.summary()
        summary = {"numbers": f"median over {runs} runs (seeds {seed}-{seed + runs - 1})"}
        summary.update({k: (float(s[k].median()) if pd.api.types.is_numeric_dtype(s[k])
                        and k != "seed" else s[k].iloc[0]) for k in s.columns})
        summary.update({"runs": runs, "status": s["status"].value_counts().to_dict(),
                        "wall_s": res.wall_s,
                        "runs_per_s": runs / res.wall_s if res.wall_s > 0 else None})
        trace = res.trace
        trace.attrs.update(res.runs[0].trace.attrs)
    if a.out:
        try:
            io.write_trace(trace, a.out, overwrite=a.force)
        except (ValueError, OSError) as e:
            return _err(prog, e)
    if interrupted is not None:
        it = summary.get("iterations")
        where = f"; partial trace written to {a.out}" if a.out else ""
        print(f"{prog}: interrupted at iteration {it}{where}", file=sys.stderr)
        return 130
    if a.json:
        print(json.dumps({k: _py(v) for k, v in summary.items()}, allow_nan=False))
    else:
        for k, v in summary.items():
            print(f"{k:26s} {_fmt(v)}")
        if a.out:
            print(f"{'trace':26s} {a.out}")
    return 0


# ---- sweep ---------------------------------------------------------------
def parse_seeds(s):
    """'0-9', '0,3,7' or '0-4,10' -> a list of distinct seeds (one-line errors)."""
    opt = [o for o in MM.RUN_OPTIONS if o.name == "seed"][0]
    out = []
    for part in str(s).split(","):
        part = part.strip()
        if not part:
            raise ValueError(f"--seeds {s!r}: empty item; use e.g. 0-9 or 0,3,7")
        if "-" in part[1:]:
            bits = part.split("-")
            if len(bits) != 2 or not bits[0] or not bits[1]:
                raise ValueError(f"--seeds {s!r}: {part!r} is not a range lo-hi")
            lo, hi = opt.validate(bits[0]), opt.validate(bits[1])
            if hi < lo:
                raise ValueError(f"--seeds {s!r}: the range {part} is empty (hi < lo)")
            if hi - lo >= 10 ** 6:
                raise ValueError(f"--seeds {s!r}: at most 10^6 seeds per range")
            out.extend(range(lo, hi + 1))
        else:
            out.append(opt.validate(part))
    return list(dict.fromkeys(out))


def _top_level_comma(spec):
    """True when ``spec`` has a comma outside parentheses (two specs, not one)."""
    depth = 0
    for ch in spec:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            return True
    return False


def parse_grid(text):
    """'M=0.5x,1x,2x; p=0.01,0.1; gamma-factor=1,2' -> {name: [values as text]}."""
    grid = {}
    if not text:
        return grid
    names = {k: o for k, o in MM.option_names().items() if o.cli}
    run_names = {o.name for o in MM.RUN_OPTIONS if o.cli and o.name != "seed"}  # --seeds
    for item in str(text).split(";"):
        item = item.strip()
        if not item:
            continue
        if "=" not in item:
            raise ValueError(f"--grid item {item!r} is not name=v1,v2,...")
        k, _, vals = item.partition("=")
        key = k.strip().replace("-", "_")
        if key not in names and key not in run_names:
            raise ValueError(f"--grid: unknown option {k.strip()!r}; allowed: "
                             f"{', '.join(sorted(set(names) | run_names))}")
        if key in grid:
            raise ValueError(f"--grid: {k.strip()!r} is given twice")
        sep = "|" if names.get(key) is not None and names[key].kind == MM.SPEC else ","
        vs = [v.strip() for v in vals.split(sep)]
        if not vs or any(not v for v in vs):
            raise ValueError(f"--grid: {k.strip()!r} has an empty value")
        grid[key] = list(dict.fromkeys(vs))
    return grid


def sweep_key(fields):
    """The resume key: a hash of every input of a run (text)."""
    blob = json.dumps(fields, sort_keys=True, default=str)
    return "k" + hashlib.sha1(blob.encode()).hexdigest()[:20]


def sweep_configs(a, methods, comps, grid):
    """The grid's distinct configurations: (method, method options, run options)."""
    base = {name: getattr(a, name) for name in MM.option_names() if getattr(a, name, None)
            is not None}
    run_base = {o.name: getattr(a, o.name) for o in MM.RUN_OPTIONS if o.cli
                and o.name != "seed" and getattr(a, o.name, None) is not None}
    given = set(base) | set(grid) | ({"compressor"} if comps != [None] else set())
    run_names = {o.name for o in MM.RUN_OPTIONS}
    for name in given - run_names:
        if not any(m.takes(name) for m in methods):
            raise ValueError(f"no method of the sweep takes {name.replace('_', '-')}; "
                             f"methods: {', '.join(m.name for m in methods)}")
    keys = list(grid)
    configs, seen = [], set()
    for m in methods:
        for c in comps:
            for combo in itertools.product(*[grid[k] for k in keys]):
                raw = dict(base)
                ropts = dict(run_base)
                for k, v in zip(keys, combo):
                    (ropts if k in run_names else raw)[k] = v
                if c is not None:
                    raw["compressor"] = c
                mraw = {k: v for k, v in raw.items() if m.takes(k)}
                mopts = MM.validate(m, mraw)
                ropts = MM.validate_run(ropts)
                ropts.pop("seed")
                ident = json.dumps([m.name, sorted((k, str(v)) for k, v in mopts.items()),
                                    sorted((k, str(v)) for k, v in ropts.items())])
                if ident in seen:
                    continue
                seen.add(ident)
                configs.append((m, mopts, ropts))
    return configs


SWEEP_CHUNK = 32     # seeds per parallel batch (recorded when the batch finishes)


def sweep_main(argv):
    prog = "python -m shiftbench sweep"
    ap = OneLineParser(prog=prog, description=(
        "Run a grid (methods x compressors x --grid options x seeds) into a results store "
        "(SQLite): one row per finished run, committed at once; re-running the same command "
        "skips finished runs, and several sweeps may share one store."))
    ap.add_argument("--methods", required=True, help="comma list of methods")
    ap.add_argument("--compressors", default=None, help="'|'-separated compressor specs")
    ap.add_argument("--grid", default=None,
                    help="other options to vary: 'M=0.5x,1x,2x; p=0.01,0.1; gamma-factor=1,2' "
                         "('Nx' = N times the theory's value; spec options use '|')")
    ap.add_argument("--seeds", default="0", help="e.g. 0-9 or 0,3,7 (run in parallel)")
    ap.add_argument("--out", required=True, help="results store (SQLite file)")
    ap.add_argument("--traces", action="store_true",
                    help="also keep each run's trace (CSV) in the store's folder")
    _add_common(ap)
    a = ap.parse_args(argv)
    from ..backends.cpu import RunInterrupted
    from .run import run
    try:
        names = [x.strip() for x in a.methods.split(",")]
        if not [x for x in names if x]:
            raise ValueError(f"--methods {a.methods!r} names no method; allowed: "
                             f"{', '.join(MM.all_methods())}")
        methods = list(dict.fromkeys(MM.get(x) for x in names if x))
        if a.compressors is not None:
            comps = [c.strip() for c in a.compressors.split("|")]
            if any(not c for c in comps):
                raise ValueError(f"--compressors {a.compressors!r} has an empty spec")
            for c in comps:
                if _top_level_comma(c):
                    raise ValueError(f"--compressors {a.compressors!r}: separate specs with "
                                     f"'|', not ',' (e.g. 'rand-k(q=0.1)|top-k(k=1)')")
            comps = list(dict.fromkeys(comps))
        else:
            comps = [None]
        if a.seed is not None:
            raise ValueError("sweep takes --seeds, not --seed")
        if str(a.device).strip().lower() == "mpi":
            raise ValueError("sweep spreads its runs over MPI ranks itself: run mpiexec -n P "
                             "python -m shiftbench sweep ... with --device cpu (the default)")
        seeds = parse_seeds(a.seeds)
        grid = parse_grid(a.grid)
        configs = sweep_configs(a, methods, comps, grid)
        P = _problem(a)
        from ..store import Store
        store = Store(a.out)
        done = store.done_keys()
    except (ValueError, FileNotFoundError, ImportError, OSError) as e:
        return _err(prog, e)
    problem_id = a.problem if a.data is None else [a.problem, os.path.abspath(a.data)]
    n_fail = n_run = n_skip = 0
    rank, nranks, comm = _sweep_ranks()
    total = len(configs) * len(seeds)
    from ..progress import Progress
    bar = Progress(-(-total // nranks) if nranks > 1 else total,
                   "sweep (runs)" if nranks == 1 else f"sweep (rank 0 of {nranks}: its runs)",
                   enabled=None if rank == 0 else False)
    for ci, (m, mopts, ropts) in enumerate(configs):
        inputs = {"method": m.name, "problem": problem_id, "device": a.device,
                  **{o.name: _py(mopts.get(o.name)) for o in m.all_options if o.cli},
                  **{k: _py(v) for k, v in ropts.items()
                     if not (k == "wire" and not v)}}   # (keys of stores before --wire)
        mine = [s for j, s in enumerate(seeds) if (ci * len(seeds) + j) % nranks == rank]
        if not mine:
            continue
        keys = {s: sweep_key(dict(inputs, seed=s)) for s in mine}
        todo = [s for s in mine if keys[s] not in done]
        n_skip += len(mine) - len(todo)
        bar.update(len(mine) - len(todo))
        if not todo:
            continue
        kw = dict(mopts, **{k: v for k, v in ropts.items() if v is not None})
        # seeds run in parallel a chunk at a time, and each chunk's runs are
        # recorded as it finishes: Ctrl-C or a crash loses one chunk at most
        for c0 in range(0, len(todo), SWEEP_CHUNK):
            chunk = todo[c0:c0 + SWEEP_CHUNK]
            try:
                if len(chunk) == 1:
                    res_list = [run(m.name, P, seed=chunk[0], device=a.device, **kw)]
                else:
                    res_list = run(m.name, P, seeds=chunk, device=a.device, **kw).runs
            except RunInterrupted:
                bar.close()
                print(f"{prog}: interrupted; {n_run} run(s) recorded in {a.out}, the runs in "
                      f"flight were not recorded (re-run the command to resume)",
                      file=sys.stderr)
                return 130
            except (ValueError, FileNotFoundError, OSError) as e:
                if (ci * len(seeds)) % nranks == rank:     # said once, by its first run's rank
                    print(f"[{ci + 1}/{len(configs)}] {m.name} {_cfg_text(mopts)}: error: {e}",
                          file=sys.stderr)
                    n_fail += 1
                bar.update(len(todo) - c0)
                break
            for res in res_list:
                row = {"key": keys[res.seed], **{f"opt_{k}": v for k, v in inputs.items()
                                                  if k not in ("method", "problem")},
                       "problem_spec": json.dumps(problem_id)}
                summ = res.summary()
                row.update(summ)
                for k, v in res.params.items():
                    if k not in row:
                        row[k] = v
                row = {k: _py(v) for k, v in row.items()}
                try:
                    new = store.record(keys[res.seed], row, res.trace if a.traces else None)
                except KeyboardInterrupt:
                    bar.close()
                    print(f"{prog}: interrupted while recording; the store is consistent "
                          f"(re-run the command to resume)", file=sys.stderr)
                    return 130
                if new:
                    n_run += 1
                else:                  # a concurrent sweep recorded it first
                    n_skip += 1
            last = res_list[-1].summary()
            bar.update(len(res_list), note=f"{m.name} {_cfg_text(mopts)}: {last['status']}")
    bar.close()
    if comm is not None:                       # every rank's runs are in the store
        n_run, n_skip, n_fail = (sum(v) for v in zip(*comm.allgather((n_run, n_skip, n_fail))))
        if rank != 0:
            return 1 if n_fail else 0
    print(f"{prog}: {n_run} run(s) recorded, {n_skip} already in {a.out}"
          + (f", {n_fail} configuration(s) failed" if n_fail else "")
          + (f" ({nranks} MPI ranks)" if nranks > 1 else ""), file=sys.stderr)
    try:
        _print_summary(store.frame())
    except Exception as e:  # noqa: BLE001 - the summary is a convenience
        print(f"{prog}: (no summary: {e})", file=sys.stderr)
    return 1 if n_fail else 0


def _sweep_ranks():
    """(rank, ranks, communicator) of a sweep started by mpiexec (run j of
    the grid goes to rank j mod ranks), else (0, 1, None).  mpi4py is only
    imported when an MPI launcher started this process."""
    launched = any(k in os.environ for k in ("PMI_SIZE", "PMI_RANK", "OMPI_COMM_WORLD_SIZE",
                                            "PMIX_RANK", "MPI_LOCALNRANKS"))
    if not launched:
        return 0, 1, None
    try:
        from mpi4py import MPI
    except ImportError:
        return 0, 1, None
    comm = MPI.COMM_WORLD
    if comm.Get_size() == 1:
        return 0, 1, None
    return comm.Get_rank(), comm.Get_size(), comm


def _cfg_text(mopts):
    return " ".join(f"{k}={v}" for k, v in mopts.items())


def summarise(df):
    """Per configuration: runs, statuses, median iterations and bits to the target."""
    if df.empty:
        return df
    opt_cols = [c for c in df.columns if c.startswith("opt_")]
    cols = ["method"] + opt_cols
    g = df.groupby(cols, dropna=False, sort=False)
    out = g.agg(runs=("key", "size"),
                converged=("status", lambda s: int((s == "converged").sum())),
                iters_median=("iterations", "median"),
                bits_median=("bits_per_worker", "median"),
                bits_min=("bits_per_worker", "min"),
                bits_max=("bits_per_worker", "max"),
                rel_error_median=("rel_error", "median")).reset_index()
    keep = [c for c in opt_cols if out[c].nunique(dropna=False) > 1]
    return out[["method"] + keep + ["runs", "converged", "iters_median", "bits_median",
                                    "bits_min", "bits_max", "rel_error_median"]]


def _print_summary(df):
    s = summarise(df)
    if len(s):
        with pd.option_context("display.width", 200, "display.max_columns", 30):
            print(s.to_string(index=False))
