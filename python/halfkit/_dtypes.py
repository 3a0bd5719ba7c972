"""The four floating-point formats halfkit converts between, and how dtype spellings map to them."""

from __future__ import annotations

from typing import Any

import ml_dtypes
import numpy as np

float16 = np.dtype(np.float16)
bfloat16 = np.dtype(ml_dtypes.bfloat16)
float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)

# Format codes shared with the C++ kernels (csrc/common/numerics.h, enum Format).
FORMAT = {float16: 0, bfloat16: 1, float32: 2, float64: 3}
ACCEPTED = "float16, bfloat16 (ml_dtypes.bfloat16), float32 and float64"

# (source dtype, destination dtype) -> format codes, for the pairs a halfkit kernel converts:
# every pair with a 16-bit side. float32 <-> float64 and same-dtype copies are numpy's.
KERNEL_PAIRS = {
    (s, d): (FORMAT[s], FORMAT[d])
    for s in FORMAT
    for d in FORMAT
    if s != d and (s.itemsize == 2 or d.itemsize == 2)
}

_resolved: dict[Any, np.dtype] = {}


def resolve(dtype: Any, what: str = "dtype") -> np.dtype:
    """Turns any spelling numpy accepts ('bfloat16', 'f2', np.float32, float, ...) into a dtype."""
    try:
        return _resolved[dtype]
    except (KeyError, TypeError):
        pass
    try:
        dt = np.dtype(dtype)
    except TypeError as e:
        raise TypeError(f"{what} {dtype!r} is not a data type; accepted: {ACCEPTED}") from e
    if native(dt) not in FORMAT:
        raise TypeError(f"{what} {dt} is not supported; accepted: {ACCEPTED}")
    try:
        _resolved[dtype] = dt
    except TypeError:  # an unhashable spelling
        pass
    return dt


def native(dt: np.dtype) -> np.dtype:
    return dt if dt.isnative else dt.newbyteorder("=")


MATMUL_OUTPUTS = (float32, float16, bfloat16)


def matmul_out_dtype(out_dtype: Any) -> np.dtype:
    """matmul's out_dtype, resolved; float32, float16 or bfloat16."""
    dt = resolve(out_dtype, "out_dtype")
    if dt not in MATMUL_OUTPUTS:
        raise TypeError(
            f"halfkit.matmul: out_dtype {dt} is not supported; accepted: float32, float16, bfloat16"
        )
    return dt
