"""Helpers both backends share: which kind of array a value is, and where each matrix of a
broadcast stack starts. Knows nothing of the public functions or of either backend."""

from __future__ import annotations

from typing import Any

import numpy as np


def is_cupy(x: Any) -> bool:
    """Whether x is a CuPy array (or scalar), without importing CuPy."""
    return type(x).__module__.partition(".")[0] == "cupy"


def batch_offsets(x: Any, batch: tuple[int, ...], count: int) -> np.ndarray:
    """Byte offset of each matrix of x (numpy or CuPy) in the broadcast stack ``batch``."""
    off = np.zeros(max(count, 1), np.int64)
    if not batch:
        return off
    lead = len(batch) - (x.ndim - 2)
    idx = np.unravel_index(np.arange(count, dtype=np.int64), batch)
    for d, i in enumerate(idx[lead:]):
        if x.shape[d] != 1:  # a broadcast axis repeats its one matrix
            off += i * x.strides[d]
    return off


def matmul_shapes(a: Any, b: Any) -> tuple[Any, Any, tuple[int, ...], tuple[int, ...]]:
    """np.matmul's shape rules for arrays of any kind: a and b with 1-D operands promoted to
    matrices, the broadcast batch shape, and the result's shape (the promoted axes removed)."""
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    m, k = a2.shape[-2:]
    k2, n = b2.shape[-2:]
    if k != k2:
        raise ValueError(
            f"halfkit.matmul: a has {k} columns but b has {k2} rows "
            f"(shapes {a.shape} and {b.shape})"
        )
    try:
        batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    except ValueError:
        raise ValueError(
            f"halfkit.matmul: batch dimensions {a.shape[:-2]} and {b.shape[:-2]} do not broadcast"
        ) from None
    shape = batch + ((m,) if a.ndim > 1 else ()) + ((n,) if b.ndim > 1 else ())
    return a2, b2, batch, shape
