"""numba's cache folder is keyed on the package's source (shiftbench._cache)."""
import os
import subprocess
import sys

from shiftbench import _cache


def test_source_key_changes_with_any_file(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "a.py").write_text("x = 1\n")
    (pkg / "sub" / "b.py").write_text("y = 2\n")
    (pkg / "notes.txt").write_text("ignored\n")
    k0 = _cache.source_key(str(pkg))
    assert _cache.source_key(str(pkg)) == k0
    (pkg / "notes.txt").write_text("still ignored\n")
    assert _cache.source_key(str(pkg)) == k0
    (pkg / "sub" / "b.py").write_text("y = 3\n")      # an inlined kernel elsewhere changed
    assert _cache.source_key(str(pkg)) != k0


def test_import_sets_the_cache_folder_unless_the_user_did(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["XDG_CACHE_HOME"] = str(tmp_path)
    code = "import os, shiftbench; print(os.environ.get('NUMBA_CACHE_DIR'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True).stdout.strip()
    assert out.startswith(os.path.join(str(tmp_path), "shiftbench", "numba"))
    assert os.path.isdir(out)
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "mine")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True).stdout.strip()
    assert out == str(tmp_path / "mine")


def test_old_keys_are_pruned(tmp_path):
    base = tmp_path / "numba"
    for i in range(7):
        d = base / f"k{i}"
        d.mkdir(parents=True)
        os.utime(d, (1000 + i, 1000 + i))
    keep = base / "k0"
    _cache._prune(str(base), str(keep))
    left = sorted(p.name for p in base.iterdir())
    assert left == ["k0", "k4", "k5", "k6"]        # the current one and the newest others
