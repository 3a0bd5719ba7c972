"""GPU rounding: halfkit.round, fixed_point and astype to and from the 8- and 4-bit dtypes on
CuPy arrays, against a device-to-device copy of the same bytes (nothing else runs these on a
GPU with the CPU's bits), timed with CUDA events (median of many runs after warm-up).

    python bench/cuda_round.py [--sizes 16M,256M] [--json PATH]

GB/s counts bytes read plus bytes written; 'vs copy' is the copy's time over halfkit's (the
issue's target: at least 0.9 at 256M elements).
"""

from __future__ import annotations

import argparse

import halfkit
import ml_dtypes
import numpy as np
from cuda_convert import parse_size, time_copy, time_ms, write_json

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
F8, F4 = np.dtype(ml_dtypes.float8_e4m3fn), np.dtype(ml_dtypes.float4_e2m1fn)


def cases(cupy, n):
    """(name, bytes moved, the call) for n elements."""
    x = cupy.random.default_rng(n).standard_normal(n, dtype=cupy.float32)
    x64 = x.astype(F64)
    y, y64 = cupy.empty_like(x), cupy.empty_like(x64)
    c8, c4 = cupy.empty(n, F8), cupy.empty(n, F4)
    c8[...] = halfkit.astype(x, F8)
    q = cupy.empty(n, np.int8)
    return [
        ("round float8_e4m3fn nearest-even", 8 * n,
         lambda: halfkit.round(x, "float8_e4m3fn", out=y)),
        ("round float8_e4m3fn stochastic", 8 * n,
         lambda: halfkit.round(x, "float8_e4m3fn", rounding="stochastic", seed=1, out=y)),
        ("round bfloat16 stochastic", 8 * n,
         lambda: halfkit.round(x, "bfloat16", rounding="stochastic", seed=1, out=y)),
        ("round float64 bfloat16 nearest-even", 16 * n,
         lambda: halfkit.round(x64, "bfloat16", out=y64)),
        ("float32->float8_e4m3fn", 5 * n, lambda: halfkit.astype(x, F8, out=c8)),
        ("float32->float4_e2m1fn", 5 * n, lambda: halfkit.astype(x, F4, out=c4)),
        ("float8_e4m3fn->float32", 5 * n, lambda: halfkit.astype(c8, F32, out=y)),
        ("fixed_point Q0.7 codes", 5 * n,
         lambda: halfkit.fixed_point(x, integer_bits=0, fraction_bits=7, codes=True, out=q)),
        ("fixed_point Q3.4 values", 8 * n,
         lambda: halfkit.fixed_point(x, integer_bits=3, fraction_bits=4, out=y)),
    ]  # fmt: skip


def main() -> None:
    import cupy

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="16M,256M")
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    dev = halfkit.kernel_info()["cuda"]["devices"][0]
    print(f"# {dev['name']}, CuPy {cupy.__version__}, halfkit {halfkit.__version__}")
    print(f"{'operation':<40}{'n':>6} {'halfkit GB/s':>13} {'copy GB/s':>10} {'vs copy':>8}")
    rows = []
    for n in (parse_size(s) for s in args.sizes.split(",")):
        if 30 * n > 0.8 * cupy.cuda.Device().mem_info[0]:
            continue
        for name, nbytes, fn in cases(cupy, n):
            t = time_ms(cupy, fn, args.reps)
            t_copy = time_copy(cupy, nbytes, args.reps)
            row = dict(operation=name, n=n, halfkit_ms=t, copy_ms=t_copy,
                       halfkit_gbs=nbytes / t / 1e6, copy_gbs=nbytes / t_copy / 1e6,
                       vs_copy=t_copy / t)  # fmt: skip
            rows.append(row)
            print(
                f"{name:<40}{n >> 20:>5}M {row['halfkit_gbs']:>13.0f} {row['copy_gbs']:>10.0f}"
                f" {row['vs_copy']:>7.2f}x",
                flush=True,
            )
    write_json(args.json, cupy, dev, rows)


if __name__ == "__main__":
    main()
