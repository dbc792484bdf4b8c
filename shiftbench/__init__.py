"""shiftbench: compiled benchmarks for communication-compressed optimisation.

>>> import shiftbench as sb
>>> C = sb.compressor("rand-k(q=0.1)")
>>> y, bits = C.compress(x, seed=0)            # doctest: +SKIP
"""
from . import _cache

_cache.configure()      # before numba is imported: a cache keyed on the package's source

from ._version import __version__  # noqa: E402,F401

from .compressors import (compressor, Compressor, Bits, list_compressors,  # noqa: E402
                          register_compressor)
from . import _rng as rng  # noqa: E402  (njit-callable: rng.uniform(state), rng.next_u64(state))

__all__ = ["compressor", "Compressor", "Bits", "list_compressors", "register_compressor",
           "rng", "__version__"]


def run(*args, **kwargs):
    """Run a method; see :func:`shiftbench.harness.run.run`."""
    from .harness.run import run as _run
    return _run(*args, **kwargs)


def problem(spec, **overrides):
    """Build a problem from a spec string; see :func:`shiftbench.problems.make`."""
    from .problems import make
    return make(spec, **overrides)


def problem_from_arrays(A, y, loss="squared", n=1, lam=0.0, split="drop", x0=None,
                        name=None):
    """A problem from your own data with exact constants; see
    :func:`shiftbench.problems.arrays.problem_from_arrays`."""
    from .problems import problem_from_arrays as _pfa
    return _pfa(A, y, loss=loss, n=n, lam=lam, split=split, x0=x0, name=name)


__all__ += ["run", "problem", "problem_from_arrays"]
