"""GPU GEMM: halfkit's kernels against cuBLAS in the same process, timed with CUDA events
(median of many runs after warm-up), on random inputs.

    python bench/cuda_gemm.py [--shapes 1024,2048,4096,8192,128x4096x4096,...] [--json PATH]

Shapes are n (square) or MxKxN. Peers: cublasGemmEx with 16-bit inputs, CUBLAS_COMPUTE_32F and
a float32 output (the same product halfkit computes) and cupy.matmul (its output is 16-bit).
TFLOP/s = 2 M N K / time. Each halfkit kernel's result is compared with cuBLAS's before it is
timed; the largest difference relative to sum |a||b| is printed as 'rel err'.
"""

from __future__ import annotations

import argparse

import halfkit
import ml_dtypes
import numpy as np
from cuda_convert import time_ms, write_json
from halfkit._bench import cublas_gemm_f32
from halfkit._matmul import _matmul

F16, BF16, F32 = np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16), np.dtype(np.float32)
SHAPES = "1024,2048,4096,8192,128x4096x4096,4096x4096x11008,16384x4096x4096"


def parse_shape(s: str) -> tuple[int, int, int]:
    parts = [int(p) for p in s.split("x")]
    return (parts[0],) * 3 if len(parts) == 1 else tuple(parts)  # type: ignore[return-value]


def measure(cupy, m: int, k: int, n: int, dt, kernels: list[str], reps: int) -> dict:
    rng = cupy.random.default_rng(m + k + n)
    a = rng.standard_normal((m, k), dtype=cupy.float32).astype(dt)
    b = rng.standard_normal((k, n), dtype=cupy.float32).astype(dt)
    c = cupy.empty((m, n), F32)
    flop = 2.0 * m * n * k

    def tflops(t_ms: float) -> float:
        return flop / (t_ms * 1e-3) / 1e12

    ref = cupy.empty((m, n), F32)
    cublas_gemm_f32(a, b, ref)
    mag = cupy.abs(a.astype(F32)) @ cupy.abs(b.astype(F32))
    row = {"shape": f"{m}x{k}x{n}", "dtype": dt.name}
    row["cublas_tflops"] = tflops(time_ms(cupy, lambda: cublas_gemm_f32(a, b, c), reps))
    row["cupy_matmul_tflops"] = tflops(time_ms(cupy, lambda: cupy.matmul(a, b), reps))
    for kern in kernels:
        c.fill(cupy.nan)
        _matmul(a, b, c, None, kern)
        row[f"{kern}_rel_err"] = float(cupy.max(cupy.abs(c - ref) / (mag + 1e-30)))
        row[f"{kern}_tflops"] = tflops(
            time_ms(cupy, lambda k_=kern: _matmul(a, b, c, None, k_), reps)
        )
        row[f"{kern}_vs_cublas"] = row[f"{kern}_tflops"] / row["cublas_tflops"]
    return row


def _cell(row: dict, kernel: str) -> str:
    t, r, e = (row[f"{kernel}_{x}"] for x in ("tflops", "vs_cublas", "rel_err"))
    return f"{t:>9.0f} ({r:.2f}x){e:>10.1e}"


def main() -> None:
    import cupy

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shapes", default=SHAPES)
    ap.add_argument("--dtypes", default="bfloat16,float16")
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    dev = halfkit.kernel_info()["cuda"]["devices"][0]
    kernels = [k for k in dev["gemm_kernels"] if k != "reference"]
    print(f"# {dev['name']}, CuPy {cupy.__version__}, halfkit {halfkit.__version__}")
    print("# TFLOP/s (ratio to cuBLAS gemmEx, fp32 out); cupy.matmul returns 16-bit")
    print(
        f"{'shape':<18}{'dtype':<10}{'cuBLAS':>8}{'cupy':>8}"
        + "".join(f"{k:>18}{'rel err':>10}" for k in kernels)
    )
    rows = []
    for dt in (
        np.dtype(ml_dtypes.bfloat16) if d == "bfloat16" else np.dtype(d)
        for d in args.dtypes.split(",")
    ):
        for m, k, n in (parse_shape(s) for s in args.shapes.split(",")):
            row = measure(cupy, m, k, n, dt, kernels, args.reps)
            rows.append(row)
            print(
                f"{row['shape']:<18}{row['dtype']:<10}{row['cublas_tflops']:>8.0f}"
                f"{row['cupy_matmul_tflops']:>8.0f}" + "".join(_cell(row, k) for k in kernels),
                flush=True,
            )
    write_json(args.json, cupy, dev, rows)


if __name__ == "__main__":
    main()
