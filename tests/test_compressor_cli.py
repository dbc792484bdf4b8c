"""``python -m shiftbench compressors`` and ``verify-compressors``."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from shiftbench.__main__ import main as sb_main
from shiftbench.compressors import compressor, parse, REGISTRY
from shiftbench.compressors import cli, verify
from shiftbench.compressors.registry import _unbiased, Claims


def test_compressors_json(capsys):
    assert sb_main(["compressors", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in rows} == set(REGISTRY)
    x = np.random.default_rng(0).standard_normal(64)
    for r in rows:
        for key in ("name", "example", "kind", "omega", "delta", "syntax", "bit_cost"):
            assert key in r
        assert r["kind"] in ("unbiased", "contractive", "biased")
        if r["kind"] == "contractive":
            assert 0 < r["delta"] <= 1
        if r["omega"] is not None:
            assert r["kind"] == "unbiased" and r["omega"] >= 0
        y, b = compressor(r["example"]).compress(x, 1)        # every example is valid
        assert np.all(np.isfinite(y)) and int(b) >= 0
        assert parse(r["example"]).canonical() == r["example"]
    by = {r["name"]: r for r in rows}
    assert by["rand-k"]["omega"] == pytest.approx(9.0) and by["rand-k"]["delta"] is None
    assert by["top-k"]["omega"] is None and by["top-k"]["delta"] == pytest.approx(5 / 1000)
    assert by["natural"]["omega"] == 0.125


def test_compressors_json_at_d(capsys):
    assert cli.main(["--json", "--d", "50"]) == 0
    by = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert by["top-k"]["delta"] == pytest.approx(5 / 50)
    assert by["top-k"]["b3"] == pytest.approx(10)
    assert by["rand-k"]["omega"] == pytest.approx(50 / 5 - 1)
    assert by["dither"]["omega"] == pytest.approx(min(50 / 16, 50 ** 0.5 / 4))


def test_compressors_table(capsys):
    assert cli.main([]) == 0
    out = capsys.readouterr().out
    for name, e in REGISTRY.items():
        assert e.syntax in out and e.example in out
    assert cli.main(["--d", "0"]) == 2


def test_verify_small_passes(capsys):
    rc = verify.main(["--d", "16", "--trials", "400", "--seed", "3"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "claims hold within tolerance" in out and "VIOLATED" not in out
    for spec in ["rand-k(q=0.1)", "top-k(k=5)", "natural", "induced(top-k(k=2), rand-k(k=4))"]:
        assert spec in out
    assert "bits per message" in out


def test_verify_json(capsys):
    rc = verify.main(["--d", "12", "--trials", "300", "--json", "--spec", "rand-k(k=3)",
                      "--spec", "top-k(k=2)"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and doc["ok"] is True
    assert {c["spec"] for c in doc["checks"]} == {"rand-k(k=3)", "top-k(k=2)"}
    om = [c for c in doc["checks"] if c["constant"] == "omega"][0]
    assert om["claimed"] == pytest.approx(3.0) and om["ok"]
    assert {"omega", "bits", "values_bits", "bias_chi"} <= set(doc["measurements"][0])


def test_verify_planted_omega_violation(monkeypatch, capsys):
    """A claim that is too small (omega halved) must be reported and exit 1."""
    e = REGISTRY["rand-k"]
    orig = e.claims
    monkeypatch.setattr(e, "claims", lambda pr, d: _unbiased(0.5 * orig(pr, d).omega))
    rc = verify.main(["--d", "16", "--trials", "400", "--spec", "rand-k(q=0.25)"])
    out = capsys.readouterr().out
    assert rc == 1
    assert "VIOLATED" in out and "omega claimed 1.5" in out


def test_verify_planted_bias_violation(monkeypatch, capsys):
    """Calling a biased compressor unbiased must fail the unbiasedness check."""
    monkeypatch.setattr(REGISTRY["crand-k"], "claims",
                        lambda pr, d: Claims("unbiased", omega=d / pr["k"] - 1))
    rc = verify.main(["--d", "16", "--trials", "400", "--spec", "crand-k(k=4)"])
    out = capsys.readouterr().out
    assert rc == 1 and "unbiased" in out.split("VIOLATED:")[1]


def test_verify_bad_arguments(capsys):
    assert verify.main(["--d", "1"]) == 2
    assert verify.main(["--spec", "nope"]) == 2
    assert "unknown compressor" in capsys.readouterr().err
    assert verify.main(["--spec", "top-k(k=50)", "--d", "10"]) == 2


def test_dispatcher_subprocess():
    env = dict(os.environ)
    r = subprocess.run([sys.executable, "-m", "shiftbench", "verify-compressors", "--d", "10",
                        "--trials", "200", "--spec", "natural", "--spec", "sign"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "natural" in r.stdout
