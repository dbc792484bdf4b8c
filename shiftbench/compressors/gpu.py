"""Moved to :mod:`shiftbench.gpu.elementwise` (re-exported here)."""
from ..gpu.elementwise import AVAILABLE, THREADS, natural, terngrad  # noqa: F401
