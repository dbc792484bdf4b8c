"""The ``wire`` run option: the method loops on encoded messages.

:func:`wire_build` gives a method's :class:`~shiftbench.methods.model.Build`
the wire plans of its compressors (``cfg.wire = 1``); the backends then run
:func:`shiftbench.methods.engine.run_loop` / :func:`shiftbench.methods.tpc.
run_loop` with a :class:`~shiftbench.wire.io.WireIO` (:func:`sim_io`).
"""
from __future__ import annotations

import dataclasses

from .plan import empty_plan


def plans(build):
    """The :class:`~shiftbench.wire.plan.WirePlan` of each compressor role of
    ``build`` (one-line ValueError where a compressor has no encoding)."""
    from . import plan
    out = []
    for comps, prog in zip(build.comps, build.programs):
        if comps is None:
            out.append(empty_plan(prog.ops.shape[0]))
        else:
            out.append(plan(list(comps)))
    return out


def wire_build(build, loop):
    """``build`` with ``cfg.wire = 1`` and the plans of its compressors."""
    if not build.comps:
        raise ValueError("wire: this method's build does not name its compressors")
    a, b = plans(build)
    cfg = build.config
    if loop == "shift":
        cfg = cfg._replace(wire=1, wq_rows=a.rows, wq_addr=a.uaddr, wc_rows=b.rows,
                           wc_addr=b.uaddr)
    else:
        cfg = cfg._replace(wire=1, w1_rows=a.rows, w1_addr=a.uaddr, w2_rows=b.rows,
                           w2_addr=b.uaddr)
    out = dataclasses.replace(build, config=cfg)
    out.__dict__["wire_plans"] = (a, b)        # keeps users' codecs alive with the build
    return out


def sim_io(d):
    """The :class:`~shiftbench.wire.io.WireIO` of a one-process loop with wire."""
    from ..methods.engine import wire_capacity
    from .io import loop_io
    return loop_io(int(d), True, int(wire_capacity(int(d))))


def is_wire(build):
    return int(getattr(build.config, "wire", 0)) != 0

