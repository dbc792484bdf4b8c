"""Memory estimates checked before a problem allocates its arrays.

Every builder estimates the bytes of its large arrays (a dense data matrix
N x d, d x d Hessians or Gram matrices, ...) and calls :func:`check` first,
so that ``quadratic(d=1e8)`` or a LIBSVM file with a feature index of
200,000 gives a one-line ``ValueError`` naming the size instead of a
``MemoryError`` (or the machine swapping) minutes later.

The memory available is the smallest of ``MemAvailable`` in
``/proc/meminfo`` (or ``os.sysconf`` free pages where there is no
``/proc``) and the free part of a cgroup v2 or v1 memory limit; the
environment variable ``SHIFTBENCH_MEMORY_LIMIT`` (bytes, e.g. ``4e9``)
lowers it further.
"""
from __future__ import annotations

import os

_CGROUP_FILES = (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                 ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                  "/sys/fs/cgroup/memory/memory.usage_in_bytes"))


def _read_int(path):
    try:
        with open(path) as fh:
            s = fh.read().strip()
    except OSError:
        return None
    try:
        return int(s)
    except ValueError:          # "max": no limit
        return None


def available_bytes():
    """Bytes of memory a new allocation can use now, or None when unknown."""
    cands = []
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    cands.append(int(line.split()[1]) * 1024)
                    break
    except (OSError, ValueError, IndexError):
        pass
    if not cands:
        try:
            cands.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            pass
    for lim_f, cur_f in _CGROUP_FILES:
        lim, cur = _read_int(lim_f), _read_int(cur_f)
        if lim is not None and cur is not None and lim < 1 << 60:
            cands.append(max(lim - cur, 0))
            break
    env = os.environ.get("SHIFTBENCH_MEMORY_LIMIT")
    if env:
        try:
            cands.append(int(float(env)))
        except ValueError:
            raise ValueError(f"SHIFTBENCH_MEMORY_LIMIT={env!r} is not a number of bytes") from None
    return min(cands) if cands else None


def fmt_bytes(n):
    """``1.5 GiB``-style size."""
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.3g} {unit}"
        n /= 1024.0
    return f"{n:.3g} EiB"  # pragma: no cover


def check(nbytes, what, where, hint="use a smaller problem"):
    """Raise a one-line ``ValueError`` if ``nbytes`` exceed the memory available.

    Parameters
    ----------
    nbytes : int or float
        Estimated peak bytes of the allocation(s) about to be made.
    what : str
        What is allocated, e.g. ``"dense data matrix 10 x 200000"``.
    where : str
        The problem or file it is for (starts the message).
    hint : str
        What to do instead (ends the message).
    """
    avail = available_bytes()
    if avail is not None and nbytes > avail:
        raise ValueError(f"{where}: {what} needs {fmt_bytes(nbytes)} of memory, but only "
                         f"{fmt_bytes(avail)} is available; {hint}")


F8 = 8      # bytes per float64


def lapack_threads():
    """A context that runs the dense decompositions of a problem's constants on
    one BLAS thread (a no-op without ``threadpoolctl``).

    On a busy machine OpenBLAS threads waiting on each other inside LAPACK
    (``eigvalsh``, ``qr``) made them up to 100x slower: with 2 threads on 2
    shared cores ``quadratic(d=500)`` took 18.8 s instead of 0.33 s, and
    ``quadratic(d=2000)`` 56 s instead of 13 s; on an idle machine threads
    gain little for these BLAS-2-bound reductions.
    """
    import contextlib
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")
