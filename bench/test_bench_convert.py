"""Conversions: halfkit against numpy (astype and copyto), ml_dtypes and torch (copy_ into a
preallocated tensor), at 16, 64K, 1M and 64M elements, allocating and with out=, 1 and 2 threads.

    pip install ".[bench]" torch
    python -m pytest bench/test_bench_convert.py --benchmark-json=bench/results/convert.json \
        --ratio-md=bench/results/convert.md
"""

from __future__ import annotations

import functools

import halfkit
import ml_dtypes
import numpy as np
import pytest

try:
    import torch
except ImportError:
    torch = None

F16, BF16, F32, F64 = (
    np.dtype(t) for t in (np.float16, ml_dtypes.bfloat16, np.float32, np.float64)
)
CONVERSIONS = [
    (F32, F16), (F16, F32), (F32, BF16), (BF16, F32), (F64, F16),
    (F64, BF16), (F16, F64), (BF16, F64), (F16, BF16), (BF16, F16),
]  # fmt: skip
SIZES = [16, 1 << 16, 1 << 20, 1 << 26]
TORCH = {}
if torch is not None:
    TORCH = {F16: torch.float16, BF16: torch.bfloat16, F32: torch.float32, F64: torch.float64}


@functools.lru_cache(maxsize=4)
def data(dtype, n):
    rng = np.random.default_rng(n)
    return (rng.standard_normal(n, dtype=np.float32) * 100).astype(dtype)


def as_torch(a):
    if a.dtype == BF16:
        return torch.from_numpy(a.view(np.int16)).view(torch.bfloat16)
    return torch.from_numpy(a)


def peer_name(src, dst):
    return "ml_dtypes" if BF16 in (src, dst) else "numpy"


def cases():
    for src, dst in CONVERSIONS:
        for n in SIZES:
            for threads in (1, 2):
                if threads == 2 and n < (1 << 20):
                    continue  # small arrays stay on the calling thread
                for mode in ("out", "alloc"):
                    impls = ["halfkit"]
                    if threads == 1:
                        impls += [
                            f"{peer_name(src, dst)}-astype"
                            if mode == "alloc"
                            else f"{peer_name(src, dst)}-copyto"
                        ]
                    if torch is not None:
                        impls.append("torch")
                    if mode == "out" and n == SIZES[-1]:
                        impls.append("f32-copy")
                    for impl in impls:
                        yield pytest.param(
                            src, dst, n, threads, mode, impl,
                            id=f"{src.name}-{dst.name}-n{n}-t{threads}-{mode}-{impl}",
                        )  # fmt: skip


# torch's cases run last: its threads slow whatever runs next in the process (see conftest.py).
@pytest.mark.parametrize(
    "src, dst, n, threads, mode, impl", sorted(cases(), key=lambda c: c.values[-1] == "torch")
)
def test_convert(benchmark, src, dst, n, threads, mode, impl):
    x = data(src, n)
    nbytes = n * (src.itemsize + dst.itemsize)
    group = f"{src.name}->{dst.name} n={n} {mode} threads={threads}"
    benchmark.group = group
    benchmark.extra_info.update(impl=impl, elements=n, bytes=nbytes)
    halfkit.set_num_threads(threads)
    if torch is not None and impl == "torch":
        torch.set_num_threads(threads)
    y = np.empty(n, dst)
    if impl == "halfkit":
        fn = (
            (lambda: halfkit.astype(x, dst, out=y))
            if mode == "out"
            else (lambda: halfkit.astype(x, dst))
        )
    elif impl.endswith("-astype"):
        fn = lambda: x.astype(dst)  # noqa: E731
    elif impl.endswith("-copyto"):
        fn = lambda: np.copyto(y, x, casting="unsafe")  # noqa: E731
    elif impl == "torch":
        tx = as_torch(x)
        if mode == "out":
            ty = torch.empty(n, dtype=TORCH[dst])
            fn = lambda: ty.copy_(tx)  # noqa: E731
        else:
            fn = lambda: tx.to(TORCH[dst])  # noqa: E731
    else:  # f32-copy: the bandwidth reference, the same number of bytes moved as float32 -> float32
        a = np.ones(nbytes // 8, np.float32)  # touched: untouched pages read as free zeros
        b = np.ones_like(a)
        if threads == 1:
            fn = lambda: np.copyto(b, a)  # noqa: E731
        else:
            import concurrent.futures as cf

            pool = cf.ThreadPoolExecutor(threads)
            parts = np.array_split(np.arange(a.size), threads)
            sl = [slice(p[0], p[-1] + 1) for p in parts]
            fn = lambda: list(pool.map(lambda s: np.copyto(b[s], a[s]), sl))  # noqa: E731
    with np.errstate(over="ignore"):
        benchmark(fn)
