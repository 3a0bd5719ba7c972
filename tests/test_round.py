"""halfkit.round: float32/float64 values rounded to any format in every rounding mode.

The specification is an exact model written here with fractions (independent of the kernel's
bit tricks); halfkit.round must match it bit for bit on every CPU tier, and match ml_dtypes
0.7.0's astype (round to nearest even) on its dtypes and gfloat 0.5.2's round_float on the
formats and modes it shares."""

import math
from fractions import Fraction

import gfloat
import gfloat.formats
import halfkit
import ml_dtypes
import numpy as np
import pytest
from halfkit import Format
from halfkit._formats import ROUNDINGS

TIERS = halfkit._core.isa_supported()
MODES = list(ROUNDINGS)
DETERMINISTIC = [m for m in MODES if m != "stochastic"]
CUSTOM = {
    "e3m2 bias 5": Format(3, 2, 5),
    "e6m9 no nan": Format(6, 9, nan=None, infinities=False),
    "e5m0 all-ones": Format(5, 0, infinities=False, nan="all-ones"),
    "e1m4": Format(1, 4),
    "e8m16": Format(8, 16),
}
FORMAT_CASES = {**{n: halfkit.FORMATS[n] for n in halfkit.FORMATS if "binary" not in n}, **CUSTOM}
del FORMAT_CASES["float16"], FORMAT_CASES["float32"], FORMAT_CASES["float64"]


def model(x, fmt, mode, subnormals=True, saturate=False):
    """The contract, exactly: x (a Python float) rounded to fmt, as a Python float."""
    if math.isnan(x):
        return math.nan
    sign = -1 if math.copysign(1.0, x) < 0 else 1
    top = fmt.max_exact
    if math.isinf(x):
        if saturate or not fmt.infinities:
            return math.nan if fmt.nan is not None and not saturate else sign * float(top)
        return x
    a = abs(Fraction(x))
    if a == 0:
        return 0.0 if not fmt.negative_zero else x
    if a < Fraction(2) ** fmt.emin:
        q = Fraction(2) ** (fmt.emin - fmt.mantissa_bits if subnormals else fmt.emin)
    else:
        e = a.numerator.bit_length() - a.denominator.bit_length()
        e += 1 if Fraction(2) ** (e + 1) <= a else 0
        e -= 1 if Fraction(2) ** e > a else 0
        q = Fraction(2) ** (e - fmt.mantissa_bits)
    n = a // q  # lower neighbour, in quanta
    lo, hi = n * q, (n + 1) * q
    if lo == a:
        r = a
    else:
        d = (a - lo) / q
        if mode == "nearest-even":
            up = d > Fraction(1, 2) or (d == Fraction(1, 2) and n % 2 == 1)
        elif mode == "nearest-away":
            up = d >= Fraction(1, 2)
        elif mode == "toward-zero":
            up = False
        elif mode == "up":
            up = sign > 0
        elif mode == "down":
            up = sign < 0
        elif mode == "to-odd":
            up = n % 2 == 0
        r = hi if up else lo
    if r > top:
        to_max = mode in ("toward-zero", "to-odd") or (mode, sign) in (("up", -1), ("down", 1))
        if saturate or to_max or (not fmt.infinities and fmt.nan is None):
            r = top
        elif fmt.infinities:
            return sign * math.inf
        else:
            return math.nan
    if r == 0 and not fmt.negative_zero:
        return 0.0
    return sign * float(r)


def probes(fmt, dtype):
    """Every boundary the contract has near fmt's values, as dtype: representable values,
    their neighbours in dtype, midpoints and quarter points, subnormals, the overflow region,
    zeros, infinities."""
    m = fmt.mantissa_bits
    vals = set()
    exps = range(fmt.emin - m - 2, fmt.emax + 3)
    if len(exps) > 60:  # wide formats: the ends of the range and a few binades between
        exps = [
            *range(fmt.emin - m - 2, fmt.emin + 4),
            *range(-3, 4),
            *range(fmt.emax - 3, fmt.emax + 3),
        ]
    steps = range(2 ** min(m, 3) * 4)
    for e in exps:
        for i in steps:
            vals.add(Fraction(2) ** e * (1 + Fraction(i, 4 * 2 ** min(m, 3))))
    top = fmt.max_exact
    ulp = Fraction(2) ** (fmt.emax - m)
    vals |= {top, top + ulp / 2, top + ulp, top + ulp / 4, top + 3 * ulp / 4, 2 * top}
    info = np.finfo(dtype)
    out = []
    for v in vals:
        if v > Fraction(float(info.max)) or v < Fraction(float(info.smallest_subnormal)):
            continue
        out += [float(v), -float(v)]
    arr = np.array(out, dtype)
    with np.errstate(over="ignore"):  # max's neighbour is inf
        arr = np.concatenate(
            [arr, np.nextafter(arr, np.inf, dtype=dtype), np.nextafter(arr, -np.inf, dtype=dtype)]
        )
    extra = [0.0, -0.0, np.inf, -np.inf, info.smallest_subnormal, info.max, -info.max]
    return np.concatenate([arr, np.array(extra, dtype)])


def check_against_model(x, fmt, mode, **kw):
    """halfkit.round on every tier against the model, element by element."""
    want = np.array([model(float(v), fmt, mode, **kw) for v in x], x.dtype)
    nan = np.isnan(want)
    u = f"u{x.itemsize}"
    for t in TIERS:
        halfkit._core.set_isa(t)
        got = halfkit.round(x, fmt, rounding=mode, **kw)
        assert (np.isnan(got) == nan).all(), t
        bad = np.flatnonzero(got[~nan].view(u) != want[~nan].view(u))
        assert bad.size == 0, (t, x[~nan][bad][:5], got[~nan][bad][:5], want[~nan][bad][:5])


@pytest.mark.parametrize("mode", DETERMINISTIC)
@pytest.mark.parametrize("name", list(FORMAT_CASES))
def test_every_mode_matches_the_exact_model(name, mode, all_tiers):
    fmt = FORMAT_CASES[name]
    for dtype in (np.float32, np.float64):
        x = probes(fmt, dtype)
        check_against_model(x, fmt, mode)
    check_against_model(x, fmt, mode, subnormals=False)
    check_against_model(x, fmt, mode, saturate=True)


@pytest.mark.parametrize("mode", DETERMINISTIC)
def test_wide_formats_from_float64(mode, all_tiers):
    for fmt in (Format(11, 40), Format(10, 52), halfkit.FORMATS["binary64"], Format(9, 23)):
        check_against_model(probes(fmt, np.float64), fmt, mode)
        check_against_model(probes(fmt, np.float64), fmt, mode, subnormals=False)


@pytest.mark.parametrize("name", [n for n in FORMAT_CASES if n.startswith("float")])
def test_matches_ml_dtypes_astype(name, tier):
    dt = getattr(ml_dtypes, name)
    rng = np.random.default_rng(7)
    x = (rng.standard_normal(1 << 16) * np.exp(rng.uniform(-30, 30, 1 << 16))).astype(np.float32)
    x = np.concatenate([x, probes(halfkit.FORMATS[name], np.float32)])
    with np.errstate(all="ignore"):
        want = x.astype(dt).astype(np.float32)
    got = halfkit.round(x, dt)
    nan = np.isnan(want)
    if halfkit.FORMATS[name].nan is None:
        assert not nan.any()  # ml_dtypes saturates finite-only formats, infinities included
    np.testing.assert_array_equal(np.isnan(got), nan)
    np.testing.assert_array_equal(got[~nan].view(np.uint32), want[~nan].view(np.uint32))


def test_bfloat16_and_float16_presets_are_numpys_and_ml_dtypes_casts(tier):
    x = np.arange(0, 1 << 32, 4099, dtype=np.uint64).astype(np.uint32).view(np.float32)
    for fmt, dt in (("binary16", np.float16), ("bfloat16", ml_dtypes.bfloat16)):
        with np.errstate(all="ignore"):
            want = x.astype(dt).astype(np.float32)
        got = halfkit.round(x, fmt)
        nan = np.isnan(x)
        np.testing.assert_array_equal(got[~nan].view(np.uint32), want[~nan].view(np.uint32))
        assert np.isnan(got[nan]).all()


GFLOAT = {
    "nearest-even": "TiesToEven",
    "nearest-away": "TiesToAway",
    "toward-zero": "TowardZero",
    "up": "TowardPositive",
    "down": "TowardNegative",
}


@pytest.mark.parametrize("mode", list(GFLOAT))
@pytest.mark.parametrize(
    "gname,name",
    [
        ("format_info_binary16", "binary16"),
        ("format_info_bfloat16", "bfloat16"),
        ("format_info_ocp_e5m2", "float8_e5m2"),
        ("format_info_ocp_e4m3", "float8_e4m3fn"),
        ("format_info_ocp_e3m2", "float6_e3m2fn"),
        ("format_info_ocp_e2m1", "float4_e2m1fn"),
    ],
)
def test_matches_gfloat(gname, name, mode):
    fi = getattr(gfloat.formats, gname)
    fmt = halfkit.FORMATS[name]
    x = probes(fmt, np.float64)
    x = x[np.isfinite(x)]
    for sat in (False, True):
        if not sat and fmt.nan is None:
            continue  # gfloat refuses to overflow a format without inf or NaN (halfkit saturates)
        got = halfkit.round(x, fmt, rounding=mode, saturate=sat)
        rnd = getattr(gfloat.RoundMode, GFLOAT[mode])
        with np.errstate(all="ignore"):
            want = np.array([gfloat.round_float(fi, float(v), rnd, sat) for v in x])
        nan = np.isnan(want)
        np.testing.assert_array_equal(np.isnan(got), nan)
        # gfloat 0.5.2 computes in float64 arithmetic, and next to a tie below the smallest
        # subnormal (2^-25 (1 - 2^-53) for binary16) it rounds the wrong way. Where it and
        # halfkit differ, halfkit must be the exact model's, and such points must be rare.
        differ = np.flatnonzero((got != want) & ~nan)
        assert differ.size <= 4, x[differ][:8]
        for i in differ:
            assert got[i] == model(float(x[i]), fmt, mode, saturate=sat), x[i]


# ---- stochastic rounding -----------------------------------------------------------------------


def test_stochastic_bits_do_not_depend_on_tier_or_threads():
    rng = np.random.default_rng(3)
    x = rng.standard_normal(300_001).astype(np.float32)
    results = set()
    before = halfkit._core.isa()
    try:
        for t in TIERS:
            halfkit._core.set_isa(t)
            for threads in (1, 2):
                halfkit.set_num_threads(threads)
                results.add(halfkit.round(x, "bfloat16", rounding="stochastic", seed=42).tobytes())
    finally:
        halfkit._core.set_isa(before)
    assert len(results) == 1
    again = halfkit.round(x, "bfloat16", rounding="stochastic", seed=43)
    assert again.tobytes() not in results
    a = halfkit.round(x, "bfloat16", rounding="stochastic")
    b = halfkit.round(x, "bfloat16", rounding="stochastic")
    assert a.tobytes() != b.tobytes()  # a fresh seed per call without one
    # A strided view is indexed in C order: the same bits as its contiguous copy.
    v = x[:200_000].reshape(400, 500)[::2, ::-3]
    np.testing.assert_array_equal(
        halfkit.round(v, "bfloat16", rounding="stochastic", seed=5),
        halfkit.round(np.ascontiguousarray(v), "bfloat16", rounding="stochastic", seed=5),
    )


def _lowbias32(x):
    x = x.astype(np.uint32)
    x ^= x >> 16
    x *= np.uint32(0x7FEB352D)
    x ^= x >> 15
    x *= np.uint32(0x846CA68B)
    x ^= x >> 16
    return x


@pytest.mark.parametrize("base", [0, 2**32 - 300, 7 * 2**32 + 5], ids=["0", "2^32-300", "7*2^32+5"])
def test_stochastic_bits_are_the_documented_hash(tier, base):
    """Up exactly when lowbias32(lowbias32(i_lo ^ k0) ^ i_hi ^ k1) < floor(distance * 2^32),
    i the element's index in the whole array (here a block placed at base, as a dask chunk is;
    the kernels' blocks never span a multiple of 2^32), for round and fixed_point."""
    from halfkit._fixed import fixed_array
    from halfkit._formats import round_array

    n, seed = 1000, 0x0123456789ABCDEF
    k = np.random.default_rng(4).integers(0, 1 << 16, n, dtype=np.uint64)
    index = np.arange(base, base + n, dtype=np.uint64)
    r = _lowbias32(
        _lowbias32(index & 0xFFFFFFFF ^ (seed & 0xFFFFFFFF)) ^ (index >> 32) ^ (seed >> 32)
    )
    up = r.astype(np.uint64) < (k << 16)  # the distance is k / 2^16 of a quantum
    x = (1 + k.astype(np.float64) * 2.0**-23).astype(np.float32)  # bfloat16's quantum at 1: 2^-7
    where = (base, n)
    got = round_array(x, "bfloat16", "stochastic", True, False, seed, None, where)
    np.testing.assert_array_equal(got, np.where(up, np.float32(1 + 2**-7), np.float32(1)))
    q = fixed_array(x - 1, 0, 7, True, "stochastic", "saturate", seed, True, None, where)
    np.testing.assert_array_equal(q, up.astype(np.int8))


def _draws(value, fmt, n, dtype=np.float32, **kw):
    x = np.full(n, value, dtype)
    return halfkit.round(x, fmt, rounding="stochastic", seed=kw.pop("seed", 11), **kw)


@pytest.mark.parametrize(
    "fmt,value",
    [
        ("bfloat16", 1 + 2**-9),  # a quarter of the way to the next bfloat16
        ("bfloat16", -(1 + 3 * 2**-10)),
        ("float8_e4m3fn", 2**-9 * 0.3),  # below the smallest subnormal
        ("float8_e4m3fn", 2**-7 * 1.7),  # among the subnormals
        ("float8_e5m2", 57344 * 1.1),  # between the largest finite value and the next step
        ("binary16", 2.0**-24 * 0.01),  # a hundredth of the smallest subnormal
    ],
)
def test_stochastic_is_unbiased_and_up_with_the_right_probability(fmt, value):
    n = 400_000
    f = halfkit.FORMATS[fmt]
    lo = halfkit.round(np.array([value]), f, rounding="toward-zero")[0]
    hi = halfkit.round(np.array([value]), f, rounding="up" if value > 0 else "down")[0]
    r = _draws(value, f, n).astype(np.float64)
    assert set(np.unique(r)) <= {lo, hi}
    if np.isinf(hi) or np.isnan(hi):
        # The overflow step: up with the probability of the distance to the next step past
        # the largest finite value, as if the format had it.
        step = 2.0 ** (f.emax - f.mantissa_bits)
        p = (abs(value) - abs(lo)) / step
        up = ~np.isfinite(r)
    else:
        p = (abs(value) - abs(lo)) / (abs(hi) - abs(lo))
        up = np.abs(r) == abs(hi)
        # The mean is the value: E[round(x)] = x, within 5 standard deviations.
        sd = abs(hi - lo) * math.sqrt(p * (1 - p) / n)
        assert abs(r.mean() - value) < 5 * sd + abs(value) * 2**-30
    assert abs(up.mean() - p) < 5 * math.sqrt(p * (1 - p) / n) + 2**-32


def test_stochastic_from_float64_and_to_float16():
    x = np.full(200_000, 1 + 2**-12, np.float64)  # 1/4 of a float16 quantum above 1
    r = halfkit.round(x, "binary16", rounding="stochastic", seed=1)
    assert set(np.unique(r)) == {1.0, 1 + 2**-10}
    assert abs((r > 1).mean() - 0.25) < 0.005


# ---- arguments, out= ---------------------------------------------------------------------------


def test_out_in_place_views_and_byte_order():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((30, 40)).astype(np.float32)
    want = halfkit.round(x, "float8_e4m3fn")
    y = x.copy()
    assert halfkit.round(y, "float8_e4m3fn", out=y) is y
    np.testing.assert_array_equal(y, want)
    out = np.zeros((30, 80), np.float32)[:, ::2]
    assert halfkit.round(x, "float8_e4m3fn", out=out) is out
    np.testing.assert_array_equal(out, want)
    big = np.ascontiguousarray(x.T)
    np.testing.assert_array_equal(halfkit.round(big.T, "float8_e4m3fn"), want)
    swapped = x.astype(">f4")
    np.testing.assert_array_equal(halfkit.round(swapped, "float8_e4m3fn"), want)
    buf = x.ravel().copy()
    halfkit.round(buf[:-10], "float8_e4m3fn", out=buf[10:])  # overlapping, shifted
    np.testing.assert_array_equal(buf[10:], halfkit.round(x.ravel()[:-10], "float8_e4m3fn"))
    r = halfkit.round(np.float32(3.3), "float4_e2m1fn")
    assert type(r) is np.float32 and r == 3.0
    assert halfkit.round(np.array(-5.1), "float4_e2m1fn").shape == ()


def _unaligned(a):
    """a's copy at an address that is not a multiple of its element size (as np.frombuffer at
    an odd offset, or some deserialised buffers, give)."""
    raw = np.zeros(a.nbytes + 1, np.uint8)
    u = raw[1:].view(a.dtype).reshape(a.shape)
    u[...] = a
    assert not u.flags.aligned
    return u


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_unaligned_inputs_and_outputs_give_the_aligned_bits(dt):
    x = (np.random.default_rng(8).standard_normal(5000) * 300).astype(dt)
    x[::97] = np.nan
    x[::89] = 1e-30
    calls = {
        "round": lambda v, out=None: halfkit.round(
            v, "float8_e4m3fn", rounding="stochastic", seed=3, out=out
        ),
        "fixed_point": lambda v, out=None: halfkit.fixed_point(
            v, integer_bits=3, fraction_bits=4, rounding="stochastic", seed=3, out=out
        ),
        "fixed_point codes": lambda v, out=None: halfkit.fixed_point(
            v, integer_bits=9, fraction_bits=4, codes=True, out=out
        ),
        "astype float8": lambda v, out=None: halfkit.astype(v, ml_dtypes.float8_e5m2, out=out),
    }
    with np.errstate(all="ignore"):
        for name, call in calls.items():
            want = call(x)
            got = call(_unaligned(x))
            assert np.array_equal(got.view(np.uint8), want.view(np.uint8)), name
            if want.itemsize > 1:
                out = _unaligned(np.zeros_like(want))
                call(_unaligned(x), out=out)
                assert np.array_equal(out.view(np.uint8), want.view(np.uint8)), name
        codes = halfkit.astype(x, ml_dtypes.float8_e5m2)
        out = _unaligned(np.zeros(x.shape, dt))
        halfkit.astype(codes, dt, out=out)
        assert np.array_equal(out.view(np.uint8), codes.astype(dt).view(np.uint8))


def test_bad_arguments_are_clear_errors_and_write_nothing():
    x = np.ones(8, np.float32)
    out = np.full(8, 7.0, np.float32)
    cases = [
        (TypeError, "float32 or float64 numpy, CuPy or dask array", dict(x=[1.0, 2.0])),
        (TypeError, "float32 or float64", dict(x=np.ones(3, np.int32))),
        (TypeError, "float32 or float64", dict(x=np.ones(3, np.float16))),
        (ValueError, "at most 23 mantissa bits", dict(fmt=Format(8, 30))),
        (ValueError, "wider than float32", dict(fmt=Format(9, 10))),
        (ValueError, "unknown rounding 'nearest'", dict(rounding="nearest")),
        (ValueError, "unknown format name 'fp9'", dict(fmt="fp9")),
        (TypeError, "fmt must be", dict(fmt=3.5)),
        (ValueError, "float8_e8m0fnu", dict(fmt=ml_dtypes.float8_e8m0fnu)),
        (TypeError, "seed must be an integer", dict(seed=1.5)),
        (ValueError, r"seed must be in \[0, 2\*\*64\)", dict(seed=-1)),
        (TypeError, "saturate must be True or False", dict(saturate="yes")),
        (ValueError, "out must have x's dtype", dict(out=np.zeros(8, np.float64))),
        (ValueError, "out must have x's shape", dict(out=np.zeros(9, np.float32))),
    ]
    for exc, msg, kw in cases:
        args = dict(x=x, fmt="bfloat16", out=out)
        args.update(kw)
        with pytest.raises(exc, match=msg):
            halfkit.round(args.pop("x"), args.pop("fmt"), **args)
        assert (out == 7.0).all()
    ro = np.zeros(8, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        halfkit.round(x, "bfloat16", out=ro)


def test_format_value_type():
    f = Format(4, 3, infinities=False, nan="all-ones")
    assert f == halfkit.FORMATS["float8_e4m3fn"] and f.max == 448 and f.bias == 7
    assert f.smallest_subnormal == 2.0**-9 and f.smallest_normal == 2.0**-6
    assert Format.from_dtype(ml_dtypes.float8_e5m2fnuz).max == 57344
    assert Format.from_dtype(np.float16) is halfkit.FORMATS["binary16"]
    assert halfkit.FORMATS["tf32"].max == float(np.finfo(np.float32).max) * (1 - 2**-11) / (
        1 - 2**-24
    )
    assert repr(halfkit.FORMATS["bfloat16"]) == "Format.named('bfloat16')"
    assert "exponent_bits=3" in repr(Format(3, 2, 5))
    for name in halfkit.FORMATS:
        if name.startswith(("float8", "float6_", "float4")):
            assert halfkit.FORMATS[name].max == float(ml_dtypes.finfo(getattr(ml_dtypes, name)).max)
            assert halfkit.FORMATS[name].smallest_subnormal == float(
                ml_dtypes.finfo(getattr(ml_dtypes, name)).smallest_subnormal
            )
    with pytest.raises(ValueError, match="infinities=True goes with nan='ieee'"):
        Format(4, 3, infinities=True, nan="all-ones")
    with pytest.raises(ValueError, match="exponent_bits must be 1 to 11"):
        Format(0, 3)
    with pytest.raises(TypeError, match="mantissa_bits must be an integer"):
        Format(4, 2.5)
