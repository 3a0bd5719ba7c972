"""halfkit.matmul on CuPy arrays: every GPU kernel (forced by name) against the float64 oracle
within the float32-accumulation bound, layouts, batches, out=, out_dtype and bad input. The GPU
tests skip (with the reason) without CUDA, CuPy or a GPU; the host-side layout rules run
everywhere."""

import halfkit
import numpy as np
import pytest
from conftest import BF16, F16, F32, bits
from halfkit._arrays import batch_offsets as offsets
from halfkit._gpu import tensor_friendly
from halfkit._matmul import _matmul
from test_cuda import _skip_reason, gpu
from test_matmul import check, rand

INPUTS = [F16, BF16]
# Tensor cores add with truncation (round toward zero) rather than to nearest, so each addition
# may lose a whole unit in the last place instead of half of one; blocks of products are
# aligned before they are summed. Three times the round-to-nearest bound covers that and
# still rejects a result with one k step dropped (test_gpu_bound_rejects_a_dropped_k_step).
ULPS = 3
CUDA = halfkit.kernel_info()["cuda"]
DEVICE_KERNELS = CUDA["devices"][0]["gemm_kernels"] if _skip_reason() is None else []
KERNELS = ["auto", "reference", "sm80", "sm90"]


def _kernel(name):
    if name != "auto" and name not in DEVICE_KERNELS:
        pytest.skip(f"GEMM kernel {name} does not run on this GPU (it runs {DEVICE_KERNELS})")
    return name


def gpu_matmul(a, b, kernel="auto", out=None, out_dtype=None):
    import cupy

    got = _matmul(cupy.asarray(a), cupy.asarray(b), out, out_dtype, kernel)
    assert isinstance(got, cupy.ndarray)
    return cupy.asnumpy(got)


SHAPES = [
    (1, 1, 1), (13, 17, 19), (2, 3, 5), (31, 1, 29),  # tiny, primes, k = 1
    (33, 77, 45), (127, 129, 255), (129, 65, 257),  # k not a multiple of 8, one past a tile
    (1, 300, 200), (200, 300, 1),  # GEMV both ways
    (37, 4099, 41),  # long k
    (300, 1000, 520), (512, 2048, 768),  # several tiles each way
]  # fmt: skip


@gpu
@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("dtype", INPUTS, ids=lambda d: d.name)
@pytest.mark.parametrize("mkn", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_gpu_shapes(kernel, dtype, mkn):
    m, k, n = mkn
    a = rand((m, k), dtype, seed=m * 7 + k)
    b = rand((k, n), dtype, seed=n * 3 + k)
    check(gpu_matmul(a, b, _kernel(kernel)), a, b, ulps=ULPS)


@gpu
@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("dtype", INPUTS, ids=lambda d: d.name)
def test_gpu_layouts(kernel, dtype):
    import cupy

    _kernel(kernel)
    base_a = cupy.asarray(rand((300, 280), dtype, seed=1))
    base_b = cupy.asarray(rand((280, 270), dtype, seed=2))
    odd_a = cupy.asarray(rand((120, 275), dtype, seed=3))  # rows of 550 bytes
    odd_b = cupy.asarray(rand((275, 130), dtype, seed=4))
    views = {
        "C": (base_a[:, :264], base_b[:264]),
        "A transposed (m-contiguous)": (base_a.T.copy().T, base_b),
        "B transposed (k-contiguous)": (base_a, base_b.T.copy().T),
        "both transposed": (base_a.T.copy().T[:200], base_b.T.copy().T[:, :100]),
        "row stride not a multiple of 8": (odd_a, odd_b),
        "base not 16-byte aligned": (base_a[1:, 3:], base_b[3:, 5:]),
        "strided": (base_a[::2, ::2], base_b[::2, ::2]),
        "negative": (base_a[::-1, ::-2], base_b[::-2, ::-3]),
    }
    # Views the tensor-core kernels read in place (the ones above with a transposed operand
    # are copied: a column stride of 600 bytes is not a multiple of 16).
    tall_a = cupy.asarray(rand((280, 304), dtype, seed=5)).T  # m-contiguous, columns 608 bytes
    wide_b = cupy.asarray(rand((280, 272), dtype, seed=6))  # rows of 544 bytes
    in_place = {
        "A m-contiguous, in place": (tall_a, wide_b),
        "both transposed, in place": (tall_a, cupy.asarray(rand((272, 280), dtype, seed=7)).T),
        "rows reversed, in place": (base_a[::-1], wide_b[::-1]),
    }
    for name, (a, b) in in_place.items():
        assert all(tensor_friendly(x.shape, x.strides, x.data.ptr) for x in (a, b)), name
    views.update(in_place)
    for name, (a, b) in views.items():
        if kernel == "sm90" and name == "rows reversed, in place":
            # TMA needs positive strides: forced, sm90 declines (auto runs sm80 instead).
            with pytest.raises(ValueError, match="cannot run these operands"):
                _matmul(a, b, None, None, kernel)
            continue
        got = _matmul(a, b, None, None, kernel)
        try:
            check(cupy.asnumpy(got), cupy.asnumpy(a), cupy.asnumpy(b), ulps=ULPS)
        except AssertionError as e:
            raise AssertionError(f"{name}: {e}") from None


def _in_place(cupy, x, rows_contiguous):
    """x (host, r x c) on the GPU as a view the tensor-core kernels read in place: rows (or
    columns) contiguous, padded to a multiple of 8 elements."""
    r, c = x.shape
    if rows_contiguous:
        host = np.zeros((r, -(-c // 8) * 8), x.dtype)
        host[:, :c] = x
        return cupy.asarray(host)[:, :c]
    host = np.zeros((c, -(-r // 8) * 8), x.dtype)
    host[:, :r] = x.T
    return cupy.asarray(host)[:, :r].T


@gpu
@pytest.mark.parametrize("kernel", KERNELS)
def test_gpu_many_tiles(kernel):
    """More output tiles than two per SM of an H100 or H200 (132 SMs), in all four layouts read
    in place: the persistent sm90 kernel then runs several tiles per CTA, each starting on
    another pipeline stage and barrier phase (3 and 5 k tiles of 64), and sm80 picks its
    128 x 256 configuration with its whole pipeline (the other tests fit in one tile per SM)."""
    import cupy

    _kernel(kernel)
    for (m, k, n), dtype in (((2200, 136, 4400), BF16), ((2085, 300, 4141), F16)):
        a = rand((m, k), dtype, seed=m)
        b = rand((k, n), dtype, seed=n)
        for a_rows in (True, False):
            for b_rows in (True, False):
                da, db = _in_place(cupy, a, a_rows), _in_place(cupy, b, b_rows)
                assert all(tensor_friendly(x.shape, x.strides, x.data.ptr) for x in (da, db))
                got = cupy.asnumpy(_matmul(da, db, None, None, kernel))
                try:
                    check(got, a, b, ulps=ULPS)
                except AssertionError as e:
                    layout = f"A rows {'' if a_rows else 'not '}contiguous, B rows " + (
                        "contiguous" if b_rows else "not contiguous"
                    )
                    raise AssertionError(f"{m}x{k}x{n} {layout}: {e}") from None


@gpu
@pytest.mark.parametrize("kernel", ["auto", "reference", "sm80"])
def test_gpu_batches_broadcast(kernel):
    _kernel(kernel)
    a = rand((3, 1, 50, 70), BF16, seed=3)
    b = rand((4, 70, 60), BF16, seed=4)
    got = gpu_matmul(a, b, kernel)
    assert got.shape == (3, 4, 50, 60)
    check(got, a, b, ulps=ULPS)
    a2 = rand((200, 8, 9), F16, seed=5)  # many small products, one shared B
    b2 = rand((9, 10), F16, seed=6)
    check(gpu_matmul(a2, b2, kernel), a2, b2, ulps=ULPS)
    v = rand(70, F16, seed=7)  # 1-D operands promoted and their axis removed
    mat = rand((5, 70, 3), F16, seed=8)
    got = gpu_matmul(v, mat, kernel)
    assert got.shape == (5, 3)
    check(got, v, mat, ulps=ULPS)


@gpu
def test_gpu_sm90_declines_batches():
    import cupy

    if "sm90" not in DEVICE_KERNELS:
        pytest.skip("no sm_90a GPU")
    a = cupy.asarray(rand((2, 64, 64), BF16))
    with pytest.raises(ValueError, match="cannot run these operands"):
        _matmul(a, a, None, None, "sm90")


@gpu
@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("out_dtype", [F32, F16, BF16], ids=lambda d: d.name)
def test_gpu_out_dtype_rounds_once(kernel, out_dtype):
    _kernel(kernel)
    a = rand((150, 300), BF16, seed=8)
    b = rand((300, 270), BF16, seed=9)
    got = gpu_matmul(a, b, kernel, out_dtype=out_dtype)
    assert got.dtype == out_dtype
    check(got, a, b, out_dtype, ulps=ULPS)
    f32 = gpu_matmul(a, b, kernel)
    with np.errstate(over="ignore"):
        assert np.array_equal(bits(got), bits(halfkit.astype(f32, out_dtype)))


@gpu
def test_gpu_out_argument():
    import cupy

    a = cupy.asarray(rand((3, 60, 80), F16))
    b = cupy.asarray(rand((80, 50), F16))
    ha, hb = cupy.asnumpy(a), cupy.asnumpy(b)
    out = cupy.empty((3, 60, 50), F32)
    assert halfkit.matmul(a, b, out=out) is out
    check(cupy.asnumpy(out), ha, hb, ulps=ULPS)
    strided = cupy.empty((3, 50, 60), F32).transpose(0, 2, 1)
    assert halfkit.matmul(a, b, out=strided) is strided
    check(cupy.asnumpy(strided), ha, hb, ulps=ULPS)
    odd = cupy.empty(3 * 60 * 50 + 1, F32)[1:].reshape(3, 60, 50)  # C-contiguous, base 4 mod 8
    halfkit.matmul(a, b, out=odd)
    check(cupy.asnumpy(odd), ha, hb, ulps=ULPS)
    out16 = cupy.empty((3, 60, 50), BF16)
    halfkit.matmul(a, b, out=out16)  # the result dtype follows out
    check(cupy.asnumpy(out16), ha, hb, BF16, ulps=ULPS)
    sq = cupy.asarray(rand((64, 64), F16, seed=3))
    want = cupy.asnumpy(halfkit.matmul(sq, sq, out_dtype=F16))
    halfkit.matmul(sq, sq, out=sq)  # out is an input
    assert np.array_equal(bits(cupy.asnumpy(sq)), bits(want))


@gpu
@pytest.mark.parametrize("kernel", KERNELS)
def test_gpu_special_values_and_empty(kernel):
    _kernel(kernel)
    a = rand((40, 60), F16, seed=10)
    b = rand((60, 70), F16, seed=11)
    a[3, 4] = np.inf
    a[5, 6] = np.nan
    b[7, 8] = -np.inf
    b[:, 20] = 0  # inf * 0 -> NaN
    got = gpu_matmul(a, b, kernel)
    check(got, a, b, ulps=ULPS)
    assert np.isnan(got[5]).all() and np.isnan(got[3, 20])
    zeros = gpu_matmul(np.empty((4, 0), BF16), np.empty((0, 3), BF16), kernel)
    assert zeros.shape == (4, 3) and not zeros.any()
    assert gpu_matmul(np.empty((0, 5), F16), rand((5, 2), F16), kernel).shape == (0, 2)


@gpu
def test_gpu_bound_rejects_a_dropped_k_step():
    a = rand((40, 64), BF16, seed=14)
    b = rand((64, 48), BF16, seed=15)
    good = gpu_matmul(a, b)
    check(good, a, b, ulps=ULPS)
    broken = good - np.outer(a[:, 17].astype(F32), b[17].astype(F32))
    with pytest.raises(AssertionError):
        check(broken, a, b, ulps=ULPS)


@gpu
def test_gpu_user_stream():
    import cupy

    a = rand((500, 700), BF16, seed=16)
    b = rand((700, 600), BF16, seed=17)
    s = cupy.cuda.Stream(non_blocking=True)
    with s:
        got = halfkit.matmul(cupy.asarray(a), cupy.asarray(b))
        host = cupy.asnumpy(got, stream=s)
        s.synchronize()
    check(host, a, b, ulps=ULPS)


@gpu
def test_gpu_bad_inputs():
    import cupy

    g = cupy.ones((4, 4), F16)
    with pytest.raises(TypeError, match="both numpy or both CuPy"):
        halfkit.matmul(g, np.ones((4, 4), F16))
    with pytest.raises(TypeError, match="out must be a cupy.ndarray"):
        halfkit.matmul(g, g, out=np.empty((4, 4), F32))
    with pytest.raises(TypeError, match="inputs are float32"):
        halfkit.matmul(cupy.ones((4, 4), F32), cupy.ones((4, 4), F32))
    with pytest.raises(ValueError, match="4 columns but b has 3 rows"):
        halfkit.matmul(g, cupy.ones((3, 4), F16))
    out = cupy.zeros((4, 5), F32)
    with pytest.raises(ValueError, match="out has shape"):
        halfkit.matmul(g, g, out=out)
    with pytest.raises(ValueError, match="unknown GEMM kernel"):
        _matmul(g, g, None, None, "sm70")


def test_tensor_friendly_rules():
    """Which operands the tensor-core kernels read in place (host-side, runs everywhere)."""
    x = np.zeros((4, 64, 48), F16)
    assert tensor_friendly(x.shape, x.strides, 256)
    assert not tensor_friendly((2, 8, 8), (18, 16, 2), 256)  # batch stride not 16-byte aligned
    assert tensor_friendly((1, 8, 8), (18, 16, 2), 256)  # ... but there is one matrix
    t = x.transpose(0, 2, 1)  # m-contiguous matrices
    assert tensor_friendly(t.shape, t.strides, 256)
    assert not tensor_friendly(x.shape, x.strides, 258)  # base not 16-byte aligned
    odd = np.zeros((64, 45), F16)
    assert not tensor_friendly(odd.shape, odd.strides, 256)  # row stride 90 bytes
    assert tensor_friendly((1, 45), odd.strides, 256)  # one row: its stride is never used
    s = x[:, ::2]
    assert tensor_friendly(s.shape, s.strides, 256)  # row stride 192 bytes
    assert not tensor_friendly(x[:, :, ::2].shape, x[:, :, ::2].strides, 256)  # no unit stride
    b = np.zeros((3, 64, 48), F16)[1:]
    assert tensor_friendly(b.shape, b.strides, 256)


def test_batch_offsets():
    a = np.zeros((3, 1, 5, 7), F16)
    off = offsets(a, (3, 4), 12)
    assert list(off) == [i // 4 * a.strides[0] for i in range(12)]
    b = np.zeros((4, 7, 6), F16)[:, ::-1]
    assert list(offsets(b, (3, 4), 12)) == [i % 4 * b.strides[0] for i in range(12)]
    assert list(offsets(np.zeros((5, 7), F16), (), 1)) == [0]
