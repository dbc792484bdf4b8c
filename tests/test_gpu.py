"""CUDA kernels under the CUDA simulator: bit-identical with the CPU kernels.

Runs in a subprocess with NUMBA_ENABLE_CUDASIM=1 (the simulator must be
chosen before numba.cuda is imported).  Skipped when numba-cuda is absent.
"""
import os
import subprocess
import sys

import pytest

SCRIPT = r"""
import numpy as np
from shiftbench import _rng
from shiftbench.compressors import kernels as K
from shiftbench.compressors import gpu
assert gpu.AVAILABLE, "simulator not active"
g = np.random.default_rng(0)
xs = [g.standard_normal(1000),
      np.array([0.0, -0.0, 1.0, -2.0, 3.0, 0.75, 5e-324, -1e-310, 1.5e308, -1.7e308, 2.0**1023 * 1.5]),
      np.zeros(7)]
for x in xs:
    for det in (False, True):
        r_cpu = _rng.new_state(42, 3); r_gpu = r_cpu.copy()
        cpu = np.empty_like(x); K.natural(x, cpu, r_cpu, det)
        dev = gpu.natural(x, r_gpu, det).copy_to_host()
        assert np.array_equal(cpu.view(np.uint64), dev.view(np.uint64)), (det, x[:5], cpu[:5], dev[:5])
        assert np.array_equal(r_cpu, r_gpu)          # the stream advanced identically
    r_cpu = _rng.new_state(7, 0); r_gpu = r_cpu.copy()
    cpu = np.empty_like(x); K.terngrad(x, cpu, r_cpu)
    dev = gpu.terngrad(x, r_gpu).copy_to_host()
    assert np.array_equal(cpu, dev)
    assert np.array_equal(r_cpu, r_gpu)
print("ok")
"""


def test_gpu_kernels_match_cpu_under_simulator():
    pytest.importorskip("numba.cuda")
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    r = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env,
                       timeout=600)
    if "No module named 'numba_cuda'" in r.stderr or "CUDA simulator" in r.stderr and "unavailable" in r.stderr:
        pytest.skip("numba-cuda not installed")
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip().endswith("ok")


def test_gpu_unavailable_is_a_clear_error():
    pytest.importorskip("numba.cuda")
    code = ("from shiftbench.compressors import gpu\n"
            "import numpy as np\n"
            "if gpu.AVAILABLE: print('available')\n"
            "else:\n"
            "    try: gpu.natural(np.ones(3), np.zeros(2, np.uint64))\n"
            "    except RuntimeError as e: print('error:', e)\n")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    out = r.stdout.strip()
    assert out == "available" or ("error:" in out and "CUDA is not available" in out)
