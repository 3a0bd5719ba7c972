"""halfkit.fixed_point: float32/float64 values as Qm.n fixed-point values or codes.

The specification is an exact model written here with fractions; halfkit.fixed_point must match
it bit for bit on every CPU tier, for every deterministic mode, both overflow rules, signed and
unsigned words from 1 to 64 bits, values and codes. fxpmath 0.4.10 is the independent oracle for
the modes it has (its "around" is nearest-even, "fix" toward zero, "ceil" up, "floor" down)."""

import math
import warnings
from fractions import Fraction

import halfkit
import numpy as np
import pytest
from halfkit._formats import ROUNDINGS

TIERS = halfkit._core.isa_supported()
DETERMINISTIC = [m for m in ROUNDINGS if m != "stochastic"]

# (integer_bits, fraction_bits, signed): int8-style weights, DSP's Q15 and Q15.16, unsigned
# bytes, words of 1 and 64 bits, and both counts negative.
WORDS = [
    (0, 7, True),
    (3, 4, True),
    (7, 8, True),
    (0, 15, True),
    (15, 16, True),
    (8, 0, False),
    (4, 4, False),
    (0, 0, True),
    (0, 1, False),
    (-2, 10, True),
    (6, -2, True),
    (31, 32, True),
    (40, 24, False),
    # The edges of the FPU path (words whose codes stay within 2^22 for float32 sources), and
    # a quantum of 2^30, where scaling a small x down underflows.
    (10, 12, True),
    (22, 0, False),
    (12, 11, False),
    (40, -30, True),
]


def model(x, m, n, signed, mode, overflow):
    """The contract, exactly: the code of x (a Python float), or None where it has none."""
    if math.isnan(x):
        return None
    w = int(signed) + m + n
    lo, hi = (-(2 ** (m + n)), 2 ** (m + n) - 1) if signed else (0, 2**w - 1)
    if math.isinf(x):
        if overflow == "wrap":
            return None
        return hi if x > 0 else lo
    v = Fraction(x) * Fraction(2) ** n
    k = math.floor(v)
    frac = v - k
    if frac:
        up = {
            "nearest-even": frac > Fraction(1, 2) or (frac == Fraction(1, 2) and k % 2 == 1),
            "nearest-away": frac > Fraction(1, 2) or (frac == Fraction(1, 2) and v > 0),
            "toward-zero": v < 0,
            "up": True,
            "down": False,
            "to-odd": k % 2 == 0,
        }[mode]
        k += int(up)
    if overflow == "saturate":
        return min(max(k, lo), hi)
    k %= 2**w
    return k - 2**w if signed and k >= 2 ** (w - 1) else k


def probes(m, n, signed, dtype):
    """Every boundary of the word in dtype: each code near zero and the range ends, with its
    neighbours and the midpoints between codes, values far past the range, the source's
    subnormals, zeros, infinities and NaN, and random values over the whole range."""
    q = 2.0**-n
    top = 2.0**m
    vals = [0.0, -0.0, math.inf, -math.inf, math.nan, 1e-40, -1e-40, 5e-324, 3e38, -3e38]
    for k in range(-40, 41):
        for base in (0.0, top, -top):
            for off in (0.0, 0.25, 0.5, 0.75):
                vals.append(base + (k + off) * q)
    vals += [top * 2.0**j for j in range(-3, 60, 5)] + [-top * 2.0**j for j in range(-3, 60, 5)]
    rng = np.random.default_rng(abs(m) * 1000 + abs(n))
    vals += list(rng.uniform(-1.5 * top, 1.5 * top, 2000))
    vals += list(rng.standard_normal(500) * q * 8)
    with np.errstate(over="ignore"):
        x = np.array(vals, np.float64).astype(dtype)
    return x[np.isfinite(x) | np.isnan(x) | np.isinf(x)]


@pytest.fixture(autouse=True)
def restore_tier():
    before = halfkit._core.isa()
    yield
    halfkit._core.set_isa(before)


def check(x, m, n, signed, mode, overflow, codes):
    want = [model(float(v), m, n, signed, mode, overflow) for v in x]
    for t in TIERS:
        halfkit._core.set_isa(t)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            got = halfkit.fixed_point(
                x,
                integer_bits=m,
                fraction_bits=n,
                signed=signed,
                rounding=mode,
                overflow=overflow,
                codes=codes,
            )
        if codes:
            exp = np.array([0 if c is None else c for c in want], got.dtype)
            bad = np.nonzero(got != exp)[0]
        else:
            exp = np.array(
                [math.nan if c is None else float(Fraction(c) / 2**n) for c in want], x.dtype
            )
            bad = np.nonzero((got != exp) & ~(np.isnan(got) & np.isnan(exp)))[0]
            # A zero result is +0, whatever x's sign.
            zeros = exp == 0
            bad = np.union1d(bad, np.nonzero(zeros & np.signbit(got))[0])
        assert bad.size == 0, (t, [(x[i], got[i], exp[i]) for i in bad[:5]])


@pytest.mark.parametrize("word", WORDS, ids=lambda w: f"Q{w[0]}.{w[1]}{'' if w[2] else 'u'}")
@pytest.mark.parametrize("overflow", ["saturate", "wrap"])
def test_codes_match_the_exact_model(word, overflow):
    m, n, signed = word
    for dtype in (np.float32, np.float64):
        x = probes(m, n, signed, dtype)
        for mode in DETERMINISTIC:
            check(x, m, n, signed, mode, overflow, codes=True)


@pytest.mark.parametrize(
    "word", [w for w in WORDS if w[0] + w[1] <= 24], ids=lambda w: f"Q{w[0]}.{w[1]}"
)
@pytest.mark.parametrize("overflow", ["saturate", "wrap"])
def test_values_match_the_exact_model(word, overflow):
    m, n, signed = word
    for dtype in (np.float32, np.float64):
        x = probes(m, n, signed, dtype)
        for mode in DETERMINISTIC:
            check(x, m, n, signed, mode, overflow, codes=False)


@pytest.mark.parametrize("m", [20, 19], ids=["53-bit", "52-bit"])  # the FPU path takes 52
def test_float64_values_of_wide_words(m):
    x = probes(m, 32, True, np.float64)
    for mode in ("nearest-even", "down", "to-odd", "toward-zero"):
        check(x, m, 32, True, mode, "saturate", codes=False)
        check(x, m, 32, True, mode, "wrap", codes=False)


def test_code_dtypes():
    x = np.array([1.0], np.float32)
    for (m, n, signed), name in [
        ((0, 7, True), "int8"),
        ((8, 0, False), "uint8"),
        ((0, 8, True), "int16"),
        ((15, 16, True), "int32"),
        ((16, 16, True), "int64"),
        ((40, 24, False), "uint64"),
        ((0, 1, False), "uint8"),
    ]:
        r = halfkit.fixed_point(x, integer_bits=m, fraction_bits=n, signed=signed, codes=True)
        assert r.dtype == np.dtype(name), (m, n, signed)


FXP_MODES = {"nearest-even": "around", "toward-zero": "fix", "up": "ceil", "down": "floor"}


@pytest.mark.parametrize("mode", list(FXP_MODES))
@pytest.mark.parametrize("overflow", ["saturate", "wrap"])
@pytest.mark.parametrize("word", [(0, 7, True), (3, 4, True), (7, 8, True), (4, 4, False)])
def test_matches_fxpmath(mode, overflow, word):
    fxpmath = pytest.importorskip("fxpmath")
    m, n, signed = word
    rng = np.random.default_rng(5)
    top = 2.0**m
    x = np.concatenate(
        [
            rng.uniform(-2 * top, 2 * top, 3000),
            (np.arange(-300, 300) + 0.5) * 2.0**-n,  # the ties
            (np.arange(-300, 300) + 0.25) * 2.0**-n,
        ]
    )
    f = fxpmath.Fxp(
        x,
        signed=signed,
        n_word=int(signed) + m + n,
        n_frac=n,
        rounding=FXP_MODES[mode],
        overflow=overflow,
    )
    want = np.asarray(f.val).astype(np.int64)
    got = halfkit.fixed_point(
        x,
        integer_bits=m,
        fraction_bits=n,
        signed=signed,
        rounding=mode,
        overflow=overflow,
        codes=True,
    )
    np.testing.assert_array_equal(got.astype(np.int64), want)
    values = halfkit.fixed_point(
        x, integer_bits=m, fraction_bits=n, signed=signed, rounding=mode, overflow=overflow
    )
    np.testing.assert_array_equal(values, np.asarray(f.get_val(), np.float64))


# ---- stochastic rounding -----------------------------------------------------------------------


def test_stochastic_bits_do_not_depend_on_tier_or_threads():
    rng = np.random.default_rng(3)
    x = rng.standard_normal(300_001).astype(np.float32)
    results = set()
    before = halfkit.get_num_threads()
    try:
        for t in TIERS:
            halfkit._core.set_isa(t)
            for threads in (1, 2):
                halfkit.set_num_threads(threads)
                r = halfkit.fixed_point(
                    x, integer_bits=3, fraction_bits=4, rounding="stochastic", seed=7
                )
                results.add(r.tobytes())
    finally:
        halfkit.set_num_threads(before)
    assert len(results) == 1
    kw = dict(integer_bits=3, fraction_bits=4, rounding="stochastic")
    assert halfkit.fixed_point(x, seed=8, **kw).tobytes() not in results
    a = halfkit.fixed_point(x, **kw)
    b = halfkit.fixed_point(x, **kw)
    assert a.tobytes() != b.tobytes()  # a fresh seed per call without one
    codes = halfkit.fixed_point(x, seed=7, codes=True, **kw)
    np.testing.assert_array_equal(codes * 2.0**-4, np.frombuffer(results.pop(), np.float32))


@pytest.mark.parametrize(
    "value,m,n,signed",
    [
        (0.3 + 2**-9, 0, 7, True),  # 0.4 of the way between two codes
        (-(1 + 3 * 2**-6), 3, 4, True),  # 0.75 of the way, negative
        (2**-9 * 0.3, 0, 7, True),  # far below the quantum: up 0.3 / 4 of the time
        (1 - 2**-8, 0, 7, True),  # between the largest code and the next step
        (255.3, 8, 0, False),  # past the largest unsigned code
    ],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stochastic_is_unbiased_and_up_with_the_right_probability(value, m, n, signed, dtype):
    count = 400_000
    x = np.full(count, value, dtype)
    kw = dict(integer_bits=m, fraction_bits=n, signed=signed)
    r = halfkit.fixed_point(x, rounding="stochastic", seed=11, **kw).astype(np.float64)
    v = Fraction(float(dtype(value))) * 2**n
    lo = math.floor(v) if value > 0 else math.ceil(v)
    p = float(abs(v - lo))
    hi = lo + (1 if value > 0 else -1)
    top = 2 ** (m + n) - 1 if signed else 2 ** (m + n) - 1
    codes = np.rint(r * 2**n).astype(np.int64)
    if hi > top:  # the step past the largest code saturates back to it
        assert set(np.unique(codes)) == {top}
        return
    assert set(np.unique(codes)) <= {lo, hi}
    up = codes == hi
    assert abs(up.mean() - p) < 5 * math.sqrt(p * (1 - p) / count) + 2**-32
    sd = 2.0**-n * math.sqrt(p * (1 - p) / count)
    assert abs(r.mean() - float(dtype(value))) < 5 * sd + 2**-40


# ---- NaN, flags, out=, arguments ---------------------------------------------------------------


def test_nan_and_wrapped_infinities_report_invalid_as_numpy_casts_do():
    x = np.array([1.0, np.nan, 2.0], np.float32)
    kw = dict(integer_bits=3, fraction_bits=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        v = halfkit.fixed_point(x, **kw)  # values: NaN stays NaN, quietly
    assert np.isnan(v[1]) and v[0] == 1.0
    with pytest.warns(RuntimeWarning, match="invalid value encountered in fixed_point"):
        c = halfkit.fixed_point(x, codes=True, **kw)
    assert c.tolist() == [16, 0, 32]
    with np.errstate(invalid="raise"), pytest.raises(FloatingPointError):
        halfkit.fixed_point(x, codes=True, **kw)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("error")
        halfkit.fixed_point(x, codes=True, **kw)
    inf = np.array([np.inf, -np.inf])
    with pytest.warns(RuntimeWarning, match="invalid value"):
        w = halfkit.fixed_point(inf, overflow="wrap", **kw)
    assert np.isnan(w).all()
    s = halfkit.fixed_point(inf, **kw)
    assert s.tolist() == [8 - 2**-4, -8.0]


def test_out_in_place_views_byte_order_and_scalars():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((30, 40)).astype(np.float32)
    kw = dict(integer_bits=2, fraction_bits=5)
    want = halfkit.fixed_point(x, **kw)
    y = x.copy()
    assert halfkit.fixed_point(y, out=y, **kw) is y
    np.testing.assert_array_equal(y, want)
    out = np.zeros((30, 80), np.float32)[:, ::2]
    assert halfkit.fixed_point(x, out=out, **kw) is out
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(halfkit.fixed_point(np.ascontiguousarray(x.T).T, **kw), want)
    np.testing.assert_array_equal(halfkit.fixed_point(x.astype(">f4"), **kw), want)
    buf = x.ravel().copy()
    halfkit.fixed_point(buf[:-10], out=buf[10:], **kw)  # overlapping, shifted
    np.testing.assert_array_equal(buf[10:], want.ravel()[:-10])
    codes = np.zeros((30, 40), np.int8)
    assert halfkit.fixed_point(x, codes=True, out=codes, **kw) is codes
    np.testing.assert_array_equal(codes * 2.0**-5, want)
    r = halfkit.fixed_point(np.float32(0.3), **kw)
    assert type(r) is np.float32 and r == np.float32(10 / 32)
    assert halfkit.fixed_point(np.array(-0.3), **kw).shape == ()


def test_bad_arguments_are_clear_errors_and_write_nothing():
    x = np.ones(8, np.float32)
    out = np.full(8, 7.0, np.float32)
    kw = dict(integer_bits=3, fraction_bits=4)
    cases = [
        (TypeError, "must be a float32 or float64 numpy, CuPy or dask array", ([1.0],), kw),
        (TypeError, "float32 or float64, got float16", (x.astype(np.float16),), kw),
        (
            TypeError,
            "integer_bits must be an integer",
            (x,),
            dict(integer_bits=1.0, fraction_bits=4),
        ),
        (
            TypeError,
            "fraction_bits must be an integer",
            (x,),
            dict(integer_bits=1, fraction_bits=True),
        ),
        (TypeError, "signed must be True or False", (x,), dict(kw, signed="yes")),
        (ValueError, "unknown rounding 'nearest'", (x,), dict(kw, rounding="nearest")),
        (ValueError, "unknown overflow 'clip'", (x,), dict(kw, overflow="clip")),
        (ValueError, "must have 1 to 64 bits", (x,), dict(integer_bits=40, fraction_bits=30)),
        (
            ValueError,
            "must have 1 to 64 bits",
            (x,),
            dict(integer_bits=0, fraction_bits=0, signed=False),
        ),
        (ValueError, "at most 24 bits.*codes=True", (x,), dict(integer_bits=15, fraction_bits=16)),
        (
            ValueError,
            "outside float32's",
            (x,),
            dict(integer_bits=-150, fraction_bits=160, codes=False),
        ),
        (TypeError, "seed must be an integer", (x,), dict(kw, rounding="stochastic", seed=1.5)),
        (ValueError, "out must have the result's dtype .float32", (x,), dict(kw, out=np.zeros(8))),
        (ValueError, "out must have the result's dtype .int8", (x,), dict(kw, codes=True, out=out)),
        (ValueError, "out must have x's shape", (x,), dict(kw, out=np.zeros(4, np.float32))),
    ]
    for exc, match, args, kwargs in cases:
        before = out.copy()
        with pytest.raises(exc, match=match):
            halfkit.fixed_point(*args, **kwargs)
        np.testing.assert_array_equal(out, before)
    ro = np.zeros(8, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        halfkit.fixed_point(x, out=ro, **kw)
    assert (ro == 0).all()
