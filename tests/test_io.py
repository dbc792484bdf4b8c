"""Safe output files (shiftbench.harness.io): symlinks written through,
FIFOs and devices refused, writability checked first, temp files cleaned
up on every exit path, no overwrite where the caller asks."""
import os
import stat
import sys

import pandas as pd
import pytest

from shiftbench.harness import io


def _tmps(folder):
    return [p for p in os.listdir(folder) if ".tmp-" in p or p.startswith(".shiftbench-probe")]


def test_plain_write_and_trace_round_trip(tmp_path):
    df = pd.DataFrame({"it": [0, 1], "err": [1.0, 0.25]})
    df.attrs.update({"method": "diana", "seed": 3})
    p = tmp_path / "sub" / "t.csv"                       # folders are created
    assert io.write_trace(df, p) == str(p)
    back = io.read_trace(p)
    assert back.attrs == {"method": "diana", "seed": 3} and back["err"].tolist() == [1.0, 0.25]
    assert _tmps(p.parent) == []


def test_symlink_is_written_through(tmp_path):
    target = tmp_path / "real.csv"
    target.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    assert io.check_writable(link, overwrite=True) == str(target)
    io.atomic_write_text(link, "new\n")
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text() == "new\n"
    dangling = tmp_path / "dangling.csv"
    dangling.symlink_to(tmp_path / "made-by-write.csv")
    io.atomic_write_text(dangling, "x\n")
    assert dangling.is_symlink() and (tmp_path / "made-by-write.csv").read_text() == "x\n"


def test_fifo_is_refused(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for f in (lambda: io.check_writable(fifo, overwrite=True),
              lambda: io.atomic_write_text(fifo, "x"),
              lambda: io.write_table(pd.DataFrame({"a": [1]}), fifo)):
        with pytest.raises(ValueError, match="is a FIFO") as e:
            f()
        assert "\n" not in str(e.value)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)          # still a FIFO
    link = tmp_path / "to-pipe"
    link.symlink_to(fifo)
    with pytest.raises(ValueError, match="-> .*pipe.*is a FIFO"):
        io.atomic_write_text(link, "x")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_device_is_refused():
    before = os.stat("/dev/full")
    for f in (lambda: io.check_writable("/dev/full", overwrite=True),
              lambda: io.atomic_write_text("/dev/full", "x")):
        with pytest.raises(ValueError, match="/dev/full: is a character device; refusing"):
            f()
    after = os.stat("/dev/full")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev


def test_standard_streams_are_written_directly(capsys):
    assert io.check_writable("/dev/stdout") == "/dev/stdout"
    io.atomic_write_text("/dev/stdout", "to-out\n")
    io.write_table(pd.DataFrame({"a": [1]}), "-")
    io.atomic_write_text("/dev/stderr", "to-err\n")
    got = capsys.readouterr()
    assert got.out == "to-out\na\n1\n" and got.err == "to-err\n"


def test_directory_and_bad_paths(tmp_path):
    with pytest.raises(ValueError, match="is a directory; expected a file path"):
        io.check_writable(tmp_path)
    with pytest.raises(ValueError, match="is a directory"):
        io.atomic_write_text(tmp_path, "x")
    f = tmp_path / "file"
    f.write_text("")
    with pytest.raises(ValueError, match="(?i)not a directory"):
        io.check_writable(f / "below.csv")
    with pytest.raises(ValueError, match="(?i)not a directory"):
        io.check_writable(f / "deeper" / "below.csv")
    with pytest.raises(ValueError, match="output path is empty"):
        io.check_writable("")


def test_unwritable_folder_is_found_before_running(tmp_path):
    if os.geteuid() == 0:                                # root writes anywhere but /proc
        path = "/proc/shiftbench-test/out.csv"
    else:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        path = str(ro / "out.csv")
    with pytest.raises(ValueError, match="cannot write in") as e:
        io.check_writable(path)
    assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="cannot write") as e:
        io.atomic_write_text(path, "x")
    assert "\n" not in str(e.value)


def test_no_overwrite_when_asked(tmp_path):
    f = tmp_path / "keep.csv"
    f.write_text("precious\n")
    with pytest.raises(ValueError, match="file exists; refusing to overwrite"):
        io.check_writable(f)                             # default: no overwrite
    with pytest.raises(ValueError, match="file exists; refusing to overwrite"):
        io.atomic_write_text(f, "new\n", overwrite=False)
    assert f.read_text() == "precious\n" and _tmps(tmp_path) == []
    io.atomic_write_text(tmp_path / "fresh.csv", "a\n", overwrite=False)
    assert (tmp_path / "fresh.csv").read_text() == "a\n"
    io.check_writable(f, overwrite=True)
    if os.geteuid() != 0:
        f.chmod(0o444)
        with pytest.raises(ValueError, match="not writable"):
            io.check_writable(f, overwrite=True)


def test_mode_is_kept_on_replace(tmp_path):
    f = tmp_path / "m.csv"
    f.write_text("x")
    f.chmod(0o640)
    io.atomic_write_text(f, "y")
    assert stat.S_IMODE(os.stat(f).st_mode) == 0o640 and f.read_text() == "y"


@pytest.mark.parametrize("exc", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_temp_file_removed_on_every_exit_path(tmp_path, monkeypatch, exc):
    f = tmp_path / "out.csv"
    f.write_text("old")

    def boom(fd):
        raise exc
    monkeypatch.setattr(io.os, "fsync", boom)
    if isinstance(exc, OSError):
        with pytest.raises(ValueError, match="cannot write .No space left on device.") as e:
            io.atomic_write_text(f, "x" * 100000)
        assert "\n" not in str(e.value)
    else:
        with pytest.raises(KeyboardInterrupt):
            io.atomic_write_text(f, "x" * 100000)
    assert f.read_text() == "old" and _tmps(tmp_path) == []


def test_check_writable_leaves_nothing_behind(tmp_path):
    target = tmp_path / "a" / "b" / "out.csv"
    assert io.check_writable(target) == str(target)
    assert not (tmp_path / "a").exists() and _tmps(tmp_path) == []


def test_streams_table():
    assert io.stream_for("/dev/stdout") is sys.stdout and io.stream_for("x.csv") is None
