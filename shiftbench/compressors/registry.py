"""One registry and one parser for compressors.

``compressor("rand-k(q=0.1)")`` parses a spec string into a
:class:`Compressor`: a compiled *program* (see :mod:`.kernels`) plus the
constants the literature claims for it.  Specs are case- and space-tolerant;
an unknown name or a bad parameter raises ``ValueError`` naming what is
allowed.

Grammar::

    spec   := name [ "(" arg ("," arg)* ")" ]
    arg    := key "=" number  |  spec            (nested specs: composites)

Claimed constants (``SPEC.md`` §1-2; seed 004's table for B1/B2/B3) are
functions of the dimension d and live here, next to the definitions.  Each
claim carries its source: ``seed`` (stated in a source paper), ``derived``
(a short proof in the docstring of the entry) or ``reconstructed``.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from . import kernels as K

VALUE_BITS = (32, 64)


# ----------------------------------------------------------------------------
# claims

@dataclass(frozen=True)
class Claims:
    """Constants claimed for a compressor at dimension d.

    ``omega``: C in U(omega) (unbiased, E||C(x)-x||^2 <= omega ||x||^2).
    ``delta``: C in B(delta) (E||C(x)-x||^2 <= (1-delta)||x||^2).
    ``b1`` = (alpha, beta), ``b2`` = (gamma, beta), ``b3`` = delta >= 1 in the
    classes of seed 004.  ``None`` where no claim is made.
    """
    kind: str                       # "unbiased" | "contractive" | "biased"
    omega: Optional[float] = None
    delta: Optional[float] = None
    b1: Optional[tuple] = None
    b2: Optional[tuple] = None
    b3: Optional[float] = None
    source: str = "seed"
    note: str = ""

    def as_dict(self):
        return {"kind": self.kind, "omega": self.omega, "delta": self.delta,
                "b1": list(self.b1) if self.b1 else None,
                "b2": list(self.b2) if self.b2 else None,
                "b3": self.b3, "source": self.source, "note": self.note}


def _unbiased(omega, source="seed", note=""):
    """U(omega) = seed 004's U(zeta), zeta = 1 + omega; its table (lambda=1)
    gives B1(1, zeta) and B2(1, zeta)."""
    z = 1.0 + omega
    return Claims("unbiased", omega=omega, b1=(1.0, z), b2=(1.0, z),
                  source=source, note=note)


def _contractive(delta, source="seed", note="", b1=None, b2=None):
    """B(delta) = B3(1/delta); without a sharper claim, seed 004's table gives
    B1(delta^2/4, 2) and B2(delta/2, 2)."""
    if delta <= 0:
        return Claims("biased", delta=delta, source=source, note=note)
    b3 = 1.0 / delta
    if b1 is None:
        b1 = (1.0 / (4.0 * b3 * b3), 2.0)
    if b2 is None:
        b2 = (1.0 / (2.0 * b3), 2.0)
    return Claims("contractive", delta=delta, b1=b1, b2=b2, b3=b3,
                  source=source, note=note)


# ----------------------------------------------------------------------------
# registry entries

@dataclass
class Entry:
    name: str
    code: int
    syntax: str
    example: str
    summary: str
    bit_cost: str
    keys: dict                       # allowed key -> description
    claims: Callable                 # (params dict, d) -> Claims
    aliases: tuple = ()
    composite: bool = False


def _k_of(pr, d):
    if "k" in pr:
        return int(pr["k"])
    return max(1, min(d, int(math.floor(pr["q"] * d + 0.5))))


REGISTRY: dict[str, Entry] = {}
_ALIASES: dict[str, str] = {}


def register(e: Entry):
    REGISTRY[e.name] = e
    _ALIASES[e.name] = e.name
    for a in e.aliases:
        _ALIASES[a] = e.name


_VB = {"bits": "value width: 32 (default) or 64"}
_KQ = {"k": "number of kept coordinates, 1 <= k <= d",
       "q": "fraction of kept coordinates, 0 < q <= 1 (k = round(q d))"}

register(Entry(
    "identity", K.IDENTITY, "identity", "identity", "x -> x (no compression)",
    "min(d, support + nnz) values", dict(_VB),
    lambda pr, d: Claims("unbiased", omega=0.0, delta=1.0, b1=(1.0, 1.0),
                         b2=(1.0, 1.0), b3=1.0),
    aliases=("id", "none")))
register(Entry(
    "zero", K.ZERO, "zero", "zero", "x -> 0 (sends nothing)", "0",
    {}, lambda pr, d: Claims("biased", delta=0.0)))
register(Entry(
    "top-k", K.TOPK, "top-k(k=K | q=Q[, bits=32|64])", "top-k(k=5)",
    "keep the K largest |x_i| (exact, ties to the lowest index)",
    "min(K ceil(log2 d), d) + K values", {**_KQ, **_VB},
    lambda pr, d: _contractive(_k_of(pr, d) / d, b1=(_k_of(pr, d) / d, 1.0),
                               b2=(_k_of(pr, d) / d, 1.0)),
    aliases=("topk", "top")))
register(Entry(
    "rand-k", K.RANDK, "rand-k(k=K | q=Q[, shared=0|1, bits=32|64])",
    "rand-k(q=0.1)", "(d/K) x on K uniformly random coordinates",
    "K values + min(K ceil(log2 d), d) index bits (0 with shared=1)",
    {**_KQ, **_VB, "shared": "1: indices come from a seed shared with the receiver (no index bits)"},
    lambda pr, d: _unbiased(d / _k_of(pr, d) - 1.0),
    aliases=("randk", "rand")))
register(Entry(
    "crand-k", K.CRANDK, "crand-k(k=K | q=Q[, shared=0|1, bits=32|64])",
    "crand-k(q=0.1)", "x on K uniformly random coordinates, unscaled (biased)",
    "as rand-k", {**_KQ, **_VB, "shared": "as in rand-k"},
    lambda pr, d: _contractive(_k_of(pr, d) / d, b1=(_k_of(pr, d) / d, 1.0),
                               b2=(_k_of(pr, d) / d, 1.0), source="derived",
                               note="E C(x) = (K/d) x, E||C(x)||^2 = (K/d)||x||^2"),
    aliases=("biased-rand-k", "crandk")))
register(Entry(
    "bernoulli", K.BERNOULLI, "bernoulli(p=P[, bits=32|64])", "bernoulli(p=0.5)",
    "x with probability p, else 0 (the B_p of Rand-DIANA)",
    "1 flag bit, + the vector when sent", {"p": "probability, 0 < p <= 1", **_VB},
    lambda pr, d: _contractive(pr["p"], b1=(pr["p"], 1.0), b2=(pr["p"], 1.0),
                               source="derived",
                               note="E||C(x)-x||^2 = (1-p)||x||^2")))
register(Entry(
    "scaled-bernoulli", K.BERNOULLI, "scaled-bernoulli(p=P[, bits=32|64])",
    "scaled-bernoulli(p=0.5)", "x/p with probability p, else 0 (unbiased)",
    "as bernoulli", {"p": "probability, 0 < p <= 1", **_VB},
    lambda pr, d: _unbiased(1.0 / pr["p"] - 1.0),
    aliases=("bernoulli-scaled",)))
register(Entry(
    "adaptive", K.ADAPTIVE, "adaptive(k=K | q=Q[, bits=32|64])", "adaptive(q=0.1)",
    "adaptive random sparsification: keep x_i/p_i w.p. p_i ~ min(1, K|x_i|/||x||_1)",
    "kept values + min(kept ceil(log2 d), d)", {**_KQ, **_VB},
    lambda pr, d: Claims("unbiased", source="reconstructed",
                         note="omega is measured, not claimed"),
    aliases=("adaptive-k", "adaptive-sparsification")))
register(Entry(
    "natural", K.NATURAL, "natural[(bits=32|64)]", "natural",
    "natural compression C_nat: unbiased stochastic rounding to a power of two",
    "9 bits/entry (fp32), 12 (fp64)", dict(_VB),
    lambda pr, d: _unbiased(1.0 / 8.0),
    aliases=("cnat", "c-nat", "natural-compression")))
register(Entry(
    "natural-det", K.NATURAL_DET, "natural-det[(bits=32|64)]", "natural-det",
    "deterministic C_nat: |t| rounded to the nearest power of two (biased)",
    "9 bits/entry (fp32), 12 (fp64)", dict(_VB),
    lambda pr, d: _contractive(8.0 / 9.0, source="derived",
                               note="|C(t)-t| <= |t|/3 (worst at t = 1.5*2^e)"),
    aliases=("cnat-det", "deterministic-natural")))
register(Entry(
    "dither", K.DITHER, "dither(s=S[, p=2|1|inf, bits=32|64])", "dither(s=4)",
    "random dithering / QSGD: ||x||_p sign(x_i) xi_i, xi_i on {0,1/s,..,1}",
    "1 norm + d (1 + ceil(log2(s+1)))",
    {"s": "number of levels, integer >= 1", "p": "norm: a number >= 1 or inf (default 2)", **_VB},
    lambda pr, d: (_unbiased(min(d / pr["s"] ** 2, math.sqrt(d) / pr["s"]))
                   if pr.get("p", 2.0) == 2.0 else
                   Claims("unbiased", note="omega claimed for p = 2 only; measured")),
    aliases=("qsgd", "random-dithering")))


def _natdither_omega(pr, d):
    r = min(pr.get("p", 2.0), 2.0)
    t = d ** (1.0 / r) * 2.0 ** (1.0 - pr["s"])
    return 1.0 / 8.0 + t * min(1.0, t)


register(Entry(
    "natural-dither", K.NATDITHER, "natural-dither(s=S[, p=2|1|inf, bits=32|64])",
    "natural-dither(s=4)",
    "natural dithering: levels {0, 2^(1-s), .., 1/2, 1}",
    "1 norm + d (1 + ceil(log2(s+1)))",
    {"s": "number of levels, integer >= 1", "p": "norm: a number >= 1 or inf (default 2)", **_VB},
    lambda pr, d: _unbiased(_natdither_omega(pr, d), source="reconstructed"),
    aliases=("nd", "natdither", "natural-dithering")))
register(Entry(
    "terngrad", K.TERNGRAD, "terngrad[(bits=32|64)]", "terngrad",
    "TernGrad: max|x| sign(x_i) Bernoulli(|x_i|/max|x|)",
    "1 value + 2 bits/entry (or support + 1 sign bit per nonzero)", dict(_VB),
    lambda pr, d: _unbiased((math.sqrt(d) - 1.0) / 2.0, source="derived",
                            note="E||C(x)||^2 = max|x| ||x||_1 <= (1+sqrt d)/2 ||x||^2"),
    aliases=("tern",)))
register(Entry(
    "sign", K.SIGN, "sign[(bits=32|64)]", "sign",
    "scaled sign: (||x||_1/d) sign(x)", "1 value + 1 bit/entry", dict(_VB),
    lambda pr, d: _contractive(1.0 / d, b1=(1.0 / d ** 2, 1.0), b2=(1.0 / d, 1.0),
                               source="derived",
                               note="E||C(x)-x||^2 = ||x||^2 - ||x||_1^2/d"),
    aliases=("scaled-sign", "signsgd")))

# composites -----------------------------------------------------------------


def _induced_claims(cc: Claims, qc: Claims, d):
    """Footnote 1 of 001: C in B(delta), Q in U(omega) => induced in U(omega(1-delta))."""
    if qc.omega is None or cc.delta is None:
        return Claims("unbiased" if qc.kind == "unbiased" else "biased",
                      note="no claim: needs C in B(delta) and Q in U(omega)")
    return _unbiased(qc.omega * (1.0 - cc.delta), source="seed",
                     note="footnote 1 of the shifted-compression paper")


def _compose_claims(c2: Claims, c1: Claims, d):
    """U(w1) then U(w2): unbiased with omega = (1+w1)(1+w2) - 1
    (= 9w/8 + 1/8 for C_nat o Q, SPEC §2)."""
    if c1.omega is not None and c2.omega is not None:
        return _unbiased((1 + c1.omega) * (1 + c2.omega) - 1.0, source="derived",
                         note="E||C2(C1 x)||^2 <= (1+w2)(1+w1)||x||^2")
    return Claims("biased", note="no closed-form claim; measure it")


def _scale_claims(c: Claims, lam, d):
    """Seed 004's scaling table: U(zeta) -> lam C in B1(lam^2, lam zeta),
    B2(lam, lam zeta); B1(a,b) -> B1(lam^2 a, lam b); B2(g,b) -> B2(lam g, lam b).
    For C in U(omega): E||lam C(x) - x||^2 = (1 - lam(2 - lam(1+omega)))||x||^2,
    so lam C in B(lam(2 - lam(1+omega))) when that is positive."""
    if c.omega is not None and c.kind == "unbiased":
        z = 1.0 + c.omega
        dl = lam * (2.0 - lam * z)
        b3 = 1.0 / dl if dl > 0 else None
        return Claims("contractive" if dl > 0 else "biased", delta=dl if dl > 0 else None,
                      b1=(lam * lam, lam * z), b2=(lam, lam * z), b3=b3,
                      source="seed", note="seed 004 scaling table")
    b1 = (lam * lam * c.b1[0], lam * c.b1[1]) if c.b1 else None
    b2 = (lam * c.b2[0], lam * c.b2[1]) if c.b2 else None
    return Claims("biased", b1=b1, b2=b2, source="seed", note="seed 004 scaling table")


register(Entry(
    "induced", -1, "induced(C, Q)", "induced(top-k(k=2), rand-k(k=4))",
    "induced compressor C(x) + Q(x - C(x)) (C biased, Q unbiased)",
    "bits(C) + bits(Q)", {}, None, composite=True))
register(Entry(
    "compose", -1, "compose(C2, C1)", "compose(natural, rand-k(q=0.1))",
    "composition C2(C1(x)): the message is C2's encoding of C1's output",
    "bits(C2 applied to C1's output)", {}, None, aliases=("composition",),
    composite=True))
register(Entry(
    "scale", -1, "scale(C, lam=L)", "scale(rand-k(q=0.5), lam=0.5)",
    "lam * C(x)", "bits(C)", {"lam": "scaling factor, > 0"}, None,
    aliases=("scaled",), composite=True))


# ----------------------------------------------------------------------------
# parser

_TOKEN = re.compile(r"\s*(?:(\()|(\))|(,)|(=)|([A-Za-z0-9_.+\-]+))")


def _tokenize(s):
    pos = 0
    out = []
    s = s.strip()
    while pos < len(s):
        m = _TOKEN.match(s, pos)
        if not m or m.end() == pos:
            raise ValueError(f"compressor spec {s!r}: cannot parse at {s[pos:]!r}; "
                             f"expected name(key=value, ...), e.g. 'rand-k(q=0.1)'")
        out.append(next(g for g in m.groups() if g is not None))
        pos = m.end()
        while pos < len(s) and s[pos].isspace():
            pos += 1
    return out


def _canon_name(tok, full):
    n = tok.lower().replace("_", "-")
    n = re.sub(r"^(top|rand|crand)k$", r"\1-k", n)
    if n in _ALIASES:
        return _ALIASES[n]
    raise ValueError(f"unknown compressor {tok!r} in {full!r}; allowed: "
                     + ", ".join(sorted(REGISTRY)))


def _num(tok, key, full):
    t = tok.lower()
    try:
        if t in ("inf", "infinity"):
            return math.inf
        return float(t)
    except ValueError:
        raise ValueError(f"compressor spec {full!r}: {key}={tok!r} is not a number") from None


class _Parser:
    def __init__(self, s):
        self.full = s
        self.toks = _tokenize(s)
        self.i = 0

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, expect=None):
        t = self.peek()
        if t is None or (expect is not None and t != expect):
            raise ValueError(f"compressor spec {self.full!r}: expected "
                             f"{expect or 'more input'!r}, got {t!r}")
        self.i += 1
        return t

    def spec(self):
        name = _canon_name(self.take(), self.full)
        kw, kids = {}, []
        if self.peek() == "(":
            self.take("(")
            while self.peek() != ")":
                if self.i + 1 < len(self.toks) and self.toks[self.i + 1] == "=":
                    key = self.take().lower()
                    self.take("=")
                    kw[key] = self.take()
                else:
                    kids.append(self.spec())
                if self.peek() == ",":
                    self.take(",")
                elif self.peek() != ")":
                    self.take(")")
            self.take(")")
        return Node.build(name, kw, kids, self.full)


# ----------------------------------------------------------------------------
# the parsed tree

# parameter values that equal the default are left out of canonical specs
_DEFAULTS = {(n, "bits"): 32.0 for n in REGISTRY}
_DEFAULTS.update({("rand-k", "shared"): 0.0, ("crand-k", "shared"): 0.0,
                  ("dither", "p"): 2.0, ("natural-dither", "p"): 2.0})

def _fmt(v):
    if v == math.inf:
        return "inf"
    if float(v).is_integer():
        return str(int(v))
    return repr(float(v))


@dataclass
class Node:
    name: str
    params: dict = field(default_factory=dict)
    kids: list = field(default_factory=list)

    @staticmethod
    def build(name, kw, kids, full):
        e = REGISTRY[name]
        where = f"compressor spec {full!r}: {name}"
        for k in kw:
            if k not in e.keys:
                allowed = ", ".join(e.keys) or "none"
                raise ValueError(f"{where}: unknown parameter {k!r}; allowed: {allowed}")
        pr = {k: _num(v, k, full) for k, v in kw.items()}
        want = {"induced": 2, "compose": 2, "scale": 1}.get(name, 0)
        if len(kids) != want:
            raise ValueError(f"{where} takes {want} nested compressor(s) "
                             f"({e.syntax}), got {len(kids)}")
        if "bits" in pr and int(pr["bits"]) not in VALUE_BITS:
            raise ValueError(f"{where}: bits must be 32 or 64, got {_fmt(pr['bits'])}")
        if "k" in e.keys:
            if ("k" in pr) == ("q" in pr):
                raise ValueError(f"{where}: give exactly one of k (integer >= 1) "
                                 f"or q (0 < q <= 1)")
            if "k" in pr and (pr["k"] < 1 or not float(pr["k"]).is_integer()):
                raise ValueError(f"{where}: k must be an integer >= 1, got {_fmt(pr['k'])}")
            if "q" in pr and not (0.0 < pr["q"] <= 1.0):
                raise ValueError(f"{where}: q must satisfy 0 < q <= 1, got {_fmt(pr['q'])}")
        if "p" in e.keys and name in ("bernoulli", "scaled-bernoulli"):
            if "p" not in pr or not (0.0 < pr["p"] <= 1.0):
                raise ValueError(f"{where}: needs p with 0 < p <= 1")
        if name in ("dither", "natural-dither"):
            if "s" not in pr or pr["s"] < 1 or not float(pr["s"]).is_integer():
                raise ValueError(f"{where}: needs s, an integer >= 1 (number of levels)")
            if pr.get("p", 2.0) < 1.0:
                raise ValueError(f"{where}: p must be >= 1 or inf")
        if "shared" in pr and pr["shared"] not in (0.0, 1.0):
            raise ValueError(f"{where}: shared must be 0 or 1")
        if name == "scale":
            if "lam" not in pr or not (pr["lam"] > 0 and math.isfinite(pr["lam"])):
                raise ValueError(f"{where}: needs lam, a finite number > 0")
        return Node(name, pr, kids)

    def canonical(self):
        """Unique spec string: registry key order, explicit defaults dropped."""
        args = [k.canonical() for k in self.kids]
        order = list(REGISTRY[self.name].keys)
        for k in sorted(self.params, key=order.index):
            v = self.params[k]
            if _DEFAULTS.get((self.name, k)) == v:
                continue
            args.append(f"{k}={_fmt(v)}")
        return self.name + (f"({', '.join(args)})" if args else "")

    def check_d(self, d):
        e = REGISTRY[self.name]
        if "k" in self.params and self.params["k"] > d:
            raise ValueError(f"{self.canonical()}: K = {int(self.params['k'])} > d = {d}; "
                             f"allowed 1 <= K <= d")
        for c in self.kids:
            c.check_d(d)

    def claims(self, d) -> Claims:
        e = REGISTRY[self.name]
        if self.name == "induced":
            return _induced_claims(self.kids[0].claims(d), self.kids[1].claims(d), d)
        if self.name == "compose":
            return _compose_claims(self.kids[0].claims(d), self.kids[1].claims(d), d)
        if self.name == "scale":
            return _scale_claims(self.kids[0].claims(d), self.params["lam"], d)
        return e.claims(self.params, d)

    def depends_on_d(self):
        if self.name in ("top-k", "rand-k", "crand-k", "adaptive"):
            if "k" in self.params:
                return True
        if self.name in ("dither", "natural-dither", "terngrad", "sign"):
            return True
        return any(c.depends_on_d() for c in self.kids)

    # -- compilation to a program -------------------------------------------
    def emit(self, ops, params, src, dst, nreg):
        """Append ops computing dst = self(src); returns registers used."""
        e = REGISTRY[self.name]
        if not e.composite:
            p = np.zeros(K.N_PARAMS)
            p[0] = self.params.get("k", -1.0)
            p[1] = self.params.get("q", 0.0)
            p[2] = self.params.get("bits", 32.0)
            if self.name in ("bernoulli", "scaled-bernoulli"):
                p[0] = self.params["p"]
                p[3] = 1.0 if self.name == "scaled-bernoulli" else 0.0
            elif self.name in ("rand-k", "crand-k"):
                p[3] = self.params.get("shared", 0.0)
            elif self.name in ("dither", "natural-dither"):
                p[0] = self.params["s"]
                p[3] = self.params.get("p", 2.0)
            poff = len(params)
            params.extend(p)
            ops.append([K.OP_PRIM, e.code, src, dst, 0, poff])
            return nreg
        if self.name == "induced":
            c, q = self.kids
            r0, r1, r2 = nreg, nreg + 1, nreg + 2
            nreg += 3
            nreg = c.emit(ops, params, src, r0, nreg)
            ops.append([K.OP_SUB, -1, src, r1, r0, 0])
            nreg = q.emit(ops, params, r1, r2, nreg)
            ops.append([K.OP_ADD, -1, r0, dst, r2, 0])
            return nreg
        if self.name == "compose":
            outer, inner = self.kids
            r0 = nreg
            nreg += 1
            n0 = len(ops)
            nreg = inner.emit(ops, params, src, r0, nreg)
            # only the outer's message travels: the inner's primitives are
            # silent (their bits are not counted); bits of earlier messages
            # in the program (e.g. C of induced(C, compose(..))) are kept
            for j in range(n0, len(ops)):
                if ops[j][0] == K.OP_PRIM:
                    ops[j][0] = K.OP_PRIM_SILENT
            nreg = outer.emit(ops, params, r0, dst, nreg)
            return nreg
        if self.name == "scale":
            (c,) = self.kids
            nreg = c.emit(ops, params, src, dst, nreg)
            poff = len(params)
            params.append(self.params["lam"])
            ops.append([K.OP_SCALE, -1, dst, dst, 0, poff])
            return nreg
        raise AssertionError(self.name)


def parse(spec: str) -> Node:
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError("compressor spec must be a non-empty string such as "
                         "'rand-k(q=0.1)'; allowed names: " + ", ".join(sorted(REGISTRY)))
    p = _Parser(spec)
    node = p.spec()
    if p.peek() is not None:
        raise ValueError(f"compressor spec {spec!r}: unexpected {p.peek()!r} after "
                         f"{node.canonical()!r}")
    return node


def list_compressors():
    """Rows for ``python -m shiftbench compressors``."""
    rows = []
    for name, e in REGISTRY.items():
        node = parse(e.example)
        d_ref = 1000
        c = node.claims(d_ref)
        rows.append({
            "name": name, "syntax": e.syntax, "example": e.example,
            "summary": e.summary, "kind": c.kind, "omega": c.omega,
            "delta": c.delta, "b1": list(c.b1) if c.b1 else None,
            "b2": list(c.b2) if c.b2 else None, "b3": c.b3,
            "claims_at_d": d_ref, "depends_on_d": node.depends_on_d(),
            "source": c.source, "bit_cost": e.bit_cost,
            "aliases": list(e.aliases),
        })
    return rows
