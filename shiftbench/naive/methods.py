"""Plain NumPy reference of Algorithm 1 (DCGD-SHIFT) and its instances.

Written for clarity, not speed: one Python loop over iterations and
workers, gradients with NumPy.  Tests compare the compiled engine
(:mod:`shiftbench.methods.engine`) with it iterate by iterate; benchmarks
use it as the "NumPy loop" baseline.

Compression is delegated to a ``compress(i, which, v, rng)`` callable so
that the same randomness can be fed to both implementations: by default
the compiled compressors driven by per-worker xoroshiro128+ states seeded
exactly as the engine seeds them (stream = worker index).
"""
import numpy as np

from .. import _rng


def local_grads(P, x):
    """Gradients of every f_i at x as an (n, d) array, with NumPy."""
    kind, A, b, off, sc, lam = P.args()
    n = P.n
    G = np.empty((n, P.d))
    f = 0.0
    for i in range(n):
        Ai, bi = A[off[i]:off[i + 1]], b[off[i]:off[i + 1]]
        t = Ai @ x
        if kind == 0:
            r = t - bi
            G[i] = sc[i] * (Ai.T @ r) + lam * x
            f += sc[i] * 0.5 * (r @ r) + 0.5 * lam * (x @ x)
        else:
            m = -bi * t
            sg = 1.0 / (1.0 + np.exp(-m))
            G[i] = sc[i] * (Ai.T @ (-bi * sg))
            f += sc[i] * np.sum(np.logaddexp(0.0, m))
            if kind == 2:
                q = 1.0 + x * x
                G[i] += lam * 2.0 * x / q ** 2
                f += lam * np.sum(x * x / q)
            else:
                G[i] += lam * x
                f += 0.5 * lam * (x @ x)
    return G, f / n


def compiled_compress(Q, C):
    """A ``compress(i, which, v, rng)`` using the compiled compressors."""
    def compress(i, which, v, rng):
        comp = Q[i] if which == "Q" else C[i]
        y, bits = comp.compress(v, rng=rng)
        return y.copy(), int(bits)
    return compress


def dcgd_shift(P, mode, Q, C=None, *, gamma, alpha=1.0, eta=1.0, p=None, h0=None,
               x0=None, iters=100, seed=0, compress=None):
    """Run Algorithm 1 in NumPy; returns (list of x^k, list of cumulative bits/worker).

    ``mode`` is one of ``dcgd``, ``dcgd-fixed``, ``dcgd-star``, ``diana``,
    ``rand-diana``, ``gdci``, ``vr-gdci`` (DGD is ``dcgd`` with the identity).
    """
    n, d = P.n, P.d
    x = np.array(P.x0 if x0 is None else x0, dtype=float)
    rng = [_rng.new_state(seed, i) for i in range(n)]
    compress = compress or compiled_compress(Q, C)
    H = np.zeros((n, d)) if h0 is None else np.array(np.broadcast_to(h0, (n, d)), float)
    bits = np.zeros(n)
    if mode == "rand-diana":
        H = local_grads(P, x)[0]
        bits += 32 * d
    if mode == "dcgd-star" and h0 is None:
        H = P.grad_star.copy()
    p = np.ones(n) if p is None else np.broadcast_to(p, (n,))
    xs, bs = [x.copy()], [bits.mean()]
    for _ in range(iters):
        G, _f = local_grads(P, x)
        if mode in ("gdci", "vr-gdci"):
            acc = np.zeros(d)
            for i in range(n):
                y = x - gamma * G[i]
                if mode == "vr-gdci":
                    m, bb = compress(i, "Q", y - H[i], rng[i])
                    acc += H[i] + m
                    H[i] = H[i] + alpha * m
                else:
                    m, bb = compress(i, "Q", y, rng[i])
                    acc += m
                bits[i] += bb
            x = (1 - eta) * x + eta * acc / n
        else:
            hbar = H.mean(axis=0)
            acc = np.zeros(d)
            Hn = H.copy()
            for i in range(n):
                v = G[i] - H[i]
                if mode == "diana" and C is not None:
                    c, bc = compress(i, "C", v, rng[i])
                    m, bq = compress(i, "Q", v - c, rng[i])
                    m = m + c
                    bits[i] += bc + bq
                else:
                    m, bq = compress(i, "Q", v, rng[i])
                    bits[i] += bq
                acc += m
                if mode == "diana":
                    Hn[i] = H[i] + alpha * m
                elif mode == "dcgd-star" and C is not None:
                    c, bc = compress(i, "C", G[i] - P.grad_star[i], rng[i])
                    Hn[i] = P.grad_star[i] + c
                    bits[i] += bc
                elif mode == "rand-diana":
                    if _rng.uniform(rng[i]) < p[i]:
                        Hn[i] = G[i]
                        bits[i] += 32 * d
            x = x - gamma * (hbar + acc / n)
            H = Hn
        xs.append(x.copy())
        bs.append(bits.mean())
    return xs, bs


def numpy_compress(spec, seed=0):
    """A ``compress(i, which, v, rng)`` in plain NumPy, as a NumPy user would
    write it (``Generator.choice`` for Rand-K, vectorised quantisers): the
    baseline of the "compiled engine vs NumPy loop" benchmark.  Only the
    compressors the benchmark uses are provided (rand-k, identity)."""
    from ..compressors import parse
    node = parse(spec)
    gen = np.random.default_rng(seed)
    name, pr = node.name, node.params

    def compress(i, which, v, rng):
        d = v.size
        if name == "identity":
            return v.copy(), 32 * d
        if name == "rand-k":
            k = int(pr["k"]) if "k" in pr else max(1, int(round(pr["q"] * d)))
            idx = gen.choice(d, k, replace=False)
            y = np.zeros(d)
            y[idx] = (d / k) * v[idx]
            return y, 32 * k + min(k * int(np.ceil(np.log2(d))), d)
        raise NotImplementedError(f"numpy_compress: {name}")
    return compress
