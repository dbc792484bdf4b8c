"""Validation of device arrays on the device (no copy to the host)."""
import numpy as np

from ._target import cuda, SIMULATOR


@cuda.jit
def _nonfinite_kernel(x, bad):
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    while i < x.size:
        v = x[i]
        if not (v - v == 0.0):          # NaN or inf
            bad[0] = 1
        i += stride


def all_finite(x):
    """True when no entry of the device array x is NaN or inf."""
    bad = cuda.to_device(np.zeros(1, dtype=np.int32))
    if SIMULATOR:
        _nonfinite_kernel[1, 8](x, bad)
    else:
        _nonfinite_kernel[min(1024, max(1, (int(x.shape[0]) + 255) // 256)), 256](x, bad)
    return int(bad.copy_to_host()[0]) == 0
