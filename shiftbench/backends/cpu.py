"""The CPU backend: the numba loops of :mod:`shiftbench.methods.engine`
(Algorithm 1) and :mod:`shiftbench.methods.tpc` (CGD / EF / 3PC / MARINA).

A compiled loop runs in a helper thread with the GIL released (``nogil``);
the main thread waits, so Ctrl-C reaches Python at once: it sets the loop's
interrupt flag, the loop stops at the end of the current iteration with
status ``interrupted`` and its partial trace, and :class:`RunInterrupted`
(a ``KeyboardInterrupt``) carries the result up.
"""
from __future__ import annotations

import threading
import time

import numpy as np

from ..methods.loopdata import NCOL


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during a run; ``.result`` holds the partial result."""

    def __init__(self, result=None):
        super().__init__("interrupted")
        self.result = result


def call_interruptibly(fn, args, flag, tick=None):
    """``fn(*args)`` in a thread; Ctrl-C sets ``flag[0] = 1`` and waits for
    the loop to stop; ``tick()`` (if given) is called about every 50 ms while
    it runs.  Returns ``(result, interrupted)``."""
    box = {}
    done = threading.Event()

    def target():
        try:
            box["r"] = fn(*args)
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller
            box["e"] = e
        finally:
            done.set()

    # (an Event, not Thread.join: a KeyboardInterrupt inside join() can leave
    # the thread marked as finished while it still runs)
    t = threading.Thread(target=target, name="shiftbench-loop", daemon=True)
    interrupted = False
    try:
        t.start()
    except KeyboardInterrupt:
        flag[0] = 1
        interrupted = True
    while True:
        try:
            if done.wait(0.05):
                break
            if tick is not None:
                tick()
        except KeyboardInterrupt:
            flag[0] = 1
            interrupted = True
    if "e" in box:
        raise box["e"]
    return box["r"], interrupted


def _ticker(progress, traces):
    """A tick() that moves ``progress`` to the iterations the runs have
    recorded so far (the loops write trace rows as they go)."""
    if progress is None:
        return None

    def tick():
        col = traces[:, :, 0]
        done = 0
        for r in range(col.shape[0]):
            k = int(np.count_nonzero(col[r] == col[r]))     # rows written (not NaN)
            if k:
                done += int(col[r, k - 1])
        if done > progress.n:
            progress.update(done - progress.n)
    return tick


class CPUBackend:
    name = "cpu"

    def _loop(self, method):
        if method.loop == "shift":
            from ..methods import engine
            return engine
        if method.loop == "tpc":
            from ..methods import tpc
            return tpc
        raise ValueError(f"the cpu backend has no loop {method.loop!r}")

    def run(self, method, build, pd, stop_rule, rows, seeds, single, record_x=False,
            progress=None):
        """Run ``seeds``; returns (list of (status, iters, trace, xrec), wall, interrupted).

        ``progress`` (a :class:`shiftbench.progress.Progress` counting
        iterations) is advanced from the trace rows the loop has written.
        """
        L = self._loop(method)
        q, c = build.programs
        flag = np.zeros(1, np.uint8)
        nreg = int(build.nreg)
        d = pd.x0.size
        from ..wire.loop import is_wire, sim_io
        wire = is_wire(build)
        if wire and not single:
            # the wire loop is a verification mode: seeds one after another
            res, wall, intr = [], 0.0, False
            for s in seeds:
                r, w, intr = self.run(method, build, pd, stop_rule, rows, [s], True, False,
                                      progress)
                res += r
                wall += w
                if intr:
                    break
            return res, wall, intr
        if single:
            seed = np.uint64(seeds[0])
            trace = np.full((rows, NCOL), np.nan)
            t0 = time.perf_counter()
            xrec = np.zeros((rows if record_x else 0, d))
            args = (pd, build.config, q, c, stop_rule, seed, nreg, trace, xrec, flag)
            fn = L.run_one
            if wire:
                fn, args = L.run_loop, args + (sim_io(d),)
            (st, it, nr), intr = call_interruptibly(fn, args, flag,
                                                    _ticker(progress, trace[None]))
            wall = time.perf_counter() - t0
            xr = xrec[:nr].copy() if record_x else None
            return [(int(st), int(it), trace[:nr], xr)], wall, intr
        if record_x:
            raise ValueError("record_x is for single runs (seed=...), not seeds=...")
        S = np.asarray(list(seeds), dtype=np.uint64)
        traces = np.full((S.size, rows, NCOL), np.nan)
        status = np.zeros(S.size, np.int64)
        its = np.zeros(S.size, np.int64)
        nrs = np.zeros(S.size, np.int64)
        t0 = time.perf_counter()
        args = (pd, build.config, q, c, stop_rule, S, nreg, traces, status, its, nrs, flag)
        _, intr = call_interruptibly(L.run_many, args, flag, _ticker(progress, traces))
        wall = time.perf_counter() - t0
        out = [(int(status[r]), int(its[r]), traces[r, :nrs[r]], None) for r in range(S.size)]
        return out, wall, intr
