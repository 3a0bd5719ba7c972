"""Every compiled SIMD tier this CPU can run, bit for bit against the scalar reference."""

import os
import subprocess
import sys

import halfkit
import numpy as np
import pytest
from conftest import (
    BF16,
    F16,
    F32,
    F64,
    FORMATS,
    PAIRS,
    SIMD_TIERS,
    TIERS,
    UNSUPPORTED_TIERS,
    all_16bit,
    assert_bits,
    bits,
    convert_with,
    nudged_ties,
    pair_id,
    reference,
)

pytestmark = pytest.mark.skipif(not SIMD_TIERS, reason="this CPU runs no SIMD tier")

UNDERFLOW = 2  # _core.convert's flags: 1 overflow, 2 underflow, 4 invalid


def assert_tier_matches(tier, x, dst):
    """Bits and flags, looking for underflow and not (halfkit's default): the kernels take
    different paths for the two."""
    want, want_flags = reference(x, dst)
    got, got_flags = convert_with(tier, x, dst)
    assert_bits(x, got, want, tier)
    assert got_flags == want_flags
    got, got_flags = convert_with(tier, x, dst, underflow=False)
    assert_bits(x, got, want, f"{tier}, underflow not looked for")
    assert got_flags == want_flags & ~UNDERFLOW


@pytest.mark.parametrize("tier", SIMD_TIERS)
@pytest.mark.parametrize("dst", [F16, BF16], ids=lambda d: d.name)
def test_every_f32_input(tier, dst):
    chunk = 1 << 26
    for start in range(0, 1 << 32, chunk):
        x = np.arange(start, start + chunk, dtype=np.uint64).astype(np.uint32).view(F32)
        assert_tier_matches(tier, x, dst)


@pytest.mark.parametrize("tier", SIMD_TIERS)
@pytest.mark.parametrize("pair", [p for p in PAIRS if p[0].itemsize == 2], ids=pair_id)
def test_every_16bit_input(tier, pair):
    src, dst = pair
    assert_tier_matches(tier, all_16bit(src), dst)


def _f64_inputs():
    rng = np.random.default_rng(99)
    rand = rng.integers(0, 1 << 64, size=1 << 21, dtype=np.uint64).view(F64)
    with np.errstate(invalid="ignore"):  # ml_dtypes flags signalling NaNs
        near = np.concatenate([all_16bit(F16).astype(F64), all_16bit(BF16).astype(F64)])
    near = near[np.isfinite(near)]
    around = [near, (near[:-1] + near[1:]) / 2]
    for k in (-3, -1, 1, 3):
        around.append((bits(near).astype(np.int64) + k).astype(np.uint64).view(F64))
    around += [nudged_ties(BF16, 2.0**-124), nudged_ties(F16, 2.0**-14)]
    nan_like = np.array(
        [0x7FF0000000000001, 0x7FF8000000000000, 0xFFF0000020000000, 0x7FF0000000000000,
         0x0000000000000001, 0x000FFFFFFFFFFFFF, 0x3810000000000000, 0x37FFFFFFFFFFFFFF],
        dtype=np.uint64,
    ).view(F64)  # fmt: skip
    # Around FLT_MAX, where a float32 narrowed toward zero lands: the float32 below it and the
    # bfloat16 midpoint under it, FLT_MAX, and 2^128 - 2^103 (from there a float32 cast
    # overflows), each with its float64 neighbours.
    centres = np.array(
        [0x47EFFFFFC0000000, 0x47EFF00000000000, 0x47EFFFFFE0000000, 0x47EFFFFFF0000000],
        dtype=np.int64,
    )
    near_max = (centres[:, None] + np.arange(-2, 3)).ravel().astype(np.uint64).view(F64)
    nan_like = np.concatenate([nan_like, near_max, -near_max])
    return np.concatenate([rand, *around, nan_like, -rand])


@pytest.mark.parametrize("tier", SIMD_TIERS)
@pytest.mark.parametrize("dst", [F16, BF16], ids=lambda d: d.name)
def test_f64_sources(tier, dst):
    assert_tier_matches(tier, _f64_inputs(), dst)


@pytest.mark.parametrize("tier", SIMD_TIERS)
@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
def test_tails_offsets_and_lone_specials(tier, pair):
    """Every length up to a few vectors, at every offset, with one special value moved
    through the block so the decline-to-reference path is hit at each lane."""
    src, dst = pair
    rng = np.random.default_rng(5)
    base = (rng.standard_normal(200) * 300).astype(src)
    specials = {
        2: [0x7C01, 0x7E00, 0x0001, 0xFBFF, 0x7F81, 0x0040, 0x7C00, 0xFF80],
        4: [0x7F800001, 0x7FC00000, 0x477FF000, 0x00000001, 0x7F7FFFFF, 0xFF800000],
        8: [
            0x7FF0000000000001,
            0x40EFFE0000000000,
            0x0000000000000001,
            0x7FF0000000000000,
            0xFFF0000000000000,
        ],
    }[src.itemsize]
    for n in list(range(0, 70)) + [127, 128, 129]:
        for off in (0, 1, 3):
            assert_tier_matches(tier, base[off : off + n], dst)
    for s in specials:
        for lane in range(0, 40):
            x = base[:40].copy()
            x.view(bits(x).dtype)[lane] = s
            assert_tier_matches(tier, x, dst)


@pytest.mark.parametrize("tier", SIMD_TIERS)
@pytest.mark.parametrize("pair", [(F32, F16), (F16, F32), (F32, BF16)], ids=pair_id)
def test_lone_specials_in_long_runs(tier, pair):
    """These pairs convert long stretches with no per-element test and look back afterwards
    (MXCSR's flags, or the largest magnitude seen), redoing a stretch that met a lane the plain
    conversion gets wrong: one special value anywhere in 20K elements, or two in different
    stretches, at start offsets that move the stretches' boundaries."""
    src, dst = pair
    rng = np.random.default_rng(23)
    n = 20_000
    base = (rng.standard_normal(n + 40) * 300).astype(src)
    specials = {
        (F32, F16): [0x7F800001, 0x477FF000, 0x7FC00000],
        (F16, F32): [0x7C01, 0xFE01, 0x7C00],
        (F32, BF16): [0x7F800001, 0xFFC00001, 0x7F7FFFFF, 0x7F800000],
    }[pair]
    for pos in (0, 15, 31, 4095, 4096, 9000, n - 33, n - 1):
        for value in specials:
            for off in (0, 1, 8):
                x = base[off : off + n].copy()
                x.view(bits(x).dtype)[pos] = value
                assert_tier_matches(tier, x, dst)
    for a, b in [(specials[0], specials[1]), (specials[1], specials[0])]:
        x = base[:n].copy()
        x.view(bits(x).dtype)[[100, 12_000]] = [a, b]
        assert_tier_matches(tier, x, dst)


@pytest.mark.parametrize("tier", SIMD_TIERS)
def test_strided_and_unaligned_runs(tier):
    rng = np.random.default_rng(11)
    buf = rng.standard_normal(4001).astype(F32)
    for view in (buf[::3], buf[::-1], buf[1:][::7]):
        assert_tier_matches(tier, np.ascontiguousarray(view), F16)
        y1 = np.empty(view.shape, F16)
        y2 = np.empty(view.shape, F16)
        halfkit._core.convert(view, y1, 2, 0, tier)
        halfkit._core.convert(view, y2, 2, 0, "scalar")
        assert np.array_equal(bits(y1), bits(y2))
    raw = np.zeros(4 * 1000 + 1, dtype=np.uint8)
    unaligned = raw[1:].view(F32)
    unaligned[:] = rng.standard_normal(1000)
    y1 = np.empty(1000, BF16)
    y2 = np.empty(1000, BF16)
    halfkit._core.convert(unaligned, y1, 2, 1, tier)
    halfkit._core.convert(unaligned, y2, 2, 1, "scalar")
    assert np.array_equal(bits(y1), bits(y2))


@pytest.mark.parametrize("tier", SIMD_TIERS)
@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
def test_large_outputs_written_around_the_caches(tier, pair):
    """Destinations larger than the caches take non-temporal stores (here 8 MB, past the
    threshold of caches set small for the test): every start offset of the destination, NaNs
    scattered so some streamed blocks are handed to the reference, both thread counts, and a
    strided destination (which must not stream into its scatter buffer)."""
    src, dst = pair
    n = (8 << 20) // dst.itemsize + 37
    halfkit._core.set_cache_sizes(0, 256 << 10, 1 << 20)
    try:
        assert all(halfkit._core.stream_min_bytes(t) < n * dst.itemsize for t in (1, 2))
        _check_streamed(tier, src, dst, n)
    finally:
        halfkit._core.set_cache_sizes(0, 0, 0)


def _check_streamed(tier, src, dst, n):
    rng = np.random.default_rng(17)
    x = (rng.standard_normal(n + 8) * 1000).astype(src)
    # Quiet NaNs in both formats; a signalling NaN in float16 (a plain number in bfloat16).
    x.view(np.uint16)[rng.integers(0, n, 50)] = 0x7FC1
    x.view(np.uint16)[rng.integers(0, n, 50)] = 0x7D01
    want = np.empty(n + 8, dst)
    halfkit._core.convert(x, want, FORMATS[src], FORMATS[dst], "scalar")
    for threads in (1, 2):
        halfkit.set_num_threads(threads)
        for off in (0, 1, 5):
            y = np.zeros(n + 8, dst)
            halfkit._core.convert(
                x[off : off + n], y[off : off + n], FORMATS[src], FORMATS[dst], tier
            )
            assert_bits(
                x[off : off + n], y[off : off + n], want[off : off + n], f"{tier} off={off}"
            )
            assert not bits(y[:off]).any() and not bits(y[off + n :]).any()
    y = np.zeros(2 * n, dst)
    halfkit._core.convert(x[:n], y[::2], FORMATS[src], FORMATS[dst], tier)
    assert_bits(x[:n], y[::2], want[:n], f"{tier} strided")


def _run_forced(isa, code):
    env = dict(os.environ, HALFKIT_FORCE_ISA=isa)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)


@pytest.mark.parametrize("tier", TIERS)
def test_force_isa_selects_the_tier_and_matches(tier):
    code = (
        "import numpy as np, ml_dtypes, halfkit\n"
        "print(halfkit.kernel_info()['isa'])\n"
        "h = np.arange(65536, dtype=np.uint32).astype(np.uint16)\n"
        "for src in (np.float16, ml_dtypes.bfloat16):\n"
        "    for dst in (np.float16, ml_dtypes.bfloat16, np.float32, np.float64):\n"
        "        if src is not dst:\n"
        "            y = halfkit.astype(h.view(src), dst)\n"
        "            print(y.view(np.uint8).sum(dtype=np.uint64))\n"
    )
    forced = _run_forced(tier, code)
    assert forced.returncode == 0, forced.stderr
    lines = forced.stdout.split()
    assert lines[0] == tier
    scalar = _run_forced("scalar", code)
    assert scalar.stdout.split()[1:] == lines[1:]


@pytest.mark.parametrize("name", ["avx9000", "NEON-ish", *UNSUPPORTED_TIERS])
def test_force_isa_rejects_unknown_or_unsupported(name):
    r = _run_forced(name, "import halfkit")
    assert r.returncode != 0
    assert "HALFKIT_FORCE_ISA" in r.stderr and "choose one of" in r.stderr


def test_assumed_cpu_feature():
    """HALFKIT_ASSUME_CPU takes one name; without it a tier cpuid denies cannot be forced."""
    r = _run_forced("scalar", "import halfkit")
    assert r.returncode == 0, r.stderr
    env = dict(os.environ, HALFKIT_ASSUME_CPU="avx512_fp16")
    r = subprocess.run([sys.executable, "-c", "import halfkit"], env=env, capture_output=True)
    assert r.returncode != 0 and b"HALFKIT_ASSUME_CPU='avx512_fp16'" in r.stderr
    info = halfkit.kernel_info()
    if not info["cpu_assumed"]:
        return
    assert "avx512_bf16" in info["cpu_features"] and "avx512bf16" in TIERS
    env = {k: v for k, v in os.environ.items() if k != "HALFKIT_ASSUME_CPU"}
    env["HALFKIT_FORCE_ISA"] = "avx512bf16"
    r = subprocess.run([sys.executable, "-c", "import halfkit"], env=env, capture_output=True)
    assert r.returncode != 0 and b"choose one of" in r.stderr


def test_unsupported_tier_is_an_error_not_a_crash():
    for name in UNSUPPORTED_TIERS:
        with pytest.raises(ValueError, match="not supported"):
            convert_with(name, np.ones(4, F32), F16)
    with pytest.raises(ValueError, match="unknown ISA"):
        convert_with("sse9", np.ones(4, F32), F16)
