"""Compressors: compiled kernels, one registry, one parser."""
from .core import (Compressor, Bits, compressor, check_vector, Workspace, as_compressor,  # noqa: F401
                   pack_programs, empty_programs)
from .registry import REGISTRY, Claims, Definition, Param, parse, list_compressors
from .user import register_compressor, unregister_compressor

__all__ = ["Compressor", "Bits", "compressor", "check_vector", "Workspace", "as_compressor",
           "pack_programs", "empty_programs", "REGISTRY", "Claims", "Definition", "Param",
           "parse", "list_compressors", "register_compressor", "unregister_compressor"]
