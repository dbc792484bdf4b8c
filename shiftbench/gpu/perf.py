"""The GPU rows of ``python -m shiftbench.perf --device cuda``.

Importing this module registers, into :data:`shiftbench.perf.ENTRIES`
(variant ``"cuda"``):

* every compressor (the specs of :func:`shiftbench.perf.default_compressor_specs`,
  K = d/100): ``seconds`` is one launch of the compression kernel the
  method loops run (:func:`shiftbench.gpu.device.compress_kernel`, one
  thread block), ``copy_seconds`` a device-to-device copy of the same
  array, ``api_seconds`` ``Compressor.compress(x_on_device, device="cuda")``
  (validation and the generator's round trip included); every timing ends
  with ``cuda.synchronize()``;
* ``natural`` / ``terngrad`` ``[cuda grid]``: the grid-wide element-wise
  kernels of :mod:`shiftbench.gpu.elementwise` against the same copy;
* ``diana/lsq-n16 [cuda]`` and ``ef21/lsq-n16 [cuda]``: ``ITERS`` iterations
  of the whole loop on the device (one launch) on a least-squares problem
  with n = 16 workers of one row each in R^d
  (:func:`shiftbench.perf_methods.large_lsq`), DIANA with Rand-K(q=0.01)
  and EF21 with Top-K(q=0.01); ``numpy_seconds`` is the CPU engine on the
  same problem, so ``speedup_vs_numpy`` is GPU over CPU per iteration.

Without CUDA the import is a one-line error (the ``cuda`` extra,
``NUMBA_ENABLE_CUDASIM=1``).
"""
from __future__ import annotations

import numpy as np

from .. import perf as P
from ._target import cuda, require

require("python -m shiftbench.perf --device cuda")

ITERS = 20
N_WORKERS = 16
METHODS = (("diana", "rand-k(q=0.01)"), ("ef21", "top-k(q=0.01)"))


def _sync(f):
    def g():
        f()
        cuda.synchronize()
    return g


def _device_copy(d):
    src = cuda.to_device(np.random.default_rng(2).standard_normal(d))
    dst = cuda.device_array(d)
    return _sync(lambda: dst.copy_to_device(src))


def compressor_entry(spec):
    def make(d):
        from .. import _rng
        from ..compressors import compressor
        from .api import compress_device, threads_per_block
        from ._target import exact
        C = compressor(spec)
        C.node.check_d(d)
        dx = cuda.to_device(np.random.default_rng(0).standard_normal(d))
        rng = _rng.new_state(1)
        compress_device(C, dx, rng)                        # compiles, builds the workspace
        w = C.__dict__["_device_work"]
        dout = cuda.device_array(d)
        nt = threads_per_block()

        def kernel():
            with exact():
                w.module.compress_kernel[1, nt](w.ops, w.params, w.ptr, dx, dout, w.rng,
                                                w.regs, w.iwork, w.mark, w.bits)
        return P.Case(kernel=_sync(kernel), copy=_device_copy(d),
                      api=_sync(lambda: C.compress(dx, rng=rng, device="cuda")),
                      info={"device": "cuda", "threads_per_block": nt})
    return P.Entry(spec, make, variant="cuda")


def grid_entry(name):
    def make(d):
        from .. import _rng
        from . import elementwise as G
        dx = cuda.to_device(np.random.default_rng(0).standard_normal(d))
        dout = cuda.device_array(d)
        rng = _rng.new_state(1)
        f = (lambda: G.natural(dx, rng, out=dout)) if name == "natural" else \
            (lambda: G.terngrad(dx, rng, out=dout))
        f()
        return P.Case(kernel=_sync(f), copy=_device_copy(d), info={"device": "cuda"})
    return P.Entry(name, make, variant="cuda grid")


def method_entry(method, spec, iters=ITERS, n=N_WORKERS):
    def make(d):
        import shiftbench as sb
        from ..perf_methods import large_lsq
        prob = large_lsq(n=n, d=d, rows=1)
        kw = dict(compressor=spec, iters=iters, eps=0.0, stride=iters)
        sb.run(method, prob, device="cuda", **dict(kw, iters=1))      # compile outside timing
        sb.run(method, prob, **dict(kw, iters=1))
        return P.Case(kernel=lambda: sb.run(method, prob, device="cuda", **kw),
                      copy=_device_copy(d),
                      reference=lambda: sb.run(method, prob, **kw),
                      info={"device": "cuda", "iters_per_call": iters, "problem_n": n,
                            "problem_d": d, "compressor": spec, "reference": "cpu engine"})
    return P.Entry(f"{method}/lsq-n{n}", make, variant="cuda", kind="method",
                   reference_scale=lambda d: float(d))


_DONE = []


def register_all():
    """Register the GPU rows once; returns their entry names."""
    if not _DONE:
        P._register_compressors()
        for spec in P.default_compressor_specs():
            P.register(compressor_entry(spec))
        for name in ("natural", "terngrad"):
            P.register(grid_entry(name))
        for m, spec in METHODS:
            P.register(method_entry(m, spec))
        _DONE.append(True)
    return [e.name for e in P.ENTRIES if e.variant.startswith("cuda")]


def select(names):
    """The GPU entries matching ``names`` (specs or names as for the CPU
    rows; all of them when empty)."""
    mine = [e for e in P.ENTRIES if e.variant.startswith("cuda")]
    if not names:
        return [e.name for e in mine]
    out = []
    for w in names:
        w = w.strip()
        base = w.split("(")[0].split(" [")[0].lower()
        hits = [e.name for e in mine
                if w in (e.kernel, e.name) or e.kernel.split("(")[0].lower() == base]
        if not hits and "(" in w:
            e = compressor_entry(w)
            P.register(e)
            hits = [e.name]
        if not hits:
            raise SystemExit(f"perf: unknown kernel {w!r} for --device cuda; allowed: "
                             + "; ".join(e.name for e in mine))
        out.extend(h for h in hits if h not in out)
    return out


register_all()
