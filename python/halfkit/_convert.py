"""astype and its shorthands: the arguments checked once, then the numpy or the CuPy backend."""

from __future__ import annotations

import functools
from typing import Any, TypeVar, overload

import numpy as np
import numpy.typing as npt

from . import _core, _cpu, _dask, _formats, _gpu
from ._arrays import is_cupy
from ._dtypes import ACCEPTED, FORMAT, native, resolve
from ._dtypes import bfloat16 as _bf16
from ._dtypes import float16 as _f16
from ._dtypes import float32 as _f32
from ._dtypes import float64 as _f64

_astype_fast = _cpu.astype_fast

_Out = TypeVar("_Out", bound=np.ndarray)


@overload
def astype(
    x: Any,
    dtype: npt.DTypeLike,
    *,
    out: _Out,
    rounding: str = ...,
    saturate: bool = ...,
    seed: int | None = ...,
) -> _Out: ...
@overload
def astype(
    x: np.generic,
    dtype: npt.DTypeLike,
    *,
    out: None = None,
    rounding: str = ...,
    saturate: bool = ...,
    seed: int | None = ...,
) -> np.generic: ...
@overload
def astype(
    x: npt.ArrayLike,
    dtype: npt.DTypeLike,
    *,
    out: None = None,
    rounding: str = ...,
    saturate: bool = ...,
    seed: int | None = ...,
) -> np.ndarray: ...
@overload
def astype(
    x: Any,
    dtype: npt.DTypeLike,
    *,
    out: Any = None,
    rounding: str = ...,
    saturate: bool = ...,
    seed: int | None = ...,
) -> Any: ...
def astype(
    x: Any,
    dtype: npt.DTypeLike,
    *,
    out: Any = None,
    rounding: str = "nearest-even",
    saturate: bool = False,
    seed: int | None = None,
) -> Any:
    """Convert ``x`` to ``dtype`` like ``x.astype(dtype)``, rounding to nearest even.

    ``x`` is a numpy array (or anything ``np.asarray`` accepts, or a numpy scalar), a CuPy
    array or a dask array of float16, bfloat16 (ml_dtypes), float32 or float64; ``dtype`` is
    one of those, in any spelling numpy accepts. The result keeps ``x``'s shape and memory
    order ('K'); a numpy scalar gives a numpy scalar. With ``out=`` the result is written
    there (same shape, exactly ``dtype``, writeable, any strides, may overlap ``x``) and
    ``out`` is returned.

    numpy arrays may also be, or be converted to, ml_dtypes' 8-, 6- and 4-bit floating-point
    dtypes (float8_e4m3fn, float8_e5m2, their fnuz variants, float8_e4m3, float8_e3m4,
    float6_e2m3fn, float6_e3m2fn, float4_e2m1fn), bit for bit as ml_dtypes' own astype.
    ``rounding`` (any mode of ``halfkit.round``, stochastic with ``seed``) and ``saturate``
    (overflow and infinities to the largest finite value, NaN kept) apply to every rounding
    conversion of a numpy array; with either, no floating-point flags are reported.

    The floating-point flags the peer's cast raises for the same values (numpy's overflow and
    underflow for float16 results; ml_dtypes' overflow and underflow for float64 -> bfloat16
    and its invalid flag on signalling NaNs) are reported like numpy's own casts, under
    ``np.errstate``. CuPy arrays are converted on their GPU, on CuPy's current stream, without
    synchronising and without flag reports. A dask array gives a lazy dask array of the same
    chunks (``out`` is not accepted): each chunk is converted when computed, and reports its
    flags there, under the errstate in force when ``astype`` was called.

    Raises TypeError for an unsupported dtype or kind of array, ValueError for an ``out`` of
    the wrong shape or a read-only one; nothing is written then.
    """
    default = saturate is False and seed is None and rounding == "nearest-even"
    if default:
        # The common call, checked in C++ (dtype as a dtype object or scalar type): None where
        # the general path below must decide.
        y = _astype_fast(x, dtype, out)
        if y is not None:
            return y
        y = _formats.storage_fast(x, dtype, out)
        if y is not None:
            return y
    try:
        dst = resolve(dtype)
    except TypeError as e:
        storage = _formats.storage_dtype(dtype)
        if storage is None:
            raise TypeError(f"halfkit.astype: {e}, and {_formats.STORAGE_NAMES}") from None
        dst = storage
    else:
        if default and dst is not dtype:
            y = _astype_fast(x, dst, out)
            if y is not None:
                return y
    if (
        not default
        or dst in _formats.STORAGE
        or _formats.storage_dtype(getattr(x, "dtype", None)) is not None
    ):
        return _formats.astype_any(x, dst, out, rounding, saturate, seed)
    if _dask.is_dask(x):
        return _dask.astype(x, dst, out)
    gpu = is_cupy(x)
    if gpu:
        xa = x
    elif out is not None and is_cupy(out):
        raise TypeError(
            "halfkit.astype: out is a CuPy array but x is not; pass both on the same device "
            "(cupy.asarray(x) to move x to the GPU)"
        )
    else:
        try:
            xa = np.asarray(x)
        except Exception as e:
            raise TypeError(
                f"halfkit.astype: cannot make an array of {type(x).__name__}: {e}; "
                f"pass a numpy array of {ACCEPTED}"
            ) from e
    if native(xa.dtype) not in FORMAT:
        raise TypeError(
            f"halfkit.astype: source dtype {xa.dtype} is not supported; accepted: {ACCEPTED}"
        )
    if out is not None:
        _check_out(out, xa.shape, dst, gpu)
    if gpu:
        return _gpu.convert(xa, dst, out)
    y = _cpu.convert(xa, dst, out)
    return y[()] if out is None and isinstance(x, np.generic) else y


def _check_out(out: Any, shape: tuple[int, ...], dst: np.dtype, gpu: bool) -> None:
    if gpu and not is_cupy(out):
        raise TypeError(
            "halfkit.astype: x is a CuPy array, so out must be a cupy.ndarray on the same "
            f"device, got {type(out).__name__}"
        )
    if not gpu and not isinstance(out, np.ndarray):
        raise TypeError(f"halfkit.astype: out must be a numpy.ndarray, got {type(out).__name__}")
    if out.dtype != dst:
        raise TypeError(f"halfkit.astype: out has dtype {out.dtype}, but the result dtype is {dst}")
    if out.shape != shape:
        raise ValueError(
            f"halfkit.astype: out has shape {out.shape}, but the input has shape {shape}"
        )
    if not gpu and not out.flags.writeable:
        raise ValueError("halfkit.astype: out is read-only")


def to_float16(x: Any, *, out: Any = None) -> Any:
    """``astype(x, numpy.float16, out=out)``."""
    return astype(x, _f16, out=out)


def to_bfloat16(x: Any, *, out: Any = None) -> Any:
    """``astype(x, ml_dtypes.bfloat16, out=out)``."""
    return astype(x, _bf16, out=out)


def to_float32(x: Any, *, out: Any = None) -> Any:
    """``astype(x, numpy.float32, out=out)``."""
    return astype(x, _f32, out=out)


def to_float64(x: Any, *, out: Any = None) -> Any:
    """``astype(x, numpy.float64, out=out)``."""
    return astype(x, _f64, out=out)


def fast_fronts() -> tuple[Any, ...]:
    """astype, to_bfloat16, to_float16, to_float32 and to_float64 behind builtins that answer
    their common calls in C++ (_core.fast_front) and hand every other call to the function
    here; each keeps its function's name, docstring and signature (``__wrapped__``)."""
    fronts = []
    for fn, dtype in (
        (astype, None),
        (to_bfloat16, _bf16),
        (to_float16, _f16),
        (to_float32, _f32),
        (to_float64, _f64),
    ):
        front = functools.update_wrapper(_core.fast_front(fn, dtype), fn)
        front.__module__ = "halfkit"  # pickled by name, found as halfkit.<name>
        fronts.append(front)
    return tuple(fronts)
