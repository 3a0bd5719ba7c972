"""The CuPy backend: conversions, matmul, round, fixed_point and the storage dtypes on the GPU
through halfkit._cuda.

Callers (the front modules) have checked the arguments that do not depend on the device; this
module checks devices and byte order, lays operands out for the kernels and launches them.
Work is queued on CuPy's current stream of the arrays' device and never synchronised. No
overflow warning is raised for CuPy arrays (finding one would force a synchronisation), as
CuPy's own astype does not raise one either.
"""

from __future__ import annotations

from typing import Any

from ._arrays import batch_offsets
from ._dtypes import FORMAT, KERNEL_PAIRS, native

try:
    from . import _cuda
except ImportError:  # built without CUDA
    _cuda = None


def _require_cuda(what: str) -> None:
    if _cuda is None:
        raise RuntimeError(
            f"halfkit.{what} got a CuPy array, but this halfkit was built without CUDA "
            "(reinstall with nvcc on the PATH, or HALFKIT_CUDA=ON to make that an error)"
        )


def convert(x: Any, dst: Any, out: Any) -> Any:
    """x converted to dst on x's device, into out (a CuPy array of x's shape and dst) if given."""
    import cupy

    _require_cuda("astype")
    if not x.dtype.isnative or not dst.isnative:
        raise TypeError(
            f"halfkit.astype: CuPy arrays need a native byte order, got {x.dtype} -> {dst}"
        )
    if out is not None and out.device.id != x.device.id:
        raise ValueError(
            f"halfkit.astype: x is on GPU {x.device.id} but out is on GPU {out.device.id}"
        )
    dev = x.device
    if dev.id != cupy.cuda.runtime.getDevice():
        with dev:
            return _convert(cupy, x, dst, out)
    return _convert(cupy, x, dst, out)


def _convert(cupy: Any, x: Any, dst: Any, out: Any) -> Any:
    codes = KERNEL_PAIRS.get((x.dtype, native(dst)))
    if codes is None:  # same dtype, or float32 <-> float64: CuPy's own cast is exact
        if out is None:
            return x.astype(dst)
        cupy.copyto(out, x, casting="unsafe")
        return out
    y = cupy.empty_like(x, dtype=dst) if out is None else out
    if out is not None and cupy.may_share_memory(x, out):
        x = x.copy()
    if x.size:
        xf, yf = x.flags, y.flags
        contiguous = (xf.c_contiguous and yf.c_contiguous) or (xf.f_contiguous and yf.f_contiguous)
        _cuda.convert(
            x.data.ptr, y.data.ptr, list(x.shape), list(x.strides), list(y.strides),
            codes[0], codes[1], cupy.cuda.get_current_stream().ptr, contiguous,
        )  # fmt: skip
    return y


def elementwise(who: str, x: Any, out: Any, result: Any, launch: Any) -> Any:
    """launch(src, y, n, stream) run on x (a CuPy array, made C-contiguous) into a new
    C-contiguous array of dtype result on x's device, or into out (a CuPy array of x's shape
    and that dtype on the same device), for halfkit.round, fixed_point and the storage dtypes.
    The kernels index elements in C order, as stochastic rounding's key needs."""
    import cupy

    _require_cuda(who.partition(":")[0])
    if not isinstance(x, cupy.ndarray):
        raise TypeError(
            f"{who}: out is a CuPy array but x is not; pass both on the same device "
            "(cupy.asarray(x) to move x to the GPU)"
        )
    if not x.dtype.isnative:
        raise TypeError(f"{who}: CuPy arrays need a native byte order, got {x.dtype}")
    if out is not None:
        if not isinstance(out, cupy.ndarray):
            raise TypeError(
                f"{who}: x is a CuPy array, so out must be a cupy.ndarray on the same device, "
                f"got {type(out).__name__}"
            )
        if out.dtype != result:
            raise ValueError(f"{who}: out must have the result's dtype ({result}), got {out.dtype}")
        if out.shape != x.shape:
            raise ValueError(f"{who}: out must have x's shape {x.shape}, got {out.shape}")
        if out.device.id != x.device.id:
            raise ValueError(f"{who}: x is on GPU {x.device.id} but out is on GPU {out.device.id}")
    with x.device:
        src = cupy.ascontiguousarray(x)
        direct = out is not None and out.flags.c_contiguous and not cupy.may_share_memory(out, src)
        y = out if direct else cupy.empty(x.shape, result)
        if x.size:
            launch(src, y, src.size, cupy.cuda.get_current_stream().ptr)
        if out is None or direct:
            return y
        cupy.copyto(out, y)
        return out


def round(x: Any, plan: tuple[int, ...], key: int, out: Any) -> Any:  # noqa: A001
    """halfkit.round on the GPU: plan is the kernel's mode and RoundSpec fields."""
    spec = (*plan, key)
    return elementwise(
        "round",
        x,
        out,
        x.dtype,
        lambda src, y, n, stream: _cuda.round(
            src.data.ptr, y.data.ptr, n, src.itemsize, spec, 0, stream
        ),
    )


def fixed_point(x: Any, result: Any, plan: tuple[Any, ...], key: int, out: Any) -> Any:
    """halfkit.fixed_point on the GPU: plan is the kernel's FixedSpec fields; values when
    result is x's dtype, else codes of result's size."""
    out_bytes = 0 if result.kind == "f" else result.itemsize
    return elementwise(
        "fixed_point",
        x,
        out,
        result,
        lambda src, y, n, stream: _cuda.fixed_point(
            src.data.ptr, y.data.ptr, n, src.itemsize, plan, out_bytes, key, 0, stream
        ),
    )


def to_storage(
    x: Any, dt: Any, round_spec: tuple[int, ...], encode_spec: tuple[int, ...], out: Any
) -> Any:
    """x (float32 or float64) rounded by round_spec and written as dt's codes."""
    return elementwise(
        "halfkit.astype",
        x,
        out,
        dt,
        lambda src, y, n, stream: _cuda.encode(
            src.data.ptr, y.data.ptr, n, src.itemsize, round_spec, encode_spec, 0, stream
        ),
    )


def from_storage(x: Any, target: Any, table: Any, out: Any) -> Any:
    """A storage dtype's codes read as target (float32 or float64): table[code]."""
    raw = table.tobytes()
    return elementwise(
        "halfkit.astype",
        x,
        out,
        target,
        lambda src, y, n, stream: _cuda.decode(
            src.data.ptr, y.data.ptr, n, y.itemsize, raw, stream
        ),
    )


def matmul(
    a: Any, b: Any, batch: tuple[int, ...], shape: tuple[int, ...], out: Any, res_dt: Any,
    kernel: str,
) -> Any:  # fmt: skip
    """a @ b on a's GPU; the arguments are checked and 1-D operands already promoted. kernel:
    'auto', or a kernel's name to force it."""
    import cupy
    import numpy as np

    _require_cuda("matmul")
    dev = a.device
    for name, x in (("b", b), ("out", out)):
        if x is not None and x.device.id != dev.id:
            raise ValueError(
                f"halfkit.matmul: a is on GPU {dev.id} but {name} is on GPU {x.device.id}"
            )
    with dev:
        m, k = a.shape[-2:]
        n = b.shape[-1]
        full = batch + (m, n)
        count = int(np.prod(batch, dtype=np.int64))
        a, b = _tensor_operand(cupy, a, batch, count), _tensor_operand(cupy, b, batch, count)
        direct = (
            out is not None
            and out.flags.c_contiguous
            and not cupy.may_share_memory(out, a)
            and not cupy.may_share_memory(out, b)
        )
        c = out.reshape(full) if direct else cupy.empty(full, res_dt)
        if c.size:
            item = a.itemsize
            offs = [batch_offsets(x, batch, count) // item for x in (a, b)]
            dev_offs = [cupy.asarray(o) if count > 1 and o.any() else None for o in offs]
            _cuda.gemm(
                a.data.ptr, a.strides[-2] // item, a.strides[-1] // item,
                0 if dev_offs[0] is None else dev_offs[0].data.ptr,
                b.data.ptr, b.strides[-2] // item, b.strides[-1] // item,
                0 if dev_offs[1] is None else dev_offs[1].data.ptr,
                c.data.ptr, n, m * n, m, n, k, count,
                FORMAT[native(a.dtype)], FORMAT[res_dt], kernel,
                cupy.cuda.get_current_stream().ptr,
            )  # fmt: skip
        c = c.reshape(shape)
        if direct:
            return out
        if out is None:
            return c
        cupy.copyto(out, c)
        return out


def tensor_friendly(shape: tuple[int, ...], strides: tuple[int, ...], ptr: int) -> bool:
    """Whether the tensor-core kernels read this operand in place: one of the two matrix axes
    has unit stride, the other stride and every batch stride are multiples of 16 bytes (or
    the axis has extent 1), and the base is 16-byte aligned."""
    if ptr % 16:
        return False
    rows, cols = shape[-2:]
    rs, cs = strides[-2:]
    if not (cs == 2 and (rows == 1 or rs % 16 == 0)) and not (
        rs == 2 and (cols == 1 or cs % 16 == 0)
    ):
        return False
    return all(d == 1 or s % 16 == 0 for d, s in zip(shape[:-2], strides[:-2], strict=True))


def _tensor_operand(cupy: Any, x: Any, batch: tuple[int, ...], count: int) -> Any:
    """x itself when the kernels can read it in place, else a row-major copy whose rows are
    padded to a multiple of 8 elements."""
    if count == 0 or x.size == 0 or tensor_friendly(x.shape, x.strides, x.data.ptr):
        return x
    cols = x.shape[-1]
    y = cupy.empty(x.shape[:-1] + (-(-cols // 8) * 8,), native(x.dtype))[..., :cols]
    y.view(cupy.uint16)[...] = x.view(cupy.uint16)  # bit copy: no bfloat16 arithmetic needed
    return y


def info() -> dict[str, Any]:
    from . import _core

    d: dict[str, Any] = {"compiled": _cuda is not None}
    if _cuda is None:
        d["build"] = _core.cuda_build_note
        return d
    d["runtime_version"] = _cuda.runtime_version()
    count, why = _cuda.device_count()
    d["device_count"] = count
    if why:
        # The runtime says "driver version is insufficient" also where there is no driver.
        d["no_device_reason"] = why if _driver_present() else "no NVIDIA driver (libcuda) found"
    d["devices"] = [_cuda.device_info(i) for i in range(count)]
    try:
        import cupy

        d["cupy"] = cupy.__version__
    except ImportError:
        d["cupy"] = None
    return d


def _driver_present() -> bool:
    import ctypes

    try:
        ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    return True
