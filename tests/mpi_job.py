"""Runs of the MPI backend for tests/test_mpi.py (run under mpiexec).

``python tests/mpi_job.py OUT.json CASE...`` with CASE = method/compressor/wire
(wire 0 or 1); rank 0 writes every run's iterates, bits and measured bytes.
"""
import json
import sys

import shiftbench as sb
from shiftbench.backends import mpi

PROBLEM = "ridge(n=2, m=40, d=20)"
ITERS = 40


def main():
    if mpi.rank() != 0:
        return mpi.serve_worker()
    out = {}
    try:
        for case in sys.argv[2:]:
            meth, comp, wire = case.split("/")
            r = sb.run(meth, PROBLEM, compressor=comp, iters=ITERS, seed=5, stride=1,
                       wire=bool(int(wire)), device="mpi", record_x=True)
            t = r.trace
            out[case] = {"x": r.x.tolist(), "bits": t["bits_per_worker"].tolist(),
                         "vbits": t["values_bits_per_worker"].tolist(),
                         "down": t["downlink_bits_per_worker"].tolist(),
                         "up_bytes": t["wire_bytes_up"].tolist(),
                         "down_bytes": t["wire_bytes_down"].tolist(),
                         "status": r.status, "iterations": r.iterations}
    finally:
        mpi.release_workers()
    with open(sys.argv[1], "w") as f:
        json.dump(out, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
