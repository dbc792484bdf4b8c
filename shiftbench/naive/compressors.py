"""Plain NumPy / pure-Python reference implementations of every compressor.

These references exist to test the compiled kernels of
:mod:`shiftbench.compressors.kernels`.  They are written for clarity, not
speed, and share nothing with the kernels except the spec parser
(:func:`shiftbench.compressors.parse`):

* the random number generator (xoroshiro128+ seeded by splitmix64, Blackman
  & Vigna 2021) is re-implemented here with Python integers, so that a random
  compressor can be compared with its kernel *exactly* for a given seed;
* every reference consumes random draws in the same order as its kernel
  (documented per compressor below), so the streams stay aligned.  Sampling
  compressors (Rand-K, Bernoulli) draw from the stream directly (Rand-K
  with large K also uses a key as below);
  element-wise ones (C_nat, dithering, TernGrad, adaptive) draw ONE 64-bit
  ``key`` from the stream per call and give entry i the i-th SplitMix64
  output started at ``key`` (:func:`ctr_u64`, counter-based);
* reductions whose rounding matters (norms) are summed in the kernels'
  order: :func:`lane_sum` (16 interleaved partial sums combined by a fixed
  pairwise tree) for the quantisers' norms and adaptive sparsification's
  sums; element-wise arithmetic is written in the
  same order as in the kernels.

The compressors and their constants: Rand-K and
the shifted-compression framework of Shulgin & Richtárik (UAI 2022, seed
001), the biased classes of Beznosikov, Horváth, Richtárik & Safaryan (seed
004), natural compression and natural dithering of Horváth et al. (2019),
QSGD / random dithering of Alistarh et al. (2017), TernGrad of Wen et al.
(2017) and adaptive sparsification of Wangni et al. (2018).

Bits follow the rules documented in
:mod:`shiftbench.compressors.kernels`: the index cost of m present
coordinates is the cheaper of ``m * ceil(log2 d)`` and a d-bit mask (zero
when all d are present); values are 32 or 64 bits; a norm costs one value;
dithering sends ``1 + ceil(log2(s + 1))`` bits per entry; C_nat 9 bits per
entry (fp32) or 12 (fp64); Rand-K with ``shared=1`` sends no indices; a
Bernoulli message carries one flag bit; ``compose(C2, C1)`` costs C2's
message about C1's output (C1's own message never travels).

Examples
--------
>>> import numpy as np
>>> y, bits, values = naive_compress("top-k(k=2)", np.array([3., -1., 4., 1.]), seed=0)
>>> y.tolist(), bits, values
([3.0, 0.0, 4.0, 0.0], 68, 64)
"""
from __future__ import annotations

import math
from functools import partial

import numpy as np

from ..compressors.registry import parse

__all__ = ["Rng", "naive_compress", "naive_apply", "ceil_log2", "support_bits",
           "nat_round", "topk_reference", "seq_sum", "lane_sum", "pnorm",
           "adaptive_scale", "adaptive_probabilities", "ctr_u64", "ctr_uniform"]

M64 = (1 << 64) - 1


# ----------------------------------------------------------------------------
# the generator, in pure Python (mirrors shiftbench/_rng.py)

def _splitmix64(z):
    """One splitmix64 step on a 64-bit integer."""
    z = (z + 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


GAMMA = 0x9E3779B97F4A7C15
LANES = 16


def _mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def ctr_u64(key, i):
    """The i-th (i = 0, 1, ...) output of SplitMix64 started at ``key``
    (Steele, Lea & Flood, OOPSLA 2014): ``mix(key + (i + 1) * GAMMA)``."""
    return _mix64((key + (i + 1) * GAMMA) & M64)


def ctr_uniform(key, i):
    """``(ctr_u64(key, i) >> 11) * 2**-53``, a float in [0, 1)."""
    return float(ctr_u64(key, i) >> 11) * 2.0 ** -53


def _rotl(x, k):
    return ((x << k) & M64) | (x >> (64 - k))


class Rng:
    """xoroshiro128+ seeded by splitmix64, with Python integers.

    Parameters
    ----------
    seed, stream : int
        Same meaning as in :func:`shiftbench._rng.new_state`; stream 0 is what
        :meth:`shiftbench.compressors.Compressor.compress` uses.

    Notes
    -----
    D. Blackman and S. Vigna, "Scrambled linear pseudorandom number
    generators", ACM TOMS 47(4), 2021.  ``bounded`` is Lemire's
    multiply-shift with rejection (D. Lemire, "Fast random integer generation
    in an interval", ACM TOMACS 29(1), 2019).
    """

    def __init__(self, seed, stream=0):
        seed = int(seed) & M64
        stream = int(stream) & M64
        z = _splitmix64(seed ^ _splitmix64((stream + 0x632BE59BD9B4E019) & M64))
        s0 = _splitmix64(z)
        s1 = _splitmix64(s0 ^ 0xD1B54A32D192ED03)
        if s0 == 0 and s1 == 0:
            s1 = 1
        self.s0, self.s1 = s0, s1
        self.draws = 0

    def next_u64(self):
        """Next 64-bit output."""
        s0, s1 = self.s0, self.s1
        result = (s0 + s1) & M64
        s1 ^= s0
        self.s0 = _rotl(s0, 24) ^ s1 ^ ((s1 << 16) & M64)
        self.s1 = _rotl(s1, 37)
        self.draws += 1
        return result

    def uniform(self):
        """A float in [0, 1) with 53 random bits: ``(u64 >> 11) * 2**-53``."""
        return float(self.next_u64() >> 11) * 2.0 ** -53

    def bounded(self, n):
        """An integer uniform on {0, ..., n-1} (Lemire, with rejection)."""
        while True:
            m = self.next_u64() * n
            hi, lo = m >> 64, m & M64
            if lo >= n or lo >= ((1 << 64) - n) % n:
                return hi

    def state(self):
        """The state as a ``uint64[2]`` array (as in :mod:`shiftbench._rng`)."""
        return np.array([self.s0, self.s1], dtype=np.uint64)


# ----------------------------------------------------------------------------
# helpers

def ceil_log2(n):
    """ceil(log2 n) for an integer n >= 1 (0 for n = 1)."""
    return (int(n) - 1).bit_length()


def support_bits(m, d):
    """Bits to say which m of d coordinates are present.

    The cheaper of an index list (``m * ceil(log2 d)``) and a d-bit mask;
    nothing when all d coordinates are present.
    """
    if m >= d:
        return 0
    return min(m * ceil_log2(d), d)


def seq_sum(values):
    """Left-to-right float sum (the kernels' order; ``np.sum`` is pairwise)."""
    s = 0.0
    for v in values:
        s += float(v)
    return s


def lane_sum(values):
    """The kernels' norm summation order: entry i is added to partial sum
    ``i % 16`` (in index order), then the 16 partial sums are combined
    pairwise: (s0+s1), (s2+s3), ..., then pairs of those, and so on."""
    acc = [0.0] * LANES
    for i, v in enumerate(values):
        acc[i % LANES] += float(v)
    while len(acc) > 1:
        acc = [acc[2 * j] + acc[2 * j + 1] for j in range(len(acc) // 2)]
    return acc[0]


def _pow(v, p):
    try:
        return float(v) ** p
    except OverflowError:
        return math.inf


def pnorm(x, p):
    """The p-norm of x, summed in the kernels' order (:func:`lane_sum`);
    ``inf`` when the sum overflows."""
    a = np.abs(x)
    if p == math.inf:
        return float(a.max()) if a.size else 0.0
    if p == 2.0:
        with np.errstate(over="ignore"):
            return math.sqrt(lane_sum(a * a))
    if p == 1.0:
        return lane_sum(a)
    return _pow(lane_sum([_pow(v, p) for v in a]), 1.0 / p)


NORM_LO, NORM_HI = 2.0 ** -500, 2.0 ** 500


def _dither_scaled(x, p):
    """The input and norm dithering works on, and the exponent e to scale
    its output back by: when the norm is outside (2**-500, 2**500) (its
    square or inverse may over- or underflow), x is replaced by x 2**-e
    with max|x| 2**-e in [1/2, 1) (exact), else e = 0."""
    nrm = pnorm(x, p)
    if NORM_LO < nrm < NORM_HI:
        return x, nrm, 0
    e = math.frexp(float(np.abs(x).max()))[1]
    xs = np.ldexp(x, -e)
    return xs, pnorm(xs, p), e


def _resolve_k(params, d):
    """K from k, or from q as round(q d), clipped to [1, d]."""
    if "k" in params:
        k = int(params["k"])
    else:
        k = int(math.floor(params["q"] * d + 0.5))
    return max(1, min(d, k))


def _sparse_or_dense(m, d, per_entry):
    """Cost of m entries of ``per_entry`` bits: dense (d entries) or
    support + m entries, whichever is cheaper."""
    return min(per_entry * d, support_bits(m, d) + per_entry * m)


def topk_reference(x, k):
    """Top-K by a stable sort of -|x|: ties go to the lowest index."""
    x = np.asarray(x, dtype=np.float64)
    y = np.zeros_like(x)
    keep = np.argsort(-np.abs(x), kind="stable")[:k]
    y[keep] = x[keep]
    return y


def nat_round(t, u=None, deterministic=False):
    """Round one number to a power of two (natural compression).

    Parameters
    ----------
    t : float
        The number; 0 and non-finite values are returned unchanged.
    u : float, optional
        A uniform draw on [0, 1): round up when ``u < (|t| - lo)/lo``, where
        ``lo = 2**floor(log2 |t|)``, so that ``E C(t) = t`` (Horváth et al.,
        2019).  Ignored when ``deterministic``.
    deterministic : bool
        Round |t| to the nearer of ``lo`` and ``2 lo`` (up at the midpoint
        ``1.5 lo``).

    Notes
    -----
    ``2 lo`` is not representable when ``lo = 2**1023``; the result then
    saturates at ``2**1023`` (biased only for ``|t| > 2**1023``).
    """
    if t == 0.0 or not math.isfinite(t):
        return t
    a = abs(t)
    m, e = math.frexp(a)           # a = m 2**e, 0.5 <= m < 1 (subnormals too)
    lo = math.ldexp(1.0, e - 1)    # 2**floor(log2 a)
    if deterministic:
        up = a >= 1.5 * lo
    else:
        up = u < a / lo - 1.0
    if lo == math.ldexp(1.0, 1023):
        up = False
    r = 2.0 * lo if up else lo
    return -r if t < 0 else r


# ----------------------------------------------------------------------------
# the primitives: each returns (y, bits_full, bits_values)

def identity(x, pr, rng):
    vb = int(pr.get("bits", 32))
    m = int(np.count_nonzero(x))
    return x.copy(), _sparse_or_dense(m, x.size, vb), vb * m


def zero(x, pr, rng):
    return np.zeros_like(x), 0, 0


def topk(x, pr, rng):
    d = x.size
    vb = int(pr.get("bits", 32))
    k = _resolve_k(pr, d)
    return topk_reference(x, k), support_bits(k, d) + vb * k, vb * k


def _floyd(d, k, rng):
    """Floyd's algorithm: K distinct indices, uniform over the K-subsets.

    Draws ``bounded(j + 1)`` for j = d-K, ..., d-1, in that order.
    """
    chosen = []
    seen = set()
    for j in range(d - k, d):
        t = rng.bounded(j + 1)
        if t in seen:
            t = j
        seen.add(t)
        chosen.append(t)
    return chosen


def randk_streams(k, d):
    """Rand-K's rule: stream when K * ratio >= d, ratio 12 below d = 2**22, 40 from there."""
    return k * (40 if d >= 1 << 22 else 12) >= d


def _stream_bit(key, i, thr):
    """Entry i's 16-bit draw (bits 16 (i % 4) .. of ctr_u64(key, i // 4)) < thr."""
    return ((ctr_u64(key, i // 4) >> (16 * (i % 4))) & 0xFFFF) < thr


def _stream(d, k, rng):
    """The streaming rule of large K: one key; candidates are the entries
    whose 16-bit draw is below round(65536 K / d); then ``bounded(d)`` draws
    drop candidates (or add others) until exactly K remain, skipping draws
    of the wrong kind or already toggled.  Indices increasing."""
    key = rng.next_u64()
    thr = (k * 65536 + d // 2) // d
    cand = [_stream_bit(key, i, thr) for i in range(d)]
    c = sum(cand)
    drop = c > k
    toggled = set()
    while len(toggled) < abs(c - k):
        t = rng.bounded(d)
        if t not in toggled and cand[t] == drop:
            toggled.add(t)
    return [i for i in range(d) if cand[i] != (i in toggled)]


def randk_indices(d, k, rng):
    """Rand-K's index set: the streaming rule when :func:`randk_streams`,
    else Floyd's algorithm (a deterministic function of (K, d))."""
    if randk_streams(k, d):
        return _stream(d, k, rng)
    return _floyd(d, k, rng)


def _randk(x, pr, rng, scaled):
    d = x.size
    vb = int(pr.get("bits", 32))
    k = _resolve_k(pr, d)
    scale = d / k if scaled else 1.0
    y = np.zeros_like(x)
    for t in randk_indices(d, k, rng):
        y[t] = scale * x[t]
    index_bits = 0 if pr.get("shared", 0.0) else support_bits(k, d)
    return y, index_bits + vb * k, vb * k


def _bernoulli(x, pr, rng, scaled):
    """One draw: the vector is sent (with a 1-bit flag) when u < p."""
    vb = int(pr.get("bits", 32))
    p = pr["p"]
    if rng.uniform() < p:
        sc = 1.0 / p if scaled else 1.0
        m = int(np.count_nonzero(x))
        return sc * x, 1 + _sparse_or_dense(m, x.size, vb), vb * m
    return np.zeros_like(x), 1, 0


def adaptive_scale(x, k):
    """The lam of adaptive sparsification: p_i = min(1, lam |x_i|).

    lam makes ``sum_i p_i = min(K, nnz(x))``: start from ``K / ||x||_1``,
    fix the coordinates that saturate at 1 and recompute lam on the rest
    until it stops growing (reconstructed; Wangni et al. 2018).  Sums in
    the kernels' lane order (:func:`lane_sum`, saturated entries counted as
    0 in their lanes).  Returns 0 for x = 0.
    """
    a = np.abs(np.asarray(x, dtype=np.float64))
    l1 = lane_sum(a)
    if l1 == 0.0:
        return 0.0
    target = min(int(k), int(np.count_nonzero(a)))
    lam = target / l1
    for _ in range(a.size):
        sat = int(np.count_nonzero(lam * a >= 1.0))
        rest = lane_sum(np.where(lam * a >= 1.0, 0.0, a))
        if rest == 0.0:
            break
        new_lam = (target - sat) / rest
        if new_lam <= lam * (1.0 + 1e-15):
            break
        lam = new_lam
    return lam


def adaptive_probabilities(x, k):
    """Keep probabilities ``p_i = min(1, lam |x_i|)`` (see :func:`adaptive_scale`)."""
    a = np.abs(np.asarray(x, dtype=np.float64))
    return np.minimum(1.0, adaptive_scale(x, k) * a)


def adaptive(x, pr, rng):
    """Adaptive sparsification (reconstructed; Wangni et al. 2018).

    p_i = min(1, lam |x_i|) (:func:`adaptive_scale`).  One key draw per call;
    entry i is kept when ``(ctr_u64(key, i) >> 12) 2**-52 < p_i``; kept entries are x_i
    when p_i = 1, else sign(x_i) / lam (= x_i / p_i).
    """
    d = x.size
    vb = int(pr.get("bits", 32))
    k = _resolve_k(pr, d)
    key = rng.next_u64()
    a = np.abs(x)
    if lane_sum(a) == 0.0:
        return np.zeros_like(x), 0, 0
    lam = adaptive_scale(x, k)
    y = np.zeros_like(x)
    kept = 0
    for i in range(d):
        pi = lam * a[i]
        if pi >= 1.0:
            y[i] = x[i]
            kept += 1
        elif float(ctr_u64(key, i) >> 12) * 2.0 ** -52 < pi:
            y[i] = (1.0 / lam) if x[i] > 0 else -(1.0 / lam)
            kept += 1
    return y, support_bits(kept, d) + vb * kept, vb * kept


def _natural(x, pr, rng, deterministic):
    """C_nat entry by entry; the random one draws one key, and entry i uses
    ``ctr_uniform(key, i)``."""
    vb = int(pr.get("bits", 32))
    y = np.empty_like(x)
    key = None if deterministic else rng.next_u64()
    for i in range(x.size):
        u = None if deterministic else ctr_uniform(key, i)
        y[i] = nat_round(float(x[i]), u, deterministic)
    per = 9 if vb == 32 else 12          # sign + 8 (fp32) or 11 (fp64) exponent bits
    m = int(np.count_nonzero(x))
    return y, _sparse_or_dense(m, x.size, per), per * m


def _dither_bits(x, s, vb):
    per = 1 + ceil_log2(int(s) + 1)      # sign + level index in {0..s}
    m = int(np.count_nonzero(x))
    return vb + _sparse_or_dense(m, x.size, per), per * m


def _dithered(x, pr, rng, value):
    """The dithering skeleton: one key per call (also for x = 0); entry i
    gets ``value(u_i, ctr_uniform(key, i), s, nrm)`` with sign(x_i), where
    ``u_i = |x_i| / ||x||_p`` (on x scaled by a power of two when the norm
    is extreme, then scaled back)."""
    d = x.size
    vb = int(pr.get("bits", 32))
    s = pr["s"]
    key = rng.next_u64()
    y = np.zeros_like(x)
    if np.any(x):
        xs, nrm, e = _dither_scaled(x, pr.get("p", 2.0))
        inv = 1.0 / nrm
        for i in range(d):
            v = value(abs(xs[i]) * inv, ctr_uniform(key, i), s, nrm)
            y[i] = -v if x[i] < 0.0 else v
        y = np.ldexp(y, e)
    bf, bv = _dither_bits(x, s, vb)
    return y, bf, bv


def _qsgd_value(u, r, s, nrm):
    a = u * s
    lvl = math.floor(a)
    if r < a - lvl:
        lvl += 1.0
    return nrm * lvl / s


def _natural_value(u, r, s, nrm):
    smallest = math.ldexp(1.0, 1 - int(s))
    if u >= 1.0:
        lv = 1.0
    elif u < smallest:
        lv = smallest if r < u / smallest else 0.0
    else:
        lv = nat_round(u, r)
    return nrm * lv


def dither(x, pr, rng):
    """Random dithering / QSGD (Alistarh et al., NeurIPS 2017):
    xi_i = floor(s u_i) + Bernoulli(fractional part), y_i = ||x||_p sign(x_i)
    xi_i / s, with entry i drawing ``ctr_uniform(key, i)``."""
    return _dithered(x, pr, rng, _qsgd_value)


def natural_dither(x, pr, rng):
    """Natural dithering (Horváth et al. 2019): levels {0, 2^(1-s), .., 1/2, 1}.

    u_i >= 1 keeps level 1; below the smallest level 2^(1-s) it rounds to 0
    or 2^(1-s) unbiasedly; otherwise it is rounded to a power of two as in
    C_nat.
    """
    return _dithered(x, pr, rng, _natural_value)


def terngrad(x, pr, rng):
    """TernGrad (Wen et al. 2017): one key per call (also for x = 0);
    entry i uses ``ctr_uniform(key, i)``.

    Bits: one value (max|x|) + 2 bits per entry, or the support of the
    nonzero outputs + 1 sign bit each, whichever is cheaper.
    """
    d = x.size
    vb = int(pr.get("bits", 32))
    key = rng.next_u64()
    m = float(np.abs(x).max())
    y = np.zeros_like(x)
    if m != 0.0:
        for i in range(d):
            if ctr_uniform(key, i) < abs(x[i]) / m:
                y[i] = m if x[i] > 0.0 else -m
    nz = int(np.count_nonzero(y))
    return y, vb + min(2 * d, support_bits(nz, d) + nz), nz


def sign(x, pr, rng):
    """Scaled sign (||x||_1/d) sign(x): one value + 1 bit per entry (or
    support + signs of the nonzeros when x has zeros)."""
    d = x.size
    vb = int(pr.get("bits", 32))
    c = lane_sum(np.abs(x)) / d
    y = c * np.sign(x)
    m = int(np.count_nonzero(x))
    if m == d:
        return y, vb + d, d
    return y, vb + min(2 * d, support_bits(m, d) + m), m


# the references named by the compressors' definitions (shiftbench.compressors.builtins)
randk = partial(_randk, scaled=True)                  # (d/K) x on K coordinates (randk_indices)
crandk = partial(_randk, scaled=False)                # x on K coordinates (randk_indices)
bernoulli = partial(_bernoulli, scaled=False)         # x with probability p (one draw)
scaled_bernoulli = partial(_bernoulli, scaled=True)   # x/p with probability p
natural = partial(_natural, deterministic=False)      # unbiased C_nat (one key)
natural_det = partial(_natural, deterministic=True)   # nearest power of two (no draw)


# ----------------------------------------------------------------------------
# the tree

def naive_apply(node, x, rng):
    """Apply a parsed spec tree to x with generator ``rng``.

    Parameters
    ----------
    node : shiftbench.compressors.registry.Node
        From :func:`shiftbench.compressors.parse`.
    x : ndarray of float64
    rng : Rng

    Returns
    -------
    y : ndarray
    bits_full, bits_values : int

    Notes
    -----
    * ``induced(C, Q)``: ``C(x) + Q(x - C(x))`` (footnote 1 of Shulgin & Richtárik, Shifted compression framework, UAI 2022);
      C draws first, then Q; both messages are sent.
    * ``compose(C2, C1)``: ``C2(C1(x))``; C1 draws first; only C2's message
      about C1's output is sent.
    * ``scale(C, lam)``: ``lam C(x)``; the bits of C.
    """
    if node.name == "induced":
        c, q = node.kids
        yc, bc, vc = naive_apply(c, x, rng)
        yq, bq, vq = naive_apply(q, x - yc, rng)
        return yc + yq, bc + bq, vc + vq
    if node.name == "compose":
        outer, inner = node.kids
        yi, _, _ = naive_apply(inner, x, rng)
        return naive_apply(outer, yi, rng)
    if node.name == "scale":
        (c,) = node.kids
        y, b, v = naive_apply(c, x, rng)
        return node.params["lam"] * y, b, v
    ref = node.definition.reference
    if ref is None:
        raise ValueError(f"{node.name}: no NumPy reference was registered")
    return ref(x, node.values(), rng)


def naive_compress(spec, x, seed=0, stream=0):
    """Reference compression of x by the compressor ``spec``.

    Parameters
    ----------
    spec : str
        A compressor spec, e.g. ``"rand-k(q=0.1)"`` (parsed by the project's
        one parser).
    x : array_like
        A finite 1-D vector.
    seed, stream : int
        Generator seed and stream; ``Compressor.compress(x, seed)`` uses
        stream 0 and ``Compressor.sample`` uses stream t for trial t.

    Returns
    -------
    y : ndarray
        The compressed vector.
    bits_full : int
        Everything a receiver needs (values, indices or mask, norms, flags).
    bits_values : int
        The values-only convention (reported beside ``bits_full``).

    Raises
    ------
    ValueError
        For a bad spec, a non-finite or non-1-D x, or K > d.
    """
    node = parse(spec)
    x = np.array(x, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"x must be a non-empty 1-D array, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("x contains NaN or inf; allowed: finite float values")
    node.check_d(x.size)
    y, bf, bv = naive_apply(node, x, Rng(seed, stream))
    return y, int(bf), int(bv)
