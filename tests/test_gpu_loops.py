"""The method loops on every device: ``sb.run(..., device=...)`` gives the
CPU's trace for the same seed (same draws, indices and bits; values to
rounding, <= 1e-12 relative on every column), batched seeds in one launch,
and the CLI's ``--device``.

Under the CUDA simulator (tests/test_gpu_simulator.py) the problem is tiny
and the runs short: the simulator runs every CUDA thread as a Python thread.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import shiftbench as sb
from shiftbench.methods.loopdata import COLUMNS

from gpu_devices import DEVICES, need

PROBLEM = "ridge(m=8, d=6, n=2)"
ITERS = 5
CASES = [("diana", {"compressor": "rand-k(k=2)", "shift_compressor": "top-k(k=1)"}),
         ("rand-diana", {"compressor": "natural"}),
         ("dcgd-star", {"compressor": "dither(s=2)", "shift_compressor": "sign"}),
         ("gdci", {"compressor": "rand-k(k=3)"}),
         ("vr-gdci", {"compressor": "natural"}),
         ("ef21", {"compressor": "top-k(k=2)"}),
         ("clag", {"compressor": "crand-k(k=2)", "zeta": 0.5}),
         ("marina", {"compressor": "rand-k(k=2)"})]
VALUES = [c for c in COLUMNS if c not in ("iteration", "cycles")]


def _close(a, b, rtol=1e-12):
    """Trace columns equal to rounding (NaN where the CPU has NaN)."""
    assert list(a["iteration"]) == list(b["iteration"])
    for c in VALUES:
        x, y = a[c].to_numpy(float), b[c].to_numpy(float)
        assert np.array_equal(np.isnan(x), np.isnan(y)), c
        ok = ~np.isnan(x)
        scale = np.maximum(np.abs(x[ok]), 1e-300)
        assert np.all(np.abs(x[ok] - y[ok]) <= rtol * scale + 1e-300), (c, x, y)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("method,kw", CASES, ids=[c[0] for c in CASES])
def test_trace_equals_the_cpu_trace(device, method, kw):
    need(device)
    cpu = sb.run(method, PROBLEM, iters=ITERS, seed=3, **kw)
    dev = sb.run(method, PROBLEM, iters=ITERS, seed=3, device=device, **kw)
    assert (dev.status, dev.iterations) == (cpu.status, cpu.iterations)
    _close(cpu.trace, dev.trace)
    # bits are counted exactly
    for c in ("bits_per_worker", "bits_max_worker", "values_bits_per_worker"):
        assert np.array_equal(cpu.trace[c], dev.trace[c]), c


@pytest.mark.parametrize("device", DEVICES)
def test_seeds_batched_in_one_launch(device):
    need(device)
    kw = {"compressor": "rand-k(k=2)", "iters": 4}
    mc = sb.run("diana", PROBLEM, seeds=[0, 1, 2], device=device, **kw)
    assert len(mc.runs) == 3
    for r in mc.runs:
        _close(sb.run("diana", PROBLEM, seed=r.seed, **kw).trace, r.trace)
    # different seeds, different draws
    assert not np.array_equal(mc.runs[0].trace["dist_sq"], mc.runs[1].trace["dist_sq"])


@pytest.mark.parametrize("device", DEVICES)
def test_stopping_rules_and_record_x(device):
    need(device)
    kw = {"compressor": "natural", "iters": 20, "eps": 0.5, "record_x": True}
    cpu = sb.run("diana", PROBLEM, seed=1, **kw)
    dev = sb.run("diana", PROBLEM, seed=1, device=device, **kw)
    assert dev.status == cpu.status == "converged" and dev.iterations == cpu.iterations
    np.testing.assert_allclose(dev.x, cpu.x, rtol=1e-12, atol=1e-300)
    budget = sb.run("ef21", PROBLEM, seed=1, device=device, compressor="top-k(k=1)",
                    iters=20, bits_budget=300)
    assert budget.status == "bits_budget"


@pytest.mark.parametrize("device", DEVICES)
def test_cli_device(device):
    need(device)
    env = dict(os.environ)
    r = subprocess.run([sys.executable, "-m", "shiftbench", "run", "--method", "gdci",
                        "--compressor", "rand-k(k=3)", "--problem", PROBLEM, "--iters", "3",
                        "--device", device, "--json"],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout)
    rows = out if isinstance(out, list) else [out]
    assert rows and all("status" in row for row in rows)


@pytest.mark.parametrize("device", DEVICES)
def test_gpu_check_script_compares_traces(device, monkeypatch):
    """``python -m shiftbench.gpu.check`` (the script run when a GPU is lent):
    its loop check passes on equal traces and its difference measure sees a
    perturbation of one entry."""
    from shiftbench.gpu import check
    a = sb.run("diana", PROBLEM, iters=3, seed=1, compressor="rand-k(k=2)").trace
    b = a.copy()
    assert check.trace_difference(a, b) == 0.0
    b.loc[b.index[-1], "dist_sq"] *= 1 + 1e-9
    assert 5e-10 < check.trace_difference(a, b) < 2e-9
    b.loc[b.index[-1], "f_gap"] = float("nan")
    assert check.trace_difference(a, b) == float("inf")
    if device == "cpu":
        return
    need(device)
    monkeypatch.setattr(check, "LOOPS", [("ef21", {"compressor": "top-k(k=2)"})])
    rows = check.check_loops(PROBLEM, ((3, 1e-12),))
    assert len(rows) == 1 and rows[0]["ok"] and rows[0]["bits_equal"], rows
