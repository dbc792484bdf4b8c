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


# ---- biased compression, error feedback, three point compressors ----------
# (compiled loop: shiftbench.methods.tpc; glue: shiftbench.methods.tpc_run)
from . import tpc as _tpc  # noqa: E402

_TPC_RUN = "shiftbench.methods.tpc_run:run"
_G = {"gamma": "step size (default: the theory's step)",
      "gamma_factor": "multiply the theoretical step by this factor"}
_C = {"compressor": "C: contractive compressor spec (default top-k(q=0.1))"}
_3PC = "3PC (SPEC §5, reconstructed from the 3PC paper): gamma <= 1/(L_- + L_+ sqrt(B/A))"

register(MethodInfo(
    "cgd", "cgd", _tpc.CGD, "compressed GD, single node: x <- x - gamma C(grad f(x)) (seed 004)",
    "seed 004 complexities U: zeta L/mu, B1: beta^2 L/(alpha mu), B2: beta L/(gamma mu), "
    "B3: delta L/mu; step derived (best claimed class)",
    {"compressor": "C: any compressor with a claimed class", **_G},
    default_compressor="top-k(q=0.1)", runner=_TPC_RUN))
register(MethodInfo(
    "ef", "ef", _tpc.EF,
    "error feedback: g~_i = C(e_i + gamma g_i), x -= mean g~_i, e_i += gamma g_i - g~_i (seed 004)",
    "seed 004 / Karimireddy et al. 2019; step reconstructed (EF21's for the same alpha)",
    {**_C, **_G, "ef_form": "standard (SPEC §4) | seed004 (x -= gamma mean g~_i; Python API)"},
    default_compressor="top-k(q=0.1)", runner=_TPC_RUN))
register(MethodInfo(
    "ef21", "3pc", _tpc.EF21, "EF21: g_i <- g_i + C(grad f_i(x) - g_i)",
    "EF21 (Richtarik et al. 2021): theta = 1 - sqrt(1 - alpha), beta = (1 - alpha)/theta; " + _3PC,
    {**_C, **_G}, default_compressor="top-k(q=0.1)", runner=_TPC_RUN))
register(MethodInfo(
    "lag", "3pc", _tpc.LAG,
    "lazy aggregation: send grad f_i(x) if ||x - h||^2 > zeta ||x - y||^2, else a 1-bit flag",
    _3PC + "; A = 1, B = zeta",
    {**_G, "zeta": "trigger zeta >= 0 (default 1; 0 gives GD)"},
    default_compressor="identity", runner=_TPC_RUN))
register(MethodInfo(
    "clag", "3pc", _tpc.CLAG, "compressed LAG: EF21 step if the LAG trigger fires, else a flag",
    _3PC + "; A = 1 - sqrt(1 - alpha), B = max{(1 - alpha)/A, zeta}",
    {**_C, **_G, "zeta": "trigger zeta >= 0 (default 1)"},
    default_compressor="top-k(q=0.1)", runner=_TPC_RUN))
register(MethodInfo(
    "3pcv1", "3pc", _tpc.V1, "3PCv1: y + C(x - y) (idealised: the master knows y)",
    _3PC + "; A = 1, B = 1 - alpha", {**_C, **_G},
    default_compressor="top-k(q=0.1)", runner=_TPC_RUN))
register(MethodInfo(
    "3pcv2", "3pc", _tpc.V2, "3PCv2: b + C(x - b), b = h + Q(x - y)",
    _3PC + "; A = alpha, B = (1 - alpha) omega",
    {**_C, **_G, "compressor2": "Q: unbiased compressor (default rand-k(q=0.1))"},
    default_compressor="top-k(q=0.1)", runner=_TPC_RUN))
register(MethodInfo(
    "3pcv3", "3pc", _tpc.V3, "3PCv3: b + C(x - b), b = an inner 3PC (EF21, LAG or CLAG)",
    _3PC + "; A = 1 - (1 - alpha)(1 - A_1), B = (1 - alpha) B_1",
    {**_C, **_G, "compressor2": "C_2 of the inner EF21/CLAG (inner = ef21 if only this is given)",
     "zeta": "trigger of the inner LAG/CLAG (inner = lag if only this, clag if both)",
     "inner": "ef21 | lag | clag (Python API; the CLI infers it)"},
    default_compressor="top-k(q=0.1)", runner=_TPC_RUN))
register(MethodInfo(
    "3pcv4", "3pc", _tpc.V4, "3PCv4: b + C_1(x - b), b = h + C_2(x - h)",
    _3PC + "; EF21's (A, B) at abar = 1 - (1 - alpha_1)(1 - alpha_2)",
    {"compressor": "C_1: contractive compressor (default top-k(q=0.1))", **_G,
     "compressor2": "C_2: contractive compressor (default top-k(q=0.1))"},
    default_compressor="top-k(q=0.1)", runner=_TPC_RUN))
register(MethodInfo(
    "3pcv5", "3pc", _tpc.V5, "3PCv5: x with probability p (per worker), else h + C(x - y)",
    _3PC + "; A = 1 - sqrt(1 - p), B = (1 - p)(1 - alpha)/A",
    {**_C, **_G, "p": "probability of a full round (default alpha of C)"},
    default_compressor="top-k(q=0.1)", runner=_TPC_RUN))
register(MethodInfo(
    "marina", "marina", _tpc.MARINA,
    "MARINA (not a 3PC): x with probability p (shared coin), else h + Q(x - y)",
    "Gorbunov et al. 2021 Thm 2.1 (reconstructed): gamma <= 1/(L_- + L_+ sqrt((1-p) omega/(p n)))",
    {"compressor": "Q: unbiased compressor (default rand-k(q=0.1))", **_G,
     "p": "probability of a full round (default 1/(omega + 1))"},
    default_compressor="rand-k(q=0.1)", runner=_TPC_RUN))


def get(name: str) -> MethodInfo:
    key = name.strip().lower().replace("_", "-")
    if key not in METHODS:
        raise ValueError(f"unknown method {name!r}; allowed: {', '.join(METHODS)}")
    return METHODS[key]
