"""The user-facing :class:`Compressor` and its compiled batch sampler."""
from __future__ import annotations

import numpy as np
from numba import njit

from .. import _rng
from . import kernels as K
from .registry import parse, Claims

HIST = 65536


class Bits(int):
    """Size of one message in bits (the full count: values, indices, norms).

    ``bits.values`` is the "values only" count that many papers report.
    """

    def __new__(cls, full, values):
        obj = super().__new__(cls, int(full))
        obj.values = int(values)
        return obj

    def __repr__(self):
        return f"Bits({int(self)}, values={self.values})"


class Workspace:
    """Preallocated scratch for a compressor program at dimension d."""

    def __init__(self, d, nreg):
        self.d = d
        self.regs = np.zeros((max(nreg, 1), d))
        self.iwork = np.zeros(d + HIST, dtype=np.int64)
        self.mark = np.zeros(d, dtype=np.uint8)


@njit(cache=True)
def _all_finite(x):
    """True when no entry of x is NaN or inf (one vectorised pass)."""
    d = x.size
    bad = np.uint64(0)
    nb = d // 16
    for b in range(nb):
        base = b * 16
        if base + K.PREFETCH_STREAM < d:
            K._prefetch_r(x, base + K.PREFETCH_STREAM)
            K._prefetch_r(x, base + K.PREFETCH_STREAM + 8)
        for i in range(base, base + 16):
            e = np.float64(x[i]).view(np.uint64) & np.uint64(0x7FF0000000000000)
            bad |= np.uint64(e == np.uint64(0x7FF0000000000000))
    for i in range(nb * 16, d):
        e = np.float64(x[i]).view(np.uint64) & np.uint64(0x7FF0000000000000)
        bad |= np.uint64(e == np.uint64(0x7FF0000000000000))
    return bad == np.uint64(0)


def check_vector(x, what="x", finite=True):
    x = np.ascontiguousarray(x, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"{what} must be a non-empty 1-D array, got shape {x.shape}")
    if finite and not _all_finite(x):
        raise ValueError(f"{what} contains NaN or inf; allowed: finite float values")
    return x


class Compressor:
    """A compressor parsed from a spec string, e.g. ``"rand-k(q=0.1)"``.

    Parameters
    ----------
    spec : str
        Spec string (case- and space-tolerant); see ``python -m shiftbench
        compressors`` for every name and its syntax.
    d : int, optional
        Dimension used for d-dependent claimed constants before the first
        call to :meth:`compress`.

    Attributes
    ----------
    spec : str
        Canonical spec string.
    ops, params : ndarray
        The compiled program (see :func:`shiftbench.compressors.kernels.apply_program`).
    """

    def __init__(self, spec, d=None):
        self.node = parse(spec)
        self.spec = self.node.canonical()
        ops, params = [], []
        self.nreg = self.node.emit(ops, params, -1, -2, 0)
        self.ops = np.array(ops, dtype=np.int64).reshape(-1, K.OP_WIDTH)
        self.params = np.array(params, dtype=np.float64) if params else np.zeros(1)
        self.d = d
        if d is not None:
            self.node.check_d(d)
        self._ws = None

    # -- constants ----------------------------------------------------------
    def claims(self, d=None) -> Claims:
        """Claimed constants at dimension ``d`` (default: the last d seen)."""
        d = d if d is not None else self.d
        if d is None:
            if self.node.depends_on_d():
                raise ValueError(f"the constants of {self.spec} depend on d; "
                                 f"call claims(d) or pass d= to compressor()")
            d = 1000
        return self.node.claims(int(d))

    @property
    def kind(self):
        return self.claims().kind

    @property
    def omega(self):
        """Claimed omega of U(omega), or None."""
        return self.claims().omega

    @property
    def delta(self):
        """Claimed delta of B(delta), or None."""
        return self.claims().delta

    def workspace(self, d):
        if self._ws is None or self._ws.d != d:
            self._ws = Workspace(d, self.nreg)
        return self._ws

    # -- compression --------------------------------------------------------
    def compress(self, x, seed=0, out=None, rng=None):
        """Compress ``x``; returns ``(y, bits)``.

        ``bits`` is a :class:`Bits` (an int, the full count) with the
        values-only count in ``bits.values``.  The randomness comes from
        ``rng`` (uint64[2], advanced in place) if given, else from ``seed``.
        """
        x = check_vector(x)
        d = x.size
        self.node.check_d(d)
        self.d = d
        if out is None:
            out = np.empty(d)
        if rng is None:
            rng = _rng.new_state(seed)
        ws = self.workspace(d)
        bf, bv = K.apply_program(self.ops, self.params, x, out, rng, ws.regs,
                                 ws.iwork, ws.mark)
        return out, Bits(bf, bv)

    def compress_sparse(self, x, seed=0, rng=None):
        """Compress ``x`` into a sparse message; returns ``(idx, vals, bits)``.

        For the primitives rand-k, crand-k (O(K): nothing of size d is
        scanned) and top-k (O(d)).  The dense output of :meth:`compress`
        with the same seed is ``y = zeros(d); y[idx] = vals``.

        Parameters
        ----------
        x : array_like
            A 1-D float vector.  Only the K values read are checked for
            NaN/inf (a full check would cost O(d)).
        seed : int
            Seed of stream 0, as in :meth:`compress`.
        rng : ndarray of uint64, shape (2,), optional
            Generator state, advanced in place; overrides ``seed``.

        Returns
        -------
        idx : ndarray of int64
            Kept coordinates: sampling order for Rand-K, increasing for
            Top-K.
        vals : ndarray of float64
            The values sent (scaled by d/K for rand-k).
        bits : Bits
            As for :meth:`compress`.

        Raises
        ------
        ValueError
            For any other compressor, or a bad x.
        """
        code = int(self.ops[0, 1]) if self.ops.shape[0] == 1 else -1
        if self.ops.shape[0] != 1 or code not in (K.RANDK, K.CRANDK, K.TOPK):
            raise ValueError(f"compress_sparse: {self.spec} has no sparse form; "
                             f"allowed: rand-k, crand-k, top-k")
        x = check_vector(x, finite=(code == K.TOPK))
        d = x.size
        self.node.check_d(d)
        self.d = d
        if rng is None:
            rng = _rng.new_state(seed)
        ws = self.workspace(d)
        poff = int(self.ops[0, 5])
        p = self.params[poff:poff + K.N_PARAMS]
        k = min(d, max(1, K.resolve_k(p, d)))
        idx = np.empty(k, dtype=np.int64)
        vals = np.empty(k)
        m, bf, bv = K.apply_sparse(code, p, x, rng, ws.iwork, ws.mark, idx, vals)
        if code != K.TOPK and not _all_finite(vals):
            raise ValueError("x contains NaN or inf at a sampled coordinate; "
                             "allowed: finite float values")
        return idx[:m], vals[:m], Bits(bf, bv)

    def sample(self, x, trials, seed=0):
        """``trials`` independent compressions of x (compiled loop).

        Returns ``(Y, bits, values_bits)`` with Y of shape (trials, d).
        Trial t uses stream t of ``seed``, so results do not depend on how
        the trials are batched.
        """
        x = check_vector(x)
        self.node.check_d(x.size)
        self.d = x.size
        ws = self.workspace(x.size)
        Y = np.empty((trials, x.size))
        bf = np.empty(trials, dtype=np.int64)
        bv = np.empty(trials, dtype=np.int64)
        _sample(self.ops, self.params, x, Y, bf, bv, np.uint64(seed), ws.regs,
                ws.iwork, ws.mark)
        return Y, bf, bv

    def moments(self, x, trials, seed=0):
        """Monte-Carlo moments of C(x) without storing samples.

        Returns a dict with ``mean`` (vector), ``sq_err`` (per-trial
        ||C(x)-x||^2), ``sq_norm`` (||C(x)||^2), ``inner`` (<C(x), x>) and
        ``bits``.
        """
        x = check_vector(x)
        self.node.check_d(x.size)
        self.d = x.size
        ws = self.workspace(x.size)
        s1 = np.zeros(x.size)
        s2 = np.zeros(x.size)
        stats = np.empty((trials, 3))
        bits = np.empty((trials, 2), dtype=np.int64)
        mc_accumulate(self.ops, self.params, x, np.uint64(seed), s1, s2, stats, bits,
                      ws.regs, ws.iwork, ws.mark)
        mean = x + s1 / trials
        return {"mean": mean, "sq_err": stats[:, 0], "sq_norm": stats[:, 1],
                "inner": stats[:, 2], "bits": bits[:, 0], "values_bits": bits[:, 1]}

    def __repr__(self):
        return f"compressor({self.spec!r})"


@njit(cache=True)
def _sample(ops, params, x, Y, bf, bv, seed, regs, iwork, mark):
    rng = np.zeros(2, dtype=np.uint64)
    for t in range(Y.shape[0]):
        _rng.seed_state(rng, seed, np.uint64(t))
        a, b = K.apply_program(ops, params, x, Y[t], rng, regs, iwork, mark)
        bf[t] = a
        bv[t] = b


@njit(cache=True)
def mc_accumulate(ops, params, x, seed, s1, s2, stats, bits, regs, iwork, mark):
    """T compressions of x (T = stats.shape[0]); trial t uses stream t of ``seed``.

    Accumulates s1[i] += y_i - x_i and s2[i] += (y_i - x_i)^2, and records
    stats[t] = (||y - x||^2, ||y||^2, <y, x>) and bits[t] = (full, values).
    The one compiled Monte-Carlo loop behind :meth:`Compressor.moments` and
    :mod:`shiftbench.compressors.measure`.
    """
    rng = np.zeros(2, dtype=np.uint64)
    d = x.size
    y = np.empty(d)
    for t in range(stats.shape[0]):
        _rng.seed_state(rng, seed, np.uint64(t))
        a, b = K.apply_program(ops, params, x, y, rng, regs, iwork, mark)
        e = 0.0
        s = 0.0
        ip = 0.0
        for i in range(d):
            r = y[i] - x[i]
            s1[i] += r
            s2[i] += r * r
            e += r * r
            s += y[i] * y[i]
            ip += y[i] * x[i]
        stats[t, 0] = e
        stats[t, 1] = s
        stats[t, 2] = ip
        bits[t, 0] = a
        bits[t, 1] = b


def compressor(spec, d=None) -> Compressor:
    """Parse a compressor spec string; see :class:`Compressor`."""
    return Compressor(spec, d=d)
