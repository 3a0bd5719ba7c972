"""The host half of halfkit.matmul on CuPy arrays, run everywhere: a stand-in for CuPy (numpy
arrays dressed as cupy.ndarray) and for the CUDA module's gemm entry point (a numpy product that
reads the operands through the raw pointers, strides and offsets it is given). It checks what
the Python layer hands to the kernels (layouts the tensor-core kernels accept, element strides,
batch offsets, the output's row stride and batch stride) and what it does with out=, out_dtype
and the copies, without a GPU."""

import ctypes
import sys
import types

import halfkit
import numpy as np
import pytest
from conftest import BF16, F16, F32, bits
from halfkit import _gpu
from halfkit._dtypes import FORMAT
from test_matmul import check, rand


class FakeArray(np.ndarray):
    """A numpy array that halfkit takes for a cupy.ndarray on GPU 0."""

    @property
    def device(self):
        return _Device()

    @property
    def data(self):
        return types.SimpleNamespace(ptr=self.ctypes.data)


FakeArray.__module__ = "cupy"


class _Context:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class _Device(_Context):
    id = 0


class _Stream(_Context):
    ptr = 0

    def synchronize(self):
        pass


def _fake_cupy():
    def dev(f):
        return lambda *a, **k: np.asarray(f(*a, **k)).view(FakeArray)

    m = types.ModuleType("cupy")
    m.ndarray = FakeArray
    m.uint16 = np.uint16
    m.empty = dev(np.empty)
    m.empty_like = dev(np.empty_like)
    m.full = dev(np.full)
    m.ones = dev(np.ones)
    m.asarray = dev(np.array)
    m.ascontiguousarray = dev(np.ascontiguousarray)
    m.asfortranarray = dev(np.asfortranarray)
    m.asnumpy = lambda x: np.array(x).view(np.ndarray)
    m.may_share_memory = np.may_share_memory
    m.copyto = np.copyto
    stream = _Stream()
    m.cuda = types.SimpleNamespace(
        get_current_stream=lambda: stream,
        Stream=lambda **kw: stream,
        runtime=types.SimpleNamespace(getDevice=lambda: 0),
    )
    return m


def _view(ptr, dtype, offsets, shape, strides):
    """The elements at ptr + offset + sum(index * stride) (all in elements) as a numpy view."""
    item = np.dtype(dtype).itemsize
    lo = min(offsets) + sum(min(0, (d - 1) * s) for d, s in zip(shape, strides, strict=True))
    hi = max(offsets) + sum(max(0, (d - 1) * s) for d, s in zip(shape, strides, strict=True))
    buf = (ctypes.c_char * ((hi - lo + 1) * item)).from_address(ptr + lo * item)
    flat = np.frombuffer(buf, dtype)
    return [
        np.lib.stride_tricks.as_strided(
            flat[o - lo :], shape, [s * item for s in strides], writeable=True
        )
        for o in offsets
    ]


CALLS = []


def fake_gemm(a, a_rs, a_cs, a_off, b, b_rs, b_cs, b_off, c, ldc, c_bs, m, n, k, batch, in_fmt,
              out_fmt, kernel, stream):  # fmt: skip
    CALLS.append(kernel)
    dt = F16 if in_fmt == FORMAT[F16] else BF16
    out_dt = {FORMAT[F32]: F32, FORMAT[F16]: F16, FORMAT[BF16]: BF16}[out_fmt]

    def offs(ptr):
        return list((ctypes.c_int64 * batch).from_address(ptr)) if ptr else [0] * batch

    ao, bo = offs(a_off), offs(b_off)
    if kernel != "reference" and k > 0:
        # What the tensor-core kernels require (cuda/gemm.cu, tensor_layout).
        for ptr, outer, o_s, k_s, off in ((a, m, a_rs, a_cs, ao), (b, n, b_cs, b_rs, bo)):
            assert ptr % 16 == 0, "operand base not 16-byte aligned"
            assert all(x % 8 == 0 for x in off), "batch offset not a multiple of 8 elements"
            assert (k_s == 1 and (outer == 1 or o_s % 8 == 0)) or (
                o_s == 1 and (k == 1 or k_s % 8 == 0)
            ), f"no unit stride with an aligned other stride: {o_s}, {k_s}"
    am = _view(a, dt, ao, (m, k), (a_rs, a_cs))
    bm = _view(b, dt, bo, (k, n), (b_rs, b_cs))
    cm = _view(c, out_dt, [t * c_bs for t in range(batch)], (m, n), (ldc, 1))
    for t in range(batch):
        # The stand-in's own arithmetic is not under test (numpy's OpenBLAS on aarch64 raises
        # floating-point flags inside float32 matmul that x86 builds do not).
        with np.errstate(all="ignore"):
            prod = am[t].astype(F32) @ bm[t].astype(F32)
            cm[t][...] = prod if out_dt == F32 else halfkit.astype(prod, out_dt)
    return kernel if kernel != "auto" else "sm80"


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", _fake_cupy())
    monkeypatch.setattr(_gpu, "_cuda", types.SimpleNamespace(gemm=fake_gemm))
    CALLS.clear()
    return sys.modules["cupy"]


def dev(x):
    return np.array(x).view(FakeArray)


def host(x):
    return np.array(x).view(np.ndarray)


@pytest.mark.parametrize("kernel", ["auto", "sm80", "reference"])
@pytest.mark.parametrize("mkn", [(13, 17, 19), (1, 300, 200), (200, 300, 1), (64, 64, 64)])
def test_operands_reach_the_kernel_as_it_needs(fake, kernel, mkn):
    m, k, n = mkn
    a, b = rand((m, k), BF16, seed=m), rand((k, n), BF16, seed=n)
    got = halfkit._matmul._matmul(dev(a), dev(b), None, None, kernel)
    assert isinstance(got, FakeArray) and got.dtype == F32
    check(host(got), a, b)
    assert CALLS == [kernel]


def test_layouts_batches_and_one_dimensional_operands(fake):
    ga = dev(rand((90, 80), F16, seed=1))  # views below are taken on the "device" arrays
    gb = dev(rand((80, 70), F16, seed=2))
    views = [
        (ga[:45, :40], gb[:40, :35]),
        (ga.T[:40, :45].T, gb.T[:35, :40].T),  # transposed: read in place
        (ga[::2, ::2], gb[::2, ::2]),  # no unit stride: copied
        (ga[::-1, ::-3], gb[::-3, ::-1]),
        (np.asfortranarray(ga).view(FakeArray), np.asfortranarray(gb).view(FakeArray)),
        (ga[1:, 3:], gb[3:, 5:]),  # unaligned bases: copied
        (ga[:, :75], gb[:75]),  # rows 150 bytes apart: copied
    ]
    for a, b in views:
        got = halfkit.matmul(a, b)
        check(host(got), host(a), host(b))
    a = rand((3, 1, 5, 7), BF16, seed=3)
    gb = dev(rand((4, 7, 6), BF16, seed=4))[:, ::-1]
    got = halfkit.matmul(dev(a), gb)
    assert got.shape == (3, 4, 5, 6)
    check(host(got), a, host(gb))
    v = rand(7, F16)
    mat = rand((2, 7, 4), F16)
    assert halfkit.matmul(dev(v), dev(mat)).shape == (2, 4)
    check(host(halfkit.matmul(dev(v), dev(mat))), v, mat)
    gmt = dev(mat).transpose(0, 2, 1)
    check(host(halfkit.matmul(gmt, dev(v))), host(gmt), v)


def test_transposed_operands_are_not_copied(fake):
    """A transposed (m- or n-contiguous) operand is passed as it is, not copied first."""
    a = dev(rand((48, 64), F16))
    b = dev(rand((32, 64), F16))
    seen = []

    def spy(*args):
        seen.append(args)
        return fake_gemm(*args)

    _gpu._cuda.gemm = spy
    halfkit.matmul(a, b.T)
    (args,) = seen
    assert args[0] == a.ctypes.data and args[4] == b.ctypes.data
    assert (args[5], args[6]) == (1, 64)  # B read through its transposed strides


def test_out_and_out_dtype(fake):
    a = rand((3, 6, 8), F16)
    b = rand((8, 5), F16)
    out = fake.empty((3, 6, 5), F32)
    assert halfkit.matmul(dev(a), dev(b), out=out) is out
    check(host(out), a, b)
    strided = fake.empty((3, 5, 6), F32).transpose(0, 2, 1)
    assert halfkit.matmul(dev(a), dev(b), out=strided) is strided
    check(host(strided), a, b)
    odd = fake.empty(3 * 6 * 5 + 1, F32)[1:].reshape(3, 6, 5)
    halfkit.matmul(dev(a), dev(b), out=odd)
    check(host(odd), a, b)
    for dt in (F16, BF16):
        got = halfkit.matmul(dev(a), dev(b), out_dtype=dt)
        assert got.dtype == dt
        f32 = host(halfkit.matmul(dev(a), dev(b)))
        assert np.array_equal(bits(host(got)), bits(halfkit.astype(f32, dt)))
    sq = dev(rand((16, 16), F16, seed=3))
    want = host(halfkit.matmul(sq, sq, out_dtype=F16))
    halfkit.matmul(sq, sq, out=sq)  # out is an input: computed aside, then copied
    assert np.array_equal(bits(host(sq)), bits(want))


def test_k_zero_and_empty(fake):
    got = halfkit.matmul(dev(np.empty((4, 0), BF16)), dev(np.empty((0, 3), BF16)))
    assert got.shape == (4, 3) and not host(got).any()
    assert halfkit.matmul(dev(np.empty((0, 5), F16)), dev(rand((5, 2), F16))).shape == (0, 2)


def test_mixed_and_bad_inputs(fake):
    g = dev(np.ones((4, 4), F16))
    with pytest.raises(TypeError, match="both numpy or both CuPy"):
        halfkit.matmul(g, np.ones((4, 4), F16))
    with pytest.raises(TypeError, match="out must be a cupy.ndarray"):
        halfkit.matmul(g, g, out=np.empty((4, 4), F32))
    with pytest.raises(TypeError, match="out must be a numpy.ndarray"):
        halfkit.matmul(np.ones((4, 4), F16), np.ones((4, 4), F16), out=fake.empty((4, 4), F32))
    with pytest.raises(ValueError, match="out has shape"):
        halfkit.matmul(g, g, out=fake.empty((4, 5), F32))
    with pytest.raises(TypeError, match="inputs are float32"):
        halfkit.matmul(dev(np.ones((4, 4), F32)), dev(np.ones((4, 4), F32)))
    assert not CALLS
