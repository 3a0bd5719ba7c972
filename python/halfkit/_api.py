"""astype and its shorthands: argument checks and routing. Arithmetic happens in C++."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _core, _cupy
from ._dtypes import ACCEPTED, FORMAT, KERNEL_PAIRS, native, resolve
from ._dtypes import bfloat16 as _bf16
from ._dtypes import float16 as _f16
from ._dtypes import float32 as _f32
from ._dtypes import float64 as _f64

# A value whose float16 cast overflows: casting it lets numpy report the overflow under the
# caller's np.errstate exactly as its own casts do (warn, raise, call, print, log or ignore).
_OVERFLOW_PROBE = np.array(1e5, dtype=np.float32)


def _report_overflow() -> None:
    _OVERFLOW_PROBE.astype(np.float16)


_core.set_fast_path([_f16, _bf16, _f32, _f64], _report_overflow)


def astype(x: Any, dtype: Any, *, out: np.ndarray | None = None) -> Any:
    """Convert ``x`` to ``dtype`` like ``x.astype(dtype)``, rounding to nearest even.

    ``x`` is a numpy array (or anything ``np.asarray`` accepts) or a CuPy array of float16,
    bfloat16 (ml_dtypes), float32 or float64; ``dtype`` is one of those, in any spelling numpy
    accepts.
    The result keeps ``x``'s shape and memory order ('K'). With ``out=`` the result is written
    there (same shape, exactly ``dtype``, writeable; any strides) and ``out`` is returned.
    A float16 result that overflows from a finite value is reported like numpy's own casts,
    under ``np.errstate(over=...)``. CuPy arrays are converted on their GPU, on CuPy's current
    stream, without synchronising and without overflow reports.
    """
    dst = resolve(dtype)
    y = _core.astype_fast(x, dst, out)
    if y is not None:
        return y
    return _astype_general(x, dst, out)


def _astype_general(x: Any, dst: np.dtype, out: Any) -> Any:
    if _cupy.is_cupy(x):
        return _cupy.astype(x, dst, out)
    if out is not None and _cupy.is_cupy(out):
        raise TypeError(
            "halfkit.astype: out is a CuPy array but x is not; pass both on the same device "
            "(cupy.asarray(x) to move x to the GPU)"
        )
    scalar = isinstance(x, np.generic)
    try:
        xa = np.asarray(x)
    except Exception as e:
        raise TypeError(
            f"halfkit.astype: cannot make an array of {type(x).__name__}: {e}; "
            f"pass a numpy array of {ACCEPTED}"
        ) from e
    src = native(xa.dtype)
    if src not in FORMAT:
        raise TypeError(
            f"halfkit.astype: source dtype {xa.dtype} is not supported; accepted: {ACCEPTED}"
        )
    if out is not None:
        _check_out(out, xa.shape, dst)
    if not xa.dtype.isnative:
        xa = xa.astype(src)  # byte-swapped input: swap once, then convert natively
    codes = KERNEL_PAIRS.get((src, native(dst)))
    if codes is None:
        # Same format, or float32 <-> float64: numpy's casts are already exact/correctly rounded.
        if out is None:
            y = xa.astype(dst)
            return y[()] if scalar else y
        np.copyto(out, xa, casting="unsafe")
        return out
    if out is None:
        y = np.empty_like(xa, dtype=native(dst))
        target = y
    elif not out.dtype.isnative:
        target = np.empty(xa.shape, dtype=native(dst))
    else:
        target = out
        if np.may_share_memory(xa, out):
            xa = xa.copy()
    overflow = _core.convert(xa, target, *codes, "", False, target is not out)
    if out is None:
        y = target if dst.isnative else target.astype(dst)
    else:
        if target is not out:
            np.copyto(out, target)
        y = out
    if overflow:
        _report_overflow()
    return y[()] if scalar and out is None else y


def _check_out(out: Any, shape: tuple[int, ...], dst: np.dtype) -> None:
    if not isinstance(out, np.ndarray):
        raise TypeError(f"halfkit.astype: out must be a numpy.ndarray, got {type(out).__name__}")
    if out.dtype != dst:
        raise TypeError(f"halfkit.astype: out has dtype {out.dtype}, but the result dtype is {dst}")
    if out.shape != shape:
        raise ValueError(
            f"halfkit.astype: out has shape {out.shape}, but the input has shape {shape}"
        )
    if not out.flags.writeable:
        raise ValueError("halfkit.astype: out is read-only")


def to_float16(x: Any, *, out: np.ndarray | None = None) -> Any:
    """``astype(x, numpy.float16, out=out)``."""
    return astype(x, _f16, out=out)


def to_bfloat16(x: Any, *, out: np.ndarray | None = None) -> Any:
    """``astype(x, ml_dtypes.bfloat16, out=out)``."""
    return astype(x, _bf16, out=out)


def to_float32(x: Any, *, out: np.ndarray | None = None) -> Any:
    """``astype(x, numpy.float32, out=out)``."""
    return astype(x, _f32, out=out)


def to_float64(x: Any, *, out: np.ndarray | None = None) -> Any:
    """``astype(x, numpy.float64, out=out)``."""
    return astype(x, _f64, out=out)
