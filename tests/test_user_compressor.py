"""Users' own compressors: the README's example (examples/half_sign.py) runs
everywhere a built-in spec does -- sb.compressor and .compress, induced /
compose / scale, every method through sb.run, verify-compressors, and the CLI
through --plugin -- and the compiled loops are not recompiled for it."""
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numba import njit

import shiftbench as sb
from shiftbench.compressors import REGISTRY, compressor, Compressor, unregister_compressor
from shiftbench.methods import model as MR

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "half_sign.py"


def _readme_block():
    """The first python code block of the README's "Your own compressor"."""
    text = (ROOT / "README.md").read_text()
    sec = text.split("## Your own compressor", 1)[1].split("\n## ", 1)[0]
    m = re.search(r"```python\n(.*?)```", sec, re.S)
    assert m, "no python block in 'Your own compressor'"
    return m.group(1)


@pytest.fixture(scope="module")
def half_sign():
    """Register the README's example exactly as written."""
    code = _readme_block()
    ns = {"__name__": "readme_example"}
    exec(compile(code, "README.md", "exec"), ns)
    yield ns["half_sign"]


def _expected(x, c):
    m = np.sum(np.abs(x)) * (c / x.size)
    return np.where(x >= 0.0, m, -m)


def test_readme_block_is_the_example_file_and_short():
    code = _readme_block()
    assert code == EXAMPLE.read_text()
    assert len(code.strip().splitlines()) <= 30


def test_compress_and_claims(half_sign):
    x = np.random.default_rng(0).standard_normal(40)
    C = sb.compressor("half-sign(c=0.5)")
    assert C.spec == "half-sign(c=0.5)" and sb.compressor("half-sign").spec == "half-sign"
    y, b = C.compress(x)
    np.testing.assert_allclose(y, _expected(x, 0.5), rtol=1e-15)
    assert int(b) == 32 + 40 and b.values == 40
    cl = C.claims(40)
    assert cl.kind == "contractive" and cl.delta == pytest.approx(0.5 * 1.5 / 40)
    assert cl.source == "user"
    assert C.delta == pytest.approx(0.75 / 40)             # d of the last compress
    assert C.node.depends_on_d()                            # delta depends on d
    row = {r["name"]: r for r in sb.list_compressors()}["half-sign"]
    assert row["user"] and row["bit_cost"] == "1 bit per entry + 1 norm"
    with pytest.raises(ValueError, match="unknown parameter 'k'; allowed: c"):
        sb.compressor("half-sign(k=2)")


def test_inside_induced_compose_scale(half_sign):
    x = np.random.default_rng(1).standard_normal(30)
    c = _expected(x, 0.5)
    # induced: C(x) + Q(x - C(x)); C draws nothing, so Q uses the seed's stream
    y, b = compressor("induced(half-sign(c=0.5), rand-k(q=0.5))").compress(x, 7)
    q, bq = compressor("rand-k(q=0.5)").compress(x - compressor("half-sign(c=0.5)").compress(x)[0], 7)
    np.testing.assert_array_equal(y, c + q)
    assert int(b) == 32 + 30 + int(bq)
    cl = compressor("induced(half-sign(c=0.5), rand-k(q=0.5))").claims(30)
    assert cl.kind == "unbiased" and cl.omega == pytest.approx((30 / 15 - 1) * (1 - 0.75 / 30))
    # compose: natural-det of the half-sign output (only the outer message is sent)
    y, b = compressor("compose(natural-det, half-sign(c=0.5))").compress(x)
    np.testing.assert_array_equal(y, compressor("natural-det").compress(c)[0])
    # and the user kernel as the outer compressor of a composition
    y, _ = compressor("compose(half-sign, top-k(k=3))").compress(x)
    np.testing.assert_allclose(y, _expected(compressor("top-k(k=3)").compress(x)[0], 1.0))
    y, b = compressor("scale(half-sign(c=0.5), lam=2)").compress(x)
    np.testing.assert_allclose(y, 2 * c, rtol=1e-15)
    assert int(b) == 62


def _spec_for(info):
    """half-sign where a biased compressor is allowed; the unbiased induced
    compressor built on it where the method needs U(omega)."""
    if info.name == "dgd" or not info.takes("compressor"):
        return None
    if info.loop == "shift" or info.name == "marina":
        return "induced(half-sign(c=0.5), rand-k(q=0.5))"
    return "half-sign(c=0.5)"


@pytest.mark.parametrize("method", sorted(MR.all_methods()))
def test_every_method_runs_it(half_sign, method):
    info = MR.get(method)
    spec = _spec_for(info)
    if spec is None:
        pytest.skip(f"{method} takes no compressor")
    kw = {}
    if info.takes("shift_compressor"):
        kw["shift_compressor"] = "half-sign(c=0.5)"
    if info.takes("compressor2"):      # Q of 3PCv2 is unbiased, C_2 of 3PCv3/v4 contractive
        kw["compressor2"] = ("induced(half-sign, rand-k(q=0.5))" if method == "3pcv2"
                             else "half-sign")
    r = sb.run(method, "ridge", spec, iters=40, eps=0.0, stride=10, **kw)
    t = r.trace
    assert r.status in ("max_iter", "converged"), r.status
    assert np.all(np.isfinite(t["dist_sq"])) and t["bits_per_worker"].iloc[-1] > 0
    if spec.startswith("half-sign"):
        # the user kernel is what runs: its bits (32 + d per message) show up
        d = sb.problem("ridge").d
        assert t["bits_per_worker"].iloc[-1] >= 32 + d


def test_loops_are_not_recompiled_for_it(half_sign):
    """One compiled engine serves built-in and user compressors."""
    from shiftbench.methods import engine as E
    sb.run("diana", "ridge", "rand-k(q=0.5)", iters=5)
    n = len(E.run_one.signatures)
    sb.run("diana", "ridge", "induced(half-sign, rand-k(q=0.5))", iters=5)
    assert len(E.run_one.signatures) == n


def test_user_rng_is_the_workers_stream():
    """A user kernel drawing through sb.rng gives exactly the built-in
    scaled-bernoulli's messages for the same seed, also inside a method."""
    @njit
    def coin(x, out, params, rng):
        p = params[0]
        if sb.rng.uniform(rng) < p:
            for i in range(x.size):
                out[i] = x[i] / p
            return 1.0 + 32.0 * x.size, 32.0 * x.size
        for i in range(x.size):
            out[i] = 0.0
        return 1.0, 0.0

    sb.register_compressor("test-coin", coin, params={"p": 0.5},
                           omega=lambda pr, d: 1.0 / pr["p"] - 1.0, bits="flag + d values")
    try:
        x = np.random.default_rng(3).standard_normal(25)
        for seed in range(6):
            a, _ = compressor("test-coin(p=0.3)").compress(x, seed)
            b, _ = compressor("scaled-bernoulli(p=0.3)").compress(x, seed)
            np.testing.assert_array_equal(a, b)
        ra = sb.run("dcgd", "ridge", "test-coin(p=0.5)", iters=30, eps=0.0, stride=1)
        rb = sb.run("dcgd", "ridge", "scaled-bernoulli(p=0.5)", iters=30, eps=0.0, stride=1)
        np.testing.assert_array_equal(ra.trace["dist_sq"], rb.trace["dist_sq"])
    finally:
        unregister_compressor("test-coin")
    with pytest.raises(ValueError, match="unknown compressor 'test-coin'"):
        compressor("test-coin")


def test_verify_compressors_measures_its_claim(half_sign, capsys):
    from shiftbench.compressors import verify
    rc = verify.main(["--d", "20", "--trials", "50", "--spec", "half-sign(c=0.5)", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and doc["ok"]
    delta = [c for c in doc["checks"] if c["constant"] == "delta"]
    assert delta and delta[0]["claimed"] == pytest.approx(0.75 / 20) and delta[0]["ok"]


def test_a_false_claim_is_caught(half_sign, capsys):
    from shiftbench.compressors import verify
    sb.register_compressor("test-liar", half_sign, params={"c": 1.0}, kind="biased",
                           delta=lambda p, d: 0.9)               # far too good
    try:
        rc = verify.main(["--d", "20", "--trials", "50", "--spec", "test-liar"])
    finally:
        unregister_compressor("test-liar")
    assert rc == 1 and "VIOLATED" in capsys.readouterr().out


def _cli(*args, cwd=ROOT, timeout=600):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "shiftbench", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=timeout)


def test_cli_plugin_run_sweep_verify(tmp_path):
    plug = str(EXAMPLE)
    r = _cli("--plugin", plug, "run", "--method", "ef21", "--compressor", "half-sign(c=0.5)",
             "--problem", "ridge", "--iters", "50", "--json")
    assert r.returncode == 0, r.stderr[-2000:]
    summ = json.loads(r.stdout)
    assert summ["compressor"] == "half-sign(c=0.5)" and summ["bits_per_worker"] > 0
    out = tmp_path / "sweep.csv"
    r = _cli(f"--plugin={plug}", "sweep", "--methods", "ef21,3pcv1",
             "--compressors", "half-sign(c=0.5)|half-sign", "--seeds", "0-1",
             "--iters", "30", "--out", str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    from shiftbench.store import Store
    df = Store(str(out)).frame()
    assert len(df) == 8 and set(df["compressor"]) == {"half-sign(c=0.5)", "half-sign"}
    r = _cli("--plugin", plug, "verify-compressors", "--d", "16", "--trials", "40",
             "--spec", "half-sign(c=0.5)")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "half-sign(c=0.5)" in r.stdout and "VIOLATED" not in r.stdout
    # without the plugin the name is unknown: a one-line error
    r = _cli("run", "--method", "ef21", "--compressor", "half-sign", "--problem", "ridge")
    assert r.returncode != 0 and "unknown compressor 'half-sign'" in r.stderr
    assert "Traceback" not in r.stderr


def test_cli_plugin_errors(tmp_path):
    r = _cli("--plugin", str(tmp_path / "missing.py"), "compressors")
    assert r.returncode == 2 and "no such file" in r.stderr and "Traceback" not in r.stderr
    bad = tmp_path / "bad.py"
    bad.write_text("raise RuntimeError('boom')\n")
    r = _cli("--plugin", str(bad), "compressors")
    assert r.returncode == 2 and "RuntimeError: boom" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = _cli("--plugin")
    assert r.returncode == 2 and "--plugin needs a file" in r.stderr


# ----------------------------------------------------------------------------
# the wrong ways get one line naming the right way

def _one_line(exc, *words):
    msg = str(exc.value)
    assert "\n" not in msg, msg
    for w in words:
        assert w in msg, (w, msg)


def test_python_function_or_subclass_where_a_spec_is_expected():
    def my_compress(x):
        return x

    for bad in (my_compress, lambda x: x):
        with pytest.raises(ValueError) as e:
            sb.compressor(bad)
        _one_line(e, "register_compressor", "Python function")
        with pytest.raises(ValueError) as e:
            sb.run("dcgd", "ridge", bad, iters=5)
        _one_line(e, "register_compressor")

    class Mine(Compressor):
        def compress(self, x, seed=0, out=None, rng=None):
            return x, 0

    mine = Mine("top-k(k=1)")
    for call in (lambda: sb.run("ef21", "ridge", mine, iters=5),
                 lambda: sb.run("ef21", "ridge", [mine] * 10, iters=5),
                 lambda: sb.compressor(mine)):
        with pytest.raises(ValueError) as e:
            call()
        _one_line(e, "register_compressor", "subclass", "Mine")
    with pytest.raises(ValueError) as e:
        sb.run("ef21", "ridge", Mine, iters=5)
    _one_line(e, "register_compressor", "class")


def test_register_compressor_errors(half_sign):
    def plain(x, out, params, rng):
        return 0.0, 0.0

    @njit
    def wrong_arity(x, out):
        return 0.0, 0.0

    @njit
    def wrong_return(x, out, params, rng):
        return x

    cases = [
        (("top-k", half_sign), "built-in"),
        (("Half Sign", half_sign), "not allowed"),
        (("ok-name", plain), "numba @njit function"),
        (("ok-name", wrong_arity), "does not compile"),
        (("ok-name", wrong_return), "does not compile"),
        (("ok-name", half_sign, {"c": math.nan}), "finite number"),
        (("ok-name", half_sign, {"C": 1.0}), "lower-case identifier"),
    ]
    for args, words in cases:
        with pytest.raises(ValueError) as e:
            sb.register_compressor(*args)
        _one_line(e, words)
    for kw, words in (({"kind": "weird"}, "kind must be one of"),
                      ({"kind": "biased", "omega": lambda p, d: 1.0}, "claims delta"),
                      ({"kind": "unbiased", "delta": lambda p, d: 0.5}, "claims omega"),
                      ({"omega": lambda p, d: -1.0}, "finite number >= 0"),
                      ({"omega": lambda p, d: 1 / 0}, "ZeroDivisionError")):
        with pytest.raises(ValueError) as e:
            sb.register_compressor("ok-name", half_sign, **kw)
        _one_line(e, words)
    assert "ok-name" not in REGISTRY
