"""halfkit.astype to and from ml_dtypes' 8-, 6- and 4-bit floating-point dtypes, bit for bit
as ml_dtypes 0.7.0's own astype (its NaN codes, its saturation of the finite-only formats, its
float64 flags), on every CPU tier; saturate=, and stochastic rounding through astype."""

import warnings

import halfkit
import ml_dtypes
import numpy as np
import pytest
from conftest import BF16, F16, F32, F64
from halfkit._formats import STORAGE

TIERS = halfkit._core.isa_supported()
STORAGE_DTYPES = list(STORAGE)


def _u(a):
    return np.asarray(a).view(f"u{np.asarray(a).itemsize}")


def _sources():
    rng = np.random.default_rng(1)
    f32 = np.concatenate(
        [
            np.arange(0, 1 << 32, 65521, dtype=np.uint64).astype(np.uint32).view(F32),
            (rng.standard_normal(1 << 15) * np.exp(rng.uniform(-25, 25, 1 << 15))).astype(F32),
            np.array([0x7F800001, 0xFFC00000, 0x7FA00000, 0xFF800000, 0x80000000], np.uint32).view(
                F32
            ),
        ]
    )
    f64 = np.concatenate(
        [
            rng.standard_normal(1 << 15) * np.exp(rng.uniform(-60, 60, 1 << 15)),
            f32[np.isfinite(f32)].astype(F64),
            np.array([1e300, -1e300, 1e-300, 2.0**-130, 1 + 2**-4 + 2**-30, 3.5e38]),
            np.array([0x7FF0000000000001, 0xFFF8000000000000], np.uint64).view(F64),
        ]
    )
    every16 = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
    return {F32: f32, F64: f64, F16: every16.view(F16), BF16: every16.view(BF16)}


SOURCES = _sources()


@pytest.mark.parametrize("dt", STORAGE_DTYPES, ids=str)
def test_to_storage_is_ml_dtypes_astype(dt, all_tiers):
    for src, x in SOURCES.items():
        with np.errstate(all="ignore"):
            want = x.astype(dt)
            for t in all_tiers:
                halfkit._core.set_isa(t)
                got = halfkit.astype(x, dt)
                assert got.dtype == dt
                bad = np.flatnonzero(_u(got) != _u(want))
                assert bad.size == 0, (t, src, x[bad][:4], _u(got)[bad][:4], _u(want)[bad][:4])


@pytest.mark.parametrize("dt", STORAGE_DTYPES, ids=str)
def test_from_storage_is_ml_dtypes_astype(dt, all_tiers):
    # Every code (float6/float4 bytes with bits above the format included) in each of the 256
    # positions of a decoding block, and a tail.
    codes = np.arange(256 * 256 + 5, dtype=np.uint8)
    codes[:65536] = (codes[:65536].reshape(256, 256) + np.arange(256)[:, None]).ravel()
    codes = codes.view(dt)
    for t in all_tiers:
        halfkit._core.set_isa(t)
        for target in [F32, F64, F16, BF16, *STORAGE_DTYPES]:
            want = codes.astype(target)
            got = halfkit.astype(codes, target)
            assert got.dtype == target
            np.testing.assert_array_equal(_u(got), _u(want), err_msg=f"{t}: {dt} -> {target}")


def _report(call):
    with warnings.catch_warnings(record=True) as seen, np.errstate(all="warn"):
        warnings.simplefilter("always")
        call()
    with np.errstate(all="raise"):
        try:
            call()
            raised = None
        except FloatingPointError as e:
            raised = str(e)
    return [str(w.message) for w in seen], raised, [w.filename for w in seen]


@pytest.mark.parametrize("dt", STORAGE_DTYPES, ids=str)
@pytest.mark.parametrize(
    "values", [[1e300], [-1e300], [1e-300], [2.0**-130], [3.5e38], [1.0, 1e300, 1e-300]], ids=str
)
def test_float64_flags_are_ml_dtypes(dt, values):
    x = np.array(values)
    warned, raised, where = _report(lambda: halfkit.astype(x, dt))
    assert (warned, raised) == _report(lambda: x.astype(dt))[:2]
    assert all(f == __file__ for f in where)
    # float32 sources raise nothing, as ml_dtypes' cast
    y = np.array([3e38, 1e-40], F32)
    assert _report(lambda: halfkit.astype(y, dt))[:2] == _report(lambda: y.astype(dt))[:2]
    assert _report(lambda: halfkit.astype(y, dt))[:2] == ([], None)


@pytest.mark.parametrize("dt", STORAGE_DTYPES, ids=str)
def test_saturate(dt):
    fmt = STORAGE[dt]
    top = fmt.max
    x = np.array([top * 4, -top * 4, np.inf, -np.inf, np.nan, top, 1.0], F32)
    got = halfkit.astype(x, dt, saturate=True).astype(F32)
    np.testing.assert_array_equal(got[:4], [top, -top, top, -top])
    assert np.isnan(got[4]) == (fmt.nan is not None)
    np.testing.assert_array_equal(got[5:], [top, 1.0])


def test_stochastic_astype():
    rng = np.random.default_rng(4)
    x = rng.standard_normal(100_000).astype(F32)
    for dt in (BF16, F16, np.dtype(ml_dtypes.float8_e4m3fn)):
        a = halfkit.astype(x, dt, rounding="stochastic", seed=9)
        b = halfkit.astype(x, dt, rounding="stochastic", seed=9)
        fmt = halfkit.Format.from_dtype(dt)
        r = halfkit.round(x, fmt, rounding="stochastic", seed=9)
        assert a.dtype == dt and a.tobytes() == b.tobytes()
        np.testing.assert_array_equal(a.astype(F32), r)  # the same draws as halfkit.round
        assert a.tobytes() != halfkit.astype(x, dt, rounding="stochastic", seed=10).tobytes()
    v = np.full(200_000, 1 + 2**-10, F32)  # an eighth of a bfloat16 quantum above 1
    up = (halfkit.astype(v, BF16, rounding="stochastic", seed=1).astype(F32) > 1).mean()
    assert abs(up - 1 / 8) < 0.004
    z = halfkit.astype(v, BF16, rounding="toward-zero")
    assert (z.astype(F32) == 1).all()


def test_layouts_scalars_and_out():
    dt = np.dtype(ml_dtypes.float8_e5m2)
    x = np.random.default_rng(5).standard_normal((20, 30)).astype(F32)
    want = x.astype(dt)
    np.testing.assert_array_equal(_u(halfkit.astype(x.T, dt)), _u(want.T))
    assert halfkit.astype(np.asfortranarray(x), dt).flags.f_contiguous
    np.testing.assert_array_equal(_u(halfkit.astype(x.astype(">f4"), dt)), _u(want))
    out = np.zeros((20, 60), dt)[:, ::2]
    assert halfkit.astype(x, dt, out=out) is out
    np.testing.assert_array_equal(_u(out), _u(want))
    s = halfkit.astype(np.float32(1.3), dt)
    assert type(s) is ml_dtypes.float8_e5m2 and float(s) == float(np.float32(1.3).astype(dt))
    back = np.empty((20, 30), F16)
    assert halfkit.astype(want, F16, out=back) is back
    np.testing.assert_array_equal(_u(back), _u(want.astype(F16)))


def test_bad_arguments_write_nothing():
    x = np.ones(4, F32)
    out = np.zeros(4, ml_dtypes.float8_e4m3fn)
    cases = [
        (ValueError, "unknown rounding", dict(rounding="nearest")),
        (TypeError, "saturate must be True or False", dict(saturate=1)),
        (TypeError, "seed must be an integer", dict(seed="x")),
        (TypeError, "out has dtype", dict(out=np.zeros(4, F16))),
        (ValueError, "out has shape", dict(out=np.zeros(5, ml_dtypes.float8_e4m3fn))),
    ]
    for exc, msg, kw in cases:
        args = dict(out=out)
        args.update(kw)
        with pytest.raises(exc, match=msg):
            halfkit.astype(x, ml_dtypes.float8_e4m3fn, **args)
        assert (out.view(np.uint8) == 0).all()
    with pytest.raises(TypeError, match="float8_e8m0fnu is not supported"):
        halfkit.astype(x, ml_dtypes.float8_e8m0fnu)
    with pytest.raises(TypeError, match="source dtype int32"):
        halfkit.astype(np.ones(3, np.int32), ml_dtypes.float8_e4m3fn)
    da = pytest.importorskip("dask.array")
    with pytest.raises(TypeError, match="source dtype int32"):  # checked when called, not computed
        halfkit.astype(da.ones(4, chunks=2, dtype=np.int32), ml_dtypes.float8_e4m3fn)


@pytest.mark.parametrize("dt", STORAGE_DTYPES, ids=str)
def test_every_value_midpoint_and_neighbour_is_ml_dtypes_astype(dt, all_tiers):
    """float32 inputs at every finite value of the format, at every midpoint between two
    neighbours (the ties), one float32 ulp either side of both, and past the largest value:
    each tier's nearest-even encoding against ml_dtypes 0.7.0's astype."""
    values = np.unique(np.arange(256, dtype=np.uint8).view(dt).astype(F64))
    values = values[np.isfinite(values)]
    mids = (values[:-1] + values[1:]) / 2
    top = values[-1]
    base = np.concatenate([values, mids, [top * 1.0625, top * 1.125, top * 2, 1e30]]).astype(F32)
    base = np.concatenate([base, -base])
    x = np.concatenate(
        [base, np.nextafter(base, np.float32(np.inf)), np.nextafter(base, np.float32(-np.inf))]
    )
    with np.errstate(all="ignore"):
        want = x.astype(dt)
        for t in all_tiers:
            halfkit._core.set_isa(t)
            for saturate in (False, True):
                got = halfkit.astype(x, dt, saturate=saturate)
                if saturate:
                    big = np.abs(x) > top
                    expect = _u(want).copy()
                    expect[big] = _u(np.where(x[big] > 0, top, -top).astype(dt))
                else:
                    expect = _u(want)
                bad = np.flatnonzero(_u(got) != expect)
                assert bad.size == 0, (t, saturate, x[bad][:4], _u(got)[bad][:4], expect[bad][:4])
