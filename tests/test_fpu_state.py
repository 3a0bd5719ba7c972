"""The rounding kernels give the same bits whatever floating-point state the caller's libraries
left in the thread (another library may set flush-to-zero, denormals-are-zero or a rounding
direction), and hand that state back unchanged: round, fixed_point and the small storage dtypes
round partly with the FPU (docs/internals.md), so each call sets the state it needs and restores
the caller's.

x86-64 only: MXCSR is read and written by two 4-byte functions placed in executable memory
(stmxcsr/ldmxcsr [rdi]; ret), as no library numpy or the standard library loads exposes them."""

import ctypes
import mmap
import platform

import halfkit
import ml_dtypes
import numpy as np
import pytest
from conftest import bits

pytestmark = pytest.mark.skipif(
    platform.machine() not in ("x86_64", "AMD64"), reason="MXCSR is x86's"
)

DEFAULT = 0x1F80  # every exception masked, round to nearest, no FTZ/DAZ
STATES = {  # MXCSR words a caller may leave behind
    "ftz-daz": DEFAULT | 0x8040,
    "upward": DEFAULT | 0x4000,
    "toward-zero-ftz": DEFAULT | 0x6000 | 0x8000,
    "downward-daz": DEFAULT | 0x2000 | 0x0040,
}


class Mxcsr:
    def __init__(self):
        code = bytes([0x0F, 0xAE, 0x1F, 0xC3, 0x0F, 0xAE, 0x17, 0xC3])  # stmxcsr; ldmxcsr
        self._page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE)
        self._page.write(code)  # the page stays mapped while the functions are used
        addr = ctypes.addressof(ctypes.c_char.from_buffer(self._page))
        libc = ctypes.CDLL(None)
        libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        if libc.mprotect(addr, mmap.PAGESIZE, mmap.PROT_READ | mmap.PROT_EXEC) != 0:
            pytest.skip("no executable page for the MXCSR helpers (mprotect refused)")
        fn = ctypes.CFUNCTYPE(None, ctypes.POINTER(ctypes.c_uint32))
        self._store, self._load = fn(addr), fn(addr + 4)

    def get(self) -> int:
        word = ctypes.c_uint32()
        self._store(ctypes.byref(word))
        return word.value

    def set(self, value: int) -> None:
        self._load(ctypes.byref(ctypes.c_uint32(value)))


@pytest.fixture(scope="module")
def mxcsr():
    m = Mxcsr()
    saved = m.get()
    yield m
    m.set(saved)


def _inputs(dt):
    """Values where FTZ, DAZ or a rounding direction would change a result: float32
    subnormals, the float8/float4 subnormal ranges and their ties, ties at every scale, NaNs,
    infinities and zeros."""
    rng = np.random.default_rng(5)
    u = rng.integers(0, 2**32, 20000, dtype=np.uint64).astype(np.uint32)
    sub = rng.integers(1, 1 << 23, 4000, dtype=np.uint32)  # float32 subnormals
    x = np.concatenate([u.view(np.float32), sub.view(np.float32), -sub.view(np.float32)])
    ties = (np.arange(-64, 64, dtype=np.float32) + 0.5) * np.float32(2.0**-9)
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, 2.0**-133, 3 * 2.0**-134])
    x = np.concatenate([x, ties, ties * np.float32(2.0**-120), special.astype(np.float32)])
    x = np.concatenate([x, rng.standard_normal(8000).astype(np.float32) / 64])
    return x.astype(dt)


CALLS = {
    "round bfloat16": lambda x: halfkit.round(x, "bfloat16"),
    "round float8_e4m3fn": lambda x: halfkit.round(x, "float8_e4m3fn"),
    "round float4_e2m1fn": lambda x: halfkit.round(x, "float4_e2m1fn"),
    "round e5m2 no subnormals": lambda x: halfkit.round(x, "float8_e5m2", subnormals=False),
    "round toward-zero": lambda x: halfkit.round(x, "float8_e5m2fnuz", rounding="toward-zero"),
    "round stochastic": lambda x: halfkit.round(x, "bfloat16", rounding="stochastic", seed=3),
    "astype float8_e4m3fn": lambda x: halfkit.astype(x, ml_dtypes.float8_e4m3fn),
    "astype float6_e3m2fn": lambda x: halfkit.astype(x, ml_dtypes.float6_e3m2fn),
    "astype from float8_e5m2": lambda x: halfkit.astype(
        halfkit.astype(x, ml_dtypes.float8_e5m2), x.dtype
    ),
    # values that are float32 subnormals: multiples of 2^-140 below 2^-120
    "fixed_point Q-120.140": lambda x: halfkit.fixed_point(x, integer_bits=-120, fraction_bits=140),
    "fixed_point Q3.4 codes": lambda x: halfkit.fixed_point(
        x, integer_bits=3, fraction_bits=4, codes=True
    ),
}


def _bits_of(y):
    return bits(y) if y.dtype.kind == "f" else y.view(f"u{y.itemsize}")


@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("call", CALLS, ids=str)
@pytest.mark.parametrize("state", STATES, ids=str)
def test_the_callers_fpu_state_changes_nothing(mxcsr, tier, dt, call, state):
    with np.errstate(all="ignore"):
        x = _inputs(dt)
        want = CALLS[call](x)
        mxcsr.set(STATES[state])
        try:
            got = CALLS[call](x)
            after = mxcsr.get()
        finally:
            mxcsr.set(DEFAULT)
    # The control bits come back; the flag bits (0x3f) may hold what Python's own arithmetic
    # raised around the call.
    assert after & ~0x3F == STATES[state], f"MXCSR {after:#x} after, {STATES[state]:#x} before"
    assert np.array_equal(_bits_of(got), _bits_of(want)), call
