"""CGD, error feedback, three point compressors and MARINA, declared once each.

Compiled loop: :mod:`shiftbench.methods.tpc`.  Sources: A. Beznosikov,
S. Horváth, P. Richtárik, M. Safaryan, "On biased compression for distributed
learning" (CGD per compressor class, error feedback); P. Richtárik,
I. Sokolov, I. Fatkhullin, E. Gasanov, Z. Li, E. Gorbunov, "3PC: three point
compressors for communication-efficient distributed training and a better
theory for lazy aggregation", ICML 2022 (EF21, LAG, CLAG, 3PCv1-v5);
E. Gorbunov, K. Burlachenko, Z. Li, P. Richtárik, "MARINA", ICML 2021.

Compressor roles: ``compressor`` is C (contractive) of EF21, CLAG,
3PCv1-v5, EF and CGD, C_1 of 3PCv4 and the unbiased Q of MARINA; LAG takes
none.  ``compressor2`` is Q (unbiased) of 3PCv2, C_2 of 3PCv4 and the inner
compressor of 3PCv3, whose inner mechanism (``inner``) follows from what is
given when not set: ``compressor2`` alone -> EF21, ``zeta`` alone -> LAG,
both -> CLAG.  Defaults (documented choices): ``zeta = 1`` for LAG/CLAG,
``p = alpha`` of C for 3PCv5, ``p = 1/(omega + 1)`` for MARINA.  EF's step is
the biased-compression paper's; ``ef_form="literal"`` applies its literal
update x^{k+1} = x^k - eta (1/n) sum g~_i instead of the standard
x^{k+1} = x^k - (1/n) sum g~_i (Karimireddy et al., ICML 2019).
"""
from __future__ import annotations

import numpy as np

from . import theory as T
from . import tpc as K
from .build import per_worker, spec_text, check_d, programs, value_bits
from .loopdata import TPCConfig
from .model import Method, Option, Build, register, FLOAT, SPEC, CHOICE, THEORY
from .shift_methods import resolve_with_theory

C1 = Option("compressor", SPEC, "C: contractive compressor (one spec, or ';'-separated per worker)")
ZETA = Option("zeta", FLOAT, "lazy-aggregation trigger zeta (0 gives GD)", 1.0, lo=0.0)
P3 = Option("p", FLOAT, "probability of a full round", THEORY, lo=0.0, lo_open=True, hi=1.0)
EF_FORM = Option("ef_form", CHOICE, "EF's outer update: standard (x -= mean g~_i) | literal "
                 "(x -= gamma mean g~_i, as displayed by Beznosikov et al.)", "standard",
                 choices=("standard", "literal"))
INNER = Option("inner", CHOICE, "3PCv3's inner mechanism (inferred when not given)", None,
               choices=("ef21", "lag", "clag"))


def _worst_alpha(comps, d):
    vals = []
    for c in comps:
        cl = c.claims(d)
        if cl.delta is None or not cl.delta > 0:
            return None
        vals.append(cl.delta)
    return float(min(vals))


def _worst_omega(comps, d):
    vals = []
    for c in comps:
        cl = c.claims(d)
        if cl.kind != "unbiased" or cl.omega is None:
            return None
        vals.append(cl.omega)
    return float(max(vals))


def build_tpc(m: Method, P, opts: dict) -> Build:
    """Resolve one configuration of a CGD / EF / 3PC / MARINA method."""
    key = m.name
    n, d = P.n, P.d
    o = dict(opts)
    comp = "identity" if key == "lag" else o.get("compressor")
    C1s = per_worker(comp or m.default_compressor, n, "compressor")
    if key == "cgd" and len({c.spec for c in C1s}) != 1:
        raise ValueError("cgd is a single node: give one compressor, not one per worker")
    check_d(C1s, d)
    zeta, inner, c2 = o.get("zeta"), o.get("inner"), o.get("compressor2")
    if key == "3pcv3":
        if inner is None:
            if c2 is not None and zeta is not None:
                inner = "clag"
            elif c2 is not None:
                inner = "ef21"
            elif zeta is not None:
                inner = "lag"
            else:
                raise ValueError("3pcv3 needs an inner 3PC: give compressor2 (inner EF21), "
                                 "zeta (inner LAG) or both (inner CLAG)")
        if inner in ("ef21", "clag") and c2 is None:
            raise ValueError(f"3pcv3 with inner {inner} needs compressor2 (the inner C_2)")
        if inner == "lag" and c2 is not None:
            raise ValueError("3pcv3 with inner lag takes no compressor2")
        if inner in ("lag", "clag") and zeta is None:
            zeta = 1.0
    if key in ("lag", "clag") and zeta is None:
        zeta = 1.0
    if c2 is None and m.takes("compressor2") and key != "3pcv3":
        c2 = m.option("compressor2").default
    C2s = per_worker(c2, n, "compressor2") if c2 is not None else None
    check_d(C2s, d)
    ef_form = o.get("ef_form") or "standard"
    Lm, mu = float(P.L), float(P.mu)
    Lp = float(P.L_plus) if P.L_plus is not None else float(np.sqrt(np.mean(P.L_i ** 2)))
    a1 = _worst_alpha(C1s, d)
    a2 = _worst_alpha(C2s, d) if C2s is not None else None
    om1 = _worst_omega(C1s, d)
    om2 = _worst_omega(C2s, d) if C2s is not None else None
    err = []

    def p_default():
        if key == "3pcv5":
            if a1 is None:
                raise ValueError("3pcv5: the default p = alpha needs a contractive compressor; "
                                 "pass p")
            return a1
        if key == "marina":
            if om1 is None:
                raise ValueError("marina: the default p = 1/(omega + 1) needs an unbiased "
                                 "compressor with a claimed omega; pass p")
            return 1.0 / (1.0 + om1)
        return None

    def theory_of(oo):
        p = oo.get("p")
        if p is None and m.takes("p"):
            p = p_default()
        try:
            if key == "cgd":
                th = T.cgd(Lm, mu, C1s[0].claims(d))
            elif key == "ef":
                th = T.ef(Lm, Lp, a1, mu)
            elif key == "marina":
                th = T.marina(Lm, Lp, n, om1, p)
            else:
                th = T.tpc(key, Lm, Lp, mu, alpha=a1, omega=om2, zeta=zeta, p=p, alpha2=a2,
                           inner=inner)
        except ValueError as e:
            err[:] = [str(e)]
            return None
        if th is not None and m.takes("p"):
            th.p = p
        if oo.get("gamma") is not None:
            th.notes.append(f"user gamma={oo['gamma']:g} overrides the theory's {th.gamma:.6g}")
            th.gamma = float(oo["gamma"])
        return th

    gf = o.get("gamma_factor")
    o, th = resolve_with_theory(key, o, theory_of, "the theory does not apply")
    p = o.get("p")
    if p is None and m.takes("p"):
        p = p_default()
    if o.get("gamma") is None:
        if th is None:
            raise ValueError(f"{key}: no theoretical step size ({err[0] if err else ''}); "
                             f"pass gamma")
        g = th.gamma
    else:
        g = float(o["gamma"])
    if gf is not None and th is not None:
        th.notes.append(f"step = theory x gamma_factor {gf:g}")
    ef_outer = g if (key == "ef" and ef_form == "literal") else 1.0
    c1, nreg = programs(C1s, d, n)
    c2p, nreg2 = programs(C2s, d, n)
    vb = value_bits(list(C1s) + (list(C2s) if C2s is not None else []))
    params = {"method": key, "problem": P.name, "compressor": spec_text(C1s),
              "compressor2": spec_text(C2s), "shift_compressor": None, "gamma": float(g),
              "gamma_factor": gf, "zeta": zeta, "p": None if p is None else [float(p)],
              "inner": inner if key == "3pcv3" else None,
              "ef_form": ef_form if key == "ef" else None,
              "alpha_C": a1, "alpha_C2": a2, "omega_C": om1, "omega_C2": om2,
              "A": getattr(th, "A", None), "B": getattr(th, "B", None),
              "L_minus": Lm, "L_plus": Lp, "mu": mu, "n": n, "d": d, "theorem": m.citation}
    cfg = TPCConfig(int(m.code), int(K.INNER_CODES.get(inner, 0)) if key == "3pcv3" else 0,
                    float(g), float(zeta or 0.0), float(p if p is not None else 1.0),
                    float(ef_outer), int(vb))
    return Build(params, th, cfg, (c1, c2p), max(nreg, nreg2), None, (C1s, C2s))


_3PC = ("Richtárik et al., 3PC (ICML 2022): gamma <= 1/(L_- + L_+ sqrt(B/A)) "
        "(nonconvex), PL step min{1/(L_- + L_+ sqrt(2B/A)), A/(2 mu)}")


def _tpc_method(name, code, summary, citation, options, default="top-k(q=0.1)", **kw):
    return register(Method(name, "tpc", code, summary, citation, tuple(options), build_tpc,
                           default_compressor=default, **kw))


_tpc_method("cgd", K.CGD, "compressed GD, single node: x <- x - gamma C(grad f(x))",
            "Beznosikov et al., On biased compression: complexities per class (unbiased: "
            "zeta L/mu; B1: beta^2 L/(alpha mu); B2: beta L/(gamma mu); B3: delta L/mu); "
            "step of the best claimed class", (C1,))
_tpc_method("ef", K.EF, "error feedback: g~_i = C(e_i + gamma g_i), x -= mean g~_i, "
            "e_i += gamma g_i - g~_i",
            "Beznosikov et al., On biased compression (error feedback); Karimireddy et al., "
            "ICML 2019; step reconstructed (EF21's for the same alpha)", (C1, EF_FORM))
_tpc_method("ef21", K.EF21, "EF21: g_i <- g_i + C(grad f_i(x) - g_i)",
            "Richtárik et al., EF21 (NeurIPS 2021): A = 1 - sqrt(1 - alpha), B = (1 - alpha)/A; "
            + _3PC, (C1,))
_tpc_method("lag", K.LAG,
            "lazy aggregation: send grad f_i(x) if ||x - h||^2 > zeta ||x - y||^2, else a flag",
            _3PC + "; A = 1, B = zeta", (ZETA,), default="identity")
_tpc_method("clag", K.CLAG, "compressed LAG: EF21 step if the LAG trigger fires, else a flag",
            _3PC + "; A = 1 - sqrt(1 - alpha), B = max{(1 - alpha)/A, zeta}", (C1, ZETA))
_tpc_method("3pcv1", K.V1, "3PCv1: y + C(x - y) (idealised: the master knows y)",
            _3PC + "; A = 1, B = 1 - alpha", (C1,))
_tpc_method("3pcv2", K.V2, "3PCv2: b + C(x - b), b = h + Q(x - y)",
            _3PC + "; A = alpha, B = (1 - alpha) omega",
            (C1, Option("compressor2", SPEC, "Q: unbiased compressor", "rand-k(q=0.1)")))
_tpc_method("3pcv3", K.V3, "3PCv3: b + C(x - b), b = an inner 3PC (EF21, LAG or CLAG)",
            _3PC + "; A = 1 - (1 - alpha)(1 - A_1), B = (1 - alpha) B_1",
            (C1, Option("compressor2", SPEC, "C_2 of the inner EF21/CLAG"),
             Option("zeta", FLOAT, "trigger of the inner LAG/CLAG", None, lo=0.0), INNER),
            example={"compressor2": "top-k(q=0.1)"})
_tpc_method("3pcv4", K.V4, "3PCv4: b + C_1(x - b), b = h + C_2(x - h)",
            _3PC + "; EF21's (A, B) at abar = 1 - (1 - alpha_1)(1 - alpha_2)",
            (C1, Option("compressor2", SPEC, "C_2: contractive compressor", "top-k(q=0.1)")))
_tpc_method("3pcv5", K.V5, "3PCv5: x with probability p (per worker), else h + C(x - y)",
            _3PC + "; A = 1 - sqrt(1 - p), B = (1 - p)(1 - alpha)/A; default p = alpha",
            (C1, P3))
_tpc_method("marina", K.MARINA,
            "MARINA (not a 3PC): x with probability p (shared coin), else h + Q(x - y)",
            "Gorbunov et al., MARINA (ICML 2021), Theorem 2.1: gamma <= 1/(L_- + L_+ "
            "sqrt((1 - p) omega/(p n))); default p = 1/(omega + 1)",
            (Option("compressor", SPEC, "Q: unbiased compressor"), P3), default="rand-k(q=0.1)")
