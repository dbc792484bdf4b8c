"""The device kernels: the compressor-program interpreter, the standalone
compression kernel and the method loops (one thread block per seed).

This module is compiled once for the built-in compressors.  Users' kernels
cannot be called through pointers on the device, so a program that uses
them runs in a copy of this module whose ``user_call`` dispatches to them
(:func:`shiftbench.gpu.programs.device_module`); everything else is shared.
"""
import math

import numpy as np
from numba import float64, int64, uint64, int32

from ..compressors.kernels.program import (OP_PRIM, OP_UPRIM, OP_SUB, OP_ADD, OP_SCALE,
                                           OP_COPY, C_KIND, C_SLOT, C_SRC, C_DST, C_SRC2,
                                           C_POFF, C_PLEN, C_SILENT)
from ..methods import engine as E
from ..methods import tpc as T
from ..methods.loopdata import MAX_ITER, INTERRUPTED
from ..problems.base import LOGREG_NC, _row_loss_coef
from ._target import cuda, dev
from .block import MAXT, RADIX, bsum_f, bcast_i, sqdist, sqnorm, draw_uniform
from .prims import call_prim
from .rng import seed_state

row_loss_coef = dev(_row_loss_coef.py_func)
stop_status = dev(E.stop_status.py_func)
(C_IT, C_DIST, C_REL, C_FGAP, C_GRAD, C_BITS, C_BITSMAX, C_VBITS, C_DOWN, C_SHIFT, C_CYC,
 C_F) = range(12)
ROW_PARALLEL_MAX_D = 4096   # up to this d a thread computes whole rows of A x


@dev
def _no_user_call(slot, x, out, p, rng, sf):
    return 0.0, 0.0


# a copy of this module made for users' kernels has ``user_call`` set before
# its code runs (see programs.device_module)
user_call = globals().get("user_call", _no_user_call)
CACHE = user_call is _no_user_call       # only the built-in copy is cached on disk


@cuda.jit(device=True, inline="always")
def reg(r, x, out, regs):
    if r == -1:
        return x
    if r == -2:
        return out
    return regs[r]


@dev
def run_program(ops, par, ptr, w, x, out, rng, regs, iwork, mark, sf, si, su, hist):
    """Worker w's compressor program on x into out (block-cooperative);
    returns ``(bits_full, bits_values)`` on every thread, as the CPU's
    :func:`~shiftbench.compressors.kernels.program.run_program`."""
    t = cuda.threadIdx.x
    nt = cuda.blockDim.x
    bf = 0.0
    bv = 0.0
    for j in range(ptr[w], ptr[w + 1]):
        kind = ops[j, C_KIND]
        src = reg(ops[j, C_SRC], x, out, regs)
        dst = reg(ops[j, C_DST], x, out, regs)
        if kind == OP_PRIM or kind == OP_UPRIM:
            p0 = ops[j, C_POFF]
            p = par[p0:p0 + ops[j, C_PLEN]]
            if kind == OP_PRIM:
                a, b = call_prim(ops[j, C_SLOT], src, dst, p, rng, iwork, mark, sf, si, su,
                                 hist)
            else:
                a, b = user_call(ops[j, C_SLOT], src, dst, p, rng, sf)
            if ops[j, C_SILENT] == 0:
                bf += a
                bv += b
        elif kind == OP_SUB:
            s2 = reg(ops[j, C_SRC2], x, out, regs)
            for i in range(t, dst.size, nt):
                dst[i] = src[i] - s2[i]
        elif kind == OP_ADD:
            s2 = reg(ops[j, C_SRC2], x, out, regs)
            for i in range(t, dst.size, nt):
                dst[i] = src[i] + s2[i]
        elif kind == OP_SCALE:
            lam = par[ops[j, C_POFF]]
            for i in range(t, dst.size, nt):
                dst[i] = lam * src[i]
        elif kind == OP_COPY:
            for i in range(t, dst.size, nt):
                dst[i] = src[i]
    cuda.syncthreads()
    return bf, bv


@cuda.jit(cache=CACHE)
def compress_kernel(ops, par, ptr, x, out, rng, regs, iwork, mark, bits):
    """One compression by worker 0's program (one block)."""
    sf = cuda.shared.array(MAXT, float64)
    si = cuda.shared.array(MAXT, int64)
    su = cuda.shared.array(8, uint64)
    hist = cuda.shared.array(RADIX, int32)
    a, b = run_program(ops, par, ptr, 0, x, out, rng, regs, iwork, mark, sf, si, su, hist)
    if cuda.threadIdx.x == 0:
        bits[0] = a
        bits[1] = b


# ---------------------------------------------------------------------------
# the method loops: shared pieces


@dev
def grads(kind, A, b, off, scale, lam, x, G, coef, sf):
    """All local gradients at x into G (n x d); returns sum_i f_i(x).

    The CPU's :func:`shiftbench.problems.base.local_grad` for every worker;
    the row products are summed in another order, so values agree to
    rounding.  Small d: a thread per data row; large d: the block per row.
    """
    t = cuda.threadIdx.x
    nt = cuda.blockDim.x
    n = off.size - 1
    d = x.size
    loss = 0.0
    cuda.syncthreads()
    if d <= ROW_PARALLEL_MAX_D:
        for i in range(n):
            s = scale[i]
            for j in range(off[i] + t, off[i + 1], nt):
                tt = 0.0
                for k in range(d):
                    tt += A[j, k] * x[k]
                l, c = row_loss_coef(kind, tt, b[j], s)
                coef[j] = c
                loss += s * l
    else:
        for i in range(n):
            s = scale[i]
            for j in range(off[i], off[i + 1]):
                part = 0.0
                for k in range(t, d, nt):
                    part += A[j, k] * x[k]
                tt = bsum_f(part, sf)
                l, c = row_loss_coef(kind, tt, b[j], s)
                if t == 0:
                    coef[j] = c
                    loss += s * l
    cuda.syncthreads()
    for i in range(n):
        for k in range(t, d, nt):
            g = 0.0
            for j in range(off[i], off[i + 1]):
                g += coef[j] * A[j, k]
            xk = x[k]
            if kind == LOGREG_NC:
                q = 1.0 + xk * xk
                g += lam * 2.0 * xk / (q * q)
                loss += lam * xk * xk / q
            else:
                g += lam * xk
                loss += 0.5 * lam * xk * xk
            G[i, k] = g
    return bsum_f(loss, sf)


@dev
def mean_rows(H, out):
    """out = (1/n) sum_i H[i], summed in worker order (as the CPU)."""
    t = cuda.threadIdx.x
    nt = cuda.blockDim.x
    n = H.shape[0]
    for k in range(t, H.shape[1], nt):
        a = 0.0
        for i in range(n):
            a += H[i, k]
        out[k] = a / n


@dev
def mean_grad_sq(G, sf):
    """||(1/n) sum_i G[i]||^2."""
    t = cuda.threadIdx.x
    nt = cuda.blockDim.x
    n = G.shape[0]
    acc = 0.0
    for k in range(t, G.shape[1], nt):
        a = 0.0
        for i in range(n):
            a += G[i, k]
        a /= n
        acc += a * a
    return bsum_f(acc, sf)


@dev
def bits_stats(bits, vbits, nb):
    bmean = 0.0
    bmax = 0.0
    vmean = 0.0
    for i in range(nb):
        bmean += bits[i]
        vmean += vbits[i]
        if bits[i] > bmax:
            bmax = bits[i]
    return bmean / nb, bmax, vmean / nb


@dev
def write_row(trace, row, it, dist, dist0, fval, f_star, gn, bmean, bmax, vmean, down, se):
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
    trace[row, C_CYC] = 0.0          # filled on the host from the kernel's wall time
    trace[row, C_F] = fval


@dev
def interrupted(flag, si):
    """The host's interrupt flag as thread 0 sees it, for every thread."""
    return bcast_i(int64(flag[0]), si) != 0


# ---------------------------------------------------------------------------
# Algorithm 1 (DCGD-SHIFT): shiftbench.methods.engine.run_one, a block per seed


@cuda.jit(cache=CACHE)
def shift_kernel(kind, A, b, off, scale, lam, x0, x_star, gstar, f_star, has_star,
                 mode, h0, has_c, gamma, alpha, eta, p, lyap_w, value_bits, init_full,
                 q_ops, q_par, q_ptr, c_ops, c_par, c_ptr,
                 max_iter, stride, eps, metric, budget, explode,
                 seeds, traces, status, iters, nrows, xrec, flag,
                 V, G, H, R, IW, MK, RNG, BITS, COEF):
    """Seed r = blockIdx.x runs :func:`shiftbench.methods.engine.run_one`
    (same modes, draws, bits and trace rows; see that function)."""
    sf = cuda.shared.array(MAXT, float64)
    si = cuda.shared.array(MAXT, int64)
    su = cuda.shared.array(8, uint64)
    hist = cuda.shared.array(RADIX, int32)
    t = cuda.threadIdx.x
    nt = cuda.blockDim.x
    r = cuda.blockIdx.x
    n = off.size - 1
    d = x0.size
    x = V[r, 0]
    hbar = V[r, 1]
    acc = V[r, 2]
    v = V[r, 3]
    m = V[r, 4]
    c = V[r, 5]
    Gr = G[r]
    Hr = H[r]
    regs = R[r]
    iwork = IW[r]
    mark = MK[r]
    rng = RNG[r]
    bits = BITS[r, 0]
    vbits = BITS[r, 1]
    coef = COEF[r]
    trace = traces[r]
    for k in range(t, d, nt):
        x[k] = x0[k]
        for i in range(n):
            Hr[i, k] = h0[i, k]
    vb = float64(value_bits)
    if t == 0:
        for i in range(n):
            seed_state(rng[i], seeds[r], uint64(i))
            bits[i] = vb * d if init_full else 0.0
            vbits[i] = vb * d if init_full else 0.0
    if mode == E.RAND:
        # w_i^0 = x^0: the master needs h_i^0 = grad f_i(x^0) once, in full
        grads(kind, A, b, off, scale, lam, x, Hr, coef, sf)
        if t == 0:
            for i in range(n):
                bits[i] += vb * d
                vbits[i] += vb * d
    cuda.syncthreads()
    mean_rows(Hr, hbar)
    dist0 = sqdist(x, x_star, sf) if has_star else 1.0
    if dist0 == 0.0:
        dist0 = 1.0
    down = 0.0
    g0 = -1.0
    st = MAX_ITER
    row = 0
    it = 0
    for it in range(max_iter + 1):
        fsum = grads(kind, A, b, off, scale, lam, x, Gr, coef, sf)
        gn = mean_grad_sq(Gr, sf)
        fval = fsum / n
        dist = sqdist(x, x_star, sf) if has_star else math.nan
        if g0 < 0.0:
            g0 = gn if gn > 0.0 else 1.0
        bmean, bmax, vmean = bits_stats(bits, vbits, n)
        stop, st = stop_status(fval, gn, dist, has_star, dist0, g0, explode, metric, eps,
                               f_star, bmean, budget, it, max_iter)
        if interrupted(flag, si) and not stop:
            stop = True
            st = INTERRUPTED
        if (stop or it % stride == 0) and row < trace.shape[0]:
            se = 0.0
            if has_star and (mode == E.DIANA or mode == E.RAND or mode == E.STAR):
                for i in range(n):
                    se += lyap_w[i] * sqdist(Hr[i], gstar[i], sf)
                se /= n
            if t == 0:
                write_row(trace, row, it, dist, dist0, fval, f_star, gn, bmean, bmax, vmean,
                          down, se)
            if r == 0 and row < xrec.shape[0]:
                for k in range(t, d, nt):
                    xrec[row, k] = x[k]
            row += 1
        if stop:
            break
        # ---- one step of Algorithm 1
        down += vb * d
        for k in range(t, d, nt):
            acc[k] = 0.0
        if mode == E.GDCI or mode == E.VRGDCI:
            for i in range(n):
                for k in range(t, d, nt):
                    v[k] = x[k] - gamma * Gr[i, k]
                    if mode == E.VRGDCI:
                        v[k] -= Hr[i, k]
                bf, bv = run_program(q_ops, q_par, q_ptr, i, v, m, rng[i], regs, iwork, mark,
                                     sf, si, su, hist)
                if t == 0:
                    bits[i] += bf
                    vbits[i] += bv
                if mode == E.VRGDCI:
                    for k in range(t, d, nt):
                        acc[k] += Hr[i, k] + m[k]
                        Hr[i, k] += alpha * m[k]
                else:
                    for k in range(t, d, nt):
                        acc[k] += m[k]
            for k in range(t, d, nt):
                x[k] = (1.0 - eta) * x[k] + eta * acc[k] / n
            continue
        for i in range(n):
            for k in range(t, d, nt):
                v[k] = Gr[i, k] - Hr[i, k]
            if mode == E.DIANA and has_c:
                bf, bv = run_program(c_ops, c_par, c_ptr, i, v, c, rng[i], regs, iwork, mark,
                                     sf, si, su, hist)
                if t == 0:
                    bits[i] += bf
                    vbits[i] += bv
                for k in range(t, d, nt):
                    v[k] -= c[k]
                bf, bv = run_program(q_ops, q_par, q_ptr, i, v, m, rng[i], regs, iwork, mark,
                                     sf, si, su, hist)
                for k in range(t, d, nt):
                    m[k] += c[k]
            else:
                bf, bv = run_program(q_ops, q_par, q_ptr, i, v, m, rng[i], regs, iwork, mark,
                                     sf, si, su, hist)
            if t == 0:
                bits[i] += bf
                vbits[i] += bv
            for k in range(t, d, nt):
                acc[k] += m[k]
            if mode == E.DIANA:
                for k in range(t, d, nt):
                    Hr[i, k] += alpha * m[k]
            elif mode == E.STAR:
                if has_c:
                    for k in range(t, d, nt):
                        v[k] = Gr[i, k] - gstar[i, k]
                    bf, bv = run_program(c_ops, c_par, c_ptr, i, v, c, rng[i], regs, iwork,
                                         mark, sf, si, su, hist)
                    if t == 0:
                        bits[i] += bf
                        vbits[i] += bv
                    for k in range(t, d, nt):
                        Hr[i, k] = gstar[i, k] + c[k]
            elif mode == E.RAND:
                if draw_uniform(rng[i], sf) < p[i]:
                    for k in range(t, d, nt):
                        Hr[i, k] = Gr[i, k]
                    if t == 0:
                        bits[i] += vb * d
                        vbits[i] += vb * d
        # master: x^{k+1} = x^k - gamma (h^k + mean m_i); h^{k+1} = mean h_i^{k+1}
        for k in range(t, d, nt):
            x[k] -= gamma * (hbar[k] + acc[k] / n)
        if mode == E.DIANA or mode == E.STAR or mode == E.RAND:
            mean_rows(Hr, hbar)
    if t == 0:
        status[r] = st
        iters[r] = it
        nrows[r] = row


# ---------------------------------------------------------------------------
# CGD / EF / 3PC / MARINA: shiftbench.methods.tpc.run_one, a block per seed


@dev
def mech_apply(mech, inner, h, y, xx, out, c1o, c1p, c1q, c2o, c2p, c2q, w, zeta, pp, coin,
               vb, rng, regs, iwork, mark, bvec, t1, t2, sf, si, su, hist):
    """:func:`shiftbench.methods.tpc.mech_apply` (``out`` may be ``h``)."""
    t = cuda.threadIdx.x
    nt = cuda.blockDim.x
    d = xx.size
    full = float64(vb * d)
    if mech == T.EF21:
        for k in range(t, d, nt):
            t1[k] = xx[k] - h[k]
        a, b = run_program(c1o, c1p, c1q, w, t1, t2, rng, regs, iwork, mark, sf, si, su, hist)
        for k in range(t, d, nt):
            out[k] = h[k] + t2[k]
        return a, b
    if mech == T.LAG or mech == T.CLAG:
        if sqdist(xx, h, sf) > zeta * sqdist(xx, y, sf):
            if mech == T.LAG:
                for k in range(t, d, nt):
                    out[k] = xx[k]
                return 1.0 + full, full
            for k in range(t, d, nt):
                t1[k] = xx[k] - h[k]
            a, b = run_program(c1o, c1p, c1q, w, t1, t2, rng, regs, iwork, mark, sf, si, su,
                               hist)
            for k in range(t, d, nt):
                out[k] = h[k] + t2[k]
            return 1.0 + a, b
        for k in range(t, d, nt):
            out[k] = h[k]
        return 1.0, 0.0
    if mech == T.V1:
        for k in range(t, d, nt):
            t1[k] = xx[k] - y[k]
        a, b = run_program(c1o, c1p, c1q, w, t1, t2, rng, regs, iwork, mark, sf, si, su, hist)
        for k in range(t, d, nt):
            out[k] = y[k] + t2[k]
        return a, b
    if mech == T.V5 or mech == T.MARINA:
        if mech == T.V5:
            u = draw_uniform(rng, sf)
            fl = 1.0
        else:
            u = coin
            fl = 0.0
        if u < pp:
            for k in range(t, d, nt):
                out[k] = xx[k]
            return fl + full, full
        for k in range(t, d, nt):
            t1[k] = xx[k] - y[k]
        a, b = run_program(c1o, c1p, c1q, w, t1, t2, rng, regs, iwork, mark, sf, si, su, hist)
        for k in range(t, d, nt):
            out[k] = h[k] + t2[k]
        return fl + a, b
    bf = 0.0
    bv = 0.0
    if mech == T.V2:
        for k in range(t, d, nt):
            t1[k] = xx[k] - y[k]
        a, b = run_program(c2o, c2p, c2q, w, t1, t2, rng, regs, iwork, mark, sf, si, su, hist)
        bf += a
        bv += b
        for k in range(t, d, nt):
            bvec[k] = h[k] + t2[k]
    elif mech == T.V4 or (mech == T.V3 and inner == T.INNER_EF21):
        for k in range(t, d, nt):
            t1[k] = xx[k] - h[k]
        a, b = run_program(c2o, c2p, c2q, w, t1, t2, rng, regs, iwork, mark, sf, si, su, hist)
        bf += a
        bv += b
        for k in range(t, d, nt):
            bvec[k] = h[k] + t2[k]
    else:   # V3 with a LAG / CLAG inner
        bf += 1.0
        if sqdist(xx, h, sf) > zeta * sqdist(xx, y, sf):
            if inner == T.INNER_LAG:
                for k in range(t, d, nt):
                    bvec[k] = xx[k]
                bf += full
                bv += full
            else:
                for k in range(t, d, nt):
                    t1[k] = xx[k] - h[k]
                a, b = run_program(c2o, c2p, c2q, w, t1, t2, rng, regs, iwork, mark, sf, si,
                                   su, hist)
                bf += a
                bv += b
                for k in range(t, d, nt):
                    bvec[k] = h[k] + t2[k]
        else:
            for k in range(t, d, nt):
                bvec[k] = h[k]
    for k in range(t, d, nt):
        t1[k] = xx[k] - bvec[k]
    a, b = run_program(c1o, c1p, c1q, w, t1, t2, rng, regs, iwork, mark, sf, si, su, hist)
    for k in range(t, d, nt):
        out[k] = bvec[k] + t2[k]
    return bf + a, bv + b


@cuda.jit(cache=CACHE)
def tpc_kernel(kind, A, b, off, scale, lam, x0, x_star, f_star, has_star,
               mech, inner, gamma, zeta, pp, ef_outer, value_bits,
               c1o, c1p, c1q, c2o, c2p, c2q,
               max_iter, stride, eps, metric, budget, explode,
               seeds, traces, status, iters, nrows, xrec, flag,
               V, G2, H, R, IW, MK, RNG, BITS, COEF):
    """Seed r = blockIdx.x runs :func:`shiftbench.methods.tpc.run_one`
    (same mechanisms, draws, bits and trace rows; see that function)."""
    sf = cuda.shared.array(MAXT, float64)
    si = cuda.shared.array(MAXT, int64)
    su = cuda.shared.array(8, uint64)
    hist = cuda.shared.array(RADIX, int32)
    t = cuda.threadIdx.x
    nt = cuda.blockDim.x
    r = cuda.blockIdx.x
    n = off.size - 1
    d = x0.size
    x = V[r, 0]
    gbar = V[r, 1]
    acc = V[r, 2]
    v = V[r, 3]
    m = V[r, 4]
    bvec = V[r, 5]
    t1 = V[r, 6]
    t2 = V[r, 7]
    G2r = G2[r]
    Hr = H[r]
    regs = R[r]
    iwork = IW[r]
    mark = MK[r]
    rng = RNG[r]
    bits = BITS[r, 0]
    vbits = BITS[r, 1]
    coef = COEF[r]
    trace = traces[r]
    vb = value_bits
    is_tpc = mech >= T.EF21
    nb = 1 if mech == T.CGD else n
    for k in range(t, d, nt):
        x[k] = x0[k]
        for i in range(n):
            Hr[i, k] = 0.0
    if t == 0:
        for i in range(n + 1):
            seed_state(rng[i], seeds[r], uint64(i))
        for i in range(n):
            bits[i] = 0.0
            vbits[i] = 0.0
    cur = 0
    fsum = grads(kind, A, b, off, scale, lam, x, G2r[cur], coef, sf)
    if is_tpc:
        # g_i^0 = grad f_i(x^0), sent in full once
        for k in range(t, d, nt):
            for i in range(n):
                Hr[i, k] = G2r[cur, i, k]
        if t == 0:
            for i in range(n):
                bits[i] += vb * d
                vbits[i] += vb * d
        mean_rows(Hr, gbar)
    dist0 = sqdist(x, x_star, sf) if has_star else 1.0
    if dist0 == 0.0:
        dist0 = 1.0
    down = 0.0
    g0 = -1.0
    st = MAX_ITER
    row = 0
    it = 0
    for it in range(max_iter + 1):
        Gy = G2r[cur]
        gn = mean_grad_sq(Gy, sf)
        fval = fsum / n
        dist = sqdist(x, x_star, sf) if has_star else math.nan
        if g0 < 0.0:
            g0 = gn if gn > 0.0 else 1.0
        bmean, bmax, vmean = bits_stats(bits, vbits, nb)
        stop, st = stop_status(fval, gn, dist, has_star, dist0, g0, explode, metric, eps,
                               f_star, bmean, budget, it, max_iter)
        if interrupted(flag, si) and not stop:
            stop = True
            st = INTERRUPTED
        if (stop or it % stride == 0) and row < trace.shape[0]:
            se = 0.0
            if is_tpc:
                for i in range(n):
                    se += sqdist(Hr[i], Gy[i], sf)
                se /= n
            elif mech == T.EF:
                for i in range(n):
                    se += sqnorm(Hr[i], sf)
                se /= n
            if t == 0:
                write_row(trace, row, it, dist, dist0, fval, f_star, gn, bmean, bmax, vmean,
                          down, se)
            if r == 0 and row < xrec.shape[0]:
                for k in range(t, d, nt):
                    xrec[row, k] = x[k]
            row += 1
        if stop:
            break
        # ---- one step
        down += vb * d
        if mech == T.CGD:
            for k in range(t, d, nt):
                a = 0.0
                for i in range(n):
                    a += Gy[i, k]
                v[k] = a / n
            a, bb = run_program(c1o, c1p, c1q, 0, v, m, rng[0], regs, iwork, mark, sf, si, su,
                                hist)
            if t == 0:
                bits[0] += a
                vbits[0] += bb
            for k in range(t, d, nt):
                x[k] -= gamma * m[k]
        elif mech == T.DCGD or mech == T.EF:
            for k in range(t, d, nt):
                acc[k] = 0.0
            for i in range(n):
                if mech == T.EF:
                    for k in range(t, d, nt):
                        v[k] = Hr[i, k] + gamma * Gy[i, k]
                else:
                    for k in range(t, d, nt):
                        v[k] = Gy[i, k]
                a, bb = run_program(c1o, c1p, c1q, i, v, m, rng[i], regs, iwork, mark, sf, si,
                                    su, hist)
                if t == 0:
                    bits[i] += a
                    vbits[i] += bb
                for k in range(t, d, nt):
                    acc[k] += m[k]
                if mech == T.EF:
                    for k in range(t, d, nt):
                        Hr[i, k] = v[k] - m[k]
            s = gamma if mech == T.DCGD else ef_outer
            for k in range(t, d, nt):
                x[k] -= s * acc[k] / n
        else:
            for k in range(t, d, nt):
                x[k] -= gamma * gbar[k]
        # ---- gradients at x^{it+1}
        nxt = 1 - cur
        fsum = grads(kind, A, b, off, scale, lam, x, G2r[nxt], coef, sf)
        if is_tpc:
            coin = 0.0
            if mech == T.MARINA:
                coin = draw_uniform(rng[n], sf)
            for i in range(n):
                a, bb = mech_apply(mech, inner, Hr[i], G2r[cur, i], G2r[nxt, i], Hr[i],
                                   c1o, c1p, c1q, c2o, c2p, c2q, i, zeta, pp, coin, vb,
                                   rng[i], regs, iwork, mark, bvec, t1, t2, sf, si, su, hist)
                if t == 0:
                    bits[i] += a
                    vbits[i] += bb
            cuda.syncthreads()
            mean_rows(Hr, gbar)
        cur = nxt
    if t == 0:
        status[r] = st
        iters[r] = it
        nrows[r] = row
