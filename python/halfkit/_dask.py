"""The dask backend: astype and matmul on dask arrays, as lazy graphs of halfkit calls on their
chunks (numpy chunks run the CPU kernels, CuPy chunks the GPU ones), on dask's own schedulers.

Callers (the front modules) route dask arrays here before any other check. Nothing is computed
here: every result is a dask array with its dtype, shape, chunks and meta known up front, so
dask never calls a kernel on a stand-in.
"""

from __future__ import annotations

import string
from typing import Any

import numpy as np

from ._arrays import matmul_shapes
from ._dtypes import ACCEPTED, FORMAT, bfloat16, float16, float32, matmul_out_dtype, native

_INPUTS = "float16 or bfloat16 (ml_dtypes.bfloat16)"


def is_dask(x: Any) -> bool:
    """Whether x is a dask array, without importing dask."""
    return type(x).__module__.startswith("dask.array")


def _meta(x: Any, dtype: np.dtype, ndim: int) -> Any:
    from dask.array.utils import meta_from_array

    return meta_from_array(x, ndim=ndim, dtype=dtype)


def _errstate() -> dict[str, str]:
    # Chunks run later, on other threads or processes, under their own errstate: the caller's,
    # taken now, is what they report the conversion's flags under.
    return {k: v for k, v in np.geterr().items() if k in ("over", "under", "invalid")}


def _convert_block(block: Any, dst: np.dtype, errstate: dict[str, str]) -> Any:
    from ._convert import astype

    with np.errstate(**errstate):
        return astype(block, dst)


def astype(x: Any, dst: np.dtype, out: Any) -> Any:
    """A dask array of x's shape and chunks whose blocks are halfkit.astype of x's blocks
    (dst already resolved by the front)."""
    if out is not None:
        raise TypeError(
            "halfkit.astype: out= is not supported for dask arrays (they are immutable); "
            "store the result with dask.array.store or .to_zarr"
        )
    if native(x.dtype) not in FORMAT:
        raise TypeError(
            f"halfkit.astype: source dtype {x.dtype} is not supported; accepted: {ACCEPTED}"
        )
    return x.map_blocks(
        _convert_block,
        dst=dst,
        errstate=_errstate(),
        dtype=dst,
        meta=_meta(x._meta, dst, x.ndim),
        name="halfkit-astype-" + dst.name,
    )


def _partial_product(a: Any, b: Any) -> Any:
    """One k chunk's float32 product, with a length-1 axis where the k chunks are summed."""
    from ._matmul import matmul

    return matmul(a, b)[..., None, :]


def matmul(a: Any, b: Any, out: Any, out_dtype: Any) -> Any:
    """a @ b for dask arrays (or one dask and one numpy/CuPy array): a float32 product per k
    chunk, the k chunks summed in float32 by dask's tree reduction, then rounded once to
    out_dtype."""
    import dask.array as da

    if out is not None:
        raise TypeError(
            "halfkit.matmul: out= is not supported for dask arrays (they are immutable); "
            "store the result with dask.array.store or .to_zarr"
        )
    a, b = (x if is_dask(x) else da.asarray(x) for x in (a, b))
    for name, x in (("a", a), ("b", b)):
        if x.ndim == 0:
            raise ValueError(f"halfkit.matmul: {name} is 0-d; matmul needs at least 1-D operands")
    if native(a.dtype) != native(b.dtype) or native(a.dtype) not in (float16, bfloat16):
        raise TypeError(
            f"halfkit.matmul: a is {a.dtype} and b is {b.dtype}; both must be {_INPUTS}, "
            "the same one"
        )
    res_dt = float32 if out_dtype is None else matmul_out_dtype(out_dtype)
    a2, b2, batch, _ = matmul_shapes(a, b)
    nb = len(batch)
    letters = string.ascii_lowercase[: nb + 3]
    bi, i, k, j = letters[:nb], letters[nb], letters[nb + 1], letters[nb + 2]
    # Broadcast axes of extent 1 stay one chunk; blockwise repeats that block.
    a_ind = bi[nb - (a2.ndim - 2) :] + i + k
    b_ind = bi[nb - (b2.ndim - 2) :] + k + j
    parts = da.blockwise(
        _partial_product,
        bi + i + k + j,
        a2,
        a_ind,
        b2,
        b_ind,
        adjust_chunks={k: 1},
        dtype=float32,
        meta=_meta(a2._meta, float32, nb + 3),
        name="halfkit-matmul-partial",
    )
    c = parts.sum(axis=-2, dtype=float32)
    if res_dt != float32:
        c = c.map_blocks(
            _convert_block,
            dst=res_dt,
            errstate=_errstate(),
            dtype=res_dt,
            meta=_meta(c._meta, res_dt, c.ndim),
            name="halfkit-matmul-round",
        )
    if b.ndim == 1:
        c = c[..., 0]
    if a.ndim == 1:
        c = c[..., 0, :] if b.ndim > 1 else c[..., 0]
    return c
