"""CuPy arrays: the same conversions on the GPU, through halfkit._cuda.

Work is queued on CuPy's current stream of the arrays' device and never synchronised. No
overflow warning is raised for CuPy arrays (finding one would force a synchronisation), as
CuPy's own astype does not raise one either.
"""

from __future__ import annotations

from typing import Any

from ._dtypes import ACCEPTED, FORMAT, KERNEL_PAIRS, native

try:
    from . import _cuda
except ImportError:  # built without CUDA
    _cuda = None


def is_cupy(x: Any) -> bool:
    return type(x).__module__.partition(".")[0] == "cupy"


def _require_cuda() -> None:
    if _cuda is None:
        raise RuntimeError(
            "halfkit.astype got a CuPy array, but this halfkit was built without CUDA "
            "(reinstall with nvcc on the PATH, or HALFKIT_CUDA=ON to make that an error)"
        )


def astype(x: Any, dst: Any, out: Any) -> Any:
    import cupy

    _require_cuda()
    src = x.dtype
    if not src.isnative or src not in FORMAT:
        raise TypeError(
            f"halfkit.astype: source dtype {src} is not supported; accepted: {ACCEPTED}"
        )
    if not dst.isnative:
        raise TypeError(f"halfkit.astype: CuPy arrays need a native byte order, got {dst}")
    if out is not None:
        if not is_cupy(out):
            raise TypeError(
                "halfkit.astype: x is a CuPy array, so out must be a cupy.ndarray on the same "
                f"device, got {type(out).__name__}"
            )
        if out.dtype != dst:
            raise TypeError(
                f"halfkit.astype: out has dtype {out.dtype}, but the result dtype is {dst}"
            )
        if out.shape != x.shape:
            raise ValueError(
                f"halfkit.astype: out has shape {out.shape}, but the input has shape {x.shape}"
            )
        if out.device.id != x.device.id:
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


def info() -> dict[str, Any]:
    d: dict[str, Any] = {"compiled": _cuda is not None}
    if _cuda is None:
        return d
    d["runtime_version"] = _cuda.runtime_version()
    count, why = _cuda.device_count()
    d["device_count"] = count
    if why:
        d["no_device_reason"] = why
    d["devices"] = [_cuda.device_info(i) for i in range(count)]
    try:
        import cupy

        d["cupy"] = cupy.__version__
    except ImportError:
        d["cupy"] = None
    return d
