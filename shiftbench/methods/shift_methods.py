"""The instances of Algorithm 1 (DCGD-SHIFT), declared once each.

E. Shulgin and P. Richtárik, "Shifted compression framework: generalizations
and improvements", UAI 2022: Algorithm 1, equations (6)-(14), Theorems 1-5.
Each declaration names its options; :func:`build_shift` turns them into the
compiled engine's configuration (:mod:`shiftbench.methods.engine`), with the
theory's values (:mod:`shiftbench.methods.theory`) as defaults.
"""
from __future__ import annotations

import numpy as np

from . import engine as E
from . import theory as T
from .build import per_worker, spec_text, check_d, programs, value_bits, claimed
from .loopdata import ShiftConfig
from .model import (Method, Option, Build, Relative, register, FLOAT, FLOATS, SPEC, CHOICE,
                    THEORY)

Q = Option("compressor", SPEC, "Q_i: unbiased compressor (one spec, or ';'-separated per worker)")
C = Option("shift_compressor", SPEC, "C_i: contractive compressor of the shift (default: zero)")
ALPHA = Option("alpha", FLOAT, "shift step alpha", THEORY, lo=0.0, lo_open=True, hi=1.0)
M_OPT = Option("M", FLOAT, "Lyapunov constant M", THEORY, lo=0.0, lo_open=True)
ETA = Option("eta", FLOAT, "relaxation eta", THEORY, lo=0.0, lo_open=True, hi=1.0)
P_OPT = Option("p", FLOATS, "refresh probability p_i (one, or a comma list per worker)", THEORY,
               lo=0.0, lo_open=True, hi=1.0)
SHIFT = Option("shift", CHOICE, "fixed shifts h_i: zero | star (grad f_i(x*)) | x0 "
               "(grad f_i(x^0), sent once in full)", "zero", choices=("zero", "star", "x0"))
H0 = Option("h0", "array", "initial shifts (n x d array; Python API)", None, cli=False)


def _theory(m, P, omega, delta, o, gs):
    """The theorem's record for mode ``m.code`` at the (absolute) options ``o``."""
    n, mode = P.n, m.code
    g = o.get("gamma")
    if m.name == "dgd":
        return T.gd(P.L, P.mu, gamma=g)
    if mode in (E.DCGD, E.FIXED):
        hd = None
        if P.grad_star is not None:
            if mode == E.FIXED and o.get("shift") == "star":
                hcur = gs
            elif mode == E.FIXED and o.get("shift") == "x0":
                hcur = np.array([P.grad_i(i, P.x0) for i in range(n)])
            else:
                hcur = np.zeros_like(gs)
            hd = np.sum((gs - hcur) ** 2, axis=1)
        return T.dcgd_fixed(P.L, P.L_i, P.mu, n, omega, hd, method=m.name, gamma=g)
    if mode == E.STAR:
        return T.dcgd_star(P.L, P.L_i, P.mu, n, omega, delta, gamma=g)
    if mode == E.DIANA:
        return T.diana(P.L, P.L_i, P.mu, n, omega, delta, alpha=o.get("alpha"), M=o.get("M"),
                       gamma=g)
    if mode == E.RAND:
        return T.rand_diana(P.L, P.L_i, P.mu, n, omega, p=o.get("p"), M=o.get("M"), gamma=g)
    if mode == E.GDCI:
        th = T.gdci(P.L, P.L_i, P.mu, n, omega, eta=o.get("eta"), gamma=g)
        if P.x_star is not None:
            th.neighbourhood = T.gdci_neighbourhood(
                th, n, np.max(omega), np.sum((P.x_star[None, :] - th.gamma * gs) ** 2, axis=1))
        return th
    return T.vr_gdci(P.L, P.L_i, P.mu, n, omega, alpha=o.get("alpha"), eta=o.get("eta"), gamma=g)


_THEORY_KEYS = ("gamma", "alpha", "M", "eta", "p")


def resolve_with_theory(name, opts, theory_of, why_none):
    """Options with the theory's defaults and relative values ('2x') resolved.

    ``theory_of(o)`` returns the theory record at absolute options ``o`` (or
    None when there is none: then ``why_none`` says why).  Relative values
    other than gamma are resolved first (gamma depends on them), then gamma.
    """
    o = dict(opts)
    if "gamma_factor" in o:
        o["gamma"] = Relative(o.pop("gamma_factor"))
    rel = {k: v for k, v in o.items() if isinstance(v, Relative)}
    for k in rel:
        o[k] = None

    def need(k):
        if theory_of(o) is None:
            raise ValueError(f"{name}: {k} = {rel[k]} needs the theory's value, which is not "
                             f"available ({why_none}); give an absolute {k}")

    others = [k for k in rel if k != "gamma"]
    if others:
        th0 = theory_of(o)
        for k in others:
            need(k)
            base = getattr(th0, k)
            o[k] = (rel[k].factor * np.asarray(base)).tolist() if np.ndim(base) else \
                rel[k].factor * float(base)
    if "gamma" in rel:
        need("gamma")
        o["gamma"] = rel["gamma"].factor * float(theory_of(o).gamma)
    return o, theory_of(o)


def build_shift(m: Method, P, opts: dict) -> Build:
    """Resolve one configuration of an Algorithm 1 method."""
    n, d = P.n, P.d
    comp = opts.get("compressor")
    if m.name == "dgd":
        comp = "identity"
    Qs = per_worker(comp or m.default_compressor, n, "compressor")
    Cs = per_worker(opts.get("shift_compressor"), n, "shift compressor")
    check_d(Qs, d)
    check_d(Cs, d)
    omega = claimed(Qs, d, "omega")
    delta = np.zeros(n) if Cs is None else claimed(Cs, d, "delta")
    o = dict(opts)
    if isinstance(o.get("p"), list) and len(o["p"]) not in (1, n):
        raise ValueError(f"p: got {len(o['p'])} values for n = {n} workers; give one or n")
    gs = P.grad_star if P.grad_star is not None else np.zeros((n, d))
    biased = [c.spec for c in Qs if c.claims(d).kind != "unbiased" or c.claims(d).omega is None]
    no_delta = [] if Cs is None else [c.spec for c in Cs if c.claims(d).delta is None]
    why = None
    if P.mu <= 0:
        why = "the problem is not strongly convex (mu = 0)"
    elif biased:
        why = (f"Q_i = {biased[0]!r} is not an unbiased compressor with a claimed omega; "
               f"Algorithm 1's theorems need one (e.g. rand-k, natural, dither)")
    elif no_delta:
        why = f"C_i = {no_delta[0]!r} has no claimed contraction delta"

    def theory_of(oo):
        if why is not None:
            return None
        return _theory(m, P, omega, delta, oo, gs)

    o, th = resolve_with_theory(m.name, o, theory_of, why)
    needs = ["gamma"] + [k for k in ("alpha", "M", "eta", "p") if m.takes(k)]
    missing = [k for k in needs if o.get(k) is None and k != "M"]
    if th is None and missing:
        raise ValueError(f"{m.name}: no theoretical {'/'.join(missing)} because {why}; "
                         f"pass {', '.join(missing)}")
    g = o["gamma"] if o.get("gamma") is not None else th.gamma
    a = o.get("alpha") if o.get("alpha") is not None else (th.alpha if th and th.alpha else 1.0)
    et = o.get("eta") if o.get("eta") is not None else (th.eta if th and th.eta else 1.0)
    if o.get("p") is not None:
        pp = np.broadcast_to(np.asarray(o["p"], float), (n,)).copy()
    else:
        pp = th.p if th is not None and th.p is not None else np.ones(n)
    # initial shifts
    shift = o.get("shift", "zero")
    init_full = False
    if o.get("h0") is not None:
        H0 = np.asarray(o["h0"], dtype=float)
        try:
            H0 = np.ascontiguousarray(np.broadcast_to(H0, (n, d))).copy()
        except ValueError:
            raise ValueError(f"h0 must broadcast to (n, d) = ({n}, {d}), got {H0.shape}") from None
        if not np.all(np.isfinite(H0)):
            raise ValueError("h0 contains NaN or inf; allowed: finite values")
    elif m.code == E.STAR or (m.code == E.FIXED and shift == "star"):
        if P.grad_star is None:
            raise ValueError(f"{m.name} with optimal shifts needs grad f_i(x*), which problem "
                             f"{P.name} does not provide")
        H0 = P.grad_star.copy()
    elif m.code == E.FIXED and shift == "x0":
        H0 = np.ascontiguousarray([P.grad_i(i, P.x0) for i in range(n)])
        init_full = True
    else:
        H0 = np.zeros((n, d))
    q, nreg = programs(Qs, d, n)
    c, nreg2 = programs(Cs, d, n)
    lw = (th.lyapunov_weights if th is not None and th.lyapunov_weights is not None
          else np.ones(n))
    vb = value_bits(Qs + (Cs or []))
    params = {"method": m.name, "problem": P.name, "compressor": spec_text(Qs),
              "shift_compressor": spec_text(Cs), "gamma": float(g), "alpha": float(a),
              "eta": float(et), "p": [float(v) for v in pp],
              "M": (th.M if th is not None else o.get("M")),
              "omega": omega.tolist(), "delta": delta.tolist(), "n": n, "d": d,
              "shift": shift if m.code == E.FIXED else None, "theorem": m.citation}
    cfg = ShiftConfig(int(m.code), H0, Cs is not None, float(g), float(a), float(et),
                      np.ascontiguousarray(pp, dtype=float), np.asarray(lw, float), int(vb),
                      init_full)
    return Build(params, th, cfg, (q, c), max(nreg, nreg2), H0, (Qs, Cs))


def _shift_method(name, code, summary, citation, options, **kw):
    return register(Method(name, "shift", code, summary, citation, tuple(options), build_shift,
                           **kw))


_shift_method("dcgd", E.DCGD, "distributed compressed GD, h_i = 0",
              "Shulgin & Richtárik (UAI 2022), Theorem 1 with h_i = 0", (Q,))
_shift_method("dcgd-fixed", E.FIXED, "DCGD with fixed shifts h_i (eq. 6)",
              "Shulgin & Richtárik (UAI 2022), Theorem 1, eq. (7)", (Q, SHIFT, H0))
_shift_method("dgd", E.DCGD, "distributed gradient descent (uncompressed)",
              "gradient descent with gamma = 1/L", (), default_compressor="identity")
_shift_method("dcgd-star", E.STAR,
              "optimal shifts h_i = grad f_i(x*) + C_i(g_i - grad f_i(x*)) (eq. 8)",
              "Shulgin & Richtárik (UAI 2022), Theorem 2, eq. (9)", (Q, C))
_shift_method("diana", E.DIANA,
              "generalised DIANA: h_i += alpha [C_i(.) + Q_i(. - C_i(.))] (eq. 10/11)",
              "Shulgin & Richtárik (UAI 2022), Theorem 3", (Q, C, ALPHA, M_OPT, H0))
_shift_method("rand-diana", E.RAND,
              "Rand-DIANA: h_i = grad f_i(w_i), w_i <- x^k with probability p_i (eq. 12)",
              "Shulgin & Richtárik (UAI 2022), Theorem 4", (Q, P_OPT, M_OPT))
_shift_method("gdci", E.GDCI, "GD with compressed iterates (eq. 13)",
              "Shulgin & Richtárik (UAI 2022), Theorem 5, eq. (14)", (Q, ETA))
_shift_method("vr-gdci", E.VRGDCI,
              "variance-reduced GDCI with learned iterate shifts (reconstructed)",
              "reconstructed (no theorem in the available text of Shulgin & Richtárik)",
              (Q, ETA, ALPHA))
