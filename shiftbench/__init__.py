"""shiftbench: compiled benchmarks for communication-compressed optimisation.

>>> import shiftbench as sb
>>> C = sb.compressor("rand-k(q=0.1)")
>>> y, bits = C.compress(x, seed=0)            # doctest: +SKIP
"""
__version__ = "0.1.0"

from .compressors import compressor, Compressor, Bits, list_compressors  # noqa: E402

__all__ = ["compressor", "Compressor", "Bits", "list_compressors", "__version__"]
