"""Quick CPU GEMM timings for chosen shapes: halfkit.matmul against numpy float32 matmul on the
upcast inputs (and torch bf16 matmul when installed), same thread count, medians, peers timed
in the same run. For trying a change; the full suite is bench/test_bench_gemm.py.

    python bench/gemm_shapes.py --threads 2 --dtype float16 128x4096x4096 64x64x64x64

A shape is MxKxN, or BxMxKxN for a batch of B products.
"""

from __future__ import annotations

import argparse
import statistics
import time

import halfkit
import ml_dtypes
import numpy as np

try:
    import torch
except ImportError:
    torch = None
from threadpoolctl import threadpool_limits


def median_time(fn, budget: float = 1.0) -> float:
    fn()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < 5 or (time.perf_counter() - start < budget and len(times) < 500):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def measure(shape: str, dt: np.dtype) -> dict[str, float]:
    dims = [int(d) for d in shape.split("x")]
    batch, (m, k, n) = (dims[0], dims[1:]) if len(dims) == 4 else (1, dims)
    lead = (batch,) if batch > 1 else ()
    rng = np.random.default_rng(m + k + n)
    a = rng.standard_normal(lead + (m, k), dtype=np.float32).astype(dt)
    b = rng.standard_normal(lead + (k, n), dtype=np.float32).astype(dt)
    af, bf = a.astype(np.float32), b.astype(np.float32)
    out = np.empty(lead + (m, n), np.float32)
    gflop = 2e-9 * batch * m * n * k
    rates = {
        "halfkit": gflop / median_time(lambda: halfkit.matmul(a, b, out=out)),
        "numpy-f32": gflop / median_time(lambda: np.matmul(af, bf, out=out)),
    }
    if torch is not None and dt == np.dtype(ml_dtypes.bfloat16):
        ta = torch.from_numpy(a.view(np.int16)).view(torch.bfloat16)
        tb = torch.from_numpy(b.view(np.int16)).view(torch.bfloat16)
        rates["torch-bf16"] = gflop / median_time(lambda: ta @ tb)
    return rates


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("shapes", nargs="+")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16"])
    args = ap.parse_args()
    dt = np.dtype(ml_dtypes.bfloat16) if args.dtype == "bfloat16" else np.dtype(np.float16)
    halfkit.set_num_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)
    print(f"# tier {halfkit.kernel_info()['isa']}, {args.threads} threads, {dt.name} inputs")
    with threadpool_limits(args.threads):
        for s in args.shapes:
            rates = measure(s, dt)
            hk = rates["halfkit"]
            peers = "  ".join(
                f"{p} {r:.0f} ({hk / r:.2f}x)" for p, r in rates.items() if p != "halfkit"
            )
            print(f"{s:<20} halfkit {hk:6.0f} GFLOP/s   {peers}", flush=True)


if __name__ == "__main__":
    main()
