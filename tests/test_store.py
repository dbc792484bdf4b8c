"""The results store (shiftbench.store): text keys, columns on demand,
no duplicates, several processes at once, SIGKILL, O(1) per record, export."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shiftbench.store import Store, main

ROOT = str(Path(__file__).resolve().parents[1])


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_keys_stay_text_and_values_keep_their_type(tmp_path):
    st = Store(tmp_path / "s.db")
    keys = ["83838838e1459452", "4065", "205", "1e5", "0001", "nan", "inf", " 7"]
    for i, k in enumerate(keys):
        assert st.record(k, {"seed": i, "rel_error": 1e-9 * i, "method": "diana"}) is True
    assert st.done_keys() == set(keys)
    df = st.frame()
    assert df["key"].tolist() == keys                           # insertion order, as text
    assert all(isinstance(k, str) for k in df["key"])
    st.record("x", {"i": 2 ** 62, "f": 1.5, "inf": float("inf"), "nan": float("nan"),
                    "none": None, "b": True, "lst": [1, 2.5], "dct": {"a": [1]},
                    "np_f": np.float32(0.5), "np_i": np.int64(7), "arr": np.arange(3),
                    "s": "1e5", "big": 2 ** 70})
    row = st.frame().set_index("key").loc["x"]
    assert row["i"] == 2 ** 62 and row["f"] == 1.5 and row["inf"] == float("inf")
    assert pd.isna(row["nan"]) and pd.isna(row["none"]) and row["b"] == 1
    assert json.loads(row["lst"]) == [1, 2.5] and json.loads(row["dct"]) == {"a": [1]}
    assert row["np_f"] == 0.5 and row["np_i"] == 7 and json.loads(row["arr"]) == [0, 1, 2]
    assert row["s"] == "1e5" and row["big"] == str(2 ** 70)


def test_no_duplicates_and_columns_on_demand(tmp_path):
    st = Store(tmp_path / "s.db")
    assert st.record("k1", {"a": 1})
    assert not st.record("k1", {"a": 2, "new": 3})              # exists: nothing written
    assert st.record("k2", {"b": "x", "L": 1.0, "l": 2.0})      # case-only clash
    df = st.frame()
    assert len(df) == 2 and "new" not in df
    assert df.set_index("key").loc["k1", "a"] == 1
    assert df.set_index("key").loc["k2", "L"] == 1.0 and df.set_index("key").loc["k2", "l"] == 2.0
    st2 = Store(tmp_path / "s.db")                              # a second handle sees it all
    assert st2.done_keys() == {"k1", "k2"} and "k2" in st2 and len(st2) == 2


def test_traces_land_before_their_rows(tmp_path):
    st = Store(tmp_path / "s.db")
    tr = pd.DataFrame({"it": [0, 10], "rel_error": [1.0, 0.01]})
    tr.attrs["method"] = "diana"
    assert st.record("abc", {"seed": 1}, trace=tr)
    path = tmp_path / "s.db.traces" / "abc.csv"
    assert path.is_file() and st.frame()["trace"].tolist() == ["s.db.traces/abc.csv"]
    back = st.read_trace("abc")
    assert back["rel_error"].tolist() == [1.0, 0.01] and back.attrs["method"] == "diana"
    assert not st.record("abc", {"seed": 2}, trace=pd.DataFrame({"it": [99]}))
    assert st.read_trace("abc")["it"].tolist() == [0, 10]       # first trace kept

    class Bad(pd.DataFrame):
        def to_csv(self, *a, **k):
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        st.record("bad", {"seed": 3}, trace=Bad({"it": [0]}))
    assert "bad" not in st and sorted(os.listdir(tmp_path / "s.db.traces")) == ["abc.csv"]
    with pytest.raises(ValueError, match="cannot name a trace file"):
        st.record("../evil", {"seed": 1}, trace=tr)


@pytest.mark.parametrize("make,msg", [
    (lambda p: p.mkdir(), "is a directory; expected a store file"),
    (lambda p: p.write_text("key,seed\nabc,1\n"), "is a CSV or text file, not a results store"),
    (lambda p: p.write_bytes(bytes(range(256)) * 4), "is a binary file, not a results store"),
    (lambda p: sqlite3.connect(p).execute("CREATE TABLE t (a)").connection.commit(),
     "an SQLite database that is not a shiftbench results store"),
])
def test_bad_store_paths(tmp_path, make, msg):
    p = tmp_path / "x"
    make(p)
    with pytest.raises(ValueError, match=msg) as e:
        Store(p)
    assert "\n" not in str(e.value)


def test_unwritable_store(tmp_path):
    path = "/proc/shiftbench-test.db" if os.geteuid() == 0 else None
    if path is None:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        path = ro / "s.db"
    with pytest.raises(ValueError) as e:
        Store(path)
    assert "\n" not in str(e.value) and str(path) in str(e.value)


def test_provenance(tmp_path):
    st = Store(tmp_path / "s.db")
    st.record("a", {"seed": 5})
    pv = st.provenance
    assert set(pv) >= {"versions", "git_commit", "machine", "python"}
    assert pv["versions"]["numpy"] == np.__version__ and pv["machine"]["cpus"]
    assert st.frame()["provenance_id"].tolist() == [1] and st.provenances() == {1: pv}
    assert st.meta["schema"] == 1


def test_record_does_constant_work(tmp_path):
    """O(1) per record: the same statements and (to a few %) the same number of
    SQLite VM steps for the 10th and the 1500th record; no earlier row rewritten."""
    st = Store(tmp_path / "s.db")
    conn = st._c()

    def work(i):
        steps, sql = [0], []

        def tick():
            steps[0] += 1
            return 0
        conn.set_progress_handler(tick, 1)
        conn.set_trace_callback(sql.append)
        st.record(f"{i:016x}", {"seed": i, "rel_error": 1.0 / (i + 1), "method": "diana"})
        conn.set_progress_handler(None, 1)
        conn.set_trace_callback(None)
        return steps[0], sql

    for i in range(10):
        work(i)
    early, sql_early = work(10)
    for i in range(11, 1500):
        st.record(f"{i:016x}", {"seed": i, "rel_error": 1.0 / (i + 1), "method": "diana"})
    late, sql_late = work(1500)
    import re

    def shape(q):
        return [re.sub(r"'[^']*'|\b[\d.]+(e[-+]?\d+)?\b", "?", x) for x in q]
    assert shape(sql_early) == shape(sql_late) and len(sql_late) <= 5
    assert not any("UPDATE" in s or "DELETE" in s for s in sql_late)
    assert late <= 1.25 * early + 20, (early, late)
    assert len(st) == 1501


_WRITER = textwrap.dedent("""
    import sys, pandas as pd
    from shiftbench.store import Store
    st = Store(sys.argv[1], timeout=120)
    lo, hi, step, who = map(int, sys.argv[2:6])
    got = 0
    for k in range(lo, hi, step):
        tr = pd.DataFrame({"it": [0, k]}) if k % 3 == 0 else None
        got += st.record(f"{k:08d}", {"seed": k, "writer": who, "value": k * 0.5}, trace=tr)
    print(got)
""")


def test_three_processes_end_with_the_union(tmp_path):
    db = str(tmp_path / "shared.db")
    shards = [(0, 120, 1, 0), (80, 200, 1, 1), (0, 200, 2, 2)]   # disjoint and overlapping
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, db] + [str(v) for v in s],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=_env()) for s in shards]
    outs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    union = set()
    for lo, hi, step, _ in shards:
        union |= {f"{k:08d}" for k in range(lo, hi, step)}
    st = Store(db)
    df = st.frame()
    assert len(df) == len(union) and set(df["key"]) == union and df["key"].is_unique
    assert sum(int(o[0]) for o in outs) == len(union)             # each key recorded once
    for _, r in df.iterrows():
        assert r["seed"] == int(r["key"]) and r["value"] == 0.5 * int(r["key"])
        if int(r["key"]) % 3 == 0:                               # its trace is there
            assert (tmp_path / r["trace"]).is_file()
    assert not [f for f in os.listdir(tmp_path / "shared.db.traces") if ".tmp-" in f]
    assert st._c().execute("PRAGMA integrity_check").fetchone()[0] == "ok"


_LOOPER = textwrap.dedent("""
    import sys
    from shiftbench.store import Store
    st = Store(sys.argv[1])
    k = 0
    while True:
        st.record(f"run-{k}", {"seed": k, "x": "y" * 200})
        print(k, flush=True)
        k += 1
""")


def test_sigkill_keeps_every_committed_row(tmp_path):
    db = str(tmp_path / "k.db")
    p = subprocess.Popen([sys.executable, "-c", _LOOPER, db], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=_env())
    committed = []
    try:
        for line in p.stdout:
            committed.append(int(line))
            if len(committed) >= 300:
                break
    finally:
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
    assert len(committed) >= 300, p.stderr.read()[-2000:]
    st = Store(db)
    keys = st.done_keys()
    assert {f"run-{k}" for k in committed} <= keys               # nothing committed is lost
    n = len(keys)
    assert keys == {f"run-{k}" for k in range(n)}                # and nothing half-written
    assert st._c().execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert st.record(f"run-{n}", {"seed": n})                    # and it goes on


def test_store_survives_fork(tmp_path):
    import multiprocessing as mp
    st = Store(tmp_path / "f.db")
    st.record("parent", {"seed": 0})
    ctx = mp.get_context("fork")
    p = ctx.Process(target=lambda: st.record("child", {"seed": 1}))
    p.start()
    p.join(60)
    assert p.exitcode == 0 and st.done_keys() == {"parent", "child"}


def test_export_cli(tmp_path, capsys):
    db = tmp_path / "e.db"
    st = Store(db)
    st.record("83838838e1459452", {"seed": 1, "rel_error": 0.5})
    st.record("4065", {"seed": 2, "method": "dcgd"})
    assert main(["export", str(db)]) == 0
    out = capsys.readouterr().out
    df = pd.read_csv(__import__("io").StringIO(out), dtype={"key": str})
    assert df["key"].tolist() == ["83838838e1459452", "4065"] and df["seed"].tolist() == [1, 2]
    out_csv = tmp_path / "e.csv"
    assert main(["export", str(db), "--out", str(out_csv)]) == 0
    assert out_csv.read_text() == out
    assert main(["export", str(db), "--out", str(out_csv)]) == 2  # no silent overwrite
    assert "refusing to overwrite" in capsys.readouterr().err
    assert main(["export", str(db), "--out", str(out_csv), "--force"]) == 0
    capsys.readouterr()
    try:
        import pyarrow  # noqa: F401
        assert main(["export", str(db), "--format", "parquet", "--out",
                     str(tmp_path / "e.parquet")]) == 0
        assert pd.read_parquet(tmp_path / "e.parquet")["key"].tolist() == ["83838838e1459452",
                                                                           "4065"]
    except ImportError:
        assert main(["export", str(db), "--format", "parquet", "--out", "x.pq"]) == 2
        err = capsys.readouterr().err
        assert "pyarrow" in err and err.count("\n") == 1
    for args, msg in ([str(tmp_path / "none.db")], "no such store"), \
            ([str(out_csv)], "is a CSV or text file"), ([str(tmp_path)], "is a directory"):
        assert main(["export"] + args) == 2
        err = capsys.readouterr().err
        assert msg in err and err.count("\n") == 1
    if os.path.exists("/dev/full"):
        assert main(["export", str(db), "--out", "/dev/full"]) == 2
        assert "character device" in capsys.readouterr().err


def test_dispatcher_routes_results(tmp_path, capsys):
    from shiftbench.__main__ import main as dispatch
    db = tmp_path / "d.db"
    Store(db).record("a", {"seed": 1})
    assert dispatch(["results", "export", str(db)]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("key,seed")
