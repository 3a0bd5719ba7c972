import os
import platform
import subprocess
import sys

# Virtual machines may hide CPU features their cores execute: this project's development and CI
# machines (Emerald Rapids cores) run AVX512-BF16 while cpuid denies it. Where a child process
# runs the avx512bf16 tier's two instructions without dying of SIGILL, the suite assumes them
# (HALFKIT_ASSUME_CPU, read when halfkit is first imported), so that tier is tested with the
# real instructions rather than only in the emulating build (tests/cross/emulated_bf16.sh).
_BF16_PROBE = """
import numpy as np, ml_dtypes, halfkit
info = halfkit.kernel_info()
assert info["cpu_assumed"] and not info["isa_emulated"], "nothing to assume"
halfkit._core.convert(np.ones(64, np.float32), np.empty(64, ml_dtypes.bfloat16), 2, 1, "")
a = np.ones((256, 256), ml_dtypes.bfloat16)  # large enough for the packed VDPBF16PS kernel
assert (halfkit.matmul(a, a) == 256).all()
"""
if "HALFKIT_ASSUME_CPU" not in os.environ and platform.machine().lower() in ("x86_64", "amd64"):
    _probe = subprocess.run(
        [sys.executable, "-c", _BF16_PROBE],
        env=dict(os.environ, HALFKIT_ASSUME_CPU="avx512_bf16", HALFKIT_FORCE_ISA="avx512bf16"),
        capture_output=True,
        timeout=300,
    )
    if _probe.returncode == 0:
        os.environ["HALFKIT_ASSUME_CPU"] = "avx512_bf16"

import halfkit  # noqa: E402
import ml_dtypes  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from halfkit import _core  # noqa: E402

F16 = np.dtype(np.float16)
BF16 = np.dtype(ml_dtypes.bfloat16)
F32 = np.dtype(np.float32)
F64 = np.dtype(np.float64)
FORMATS = {F16: 0, BF16: 1, F32: 2, F64: 3}
UINT = {2: np.uint16, 4: np.uint32, 8: np.uint64}

# The ten conversions halfkit's kernels perform (the others are numpy's own casts).
PAIRS = [
    (F32, F16), (F64, F16), (BF16, F16),
    (F32, BF16), (F64, BF16), (F16, BF16),
    (F16, F32), (F16, F64), (BF16, F32), (BF16, F64),
]  # fmt: skip

TIERS = list(_core.isa_supported())
SIMD_TIERS = [t for t in TIERS if t != "scalar"]
UNSUPPORTED_TIERS = [t for t in _core.isa_compiled() if t not in TIERS]


def bits(a):
    """The raw bit patterns of a float array, for exact comparisons."""
    a = np.asarray(a, order="C")
    return a.view(UINT[a.dtype.itemsize])


def assert_bits(x, got, want, label=""):
    """got and want hold the same bit patterns; the failure names the first inputs that differ."""
    gb, wb = bits(got), bits(want)
    assert gb.shape == wb.shape, f"{label} shapes differ: {gb.shape} vs {wb.shape}"
    bad = np.flatnonzero(gb != wb)
    if bad.size:
        xs = bits(x).reshape(-1) if x is not None else None
        first = ", ".join(
            f"{f'{int(xs[i]):#x}' if xs is not None else f'[{i}]'}: got {int(gb.flat[i]):#x} "
            f"want {int(wb.flat[i]):#x}"
            for i in bad[:5]
        )
        pytest.fail(f"{label} {bad.size} mismatches; first: {first}".strip())


def convert_with(tier, x, dst, underflow=True):
    """Converts with a named tier, bypassing dispatch (each tier compared in one process).
    Returns the result and the flags raised (1 overflow, 2 underflow, 4 invalid); underflow is
    looked for only when asked (None: as np.errstate says)."""
    x = np.asarray(x, order="C")
    y = np.empty(x.shape, dst)
    flags = int(
        _core.convert(x, y, FORMATS[x.dtype], FORMATS[np.dtype(dst)], tier, underflow=underflow)
    )
    return y, flags


def reference(x, dst):
    return convert_with("scalar", x, dst)


def all_16bit(dtype):
    return np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(dtype)


def nudged_ties(dtype, limit):
    """The ties between neighbouring positive values of a 16-bit format below limit, each moved
    up and down by every bit of the float64 significand. Where float32 results are subnormal,
    float32 drops more than 29 bits, so a sticky bit taken from 29 bits misses most of these."""
    with np.errstate(invalid="ignore"):  # ml_dtypes flags signalling NaNs
        v = all_16bit(dtype).astype(F64)
    v = np.unique(v[(v >= 0) & (v < limit)])
    ties = bits((v[:-1] + v[1:]) / 2).astype(np.int64)[:, None]
    nudge = np.int64(1) << np.arange(52, dtype=np.int64)
    return np.concatenate([(ties + nudge).ravel(), (ties - nudge).ravel()]).view(F64)


def pair_id(p):
    return f"{p[0].name}->{p[1].name}"


@pytest.fixture(params=TIERS)
def tier(request):
    """Each CPU tier this machine runs, made the one in use; the tier before is restored."""
    before = halfkit._core.isa()
    halfkit._core.set_isa(request.param)
    yield request.param
    halfkit._core.set_isa(before)


@pytest.fixture
def all_tiers():
    """For tests that loop over TIERS themselves: the tier in use is restored after."""
    before = halfkit._core.isa()
    yield TIERS
    halfkit._core.set_isa(before)


@pytest.fixture(autouse=True)
def _restore_threads():
    n = halfkit.get_num_threads()
    yield
    halfkit._core.set_num_threads(n)


def pytest_report_header(config):
    info = halfkit.kernel_info()
    line = f"halfkit tiers: {', '.join(TIERS)} (in use: {info['isa']})"
    if info["cpu_assumed"]:
        line += "; avx512bf16 runs its real instructions, which cpuid hides (HALFKIT_ASSUME_CPU)"
    elif info["isa_emulated"]:
        line += "; avx512bf16 emulates its instructions (test build)"
    return line
