"""patch_numpy: numpy's own matmul (``@``, ``np.matmul``) and ``np.dot`` on float16 and bfloat16
arrays, run by halfkit's GEMM.

matmul's loops are swapped inside numpy's matmul ufunc (csrc/numpy_patch.cpp), so numpy keeps
every semantic of its own: broadcasting, 1-D promotion, ``out=``, ``axes=``, its errors and its
result dtypes (float16 @ float16 is float16, accumulated in float32 and rounded once, as numpy's
own loop does; bfloat16 @ bfloat16 stays float32, as numpy returns it).

``np.dot`` is a C function that calls a per-element dot product for these dtypes, so the patch
replaces the attribute ``numpy.dot`` with ``_core.dot``, a builtin that sends two native
float16 or two bfloat16 ndarrays to ``_dot_by_gemm`` below (which takes the shapes and the
``out`` numpy accepts) and hands every other call to numpy's own function unchanged.
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Iterator

import numpy as np

from . import _core
from ._cpu import numpy_dot, report_flags
from ._dtypes import FORMAT, bfloat16, float16

_lock = threading.Lock()
_BF16 = np.dtype(bfloat16)
_DOT_FORMATS = {np.dtype(float16): FORMAT[float16], _BF16: FORMAT[bfloat16]}
_ZERO = np.zeros(1, np.int64)
_bf16_reached = False  # a probe saw numpy's bfloat16 matmul reach halfkit's loop


def _dot_by_gemm(a: np.ndarray, b: np.ndarray, out: object) -> object:
    """np.dot(a, b, out) for two float16 or two bfloat16 ndarrays, or None where numpy's own
    function should answer (its errors, empty products, an out it would refuse)."""
    fmt = _DOT_FORMATS.get(a.dtype)
    if fmt is None or b.dtype != a.dtype or 0 in (a.size, b.size, a.ndim, b.ndim):
        return None
    if fmt == FORMAT[bfloat16] and _core.underflow_wanted():
        # ml_dtypes' dot reports float32 underflow in its products and sums, which the GEMM's
        # worker threads cannot see: numpy's own loop reports it.
        return None
    k = a.shape[-1]
    if b.shape[-2 if b.ndim > 1 else 0] != k:
        return None  # numpy's "shapes not aligned"
    if b.ndim == 1:
        shape, b2 = a.shape[:-1], b.reshape(k, 1)
    else:
        shape = a.shape[:-1] + b.shape[:-2] + b.shape[-1:]
        b2 = b if b.ndim == 2 else np.moveaxis(b, -2, 0).reshape(k, -1)
    a2 = a.reshape(-1, k)
    m, n = a2.shape[0], b2.shape[1]
    if max(m, n, k) >= _core.max_gemm_dim:
        return None
    if out is not None and not (
        type(out) is np.ndarray
        and out.dtype == a.dtype
        and out.shape == shape
        and out.flags.c_contiguous
        and out.flags.writeable
    ):
        return None  # numpy's "output array is not acceptable"
    if any(s % 2 for s in a2.strides):
        a2 = np.ascontiguousarray(a2)
    if any(s % 2 for s in b2.strides):
        b2 = np.ascontiguousarray(b2)
    c = _core.empty_aligned((m, n))
    _core.matmul(a2, b2, c, _ZERO, _ZERO, fmt, "")
    # numpy computes into a temporary when out overlaps an operand; the GEMM has read both
    # operands into c before out is written, so out can be written in place.
    res = np.empty((m, n), a.dtype) if out is None else out
    flags = _core.numpy_dot_finish(a2, b2, c, res, fmt)
    if flags:
        report_flags(flags, "dot")
    if out is not None:
        return out
    return res.reshape(shape)[()]


_core.set_dot_patch(numpy_dot, _dot_by_gemm)
dot = _core.dot


def patch_numpy() -> None:
    """Make ``np.matmul`` and ``@`` on float16 and on bfloat16 arrays run halfkit's GEMM.

    float16 takes effect at once and ``unpatch_numpy()`` restores numpy's own loop exactly.
    bfloat16: numpy has no bfloat16 matmul loop (it multiplies float32 copies), and remembers,
    per process, which loop it chose for a pair of dtypes, so halfkit's loop is seen only if
    ``patch_numpy()`` runs before the first bfloat16 matmul of the process; otherwise
    bfloat16 stays numpy's and a RuntimeWarning says so. Once registered, the loop stays in
    numpy; unpatched, it does what numpy did (float32 copies, numpy's float32 loop).

    ``np.dot`` (the attribute ``numpy.dot``) is replaced by a function that runs two float16
    or two bfloat16 arrays through the GEMM, rounds once to their dtype and reports numpy's
    floating-point flags, and hands every other call to numpy's own. ``ndarray.dot``,
    ``np.inner``, ``np.vdot`` and a ``dot`` imported by name before the patch stay numpy's.
    numpy's casts are not patched (numpy offers no supported way to replace a cast: use
    ``halfkit.astype``).
    """
    global _bf16_reached
    with _lock:
        note = _core.numpy_patch(True, _BF16.num)
        if np.dot is numpy_dot:
            np.dot = dot
        if not note and not _bf16_reached:
            # Once numpy has dispatched a bfloat16 matmul to the loop, it keeps doing so.
            before = _core.numpy_patch_bf16_calls()
            probe = np.ones((1, 1), _BF16)
            np.matmul(probe, probe)
            _bf16_reached = _core.numpy_patch_bf16_calls() != before
            if not _bf16_reached:
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
    """Give ``np.matmul`` back its own float16 loop and bfloat16 behaviour, ``numpy.dot`` its
    own function."""
    with _lock:
        _core.numpy_patch(False, _BF16.num)
        if np.dot is dot:
            np.dot = numpy_dot


@contextlib.contextmanager
def patched_numpy() -> Iterator[None]:
    """``with halfkit.patched_numpy():`` numpy's matmul and dot run halfkit's GEMM inside the
    block."""
    patch_numpy()
    try:
        yield
    finally:
        unpatch_numpy()
