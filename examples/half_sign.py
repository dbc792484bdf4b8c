# my_compressors.py: a compressor of your own, usable everywhere a built-in is
from numba import njit
import shiftbench as sb


@njit
def half_sign(x, out, params, rng):   # params: float64 array in declared order; rng: the worker's RNG state
    """c (||x||_1 / d) sign(x): the scaled sign, shrunk by c."""
    d = x.size                        # random draws, if any: sb.rng.uniform(rng), sb.rng.next_u64(rng)
    m = 0.0
    for i in range(d):
        m += abs(x[i])
    m *= params[0] / d
    for i in range(d):
        out[i] = m if x[i] >= 0.0 else -m
    return 32.0 + d, float(d)         # bits sent: one 32-bit value + 1 sign bit per entry; values only


# E||C(x) - x||^2 = ||x||^2 - c(2 - c)||x||_1^2 / d <= (1 - c(2 - c)/d)||x||^2
sb.register_compressor("half-sign", half_sign, params={"c": 1.0}, kind="biased",
                       delta=lambda p, d: p["c"] * (2.0 - p["c"]) / d,
                       bits="1 bit per entry + 1 norm")
