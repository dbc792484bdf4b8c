"""Progress on long work, and fresh output folders.

:class:`Progress` reports on stderr: a bar redrawn in place when stderr is a
terminal, otherwise one plain line every few seconds (logs and CI stay
readable), and nothing at all with ``SHIFTBENCH_PROGRESS=0``.

>>> from shiftbench.progress import Progress
>>> with Progress(40, "table1") as bar:          # doctest: +SKIP
...     for cfg in grid:
...         run(cfg)
...         bar.update(note=cfg.label())

:func:`fresh_folder` names a new output folder (``./<stem>-<date>-<time>``,
with a suffix if that exists), so that a command's default output never
overwrites earlier or committed results.  :func:`check_out_folder` is the
one policy for a folder the user names with ``--out``, checked before any
work: an existing file is an error, a non-empty folder is refused unless
``--force``, and the folder must be creatable and writable.
"""
from __future__ import annotations

import os
import sys
import time

__all__ = ["Progress", "fresh_folder", "check_out_folder"]


def _fmt_s(s):
    s = max(0.0, float(s))
    if s < 100:
        return f"{s:.0f}s"
    m, s = divmod(int(round(s)), 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m"


class Progress:
    """A progress reporter for ``total`` units of work, on ``stream`` (stderr).

    Parameters
    ----------
    total : int
        Units of work (0 or less: unknown; only the count is shown).
    desc : str
        What is being done (the start of every line).
    stream : file, optional
        Default ``sys.stderr``.
    interval : float
        Seconds between plain lines when ``stream`` is not a terminal
        (default 5).
    tty : bool, optional
        Force the bar (True) or plain lines (False); default: ``stream.isatty()``.
    enabled : bool, optional
        Default: on unless the environment sets ``SHIFTBENCH_PROGRESS=0``.

    ``update(k=1, note="")`` adds ``k`` finished units (``note``: what just
    finished, shown on the bar); ``close()`` ends the report with one final
    line (plain mode: only if a line was printed before, or ``final=True``):
    the real count and ``done`` (``N/N (100%) ... -- done``, or ``N done ...
    (stopped before the planned TOTAL)`` for work that ended early, e.g. a
    run that converged), never a time left.

    The time left is estimated from the rate since the *first* update, so
    the start (numba compiling the kernels, often most of a short run's
    time) does not inflate it; no estimate is shown before a second update.
    Use it as a context manager to close it on errors too.
    """

    WIDTH = 28

    def __init__(self, total, desc="", stream=None, interval=5.0, tty=None, enabled=None):
        self.total = int(total) if total and total > 0 else 0
        self.desc = str(desc)
        self.stream = stream if stream is not None else sys.stderr
        self.interval = float(interval)
        if enabled is None:
            enabled = os.environ.get("SHIFTBENCH_PROGRESS", "1").strip().lower() not in (
                "0", "no", "off", "false")
        self.enabled = bool(enabled)
        if tty is None:
            tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.tty = bool(tty)
        self.n = 0
        self.note = ""
        self.t0 = time.perf_counter()
        self._anchor = None           # (time, count) at the first update: the rate's start
        self._last = self.t0
        self._printed = False
        self._closed = False
        self._width = 0
        if self.enabled and self.tty:
            self._draw()

    # ------------------------------------------------------------------
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _line(self):
        now = time.perf_counter()
        el = now - self.t0
        head = f"{self.desc}: " if self.desc else ""
        if self.total:
            frac = min(self.n / self.total, 1.0)
            return f"{head}{self.n}/{self.total} ({100 * frac:.0f}%) {_fmt_s(el)}" + \
                self._eta(now), frac
        return f"{head}{self.n} done {_fmt_s(el)}", None

    def _eta(self, now):
        """``", ~T left"`` from the rate since the first update (the first unit
        of work pays for compilation, which later units do not), or ``""``
        until a second update gives that rate."""
        if self._anchor is None or not 0 < self.n < self.total:
            return ""
        t1, n1 = self._anchor
        if self.n <= n1 or now <= t1:
            return ""
        rate = (self.n - n1) / (now - t1)
        return f", ~{_fmt_s((self.total - self.n) / rate)} left"

    def _final(self):
        """The closing line: the real count, "done", no time left."""
        el = _fmt_s(time.perf_counter() - self.t0)
        head = f"{self.desc}: " if self.desc else ""
        if not self.total:
            return f"{head}{self.n} done in {el}"
        if self.n >= self.total:
            return f"{head}{self.n}/{self.total} (100%) in {el} -- done"
        return f"{head}{self.n} done in {el} (stopped before the planned {self.total})"

    def _draw(self):
        text, frac = self._line()
        if frac is not None:
            f = int(self.WIDTH * frac)
            text = f"[{'#' * f}{'.' * (self.WIDTH - f)}] " + text
        if self.note:
            text += f"  {self.note[:48]}"
        pad = max(0, self._width - len(text))
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()
        self._width = len(text)
        self._printed = True

    def update(self, k=1, note=""):
        """Add ``k`` finished units; redraw the bar, or print a line if
        ``interval`` seconds passed since the last one."""
        if self._closed:
            return
        self.n += int(k)
        if self._anchor is None and int(k) > 0:
            self._anchor = (time.perf_counter(), self.n)
        if note:
            self.note = str(note)
        if not self.enabled:
            return
        if self.tty:
            self._draw()
            return
        now = time.perf_counter()
        if now - self._last >= self.interval:
            self._last = now
            text, _ = self._line()
            self.stream.write(text + (f"  [{self.note}]" if self.note else "") + "\n")
            self.stream.flush()
            self._printed = True

    def close(self, final=False):
        """End the report (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if not self.enabled:
            return
        if self.tty:
            text = self._final()
            pad = max(0, self._width - len(text))
            self.stream.write("\r" + text + " " * pad + "\n")
            self.stream.flush()
        elif self._printed or final:
            self.stream.write(self._final() + "\n")
            self.stream.flush()


def fresh_folder(stem, parent=".", stamp=None):
    """A path ``<parent>/<stem>-YYYYmmdd-HHMMSS`` that does not exist yet
    (``-2``, ``-3``, ... appended if needed).  The folder is not created."""
    stamp = stamp or time.strftime("%Y%m%d-%H%M%S")
    base = os.path.join(parent, f"{stem}-{stamp}")
    path, i = base, 1
    while os.path.exists(path):
        i += 1
        path = f"{base}-{i}"
    return path


def check_out_folder(path, force=False, flag="--out"):
    """Check an output folder named by the user, before any work.

    Parameters
    ----------
    path : str or PathLike
        The folder (created later by the writer if it does not exist).
    force : bool
        Allow a non-empty folder (files of the same names are replaced, others
        are left as they are).
    flag : str
        The option's name, for the message.

    Returns
    -------
    str
        ``path``.

    Raises
    ------
    ValueError
        One line naming the path, what is wrong and what is allowed: an
        existing file (or other non-folder); a non-empty folder without
        ``force``; a folder that cannot be created or written.
    """
    from .harness.io import check_can_create, nearest_folder
    p = os.fspath(path)
    if not p.strip():
        raise ValueError(f"{flag} is empty; give a folder (new or empty), or leave {flag} "
                         f"out for a fresh one")
    full = os.path.abspath(os.path.expanduser(p))
    if os.path.lexists(full) and not os.path.isdir(full):
        raise ValueError(f"{flag} {p}: is an existing file, not a folder; give a new or "
                         f"empty folder (or leave {flag} out for a fresh one)")
    if os.path.isdir(full):
        try:
            entries = sorted(os.listdir(full))
        except OSError as e:
            raise ValueError(f"{flag} {p}: cannot read the folder ({e.strerror or e})") \
                from None
        if entries and force:
            print(f"note: writing into the non-empty folder {p} ({flag} with --force): files "
                  f"of the same names are replaced, other files are left as they are",
                  file=sys.stderr)
        if entries and not force:
            shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
            raise ValueError(f"{flag} {p}: folder is not empty ({len(entries)} entries: "
                             f"{shown}); refusing to write over earlier results; give a new "
                             f"or empty folder, or add --force to write into it")
        probe = full
    else:
        probe = nearest_folder(os.path.dirname(full), f"{flag} {p}")
    check_can_create(probe, f"{flag} {p}")
    return p
