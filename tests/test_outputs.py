"""One output policy for every command that writes files: ``--out`` is checked
before any work; an existing file given as a folder is a one-line error; a
non-empty folder is refused unless ``--force``; an existing output file of
``plot`` is refused unless ``--force``.  Each test stops the command right
after the check (no grid, no figure is computed)."""
import os

import pandas as pd
import pytest

from shiftbench import table1 as T1
from shiftbench.progress import check_out_folder


class Reached(Exception):
    """The command got past its output checks and started the work."""


def _one_line(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# ---- the helper -------------------------------------------------------------

def test_check_out_folder_policy(tmp_path):
    f = tmp_path / "README.md"
    f.write_text("mine\n")
    with pytest.raises(ValueError, match="existing file, not a folder"):
        check_out_folder(str(f))
    with pytest.raises(ValueError, match="existing file, not a folder"):
        check_out_folder(str(f), force=True)              # --force never turns a file into a folder
    full = tmp_path / "old"
    full.mkdir()
    (full / "claims.csv").write_text("x\n")
    with pytest.raises(ValueError, match=r"not empty \(1 entries: claims.csv\).*--force"):
        check_out_folder(str(full))
    assert check_out_folder(str(full), force=True) == str(full)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert check_out_folder(str(empty)) == str(empty)
    assert check_out_folder(str(tmp_path / "new" / "deeper")) == str(tmp_path / "new" / "deeper")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        check_out_folder(str(f / "sub"))
    assert f.read_text() == "mine\n" and (full / "claims.csv").read_text() == "x\n"


# ---- table1 -------------------------------------------------------------------

@pytest.fixture
def table1_stops(monkeypatch):
    def stop(*a, **k):
        raise Reached
    monkeypatch.setattr(T1, "run_all", stop)


def test_table1_out_existing_file_fails_before_the_grid(tmp_path, table1_stops, capsys):
    f = tmp_path / "README.md"
    f.write_text("mine\n")
    assert T1.main(["--quick", "--out", str(f)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("python -m shiftbench.table1: error: --out ")
    assert "existing file" in line and f.read_text() == "mine\n"


def test_table1_out_non_empty_folder_needs_force(tmp_path, table1_stops, capsys):
    (tmp_path / "notes.txt").write_text("mine\n")
    assert T1.main(["--quick", "--out", str(tmp_path)]) == 2
    assert "--force" in _one_line(capsys.readouterr().err)
    with pytest.raises(Reached):
        T1.main(["--quick", "--out", str(tmp_path), "--force"])
    with pytest.raises(Reached):                          # a new folder needs nothing
        T1.main(["--quick", "--out", str(tmp_path / "fresh")])


# ---- figures ------------------------------------------------------------------

@pytest.fixture
def figures_stop(monkeypatch):
    pytest.importorskip("matplotlib")
    from shiftbench import figures as FG

    def stop(figs, out, **k):
        raise Reached(out)
    monkeypatch.setattr(FG, "run", stop)
    return FG


def test_figures_out_existing_file_is_one_line(tmp_path, figures_stop, capsys):
    f = tmp_path / "README.md"
    f.write_text("mine\n")
    assert figures_stop.main(["--only", "b-top1", "--out", str(f)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "existing file" in line and f.read_text() == "mine\n"


def test_figures_out_non_empty_folder_needs_force(tmp_path, figures_stop, capsys):
    (tmp_path / "claims.csv").write_text("earlier run\n")
    assert figures_stop.main(["--only", "b-top1", "--out", str(tmp_path)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "not empty" in line and "claims.csv" in line and "--force" in line
    with pytest.raises(Reached):
        figures_stop.main(["--only", "b-top1", "--out", str(tmp_path), "--force"])
    assert (tmp_path / "claims.csv").read_text() == "earlier run\n"


def test_figures_names_the_synthetic_fallback(tmp_path, monkeypatch, figures_stop, capsys):
    from shiftbench.problems import libsvm
    monkeypatch.delenv("SHIFTBENCH_DATA", raising=False)
    monkeypatch.setattr(libsvm, "data_dirs", lambda: [tmp_path / "nothing-here"])
    assert figures_stop.main(["--list", "--only", "3pc", "--quick"]) == 0
    cap = capsys.readouterr()
    assert "3pc-synthetic" in cap.out
    line = _one_line(cap.err)
    assert "synthetic" in line and "SHIFTBENCH_DATA" in line and "--data" in line
    # and the variable named there is what the loader reads
    monkeypatch.undo()
    monkeypatch.setenv("SHIFTBENCH_DATA", str(tmp_path))
    (tmp_path / "phishing.txt").write_text("1 1:0.5\n0 2:1\n")
    assert figures_stop.main(["--list", "--only", "3pc", "--quick"]) == 0
    cap = capsys.readouterr()
    assert "3pc-phishing" in cap.out and "synthetic" not in cap.err


# ---- plot -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def trace(tmp_path_factory):
    pytest.importorskip("matplotlib")
    import shiftbench as sb
    from shiftbench.harness.io import write_trace
    d = tmp_path_factory.mktemp("outputs")
    r = sb.run("diana", "quadratic(kappa=10, n=4, d=10)", "rand-k(q=0.3)", iters=200,
               eps=0.0, stride=10)
    write_trace(r.trace, d / "t.csv")
    return d / "t.csv"


def test_plot_refuses_an_existing_file_unless_force(trace, tmp_path, capsys):
    from shiftbench.__main__ import main as cli
    png = tmp_path / "fig.png"
    png.write_bytes(b"my figure")
    assert cli(["plot", str(trace), "--out", str(png)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "--out" in line and "exists" in line and "--force" in line
    assert png.read_bytes() == b"my figure"
    csv = tmp_path / "data.csv"
    csv.write_text("mine\n")
    assert cli(["plot", str(trace), "--out", str(tmp_path / "new.png"), "--csv", str(csv)]) == 2
    assert "--csv" in _one_line(capsys.readouterr().err)
    assert not (tmp_path / "new.png").exists() and csv.read_text() == "mine\n"
    assert cli(["plot", str(trace), "--out", str(png), "--csv", str(csv), "--force"]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert "x" in pd.read_csv(csv, comment="#").columns
    assert os.path.getsize(csv) > 10
