"""The tests' reference implementations (re-exported from :mod:`shiftbench.naive`)."""
from shiftbench.naive import *  # noqa: F401,F403
from shiftbench.naive import compressors  # noqa: F401
from shiftbench.naive.compressors import (Rng, naive_compress, naive_apply,  # noqa: F401
                                          ceil_log2, support_bits, nat_round,
                                          topk_reference, seq_sum, pnorm,
                                          adaptive_scale, adaptive_probabilities)
