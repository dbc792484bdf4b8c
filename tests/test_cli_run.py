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


def _frame(path):
    from shiftbench.store import Store
    return Store(str(path)).frame()


def test_sweep_resumes(tmp_path, capsys):
    import sqlite3
    out = tmp_path / "sweep.db"
    argv = ["sweep", "--methods", "diana,rand-diana", "--compressors",
            "rand-k(q=0.1)|natural", "--seeds", "0-1", "--iters", "50", "--out", str(out),
            "--traces"]
    assert main(argv) == 0
    df = _frame(out)
    assert len(df) == 8 and df["key"].is_unique
    assert len(os.listdir(str(out) + ".traces")) == 8
    # a second run finds everything done and records nothing
    assert main(argv) == 0
    assert len(_frame(out)) == 8
    # runs that never finished (rows missing): a re-run records exactly those
    con = sqlite3.connect(str(out))
    tables = [r[0] for r in con.execute("select name from sqlite_master where type='table'")]
    runs_table = [t for t in tables if "run" in t.lower()][0]
    con.execute(f"delete from {runs_table} where key in (?, ?)", tuple(df["key"].iloc[:2]))
    con.commit()
    con.close()
    assert len(_frame(out)) == 6
    assert main(argv) == 0
    df2 = _frame(out)
    assert len(df2) == 8 and set(df2["key"]) == set(df["key"])


def test_sweep_key_includes_every_option(tmp_path):
    """Another --zeta into the same store runs again (it is another configuration)."""
    out = tmp_path / "z.db"
    base = ["sweep", "--methods", "clag", "--compressors", "top-k(k=2)", "--seeds", "0",
            "--iters", "20", "--out", str(out)]
    assert main(base + ["--zeta", "1"]) == 0
    assert main(base + ["--zeta", "2"]) == 0
    assert main(base + ["--zeta", "2"]) == 0            # already there: nothing new
    df = _frame(out)
    assert len(df) == 2 and sorted(df["zeta"]) == [1.0, 2.0]


def test_sweep_grid_over_method_options(tmp_path, capsys):
    out = tmp_path / "g.db"
    rc = main(["sweep", "--methods", "rand-diana", "--compressors", "rand-k(q=0.1)",
               "--grid", "M=1x,2x; p=0.1,0.2", "--seeds", "0-1", "--iters", "30",
               "--out", str(out)])
    assert rc == 0
    df = _frame(out)
    assert len(df) == 8
    assert sorted(set(df["opt_M"])) == ["1x", "2x"]
    # M relative to the theory: 2x doubles the resolved M at the same p
    for p in (0.1, 0.2):
        sub = df[df["opt_p"] == p]
        m1 = sub[sub["opt_M"] == "1x"]["M"].iloc[0]
        m2 = sub[sub["opt_M"] == "2x"]["M"].iloc[0]
        assert m2 == pytest.approx(2 * m1)
    summary = capsys.readouterr().out
    assert "iters_median" in summary and "opt_M" in summary


@pytest.mark.parametrize("extra,needle", [
    (["--methods", ",,"], "names no method"),
    (["--methods", "diana", "--seeds", "5-1"], "empty"),
    (["--methods", "diana", "--compressors", "rand-k(q=0.1)|"], "empty spec"),
    (["--methods", "diana", "--zeta", "1"], "no method of the sweep takes zeta"),
    (["--methods", "diana", "--grid", "frob=1"], "unknown option"),
    (["--methods", "diana", "--gamma", "1,2"], "one number"),
    (["--methods", "diana", "--seeds", "1-2-3"], "not a range"),
])
def test_sweep_bad_input_is_one_line(tmp_path, capsys, extra, needle):
    rc = main(["sweep", "--out", str(tmp_path / "x.db"), "--iters", "5"] + extra)
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and needle in err, err


def test_sweep_refuses_a_non_store_file(tmp_path, capsys):
    f = tmp_path / "old.csv"
    f.write_text("key,method\nabc,diana\n")
    rc = main(["sweep", "--methods", "diana", "--iters", "5", "--out", str(f)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    assert f.read_text() == "key,method\nabc,diana\n"


def test_concurrent_sweeps_lose_nothing(tmp_path):
    """Two processes, overlapping seed shards, one store: exactly the union."""
    out = tmp_path / "c.db"
    cmd = [sys.executable, "-m", "shiftbench", "sweep", "--methods", "diana", "--compressors",
           "rand-k(q=0.1)", "--iters", "20", "--out", str(out)]
    procs = [subprocess.Popen(cmd + ["--seeds", s], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
             for s in ("0-5", "3-9")]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    df = _frame(out)
    assert df["key"].is_unique and sorted(df["seed"]) == list(range(10))


def test_module_entry_point():
    r = subprocess.run([sys.executable, "-m", "shiftbench", "frobnicate"], capture_output=True,
                       text=True)
    assert r.returncode == 2 and "allowed:" in r.stderr


def test_sweep_passes_each_method_only_its_options(tmp_path):
    """--zeta reaches lag/clag only; lag (no compressor) runs once per seed."""
    out = tmp_path / "s.db"
    rc = main(["sweep", "--methods", "lag,clag,ef21", "--compressors", "top-k(k=2)|top-k(k=4)",
               "--seeds", "0", "--iters", "30", "--zeta", "2", "--out", str(out)])
    assert rc == 0
    df = _frame(out)
    assert sorted(df["method"].value_counts().items()) == [("clag", 2), ("ef21", 2), ("lag", 1)]


def test_runs_beyond_memory_is_one_line(capsys):
    rc = main(["run", "--method", "diana", "--runs", "10000000", "--iters", "100000"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "GiB" in err
    assert "fewer runs or iterations" in err


def test_ctrl_c_keeps_the_partial_trace(tmp_path):
    """SIGINT to a long run: exit 130 within seconds, one line, partial trace kept."""
    import signal
    import time
    out = tmp_path / "t.csv"
    p = subprocess.Popen([sys.executable, "-m", "shiftbench", "run", "--method", "diana",
                          "--iters", "1000000000000", "--eps", "0", "--stride", "1000000000",
                          "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=dict(os.environ, SHIFTBENCH_PROGRESS="0"))
    time.sleep(6.0)                      # import + cached compile, then the loop runs
    t0 = time.monotonic()
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert time.monotonic() - t0 < 5.0
    assert p.returncode == 130, err
    assert len(err.strip().splitlines()) == 1 and "interrupted" in err
    tr = read_trace(out)
    assert tr.attrs["status"] == "interrupted" and tr["iteration"].iloc[-1] > 0


def test_interrupted_sweep_keeps_finished_runs_and_resumes_exactly(tmp_path):
    """SIGINT mid-sweep: runs finish and are recorded a chunk at a time, so the
    store keeps what finished; re-running the command completes exactly the
    grid (no run lost or duplicated)."""
    import signal
    import sqlite3
    import time
    from shiftbench.harness.cli import SWEEP_CHUNK
    store = tmp_path / "s.db"
    nseeds = 20 * SWEEP_CHUNK
    cmd = [sys.executable, "-m", "shiftbench", "sweep", "--methods", "diana", "--problem",
           "ridge", "--compressors", "rand-k(q=0.1)", "--seeds", f"0-{nseeds - 1}",
           "--iters", "2000", "--eps", "0", "--out", str(store)]
    env = dict(os.environ, SHIFTBENCH_PROGRESS="0")
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)

    def count():
        try:
            with sqlite3.connect(store) as c:
                return c.execute("select count(*) from runs").fetchone()[0]
        except sqlite3.Error:
            return 0

    t_end = time.monotonic() + 120
    while count() < SWEEP_CHUNK and time.monotonic() < t_end and p.poll() is None:
        time.sleep(0.2)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    kept = count()
    assert p.returncode == 130, err
    assert len(err.strip().splitlines()) == 1 and "interrupted" in err
    assert SWEEP_CHUNK <= kept < nseeds
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert f"{nseeds - kept} run(s) recorded, {kept} already" in r.stderr
    with sqlite3.connect(store) as c:
        n, nk, ns = c.execute("select count(*), count(distinct key), count(distinct seed) "
                              "from runs").fetchone()
    assert n == nk == ns == nseeds
