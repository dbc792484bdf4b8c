"""Compiled loops for biased compression, error feedback and three point compressors.

One nopython loop, :func:`run_one`, runs every method of this module; the
method is an integer ``mech`` (like the modes of :mod:`.engine`).  With
``g_i^t = grad f_i(x^t)``:

==========  =================================================================
mech        update (sources)
==========  =================================================================
CGD         single node (n = 1 semantics, on the full gradient):
            x^{t+1} = x^t - gamma C(grad f(x^t))      (Beznosikov et al.)
DCGD        distributed CGD with any compressor, h_i = 0 (internal: the
            registered ``dcgd`` is Algorithm 1's engine):
            x^{t+1} = x^t - gamma (1/n) sum_i C_i(g_i^t)  (Beznosikov et al.)
EF          error feedback:  v_i = e_i + gamma g_i^t, c_i = C(v_i),
            x^{t+1} = x^t - s (1/n) sum_i c_i,  e_i <- v_i - c_i,
            s = 1 (Karimireddy et al. 2019; the 3PC paper) or s = gamma (the
            literal display of Beznosikov et al., ``ef_outer = gamma``)
EF21..      the 3PC method (Richtárik et al., 3PC, ICML 2022, Algorithm 1):
MARINA      x^{t+1} = x^t - gamma g^t,  g^t = (1/n) sum_i g_i^t,
            g_i^{t+1} = C_{g_i^t, grad f_i(x^t)}(grad f_i(x^{t+1})),
            g_i^0 = grad f_i(x^0) (a full round, counted in the bits)
==========  =================================================================

The three point compressors C_{h,y}(x) (:func:`mech_apply`), C = the first
compressor (``c1``), Q / C_2 = the second (``c2``):

==========  =================================================================
EF21        h + C(x - h)
LAG         x if ||x - h||^2 > zeta ||x - y||^2, else h
CLAG        h + C(x - h) if ||x - h||^2 > zeta ||x - y||^2, else h
3PCv1       y + C(x - y)      (idealised: the master is assumed to know y)
3PCv2       b + C(x - b),  b = h + Q(x - y)
3PCv3       b + C(x - b),  b = an inner 3PC C^1_{h,y}(x): EF21 with C_2,
            LAG with zeta, or CLAG with C_2 and zeta (``inner``)
3PCv4       b + C_1(x - b),  b = h + C_2(x - h)
3PCv5       x with probability p (own coin per worker), else h + C(x - y)
MARINA      x with probability p (one coin shared by all workers, drawn
            from the master's stream), else h + Q(x - y); not a 3PC
==========  =================================================================

Bits (uplink, per worker): every compressor message costs what its kernel
reports; a full vector costs d values (``value_bits * d``); a lazy round
costs 0 bits plus a 1-bit flag (LAG, CLAG, the LAG/CLAG inner of 3PCv3,
3PCv5's per-worker coin; MARINA's coin is shared, so it needs no flag).
Flags count in the full column, not in the values-only column.  The
initial round g_i^0 = grad f_i(x^0) costs d values per worker.  The
downlink column counts the master's broadcast of x^t (d values per step).

Trace columns, statuses and stopping rules are those of :mod:`.engine`
(``COLUMNS``; eps on a metric, max iterations, bits budget, divergence ->
status "diverged").  The ``shift_error`` column holds
(1/n) sum_i ||g_i^t - grad f_i(x^t)||^2 for the 3PC methods (the G^t of the
3PC Lyapunov function), (1/n) sum_i ||e_i||^2 for EF and 0 otherwise.
Nothing is allocated inside the iteration loop; worker i draws from
xoroshiro128+ stream (seed, i), the master (MARINA's coin) from stream
(seed, n).

References
----------
A. Beznosikov, S. Horvath, P. Richtarik, M. Safaryan, "On biased compression
for distributed learning" (CGD, the Top-1 divergence example,
error feedback).  P. Richtarik, I. Sokolov, I. Fatkhullin, E. Gasanov, Z. Li,
E. Gorbunov, "3PC: three point compressors for communication-efficient
distributed training and a better theory for lazy aggregation", ICML 2022
P. Richtarik, I. Sokolov, I. Fatkhullin, "EF21: a new, simpler,
theoretically better, and practically faster error feedback", NeurIPS 2021.
E. Gorbunov, K. Burlachenko, Z. Li, P. Richtarik, "MARINA: faster
non-convex distributed learning with compression", ICML 2021.
S. P. Karimireddy, Q. Rebjock, S. Stich, M. Jaggi, "Error feedback fixes
SignSGD and other gradient compression schemes", ICML 2019.
"""
import math

import numpy as np
from numba import njit, prange

from .._alloc import empty, zeros
from .. import _rng
from .._clock import cycles
from ..compressors.kernels import apply_program, IWORK_EXTRA
from ..problems.base import local_grad
from ..wire.io import is_wire, msg_compress, msg_full, msg_flag, round_vec
from ..wire.plan import WirePlan
from ..compressors.kernels.intrinsics import borrow, borrow_row, keep_alive
from ..compressors.kernels.reductions import sq_dist2
from .engine import (_sqdist, grad_sq, stop_status, bits_stats, write_row, mean_rows, COLUMNS, NCOL, STATUS_NAMES, CONVERGED, MAX_ITER, BUDGET, DIVERGED,  # noqa: F401
                     INTERRUPTED, STOP_REL_ERR, STOP_GRAD, STOP_FGAP, C_IT, C_DIST, C_REL, C_FGAP,
                     C_GRAD, C_BITS, C_BITSMAX, C_VBITS, C_DOWN, C_SHIFT, C_CYC, C_F)

# mechanisms
CGD = 0
DCGD = 1
EF = 2
EF21 = 3
LAG = 4
CLAG = 5
V1 = 6
V2 = 7
V3 = 8
V4 = 9
V5 = 10
MARINA = 11
MECH_CODES = {"cgd": CGD, "dcgd": DCGD, "ef": EF, "ef21": EF21, "lag": LAG, "clag": CLAG,
              "3pcv1": V1, "3pcv2": V2, "3pcv3": V3, "3pcv4": V4, "3pcv5": V5,
              "marina": MARINA}

# inner mechanism of 3PCv3
INNER_EF21 = 0
INNER_LAG = 1
INNER_CLAG = 2
INNER_CODES = {"ef21": INNER_EF21, "lag": INNER_LAG, "clag": INNER_CLAG}




@njit(cache=True, inline="always")
def _lazy(x, h, y, zeta):
    """LAG's trigger ||x - h||^2 > zeta ||x - y||^2 (one pass over x)."""
    a, b = sq_dist2(x, h, y)
    return a > zeta * b


@njit(cache=True, inline="always")
def _copy_to(out, h):
    """out = h (nothing to do when ``out`` is ``h``, as in the loops)."""
    if out.ctypes.data != h.ctypes.data:
        for k in range(h.size):
            out[k] = h[k]


@njit(cache=True, inline="always")
def mech_apply(mech, inner, h, y, x, out, c1, c2, w, zeta, p, coin,
               vb, rng, regs, iwork, mark, bvec, t1, t2):
    """One three point compressor ``out = C_{h,y}(x)`` in the one-process
    loop (:func:`run_one`): :func:`_mech` with no wire.  (A separate entry
    point: passing ``None`` for ``io`` through a compiled call made LAG and
    MARINA 1.6x slower per iteration; inlined, the ``None`` costs nothing.)"""
    return _mech(mech, inner, h, y, x, out, c1, c2, w, zeta, p, coin,
                 vb, rng, regs, iwork, mark, bvec, t1, t2)


@njit(cache=True)
def mech_apply_io(mech, inner, h, y, x, out, c1, c2, w, zeta, p, coin,
                  vb, rng, regs, iwork, mark, bvec, t1, t2, io, p1, p2):
    """:func:`_mech` with its messages through ``io`` (the ``wire`` loop and
    the MPI backend)."""
    return _mech(mech, inner, h, y, x, out, c1, c2, w, zeta, p, coin,
                 vb, rng, regs, iwork, mark, bvec, t1, t2, io, p1, p2)


@njit(cache=True, inline="always")
def _mech(mech, inner, h, y, x, out, c1, c2, w, zeta, p, coin,
          vb, rng, regs, iwork, mark, bvec, t1, t2, io=None, p1=None, p2=None):
    """One three point compressor: ``out = C_{h,y}(x)``.

    Parameters
    ----------
    mech : int
        ``EF21``, ``LAG``, ``CLAG``, ``V1`` ... ``V5`` or ``MARINA``.
    inner : int
        3PCv3's inner mechanism: ``INNER_EF21`` (C_2), ``INNER_LAG`` (zeta)
        or ``INNER_CLAG`` (C_2 and zeta).
    h, y, x : ndarray
        The previous estimate g_i^t, the previous gradient grad f_i(x^t)
        and the new gradient grad f_i(x^{t+1}).
    out : ndarray
        Receives C_{h,y}(x); it may be ``h`` itself (every read of h[k]
        happens before out[k] is written).
    c1, c2 : Programs
        Programs of C (or Q for MARINA) and of the second compressor
        (Q of 3PCv2, C_2 of 3PCv3/3PCv4).
    w : int
        The worker whose programs run.
    zeta, p : float
        LAG/CLAG trigger and the probability of 3PCv5/MARINA.
    coin : float
        MARINA's shared uniform draw (ignored by the other mechanisms;
        3PCv5 draws its own coin from ``rng``).
    vb : int
        Bits per value of a full vector.
    rng : uint64[2]
        The worker's stream (advanced in place).
    regs, iwork, mark : ndarray
        Compressor scratch (see :func:`~shiftbench.compressors.kernels.apply_program`).
    bvec, t1, t2 : ndarray
        Scratch vectors of length d.
    io : WireIO
        Who runs this (:mod:`shiftbench.wire.io`): the one-process loop
        (``OFF``, or ``SIM`` with ``wire``), an MPI worker that encodes its
        messages (``SEND``) or the MPI master that decodes them (``RECV``:
        flags are read from the message, compressor outputs decoded).
    p1, p2 : WirePlan
        The wire plans of ``c1`` and ``c2``.

    Returns
    -------
    (int, int)
        Bits of the message (full count, values only).
    """
    d = x.size
    bf = 0
    bv = 0
    full = vb * d
    if mech == EF21:
        for k in range(d):
            t1[k] = x[k] - h[k]
        a, b = msg_compress(io, c1, p1, w, t1, t2, rng, regs, iwork, mark)
        for k in range(d):
            out[k] = h[k] + t2[k]
        return a, b
    if mech == LAG or mech == CLAG:
        if msg_flag(io, _lazy(x, h, y, zeta)):
            if mech == LAG:
                msg_full(io, x, out, vb)
                return 1 + full, full
            for k in range(d):
                t1[k] = x[k] - h[k]
            a, b = msg_compress(io, c1, p1, w, t1, t2, rng, regs, iwork, mark)
            for k in range(d):
                out[k] = h[k] + t2[k]
            return 1 + a, b
        _copy_to(out, h)
        return 1, 0
    if mech == V1:
        for k in range(d):
            t1[k] = x[k] - y[k]
        a, b = msg_compress(io, c1, p1, w, t1, t2, rng, regs, iwork, mark)
        for k in range(d):
            out[k] = y[k] + t2[k]
        return a, b
    if mech == V5 or mech == MARINA:
        if mech == V5:
            u = _rng.uniform(rng)
            fire = msg_flag(io, u < p)
            flag = 1
        else:
            fire = coin < p
            flag = 0
        if fire:
            msg_full(io, x, out, vb)
            return flag + full, full
        for k in range(d):
            t1[k] = x[k] - y[k]
        a, b = msg_compress(io, c1, p1, w, t1, t2, rng, regs, iwork, mark)
        for k in range(d):
            out[k] = h[k] + t2[k]
        return flag + a, b
    # V2, V3, V4: b = (something), then out = b + C(x - b)
    if mech == V2:
        for k in range(d):
            t1[k] = x[k] - y[k]
        a, b = msg_compress(io, c2, p2, w, t1, t2, rng, regs, iwork, mark)
        bf += a
        bv += b
        for k in range(d):
            bvec[k] = h[k] + t2[k]
    elif mech == V4 or (mech == V3 and inner == INNER_EF21):
        for k in range(d):
            t1[k] = x[k] - h[k]
        a, b = msg_compress(io, c2, p2, w, t1, t2, rng, regs, iwork, mark)
        bf += a
        bv += b
        for k in range(d):
            bvec[k] = h[k] + t2[k]
    else:   # V3 with a LAG / CLAG inner
        bf += 1
        if msg_flag(io, _lazy(x, h, y, zeta)):
            if inner == INNER_LAG:
                msg_full(io, x, bvec, vb)
                bf += full
                bv += full
            else:
                for k in range(d):
                    t1[k] = x[k] - h[k]
                a, b = msg_compress(io, c2, p2, w, t1, t2, rng, regs, iwork, mark)
                bf += a
                bv += b
                for k in range(d):
                    bvec[k] = h[k] + t2[k]
        else:
            for k in range(d):
                bvec[k] = h[k]
    for k in range(d):
        t1[k] = x[k] - bvec[k]
    a, b = msg_compress(io, c1, p1, w, t1, t2, rng, regs, iwork, mark)
    for k in range(d):
        out[k] = bvec[k] + t2[k]
    return bf + a, bv + b


@njit(cache=True, inline="always")
def tpc_msg(mech, gamma, g, h, v, m, c1, p1, w, rng, regs, iwork, mark, io):
    """DCGD and EF: worker w's message m = C_w(v) with v = g (DCGD) or
    e_w + gamma g (EF, whose error e_w = ``h`` becomes v - m).  Returns its bits."""
    d = g.size
    if mech == EF:
        for k in range(d):
            v[k] = h[k] + gamma * g[k]
    else:
        for k in range(d):
            v[k] = g[k]
    a, b = msg_compress(io, c1, p1, w, v, m, rng, regs, iwork, mark)
    if mech == EF:
        for k in range(d):
            h[k] = v[k] - m[k]
    return a, b


@njit(cache=True, inline="always")
def tpc_err_term(mech, h, gy):
    """Worker w's term of the trace's ``shift_error``: ||g_w - grad f_w||^2
    (3PC, MARINA), ||e_w||^2 (EF), 0 (CGD, DCGD)."""
    if mech >= EF21:
        return _sqdist(h, gy)
    if mech == EF:
        s = 0.0
        for k in range(h.size):
            s += h[k] * h[k]
        return s
    return 0.0


@njit(cache=True)
def _grads(kind, A, b, off, scale, lam, x, G):
    """All local gradients at x into G (n x d); returns sum_i f_i(x)."""
    n = off.size - 1
    f = 0.0
    for i in range(n):
        f += local_grad(kind, A, b, off, scale, lam, i, x, borrow_row(G, i))
    return f


@njit(cache=True, nogil=True)
def run_one(pd, cfg, c1, c2, stop_rule, seed, nreg, trace, xrec, flag):
    """Run one seed of method ``mech``; returns (status, iterations, rows written).

    ``trace`` (rows x NCOL) receives a row every ``stride`` iterations and
    at the last one; row k describes x^k and the bits spent to reach it.
    If ``xrec`` has rows, row r of it receives the iterate of trace row r.
    Per-worker compressors: worker i runs its program of ``c1``
    (and likewise c2).  CGD is a single node: it runs worker 0's program and
    stream, and its bits are those of that one node.  ``pd``, ``cfg``
    (:class:`~shiftbench.methods.loopdata.TPCConfig`) and ``stop_rule`` are
    the structured arguments of :mod:`shiftbench.methods.loopdata`; the loop
    stops with status ``interrupted`` once ``flag[0]`` is non-zero.
    """
    # every array the loop touches is borrowed (no reference counting per
    # call, :func:`~shiftbench.compressors.kernels.intrinsics.borrow`):
    # the arguments live in the caller, the run's own arrays in ``own``
    # until :func:`keep_alive` at the end
    pd, c1, c2, trace, xrec, flag = borrow((pd, c1, c2, trace, xrec, flag))
    kind, A, b, off, scale, lam = pd.kind, pd.A, pd.b, pd.off, pd.scale, pd.lam
    x0, x_star, f_star, has_star = pd.x0, pd.x_star, pd.f_star, pd.has_star
    mech, inner, gamma, zeta, p = cfg.mech, cfg.inner, cfg.gamma, cfg.zeta, cfg.p
    ef_outer, value_bits = cfg.ef_outer, cfg.value_bits
    max_iter, stride, eps = stop_rule.max_iter, stop_rule.stride, stop_rule.eps
    stop_metric, bits_budget, explode = stop_rule.metric, stop_rule.budget, stop_rule.explode
    n = off.size - 1
    d = x0.size
    # ---- allocation: once per run, never inside the loop
    x = x0.copy()
    G2 = empty((2, n, d), np.float64)
    H = zeros((n, d), np.float64)        # g_i (3PC) or e_i (EF)
    gbar = zeros(d, np.float64)
    gsum = empty(d, np.float64)
    acc = empty(d, np.float64)
    v = empty(d, np.float64)
    m = empty(d, np.float64)
    bvec = empty(d, np.float64)
    t1 = empty(d, np.float64)
    t2 = empty(d, np.float64)
    regs = zeros((max(nreg, 1), d), np.float64)
    iwork = zeros(d + IWORK_EXTRA, np.int64)
    mark = zeros(d, np.uint8)
    rng = zeros((n + 1, 2), np.uint64)
    bits = zeros(n, np.float64)
    vbits = zeros(n, np.float64)
    own = (x, G2, H, gbar, gsum, acc, v, m, bvec, t1, t2, regs, iwork, mark, rng, bits, vbits)
    (x, G2, H, gbar, gsum, acc, v, m, bvec, t1, t2, regs, iwork, mark, rng, bits,
     vbits) = borrow(own)
    for i in range(n + 1):
        _rng.seed_state(rng[i], seed, np.uint64(i))
    vb = int(value_bits)
    is_tpc = mech >= EF21
    nb = 1 if mech == CGD else n        # nodes that send
    cur = 0
    fsum = _grads(kind, A, b, off, scale, lam, x, G2[cur])
    if is_tpc:
        # g_i^0 = grad f_i(x^0), sent in full once
        for i in range(n):
            for k in range(d):
                H[i, k] = G2[cur, i, k]
            bits[i] += vb * d
            vbits[i] += vb * d
        mean_rows(H, gbar)
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
        Gy = borrow_row(G2, cur)
        # ---- f and grad f at x^it for the trace
        gn = grad_sq(Gy, gsum)
        fval = fsum / n
        dist = _sqdist(x, x_star) if has_star else math.nan
        if g0 < 0.0:
            g0 = gn if gn > 0.0 else 1.0
        # ---- stopping and the trace (shared with engine.run_one)
        bmean, bmax, vmean = bits_stats(borrow(bits)[:nb], borrow(vbits)[:nb])
        stop, status = stop_status(fval, gn, dist, has_star, dist0, g0, explode, stop_metric,
                                   eps, f_star, bmean, bits_budget, it, max_iter)
        if not stop and flag[0] != 0:
            stop = True
            status = INTERRUPTED
        if (stop or it % stride == 0) and row < trace.shape[0]:
            se = 0.0
            if is_tpc:
                for i in range(n):
                    se += _sqdist(borrow_row(H, i), borrow_row(Gy, i))
                se /= n
            elif mech == EF:
                for i in range(n):
                    for k in range(d):
                        se += H[i, k] * H[i, k]
                se /= n
            write_row(trace, row, it, dist, dist0, fval, f_star, gn, bmean, bmax, vmean,
                      down, se, cycles() - c0)
            if row < xrec.shape[0]:
                for k in range(d):
                    xrec[row, k] = x[k]
            row += 1
        if stop:
            break
        # ---- one step
        down += vb * d
        if mech == CGD:
            for k in range(d):
                v[k] = gsum[k] / n      # grad f(x^it): gsum is this iteration's (grad_sq)
            a, bb = apply_program(c1, 0, v, m, borrow_row(rng, 0),
                                  regs, iwork, mark)
            bits[0] += a
            vbits[0] += bb
            for k in range(d):
                x[k] -= gamma * m[k]
        elif mech == DCGD or mech == EF:
            for k in range(d):
                acc[k] = 0.0
            for i in range(n):
                if mech == EF:
                    for k in range(d):
                        v[k] = H[i, k] + gamma * Gy[i, k]
                else:
                    for k in range(d):
                        v[k] = Gy[i, k]
                a, bb = apply_program(c1, i, v, m, borrow_row(rng, i),
                                      regs, iwork, mark)
                bits[i] += a
                vbits[i] += bb
                for k in range(d):
                    acc[k] += m[k]
                if mech == EF:
                    for k in range(d):
                        H[i, k] = v[k] - m[k]
            s = gamma if mech == DCGD else ef_outer
            for k in range(d):
                x[k] -= s * acc[k] / n
        else:
            for k in range(d):
                x[k] -= gamma * gbar[k]
        # ---- gradients at x^{it+1}
        nxt = 1 - cur
        fsum = _grads(kind, A, b, off, scale, lam, x, borrow_row(G2, nxt))
        if is_tpc:
            coin = _rng.uniform(borrow_row(rng, n)) if mech == MARINA else 0.0
            changed = mech != LAG or vb * d == 0
            for i in range(n):
                hi = borrow_row(H, i)
                a, bb = mech_apply(mech, inner, hi, borrow_row(Gy, i),
                                   borrow_row(borrow_row(G2, nxt), i), hi, c1, c2, i,
                                   zeta, p, coin, vb, borrow_row(rng, i), regs, iwork, mark,
                                   bvec, t1, t2)
                bits[i] += a
                vbits[i] += bb
                # LAG keeps g_i (1 bit: the flag) or sends it in full (1 + vb d)
                changed = changed or a != 1
            if changed:
                mean_rows(H, gbar)      # else no g_i moved: the mean is the same to the bit
        cur = nxt
    keep_alive(own)
    return status, it, row


@njit(cache=True, nogil=True)
def run_loop(pd, cfg, c1, c2, stop_rule, seed, nreg, trace, xrec, flag, io):
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
    x0, x_star, f_star, has_star = pd.x0, pd.x_star, pd.f_star, pd.has_star
    mech, inner, gamma, zeta, p = cfg.mech, cfg.inner, cfg.gamma, cfg.zeta, cfg.p
    ef_outer, value_bits = cfg.ef_outer, cfg.value_bits
    max_iter, stride, eps = stop_rule.max_iter, stop_rule.stride, stop_rule.eps
    stop_metric, bits_budget, explode = stop_rule.metric, stop_rule.budget, stop_rule.explode
    n = off.size - 1
    d = x0.size
    wire = is_wire(io)
    # ---- allocation: once per run, never inside the loop
    x = x0.copy()
    xg = empty(d, np.float64) if wire else x      # the iterate the workers see
    G2 = empty((2, n, d), np.float64)
    H = zeros((n, d), np.float64)        # g_i (3PC) or e_i (EF)
    gbar = zeros(d, np.float64)
    gsum = empty(d, np.float64)
    acc = empty(d, np.float64)
    v = empty(d, np.float64)
    m = empty(d, np.float64)
    bvec = empty(d, np.float64)
    t1 = empty(d, np.float64)
    t2 = empty(d, np.float64)
    regs = zeros((max(nreg, 1), d), np.float64)
    iwork = zeros(d + IWORK_EXTRA, np.int64)
    mark = zeros(d, np.uint8)
    rng = zeros((n + 1, 2), np.uint64)
    bits = zeros(n, np.float64)
    vbits = zeros(n, np.float64)
    p1 = WirePlan(cfg.w1_rows, cfg.w1_addr)
    p2 = WirePlan(cfg.w2_rows, cfg.w2_addr)
    for i in range(n + 1):
        _rng.seed_state(rng[i], seed, np.uint64(i))
    vb = int(value_bits)
    is_tpc = mech >= EF21
    nb = 1 if mech == CGD else n        # nodes that send
    cur = 0
    if wire:
        round_vec(x, xg, vb)
    fsum = _grads(kind, A, b, off, scale, lam, xg, G2[cur])
    if is_tpc:
        # g_i^0 = grad f_i(x^0), sent in full once
        for i in range(n):
            a = msg_full(io, G2[cur, i], H[i], vb)
            bits[i] += a
            vbits[i] += a
        mean_rows(H, gbar)
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
        Gy = G2[cur]
        # ---- f and grad f at x^it for the trace
        gn = grad_sq(Gy, gsum)
        fval = fsum / n
        dist = _sqdist(x, x_star) if has_star else math.nan
        if g0 < 0.0:
            g0 = gn if gn > 0.0 else 1.0
        # ---- stopping and the trace (shared with engine.run_one)
        bmean, bmax, vmean = bits_stats(bits[:nb], vbits[:nb])
        stop, status = stop_status(fval, gn, dist, has_star, dist0, g0, explode, stop_metric,
                                   eps, f_star, bmean, bits_budget, it, max_iter)
        if not stop and flag[0] != 0:
            stop = True
            status = INTERRUPTED
        if (stop or it % stride == 0) and row < trace.shape[0]:
            se = 0.0
            for i in range(n):
                se += tpc_err_term(mech, H[i], Gy[i])
            se /= n
            write_row(trace, row, it, dist, dist0, fval, f_star, gn, bmean, bmax, vmean,
                      down, se, cycles() - c0)
            if row < xrec.shape[0]:
                for k in range(d):
                    xrec[row, k] = x[k]
            row += 1
        if stop:
            break
        # ---- one step
        down += vb * d
        if mech == CGD:
            for k in range(d):
                t = 0.0
                for i in range(n):
                    t += Gy[i, k]
                v[k] = t / n
            a, bb = msg_compress(io, c1, p1, 0, v, m, rng[0], regs, iwork, mark)
            bits[0] += a
            vbits[0] += bb
            for k in range(d):
                x[k] -= gamma * m[k]
        elif mech == DCGD or mech == EF:
            for k in range(d):
                acc[k] = 0.0
            for i in range(n):
                a, bb = tpc_msg(mech, gamma, Gy[i], H[i], v, m, c1, p1, i, rng[i], regs,
                                iwork, mark, io)
                bits[i] += a
                vbits[i] += bb
                for k in range(d):
                    acc[k] += m[k]
            s = gamma if mech == DCGD else ef_outer
            for k in range(d):
                x[k] -= s * acc[k] / n
        else:
            for k in range(d):
                x[k] -= gamma * gbar[k]
        if wire:
            round_vec(x, xg, vb)
        # ---- gradients at x^{it+1}
        nxt = 1 - cur
        fsum = _grads(kind, A, b, off, scale, lam, xg, G2[nxt])
        if is_tpc:
            coin = _rng.uniform(rng[n]) if mech == MARINA else 0.0
            for i in range(n):
                a, bb = mech_apply_io(mech, inner, H[i], G2[cur, i], G2[nxt, i], H[i],
                                      c1, c2, i,
                                      zeta, p, coin, vb, rng[i], regs, iwork, mark,
                                      bvec, t1, t2, io, p1, p2)
                bits[i] += a
                vbits[i] += bb
            mean_rows(H, gbar)
        cur = nxt
    return status, it, row


@njit(cache=True, parallel=True, nogil=True)
def run_many(pd, cfg, c1, c2, stop_rule, seeds, nreg, traces, status, iters, rows, flag):
    """Independent runs, one per seed, in parallel (``prange``).

    Run r writes ``traces[r]``, ``status[r]``, ``iters[r]``, ``rows[r]``;
    its result depends on ``seeds[r]`` only.
    """
    for r in prange(seeds.size):
        xrec = np.empty((0, pd.x0.size))
        s, it, nr = run_one(pd, cfg, c1, c2, stop_rule, seeds[r], nreg, traces[r], xrec, flag)
        status[r] = s
        iters[r] = it
        rows[r] = nr


@njit(cache=True)
def tpc_errors(mech, inner, H, Y, X, c1, c2, zeta, p,
               value_bits, seed, trials, nreg, err):
    """Monte-Carlo errors of a three point compressor on sampled triples.

    For triple j (rows of H, Y, X) and trial t, ``err[j, t] =
    ||C_{h,y}(x) - x||^2`` with trial t drawing from stream (seed, t) (and,
    for MARINA, the coin from stream (seed, trials + t)).  Used by
    ``python -m shiftbench.classes`` to measure the 3PC constants (A, B)
    with the very kernel the method loop runs.
    """
    d = X.shape[1]
    out = empty(d, np.float64)
    bvec = empty(d, np.float64)
    t1 = empty(d, np.float64)
    t2 = empty(d, np.float64)
    regs = zeros((max(nreg, 1), d), np.float64)
    iwork = zeros(d + IWORK_EXTRA, np.int64)
    mark = zeros(d, np.uint8)
    rng = zeros(2, np.uint64)
    rc = zeros(2, np.uint64)
    for j in range(X.shape[0]):
        for t in range(trials):
            _rng.seed_state(rng, seed, np.uint64(t))
            _rng.seed_state(rc, seed, np.uint64(trials + t))
            coin = _rng.uniform(rc)
            mech_apply(mech, inner, H[j], Y[j], X[j], out, c1, c2, 0,
                       zeta, p, coin, value_bits, rng, regs, iwork, mark, bvec, t1, t2)
            err[j, t] = _sqdist(out, X[j])
