"""CLI: methods, run, sweep (JSON keys, one-line errors, atomic traces, resume)."""
import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from shiftbench.__main__ import main
from shiftbench.harness.io import read_trace


def test_methods_json_lists_all(capsys):
    assert main(["methods", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    names = {r["name"] for r in rows}
    assert {"dcgd", "dcgd-fixed", "dgd", "dcgd-star", "diana", "rand-diana", "gdci",
            "vr-gdci"} <= names
    assert all(r["theorem"] for r in rows)


def test_run_json_summary_and_trace(tmp_path, capsys):
    out = tmp_path / "t.csv"
    rc = main(["run", "--method", "diana", "--compressor", "rand-k(q=0.1)", "--problem",
               "ridge", "--iters", "300", "--seed", "3", "--out", str(out), "--json"])
    assert rc == 0
    s = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for k in ("method", "compressor", "problem", "status", "iterations", "rel_error",
              "bits_per_worker", "wall_s", "us_per_iter", "grad_norm_sq"):
        assert k in s
    assert s["method"] == "diana" and s["iterations"] == 300 and s["status"] == "max_iter"
    tr = read_trace(out)
    assert tr["iteration"].iloc[-1] == 300
    assert tr.attrs["method"] == "diana" and tr.attrs["provenance"]["seed"] == 3
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".tmp-")]


@pytest.mark.parametrize("argv,needle", [
    (["run", "--method", "nope"], "allowed: dcgd"),
    (["run", "--method", "diana", "--compressor", "rand-q(k=1)"], "allowed:"),
    (["run", "--method", "diana", "--gamma", "-0.1"], "gamma > 0"),
    (["run", "--method", "diana", "--compressor", "top-k(k=500)"], "K = 500 > d = 80"),
    (["run", "--method", "diana", "--problem", "ridge(m=0)"], "ridge"),
])
def test_run_errors_are_one_line(argv, needle, capsys):
    rc = main(argv)
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1 and needle in err


def test_run_monte_carlo(capsys):
    assert main(["run", "--method", "rand-diana", "--compressor", "rand-k(q=0.1)",
                 "--iters", "200", "--runs", "4", "--json"]) == 0
    s = json.loads(capsys.readouterr().out.strip())
    assert s["runs"] == 4 and s["status"] == {"max_iter": 4}


def test_sweep_resumes(tmp_path, capsys):
    out = tmp_path / "sweep.csv"
    argv = ["sweep", "--methods", "diana,rand-diana", "--compressors",
            "rand-k(q=0.1)|natural", "--seeds", "0-1", "--iters", "50", "--out", str(out),
            "--traces", str(tmp_path / "tr")]
    assert main(argv) == 0
    df = pd.read_csv(out)
    assert len(df) == 8 and df["key"].is_unique
    assert len(os.listdir(tmp_path / "tr")) == 8
    # a second run finds everything done and changes nothing
    before = out.read_text()
    assert main(argv) == 0
    assert out.read_text() == before
    # an interrupted sweep: drop two rows, re-run, they come back
    df.iloc[:6].to_csv(out, index=False)
    assert main(argv) == 0
    assert len(pd.read_csv(out)) == 8


def test_module_entry_point():
    r = subprocess.run([sys.executable, "-m", "shiftbench", "frobnicate"], capture_output=True,
                       text=True)
    assert r.returncode == 2 and "allowed:" in r.stderr


def test_sweep_passes_each_method_only_its_options(tmp_path):
    """--zeta reaches lag/clag only; lag (no compressor) runs once per seed."""
    out = tmp_path / "s.csv"
    rc = main(["sweep", "--methods", "lag,clag,ef21", "--compressors", "top-k(k=2)|top-k(k=4)",
               "--seeds", "0", "--iters", "30", "--zeta", "2", "--out", str(out)])
    assert rc == 0
    df = pd.read_csv(out)
    assert sorted(df["method"].value_counts().items()) == [("clag", 2), ("ef21", 2), ("lag", 1)]
