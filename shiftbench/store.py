"""A results store that loses nothing: SQLite (standard library), WAL mode.

>>> from shiftbench.store import Store
>>> st = Store("sweep.db")                                   # doctest: +SKIP
>>> if key not in st.done_keys():                            # doctest: +SKIP
...     st.record(key, {"method": "diana", "seed": 3, "rel_error": 1e-9}, trace=df)
>>> st.frame()                                               # doctest: +SKIP

* **One transaction per finished run.**  :meth:`Store.record` inserts one
  row; a row is never rewritten, so a sweep costs O(1) per run however
  large the store (an index on the key makes the duplicate check a B-tree
  lookup).
* **Safe under several processes.**  Writers serialise on SQLite's write
  lock (``BEGIN IMMEDIATE``); a busy database is waited for
  (``busy_timeout``, 10 minutes by default), never dropped.  Keys are
  unique: a key recorded by another process first makes ``record`` return
  False and write nothing.  WAL mode lets readers run beside the writer.
* **Crash-safe.**  A process killed at any point (SIGKILL included) leaves
  every committed row; the run in flight is simply not there.
* **Columns.**  Every key of a row becomes a column, added on first use
  (``ALTER TABLE`` inside the writer's transaction, so two processes cannot
  race on it).  Column names keep their case; names that differ only in
  case (SQLite compares them case-insensitively) are stored under a
  suffixed SQL name and read back under their own.
* **Values.**  Strings stay strings (a key ``"83838838e1459452"`` or
  ``"4065"`` is never parsed as a number), ints stay ints, floats stay
  floats (inf included; SQLite stores NaN as NULL, so NaN and None both
  read back as missing), bools become 0/1, lists and dicts are stored as
  JSON text (and read back as that text), numpy scalars and arrays as their
  Python values / JSON lists.
* **Traces** (a pandas DataFrame per run, optional) are written atomically
  as ``<store>.traces/<key>.csv`` *before* the row commits, so a row never
  points to a missing trace; the row's ``trace`` column holds that path
  relative to the store's folder.
* **Provenance** (package versions, git commit, machine, Python) is stored
  in the store, once per distinct provenance; each row's ``provenance_id``
  points to it (:meth:`Store.provenances`).  The run's seed is a column of
  the row itself.

``python -m shiftbench results export STORE [--format csv|parquet] [--out FILE]``
prints the store as CSV (one row per finished run, in insertion order), or
writes it to FILE (refusing to overwrite an existing file unless
``--force``); parquet needs pyarrow.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sqlite3
import stat
import subprocess
import sys
import time

__all__ = ["Store", "main", "provenance"]

_MAGIC = b"SQLite format 3\x00"
_KEY_FILE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,199}")
_RESERVED = {"_seq"}
_SCHEMA = 1


def _git_commit():
    """The git commit of the source checkout this package runs from, or None."""
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        out = subprocess.run(["git", "-C", here, "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    commit = out.stdout.strip()
    try:
        dirty = subprocess.run(["git", "-C", here, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        dirty = ""
    return commit + ("+dirty" if dirty else "")


def provenance():
    """Versions, git commit and machine of this process (JSON-ready dict)."""
    vers = {}
    for mod in ("shiftbench", "numpy", "numba", "scipy", "pandas"):
        m = sys.modules.get(mod)
        if m is None:
            try:
                m = __import__(mod)
            except ImportError:
                continue
        vers[mod] = getattr(m, "__version__", None)
    return {"versions": vers, "python": platform.python_version(),
            "git_commit": _git_commit(),
            "machine": {"node": platform.node(), "system": platform.system(),
                        "release": platform.release(), "arch": platform.machine(),
                        "processor": platform.processor() or None,
                        "cpus": os.cpu_count()}}


def _qi(name):
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _value(v, col):
    """A Python value SQLite stores as is (module docstring)."""
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v if -2 ** 63 <= v < 2 ** 63 else str(v)
    if isinstance(v, float):
        return v
    try:
        import numpy as np
        if isinstance(v, np.bool_):
            return int(v)
        if isinstance(v, np.integer):
            return int(v)
        if isinstance(v, np.floating):
            return float(v)
        if isinstance(v, np.ndarray):
            v = v.tolist()
    except ImportError:     # pragma: no cover
        pass
    if isinstance(v, (list, tuple, dict)):
        try:
            return json.dumps(v, default=_json_default, allow_nan=True)
        except (TypeError, ValueError) as e:
            raise ValueError(f"store: column {col!r}: value cannot be stored as JSON ({e})") \
                from None
    if isinstance(v, bytes):
        return v
    raise ValueError(f"store: column {col!r}: cannot store a {type(v).__name__}; allowed: "
                     f"str, int, float, bool, None, list, dict (as JSON), numpy scalars")


def _json_default(o):
    import numpy as np
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")


class Store:
    """An SQLite results store (module docstring).

    Parameters
    ----------
    path : str or PathLike
        The database file; created (with its folder) if missing.
    timeout : float
        Seconds to wait for another process's write lock before giving up
        with a one-line ``ValueError`` (default 600).
    readonly : bool
        Open an existing store for reading only (``frame``, ``done_keys``,
        ``export``); ``record`` is then an error.

    Raises
    ------
    ValueError
        One line: ``path`` is a directory, a device/FIFO, an existing file
        that is not an SQLite database (e.g. an old sweep CSV), a store of
        another schema, or cannot be created/written.
    """

    def __init__(self, path, timeout=600.0, readonly=False):
        try:
            p = os.fspath(path)
        except TypeError:
            raise ValueError(f"store path {path!r}: expected a file path") from None
        if not p or "\0" in p:
            raise ValueError(f"store path {p!r}: expected a file path")
        self.path = os.path.realpath(os.path.expanduser(p))
        self.shown = p
        self.timeout = float(timeout)
        self.readonly = bool(readonly)
        if self.readonly and not os.path.exists(self.path):
            raise ValueError(f"{p}: no such store")
        self._check_file()
        self._conn = None
        self._pid = None
        self._cols = None           # name -> sql column, as last read
        self._prov_id = None        # this process's provenance row, on first record()
        self._open()

    # ------------------------------------------------------------------ setup

    def _check_file(self):
        p, shown = self.path, self.shown
        try:
            st = os.stat(p)
        except FileNotFoundError:
            folder = os.path.dirname(p)
            try:
                os.makedirs(folder, exist_ok=True)
            except OSError as e:
                raise ValueError(f"{shown}: cannot create the store's folder "
                                 f"({e.strerror or e})") from None
            if not os.access(folder, os.W_OK | os.X_OK):
                raise ValueError(f"{shown}: cannot create a store in {folder} "
                                 f"(permission denied)")
            return
        except OSError as e:
            raise ValueError(f"{shown}: cannot open as a store ({e.strerror or e})") from None
        if stat.S_ISDIR(st.st_mode):
            raise ValueError(f"{shown}: is a directory; expected a store file (SQLite), "
                             f"e.g. {os.path.join(shown, 'results.db')}")
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(f"{shown}: is not a regular file; expected a store file (SQLite)")
        if st.st_size == 0:
            return
        try:
            with open(p, "rb") as fh:
                head = fh.read(len(_MAGIC))
        except OSError as e:
            raise ValueError(f"{shown}: cannot read ({e.strerror or e})") from None
        if head != _MAGIC:
            what = "a CSV or text file" if _looks_text(p) else "a binary file"
            raise ValueError(f"{shown}: is {what}, not a results store (SQLite); give a new "
                             f"file name, or export/convert the old file")

    def _connect(self):
        try:
            if self.readonly:
                from urllib.parse import quote
                c = sqlite3.connect(f"file:{quote(self.path)}?mode=ro", uri=True,
                                    timeout=self.timeout, isolation_level=None)
            else:
                c = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        except sqlite3.Error as e:
            raise ValueError(f"{self.shown}: cannot open the store ({e})") from None
        c.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
        return c

    def _open(self):
        c = self._connect()
        self._conn, self._pid = c, os.getpid()
        try:
            if self.readonly:
                self._retry(lambda: self._check_schema(c))
                return
            mode = self._retry(lambda: c.execute("PRAGMA journal_mode=WAL").fetchone()[0])
            if str(mode).lower() != "wal":
                raise ValueError(f"{self.shown}: the store needs WAL journaling, "
                                 f"SQLite gave {mode!r} (a network file system?)")
            c.execute("PRAGMA synchronous=NORMAL")
            self._write(self._init_schema)
        except sqlite3.DatabaseError as e:
            self._conn = None
            c.close()
            raise ValueError(f"{self.shown}: not a usable results store ({e})") from None

    def _retry(self, fn):
        """Run fn, retrying while the database is busy/locked (up to the timeout)."""
        t0 = time.monotonic()
        delay = 0.005
        while True:
            try:
                return fn()
            except sqlite3.OperationalError as e:
                msg = str(e).lower()
                if ("locked" not in msg and "busy" not in msg) or \
                        time.monotonic() - t0 > self.timeout:
                    if "readonly" in msg or "read-only" in msg or "unable to open" in msg:
                        raise ValueError(f"{self.shown}: cannot write the store ({e})") from None
                    raise
                time.sleep(delay)
                delay = min(0.2, delay * 2)

    def _write(self, fn):
        """Run fn(conn) in one write transaction (BEGIN IMMEDIATE ... COMMIT)."""
        c = self._c()

        if self.readonly:
            raise ValueError(f"{self.shown}: the store is open read-only")

        def go():
            c.execute("BEGIN IMMEDIATE")
            try:
                out = fn(c)
                c.execute("COMMIT")
            except BaseException:
                if c.in_transaction:
                    c.execute("ROLLBACK")
                raise
            return out
        try:
            return self._retry(go)
        except sqlite3.OperationalError as e:
            msg = str(e).lower()
            if "readonly" in msg or "read-only" in msg or "unable to open" in msg \
                    or "disk" in msg or "permission" in msg:
                raise ValueError(f"{self.shown}: cannot write the store ({e})") from None
            if "locked" in msg or "busy" in msg:
                raise ValueError(f"{self.shown}: the store stayed locked by another process "
                                 f"for {self.timeout:g} s") from None
            raise

    def _check_schema(self, c):
        have = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "meta" in have:
            row = c.execute("SELECT v FROM meta WHERE k='schema'").fetchone()
            if row is None or json.loads(row[0]) != _SCHEMA:
                raise ValueError(f"{self.shown}: an SQLite file that is not a shiftbench "
                                 f"results store of schema {_SCHEMA}")
            return True
        if have:
            raise ValueError(f"{self.shown}: an SQLite database that is not a shiftbench "
                             f"results store (tables: {', '.join(sorted(have))})")
        if self.readonly:
            raise ValueError(f"{self.shown}: an empty file, not a results store")
        return False

    def _init_schema(self, c):
        if self._check_schema(c):
            return
        c.execute("CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT)")
        c.execute("INSERT INTO meta VALUES ('schema', ?)", (json.dumps(_SCHEMA),))
        c.execute("INSERT INTO meta VALUES ('created', ?)",
                  (json.dumps(time.strftime("%Y-%m-%dT%H:%M:%S%z")),))
        c.execute("CREATE TABLE provenance (id INTEGER PRIMARY KEY, json TEXT UNIQUE)")
        c.execute("CREATE TABLE columns (name TEXT PRIMARY KEY, col TEXT NOT NULL "
                  "UNIQUE COLLATE NOCASE, pos INTEGER NOT NULL)")
        c.execute("CREATE TABLE runs (_seq INTEGER PRIMARY KEY AUTOINCREMENT, "
                  "key TEXT NOT NULL UNIQUE)")
        c.execute("INSERT INTO columns VALUES ('key', 'key', 0)")

    def _prov_json(self):
        if getattr(self, "_pj", None) is None:
            self._pj = json.dumps(provenance(), sort_keys=True)
        return self._pj

    def _provenance_id(self, c):
        """This process's provenance row (inside a write transaction)."""
        if self._prov_id is None:
            pj = self._prov_json()
            c.execute("INSERT OR IGNORE INTO provenance (json) VALUES (?)", (pj,))
            self._prov_id = c.execute("SELECT id FROM provenance WHERE json = ?",
                                      (pj,)).fetchone()[0]
        return self._prov_id

    def _c(self):
        """The connection of this process (a fork gets its own)."""
        if self._conn is None:
            raise ValueError(f"{self.shown}: the store is closed")
        if self._pid != os.getpid():
            self._conn = self._connect()
            self._pid = os.getpid()
            self._cols = None
        return self._conn

    def close(self):
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"Store({self.shown!r})"

    # ------------------------------------------------------------------ columns

    def _columns(self, c):
        return {n: col for n, col in c.execute("SELECT name, col FROM columns ORDER BY pos")}

    def _add_columns(self, c, names):
        """Add the missing columns (inside the write transaction)."""
        cols = self._columns(c)
        missing = [n for n in names if n not in cols]
        if not missing:
            self._cols = cols
            return cols
        taken = {v.lower() for v in cols.values()} | _RESERVED
        pos = len(cols)
        for n in missing:
            col = n
            k = 2
            while col.lower() in taken:
                col = f"{n}#{k}"
                k += 1
            c.execute(f"ALTER TABLE runs ADD COLUMN {_qi(col)}")
            c.execute("INSERT INTO columns VALUES (?, ?, ?)", (n, col, pos))
            cols[n] = col
            taken.add(col.lower())
            pos += 1
        self._cols = cols
        return cols

    # ------------------------------------------------------------------ API

    def trace_path(self, key):
        """Absolute path of the trace file of ``key``."""
        return os.path.join(self.path + ".traces", f"{key}.csv")

    def done_keys(self):
        """Keys of the finished runs (a set of str)."""
        return {r[0] for r in self._c().execute("SELECT key FROM runs")}

    def __contains__(self, key):
        return self._c().execute("SELECT 1 FROM runs WHERE key = ?", (key,)).fetchone() \
            is not None

    def __len__(self):
        return self._c().execute("SELECT COUNT(*) FROM runs").fetchone()[0]

    def record(self, key, row, trace=None):
        """Record one finished run in one transaction; False if ``key`` exists.

        Parameters
        ----------
        key : str
            The run's key (text; with a trace it must be a file-name-safe word
            of letters, digits, ``_``, ``.`` and ``-``).
        row : dict
            Column name -> value (module docstring); ``key``,
            ``provenance_id`` and (with a trace) ``trace`` are set here.
        trace : pandas.DataFrame, optional
            Written atomically to ``<store>.traces/<key>.csv`` before the row
            commits (with its ``attrs`` as ``# key: json`` header lines, see
            :func:`shiftbench.harness.io.read_trace`).

        Returns
        -------
        bool
            True if the run was recorded, False (nothing written) if the key
            was already in the store.
        """
        if not isinstance(key, str) or not key:
            raise ValueError(f"store: key must be a non-empty str, got {key!r}")
        if not isinstance(row, dict):
            raise ValueError(f"store: row must be a dict, got {type(row).__name__}")
        vals = {}
        for k, v in row.items():
            if not isinstance(k, str) or not k:
                raise ValueError(f"store: column names must be non-empty str, got {k!r}")
            if k in ("key", "provenance_id") or k in _RESERVED:
                continue
            vals[k] = _value(v, k)
        tmp = None
        if trace is not None:
            if not _KEY_FILE.fullmatch(key):
                raise ValueError(f"store: key {key!r} cannot name a trace file; allowed: "
                                 f"letters, digits, '_', '.', '-' (not first), <= 200 chars")
            tmp = self._stage_trace(key, trace)
            vals["trace"] = os.path.relpath(self.trace_path(key), os.path.dirname(self.path))
        vals["provenance_id"] = None
        names = ["key"] + list(vals)
        self._prov_json()           # computed outside the write lock

        def tx(c):
            if c.execute("SELECT 1 FROM runs WHERE key = ?", (key,)).fetchone():
                return False
            vals["provenance_id"] = self._provenance_id(c)
            cols = self._cols
            if cols is None or any(n not in cols for n in names):
                cols = self._add_columns(c, names)
            if tmp is not None and os.path.exists(tmp):
                os.replace(tmp, self.trace_path(key))   # the trace lands before the row
            c.execute(f"INSERT INTO runs ({', '.join(_qi(cols[n]) for n in names)}) "
                      f"VALUES ({', '.join('?' * len(names))})", [key] + list(vals.values()))
            return True
        try:
            return self._write(tx)
        except sqlite3.OperationalError as e:
            if "no such column" in str(e) or "has no column" in str(e):
                self._cols = None                       # another store object added columns
                return self._write(tx)
            raise
        finally:
            if tmp is not None and os.path.exists(tmp):
                os.unlink(tmp)

    def _stage_trace(self, key, trace):
        from .harness.io import trace_text
        import tempfile
        folder = self.path + ".traces"
        try:
            os.makedirs(folder, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{key}.tmp-", dir=folder)
        except OSError as e:
            raise ValueError(f"{self.shown}: cannot write traces in {folder} "
                             f"({e.strerror or e})") from None
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                fh.write(trace_text(trace))
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o644)
        except BaseException as e:
            os.unlink(tmp)
            if isinstance(e, OSError):
                raise ValueError(f"{self.shown}: cannot write the trace of {key} "
                                 f"({e.strerror or e})") from None
            raise
        return tmp

    def frame(self):
        """One row per finished run, in insertion order (a pandas DataFrame)."""
        import pandas as pd
        c = self._c()
        c.execute("BEGIN")          # one consistent snapshot of columns and rows
        try:
            cols = self._columns(c)
            have = {r[1] for r in c.execute("PRAGMA table_info(runs)")}
            names = [n for n, col in cols.items() if col in have]
            sel = ", ".join(_qi(cols[n]) for n in names)
            rows = c.execute(f"SELECT {sel} FROM runs ORDER BY _seq").fetchall()
        finally:
            c.execute("COMMIT")
        df = pd.DataFrame.from_records(rows, columns=names, coerce_float=False)
        if "key" in df:
            df["key"] = df["key"].astype(object)
        return df

    def read_trace(self, key):
        """The trace of ``key`` (a DataFrame), or None if it has none."""
        from .harness.io import read_trace
        p = self.trace_path(key)
        return read_trace(p) if os.path.exists(p) else None

    @property
    def provenance(self):
        """The provenance of this process (versions, git commit, machine), stored
        in the store once (read-only: the store's first provenance, or {})."""
        if self.readonly:
            ps = self.provenances()
            return ps[min(ps)] if ps else {}
        self._prov_json()
        pid = self._write(self._provenance_id)
        row = self._c().execute("SELECT json FROM provenance WHERE id = ?", (pid,)).fetchone()
        return json.loads(row[0])

    def provenances(self):
        """Every provenance in the store: ``{provenance_id: dict}``."""
        return {i: json.loads(j) for i, j in
                self._c().execute("SELECT id, json FROM provenance ORDER BY id")}

    @property
    def meta(self):
        """Store metadata: schema version and creation time."""
        return {k: json.loads(v) for k, v in self._c().execute("SELECT k, v FROM meta")}

    def export(self, out=None, fmt="csv", overwrite=False):
        """Write the store as CSV (default: to stdout) or parquet.

        ``out``: a file (written atomically, through symlinks; an existing
        file is refused unless ``overwrite``), ``-``/``/dev/stdout`` or None
        (stdout).  ``fmt="parquet"`` needs pyarrow and a file ``out``.
        Returns the number of rows.
        """
        from .harness import io
        fmt = str(fmt).lower()
        if fmt not in ("csv", "parquet"):
            raise ValueError(f"export format {fmt!r}; allowed: csv, parquet")
        if fmt == "parquet":
            try:
                import pyarrow  # noqa: F401
            except ImportError:
                raise ValueError("parquet export needs pyarrow: pip install pyarrow") from None
            if out is None or io.stream_for(out) is not None:
                raise ValueError("parquet export needs --out FILE (binary, not for a terminal)")
        if out is not None:
            io.check_writable(out, overwrite=overwrite)
        df = self.frame()
        if fmt == "csv":
            text = df.to_csv(index=False)
            if out is None:
                sys.stdout.write(text)
                sys.stdout.flush()
            else:
                io.atomic_write_text(out, text, overwrite=overwrite)
            return len(df)
        import tempfile
        target = io.resolve_target(out)
        folder = os.path.dirname(target)
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.tmp-", dir=folder)
        os.close(fd)
        try:
            df.to_parquet(tmp, index=False)
            if overwrite:
                os.replace(tmp, target)
            else:
                try:
                    os.link(tmp, target)
                except FileExistsError:
                    raise ValueError(f"{out}: file exists; refusing to overwrite it") from None
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return len(df)


def _looks_text(p):
    try:
        with open(p, "rb") as fh:
            b = fh.read(4096)
    except OSError:
        return False
    return b"\0" not in b


def main(argv=None):
    """``python -m shiftbench results export STORE [--format csv|parquet] [--out FILE]``."""
    ap = argparse.ArgumentParser(
        prog="python -m shiftbench results",
        description="Read a results store (an SQLite file written by 'sweep').")
    sub = ap.add_subparsers(dest="cmd")
    ex = sub.add_parser("export", help="one row per finished run, as CSV (stdout) or parquet",
                        description="Export a results store: one row per finished run, in "
                                    "the order they finished.")
    ex.add_argument("store", help="the store file")
    ex.add_argument("--format", default="csv", choices=("csv", "parquet"),
                    help="output format (default csv; parquet needs pyarrow)")
    ex.add_argument("--out", default=None, help="output file (default: CSV to stdout)")
    ex.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    info = sub.add_parser("info", help="rows, columns and provenance of a store")
    info.add_argument("store", help="the store file")
    try:
        a = ap.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    if a.cmd is None:
        ap.print_usage(sys.stderr)
        print("python -m shiftbench results: error: give a command: export, info",
              file=sys.stderr)
        return 2
    try:
        st = Store(a.store, readonly=True)
        if a.cmd == "export":
            n = st.export(a.out, a.format, overwrite=a.force)
            if a.out is not None and a.out not in ("-", "/dev/stdout"):
                print(f"{n} rows -> {a.out}", file=sys.stderr)
        else:
            df = st.frame()
            print(json.dumps({"store": a.store, "rows": len(df), "columns": list(df.columns),
                              "meta": st.meta, "provenances": st.provenances()}, indent=1))
        st.close()
    except ValueError as e:
        hint = "; pass --force to replace it" if "refusing to overwrite" in str(e) else ""
        print(f"python -m shiftbench results: error: {e}{hint}", file=sys.stderr)
        return 2
    return 0
