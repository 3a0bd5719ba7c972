"""GEMM: halfkit.matmul (bf16/fp16 in, fp32 accumulate and out) against numpy float32 matmul on
upcast inputs, numpy @ on ml_dtypes bfloat16 arrays, and torch bf16/fp16 matmul, 1 and 2 threads.

    pip install ".[bench]" torch
    python -m pytest bench/test_bench_gemm.py --benchmark-json=bench/results/gemm.json \
        --ratio-md=bench/results/gemm.md

Rates are GFLOP/s = 2*m*n*k / median time (batched: times the batch). This machine's peaks:
fp32 FMA about 112 GFLOP/s per core on Zen 4 (2 x 512-bit FMA per cycle on the Intel cores seen
in CI: ~190), VDPBF16PS about 226 per core where the CPU has AVX-512 BF16.
"""

from __future__ import annotations

import functools
import time

import halfkit
import ml_dtypes
import numpy as np
import pytest

try:
    import torch
except ImportError:
    torch = None
try:
    from threadpoolctl import threadpool_limits
except ImportError:
    threadpool_limits = None

BF16, F16 = np.dtype(ml_dtypes.bfloat16), np.dtype(np.float16)
# (batch, m, k, n); a name ending in "W.T" stores B as the transpose of a row-major (n, k) W,
# as a linear layer's x @ W.T does, and one ending in "K.T" each matrix of B as the transpose of
# a row-major (n, k) one, as attention's scores Q @ K.T do (then P @ V: 128 x 128 x 64).
SHAPES = {
    "256^3": (1, 256, 256, 256),
    "1024^3": (1, 1024, 1024, 1024),
    "2048^3": (1, 2048, 2048, 2048),
    "4096^3": (1, 4096, 4096, 4096),
    "1x4096x4096": (1, 1, 4096, 4096),
    "8x4096x4096": (1, 8, 4096, 4096),
    "4096x4096x1": (1, 4096, 4096, 1),
    "128x4096x4096": (1, 128, 4096, 4096),
    "512x4096x11008": (1, 512, 4096, 11008),
    "1x4096x4096 W.T": (1, 1, 4096, 4096),
    "4x4096x4096 W.T": (1, 4, 4096, 4096),
    "128x4096x4096 W.T": (1, 128, 4096, 4096),
    "batch64 64^3": (64, 64, 64, 64),
    "batch1024 16^3": (1024, 16, 16, 16),
    "batch64 128x64x128 K.T": (64, 128, 64, 128),
    "batch64 128x128x64": (64, 128, 128, 64),
}


@functools.lru_cache(maxsize=2)
def inputs(shape_name, dtype):
    batch, m, k, n = SHAPES[shape_name]
    rng = np.random.default_rng(m + k + n)
    lead = (batch,) if batch > 1 else ()
    a = rng.standard_normal(lead + (m, k), dtype=np.float32).astype(dtype)
    if shape_name.endswith("W.T"):
        b = rng.standard_normal((n, k), dtype=np.float32).astype(dtype).T
    elif shape_name.endswith("K.T"):
        b = rng.standard_normal(lead + (n, k), dtype=np.float32).astype(dtype).swapaxes(-1, -2)
    else:
        b = rng.standard_normal((k, n), dtype=np.float32).astype(dtype)
    return a, b, a.astype(np.float32), b.astype(np.float32)


def torch_of(x):
    if x.dtype == BF16:
        return torch.from_numpy(x.view(np.int16)).view(torch.bfloat16)
    return torch.from_numpy(x)


def cases():
    for name, (_, m, k, n) in SHAPES.items():
        for dtype in (BF16, F16):
            for threads in (1, 2):
                impls = ["halfkit", "numpy-f32"]
                if dtype == BF16 and m * k * n <= 256**3:
                    impls.append("numpy-ml_dtypes")
                if torch is not None and (dtype == BF16 or m * k * n <= 256**3):
                    impls.append("torch")  # torch fp16 runs under 4 GFLOP/s here: small only
                for impl in impls:
                    yield pytest.param(
                        name, dtype, threads, impl, id=f"{name}-{dtype.name}-t{threads}-{impl}"
                    )


# torch's cases run last: its threads slow whatever runs next in the process (see conftest.py).
@pytest.mark.parametrize(
    "shape, dtype, threads, impl", sorted(cases(), key=lambda c: c.values[-1] == "torch")
)
def test_gemm(benchmark, shape, dtype, threads, impl):
    batch, m, k, n = SHAPES[shape]
    a, b, af, bf = inputs(shape, dtype)
    halfkit.set_num_threads(threads)
    if torch is not None and impl == "torch":
        torch.set_num_threads(threads)
    benchmark.group = f"{shape} {dtype.name} threads={threads}"
    benchmark.extra_info.update(impl=impl, flops=2.0 * batch * m * n * k)
    # Small products get many rounds, and every case a warm-up of at least 0.3 s: on the shared
    # CI machine the first few dozen calls of a 256^3 product with 2 threads ran 1.5-2x slower
    # than later ones (an idle second core is slow to come back), for every library. Counted
    # in calls, the warm-up of mid-sized cases was too short for that: a stack of 64
    # 128x128x64 products on two threads measured 137-145 GFLOP/s after 2 calls, no more than
    # on one thread, and 284-292 after 0.3 s.
    flops = 2.0 * batch * m * n * k
    rounds, warmup = (3, 1) if flops > 2e10 else (10, 2) if flops > 1e8 else (50, 20)

    def measure(fn):
        end = time.perf_counter() + 0.3
        fn()
        while time.perf_counter() < end:
            fn()
        benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=warmup)

    if impl == "halfkit":
        out = np.empty(np.broadcast_shapes(a.shape[:-1] + (n,)), np.float32)
        fn = lambda: halfkit.matmul(a, b, out=out)  # noqa: E731
    elif impl == "numpy-f32":
        fn = lambda: np.matmul(af, bf)  # noqa: E731
        if threadpool_limits is not None:  # OpenBLAS keeps its own thread count otherwise
            with threadpool_limits(threads):
                measure(fn)
            return
    elif impl == "numpy-ml_dtypes":
        fn = lambda: np.matmul(a, b)  # noqa: E731
    else:
        ta, tb = torch_of(a), torch_of(b)
        fn = lambda: torch.matmul(ta, tb)  # noqa: E731
    measure(fn)
