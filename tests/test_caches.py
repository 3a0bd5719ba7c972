"""The data cache sizes halfkit reads at start-up, the GEMM blocking derived from them, and
HALFKIT_CACHE_SIZES: the blocking follows the caches, and never the bits."""

import os
import subprocess
import sys

import halfkit
import numpy as np
import pytest
from conftest import BF16, F16, TIERS
from halfkit import _core
from halfkit._info import parse_cache_sizes
from halfkit._matmul import _matmul

KiB, MiB = 1 << 10, 1 << 20


@pytest.fixture
def caches():
    """Sets cache sizes for one test, then puts back the detected ones."""
    yield _core.set_cache_sizes
    _core.set_cache_sizes(0, 0, 0)


def test_kernel_info_reports_the_caches_and_the_blocking():
    info = halfkit.kernel_info()
    c = info["caches"]
    assert c["source"] in ("cpuid", "sysconf", "default")
    assert 4 * KiB <= c["l1d"] <= 4 * MiB and c["l1d"] < c["l2"]
    assert c["l3"] == 0 or c["l3"] >= c["l2"]
    for name in ("float16", "bfloat16"):
        b = info["gemm_blocking"][name]
        assert b["kc"] == 512  # fixed: it decides the bits (docs/numerics.md)
        assert b["mc"] % b["mr"] == 0 and b["mr"] <= b["mc"] <= 84
        assert b["nc"] % b["nr"] == 0 and b["nr"] <= b["nc"] <= 4096
        assert b["few_rows"] % b["mr"] == 0 and b["few_rows"] >= 48 * b["mr"]


def test_detected_sizes_agree_with_the_c_library():
    """glibc reads the same cpuid leaves for L1d and L2 (its L3 figure can differ: on a Zen 3
    VM it reported 256 MiB, the socket's, where cpuid gives the 32 MiB one core sees)."""
    c = _core.cache_sizes()
    if c["source"] != "cpuid":
        pytest.skip(f"sizes from {c['source']}, not cpuid")
    try:
        got = [
            subprocess.run(["getconf", name], capture_output=True, text=True, timeout=30).stdout
            for name in ("LEVEL1_DCACHE_SIZE", "LEVEL2_CACHE_SIZE")
        ]
        l1, l2 = (int(v) for v in got)
    except (OSError, ValueError):
        pytest.skip("getconf does not report cache sizes here")
    if l1 <= 0 or l2 <= 0:
        pytest.skip("getconf does not report cache sizes here")
    assert (c["l1d"], c["l2"]) == (l1, l2)


def test_blocking_follows_the_caches(caches):
    caches(32 * KiB, 2 * MiB, 64 * MiB)
    big = {t: _core.gemm_blocking(t, 0) for t in TIERS}
    caches(32 * KiB, 256 * KiB, 1 * MiB)
    small = {t: _core.gemm_blocking(t, 0) for t in TIERS}
    for t in TIERS:
        assert small[t]["kc"] == big[t]["kc"] == 512
        # A whole in two thirds of L2 (at least 48 panels); the B block in half of L3.
        assert small[t]["few_rows"] == 48 * small[t]["mr"]
        assert (
            big[t]["few_rows"]
            == max(48, 2 * MiB * 2 // 3 // (big[t]["mr"] * 2048)) * (big[t]["mr"])
        )
        assert small[t]["nc"] * 512 * 4 <= 1 * MiB // 2
        assert small[t]["nc"] < big[t]["nc"]
        assert small[t]["mc"] <= big[t]["mc"]
    caches(0, 0, 0)
    assert _core.cache_sizes()["source"] != "override"


def test_streaming_threshold_follows_the_caches(caches):
    """Conversions write around the caches past twice the L2 of their threads' cores or the
    part of L3 they share, whichever is larger (docs/internals.md, "Non-temporal stores")."""
    c = _core.cache_sizes()
    l2_shared, l3_shared = c["l2_shared_by"], c["l3_shared_by"]
    caches(32 * KiB, 2 * MiB, 1 * MiB)  # the Xeon's L2; an L3 below it
    for t in (1, 2):
        assert _core.stream_min_bytes(t) == 2 * 2 * MiB * t // l2_shared
    caches(32 * KiB, 1 * MiB, 256 * MiB)
    for t in (1, 2):
        l3_part = 256 * MiB * min(t, l3_shared) // l3_shared
        assert _core.stream_min_bytes(t) == max(2 * MiB * t // l2_shared, l3_part)
    assert halfkit.kernel_info()["stream_min_bytes"] == _core.stream_min_bytes(
        halfkit.get_num_threads()
    )
    caches(0, 0, 0)


# Shapes for every route the blocking decides: A packed whole (few rows), A in MC blocks, more
# than one NC block of B (with the small L3 below), and k past one KC block.
SHAPES = [(40, 600, 300), (200, 700, 90), (300, 1100, 700), (700, 530, 1300)]


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("dtype", [F16, BF16], ids=lambda d: d.name)
def test_bits_do_not_depend_on_the_caches(caches, tier, dtype):
    rng = np.random.default_rng(3)
    for m, k, n in SHAPES:
        a = rng.standard_normal((m, k)).astype(dtype)
        b = rng.standard_normal((k, n)).astype(dtype)
        caches(0, 0, 0)
        want = _matmul(a, b, None, None, tier)
        for sizes in ((32 * KiB, 256 * KiB, 512 * KiB), (48 * KiB, 8 * MiB, 512 * MiB)):
            caches(*sizes)
            for threads in (1, 2):
                halfkit.set_num_threads(min(threads, _core.cpus_available()))
                got = _matmul(a, b, None, None, tier)
                assert np.array_equal(got.view(np.uint32), want.view(np.uint32)), (
                    f"{m}x{k}x{n} {sizes} {threads} threads"
                )


def test_parse_cache_sizes():
    assert parse_cache_sizes("l2=512K,l3=32M") == (0, 512 * KiB, 32 * MiB)
    assert parse_cache_sizes(" L1D = 49152 , l2=2m") == (49152, 2 * MiB, 0)
    assert parse_cache_sizes("l3=1G") == (0, 0, 1 << 30)
    for bad in ("l2", "l4=1M", "l2=1X", "l2=-1K", "l2=", "l2=512", "l3=2048G", "l2=1.5M"):
        with pytest.raises(ValueError, match="HALFKIT_CACHE_SIZES"):
            parse_cache_sizes(bad)


def _run(env_value, code):
    env = dict(os.environ, HALFKIT_CACHE_SIZES=env_value)
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )


def test_environment_override():
    r = _run(
        "l2=256K,l3=4M",
        "import halfkit; i = halfkit.kernel_info(); c = i['caches'];"
        "print(c['source'], c['l2'], c['l3'], i['gemm_blocking']['float16']['nc'])",
    )
    assert r.returncode == 0, r.stderr
    source, l2, l3, nc = r.stdout.split()
    assert (source, int(l2), int(l3)) == ("override", 256 * KiB, 4 * MiB)
    assert int(nc) * 512 * 4 <= 2 * MiB
    r = _run("l2=lots", "import halfkit")
    assert r.returncode != 0
    assert "ValueError" in r.stderr and "HALFKIT_CACHE_SIZES='l2=lots'" in r.stderr
