"""One registry of methods: names (stable, used by scripts), parameters, theory."""
from __future__ import annotations

from dataclasses import dataclass, field

from . import engine as E
from . import theory as T


@dataclass(frozen=True)
class MethodInfo:
    name: str
    family: str                 # "shift" (Algorithm 1 engine) or "3pc"/"cgd" (other engines)
    mode: int
    summary: str
    theorem: str
    params: dict = field(default_factory=dict)   # option -> description
    default_compressor: str = "rand-k(q=0.1)"
    uses_shift_compressor: bool = False
    runner: str = ""            # "module:function" for methods outside the Algorithm 1 engine


METHODS: dict[str, MethodInfo] = {}


def register(m: MethodInfo):
    METHODS[m.name] = m


_Q = {"compressor": "Q_i: unbiased compressor spec (one, or ';'-separated per worker)",
      "gamma": "step size (default: the theorem's)"}

register(MethodInfo(
    "dcgd", "shift", E.DCGD, "distributed compressed GD, h_i = 0",
    "Thm 1 with h_i = 0", dict(_Q)))
register(MethodInfo(
    "dcgd-fixed", "shift", E.FIXED, "DCGD with fixed shifts h_i (eq. 6)",
    "Thm 1, eq. (7)",
    {**_Q, "shift": "fixed shifts: zero | star (grad f_i(x*)) | x0 (grad f_i(x^0), sent once)"}))
register(MethodInfo(
    "dgd", "shift", E.DCGD, "distributed gradient descent (uncompressed)",
    "GD, gamma = 1/L", {"gamma": "step size (default 1/L)"}, default_compressor="identity"))
register(MethodInfo(
    "dcgd-star", "shift", E.STAR, "optimal shifts h_i = grad f_i(x*) + C_i(g_i - grad f_i(x*)) (eq. 8)",
    "Thm 2, eq. (9)",
    {**_Q, "shift_compressor": "C_i: contractive compressor spec (default zero)"},
    uses_shift_compressor=True))
register(MethodInfo(
    "diana", "shift", E.DIANA, "generalised DIANA: h_i += alpha [C_i(.) + Q_i(. - C_i(.))] (eq. 10/11)",
    "Thm 3",
    {**_Q, "shift_compressor": "C_i: contractive compressor spec (default zero -> eq. 11)",
     "alpha": "shift step (default 1/(1 + omega(1 - delta)))",
     "M": "Lyapunov constant M of Thm 3 (default 4 max(1, omega~)/(n alpha))"},
    uses_shift_compressor=True))
register(MethodInfo(
    "rand-diana", "shift", E.RAND, "Rand-DIANA: h_i = grad f_i(w_i), w_i <- x^k w.p. p_i (eq. 12)",
    "Thm 4",
    {**_Q, "p": "refresh probability (default 1/(omega + 1)); one, or a comma list per worker",
     "M": "Lyapunov constant M of Thm 4 (default 4 omega/(n p_min))"}))
register(MethodInfo(
    "gdci", "shift", E.GDCI, "GD with compressed iterates (eq. 13)", "Thm 5, eq. (14)",
    {**_Q, "eta": "relaxation eta (default Thm 5)"}))
register(MethodInfo(
    "vr-gdci", "shift", E.VRGDCI, "variance-reduced GDCI with learned iterate shifts (reconstructed)",
    "reconstructed (no theorem in the available text)",
    {**_Q, "eta": "relaxation eta (default Thm 5)", "alpha": "shift step (default 1/(1 + omega))"}))


def get(name: str) -> MethodInfo:
    key = name.strip().lower().replace("_", "-")
    if key not in METHODS:
        raise ValueError(f"unknown method {name!r}; allowed: {', '.join(METHODS)}")
    return METHODS[key]
