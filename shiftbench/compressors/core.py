"""The user-facing :class:`Compressor` and its compiled batch sampler."""
from __future__ import annotations

import numpy as np
from numba import njit

from .. import _rng
from .registry import parse, Claims, REGISTRY, _not_a_spec  # first: it registers the built-ins
from .builtins import zero_kernel, user_zero_kernel
from .kernels.intrinsics import IWORK_EXTRA, prefetch_r, PREFETCH_STREAM
from .kernels.program import (Programs, make_programs, apply_program, apply_arrays, OP_WIDTH, OP_PRIM,
                              OP_UPRIM, C_POFF, C_PLEN)


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
        self.iwork = np.zeros(d + IWORK_EXTRA, dtype=np.int64)
        self.mark = np.zeros(d, dtype=np.uint8)


@njit(cache=True)
def _all_finite(x):
    """True when no entry of x is NaN or inf (one vectorised pass)."""
    d = x.size
    bad = np.uint64(0)
    nb = d // 16
    for b in range(nb):
        base = b * 16
        if base + PREFETCH_STREAM < d:
            prefetch_r(x, base + PREFETCH_STREAM)
            prefetch_r(x, base + PREFETCH_STREAM + 8)
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


_F64 = np.dtype(np.float64)
_U64 = np.dtype(np.uint64)


DEVICES = ("cpu", "cuda")


def _device(device):
    """The validated device name (``cpu`` or ``cuda``); for ``cuda``, CUDA
    (or its simulator) must be available (one-line error otherwise)."""
    key = str(device).strip().lower() if isinstance(device, str) else None
    if key not in DEVICES:
        raise ValueError(f"device={device!r}; allowed: {', '.join(DEVICES)}")
    if key == "cuda":
        from ..gpu import require
        require("device='cuda'")
    return key


def _is_device_array(a):
    """A CUDA device array (numba's, CuPy's, ...; the simulator's too)."""
    return not isinstance(a, np.ndarray) and (hasattr(a, "__cuda_array_interface__")
                                              or getattr(a, "__cuda_ndarray__", False))


def _check_x(x, cuda):
    """x validated for the device it runs on: host arrays by
    :func:`check_vector` everywhere, device arrays (cuda only) by the same
    checks run on the device."""
    if _is_device_array(x):
        if not cuda:
            raise ValueError("x is a device (GPU) array; pass device='cuda', or a host array")
        from ..gpu.api import check_device_vector
        return check_device_vector(x)
    return check_vector(x)


def _out_array(out, d, what="out", device_ok=False):
    if device_ok and _is_device_array(out):
        if (tuple(out.shape) == (d,) and np.dtype(out.dtype) == _F64
                and out.is_c_contiguous()):
            return out
        raise ValueError(f"{what} must be a contiguous float64 device array of shape ({d},)")
    if type(out) is np.ndarray and out.dtype == _F64 and out.shape == (d,):
        f = out.flags
        if f.c_contiguous and f.writeable:
            return out
    raise ValueError(f"{what} must be a writable contiguous float64 array of shape ({d},)")


def _rng_array(rng):
    if type(rng) is np.ndarray and rng.dtype == _U64 and rng.shape == (2,):
        f = rng.flags
        if f.c_contiguous and f.writeable:
            return rng
    raise ValueError("rng must be a writable uint64 array of shape (2,) "
                     "(shiftbench.rng.new_state(seed))")


class Compressor:
    """A compressor parsed from a spec string, e.g. ``"rand-k(q=0.1)"``.

    Parameters
    ----------
    spec : str
        Spec string (case- and space-tolerant); see ``python -m shiftbench
        compressors`` for every name and its syntax.  Users' compressors
        are registered with :func:`shiftbench.register_compressor` and then
        named like the built-ins.
    d : int, optional
        Dimension used for d-dependent claimed constants before the first
        call to :meth:`compress`.

    Attributes
    ----------
    spec : str
        Canonical spec string.
    ops, params : ndarray
        The program (see :mod:`shiftbench.compressors.kernels.program`);
        ops name their kernels by slot in ``kernels`` / ``user_kernels``.
    program : Programs
        The compiled form (built, and its kernels compiled or loaded from
        numba's cache, on first use).
    """

    def __init__(self, spec, d=None):
        self.node = parse(spec)
        self.spec = self.node.canonical()
        ops, params = [], []
        self.kernels, self.user_kernels = [], []
        self.nreg = self.node.emit(ops, params, self.kernels, self.user_kernels, -1, -2, 0)
        self.ops = np.array(ops, dtype=np.int64).reshape(-1, OP_WIDTH)
        self.params = np.array(params, dtype=np.float64) if params else np.zeros(1)
        self.d = d
        if d is not None:
            self.node.check_d(d)
        self._ws = None
        self._prog = None
        self._arrays = None

    @property
    def program(self) -> Programs:
        """This compressor as a one-worker :class:`Programs`."""
        if self._prog is None:
            self._prog = make_programs(self.ops, self.params, [0, self.ops.shape[0]],
                                       self.kernels, self.user_kernels, zero_kernel,
                                       user_zero_kernel)
        return self._prog

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

    @property
    def value_bits(self):
        """Bits per value of a full (uncompressed) vector: 32 or 64."""
        return self.node.value_bits()

    @property
    def deterministic(self):
        """True when the compressor draws no random numbers."""
        return self.node.deterministic()

    def workspace(self, d):
        if self._ws is None or self._ws.d != d:
            self._ws = Workspace(d, self.nreg)
        return self._ws

    # -- compression --------------------------------------------------------
    def compress(self, x, seed=0, out=None, rng=None, device="cpu"):
        """Compress ``x``; returns ``(y, bits)``.

        ``bits`` is a :class:`Bits` (an int, the full count) with the
        values-only count in ``bits.values``.  The randomness comes from
        ``rng`` (uint64[2], advanced in place) if given, else from ``seed``.
        ``device="cuda"`` runs the same program on the GPU (the ``cuda``
        extra; :mod:`shiftbench.gpu`) with the same draws, output and bits;
        there x and ``out`` may also be device arrays, and y lives where x
        lives.
        """
        cuda = _device(device) == "cuda"
        x = _check_x(x, cuda)
        d = int(x.shape[0])
        self.node.check_d(d)
        self.d = d
        if out is not None:
            out = _out_array(out, d, device_ok=cuda)
            if (type(out) is np.ndarray and type(x) is np.ndarray
                    and np.shares_memory(out, x)):
                raise ValueError("out must not share memory with x (a compressor reads x "
                                 "after it has begun to write out); pass another array")
        rng = _rng.new_state(seed) if rng is None else _rng_array(rng)
        if cuda:
            from ..gpu.api import compress_device
            y, bf, bv = compress_device(self, x, rng, out)
            return y, Bits(bf, bv)
        out = np.empty(d) if out is None else out
        ws = self.workspace(d)
        a = self._arrays
        if a is None:
            pg = self.program
            a = self._arrays = (pg.ops, pg.params, pg.ptr, pg._addresses())
        bf, bv = apply_arrays(a[0], a[1], a[2], a[3], 0, x, out, rng, ws.regs, ws.iwork,
                              ws.mark)
        return out, Bits(bf, bv)

    def encode(self, x, seed=0):
        """The message of ``C(x)`` on the wire: exactly ``ceil(bits / 8)``
        bytes (``bits`` the full count of :meth:`compress` with the same
        seed); see :mod:`shiftbench.wire`."""
        from ..wire import encode
        return encode(self, x, seed)

    def decode(self, buf, d, seed=None):
        """The vector a message of :meth:`encode` carries at dimension ``d``
        (fp32 values for ``bits=32``); ``seed``: the shared seed, for
        ``rand-k(shared=1)`` only.  See :mod:`shiftbench.wire`."""
        from ..wire import decode
        return decode(self, buf, d, seed)

    def sparse_kernel(self):
        """``(kernel, params)`` of the sparse form (see :meth:`compress_sparse`),
        or ValueError when there is none."""
        e = self.node.definition
        if self.node.kids or e.sparse is None:
            names = [n for n, f in REGISTRY.items() if f.sparse is not None]
            raise ValueError(f"compress_sparse: {self.spec} has no sparse form; "
                             f"allowed: {', '.join(names)}")
        return e.sparse, self.params[:self.ops[0, C_PLEN]].copy()

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
        kern, p = self.sparse_kernel()
        det = self.node.deterministic()
        x = check_vector(x, finite=det)
        d = x.size
        self.node.check_d(d)
        self.d = d
        rng = _rng.new_state(seed) if rng is None else _rng_array(rng)
        ws = self.workspace(d)
        k = min(d, max(1, _k_of_node(self.node, d)))
        idx = np.empty(k, dtype=np.int64)
        vals = np.empty(k)
        m, bf, bv = kern(x, p, rng, ws.iwork, ws.mark, idx, vals)
        if not det and not _all_finite(vals[:m]):
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
        _sample(self.program, x, Y, bf, bv, np.uint64(seed), ws.regs, ws.iwork, ws.mark)
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
        mc_accumulate(self.program, x, np.uint64(seed), s1, s2, stats, bits,
                      ws.regs, ws.iwork, ws.mark)
        mean = x + s1 / trials
        return {"mean": mean, "sq_err": stats[:, 0], "sq_norm": stats[:, 1],
                "inner": stats[:, 2], "bits": bits[:, 0], "values_bits": bits[:, 1]}

    def __repr__(self):
        return f"compressor({self.spec!r})"


def _k_of_node(node, d):
    pr = node.params
    if "k" in pr:
        return int(pr["k"])
    return int(np.floor(pr["q"] * d + 0.5))


@njit(cache=True)
def _sample(prog, x, Y, bf, bv, seed, regs, iwork, mark):
    rng = np.zeros(2, dtype=np.uint64)
    for t in range(Y.shape[0]):
        _rng.seed_state(rng, seed, np.uint64(t))
        a, b = apply_program(prog, 0, x, Y[t], rng, regs, iwork, mark)
        bf[t] = a
        bv[t] = b


@njit(cache=True)
def mc_accumulate(prog, x, seed, s1, s2, stats, bits, regs, iwork, mark):
    """T compressions of x (T = stats.shape[0]) by worker 0's program of
    ``prog``; trial t uses stream t of ``seed``.

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
        a, b = apply_program(prog, 0, x, y, rng, regs, iwork, mark)
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
    if isinstance(spec, Compressor):
        return as_compressor(spec)
    return Compressor(spec, d=d)


def as_compressor(obj, what="compressor"):
    """A :class:`Compressor` from a spec string or a Compressor.

    Anything else -- a Python function, a class, a subclass instance --
    gets a one-line ValueError naming the right way
    (:func:`shiftbench.register_compressor`).
    """
    if isinstance(obj, str):
        return Compressor(obj)
    if type(obj) is Compressor:
        return obj
    if isinstance(obj, Compressor):
        raise ValueError(f"{what}: a subclass of Compressor ({type(obj).__name__}) is not run "
                         f"by shiftbench's compiled loops (its compress() would be ignored); "
                         f"register a kernel with shiftbench.register_compressor(name, kernel, "
                         f"params=...) and pass its spec string")
    _not_a_spec(obj)


def empty_programs(n):
    """Programs of n workers with no ops (a method's unused compressor)."""
    return make_programs(np.zeros((1, OP_WIDTH), np.int64), np.zeros(1),
                         np.zeros(n + 1, np.int64), [], [], zero_kernel, user_zero_kernel)


def pack_programs(comps, d=None):
    """Stack per-worker compressors into one :class:`Programs`.

    Worker i runs ``comps[i]``.  Returns ``(programs, nreg)`` with nreg the
    registers (rows of ``regs``) the programs need.  ValueError when a
    compressor does not fit dimension d, or more than ``NPRIM`` distinct
    kernels of one kind are needed.
    """
    ops_l, par_l, ptr = [], [], [0]
    prims, uprims = [], []
    nreg = 0
    poff = 0
    for C in comps:
        C = as_compressor(C)
        if d is not None:
            C.node.check_d(d)
        o = C.ops.copy()
        for j in range(o.shape[0]):
            if o[j, 0] in (OP_PRIM, OP_UPRIM):
                src = C.kernels if o[j, 0] == OP_PRIM else C.user_kernels
                dst = prims if o[j, 0] == OP_PRIM else uprims
                k = src[o[j, 1]]
                if k not in dst:
                    dst.append(k)
                o[j, 1] = dst.index(k)
        o[:, C_POFF] += poff
        ops_l.append(o)
        par_l.append(C.params)
        poff += C.params.size
        ptr.append(ptr[-1] + o.shape[0])
        nreg = max(nreg, C.nreg)
    prog = make_programs(np.vstack(ops_l), np.concatenate(par_l), ptr, prims, uprims,
                         zero_kernel, user_zero_kernel)
    return prog, nreg
