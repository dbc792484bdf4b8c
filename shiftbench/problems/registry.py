"""One registry and one parser for problems.

``make("quadratic(kappa=100, n=10, d=50, hetero=1)")`` parses a spec string
and builds the :class:`~.base.Problem`.  Specs follow the compressor specs
(:mod:`shiftbench.compressors.registry`): case- and space-tolerant names and
keys (``_`` and ``-`` interchangeable), and an unknown name or parameter, or
a bad value, raises a one-line ``ValueError`` naming what is allowed.

Grammar::

    spec  := name [ "(" [ arg ("," arg)* ] ")" ]
    arg   := key "=" value
    value := number | path | 'quoted' | "quoted"

A path is any run of characters other than ``,``, ``(``, ``)``, ``=``,
quotes and spaces (so ``/``, ``.``, ``-``, ``~`` are fine); quote it if it
contains anything else: ``logreg(data="/tmp/my data, v2.txt")`` (single or
double quotes).  Or pass it apart from the spec, which needs no quoting:
``make("logreg(lam=0.1)", data="/tmp/my data, v2.txt")``;
:func:`spec_with` gives the spec string of such a call (quoted as needed),
e.g. for a results key.  Values keep their case.

Every numeric parameter has a documented range (``python -m shiftbench
problems`` shows it), checked when the spec is parsed, before anything is
allocated; the builders also estimate their memory against the memory
available (:mod:`.memory`).  A key given twice is an error.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from typing import Callable

from . import sources
from .logreg import logreg as _logreg, logreg_nc as _logreg_nc
from .lsq import lsq as _lsq
from .quadratic import divergence3 as _divergence3, quadratic as _quadratic
from .ridge import ridge as _ridge


@dataclass
class Param:
    type: str                   # "int" | "float" | "bool" | "path" | "choice"
    default: object
    help: str
    lo: object = None           # inclusive lower bound of a number (None: none)
    hi: object = None           # bound above (None: none)
    hi_open: bool = False       # True: hi itself is excluded
    lo_open: bool = False       # True: lo itself is excluded
    choices: tuple = ()         # allowed values of a "choice"

    @property
    def range(self):
        """The allowed values, in words (e.g. ``"[1, inf)"``, ``"0 or 1"``)."""
        if self.type == "bool":
            return "0 or 1"
        if self.type == "choice":
            return " | ".join(self.choices)
        if self.type == "path":
            return "a file path or data set name"
        lo = "-inf" if self.lo is None else _show(self.lo)
        hi = "inf" if self.hi is None else _show(self.hi)
        return (f"{'(' if self.lo is None or self.lo_open else '['}{lo}, {hi}"
                f"{')' if self.hi is None or self.hi_open else ']'}")


@dataclass
class Entry:
    name: str
    build: Callable
    summary: str
    example: str
    params: dict                # key -> Param
    aliases: tuple = ()
    source: str = ""
    needs: str = ""             # optional extra needed, e.g. "data"

    @property
    def syntax(self):
        if not self.params:
            return self.name
        return self.name + "(" + ", ".join(f"{k}={_show(p.default)}"
                                           for k, p in self.params.items()) + ")"


def _show(v):
    if v is None:
        return "None"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, int) and v >= 2 ** 20 and v & (v - 1) == 0:
        return f"2^{v.bit_length() - 1}"
    return str(v)


REGISTRY: dict[str, Entry] = {}
_ALIASES: dict[str, str] = {}


def register(e: Entry):
    REGISTRY[e.name] = e
    for a in (e.name,) + tuple(e.aliases):
        _ALIASES[_key(a)] = e.name


def _key(s):
    return re.sub(r"[\s_\-]+", "-", s.strip().lower())


_INT = 2 ** 31            # sizes: workers, rows, features
_SEED = 2 ** 63

_LOGREG_PARAMS = {
    "data": Param("path", None, "LIBSVM file path, or a bare name (a9a, mushrooms, phishing) "
                                "looked up in $SHIFTBENCH_DATA; quote a path with spaces, "
                                "commas or parentheses"),
    "lam": Param("float", 0.1, "regulariser weight", 0.0),
    "n": Param("int", 20, "workers (contiguous blocks, see split)", 1, _INT, True),
    "synthetic": Param("bool", 0, "1: generated data instead of a file"),
    "N": Param("int", 1000, "synthetic: number of rows", 2, _INT, True),
    "d": Param("int", 20, "synthetic: number of features", 1, _INT, True),
    "seed": Param("int", 0, "synthetic: seed", 0, _SEED, True),
    "split": Param("choice", "drop", "remainder rows: drop them, give them to the last "
                                     "worker, or balance (sizes differ by <= 1)",
                   choices=("drop", "last", "balanced")),
    "zero_based": Param("bool", 0, "1: the LIBSVM file's indices are 0-based (default "
                                   "1-based; an index 0 is then an error)"),
}

register(Entry(
    "ridge", _ridge,
    "ridge regression of Shulgin & Richtárik (UAI 2022, §4): make_regression(m, d), "
    "lam = 1/m, random equal split",
    "ridge(seed=3)",
    {"seed": Param("int", 0, "fixes the data, the split and x0 ~ N(0, 10)", 0, 2 ** 32, True),
     "m": Param("int", 100, "samples", 1, _INT, True),
     "d": Param("int", 80, "features", 1, _INT, True),
     "n": Param("int", 10, "workers (<= m)", 1, _INT, True),
     "lam": Param("float", None, "regulariser (default 1/m)", 0.0)},
    source=sources.RIDGE, needs="data"))
register(Entry(
    "quadratic", _quadratic,
    "strongly convex quadratic with exact kappa = L/mu, heterogeneity and interpolation knobs; "
    "closed-form constants (quadratic(d=2000) builds in ~2 s)",
    "quadratic(kappa=100, n=10, d=50, hetero=1)",
    {"kappa": Param("float", 10.0, "condition number L/mu >= 1", 1.0),
     "n": Param("int", 10, "workers", 1, _INT, True),
     "d": Param("int", 20, "dimension", 1, _INT, True),
     "hetero": Param("float", 0.0, "heterogeneity >= 0 (0: identical workers)", 0.0),
     "interp": Param("bool", 0, "1: grad f_i(x*) = 0 for all i (x* = 0)"),
     "seed": Param("int", 0, "seed", 0, _SEED, True),
     "L": Param("float", 1.0, "smoothness of f (mu = L/kappa)", 0.0, lo_open=True),
     "lmax_ratio": Param("float", None, "target L_max/L in [1, n] (sets the Hessian mixing "
                                         "t = (lmax_ratio - 1)/(n - 1))", 1.0)},
    aliases=("quad", "quadratics"), source=sources.QUADRATIC))
register(Entry(
    "logreg", _logreg,
    "L2-regularised logistic regression on a LIBSVM file (x*, f* to ~1e-15)",
    "logreg(data=a9a, lam=0.1, n=20)", dict(_LOGREG_PARAMS),
    aliases=("logistic", "logreg-l2"), source=sources.LOGREG, needs="data"))
register(Entry(
    "logreg-nc", _logreg_nc,
    "nonconvex logistic regression of the EF21/3PC experiments: lam sum x_k^2/(1+x_k^2)",
    "logreg-nc(data=a9a, lam=0.1, n=20)", dict(_LOGREG_PARAMS),
    aliases=("logregnc", "logreg-nonconvex", "nonconvex-logreg", "ncvx-logreg"),
    source=sources.LOGREG_NC, needs="data"))
register(Entry(
    "divergence3", _divergence3,
    "Beznosikov et al.'s n = d = 3 example where distributed CGD with Top-1 diverges",
    "divergence3(t=1)",
    {"t": Param("float", 1.0, "start x0 = (t, t, t); finite")},
    aliases=("divergence-3", "div3", "divergence"), source=sources.DIVERGENCE3))

register(Entry(
    "lsq", _lsq,
    "synthetic least squares of any size (Gaussian A, n workers x rows rows) with exact "
    "constants from N x N Gram matrices, for speed work; data 8 N d bytes",
    "lsq(n=16, d=1000000, rows=10)",
    {"n": Param("int", 16, "workers", 1, _INT, True),
     "d": Param("int", 1000000, "dimension", 1, _INT, True),
     "rows": Param("int", 10, "rows per worker (N = n rows)", 1, _INT, True),
     "seed": Param("int", 0, "fixes A, b and x0", 0, _SEED, True),
     "lam": Param("float", None, "regulariser (default 1/N)", 0.0, lo_open=True)},
    aliases=("large-lsq", "synthetic-lsq", "least-squares"), source=sources.LSQ))

# ----------------------------------------------------------------------------
# parser

_TOKEN = re.compile(r"""\s*(?:(\()|(\))|(,)|(=)|'([^']*)'|"([^"]*)"|([^\s(),='"]+))""")


def _tokenize(s):
    toks = []                   # (kind, text): kind in "()=,", "q" quoted, "w" word
    pos = 0
    s = s.strip()
    while pos < len(s):
        m = _TOKEN.match(s, pos)
        if not m or m.end() == pos:
            raise ValueError(f"problem spec {s!r}: cannot parse at {s[pos:]!r}; expected "
                             f"name(key=value, ...), e.g. 'ridge(seed=3)'")
        g = m.groups()
        if g[0] or g[1] or g[2] or g[3]:
            t = next(x for x in g[:4] if x)
            toks.append((t, t))
        elif g[4] is not None or g[5] is not None:
            toks.append(("q", g[4] if g[4] is not None else g[5]))
        else:
            toks.append(("w", g[6]))
        pos = m.end()
        while pos < len(s) and s[pos].isspace():
            pos += 1
    return toks


def _lookup(name, full):
    k = _key(name)
    if k in _ALIASES:
        return REGISTRY[_ALIASES[k]]
    raise ValueError(f"unknown problem {name!r} in {full!r}; allowed: "
                     + ", ".join(REGISTRY))


def _convert(e: Entry, key, raw, full):
    p = e.params[key]
    where = f"problem spec {full!r}: {e.name}"
    if p.type == "path":
        if raw == "":
            raise ValueError(f"{where}: {key} must not be empty")
        if "\0" in raw:
            raise ValueError(f"{where}: {key} must not contain a NUL character")
        return raw
    t = raw.strip().lower()
    if p.type == "choice":
        if t in p.choices:
            return t
        raise ValueError(f"{where}: {key}={raw!r}; allowed: {', '.join(p.choices)}")
    if p.default is None and t in ("none", ""):
        return None
    try:
        v = math.inf if t in ("inf", "+inf", "infinity") else float(t)
    except ValueError:
        raise ValueError(f"{where}: {key}={raw!r} is not a number") from None
    if math.isnan(v):
        raise ValueError(f"{where}: {key} must be a number in {p.range}, got {raw!r}")
    if p.type in ("int", "bool"):
        if not (math.isfinite(v) and v.is_integer()):
            raise ValueError(f"{where}: {key} must be an integer, got {raw!r}")
        # exact for integer literals beyond 2^53 (float() would round them)
        v = int(t) if re.fullmatch(r"[+-]?\d+", t) else int(v)
        if p.type == "bool" and v not in (0, 1):
            raise ValueError(f"{where}: {key} must be 0 or 1, got {raw!r}")
    if p.type in ("int", "float"):
        bad = not math.isfinite(v)
        if p.lo is not None:
            bad = bad or (v <= p.lo if p.lo_open else v < p.lo)
        if p.hi is not None:
            bad = bad or (v >= p.hi if p.hi_open else v > p.hi)
        if bad:
            what = "an integer" if p.type == "int" else "a finite number"
            raise ValueError(f"{where}: {key} must be {what} in {p.range}, got {raw!r}")
    return v


def _canon_key(e: Entry, key, full):
    k = key.strip()
    for cand in (k, k.lower(), k.replace("-", "_"), k.lower().replace("-", "_")):
        if cand in e.params:
            return cand
    low = {p.lower(): p for p in e.params}
    if k.lower().replace("-", "_") in low:
        return low[k.lower().replace("-", "_")]
    allowed = ", ".join(e.params) or "none"
    raise ValueError(f"problem spec {full!r}: {e.name}: unknown parameter {key!r}; "
                     f"allowed: {allowed}")


def parse(spec):
    """Parse a spec string into ``(entry, kwargs)`` without building anything."""
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"problem spec {spec!r}: expected a non-empty string such as "
                         f"'ridge(seed=3)'; allowed names: {', '.join(REGISTRY)}")
    full = spec
    toks = _tokenize(spec)
    i = 0

    def peek():
        return toks[i][0] if i < len(toks) else None

    def take(expect):
        nonlocal i
        got = peek()
        if got != expect:
            shown = toks[i][1] if i < len(toks) else "end of input"
            raise ValueError(f"problem spec {full!r}: expected {expect!r}, got {shown!r}")
        i += 1
        return toks[i - 1][1]

    name = take("w")
    e = _lookup(name, full)
    kw = {}
    if peek() == "(":
        take("(")
        while peek() != ")":
            key = take("w")
            take("=")
            if peek() in ("w", "q"):
                raw = toks[i][1]
                i += 1
            else:
                shown = toks[i][1] if i < len(toks) else "end of input"
                raise ValueError(f"problem spec {full!r}: expected a value for {key}, "
                                 f"got {shown!r}")
            ck = _canon_key(e, key, full)
            if ck in kw:
                raise ValueError(f"problem spec {full!r}: {e.name}: {ck} given twice")
            kw[ck] = _convert(e, ck, raw, full)
            if peek() == ",":
                take(",")
            elif peek() != ")":
                take(")")
        take(")")
    if i != len(toks):
        raise ValueError(f"problem spec {full!r}: unexpected {toks[i][1]!r} after the spec")
    return e, kw


def _quote(s):
    """A path as a spec value: bare when it has no special character, else quoted."""
    if s and not re.search(r"[\s(),='\"]", s):
        return s
    if "'" not in s:
        return f"'{s}'"
    if '"' not in s:
        return f'"{s}"'
    return None


def canonical(e: Entry, kw):
    """Spec string of the given parameters, in the registry's order.

    A path that contains both quote characters cannot be written in a spec;
    it is shown with ``repr`` (informative, but not parseable): pass such a
    path apart from the spec, ``make(spec, data=path)``.
    """
    args = []
    for k in e.params:
        if k in kw:
            v = kw[k]
            if isinstance(v, float):
                s = f"{v:g}" if float(f"{v:g}") == v else repr(v)    # round-trips
            else:
                s = str(v)
            if e.params[k].type == "path" and v is not None:
                q = _quote(str(v))
                s = q if q is not None else repr(str(v))
            args.append(f"{k}={s}")
    return e.name + (f"({', '.join(args)})" if args else "")


def _apply(spec, overrides):
    e, kw = parse(spec)
    for k, v in overrides.items():
        ck = _canon_key(e, k, spec)
        if v is None:
            kw[ck] = None
            continue
        if isinstance(v, bool):
            v = int(v)
        if isinstance(v, os.PathLike):
            v = os.fspath(v)
        kw[ck] = _convert(e, ck, str(v), spec)
    return e, kw


def make(spec, **overrides):
    """Build a problem from a spec string (``overrides`` win over the spec).

    Values given as keywords need no quoting, so a data path with spaces,
    commas or quotes is best passed apart: ``make("logreg(lam=0.1)",
    data="/tmp/my data, v2.txt")``.  Inside the spec, quote it:
    ``make("logreg(data='/tmp/my data, v2.txt')")``.

    Examples
    --------
    >>> make("ridge")                                            # doctest: +SKIP
    >>> make("quadratic(kappa=100, n=10, d=50, hetero=1)")       # doctest: +SKIP
    >>> make("logreg-nc(data=/path/a9a.txt, lam=0.1, n=20)")     # doctest: +SKIP
    >>> make("logreg-nc(lam=0.1)", data="/my data/a9a.txt")      # doctest: +SKIP
    >>> make("divergence3")                                      # doctest: +SKIP
    >>> make("lsq(n=16, d=1000000, rows=10)")                    # doctest: +SKIP
    """
    e, kw = _apply(spec, overrides)
    return e.build(**kw, name=canonical(e, kw))


def spec_with(spec, **overrides):
    """The canonical spec string of ``make(spec, **overrides)``, paths quoted.

    >>> spec_with("logreg(lam=0.1)", data="/tmp/my data, v2.txt")
    "logreg(data='/tmp/my data, v2.txt', lam=0.1)"

    The result parses back to the same parameters (``parse(spec_with(...))``);
    a path with both quote characters raises a one-line ``ValueError``
    (pass it to :func:`make` as a keyword instead).
    """
    e, kw = _apply(spec, overrides)
    for k, v in kw.items():
        if e.params[k].type == "path" and v is not None and _quote(str(v)) is None:
            raise ValueError(f"problem spec {spec!r}: {k}={v!r} contains both quote "
                             f"characters and cannot be written in a spec; pass it "
                             f"as make(spec, {k}=path)")
    return canonical(e, kw)


def list_problems():
    """One dict per problem: name, syntax, example, summary, parameters."""
    out = []
    for e in REGISTRY.values():
        out.append({
            "name": e.name, "syntax": e.syntax, "example": e.example,
            "summary": e.summary, "aliases": list(e.aliases), "source": e.source,
            "needs": e.needs,
            "params": {k: {"type": p.type, "default": p.default, "help": p.help,
                           "range": p.range}
                       for k, p in e.params.items()}})
    return out
