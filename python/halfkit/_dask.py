"""The dask backend: astype, matmul, round and fixed_point on dask arrays, as lazy graphs of
halfkit calls on their chunks (numpy chunks run the CPU kernels, CuPy chunks the GPU ones), on
dask's own schedulers.

Callers (the front modules) route dask arrays here before any other check. Nothing is computed
here: every result is a dask array with its dtype, shape, chunks and meta known up front, so
dask never calls a kernel on a stand-in. Graph keys are dask's tokens of the inputs and
arguments (map_blocks' token=, not name=, which would give every call the same keys).

Stochastic rounding keys each element by its index in the whole array's C order, so a chunk's
kernel is told where the chunk lies (block_index): the result has the bits the same call gives
the computed numpy array, whatever the chunks. Without a seed, the one fresh seed is drawn
here, when the graph is made, so that computing it twice gives the same bits.
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
        token="halfkit-astype-" + dst.name,
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
        token="halfkit-matmul-partial",
    )
    c = parts.sum(axis=-2, dtype=float32)
    if res_dt != float32:
        c = c.map_blocks(
            _convert_block,
            dst=res_dt,
            errstate=_errstate(),
            dtype=res_dt,
            meta=_meta(c._meta, res_dt, c.ndim),
            token="halfkit-matmul-round",
        )
    if b.ndim == 1:
        c = c[..., 0]
    if a.ndim == 1:
        c = c[..., 0, :] if b.ndim > 1 else c[..., 0]
    return c


def block_index(location: list[tuple[int, int]], shape: tuple[int, ...]) -> tuple[int, ...]:
    """Where a chunk lies in the whole array, as the kernels' index tuple (base, run,
    extents..., strides...): the whole array's C-order index of the chunk's first element; the
    chunk's elements per run (a stretch that is contiguous in the whole array too: the chunk
    spans every axis after the run's first); the chunk's extents on the axes before the run and
    the whole array's strides there, in elements."""
    ndim = len(shape)
    strides = [1] * ndim
    for k in range(ndim - 2, -1, -1):
        strides[k] = strides[k + 1] * shape[k + 1]
    extents = [b - a for a, b in location]
    base = sum(a * st for (a, _), st in zip(location, strides, strict=True))
    first = ndim - 1  # the run's first axis
    while first > 0 and extents[first] == shape[first]:
        first -= 1
    run = 1
    for e in extents[max(first, 0) :]:
        run *= e
    if ndim == 0 or run == 0:
        return ()
    return (base, run, *extents[:first], *strides[:first])


def _where(block_info: dict | None) -> tuple[int, ...]:
    info = (block_info or {}).get(0)
    return () if info is None else block_index(info["array-location"], info["shape"])


def _numpy_chunks(x: Any, who: str) -> None:
    from ._arrays import is_cupy

    if is_cupy(x._meta):
        raise TypeError(f"{who}: dask arrays of CuPy chunks are not supported (yet)")


def _no_out(out: Any, who: str) -> None:
    if out is not None:
        raise TypeError(
            f"{who}: out= is not supported for dask arrays (they are immutable); "
            "store the result with dask.array.store or .to_zarr"
        )


def _lazy(x: Any, fn: Any, dtype: np.dtype, token: str, **kwargs: Any) -> Any:
    return x.map_blocks(fn, dtype=dtype, meta=_meta(x._meta, dtype, x.ndim), token=token, **kwargs)


def _round_block(block: Any, args: tuple, block_info: dict | None = None) -> Any:
    from ._formats import round_array

    return round_array(block, *args, None, _where(block_info))


def round(  # noqa: A001 - halfkit.round's dask form
    x: Any, fmt: Any, rounding: Any, subnormals: Any, saturate: Any, seed: Any, out: Any
) -> Any:
    from ._formats import _seed, round_array

    _no_out(out, "round")
    _numpy_chunks(x, "round")
    if isinstance(rounding, str):
        seed = _seed(seed, rounding)
    # Every argument is checked here, on an empty array of x's dtype, with the numpy path's
    # messages; the chunks' calls cannot fail.
    probe = round_array(np.empty(0, x.dtype), fmt, rounding, subnormals, saturate, seed, None)
    args = (fmt, rounding, subnormals, saturate, seed)
    return _lazy(x, _round_block, probe.dtype, "halfkit-round", args=args)


def _fixed_block(block: Any, args: tuple, errstate: dict, block_info: dict | None = None) -> Any:
    from ._fixed import fixed_array

    with np.errstate(**errstate):
        return fixed_array(block, *args, None, _where(block_info))


def fixed_point(
    x: Any,
    integer_bits: Any,
    fraction_bits: Any,
    signed: Any,
    rounding: Any,
    overflow: Any,
    seed: Any,
    codes: Any,
    out: Any,
) -> Any:
    from ._fixed import fixed_array
    from ._formats import _seed

    _no_out(out, "fixed_point")
    _numpy_chunks(x, "fixed_point")
    if isinstance(rounding, str):
        seed = _seed(seed, rounding, "fixed_point")
    args = (integer_bits, fraction_bits, signed, rounding, overflow, seed, codes)
    probe = fixed_array(np.empty(0, x.dtype), *args, None)
    return _lazy(
        x, _fixed_block, probe.dtype, "halfkit-fixed-point", args=args, errstate=_errstate()
    )


def _astype_any_block(
    block: Any, args: tuple, errstate: dict, block_info: dict | None = None
) -> Any:
    from ._formats import astype_any

    with np.errstate(**errstate):
        return astype_any(block, *args[:1], None, *args[1:], _where(block_info))


def astype_any(x: Any, dst: np.dtype, out: Any, rounding: Any, saturate: Any, seed: Any) -> Any:
    """halfkit.astype of a dask array where a storage dtype or a rounding option is involved."""
    from ._formats import _seed
    from ._formats import astype_any as numpy_astype_any

    who = "halfkit.astype"
    _no_out(out, who)
    _numpy_chunks(x, who)
    if isinstance(rounding, str):
        seed = _seed(seed, rounding, who)
    probe = numpy_astype_any(np.empty(0, x.dtype), dst, None, rounding, saturate, seed)
    return _lazy(
        x,
        _astype_any_block,
        probe.dtype,
        "halfkit-astype-" + dst.name,
        args=(dst, rounding, saturate, seed),
        errstate=_errstate(),
    )
