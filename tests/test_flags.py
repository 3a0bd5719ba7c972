"""The floating-point flags of every conversion, element by element, as its peer raises them:
numpy's float16 casts (overflow; underflow from float32 and float64), ml_dtypes for the rest
(float64 -> bfloat16 raises a hardware float64 -> float32 cast's overflow and underflow,
bfloat16 -> float16 overflow only; float32 and float16 -> bfloat16 and bfloat16 -> float64
raise invalid on signalling NaNs; the others nothing). Written against numpy 2.4.6 and
ml_dtypes 0.7.0 on x86-64; the rules are in docs/numerics.md. Every tier, with the value in
several lanes of a block, so that the SIMD paths' flag lanes are covered."""

import warnings

import halfkit
import ml_dtypes
import numpy as np
import pytest
from conftest import BF16, F16, F32, F64, PAIRS, TIERS, all_16bit, convert_with, pair_id

OVER, UNDER, INVALID = 1, 2, 4
_KEYS = ((OVER, "over"), (UNDER, "under"), (INVALID, "invalid"))


def peer_flags(x, dst):
    """The flags numpy (with ml_dtypes) raises converting each element of x alone."""
    out = np.zeros(x.size, np.uint8)
    for i, v in enumerate(x.ravel()):
        one = np.array([v])
        for bit, key in _KEYS:
            with np.errstate(all="ignore", **{key: "raise"}):
                try:
                    one.astype(dst)
                except FloatingPointError:
                    out[i] |= bit
    return out


def _f32_cases():
    rng = np.random.default_rng(3)
    exps = np.arange(0, 120, dtype=np.uint32)  # every exponent below float16's normal range
    mants = np.concatenate(
        [[0, 1, 0x1000, 0x2000, 0x3FFF, 0x400000, 0x7FE000, 0x7FFFFF], rng.integers(0, 1 << 23, 6)]
    ).astype(np.uint32)
    tiny = (exps[:, None] << 23 | mants[None, :]).ravel()
    edges = [0x477FEFFF, 0x477FF000, 0x7F7FFFFF, 0x7F800000, 0x7FC00000, 0x7F800001, 0]
    edges += [0x7FBFFFFF, 0x7FC00001, 0x7F7F8000, 0x7F7F7FFF]  # NaN kinds, bfloat16's overflow
    u = np.concatenate([tiny, edges]).astype(np.uint32)
    return np.concatenate([u, u | 0x80000000]).view(F32)


def _f64_cases():
    rng = np.random.default_rng(4)
    u = []
    for e in list(range(0, 40, 7)) + list(range(860, 905)) + list(range(995, 1012)):
        for m in (0, 1, 1 << 29, (1 << 29) - 1, 1 << 42, 1 << 51, (1 << 52) - 1):
            u.append(e << 52 | m)
        u.extend(e << 52 | int(r) for r in rng.integers(0, 1 << 52, 3))
    for e in (1150, 1151, 1152, 1038, 1039, 2046):  # near float32's and float16's overflow
        for m in (0, 1, (1 << 52) - 1, 0xFFFFFE0000000, 0xFFFFFF0000000, 0xFFFFFEFFFFFFF):
            u.append(e << 52 | m)
    u += [0x380FFFFFF0000000, 0x380FFFFFEFFFFFFF, 0x380FFFFFE0000000, 0x47EFFFFFF0000000]
    u += [0x47EFFFFFEFFFFFFF, 0x7FF0000000000000, 0x7FF8000000000000, 0x3F10000000000000]
    u += [0x7FF0000000000001, 0x7FF4000000000000, 0x47EFFFFFE0000000, 0x47EFFFFFDFFFFFFF]
    u = np.array(u, np.uint64)
    return np.concatenate([u, u | np.uint64(1 << 63)]).view(F64)


CASES = {F32: _f32_cases, F64: _f64_cases, F16: lambda: all_16bit(F16)}
CASES[BF16] = lambda: all_16bit(BF16)
_PEER_FLAGS = {}


def _cases_and_flags(pair):
    src, dst = pair
    if pair not in _PEER_FLAGS:
        x = CASES[src]()
        with np.errstate(all="ignore"):
            _PEER_FLAGS[pair] = x, peer_flags(x, dst)
    return _PEER_FLAGS[pair]


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
def test_flags_element_by_element(tier, pair):
    src, dst = pair
    x, want = _cases_and_flags(pair)
    raising = {(F32, F16): OVER | UNDER, (F64, F16): OVER | UNDER, (F64, BF16): OVER | UNDER}
    raising |= {(BF16, F16): OVER, (F32, BF16): INVALID, (F16, BF16): INVALID}
    raising |= {(BF16, F64): INVALID}
    # The cases reach every flag the pair raises, and the peer raises no other.
    assert np.bitwise_or.reduce(want) == raising.get(pair, 0)
    for pos in (0, 7, 16, 36):
        block = np.ones(37, src)
        got = np.empty(x.size, np.uint8)
        without_under = np.empty(x.size, np.uint8)
        for i, v in enumerate(x):
            block[pos] = v
            got[i] = convert_with(tier, block, dst)[1]
            without_under[i] = convert_with(tier, block, dst, underflow=False)[1]
        bad = np.flatnonzero(got != want)
        assert bad.size == 0, [
            (hex(int(x[i : i + 1].view(np.uint64 if src == F64 else np.uint32 if src == F32
                                        else np.uint16)[0])), int(got[i]), int(want[i]))
            for i in bad[:8]
        ]  # fmt: skip
        np.testing.assert_array_equal(without_under, want & (OVER | INVALID))


def test_flags_are_ored_over_a_call():
    x = np.array([1.0, 1e-8, 2.0, 1e5], F32)
    snan = np.array([0x7F81, 0x3F80], np.uint16).view(BF16)
    for tier in TIERS:
        assert convert_with(tier, x, F16)[1] == OVER | UNDER
        assert convert_with(tier, x[:3], F16)[1] == UNDER
        assert convert_with(tier, x[:3], F16, underflow=False)[1] == 0
        assert convert_with(tier, np.array([1e300, 1e-300]), BF16)[1] == OVER | UNDER
        assert convert_with(tier, np.tile(snan, 40), F64)[1] == INVALID
        assert convert_with(tier, np.tile(snan[1:], 40), F64)[1] == 0


def test_underflow_follows_errstate():
    """underflow=None (halfkit's calls) looks for underflow only where np.errstate asks,
    including after np.seterr and in nested errstates (the answer is cached per state)."""
    x = np.array([1.0, 1e-8], F32)
    for _ in range(2):
        assert convert_with("", x, F16, underflow=None)[1] == 0
        with np.errstate(under="warn"):
            assert convert_with("", x, F16, underflow=None)[1] == UNDER
            with np.errstate(under="ignore"):
                assert convert_with("", x, F16, underflow=None)[1] == 0
            assert convert_with("", x, F16, underflow=None)[1] == UNDER
        old = np.seterr(under="raise")
        try:
            assert convert_with("", x, F16, underflow=None)[1] == UNDER
        finally:
            np.seterr(**old)
        assert convert_with("", x, F16, underflow=None)[1] == 0


def _outcome(fn):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        try:
            fn()
            exc = None
        except FloatingPointError as e:
            exc = str(e)
    return exc, [(wi.category, str(wi.message)) for wi in w]


_SNAN32 = np.array([0x7F800001], np.uint32).view(F32)[0]
REPORTING = {
    (F32, F16): [1e5, 1e-8, 0.5],
    (F64, F16): [1e300, 2.0**-25, 0.5],
    (F64, BF16): [1e300, 1e-300, 0.5],
    (BF16, F16): [1e5, 1e-8, 0.5],
    (F32, BF16): [_SNAN32, 1e-8, 0.5],
}


@pytest.mark.parametrize("pair", list(REPORTING), ids=pair_id)
@pytest.mark.parametrize("over", ["ignore", "warn", "raise"])
@pytest.mark.parametrize("under", ["ignore", "warn", "raise"])
@pytest.mark.parametrize("invalid", ["ignore", "warn", "raise"])
def test_astype_reports_as_the_peer(pair, over, under, invalid):
    """What the user sees (warnings, FloatingPointError) under every errstate combination, for
    the conversions that raise flags, equals what x.astype(dst) gives, on the fast path and the
    general one (a strided out=)."""
    src, dst = pair
    if pair == (BF16, F16) and tuple(map(int, ml_dtypes.__version__.split(".")[:2])) < (0, 7):
        pytest.skip("ml_dtypes before 0.7 does not report bfloat16 -> float16 overflow")
    with np.errstate(all="ignore"):
        values = np.array(REPORTING[pair], dtype=F64 if src == F64 else F32).astype(src)
    for x in (values, values[1:], values[::2], values[2:]):
        with np.errstate(over=over, under=under, invalid=invalid):
            ours = _outcome(lambda x=x: halfkit.astype(x, dst))
            out = np.empty((x.size, 2), dst)[:, 0]
            general = _outcome(lambda x=x, out=out: halfkit.astype(x, dst, out=out))
            theirs = _outcome(lambda x=x: x.astype(dst))
        assert ours == theirs, x
        assert general == theirs, x
