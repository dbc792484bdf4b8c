"""Compiled steps of the MPI backend (:mod:`shiftbench.backends.mpi`).

Each function is one side of one round of a method loop, built from the
very step functions the one-process wire loop runs
(:func:`shiftbench.methods.engine.run_loop`, :func:`shiftbench.methods.tpc.
run_loop`): a worker (``io`` in mode ``SEND``) computes its local gradient
and encodes its messages into its frame; the master (mode ``RECV``) decodes
each worker's frame and takes the step.
"""
import math

import numpy as np
from numba import njit

from ..methods import engine as E
from ..methods import tpc as T
from ..problems.base import local_grad
from ..wire import codecs as K
from ..wire.io import io_reset, io_finish, CU_CODEC, CU_NSUB, CU_NCTL, CU_POS, msg_full


# ---------------------------------------------------------------------------
# both loops

@njit(cache=True)
def worker_grad(kind, A, b, off, scale, lam, xg, g):
    """f_w(x) and grad f_w(x) of the worker's own shard (rows off[0]:off[1])."""
    return local_grad(kind, A, b, off, scale, lam, 0, xg, g)


@njit(cache=True)
def decode_x(buf, pos, xg, vb):
    """The broadcast iterate (vb-bit values)."""
    K.decode_full(buf, pos, xg, vb)


@njit(cache=True)
def encode_x(x, buf, pos, vb):
    """Encode the iterate for the broadcast; returns the end bit."""
    for i in range(buf.size):
        buf[i] = 0
    return K.encode_full(x, buf, pos, vb)


@njit(cache=True)
def metrics(F, Gm, x, x_star, has_star):
    """The simulator's (fval, ||grad f||^2, ||x - x*||^2) from the workers'
    f_i (``F``) and grad f_i (rows of ``Gm``), summed in worker order, as
    every method loop sums them (:func:`shiftbench.methods.engine.grad_sq`)."""
    n, d = Gm.shape
    fsum = 0.0
    for i in range(n):
        fsum += F[i]
    gfull = np.empty(d)
    gn = E.grad_sq(Gm, gfull)
    dist = E._sqdist(x, x_star) if has_star else math.nan
    return fsum / n, gn, dist


@njit(cache=True)
def io_codec_cycles(io):
    return io.cur[CU_CODEC]


@njit(cache=True)
def io_counts(io):
    """(sub-messages, shared-seed states, payload bytes) of the round."""
    c = io.cur
    return c[CU_NSUB], c[CU_NCTL], c[CU_POS]


@njit(cache=True)
def io_clear(io, nbytes):
    """Zero the first ``nbytes`` (+ slack) of the frame buffer (writers OR into it)."""
    m = min(io.buf.size, nbytes + 16)
    for i in range(m):
        io.buf[i] = 0


# ---------------------------------------------------------------------------
# Algorithm 1 (engine)

@njit(cache=True)
def shift_worker_init(mode, init_full, g0, h, vb, io):
    io_reset(io, 0)
    io.cur[CU_CODEC] = 0
    a = E.shift_init(mode, init_full, g0, h, vb, io)
    io_finish(io)
    return a


@njit(cache=True)
def shift_master_init(mode, init_full, h, vb, io, nsub):
    io_reset(io, nsub)
    io.cur[CU_CODEC] = 0
    E.shift_init(mode, init_full, h, h, vb, io)


@njit(cache=True)
def shift_worker_round(mode, has_c, gamma, alpha, g, h, gstar_w, xg, v, m, c, t, q, cprog,
                       wq, wc, w, p_w, vb, rng, regs, iwork, mark, io, acc):
    """Worker w's messages at x (its gradient ``g`` already computed) and its
    own shift update; returns (bits_full, bits_values)."""
    io_reset(io, 0)
    io.cur[CU_CODEC] = 0
    bf, bv, ref = E.shift_msgs(mode, has_c, gamma, g, h, gstar_w, xg, v, m, c, t, q, cprog,
                               wq, wc, w, p_w, vb, rng, regs, iwork, mark, io)
    io_finish(io)
    E.shift_update(mode, has_c, alpha, h, m, c, t, gstar_w, ref, acc)
    return bf, bv


@njit(cache=True)
def shift_master_worker(mode, has_c, gamma, alpha, g, h, gstar_w, xg, v, m, c, t, q, cprog,
                        wq, wc, w, p_w, vb, rng, regs, iwork, mark, io, acc, nsub):
    """Decode worker w's frame (in ``io``) and add its share (``acc``, h_w)."""
    io_reset(io, nsub)
    io.cur[CU_CODEC] = 0
    bf, bv, ref = E.shift_msgs(mode, has_c, gamma, g, h, gstar_w, xg, v, m, c, t, q, cprog,
                               wq, wc, w, p_w, vb, rng, regs, iwork, mark, io)
    E.shift_update(mode, has_c, alpha, h, m, c, t, gstar_w, ref, acc)


@njit(cache=True)
def shift_master_step(mode, gamma, eta, x, acc, hbar, H):
    E.shift_step(mode, gamma, eta, x, acc, hbar, H)


@njit(cache=True)
def shift_error(mode, has_star, lyap_w, H, gstar):
    n = H.shape[0]
    se = 0.0
    for i in range(n):
        se += E.shift_err_term(mode, has_star, lyap_w[i], H[i], gstar[i])
    return se / n


# ---------------------------------------------------------------------------
# CGD / EF / 3PC / MARINA (tpc)

@njit(cache=True)
def tpc_init(g0, h, vb, io, nsub):
    """g_w^0 = grad f_w(x^0) sent in full (worker: SEND; master: RECV)."""
    io_reset(io, nsub)
    io.cur[CU_CODEC] = 0
    a = msg_full(io, g0, h, vb)
    io_finish(io)
    return a


@njit(cache=True)
def tpc_mech(mech, inner, h, y, x, c1, c2, w, zeta, p, coin, vb, rng, regs, iwork, mark,
             bvec, t1, t2, io, p1, p2, nsub):
    """A 3PC message h_w <- C_{h,y}(x) (worker: SEND; master: RECV)."""
    io_reset(io, nsub)
    io.cur[CU_CODEC] = 0
    a, b = T.mech_apply_io(mech, inner, h, y, x, h, c1, c2, w, zeta, p, coin, vb, rng,
                           regs, iwork, mark, bvec, t1, t2, io, p1, p2)
    io_finish(io)
    return a, b


@njit(cache=True)
def tpc_plain(mech, gamma, g, h, v, m, c1, p1, w, rng, regs, iwork, mark, io, nsub, acc):
    """DCGD / EF: m_w = C(v_w) (worker: SEND; master: RECV, ``acc += m``)."""
    io_reset(io, nsub)
    io.cur[CU_CODEC] = 0
    a, b = T.tpc_msg(mech, gamma, g, h, v, m, c1, p1, w, rng, regs, iwork, mark, io)
    io_finish(io)
    for k in range(m.size):
        acc[k] += m[k]
    return a, b


@njit(cache=True)
def tpc_error(mech, H, Gy):
    n = H.shape[0]
    se = 0.0
    for i in range(n):
        se += T.tpc_err_term(mech, H[i], Gy[i])
    return se / n


