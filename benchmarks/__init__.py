"""asv benchmarks of shiftbench (``asv run``; configuration in ``asv.conf.json``).

* ``bench_compressors.py``: every compressor kernel (and the sparse Rand-K /
  Top-K form) at d in {1e3, 1e5, 1e7}: the kernel, the exact NumPy
  reference, ``np.copyto`` as the bandwidth yardstick, bits per message,
  and cold import + first compilation.
* ``bench_methods.py`` (to be added with the methods): one iteration of
  each method (e.g. DIANA) against a NumPy loop, in the same style:
  data and one warm-up call in ``setup``, ``time_*`` methods only time.

The ratio report of one run is ``python -m shiftbench.perf``.
"""
