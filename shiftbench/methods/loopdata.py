"""The structured arguments of the compiled method loops.

Every compiled loop takes a few named tuples instead of dozens of
positional arguments (numba caches functions over named tuples like any
other argument type):

* :class:`ProblemData` -- the problem's arrays and constants (kind, blocks,
  x^0, x*, grad f_i(x*), f*);
* :class:`StopRule` -- iterations, stride, target, metric, bits budget,
  divergence factor;
* a loop configuration (:class:`ShiftConfig` for Algorithm 1,
  :class:`TPCConfig` for CGD / EF / 3PC / MARINA);
* the compressor programs (one per role), then the seed, the trace and the
  interrupt flag.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..wire.plan import EMPTY as _EMPTY

ProblemData = namedtuple("ProblemData", "kind A b off scale lam x0 x_star gstar f_star has_star")
StopRule = namedtuple("StopRule", "max_iter stride eps metric budget explode")
# ``wire`` (1: run on the decoded wire messages, shiftbench.wire) and the wire
# plans of the two compressor roles (WirePlan arrays, flat: prange loops take
# arrays and scalars only) come last, with defaults (wire off)
_WDEF = (0, _EMPTY.rows, _EMPTY.uaddr, _EMPTY.rows, _EMPTY.uaddr)
ShiftConfig = namedtuple("ShiftConfig", "mode h0 has_c gamma alpha eta p lyap_w value_bits "
                         "init_full wire wq_rows wq_addr wc_rows wc_addr", defaults=_WDEF)
TPCConfig = namedtuple("TPCConfig", "mech inner gamma zeta p ef_outer value_bits "
                       "wire w1_rows w1_addr w2_rows w2_addr", defaults=_WDEF)

# stop metrics
STOP_REL_ERR = 0
STOP_GRAD = 1
STOP_FGAP = 2
STOP_METRICS = {"rel_error": STOP_REL_ERR, "grad_norm_sq": STOP_GRAD, "f_gap": STOP_FGAP}

# statuses
CONVERGED = 0
MAX_ITER = 1
BUDGET = 2
DIVERGED = 3
INTERRUPTED = 4
STATUS_NAMES = {CONVERGED: "converged", MAX_ITER: "max_iter", BUDGET: "bits_budget",
                DIVERGED: "diverged", INTERRUPTED: "interrupted"}

# trace columns (both loops)
COLUMNS = ("iteration", "dist_sq", "rel_error", "f_gap", "grad_norm_sq",
           "bits_per_worker", "bits_max_worker", "values_bits_per_worker",
           "downlink_bits_per_worker", "shift_error", "cycles", "f")
NCOL = len(COLUMNS)


def problem_data(P, x0, sparse=True):
    """The :class:`ProblemData` of problem ``P`` started at ``x0``.

    With ``sparse`` (the CPU and MPI loops), a data matrix whose rows are
    sparse enough (:func:`~shiftbench.problems.base.use_sparse_rows`) is
    passed in ELL form with kind ``kind + SPARSE``; it is built once per
    problem and kept on it.  The GPU loops take the dense rows."""
    from ..problems.base import SPARSE, ell_rows, use_sparse_rows
    kind, A, b, off, sc, lam = P.args()
    if sparse:
        E = P.__dict__.get("_ell", False)
        if E is False:
            E = ell_rows(A) if use_sparse_rows(A) else None
            P.__dict__["_ell"] = E
        if E is not None:
            kind, A = int(kind) + SPARSE, E
    has_star = P.x_star is not None
    gs = P.grad_star if P.grad_star is not None else np.zeros((P.n, P.d))
    return ProblemData(int(kind), A, b, off, sc, float(lam),
                       np.ascontiguousarray(x0, dtype=np.float64),
                       np.ascontiguousarray(P.x_star if has_star else np.zeros(P.d), np.float64),
                       np.ascontiguousarray(gs, np.float64),
                       float(P.f_star) if P.f_star is not None else 0.0, bool(has_star))
