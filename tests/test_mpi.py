"""The MPI backend against the simulator (mpiexec -n 3: a master, 2 workers).

Skipped where mpi4py or mpiexec is missing (``pip install -e ".[test]"``
brings both: mpi4py and the ``mpich`` wheel).
"""
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

import shiftbench as sb

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent

pytest.importorskip("mpi4py")


def _mpiexec():
    p = pathlib.Path(sys.executable).parent / "mpiexec"
    return str(p) if p.exists() else shutil.which("mpiexec")


MPIEXEC = _mpiexec()
pytestmark = pytest.mark.skipif(MPIEXEC is None, reason="no mpiexec (pip install mpich)")

sys.path.insert(0, str(HERE))
import mpi_job  # noqa: E402

CASES = [f"{m}/{c}/{w}" for m, c in (("diana", "rand-k(q=0.1)"), ("rand-diana", "rand-k(q=0.1)"),
                                     ("ef21", "top-k(q=0.1)"), ("diana", "natural"))
         for w in (0, 1)] + ["vr-gdci/rand-k(q=0.5)/1", "ef/top-k(q=0.2)/0", "lag/identity/1",
                             "marina/rand-k(q=0.2)/1"]


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _mpirun(n, args, timeout=400, env=None):
    return subprocess.run([MPIEXEC, "-n", str(n), sys.executable] + args, capture_output=True,
                          text=True, timeout=timeout, env=env or _env(), cwd=str(ROOT),
                          stdin=subprocess.DEVNULL)


def _sim(case):
    meth, comp, wire = case.split("/")
    return sb.run(meth, mpi_job.PROBLEM, compressor=comp, iters=mpi_job.ITERS, seed=5, stride=1,
                  wire=bool(int(wire)), record_x=True)


@pytest.fixture(scope="module")
def sims():
    # first, in this process: the simulator's wire loop compiles (and caches on
    # disk) the encoders and decoders that the MPI ranks then load
    return {c: _sim(c) for c in CASES}


@pytest.fixture(scope="module")
def job(sims, tmp_path_factory):
    out = tmp_path_factory.mktemp("mpi") / "job.json"
    r = _mpirun(3, [str(HERE / "mpi_job.py"), str(out)] + CASES)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.mark.parametrize("case", CASES)
def test_mpi_trace_equals_the_simulator(job, sims, case):
    got = job[case]
    ref = sims[case]
    t = ref.trace
    assert got["status"] == ref.status and got["iterations"] == ref.iterations
    # identical bits, every iteration
    assert got["bits"] == t["bits_per_worker"].tolist()
    assert got["vbits"] == t["values_bits_per_worker"].tolist()
    assert got["down"] == t["downlink_bits_per_worker"].tolist()
    X = np.asarray(got["x"])
    if case.endswith("/1"):                       # wire on both: equal
        np.testing.assert_array_equal(X, ref.x)
    else:
        scale = np.maximum(np.abs(ref.x), 1e-300)
        assert np.all(np.abs(X - ref.x) <= 1e-12 * np.max(np.abs(ref.x), axis=1,
                                                           keepdims=True)), \
            np.max(np.abs(X - ref.x) / scale)


@pytest.mark.parametrize("case", [c for c in CASES if c.endswith("/1")])
def test_measured_bytes_are_the_counted_bits(job, case):
    """With wire, every round's frame carries ceil(bits / 8) bytes per message
    (DIANA and EF21 send one message a round; Rand-DIANA's refresh a second)."""
    got = job[case]
    db = np.diff(got["bits"])
    du = np.diff(got["up_bytes"])
    assert np.all(du >= np.ceil(db / 8) - 1e-9)
    if not case.startswith("rand-diana"):
        np.testing.assert_array_equal(du, np.ceil(db / 8))
    assert np.all(np.diff(got["down_bytes"]) == 4 * 20)          # x in fp32, d = 20


def _cli(n, extra, env=None, timeout=120):
    args = ["-m", "shiftbench", "run", "--backend", "mpi", "--method", "diana",
            "--problem", mpi_job.PROBLEM, "--compressor", "rand-k(q=0.1)", "--stride", "1",
            "--seed", "5"] + extra
    t0 = time.perf_counter()
    r = _mpirun(n, args, timeout=timeout, env=env)
    return r, time.perf_counter() - t0


def test_cli_run_json_and_trace(job, tmp_path):
    out = tmp_path / "t.csv"
    r, _ = _cli(3, ["--iters", "30", "--wire", "--json", "--out", str(out)])
    assert r.returncode == 0, r.stderr[-2000:]
    s = json.loads(r.stdout.strip().splitlines()[-1])
    assert s["iterations"] == 30
    import pandas as pd
    t = pd.read_csv(out, comment="#")
    for col in ("wire_bytes_up", "wire_bytes_down", "master_comm_s", "worker_compute_s",
                "worker_codec_s", "worker_comm_s"):
        assert col in t.columns
    assert not (tmp_path / "t.csv.partial.csv").exists()


def test_sparse_rows_on_the_workers(job, tmp_path):
    """A sparse LIBSVM file: the workers get ELL row shards (kind + SPARSE)
    and the run's trace is the one-process run's."""
    rs = np.random.default_rng(2)
    path = tmp_path / "sparse.txt"
    with open(path, "w") as f:
        for j in range(120):
            cols = np.sort(rs.choice(64, 4, replace=False)) + 1
            f.write(("+1" if j % 3 else "-1") + "".join(
                f" {c}:{rs.standard_normal():.6f}" for c in cols) + "\n")
    spec = f"logreg(data={path}, n=2, lam=0.1)"
    from shiftbench.methods.loopdata import problem_data
    from shiftbench.problems import make
    from shiftbench.problems.base import SPARSE
    P = make(spec)
    assert problem_data(P, P.x0).kind == P.kind + SPARSE
    out = tmp_path / "t.csv"
    args = ["-m", "shiftbench", "run", "--backend", "mpi", "--method", "diana", "--problem",
            spec, "--compressor", "rand-k(q=0.1)", "--stride", "1", "--seed", "5",
            "--iters", "25", "--json", "--out", str(out)]
    r = _mpirun(3, args, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    import pandas as pd
    t = pd.read_csv(out, comment="#")
    ref = sb.run("diana", P, compressor="rand-k(q=0.1)", iters=25, seed=5, stride=1).trace
    assert t["bits_per_worker"].tolist() == ref["bits_per_worker"].tolist()
    np.testing.assert_allclose(t["grad_norm_sq"], ref["grad_norm_sq"], rtol=1e-12)


def test_wrong_number_of_ranks_is_one_line(job):
    r, _ = _cli(2, ["--iters", "5"])
    assert r.returncode != 0
    err = [ln for ln in r.stderr.splitlines() if "error" in ln]
    assert err and "mpiexec -n 3" in err[0], r.stderr[-2000:]


def _env_fault(v, key="SHIFTBENCH_MPI_FAULT"):
    e = _env()
    e[key] = v
    e["SHIFTBENCH_MPI_TIMEOUT"] = "10"
    return e


def test_worker_that_fails_names_its_rank(job, tmp_path):
    out = tmp_path / "t.csv"
    r, wall = _cli(3, ["--iters", "400", "--out", str(out)], env=_env_fault("2:25:raise"))
    assert r.returncode != 0 and wall < 30
    lines = [ln for ln in r.stderr.splitlines() if "worker rank 2" in ln]
    assert len(lines) == 1 and "iteration 25" in lines[0], r.stderr[-2000:]
    part = np.genfromtxt(str(out) + ".partial.csv", delimiter=",", names=True)
    assert part["iteration"][-1] == 24                # up to the last completed iteration


def test_killed_worker_ends_the_job(job, tmp_path):
    """A worker killed (SIGKILL) mid-run: the job exits non-zero within 30 s,
    the rows recorded so far are kept."""
    out = tmp_path / "t.csv"
    r, wall = _cli(3, ["--iters", "100000", "--out", str(out)], env=_env_fault("1:60"))
    assert r.returncode != 0 and wall < 30, (r.returncode, wall, r.stderr[-2000:])
    part = np.genfromtxt(str(out) + ".partial.csv", delimiter=",", names=True)
    assert 0 < part["iteration"][-1] < 60


def test_empty_shard_fails_before_the_first_iteration(job, tmp_path):
    r, wall = _cli(3, ["--iters", "50"], env=_env_fault("2", "SHIFTBENCH_MPI_FAULT_SHARD"))
    assert r.returncode != 0
    lines = [ln for ln in r.stderr.splitlines() if "worker rank 2" in ln]
    assert len(lines) == 1 and "iteration 0" in lines[0] and "empty" in lines[0], r.stderr


def test_not_under_mpiexec_is_one_line():
    r = subprocess.run([sys.executable, "-m", "shiftbench", "run", "--backend", "mpi",
                        "--method", "diana", "--iters", "3"], capture_output=True, text=True,
                       env=_env(), cwd=str(ROOT), timeout=120)
    assert r.returncode != 0
    assert len(r.stderr.strip().splitlines()) == 1 and "mpiexec" in r.stderr


SWEEP = ["-m", "shiftbench", "sweep", "--methods", "diana,ef21",
         "--compressors", "rand-k(q=0.1)|top-k(q=0.2)", "--seeds", "0-2",
         "--problem", mpi_job.PROBLEM, "--iters", "50"]
SAME = ["key", "method", "compressor", "seed", "status", "iterations", "rel_error",
        "bits_per_worker", "grad_norm_sq"]


def test_sweep_over_ranks_gives_the_serial_rows_and_resumes(job, tmp_path):
    from shiftbench.store import Store
    serial, spread = tmp_path / "serial.db", tmp_path / "mpi.db"
    r = subprocess.run([sys.executable] + SWEEP + ["--out", str(serial)], capture_output=True,
                       text=True, env=_env(), cwd=str(ROOT), timeout=300)
    assert r.returncode == 1, r.stderr[-2000:]          # diana with top-k is refused
    r = _mpirun(2, SWEEP + ["--out", str(spread)], timeout=300)
    assert r.returncode == 1, r.stderr[-2000:]
    assert "6 run(s) recorded" in r.stderr and "2 configuration(s) failed" in r.stderr
    a = Store(str(serial)).frame()[SAME].sort_values("key").reset_index(drop=True)
    b = Store(str(spread)).frame()[SAME].sort_values("key").reset_index(drop=True)
    assert len(a) == 6
    assert a.equals(b)
    r = _mpirun(2, SWEEP + ["--out", str(spread)], timeout=300)
    assert "0 run(s) recorded, 6 already" in r.stderr, r.stderr[-2000:]


def test_sweep_with_the_mpi_backend_is_one_line(tmp_path):
    r = subprocess.run([sys.executable] + SWEEP + ["--out", str(tmp_path / "s.db"), "--device",
                                                   "mpi"], capture_output=True, text=True,
                       env=_env(), cwd=str(ROOT), timeout=120)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "mpiexec -n P" in r.stderr
