"""patch_numpy: numpy's own matmul (``@``, ``np.matmul``) on float16 and bfloat16 arrays, run by
halfkit's GEMM. The loops are swapped inside numpy's matmul ufunc (csrc/numpy_patch.cpp), so
numpy keeps every semantic of its own: broadcasting, 1-D promotion, ``out=``, ``axes=``, its
errors and its result dtypes (float16 @ float16 is float16, accumulated in float32 and rounded
once, as numpy's own loop does; bfloat16 @ bfloat16 stays float32, as numpy returns it)."""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Iterator

import numpy as np

from . import _core
from ._dtypes import bfloat16

_lock = threading.Lock()
_BF16 = np.dtype(bfloat16)


def patch_numpy() -> None:
    """Make ``np.matmul`` and ``@`` on float16 and on bfloat16 arrays run halfkit's GEMM.

    float16 takes effect at once and ``unpatch_numpy()`` restores numpy's own loop exactly.
    bfloat16: numpy has no bfloat16 matmul loop (it multiplies float32 copies), and remembers,
    per process, which loop it chose for a pair of dtypes, so halfkit's loop is seen only if
    ``patch_numpy()`` runs before the first bfloat16 matmul of the process; otherwise
    bfloat16 stays numpy's and a RuntimeWarning says so. Once registered, the loop stays in
    numpy; unpatched, it does what numpy did (float32 copies, numpy's float32 loop).

    ``np.dot`` is not patched, nor are numpy's casts (numpy offers no supported way to replace
    a cast: use ``halfkit.astype``).
    """
    with _lock:
        note = _core.numpy_patch(True, _BF16.num)
        if not note:
            before = _core.numpy_patch_bf16_calls()
            probe = np.ones((1, 1), _BF16)
            np.matmul(probe, probe)
            if _core.numpy_patch_bf16_calls() == before:
                note = (
                    "numpy already ran a bfloat16 matmul in this process and keeps the loop it "
                    "chose; call halfkit.patch_numpy() before the first one"
                )
    if note:
        warnings.warn(
            f"halfkit.patch_numpy: bfloat16 matmul stays numpy's ({note})",
            RuntimeWarning,
            stacklevel=2,
        )


def unpatch_numpy() -> None:
    """Give ``np.matmul`` back its own float16 loop and bfloat16 behaviour."""
    with _lock:
        _core.numpy_patch(False, _BF16.num)


@contextlib.contextmanager
def patched_numpy() -> Iterator[None]:
    """``with halfkit.patched_numpy():`` numpy's matmul runs halfkit's GEMM inside the block."""
    patch_numpy()
    try:
        yield
    finally:
        unpatch_numpy()
