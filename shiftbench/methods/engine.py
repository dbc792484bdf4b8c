"""The compiled DCGD-SHIFT engine (Algorithm 1 of Shulgin & Richtarik, 2022).

One nopython loop runs every instance of Algorithm 1; the shift rule is an
integer ``mode``.  Per iteration k and worker i (``g_i = grad f_i(x^k)``):

==========  ==============================================================
mode        message m_i and shift update (eq. numbers of the paper)
==========  ==============================================================
DCGD        m_i = Q_i(g_i),                 h_i = 0
FIXED       m_i = Q_i(g_i - h_i),           h_i fixed             (6)
STAR        m_i = Q_i(g_i - h_i),  h_i <- grad f_i(x*) + C_i(g_i - grad f_i(x*))   (8)
DIANA       c_i = C_i(g_i - h_i), m_i = c_i + Q_i(g_i - h_i - c_i),
            h_i <- h_i + alpha m_i                                (10), (11)
RAND        m_i = Q_i(g_i - h_i); w.p. p_i: h_i <- g_i (sent in full)    (12)
GDCI        x^{k+1} = (1 - eta) x^k + eta mean_i Q_i(x^k - gamma g_i)     (13)
VRGDCI      y_i = x^k - gamma g_i, m_i = Q_i(y_i - s_i),
            x^{k+1} = (1 - eta) x^k + eta mean_i (s_i + m_i), s_i += alpha m_i
==========  ==============================================================

and the master steps x^{k+1} = x^k - gamma (h^k + mean_i m_i) with
h^{k+1} = mean_i h_i^{k+1}.  Every message is counted in bits (full and
values-only): DIANA with C_i != 0 sends c_i and Q_i's part, DCGD-STAR's
C_i messages are counted, Rand-DIANA's refreshes cost d values (and its
initial h_i^0 = grad f_i(x^0) too), the master's broadcast of x^k is the
downlink column.

Nothing is allocated inside the iteration loop; all randomness comes from
per-worker xoroshiro128+ streams (seed, stream = worker), so a run's trace
depends on its seed only, not on threads.  :func:`run_many` runs
independent seeds in parallel with ``prange``.
"""
import math

import numpy as np
from numba import njit, prange

from .._alloc import empty, zeros
from .. import _rng
from .._clock import cycles
from ..compressors.kernels import apply_program, IWORK_EXTRA
from ..compressors.kernels.intrinsics import borrow, keep_alive, IW_SUPPORT
from ..compressors.kernels.reductions import sq_mean, sq_dist
from ..problems.base import local_grad
from ..wire.io import is_wire, is_recv, msg_compress, msg_full, msg_more, round_vec  # noqa: F401
from ..wire.plan import WirePlan

# modes
DCGD = 0
FIXED = 1
STAR = 2
DIANA = 3
RAND = 4
GDCI = 5
VRGDCI = 6

from .loopdata import (STOP_REL_ERR, STOP_GRAD, STOP_FGAP, CONVERGED, MAX_ITER,  # noqa: F401
                       BUDGET, DIVERGED, INTERRUPTED, STATUS_NAMES, COLUMNS, NCOL)

(C_IT, C_DIST, C_REL, C_FGAP, C_GRAD, C_BITS, C_BITSMAX, C_VBITS, C_DOWN, C_SHIFT,
 C_CYC, C_F) = range(NCOL)


@njit(cache=True)
def _sqdist(a, b):
    """||a - b||^2 in lane order (:func:`~shiftbench.compressors.kernels.
    reductions.sq_dist`, vector code): the trace's distance to x* and the
    3PC error, in every loop and on the MPI master alike.  (A serial sum
    waits 4 cycles per entry on one add chain: 0.1-0.3 us per iteration at
    d = 80.)"""
    return sq_dist(a, b)


@njit(cache=True, inline="always")
def stop_status(fval, gn, dist, has_star, dist0, g0, explode, stop_metric, eps, f_star,
                bmean, bits_budget, it, max_iter):
    """The stopping rules shared by every compiled method loop.

    Returns ``(stop, status)``: divergence (non-finite, or ``explode`` times
    the initial distance / gradient norm), the target ``eps`` on the stop
    metric, the bits budget (mean uplink bits per worker), max iterations.
    """
    if not (math.isfinite(fval) and math.isfinite(gn)) or (
            has_star and not math.isfinite(dist)):
        return True, DIVERGED
    if (has_star and dist > explode * dist0) or (gn > explode * g0):
        return True, DIVERGED
    if stop_metric == STOP_REL_ERR:
        crit = dist / dist0
    elif stop_metric == STOP_GRAD:
        crit = gn
    else:
        crit = fval - f_star
    if crit <= eps:
        return True, CONVERGED
    if bits_budget > 0.0 and bmean >= bits_budget:
        return True, BUDGET
    if it == max_iter:
        return True, MAX_ITER
    return False, MAX_ITER


@njit(cache=True, inline="always")
def sum_rows(G, out):
    """out = sum_i G[i], each coordinate summed in worker order (0.0 +
    G[0, k] + G[1, k] + ...), row by row: each pass streams one row and
    ``out``, which the prefetchers follow.  (Column blocks of 1024 keep
    ``out`` in L1 but cut every row into 8 KB runs: 2.7x slower at n = 16,
    d = 10^6.)"""
    n, d = G.shape
    for k in range(d):
        out[k] = 0.0
    for i in range(n):
        for k in range(d):
            out[k] += G[i, k]


@njit(cache=True, inline="always")
def grad_sq(G, gsum):
    """||(1/n) sum_i G[i]||^2, with ``gsum`` = sum_i G[i] (:func:`sum_rows`:
    each coordinate's sum is that of a loop over i; the squares summed in
    lane order, :func:`~shiftbench.compressors.kernels.reductions.sq_mean`)."""
    sum_rows(G, gsum)
    return sq_mean(gsum, G.shape[0])


@njit(cache=True, inline="always")
def mean_rows(H, out):
    """out = (1/n) sum_i H[i] (the master's average over workers)."""
    n, d = H.shape
    sum_rows(H, out)
    for k in range(d):
        out[k] /= n


@njit(cache=True, inline="always")
def bits_stats(bits, vbits):
    """(mean, max) uplink bits and mean values-only bits over workers."""
    nb = bits.size
    bmean = 0.0
    bmax = 0.0
    vmean = 0.0
    for i in range(nb):
        bmean += bits[i]
        vmean += vbits[i]
        if bits[i] > bmax:
            bmax = bits[i]
    return bmean / nb, bmax, vmean / nb


@njit(cache=True, inline="always")
def write_row(trace, row, it, dist, dist0, fval, f_star, gn, bmean, bmax, vmean, down, se,
              cyc):
    """Write trace row ``row`` (see :data:`COLUMNS`)."""
    trace[row, C_IT] = it
    trace[row, C_DIST] = dist
    trace[row, C_REL] = dist / dist0
    trace[row, C_FGAP] = fval - f_star
    trace[row, C_GRAD] = gn
    trace[row, C_BITS] = bmean
    trace[row, C_BITSMAX] = bmax
    trace[row, C_VBITS] = vmean
    trace[row, C_DOWN] = down
    trace[row, C_SHIFT] = se
    trace[row, C_CYC] = cyc
    trace[row, C_F] = fval


@njit(cache=True, inline="always")
def shift_msgs(mode, has_c, gamma, g, h, gstar_i, x, v, m, c, t, q, cprog, wq, wc, w, p_i, vb,
               rng, regs, iwork, mark, io):
    """Worker w's messages at x^k (one step of Algorithm 1, the worker's part).

    ``g`` = grad f_w(x^k), ``h`` its shift (s_w for VR-GDCI); writes the
    message m_w into ``m`` (DIANA with C_w: c_w + Q_w(.)), C_w's message
    into ``c`` (DCGD-STAR) and Rand-DIANA's refresh into ``t``, as the
    master receives them (:mod:`shiftbench.wire.io`; ``io`` says who runs
    this: the one-process loop, an MPI worker or the MPI master).
    Returns ``(bits_full, bits_values, refreshed)``.
    """
    d = g.size
    bf = 0.0
    bv = 0.0
    if mode == GDCI or mode == VRGDCI:
        for k in range(d):
            v[k] = x[k] - gamma * g[k]
            if mode == VRGDCI:
                v[k] -= h[k]
        a, b = msg_compress(io, q, wq, w, v, m, rng, regs, iwork, mark)
        return a, b, False
    for k in range(d):
        v[k] = g[k] - h[k]
    if mode == DIANA and has_c:
        a, b = msg_compress(io, cprog, wc, w, v, c, rng, regs, iwork, mark)
        bf += a
        bv += b
        for k in range(d):
            v[k] -= c[k]
        a, b = msg_compress(io, q, wq, w, v, m, rng, regs, iwork, mark)
        for k in range(d):
            m[k] += c[k]
    else:
        a, b = msg_compress(io, q, wq, w, v, m, rng, regs, iwork, mark)
    bf += a
    bv += b
    ref = False
    if mode == STAR and has_c:
        for k in range(d):
            v[k] = g[k] - gstar_i[k]
        a, b = msg_compress(io, cprog, wc, w, v, c, rng, regs, iwork, mark)
        bf += a
        bv += b
    elif mode == RAND:
        if is_recv(io):
            ref = msg_more(io)
        else:
            ref = _rng.uniform(rng) < p_i
        if ref:
            a = msg_full(io, g, t, vb)
            bf += a
            bv += a
    return bf, bv, ref


@njit(cache=True, inline="always")
def shift_update(mode, has_c, alpha, h, m, c, t, gstar_i, ref, acc):
    """The master's share of worker w's messages: ``acc += m_w`` (VR-GDCI:
    s_w + m_w), and the shift h_w^{k+1} (the master's copy; an MPI worker
    updates its own copy with the same call)."""
    d = m.size
    if mode == VRGDCI:
        for k in range(d):
            acc[k] += h[k] + m[k]
            h[k] += alpha * m[k]
        return
    for k in range(d):
        acc[k] += m[k]
    if mode == DIANA:
        for k in range(d):
            h[k] += alpha * m[k]
    elif mode == STAR:
        if has_c:
            for k in range(d):
                h[k] = gstar_i[k] + c[k]
    elif mode == RAND:
        if ref:
            for k in range(d):
                h[k] = t[k]


@njit(cache=True, inline="always")
def shift_step(mode, gamma, eta, x, acc, hbar, H):
    """The master's step: x^{k+1} = x^k - gamma (h^k + mean m_i) and
    h^{k+1} = mean h_i^{k+1} (GDCI, VR-GDCI: x^{k+1} = (1 - eta) x^k + eta
    mean_i (.))."""
    n = H.shape[0]
    d = x.size
    if mode == GDCI or mode == VRGDCI:
        for k in range(d):
            x[k] = (1.0 - eta) * x[k] + eta * acc[k] / n
        return
    for k in range(d):
        x[k] -= gamma * (hbar[k] + acc[k] / n)
    if mode == DIANA or mode == STAR or mode == RAND:
        mean_rows(H, hbar)


@njit(cache=True, inline="always")
def shift_init(mode, init_full, g0, h, vb, io):
    """Messages before the first step: h_w^0 sent once in full (``init_full``;
    Rand-DIANA: h_w^0 = grad f_w(x^0) = ``g0``).  Returns their bits."""
    if init_full:
        return msg_full(io, h, h, vb)
    if mode == RAND:
        return msg_full(io, g0, h, vb)
    return 0.0


@njit(cache=True, inline="always")
def shift_err_term(mode, has_star, lw, h, gstar_i):
    """Worker w's term of the trace's shift error (lyap_w ||h_w - grad f_w(x*)||^2)."""
    if has_star and (mode == DIANA or mode == RAND or mode == STAR):
        return lw * _sqdist(h, gstar_i)
    return 0.0


@njit(cache=True)
def wire_capacity(d):
    """Bytes that hold any one message of any built-in compressor at d."""
    cl = 1
    while (1 << cl) < d:
        cl += 1
    return (d * (cl + 70)) // 8 + 256


@njit(cache=True, nogil=True)
def run_one(pd, cfg, q, cprog, stop_rule, seed, nreg, trace, xrec, flag):
    """Run one seed; returns (status, iterations, rows written).

    ``pd``: :class:`~shiftbench.methods.loopdata.ProblemData`; ``cfg``:
    :class:`~shiftbench.methods.loopdata.ShiftConfig`; ``q``, ``c``: the
    programs of Q_i and C_i (``cprog``); ``stop_rule``: :class:`StopRule`.  ``trace``
    (rows x NCOL) receives a row every ``stride`` iterations and at the last
    one; row k describes x^k and the bits spent to reach it (and, if ``xrec``
    has rows, row k of ``xrec`` receives x^k).  The loop stops
    with status ``interrupted`` as soon as ``flag[0]`` is non-zero (Ctrl-C).
    Every array the loop touches is borrowed (no reference counting per
    call: :func:`~shiftbench.compressors.kernels.intrinsics.borrow`); the
    run's own arrays stay alive in ``own`` until :func:`keep_alive`.
    """
    pd, cfg, q, cprog, trace, xrec, flag = borrow((pd, cfg, q, cprog, trace, xrec, flag))
    kind, A, b, off, scale, lam = pd.kind, pd.A, pd.b, pd.off, pd.scale, pd.lam
    x0, x_star, gstar, f_star, has_star = pd.x0, pd.x_star, pd.gstar, pd.f_star, pd.has_star
    mode, h0, has_c, gamma, alpha, eta = cfg.mode, cfg.h0, cfg.has_c, cfg.gamma, cfg.alpha, cfg.eta
    p, lyap_w, value_bits = cfg.p, cfg.lyap_w, cfg.value_bits
    max_iter, stride, eps = stop_rule.max_iter, stop_rule.stride, stop_rule.eps
    stop_metric, bits_budget, explode = stop_rule.metric, stop_rule.budget, stop_rule.explode
    n = off.size - 1
    d = x0.size
    # ---- allocation: once per run, never inside the loop
    x = x0.copy()
    G = empty((n, d), np.float64)
    H = h0.copy()              # shifts h_i (or s_i for VR-GDCI)
    hbar = zeros(d, np.float64)
    acc = empty(d, np.float64)
    v = empty(d, np.float64)
    m = empty(d, np.float64)
    c = empty(d, np.float64)
    gfull = empty(d, np.float64)
    hsum = empty(d, np.float64)
    regs = zeros((max(nreg, 1), d), np.float64)
    iwork = zeros(d + IWORK_EXTRA, np.int64)
    mark = zeros(d, np.uint8)
    rng = zeros((n, 2), np.uint64)
    bits = zeros(n, np.float64)
    vbits = zeros(n, np.float64)
    own = (x, G, H, hbar, acc, v, m, c, gfull, hsum, regs, iwork, mark, rng, bits, vbits)
    x, G, H, hbar, acc, v, m, c, gfull, hsum, regs, iwork, mark, rng, bits, vbits = borrow(own)
    for i in range(n):
        _rng.seed_state(rng[i], seed, np.uint64(i))
    vb = float(value_bits)
    if cfg.init_full:
        # shifts h_i^0 that the master must receive once, in full
        for i in range(n):
            bits[i] += vb * d
            vbits[i] += vb * d
    if mode == RAND:
        # w_i^0 = x^0: the master needs h_i^0 = grad f_i(x^0) once, in full
        for i in range(n):
            local_grad(kind, A, b, off, scale, lam, i, x, H[i])
            bits[i] += vb * d
            vbits[i] += vb * d
    mean_rows(H, hbar)
    dist0 = _sqdist(x, x_star) if has_star else 1.0
    if dist0 == 0.0:
        dist0 = 1.0
    down = 0.0
    g0 = -1.0
    status = MAX_ITER
    row = 0
    c0 = cycles()
    it = 0
    for it in range(max_iter + 1):
        # ---- gradients at x^k (all workers), f and grad f for the trace
        fsum = 0.0
        for i in range(n):
            fsum += local_grad(kind, A, b, off, scale, lam, i, x, G[i])
        if mode == DIANA:
            # one pass per worker for the gradient sum (the trace's norm), the
            # shift sum (this step's mean shift) and v_i = g_i - h_i, written
            # over g_i: each sum in worker order, as sum_rows adds them; at
            # large d this reads G and H once instead of twice
            for k in range(d):
                gfull[k] = 0.0
                hsum[k] = 0.0
            for i in range(n):
                g = G[i]
                h = H[i]
                for k in range(d):
                    gk = g[k]
                    hk = h[k]
                    gfull[k] += gk
                    hsum[k] += hk
                    g[k] = gk - hk
            gn = sq_mean(gfull, n)
        else:
            gn = grad_sq(G, gfull)
        fval = fsum / n
        dist = _sqdist(x, x_star) if has_star else math.nan
        if g0 < 0.0:
            g0 = gn if gn > 0.0 else 1.0
        # ---- stopping and the trace
        bmean, bmax, vmean = bits_stats(bits, vbits)
        stop, status = stop_status(fval, gn, dist, has_star, dist0, g0, explode, stop_metric,
                                   eps, f_star, bmean, bits_budget, it, max_iter)
        if not stop and flag[0] != 0:
            stop = True
            status = INTERRUPTED
        if (stop or it % stride == 0) and row < trace.shape[0]:
            se = 0.0
            if has_star and (mode == DIANA or mode == RAND or mode == STAR):
                for i in range(n):
                    se += lyap_w[i] * _sqdist(H[i], gstar[i])
                se /= n
            write_row(trace, row, it, dist, dist0, fval, f_star, gn, bmean, bmax, vmean,
                      down, se, cycles() - c0)
            if row < xrec.shape[0]:
                for k in range(d):
                    xrec[row, k] = x[k]
            row += 1
        if stop:
            break
        # ---- one step of Algorithm 1
        down += vb * d
        for k in range(d):
            acc[k] = 0.0
        if mode == GDCI or mode == VRGDCI:
            for i in range(n):
                for k in range(d):
                    v[k] = x[k] - gamma * G[i, k]
                    if mode == VRGDCI:
                        v[k] -= H[i, k]
                bf, bv = apply_program(q, i, v, m, rng[i], regs, iwork, mark)
                bits[i] += bf
                vbits[i] += bv
                if mode == VRGDCI:
                    for k in range(d):
                        acc[k] += H[i, k] + m[k]
                        H[i, k] += alpha * m[k]
                else:
                    for k in range(d):
                        acc[k] += m[k]
            for k in range(d):
                x[k] = (1.0 - eta) * x[k] + eta * acc[k] / n
            continue
        for i in range(n):
            g = G[i]
            h = H[i]
            if mode == DIANA:
                vi = g                  # g_i - h_i (and hsum) came with the gradients
            else:
                vi = v
                for k in range(d):
                    vi[k] = g[k] - h[k]
            if mode == DIANA and has_c:
                bf, bv = apply_program(cprog, i, vi, c, rng[i], regs, iwork, mark)
                bits[i] += bf
                vbits[i] += bv
                for k in range(d):
                    vi[k] -= c[k]
                bf, bv = apply_program(q, i, vi, m, rng[i], regs, iwork, mark)
                for k in range(d):
                    m[k] += c[k]
            else:
                bf, bv = apply_program(q, i, vi, m, rng[i], regs, iwork, mark)
            bits[i] += bf
            vbits[i] += bv
            # shift update h_i^{k+1}
            if mode == DIANA:
                ns = iwork[IW_SUPPORT] if not has_c else -1
                if ns >= 0:
                    # m is zero off its listed support (Rand-K, distinct
                    # indices): adding its zeros changes no value (x + 0.0
                    # = x, up to the sign of a -0.0 in a user's h^0), so
                    # touch the support only
                    for j in range(ns):
                        t = iwork[j]
                        acc[t] += m[t]
                        h[t] += alpha * m[t]
                else:
                    for k in range(d):
                        acc[k] += m[k]
                        h[k] += alpha * m[k]
                continue
            for k in range(d):
                acc[k] += m[k]
            if mode == STAR:
                if has_c:
                    for k in range(d):
                        v[k] = g[k] - gstar[i, k]
                    bf, bv = apply_program(cprog, i, v, c, rng[i], regs, iwork, mark)
                    bits[i] += bf
                    vbits[i] += bv
                    for k in range(d):
                        h[k] = gstar[i, k] + c[k]
            elif mode == RAND:
                if _rng.uniform(rng[i]) < p[i]:
                    for k in range(d):
                        h[k] = g[k]
                    bits[i] += vb * d
                    vbits[i] += vb * d
        # master: x^{k+1} = x^k - gamma (h^k + mean m_i); h^{k+1} = mean h_i^{k+1}
        if mode == DIANA:
            for k in range(d):
                x[k] -= gamma * (hsum[k] / n + acc[k] / n)
        else:
            for k in range(d):
                x[k] -= gamma * (hbar[k] + acc[k] / n)
            if mode == STAR or mode == RAND:
                mean_rows(H, hbar)
    keep_alive(own)
    return status, it, row


@njit(cache=True, nogil=True)
def run_loop(pd, cfg, q, cprog, stop_rule, seed, nreg, trace, xrec, flag, io):
    """:func:`run_one` with every message on the wire (``io``: a
    :class:`~shiftbench.wire.io.WireIO` in mode ``SIM``, the ``wire`` run
    option): each message is encoded and decoded, the loop continues with
    what the receiver decodes, and the workers see x^k rounded to the
    downlink's value bits.  Written as the workers' steps (the ``*_msg*``
    functions above) and the master's step, which the MPI backend
    (:mod:`shiftbench.backends.mpi`) runs in its processes.  :func:`run_one`
    keeps its own fused copy of the loop (the engine's speed); the tests
    check that both count the same bits and that the MPI backend's trace
    equals this loop's.
    """
    kind, A, b, off, scale, lam = pd.kind, pd.A, pd.b, pd.off, pd.scale, pd.lam
    x0, x_star, gstar, f_star, has_star = pd.x0, pd.x_star, pd.gstar, pd.f_star, pd.has_star
    mode, h0, has_c, gamma, alpha, eta = cfg.mode, cfg.h0, cfg.has_c, cfg.gamma, cfg.alpha, cfg.eta
    p, lyap_w, value_bits = cfg.p, cfg.lyap_w, cfg.value_bits
    max_iter, stride, eps = stop_rule.max_iter, stop_rule.stride, stop_rule.eps
    stop_metric, bits_budget, explode = stop_rule.metric, stop_rule.budget, stop_rule.explode
    n = off.size - 1
    d = x0.size
    wire = is_wire(io)
    # ---- allocation: once per run, never inside the loop
    x = x0.copy()
    xg = empty(d, np.float64) if wire else x      # the iterate the workers see
    G = empty((n, d), np.float64)
    H = h0.copy()              # shifts h_i (or s_i for VR-GDCI)
    hbar = zeros(d, np.float64)
    acc = empty(d, np.float64)
    v = empty(d, np.float64)
    m = empty(d, np.float64)
    c = empty(d, np.float64)
    t = empty(d, np.float64)
    gfull = empty(d, np.float64)
    regs = zeros((max(nreg, 1), d), np.float64)
    iwork = zeros(d + IWORK_EXTRA, np.int64)
    mark = zeros(d, np.uint8)
    rng = zeros((n, 2), np.uint64)
    bits = zeros(n, np.float64)
    vbits = zeros(n, np.float64)
    wq = WirePlan(cfg.wq_rows, cfg.wq_addr)
    wc = WirePlan(cfg.wc_rows, cfg.wc_addr)
    for i in range(n):
        _rng.seed_state(rng[i], seed, np.uint64(i))
    vb = float(value_bits)
    vbi = int(value_bits)
    if wire:
        round_vec(x, xg, vbi)
    if cfg.init_full or mode == RAND:
        # shifts h_i^0 that the master must receive once, in full
        # (Rand-DIANA: w_i^0 = x^0, h_i^0 = grad f_i(x^0))
        for i in range(n):
            if mode == RAND:
                local_grad(kind, A, b, off, scale, lam, i, xg, G[i])
            a = shift_init(mode, cfg.init_full, G[i], H[i], vbi, io)
            bits[i] += a
            vbits[i] += a
    mean_rows(H, hbar)
    dist0 = _sqdist(x, x_star) if has_star else 1.0
    if dist0 == 0.0:
        dist0 = 1.0
    down = 0.0
    g0 = -1.0
    status = MAX_ITER
    row = 0
    c0 = cycles()
    it = 0
    for it in range(max_iter + 1):
        # ---- gradients at x^k (all workers), f and grad f for the trace
        fsum = 0.0
        for i in range(n):
            fsum += local_grad(kind, A, b, off, scale, lam, i, xg, G[i])
        gn = grad_sq(G, gfull)
        fval = fsum / n
        dist = _sqdist(x, x_star) if has_star else math.nan
        if g0 < 0.0:
            g0 = gn if gn > 0.0 else 1.0
        # ---- stopping and the trace
        bmean, bmax, vmean = bits_stats(bits, vbits)
        stop, status = stop_status(fval, gn, dist, has_star, dist0, g0, explode, stop_metric,
                                   eps, f_star, bmean, bits_budget, it, max_iter)
        if not stop and flag[0] != 0:
            stop = True
            status = INTERRUPTED
        if (stop or it % stride == 0) and row < trace.shape[0]:
            se = 0.0
            for i in range(n):
                se += shift_err_term(mode, has_star, lyap_w[i], H[i], gstar[i])
            se /= n
            write_row(trace, row, it, dist, dist0, fval, f_star, gn, bmean, bmax, vmean,
                      down, se, cycles() - c0)
            if row < xrec.shape[0]:
                for k in range(d):
                    xrec[row, k] = x[k]
            row += 1
        if stop:
            break
        # ---- one step of Algorithm 1: the workers' messages, the master's step
        down += vb * d
        for k in range(d):
            acc[k] = 0.0
        for i in range(n):
            bf, bv, ref = shift_msgs(mode, has_c, gamma, G[i], H[i], gstar[i], xg, v, m, c, t,
                                     q, cprog, wq, wc, i, p[i], vbi, rng[i], regs,
                                     iwork, mark, io)
            bits[i] += bf
            vbits[i] += bv
            shift_update(mode, has_c, alpha, H[i], m, c, t, gstar[i], ref, acc)
        shift_step(mode, gamma, eta, x, acc, hbar, H)
        if wire:
            round_vec(x, xg, vbi)
    return status, it, row


@njit(cache=True, parallel=True, nogil=True)
def run_many(pd, cfg, q, c, stop_rule, seeds, nreg, traces, status, iters, rows, flag):
    """Independent runs, one per seed, in parallel (``prange``).

    Run r writes ``traces[r]``, ``status[r]``, ``iters[r]``, ``rows[r]``;
    its result depends on ``seeds[r]`` only.
    """
    for r in prange(seeds.size):
        xrec = np.empty((0, pd.x0.size))
        s, it, nr = run_one(pd, cfg, q, c, stop_rule, seeds[r], nreg, traces[r], xrec, flag)
        status[r] = s
        iters[r] = it
        rows[r] = nr
