"""Two-thread scaling of halfkit.matmul: one and two threads timed alternately in one process,
three rounds each, so that a noisy machine's drift falls on both (timing the two thread counts
in separate runs moved the ratio by 0.1 either way on the shared 2-core VMs).

    python bench/gemm_scaling.py --dtype float16 1024x1024x1024 2048x2048x2048 128x4096x4096
"""

from __future__ import annotations

import argparse
import statistics
import time

import halfkit
import ml_dtypes
import numpy as np


def gflops(a: np.ndarray, b: np.ndarray, out: np.ndarray, reps: int = 5) -> float:
    halfkit.matmul(a, b, out=out)
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        halfkit.matmul(a, b, out=out)
        times.append(time.perf_counter() - t)
    return 2e-9 * a.shape[0] * a.shape[1] * b.shape[1] / statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("shapes", nargs="+", help="MxKxN")
    ap.add_argument("--dtype", default="float16", choices=["bfloat16", "float16"])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    dt = np.dtype(ml_dtypes.bfloat16 if args.dtype == "bfloat16" else np.float16)
    print(f"# tier {halfkit.kernel_info()['isa']}, {args.dtype} inputs")
    rng = np.random.default_rng(0)
    for shape in args.shapes:
        m, k, n = (int(d) for d in shape.split("x"))
        a = rng.standard_normal((m, k), dtype=np.float32).astype(dt)
        b = rng.standard_normal((k, n), dtype=np.float32).astype(dt)
        out = np.empty((m, n), np.float32)
        rates: dict[int, list[float]] = {1: [], 2: []}
        for _ in range(args.rounds):
            for threads in (1, 2):
                halfkit.set_num_threads(threads)
                rates[threads].append(gflops(a, b, out))
        one, two = (statistics.median(rates[t]) for t in (1, 2))
        print(f"{shape:18s} 1 thread {one:6.0f} GFLOP/s  2 threads {two:6.0f}  {two / one:.2f}x")


if __name__ == "__main__":
    main()
