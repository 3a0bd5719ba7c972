"""GPU conversions: halfkit against CuPy's astype and a device-to-device copy of the same bytes,
timed with CUDA events (median of many runs after warm-up), on random data.

    python bench/cuda_convert.py [--sizes 1M,16M,64M,256M,1G] [--json PATH]

GB/s counts bytes read plus bytes written. 'copy' is cudaMemcpyAsync of half the conversion's
total bytes (so it too reads and writes that many): the ceiling a conversion can approach.
"""

from __future__ import annotations

import argparse
import json
import statistics

import halfkit
import ml_dtypes
import numpy as np

F16, BF16, F32, F64 = (
    np.dtype(t) for t in (np.float16, ml_dtypes.bfloat16, np.float32, np.float64)
)
CONVERSIONS = [
    (F32, F16), (F16, F32), (F32, BF16), (BF16, F32), (F64, F16),
    (F64, BF16), (F16, F64), (BF16, F64), (F16, BF16), (BF16, F16),
]  # fmt: skip


def parse_size(s: str) -> int:
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(s[:-1]) * mult[s[-1]] if s[-1] in mult else int(s)


def time_ms(cupy, fn, reps: int) -> float:
    for _ in range(3):
        fn()
    start, stop = cupy.cuda.Event(), cupy.cuda.Event()
    times = []
    for _ in range(reps):
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(cupy.cuda.get_elapsed_time(start, stop))
    return statistics.median(times)


def time_copy(cupy, nbytes: int, reps: int) -> float:
    """A device-to-device copy that reads and writes nbytes in all: the bandwidth reference."""
    a = cupy.empty(nbytes // 2, cupy.uint8)
    b = cupy.empty_like(a)
    return time_ms(cupy, lambda: b.data.copy_from_device_async(a.data, a.nbytes), reps)


def write_json(path: str | None, cupy, dev: dict, rows: list[dict]) -> None:
    """The rows, with the device and CuPy version they were measured with, when --json asks."""
    if path:
        with open(path, "w") as f:
            json.dump({"device": dev, "cupy": cupy.__version__, "rows": rows}, f, indent=1)


def measure(cupy, src, dst, n: int, reps: int) -> dict:
    nbytes = n * (src.itemsize + dst.itemsize)
    x = (cupy.random.default_rng(n).standard_normal(n, dtype=cupy.float32) * 100).astype(src)
    y = cupy.empty(n, dst)
    t_hk = time_ms(cupy, lambda: halfkit.astype(x, dst, out=y), reps)
    t_hk_alloc = time_ms(cupy, lambda: halfkit.astype(x, dst), reps)
    t_cp = time_ms(cupy, lambda: cupy.copyto(y, x, casting="unsafe"), reps)
    t_cp_alloc = time_ms(cupy, lambda: x.astype(dst), reps)
    t_copy = time_copy(cupy, nbytes, reps)

    def gbs(t):
        return nbytes / (t * 1e-3) / 1e9

    return dict(
        conversion=f"{src.name}->{dst.name}", n=n, halfkit_ms=t_hk, halfkit_alloc_ms=t_hk_alloc,
        cupy_copyto_ms=t_cp, cupy_astype_ms=t_cp_alloc, copy_ms=t_copy, halfkit_gbs=gbs(t_hk),
        cupy_gbs=gbs(t_cp), copy_gbs=gbs(t_copy), vs_cupy=t_cp / t_hk, vs_copy=t_copy / t_hk,
        alloc_vs_astype=t_cp_alloc / t_hk_alloc,
    )  # fmt: skip


def main() -> None:
    import cupy

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1M,16M,64M,256M,1G")
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    dev = halfkit.kernel_info()["cuda"]["devices"][0]
    print(f"# {dev['name']}, CuPy {cupy.__version__}, halfkit {halfkit.__version__}")
    print(
        f"{'conversion':<20}{'n':>6} {'halfkit GB/s':>13} {'cupy GB/s':>10} {'copy GB/s':>10}"
        f" {'vs copyto':>9} {'vs copy':>8} {'alloc vs astype':>16}"
    )
    rows = []
    for n in (parse_size(s) for s in args.sizes.split(",")):
        for src, dst in CONVERSIONS:
            if n * (src.itemsize + dst.itemsize) > 0.6 * cupy.cuda.Device().mem_info[0]:
                continue
            row = measure(cupy, src, dst, n, args.reps)
            rows.append(row)
            print(
                f"{row['conversion']:<20}{n >> 20:>5}M {row['halfkit_gbs']:>13.0f}"
                f" {row['cupy_gbs']:>10.0f} {row['copy_gbs']:>10.0f} {row['vs_cupy']:>8.2f}x"
                f" {row['vs_copy']:>7.2f}x {row['alloc_vs_astype']:>15.2f}x",
                flush=True,
            )
    write_json(args.json, cupy, dev, rows)


if __name__ == "__main__":
    main()
