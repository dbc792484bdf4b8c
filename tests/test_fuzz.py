"""Property test: random specs and option values either run or give a
one-line ValueError -- never a hang, never another exception type."""
import math

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import shiftbench as sb
from shiftbench.methods import model as MM
from shiftbench.problems import make

NAMES = ["top-k", "rand-k", "crand-k", "natural", "natural-det", "dither", "natural-dither",
         "terngrad", "sign", "bernoulli", "scaled-bernoulli", "adaptive", "identity", "zero",
         "induced", "compose", "scale", "nope", ""]
KEYS = ["k", "q", "s", "p", "bits", "shared", "lam", "k", "x", ""]
NUMS = ["0", "1", "2", "-1", "0.5", "1e300", "5e18", "1e19", "nan", "inf", "64.5", "3.0",
        "1e-300", "abc", "", "2147483648", "100"]

_P = None


def problem():
    global _P
    if _P is None:
        _P = make("quadratic(kappa=10, n=3, d=8, hetero=1, seed=1)")
    return _P


@st.composite
def spec(draw, depth=0):
    name = draw(st.sampled_from(NAMES))
    if name in ("induced", "compose") and depth < 2:
        return f"{name}({draw(spec(depth + 1))}, {draw(spec(depth + 1))})"
    if name == "scale" and depth < 2:
        return f"scale({draw(spec(depth + 1))}, lam={draw(st.sampled_from(NUMS))})"
    kv = draw(st.lists(st.tuples(st.sampled_from(KEYS), st.sampled_from(NUMS)), max_size=3))
    if not kv and draw(st.booleans()):
        return name
    inner = ", ".join(f"{k}={v}" if k else v for k, v in kv)
    return f"{name}({inner})" + draw(st.sampled_from(["", "", ")", "(", "*3", "; top-k(k=1)"]))


values = st.one_of(st.sampled_from(NUMS), st.floats(allow_nan=True, allow_infinity=True),
                   st.integers(min_value=-2 ** 70, max_value=2 ** 70),
                   st.sampled_from(["2x", "0.5x", "0x", "-1x", "1,2", "x", "star", "zero",
                                    "x0", "ef21", "lag", "literal"]))


def _is_one_line_value_error(e):
    return isinstance(e, ValueError) and "\n" not in str(e) and str(e)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(s=spec(), x=st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=40))
@example(s="dither(s=5e18)", x=[1.0, -2.0, 3.0])        # looped forever in ceil_log2
@example(s="dither(s=1e19)", x=[1.0, -2.0, 3.0])        # mis-counted bits
@example(s="dither(s=1e300)", x=[1.0, -2.0, 3.0])       # traceback
@example(s="top-k(k=1, k=2)", x=[1.0, 2.0])             # duplicate key
@example(s="rand-k(q=0.1, bits=inf)", x=[1.0] * 20)
@example(s="rand-k(q=0.1, bits=64.5)", x=[1.0] * 20)
def test_random_specs_compress_or_one_line_error(s, x):
    import numpy as np
    try:
        C = sb.compressor(s)
        C.compress(np.asarray(x), seed=0)
    except Exception as e:  # noqa: BLE001 - the property
        assert _is_one_line_value_error(e), f"{s!r}: {type(e).__name__}: {e}"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(method=st.sampled_from(sorted(MM.all_methods())),
       opts=st.dictionaries(st.sampled_from(sorted(set(MM.option_names()) - {
                                "compressor", "shift_compressor"}) + ["iters", "eps",
                                                                         "stride", "seed",
                                                                         "stop"]),
                            values, max_size=3),
       comp=st.one_of(st.none(), spec()))
def test_random_options_run_or_one_line_error(method, opts, comp):
    opts = dict(opts)
    # bound the work: at most 200 iterations
    it = opts.pop("iters", 50)
    try:
        it_ok = MM.RUN_OPTIONS[0].validate(it)
    except ValueError:
        it_ok = None
    if it_ok is not None and it_ok > 200:
        it = 200
    try:
        sb.run(method, problem(), comp, iters=it, **opts)
    except Exception as e:  # noqa: BLE001 - the property
        assert _is_one_line_value_error(e), f"{method} {comp!r} {opts}: {type(e).__name__}: {e}"
