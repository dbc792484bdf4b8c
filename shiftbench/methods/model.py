"""The method model: every method is declared once, here is what a declaration is.

A :class:`Method` holds its name, its citation, its options (each an
:class:`Option` with type, allowed range, default and one-line help), the
compiled loop it runs on (``loop``: ``"shift"`` for Algorithm 1 of Shulgin &
Richtárik, ``"tpc"`` for CGD / EF / 3PC / MARINA) and its ``build``: a
function that turns validated options and a problem into a :class:`Build`
(the parameters recorded in the trace, the theory record, the compiled
loop's configuration).  Everything else is derived from the declarations:

* validation and its one-line errors (:func:`validate`);
* the CLI flags of ``run`` and ``sweep``, their ``--help`` text with the
  defaults (:func:`add_cli_options`), and the sweep's grid keys and resume
  key (:func:`option_names`);
* the ``methods`` listing, the perf rows and the asv benchmarks (which
  iterate :data:`METHODS`).

Options shared by every method (``gamma``, ``gamma_factor``) and the run
options (``iters``, ``eps``, ``stop``, ...) are declared once below.

Adding a method: write one module that calls :func:`register` (see
``shiftbench/methods/shift_methods.py`` and the README's contributor
section); a new shift rule or 3PC mechanism also needs its compiled step.
"""
from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np

# option kinds
FLOAT = "float"          # a real number in [lo, hi] (lo_open/hi_open for strict bounds)
FLOATS = "floats"        # one number, or one per worker (comma list on the CLI)
INT = "int"              # an integer in [lo, hi]
SPEC = "spec"            # a compressor spec string (';'-separated per worker)
CHOICE = "choice"        # one of ``choices``
FLAG = "flag"            # on or off (a bare ``--flag`` on the CLI)

THEORY = "theory"        # default marker: the theory's value (relative values 'Nx' allowed)


def _num(v):
    if v == 2.0 ** 63:
        return "2^63"
    if float(v).is_integer() and abs(v) >= 1e6:
        return f"10^{int(round(math.log10(v)))}" if v == 10 ** round(math.log10(v)) else f"{v:g}"
    return f"{v:g}"


@dataclass(frozen=True)
class Option:
    """One option of a method (or of every run).

    ``default`` is the value used when the option is not given; ``THEORY``
    means "the theory's value" and then the option also accepts a multiple
    of it, written ``"2x"`` (e.g. ``M=0.5x``: half the theorem's M).
    """
    name: str
    kind: str
    help: str
    default: Any = None
    lo: Optional[float] = None
    hi: Optional[float] = None
    lo_open: bool = False
    hi_open: bool = False
    choices: tuple = ()
    cli: bool = True                  # False: Python API only (e.g. x0, h0)
    allow_inf: bool = False           # +inf is a meaningful value (e.g. explode)

    @property
    def flag(self):
        return "--" + self.name.replace("_", "-")

    def range_text(self):
        if self.kind == FLAG:
            return "on | off"
        if self.kind == CHOICE:
            return " | ".join(self.choices)
        if self.kind == SPEC:
            return "a compressor spec"
        what = "an integer" if self.kind == INT else "a number"
        lo_op = ">" if self.lo_open else ">="
        hi_op = "<" if self.hi_open else "<="
        if self.lo is not None and self.hi is not None:
            lo_op = "<" if self.lo_open else "<="
            return f"{what} {_num(self.lo)} {lo_op} {self.name} {hi_op} {_num(self.hi)}"
        if self.lo is not None:
            return f"{what} {self.name} {lo_op} {_num(self.lo)}"
        if self.hi is not None:
            return f"{what} {self.name} {hi_op} {_num(self.hi)}"
        return what

    def help_text(self):
        if self.default is THEORY:
            d = "theory's value; 'Nx' = N times it"
        elif self.default is None:
            d = "not set"
        else:
            d = str(self.default)
        return f"{self.help} [{self.range_text()}; default: {d}]"

    # ---- validation ---------------------------------------------------
    def _bad(self, v, why=None):
        allowed = self.range_text()
        extra = f" ({why})" if why else ""
        return ValueError(f"{self.name} = {v!r} is not allowed{extra}; allowed: {allowed}")

    def _number(self, v):
        orig = v
        if isinstance(v, (bool, np.bool_)):
            raise self._bad(orig)
        if isinstance(v, str):
            t = v.strip()
            if self.kind == INT and t.lstrip("+-").isdigit():
                v = int(t)
            else:
                try:
                    v = float(t)
                except ValueError:
                    raise self._bad(orig) from None
        if self.kind == INT and isinstance(v, (int, np.integer)):
            x = int(v)
            if (self.lo is not None and x < self.lo) or (self.hi is not None and (
                    x > self.hi or (self.hi_open and x == self.hi))):
                raise self._bad(orig)
            return x
        try:
            x = float(v)
        except (TypeError, ValueError, OverflowError):
            raise self._bad(orig) from None
        if not math.isfinite(x) and not (self.allow_inf and x == math.inf):
            raise self._bad(orig, "not finite")
        if self.lo is not None and (x < self.lo or (self.lo_open and x == self.lo)):
            raise self._bad(orig)
        if self.hi is not None and (x > self.hi or (self.hi_open and x == self.hi)):
            raise self._bad(orig)
        if self.kind == INT:
            if x != int(x):
                raise self._bad(orig, "not an integer")
            return int(x)
        return x

    def validate(self, v):
        """The value, converted and range-checked (one-line ValueError)."""
        if v is None:
            return None
        if self.default is THEORY and isinstance(v, str) and v.strip().lower().endswith("x"):
            f = Option(self.name, FLOAT, self.help, lo=0.0, lo_open=True)._number(v.strip()[:-1])
            return Relative(f)
        if isinstance(v, Relative):
            return v
        if self.kind in (FLOAT, INT):
            if isinstance(v, str) and "," in v:
                raise self._bad(v, "one number, not a list")
            if isinstance(v, (list, tuple, np.ndarray)):
                arr = np.atleast_1d(np.asarray(v, dtype=object))
                if arr.size != 1:
                    raise self._bad(v, "one number, not a list")
                v = arr.ravel()[0]
            return self._number(v)
        if self.kind == FLOATS:
            if isinstance(v, str):
                parts = [s for s in v.split(",")]
                if any(not s.strip() for s in parts):
                    raise self._bad(v)
                vals = [self._number(s) for s in parts]
            else:
                vals = [self._number(s) for s in np.atleast_1d(np.asarray(v, dtype=object)).ravel()]
            return vals[0] if len(vals) == 1 else vals
        if self.kind == FLAG:
            if isinstance(v, (bool, np.bool_)) or (isinstance(v, (int, np.integer))
                                                   and int(v) in (0, 1)):
                return bool(v)
            s = str(v).strip().lower()
            if s in ("on", "true", "yes", "1"):
                return True
            if s in ("off", "false", "no", "0"):
                return False
            raise self._bad(v)
        if self.kind == CHOICE:
            s = str(v).strip().lower()
            if s not in self.choices:
                raise self._bad(v)
            return s
        if self.kind == SPEC:
            if isinstance(v, str):
                if not v.strip():
                    raise ValueError(f"{self.name} is empty; give a compressor spec such as "
                                     f"'rand-k(q=0.1)' (python -m shiftbench compressors)")
                return v.strip()
            return v                           # a Compressor or a list: checked when built
        return v


@dataclass(frozen=True)
class Relative:
    """A value given as a multiple of the theory's default (``"2x"``)."""
    factor: float

    def __str__(self):
        return f"{self.factor:g}x"


@dataclass
class Build:
    """What a method's ``build`` returns for one configuration."""
    params: dict                      # recorded in the trace and the results store
    theory: Any                       # Theory record or None
    config: Any                       # the compiled loop's configuration (a namedtuple)
    programs: tuple                   # compressor programs passed to the loop
    nreg: int
    h0: Any = None                    # initial shifts/state (n x d) where the loop takes them
    comps: tuple = ()                 # per-worker compressor lists of each program (or None)


@dataclass(frozen=True, eq=False)
class Method:
    """A method, declared once."""
    name: str
    loop: str                         # "shift" | "tpc": which compiled loop runs it
    code: int                         # the loop's mode / mechanism code
    summary: str
    citation: str                     # paper, theorem and equation numbers
    options: tuple                    # Option, method-specific (compressor roles first)
    build: Callable                   # build(method, P, opts: dict) -> Build
    default_compressor: Optional[str] = "rand-k(q=0.1)"
    notes: str = ""
    example: dict = field(default_factory=dict)   # options a default run needs (perf, asv)

    @property
    def all_options(self):
        return tuple(self.options) + COMMON

    def option(self, name):
        for o in self.all_options:
            if o.name == name:
                return o
        return None

    def takes(self, name):
        return self.option(name) is not None


# options of every method
COMMON = (
    Option("gamma", FLOAT, "step size", THEORY, lo=0.0, lo_open=True),
    Option("gamma_factor", FLOAT, "multiply the theory's step size by this factor", None,
           lo=0.0, lo_open=True),
)

# options of every run (stopping, recording, seeds)
MAX_ITERS = 10 ** 12
RUN_OPTIONS = (
    Option("iters", INT, "maximum iterations", 100_000, lo=0, hi=MAX_ITERS),
    Option("eps", FLOAT, "target accuracy on the stop metric", 1e-10, lo=0.0),
    Option("stop", CHOICE, "stop metric (auto: rel_error when x* is known, else grad_norm_sq)",
           "auto", choices=("auto", "rel_error", "grad_norm_sq", "f_gap")),
    Option("bits_budget", FLOAT, "stop once the mean uplink bits per worker reach this", None,
           lo=0.0, lo_open=True),
    Option("stride", INT, "record a trace row every stride iterations (default: <= ~5000 rows)",
           None, lo=1, hi=MAX_ITERS),
    Option("seed", INT, "seed of the run (every worker draws from stream (seed, worker))", 0,
           lo=0, hi=2.0 ** 63, hi_open=True),
    Option("explode", FLOAT, "divergence: the distance or gradient norm grows by this factor",
           1e12, lo=1.0, lo_open=True, cli=False, allow_inf=True),
    Option("wire", FLAG, "run on the wire messages: every message encoded and decoded "
           "(shiftbench.wire), the loop going on with what the receiver decodes (fp32 values "
           "where the count charges 32 bits)", False),
)

METHODS: dict[str, Method] = {}


def register(m: Method, replace=False):
    """Register a method (``replace=True`` to redefine an existing name)."""
    key = m.name.strip().lower()
    if key in METHODS and not replace:
        raise ValueError(f"method {key!r} is already registered")
    names = [o.name for o in m.all_options]
    if len(set(names)) != len(names):
        raise ValueError(f"method {key!r} declares an option twice: {names}")
    METHODS[key] = m
    return m


def get(name) -> Method:
    if isinstance(name, Method):
        return name
    key = str(name).strip().lower().replace("_", "-")
    _load()
    if key not in METHODS:
        raise ValueError(f"unknown method {name!r}; allowed: {', '.join(METHODS)}")
    return METHODS[key]


def _load():
    """Import the built-in declarations (once)."""
    from . import shift_methods, tpc_methods  # noqa: F401


def all_methods():
    _load()
    return dict(METHODS)


def option_names():
    """Every option name of every method (the CLI and sweep keys)."""
    _load()
    seen = {}
    for m in METHODS.values():
        for o in m.all_options:
            seen.setdefault(o.name, o)
    return seen


def validate(method: Method, given: dict) -> dict:
    """Check the options given for ``method``; returns them converted.

    An option the method does not take is an error naming those it takes.
    """
    out = {}
    for k, v in given.items():
        if v is None:
            continue
        key = k.replace("-", "_")
        o = method.option(key)
        if o is None and key == "compressor" and isinstance(v, str) and \
                v.strip().lower() == method.default_compressor:
            continue                       # e.g. lag, dgd: "identity" is what they send
        if o is None:
            allowed = ", ".join(o.name for o in method.all_options)
            run_names = [r.name for r in RUN_OPTIONS]
            close = difflib.get_close_matches(
                key, [o.name for o in method.all_options] + run_names, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ValueError(f"{method.name} does not take {key}{hint}; allowed: {allowed}; "
                             f"run options: {', '.join(run_names)}")
        out[key] = o.validate(v)
    if "gamma" in out and "gamma_factor" in out:
        raise ValueError("give gamma or gamma_factor, not both")
    return out


def validate_run(given: dict) -> dict:
    """The run options, converted, with defaults filled in."""
    out = {}
    names = {o.name: o for o in RUN_OPTIONS}
    for k, v in given.items():
        if k not in names:
            raise ValueError(f"unknown run option {k}; allowed: {', '.join(names)}")
    for o in RUN_OPTIONS:
        v = given.get(o.name)
        out[o.name] = o.default if v is None else o.validate(v)
    return out


def resolve(value, theory_value):
    """A given value, a multiple of the theory's, or the theory's."""
    if isinstance(value, Relative):
        if theory_value is None:
            return None
        return value.factor * np.asarray(theory_value) if np.ndim(theory_value) else \
            value.factor * float(theory_value)
    return theory_value if value is None else value


# ---- CLI derivation ------------------------------------------------------
def add_cli_options(ap, run_options=True, method_options=True):
    """argparse arguments for every option of every method (and the run options).

    Values are kept as strings and validated by the chosen method's
    declaration, so ``--help`` and the errors come from one place.
    """
    if method_options:
        g = ap.add_argument_group("method options (each applies to the methods that take it; "
                                  "python -m shiftbench methods lists them per method)")
        for name, o in option_names().items():
            if not o.cli:
                continue
            users = [m.name for m in METHODS.values() if m.takes(name)]
            who = "" if len(users) == len(METHODS) else f" (methods: {', '.join(users)})"
            text = o.help_text()
            if name == "compressor":
                # the default is each method's own: say which
                by = {}
                for m in METHODS.values():
                    if m.takes(name) and m.default_compressor:
                        by.setdefault(m.default_compressor, []).append(m.name)
                own = "; ".join(f"{c} for {', '.join(ms)}" for c, ms in by.items())
                text = text.replace("default: not set", f"default: {own}")
                who = ""
            g.add_argument(o.flag, dest=name, default=None, metavar="V",
                           help=(text + who).replace("%", "%%"))
    if run_options:
        g = ap.add_argument_group("run options")
        for o in RUN_OPTIONS:
            if o.cli and o.kind == FLAG:
                g.add_argument(o.flag, dest=o.name, default=None, action="store_const",
                               const=True, help=o.help_text().replace("%", "%%"))
            elif o.cli:
                g.add_argument(o.flag, dest=o.name, default=None, metavar="V",
                               help=o.help_text().replace("%", "%%"))


def cli_method_options(args, method: Method, strict=True):
    """The method options given on the command line, for ``method``.

    ``strict``: an option the method does not take is an error (``run``);
    otherwise it is dropped (a sweep over several methods).
    """
    given = {}
    for name in option_names():
        v = getattr(args, name, None)
        if v is None:
            continue
        if not method.takes(name):
            if strict:
                allowed = ", ".join(o.flag for o in method.all_options if o.cli)
                raise ValueError(f"{method.name} does not take {name.replace('_', '-')}; "
                                 f"allowed: {allowed}")
            continue
        given[name] = v
    return validate(method, given)


def cli_run_options(args):
    return validate_run({o.name: getattr(args, o.name, None) for o in RUN_OPTIONS if o.cli})


def describe(m: Method) -> dict:
    """A JSON-able description (``python -m shiftbench methods --json``)."""
    return {"name": m.name, "loop": m.loop, "summary": m.summary, "theorem": m.citation,
            "default_compressor": m.default_compressor,
            "options": [{"name": o.name, "flag": o.flag, "kind": o.kind, "help": o.help,
                         "default": (o.default if o.default is not THEORY else "theory"),
                         "allowed": o.range_text()} for o in m.all_options if o.cli],
            "params": {o.name: o.help_text() for o in m.options if o.cli}}
