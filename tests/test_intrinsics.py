"""Low-level pieces of the compiled loops: borrowed views (no reference
counting), the lane-order distances, and the trace's gradient norm."""
from collections import namedtuple

import numpy as np
from numba import njit

from shiftbench.compressors.kernels.intrinsics import borrow, borrow_row, keep_alive
from shiftbench.compressors.kernels.reductions import sq_dist, sq_dist2, LANES
from shiftbench.methods.engine import grad_sq

Pair = namedtuple("Pair", "a b k")


@njit
def _row(A, i):
    return borrow_row(A, i).copy()


@njit
def _row_row(B, i, j):
    r = borrow_row(B, i)          # 3-D -> 2-D, then 2-D -> 1-D
    return r.copy(), borrow_row(r, j).copy()


@njit
def _write_row(A, i, v):
    r = borrow_row(A, i)
    for k in range(r.size):
        r[k] = v


@njit
def _pair_sum(p):
    q = borrow(p)
    s = q.a.sum() + q.b.sum() + q.k
    keep_alive((p.a, p.b))      # a plain tuple: keep_alive is cached, and a type from
    return s                    # this test module would poison its cache index


@njit
def _dists(x, a, b):
    return sq_dist(x, a), sq_dist(x, b), sq_dist2(x, a, b)


@njit
def _gsq(G):
    return grad_sq(G, np.empty(G.shape[1]))


def test_borrow_row_is_the_row_and_writes_through():
    A = np.arange(24.0).reshape(4, 6)
    assert np.array_equal(_row(A, 2), A[2])
    B = np.arange(60.0).reshape(3, 4, 5)
    r2 = _row_row(B, 1, 3)
    assert np.array_equal(r2[0], B[1]) and np.array_equal(r2[1], B[1, 3])
    _write_row(A, 1, -7.0)
    assert np.all(A[1] == -7.0) and A[0, 0] == 0.0 and A[2, 0] == 12.0


def test_borrow_of_a_named_tuple_keeps_its_values():
    p = Pair(np.ones(5), np.arange(3.0), 4)
    assert _pair_sum(p) == 5.0 + 3.0 + 4


def test_lane_distances():
    rs = np.random.default_rng(0)
    for d in (1, LANES - 1, LANES, 80, 1001):
        x, a, b = rs.standard_normal((3, d))
        da, db, (da2, db2) = _dists(x, a, b)
        assert da == da2 and db == db2            # the fused pass sums exactly as sq_dist
        np.testing.assert_allclose(da, np.sum((x - a) ** 2), rtol=1e-13)
        np.testing.assert_allclose(db, np.sum((x - b) ** 2), rtol=1e-13)


def test_grad_sq_is_the_squared_norm_of_the_mean():
    G = np.random.default_rng(1).standard_normal((7, 83))
    np.testing.assert_allclose(_gsq(G), np.sum(G.mean(axis=0) ** 2), rtol=1e-13)
