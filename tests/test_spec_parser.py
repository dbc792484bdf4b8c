"""The one compressor spec parser: tolerance, aliases, canonical form,
nesting and one-line error messages that say what is allowed."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from shiftbench.compressors import parse, compressor, REGISTRY


@pytest.mark.parametrize("spec,canon", [
    ("Rand-K( Q = 0.1 )", "rand-k(q=0.1)"),
    ("  TOPK(K=3)  ", "top-k(k=3)"),
    ("top_k(k=3)", "top-k(k=3)"),
    ("randk(q=0.5,bits=64)", "rand-k(q=0.5, bits=64)"),
    ("rand-k(bits=64, q=0.5)", "rand-k(q=0.5, bits=64)"),          # key order is canonical
    ("rand-k(q=0.1, bits=32, shared=0)", "rand-k(q=0.1)"),         # defaults dropped
    ("Natural", "natural"),
    ("natural()", "natural"),
    ("QSGD(s=4, p=2)", "dither(s=4)"),
    ("dither(p=INF, s=4)", "dither(s=4, p=inf)"),
    ("nd(s=3)", "natural-dither(s=3)"),
    ("cnat", "natural"),
    ("id", "identity"),
    ("Induced( Top-K(k=2) , Rand-K(k=4) )", "induced(top-k(k=2), rand-k(k=4))"),
    ("composition(cnat, randk(q=1e-1))", "compose(natural, rand-k(q=0.1))"),
    ("scaled(rand-k(q=0.5), LAM=0.5)", "scale(rand-k(q=0.5), lam=0.5)"),
])
def test_tolerant_parsing_and_canonical_form(spec, canon):
    node = parse(spec)
    assert node.canonical() == canon
    assert parse(canon).canonical() == canon                        # round trip
    assert compressor(spec).spec == canon


def test_every_alias_resolves():
    for name, e in REGISTRY.items():
        for a in (name,) + tuple(e.aliases):
            spec = e.example.replace(name, a, 1) if e.example.startswith(name) else a
            assert parse(spec).name == name, (a, spec)
            assert parse(spec.upper()).name == name


def test_nested():
    n = parse("induced(top-k(k=2), rand-k(k=4))")
    assert n.name == "induced" and [k.name for k in n.kids] == ["top-k", "rand-k"]
    assert n.kids[0].params == {"k": 2.0} and n.kids[1].params == {"k": 4.0}
    d = 40
    # footnote 1 of Shulgin & Richtárik (UAI 2022): U(omega (1 - delta)) with omega = d/4 - 1, delta = 2/d
    assert n.claims(d).omega == pytest.approx((d / 4 - 1) * (1 - 2 / d))
    n = parse("compose(natural, scale(induced(top-k(q=0.1), dither(s=2)), lam=0.5))")
    assert n.canonical() == "compose(natural, scale(induced(top-k(q=0.1), dither(s=2)), lam=0.5))"
    y, b = compressor(n.canonical()).compress(np.random.default_rng(0).standard_normal(30))
    assert y.shape == (30,)


def test_example_specs_round_trip():
    for e in REGISTRY.values():
        c = parse(e.example).canonical()
        assert parse(c).canonical() == c


def _bad(spec, *words):
    with pytest.raises(ValueError) as ei:
        compressor(spec)
    msg = str(ei.value)
    assert "\n" not in msg, msg                                      # one line
    for w in words:
        assert w in msg, (w, msg)
    return msg


def test_bad_specs_say_what_is_allowed():
    msg = _bad("rand-j(k=2)", "unknown compressor", "allowed")
    for name in REGISTRY:                                            # lists every name
        assert name in msg
    _bad("top-k(kk=2)", "unknown parameter", "allowed", "k", "q", "bits")
    _bad("top-k(k=2, q=0.1)", "exactly one of k", "or q")
    _bad("top-k", "exactly one of k")
    _bad("top-k(k=0)", "k must be an integer >= 1")
    _bad("top-k(k=2.5)", "k must be an integer >= 1")
    _bad("rand-k(q=1.5)", "0 < q <= 1")
    _bad("rand-k(q=0)", "0 < q <= 1")
    _bad("rand-k(q=abc)", "not a number")
    _bad("rand-k(k=2, bits=16)", "bits must be 32 or 64")
    _bad("rand-k(k=2, shared=2)", "shared must be 0 or 1")
    _bad("bernoulli(p=0)", "0 < p <= 1")
    _bad("bernoulli", "0 < p <= 1")
    _bad("dither(s=0)", "integer >= 1")
    _bad("dither(s=4, p=0.5)", "p must be >= 1")
    _bad("scale(top-k(k=2), lam=-1)", "lam", "> 0")
    _bad("scale(top-k(k=2))", "lam")
    _bad("induced(top-k(k=2))", "takes 2 nested", "induced(C, Q)")
    _bad("natural(top-k(k=2))", "takes 0 nested")
    _bad("", "non-empty", "allowed names")
    _bad("   ", "non-empty")
    _bad("top-k(k=2", "expected ')'")
    _bad("top-k(k=2))", "unexpected ')'")
    _bad("induced(top-k(k=2), rand-k(k=4)", "expected")
    _bad("top-k(k=2) rand-k(k=2)", "unexpected")
    _bad("top-k(k=#)", "cannot parse", "e.g.")
    with pytest.raises(ValueError, match="spec must be a non-empty string"):
        compressor(None)


def test_compress_time_errors():
    with pytest.raises(ValueError, match=r"K = 5 > d = 3; allowed 1 <= K <= d"):
        compressor("top-k(k=5)").compress(np.ones(3))
    with pytest.raises(ValueError, match=r"K = 5 > d = 3"):
        compressor("induced(top-k(k=5), rand-k(k=1))").compress(np.ones(3))
    with pytest.raises(ValueError, match=r"K = 5 > d = 4"):
        compressor("rand-k(k=5)", d=4)
    for bad in ([1.0, np.nan], [np.inf, 1.0], [-np.inf]):
        with pytest.raises(ValueError, match="NaN or inf; allowed: finite"):
            compressor("natural").compress(np.array(bad))
    with pytest.raises(ValueError, match="non-empty 1-D"):
        compressor("natural").compress(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="non-empty 1-D"):
        compressor("natural").compress(np.zeros(0))
    # q never exceeds d: K = round(q d) clipped to [1, d]
    y, b = compressor("top-k(q=0.01)").compress(np.arange(1.0, 6.0))
    assert np.count_nonzero(y) == 1


# hypothesis: random valid specs round-trip through the canonical form

_PRIMS = {
    "top-k": "kq", "rand-k": "kqs", "crand-k": "kqs", "adaptive": "kq",
    "natural": "", "natural-det": "", "identity": "", "zero": "",
    "terngrad": "", "sign": "", "bernoulli": "p", "scaled-bernoulli": "p",
    "dither": "d", "natural-dither": "d",
}


@st.composite
def prim_specs(draw):
    name = draw(st.sampled_from(sorted(_PRIMS)))
    kind = _PRIMS[name]
    args = []
    if "k" in kind:
        if draw(st.booleans()):
            args.append(f"k={draw(st.integers(1, 8))}")
        else:
            args.append(f"q={draw(st.sampled_from([0.05, 0.1, 0.25, 0.5, 1]))}")
    if "s" in kind and draw(st.booleans()):
        args.append(f"shared={draw(st.integers(0, 1))}")
    if kind == "p":
        args.append(f"p={draw(st.sampled_from([0.1, 0.5, 1]))}")
    if kind == "d":
        args.append(f"s={draw(st.integers(1, 9))}")
        if draw(st.booleans()):
            args.append(f"p={draw(st.sampled_from(['1', '2', 'inf', '3']))}")
    if name != "zero" and draw(st.booleans()):
        args.append(f"bits={draw(st.sampled_from([32, 64]))}")
    args = draw(st.permutations(args))
    name = draw(st.sampled_from([name, name.upper(), name.title()]))
    return name + (f"( {' , '.join(args)} )" if args else "")


specs = st.recursive(
    prim_specs(),
    lambda inner: st.one_of(
        st.tuples(inner, inner).map(lambda t: f"induced({t[0]}, {t[1]})"),
        st.tuples(inner, inner).map(lambda t: f"compose({t[0]},{t[1]})"),
        st.tuples(inner, st.sampled_from([0.5, 2, 1.25])).map(lambda t: f"scale({t[0]}, lam={t[1]})"),
    ),
    max_leaves=4,
)


@settings(max_examples=200, deadline=None)
@given(specs)
def test_hypothesis_canonical_round_trip(spec):
    n = parse(spec)
    c = n.canonical()
    assert parse(c).canonical() == c
    a, b = compressor(spec), compressor(c)               # same compiled program
    assert np.array_equal(a.ops, b.ops) and np.array_equal(a.params, b.params)
    assert c == c.lower() or "inf" in c


@settings(max_examples=40, deadline=None)
@given(specs, st.integers(0, 2 ** 32))
def test_hypothesis_specs_compress(spec, seed):
    x = np.random.default_rng(seed).standard_normal(12)
    y, b = compressor(spec).compress(x, seed)
    assert y.shape == x.shape and np.all(np.isfinite(y)) and 0 <= b.values <= int(b)


# ----------------------------------------------------------------------------
# bounded parameters (every numeric parameter has a range checked at parse time)

@pytest.mark.parametrize("spec,words", [
    ("dither(s=5e18)", ("s must be an integer >= 1 and <= 2147483648",)),   # looped forever
    ("dither(s=1e19)", ("s must be an integer",)),                          # mis-counted bits
    ("dither(s=1e300)", ("s must be an integer",)),                         # was a traceback
    ("natural-dither(s=2147483649)", ("<= 2147483648",)),
    ("dither(s=2.5)", ("s must be an integer",)),
    ("rand-k(q=0.1, bits=64.5)", ("bits must be 32 or 64", "64.5")),        # was truncated to 64
    ("rand-k(q=0.1, bits=inf)", ("bits must be 32 or 64", "inf")),          # was a traceback
    ("natural(bits=-inf)", ("bits must be 32 or 64",)),
    ("top-k(k=1, k=2)", ("'k' given twice", "once")),                      # last one won
    ("dither(s=2, s=2)", ("'s' given twice",)),
    ("induced(top-k(k=2, bits=64, bits=64), rand-k(k=1))", ("'bits' given twice",)),
    ("rand-k(q=nan)", ("not a number",)),
    ("dither(s=4, p=nan)", ("not a number",)),
    ("scale(natural, lam=inf)", ("lam must be a finite number > 0",)),
    ("scale(natural, lam=0)", ("lam must be a finite number > 0",)),
    ("top-k(k=1e20)", ("k must be an integer >= 1",)),
    ("top-k(k=-3)", ("k must be an integer >= 1",)),
    ("rand-k(q=1e-400)", ("0 < q <= 1",)),
    ("bernoulli(p=inf)", ("0 < p <= 1",)),
    ("dither(s=4, p=0.999)", ("p must be >= 1 or inf",)),
    ("rand-k(q=0.1, shared=0.5)", ("shared must be 0 or 1",)),
])
def test_out_of_range_parameters_are_one_line_errors(spec, words):
    _bad(spec, *words)


def test_largest_dither_levels_work_and_count_bits():
    """s = 2**31, the largest allowed: a correct quantisation (levels are
    2**-31 apart, so y is within ||x|| 2**-31 of x entry by entry) and
    1 + ceil(log2(s + 1)) = 33 bits per entry plus one 32-bit norm."""
    s = 2 ** 31
    x = np.random.default_rng(1).standard_normal(50)
    for spec in (f"dither(s={s})", f"natural-dither(s={s})"):
        y, b = compressor(spec).compress(x, 3)
        assert np.all(np.isfinite(y))
        if spec.startswith("dither"):
            assert np.max(np.abs(y - x)) <= np.linalg.norm(x) / s * (1 + 1e-9)
        assert int(b) == 32 + 50 * 33 and b.values == 50 * 33
    assert compressor(f"dither(s={s})").claims(50).omega == pytest.approx(50 / s ** 2)


_TOKENS = ["top-k", "rand-k", "dither", "natural", "induced", "compose", "scale", "half",
           "(", ")", ",", "=", "k", "q", "s", "p", "bits", "lam", "shared", "1", "0", "-1",
           "0.5", "64", "64.5", "inf", "-inf", "nan", "1e19", "1e300", "2147483648", "#", " "]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_TOKENS), min_size=0, max_size=14))
def test_random_spec_strings_parse_or_fail_in_one_line(toks):
    """Any string built from spec tokens either gives a compressor that
    compresses, or a one-line ValueError: never a hang or another error."""
    spec = "".join(toks)
    try:
        C = compressor(spec)
    except ValueError as e:
        assert "\n" not in str(e)
        return
    x = np.random.default_rng(0).standard_normal(64)
    try:
        y, b = C.compress(x, 1)
    except ValueError as e:                     # K > d is a d-time error
        assert "\n" not in str(e) and "> d" in str(e)
        return
    assert y.shape == x.shape and int(b) >= b.values >= 0
