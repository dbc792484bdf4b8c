"""The :class:`WirePlan` type (kept free of numba so that
:mod:`shiftbench.methods.loopdata` can hold an empty one as a default)."""
from collections import namedtuple

import numpy as np

PLAN_W = 8


class WirePlan(namedtuple("WirePlan", "rows uaddr")):
    """How to encode the messages of packed compressor programs.

    ``rows`` (int64, one row per op of the :class:`~shiftbench.compressors.
    kernels.program.Programs`): codec kind, whether the op sends a message,
    the users' codec slot, how a receiver replays its draws, rand-k's
    ``shared``.  ``uaddr``: native entry points of the users' encoders and
    decoders (slot s: ``2s``, ``2s + 1``).  Compiled code takes it as a
    named tuple of two arrays.
    """


def empty_plan(nrows=1):
    """The plan of an unused role or of a run without ``wire`` (no messages)."""
    p = WirePlan(np.zeros((max(1, nrows), PLAN_W), dtype=np.int64), np.zeros(2, dtype=np.int64))
    p.__dict__["keep"] = []
    p.__dict__["comps"] = []
    p.__dict__["needs_seed"] = []
    return p


EMPTY = empty_plan()
