"""Message sizes against hand-computed counts (the README's "Bits").

Rules: values are 32 bits (64 with bits=64); the index cost of m present
coordinates is min(m ceil(log2 d), d) (index list or d-bit mask), zero when
all d are present; Rand-K with shared=1 sends no indices; a norm costs one
value; dithering costs ceil(log2(s+1)) level bits + 1 sign bit per entry;
C_nat 9 bits per entry (fp32) or 12 (fp64); a Bernoulli message carries a
1-bit flag; compose(C2, C1) costs C2's message about C1's output.  The
values-only convention (bits.values) is always reported beside the full count.
"""
import math

import numpy as np
import pytest

from shiftbench.compressors import compressor
from naive import naive_compress, ceil_log2, support_bits

G100 = np.random.default_rng(0).standard_normal(100)       # no zeros
S100 = np.zeros(100)
S100[[3, 40, 77]] = [1.5, -2.0, 0.25]                      # 3 nonzeros


def bits(spec, x, seed=0):
    y, b = compressor(spec).compress(x, seed)
    return int(b), b.values


def test_helpers():
    assert [ceil_log2(n) for n in (1, 2, 3, 4, 5, 64, 65, 100, 1024, 1025)] == \
        [0, 1, 2, 2, 3, 6, 7, 7, 10, 11]
    assert support_bits(5, 100) == 35 and support_bits(20, 100) == 100
    assert support_bits(100, 100) == 0 and support_bits(0, 100) == 0


@pytest.mark.parametrize("spec,x,full,values", [
    # Top-K, d = 100: K ceil(log2 100) + 32 K = 5*7 + 5*32 = 195
    ("top-k(k=5)", G100, 5 * 7 + 5 * 32, 5 * 32),
    ("top-k(k=5, bits=64)", G100, 5 * 7 + 5 * 64, 5 * 64),            # 355
    # K = 20: the index list 20*7 = 140 > the 100-bit mask
    ("top-k(k=20)", G100, 100 + 20 * 32, 20 * 32),                     # 740
    ("top-k(k=100)", G100, 100 * 32, 100 * 32),                        # K = d: no indices
    ("top-k(q=0.1)", G100, 10 * 7 + 10 * 32, 320),                     # K = 10: 390
    ("top-k(k=5)", S100, 195, 160),                                    # zeros still sent
    # Rand-K: the same, or no indices with a shared seed
    ("rand-k(k=5)", G100, 195, 160),
    ("rand-k(k=5, shared=1)", G100, 5 * 32, 160),                      # 160
    ("rand-k(q=0.1, bits=64)", G100, 10 * 7 + 10 * 64, 640),           # 710
    ("crand-k(k=14)", G100, 98 + 14 * 32, 448),                        # 14*7 = 98 < 100
    ("crand-k(k=15)", G100, 100 + 15 * 32, 480),                       # 105 > 100: mask
    # identity: dense d*32, or support + nnz*32 when cheaper
    ("identity", G100, 3200, 3200),
    ("identity", S100, 3 * 7 + 3 * 32, 96),                            # 117
    ("identity(bits=64)", S100, 21 + 3 * 64, 192),
    # C_nat: 9 bits per entry (sign + 8 exponent bits of fp32), 12 in fp64
    ("natural", G100, 9 * 100, 900),
    ("natural(bits=64)", G100, 12 * 100, 1200),
    ("natural-det", G100, 900, 900),
    ("natural", S100, 21 + 27, 27),                                    # 48
    # dithering: one norm + d (1 + ceil(log2(s + 1)))
    ("dither(s=4)", G100, 32 + 100 * (1 + 3), 400),                    # 432
    ("dither(s=1)", G100, 32 + 100 * (1 + 1), 200),                    # 232
    ("dither(s=3)", G100, 32 + 100 * (1 + 2), 300),                    # 332
    ("dither(s=16)", G100, 32 + 100 * (1 + 5), 600),                   # 632
    ("dither(s=4, bits=64)", G100, 64 + 400, 400),                     # 464
    ("dither(s=4, p=inf)", G100, 432, 400),
    ("dither(s=4)", S100, 32 + 21 + 3 * 4, 12),                        # 65
    ("natural-dither(s=4)", G100, 432, 400),
    ("natural-dither(s=8)", G100, 32 + 100 * (1 + 4), 500),            # ceil(log2 9) = 4
    # scaled sign: one value + one sign bit per entry
    ("sign", G100, 32 + 100, 100),
    ("sign", S100, 32 + 21 + 3, 3),                                    # support + 3 signs
    ("sign(bits=64)", G100, 64 + 100, 100),
    ("zero", G100, 0, 0),
    # composites
    ("induced(top-k(k=2), rand-k(k=4))", G100, (14 + 64) + (28 + 128), 64 + 128),   # 234
    ("scale(top-k(k=5), lam=2)", G100, 195, 160),
    ("compose(natural, rand-k(k=5))", G100, 5 * 7 + 5 * 9, 45),        # 80: C_nat of 5 values
    ("compose(natural, top-k(k=20))", G100, 100 + 20 * 9, 180),        # 280: mask + 9 bits each
])
def test_bits_hand_counted(spec, x, full, values):
    assert bits(spec, x) == (full, values)
    _, bf, bv = naive_compress(spec, x, 0)
    assert (bf, bv) == (full, values)


def test_bits_d_edge_cases():
    assert bits("top-k(k=1)", np.array([3.0])) == (32, 32)            # d = 1: nothing to index
    assert bits("rand-k(k=3)", np.ones(64)) == (3 * 6 + 96, 96)        # d = 64: 6 bits per index
    assert bits("rand-k(k=3)", np.ones(65)) == (3 * 7 + 96, 96)        # d = 65: 7
    assert bits("natural", np.zeros(10)) == (0, 0)                     # nothing present
    assert bits("identity", np.zeros(10)) == (0, 0)


def test_bernoulli_bits():
    """1 flag bit, plus the vector when it is sent (a skipped
    message costs 0 bits plus the flag)."""
    C = compressor("bernoulli(p=0.5)")
    seen = set()
    for seed in range(40):
        y, b = C.compress(G100, seed)
        if np.any(y):
            assert (int(b), b.values) == (1 + 3200, 3200)
            seen.add(1)
        else:
            assert (int(b), b.values) == (1, 0)
            seen.add(0)
    assert seen == {0, 1}
    assert bits("scaled-bernoulli(p=1)", S100) == (1 + 117, 96)


def test_terngrad_bits():
    # all entries equal: every entry is kept, no support needed: 32 + min(2d, d)
    assert bits("terngrad", np.full(100, -0.5)) == (32 + 100, 100)
    # one spike: out = x, support 7 bits + 1 sign bit
    assert bits("terngrad", np.r_[2.0, np.zeros(99)]) == (32 + 7 + 1, 1)
    # in general: one value + min(2 bits per entry, support + 1 sign per nonzero)
    for seed in range(10):
        y, b = compressor("terngrad").compress(G100, seed)
        m = np.count_nonzero(y)
        assert int(b) == 32 + min(200, support_bits(m, 100) + m) and b.values == m


def test_adaptive_bits():
    for seed in range(10):
        y, b = compressor("adaptive(k=5)").compress(G100, seed)
        m = np.count_nonzero(y)
        assert int(b) == support_bits(m, 100) + 32 * m and b.values == 32 * m


def test_composition_bits_keep_the_other_messages():
    """induced(C, compose(Q2, Q1)) sends C's message and Q2's message about
    Q1's output; Q1's own message never travels (regression test)."""
    spec = "induced(top-k(k=2), compose(natural, rand-k(k=4)))"
    top = np.zeros(100)
    i = np.argsort(-np.abs(G100), kind="stable")[:2]
    top[i] = G100[i]
    for seed in range(10):
        y, b = compressor(spec).compress(G100, seed)
        m = np.count_nonzero(y - top)          # nonzeros of natural(rand-k(residual))
        assert 1 <= m <= 4
        assert int(b) == (14 + 64) + (7 * m + 9 * m), seed
        assert b.values == 64 + 9 * m
    # nested compositions: only the outermost message
    y, b = compressor("compose(compose(natural, top-k(k=5)), rand-k(k=9))").compress(G100, 1)
    assert (int(b), b.values) == (5 * 7 + 5 * 9, 45)


def test_values_only_never_exceeds_full():
    rs = np.random.default_rng(3)
    x = np.where(rs.random(60) < 0.3, rs.standard_normal(60), 0.0)
    for spec in ["identity", "top-k(k=7)", "rand-k(k=7)", "natural", "dither(s=3)",
                 "natural-dither(s=3)", "terngrad", "sign", "adaptive(k=7)", "bernoulli(p=0.5)",
                 "induced(top-k(k=2), rand-k(k=4))", "compose(natural, rand-k(k=9))"]:
        for seed in range(3):
            y, b = compressor(spec).compress(x, seed)
            assert 0 <= b.values <= int(b), spec
