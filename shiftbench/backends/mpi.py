"""The MPI backend: workers are processes, messages are bytes.

``mpiexec -n N+1 python -m shiftbench run --backend mpi ...``: rank 0 is the
master, ranks 1..N the workers of a problem with n = N.

* The master builds the run as every backend does (the method model's
  validation, theory and :class:`~shiftbench.methods.model.Build`), then
  sends each worker only its own shard of the data (its rows of A and b)
  and the compressor specs; a worker builds its compressor programs itself.
* Every round the master broadcasts x (fp64, or with ``wire`` the vb-bit
  values the count charges); each worker computes its local gradient and
  sends one frame: its encoded messages (:mod:`shiftbench.wire`, the bytes
  the trace's ``wire_bytes_up`` counts), their sub-message lengths and
  shared-seed states, and, for the trace's columns and the stop rules only,
  f_i(x) and grad f_i(x) (``metrics_bytes``, not part of the method's
  messages).  The master decodes the frames with the same step functions
  the one-process loop runs (:mod:`shiftbench.backends.mpi_steps`).
* Same seed, same trace as the simulator: the bits are the workers' own
  counts; without ``wire`` every value travels in 64 bits ("wide"), so the
  iterates equal the fp64 engine's (to the rounding of the local gradient
  sums); with ``wire`` on both, they are equal.
* Faults: a worker that raises sends its one-line error to the master,
  which stops the run (exit status 1, ``worker rank R failed at iteration
  K: ...``); a worker that stops answering is named after
  ``SHIFTBENCH_MPI_TIMEOUT`` seconds (default 20; the first three rounds,
  which compile, get 600).  A worker killed by a signal makes ``mpiexec`` end
  the whole job at once (its own message names the PID and signal).  In
  every case the trace rows recorded so far are in ``OUT.partial.csv``
  (``run --out OUT``), written as the run goes.

Workers run :func:`serve_worker` (the CLI does this on ranks >= 1).
"""
from __future__ import annotations

import os
import time

import numpy as np

from ..methods.loopdata import NCOL, COLUMNS, MAX_ITER
from ..wire import io as WIO

TAG_SETUP = 11
TAG_INIT = 12
TAG_ROUND = 13
HDR = 48                        # int64 header words of a frame
H_STATUS, H_NSUB, H_NCTL, H_NBYTES, H_BF, H_BV, H_F, H_TGRAD, H_TCODEC, H_TCOMM = range(10)
H_LENS = 16                     # .. + MAXSUB
H_CTL = 24                      # .. + 2 MAXCTL
CTL_GO, CTL_STOP = 0, 1
EXTRA = ("wire_bytes_up", "wire_bytes_down", "metrics_bytes", "master_compute_s",
         "master_codec_s", "master_comm_s", "worker_compute_s", "worker_codec_s",
         "worker_comm_s")


class WorkerFailed(RuntimeError):
    """A worker rank failed or stopped answering (one-line message)."""


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError:
        raise ImportError("the mpi backend needs mpi4py and an MPI library: "
                          "pip install 'shiftbench[mpi]'") from None
    return MPI


def rank():
    return _mpi().COMM_WORLD.Get_rank()


def _hz():
    from .._clock import cycles_per_second
    return cycles_per_second() or 1e9


def _f2i(v):
    return np.array([v], dtype=np.float64).view(np.int64)[0]


def _i2f(v):
    return np.array([v], dtype=np.int64).view(np.float64)[0]


def _capacity(d):
    from ..methods.engine import wire_capacity
    return 3 * int(wire_capacity(d)) + 8 * d + 64


class MPIBackend:
    name = "mpi"
    checkpoint = None            # OUT: rows are appended to OUT.partial.csv as they come

    def __init__(self):
        MPI = _mpi()
        self.comm = MPI.COMM_WORLD
        if self.comm.Get_rank() != 0:
            raise ValueError("the mpi backend's run() is the master's (rank 0); workers run "
                             "shiftbench.backends.mpi.serve_worker()")
        if self.comm.Get_size() < 2:
            raise ValueError("--backend mpi runs under mpiexec with n + 1 ranks (rank 0 the "
                             "master, ranks 1..n the workers), e.g. mpiexec -n 3 python -m "
                             "shiftbench run --backend mpi --problem 'ridge(n=2)' ...; this "
                             "job has 1 rank")

    # ---- the master --------------------------------------------------------
    def run(self, method, build, pd, stop_rule, rows, seeds, single, record_x=False,
            progress=None):
        n = pd.off.size - 1
        W = self.comm.Get_size() - 1
        if W != n:
            raise ValueError(f"the problem has n = {n} workers but this job has {W} worker "
                             f"ranks; run mpiexec -n {n + 1} (or give the problem n = {W})")
        if method.loop == "tpc" and method.code == 0:
            raise ValueError("cgd runs on one node; the mpi backend runs the distributed "
                             "methods (every method but cgd)")
        if not build.comps:
            raise ValueError(f"{method.name}: its build does not name its compressors")
        out = []
        wall = 0.0
        for s in seeds:
            r, w = self._run_seed(method, build, pd, stop_rule, rows, int(s), record_x,
                                  progress)
            out.append(r)
            wall += w
        return out, wall, False

    def _send_setup(self, method, build, pd, seed):
        from ..wire.loop import is_wire
        cfg = build.config
        wire = is_wire(build)
        specs = [None if c is None else [x.spec for x in c] for c in build.comps]
        d = pd.x0.size
        for w in range(pd.off.size - 1):
            lo, hi = int(pd.off[w]), int(pd.off[w + 1])
            shard = dict(kind=int(pd.kind), A=np.ascontiguousarray(pd.A[lo:hi]),
                         b=np.ascontiguousarray(pd.b[lo:hi]),
                         scale=np.ascontiguousarray(pd.scale[w:w + 1]), lam=float(pd.lam), d=d)
            st = dict(loop=method.loop, w=w, n=pd.off.size - 1, seed=seed, wire=wire,
                      specs=specs, cfg=_cfg_for(method, cfg, w), shard=shard,
                      gstar=np.ascontiguousarray(pd.gstar[w]))
            self.comm.send(st, dest=w + 1, tag=TAG_SETUP)

    def _run_seed(self, *args):
        self._live = False
        try:
            return self._run_seed_(*args)
        except BaseException:
            if self._live:                     # let the workers go back to waiting for a run
                self._live = False
                hdr = np.zeros(16 + self._nbx, dtype=np.uint8)
                hdr[:8] = np.array([CTL_STOP], dtype=np.int64).view(np.uint8)
                self.comm.Bcast([hdr, _mpi().BYTE], root=0)
            raise

    def _run_seed_(self, method, build, pd, stop_rule, rows, seed, record_x, progress):
        from .. import _rng
        from . import mpi_steps as S
        from ..methods import engine as E
        from ..methods import tpc as T
        from ..wire.loop import is_wire
        from ..wire.plan import WirePlan
        MPI = _mpi()
        comm = self.comm
        cfg = build.config
        wire = is_wire(build)
        n = pd.off.size - 1
        d = pd.x0.size
        shift = method.loop == "shift"
        vb = int(cfg.value_bits)
        vbw = vb if wire else 64
        hz = _hz()
        q, c = build.programs
        if shift:
            pa, pb = WirePlan(cfg.wq_rows, cfg.wq_addr), WirePlan(cfg.wc_rows, cfg.wc_addr)
        else:
            pa, pb = WirePlan(cfg.w1_rows, cfg.w1_addr), WirePlan(cfg.w2_rows, cfg.w2_addr)
        if not wire:
            from ..wire.loop import plans
            pa, pb = plans(build)
        io = WIO.make_io(WIO.RECV, d, _capacity(d), wide=not wire)
        self._send_setup(method, build, pd, seed)
        cap = _capacity(d)
        fsize = 8 * HDR + 8 * d + cap
        frames = [np.zeros(fsize, dtype=np.uint8) for _ in range(n)]
        iframes = [np.zeros(fsize, dtype=np.uint8) for _ in range(n)]
        down = np.zeros(16 + 8 * d + 16, dtype=np.uint8)
        nbx = (vbw * d + 7) // 8
        self._nbx = nbx
        x = pd.x0.copy()
        x_star, gstar, has_star = pd.x_star, pd.gstar, bool(pd.has_star)
        trace = np.full((rows, NCOL), np.nan)
        extra = np.full((rows, len(EXTRA)), np.nan)
        xrec = np.zeros((rows if record_x else 0, d))
        bits = np.zeros(n)
        vbits = np.zeros(n)
        F = np.zeros(n)
        Gm = np.zeros((n, d))
        Gprev = np.zeros((n, d))
        regs = np.zeros((max(int(build.nreg), 1), d))
        from ..compressors.kernels import IWORK_EXTRA
        iwork = np.zeros(d + IWORK_EXTRA, dtype=np.int64)
        mark = np.zeros(d, dtype=np.uint8)
        v, m, cc, t = (np.zeros(d) for _ in range(4))
        bvec, t1, t2 = (np.zeros(d) for _ in range(3))
        acc = np.zeros(d)
        rng_dummy = np.zeros(2, dtype=np.uint64)
        rng_coin = np.zeros(2, dtype=np.uint64)
        _rng.seed_state(rng_coin, np.uint64(seed), np.uint64(n))
        if shift:
            H = np.ascontiguousarray(cfg.h0, dtype=float).copy()
        else:
            H = np.zeros((n, d))
        hbar = np.zeros(d)
        mode = int(cfg.mode) if shift else int(cfg.mech)
        init = shift and (bool(cfg.init_full) or mode == E.RAND)
        is_tpc = (not shift) and mode >= 3
        dist0 = float(np.dot(x - x_star, x - x_star)) if has_star else 1.0
        dist0 = dist0 if dist0 != 0.0 else 1.0
        g0 = -1.0
        status = MAX_ITER
        row = 0
        it = 0
        down_bits = 0.0
        up_bytes = np.zeros(n)
        down_bytes = 0.0
        metrics_bytes = 0.0
        tm = dict(compute=0.0, codec=0.0, comm=0.0)
        tw = np.zeros((n, 3))
        coin = 0.0
        ck = _Checkpoint(self.checkpoint)
        timeout = float(os.environ.get("SHIFTBENCH_MPI_TIMEOUT", "20"))
        t_start = time.perf_counter()

        def bcast(ctl):
            nonlocal down_bytes
            t0 = time.perf_counter()
            hdr = down[:16].view(np.int64)
            hdr[0] = ctl
            hdr[1] = _f2i(coin)
            nb = 0
            if ctl == CTL_GO:
                c0 = time.perf_counter()
                end = S.encode_x(x, down[16:], 0, vbw)
                nb = (end + 7) // 8
                tm["codec"] += time.perf_counter() - c0
                down_bytes += nb
            t0 = time.perf_counter()
            comm.Bcast([down[:16 + nbx], MPI.BYTE], root=0)
            tm["comm"] += time.perf_counter() - t0

        def receive(bufs, tag, first):
            t0 = time.perf_counter()
            reqs = [comm.Irecv([bufs[w], MPI.BYTE], source=w + 1, tag=tag) for w in range(n)]
            done = [False] * n
            limit = 600.0 if first else timeout     # (the first rounds compile)
            while not all(done):
                for w in range(n):
                    if not done[w] and reqs[w].Test():
                        done[w] = True
                if all(done):
                    break
                if time.perf_counter() - t0 > limit:
                    late = [w + 1 for w in range(n) if not done[w]]
                    ck.close()
                    raise WorkerFailed(
                        f"worker rank {late[0]} sent nothing for iteration {it} in "
                        f"{limit:g} s (dead or stuck; ranks waited for: "
                        f"{', '.join(map(str, late))}); trace up to iteration "
                        f"{max(it - 1, 0)} kept" + ck.where())
                time.sleep(0)
            tm["comm"] += time.perf_counter() - t0
            for w in range(n):
                h = bufs[w][:8 * HDR].view(np.int64)
                if h[H_STATUS] != 0:
                    nb = int(h[H_NBYTES])
                    msg = bytes(bufs[w][8 * HDR + 8 * d:8 * HDR + 8 * d + nb]).decode(
                        "utf-8", "replace")
                    ck.close()
                    raise WorkerFailed(f"worker rank {w + 1} failed at iteration {it}: {msg}"
                                       + ck.where())

        def load(buf):
            """Put a frame's payload into the master's io; returns (nsub, bf, bv)."""
            h = buf[:8 * HDR].view(np.int64)
            nb = int(h[H_NBYTES])
            nsub = int(h[H_NSUB])
            p0 = 8 * HDR + 8 * d
            io.buf[:nb] = buf[p0:p0 + nb]
            io.buf[nb:nb + 16] = 0
            io.lens[:] = h[H_LENS:H_LENS + WIO.MAXSUB]
            io.ctl[:] = h[H_CTL:H_CTL + 2 * WIO.MAXCTL].view(np.uint64)
            return nsub, _i2f(h[H_BF]), _i2f(h[H_BV]), nb

        self._live = True
        bcast(CTL_GO)          # x^0
        for it in range(stop_rule.max_iter + 1):
            if init and it == 0:
                receive(iframes, TAG_INIT, True)
                t0 = time.perf_counter()
                for w in range(n):
                    nsub, bf, bv, nb = load(iframes[w])
                    S.shift_master_init(mode, bool(cfg.init_full), H[w], vb, io, nsub)
                    bits[w] += bf
                    vbits[w] += bv
                    up_bytes[w] += nb
                tm["codec"] += time.perf_counter() - t0
            receive(frames, TAG_ROUND, it <= 2)
            t0 = time.perf_counter()
            for w in range(n):
                h = frames[w][:8 * HDR].view(np.int64)
                F[w] = _i2f(h[H_F])
                Gm[w] = frames[w][8 * HDR:8 * HDR + 8 * d].view(np.float64)
                tw[w] += [_i2f(h[H_TGRAD]), _i2f(h[H_TCODEC]), _i2f(h[H_TCOMM])]
            metrics_bytes += 8.0 * (d + 1)
            if init and it == 0:
                E.mean_rows(H, hbar)
            if is_tpc:
                c0 = time.perf_counter()
                for w in range(n):
                    nsub, bf, bv, nb = load(frames[w])
                    if it == 0:
                        S.tpc_init(Gm[w], H[w], vb, io, nsub)
                    else:
                        S.tpc_mech(mode, int(cfg.inner), H[w], Gprev[w], Gm[w], q, c, w,
                                   float(cfg.zeta), float(cfg.p), coin, vb, rng_dummy, regs,
                                   iwork, mark, bvec, t1, t2, io, pa, pb, nsub)
                    bits[w] += bf
                    vbits[w] += bv
                    up_bytes[w] += nb
                E.mean_rows(H, hbar)
                tm["codec"] += time.perf_counter() - c0
            fval, gn, dist = S.metrics(F, Gm, x, x_star, has_star)
            if g0 < 0.0:
                g0 = gn if gn > 0.0 else 1.0
            bmean, bmax, vmean = E.bits_stats(bits, vbits)
            stop, status = E.stop_status(fval, gn, dist, has_star, dist0, g0,
                                         stop_rule.explode, stop_rule.metric, stop_rule.eps,
                                         pd.f_star, bmean, stop_rule.budget, it,
                                         stop_rule.max_iter)
            if (stop or it % stop_rule.stride == 0) and row < rows:
                if shift:
                    se = S.shift_error(mode, has_star, cfg.lyap_w, H, gstar)
                else:
                    se = S.tpc_error(mode, H, Gm)
                cyc = (time.perf_counter() - t_start) * hz
                E.write_row(trace, row, it, dist, dist0, fval, pd.f_star, gn, bmean, bmax,
                            vmean, down_bits, se, cyc)
                extra[row] = [up_bytes.mean(), down_bytes, metrics_bytes, tm["compute"],
                              tm["codec"], tm["comm"], *tw.mean(axis=0)]
                if record_x:
                    xrec[row] = x
                ck.write(trace[row], extra[row])
                row += 1
            if progress is not None:
                progress.update(1)
            if stop:
                break
            down_bits += vb * d
            if shift:
                acc[:] = 0.0
                for w in range(n):
                    nsub, bf, bv, nb = load(frames[w])
                    c0 = time.perf_counter()
                    S.shift_master_worker(mode, bool(cfg.has_c), float(cfg.gamma),
                                          float(cfg.alpha), Gm[w], H[w], gstar[w], x, v, m,
                                          cc, t, q, c, pa, pb, w, float(cfg.p[w]), vb,
                                          rng_dummy, regs, iwork, mark, io, acc, nsub)
                    tm["codec"] += time.perf_counter() - c0
                    bits[w] += bf
                    vbits[w] += bv
                    up_bytes[w] += nb
                S.shift_master_step(mode, float(cfg.gamma), float(cfg.eta), x, acc, hbar, H)
            elif not is_tpc:
                acc[:] = 0.0
                for w in range(n):
                    nsub, bf, bv, nb = load(frames[w])
                    S.tpc_plain(mode, float(cfg.gamma), Gm[w], H[w], v, m, q, pa, w,
                                rng_dummy, regs, iwork, mark, io, nsub, acc)
                    bits[w] += bf
                    vbits[w] += bv
                    up_bytes[w] += nb
                s = float(cfg.gamma) if mode == 1 else float(cfg.ef_outer)
                x -= s * acc / n
            else:
                x -= float(cfg.gamma) * hbar
                Gprev[:] = Gm
            if is_tpc and mode == T.MARINA:   # MARINA's shared coin for the next messages
                coin = _rng.uniform(rng_coin)
            tm["compute"] += time.perf_counter() - t0
            bcast(CTL_GO)
        self._live = False
        bcast(CTL_STOP)
        wall = time.perf_counter() - t_start
        ck.finish()
        tr = trace[:row]
        res = (int(status), int(it), tr, xrec[:row].copy() if record_x else None,
               {k: extra[:row, j] for j, k in enumerate(EXTRA)})
        return res, wall


def _cfg_for(method, cfg, w):
    """The scalars (and worker w's rows) of a loop configuration a worker needs."""
    if method.loop == "shift":
        return dict(mode=int(cfg.mode), has_c=bool(cfg.has_c), gamma=float(cfg.gamma),
                    alpha=float(cfg.alpha), eta=float(cfg.eta), p=float(cfg.p[w]),
                    vb=int(cfg.value_bits), init_full=bool(cfg.init_full),
                    h0=np.ascontiguousarray(cfg.h0[w], dtype=float))
    return dict(mech=int(cfg.mech), inner=int(cfg.inner), gamma=float(cfg.gamma),
                zeta=float(cfg.zeta), p=float(cfg.p), vb=int(cfg.value_bits))


class _Checkpoint:
    """Trace rows appended to OUT.partial.csv as they are recorded."""

    def __init__(self, out):
        self.path = None if not out else f"{out}.partial.csv"
        self.f = None
        if self.path:
            self.f = open(self.path, "w")
            self.f.write(",".join(list(COLUMNS) + list(EXTRA)) + "\n")
            self.f.flush()

    def write(self, row, extra):
        if self.f:
            self.f.write(",".join(repr(float(v)) for v in list(row) + list(extra)) + "\n")
            self.f.flush()

    def where(self):
        return f" in {self.path}" if self.path else ""

    def close(self):
        if self.f:
            self.f.close()
            self.f = None

    def finish(self):
        self.close()
        if self.path and os.path.exists(self.path):
            os.remove(self.path)


# ---- the workers -------------------------------------------------------------
def release_workers():
    """Master: tell every worker waiting for a run to exit."""
    MPI = _mpi()
    comm = MPI.COMM_WORLD
    for r in range(1, comm.Get_size()):
        comm.send(None, dest=r, tag=TAG_SETUP)


def serve_worker():
    """A worker rank: run the master's runs until it says stop; returns 0."""
    MPI = _mpi()
    comm = MPI.COMM_WORLD
    while True:
        st = comm.recv(source=0, tag=TAG_SETUP)
        if st is None:
            return 0
        _Worker(comm, MPI, st).serve()


def _check_shard(sh, d):
    from ..problems.base import SPARSE
    A, b = sh["A"], sh["b"]
    if A.ndim != 2 or A.shape[0] == 0:
        return "its data shard is empty (0 rows); give the problem fewer workers or more rows"
    # dense rows are d wide; sparse (ELL) rows 1 + 2w (count, values, columns)
    width_ok = (A.shape[1] == d if int(sh["kind"]) < SPARSE
                else A.shape[1] >= 3 and A.shape[1] % 2 == 1)
    if not width_ok or b.shape != (A.shape[0],):
        return (f"its data shard is malformed (A {A.shape}, b {b.shape}; expected rows x {d} "
                f"(dense) or rows x (1 + 2w) (sparse rows), and rows)")
    if int(sh["kind"]) >= SPARSE:
        w = (A.shape[1] - 1) // 2
        cnt, cols = A[:, 0], A[:, 1 + w:]
        if not (np.all((cnt >= 0) & (cnt <= w) & (cnt == np.floor(cnt)))
                and np.all((cols >= 0) & (cols < d) & (cols == np.floor(cols)))):
            return "its sparse data shard has counts or column indices out of range"
    if not (np.all(np.isfinite(A)) and np.all(np.isfinite(b))):
        return "its data shard has non-finite values"
    return None


class _Worker:
    def __init__(self, comm, MPI, st):
        self.comm, self.MPI, self.st = comm, MPI, st

    def serve(self):
        from .. import _rng
        from . import mpi_steps as S
        from ..methods import engine as E
        from ..compressors import as_compressor
        from ..compressors.kernels import IWORK_EXTRA
        from ..methods.build import programs
        from ..wire import plan, empty_plan
        comm, MPI, st = self.comm, self.MPI, self.st
        sh, cfg = st["shard"], st["cfg"]
        d, w, n, wire = int(sh["d"]), int(st["w"]), int(st["n"]), bool(st["wire"])
        shift = st["loop"] == "shift"
        err = None
        try:
            err = _check_shard(sh, d)
            if os.environ.get("SHIFTBENCH_MPI_FAULT_SHARD") == str(w + 1):
                err = _check_shard(dict(sh, A=sh["A"][:0], b=sh["b"][:0]), d)
            progs, pls, nreg = [], [], 0
            for specs in st["specs"]:
                comps = None if specs is None else [as_compressor(s) for s in specs]
                pr, nr = programs(comps, d, n)
                progs.append(pr)
                pls.append(empty_plan(pr.ops.shape[0]) if comps is None else plan(comps))
                nreg = max(nreg, nr)
        except Exception as e:  # noqa: BLE001 - reported to the master in one line
            err = f"{type(e).__name__}: {e}".splitlines()[0]
        off = np.array([0, sh["A"].shape[0]], dtype=np.int64)
        cap = _capacity(d)
        io = WIO.make_io(WIO.SEND, d, cap, wide=not wire, rnd=wire)
        vb = int(cfg["vb"])
        vbw = vb if wire else 64
        frame = np.zeros(8 * HDR + 8 * d + cap, dtype=np.uint8)
        iframe = np.zeros_like(frame)
        down = np.zeros(16 + 8 * d + 16, dtype=np.uint8)
        nbx = (vbw * d + 7) // 8
        xg = np.zeros(d)
        g = np.zeros(d)
        gprev = np.zeros(d)
        regs = np.zeros((max(nreg, 1), d))
        iwork = np.zeros(d + IWORK_EXTRA, dtype=np.int64)
        mark = np.zeros(d, dtype=np.uint8)
        v, m, c, t, acc = (np.zeros(d) for _ in range(5))
        bvec, t1, t2 = (np.zeros(d) for _ in range(3))
        rng = np.zeros(2, dtype=np.uint64)
        _rng.seed_state(rng, np.uint64(st["seed"]), np.uint64(w))
        h = cfg["h0"].copy() if shift else np.zeros(d)
        gstar = st["gstar"]
        hz = _hz()
        kill_at = os.environ.get("SHIFTBENCH_MPI_FAULT", "")   # "RANK:ITER[:raise]" (tests)
        fault = None
        if kill_at:
            bits_ = kill_at.split(":")
            if int(bits_[0]) == w + 1:
                fault = (int(bits_[1]), bits_[2] if len(bits_) > 2 else "kill")
        t_comm = 0.0
        last = 0
        it = 0
        while True:
            t0 = time.perf_counter()
            comm.Bcast([down[:16 + nbx], MPI.BYTE], root=0)
            hdr = down[:16].view(np.int64)
            if hdr[0] == CTL_STOP:
                return
            coin = _i2f(hdr[1])
            t_comm += time.perf_counter() - t0
            if fault is not None and it == fault[0]:
                if fault[1] == "kill":
                    import signal
                    os.kill(os.getpid(), signal.SIGKILL)
                err = f"RuntimeError: fault injected at iteration {it}"
            if err is not None:
                self._send_error(frame, err, d)
                it += 1
                continue
            try:
                c0 = time.perf_counter()
                S.decode_x(down, 8 * 16, xg, vbw)
                t_dec = time.perf_counter() - c0
                c0 = time.perf_counter()
                f = S.worker_grad(sh["kind"], sh["A"], sh["b"], off, sh["scale"], sh["lam"],
                                  xg, g)
                t_grad = time.perf_counter() - c0
                if shift and it == 0 and (cfg["init_full"] or cfg["mode"] == E.RAND):
                    S.io_clear(io, cap)
                    if cfg["mode"] == E.RAND:
                        a = S.shift_worker_init(cfg["mode"], cfg["init_full"], g, h, vb, io)
                    else:
                        a = S.shift_worker_init(cfg["mode"], cfg["init_full"], h, h, vb, io)
                    self._pack(iframe, io, a, a, 0.0, 0.0, 0.0, 0.0, d, g)
                    comm.Send([iframe[:self._size(iframe, d)], MPI.BYTE], dest=0,
                              tag=TAG_INIT)
                    last = max(last, int(S.io_counts(io)[2]))
                S.io_clear(io, last)
                c0 = time.perf_counter()
                if shift:
                    bf, bv = S.shift_worker_round(
                        cfg["mode"], cfg["has_c"], cfg["gamma"], cfg["alpha"], g, h, gstar, xg,
                        v, m, c, t, progs[0], progs[1], pls[0], pls[1], w, cfg["p"], vb, rng,
                        regs, iwork, mark, io, acc)
                elif cfg["mech"] >= 3:
                    if it == 0:
                        bf = bv = S.tpc_init(g, h, vb, io, 0)
                    else:
                        bf, bv = S.tpc_mech(cfg["mech"], cfg["inner"], h, gprev, g, progs[0],
                                            progs[1], w, cfg["zeta"], cfg["p"], coin, vb, rng,
                                            regs, iwork, mark, bvec, t1, t2, io, pls[0],
                                            pls[1], 0)
                    gprev[:] = g
                else:
                    bf, bv = S.tpc_plain(cfg["mech"], cfg["gamma"], g, h, v, m, progs[0],
                                         pls[0], w, rng, regs, iwork, mark, io, 0, acc)
                t_msg = time.perf_counter() - c0
                t_enc = S.io_codec_cycles(io) / hz
                nb = self._pack(frame, io, bf, bv, f, t_grad + max(t_msg - t_enc, 0.0),
                                t_enc + t_dec, t_comm, d, g)
                last = nb
            except Exception as e:  # noqa: BLE001 - reported to the master in one line
                err = f"{type(e).__name__}: {e}".splitlines()[0]
                self._send_error(frame, err, d)
                it += 1
                continue
            t0 = time.perf_counter()
            comm.Send([frame[:self._size(frame, d)], MPI.BYTE], dest=0, tag=TAG_ROUND)
            t_comm = time.perf_counter() - t0
            it += 1

    @staticmethod
    def _size(frame, d):
        return 8 * HDR + 8 * d + int(frame[:8 * HDR].view(np.int64)[H_NBYTES])

    @staticmethod
    def _pack(frame, io, bf, bv, f, tg, tc, tcomm, d, g):
        from . import mpi_steps as S
        nsub, nctl, nb = S.io_counts(io)
        h = frame[:8 * HDR].view(np.int64)
        h[:] = 0
        h[H_NSUB], h[H_NCTL], h[H_NBYTES] = nsub, nctl, nb
        h[H_BF], h[H_BV], h[H_F] = _f2i(bf), _f2i(bv), _f2i(f)
        h[H_TGRAD], h[H_TCODEC], h[H_TCOMM] = _f2i(tg), _f2i(tc), _f2i(tcomm)
        h[H_LENS:H_LENS + WIO.MAXSUB] = io.lens
        h[H_CTL:H_CTL + 2 * WIO.MAXCTL] = io.ctl.view(np.int64)
        frame[8 * HDR:8 * HDR + 8 * d] = g.view(np.uint8)
        frame[8 * HDR + 8 * d:8 * HDR + 8 * d + nb] = io.buf[:nb]
        return nb

    def _send_error(self, frame, err, d):
        raw = err.encode("utf-8")[:4000]
        h = frame[:8 * HDR].view(np.int64)
        h[:] = 0
        h[H_STATUS] = 1
        h[H_NBYTES] = len(raw)
        frame[8 * HDR + 8 * d:8 * HDR + 8 * d + len(raw)] = np.frombuffer(raw, np.uint8)
        self.comm.Send([frame[:self._size(frame, d)], self.MPI.BYTE], dest=0, tag=TAG_ROUND)
