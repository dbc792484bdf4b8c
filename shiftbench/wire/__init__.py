"""Bits on the wire: a real message encoding for every compressor.

>>> import numpy as np, shiftbench as sb
>>> C = sb.compressor("rand-k(q=0.1)")
>>> x = np.random.default_rng(0).standard_normal(1000)
>>> msg = C.encode(x, seed=3)                  # bytes
>>> y, bits = C.compress(x, seed=3)
>>> len(msg) == -(-int(bits) // 8)             # exactly the counted size, in whole bytes
True
>>> np.array_equal(C.decode(msg, 1000), np.float32(y))   # fp32 values, as the count assumes
True

* :func:`encode` / :func:`decode` (also ``Compressor.encode`` / ``.decode``):
  the message of ``C(x)`` is exactly ``ceil(bits / 8)`` bytes, ``bits`` the
  full count of :meth:`~shiftbench.compressors.Compressor.compress`; decoding
  needs only the spec, d and, for ``rand-k(shared=1)``, the shared seed.
* ``decode(encode(x))`` equals :func:`compress` (``C(x)`` with every
  transmitted number rounded to the count's format: fp32 values for
  ``bits=32``; exactly ``C.compress(x)`` for ``bits=64``).
* :func:`register_codec`: an encoder/decoder pair for a users' compressor.
* The layouts are in :mod:`shiftbench.wire.codecs`; the bit I/O helpers
  (:func:`put_bits`, :func:`get_bits`, :func:`put_f32`, ...) are callable
  from users' encoders.
"""
from __future__ import annotations

import math
import numpy as np

from . import codecs as K
from .bits import (put_bits, get_bits, put_f32, get_f32, put_f64, get_f64, put_u64,  # noqa: F401
                   get_u64, put_value, get_value, round_f32, SLACK, buffer)

__all__ = ["encode", "decode", "compress", "register_codec", "unregister_codec", "plan",
           "WirePlan", "message_capacity", "put_bits", "get_bits", "put_f32", "get_f32",
           "put_f64", "get_f64", "ENC_SIG", "DEC_SIG"]

ENC_SIG = K.ENC_SIG
DEC_SIG = K.DEC_SIG


from .plan import WirePlan, empty_plan  # noqa: E402,F401


#: users' codecs: compressor name -> (encoder, decoder)
CODECS: dict = {}


def _kernel_kinds():
    from ..compressors import builtins as B
    return {B.zero_kernel: K.K_ZERO, B.identity_kernel: K.K_IDENTITY,
            B.topk_kernel: K.K_TOPK, B.randk_kernel: K.K_RANDK,
            B.bernoulli_kernel: K.K_BERNOULLI, B.adaptive_kernel: K.K_ADAPTIVE,
            B.natural_kernel: K.K_NATURAL, B.dither_kernel: K.K_DITHER,
            B.terngrad_kernel: K.K_TERNGRAD, B.sign_kernel: K.K_SIGN}


_REPLAY = {K.K_ZERO: K.R_NONE, K.K_IDENTITY: K.R_NONE, K.K_TOPK: K.R_NONE,
           K.K_SIGN: K.R_NONE, K.K_RANDK: K.R_FLOYD, K.K_BERNOULLI: K.R_ONE,
           K.K_NATURAL: K.R_ONE, K.K_DITHER: K.R_ONE, K.K_TERNGRAD: K.R_ONE,
           K.K_ADAPTIVE: K.R_BAD, K.K_USER: K.R_BAD}
FIXED = (K.K_ZERO, K.K_TOPK, K.K_RANDK)


def register_codec(name, encoder, decoder):
    """Give a users' compressor (``shiftbench.register_compressor``) a wire
    encoding.

    Parameters
    ----------
    name : str
        The registered compressor's name.
    encoder : numba ``@njit`` function
        ``encoder(y, params, buf, pos) -> end``: write the message of the
        kernel's output ``y`` (float64, length d) at bit ``pos`` of the
        zeroed uint8 buffer ``buf`` with :func:`put_bits`, :func:`put_f32`,
        ...; return the bit after the last one written.  It must write
        exactly the kernel's full bit count.
    decoder : numba ``@njit`` function
        ``decoder(buf, pos, params, y) -> end``: rebuild ``y`` from the
        message at bit ``pos`` (``buf.size`` bytes: the message ends there).

    The message of a users' compressor must be the only one of
    data-dependent length in a program (e.g. not inside ``induced`` with
    natural compression).
    """
    from numba.core.registry import CPUDispatcher
    from ..compressors.registry import REGISTRY
    where = f"register_codec({name!r})"
    key = str(name).strip().lower()
    e = REGISTRY.get(key)
    if e is None or not e.user:
        raise ValueError(f"{where}: no users' compressor named {name!r} "
                         f"(register it with shiftbench.register_compressor first)")
    for what, f, sig, form in (("encoder", encoder, K.ENC_SIG, "encoder(y, params, buf, pos)"),
                               ("decoder", decoder, K.DEC_SIG, "decoder(buf, pos, params, y)")):
        if not isinstance(f, CPUDispatcher):
            raise ValueError(f"{where}: the {what} must be a numba @njit function {form} -> "
                             f"int, got {type(f).__name__}")
        try:
            f.compile(sig)
        except Exception as ex:  # noqa: BLE001 - numba's typing errors are many lines
            first = str(ex).strip().splitlines()[0] if str(ex).strip() else type(ex).__name__
            raise ValueError(f"{where}: the {what} does not compile as {form} -> int with "
                             f"float64 arrays y, params, a uint8 array buf and an int pos: "
                             f"{first}") from None
    CODECS[key] = (encoder, decoder)
    _PLANS.clear()


def unregister_codec(name):
    CODECS.pop(str(name).strip().lower(), None)
    _PLANS.clear()


def _emit_order(node):
    """Primitive nodes in the order :meth:`Node.emit` emits their ops."""
    if not node.kids:
        return [node]
    kids = node.kids
    if node.name == "compose":
        kids = [kids[1], kids[0]]          # the inner compressor runs first
    return [p for k in kids for p in _emit_order(k)]


def _rows(C, users):
    """Plan rows of one Compressor (aligned with ``C.ops``)."""
    from ..compressors.kernels.program import OP_PRIM, OP_UPRIM, C_SILENT
    kinds = _kernel_kinds()
    prims = iter(_emit_order(C.node))
    rows = np.zeros((C.ops.shape[0], K.PLAN_W), dtype=np.int64)
    var = []
    bad_before = None
    for j, op in enumerate(C.ops):
        if op[0] not in (OP_PRIM, OP_UPRIM):
            continue
        node = next(prims)
        e = node.definition
        msg = int(op[C_SILENT] == 0)
        if e.user:
            kind = K.K_USER
            if msg and e.name not in CODECS:
                raise ValueError(f"{C.spec}: the users' compressor {e.name!r} has no wire "
                                 f"encoding; give it one with shiftbench.wire.register_codec"
                                 f"({e.name!r}, encoder, decoder)")
            if e.name in CODECS:
                if e.name not in users:
                    users.append(e.name)
                rows[j, K.P_USER] = users.index(e.name)
        else:
            kind = kinds.get(e.kernel)
            if kind is None:
                raise ValueError(f"{C.spec}: compressor {e.name!r} has no wire encoding")
        shared = int(kind == K.K_RANDK and node.values().get("shared", 0.0) != 0.0)
        rows[j, K.P_KIND] = kind
        rows[j, K.P_MSG] = msg
        rows[j, K.P_REPLAY] = _REPLAY[kind]
        rows[j, K.P_SHARED] = shared
        if msg and kind not in FIXED:
            var.append(e.name)
        if shared and bad_before is not None:
            raise ValueError(f"{C.spec}: rand-k(shared=1) after {bad_before} cannot be "
                             f"decoded: the receiver cannot replay {bad_before}'s "
                             f"data-dependent draws")
        if _REPLAY[kind] == K.R_BAD and bad_before is None:
            bad_before = e.name
    if len(var) > 1:
        raise ValueError(f"{C.spec}: {len(var)} messages of data-dependent length "
                         f"({', '.join(var)}) in one compressor; its bit count has no room "
                         f"to say where one ends, so it cannot travel as one message")
    return rows


_PLANS: dict = {}


def plan(comps, d=None):
    """The :class:`WirePlan` of per-worker compressors (the order of
    :func:`~shiftbench.compressors.pack_programs`), or of an unused role
    (``comps`` None: n = the number of workers given as ``d``... see
    :func:`empty_plan`).  ValueError where a compressor has no encoding."""
    from ..compressors import as_compressor
    from ..compressors.kernels.program import kernel_address
    comps = [as_compressor(c) for c in comps]
    key = tuple(c.spec for c in comps)
    p = _PLANS.get(key)
    if p is not None:
        return p
    users = []
    rows = np.ascontiguousarray(np.vstack([_rows(c, users) for c in comps]))
    keep = []
    uaddr = np.zeros(max(2, 2 * len(users)), dtype=np.int64)
    for s, name in enumerate(users):
        enc, dec = CODECS[name]
        uaddr[2 * s] = kernel_address(enc, K.ENC_SIG)
        uaddr[2 * s + 1] = kernel_address(dec, K.DEC_SIG)
        keep += [enc, dec]
    p = WirePlan(rows, uaddr)
    p.__dict__["keep"] = keep
    p.__dict__["comps"] = comps
    p.__dict__["needs_seed"] = [bool(np.any((r[:, K.P_SHARED] != 0) & (r[:, K.P_MSG] != 0)))
                                for r in (_rows(c, []) for c in comps)]
    _PLANS[key] = p
    return p


def message_capacity(comps, d, wide=False):
    """Bytes that hold the message of any compressor of ``comps`` at d
    (the working buffer size, slack excluded)."""
    from ..compressors import as_compressor
    cl = max(1, math.ceil(math.log2(max(d, 2))))
    best = 0
    for c in comps:
        c = as_compressor(c)
        bits = 0
        for node in _emit_order(c.node):
            vb = 64 if wide else int(node.values().get("bits", 32))
            if node.definition.user:
                bits += 66 * d + 128
            else:
                bits += 64 + 8 + d * (cl + vb + 2)
        best = max(best, bits)
    return best // 8 + 16


def _ws(C, d):
    st = C.__dict__.setdefault("_wire_ws", {})
    w = st.get(d)
    if w is None:
        w = st[d] = (np.zeros(d), np.zeros(d, dtype=np.int64))
    return w


def _run(C, x, seed, rng, wide):
    from .. import _rng
    from ..compressors.core import check_vector, _rng_array
    x = check_vector(x)
    d = x.size
    C.node.check_d(d)
    C.d = d
    p = plan([C])
    rng = _rng.new_state(seed) if rng is None else _rng_array(rng)
    ws = C.workspace(d)
    tmp, ridx = _ws(C, d)
    buf = np.zeros(message_capacity([C], d, wide) + SLACK, dtype=np.uint8)
    out = np.empty(d)
    bf, bv, end, _ = K.encode_program(C.program, p, 0, x, out, rng, ws.regs, ws.iwork,
                                      ws.mark, buf, 0, np.int64(bool(wide)), tmp, ridx)
    return out, bf, bv, int(end), buf


def encode(C, x, seed=0, rng=None, wide=False):
    """The message of ``C(x)`` (``C`` a Compressor or spec), as bytes.

    ``seed`` / ``rng`` as in :meth:`~shiftbench.compressors.Compressor.compress`
    (the same draws: ``C.compress(x, seed)`` is the vector this message
    carries, up to the rounding of its values).  ``wide``: every value in 64
    bits (the message of the ``bits=64`` count).
    """
    from ..compressors import as_compressor
    C = as_compressor(C)
    out, bf, bv, end, buf = _run(C, x, seed, rng, wide)
    n = (end + 7) // 8
    if not wide and n != -(-int(bf) // 8):
        raise AssertionError(f"wire: {C.spec} wrote {end} bits for a count of {int(bf)}")
    return bytes(buf[:n])


def compress(C, x, seed=0, rng=None, wide=False):
    """``(y, bits)``: what the receiver of ``encode(C, x, seed)`` decodes.

    ``C.compress(x, seed)`` with every transmitted number rounded to the
    count's format (fp32 values for ``bits=32``); what ``--wire`` runs on.
    """
    from ..compressors import as_compressor
    from ..compressors.core import Bits
    C = as_compressor(C)
    from .. import _rng
    st = _rng.new_state(seed) if rng is None else np.array(rng, dtype=np.uint64)
    out, bf, bv, end, buf = _run(C, x, seed, rng, wide)
    n = (end + 7) // 8
    d = out.size
    regs = np.zeros((max(C.nreg, 1), d))
    tmp, ridx = _ws(C, d)
    K.decode_program(C.program, plan([C]), 0, buf, 0, 8 * n, out, st, True, regs,
                     np.zeros(d, dtype=np.uint8), np.int64(bool(wide)), ridx)
    return out, Bits(bf, bv)


def decode(C, buf, d, seed=None, wide=False):
    """The vector a message of ``C`` carries at dimension ``d``.

    ``seed``: the shared seed, needed (only) by ``rand-k(shared=1)``.
    ValueError for a message of the wrong size.
    """
    from .. import _rng
    from ..compressors import as_compressor
    C = as_compressor(C)
    d = int(d)
    if d < 1:
        raise ValueError(f"decode: d must be a positive integer, got {d}")
    C.node.check_d(d)
    p = plan([C])
    raw = np.frombuffer(bytes(buf), dtype=np.uint8)
    need = p.needs_seed[0]
    if need and seed is None:
        raise ValueError(f"decode: {C.spec} draws its indices from the shared seed; "
                         f"pass seed= (the seed given to encode/compress)")
    fixed, var = K.message_layout(C.program, p.rows, 0, d, wide)
    n = raw.size
    if var < 0 and n != (fixed + 7) // 8:
        raise ValueError(f"decode: a message of {C.spec} at d = {d} has exactly "
                         f"{(fixed + 7) // 8} bytes, got {n}")
    if var >= 0 and n < (fixed + 7) // 8:
        raise ValueError(f"decode: a message of {C.spec} at d = {d} has at least "
                         f"{(fixed + 7) // 8} bytes, got {n}")
    wb = np.zeros(n + SLACK, dtype=np.uint8)
    wb[:n] = raw
    out = np.empty(d)
    rng = _rng.new_state(seed if seed is not None else 0)
    regs = np.zeros((max(C.nreg, 1), d))
    tmp, ridx = _ws(C, d)
    mark = np.zeros(d, dtype=np.uint8)
    last = K.decode_program(C.program, p, 0, wb, 0, 8 * n, out, rng, need, regs, mark,
                            np.int64(bool(wide)), ridx)
    if last > 8 * n:
        raise ValueError(f"decode: the message of {n} bytes is too short for {C.spec} "
                         f"at d = {d}")
    return out
