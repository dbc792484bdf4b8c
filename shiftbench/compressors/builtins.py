"""The built-in compressors: one definition block each.

A block is the compressor's compiled kernel entry (the uniform signature of
:data:`~.kernels.program.KERNEL_SIG`, returning the message's bits) and its
:class:`~.registry.Definition`: name, parameter schema, packing, claimed
constants with their source, ``depends_on_d``, bit cost, NumPy reference
(:mod:`shiftbench.naive.compressors`) and vectorised NumPy baseline (used by
``python -m shiftbench.perf``).  The heavy lifting lives in
:mod:`.kernels` (selection, sampling, quantisers, reductions).

Adding a built-in compressor = one block here (+ its kernel in
:mod:`.kernels` if it needs a new one, + its reference in
:mod:`shiftbench.naive.compressors`).

Sources of the constants: Shulgin & Richtárik, "Shifted compression
framework", UAI 2022 (classes U(omega), B(delta); Rand-K); Beznosikov,
Horváth, Richtárik & Safaryan, "On biased compression for distributed
learning" (B1/B2/B3 and their table); Horváth et al., "Natural compression
for distributed deep learning" (C_nat, natural dithering); Alistarh et al.,
"QSGD", NeurIPS 2017 (dithering); Wen et al., "TernGrad", NeurIPS 2017;
Wangni et al., "Gradient sparsification", NeurIPS 2018 (adaptive).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from .kernels.intrinsics import support_bits, sparse_or_dense, resolve_k, ceil_log2
from .kernels.quantisers import natural, dither, terngrad, scaled_sign
from .kernels.sampling import randk, randk_sparse, adaptive
from .kernels.selection import topk, topk_sparse
from .registry import (Definition, Param, Claims, register, unbiased, contractive,
                       K_PARAM, Q_PARAM, BITS_PARAM, S_MAX)
from .. import _rng

KQ = (K_PARAM, Q_PARAM)


def _k_of(pr, d):
    if "k" in pr:
        return int(pr["k"])
    return max(1, min(d, int(math.floor(pr["q"] * d + 0.5))))


def _kq(pr):
    """Packed (k, q): k = -1 when q is given."""
    return [pr.get("k", -1.0), pr.get("q", 0.0)]


def _ref(name):
    """The NumPy reference ``shiftbench.naive.compressors.<name>`` (imported
    when first called: the references import the parser)."""
    def reference(x, pr, rng):
        from ..naive import compressors as N
        return getattr(N, name)(x, pr, rng)
    reference.__name__ = name
    return reference


# ----------------------------------------------------------------------------
# padding kernels (unused slots of a Programs)

@njit(cache=True)
def zero_kernel(x, out, params, rng, iwork, mark):
    """x -> 0; sends nothing."""
    for i in range(x.size):
        out[i] = 0.0
    return 0.0, 0.0


@njit(cache=True)
def user_zero_kernel(x, out, params, rng):
    """The padding of the users' kernel slots (never called)."""
    for i in range(x.size):
        out[i] = 0.0
    return 0.0, 0.0


# ---------------------------------------------------------------- identity

@njit(cache=True)
def identity_kernel(x, out, params, rng, iwork, mark):
    d = x.size
    vb = params[0]
    m = 0
    for i in range(d):
        out[i] = x[i]
        m += np.int64(x[i] != 0.0)
    return sparse_or_dense(m, d, vb), vb * m


register(Definition(
    "identity", identity_kernel, "x -> x (no compression)", "identity",
    "min(d, support + nnz) values", params=(BITS_PARAM,),
    pack=lambda pr: [pr["bits"]],
    claims=lambda pr, d: Claims("unbiased", omega=0.0, delta=1.0, b1=(1.0, 1.0),
                                b2=(1.0, 1.0), b3=1.0),
    deterministic=True, reference=_ref("identity"),
    vectorised=lambda pr, d, sparse: (lambda x, g: x.copy()),
    aliases=("id", "none")))

# ---------------------------------------------------------------- zero

register(Definition(
    "zero", zero_kernel, "x -> 0 (sends nothing)", "zero", "0",
    claims=lambda pr, d: Claims("biased", delta=0.0), deterministic=True,
    reference=_ref("zero"),
    vectorised=lambda pr, d, sparse: (lambda x, g: np.zeros_like(x))))


# ---------------------------------------------------------------- top-k

@njit(cache=True)
def topk_kernel(x, out, params, rng, iwork, mark):
    d = x.size
    k = resolve_k(params[0], params[1], d)
    vb = params[2]
    topk(x, out, k, iwork)
    return support_bits(k, d) + vb * k, vb * k


@njit(cache=True)
def topk_sparse_kernel(x, params, rng, iwork, mark, idx, vals):
    d = x.size
    k = resolve_k(params[0], params[1], d)
    vb = params[2]
    m = topk_sparse(x, k, iwork, idx, vals)
    return m, support_bits(m, d) + vb * m, vb * m


def _vec_topk(pr, d, sparse):
    k = _k_of(pr, d)

    def f(x, g):
        idx = np.argpartition(np.abs(x), d - k)[d - k:]
        if sparse:
            return idx, x[idx]
        y = np.zeros_like(x)
        y[idx] = x[idx]
        return y
    return f


def _topk_claims(pr, d):
    a = _k_of(pr, d) / d
    return contractive(a, b1=(a, 1.0), b2=(a, 1.0))


register(Definition(
    "top-k", topk_kernel, "keep the K largest |x_i| (exact, ties to the lowest index)",
    "top-k(k=5)", "min(K ceil(log2 d), d) + K values", params=KQ + (BITS_PARAM,),
    one_of=("k", "q"), pack=lambda pr: _kq(pr) + [pr["bits"]], claims=_topk_claims,
    depends_on_d=lambda pr: "k" in pr, deterministic=True, sparse=topk_sparse_kernel,
    reference=_ref("topk"), vectorised=_vec_topk, aliases=("topk", "top")))


# ---------------------------------------------------------------- rand-k, crand-k

@njit(cache=True, inline="always")
def _randk_setup(params, d):
    """(K, scale, index bits, value bits) from params (k, q, bits, shared, scaled)."""
    k = resolve_k(params[0], params[1], d)
    scale = d / k if params[4] != 0.0 else 1.0
    ib = 0 if params[3] != 0.0 else support_bits(k, d)
    return k, scale, ib, params[2]


@njit(cache=True)
def randk_kernel(x, out, params, rng, iwork, mark):
    """params: k, q, bits, shared, scaled (1: rand-k, 0: crand-k)."""
    k, scale, ib, vb = _randk_setup(params, x.size)
    randk(x, out, k, scale, rng, mark, iwork)
    return ib + vb * k, vb * k


@njit(cache=True)
def randk_sparse_kernel(x, params, rng, iwork, mark, idx, vals):
    k, scale, ib, vb = _randk_setup(params, x.size)
    randk_sparse(x, k, scale, rng, mark, idx, vals)
    return k, ib + vb * k, vb * k


def _vec_randk(scaled):
    def make(pr, d, sparse):
        k = _k_of(pr, d)
        sc = d / k if scaled else 1.0

        def f(x, g):
            idx = g.choice(d, k, replace=False)
            if sparse:
                return idx, sc * x[idx]
            y = np.zeros_like(x)
            y[idx] = sc * x[idx]
            return y
        return f
    return make


SHARED = Param("shared", "1: indices come from a seed shared with the receiver (no index bits)",
               default=0.0, kind="choice", choices=(0, 1))

register(Definition(
    "rand-k", randk_kernel, "(d/K) x on K uniformly random coordinates", "rand-k(q=0.1)",
    "K values + min(K ceil(log2 d), d) index bits (0 with shared=1)",
    params=KQ + (BITS_PARAM, SHARED), one_of=("k", "q"),
    pack=lambda pr: _kq(pr) + [pr["bits"], pr["shared"], 1.0],
    claims=lambda pr, d: unbiased(d / _k_of(pr, d) - 1.0),
    depends_on_d=lambda pr: "k" in pr, sparse=randk_sparse_kernel,
    reference=_ref("randk"), vectorised=_vec_randk(True), aliases=("randk", "rand")))


def _crandk_claims(pr, d):
    a = _k_of(pr, d) / d
    return contractive(a, b1=(a, 1.0), b2=(a, 1.0), source="derived",
                       note="E C(x) = (K/d) x, E||C(x)||^2 = (K/d)||x||^2")


register(Definition(
    "crand-k", randk_kernel, "x on K uniformly random coordinates, unscaled (biased)",
    "crand-k(q=0.1)", "as rand-k", params=KQ + (BITS_PARAM, SHARED), one_of=("k", "q"),
    pack=lambda pr: _kq(pr) + [pr["bits"], pr["shared"], 0.0], claims=_crandk_claims,
    depends_on_d=lambda pr: "k" in pr, sparse=randk_sparse_kernel,
    reference=_ref("crandk"), vectorised=_vec_randk(False),
    aliases=("biased-rand-k", "crandk")))


# ---------------------------------------------------------------- bernoulli

@njit(cache=True)
def bernoulli_kernel(x, out, params, rng, iwork, mark):
    """params: p, bits, scaled.  One draw: x (or x/p) with a 1-bit flag
    when u < p, else nothing but the flag."""
    d = x.size
    prob = params[0]
    vb = params[1]
    if _rng.uniform(rng) < prob:
        sc = 1.0 / prob if params[2] != 0.0 else 1.0
        m = 0
        for i in range(d):
            out[i] = sc * x[i]
            m += np.int64(x[i] != 0.0)
        return 1.0 + sparse_or_dense(m, d, vb), vb * m
    for i in range(d):
        out[i] = 0.0
    return 1.0, 0.0


def _vec_bernoulli(scaled):
    def make(pr, d, sparse):
        p = pr["p"]
        sc = 1.0 / p if scaled else 1.0
        return lambda x, g: sc * x if g.random() < p else np.zeros_like(x)
    return make


PROB = Param("p", "probability of sending", lo=0.0, hi=1.0, lo_open=True)

register(Definition(
    "bernoulli", bernoulli_kernel, "x with probability p, else 0 (the B_p of Rand-DIANA)",
    "bernoulli(p=0.5)", "1 flag bit, + the vector when sent", params=(PROB, BITS_PARAM),
    pack=lambda pr: [pr["p"], pr["bits"], 0.0],
    claims=lambda pr, d: contractive(pr["p"], b1=(pr["p"], 1.0), b2=(pr["p"], 1.0),
                                     source="derived", note="E||C(x)-x||^2 = (1-p)||x||^2"),
    reference=_ref("bernoulli"), vectorised=_vec_bernoulli(False)))

register(Definition(
    "scaled-bernoulli", bernoulli_kernel, "x/p with probability p, else 0 (unbiased)",
    "scaled-bernoulli(p=0.5)", "as bernoulli", params=(PROB, BITS_PARAM),
    pack=lambda pr: [pr["p"], pr["bits"], 1.0],
    claims=lambda pr, d: unbiased(1.0 / pr["p"] - 1.0),
    reference=_ref("scaled_bernoulli"), vectorised=_vec_bernoulli(True),
    aliases=("bernoulli-scaled",)))


# ---------------------------------------------------------------- adaptive

@njit(cache=True)
def adaptive_kernel(x, out, params, rng, iwork, mark):
    d = x.size
    k = resolve_k(params[0], params[1], d)
    vb = params[2]
    kept = adaptive(x, out, k, rng)
    return support_bits(kept, d) + vb * kept, vb * kept


def _vec_adaptive(pr, d, sparse):
    k = _k_of(pr, d)

    def f(x, g):
        a = np.abs(x)
        l1 = a.sum()
        if l1 == 0.0:
            return np.zeros_like(x)
        target = min(k, np.count_nonzero(a))
        lam = target / l1
        for _ in range(d):
            sat = a * lam >= 1.0
            rest = a[~sat].sum()
            if rest == 0.0:
                break
            new = (target - sat.sum()) / rest
            if new <= lam * (1.0 + 1e-15):
                break
            lam = new
        p = np.minimum(1.0, lam * a)
        keep = g.random(d) < p
        return np.where(keep, x / np.where(p > 0, p, 1.0), 0.0)
    return f


register(Definition(
    "adaptive", adaptive_kernel,
    "adaptive random sparsification: keep x_i/p_i w.p. p_i ~ min(1, K|x_i|/||x||_1)",
    "adaptive(q=0.1)", "kept values + min(kept ceil(log2 d), d)",
    params=KQ + (BITS_PARAM,), one_of=("k", "q"), pack=lambda pr: _kq(pr) + [pr["bits"]],
    claims=lambda pr, d: unbiased(
        d / _k_of(pr, d) - 1.0, source="derived",
        note="p_i >= K|x_i|/||x||_1 => E||C(x)||^2 <= ||x||_1^2/K <= (d/K)||x||^2 "
             "(shiftbench.compressors.kernels.sampling.adaptive)"),
    depends_on_d=lambda pr: "k" in pr, reference=_ref("adaptive"), vectorised=_vec_adaptive,
    aliases=("adaptive-k", "adaptive-sparsification")))


# ---------------------------------------------------------------- natural, natural-det

@njit(cache=True)
def natural_kernel(x, out, params, rng, iwork, mark):
    """params: bits, deterministic (natural-det)."""
    d = x.size
    m = natural(x, out, rng, params[1] != 0.0)
    per = 9.0 if params[0] == 32.0 else 12.0     # sign + 8 (fp32) or 11 (fp64) exponent bits
    return sparse_or_dense(m, d, per), per * m


def _vec_natural(det):
    def make(pr, d, sparse):
        def f(x, g):
            a = np.abs(x)
            _, e = np.frexp(a)
            lo = np.ldexp(1.0, e - 1)
            up = (a >= 1.5 * lo) if det else (g.random(d) < a / lo - 1.0)
            return np.where(a > 0, np.copysign(lo * (1.0 + up), x), 0.0)
        return f
    return make


register(Definition(
    "natural", natural_kernel,
    "natural compression C_nat: unbiased stochastic rounding to a power of two",
    "natural", "9 bits/entry (fp32), 12 (fp64)", params=(BITS_PARAM,),
    pack=lambda pr: [pr["bits"], 0.0], claims=lambda pr, d: unbiased(1.0 / 8.0),
    reference=_ref("natural"), vectorised=_vec_natural(False),
    aliases=("cnat", "c-nat", "natural-compression")))

register(Definition(
    "natural-det", natural_kernel,
    "deterministic C_nat: |t| rounded to the nearest power of two (biased)",
    "natural-det", "9 bits/entry (fp32), 12 (fp64)", params=(BITS_PARAM,),
    pack=lambda pr: [pr["bits"], 1.0],
    claims=lambda pr, d: contractive(8.0 / 9.0, source="derived",
                                     note="|C(t)-t| <= |t|/3 (worst at t = 1.5*2^e)"),
    deterministic=True, reference=_ref("natural_det"), vectorised=_vec_natural(True),
    aliases=("cnat-det", "deterministic-natural")))


# ---------------------------------------------------------------- dither, natural-dither

@njit(cache=True)
def dither_kernel(x, out, params, rng, iwork, mark):
    """params: s, norm p, bits, natural levels (natural-dither)."""
    d = x.size
    s = params[0]
    vb = params[2]
    nrm, m = dither(x, out, s, params[1], params[3] != 0.0, rng)
    per = 1 + ceil_log2(int(s) + 1)              # sign + level index in {0..s}
    return vb + sparse_or_dense(m, d, per), float(per * m)


def _vec_dither(pr, d, sparse):
    s, p = pr["s"], pr["p"]

    def f(x, g):
        nrm = np.linalg.norm(x, ord=p)
        if nrm == 0.0:
            return np.zeros_like(x)
        a = np.abs(x) / nrm * s
        lvl = np.floor(a)
        lvl += g.random(d) < a - lvl
        return np.sign(x) * (nrm * lvl / s)
    return f


def _vec_natdither(pr, d, sparse):
    s, p = pr["s"], pr["p"]
    smallest = math.ldexp(1.0, 1 - int(s))

    def f(x, g):
        nrm = np.linalg.norm(x, ord=p)
        if nrm == 0.0:
            return np.zeros_like(x)
        u = np.abs(x) / nrm
        r = g.random(d)
        _, e = np.frexp(u)
        lo = np.ldexp(1.0, e - 1)
        lv = lo * (1.0 + (r < u / lo - 1.0))
        lv = np.where(u < smallest, np.where(r < u / smallest, smallest, 0.0), lv)
        lv = np.where(u >= 1.0, 1.0, lv)
        return np.sign(x) * (nrm * lv)
    return f


LEVELS = Param("s", "number of levels", kind="int", lo=1, hi=S_MAX)
NORM = Param("p", "the norm", default=2.0, lo=1.0, inf_ok=True)


def _dither_claims(pr, d):
    if pr["p"] == 2.0:
        return unbiased(min(d / pr["s"] ** 2, math.sqrt(d) / pr["s"]),
                        note="Alistarh et al., QSGD, NeurIPS 2017, Lemma 3.1")
    return Claims("unbiased", note="omega claimed for p = 2 only; measured")


def _natdither_claims(pr, d):
    r = min(pr["p"], 2.0)
    t = d ** (1.0 / r) * 2.0 ** (1.0 - pr["s"])
    return unbiased(1.0 / 8.0 + t * min(1.0, t), source="reconstructed")


register(Definition(
    "dither", dither_kernel,
    "random dithering / QSGD: ||x||_p sign(x_i) xi_i, xi_i on {0,1/s,..,1}", "dither(s=4)",
    "1 norm + d (1 + ceil(log2(s+1)))", params=(LEVELS, NORM, BITS_PARAM),
    pack=lambda pr: [pr["s"], pr["p"], pr["bits"], 0.0], claims=_dither_claims,
    depends_on_d=True, reference=_ref("dither"), vectorised=_vec_dither,
    aliases=("qsgd", "random-dithering")))

register(Definition(
    "natural-dither", dither_kernel,
    "natural dithering: levels {0, 2^(1-s), .., 1/2, 1}", "natural-dither(s=4)",
    "1 norm + d (1 + ceil(log2(s+1)))", params=(LEVELS, NORM, BITS_PARAM),
    pack=lambda pr: [pr["s"], pr["p"], pr["bits"], 1.0], claims=_natdither_claims,
    depends_on_d=True, reference=_ref("natural_dither"), vectorised=_vec_natdither,
    aliases=("nd", "natdither", "natural-dithering")))


# ---------------------------------------------------------------- terngrad

@njit(cache=True)
def terngrad_kernel(x, out, params, rng, iwork, mark):
    d = x.size
    vb = params[0]
    m = terngrad(x, out, rng)
    dense = 2.0 * d                              # 2 bits per entry
    sparse = support_bits(m, d) + m              # or the support + 1 sign bit each
    return vb + (dense if dense < sparse else sparse), float(m)


def _vec_terngrad(pr, d, sparse):
    def f(x, g):
        m = np.abs(x).max()
        if m == 0.0:
            return np.zeros_like(x)
        return np.where(g.random(d) < np.abs(x) / m, np.sign(x) * m, 0.0)
    return f


register(Definition(
    "terngrad", terngrad_kernel, "TernGrad: max|x| sign(x_i) Bernoulli(|x_i|/max|x|)",
    "terngrad", "1 value + 2 bits/entry (or support + 1 sign bit per nonzero)",
    params=(BITS_PARAM,), pack=lambda pr: [pr["bits"]],
    claims=lambda pr, d: unbiased((math.sqrt(d) - 1.0) / 2.0, source="derived",
                                  note="E||C(x)||^2 = max|x| ||x||_1 <= (1+sqrt d)/2 ||x||^2"),
    depends_on_d=True, reference=_ref("terngrad"), vectorised=_vec_terngrad,
    aliases=("tern",)))


# ---------------------------------------------------------------- sign

@njit(cache=True)
def sign_kernel(x, out, params, rng, iwork, mark):
    d = x.size
    vb = params[0]
    m = scaled_sign(x, out)
    if m == d:
        return vb + d, float(d)
    sparse = support_bits(m, d) + m
    return vb + (2 * d if 2 * d < sparse else sparse), float(m)


register(Definition(
    "sign", sign_kernel, "scaled sign: (||x||_1/d) sign(x)", "sign", "1 value + 1 bit/entry",
    params=(BITS_PARAM,), pack=lambda pr: [pr["bits"]],
    claims=lambda pr, d: contractive(1.0 / d, b1=(1.0 / d ** 2, 1.0), b2=(1.0 / d, 1.0),
                                     source="derived",
                                     note="E||C(x)-x||^2 = ||x||^2 - ||x||_1^2/d"),
    depends_on_d=True, deterministic=True, reference=_ref("sign"),
    vectorised=lambda pr, d, sparse: (lambda x, g: (np.abs(x).sum() / d) * np.sign(x)),
    aliases=("scaled-sign", "signsgd")))
