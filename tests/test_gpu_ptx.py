"""Opt-in: the device kernels compile for a real GPU (sm_90 PTX via NVVM),
not only run in the simulator.  Needs libNVVM and NVRTC but no GPU; takes a
few minutes, so it runs only with SHIFTBENCH_TEST_PTX=1."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = r"""
import numba.cuda as nc, numba.cuda.dispatcher as nd, numba.cuda.compiler as ncc
class Dev:                      # compile for sm_90 without a driver
    compute_capability = (9, 0)
nd.get_current_device = ncc.get_current_device = nc.get_current_device = lambda: Dev()
from numba import cuda, float64, int64, uint64, uint8, boolean
from shiftbench.gpu import device as D
from shiftbench.gpu._target import exact
f1, f2, f3 = float64[::1], float64[:, ::1], float64[:, :, ::1]
i1, i2 = int64[::1], int64[:, ::1]
prob = (int64, f2, f1, i1, f1, float64, f1, f1)
stop = (int64, int64, float64, int64, float64, float64)
tail = (uint64[::1], f3, i1, i1, i1, f2, uint8[::1], f3, f3, f3, f3, i2, uint8[:, ::1],
        uint64[:, :, ::1], f3, f2)
progs = (i2, f1, i1, i2, f1, i1)
comp = (i2, f1, i1, f1, f1, uint64[::1], f2, i1, uint8[::1], f1)
shift = prob + (f2, float64, boolean, int64, f2, boolean, float64, float64, float64, f1, f1,
                int64, boolean) + progs + stop + tail
tpc = prob + (float64, boolean, int64, int64, float64, float64, float64, float64,
              int64) + progs + stop + tail[:8] + (float64[:, :, :, ::1],) + tail[9:]
with exact():
    for k, sig in ((D.compress_kernel, comp), (D.shift_kernel, shift), (D.tpc_kernel, tpc)):
        ptx, _ = cuda.compile_ptx(k.py_func, sig, cc=(9, 0))
        assert ".entry" in ptx
        print("ok", k.py_func.__name__, flush=True)
"""


@pytest.mark.skipif(os.environ.get("SHIFTBENCH_TEST_PTX") != "1",
                    reason="opt-in (SHIFTBENCH_TEST_PTX=1; needs libNVVM and NVRTC)")
def test_device_kernels_compile_to_ptx():
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    r = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                       env=env, cwd=ROOT, timeout=1800)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count("ok") == 3
