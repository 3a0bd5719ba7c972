"""halfkit on dask arrays: lazy graphs with the right dtype, shape, chunks and meta, bit for bit
the numpy call for conversions, round, fixed_point and the storage dtypes (stochastic rounding
included, whatever the chunks), matmul within the float32 bound whatever the chunking, and a
real distributed.LocalCluster of two worker processes (pickling). Written against dask and
distributed 2026.8.0."""

import warnings

import halfkit
import ml_dtypes
import numpy as np
import pytest
from conftest import BF16, F16, F32, F64, bits
from test_matmul import check, rand

da = pytest.importorskip("dask.array", reason="dask is not installed (pip install 'dask[array]')")
import dask  # noqa: E402

PAIRS = [(s, d) for s in (F16, BF16, F32, F64) for d in (F16, BF16, F32, F64) if s != d]
CHUNKINGS = [(50, 40), (1, 7), ((10, 30, 60), (1, 79)), (100, 80)]


def _data(dtype, shape=(100, 80), seed=0):
    x = np.random.default_rng(seed).standard_normal(shape) * 300
    x.flat[::17] = np.inf
    x.flat[5::23] = np.nan
    x.flat[3::29] = 1e-9
    with np.errstate(over="ignore", invalid="ignore"):
        return x.astype(dtype)


@pytest.fixture(autouse=True)
def _sync_scheduler():
    # The suite's default scheduler; the cluster test sets its own.
    with dask.config.set(scheduler="threads"):
        yield


@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: f"{p[0].name}->{p[1].name}")
@pytest.mark.parametrize("chunks", CHUNKINGS, ids=str)
def test_astype_is_lazy_and_bit_exact(pair, chunks):
    src, dst = pair
    x = _data(src)
    dx = da.from_array(x, chunks=chunks)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # building the graph runs no kernel, so cannot warn
        y = halfkit.astype(dx, dst)
    assert isinstance(y, da.Array)
    assert y.dtype == dst and y.shape == x.shape and y.chunks == dx.chunks
    assert isinstance(y._meta, np.ndarray) and y._meta.dtype == dst
    with np.errstate(over="ignore"):
        want = halfkit.astype(x, dst)
        got = y.compute()
    assert np.array_equal(bits(got), bits(want))


def test_shorthands_and_errstate_of_the_call():
    x = da.from_array(np.array([1.0, 1e6, 3.0], F32), chunks=1)
    assert halfkit.to_bfloat16(x).dtype == BF16 and halfkit.to_float64(x).dtype == F64
    with np.errstate(over="raise"):
        y = halfkit.to_float16(x)
    with pytest.raises(FloatingPointError):
        y.compute()
    with np.errstate(over="ignore"):
        quiet = halfkit.to_float16(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isinf(quiet.compute()[1])


def test_out_is_refused_for_dask():
    x = da.ones(4, F32)
    with pytest.raises(TypeError, match="immutable"):
        halfkit.astype(x, F16, out=np.empty(4, F16))
    with pytest.raises(TypeError, match="source dtype int32"):
        halfkit.astype(da.ones(4, dtype=np.int32), F16)


@pytest.mark.parametrize("dt", [F16, BF16], ids=lambda d: d.name)
@pytest.mark.parametrize(
    "ca, cb",
    [
        ((37, 50), (50, 23)),  # m, k and n split
        ((80, 120), (120, 60)),  # one chunk each
        ((16, 7), (7, 60)),  # many k chunks, uneven
        ((1, 120), (120, 60)),  # rows of one
        ((80, 1), (1, 60)),  # k chunks of one
    ],
    ids=str,
)
def test_matmul_splits(dt, ca, cb):
    a, b = rand((80, 120), dt, seed=1), rand((120, 60), dt, seed=2)
    c = halfkit.matmul(da.from_array(a, chunks=ca), da.from_array(b, chunks=cb))
    assert c.dtype == F32 and c.shape == (80, 60) and isinstance(c._meta, np.ndarray)
    got = c.compute()
    check(got, a, b)
    if ca[1] >= 120:  # one k chunk: each block is halfkit.matmul of its rows and columns
        whole = halfkit.matmul(a, b)
        if ca[0] >= 80 and cb[1] >= 60:
            assert np.array_equal(got, whole)


def test_matmul_does_not_round_per_k_chunk():
    """dask's own da.matmul on bfloat16 rounds to bfloat16 after each partial sum when k is split;
    halfkit accumulates in float32 and rounds once, whatever the k chunks."""
    a, b = rand((40, 512), BF16, seed=3), rand((512, 30), BF16, seed=4)
    want = halfkit.matmul(a, b, out_dtype=BF16).astype(F32)
    for kc in (512, 64, 7):
        got = halfkit.matmul(
            da.from_array(a, chunks=(40, kc)), da.from_array(b, chunks=(kc, 30)), out_dtype=BF16
        ).compute()
        assert got.dtype == BF16
        # One rounding of float32 sums that differ only in summation order: at most one ulp.
        diff = np.abs(got.astype(F32) - want)
        assert (diff <= np.abs(want) * 2**-7).all()


@pytest.mark.parametrize("out_dtype", [None, F16, BF16])
def test_matmul_stacks_broadcast_and_1d(out_dtype):
    a = rand((3, 1, 20, 30), F16, seed=5)
    b = rand((4, 30, 10), F16, seed=6)
    c = halfkit.matmul(
        da.from_array(a, chunks=(1, 1, 7, 11)), da.from_array(b, chunks=(2, 11, 5)),
        out_dtype=out_dtype,
    )  # fmt: skip
    want = halfkit.matmul(a, b, out_dtype=out_dtype)
    assert c.shape == want.shape == (3, 4, 20, 10) and c.dtype == want.dtype
    got = c.compute()
    if out_dtype is None:
        check(got, a, b)
    else:
        assert (
            np.abs(got.astype(F32) - want.astype(F32)) <= np.abs(want.astype(F32)) * 2**-7
        ).all()
    v = rand(30, F16, seed=7)
    dv = da.from_array(v, chunks=8)
    w = da.from_array(b[0], chunks=(8, 4))
    assert halfkit.matmul(dv, w).shape == (10,)
    check(halfkit.matmul(dv, w).compute()[None], v[None], b[0])
    assert halfkit.matmul(dv, dv).compute().shape == ()
    # a numpy operand with a dask one
    check(halfkit.matmul(a[0, 0], w).compute(), a[0, 0], b[0])


def test_matmul_errors():
    a = da.from_array(rand((4, 5), F16), chunks=2)
    with pytest.raises(ValueError, match="5 columns but b has 4 rows"):
        halfkit.matmul(a, a)
    with pytest.raises(TypeError, match="the same one"):
        halfkit.matmul(a, da.ones((5, 2), BF16))
    with pytest.raises(TypeError, match="immutable"):
        halfkit.matmul(a, a.T, out=np.empty((4, 4), F32))


def test_distinct_calls_have_distinct_keys():
    """Two calls on different inputs or arguments are different graph keys: computed together,
    each keeps its own values (dask takes one result per key)."""
    ones, zeros = da.ones(10, F32, chunks=5), da.zeros(10, F32, chunks=5)
    a, b = halfkit.astype(ones, F16), halfkit.astype(zeros, F16)
    assert a.name != b.name
    assert np.array_equal((a + b).compute(), np.ones(10, F16))
    x = da.from_array(_data(F32, (64,)), chunks=16)
    r1, r2 = (halfkit.round(x, "bfloat16", rounding="stochastic", seed=s) for s in (1, 2))
    s1, s2 = dask.compute(r1, r2)
    assert np.array_equal(
        bits(s1), bits(halfkit.round(x.compute(), "bfloat16", rounding="stochastic", seed=1))
    )
    assert np.array_equal(
        bits(s2), bits(halfkit.round(x.compute(), "bfloat16", rounding="stochastic", seed=2))
    )


# Chunkings of a (30, 20, 12) array: whole, along the first axis only (runs span the later
# axes), uneven and split on every axis (runs of one row), and single elements.
CHUNKS_3D = [(30, 20, 12), (7, 20, 12), ((3, 27), (5, 1, 14), (11, 1)), (1, 1, 1)]
ROUND_CASES = [
    ("bfloat16", "stochastic", False),
    ("float8_e4m3fn", "stochastic", True),
    ("float4_e2m1fn", "nearest-even", False),
    ("binary16", "to-odd", True),
]


@pytest.mark.parametrize("src", [F32, F64], ids=lambda d: d.name)
@pytest.mark.parametrize("case", ROUND_CASES, ids=lambda c: f"{c[0]}-{c[1]}")
@pytest.mark.parametrize("chunks", CHUNKS_3D, ids=str)
def test_round_is_the_numpy_call_whatever_the_chunks(src, case, chunks):
    fmt, rounding, saturate = case
    x = _data(src, (30, 20, 12), seed=11) / 400
    dx = da.from_array(x, chunks=chunks)
    y = halfkit.round(dx, fmt, rounding=rounding, saturate=saturate, seed=1234)
    assert isinstance(y, da.Array) and y.dtype == src and y.chunks == dx.chunks
    assert isinstance(y._meta, np.ndarray)
    want = halfkit.round(x, fmt, rounding=rounding, saturate=saturate, seed=1234)
    assert np.array_equal(bits(y.compute()), bits(want))


def test_round_without_a_seed_draws_one_per_call_not_per_compute():
    x = da.from_array(_data(F32, (40, 30), seed=12), chunks=(9, 7))
    y = halfkit.round(x, "float8_e5m2", rounding="stochastic")
    first = y.compute()
    assert np.array_equal(bits(first), bits(y.compute()))
    other = halfkit.round(x, "float8_e5m2", rounding="stochastic").compute()
    assert not np.array_equal(bits(first), bits(other))


@pytest.mark.parametrize("codes", [False, True], ids=["values", "codes"])
@pytest.mark.parametrize("rounding", ["stochastic", "nearest-away"])
@pytest.mark.parametrize("chunks", CHUNKS_3D[1:3], ids=str)
def test_fixed_point_is_the_numpy_call_whatever_the_chunks(codes, rounding, chunks):
    x = _data(F32, (30, 20, 12), seed=13) / 100
    x = np.where(np.isnan(x), 0, x).astype(F32)
    dx = da.from_array(x, chunks=chunks)
    kw = dict(integer_bits=3, fraction_bits=4, rounding=rounding, seed=99, codes=codes)
    with np.errstate(invalid="ignore"):  # a wrapped infinity has no code
        y = halfkit.fixed_point(dx, overflow="wrap", **kw)
        want = halfkit.fixed_point(x, overflow="wrap", **kw)
    assert y.dtype == want.dtype and y.chunks == dx.chunks
    assert np.array_equal(y.compute().view(want.dtype), want, equal_nan=not codes)


def test_fixed_point_reports_under_the_calls_errstate():
    x = da.from_array(np.array([1.0, np.nan, 2.0], F32), chunks=1)
    with np.errstate(invalid="raise"):
        y = halfkit.fixed_point(x, integer_bits=3, fraction_bits=0, codes=True)
    with pytest.raises(FloatingPointError):
        y.compute()
    with np.errstate(invalid="ignore"):
        quiet = halfkit.fixed_point(x, integer_bits=3, fraction_bits=0, codes=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert quiet.compute().tolist() == [1, 0, 2]


STORAGE = [ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e5m2fnuz, ml_dtypes.float4_e2m1fn]


@pytest.mark.parametrize("dt", STORAGE, ids=lambda t: np.dtype(t).name)
@pytest.mark.parametrize(
    "options", [{}, {"saturate": True}, {"rounding": "stochastic", "seed": 5}], ids=str
)
def test_storage_dtypes_are_the_numpy_call(dt, options):
    x = _data(F32, (30, 20, 12), seed=14) / 300
    dx = da.from_array(x, chunks=CHUNKS_3D[2])
    y = halfkit.astype(dx, dt, **options)
    assert y.dtype == dt and y.chunks == dx.chunks and y._meta.dtype == dt
    want = halfkit.astype(x, dt, **options)
    got = y.compute()
    assert np.array_equal(got.view(np.uint8), want.view(np.uint8))
    back = halfkit.astype(da.from_array(got, chunks=(7, 20, 12)), F64)
    assert back.dtype == F64
    assert np.array_equal(bits(back.compute()), bits(halfkit.astype(want, F64)))


def test_stochastic_bfloat16_and_float16_on_dask():
    x = _data(F64, (50, 40), seed=15)
    for dt in (BF16, F16):
        y = halfkit.astype(da.from_array(x, chunks=(13, 9)), dt, rounding="stochastic", seed=3)
        with np.errstate(over="ignore"):
            want = halfkit.astype(x, dt, rounding="stochastic", seed=3)
        assert y.dtype == dt and np.array_equal(bits(y.compute()), bits(want))


def test_new_functions_check_their_arguments_when_called():
    x = da.ones((4, 4), F32, chunks=2)
    with pytest.raises(ValueError, match="unknown rounding 'sideways'"):
        halfkit.round(x, "bfloat16", rounding="sideways")
    with pytest.raises(TypeError, match="x must be float32 or float64, got int32"):
        halfkit.round(da.ones(3, dtype=np.int32), "bfloat16")
    with pytest.raises(TypeError, match="immutable"):
        halfkit.round(x, "bfloat16", out=np.empty((4, 4), F32))
    with pytest.raises(ValueError, match="must have 1 to 64 bits"):
        halfkit.fixed_point(x, integer_bits=70, fraction_bits=0, codes=True)
    with pytest.raises(TypeError, match="immutable"):
        halfkit.fixed_point(x, integer_bits=3, fraction_bits=2, out=np.empty((4, 4), F32))
    with pytest.raises(TypeError, match="seed must be an integer"):
        halfkit.astype(x, ml_dtypes.float8_e4m3fn, rounding="stochastic", seed="a")
    with pytest.raises(TypeError, match="immutable"):
        halfkit.astype(x, ml_dtypes.float8_e4m3fn, out=np.empty((4, 4), ml_dtypes.float8_e4m3fn))


def test_on_a_local_cluster_of_two_processes():
    distributed = pytest.importorskip("distributed")
    x = _data(F32, (400, 300), seed=8)
    a, b = rand((64, 96), BF16, seed=9), rand((96, 48), BF16, seed=10)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        assert len(client.scheduler_info()["workers"]) == 2
        with np.errstate(over="ignore"):
            y = halfkit.to_bfloat16(da.from_array(x, chunks=(100, 75))).compute()
            z = halfkit.to_float16(da.from_array(x, chunks=(33, 300))).compute()
            assert np.array_equal(bits(y), bits(halfkit.to_bfloat16(x)))
            assert np.array_equal(bits(z), bits(halfkit.to_float16(x)))
        c = halfkit.matmul(da.from_array(a, chunks=(32, 24)), da.from_array(b, chunks=(24, 48)))
        check(c.compute(), a, b)
        dx = da.from_array(x / 300, chunks=(70, 45))
        r = halfkit.round(dx, "float8_e4m3fn", rounding="stochastic", seed=21).compute()
        want = halfkit.round(x / 300, "float8_e4m3fn", rounding="stochastic", seed=21)
        assert np.array_equal(bits(r), bits(want))
