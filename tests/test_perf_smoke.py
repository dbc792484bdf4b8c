"""Smoke test of ``python -m shiftbench.perf``: the JSON schema only.

No timing assertions: speed is measured by the ratio report in one run
(``python -m shiftbench.perf``), never by unit tests.
"""
import json
import subprocess
import sys

import numpy as np
import pytest

from shiftbench import perf

KEYS = {"kernel", "variant", "kind", "d", "seconds", "copy_seconds", "ratio_to_copy",
        "speedup_vs_numpy", "numpy_seconds", "numpy_note", "numpy_vec_seconds",
        "speedup_vs_numpy_vec", "api_seconds", "api_ratio_to_copy", "number", "repeat"}


def _check_rows(rows, ds):
    assert isinstance(rows, list) and rows
    for r in rows:
        assert KEYS <= set(r), sorted(KEYS - set(r))
        assert r["d"] in ds
        assert isinstance(r["kernel"], str) and r["kernel"]
        for k in ("seconds", "copy_seconds", "ratio_to_copy", "api_seconds"):
            assert isinstance(r[k], float) and r[k] > 0, (k, r)
        assert r["ratio_to_copy"] == pytest.approx(r["seconds"] / r["copy_seconds"])
        if r["numpy_seconds"] is None:
            assert r["speedup_vs_numpy"] is None and r["numpy_note"]
        else:
            assert r["speedup_vs_numpy"] == pytest.approx(r["numpy_seconds"] / r["seconds"])


def test_cli_quick_json_schema():
    out = subprocess.run([sys.executable, "-m", "shiftbench.perf", "--quick", "--json",
                          "--kernels", "top-k;rand-k;natural;dither(s=4);sign"],
                         capture_output=True, text=True, check=True, timeout=900)
    rows = json.loads(out.stdout)
    _check_rows(rows, {1000, 10000})
    names = {(r["kernel"], r["variant"]) for r in rows}
    assert ("rand-k(q=0.01)", "sparse") in names and ("top-k(q=0.01)", "dense") in names
    assert {"natural", "dither(s=4)", "sign"} <= {r["kernel"] for r in rows}


def test_every_registry_entry_has_a_default_spec():
    from shiftbench.compressors import compressor
    from shiftbench.compressors.registry import REGISTRY
    specs = perf.default_compressor_specs()
    assert len(specs) == len(REGISTRY)
    for s in specs:
        compressor(s)                       # parses


def test_register_plugin_entry():
    """A method module can add its own entry (how method timings plug in)."""
    import numpy as np

    def make(d):
        x = np.ones(d)
        return perf.Case(kernel=lambda: x.sum(), reference=lambda: float(sum(x)),
                         info={"note": "toy"})

    e = perf.register(perf.Entry("toy-method", make, variant="iteration", kind="method"))
    try:
        rows = perf.run([100], ["toy-method"], repeat=1, min_time=1e-4)
    finally:
        perf.ENTRIES.remove(e)
    (row,) = rows
    assert row["kind"] == "method" and row["note"] == "toy"
    assert row["speedup_vs_numpy"] > 0


# ---- usability: plugins, arguments, notes ----------------------------------
ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]

TOY_PLUGIN = '''
from shiftbench.methods import model as MM, engine as E
from shiftbench.methods.shift_methods import build_shift, Q, ALPHA

def build_slow(m, P, opts):
    opts.setdefault("alpha", MM.Relative(0.5))
    return build_shift(m, P, opts)

MM.register(MM.Method("diana-slow", "shift", E.DIANA, "DIANA with half the theory's alpha",
                      "Shulgin & Richtarik (UAI 2022), Theorem 3 with alpha halved",
                      (Q, ALPHA), build_slow), replace=True)
'''


def _drop(kernel_prefix):
    perf.ENTRIES[:] = [e for e in perf.ENTRIES if not e.kernel.startswith(kernel_prefix)]


def test_plugin_file_method_gets_a_row(tmp_path, capsys):
    """README: a method registered by a --plugin FILE is timed by the perf report."""
    from shiftbench.methods import model as MM
    plug = tmp_path / "my_methods.py"
    plug.write_text(TOY_PLUGIN)
    try:
        rc = perf.main(["--plugin", str(plug), "--kernels", "diana-slow/ridge", "--json",
                        "--repeat", "1", "--min-time", "1e-4", "--no-reference"])
        out = capsys.readouterr().out
    finally:
        MM.METHODS.pop("diana-slow", None)
        _drop("diana-slow")
    assert rc == 0
    (row,) = json.loads(out)
    assert row["kernel"] == "diana-slow/ridge" and "error" not in row
    assert row["seconds"] > 0 and row["numpy_note"] == perf.NOTE_NO_REFERENCE


def test_plugin_module_name_and_unknown_plugin(capsys):
    perf.load_plugins(["shiftbench.perf_methods"])          # a module name still works
    assert perf.main(["--plugin", "no_such_module_xyz", "--quick"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no_such_module_xyz" in err
    assert "no such file or module" in err
    assert perf.main(["--plugin", "missing_file.py", "--quick"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_numpy_loop_follows_the_engine_not_the_name():
    """A user's method reusing DIANA's engine gets DIANA's NumPy loop (not DCGD's)."""
    from shiftbench.methods import model as MM
    from shiftbench import perf_methods as PM
    ns = {}
    exec(TOY_PLUGIN, ns)
    try:
        ec = PM.engine_call("diana-slow", PM.ridge_problem(), "rand-k(q=0.1)", iters=3)
        assert PM.numpy_loop(ec) is not None
        import shiftbench.naive.methods as NM
        seen = {}
        orig = NM.dcgd_shift

        def spy(P, mode, *a, **k):
            seen["mode"] = mode
            return orig(P, mode, *a, **k)
        NM.dcgd_shift = spy
        try:
            PM.numpy_loop(ec)()
        finally:
            NM.dcgd_shift = orig
        assert seen["mode"] == "diana"
    finally:
        MM.METHODS.pop("diana-slow", None)


@pytest.mark.parametrize("method,compressor,calls", [
    ("ef21", None, lambda K, n: K * n),             # C(grad_i(x^{t+1}) - g_i^t) per worker
    ("3pcv2", None, lambda K, n: 2 * K * n),        # Q, then C
    ("lag", None, lambda K, n: 0),                  # full vectors or nothing: no compressor
    ("diana", "rand-k(q=0.1)", lambda K, n: K * n),
])
def test_floor_replays_the_runs_own_compressor_calls(method, compressor, calls):
    """The perf floor times the compressor on the vectors the run compressed
    (not one vector again and again, which the branch predictor learns)."""
    from shiftbench import perf_methods as PM
    from shiftbench.problems.base import local_grad
    K = 4
    P = PM.ridge_problem()
    ec = PM.engine_call(method, P, compressor, iters=K)
    which, worker, V = PM.recorded_calls(ec)
    assert V.shape == (calls(K, P.n), P.d) and which.size == worker.size == V.shape[0]
    if V.shape[0]:
        assert set(worker.tolist()) == set(range(P.n))
    if method == "3pcv2":
        assert sorted(set(which.tolist())) == [0, 1]
    if method == "ef21":
        # worker 0's first message compresses grad f_0(x^1) - grad f_0(x^0)
        g0, g1 = np.empty(P.d), np.empty(P.d)
        pd = ec.pd
        local_grad(pd.kind, pd.A, pd.b, pd.off, pd.scale, pd.lam, 0, P.x0, g0)
        res = __import__("shiftbench").run("ef21", P, iters=1, eps=0.0, stride=1,
                                           record_x=True)
        local_grad(pd.kind, pd.A, pd.b, pd.off, pd.scale, pd.lam, 0, res.x[1], g1)
        np.testing.assert_allclose(V[0], g1 - g0, rtol=1e-9, atol=1e-12)
    fl = PM.floor_call(ec)
    assert fl.inputs.startswith("recorded")
    fl()


@pytest.mark.parametrize("bad", ["1e3,abc", "0", "1.5", ",", "inf"])
def test_bad_d_is_one_argparse_line(bad, capsys):
    with pytest.raises(SystemExit) as e:
        perf.main(["--d", bad])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    last = err.strip()
    assert last.startswith("python -m shiftbench.perf: error: argument --d:")
    assert "allowed" in last


def test_no_reference_note_and_summary(capsys):
    rc = perf.main(["--kernels", "sign", "--d", "2000", "--repeat", "1", "--min-time", "1e-4",
                    "--no-reference"])
    out = capsys.readouterr().out
    assert rc == 0 and "sign" in out
    assert "exceeds --budget" not in out


def test_budget_summary_still_says_budget():
    rows = [{"kernel": "k", "d": 10, "numpy_seconds": None,
             "numpy_note": perf.NOTE_BUDGET + ": predicted 9 s per call > budget 1 s"},
            {"kernel": "j", "d": 10, "numpy_seconds": None, "numpy_note": perf.NOTE_NO_REFERENCE}]
    (line,) = perf._skip_summary(rows)
    assert "1 (kernel, d) pairs" in line and "--budget" in line


def test_user_compressor_without_reference_has_blank_numpy(capsys):
    """A plugin compressor without reference=: timed, numpy blank with a note."""
    from shiftbench.compressors import unregister_compressor
    try:
        rc = perf.main(["--plugin", str(ROOT / "examples" / "half_sign.py"), "--kernels",
                        "half-sign", "--d", "1000", "--repeat", "1", "--min-time", "1e-4"])
        out = capsys.readouterr().out
        rows = perf.run([1000], ["half-sign"], repeat=1, min_time=1e-4)
    finally:
        unregister_compressor("half-sign")
        _drop("half-sign")
    assert rc == 0
    (row,) = rows
    assert "error" not in row and row["seconds"] > 0
    assert row["numpy_seconds"] is None and row["numpy_note"].startswith("no NumPy reference")
    line = [ln for ln in out.splitlines() if ln.startswith("half-sign")][0]
    assert "Error" not in line and " - " in line
    assert "no NumPy reference was registered" in out


def test_monte_carlo_line_cannot_contradict_itself():
    import re
    import time
    from shiftbench import perf_methods as PM

    class Fake:
        iters = 10
        t = iter([0.010, 0.030, 0.012, 0.020, 0.050, 0.025])   # par, seq per round

        def many(self, seeds):
            time.sleep(next(self.t))

        def one(self, s):
            if s == 0:
                time.sleep(next(self.t))

    info = PM.mc_throughput(Fake(), range(4), rounds=3)
    assert info["parallel_speedup"] == pytest.approx(info["mc_runs_per_s"] /
                                                     info["seq_runs_per_s"])
    text = perf._mc_text(dict(info))
    par, seq, x = map(float, re.search(r"parallel (\d+) runs/s.*sequential (\d+) runs/s.*"
                                       r"x([\d.]+)", text).groups())
    assert ("median times of 3 rounds" in text)
    assert x == pytest.approx(info["mc_runs_per_s"] / info["seq_runs_per_s"], abs=0.006)
    assert (x > 1) == (par > seq) or par == seq


def test_a_full_spec_times_exactly_that_spec():
    """--kernels "top-k(k=2)" times top-k(k=2), not the registered
    top-k(q=0.01) row; "[sparse]" picks the sparse form; a bad spec or a
    sparse form that does not exist is one line."""
    got = perf._select(perf.ENTRIES, ["top-k(k=2)", "rand-k(k=4) [sparse]", "top-k"])
    assert [(e.kernel, e.variant) for e in got[:2]] == [("top-k(k=2)", "dense"),
                                                       ("rand-k(k=4)", "sparse")]
    assert any(e.kernel == "top-k(q=0.01)" for e in got[2:])      # a bare name: its rows
    for bad, says in [("natural(k=2)", "unknown parameter 'k'"),
                      ("natural(bits=32) [sparse]", "no sparse form"),
                      ("rand-k(q=0.1) [dens]", "unknown variant")]:
        with pytest.raises(SystemExit) as e:
            perf._select(perf.ENTRIES, [bad])
        assert says in str(e.value) and "\n" not in str(e.value)
