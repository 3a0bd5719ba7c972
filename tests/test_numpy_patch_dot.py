"""np.dot under halfkit.patch_numpy: two float16 or two bfloat16 arrays run through halfkit's
GEMM; every other call is numpy's own. Checked against numpy 2.4.6 (float16's HALF_dot) and
ml_dtypes 0.7.0 (bfloat16's dot): the patched np.dot keeps numpy's result types, shapes,
errors, out= rules and floating-point reports, gives halfkit.matmul's bits where the result is
finite and numpy's own bits where it is not."""

import warnings

import halfkit
import numpy as np
import pytest
from conftest import BF16, F16, F32

DTYPES = [F16, BF16]

SHAPES = [
    ((9,), (9,)),
    ((6, 7), (7,)),
    ((7,), (7, 4)),
    ((5, 7), (7, 3)),
    ((1, 1), (1, 1)),
    ((3, 4, 8), (8, 5)),
    ((3, 4, 8), (2, 8, 5)),
    ((8,), (2, 3, 8, 5)),
    ((2, 65, 600), (600, 33)),  # k past one 512-step block
    ((4, 0), (0, 3)),
    ((0, 4), (4, 3)),
    ((4, 3), (3, 0)),
]


def _rand(shape, seed, dtype):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _bits(x):
    return np.asarray(x).view(np.uint16)


def _as_gemm(a, b, dtype):
    """np.dot's definition, written as the one 2-D product halfkit.matmul computes."""
    if a.size == 0 or b.size == 0:
        return np.dot(a, b)
    k = a.shape[-1]
    b2 = b.reshape(k, 1) if b.ndim == 1 else np.moveaxis(b, -2, 0).reshape(k, -1)
    shape = a.shape[:-1] + (b.shape[:-2] + b.shape[-1:] if b.ndim > 1 else ())
    return np.asarray(halfkit.matmul(a.reshape(-1, k), b2, out_dtype=dtype)).reshape(shape)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("sa,sb", SHAPES, ids=str)
def test_dot_is_halfkits_and_keeps_numpys_semantics(sa, sb, dtype):
    a, b = _rand(sa, 1, dtype), _rand(sb, 2, dtype)
    numpy_result = np.dot(a, b)
    with halfkit.patched_numpy():
        patched = np.dot(a, b)
    assert type(patched) is type(numpy_result)
    assert np.asarray(patched).dtype == np.asarray(numpy_result).dtype == dtype
    assert np.shape(patched) == np.shape(numpy_result)
    np.testing.assert_array_equal(_bits(patched), _bits(_as_gemm(a, b, dtype)))
    # numpy's loop sums in k order; the GEMM may not (lane sums): they agree to the rounding.
    np.testing.assert_allclose(
        np.asarray(patched, F32), np.asarray(numpy_result, F32), rtol=2e-2, atol=2e-2
    )


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_views_and_out(dtype):
    a = _rand((40, 60), 3, dtype)[::2, 1::3]  # 20 x 20, strided
    b = _rand((20, 50), 4, dtype).T[::-2][:20]  # a reversed, transposed view
    with halfkit.patched_numpy():
        np.testing.assert_array_equal(_bits(np.dot(a, b)), _bits(_as_gemm(a, b, dtype)))
        out = np.empty((20, 20), dtype)
        assert np.dot(a, b, out) is out
        np.testing.assert_array_equal(_bits(out), _bits(_as_gemm(a, b, dtype)))
        square = np.ascontiguousarray(a)
        want = _as_gemm(square, square, dtype)
        assert np.dot(square, square, out=square) is square  # out is an operand, as numpy allows
        np.testing.assert_array_equal(_bits(square), _bits(want))
        scalar_out = np.empty((), dtype)
        assert np.dot(a[0], b[:, 0], out=scalar_out) is scalar_out


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_errors_are_numpys(dtype):
    a, b = _rand((3, 4), 6, dtype), _rand((5, 2), 7, dtype)
    bad_outs = [
        np.empty((3, 3), F32),  # another dtype
        np.empty((3, 6), dtype)[:, ::2],  # not C-contiguous
        np.empty((4, 3), dtype),  # another shape
    ]
    msgs = {False: [], True: []}
    for patched in (False, True):
        with halfkit.patched_numpy() if patched else np.errstate():
            for x, y, out in [(a, b, None)] + [(a, a.T, o) for o in bad_outs]:
                with pytest.raises(ValueError) as e:
                    np.dot(x, y, out)
                msgs[patched].append(str(e.value))
    assert msgs[False] == msgs[True]


def _reports(call, under):
    """What numpy reports for call() under 'warn' (the messages) and under 'raise' (the error),
    with underflow reported or ignored."""
    with warnings.catch_warnings(record=True) as seen, np.errstate(all="warn", under=under):
        warnings.simplefilter("always")
        value = call()
    with np.errstate(all="raise", under="raise" if under == "warn" else under):
        try:
            call()
            raised = None
        except FloatingPointError as e:
            raised = str(e)
    return value, [str(w.message) for w in seen], raised, [w.filename for w in seen]


def _from_bits(bits, dtype):
    return np.array(bits, np.uint16).view(dtype)


F16_CASES = {
    "overflow": (np.full((2, 600), 200, F16), np.full((600, 3), 200, F16)),
    "underflow": (np.full((5, 1), 2.0**-14, F16), np.full((1, 5), 2.0**-12, F16)),
    "inf * 0": (_from_bits([[0x7C00, 0x3C00]], F16), _from_bits([[0], [0x3C00]], F16)),
    "inf - inf": (_from_bits([[0x7C00, 0xFC00]], F16), _from_bits([[0x3C00], [0x3C00]], F16)),
    "signalling NaN": (_from_bits([[0x7C01, 0x3C00]] * 6, F16), _from_bits([[1], [2]], F16)),
    "NaN payload": (_from_bits([[0xFE5A, 0x3C00]] * 6, F16), _from_bits([[1], [2]], F16)),
    "inf": (_from_bits([[0x7C00, 0x3C00]] * 5, F16), _from_bits([[0x3C00], [0x3C00]], F16)),
}
BF16_CASES = {
    "product overflow": (np.full((5, 3), 1e30, BF16), np.full((3, 6), 1e30, BF16)),
    "sum overflow": (np.full((5, 3), 1.5e19, BF16), np.full((3, 2), 1.5e19, BF16)),
    "underflow": (np.full((5, 3), 1e-30, BF16), np.full((3, 5), 1e-30, BF16)),
    "inf * 0": (_from_bits([[0x7F80, 0x3F80]], BF16), _from_bits([[0], [0x3F80]], BF16)),
    "signalling NaN": (_from_bits([[0x7F81, 0x3F80]] * 6, BF16), _from_bits([[1], [2]], BF16)),
    "NaN payload": (_from_bits([[0xFFA5, 0x3F80]] * 6, BF16), _from_bits([[1], [2]], BF16)),
}


@pytest.mark.parametrize(
    "a,b", list(F16_CASES.values()) + list(BF16_CASES.values()), ids=[*F16_CASES, *BF16_CASES]
)
@pytest.mark.parametrize("under", ["warn", "ignore"])
def test_flags_and_non_finite_bits_are_numpys(a, b, under):
    # bfloat16 with underflow reported is numpy's own loop (the GEMM's threads cannot see
    # float32 underflow); with underflow ignored, numpy's default, it is halfkit's.
    numpy_value, numpy_warned, numpy_raised, _ = _reports(lambda: np.dot(a, b), under)
    with halfkit.patched_numpy():
        value, warned, raised, where = _reports(lambda: np.dot(a, b), under)
    assert warned == numpy_warned and raised == numpy_raised
    assert all(f == __file__ for f in where)  # the caller's line, as numpy's own warning
    finite = np.isfinite(np.asarray(numpy_value, F32))
    np.testing.assert_array_equal(_bits(value)[~finite], _bits(numpy_value)[~finite])
    np.testing.assert_array_equal(np.isfinite(np.asarray(value, F32)), finite)


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix
def test_other_calls_are_numpys_own():
    rng = np.random.default_rng(5)
    x32, y32 = rng.standard_normal((6, 7), F32), rng.standard_normal((7, 3), F32)
    h = x32.astype(F16)
    cases = [
        (x32, y32),  # float32: numpy's BLAS
        (h, y32),  # mixed dtypes
        (h, np.float16(2.0)),  # a scalar operand
        (h.tolist(), y32.tolist()),  # lists
        (np.asmatrix(h), np.asmatrix(h.T)),  # a subclass
        (h.astype(F16.newbyteorder()), h.T),  # byte-swapped
        (np.zeros((3, 0), F16), np.zeros((0, 2), F16)),  # k = 0
    ]
    want = [np.dot(x, y) for x, y in cases]
    with halfkit.patched_numpy():
        got = [np.dot(x, y) for x, y in cases]
    for w, g in zip(want, got, strict=True):
        assert type(w) is type(g) and np.asarray(w).dtype == np.asarray(g).dtype
        np.testing.assert_array_equal(np.asarray(g), np.asarray(w))


def test_array_function_dispatch_survives():
    class Duck:
        def __array_function__(self, func, types, args, kwargs):
            return ("dispatched", func.__name__)

    with halfkit.patched_numpy():
        assert np.dot(Duck(), np.ones(2, F16)) == ("dispatched", "dot")


def test_patch_and_unpatch_swap_numpy_dot():
    own = np.dot
    with halfkit.patched_numpy():
        assert np.dot is halfkit._core.dot and np.dot.__name__ == "dot"
        assert "halfkit" in np.dot.__doc__
    assert np.dot is own
    halfkit.unpatch_numpy()
    assert np.dot is own
    # A numpy.dot replaced by someone else is left to them, in both directions.
    other = np.dot = lambda a, b, out=None: "other"
    try:
        halfkit.patch_numpy()
        assert np.dot is other
        halfkit.unpatch_numpy()
        assert np.dot is other
    finally:
        np.dot = own
        halfkit.unpatch_numpy()
