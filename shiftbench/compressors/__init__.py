"""Compressors: compiled kernels, one registry, one parser."""
from .core import Compressor, Bits, compressor, check_vector, Workspace
from .registry import REGISTRY, Claims, parse, list_compressors

__all__ = ["Compressor", "Bits", "compressor", "check_vector", "Workspace",
           "REGISTRY", "Claims", "parse", "list_compressors"]
