"""numba's on-disk cache, keyed on the source of the whole package.

numba checks a cached function against its own file only: after a change to
a kernel that another module inlines (``kernels/sampling.py`` into
``builtins.py``, say), the caller's cache still holds the old code.  So
unless the user chose a folder (``NUMBA_CACHE_DIR``) or imported numba
first, shiftbench points numba at ``<cache>/shiftbench/numba/<key>``, where
``<key>`` hashes every ``.py`` file of the package: an edit or an upgrade
starts a fresh cache, and unchanged code keeps its cache.  The folders of
older keys are pruned (the newest :data:`KEEP` stay).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import sys

KEEP = 4


def source_key(root):
    """A hash of every ``.py`` file under ``root`` (relative paths and contents)."""
    h = hashlib.sha1()
    for dp, dn, fn in os.walk(root):
        dn[:] = sorted(d for d in dn if d != "__pycache__")
        for f in sorted(fn):
            if f.endswith(".py"):
                p = os.path.join(dp, f)
                h.update(os.path.relpath(p, root).encode())
                with open(p, "rb") as fh:
                    h.update(fh.read())
    return h.hexdigest()[:16]


def base_dir():
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(xdg, "shiftbench", "numba")


def configure():
    """Set ``NUMBA_CACHE_DIR`` (see the module docstring); returns the folder
    chosen, or None where the user's setting stands or nothing is writable."""
    if os.environ.get("NUMBA_CACHE_DIR") or "numba" in sys.modules:
        return None
    try:
        base = base_dir()
        path = os.path.join(base, source_key(os.path.dirname(os.path.abspath(__file__))))
        os.makedirs(path, exist_ok=True)
        if not os.access(path, os.W_OK):
            return None
        _prune(base, path)
    except OSError:
        return None
    os.environ["NUMBA_CACHE_DIR"] = path
    return path


def _prune(base, keep):
    try:
        dirs = [os.path.join(base, d) for d in os.listdir(base)]
        dirs = sorted((d for d in dirs if os.path.isdir(d) and d != keep),
                      key=os.path.getmtime, reverse=True)
        for d in dirs[KEEP - 1:]:
            shutil.rmtree(d, ignore_errors=True)
    except OSError:
        pass
