"""The wire format (shiftbench.wire): every compressor's message is exactly
ceil(bits / 8) bytes and decodes to what the count assumes.

Property tests (hypothesis, derandomised): vectors with zeros, ties, tiny
and huge entries, on d in {1, 7, 64, 1000, 10^5}, for every compressor that
``python -m shiftbench compressors --json`` lists.
"""
import json
import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st, HealthCheck

import shiftbench as sb
from shiftbench import wire

DIMS = (1, 7, 64, 1000, 100_000)


def _listed():
    out = subprocess.run([sys.executable, "-m", "shiftbench", "compressors", "--json"],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


LISTED = _listed()


def _specs(entry):
    """Specs of one listed compressor that fit every d (q instead of k),
    with its 64-bit and shared-seed variants."""
    ex = entry["example"].replace("k=5", "q=0.2").replace("k=2", "q=0.1").replace("k=4", "q=0.3")
    out = [ex]
    if "bits=32|64" in entry["syntax"]:
        out.append(ex[:-1] + ", bits=64)" if ex.endswith(")") else ex + "(bits=64)")
    if "shared=0|1" in entry["syntax"]:
        out.append(ex[:-1] + ", shared=1)")
    return out


SPECS = [s for e in LISTED if not e["user"] for s in _specs(e)]


def test_every_listed_compressor_is_covered():
    names = {e["name"] for e in LISTED if not e["user"]}
    covered = {sb.compressor(s).node.name for s in SPECS}
    assert names <= covered, names - covered


def _vector(d, seed, zeros, scale, ties):
    r = np.random.default_rng(seed)
    x = r.standard_normal(d) * scale
    if zeros:
        x[r.random(d) < zeros] = 0.0
    if ties and d > 1:
        x[: d // 2] = x[0]
    return x


def _check(spec, x, seed):
    C = sb.compressor(spec)
    d = x.size
    y, bits = C.compress(x, seed=seed)
    msg = C.encode(x, seed=seed)
    assert isinstance(msg, bytes)
    assert 8 * len(msg) == 8 * math.ceil(int(bits) / 8), (spec, d, len(msg), int(bits))
    shared = "shared=1" in spec
    z = C.decode(msg, d, seed=seed if shared else None)
    # the receiver's vector is the sender's C(x) with its numbers in the count's format
    yw, bw = wire.compress(C, x, seed=seed)
    assert int(bw) == int(bits)
    np.testing.assert_array_equal(z, yw)
    if "bits=64" in spec:
        np.testing.assert_array_equal(z, y)          # nothing rounded
    elif C.node.name in ("identity", "top-k", "rand-k", "crand-k", "zero"):
        np.testing.assert_array_equal(z, y.astype(np.float32).astype(float))
    else:                                            # fp32 norms / scales times codes
        scale = max(np.max(np.abs(y)), 1e-300) if y.size else 1.0
        assert np.all(np.abs(z - y) <= 1e-6 * scale + 1e-300), spec
        assert np.array_equal(z == 0, y == 0) or np.all(np.abs(y[z != (y != 0)]) < 1e-37)


@settings(max_examples=6, derandomize=True, deadline=None,
          suppress_health_check=list(HealthCheck))
@given(seed=st.integers(0, 2 ** 32), zeros=st.sampled_from([0.0, 0.5, 1.0]),
       scale=st.sampled_from([1.0, 1e-20, 1e20]), ties=st.booleans())
@pytest.mark.parametrize("d", DIMS)
@pytest.mark.parametrize("spec", SPECS)
def test_round_trip(spec, d, seed, zeros, scale, ties):
    _check(spec, _vector(d, seed, zeros, scale, ties), seed % 1000)


def test_decode_refuses_a_message_of_the_wrong_size():
    C = sb.compressor("rand-k(q=0.1)")
    msg = C.encode(np.ones(100), seed=1)
    with pytest.raises(ValueError, match="exactly"):
        C.decode(msg + b"\0", 100)
    with pytest.raises(ValueError, match="seed"):
        sb.compressor("rand-k(q=0.1, shared=1)").decode(msg, 100)


def test_shared_rand_k_sends_no_indices():
    C = sb.compressor("rand-k(k=10, shared=1)")
    x = np.arange(1.0, 1001.0)
    assert len(C.encode(x, seed=4)) == 10 * 4        # ten fp32 values, nothing else


def test_users_compressor_without_encoder_is_a_one_line_error(tmp_path):
    import importlib.util
    import pathlib
    path = pathlib.Path(__file__).resolve().parents[1] / "examples" / "half_sign.py"
    spec = importlib.util.spec_from_file_location("half_sign_wire", path)
    mod = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(mod)
    except ValueError:
        pass                                         # already registered by another test
    C = sb.compressor("half-sign(c=0.5)")
    with pytest.raises(ValueError) as e:
        C.encode(np.ones(8), seed=0)
    msg = str(e.value)
    assert "\n" not in msg and "register_codec" in msg


def test_users_compressor_with_an_encoder_round_trips():
    from numba import njit
    import importlib.util
    import pathlib
    path = pathlib.Path(__file__).resolve().parents[1] / "examples" / "half_sign.py"
    spec = importlib.util.spec_from_file_location("half_sign_wire2", path)
    mod = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(mod)
    except ValueError:
        pass

    @njit
    def enc(y, params, buf, pos):
        m = abs(y[0]) if y.size else 0.0
        pos = wire.put_f32(buf, pos, m)
        for i in range(y.size):
            wire.put_bits(buf, pos, 1 if y[i] < 0.0 else 0, 1)
            pos += 1
        return pos

    @njit
    def dec(buf, pos, params, y):
        m = wire.get_f32(buf, pos)
        pos += 32
        for i in range(y.size):
            y[i] = -m if wire.get_bits(buf, pos, 1) else m
            pos += 1
        return pos

    wire.register_codec("half-sign", enc, dec)
    try:
        x = _vector(1000, 3, 0.0, 1.0, False)
        _check("half-sign(c=0.5)", x, 3)
    finally:
        wire.unregister_codec("half-sign")


def test_perf_rows_encode_and_decode():
    from shiftbench import perf as P
    import shiftbench.wire.perf  # noqa: F401  (registers the rows)
    rows = [e for e in P.ENTRIES if e.variant in ("encode", "decode")]
    assert {e.variant for e in rows} == {"encode", "decode"}
    for e in rows:
        if e.kernel.startswith(("rand-k", "natural(")) or e.kernel == "natural":
            case = e.make(2000)
            case.kernel()
            assert case.info["bytes"] == math.ceil(case.info["bits"] / 8)


WIRE_RUNS = [("dcgd", "rand-k(q=0.2)", {}), ("dcgd-fixed", "rand-k(q=0.2)", {"shift": "star"}),
             ("dcgd-star", "rand-k(q=0.2)", {"shift_compressor": "top-k(q=0.2)"}),
             ("diana", "rand-k(q=0.2)", {"shift_compressor": "top-k(q=0.1)"}),
             ("rand-diana", "rand-k(q=0.2)", {}), ("gdci", "rand-k(q=0.5)", {}),
             ("vr-gdci", "rand-k(q=0.5)", {}), ("cgd", "top-k(q=0.2)", {}),
             ("ef", "top-k(q=0.2)", {}),
             ("ef21", "top-k(q=0.2)", {}), ("lag", None, {"zeta": 0.5}), ("clag", "top-k(q=0.2)", {"zeta": 0.5}),
             ("3pcv2", "top-k(q=0.2)", {"compressor2": "rand-k(q=0.2)"}),
             ("3pcv5", "top-k(q=0.2)", {}), ("marina", "rand-k(q=0.2)", {})]


@pytest.mark.parametrize("method,comp,opts", WIRE_RUNS, ids=[r[0] + "-" + str(r[1])
                                                           for r in WIRE_RUNS])
def test_wire_loop_counts_the_bits_of_the_engine(method, comp, opts):
    """The wire loop (run_loop) is a second copy of each compiled loop: it
    spends the same bits as run_one and its iterates differ by fp32 rounding.
    (LAG/CLAG use zeta = 0.5: with zeta = 1 their first trigger compares two
    equal norms, and rounding decides it.)"""
    P = "ridge(n=3, m=30, d=12)"
    kw = dict(iters=40, seed=2, stride=1, eps=0.0, **opts)
    if comp is not None:
        kw["compressor"] = comp
    a = sb.run(method, P, **kw)
    b = sb.run(method, P, wire=True, **kw)
    assert b.params.get("wire") is True
    assert a.status == b.status and a.iterations == b.iterations
    np.testing.assert_array_equal(a.trace["bits_per_worker"], b.trace["bits_per_worker"])
    np.testing.assert_array_equal(a.trace["downlink_bits_per_worker"],
                                  b.trace["downlink_bits_per_worker"])
    ra, rb = a.trace["rel_error"].to_numpy(), b.trace["rel_error"].to_numpy()
    assert np.all(np.abs(ra - rb) <= 1e-4 * np.maximum(ra, 1e-12)), np.max(np.abs(ra - rb) / ra)
    assert not np.array_equal(ra, rb)              # the rounding is really there


def test_wire_option_is_validated_in_one_line():
    with pytest.raises(ValueError) as e:
        sb.run("diana", "ridge(n=2, m=20, d=5)", iters=2, wire="maybe")
    assert "wire" in str(e.value) and "on | off" in str(e.value)
