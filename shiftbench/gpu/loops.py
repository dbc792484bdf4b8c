"""The method loops on the device: the host side of the CUDA backend.

:func:`run` takes what the CPU backend takes (the method, its Build, the
ProblemData, the StopRule, the seeds) and runs every seed in ONE kernel
launch, a thread block per seed (:func:`shiftbench.gpu.device.shift_kernel`
for Algorithm 1, :func:`~shiftbench.gpu.device.tpc_kernel` for the
CGD/EF/3PC/MARINA loop).  Each block runs the whole loop: gradients,
compression, aggregation, shift updates, stopping tests and trace rows stay
on the device; the traces come back once, at the end.  Ctrl-C sets an
interrupt flag in host-mapped memory that the kernel reads every iteration.

Per seed the trace equals the CPU's: the same streams (seed, worker), so
the same indices and draws, the same bits; values agree to rounding (the
gradients' and norms' sums are taken in another order).  The ``cycles``
column is filled from the kernel's wall time (uniform over iterations).
"""
from __future__ import annotations

import time

import numpy as np

from .._clock import cycles_per_second
from ..methods.loopdata import NCOL
from ._target import cuda, require, exact, SIMULATOR
from .api import threads_per_block
from .programs import device_programs

_DATA = {}          # problem arrays already on the device: id -> (host array, device array)
_DATA_MAX = 8


def to_device_once(a):
    """The device copy of a (read-only) problem array, made once and kept
    (LIBSVM data and the like cross to the device once per process)."""
    key = id(a)
    hit = _DATA.get(key)
    if hit is not None and hit[0] is a:
        return hit[1]
    if len(_DATA) >= _DATA_MAX:
        _DATA.pop(next(iter(_DATA)))
    da = cuda.to_device(np.ascontiguousarray(a))
    _DATA[key] = (a, da)
    return da


def _check_memory(nbytes, what):
    if SIMULATOR:
        return
    try:
        free, total = cuda.current_context().get_memory_info()
    except Exception:  # noqa: BLE001 - no memory info: let the allocation decide
        return
    if nbytes > 0.9 * free:
        raise ValueError(f"{what} need {nbytes / 2**30:.2f} GiB on the GPU, {free / 2**30:.2f} "
                         f"GiB free of {total / 2**30:.2f}; run fewer seeds at once or a "
                         f"smaller problem")


def run(method, build, pd, stop_rule, rows, seeds, single, record_x=False, progress=None):
    """Run ``seeds`` on the device; returns (list of (status, iters, trace,
    xrec), wall, interrupted) like the CPU backend."""
    require("device='cuda'")
    from ..backends.cpu import call_interruptibly, _ticker
    if record_x and not single:
        raise ValueError("record_x is for single runs (seed=...), not seeds=...")
    if method.loop not in ("shift", "tpc"):
        raise ValueError(f"the cuda backend has no loop {method.loop!r}")
    S = np.asarray(list(seeds), dtype=np.uint64)
    nS = int(S.size)
    n = int(pd.off.size - 1)
    d = int(pd.x0.size)
    nreg = max(int(build.nreg), 1)
    N = max(int(pd.A.shape[0]), 1)
    nvec = 6 if method.loop == "shift" else 8
    ng = n if method.loop == "shift" else 2 * n
    nbytes = 8 * nS * d * (nvec + ng + n + nreg + 2) + nS * d + 8 * nS * (rows * NCOL + N)
    _check_memory(nbytes, f"{nS} seed(s) of n = {n}, d = {d}")
    with exact():
        q, c = build.programs
        module, ((q_ops, q_par, q_ptr), (c_ops, c_par, c_ptr)) = device_programs(q, c)
        A = to_device_once(pd.A)
        b = to_device_once(pd.b)
        off = to_device_once(np.asarray(pd.off, dtype=np.int64))
        scale = to_device_once(np.asarray(pd.scale, dtype=np.float64))
        x0 = cuda.to_device(pd.x0)
        xs = cuda.to_device(pd.x_star)
        traces = cuda.to_device(np.full((nS, rows, NCOL), np.nan))
        status = cuda.to_device(np.zeros(nS, np.int64))
        iters = cuda.to_device(np.zeros(nS, np.int64))
        nrows = cuda.to_device(np.zeros(nS, np.int64))
        xrec = cuda.to_device(np.zeros((rows if record_x else 0, d)))
        flag = cuda.mapped_array(1, dtype=np.uint8)
        flag[0] = 0
        V = cuda.to_device(np.zeros((nS, nvec, d)))
        G = cuda.to_device(np.zeros((nS, ng, d)) if method.loop == "shift"
                           else np.zeros((nS, 2, n, d)))
        H = cuda.to_device(np.zeros((nS, n, d)))
        R = cuda.to_device(np.zeros((nS, nreg, d)))
        IW = cuda.to_device(np.zeros((nS, d), np.int64))
        MK = cuda.to_device(np.zeros((nS, d), np.uint8))
        RNG = cuda.to_device(np.zeros((nS, n + 1, 2), np.uint64))
        BITS = cuda.to_device(np.zeros((nS, 2, n)))
        COEF = cuda.to_device(np.zeros((nS, N)))
        dS = cuda.to_device(S)
        sr = stop_rule
        stop_args = (int(sr.max_iter), int(sr.stride), float(sr.eps), int(sr.metric),
                     float(sr.budget), float(sr.explode))
        tail = (dS, traces, status, iters, nrows, xrec, flag, V, G, H, R, IW, MK, RNG, BITS,
                COEF)
        prob = (int(pd.kind), A, b, off, scale, float(pd.lam), x0, xs)
        cfg = build.config
        nt = threads_per_block()
        if method.loop == "shift":
            kern = module.shift_kernel
            args = prob + (cuda.to_device(pd.gstar), float(pd.f_star), bool(pd.has_star),
                           int(cfg.mode), cuda.to_device(np.ascontiguousarray(cfg.h0)),
                           bool(cfg.has_c), float(cfg.gamma), float(cfg.alpha), float(cfg.eta),
                           cuda.to_device(np.ascontiguousarray(cfg.p, dtype=np.float64)),
                           cuda.to_device(np.ascontiguousarray(cfg.lyap_w, dtype=np.float64)),
                           int(cfg.value_bits), bool(cfg.init_full),
                           q_ops, q_par, q_ptr, c_ops, c_par, c_ptr) + stop_args + tail
        else:
            kern = module.tpc_kernel
            args = prob + (float(pd.f_star), bool(pd.has_star),
                           int(cfg.mech), int(cfg.inner), float(cfg.gamma), float(cfg.zeta),
                           float(cfg.p), float(cfg.ef_outer), int(cfg.value_bits),
                           q_ops, q_par, q_ptr, c_ops, c_par, c_ptr) + stop_args + tail

        def launch():
            with exact():
                kern[nS, nt](*args)
                cuda.synchronize()

        t0 = time.perf_counter()
        _, intr = call_interruptibly(launch, (), flag)
        wall = time.perf_counter() - t0
    tr = traces.copy_to_host()
    tick = _ticker(progress, tr)
    if tick is not None:
        tick()
    st = status.copy_to_host()
    its = iters.copy_to_host()
    nr = nrows.copy_to_host()
    xr = xrec.copy_to_host() if record_x else None
    hz = cycles_per_second()
    out = []
    for r in range(nS):
        t = tr[r, :nr[r]].copy()
        if len(t):
            last = max(float(t[-1, 0]), 1.0)
            t[:, 10] = (wall * t[:, 0] / last) * (hz or 0.0)
        out.append((int(st[r]), int(its[r]), t, xr[:nr[r]].copy() if single and record_x
                    else None))
    return out, wall, intr
