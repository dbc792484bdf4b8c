"""Methods: the method model and registry, the compiled loops and the theory."""
from .model import METHODS, Method, Option, register, get, all_methods
from . import theory

all_methods()          # the built-in declarations

__all__ = ["METHODS", "Method", "Option", "register", "get", "all_methods", "theory"]
