"""Reading LIBSVM / svmlight files into dense, validated arrays.

:func:`load_libsvm` parses a file with
:func:`sklearn.datasets.load_svmlight_file` (the optional ``data`` extra),
densifies it and checks it: a malformed or empty file, non-finite values or a
label set that is not binary give a one-line :class:`ValueError` naming the
file and what is allowed.

Feature indices are **1-based**, as the LIBSVM format says: a ``0:`` index
is an error naming the file and the line (never a silent switch of the whole
file to 0-based, which would shift every column).  Files written 0-based are
read with ``zero_based=True`` (problem spec option ``zero_based=1``).  The
dense matrix (N x d float64) is estimated against the memory available
(:mod:`.memory`) before it is allocated.  Binary labels are mapped to {-1, +1} whatever the
file uses (a9a: -1/+1, mushrooms: 1/2, phishing: 0/1): the smaller label
becomes -1 and the larger +1.

Parsed files are cached as compressed ``.npz`` files (the CSR arrays, not the
dense matrix) under ``$SHIFTBENCH_CACHE`` or ``$XDG_CACHE_HOME/shiftbench`` or
``~/.cache/shiftbench``, keyed on the absolute path, size and modification
time of the source file; a cache that cannot be written is silently skipped.

Data sets may be named by path or, for convenience, by a bare name such as
``a9a``, which is looked up (with the extensions ``""``, ``.txt``,
``.libsvm``, ``.svm``) in ``$SHIFTBENCH_DATA`` and then in the
``shared/data/libsvm`` folder beside a source checkout.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

_EXTS = ("", ".txt", ".libsvm", ".svm")
_CACHE_VERSION = 2

# Known shapes of the LIBSVM binary data sets shipped beside this project
# (used by the tests, and handy for users).
KNOWN_SHAPES = {"a9a": (32561, 123), "mushrooms": (8124, 112), "phishing": (11055, 68)}


def _need_sklearn():
    try:
        from sklearn.datasets import load_svmlight_file  # noqa: F401
    except ImportError:
        raise ImportError('reading LIBSVM files needs scikit-learn: '
                          'pip install "shiftbench[data]"') from None
    return load_svmlight_file


@dataclass
class Dataset:
    """A dense binary-classification data set.

    Attributes
    ----------
    X : ndarray (N, d)
        C-contiguous float64 features.
    y : ndarray (N,)
        Labels in {-1.0, +1.0}.
    path : str
        Absolute path of the source file.
    name : str
        File stem, e.g. ``"a9a"``.
    label_map : dict
        Original label -> mapped label (-1 or +1).
    """
    X: np.ndarray
    y: np.ndarray
    path: str
    name: str
    label_map: dict = field(default_factory=dict)

    @property
    def shape(self):
        return self.X.shape


class DataFileNotFoundError(FileNotFoundError, ValueError):
    """A data file that does not exist: a ``FileNotFoundError`` that is also a
    ``ValueError``, so that every bad problem spec is a ``ValueError``."""


def data_dirs():
    """Folders searched for a data set given by a bare name, in order."""
    dirs = []
    env = os.environ.get("SHIFTBENCH_DATA")
    if env:
        dirs.extend(Path(p).expanduser() for p in env.split(os.pathsep) if p)
    # source checkout: <repo>/../shared/data/libsvm
    dirs.append(Path(__file__).resolve().parents[3] / "shared" / "data" / "libsvm")
    return dirs


def resolve_path(path) -> Path:
    """Resolve ``path`` (a file path, ``~`` allowed, or a bare data set name).

    Raises
    ------
    FileNotFoundError
        One line naming the path and the folders searched (a
        :class:`DataFileNotFoundError`, also a ``ValueError``).
    """
    p = Path(os.path.expandvars(str(path))).expanduser()
    if p.is_file():
        return p.resolve()
    if p.exists():
        raise ValueError(f"{path}: not a regular file; expected a LIBSVM/svmlight file")
    s = str(path)
    if "/" not in s and os.sep not in s:
        for d in data_dirs():
            for ext in _EXTS:
                q = d / (s + ext)
                if q.is_file():
                    return q.resolve()
    where = ", ".join(str(d) for d in data_dirs())
    raise DataFileNotFoundError(f"{path}: no such LIBSVM file (bare names are also "
                            f"looked up in: {where}; set SHIFTBENCH_DATA to add folders)")


def cache_dir() -> Path:
    env = os.environ.get("SHIFTBENCH_CACHE")
    if env:
        return Path(env).expanduser() / "libsvm"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "shiftbench" / "libsvm"


def _cache_file(p: Path, n_features, zero_based=False) -> Path:
    st = p.stat()
    key = (f"{p}|{st.st_size}|{st.st_mtime_ns}|{n_features}|zb{int(bool(zero_based))}"
           f"|v{_CACHE_VERSION}")
    h = hashlib.sha1(key.encode()).hexdigest()[:16]
    return cache_dir() / f"{p.stem}-{h}.npz"


def _read_cache(cf: Path):
    try:
        with np.load(cf, allow_pickle=False) as z:
            return (z["data"], z["indices"], z["indptr"], tuple(z["shape"]), z["y"])
    except Exception:
        return None


def _write_cache(cf: Path, data, indices, indptr, shape, y):
    try:
        cf.parent.mkdir(parents=True, exist_ok=True)
        tmp = cf.with_name(cf.name + f".{os.getpid()}.tmp.npz")
        np.savez_compressed(tmp, data=data, indices=indices, indptr=indptr,
                            shape=np.asarray(shape, np.int64), y=y)
        os.replace(tmp, cf)
    except OSError:
        pass


def _first_zero_index(p: Path):
    """1-based number of the first line with a feature index 0, or None."""
    with open(p, "rb") as fh:
        for no, raw in enumerate(fh, 1):
            line = raw.split(b"#", 1)[0].split()
            for tok in line[1:]:
                idx, sep, _ = tok.partition(b":")
                if sep and idx != b"qid":
                    try:
                        if int(idx) == 0:
                            return no
                    except ValueError:
                        pass
    return None


def _parse(p: Path, n_features, zero_based=False):
    load_svmlight_file = _need_sklearn()
    base = 0 if zero_based else 1
    allowed = f"lines 'label index:value ...' with increasing integer indices >= {base}"
    if p.stat().st_size == 0:
        raise ValueError(f"{p}: empty file; expected a LIBSVM/svmlight file ({allowed})")
    try:
        X, y = load_svmlight_file(str(p), n_features=n_features, dtype=np.float64,
                                  zero_based=bool(zero_based))
    except (ValueError, RuntimeError, OverflowError, IndexError, TypeError) as e:
        msg = " ".join(str(e).split())
        if not zero_based and "index 0" in msg:
            no = _first_zero_index(p)
            at = f" on line {no}" if no else ""
            raise ValueError(f"{p}: feature index 0{at}, but LIBSVM indices are 1-based; "
                             f"for a 0-based file pass zero_based=True "
                             f"(problem spec option zero_based=1)") from None
        raise ValueError(f"{p}: malformed LIBSVM/svmlight file ({msg}); "
                         f"expected {allowed}") from None
    X = X.tocsr()
    return (np.asarray(X.data, np.float64), np.asarray(X.indices, np.int64),
            np.asarray(X.indptr, np.int64), X.shape, np.asarray(y, np.float64))


def load_libsvm(path, n_features=None, cache=True, zero_based=False) -> Dataset:
    """Load a binary LIBSVM/svmlight file as a dense, validated data set.

    Parameters
    ----------
    path : str or Path
        File path (``~`` and ``$VARS`` expanded) or a bare data set name
        (see :func:`resolve_path`).
    n_features : int, optional
        Number of features; default: the largest index in the file.
    cache : bool
        Use (and fill) the ``.npz`` cache of parsed files.
    zero_based : bool
        False (default): indices are 1-based, as the LIBSVM format says, and
        an index 0 is an error naming the line.  True: the file is 0-based
        (index 0 is the first column).

    Returns
    -------
    Dataset
        ``X`` dense (N x d, C-contiguous float64), ``y`` in {-1, +1}.

    Raises
    ------
    ValueError
        One line naming the file: empty file, malformed line, an index 0 in a
        1-based file (with its line number), no rows, NaN/inf values, a label
        set with other than two distinct values, or a dense matrix larger
        than the memory available.
    FileNotFoundError
        If the file cannot be found.
    ImportError
        If scikit-learn (the ``data`` extra) is missing.
    """
    p = resolve_path(path)
    got = None
    cf = None
    if cache:
        try:
            cf = _cache_file(p, n_features, zero_based)
            if cf.is_file():
                got = _read_cache(cf)
        except OSError:
            cf = None
    fresh = got is None
    if fresh:
        got = _parse(p, n_features, zero_based)
    data, indices, indptr, shape, y = got
    N, d = int(shape[0]), int(shape[1])
    if N == 0 or d == 0:
        raise ValueError(f"{p}: no data rows/features found; expected a LIBSVM/svmlight "
                         f"file with at least one line 'label index:value ...'")
    if not (np.all(np.isfinite(data)) and np.all(np.isfinite(y))):
        raise ValueError(f"{p}: contains NaN or infinite values; only finite "
                         f"feature values and labels are allowed")
    labels = np.unique(y)
    if labels.size != 2:
        shown = ", ".join(f"{v:g}" for v in labels[:6]) + (", ..." if labels.size > 6 else "")
        raise ValueError(f"{p}: {labels.size} distinct label(s) ({shown}); allowed: exactly "
                         f"two (binary classification; mapped to -1/+1)")
    if fresh and cf is not None:
        _write_cache(cf, data, indices, indptr, shape, y)
    from .memory import F8, check
    check(F8 * N * d, f"the dense data matrix {N} x {d} (float64)", str(p))
    X = np.zeros((N, d), dtype=np.float64)
    rows = np.repeat(np.arange(N), np.diff(indptr))
    X[rows, indices] = data
    lo, hi = float(labels[0]), float(labels[1])
    yy = np.where(y == hi, 1.0, -1.0)
    return Dataset(X=np.ascontiguousarray(X), y=yy, path=str(p), name=p.stem,
                   label_map={lo: -1.0, hi: 1.0})
