"""The method model: declarations, validation, derived CLI, a toy method
registered from this file, Ctrl-C, and the sweep's keys and grid."""
import json
import threading

import numpy as np
import pytest

import shiftbench as sb
from shiftbench.harness import cli
from shiftbench.methods import model as MM
from shiftbench.methods import engine as E
from shiftbench.methods.shift_methods import build_shift, Q, ALPHA
from shiftbench.problems import make


@pytest.fixture(scope="module")
def small():
    return make("quadratic(kappa=10, n=4, d=12, hetero=1, seed=2)")


# ---- the toy method of the README's contributor section --------------------
def build_slow(m, P, opts):
    opts.setdefault("alpha", MM.Relative(0.5))       # half the theorem's alpha
    return build_shift(m, P, opts)


TOY = MM.Method("diana-slow", "shift", E.DIANA, "DIANA with half the theory's alpha",
                "Shulgin & Richtárik (UAI 2022), Theorem 3 with alpha halved", (Q, ALPHA),
                build_slow)


@pytest.fixture(scope="module")
def toy():
    MM.register(TOY, replace=True)
    yield TOY
    MM.METHODS.pop("diana-slow", None)


def test_toy_method_runs_and_halves_alpha(toy, small):
    a = sb.run("diana-slow", small, "rand-k(k=3)", iters=300, eps=0.0, seed=1)
    b = sb.run("diana", small, "rand-k(k=3)", iters=300, eps=0.0, seed=1)
    assert a.params["alpha"] == pytest.approx(0.5 * b.params["alpha"])
    # the same engine with alpha given explicitly gives the same trace
    c = sb.run("diana", small, "rand-k(k=3)", alpha=a.params["alpha"], iters=300, eps=0.0,
               seed=1)
    np.testing.assert_array_equal(a.trace["dist_sq"].to_numpy(), c.trace["dist_sq"].to_numpy())
    with pytest.raises(ValueError, match="diana-slow does not take M"):
        sb.run("diana-slow", small, "rand-k(k=3)", M=3.0, iters=5)


def test_toy_method_reaches_the_cli(toy, capsys):
    from shiftbench.__main__ import main
    rc = main(["run", "--method", "diana-slow", "--problem",
               "quadratic(kappa=10, n=4, d=12, hetero=1, seed=2)", "--iters", "50", "--json"])
    assert rc == 0
    assert json.loads(capsys.readouterr().out)["method"] == "diana-slow"
    assert cli.methods_main(["--json"]) == 0
    assert "diana-slow" in {r["name"] for r in json.loads(capsys.readouterr().out)}


# ---- validation from the declarations --------------------------------------
@pytest.mark.parametrize("method,kw,needle", [
    ("diana", {"zeta": 1.0}, "diana does not take zeta"),
    ("diana", {"shift": "x0"}, "diana does not take shift"),
    ("dcgd-fixed", {"shift": "nope"}, "allowed: zero | star | x0"),
    ("rand-diana", {"p": [0.1, 0.2]}, "give one or n"),
    ("diana", {"gamma": float("nan")}, "not finite"),
    ("diana", {"alpha": 1.5}, "0 < alpha <= 1"),
    ("diana", {"M": "abc"}, "M = 'abc' is not allowed"),
    ("diana", {"compressor": ""}, "compressor is empty"),
    ("diana", {"compressor": lambda x: x}, "register_compressor"),
    ("diana", {"gamma": 0.1, "gamma_factor": 2.0}, "not both"),
    ("diana", {"compressor": "top-k(k=2)"}, "not an unbiased compressor"),
    ("ef21", {"iters": 1e20}, "iters <= 10^12"),
    ("ef21", {"seed": -1}, "0 <= seed < 2^63"),
    ("ef21", {"seed": 2 ** 64}, "0 <= seed < 2^63"),
])
def test_one_line_errors(small, method, kw, needle):
    kw = dict(kw)
    comp = kw.pop("compressor", None)
    with pytest.raises(ValueError) as e:
        sb.run(method, small, comp, iters=kw.pop("iters", 5), **kw)
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_relative_values_scale_the_theory(small):
    base = sb.run("rand-diana", small, "rand-k(k=3)", iters=0)
    two = sb.run("rand-diana", small, "rand-k(k=3)", iters=0, M="2x")
    assert two.params["M"] == pytest.approx(2 * base.params["M"])
    assert two.params["gamma"] < base.params["gamma"]       # gamma depends on M (Thm 4)
    gf = sb.run("diana", small, "rand-k(k=3)", iters=0, gamma_factor=0.5)
    g1 = sb.run("diana", small, "rand-k(k=3)", iters=0)
    assert gf.params["gamma"] == pytest.approx(0.5 * g1.params["gamma"])


def test_dcgd_fixed_x0_shift_is_sent_once(small):
    r = sb.run("dcgd-fixed", small, "rand-k(k=3)", shift="x0", iters=3, eps=0.0, stride=1)
    z = sb.run("dcgd-fixed", small, "rand-k(k=3)", shift="zero", iters=3, eps=0.0, stride=1)
    extra = r.trace["bits_per_worker"].to_numpy() - z.trace["bits_per_worker"].to_numpy()
    np.testing.assert_array_equal(extra, np.full(4, 32.0 * small.d))


def test_cli_help_is_derived_from_declarations(capsys):
    with pytest.raises(SystemExit):
        cli.run_main(["--help"])
    out = capsys.readouterr().out
    for name, o in MM.option_names().items():
        if o.cli:
            assert o.flag in out, o.flag
    assert "default: 100000" in out                  # the one default of iters


def test_cli_rejects_options_the_method_does_not_take(capsys):
    rc = cli.run_main(["--method", "diana", "--zeta", "1", "--iters", "5"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "diana does not take zeta" in err


# ---- Ctrl-C ----------------------------------------------------------------
def test_interrupt_flag_stops_the_compiled_loop(small):
    """The loop polls its flag every iteration: a set flag stops it at once
    with status 'interrupted' and its partial trace."""
    from shiftbench.backends.cpu import call_interruptibly
    from shiftbench.perf_methods import engine_call
    ec = engine_call("diana", small, "rand-k(k=3)", iters=10 ** 9, stride=1000)
    ec.flag[0] = 0
    timer = threading.Timer(0.5, lambda: ec.flag.__setitem__(0, 1))
    timer.start()
    (st, it, nr), _ = call_interruptibly(ec.one, (0,), ec.flag)
    assert st == MM_status("interrupted") and 0 < it < 10 ** 9 and nr >= 1


def MM_status(name):
    from shiftbench.methods.loopdata import STATUS_NAMES
    return {v: k for k, v in STATUS_NAMES.items()}[name]


def test_keyboard_interrupt_gives_partial_result(small, monkeypatch):
    """Ctrl-C in the main thread: RunInterrupted carries the partial run."""
    import _thread
    from shiftbench.backends.cpu import RunInterrupted
    threading.Timer(1.0, _thread.interrupt_main).start()
    with pytest.raises(RunInterrupted) as e:
        sb.run("diana", small, "rand-k(k=3)", iters=10 ** 10, eps=0.0, stride=10 ** 6)
    r = e.value.result
    assert r.status == "interrupted" and r.iterations > 0 and len(r.trace) >= 1


# ---- sweep helpers ---------------------------------------------------------
def test_parse_seeds():
    assert cli.parse_seeds("0-3,7,2") == [0, 1, 2, 3, 7]
    for bad, needle in [("5-1", "empty"), ("1-2-3", "not a range"), ("x", "not allowed"),
                        ("-1", "not allowed"), ("0,,1", "empty item")]:
        with pytest.raises(ValueError, match=needle):
            cli.parse_seeds(bad)


def test_parse_grid():
    g = cli.parse_grid("M=0.5x,1x; p=0.01,0.1; gamma-factor=1,2")
    assert g == {"M": ["0.5x", "1x"], "p": ["0.01", "0.1"], "gamma_factor": ["1", "2"]}
    for bad, needle in [("Q=1", "unknown option"), ("M=1; M=2", "twice"), ("M=", "empty"),
                        ("M", "name=v1")]:
        with pytest.raises(ValueError, match=needle):
            cli.parse_grid(bad)


def test_sweep_key_covers_every_option():
    base = {"method": "clag", "problem": "ridge", "zeta": 1.0, "compressor2": None,
            "seed": 0}
    keys = {cli.sweep_key(base)}
    for k, v in [("zeta", 2.0), ("compressor2", "top-k(k=1)"), ("seed", 1),
                 ("stride", 10), ("stop", "grad_norm_sq"), ("shift", "star")]:
        keys.add(cli.sweep_key(dict(base, **{k: v})))
    assert len(keys) == 7
    assert all(isinstance(k, str) and k.startswith("k") for k in keys)
