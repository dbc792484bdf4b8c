"""The compressor program interpreter: a run compiles only the kernels it
uses, compiled callers of a Programs have one static (cacheable) type, and
packing several workers' compressors keeps each worker's program."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numba import njit, types

import shiftbench as sb
from shiftbench.compressors import compressor, pack_programs, empty_programs
from shiftbench.compressors.kernels import program as P, IWORK_EXTRA

ROOT = Path(__file__).resolve().parent.parent


def test_programs_type_for_explicit_signatures():
    """A caller compiled with an explicit signature built from
    programs_type() runs any compressor, built-in or composite."""
    f8 = types.float64[::1]

    @njit
    def first_worker(prog, x, out, rng, regs, iwork, mark):
        return P.apply_program(prog, 0, x, out, rng, regs, iwork, mark)

    sig = types.UniTuple(types.float64, 2)(P.programs_type(), f8, f8, types.uint64[::1],
                                           types.float64[:, ::1], types.int64[::1],
                                           types.uint8[::1])
    first_worker.compile(sig)
    x = np.random.default_rng(0).standard_normal(40)
    for spec in ("rand-k(k=4)", "natural", "induced(top-k(k=2), dither(s=3))"):
        C = compressor(spec)
        ws = C.workspace(40)
        out = np.empty(40)
        bf, bv = first_worker(C.program, x, out, sb.rng.new_state(5), ws.regs, ws.iwork,
                              ws.mark)
        y, b = C.compress(x, 5)
        np.testing.assert_array_equal(out, y)
        assert (bf, bv) == (int(b), b.values)
    assert len(first_worker.signatures) == 1           # one type for every compressor


def test_pack_programs_per_worker():
    """Worker i runs compressor i; kernels shared across workers get one slot."""
    specs = ["rand-k(k=3)", "natural", "rand-k(k=5)", "induced(top-k(k=1), rand-k(k=2))"]
    Cs = [compressor(s) for s in specs]
    prog, nreg = pack_programs(Cs, 20)
    assert nreg == 2 and prog.ptr.tolist() == [0, 1, 2, 3, 7]
    used = {k for k in prog.prims if k is not prog.prims[-1]}
    assert len(prog.prims) == P.NPRIM and len(used) == 3     # rand-k, natural, top-k
    x = np.random.default_rng(1).standard_normal(20)
    regs = np.zeros((nreg, 20))
    iwork = np.zeros(20 + IWORK_EXTRA, np.int64)
    mark = np.zeros(20, np.uint8)
    for w, C in enumerate(Cs):
        out = np.empty(20)
        bf, bv = P.apply_program(prog, w, x, out, sb.rng.new_state(9), regs, iwork, mark)
        y, b = C.compress(x, 9)
        np.testing.assert_array_equal(out, y)
        assert (bf, bv) == (int(b), b.values)
    e = empty_programs(3)
    out = np.full(20, 7.0)
    assert P.apply_program(e, 2, x, out, sb.rng.new_state(0), regs, iwork, mark) == (0.0, 0.0)
    with pytest.raises(ValueError, match="K = 5 > d = 4"):
        pack_programs(Cs, 4)


def test_too_many_kernels_is_a_clear_error():
    specs = ["identity", "zero", "top-k(k=1)", "rand-k(k=1)", "bernoulli(p=0.5)",
             "adaptive(k=1)", "natural", "dither(s=2)", "terngrad"]
    with pytest.raises(ValueError, match="at most 8 distinct built-in compressor kernels"):
        pack_programs([compressor(s) for s in specs])


_CHILD = r"""
import numpy as np, shiftbench as sb
from shiftbench.compressors import builtins as B
from shiftbench.methods import engine as E
r = sb.run("diana", "ridge", "{spec}", iters=20)
used = sorted(n for n in dir(B) if n.endswith("_kernel") and getattr(B, n).signatures)
print("USED", ",".join(used))
print("RUN_ONE", sum(E.run_one.stats.cache_hits.values()),
      sum(E.run_one.stats.cache_misses.values()))
"""


def test_a_run_compiles_only_its_kernels_and_hits_the_cache():
    """In a fresh process, a DIANA run with natural compression compiles (or
    loads) the natural kernel only (the padding slots are never called, so
    never compiled), and the engine comes from numba's disk cache although
    it was compiled for rand-k."""
    sb.run("diana", "ridge", "rand-k(q=0.1)", iters=20)       # caches the engine here
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-c", _CHILD.format(spec="natural")],
                       capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in r.stdout.strip().splitlines())
    assert lines["USED"].split(",") == ["natural_kernel"]
    hits, misses = map(int, lines["RUN_ONE"].split())
    assert hits >= 1 and misses == 0
