"""matmul: float16/bfloat16 inputs, float32 accumulation, np.matmul's semantics. The arguments
are checked once here, then the numpy or the CuPy backend runs the product."""

from __future__ import annotations

from typing import Any, TypeVar, overload

import numpy as np
import numpy.typing as npt

from . import _cpu, _dask, _gpu
from ._arrays import is_cupy, matmul_shapes
from ._dtypes import MATMUL_OUTPUTS, bfloat16, float16, float32, matmul_out_dtype, native

_INPUTS = "float16 or bfloat16 (ml_dtypes.bfloat16)"

_Out = TypeVar("_Out", bound=np.ndarray)


@overload
def matmul(a: Any, b: Any, *, out: _Out, out_dtype: npt.DTypeLike = None) -> _Out: ...
@overload
def matmul(
    a: np.ndarray, b: np.ndarray, *, out: None = None, out_dtype: npt.DTypeLike = None
) -> np.ndarray: ...
@overload
def matmul(a: Any, b: Any, *, out: Any = None, out_dtype: npt.DTypeLike = None) -> Any: ...
def matmul(a: Any, b: Any, *, out: Any = None, out_dtype: npt.DTypeLike = None) -> Any:
    """Matrix product of two float16 or two bfloat16 arrays (numpy, or CuPy on one GPU),
    accumulated in float32.

    Follows ``np.matmul``: 1-D operands are promoted (and the added axis removed), leading axes
    broadcast as a stack of matrices, any strides are accepted. The result is float32, or
    float16/bfloat16 when ``out_dtype`` (or ``out``'s dtype) asks for it: then the float32
    result is rounded once, at the end, by the conversion contract (overflow to float16 warns
    like numpy; CuPy results never warn). ``out`` must have the result's shape and a dtype the
    result casts to safely, be writeable, and be the same kind of array as the inputs.

    dask arrays (one or both operands) give a lazy dask array: a float32 product per pair of
    k chunks, summed in float32 by dask's tree reduction, then rounded once to ``out_dtype``;
    with one k chunk, each output block has the bits of halfkit.matmul on its rows and columns.

    Raises TypeError for operands or an ``out`` of the wrong kind or dtype, ValueError for
    shapes that do not multiply or broadcast; nothing is written then.
    """
    if out_dtype is None:
        c = _cpu.matmul_fast(a, b, out)
        if c is not None:
            return c[()] if c.ndim == 0 and out is None else c
    if _dask.is_dask(a) or _dask.is_dask(b):
        return _dask.matmul(a, b, out, out_dtype)
    return _matmul(a, b, out, out_dtype, "")


def _operand(name: str, x: Any, gpu: bool) -> Any:
    """x as an array of the backend's kind, or the error np.matmul would give (ValueError for
    a scalar), or a TypeError that says what is accepted."""
    if gpu:
        if not is_cupy(x):
            raise TypeError(
                f"halfkit.matmul: {name} must be a CuPy array of {_INPUTS} (a and b both numpy "
                f"or both CuPy), got {type(x).__name__}"
            )
    elif not isinstance(x, np.ndarray):
        if isinstance(x, (np.generic, int, float, complex)):
            raise ValueError(
                f"halfkit.matmul: {name} is a scalar ({type(x).__name__}); matmul needs at "
                "least 1-D operands, as np.matmul does"
            )
        try:
            arr = np.asarray(x)
        except Exception as e:
            raise TypeError(
                f"halfkit.matmul: cannot make an array of {name} ({type(x).__name__}): {e}"
            ) from None
        if native(arr.dtype) not in (float16, bfloat16):
            # A list of Python floats would be float64: guessing float16 or bfloat16 for it
            # would round the caller's numbers silently.
            raise TypeError(
                f"halfkit.matmul: {name} must be a numpy array of {_INPUTS}, got a "
                f"{type(x).__name__} that numpy makes {arr.dtype}; convert it first "
                "(halfkit.astype(x, 'bfloat16'))"
            )
        x = arr
    if x.ndim == 0:
        raise ValueError(f"halfkit.matmul: {name} is 0-d; matmul needs at least 1-D operands")
    return x


def _matmul(a: Any, b: Any, out: Any, out_dtype: Any, tier: str) -> Any:
    """matmul with a CPU tier or a GPU kernel name forced ('' or 'auto': the default)."""
    gpu = is_cupy(a) or is_cupy(b)
    a, b = _operand("a", a, gpu), _operand("b", b, gpu)
    if native(a.dtype) != native(b.dtype):  # byte order apart: a '>f2' operand is float16
        raise TypeError(
            f"halfkit.matmul: a is {a.dtype} but b is {b.dtype}; both must be "
            f"{_INPUTS}, the same one"
        )
    if native(a.dtype) not in (float16, bfloat16):
        raise TypeError(
            f"halfkit.matmul: inputs are {a.dtype}; accepted: {_INPUTS} "
            "(use np.matmul for float32/float64, or convert with halfkit.astype)"
        )
    # widen: out is of a dtype the float32 result casts to safely (float64, complex), or a
    # byte-swapped one; the result is computed in float32 and then written there, as numpy
    # writes its result into such an out.
    widen = False
    if out_dtype is not None:
        res_dt = matmul_out_dtype(out_dtype)
    elif out is not None and hasattr(out, "dtype"):
        res_dt = native(out.dtype)
        if res_dt not in MATMUL_OUTPUTS or not out.dtype.isnative:
            if not np.can_cast(float32, out.dtype, "same_kind"):
                raise TypeError(
                    f"halfkit.matmul: out has dtype {out.dtype}, which the float32 result "
                    "cannot be cast to; accepted: float32, float16, bfloat16, or a dtype "
                    "float32 casts to safely (float64, complex64, complex128)"
                )
            widen = res_dt not in MATMUL_OUTPUTS
            res_dt = float32 if widen else res_dt
    else:
        res_dt = float32

    a2, b2, batch, shape = matmul_shapes(a, b)
    (m, k), n = a2.shape[-2:], b2.shape[-1]
    if out is not None:
        if gpu != is_cupy(out) or (not gpu and not isinstance(out, np.ndarray)):
            want = "a cupy.ndarray" if gpu else "a numpy.ndarray"
            raise TypeError(f"halfkit.matmul: out must be {want}, got {type(out).__name__}")
        if not widen and native(out.dtype) != res_dt:
            raise TypeError(
                f"halfkit.matmul: out has dtype {out.dtype}, but the result is {res_dt} "
                "(out_dtype); pass an out of that dtype, or no out_dtype"
            )
        if out.shape != shape:
            raise ValueError(
                f"halfkit.matmul: out has shape {out.shape}, but the result has shape {shape}"
            )
        if not gpu and not out.flags.writeable:
            raise ValueError("halfkit.matmul: out is read-only")
    if not gpu and max(m, k, n) >= _cpu.max_gemm_dim:
        raise ValueError(
            "halfkit.matmul: a matrix dimension of 2^31 - 2^20 or more is not supported on the "
            f"CPU (m={m}, k={k}, n={n})"
        )
    target = None if widen else out
    if gpu:
        c = _gpu.matmul(a2, b2, batch, shape, target, res_dt, tier or "auto")
    else:
        c = _cpu.matmul(a2, b2, batch, shape, target, res_dt, tier)
    if widen:
        out[...] = c
        return out
    return c[()] if out is None and c.ndim == 0 else c
