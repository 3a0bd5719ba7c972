"""halfkit.round, fixed_point and the small storage dtypes on CuPy arrays, bit for bit against
the CPU (whose tiers the other tests hold to the exact models), stochastic rounding included:
the same seed gives the same bits on both.

Every test runs twice: on a GPU (skipped, with the reason, where there is no CUDA module, no
CuPy or no GPU), and on the host with test_cupy_host's stand-in for CuPy and a stand-in for the
CUDA module whose entry points run the CPU kernels on what they are handed (the raw pointers,
element counts and spec tuples), which checks the Python layer's half everywhere."""

import ctypes
import sys
import types
import warnings

import halfkit
import ml_dtypes
import numpy as np
import pytest
from conftest import F32, F64, bits
from halfkit import _core, _gpu
from halfkit._dtypes import FORMAT
from test_cuda import _skip_reason
from test_cupy_host import _fake_cupy


def _flat(ptr, dtype, n):
    buf = (ctypes.c_char * (n * np.dtype(dtype).itemsize)).from_address(ptr)
    return np.frombuffer(buf, dtype)


_FLOAT = {4: F32, 8: F64}


def _host_round(x, y, n, elem_size, spec, index0, stream):
    assert len(spec) == 10 and index0 == 0
    dt = _FLOAT[elem_size]
    _core.round(_flat(x, dt, n), _flat(y, dt, n), spec)


def _host_encode(x, codes, n, elem_size, spec, encode_spec, index0, stream):
    assert index0 == 0
    _core.encode(_flat(x, _FLOAT[elem_size], n), _flat(codes, np.uint8, n), spec, encode_spec)


def _host_decode(codes, y, n, elem_size, table, stream):
    t = np.frombuffer(table, f"u{elem_size}")
    assert t.size == 256
    _flat(y, t.dtype, n)[...] = t[_flat(codes, np.uint8, n)]


def _host_fixed_point(x, y, n, elem_size, spec, out_bytes, seed, index0, stream):
    assert len(spec) == 8 and index0 == 0
    dt = _FLOAT[elem_size]
    out = _flat(y, dt if out_bytes == 0 else f"u{out_bytes}", n)
    _core.fixed_point(_flat(x, dt, n), out, spec, seed)


_DTYPES = {code: dt for dt, code in FORMAT.items()}


def _host_convert(src, dst, shape, src_strides, dst_strides, sf, df, stream, contiguous):
    s_dt, d_dt = _DTYPES[sf], _DTYPES[df]
    n = int(np.prod(shape))
    a = np.lib.stride_tricks.as_strided(_flat(src, s_dt, 1), shape, src_strides)
    b = np.lib.stride_tricks.as_strided(_flat(dst, d_dt, 1), shape, dst_strides, writeable=True)
    assert n == 0 or (a.size == n and b.size == n)
    with np.errstate(all="ignore"):
        halfkit.astype(a, d_dt, out=b)


HOST_CUDA = types.SimpleNamespace(
    round=_host_round,
    encode=_host_encode,
    decode=_host_decode,
    fixed_point=_host_fixed_point,
    convert=_host_convert,
)


@pytest.fixture(params=["host", "gpu"])
def cupy(request, monkeypatch):
    if request.param == "gpu":
        why = _skip_reason()
        if why is not None:
            pytest.skip(why)
        import cupy

        return cupy
    monkeypatch.setitem(sys.modules, "cupy", _fake_cupy())
    monkeypatch.setattr(_gpu, "_cuda", HOST_CUDA)
    return sys.modules["cupy"]


ROUNDINGS = ["nearest-even", "nearest-away", "toward-zero", "up", "down", "to-odd", "stochastic"]
FORMATS = {
    "float8_e4m3fn": "float8_e4m3fn",
    "float8_e5m2fnuz": "float8_e5m2fnuz",
    "float4_e2m1fn": "float4_e2m1fn",
    "bfloat16": "bfloat16",
    "binary16": "binary16",
    "e5m7 no nan": halfkit.Format(5, 7, nan=None, infinities=False),
    "e8m16": halfkit.Format(8, 16),
    "e11m40": halfkit.Format(11, 40),  # float64 sources only
}
STORAGE = [
    ml_dtypes.float8_e4m3fn,
    ml_dtypes.float8_e5m2,
    ml_dtypes.float8_e4m3fnuz,
    ml_dtypes.float8_e4m3b11fnuz,
    ml_dtypes.float6_e3m2fn,
    ml_dtypes.float4_e2m1fn,
]


def inputs(dt, n=200_003):
    """Random bit patterns (every class: subnormals, NaN payloads, infinities), values where
    the small formats have their subnormals and overflow, ties at several scales, zeros; an odd
    count, so that the GPU's packs leave a tail."""
    rng = np.random.default_rng(17)
    u = np.dtype(dt).itemsize * 8
    raw = rng.integers(0, 2**64, n, dtype=np.uint64).astype(f"u{u // 8}").view(dt)
    vals = (rng.standard_normal(n) * rng.choice([2.0**-12, 2.0**-6, 1, 300], n)).astype(dt)
    ties = ((np.arange(-512, 512) + 0.5) * 2.0**-9).astype(dt)
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 448, 449, 464, 57344, 61440], dt)
    return np.concatenate([raw, vals, ties, special])


def on_gpu(cupy, fn, x, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return cupy.asnumpy(fn(cupy.asarray(x), *args, **kw))


def on_cpu(fn, x, *args, **kw):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(x, *args, **kw)


@pytest.mark.parametrize("dt", [F32, F64], ids=["float32", "float64"])
@pytest.mark.parametrize("rounding", ROUNDINGS)
@pytest.mark.parametrize("name", FORMATS, ids=str)
def test_round_is_the_cpus(cupy, name, rounding, dt):
    fmt = FORMATS[name]
    if name == "e11m40" and dt == F32:
        pytest.skip("a float64 format")
    x = inputs(dt)
    for kw in ({}, {"saturate": True}, {"subnormals": False}):
        want = on_cpu(halfkit.round, x, fmt, rounding=rounding, seed=99, **kw)
        got = on_gpu(cupy, halfkit.round, x, fmt, rounding=rounding, seed=99, **kw)
        np.testing.assert_array_equal(bits(got), bits(want), err_msg=str(kw))


@pytest.mark.parametrize("dt", STORAGE, ids=lambda t: np.dtype(t).name)
def test_storage_is_the_cpus(cupy, dt):
    for src in (F32, F64):
        x = inputs(src)
        for kw in ({}, {"saturate": True}, {"rounding": "stochastic", "seed": 7}):
            want = on_cpu(halfkit.astype, x, dt, **kw)
            got = on_gpu(cupy, halfkit.astype, x, dt, **kw)
            np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8), err_msg=str(kw))
    codes = np.arange(256, dtype=np.uint8).view(dt)
    for target in (F32, F64, np.float16, ml_dtypes.bfloat16):
        want = on_cpu(halfkit.astype, codes, target)
        got = on_gpu(cupy, halfkit.astype, codes, target)
        np.testing.assert_array_equal(bits(got), bits(want))


def test_stochastic_bfloat16_and_float16_storage(cupy):
    x = inputs(F64)
    for dt in (ml_dtypes.bfloat16, np.float16):
        kw = {"rounding": "stochastic", "seed": 2**63 + 5}
        got = on_gpu(cupy, halfkit.astype, x, dt, **kw)
        np.testing.assert_array_equal(bits(got), bits(on_cpu(halfkit.astype, x, dt, **kw)))


WORDS = [(0, 7, True), (3, 4, True), (7, 8, True), (8, 0, False), (15, 16, True), (6, -2, True)]


@pytest.mark.parametrize("dt", [F32, F64], ids=["float32", "float64"])
@pytest.mark.parametrize("word", WORDS, ids=lambda w: f"Q{w[0]}.{w[1]}{'' if w[2] else 'u'}")
def test_fixed_point_is_the_cpus(cupy, word, dt):
    m, n, signed = word
    with np.errstate(all="ignore"):
        x = inputs(dt) * 2.0 ** (m - 2)
    for rounding in ROUNDINGS:
        for overflow in ("saturate", "wrap"):
            for codes in (False, True):
                if not codes and m + n > 24 and dt == F32:
                    continue
                kw = dict(
                    integer_bits=m, fraction_bits=n, signed=signed, rounding=rounding,
                    overflow=overflow, seed=3, codes=codes,
                )  # fmt: skip
                want = on_cpu(halfkit.fixed_point, x, **kw)
                got = on_gpu(cupy, halfkit.fixed_point, x, **kw)
                assert got.dtype == want.dtype
                np.testing.assert_array_equal(
                    got.view(f"u{got.itemsize}"), want.view(f"u{want.itemsize}"), err_msg=str(kw)
                )


def test_layouts_out_and_streams(cupy):
    x = inputs(F32, 6000)[:6000].reshape(60, 100)
    gx = cupy.asarray(x)
    for view in (gx.T, gx[::2, ::-3], cupy.asfortranarray(gx)):
        got = halfkit.round(view, "float8_e4m3fn", rounding="stochastic", seed=1)
        want = halfkit.round(cupy.asnumpy(view), "float8_e4m3fn", rounding="stochastic", seed=1)
        np.testing.assert_array_equal(bits(cupy.asnumpy(got)), bits(want))
    out = cupy.full((100, 60), 7, F32).T  # a view that is not C-contiguous
    r = halfkit.round(gx, "bfloat16", out=out)
    assert r is out
    np.testing.assert_array_equal(bits(cupy.asnumpy(out)), bits(halfkit.round(x, "bfloat16")))
    codes = cupy.empty((60, 100), ml_dtypes.float8_e5m2)
    stream = cupy.cuda.Stream(non_blocking=True)
    with stream:
        assert halfkit.astype(gx, ml_dtypes.float8_e5m2, out=codes) is codes
    stream.synchronize()
    want = halfkit.astype(x, ml_dtypes.float8_e5m2)
    np.testing.assert_array_equal(cupy.asnumpy(codes).view(np.uint8), want.view(np.uint8))
    q = halfkit.fixed_point(gx[:, 1:], integer_bits=3, fraction_bits=4, codes=True)
    assert isinstance(q, cupy.ndarray) and q.dtype == np.int8
    want = on_cpu(halfkit.fixed_point, x[:, 1:], integer_bits=3, fraction_bits=4, codes=True)
    np.testing.assert_array_equal(cupy.asnumpy(q), want)


def test_bad_arguments(cupy):
    gx = cupy.ones(8, F32)
    with pytest.raises(TypeError, match="out must be a cupy.ndarray"):
        halfkit.round(gx, "bfloat16", out=np.empty(8, F32))
    with pytest.raises(TypeError, match="x is not"):
        halfkit.round(np.ones(8, F32), "bfloat16", out=gx)
    with pytest.raises(ValueError, match="x's shape"):
        halfkit.fixed_point(gx, integer_bits=3, fraction_bits=4, out=cupy.ones(4, F32))
    with pytest.raises(ValueError, match="unknown rounding"):
        halfkit.round(gx, "bfloat16", rounding="sideways")
    with pytest.raises(TypeError, match="out must be a cupy.ndarray"):
        halfkit.astype(gx, ml_dtypes.float8_e4m3fn, out=np.empty(8, ml_dtypes.float8_e4m3fn))
