"""The CUDA conversions on CuPy arrays, bit for bit against the CPU kernels. Skipped (with the
reason) where there is no CUDA module, no CuPy or no GPU."""

import halfkit
import ml_dtypes
import numpy as np
import pytest
from conftest import BF16, F16, F32, F64, PAIRS, all_16bit, assert_bits, nudged_ties, pair_id

CUDA = halfkit.kernel_info()["cuda"]


def test_cuda_state_is_reported():
    assert isinstance(CUDA["compiled"], bool)
    if CUDA["compiled"]:
        assert CUDA["device_count"] >= 0
        assert len(CUDA["devices"]) == CUDA["device_count"]
        if CUDA["device_count"] == 0:
            assert CUDA["no_device_reason"]


def _skip_reason():
    if not CUDA["compiled"]:
        return "halfkit was built without CUDA"
    try:
        import cupy  # noqa: F401
    except ImportError:
        return "CuPy is not installed"
    if CUDA["device_count"] == 0:
        return f"no GPU: {CUDA.get('no_device_reason', '')}"
    return None


gpu = pytest.mark.skipif(_skip_reason() is not None, reason=str(_skip_reason()))


def cpu_convert(x, dst):
    with np.errstate(over="ignore"):
        return halfkit.astype(x, dst)


def gpu_convert(x, dst, **kw):
    import cupy

    return cupy.asnumpy(halfkit.astype(cupy.asarray(x), dst, **kw))


@gpu
@pytest.mark.parametrize("dst", [F16, BF16], ids=lambda d: d.name)
def test_every_f32_input(dst):
    import cupy

    chunk = 1 << 28
    for start in range(0, 1 << 32, chunk):
        g = (
            cupy.arange(start, start + chunk, dtype=cupy.uint64)
            .astype(cupy.uint32)
            .view(cupy.float32)
        )
        got = cupy.asnumpy(halfkit.astype(g, dst))
        want = cpu_convert(cupy.asnumpy(g), dst)
        assert_bits(None, got, want)


@gpu
@pytest.mark.parametrize("pair", [p for p in PAIRS if p[0].itemsize == 2], ids=pair_id)
def test_every_16bit_input(pair):
    src, dst = pair
    x = all_16bit(src)
    assert_bits(None, gpu_convert(x, dst), cpu_convert(x, dst))


@gpu
@pytest.mark.parametrize("dst", [F16, BF16], ids=lambda d: d.name)
def test_f64_sources(dst):
    rng = np.random.default_rng(3)
    rand = rng.integers(0, 1 << 64, size=1 << 22, dtype=np.uint64).view(F64)
    with np.errstate(invalid="ignore"):
        near = all_16bit(dst).astype(F64)
    near = near[np.isfinite(near)]
    ties = nudged_ties(dst, 2.0**-124 if dst == BF16 else 2.0**-14)
    x = np.concatenate(
        [rand, near, (near[:-1] + near[1:]) / 2, np.nextafter(near, np.inf), ties, -ties]
    )
    assert_bits(None, gpu_convert(x, dst), cpu_convert(x, dst))


def _views(xp, dtype):
    base = xp.asarray(np.random.default_rng(1).standard_normal((9, 10, 11)).astype(dtype))
    return {
        "C": base,
        "F": xp.asfortranarray(base),
        "T": base.transpose(2, 0, 1),
        "negative": base[::-1, :, ::-2],
        "sliced": base[1::2, 2:9:3, 1:],
        "offset": base.reshape(-1)[3:1000],
        "0-d": base[1, 2, 3],
        "empty": base[:, :0],
    }


@gpu
@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
def test_layouts_and_out(pair):
    import cupy

    src, dst = pair
    for name, v in _views(cupy, src).items():
        want = cpu_convert(cupy.asnumpy(v), dst)
        got = halfkit.astype(v, dst)
        assert isinstance(got, cupy.ndarray) and got.dtype == dst and got.shape == v.shape, name
        assert_bits(None, cupy.asnumpy(got), want)
        out = cupy.empty(v.shape[::-1], dst).T
        assert halfkit.astype(v, dst, out=out) is out
        assert_bits(None, cupy.asnumpy(out), want)


@gpu
def test_overlapping_out():
    import cupy

    buf = cupy.asarray(np.random.default_rng(2).standard_normal(1000).astype(F32))
    want = cpu_convert(cupy.asnumpy(buf), F16)
    out = buf.view(cupy.float16)[5:1005]
    halfkit.astype(buf, F16, out=out)
    assert_bits(None, cupy.asnumpy(out), want)


@gpu
def test_user_stream():
    import cupy

    x = np.random.default_rng(4).standard_normal(1 << 24).astype(F32)
    want = cpu_convert(x, BF16)
    s = cupy.cuda.Stream(non_blocking=True)
    with s:
        g = cupy.asarray(x)
        y = halfkit.to_bfloat16(g)
        host = cupy.asnumpy(y, stream=s)
        s.synchronize()
    assert_bits(None, host, want)


@gpu
def test_shorthands_and_cupy_bf16_dtype():
    import cupy

    g = cupy.asarray(np.array([1.0, 2.5, -3.0], F32))
    b = halfkit.to_bfloat16(g)
    assert b.dtype == np.dtype(ml_dtypes.bfloat16)
    assert_bits(None, cupy.asnumpy(halfkit.to_float32(b)), np.array([1.0, 2.5, -3.0], F32))
    assert halfkit.to_float16(g).dtype == F16
    assert halfkit.astype(g, F64).dtype == F64  # numpy-compatible pair, done by CuPy


@gpu
def test_bad_inputs():
    import cupy

    g = cupy.ones(8, F32)
    with pytest.raises(TypeError, match="out is a CuPy array but x is not"):
        halfkit.astype(np.ones(8, F32), F16, out=cupy.empty(8, F16))
    with pytest.raises(TypeError, match="out must be a cupy.ndarray"):
        halfkit.astype(g, F16, out=np.empty(8, F16))
    with pytest.raises(TypeError, match="out has dtype"):
        halfkit.astype(g, F16, out=cupy.empty(8, F32))
    with pytest.raises(ValueError, match="out has shape"):
        halfkit.astype(g, F16, out=cupy.empty(9, F16))
    with pytest.raises(TypeError, match="source dtype int32"):
        halfkit.astype(cupy.ones(8, cupy.int32), F16)
    with pytest.raises(TypeError, match="not supported"):
        halfkit.astype(g, "int8")
