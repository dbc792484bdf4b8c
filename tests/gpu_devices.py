"""Shared by the tests parametrised over devices (as STUMPY does): the
devices to run, and whether this process has CUDA (a GPU, or numba's CUDA
simulator when NUMBA_ENABLE_CUDASIM=1 was set before numba was imported).

``tests/test_gpu_simulator.py`` reruns the device tests in a subprocess
under the simulator when this process has no CUDA, so a plain ``pytest``
checks the device code everywhere."""
import pytest

from shiftbench.gpu import AVAILABLE, SIMULATOR

DEVICES = ["cpu", "cuda"]


def need(device):
    if device == "cuda" and not AVAILABLE:
        pytest.skip("no CUDA in this process (tests/test_gpu_simulator.py runs these "
                    "under NUMBA_ENABLE_CUDASIM=1)")
