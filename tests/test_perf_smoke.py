"""Smoke test of ``python -m shiftbench.perf``: the JSON schema only.

No timing assertions: speed is measured by the ratio report in one run
(``python -m shiftbench.perf``), never by unit tests.
"""
import json
import subprocess
import sys

import pytest

from shiftbench import perf

KEYS = {"kernel", "variant", "kind", "d", "seconds", "copy_seconds", "ratio_to_copy",
        "speedup_vs_numpy", "numpy_seconds", "numpy_note", "numpy_vec_seconds",
        "speedup_vs_numpy_vec", "api_seconds", "api_ratio_to_copy", "number", "repeat"}


def _check_rows(rows, ds):
    assert isinstance(rows, list) and rows
    for r in rows:
        assert KEYS <= set(r), sorted(KEYS - set(r))
        assert r["d"] in ds
        assert isinstance(r["kernel"], str) and r["kernel"]
        for k in ("seconds", "copy_seconds", "ratio_to_copy", "api_seconds"):
            assert isinstance(r[k], float) and r[k] > 0, (k, r)
        assert r["ratio_to_copy"] == pytest.approx(r["seconds"] / r["copy_seconds"])
        if r["numpy_seconds"] is None:
            assert r["speedup_vs_numpy"] is None and r["numpy_note"]
        else:
            assert r["speedup_vs_numpy"] == pytest.approx(r["numpy_seconds"] / r["seconds"])


def test_cli_quick_json_schema():
    out = subprocess.run([sys.executable, "-m", "shiftbench.perf", "--quick", "--json",
                          "--kernels", "top-k;rand-k;natural;dither(s=4);sign"],
                         capture_output=True, text=True, check=True, timeout=900)
    rows = json.loads(out.stdout)
    _check_rows(rows, {1000, 10000})
    names = {(r["kernel"], r["variant"]) for r in rows}
    assert ("rand-k(q=0.01)", "sparse") in names and ("top-k(q=0.01)", "dense") in names
    assert {"natural", "dither(s=4)", "sign"} <= {r["kernel"] for r in rows}


def test_every_registry_entry_has_a_default_spec():
    from shiftbench.compressors import compressor
    from shiftbench.compressors.registry import REGISTRY
    specs = perf.default_compressor_specs()
    assert len(specs) == len(REGISTRY)
    for s in specs:
        compressor(s)                       # parses


def test_register_plugin_entry():
    """A method module can add its own entry (how method timings plug in)."""
    import numpy as np

    def make(d):
        x = np.ones(d)
        return perf.Case(kernel=lambda: x.sum(), reference=lambda: float(sum(x)),
                         info={"note": "toy"})

    e = perf.register(perf.Entry("toy-method", make, variant="iteration", kind="method"))
    try:
        rows = perf.run([100], ["toy-method"], repeat=1, min_time=1e-4)
    finally:
        perf.ENTRIES.remove(e)
    (row,) = rows
    assert row["kind"] == "method" and row["note"] == "toy"
    assert row["speedup_vs_numpy"] > 0
