"""Perf rows of the wire format, for ``python -m shiftbench.perf``.

``python -m shiftbench.perf --plugin shiftbench.wire.perf --d 1e6,1e7``
adds, per compressor (the perf's default specs: K = d/100), two rows
against ``np.copyto`` of the d-vector:

``<spec> [encode]``
    the compressor and its encoder in one call (:func:`shiftbench.wire.
    codecs.encode_program` into a zeroed buffer, as a worker sends);
``<spec> [decode]``
    the decoder alone (:func:`shiftbench.wire.codecs.decode_program`), as
    the master receives.

``info``: ``bytes`` (the message) and ``bits`` (the count).
"""
from __future__ import annotations

import numpy as np

from .. import perf as P


def _case(spec, d, what):
    from .. import _rng
    from ..compressors import as_compressor
    from . import codecs as K, plan, message_capacity
    from .bits import SLACK
    C = as_compressor(spec)
    C.node.check_d(d)
    C.d = d
    p = plan([C])
    x = np.random.default_rng(0).standard_normal(d)
    ws = C.workspace(d)
    tmp = np.zeros(d)
    ridx = np.zeros(d, dtype=np.int64)
    cap = message_capacity([C], d) + SLACK
    buf = np.zeros(cap, dtype=np.uint8)
    out = np.empty(d)
    r0 = _rng.new_state(1)
    rng = r0.copy()
    wide = np.int64(0)
    bf, bv, end, _ = K.encode_program(C.program, p, 0, x, out, rng, ws.regs, ws.iwork, ws.mark,
                                      buf, 0, wide, tmp, ridx)
    nb = (int(end) + 7) // 8
    msg = buf.copy()
    regs = np.zeros((max(C.nreg, 1), d))
    mark = np.zeros(d, dtype=np.uint8)
    y = np.empty(d)

    def encode():
        rng[:] = r0
        buf[:nb + SLACK] = 0
        K.encode_program(C.program, p, 0, x, out, rng, ws.regs, ws.iwork, ws.mark, buf, 0,
                         wide, tmp, ridx)

    def decode():
        rng[:] = r0
        K.decode_program(C.program, p, 0, msg, 0, 8 * nb, y, rng, True, regs, mark, wide, ridx)

    return P.Case(kernel=encode if what == "encode" else decode,
                  info={"bytes": nb, "bits": float(bf)})


def _entry(spec, what):
    return P.Entry(spec, lambda d: _case(spec, d, what), variant=what)


def _register():
    have = {(e.kernel, e.variant) for e in P.ENTRIES}
    for spec in P.default_compressor_specs():
        try:
            from .. import compressor
            compressor(spec)
        except ValueError:
            continue
        for what in ("encode", "decode"):
            if (spec, what) not in have:
                P.register(_entry(spec, what))


_register()
