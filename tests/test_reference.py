"""The scalar reference (the contract in code) against the live peers and an exact model."""

import math

import numpy as np
import pytest
from conftest import (
    BF16,
    F16,
    F32,
    F64,
    PAIRS,
    all_16bit,
    assert_bits,
    bits,
    nudged_ties,
    pair_id,
    reference,
)
from halfkit import _verify
from halfkit._exact import round_exact
from halfkit._verify import peer_cast

VECTORS_F32 = np.array(
    [0x3F801000, 0x3F803000, 0x3F808000, 0x3F818000,  # ties
     0x477FEFFF, 0x477FF000, 0x7F7F7FFF, 0x7F7F8000,  # overflow edges
     0x33000000, 0x33000001, 0x33C00000, 0x387FF000, 0x00008000, 0x00008001,
     0x00018000, 0x007FFFFF, 0x00400000, 0x807FFFFF,  # subnormal edges
     0x7FC00000, 0xFFC00000, 0x7FC12345, 0x7FFFFFFF, 0x7F800001, 0x7FA00000,
     0x7F802000, 0x7F810000, 0xFF800001],  # NaNs
    dtype=np.uint32,
)  # fmt: skip


def peer(x, dst):
    """numpy for float16 results, ml_dtypes for bfloat16 ones (both are numpy casts; on CPUs
    where numpy's float16 casts are the FPU's, NaN lanes follow the contract's rule)."""
    return peer_cast(x, dst)


@pytest.mark.skipif(
    not _verify._NUMPY_F16_IN_SOFTWARE, reason="numpy's float16 casts are the FPU's"
)
@pytest.mark.parametrize("pair", [(F16, F32), (F16, F64), (F32, F16), (F64, F16)], ids=pair_id)
def test_contract_nan_rule_is_numpy_on_x86(pair):
    """Where numpy's float16 casts use the FPU (aarch64), its NaN lanes are replaced by
    _contract_nan: here, where numpy is the contract, the rule must give numpy's bits."""
    src, dst = pair
    rng = np.random.default_rng(21)
    if src == F16:
        x = all_16bit(F16)
    else:
        u = bits(np.ones(1, src)).dtype
        x = rng.integers(0, np.iinfo(u).max, 1 << 16, dtype=u, endpoint=True).view(src)
        top = {F32: 0x7F800000, F64: 0x7FF0000000000000}[src]
        x.view(u)[:] |= u.type(top)  # every one a NaN or an infinity
        if src == F32:
            x = np.concatenate([x, VECTORS_F32.view(F32)])
    nan = np.isnan(x)
    assert nan.sum() > 1000
    with np.errstate(all="ignore"):
        want = bits(x[nan].astype(dst))
    assert_bits(x[nan], _verify._contract_nan(x[nan], dst).view(dst), want.view(dst))


@pytest.mark.parametrize("pair", [p for p in PAIRS if p[0].itemsize == 2], ids=pair_id)
def test_every_16bit_input_matches_peer(pair):
    src, dst = pair
    x = all_16bit(src)
    assert_bits(x, reference(x, dst)[0], peer(x, dst))


@pytest.mark.parametrize("dst", [F16, BF16], ids=lambda d: d.name)
def test_f32_vectors_match_peer(dst):
    x = VECTORS_F32.view(F32)
    assert_bits(x, reference(x, dst)[0], peer(x, dst))


def _f32_chunks(step):
    chunk = 1 << 26
    for start in range(0, 1 << 32, chunk):
        yield np.arange(start, start + chunk, step, dtype=np.uint64).astype(np.uint32).view(F32)


def test_every_f32_input_to_bf16_matches_ml_dtypes():
    for x in _f32_chunks(1):
        assert_bits(x, reference(x, BF16)[0], peer(x, BF16))


def test_f32_to_f16_sample_matches_numpy():
    # numpy's float16 cast is scalar (about 300 s for all inputs): every 61st pattern here,
    # all of them in the slow test below.
    for x in _f32_chunks(61):
        assert_bits(x, reference(x, F16)[0], peer(x, F16))


@pytest.mark.slow
def test_every_f32_input_to_f16_matches_numpy():
    for x in _f32_chunks(1):
        assert_bits(x, reference(x, F16)[0], peer(x, F16))


def _f64_cases(fmt):
    """Every value of a 16-bit format, the midpoints between neighbours, and a few float64 ulps
    around each, plus random doubles over the whole range."""
    with np.errstate(invalid="ignore"):  # ml_dtypes flags signalling NaNs
        v = all_16bit(fmt).astype(F64)
    v = v[np.isfinite(v)]
    v = np.unique(v)
    mids = (v[:-1] + v[1:]) / 2  # exact: neighbours differ by few bits
    base = np.concatenate([v, mids])
    ulps = [base]
    for k in (1, 2, 7):
        ulps.append(np.nextafter(base, np.inf))
        ulps.append(np.nextafter(base, -np.inf))
        base_b = bits(base).astype(np.int64)
        ulps.append((base_b + k).astype(np.uint64).view(F64))
        ulps.append((base_b - k).astype(np.uint64).view(F64))
    rng = np.random.default_rng(1234)
    rand = rng.integers(0, 1 << 64, size=1 << 20, dtype=np.uint64, endpoint=False).view(F64)
    return np.concatenate(ulps + [rand, -np.concatenate(ulps)])


def test_f64_to_f16_matches_numpy():
    x = _f64_cases(F16)
    assert_bits(x, reference(x, F16)[0], peer(x, F16))


def test_f64_to_bf16_matches_ml_dtypes_away_from_double_rounding():
    # Every ml_dtypes version agrees wherever rounding to float32 first was exact (0.6 and
    # earlier round twice, through float32; 0.7 once, as halfkit does).
    x = _f64_cases(BF16)
    with np.errstate(over="ignore", invalid="ignore"):
        exact_in_f32 = x.astype(F32).astype(F64) == x
    xs = x[exact_in_f32 | np.isnan(x)]
    assert xs.size > 100_000
    assert_bits(xs, reference(xs, BF16)[0], peer(xs, BF16))


def _ml_dtypes_version():
    import ml_dtypes

    return tuple(int(p) for p in ml_dtypes.__version__.split(".")[:2])


def test_f64_to_bf16_against_the_installed_ml_dtypes():
    """ml_dtypes 0.7.0 rounds float64 -> bfloat16 once, as halfkit does: every input agrees,
    ties nudged by every float64 bit included. 0.6 and earlier round twice (through float32)
    and differ only where the rounding to float32 was inexact, at the contract's vectors too."""
    x = np.concatenate(
        [_f64_cases(BF16), nudged_ties(BF16, 2.0**-120), nudged_ties(BF16, 4.0)[::7]]
    )
    vectors = np.array([1 + 2**-8 + 2**-40, 2**-134 + 2**-160])
    x = np.concatenate([x, -x, vectors])
    ours, theirs = bits(reference(x, BF16)[0]), bits(peer(x, BF16))
    if _ml_dtypes_version() >= (0, 7):
        assert_bits(x, ours.view(BF16), theirs.view(BF16))
        return
    with np.errstate(over="ignore", invalid="ignore"):
        inexact_in_f32 = x.astype(F32).astype(F64) != x
    differ = ours != theirs
    assert differ[-2:].all(), "ml_dtypes < 0.7 rounds the contract's vectors twice"
    assert not (differ & ~inexact_in_f32 & ~np.isnan(x)).any()


@pytest.mark.parametrize("dst", [F16, BF16], ids=lambda d: d.name)
def test_f64_sources_are_correctly_rounded(dst):
    x = _f64_cases(dst)
    rng = np.random.default_rng(7)
    sample = rng.choice(x[~np.isnan(x)], size=20_000, replace=False)
    got = bits(reference(sample, dst)[0])
    want = np.array([round_exact(float(v), dst.name) for v in sample], dtype=np.uint16)
    assert_bits(sample, got.view(dst), want.view(dst))


def test_f64_to_bf16_is_correctly_rounded_near_subnormal_ties():
    x = nudged_ties(BF16, 2.0**-124)
    x = np.concatenate([x, -x])
    want = np.array([round_exact(float(v), "bfloat16") for v in x], dtype=np.uint16)
    assert_bits(x, reference(x, BF16)[0], want.view(BF16))


@pytest.mark.parametrize(
    "value, dst, want",
    [
        (1 + 2**-8 + 2**-40, BF16, 0x3F81),  # ml_dtypes: 0x3f80
        (2**-134 + 2**-160, BF16, 0x0001),  # ml_dtypes: 0x0000
        (1 + 2**-11 + 2**-40, F16, 0x3C01),  # through float32: 0x3c00
        (65520 - 2**-30, F16, 0x7BFF),  # through float32: inf
        (math.ldexp(1, -25), F16, 0x0000),  # the tie at 2^-25 goes to zero
        (-math.inf, BF16, 0xFF80),
    ],
)
def test_f64_vectors(value, dst, want):
    got = int(bits(reference(np.array([value]), dst)[0])[0])
    assert got == want == round_exact(value, dst.name)


def test_f64_nan_payloads():
    payloads = np.array(
        [0x7FF8000000000000, 0x7FF0000000000001, 0xFFF4000000000000, 0x7FF0040000000000,
         0x7FFFFFFFFFFFFFFF, 0x7FF0000004000000],
        dtype=np.uint64,
    )  # fmt: skip
    x = payloads.view(F64)
    assert_bits(x, reference(x, F16)[0], peer(x, F16))
    assert np.all(bits(reference(x, BF16)[0]) & 0x7FFF == 0x7FC0)


def test_reference_reports_overflow_like_numpy():
    x = np.array([65519.0, 65520.0], dtype=F32)
    assert reference(x[:1], F16)[1] == 0
    assert reference(x, F16)[1] == 1  # overflow
    assert reference(np.array([np.inf, np.nan], dtype=F32), F16)[1] == 0
    assert reference(np.array([3e38], dtype=F32), BF16)[1] == 0  # ml_dtypes: no flag
