"""Every compressor through one public signature on every device:
``C.compress(x, seed, out=, rng=, device=)`` gives the CPU kernel's output
bit for bit, its bit count and the same generator state afterwards (the
same Rand-K index set, the same quantiser draws, Top-K ties to the lowest
index); users' kernels too; bad input gets the same one-line error.

The "cuda" cases need CUDA in this process (a GPU, or the simulator:
tests/test_gpu_simulator.py reruns this file with NUMBA_ENABLE_CUDASIM=1).
"""
import numpy as np
import pytest
from numba import njit

import shiftbench as sb
from shiftbench import _rng
from shiftbench.compressors.registry import list_compressors
from shiftbench.compressors.user import unregister_compressor

from gpu_devices import DEVICES, need

EXTRA = ["top-k(k=3)", "top-k(q=0.5)", "crand-k(k=4)", "rand-k(k=5, shared=1)",
         "rand-k(k=1)", "crand-k(k=1)",                 # Floyd at d = 24 (k = 2+: streaming)
         "dither(s=3, p=1)", "dither(s=3, p=inf)", "dither(s=2, p=3)", "natural-dither(s=2000)",
         "scaled-bernoulli(p=0.7)", "adaptive(k=2)", "natural(bits=64)",
         "compose(natural, top-k(k=3))", "scale(induced(top-k(k=2), natural), lam=0.5)",
         "induced(top-k(k=1), compose(terngrad, rand-k(k=4)))",
         # dithering outputs -0.0 and the CPU's induced sums on Q's support
         # only: the signs of zeros must still match the GPU's dense sum
         "induced(dither(s=2), top-k(k=3))", "induced(natural-det, rand-k(k=1))"]


def _inputs():
    g = np.random.default_rng(7)
    return [g.standard_normal(24),
            # signed zeros, subnormals, near-overflow, ties in |x|
            np.array([0.0, -0.0, 1.0, -2.0, 3.0, 0.75, 5e-324, -1e-310, 1.5e308, -1.7e308,
                      1.0, -1.0]),
            np.zeros(5),
            np.r_[np.ones(4), -np.ones(4), 0.5]]


def _specs():
    return [r["example"] for r in list_compressors() if not r["user"]] + EXTRA


def _same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and np.array_equal(a.view(np.uint64), b.view(np.uint64))


def _host(y):
    return y.copy_to_host() if hasattr(y, "copy_to_host") else y


@pytest.mark.parametrize("device", DEVICES)
def test_every_compressor_matches_the_cpu_kernel(device):
    need(device)
    checked = 0
    for spec in _specs():
        C = sb.compressor(spec)
        for x in _inputs():
            try:
                C.node.check_d(x.size)
            except ValueError:
                continue
            r0 = _rng.new_state(11, 2)
            r1 = r0.copy()
            y0, b0 = C.compress(x, rng=r0)
            y1, b1 = C.compress(x, rng=r1, device=device)
            assert _same(y0, _host(y1)), (spec, x, y0, y1)
            assert (int(b0), b0.values) == (int(b1), b1.values), (spec, b0, b1)
            assert np.array_equal(r0, r1), spec          # the stream advanced identically
            checked += 1
    assert checked > 60


@pytest.mark.parametrize("device", DEVICES)
def test_randk_index_set_and_topk_ties(device):
    need(device)
    x = np.arange(1.0, 33.0)
    for seed in range(3):
        y0, _ = sb.compressor("rand-k(k=6)").compress(x, seed=seed)
        y1, _ = sb.compressor("rand-k(k=6)").compress(x, seed=seed, device=device)
        assert np.flatnonzero(y0).tolist() == np.flatnonzero(_host(y1)).tolist()
    # 9 entries tie at |x| = 2; Top-5 takes the 2 larger and the 3 lowest-index ties
    x = np.array([2.0, -2, 5, 2, -2, 2, 7, 2, -2, 2, 2, 1])
    y, bits = sb.compressor("top-k(k=5)").compress(x, device=device)
    assert np.flatnonzero(_host(y)).tolist() == [0, 1, 2, 3, 6]
    assert int(bits) == min(5 * 4, 12) + 5 * 32          # the cheaper of indices and a mask


@pytest.mark.parametrize("device", DEVICES)
def test_out_and_validation_are_one_path(device):
    need(device)
    C = sb.compressor("natural")
    out = np.empty(6)
    y, _ = C.compress(np.ones(6), out=out, device=device)
    assert y is out and np.all(out == 1.0)
    errors = []
    for bad in (np.r_[1.0, np.nan], np.ones((2, 2)), np.array([])):
        with pytest.raises(ValueError) as e:
            C.compress(bad, device=device)
        errors.append(str(e.value))
    assert "NaN or inf" in errors[0] and "1-D" in errors[1] and "1-D" in errors[2]
    with pytest.raises(ValueError, match="out must be"):
        C.compress(np.ones(3), out=np.empty(4), device=device)
    with pytest.raises(ValueError, match="allowed: cpu, cuda"):
        C.compress(np.ones(3), device="tpu")


def test_device_arrays_in_and_out():
    need("cuda")
    from numba import cuda
    x = np.random.default_rng(3).standard_normal(20)
    dx = cuda.to_device(x)
    C = sb.compressor("top-k(k=4)")
    y, bits = C.compress(dx, device="cuda")
    assert hasattr(y, "copy_to_host")                 # y lives where x lives
    assert _same(y.copy_to_host(), C.compress(x)[0]) and int(bits) == int(C.compress(x)[1])
    dout = cuda.device_array(20)
    y2, _ = C.compress(dx, out=dout, device="cuda")
    assert y2 is dout
    with pytest.raises(ValueError, match="NaN or inf"):
        C.compress(cuda.to_device(np.r_[1.0, np.inf]), device="cuda")
    with pytest.raises(ValueError, match="device='cuda'"):
        C.compress(dx)


@njit
def _noisy(x, out, params, rng):
    for i in range(x.size):
        out[i] = x[i] + params[0] * (sb.rng.uniform(rng) - 0.5)
    return 64.0 * x.size, 64.0 * x.size


@pytest.mark.parametrize("device", DEVICES)
def test_users_kernels_on_every_device(device):
    need(device)
    sb.register_compressor("gpu-test-noisy", _noisy, params={"a": 0.1}, kind="unbiased")
    try:
        x = np.random.default_rng(1).standard_normal(12)
        for spec in ("gpu-test-noisy(a=0.3)", "induced(top-k(k=2), gpu-test-noisy)",
                     "scale(gpu-test-noisy, lam=2)"):
            C = sb.compressor(spec)
            y0, b0 = C.compress(x, seed=4)
            y1, b1 = C.compress(x, seed=4, device=device)
            assert _same(y0, _host(y1)) and int(b0) == int(b1), spec
    finally:
        unregister_compressor("gpu-test-noisy")
