"""Messages of the method loops: one compiled interface for every role.

The wire loops (``run_loop`` of :mod:`shiftbench.methods.engine` and
:mod:`shiftbench.methods.tpc`, and the MPI backend's steps) call no
compressor directly: they call :func:`msg_compress` (a compressor message), :func:`msg_full` (a vector sent in full, e.g.
Rand-DIANA's refresh), :func:`msg_flag` (a 1-bit flag, e.g. LAG's trigger)
and :func:`msg_more` on a :class:`WireIO`, whose ``mode`` says who runs the
code:

=========  ==================================================================
mode       what a message does
=========  ==================================================================
``None``   (``io`` is None, not a WireIO) the one-process loop without wire:
           the compressor's fp64 output, as counted; compiled with no wire
           code at all (:func:`msg_compress` etc. are overloads on io's type)
``OFF``    the same at run time (a WireIO whose messages are not encoded)
``SIM``    the one-process loop with ``wire``: encoded and decoded (scratch
           buffer), the loop continues with what a receiver decodes
``SEND``   an MPI worker: encoded into the round's frame (sub-messages,
           byte-aligned); with ``rnd`` the worker continues with what the
           master decodes, as ``SIM`` does
``RECV``   the MPI master: decoded from the worker's frame
=========  ==================================================================

A sender and its receiver run the same code (the method's step) on the same
sequence of messages, so the master learns every decision from the messages
themselves: a flag's value is read from the flag, a compressor's output is
decoded, and a vector sent in full is read in full.  Rand-DIANA's refresh
(whose coin the count assumes shared) is a separate sub-message whose
presence the master sees in the frame (:func:`msg_more`).

A flag opens a sub-message that the next message (if any) continues, so
LAG's flag and its vector travel in ceil((1 + 32 d)/8) bytes.
"""
from collections import namedtuple

import numpy as np
from numba import njit, types
from numba.extending import overload

from ..compressors.kernels.program import apply_program
from .bits import put_bits, get_bits
from .._clock import cycles
from . import codecs as K

OFF = 0
SIM = 1
SEND = 2
RECV = 3

MAXSUB = 8          # sub-messages of one worker in one round
MAXCTL = 8          # shared-generator states of one worker in one round

# cursor fields
CU_NSUB, CU_POS, CU_OPEN, CU_NCTL, CU_START, CU_TOTAL, CU_CODEC = range(7)

WireIO = namedtuple("WireIO", "mode wide rnd buf lens cur ctl tmp ridx rs")


def make_io(mode, d, capacity, wide=False, rnd=False):
    """A :class:`WireIO` with its own buffers (``capacity``: payload bytes)."""
    from .bits import SLACK
    return WireIO(np.int64(mode), np.int64(bool(wide)), np.int64(bool(rnd)),
                  np.zeros(int(capacity) + SLACK, dtype=np.uint8),
                  np.zeros(MAXSUB, dtype=np.int64), np.zeros(8, dtype=np.int64),
                  np.zeros(2 * MAXCTL, dtype=np.uint64), np.zeros(d),
                  np.zeros(d, dtype=np.int64), np.zeros(2, dtype=np.uint64))


@njit(cache=True)
def loop_io(d, wire, capacity):
    """The :class:`WireIO` of a one-process loop: ``OFF`` (no buffers) or
    ``SIM`` with a scratch buffer of ``capacity`` bytes."""
    if wire:
        return WireIO(np.int64(SIM), np.int64(0), np.int64(1),
                      np.zeros(capacity + 16, dtype=np.uint8), np.zeros(MAXSUB, dtype=np.int64),
                      np.zeros(8, dtype=np.int64), np.zeros(2 * MAXCTL, dtype=np.uint64),
                      np.zeros(d), np.zeros(d, dtype=np.int64), np.zeros(2, dtype=np.uint64))
    return WireIO(np.int64(OFF), np.int64(0), np.int64(0), np.zeros(1, dtype=np.uint8),
                  np.zeros(MAXSUB, dtype=np.int64), np.zeros(8, dtype=np.int64),
                  np.zeros(2, dtype=np.uint64), np.zeros(1), np.zeros(1, dtype=np.int64),
                  np.zeros(2, dtype=np.uint64))


@njit(cache=True)
def io_reset(io, total):
    """Start a round (SEND) or a worker's frame of ``total`` sub-messages (RECV)."""
    c = io.cur
    c[CU_NSUB] = 0
    c[CU_POS] = 0
    c[CU_OPEN] = -1
    c[CU_NCTL] = 0
    c[CU_START] = 0
    c[CU_TOTAL] = total
    c[CU_CODEC] = 0


@njit(cache=True, inline="always")
def _open(io):
    """Bit where the next message starts (continuing an open flag)."""
    c = io.cur
    if c[CU_OPEN] >= 0:
        return c[CU_OPEN]
    c[CU_START] = c[CU_POS]
    return 8 * c[CU_POS]


@njit(cache=True)
def _close_send(io, endbit):
    c = io.cur
    if c[CU_NSUB] >= MAXSUB:
        raise ValueError("wire: too many messages in one round")
    n = (endbit - 8 * c[CU_START] + 7) // 8
    io.lens[c[CU_NSUB]] = n
    c[CU_NSUB] += 1
    c[CU_POS] = c[CU_START] + n
    c[CU_OPEN] = -1


@njit(cache=True)
def _close_recv(io):
    c = io.cur
    c[CU_POS] = c[CU_START] + io.lens[c[CU_NSUB]]
    c[CU_NSUB] += 1
    c[CU_OPEN] = -1


@njit(cache=True)
def io_finish(io):
    """End a round: close a flag left open (SEND); returns payload bytes."""
    c = io.cur
    if io.mode == SEND and c[CU_OPEN] >= 0:
        _close_send(io, c[CU_OPEN])
    elif io.mode == RECV and c[CU_OPEN] >= 0:
        _close_recv(io)
    return c[CU_POS]


@njit(cache=True)
def _needs_rng(prog, plan, w):
    for j in range(prog.ptr[w], prog.ptr[w + 1]):
        if plan.rows[j, K.P_MSG] != 0 and plan.rows[j, K.P_SHARED] != 0:
            return True
    return False


def _plain(io):
    """Whether ``io`` is the type of a loop without wire (None): then the
    message functions below compile to the plain loop's code, with no wire
    branch at all (so the engine's speed without ``wire`` is untouched)."""
    return io is None or isinstance(io, (types.NoneType, types.Omitted))


def is_wire(io):
    """Compiled: True where ``io`` is a :class:`WireIO` (a constant)."""
    return io is not None


@overload(is_wire)
def _ol_is_wire(io):
    if _plain(io):
        return lambda io: False
    return lambda io: True


def msg_compress(io, prog, plan, w, x, out, rng, regs, iwork, mark):
    """Worker w's compressor message of x: ``out`` as the receiver has it.

    Returns the sender's bits ``(full, values)`` (0 on the RECV side).
    ``io`` None: the plain loop (:func:`apply_program`)."""
    raise NotImplementedError("compiled code only")


@overload(msg_compress)
def _ol_msg_compress(io, prog, plan, w, x, out, rng, regs, iwork, mark):
    if _plain(io):
        def plain(io, prog, plan, w, x, out, rng, regs, iwork, mark):
            return apply_program(prog, w, x, out, rng, regs, iwork, mark)
        return plain

    def wired(io, prog, plan, w, x, out, rng, regs, iwork, mark):
        return _msg_compress(io, prog, plan, w, x, out, rng, regs, iwork, mark)
    return wired


@njit(cache=True)
def _msg_compress(io, prog, plan, w, x, out, rng, regs, iwork, mark):
    if io.mode == SIM:
        return K.wire_apply(prog, plan, w, x, out, rng, regs, iwork, mark, io.buf, io.wide,
                            io.tmp, io.ridx, io.rs)
    c = io.cur
    if io.mode == SEND:
        use = _needs_rng(prog, plan, w)
        if use:
            k = c[CU_NCTL]
            if k >= MAXCTL:
                raise ValueError("wire: too many shared seeds in one round")
            io.ctl[2 * k] = rng[0]
            io.ctl[2 * k + 1] = rng[1]
            c[CU_NCTL] = k + 1
        io.rs[0] = rng[0]
        io.rs[1] = rng[1]
        start = _open(io)
        bf, bv, end, cyc = K.encode_program(prog, plan, w, x, out, rng, regs, iwork, mark,
                                            io.buf, start, io.wide, io.tmp, io.ridx)
        s0 = c[CU_START]
        _close_send(io, end)
        if io.rnd:
            c0 = cycles()
            K.decode_program(prog, plan, w, io.buf, start, 8 * (s0 + io.lens[c[CU_NSUB] - 1]),
                             out, io.rs, use, regs, mark, io.wide, io.ridx)
            cyc += cycles() - c0
        c[CU_CODEC] += cyc
        return bf, bv
    # RECV
    use = _needs_rng(prog, plan, w)
    if use:
        k = c[CU_NCTL]
        io.rs[0] = io.ctl[2 * k]
        io.rs[1] = io.ctl[2 * k + 1]
        c[CU_NCTL] = k + 1
    start = _open(io)
    if c[CU_NSUB] >= c[CU_TOTAL]:
        raise ValueError("wire: a frame has fewer messages than its method sends")
    end = 8 * (c[CU_START] + io.lens[c[CU_NSUB]])
    c0 = cycles()
    K.decode_program(prog, plan, w, io.buf, start, end, out, io.rs, use, regs, mark, io.wide,
                     io.ridx)
    c[CU_CODEC] += cycles() - c0
    _close_recv(io)
    return 0.0, 0.0


def msg_full(io, v, out, vb):
    """See :func:`_msg_full` (``io`` None: a copy)."""
    raise NotImplementedError("compiled code only")


@overload(msg_full)
def _ol_msg_full(io, v, out, vb):
    if _plain(io):
        def plain(io, v, out, vb):
            for i in range(v.size):
                out[i] = v[i]
            return float(vb * v.size)
        return plain

    def wired(io, v, out, vb):
        return _msg_full(io, v, out, vb)
    return wired


@njit(cache=True)
def _msg_full(io, v, out, vb):
    """A vector sent in full (d values of vb bits): ``out`` as received.

    ``out`` may be ``v`` itself.  Returns the bits ``vb * d``."""
    d = v.size
    vbb = 64 if io.wide else vb
    if io.mode == OFF:
        for i in range(d):
            out[i] = v[i]
    elif io.mode == SIM:
        K.round_full(v, out, vb)
    elif io.mode == SEND:
        start = _open(io)
        c0 = cycles()
        end = K.encode_full(v, io.buf, start, vbb)
        io.cur[CU_CODEC] += cycles() - c0
        _close_send(io, end)
        if io.rnd:
            K.round_full(v, out, vbb)
        else:
            for i in range(d):
                out[i] = v[i]
    else:
        start = _open(io)
        c0 = cycles()
        K.decode_full(io.buf, start, out, vbb)
        io.cur[CU_CODEC] += cycles() - c0
        _close_recv(io)
    return float(vb * d)


def msg_flag(io, f):
    """See :func:`_msg_flag` (``io`` None: ``f``)."""
    raise NotImplementedError("compiled code only")


@overload(msg_flag)
def _ol_msg_flag(io, f):
    if _plain(io):
        return lambda io, f: f
    return lambda io, f: _msg_flag(io, f)


@njit(cache=True)
def _msg_flag(io, f):
    """A 1-bit flag: the sender's ``f`` (SEND writes it), or what the frame
    says (RECV)."""
    c = io.cur
    if io.mode == SEND:
        if c[CU_OPEN] >= 0:
            _close_send(io, c[CU_OPEN])
        c[CU_START] = c[CU_POS]
        put_bits(io.buf, 8 * c[CU_POS], 1 if f else 0, 1)
        c[CU_OPEN] = 8 * c[CU_POS] + 1
        return f
    if io.mode == RECV:
        if c[CU_OPEN] >= 0:
            _close_recv(io)
        c[CU_START] = c[CU_POS]
        r = get_bits(io.buf, 8 * c[CU_POS], 1) != 0
        c[CU_OPEN] = 8 * c[CU_POS] + 1
        return r
    return f


def msg_more(io):
    """See :func:`_msg_more` (``io`` None: False)."""
    raise NotImplementedError("compiled code only")


@overload(msg_more)
def _ol_msg_more(io):
    if _plain(io):
        return lambda io: False
    return lambda io: _msg_more(io)


def is_recv(io):
    """Compiled: whether ``io`` is the MPI master's (decodes frames)."""
    raise NotImplementedError("compiled code only")


@overload(is_recv)
def _ol_is_recv(io):
    if _plain(io):
        return lambda io: False
    return lambda io: io.mode == RECV


@njit(cache=True)
def _msg_more(io):
    """RECV: whether the worker's frame has another message (Rand-DIANA's refresh)."""
    c = io.cur
    return c[CU_NSUB] < c[CU_TOTAL]


@njit(cache=True)
def round_vec(v, out, vb):
    """The downlink broadcast of x rounded to vb-bit values (``wire``)."""
    K.round_full(v, out, vb)
