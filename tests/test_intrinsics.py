"""Low-level pieces of the compiled loops: borrowed views (no reference
counting), the lane-order distances, and the trace's gradient norm."""
from collections import namedtuple

import numpy as np
from numba import njit

from shiftbench.compressors.kernels.intrinsics import borrow, borrow_row, keep_alive
from shiftbench.compressors.kernels.reductions import sq_dist, sq_dist2, sq_mean, LANES
from shiftbench._alloc import empty, zeros
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
def _msq(a, n):
    return sq_mean(a, n)


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
    """The vector-coded distances and mean norm are, bit for bit, the
    lane-order sums of the NumPy reference (entry i in lane i % 16, the
    pairwise tree), for every tail length; wide magnitudes make any other
    order differ."""
    from shiftbench.naive.compressors import lane_sum
    rs = np.random.default_rng(0)
    for d in (0, 1, LANES - 1, LANES, LANES + 1, 2 * LANES + 7, 80, 83, 1001):
        x, a, b = rs.standard_normal((3, d)) * 10.0 ** rs.integers(-8, 8, size=(3, d))
        da, db, (da2, db2) = _dists(x, a, b)
        assert da == da2 and db == db2            # the fused pass sums exactly as sq_dist
        assert da == lane_sum((x - a) * (x - a)) and db == lane_sum((x - b) * (x - b)), d
        assert _msq(x, 7) == lane_sum((x / 7.0) * (x / 7.0)), d
        np.testing.assert_allclose(da, np.sum((x - a) ** 2), rtol=1e-13)
    x = np.ones(37)
    x[20] = np.inf
    assert _dists(x, np.zeros(37), np.zeros(37))[0] == np.inf
    x[5] = np.nan
    assert np.isnan(_dists(x, np.zeros(37), np.zeros(37))[0]) and np.isnan(_msq(x, 3))


def test_grad_sq_is_the_squared_norm_of_the_mean():
    G = np.random.default_rng(1).standard_normal((7, 83))
    np.testing.assert_allclose(_gsq(G), np.sum(G.mean(axis=0) ** 2), rtol=1e-13)


@njit
def _allocs(n, d):
    a = zeros((n, d), np.float64)
    b = empty(d, np.float64)
    c = zeros(d + 3, np.int64)
    e = zeros(d, np.uint8)
    r = zeros((n, 2), np.uint64)
    t = empty((2, n, d), np.float64)
    return a, b, c, e, r, t


def test_inline_allocation_shapes_dtypes_and_zeros():
    """shiftbench._alloc: C-order arrays of the asked shape and dtype, and
    ``zeros`` really zero (freed, dirtied memory is reused by the allocator)."""
    for n, d in ((3, 5), (0, 0), (4, 1000)):
        for _ in range(3):
            a, b, c, e, r, t = _allocs(n, d)
            assert [x.shape for x in (a, b, c, e, r, t)] == [(n, d), (d,), (d + 3,), (d,),
                                                             (n, 2), (2, n, d)]
            assert [x.dtype for x in (a, b, c, e, r, t)] == [np.float64, np.float64, np.int64,
                                                             np.uint8, np.uint64, np.float64]
            assert all(x.flags.c_contiguous for x in (a, b, c, e, r, t))
            assert not (a.any() or c.any() or e.any() or r.any())
            b[:] = 7.0
            t[:] = np.nan
            a[:] = -1.0
