"""halfkit.matmul: every tier against a float64 oracle within the float32-accumulation bound,
np.matmul's shape semantics, out=, out_dtype, special values and bad input."""

import halfkit
import ml_dtypes
import numpy as np
import pytest
from conftest import BF16, F16, F32, SIMD_TIERS, TIERS, assert_bits, bits
from halfkit import _core
from halfkit._matmul import _matmul

INPUTS = [F16, BF16]
# Whether the avx512bf16 tier multiplies bfloat16 with VDPBF16PS here (else with the avx512
# tier's FMA kernel and bits).
VDP = halfkit.kernel_info()["avx512bf16_gemm"] == "vdpbf16ps"


def rand(shape, dtype, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) * scale).astype(dtype)


def oracle(a, b):
    with np.errstate(invalid="ignore"):  # inf * 0 in special-value tests
        return np.matmul(a.astype(np.float64), b.astype(np.float64))


def bound(a, b, out_dtype=F32, ulps=1):
    """|error| allowed per element: float32 accumulation over k products (k * 2^-24 relative to
    sum |a||b|, times `ulps` for adders that truncate), an absolute 2^-126 per product for
    flushed subnormals (VDPBF16PS), and one rounding of a 16-bit output type."""
    k = a.shape[-1]
    with np.errstate(invalid="ignore"):
        mag = np.matmul(np.abs(a.astype(np.float64)), np.abs(b.astype(np.float64)))
    tol = ulps * (k + 1) * 2.0**-24 * mag + k * 2.0**-126 * (1 + mag)
    if out_dtype == F16:
        tol += np.abs(oracle(a, b)) * 2.0**-11 + 2.0**-25
    elif out_dtype == BF16:
        tol += np.abs(oracle(a, b)) * 2.0**-8 + 2.0**-134
    return tol


def check(got, a, b, out_dtype=F32, ulps=1):
    want = oracle(a, b)
    assert got.shape == want.shape
    assert got.dtype == out_dtype
    g = got.astype(np.float64)
    finite = np.isfinite(want)
    assert np.array_equal(np.isnan(g), np.isnan(want)), "NaN pattern differs"
    assert np.array_equal(g[~finite & ~np.isnan(want)], want[~finite & ~np.isnan(want)])
    err = np.abs(g[finite] - want[finite])
    tol = bound(a, b, out_dtype, ulps)[finite]
    worst = np.argmax(err - tol) if err.size else 0
    assert np.all(err <= tol), f"error {err.flat[worst]:.3g} over bound {tol.flat[worst]:.3g}"


SHAPES = [
    (1, 1, 1), (1, 7, 1), (13, 17, 19), (2, 3, 5), (31, 1, 29),  # tiny, primes, k = 1
    (15, 7, 33), (14, 64, 32), (29, 257, 65), (5, 515, 3),  # tile edges, odd k
    (300, 20, 7), (7, 20, 300),  # tall, wide
    (1, 300, 200), (200, 300, 1),  # GEMV both ways
    (37, 4099, 41),  # large k (several k blocks)
    (70, 600, 4200),  # more than one column block of B
    (703, 530, 90),  # too many rows to pack A whole: the blocked path, two k blocks, a part panel
]  # fmt: skip


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("dtype", INPUTS, ids=lambda d: d.name)
@pytest.mark.parametrize("mkn", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_shapes(tier, dtype, mkn):
    m, k, n = mkn
    a = rand((m, k), dtype, seed=m * 7 + k)
    b = rand((k, n), dtype, seed=n * 3 + k)
    check(_matmul(a, b, None, None, tier), a, b)


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("dtype", INPUTS, ids=lambda d: d.name)
def test_views(tier, dtype):
    base_a = rand((90, 80), dtype, seed=1)
    base_b = rand((80, 70), dtype, seed=2)
    views = [
        (base_a[:45, :40], base_b[:40, :35]),
        (base_a.T[:40, :45].T, base_b.T[:35, :40].T),  # transposed views
        (base_a[::2, ::2], base_b[::2, ::2]),
        (base_a[::-1, ::-3], base_b[::-3, ::-1]),
        (np.asfortranarray(base_a), np.asfortranarray(base_b)),
        (base_a[:, :70].T.copy().T, base_b[:70]),
    ]
    for a, b in views:
        check(_matmul(a, b, None, None, tier), a, b)


@pytest.mark.parametrize("dtype", INPUTS, ids=lambda d: d.name)
def test_fast_path(dtype):
    """Operands other than two 1-D ones are checked in C++ (_core.matmul_fast): the same bits
    as the general path for every layout, broadcast and 1-D promotion, and None (the general
    path decides) for everything else."""
    base_a = rand((90, 80), dtype, seed=1)
    base_b = rand((80, 70), dtype, seed=2)
    stack_a = rand((3, 1, 5, 7), dtype, seed=3)
    stack_b = rand((4, 7, 6), dtype, seed=4)
    for a, b in [
        (base_a[:45, :40], base_b[:40, :35]),
        (base_a.T[:40, :45].T, base_b.T[:35, :40].T),
        (base_a[::-1, ::-3], base_b[::-3, ::-1]),
        (np.asfortranarray(base_a), base_b),
        (np.empty((4, 0), dtype), np.empty((0, 3), dtype)),
        (stack_a, stack_b),  # (3, 1) against (4,): broadcast to (3, 4)
        (stack_b.transpose(0, 2, 1), stack_b[:1]),  # batch 4 against 1
        (base_a[:6, :7], stack_b[::-2]),  # a matrix against a reversed, strided stack
        (stack_a[:, :, ::-1], base_b[:7, :9]),
        (rand((2, 3, 4, 5), dtype, seed=5), base_b[:5, :6]),  # two batch axes
        (base_a[:4, :5], rand((2, 3, 5, 6), dtype, seed=6)[:, ::-1]),
        (np.empty((0, 2, 3), dtype), np.empty((3, 4), dtype)),  # an empty batch
        (base_a[3, :80], base_b),  # 1-D operands, promoted and their dimension removed
        (base_a[:45, ::-2], base_b[::-2, 5]),
        (base_b[:7, 2], stack_b),
        (stack_a, base_b[::-1, 0][:7]),
        (base_a[:9, :80], base_b[:, 0:1]),  # W @ x: dot products on the transposes
        (rand((300, 64), dtype, seed=7), rand(64, dtype, seed=8)),
    ]:
        want = _matmul(a, b, None, None, "")
        got = _core.matmul_fast(a, b, None)
        assert got is not None and got.dtype == F32 and got.flags.c_contiguous
        assert got.shape == want.shape
        assert np.array_equal(bits(got), bits(want))
        out = np.full(want.shape, np.nan, F32)
        assert _core.matmul_fast(a, b, out) is out
        assert np.array_equal(bits(out), bits(want))
    a, b = base_a[:6, :5], base_b[:5, :4]
    ro = np.empty((6, 4), F32)
    ro.flags.writeable = False
    raw = np.zeros(6 * 161 + 10, np.uint8)
    odd = np.ndarray((6, 5), dtype, buffer=raw, strides=(161, 2))
    odd_batch = np.ndarray((2, 6, 5), dtype, buffer=raw, strides=(81, 10, 2))
    buf = np.zeros(200, F32)
    shared = buf[:24].reshape(6, 4)
    declined = [
        (a[0], b[:, 0], None),  # both 1-D: a 0-d result
        (a[0], b, np.empty((1, 4), F32)),  # out keeps the promoted dimension
        (rand((3, 6, 5), dtype), rand((2, 5, 4), dtype), None),  # batches do not broadcast
        (a, b.astype(BF16 if dtype == F16 else F16), None),  # mixed inputs
        (a.astype(F32), b.astype(F32), None),  # not 16-bit
        (odd, b, None),  # odd row stride: the general path copies it
        (odd_batch, b, None),  # odd batch stride
        (a, b, np.empty((6, 4), F32, order="F")),
        (a, b, np.empty((6, 4), F16)),  # a 16-bit result
        (a, b, np.empty((6, 5), F32)),
        (a, b, np.empty((1, 6, 4), F32)),
        (a, b, ro),
        (buf[20:50].view(dtype).reshape(6, 10)[:, :5], b, shared),  # out overlaps a
    ]
    for x, y, out in declined:
        assert _core.matmul_fast(x, y, out) is None
    x = buf[:60].view(dtype).reshape(6, 20)[:, :5]  # shares memory with out below
    x[:] = a
    got = halfkit.matmul(x, b, out=shared)
    assert np.array_equal(bits(got), bits(_matmul(a, b, None, None, "")))


@pytest.mark.parametrize("tier", TIERS)
def test_batches_broadcast(tier):
    a = rand((3, 1, 5, 7), BF16, seed=3)
    b = rand((4, 7, 6), BF16, seed=4)
    got = _matmul(a, b, None, None, tier)
    assert got.shape == (3, 4, 5, 6)
    check(got, a, b)
    a2 = rand((64, 8, 9), F16, seed=5)  # many small products
    b2 = rand((9, 10), F16, seed=6)
    check(_matmul(a2, b2, None, None, tier), a2, b2)
    bt = rand((5, 6, 9), F16, seed=7)[:, ::-1].transpose(0, 2, 1)
    check(_matmul(rand((5, 3, 9), F16), bt, None, None, tier), rand((5, 3, 9), F16), bt)


@pytest.mark.parametrize("dtype", INPUTS, ids=lambda d: d.name)
def test_one_dimensional_operands(dtype):
    v = rand(7, dtype)
    mat = rand((7, 4), dtype)
    for a, b in ((v, mat), (mat.T, v), (v, v), (rand((2, 3, 7), dtype), v)):
        got = halfkit.matmul(a, b)
        assert got.shape == np.matmul(a.astype(F32), b.astype(F32)).shape
        check(got, a, b)


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("out_dtype", [F32, F16, BF16], ids=lambda d: d.name)
def test_out_dtype_rounds_once(tier, out_dtype):
    a = rand((33, 70), BF16, seed=8)
    b = rand((70, 17), BF16, seed=9)
    got = _matmul(a, b, None, out_dtype, tier)
    check(got, a, b, out_dtype)
    f32 = _matmul(a, b, None, None, tier)
    assert np.array_equal(bits(got), bits(halfkit.astype(f32, out_dtype)))


def test_out_argument():
    a = rand((3, 6, 8), F16)
    b = rand((8, 5), F16)
    out = np.empty((3, 6, 5), F32)
    assert halfkit.matmul(a, b, out=out) is out
    check(out, a, b)
    strided = np.empty((3, 5, 6), F32).transpose(0, 2, 1)
    halfkit.matmul(a, b, out=strided)
    check(strided, a, b)
    out16 = np.empty((3, 6, 5), BF16)
    halfkit.matmul(a, b, out=out16)  # the result dtype follows out
    check(out16, a, b, BF16)


def test_result_starts_on_a_cache_line():
    """A result matmul allocates is float32 data on a 64-byte boundary (a view of a byte buffer),
    C-contiguous and writeable, on the fast path (matrices, stacks, 1-D operands) and the
    general one (here byte-swapped operands), and stays valid after its operands go."""
    for a, b in (
        (rand((1000, 64), F16), rand((64, 300), F16)),
        (rand((7, 33, 16), BF16), rand((16, 5), BF16)),
        (rand((64,), F16), rand((64, 1000), F16)),
        (rand((3, 1, 9, 8), F16), rand((4, 8, 2), F16)),
        (rand((9, 8), F16).astype(">f2"), rand((8, 300), F16).astype(">f2")),
    ):
        expect = np.matmul(a.astype(np.float64), b.astype(np.float64)).shape
        got = halfkit.matmul(a, b)
        assert got.dtype == F32 and got.shape == expect
        assert got.ctypes.data % 64 == 0 and got.flags.c_contiguous and got.flags.writeable
        check(got, a, b)
        again = halfkit.matmul(a.copy(), b.copy())
        del a, b
        assert np.array_equal(bits(got), bits(again))
        got[...] = 1.0
        assert (got == 1.0).all()


def test_k_zero_and_empty():
    a = np.empty((4, 0), BF16)
    b = np.empty((0, 3), BF16)
    got = halfkit.matmul(a, b)
    assert got.shape == (4, 3) and not got.any()
    assert halfkit.matmul(np.empty((0, 5), F16), rand((5, 2), F16)).shape == (0, 2)
    assert halfkit.matmul(np.empty((2, 0, 5), F16), rand((5, 2), F16)).shape == (2, 0, 2)


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("dtype", INPUTS, ids=lambda d: d.name)
def test_special_values(tier, dtype):
    a = rand((20, 30), dtype, seed=10)
    b = rand((30, 40), dtype, seed=11)
    a[3, 4] = np.inf
    a[5, 6] = np.nan
    b[7, 8] = -np.inf
    b[:, 20] = 0  # inf * 0 -> NaN, as IEEE says
    got = _matmul(a, b, None, None, tier)
    check(got, a, b)
    assert np.isnan(got[5]).all() and np.isnan(got[3, 20])


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("dtype", INPUTS, ids=lambda d: d.name)
def test_special_values_gemv(tier, dtype):
    """A few rows stream B four rows at a time: an inf in a short last group of rows, or
    at a block boundary of k, must stay inf (not become 0 * inf = NaN)."""
    for m, k, n in ((1, 5, 40), (3, 7, 70), (2, 261, 33), (1, 600, 300), (7, 261, 300)):
        a = rand((m, k), dtype, seed=k)
        b = rand((k, n), dtype, seed=n)
        b[k - 1, 0] = np.inf
        b[k // 2, 1] = -np.inf
        b[k - 2, 2] = np.nan
        for bb in (b, np.asfortranarray(b)):  # rows contiguous, then columns contiguous
            got = _matmul(a, bb, None, None, tier)
            check(got, a, bb)


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("dtype", INPUTS, ids=lambda d: d.name)
def test_gemv_layouts(tier, dtype):
    """Up to 4 rows against B stored k-contiguous (x @ W.T: dot products, B read once for all
    the rows), with A column-major too, and against B strided both ways (packed instead). A row
    gives the same bits alone as among others."""
    for m, k, n in ((2, 300, 37), (3, 130, 5), (4, 64, 17), (4, 1000, 50), (1, 70, 9)):
        a = rand((m, k), dtype, seed=m + k)
        w = rand((n, k), dtype, seed=n + k)
        strided = rand((2 * k, 3 * n), dtype, seed=k)[::2, ::3]
        for aa, bb in ((a, w.T), (np.asfortranarray(a), w.T), (a, strided)):
            check(_matmul(aa, bb, None, None, tier), aa, bb)
        whole = _matmul(a, w.T, None, None, tier)
        for i in range(m):
            assert np.array_equal(_matmul(a[i : i + 1], w.T, None, None, tier), whole[i : i + 1])
    # B's rows contiguous (x @ W), up to 8 rows: four rows in one sweep of B (two on AVX2), each
    # element summed in order of k, so the scalar tier's bits, and a row's bits alone.
    shapes = [(2, 300, 37), (3, 258, 47), (4, 1000, 50), (4, 261, 70), (2, 7, 100)]
    for m, k, n in shapes + [(5, 261, 70), (6, 600, 40), (8, 300, 100), (7, 1030, 45)]:
        a = rand((m, k), dtype, seed=m + k)
        b = rand((k, n), dtype, seed=n)
        got = _matmul(a, b, None, None, tier)
        check(got, a, b)
        assert_bits(None, got, _matmul(a, b, None, None, "scalar"), f"{m}x{k}x{n}")
        for i in range(m):
            alone = _matmul(a[i : i + 1], b, None, None, tier)
            assert np.array_equal(bits(alone), bits(got[i : i + 1])), f"{m}x{k}x{n} row {i}"
    # Up to 4 columns of B against A's rows contiguous (W @ x): the dot products of x @ W.T on
    # the transposes, so exactly the bits of (x.T @ W.T).T; from 1-D vectors and in stacks too.
    for m, k, n in (
        (300, 64, 1),
        (70, 700, 4),
        (9, 100, 3),
        (2100, 96, 2),
        (40, 1030, 1),
        (50, 40, 2),
    ):
        w = rand((m, k), dtype, seed=m)
        x = rand((k, n), dtype, seed=k)
        w[m // 2, k // 3] = np.inf
        for xx in (x, np.asfortranarray(x), x[::-1]):
            got = _matmul(w, xx, None, None, tier)
            check(got, w, xx)
            assert np.array_equal(bits(got), bits(_matmul(xx.T, w.T, None, None, tier).T))
    w, v = rand((500, 300), dtype, seed=1), rand(300, dtype, seed=2)
    assert np.array_equal(
        bits(_matmul(w, v, None, None, tier)), bits(_matmul(v, w.T, None, None, tier))
    )
    ws, vs = rand((5, 70, 130), dtype, seed=3), rand((5, 130, 2), dtype, seed=4)
    got = _matmul(ws, vs, None, None, tier)
    check(got, ws, vs)
    for i in range(5):
        assert np.array_equal(bits(got[i]), bits(_matmul(vs[i].T, ws[i].T, None, None, tier).T))
    # Past 2^20 k steps the rows would be widened into a buffer that grows with k: packed instead.
    a = rand((2, (1 << 20) + 7), dtype, seed=5)
    w = rand((3, (1 << 20) + 7), dtype, seed=6)
    check(_matmul(a, w.T, None, None, tier), a, w.T)


@pytest.mark.parametrize("tier", SIMD_TIERS)
@pytest.mark.parametrize("dtype", INPUTS, ids=lambda d: d.name)
def test_small_products(tier, dtype):
    """Products of one block of k (512) whose packed B is small skip packing A into panels: A's
    rows are read as stored. Every tile of rows (4, 8, 14 on AVX-512; 4, 6 on AVX2) and its
    zero rows, one and two vectors of columns and several panels of them, k from 1 to 512 and
    just past it, strided and reversed rows, every B layout, stacks run one product per task
    and tall products split over the threads: the same bits as the scalar reference (a product
    of two 16-bit values is exact in float32 and both add in order of k), within the bound, and
    the same bits whichever rows a product is split into."""
    vdp = tier == "avx512bf16" and dtype == BF16 and VDP  # VDPBF16PS: its own roundings

    def same_as_scalar(a, b, label):
        got = _matmul(a, b, None, None, tier)
        check(got, a, b)
        # Up to 4 rows against a k-contiguous B: dot products summed in lanes (see gemv).
        dots = a.shape[-2] <= 4 and b.strides[-2] == 2 and b.strides[-1] != 2
        if not vdp and not dots:
            assert_bits(None, got, _matmul(a, b, None, None, "scalar"), label)
        return got

    shapes = [(1, 1, 1), (3, 5, 2), (5, 16, 16), (8, 9, 8), (9, 33, 17), (13, 7, 31)]
    shapes += [(16, 16, 16), (17, 64, 32), (29, 100, 23), (64, 512, 9), (6, 513, 12)]
    shapes += [(11, 37, 13), (7, 130, 5), (20, 64, 100), (9, 16, 300), (3, 40, 70)]
    for m, k, n in shapes:
        base_a = rand((2 * m, k + 3), dtype, seed=m + k)
        base_b = rand((k, n), dtype, seed=n + k)
        layouts = (base_b, np.asfortranarray(base_b), base_b[::-1], base_b[::-1, ::-1])
        for a in (base_a[:m, :k], base_a[::-2, 3:]):
            for b in layouts:
                same_as_scalar(a, b, f"{m}x{k}x{n}")
        if not vdp and m > 1 and k <= 512:
            a = base_a[:m, :k]
            whole = _matmul(a, base_b, None, None, tier)
            top = _matmul(a[: m // 2], base_b, None, None, tier)
            assert np.array_equal(bits(top), bits(whole[: m // 2])), f"{m}x{k}x{n} split"
    # Stacks: each product runs whole in one task (told it has one thread).
    halfkit.set_num_threads(2)
    same_as_scalar(rand((64, 16, 16), dtype, seed=3), rand((16, 16), dtype, seed=4), "stack 16^3")
    a = rand((40, 12, 7), dtype, seed=9)[:, ::-1]
    same_as_scalar(a, rand((120, 7, 5), dtype, seed=10)[::3, ::-1], "stack reversed rows")
    same_as_scalar(rand((300, 4, 4), dtype, seed=11), rand((300, 4, 4), dtype, seed=12), "4^3")
    q = rand((6, 128, 64), dtype, seed=5)
    kt = rand((6, 128, 64), dtype, seed=6).swapaxes(-1, -2)
    same_as_scalar(q, kt, "stack Q @ K.T")
    same_as_scalar(rand((3, 1, 20, 64), dtype, seed=7), rand((4, 64, 100), dtype, seed=8), "bcast")
    # Enough rows to share over the threads: tiles split between tasks.
    for k, n in ((200, 12), (200, 20), (64, 70)):
        a = rand((3000, k), dtype, seed=n)
        b = rand((k, n), dtype, seed=2)
        same_as_scalar(a, b, f"3000x{k}x{n}")
        a[1234, 5] = np.inf
        b[7, 3] = np.nan
        got = _matmul(a, b, None, None, tier)
        assert np.isnan(got[:, 3]).all() and np.isinf(got[1234, np.arange(n) != 3]).all()


def test_avx512bf16_kernel_follows_the_cpu():
    """VDPBF16PS only where it was not measured slower than widening to float32 and FMA: not on
    cores with AVX512-FP16 or AMX. Where the FMA kernel is used, the bits are the avx512 tier's."""
    info = halfkit.kernel_info()
    later_core = {"avx512_fp16", "amx_bf16"} & set(info["cpu_features"])
    if "avx512bf16" not in info["isa_supported"]:
        assert info["avx512bf16_gemm"] is None
        return
    assert info["avx512bf16_gemm"] == ("fma" if later_core else "vdpbf16ps")
    if "avx512bf16" not in TIERS or VDP:
        return
    for m, k, n in ((1, 300, 200), (16, 16, 16), (300, 530, 70)):
        a, b = rand((m, k), BF16, seed=m), rand((k, n), BF16, seed=n)
        got = _matmul(a, b, None, None, "avx512bf16")
        assert_bits(None, got, _matmul(a, b, None, None, "avx512"), f"{m}x{k}x{n}")


@pytest.mark.parametrize("dtype", INPUTS, ids=lambda d: d.name)
def test_results_do_not_depend_on_tier(dtype):
    """Products of 16-bit values are exact in float32 and every tier adds them in the same
    order, so the tiers agree bit for bit (the README's exceptions aside: VDPBF16PS, and dot
    products against a k-contiguous B with up to 4 rows)."""
    tiers = [t for t in TIERS if not (t == "avx512bf16" and dtype == BF16 and VDP)]
    for m, k, n in ((1, 300, 200), (3, 700, 90), (37, 1100, 45), (300, 530, 70)):
        a = rand((m, k), dtype, seed=m)
        b = rand((k, n), dtype, seed=n)
        for bb in (b, np.asfortranarray(b)) if m > 4 else (b,):
            got = [_matmul(a, bb, None, None, t) for t in tiers]
            assert all(np.array_equal(g, got[0]) for g in got), f"{m}x{k}x{n}"


def test_results_do_not_depend_on_thread_count():
    for m in (300, 800):  # A packed whole, and A packed in blocks
        a = rand((m, 700), BF16, seed=12)
        b = rand((700, 500), BF16, seed=13)
        results = []
        for t in (1, 2, 5):
            halfkit._core.set_num_threads(t)  # past the CPU count too
            results.append(halfkit.matmul(a, b))
        assert all(np.array_equal(r, results[0]) for r in results)


def test_bound_rejects_a_dropped_k_step():
    """The tolerance is tight enough to catch a kernel that loses one k step."""
    a = rand((40, 64), BF16, seed=14)
    b = rand((64, 48), BF16, seed=15)
    good = halfkit.matmul(a, b)
    check(good, a, b)
    j = 17
    broken = good - np.outer(a[:, j].astype(F32), b[j].astype(F32))
    with pytest.raises(AssertionError):
        check(broken, a, b)
    edge = good.copy()
    edge[-1, -1] += 1e-2  # a wrong edge element alone
    with pytest.raises(AssertionError):
        check(edge, a, b)


@pytest.mark.parametrize(
    "a, b, exc, match",
    [
        (np.ones((2, 3), F16), np.ones((4, 2), F16), ValueError, "3 columns but b has 4 rows"),
        (np.ones((2, 3), F16), np.ones((3, 2), BF16), TypeError, "a is float16 but b is bfloat16"),
        (np.ones((2, 3), F32), np.ones((3, 2), F32), TypeError, "inputs are float32"),
        (np.ones((2, 3), np.int16), np.ones((3, 2), np.int16), TypeError, "inputs are int16"),
        (np.array(1.0, F16), np.ones(3, F16), ValueError, "0-d"),
        ([[1.0]], np.ones((1, 1), F16), TypeError, "must be a numpy array"),
        (np.ones((2, 2, 3), F16), np.ones((3, 3, 2), F16), ValueError, "do not broadcast"),
    ],
)
def test_bad_inputs(a, b, exc, match):
    with pytest.raises(exc, match=match):
        halfkit.matmul(a, b)


def test_dimensions_too_large_rejected():
    """The CPU kernels count rows, columns and k steps in 32-bit integers, with room for their
    blocking past the end: dimensions of 2^31 - 2^20 or more are an error, never a truncated or
    wrapped product (zero-stride views: nothing is allocated)."""
    for size in (2**31, 2**31 - 2**20):
        row = np.broadcast_to(np.zeros((), F16), (1, size))
        col = np.broadcast_to(np.zeros((), F16), (size, 1))
        one = np.zeros((1, 1), F16)
        for a, b in ((row, col), (col, one), (one, row), (row[0], col)):  # k, m, n, 1-D
            with pytest.raises(ValueError, match=r"2\^31 - 2\^20 or more"):
                halfkit.matmul(a, b)
        assert _core.matmul_fast(row, col, None) is None
        with pytest.raises(ValueError, match=r"below 2\^31 - 2\^20"):
            _core.matmul(
                row, col, np.empty((1, 1), F32), np.zeros(1, np.int64), np.zeros(1, np.int64), 0
            )


def test_bad_out_untouched():
    a = rand((3, 4), BF16)
    b = rand((4, 5), BF16)
    for out, exc in (
        (np.zeros((3, 4), F32), ValueError),
        (np.zeros((3, 5), np.int32), TypeError),
        ("x", TypeError),
    ):
        with pytest.raises(exc):
            halfkit.matmul(a, b, out=out)
    ro = np.zeros((3, 5), F32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        halfkit.matmul(a, b, out=ro)
    assert not ro.any()
    with pytest.raises(TypeError, match="out_dtype"):
        halfkit.matmul(a, b, out_dtype=np.float64)
    with pytest.raises(TypeError, match="out has dtype"):
        halfkit.matmul(a, b, out=np.zeros((3, 5), F32), out_dtype=ml_dtypes.bfloat16)


# ---- np.matmul's corners (numpy 2.4 behaviour) ---------------------------------------------


def _np_result(a, b):
    """What np.matmul gives for the float32 values of a and b (halfkit's result dtype)."""
    return np.matmul(a.astype(F32), b.astype(F32))


@pytest.mark.parametrize("dt", [F16, BF16], ids=lambda d: d.name)
def test_vector_dot_vector_is_a_scalar(dt):
    a, b = rand(37, dt, seed=1), rand(37, dt, seed=2)
    got = halfkit.matmul(a, b)
    want = np.matmul(a.astype(F32), b.astype(F32))
    assert type(got) is type(want) is np.float32
    assert abs(got - want) <= 1e-5 * np.abs(a.astype(F32) * b.astype(F32)).sum()
    out = np.empty((), F32)
    assert halfkit.matmul(a, b, out=out) is out and out == got


@pytest.mark.parametrize("scalar", [np.float16(2), 2.0, 3, np.float32(1)], ids=repr)
def test_scalar_operands_are_a_value_error_as_in_numpy(scalar):
    a = rand((3, 3), F16)
    for x, y in ((scalar, a), (a, scalar)):
        with pytest.raises(ValueError):
            np.matmul(x, y)
        with pytest.raises(ValueError, match="scalar"):
            halfkit.matmul(x, y)


def test_lists_of_16_bit_scalars_are_converted():
    a = rand((4, 5), F16, seed=3)
    b = rand((5, 2), F16, seed=4)
    rows = [list(r) for r in a]  # numpy float16 scalars: numpy makes a float16 array of them
    assert np.array_equal(halfkit.matmul(rows, b), halfkit.matmul(a, b))
    with pytest.raises(TypeError, match="numpy makes float64"):
        halfkit.matmul([[1.0, 2.0]], b[:2])


@pytest.mark.parametrize(
    "wide", [np.float64, np.complex64, np.complex128], ids=lambda d: d.__name__
)
def test_out_of_a_wider_dtype_gets_the_float32_result(wide):
    a, b = rand((6, 7), BF16, seed=5), rand((7, 3), BF16, seed=6)
    out = np.full((6, 3), 99, wide)
    assert halfkit.matmul(a, b, out=out) is out
    assert np.array_equal(out, halfkit.matmul(a, b).astype(wide))
    np.matmul(a.astype(F32), b.astype(F32), out=np.empty((6, 3), wide))  # numpy accepts it too


@pytest.mark.parametrize("odt", [">f4", ">f2"])
def test_byte_swapped_out(odt):
    a, b = rand((5, 8), F16, seed=7), rand((8, 4), F16, seed=8)
    out = np.zeros((5, 4), odt)
    assert halfkit.matmul(a, b, out=out) is out
    want = halfkit.matmul(a, b, out_dtype=np.dtype(odt).newbyteorder("="))
    assert np.array_equal(out, want)


def test_byte_swapped_operand_with_a_native_one():
    a, b = rand((9, 6), F16, seed=9), rand((6, 5), F16, seed=10)
    want = halfkit.matmul(a, b)
    for x, y in ((a.astype(">f2"), b), (a, b.astype(">f2")), (a.astype(">f2"), b.astype(">f2"))):
        assert np.array_equal(halfkit.matmul(x, y), want)
        np.matmul(x, y)  # numpy accepts the mixed pair too


def test_matmul_result_allocation_failure_names_the_result():
    a = np.broadcast_to(np.zeros((), F16), (1 << 20, 1))
    b = np.broadcast_to(np.zeros((), F16), (1, 1 << 20))
    with pytest.raises(MemoryError, match=r"float32 result of shape \(1048576, 1048576\)"):
        halfkit.matmul(a, b)  # 4 TiB
    stack = np.broadcast_to(np.zeros((), F16), (1 << 30, 1 << 20, 1))
    with pytest.raises(MemoryError, match=r"shape \(1073741824, 1048576, 1048576\)"):
        halfkit.matmul(stack, b)  # more bytes than 64 bits count
