"""Safe result files.

* **Atomic**: a file is written to a temporary file in the same folder, then
  ``os.replace``-d into place -- a reader never sees a half-written file.
  The temporary file is removed on every exit path (an exception, Ctrl-C).
* **Through symlinks**: a path that is a symlink is written at its target
  (the link stays a link).
* **Regular files only**: a directory, FIFO, socket or device node (e.g.
  ``/dev/full``) is refused with a one-line ``ValueError``; the exceptions
  are ``-``, ``/dev/stdout`` and ``/dev/stderr`` (and ``/dev/fd/1``,
  ``/dev/fd/2``), which are written directly to the stream, never replaced.
* **Checked first**: :func:`check_writable` finds an unwritable path before
  a long computation, not after it.
* **No silent overwrite where the caller asks**: ``overwrite=False`` refuses
  an existing file (atomically: the new file is hard-linked into place, so two
  writers cannot both win).  The writers :func:`atomic_write_text`,
  :func:`write_trace` and :func:`write_table` keep their historical default
  ``overwrite=True``; callers that write a user's path should check with
  :func:`check_writable` (default ``overwrite=False``) first.

Every failure is a one-line ``ValueError`` naming the path.
"""
from __future__ import annotations

import json
import os
import stat
import sys
import tempfile

import pandas as pd

STREAMS = {"-": "stdout", "/dev/stdout": "stdout", "/dev/stderr": "stderr",
           "/dev/fd/1": "stdout", "/dev/fd/2": "stderr"}


def stream_for(path):
    """``sys.stdout``/``sys.stderr`` for the stream names of :data:`STREAMS`, else None."""
    name = STREAMS.get(os.fspath(path)) if isinstance(path, (str, os.PathLike)) else None
    return getattr(sys, name) if name else None


def _kind(mode):
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _err(e):
    return e.strerror or str(e)


def resolve_target(path):
    """The file a write to ``path`` lands in (symlinks followed, also dangling ones).

    Raises a one-line ``ValueError`` when ``path`` is empty or is (or links to)
    a directory, FIFO, socket or device node.
    """
    try:
        p = os.fspath(path)
    except TypeError:
        raise ValueError(f"output path {path!r}: expected a file path (str)") from None
    if isinstance(p, bytes):
        p = os.fsdecode(p)
    if not p or not p.strip():
        raise ValueError("output path is empty; expected a file path")
    if "\0" in p:
        raise ValueError(f"output path {p!r}: contains a NUL character")
    real = os.path.realpath(os.path.expanduser(p))
    try:
        st = os.stat(real)
    except FileNotFoundError:
        return real
    except OSError as e:
        raise ValueError(f"{p}: cannot use as an output file ({_err(e)})") from None
    if not stat.S_ISREG(st.st_mode):
        shown = p if real == os.path.abspath(p) else f"{p} (-> {real})"
        extra = "; expected a file path" if stat.S_ISDIR(st.st_mode) else (
            "; refusing to write output there (allowed: regular files, "
            "/dev/stdout, /dev/stderr)")
        raise ValueError(f"{shown}: is {_kind(st.st_mode)}{extra}")
    return real


def check_writable(path, overwrite=False):
    """Check, before any computation, that ``path`` can be written.

    Parameters
    ----------
    path : str or PathLike
        Output file (``-``, ``/dev/stdout`` and ``/dev/stderr`` always pass).
    overwrite : bool
        False (default): an existing file is an error (the caller offers a
        flag such as ``--force``).  True: an existing file may be replaced
        if it is writable.

    Returns
    -------
    str
        The file that will be written (the symlink's target for a symlink).

    Raises
    ------
    ValueError
        One line: a directory, FIFO, socket or device; an existing file
        with ``overwrite=False`` or without write permission; a folder in
        which no file can be created (permissions, read-only file system,
        a path component that is a file).
    """
    if stream_for(path) is not None:
        return os.fspath(path)
    target = resolve_target(path)
    shown = os.fspath(path)
    if os.path.lexists(target):
        if not overwrite:
            raise ValueError(f"{shown}: file exists; refusing to overwrite it")
        if not os.access(target, os.W_OK):
            raise ValueError(f"{shown}: file exists and is not writable (permission denied)")
    check_can_create(nearest_folder(os.path.dirname(target), shown), shown)
    return target


def nearest_folder(path, shown):
    """The nearest existing folder at or above ``path`` (where missing folders
    would be created); a one-line ``ValueError`` if a file is in the way."""
    probe = path
    while not os.path.isdir(probe):
        if os.path.lexists(probe):
            raise ValueError(f"{shown}: {probe} is a file, not a folder")
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    return probe


def check_can_create(folder, shown):
    """A one-line ``ValueError`` unless a file can be created in ``folder``
    (a probe file is made and removed at once)."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=".shiftbench-probe-", dir=folder)
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        raise ValueError(f"{shown}: cannot write in {folder} ({_err(e)})") from None


def atomic_write_text(path, text, overwrite=True):
    """Write ``text`` to ``path`` atomically (module docstring).

    ``overwrite=False`` refuses an existing file, atomically.  Folders are
    created as needed.  Returns the file written (or the stream's name).
    """
    s = stream_for(path)
    if s is not None:
        s.write(text)
        s.flush()
        return os.fspath(path)
    shown = os.fspath(path)
    target = resolve_target(path)
    if not overwrite and os.path.lexists(target):
        raise ValueError(f"{shown}: file exists; refusing to overwrite it")
    folder = os.path.dirname(target)
    tmp = None
    try:
        os.makedirs(folder, exist_ok=True)
        try:
            old = os.stat(target)
        except FileNotFoundError:
            old = None
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.tmp-", dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if old is not None:
            os.chmod(tmp, stat.S_IMODE(old.st_mode))     # keep the file's mode ...
            try:
                os.chown(tmp, old.st_uid, old.st_gid)     # ... and owner where allowed
            except OSError:
                pass
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)   # mkstemp creates 0600; use the usual mode
        if overwrite:
            os.replace(tmp, target)
        else:
            try:
                os.link(tmp, target)        # fails if the target appeared meanwhile
            except FileExistsError:
                raise ValueError(f"{shown}: file exists; refusing to overwrite it") from None
            except OSError:                 # no hard links here: check, then rename
                if os.path.lexists(target):
                    raise ValueError(f"{shown}: file exists; refusing to overwrite it") \
                        from None
                os.replace(tmp, target)
                tmp = None
    except OSError as e:
        raise ValueError(f"{shown}: cannot write ({_err(e)})") from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    return target


def _jsonable(v):
    try:
        json.dumps(v)
        return v
    except TypeError:
        return str(v)


def trace_text(df: pd.DataFrame):
    """The text :func:`write_trace` writes: ``# key: json`` header lines, then CSV."""
    head = "".join(f"# {k}: {json.dumps(_jsonable(v))}\n" for k, v in df.attrs.items())
    return head + df.to_csv(index=False)


def write_trace(df: pd.DataFrame, path, overwrite=True):
    """CSV with the run's parameters and provenance as '# key: json' header lines.

    Read back with :func:`read_trace` (or ``pd.read_csv(path, comment='#')``).
    """
    return atomic_write_text(path, trace_text(df), overwrite=overwrite)


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


def write_table(df: pd.DataFrame, path, overwrite=True):
    """``df`` as CSV (no index), written atomically."""
    return atomic_write_text(path, df.to_csv(index=False), overwrite=overwrite)
