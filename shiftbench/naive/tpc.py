"""Plain NumPy references of CGD, error feedback and the 3PC methods.

Written for clarity, not speed: one Python loop over iterations and
workers, the three point compressors written out case by case from Richtárik et al., 3PC (ICML 2022).
Tests compare the compiled loop (:mod:`shiftbench.methods.tpc`) with these
iterate by iterate.  The compressors themselves are applied through
``compress(which, i, v, rng)`` -- by default the compiled kernels driven by
per-worker xoroshiro128+ states seeded exactly as the compiled loop seeds
them (worker i: stream i; the master's MARINA coin: stream n), so both
implementations see the same randomness in the same order.
"""
import numpy as np

from .. import _rng
from .methods import local_grads


def _sq(v):
    """||v||^2 summed left to right (the compiled loop's order)."""
    return float(sum((v * v).tolist()))


def compiled_compress(C1, C2=None):
    """A ``compress(which, i, v, rng) -> (y, bits, values_bits)`` on compiled kernels."""
    def compress(which, i, v, rng):
        comp = C1[i] if which == 1 else C2[i]
        y, b = comp.compress(np.ascontiguousarray(v, float), rng=rng)
        return y.copy(), int(b), int(b.values)
    return compress


def three_point(mech, h, y, x, compress, i, rng, *, zeta=0.0, p=1.0, coin=None, inner="ef21",
                vb=32):
    """C_{h,y}(x) of the 3PC paper in NumPy; returns (value, bits, values_bits).

    ``compress(which, i, v, rng)`` applies C (which = 1) or the second
    compressor Q / C_2 (which = 2).  ``coin`` is MARINA's shared draw.
    """
    d = x.size
    full = vb * d
    C = lambda v: compress(1, i, v, rng)       # noqa: E731
    C2 = lambda v: compress(2, i, v, rng)      # noqa: E731
    trig = lambda: _sq(x - h) > zeta * _sq(x - y)  # noqa: E731
    if mech == "ef21":
        c, b, bv = C(x - h)
        return h + c, b, bv
    if mech == "lag":
        return (x.copy(), 1 + full, full) if trig() else (h.copy(), 1, 0)
    if mech == "clag":
        if trig():
            c, b, bv = C(x - h)
            return h + c, 1 + b, bv
        return h.copy(), 1, 0
    if mech == "3pcv1":
        c, b, bv = C(x - y)
        return y + c, b, bv
    if mech in ("3pcv5", "marina"):
        if mech == "3pcv5":
            u, flag = _rng.uniform(rng), 1
        else:
            u, flag = coin, 0
        if u < p:
            return x.copy(), flag + full, full
        c, b, bv = C(x - y)
        return h + c, flag + b, bv
    if mech == "3pcv2":
        q, b1, v1 = C2(x - y)
        bb = h + q
    elif mech == "3pcv4" or (mech == "3pcv3" and inner == "ef21"):
        c2, b1, v1 = C2(x - h)
        bb = h + c2
    elif mech == "3pcv3" and inner in ("lag", "clag"):
        b1, v1 = 1, 0
        if trig():
            if inner == "lag":
                bb = x.copy()
                b1, v1 = 1 + full, full
            else:
                c2, bq, vq = C2(x - h)
                bb = h + c2
                b1, v1 = 1 + bq, vq
        else:
            bb = h.copy()
    else:
        raise ValueError(f"unknown mechanism {mech!r}")
    c, b, bv = C(x - bb)
    return bb + c, b1 + b, v1 + bv


def run(P, method, C1, C2=None, *, gamma, zeta=0.0, p=1.0, inner="ef21", ef_outer=1.0,
        x0=None, iters=100, seed=0, vb=32, compress=None):
    """Run ``method`` in NumPy; returns (list of x^k, list of mean bits per worker).

    ``method``: cgd, dcgd, ef, ef21, lag, clag, 3pcv1 ... 3pcv5, marina.
    ``C1``, ``C2``: lists of per-worker :class:`~shiftbench.compressors.Compressor`.
    """
    n, d = P.n, P.d
    x = np.array(P.x0 if x0 is None else x0, dtype=float)
    rng = [_rng.new_state(seed, i) for i in range(n + 1)]
    compress = compress or compiled_compress(C1, C2)
    bits = np.zeros(n)
    G, _ = local_grads(P, x)
    tpc = method not in ("cgd", "dcgd", "ef")
    H = G.copy() if tpc else np.zeros((n, d))
    if tpc:
        bits += vb * d
    xs, bs = [x.copy()], [bits[:1].mean() if method == "cgd" else bits.mean()]
    for _ in range(iters):
        if method == "cgd":
            c, b, _v = compress(1, 0, G.mean(axis=0), rng[0])
            bits[0] += b
            x = x - gamma * c
        elif method in ("dcgd", "ef"):
            acc = np.zeros(d)
            for i in range(n):
                v = H[i] + gamma * G[i] if method == "ef" else G[i]
                c, b, _v = compress(1, i, v, rng[i])
                bits[i] += b
                acc += c
                if method == "ef":
                    H[i] = v - c
            x = x - (gamma if method == "dcgd" else ef_outer) * acc / n
        else:
            x = x - gamma * H.mean(axis=0)
        Gn, _ = local_grads(P, x)
        if tpc:
            coin = _rng.uniform(rng[n]) if method == "marina" else None
            for i in range(n):
                H[i], b, _v = three_point(method, H[i].copy(), G[i], Gn[i], compress, i, rng[i],
                                          zeta=zeta, p=p, coin=coin, inner=inner, vb=vb)
                bits[i] += b
        G = Gn
        xs.append(x.copy())
        bs.append(bits[:1].mean() if method == "cgd" else bits.mean())
    return xs, bs
