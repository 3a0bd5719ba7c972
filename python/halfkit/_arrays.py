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
