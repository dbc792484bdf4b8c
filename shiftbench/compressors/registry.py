"""One registry and one parser for compressors.

``compressor("rand-k(q=0.1)")`` parses a spec string into a
:class:`~shiftbench.compressors.core.Compressor`: a compiled *program* (see
:mod:`.kernels.program`) plus the constants the literature claims for it.
Specs are case- and space-tolerant; an unknown name or a bad parameter raises
a one-line ``ValueError`` naming what is allowed.

Grammar::

    spec   := name [ "(" arg ("," arg)* ")" ]
    arg    := key "=" number  |  spec            (nested specs: composites)

Each compressor is ONE :class:`Definition` (the built-ins are in
:mod:`.builtins`, users add theirs with
:func:`shiftbench.register_compressor`): name, parameter schema
(:class:`Param`: type, allowed range, default, help), packing into the
kernel's parameter vector, claimed constants with their source,
``depends_on_d``, bit cost, the compiled kernel, the NumPy reference and a
vectorised NumPy baseline.  The parser, the CLI listing, the verifier and the
benchmarks all read it from there.

Claimed constants are functions of the dimension d.  Each claim carries its
source: ``paper`` (stated in a source paper), ``derived`` (a short proof in
the definition's note or the kernel's docstring), ``reconstructed`` or
``user`` (registered by a user, measured by ``verify-compressors``).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np

from .kernels import program as P

VALUE_BITS = (32, 64)
S_MAX = 2 ** 31          # most levels of (natural) dithering
K_MAX = 2 ** 53          # k is exact as a float64 up to here (and must be <= d anyway)


# ----------------------------------------------------------------------------
# claims

@dataclass(frozen=True)
class Claims:
    """Constants claimed for a compressor at dimension d.

    ``omega``: C in U(omega) (unbiased, E||C(x)-x||^2 <= omega ||x||^2).
    ``delta``: C in B(delta) (E||C(x)-x||^2 <= (1-delta)||x||^2).
    ``b1`` = (alpha, beta), ``b2`` = (gamma, beta), ``b3`` = delta >= 1 in the
    classes B1, B2, B3 of Beznosikov, Horváth, Richtárik & Safaryan, "On
    biased compression for distributed learning" (Definitions 2-4).
    ``None`` where no claim is made.
    """
    kind: str                       # "unbiased" | "contractive" | "biased"
    omega: Optional[float] = None
    delta: Optional[float] = None
    b1: Optional[tuple] = None
    b2: Optional[tuple] = None
    b3: Optional[float] = None
    source: str = "paper"
    note: str = ""

    def as_dict(self):
        return {"kind": self.kind, "omega": self.omega, "delta": self.delta,
                "b1": list(self.b1) if self.b1 else None,
                "b2": list(self.b2) if self.b2 else None,
                "b3": self.b3, "source": self.source, "note": self.note}


def unbiased(omega, source="paper", note=""):
    """U(omega): Beznosikov et al.'s U(zeta) with zeta = 1 + omega; their
    table (lambda = 1) gives B1(1, zeta) and B2(1, zeta)."""
    z = 1.0 + omega
    return Claims("unbiased", omega=omega, b1=(1.0, z), b2=(1.0, z),
                  source=source, note=note)


def contractive(delta, source="paper", note="", b1=None, b2=None):
    """B(delta) = B3(1/delta); without a sharper claim, the table of
    Beznosikov et al. gives B1(delta^2/4, 2) and B2(delta/2, 2)."""
    if delta <= 0:
        return Claims("biased", delta=delta, source=source, note=note)
    b3 = 1.0 / delta
    if b1 is None:
        b1 = (1.0 / (4.0 * b3 * b3), 2.0)
    if b2 is None:
        b2 = (1.0 / (2.0 * b3), 2.0)
    return Claims("contractive", delta=delta, b1=b1, b2=b2, b3=b3,
                  source=source, note=note)


# kept for callers of the old private names
_unbiased, _contractive = unbiased, contractive


# ----------------------------------------------------------------------------
# parameter schema

def _fmt(v):
    if v == math.inf:
        return "inf"
    if float(v).is_integer() and abs(v) < 1e16:
        return str(int(v))
    return repr(float(v))


@dataclass(frozen=True)
class Param:
    """One numeric parameter of a compressor spec.

    Attributes
    ----------
    name, help : str
    default : float or None
        ``None``: required (or one of the definition's ``one_of`` group).
    kind : {"float", "int", "choice"}
    lo, hi : float or None
        Allowed range (``None``: unbounded on that side); ``lo_open`` /
        ``hi_open`` make the bound strict.
    inf_ok : bool
        Also accept +inf (e.g. the inf-norm).
    choices : tuple
        The allowed values of a ``choice`` parameter.
    le_d : bool
        The value may not exceed the dimension d (checked when d is known).
    """
    name: str
    help: str = ""
    default: Optional[float] = None
    kind: str = "float"
    lo: Optional[float] = None
    hi: Optional[float] = None
    lo_open: bool = False
    hi_open: bool = False
    inf_ok: bool = False
    choices: tuple = ()
    le_d: bool = False

    def allowed(self):
        """The allowed values as text, e.g. ``0 < q <= 1`` or ``32 or 64``."""
        n = self.name
        if self.kind == "choice":
            return " or ".join(_fmt(c) for c in self.choices)
        if self.kind == "int":
            t = f"an integer >= {_fmt(self.lo if self.lo is not None else -math.inf)}"
            if self.le_d:
                t += " and <= d"
            elif self.hi is not None:
                t += f" and <= {_fmt(self.hi)}"
            return t
        if self.lo is not None and self.hi is not None:
            return (f"{_fmt(self.lo)} {'<' if self.lo_open else '<='} {n} "
                    f"{'<' if self.hi_open else '<='} {_fmt(self.hi)}")
        if self.lo is not None:
            rel = ">" if self.lo_open else ">="
            return (f"{rel} {_fmt(self.lo)} or inf" if self.inf_ok
                    else f"a finite number {rel} {_fmt(self.lo)}")
        return "a finite number"

    def _verb(self):
        return "satisfy" if (self.kind == "float" and self.lo is not None
                             and self.hi is not None) else "be"

    def check(self, v, where):
        """``v`` (a float) if allowed, else a one-line ValueError."""
        ok = not math.isnan(v)
        if ok and self.kind == "choice":
            ok = v in self.choices
        elif ok and v == math.inf:
            ok = self.inf_ok
        elif ok:
            ok = math.isfinite(v)
            if ok and self.kind == "int":
                ok = float(v).is_integer()
            if ok and self.lo is not None:
                ok = v > self.lo if self.lo_open else v >= self.lo
            if ok and self.hi is not None:
                ok = v < self.hi if self.hi_open else v <= self.hi
        if not ok:
            raise ValueError(f"{where}: {self.name} must {self._verb()} {self.allowed()}, "
                             f"got {_fmt(v) if not math.isnan(v) else 'nan'}")
        return float(v)

    def describe(self):
        """One line for listings: ``name: help (allowed; default)``."""
        d = "" if self.default is None else f"; default {_fmt(self.default)}"
        return f"{self.name}: {self.help} ({self.allowed()}{d})"


K_PARAM = Param("k", "number of kept coordinates", kind="int", lo=1, hi=K_MAX, le_d=True)
Q_PARAM = Param("q", "fraction of kept coordinates (K = round(q d))", lo=0.0, hi=1.0,
                lo_open=True)
BITS_PARAM = Param("bits", "bits per value", default=32.0, kind="choice", choices=VALUE_BITS)


# ----------------------------------------------------------------------------
# definitions

@dataclass
class Definition:
    """Everything about one compressor, in one place.

    Attributes
    ----------
    name : str
        Canonical name (lower case; letters, digits, ``-``, ``_``, ``.``).
    kernel : numba dispatcher or None
        Built-ins: ``kern(x, out, params, rng, iwork, mark) -> (bits_full,
        bits_values)`` (:data:`~.kernels.program.KERNEL_SIG`); users'
        compressors (``user=True``): ``f(x, out, params, rng)``
        (:data:`~.kernels.program.USER_SIG`).  ``None`` for composites.
    summary, example, bit_cost : str
        One-line description, a valid spec, and the message size in words.
    params : tuple of Param
        The schema, in the order of the canonical form.
    one_of : tuple of str
        Parameters of which exactly one must be given (k or q).
    pack : callable
        ``pack(values) -> list of float``: the kernel's parameter vector
        from the parameter values (defaults filled in); default: the values
        in declared order.
    claims : callable
        ``claims(values, d) -> Claims``.
    depends_on_d : bool or callable
        Whether the claims change with d (``callable(values) -> bool``).
    deterministic : bool
        Draws no random numbers (Monte Carlo needs one trial).
    sparse : numba dispatcher, optional
        ``sparse(x, params, rng, iwork, mark, idx, vals) -> (m, bits_full,
        bits_values)``: the same message as ``kernel`` as (indices, values).
    reference : callable, optional
        The exact NumPy/Python reference ``reference(x, values, rng) ->
        (y, bits_full, bits_values)`` (``rng`` a
        :class:`shiftbench.naive.compressors.Rng`).
    vectorised : callable, optional
        ``vectorised(values, d, sparse) -> f(x, gen)``: an idiomatic
        vectorised NumPy version (a speed baseline, not bit-identical).
    nkids : int
        Nested compressors (composites only).
    user : bool
        Registered by a user (kernel with the user signature).
    """
    name: str
    kernel: Any = None
    summary: str = ""
    example: str = ""
    bit_cost: str = ""
    params: tuple = ()
    one_of: tuple = ()
    pack: Optional[Callable] = None
    claims: Optional[Callable] = None
    depends_on_d: Any = False
    deterministic: bool = False
    sparse: Any = None
    reference: Optional[Callable] = None
    vectorised: Optional[Callable] = None
    aliases: tuple = ()
    nkids: int = 0
    user: bool = False
    syntax: str = ""

    def __post_init__(self):
        if not self.syntax:
            self.syntax = self._syntax()
        if not self.example:
            self.example = self.name

    @property
    def composite(self):
        return self.nkids > 0

    @property
    def keys(self):
        """Parameter name -> one-line description."""
        return {p.name: p.describe() for p in self.params}

    def param(self, name):
        for p in self.params:
            if p.name == name:
                return p
        return None

    def _syntax(self):
        kids = {0: [], 1: ["C"], 2: ["C", "Q"] if self.name == "induced" else ["C2", "C1"]}
        req = list(kids.get(self.nkids, [f"C{i + 1}" for i in range(self.nkids)]))
        if self.one_of:
            req.append(" | ".join(f"{n}={n.upper()}" for n in self.one_of))
        opt = []
        for p in self.params:
            if p.name in self.one_of:
                continue
            val = ("|".join(_fmt(c) for c in p.choices) if p.kind == "choice"
                   else p.name.upper())
            (opt if p.default is not None else req).append(f"{p.name}={val}")
        if not req and not opt:
            return self.name
        inner = ", ".join(req)
        if opt:
            inner = (inner + "[, " if inner else "[") + ", ".join(opt) + "]"
        return f"{self.name}({inner})" if req else f"{self.name}[({inner[1:-1]})]"

    def values(self, given):
        """Parameter values with the defaults filled in (``one_of``
        parameters only when given)."""
        out = {}
        for p in self.params:
            if p.name in given:
                out[p.name] = given[p.name]
            elif p.default is not None:
                out[p.name] = p.default
        return out

    def packed(self, given):
        """The kernel's float64 parameter vector for these parameters."""
        v = self.values(given)
        if self.pack is not None:
            return [float(a) for a in self.pack(v)]
        return [float(v[p.name]) for p in self.params]

    def is_d_dependent(self, given):
        dd = self.depends_on_d
        return bool(dd(self.values(given)) if callable(dd) else dd)


REGISTRY: dict[str, Definition] = {}
_ALIASES: dict[str, str] = {}
_NAME = re.compile(r"^[a-z][a-z0-9_.+\-]*$")


def register(defn: Definition, replace=False):
    """Add a :class:`Definition` (and its aliases) to the registry.

    A name or alias already taken raises ``ValueError`` unless ``replace``
    and the taken name belongs to a user compressor of the same name.
    """
    names = (defn.name,) + tuple(defn.aliases)
    for n in names:
        if not _NAME.match(n):
            raise ValueError(f"compressor name {n!r} is not allowed; use lower-case letters, "
                             f"digits and '-', starting with a letter (e.g. 'half-sign')")
        owner = _ALIASES.get(n)
        if owner is not None and not (replace and owner == defn.name
                                      and REGISTRY[owner].user):
            raise ValueError(f"compressor name {n!r} is taken (by {owner!r}); "
                             f"choose another name")
    if defn.name in REGISTRY:
        for a in REGISTRY[defn.name].aliases:
            _ALIASES.pop(a, None)
    REGISTRY[defn.name] = defn
    for n in names:
        _ALIASES[n] = defn.name
    return defn


# ----------------------------------------------------------------------------
# composites: claims

def _induced_claims(cc: Claims, qc: Claims, d):
    """C in B(delta), Q in U(omega) => induced in U(omega(1-delta))
    (Shulgin & Richtárik, Shifted compression framework, UAI 2022, footnote 1)."""
    if qc.omega is None or cc.delta is None:
        return Claims("unbiased" if qc.kind == "unbiased" else "biased",
                      note="no claim: needs C in B(delta) and Q in U(omega)")
    return unbiased(qc.omega * (1.0 - cc.delta), source="paper",
                    note="Shulgin & Richtárik, UAI 2022, footnote 1")


def _compose_claims(c2: Claims, c1: Claims, d):
    """U(w1) then U(w2): unbiased with omega = (1+w1)(1+w2) - 1
    (= 9w/8 + 1/8 for C_nat o Q)."""
    if c1.omega is not None and c2.omega is not None:
        return unbiased((1 + c1.omega) * (1 + c2.omega) - 1.0, source="derived",
                        note="E||C2(C1 x)||^2 <= (1+w2)(1+w1)||x||^2")
    return Claims("biased", note="no closed-form claim; measure it")


def _scale_claims(c: Claims, lam, d):
    """The scaling table of Beznosikov et al. (On biased compression for
    distributed learning): U(zeta) -> lam C in B1(lam^2, lam zeta),
    B2(lam, lam zeta); B1(a,b) -> B1(lam^2 a, lam b); B2(g,b) -> B2(lam g, lam b).
    For C in U(omega): E||lam C(x) - x||^2 = (1 - lam(2 - lam(1+omega)))||x||^2,
    so lam C in B(lam(2 - lam(1+omega))) when that is positive."""
    note = "scaling table of Beznosikov et al., On biased compression"
    if c.omega is not None and c.kind == "unbiased":
        z = 1.0 + c.omega
        dl = lam * (2.0 - lam * z)
        b3 = 1.0 / dl if dl > 0 else None
        return Claims("contractive" if dl > 0 else "biased", delta=dl if dl > 0 else None,
                      b1=(lam * lam, lam * z), b2=(lam, lam * z), b3=b3,
                      source="paper", note=note)
    b1 = (lam * lam * c.b1[0], lam * c.b1[1]) if c.b1 else None
    b2 = (lam * c.b2[0], lam * c.b2[1]) if c.b2 else None
    return Claims("biased", b1=b1, b2=b2, source="paper", note=note)


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
    if tok.lower() in _ALIASES:
        return _ALIASES[tok.lower()]
    raise ValueError(f"unknown compressor {tok!r} in {full!r}; allowed: "
                     + ", ".join(sorted(REGISTRY)))


def _num(tok, key, full):
    t = tok.lower()
    try:
        v = math.inf if t in ("inf", "infinity", "+inf") else float(t)
    except ValueError:
        v = math.nan
    if math.isnan(v):
        raise ValueError(f"compressor spec {full!r}: {key}={tok!r} is not a number")
    return v


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
                    if key in kw:
                        raise ValueError(f"compressor spec {self.full!r}: {name}: parameter "
                                         f"{key!r} given twice; give each parameter once")
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

@dataclass
class Node:
    name: str
    params: dict = field(default_factory=dict)     # the parameters given (validated)
    kids: list = field(default_factory=list)

    @property
    def definition(self) -> Definition:
        return REGISTRY[self.name]

    @staticmethod
    def build(name, kw, kids, full):
        e = REGISTRY[name]
        where = f"compressor spec {full!r}: {name}"
        for k in kw:
            if e.param(k) is None:
                allowed = ", ".join(p.name for p in e.params) or "none"
                raise ValueError(f"{where}: unknown parameter {k!r}; allowed: {allowed}")
        if len(kids) != e.nkids:
            raise ValueError(f"{where} takes {e.nkids} nested compressor(s) "
                             f"({e.syntax}), got {len(kids)}")
        pr = {}
        for k, v in kw.items():
            pr[k] = e.param(k).check(_num(v, k, full), where)
        if e.one_of and sum(k in pr for k in e.one_of) != 1:
            raise ValueError(f"{where}: give exactly one of "
                             + " or ".join(f"{n} ({e.param(n).allowed()})" for n in e.one_of))
        for p in e.params:
            if p.default is None and p.name not in e.one_of and p.name not in pr:
                raise ValueError(f"{where}: needs {p.name} ({p.allowed()})")
        return Node(name, pr, kids)

    # -- properties of the tree ---------------------------------------------
    def values(self):
        """Parameter values with defaults filled in."""
        return self.definition.values(self.params)

    def canonical(self):
        """Unique spec string: schema order, explicit defaults dropped."""
        e = self.definition
        args = [k.canonical() for k in self.kids]
        for p in e.params:
            if p.name in self.params and self.params[p.name] != p.default:
                args.append(f"{p.name}={_fmt(self.params[p.name])}")
        return self.name + (f"({', '.join(args)})" if args else "")

    def check_d(self, d):
        for p in self.definition.params:
            if p.le_d and p.name in self.params and self.params[p.name] > d:
                raise ValueError(f"{self.canonical()}: {p.name.upper()} = "
                                 f"{int(self.params[p.name])} > d = {d}; "
                                 f"allowed 1 <= {p.name.upper()} <= d")
        for c in self.kids:
            c.check_d(d)

    def claims(self, d) -> Claims:
        if self.name == "induced":
            return _induced_claims(self.kids[0].claims(d), self.kids[1].claims(d), d)
        if self.name == "compose":
            return _compose_claims(self.kids[0].claims(d), self.kids[1].claims(d), d)
        if self.name == "scale":
            return _scale_claims(self.kids[0].claims(d), self.params["lam"], d)
        e = self.definition
        if e.claims is None:
            return Claims("biased", source="user", note="no claim; measure it")
        return e.claims(self.values(), d)

    def depends_on_d(self):
        if not self.kids:
            return self.definition.is_d_dependent(self.params)
        return any(c.depends_on_d() for c in self.kids)

    def deterministic(self):
        """True if the tree draws no random numbers."""
        if self.kids:
            return all(k.deterministic() for k in self.kids)
        return self.definition.deterministic

    def value_bits(self):
        """Bits per value of a full vector: the widest ``bits`` of the
        primitives (32 when none has one)."""
        if self.kids:
            return max(k.value_bits() for k in self.kids)
        return int(self.values().get("bits", 32))

    def primitives(self):
        """The primitive nodes, in emission order."""
        if not self.kids:
            return [self]
        return [p for k in self.kids for p in k.primitives()]

    # -- compilation to a program -------------------------------------------
    def emit(self, ops, params, kernels, ukernels, src, dst, nreg):
        """Append ops computing dst = self(src); returns registers used.

        ``kernels`` / ``ukernels`` collect the distinct built-in and user
        kernels; an op names its kernel by its index in that list (its slot).
        """
        e = self.definition
        if not e.nkids:
            pk = e.packed(self.params)
            table = ukernels if e.user else kernels
            if e.kernel not in table:
                table.append(e.kernel)
            poff = len(params)
            params.extend(pk)
            ops.append([P.OP_UPRIM if e.user else P.OP_PRIM, table.index(e.kernel),
                        src, dst, 0, poff, len(pk), 0])
            return nreg
        if self.name == "induced":
            # dst = C(x); r1 = x - dst; r2 = Q(r1); dst = dst + r2.  C writes
            # dst itself, so the sum is in place, and both the residual and
            # the sum touch only the listed support when the primitive before
            # them lists one (the interpreter's support hint)
            c, q = self.kids
            r1, r2 = nreg, nreg + 1
            nreg += 2
            nreg = c.emit(ops, params, kernels, ukernels, src, dst, nreg)
            ops.append([P.OP_SUB, 0, src, r1, dst, 0, 0, 0])
            nreg = q.emit(ops, params, kernels, ukernels, r1, r2, nreg)
            ops.append([P.OP_ADD, 0, dst, dst, r2, 0, 0, 0])
            return nreg
        if self.name == "compose":
            outer, inner = self.kids
            r0 = nreg
            nreg += 1
            n0 = len(ops)
            nreg = inner.emit(ops, params, kernels, ukernels, src, r0, nreg)
            # only the outer's message travels: the inner's primitives are
            # silent (their bits are not counted); bits of earlier messages
            # in the program (e.g. C of induced(C, compose(..))) are kept
            for j in range(n0, len(ops)):
                if ops[j][0] in (P.OP_PRIM, P.OP_UPRIM):
                    ops[j][P.C_SILENT] = 1
            nreg = outer.emit(ops, params, kernels, ukernels, r0, dst, nreg)
            return nreg
        if self.name == "scale":
            (c,) = self.kids
            nreg = c.emit(ops, params, kernels, ukernels, src, dst, nreg)
            poff = len(params)
            params.append(self.params["lam"])
            ops.append([P.OP_SCALE, 0, dst, dst, 0, poff, 1, 0])
            return nreg
        raise AssertionError(self.name)


def parse(spec) -> Node:
    """Parse a spec string into a :class:`Node` tree (one-line ValueError
    for anything else, naming what is allowed)."""
    if not isinstance(spec, str):
        _not_a_spec(spec)
    if not spec.strip():
        raise ValueError("compressor spec must be a non-empty string such as "
                         "'rand-k(q=0.1)'; allowed names: " + ", ".join(sorted(REGISTRY)))
    p = _Parser(spec)
    node = p.spec()
    if p.peek() is not None:
        raise ValueError(f"compressor spec {p.full!r}: unexpected {p.peek()!r} after "
                         f"{node.canonical()!r}")
    return node


_HOW = ("register your own compressor with shiftbench.register_compressor(name, kernel, "
        "params=...) and pass its spec string, e.g. 'half-sign(c=0.5)'")


def _not_a_spec(obj):
    """The one-line error for an object given where a spec string is expected."""
    if callable(obj) and not isinstance(obj, type):
        what = f"a Python function ({getattr(obj, '__name__', type(obj).__name__)})"
        raise ValueError(f"compressor spec must be a string, got {what}; {_HOW}")
    if isinstance(obj, type):
        raise ValueError(f"compressor spec must be a string, got the class {obj.__name__}; "
                         f"{_HOW}")
    raise ValueError(f"compressor spec must be a non-empty string such as 'rand-k(q=0.1)', "
                     f"got {type(obj).__name__}; allowed names: " + ", ".join(sorted(REGISTRY)))


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
            "aliases": list(e.aliases), "user": e.user,
            "params": [p.describe() for p in e.params],
        })
    return rows


from . import builtins  # noqa: E402,F401  (registers the built-in primitives)

register(Definition(
    "induced", nkids=2, example="induced(top-k(k=2), rand-k(k=4))",
    summary="induced compressor C(x) + Q(x - C(x)) (C biased, Q unbiased)",
    bit_cost="bits(C) + bits(Q)"))
register(Definition(
    "compose", nkids=2, example="compose(natural, rand-k(q=0.1))",
    summary="composition C2(C1(x)): the message is C2's encoding of C1's output",
    bit_cost="bits(C2 applied to C1's output)", aliases=("composition",)))
register(Definition(
    "scale", nkids=1, example="scale(rand-k(q=0.5), lam=0.5)",
    summary="lam * C(x)", bit_cost="bits(C)", aliases=("scaled",),
    params=(Param("lam", "scaling factor", lo=0.0, lo_open=True),)))
