"""The whole GPU check in one command, for the few minutes a GPU is lent:

    python -m shiftbench.gpu.check --out DIR            # on a GPU
    NUMBA_ENABLE_CUDASIM=1 python -m shiftbench.gpu.check --quick --out DIR   # rehearsal

It writes into DIR (a new folder; an existing one is refused):

* ``compressors.csv``: every compressor of ``python -m shiftbench compressors
  --json`` (its example spec) at several d, ``device="cuda"`` against the CPU
  kernel for the same generator state: output bit for bit, bit counts, and
  the generator state afterwards;
* ``loops.csv``: DIANA, Rand-DIANA, DCGD-STAR, GDCI, VR-GDCI, EF21, CLAG and
  MARINA on ridge (Shulgin & Richtárik, UAI 2022, Section 4), the device
  trace against the CPU trace for the same seed: exact iterations and bits,
  and the largest relative difference over every value column after 100
  iterations (required <= 1e-12) and after 10^4 iterations (<= 1e-9);
* ``perf.json`` / ``perf.txt``: ``python -m shiftbench.perf --device cuda``
  (every kernel against a device copy, the loops against the CPU engine);
* ``summary.md``: the verdicts, device name and provenance.

The exit status is 0 when every check passed, 1 otherwise (the files are
written either way).  ``--quick`` shrinks every size so that numba's CUDA
simulator finishes in a few minutes; ``tests/test_gpu_simulator.py`` runs
it that way.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import time

import numpy as np

LOOPS = [("diana", {"compressor": "rand-k(q=0.1)"}),
         ("rand-diana", {"compressor": "rand-k(q=0.1)"}),
         ("dcgd-star", {"compressor": "rand-k(q=0.1)"}),
         ("gdci", {"compressor": "rand-k(q=0.1)"}),
         ("vr-gdci", {"compressor": "rand-k(q=0.1)"}),
         ("ef21", {"compressor": "top-k(k=1)"}),
         ("clag", {"compressor": "top-k(k=1)", "zeta": 1.0}),
         ("marina", {"compressor": "rand-k(q=0.1)"})]
# (iterations, required largest relative difference) from the CUDA issue
TOLERANCES = ((100, 1e-12), (10_000, 1e-9))


def _same_bits(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and np.array_equal(a.view(np.uint64), b.view(np.uint64))


def check_compressors(dims):
    """One row per (spec, d): equal outputs, bits and generator states."""
    import shiftbench as sb
    from .. import _rng
    from ..compressors.registry import list_compressors
    rows = []
    g = np.random.default_rng(5)
    for r in list_compressors():
        if r["user"]:
            continue
        spec = r["example"]
        C = sb.compressor(spec)
        for d in dims:
            try:
                C.node.check_d(d)
            except ValueError:
                continue
            x = g.standard_normal(d)
            s0 = _rng.new_state(11, 2)
            s1 = s0.copy()
            t = time.perf_counter()
            y0, b0 = C.compress(x, rng=s0)
            y1, b1 = C.compress(x, rng=s1, device="cuda")
            y1 = y1.copy_to_host() if hasattr(y1, "copy_to_host") else y1
            ok_y = _same_bits(y0, y1)
            ok_b = (int(b0), b0.values) == (int(b1), b1.values)
            ok_s = bool(np.array_equal(s0, s1))
            rows.append({"spec": spec, "d": d, "output_equal": ok_y, "bits_equal": ok_b,
                         "state_equal": ok_s, "bits_cpu": int(b0), "bits_cuda": int(b1),
                         "ok": ok_y and ok_b and ok_s,
                         "seconds": round(time.perf_counter() - t, 4)})
    return rows


def trace_difference(a, b):
    """Largest relative difference over the value columns of two traces
    (NaN where both are NaN counts as equal; a NaN mismatch is inf)."""
    from ..methods.loopdata import COLUMNS
    worst = 0.0
    for c in COLUMNS:
        if c in ("iteration", "cycles"):
            continue
        x, y = a[c].to_numpy(float), b[c].to_numpy(float)
        if not np.array_equal(np.isnan(x), np.isnan(y)):
            return float("inf")
        ok = ~np.isnan(x)
        if ok.any():
            scale = np.maximum(np.abs(x[ok]), 1e-300)
            worst = max(worst, float(np.max(np.abs(x[ok] - y[ok]) / scale)))
    return worst


def check_loops(problem, tolerances, seed=3):
    """One row per (method, iterations): the device trace against the CPU's."""
    import shiftbench as sb
    rows = []
    for method, kw in LOOPS:
        for iters, tol in tolerances:
            t = time.perf_counter()
            cpu = sb.run(method, problem, iters=iters, eps=0.0, seed=seed, **kw)
            t_cpu = time.perf_counter() - t
            t = time.perf_counter()
            dev = sb.run(method, problem, iters=iters, eps=0.0, seed=seed, device="cuda", **kw)
            t_dev = time.perf_counter() - t
            same_rows = list(cpu.trace["iteration"]) == list(dev.trace["iteration"])
            bits_equal = same_rows and all(
                np.array_equal(cpu.trace[c], dev.trace[c])
                for c in ("bits_per_worker", "bits_max_worker", "values_bits_per_worker"))
            diff = trace_difference(cpu.trace, dev.trace) if same_rows else float("inf")
            ok = (cpu.status == dev.status and cpu.iterations == dev.iterations
                  and bits_equal and diff <= tol)
            rows.append({"method": method, "compressor": kw["compressor"], "problem": problem,
                         "iterations": iters, "status_cpu": cpu.status,
                         "status_cuda": dev.status, "bits_equal": bits_equal,
                         "max_rel_diff": diff, "tolerance": tol, "ok": ok,
                         "cpu_seconds": round(t_cpu, 3), "cuda_seconds": round(t_dev, 3)})
    return rows


def run_perf(dims, quick):
    """``python -m shiftbench.perf --device cuda``: JSON rows and the text table."""
    from .. import perf
    args = ["--device", "cuda", "--d", ",".join(str(d) for d in dims)]
    if quick:
        args += ["--quick"]
    out = {}
    for fmt in ("json", "text"):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            rc = perf.main(args + (["--json"] if fmt == "json" else []))
        out[fmt] = buf.getvalue()
        out["rc"] = rc
        if quick:
            break
    return out


def _device_name():
    from ._target import SIMULATOR, cuda
    if SIMULATOR:
        return "numba CUDA simulator"
    try:
        dev = cuda.get_current_device()
        name = dev.name.decode() if isinstance(dev.name, bytes) else str(dev.name)
        return f"{name} (compute capability {'.'.join(map(str, dev.compute_capability))})"
    except Exception as e:  # noqa: BLE001 - the name is informative only
        return f"unknown device ({e})"


def main(argv=None):
    prog = "python -m shiftbench.gpu.check"
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="a new folder for the results")
    ap.add_argument("--quick", action="store_true",
                    help="tiny sizes (for numba's CUDA simulator)")
    ap.add_argument("--no-perf", action="store_true", help="skip the perf report")
    a = ap.parse_args(argv)
    from ._target import AVAILABLE
    if not AVAILABLE:
        print(f"{prog}: error: no CUDA in this process; install the cuda extra "
              f"(pip install -e \".[cuda]\") on a machine with an NVIDIA GPU, or set "
              f"NUMBA_ENABLE_CUDASIM=1 for numba's simulator", file=sys.stderr)
        return 2
    if os.path.exists(a.out):
        print(f"{prog}: error: {a.out} exists; give a new folder", file=sys.stderr)
        return 2
    os.makedirs(a.out)
    import pandas as pd
    from ..harness.run import provenance
    t0 = time.perf_counter()
    if a.quick:
        cdims, problem, tols, pdims = (1, 7, 40), "ridge(m=8, d=6, n=2)", ((5, 1e-12), (20, 1e-9)), (64,)
    else:
        cdims, problem, tols, pdims = (1, 7, 1000, 10 ** 6), "ridge", TOLERANCES, (10 ** 6, 10 ** 7)
    comp = pd.DataFrame(check_compressors(cdims))
    comp.to_csv(os.path.join(a.out, "compressors.csv"), index=False)
    print(f"{prog}: compressors {int(comp['ok'].sum())}/{len(comp)} equal to the CPU",
          file=sys.stderr)
    loops = pd.DataFrame(check_loops(problem, tols))
    loops.to_csv(os.path.join(a.out, "loops.csv"), index=False)
    print(f"{prog}: loops {int(loops['ok'].sum())}/{len(loops)} within tolerance",
          file=sys.stderr)
    perf_rc = None
    if not a.no_perf:
        p = run_perf(pdims, a.quick)
        perf_rc = p["rc"]
        with open(os.path.join(a.out, "perf.json"), "w") as f:
            f.write(p["json"])
        if "text" in p:
            with open(os.path.join(a.out, "perf.txt"), "w") as f:
                f.write(p["text"])
    ok = bool(comp["ok"].all() and loops["ok"].all() and perf_rc in (None, 0))
    prov = provenance()
    lines = [f"# GPU check: {'PASS' if ok else 'FAIL'}", "",
             f"`{prog} {' '.join(argv if argv is not None else sys.argv[1:])}`  "
             f"({time.perf_counter() - t0:.0f} s)", "",
             f"Device: {_device_name()}", "",
             "Provenance: " + ", ".join(f"{k}={v}" for k, v in prov.items()), "",
             f"* compressors: {int(comp['ok'].sum())}/{len(comp)} equal to the CPU "
             f"(outputs bit for bit, bits, generator state), d in {list(cdims)}",
             f"* loops on `{problem}`: {int(loops['ok'].sum())}/{len(loops)} within "
             f"tolerance; largest relative difference per length: "
             + "; ".join(f"{it} iterations: {loops.loc[loops.iterations == it, 'max_rel_diff'].max():.3g}"
                         f" (required <= {tol:g})" for it, tol in tols)]
    if perf_rc is not None:
        lines.append(f"* perf: `python -m shiftbench.perf --device cuda` exit {perf_rc} "
                     f"(perf.json, perf.txt)")
    bad = pd.concat([comp.loc[~comp["ok"]].assign(kind="compressor"),
                     loops.loc[~loops["ok"]].assign(kind="loop")])
    if len(bad):
        lines += ["", "## Failures", "", bad.to_string(index=False)]
    with open(os.path.join(a.out, "summary.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(a.out, "summary.json"), "w") as f:
        json.dump({"ok": ok, "device": _device_name(), "provenance": prov,
                   "compressors_ok": int(comp["ok"].sum()), "compressors": len(comp),
                   "loops_ok": int(loops["ok"].sum()), "loops": len(loops)}, f, indent=1,
                  default=str)
    print(f"{prog}: {'PASS' if ok else 'FAIL'}; results in {a.out}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
