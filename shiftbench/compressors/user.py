"""Users' own compressors: :func:`register_compressor`.

A user writes a numba kernel ``f(x, out, params, rng) -> (bits_full,
bits_values)`` and registers it under a name; from then on its spec string
(e.g. ``"half-sign(c=0.5)"``) works everywhere a built-in spec does:
``shiftbench.compressor``, inside ``induced`` / ``compose`` / ``scale``,
every method through ``shiftbench.run``, ``verify-compressors`` and the CLI
(``python -m shiftbench --plugin my_compressors.py run ...``).  The kernel is
called through a function pointer from the compiled method loops, so the
loops themselves are not recompiled for it.
"""
from __future__ import annotations

import math
from typing import Callable, Optional

from numba.core.registry import CPUDispatcher

from .kernels.program import USER_SIG
from .registry import REGISTRY, Claims, Definition, Param, register, unbiased, contractive

__all__ = ["register_compressor", "unregister_compressor"]

KINDS = ("unbiased", "biased")


def _claims_fn(name, kind, omega, delta, where):
    def claims(pr, d):
        if kind == "unbiased":
            if omega is None:
                return Claims("unbiased", source="user", note="omega not claimed; measured")
            w = float(omega(pr, d))
            if not (w >= 0 and math.isfinite(w)):
                raise ValueError(f"{where}: omega(params, d={d}) = {w} must be a finite "
                                 f"number >= 0")
            return unbiased(w, source="user", note=f"registered with {name}")
        if delta is None:
            return Claims("biased", source="user", note="delta not claimed; measured")
        dl = float(delta(pr, d))
        if not dl <= 1.0:
            raise ValueError(f"{where}: delta(params, d={d}) = {dl} must be a number <= 1")
        if dl <= 0.0:            # not contractive at these parameters: no claim
            return Claims("biased", source="user", note=f"delta(params, d) = {dl:g} <= 0")
        return contractive(dl, source="user", note=f"registered with {name}")
    return claims


def register_compressor(name: str, kernel, params: Optional[dict] = None, *,
                        kind: str = "unbiased", omega: Optional[Callable] = None,
                        delta: Optional[Callable] = None, bits: str = "",
                        reference: Optional[Callable] = None, summary: str = "",
                        depends_on_d: Optional[bool] = None,
                        deterministic: Optional[bool] = None):
    """Register a compressor kernel under ``name``; returns its Definition.

    Parameters
    ----------
    name : str
        Lower-case name used in spec strings (e.g. ``"half-sign"``); it may
        not shadow a built-in name or alias.  Registering the same name again
        replaces the user compressor.
    kernel : numba ``@njit`` function
        ``kernel(x, out, params, rng) -> (bits_full, bits_values)``: write
        C(x) into ``out`` (both float64 arrays of length d), read the
        parameters from ``params`` (float64, in the declared order of
        ``params``), draw random numbers only through
        ``shiftbench.rng.uniform(rng)`` / ``shiftbench.rng.next_u64(rng)``
        (``rng`` is the worker's uint64[2] generator state) and return the
        message size: all bits a receiver needs, and the values-only count.
        Nothing may be allocated per call in hot loops (it runs inside them).
    params : dict, optional
        Parameter name -> default value (finite numbers).  A spec may give
        any of them, e.g. ``"half-sign(c=0.5)"``.
    kind : {"unbiased", "biased"}
        The claimed class.
    omega : callable, optional
        ``omega(params, d)``: claimed omega of U(omega) (unbiased only);
        ``params`` is the dict of parameter values.
    delta : callable, optional
        ``delta(params, d)``: claimed delta of B(delta) (biased only).
    bits : str
        The bit cost in words (for ``python -m shiftbench compressors``).
    reference : callable, optional
        A NumPy reference ``reference(x, params, rng) -> (y, bits_full,
        bits_values)`` (``rng`` a :class:`shiftbench.naive.compressors.Rng`
        drawing the same stream as ``shiftbench.rng``).
    summary : str
        One line for listings (default: the kernel's docstring's first line).
    depends_on_d : bool, optional
        Whether the claims change with d (default: compared at two d).
    deterministic : bool, optional
        The kernel draws no random numbers (Monte-Carlo checks then need no
        repetitions).  Default: found by running the kernel at the default
        parameters on a few vectors and seeing whether it advances ``rng``.

    Raises
    ------
    ValueError
        One line, for a bad name, kernel, parameter or claim.
    """
    where = f"register_compressor({name!r})"
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"register_compressor: name must be a non-empty string, e.g. 'half-sign'")
    name = name.strip().lower()
    owner = REGISTRY.get(name)
    if owner is not None and not owner.user:
        raise ValueError(f"{where}: {name!r} is a built-in compressor; choose another name")
    if not isinstance(kernel, CPUDispatcher):
        what = type(kernel).__name__
        raise ValueError(f"{where}: kernel must be a numba @njit function "
                         f"f(x, out, params, rng) -> (bits_full, bits_values), got {what}; "
                         f"decorate it with @numba.njit")
    if kind not in KINDS:
        raise ValueError(f"{where}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if kind == "unbiased" and delta is not None:
        raise ValueError(f"{where}: an unbiased compressor claims omega, not delta")
    if kind == "biased" and omega is not None:
        raise ValueError(f"{where}: a biased compressor claims delta, not omega")
    for nm, f in (("omega", omega), ("delta", delta), ("reference", reference)):
        if f is not None and not callable(f):
            raise ValueError(f"{where}: {nm} must be a callable, got {type(f).__name__}")
    schema = []
    for k, v in (params or {}).items():
        if not isinstance(k, str) or not k.isidentifier() or k != k.lower():
            raise ValueError(f"{where}: parameter name {k!r} must be a lower-case identifier")
        try:
            v = float(v)
        except (TypeError, ValueError):
            v = math.nan
        if not math.isfinite(v):
            raise ValueError(f"{where}: the default of {k!r} must be a finite number, "
                             f"got {params[k]!r}")
        schema.append(Param(k, "user parameter", default=v))
    try:
        kernel.compile(USER_SIG)
    except Exception as e:  # noqa: BLE001 - numba's typing errors are many lines
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"{where}: the kernel does not compile as f(x, out, params, rng) -> "
                         f"(bits_full, bits_values) with float64 arrays x, out, params and a "
                         f"uint64[2] rng: {first}") from None
    doc = (kernel.py_func.__doc__ or "").strip().splitlines()
    claims = _claims_fn(name, kind, omega, delta, where)
    values = {p.name: p.default for p in schema}
    for d in (10, 1000):            # a bad claim function fails now, not mid-run
        try:
            claims(values, d)
        except ValueError:
            raise
        except Exception as e:  # noqa: BLE001
            raise ValueError(f"{where}: evaluating the claim at the defaults, d={d}, failed: "
                             f"{type(e).__name__}: {e}") from None
    if depends_on_d is None:
        a, b = claims(values, 100), claims(values, 1000)
        depends_on_d = (a.omega, a.delta) != (b.omega, b.delta)
    if deterministic is None:
        deterministic = _draws_nothing(kernel, [p.default for p in schema])
    example = name
    defn = Definition(
        name, kernel, summary=summary or (doc[0] if doc else f"user compressor {name}"),
        example=example, bit_cost=bits or "(not stated)", params=tuple(schema),
        claims=claims, depends_on_d=bool(depends_on_d), deterministic=bool(deterministic),
        reference=reference, user=True)
    return register(defn, replace=True)


def _draws_nothing(kernel, defaults):
    """True when the kernel leaves the generator untouched on a few inputs."""
    import numpy as np
    from .. import _rng
    g = np.random.default_rng(12345)
    xs = [g.standard_normal(7), g.standard_normal(64), np.zeros(5), np.r_[3.0, np.zeros(9)],
          np.full(16, 4.0 / 3.0)]
    params = np.array(defaults if defaults else [0.0], dtype=np.float64)
    for x in xs:
        rng = _rng.new_state(7)
        before = rng.copy()
        try:
            kernel(x, np.empty_like(x), params, rng)
        except Exception:  # noqa: BLE001 - a probe only; treat as random
            return False
        if not np.array_equal(rng, before):
            return False
    return True


def unregister_compressor(name: str):
    """Remove a user compressor (built-ins cannot be removed)."""
    e = REGISTRY.get(str(name).strip().lower())
    if e is None or not e.user:
        raise ValueError(f"unregister_compressor: no user compressor named {name!r}")
    from .registry import _ALIASES
    for a in (e.name,) + tuple(e.aliases):
        _ALIASES.pop(a, None)
    del REGISTRY[e.name]
