"""Compiled compressor kernels (numba nopython), by part:

* :mod:`.intrinsics` -- LLVM intrinsics, float bit patterns, bit costs;
* :mod:`.reductions` -- norms and counts in a fixed vectorisable order;
* :mod:`.selection` -- Top-K (exact radix select);
* :mod:`.sampling` -- Rand-K (Floyd) and adaptive sparsification;
* :mod:`.quantisers` -- natural compression, dithering, TernGrad, sign;
* :mod:`.program` -- the compressor program interpreter the methods call.

Every kernel writes into a preallocated ``out``, takes explicit RNG state
(``uint64[2]``, see :mod:`shiftbench._rng`) and nothing is allocated on the
hot path.  The uniform per-compressor entry points (with their bit counts)
are in :mod:`shiftbench.compressors.builtins`.
"""
from .intrinsics import (IWORK_EXTRA, ceil_log2, support_bits, sparse_or_dense,  # noqa: F401
                         resolve_k, borrow, prefetch_r, prefetch_w, PREFETCH_STREAM)
from .reductions import (LANES, lane_tree, lanes, sum_sq, sum_abs, max_abs,  # noqa: F401
                         sum_sq_nnz, sum_abs_nnz, max_abs_nnz, pnorm, pnorm_nnz)
from .selection import topk, topk_sparse, topk_threshold  # noqa: F401
from .sampling import floyd_sample, randk, randk_sparse, adaptive  # noqa: F401
from .quantisers import natural, dither, terngrad, scaled_sign  # noqa: F401
from .program import (Programs, programs_type, apply_program, run_program,  # noqa: F401
                      make_programs, KERNEL_SIG, USER_SIG, NPRIM, OP_PRIM, OP_UPRIM,
                      OP_SUB, OP_ADD, OP_SCALE, OP_COPY, OP_WIDTH)
