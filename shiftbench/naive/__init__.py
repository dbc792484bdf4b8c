"""Plain, slow, obviously-correct reference implementations used by the tests.

``shiftbench.naive.compressors`` mirrors every compressor kernel (same
random stream, same draw order), so compiled kernels can be checked exactly.
"""
from .compressors import (Rng, naive_compress, naive_apply, ceil_log2,  # noqa: F401
                          support_bits, nat_round, topk_reference, seq_sum, pnorm,
                          adaptive_scale, adaptive_probabilities)
