"""Atomic result files: write to a temporary file in the same folder, then
``os.replace`` -- a reader never sees a half-written file, and an interrupted
sweep loses at most the run in flight."""
from __future__ import annotations

import json
import os
import tempfile

import pandas as pd


def atomic_write_text(path, text):
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)       # mkstemp creates 0600; use the usual mode
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _jsonable(v):
    try:
        json.dumps(v)
        return v
    except TypeError:
        return str(v)


def write_trace(df: pd.DataFrame, path):
    """CSV with the run's parameters and provenance as '# key: json' header lines.

    Read back with :func:`read_trace` (or ``pd.read_csv(path, comment='#')``).
    """
    head = "".join(f"# {k}: {json.dumps(_jsonable(v))}\n" for k, v in df.attrs.items())
    atomic_write_text(path, head + df.to_csv(index=False))


def read_trace(path) -> pd.DataFrame:
    attrs = {}
    with open(path) as fh:
        for line in fh:
            if not line.startswith("# "):
                break
            k, _, v = line[2:].partition(": ")
            attrs[k] = json.loads(v)
    df = pd.read_csv(path, comment="#")
    df.attrs.update(attrs)
    return df


def write_table(df: pd.DataFrame, path):
    atomic_write_text(path, df.to_csv(index=False))
