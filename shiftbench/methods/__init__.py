"""Methods: the compiled engines, the method registry and the theory."""
from .registry import METHODS, MethodInfo, get
from . import theory

__all__ = ["METHODS", "MethodInfo", "get", "theory"]
