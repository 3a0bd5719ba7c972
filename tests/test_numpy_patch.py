"""halfkit.patch_numpy: numpy's own matmul on float16 and bfloat16 arrays, run by halfkit's
GEMM. Checked against numpy 2.4.6 and ml_dtypes 0.7.0: the patched numpy keeps numpy's
semantics (shapes, broadcasting, 1-D promotion, out=, errors, result dtypes) and gives
halfkit.matmul's bits; unpatched, numpy's own bits come back. bfloat16 registration depends on
the order of calls in a process, so those tests run in fresh interpreters."""

import subprocess
import sys
import textwrap
import threading

import halfkit
import numpy as np
import pytest
from conftest import BF16, F16, F32

SHAPES = [
    ((5, 7), (7, 3)),
    ((1, 1), (1, 1)),
    ((7,), (7, 4)),
    ((6, 7), (7,)),
    ((9,), (9,)),
    ((3, 1, 8, 5), (4, 5, 6)),
    ((2, 65, 130), (2, 130, 33)),
    ((4, 0), (0, 3)),
    ((0, 4), (4, 3)),
]


def _rand(shape, seed, dtype=F16):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("sa,sb", SHAPES, ids=str)
def test_float16_matmul_is_halfkits_and_keeps_numpys_semantics(sa, sb):
    a, b = _rand(sa, 1), _rand(sb, 2)
    numpy_result = np.matmul(a, b)
    with halfkit.patched_numpy():
        patched = a @ b
        also = np.matmul(a, b)
    assert type(patched) is type(numpy_result)
    assert patched.dtype == numpy_result.dtype == F16 and patched.shape == numpy_result.shape
    want = halfkit.matmul(a, b, out_dtype=F16)
    np.testing.assert_array_equal(np.asarray(patched), np.asarray(want))
    np.testing.assert_array_equal(np.asarray(also), np.asarray(want))
    # numpy's loop sums in another order: the two agree to float16's rounding.
    np.testing.assert_allclose(
        np.asarray(patched, F32), np.asarray(numpy_result, F32), rtol=2e-3, atol=2e-3
    )


def test_strides_out_and_views():
    a = _rand((40, 60), 3)[::2, 1::3]  # 20 x 20, strided
    b = _rand((20, 50), 4).T[::2]  # 25 x 20 (transposed view)
    b = b[:20]
    with halfkit.patched_numpy():
        np.testing.assert_array_equal(a @ b, halfkit.matmul(a, b, out_dtype=F16))
        out = np.empty((3, 20, 20), F16)[1]
        assert np.matmul(a, b, out=out) is out
        np.testing.assert_array_equal(out, halfkit.matmul(a, b, out_dtype=F16))
        wide = np.matmul(a, b, out=np.empty((20, 20), F32))  # numpy's own cast of the f16 result
        np.testing.assert_array_equal(wide, halfkit.matmul(a, b, out_dtype=F16).astype(F32))
    # Odd byte strides, which halfkit's kernels do not take: numpy's own loop runs (or numpy
    # hands the loop aligned copies, which halfkit's kernels take).
    buf = _rand((801,), 5).view(np.uint8)
    x = np.ndarray((20, 20), F16, buffer=buf, offset=1, strides=(41, 2))
    with np.errstate(all="ignore"):  # the shifted bytes are any float16s, inf and NaN too
        numpy_bits = (x @ x).tobytes()
    with halfkit.patched_numpy(), np.errstate(all="ignore"):
        assert (x @ x).tobytes() in {numpy_bits, halfkit.matmul(x, x, out_dtype=F16).tobytes()}


def test_errors_are_numpys():
    a, b = _rand((3, 4), 6), _rand((5, 2), 7)
    msgs = []
    for patched in (False, True):
        with halfkit.patched_numpy() if patched else np.errstate():
            with pytest.raises(ValueError) as e:
                a @ b
            msgs.append(str(e.value))
            with pytest.raises(ValueError):
                np.matmul(a, a.T, out=np.empty((2, 2), F16))
    assert msgs[0] == msgs[1]


def test_overflow_is_reported_as_numpys():
    big = np.full((2, 2), 300, F16)
    with halfkit.patched_numpy(), np.errstate(over="raise"):
        with pytest.raises(FloatingPointError, match="overflow encountered in matmul"):
            big @ big
    with np.errstate(over="raise"):
        with pytest.raises(FloatingPointError, match="overflow encountered in matmul"):
            big @ big  # numpy's own loop says the same


def test_patch_unpatch_patch_again():
    a, b = _rand((33, 47), 8), _rand((47, 29), 9)
    numpy_bits = a @ b
    ours = halfkit.matmul(a, b, out_dtype=F16)
    for _ in range(2):
        halfkit.patch_numpy()
        halfkit.patch_numpy()  # twice is once
        try:
            np.testing.assert_array_equal(a @ b, ours)
        finally:
            halfkit.unpatch_numpy()
        np.testing.assert_array_equal(a @ b, numpy_bits)
    halfkit.unpatch_numpy()  # unpatching an unpatched numpy does nothing
    np.testing.assert_array_equal(a @ b, numpy_bits)


def test_threads_multiply_while_another_patches():
    a, b = _rand((64, 48), 10), _rand((48, 40), 11)
    allowed = {(a @ b).tobytes(), halfkit.matmul(a, b, out_dtype=F16).tobytes()}
    seen, errors, stop = set(), [], threading.Event()

    def work():
        try:
            while not stop.is_set():
                seen.add((a @ b).tobytes())
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for _ in range(200):
            halfkit.patch_numpy()
            halfkit.unpatch_numpy()
    finally:
        stop.set()
        for t in threads:
            t.join()
        halfkit.unpatch_numpy()
    assert not errors and seen <= allowed and seen


def _fresh(code):
    r = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_bfloat16_patched_before_first_use():
    out = _fresh(
        """
        import warnings
        import numpy as np, halfkit
        warnings.simplefilter("error")
        bf = halfkit.bfloat16
        rng = np.random.default_rng(0)
        a, b = rng.standard_normal((3, 70, 90)).astype(bf), rng.standard_normal((90, 50)).astype(bf)
        halfkit.patch_numpy()
        r = a @ b
        assert r.dtype == np.float32 and r.shape == (3, 70, 50)
        assert np.array_equal(r, halfkit.matmul(a, b))
        assert np.array_equal(a[0, 0] @ b[:, 0], halfkit.matmul(a[0, 0], b[:, 0]))
        assert halfkit._core.numpy_patch_bf16_calls() >= 2
        halfkit.unpatch_numpy()
        n = halfkit._core.numpy_patch_bf16_calls()
        u = a @ b
        assert halfkit._core.numpy_patch_bf16_calls() == n
        assert np.array_equal(u, a.astype(np.float32) @ b.astype(np.float32))
        halfkit.patch_numpy()  # the loop was seen reached once: no second probe
        assert halfkit._core.numpy_patch_bf16_calls() == n
        assert np.array_equal(a @ b, halfkit.matmul(a, b))
        halfkit.unpatch_numpy()
        print(u.tobytes().hex()[:64], u.dtype)
        """
    )
    plain = _fresh(
        """
        import numpy as np, ml_dtypes
        bf = ml_dtypes.bfloat16
        rng = np.random.default_rng(0)
        a, b = rng.standard_normal((3, 70, 90)).astype(bf), rng.standard_normal((90, 50)).astype(bf)
        u = a @ b
        print(u.tobytes().hex()[:64], u.dtype)
        """
    )
    assert out == plain  # unpatched, numpy's own result, bit for bit


def test_bfloat16_used_before_patch_stays_numpys_and_says_so():
    _fresh(
        """
        import warnings
        import numpy as np, halfkit
        bf = halfkit.bfloat16
        a = np.ones((4, 4), bf)
        want = a @ a
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            halfkit.patch_numpy()
        assert [str(x.message) for x in w if "before the first" in str(x.message)], w
        assert np.array_equal(a @ a, want) and halfkit._core.numpy_patch_bf16_calls() == 0
        f = np.ones((4, 4), np.float16)
        assert np.array_equal(f @ f, halfkit.matmul(f, f, out_dtype=np.float16))  # float16 is
        """
    )


def test_numpy_patch_is_exported_and_typed():
    import halfkit._core as core

    assert {"patch_numpy", "unpatch_numpy", "patched_numpy"} <= set(halfkit.__all__)
    assert BF16.num == np.dtype(halfkit.bfloat16).num
    assert isinstance(core.numpy_patch_bf16_calls(), int)
