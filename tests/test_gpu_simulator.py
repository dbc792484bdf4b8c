"""The device tests under numba's CUDA simulator, from a plain ``pytest``.

numba chooses the simulator when it is imported, so when this process has
no CUDA, the "cuda" cases of tests/test_gpu_compressors.py and
tests/test_gpu_loops.py run here in a subprocess with
NUMBA_ENABLE_CUDASIM=1 (tiny sizes: the simulator runs each CUDA thread as a
Python thread).  Also: without CUDA, device="cuda" is one line naming the
``cuda`` extra and NUMBA_ENABLE_CUDASIM=1, for the API and the CLI.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from shiftbench.gpu import AVAILABLE

ROOT = Path(__file__).resolve().parent.parent


def _numba_cuda():
    try:
        import numba.cuda  # noqa: F401
        return True
    except Exception:  # noqa: BLE001
        return False


@pytest.mark.skipif(AVAILABLE, reason="this process has CUDA: the device tests ran in it")
def test_device_tests_pass_under_the_simulator():
    if not _numba_cuda():
        pytest.skip("numba-cuda (the `cuda` extra) is not installed")
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        "-W", "ignore::RuntimeWarning", "-k", "cuda",
                        "tests/test_gpu_compressors.py", "tests/test_gpu_loops.py"],
                       capture_output=True, text=True, env=env, cwd=ROOT, timeout=1200)
    tail = (r.stdout + r.stderr)[-4000:]
    assert r.returncode == 0, tail
    m = re.search(r"(\d+) passed", r.stdout)
    assert m and int(m.group(1)) >= 14, tail          # the cuda cases ran, not skipped
    assert "skipped" not in r.stdout.splitlines()[-1], tail


def _no_cuda_env():
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


@pytest.mark.skipif(AVAILABLE, reason="CUDA is available here")
def test_without_cuda_one_line_error():
    code = ("import numpy as np, shiftbench as sb\n"
            "from shiftbench.gpu import AVAILABLE\n"
            "if AVAILABLE: print('available'); raise SystemExit\n"
            "for f in (lambda: sb.compressor('natural').compress(np.ones(3), device='cuda'),\n"
            "          lambda: sb.run('gdci', 'quadratic(n=2, d=4)', compressor='natural',\n"
            "                         iters=2, device='cuda')):\n"
            "    try: f()\n"
            "    except ValueError as e: print('error:', e)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=_no_cuda_env(), timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    out = r.stdout.strip().splitlines()
    if out == ["available"]:
        pytest.skip("CUDA available without the simulator")
    assert len(out) == 2
    for line in out:
        assert line.startswith("error:") and "`cuda` extra" in line
        assert "NUMBA_ENABLE_CUDASIM=1" in line
    r = subprocess.run([sys.executable, "-m", "shiftbench", "run", "--method", "gdci",
                        "--compressor", "natural", "--problem", "quadratic(n=2, d=4)",
                        "--iters", "2", "--device", "cuda"],
                       capture_output=True, text=True, env=_no_cuda_env(), timeout=300)
    assert r.returncode != 0
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and "NUMBA_ENABLE_CUDASIM=1" in err[0], r.stderr[-2000:]


@pytest.mark.skipif(AVAILABLE, reason="this process has CUDA")
def test_gpu_perf_rows_run_under_the_simulator():
    """The code path of ``python -m shiftbench.perf --device cuda`` (its
    timings mean nothing in the simulator)."""
    if not _numba_cuda():
        pytest.skip("numba-cuda (the `cuda` extra) is not installed")
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    r = subprocess.run([sys.executable, "-W", "ignore::RuntimeWarning", "-m", "shiftbench.perf",
                        "--device", "cuda", "--d", "8", "--repeat", "1", "--min-time", "0",
                        "--no-reference", "--json", "--kernels", "rand-k;terngrad"],
                       capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    import json
    rows = json.loads(r.stdout)
    names = {(row["kernel"], row["variant"]) for row in rows}
    assert ("rand-k(q=0.01)", "cuda") in names and ("terngrad", "cuda grid") in names
    assert all("error" not in row and row["copy_seconds"] > 0 for row in rows)
