"""halfkit.astype and its shorthands: dtypes, layouts, out=, warnings, threads, bad input."""

import threading
import warnings

import halfkit
import ml_dtypes
import numpy as np
import pytest
from conftest import BF16, F16, F32, F64, PAIRS, bits, pair_id, reference
from hypothesis import given, settings
from hypothesis import strategies as st

ALL = [F16, BF16, F32, F64]


def expected(x, dst):
    """The contract's answer: the scalar reference for 16-bit conversions, numpy otherwise."""
    x = np.asarray(x)
    xn = x.astype(x.dtype.newbyteorder("=")) if not x.dtype.isnative else x
    if (xn.dtype, np.dtype(dst)) in PAIRS:
        return reference(xn, dst)[0]
    return xn.astype(dst)


def same(a, b):
    a = np.asarray(a)
    b = np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype
    assert np.array_equal(bits(a), bits(b))


def sample(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    with np.errstate(over="ignore"):
        return (rng.standard_normal(shape) * 1000).astype(dtype)


# ---- dtypes and spellings --------------------------------------------------------------------


@pytest.mark.parametrize(
    "spelling, want",
    [
        ("bfloat16", BF16), (ml_dtypes.bfloat16, BF16), (BF16, BF16),
        ("float16", F16), ("f2", F16), ("e", F16), ("half", F16), (np.float16, F16), (F16, F16),
        ("float32", F32), ("f4", F32), ("single", F32), (np.float32, F32),
        ("float64", F64), ("f8", F64), ("d", F64), (float, F64), ("double", F64),
        ("<f2", F16),
    ],
)  # fmt: skip
def test_dtype_spellings(spelling, want):
    x = sample(10, F32)
    y = halfkit.astype(x, spelling)
    assert y.dtype == want
    same(y, expected(x, want))


@pytest.mark.parametrize("src", ALL, ids=lambda d: d.name)
@pytest.mark.parametrize("dst", ALL, ids=lambda d: d.name)
def test_every_dtype_pair(src, dst):
    x = sample((3, 5), src)
    y = halfkit.astype(x, dst)
    same(y, expected(x, dst))
    if src == dst:
        assert not np.shares_memory(x, y)  # same dtype in and out is still a copy


def test_shorthands():
    x = sample(7, F64)
    same(halfkit.to_float16(x), expected(x, F16))
    same(halfkit.to_bfloat16(x), expected(x, BF16))
    same(halfkit.to_float32(halfkit.to_bfloat16(x)), expected(expected(x, BF16), F32))
    same(halfkit.to_float64(halfkit.to_float16(x)), expected(expected(x, F16), F64))
    out = np.empty(7, F16)
    assert halfkit.to_float16(x, out=out) is out


def test_the_public_functions_are_their_python_functions_in_front():
    """astype and the shorthands are builtins that answer the common call in C++ and hand every
    other call to the Python function they front: the same results, signature, docstring, and
    pickling by name (dask ships them to workers)."""
    import inspect
    import pickle

    from halfkit import _convert

    x = sample((4, 6), F32)
    for name in ("astype", "to_bfloat16", "to_float16", "to_float32", "to_float64"):
        front, general = getattr(halfkit, name), getattr(_convert, name)
        assert front.__wrapped__ is general and front.__doc__ == general.__doc__
        assert inspect.signature(front) == inspect.signature(general)
        assert pickle.loads(pickle.dumps(front)) is front
    spellings = [
        lambda: halfkit.astype(x, F16),
        lambda: halfkit.astype(x, "float16"),
        lambda: halfkit.astype(x, np.float16),
        lambda: halfkit.astype(x, dtype=F16),  # keywords: the Python function answers
        lambda: halfkit.astype(x=x, dtype="float16"),
        lambda: halfkit.astype(x, F16, out=np.empty((4, 6), F16)),
        lambda: halfkit.astype(x, F16, rounding="nearest-even"),
        lambda: halfkit.astype(np.asfortranarray(x), F16),
        lambda: halfkit.to_float16(x),
        lambda: halfkit.to_float16(x=x),
    ]
    for call in spellings:
        same(call(), expected(x, F16))
    assert halfkit.astype(np.asfortranarray(x), F16).flags.f_contiguous
    with pytest.raises(TypeError):
        halfkit.astype(x)
    with pytest.raises(TypeError):
        halfkit.to_float16(x, F16)
    with pytest.raises(TypeError, match="unexpected keyword"):
        halfkit.astype(x, F16, outt=None)


def test_non_array_inputs():
    same(
        halfkit.astype([1.5, -2.25, 1e-8], "bfloat16"), expected(np.array([1.5, -2.25, 1e-8]), BF16)
    )
    s = halfkit.astype(np.float32(3.140625), F16)
    assert isinstance(s, np.float16) and s == np.float16(3.140625)
    z = halfkit.astype(np.array(2.5, dtype=F32), BF16)
    assert z.shape == () and z.dtype == BF16


# ---- layouts ---------------------------------------------------------------------------------


def layouts(dtype):
    base = sample((6, 7, 8), dtype, seed=3)
    yield "C", base
    yield "F", np.asfortranarray(base)
    yield "transposed", base.transpose(2, 0, 1)
    yield "negative", base[::-1, :, ::-2]
    yield "strided", base[::2, 1::3, ::3]
    yield "0-d", base[1, 2, 3, ...]
    yield "empty", base[:, :0]
    yield "one", base[:1, :1, :1]
    yield "byteswapped", base.astype(base.dtype.newbyteorder(">")) if dtype != BF16 else base
    raw = np.zeros(base.nbytes + 1, dtype=np.uint8)
    unaligned = raw[1:].view(dtype).reshape(base.shape)
    unaligned[...] = base
    yield "unaligned", unaligned
    ro = base.copy()
    ro.flags.writeable = False
    yield "read-only", ro


@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
def test_layouts(pair):
    src, dst = pair
    for name, x in layouts(src):
        y = halfkit.astype(x, dst)
        assert y.shape == x.shape, name
        same(y, expected(x, dst))
        # numpy's astype default order='K': the result's memory order follows the input's
        want_strides = np.empty_like(x, dtype=dst).strides
        assert y.strides == want_strides, name


def test_non_native_output_dtype():
    x = sample(9, F32)
    y = halfkit.astype(x, ">f2")
    assert y.dtype == np.dtype(">f2")
    same(y.astype(F16), expected(x, F16))


# ---- out= ------------------------------------------------------------------------------------


@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
def test_out_views(pair):
    src, dst = pair
    x = sample((5, 6), src, seed=1)
    for make in (
        lambda: np.empty((5, 6), dst),
        lambda: np.empty((6, 5), dst).T,
        lambda: np.empty((10, 12), dst)[::2, ::-2],
        lambda: np.zeros((5, 6, 2), dst)[:, :, 1],
    ):
        out = make()
        r = halfkit.astype(x, dst, out=out)
        assert r is out
        same(out, expected(x, dst))


def test_out_overlapping_input():
    # float32 in and float16 out in the same buffer, both ways round.
    buf = sample(64, F32, seed=2)
    x = buf.copy()
    out = buf.view(F16)[10:74]
    halfkit.astype(buf, F16, out=out)
    same(out, expected(x, F16))

    h = sample(64, F16, seed=4)
    buf = np.zeros(64, F32)
    buf.view(F16)[64:] = h
    src = buf.view(F16)[64:]
    halfkit.astype(src, F32, out=buf)
    same(buf, expected(h, F32))

    # in place on the same array (16-bit -> 16-bit)
    a = sample(33, F16, seed=5)
    want = expected(a, BF16)
    halfkit.astype(a, BF16, out=a.view(BF16))
    same(a.view(BF16), want)


def test_out_non_native():
    x = sample(9, F32)
    out = np.empty(9, ">f2")
    halfkit.astype(x, ">f2", out=out)
    same(out.astype(F16), expected(x, F16))


@pytest.mark.parametrize(
    "out, exc, match",
    [
        (np.empty((3, 4), F32), TypeError, "out has dtype float32"),
        (np.empty((4, 3), F16), ValueError, "out has shape"),
        (np.empty(12, F16), ValueError, "out has shape"),
        ([0.0] * 12, TypeError, "out must be a numpy.ndarray"),
        ("nope", TypeError, "out must be a numpy.ndarray"),
    ],
)
def test_bad_out(out, exc, match):
    x = sample((3, 4), F32)
    with pytest.raises(exc, match=match):
        halfkit.astype(x, F16, out=out)


def test_read_only_out_untouched():
    x = sample((3, 4), F32)
    out = np.zeros((3, 4), F16)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        halfkit.astype(x, F16, out=out)
    assert not out.any()


def test_bad_out_is_never_half_written():
    x = sample(100, F32)
    out = np.zeros(99, F16)
    with pytest.raises(ValueError):
        halfkit.astype(x, F16, out=out)
    assert not out.any()
    out = np.zeros(100, BF16)
    with pytest.raises(TypeError):
        halfkit.astype(x, F16, out=out)
    assert not np.asarray(out, F32).any()


# ---- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "x, dtype, match",
    [
        (np.arange(4), F16, "source dtype int64 is not supported"),
        (np.ones(4, np.complex64), BF16, "source dtype complex64"),
        (np.ones(4, np.float32), "int8", "int8 is not supported"),
        (np.ones(4, np.float32), "float8_e8m0fnu", "float8_e8m0fnu is not supported"),
        (np.ones(4, np.float32), "not-a-dtype", "not a data type"),
        (np.array(["a"]), F16, "source dtype <U1"),
        (np.ones(4, np.float32), np.int32, "int32 is not supported"),
    ],
)
def test_bad_dtypes(x, dtype, match):
    with pytest.raises(TypeError, match=match) as e:
        halfkit.astype(x, dtype)
    assert "accepted: float16, bfloat16" in str(e.value)


def test_bad_source_object():
    with pytest.raises(TypeError):
        halfkit.astype(object(), F16)
    with pytest.raises(TypeError):
        halfkit.astype([[1.0, 2.0], [3.0]], F16)


# ---- overflow reporting ----------------------------------------------------------------------

OVERFLOWING = {
    F32: np.array([1.0, 70000.0, -1e30], F32),
    F64: np.array([1.0, 65520.0, -1e300], F64),
    BF16: np.array([1.0, 1e10], BF16),
}


def _numpy_outcome(fn):
    """What happens (exception, warnings) when fn runs."""
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        try:
            fn()
            exc = None
        except Exception as e:  # noqa: BLE001
            exc = (type(e), str(e))
    return exc, [(wi.category, str(wi.message)) for wi in w]


@pytest.mark.parametrize("src", list(OVERFLOWING), ids=lambda d: d.name)
@pytest.mark.parametrize("mode", ["ignore", "warn", "raise"])
def test_overflow_reported_like_numpy(src, mode):
    x = OVERFLOWING[src]
    with np.errstate(over=mode):
        ours = _numpy_outcome(lambda: halfkit.astype(x, F16))
        # numpy's float32/float64 casts are the model; ml_dtypes' bfloat16 -> float16 cast
        # never reports, halfkit reports it like numpy would for the same values.
        theirs = _numpy_outcome(lambda: x.astype(F32 if src == BF16 else src).astype(F16))
    assert ours == theirs
    if mode == "warn":
        assert ours[1] == [(RuntimeWarning, "overflow encountered in cast")]


def test_overflow_warning_names_the_callers_line_as_numpy_does():
    """Under Python's default filter a warning shows once per call site: numpy's names the
    caller's line, and so must halfkit's, on every path (the C++ fast path, the general path,
    a shorthand, matmul's rounding), or a second overflow elsewhere would print nothing."""
    import inspect

    x = OVERFLOWING[F32]
    a = np.full((2, 2), 300.0, F16)
    calls = {
        "fast": lambda: halfkit.astype(x, F16),
        "general": lambda: halfkit.astype(x.astype(">f4"), F16),
        "shorthand": lambda: halfkit.to_float16(x, out=np.empty(3, F16)),
        "matmul": lambda: halfkit.matmul(a, a, out_dtype=F16),
        "numpy": lambda: x.astype(F16),
    }
    for name, call in calls.items():
        line = inspect.getsourcelines(call)[1]
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("default")
            for _ in range(3):  # one call site: shown once
                call()
            call()  # the same line again
        assert [(wi.filename, wi.lineno) for wi in w] == [(__file__, line)], name
        assert w[0].category is RuntimeWarning
        assert str(w[0].message) == "overflow encountered in cast"


def test_overflow_call_and_log_modes():
    x = OVERFLOWING[F32]
    calls = []
    with np.errstate(over="call", call=lambda kind, flag: calls.append(kind)):
        halfkit.astype(x, F16)
        halfkit.astype(x, F16, out=np.empty(3, F16))
    assert calls == ["overflow", "overflow"]

    class Log:
        def __init__(self):
            self.lines = []

        def write(self, msg):
            self.lines.append(msg)

    log = Log()
    with np.errstate(over="log", call=log):
        halfkit.astype(x, F16)
    assert len(log.lines) == 1 and "overflow" in log.lines[0]


def test_overflow_print_mode(capfd):
    with np.errstate(over="print"):
        OVERFLOWING[F64].astype(F16)
        theirs = capfd.readouterr()
        halfkit.astype(OVERFLOWING[F64], F16)
        ours = capfd.readouterr()
    assert "overflow encountered in cast" in theirs.err + theirs.out
    assert ours == theirs


def test_no_false_overflow():
    with np.errstate(over="raise"):
        halfkit.astype(np.array([65519.0, np.inf, -np.inf, np.nan], F32), F16)
        # Past bfloat16's range but not float32's: ml_dtypes raises nothing (docs/numerics.md).
        halfkit.astype(np.array([3e38, 3.4028234697e38, np.inf], F64), BF16)
        halfkit.astype(np.array([3e38, np.inf], F32), BF16)  # float32 -> bfloat16 never reports
        halfkit.astype(np.array([np.inf, 65504.0], F64), F16)


def test_overflow_found_in_any_thread_chunk():
    halfkit.set_num_threads(2)
    x = np.ones(1 << 20, F32)
    x[-1] = 1e6
    with np.errstate(over="raise"), pytest.raises(FloatingPointError):
        halfkit.astype(x, F16)


# ---- threads ---------------------------------------------------------------------------------


def test_set_num_threads_validation():
    with pytest.raises(ValueError, match=">= 1"):
        halfkit.set_num_threads(0)
    with pytest.raises(TypeError):
        halfkit.set_num_threads(2.5)
    halfkit.set_num_threads(np.int64(1))  # any integer type
    assert halfkit.get_num_threads() == 1 == halfkit.kernel_info()["threads"]
    cpus = halfkit._core.cpus_available()
    halfkit.set_num_threads(cpus)
    assert halfkit.get_num_threads() == cpus
    with pytest.raises(TypeError):
        halfkit.set_num_threads(True)
    for many in (cpus + 1, 1000, 2**31, 2**40):
        with pytest.warns(RuntimeWarning, match=f"{many} threads asked for.*using {cpus}"):
            halfkit.set_num_threads(many)
        assert halfkit.get_num_threads() == cpus


@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
def test_results_do_not_depend_on_thread_count(pair):
    src, dst = pair
    n = halfkit.kernel_info()["parallel_min_elements"] * 3 + 77
    x = sample(n, src, seed=9)
    xs = sample((n // 100, 300), src, seed=10)[:, ::3]
    results = []
    for t in (1, 2, 3, 8):
        halfkit._core.set_num_threads(t)  # past the CPU count too: more tasks than cores
        with np.errstate(over="ignore"):
            results.append((bits(halfkit.astype(x, dst)), bits(halfkit.astype(xs, dst))))
    for r in results[1:]:
        assert np.array_equal(r[0], results[0][0]) and np.array_equal(r[1], results[0][1])
    same(halfkit.astype(x[:1000], dst), expected(x[:1000], dst))


def test_python_threads_at_once():
    halfkit.set_num_threads(2)
    xs = [sample(300_000 + i, F32, seed=i) for i in range(6)]
    want = [expected(x, BF16) for x in xs]
    got = [None] * len(xs)
    errors = []

    def work(i):
        try:
            for _ in range(5):
                got[i] = halfkit.astype(xs[i], BF16)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(xs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for g, w in zip(got, want, strict=True):
        same(g, w)


def test_kernel_info():
    info = halfkit.kernel_info()
    for key in ("isa", "isa_supported", "cpu_features", "threads", "cuda"):
        assert key in info
    assert info["isa"] in info["isa_supported"]
    assert "scalar" in info["isa_supported"]
    assert isinstance(info["cuda"]["compiled"], bool)


# ---- property: random shapes and strides -----------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    shape=st.lists(st.integers(0, 6), min_size=0, max_size=4),
    steps=st.lists(st.sampled_from([1, 2, -1, -3]), min_size=4, max_size=4),
    pair=st.sampled_from(PAIRS),
    transpose=st.booleans(),
)
def test_random_views(shape, steps, pair, transpose):
    src, dst = pair
    big = sample(tuple(s * 3 + 1 for s in shape), src, seed=len(shape))
    view = big[tuple(slice(None, None, steps[i]) for i in range(len(shape)))]
    view = view[tuple(slice(0, s) for s in shape)]
    if transpose:
        view = view.T
    with np.errstate(over="ignore"):
        same(halfkit.astype(view, dst), expected(view, dst))
        out = np.empty(view.shape[::-1], dst).T
        halfkit.astype(view, dst, out=out)
    same(out, expected(view, dst))


def test_thread_pool_survives_fork():
    import os
    import signal

    halfkit.set_num_threads(2)
    x = sample(1 << 21, F32, seed=21)
    want = expected(x, F16)
    same(halfkit.astype(x, F16), want)  # the pool's workers now exist
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork() with threads (3.12+)
        pid = os.fork()
    if pid == 0:  # the child: its copy of the pool has no workers; it must not wait for them
        signal.alarm(60)
        try:
            ok = np.array_equal(bits(halfkit.astype(x, F16)), bits(want))
            os._exit(0 if ok else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
