"""The numpy backend: conversions and matmul on the CPU through halfkit._core.

Callers (the front modules) have checked every argument; this module only lays the arrays out
for the kernels and reports overflow as numpy would.
"""

from __future__ import annotations

import sys
import warnings

import numpy as np

from . import _core
from ._arrays import batch_offsets
from ._dtypes import FORMAT, KERNEL_PAIRS, bfloat16, float16, float32, float64, native

# numpy's own np.dot, as it was when halfkit was imported (patch_numpy replaces numpy.dot).
numpy_dot = np.dot

# The kernels' flags (csrc/common/kernels.h, ConvertFlags), and for each operation a numpy call
# that raises each flag: the probe lets numpy report the flag under the caller's np.errstate
# exactly as its own operations do (raise, call, print, log or ignore).
_F16 = np.dtype(float16)
_PROBES = {
    "cast": {
        "over": lambda: np.array(1e5, np.float32).astype(np.float16),
        "under": lambda: np.array(1e-8, np.float32).astype(np.float16),
        "invalid": lambda: np.array(np.inf).astype(np.int64),
    },
    "dot": {
        "over": lambda: numpy_dot(np.array([65504.0], _F16), np.array([2.0], _F16)),
        "under": lambda: numpy_dot(np.array([2.0**-14], _F16), np.array([2.0**-12], _F16)),
        "invalid": lambda: numpy_dot(np.array([np.inf], _F16), np.array([0.0], _F16)),
    },
}
_PROBES["fixed_point"] = _PROBES["cast"]  # numpy's float -> int casts raise "invalid"
_FLAGS = ((1, "over", "overflow"), (2, "under", "underflow"), (4, "invalid", "invalid value"))
_PACKAGE = __name__.rpartition(".")[0]


def report_flags(flags: int, op: str = "cast") -> None:
    """numpy's report of the floating-point flags an operation raised, a warning attributed to
    the caller's line as numpy's is. A warning raised by the probe would name this module's
    line, so Python's default filter would show it once per process, not once per call site."""
    modes = np.geterr()
    probes = _PROBES[op]
    for bit, key, what in _FLAGS:  # numpy's order of reports
        if not flags & bit:
            continue
        if modes[key] != "warn":
            probes[key]()
            continue
        level, f = 2, sys._getframe(1)
        while f is not None and f.f_globals.get("__name__", "").partition(".")[0] == _PACKAGE:
            level, f = level + 1, f.f_back
        warnings.warn(f"{what} encountered in {op}", RuntimeWarning, stacklevel=level)


_core.set_fast_path([float16, bfloat16, float32, float64], report_flags)

# The common calls (a native array and a dtype the table knows, out= absent or exactly right),
# checked and run in C++ with no Python in between; None where they do not apply.
astype_fast = _core.astype_fast
matmul_fast = _core.matmul_fast

# The CPU kernels count in 32-bit integers.
max_gemm_dim: int = _core.max_gemm_dim


def convert(x: np.ndarray, dst: np.dtype, out: np.ndarray | None) -> np.ndarray:
    """x (any supported dtype, any byte order and strides) converted to dst, into out if given."""
    src = native(x.dtype)
    if not x.dtype.isnative:
        x = x.astype(src)  # byte-swapped input: swap once, then convert natively
    codes = KERNEL_PAIRS.get((src, native(dst)))
    if codes is None:
        # Same format, or float32 <-> float64: numpy's casts are already exact/correctly rounded.
        if out is None:
            return x.astype(dst)
        if np.may_share_memory(x, out):
            # np.copyto does not guard every overlap (float32 <-> float64 gave wrong bits, and a
            # same-format copy reached memcpy with overlapping buffers).
            x = x.copy()
        np.copyto(out, x, casting="unsafe")
        return out
    if out is None:
        target = np.empty_like(x, dtype=native(dst))
    elif not out.dtype.isnative:
        target = np.empty(x.shape, dtype=native(dst))
    else:
        target = out
        if np.may_share_memory(x, out):
            x = x.copy()
    flags = _core.convert(x, target, *codes, "", False, target is not out)
    if out is None:
        y = target if dst.isnative else target.astype(dst)
    else:
        if target is not out:
            np.copyto(out, target)
        y = out
    if flags:
        report_flags(flags)
    return y


def matmul(
    a: np.ndarray,
    b: np.ndarray,
    batch: tuple[int, ...],
    shape: tuple[int, ...],
    out: np.ndarray | None,
    res_dt: np.dtype,
    tier: str,
) -> np.ndarray:
    """a @ b for 2-D (or stacked) 16-bit operands; batch is the broadcast stack, shape the
    result's shape after 1-D promotion is undone, tier '' for the tier in use."""
    a, b = _usable(a), _usable(b)
    m, n = a.shape[-2], b.shape[-1]
    full = batch + (m, n)
    direct = (
        out is not None
        and out.dtype == float32  # native byte order: '>f4' is another dtype
        and out.flags.c_contiguous
        and not np.may_share_memory(out, a)
        and not np.may_share_memory(out, b)
    )
    c = out.reshape(full) if direct else _core.empty_aligned(full)
    if c.size:
        count = int(np.prod(batch, dtype=np.int64))
        _core.matmul(
            a,
            b,
            c,
            batch_offsets(a, batch, count),
            batch_offsets(b, batch, count),
            FORMAT[native(a.dtype)],
            tier,
        )
    c = c.reshape(shape)
    if direct:
        assert out is not None
        return out
    if res_dt == float32:
        if out is None:
            return c
        np.copyto(out, c)
        return out
    return convert(c, res_dt, out)


def _usable(x: np.ndarray) -> np.ndarray:
    """The kernels read native 16-bit elements at even byte strides; anything else is copied."""
    if not x.dtype.isnative or any(s % 2 for s in x.strides):
        return np.ascontiguousarray(x, dtype=x.dtype.newbyteorder("="))
    return x
