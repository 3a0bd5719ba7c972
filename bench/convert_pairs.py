"""Quick conversion timings for chosen pairs: halfkit's kernel call (`_core.convert`, no Python
layer) and `halfkit.astype(out=)` against torch `copy_` into a preallocated tensor, same thread
count, medians of 7 timed loops, peers timed in the same run. For trying a change; the full
suite is bench/test_bench_convert.py.

    python bench/convert_pairs.py --threads 1 --size 65536 f32-bf16 f64-bf16 f16-f32
    python bench/convert_pairs.py --best 200 f32-f16 f64-f16    # the fastest of 200 loops
"""

from __future__ import annotations

import argparse
import statistics
import time

import halfkit
import ml_dtypes
import numpy as np
from halfkit import _core
from halfkit._dtypes import FORMAT

try:
    import torch
except ImportError:
    torch = None

DTYPES = {"f16": np.float16, "bf16": ml_dtypes.bfloat16, "f32": np.float32, "f64": np.float64}


def median_rate(fn, n: int, budget: float = 0.2) -> float:
    """Elements per second: the median of LOOPS loops of about budget / LOOPS seconds each, or
    with --best the fastest of them (on a noisy machine the fastest loop is the steadier figure
    of what the code can do; the median says what a caller sees)."""
    fn()
    t = time.perf_counter()
    fn()
    reps = max(1, int(budget / LOOPS[0] / max(time.perf_counter() - t, 1e-7)))
    rates = []
    for _ in range(LOOPS[0]):
        t = time.perf_counter()
        for _ in range(reps):
            fn()
        rates.append(n * reps / (time.perf_counter() - t))
    return max(rates) if BEST[0] else statistics.median(rates)


LOOPS = [7]
BEST = [False]


def measure(pair: str, size: int) -> str:
    s, d = (DTYPES[p] for p in pair.split("-"))
    x = (np.random.default_rng(0).standard_normal(size) * 100).astype(s)
    y = np.empty(size, d)
    codes = FORMAT[np.dtype(s)], FORMAT[np.dtype(d)]
    rates = {
        "kernel": median_rate(lambda: _core.convert(x, y, *codes), size),
        "astype": median_rate(lambda: halfkit.astype(x, d, out=y), size),
    }
    line = f"{pair:10s} " + "  ".join(f"{k} {v / 1e9:6.2f}" for k, v in rates.items())
    if torch is not None:
        tx = torch.from_numpy(x.view(np.int16) if s is ml_dtypes.bfloat16 else x)
        if s is ml_dtypes.bfloat16:
            tx = tx.view(torch.bfloat16)
        tdt = {np.float16: torch.float16, ml_dtypes.bfloat16: torch.bfloat16,
               np.float32: torch.float32, np.float64: torch.float64}[d]  # fmt: skip
        ty = torch.empty(size, dtype=tdt)
        tr = median_rate(lambda: ty.copy_(tx), size)
        line += f"  torch {tr / 1e9:6.2f} Gelem/s  astype/torch {rates['astype'] / tr:5.2f}x"
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pairs", nargs="+", help="SRC-DST, e.g. f32-bf16 (f16, bf16, f32, f64)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--size", type=int, default=1 << 16)
    parser.add_argument(
        "--best",
        type=int,
        metavar="LOOPS",
        help="report the fastest of LOOPS loops, not the median of 7",
    )
    args = parser.parse_args()
    if args.best:
        LOOPS[0], BEST[0] = args.best, True
    halfkit.set_num_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)
    print(f"# tier {halfkit.kernel_info()['isa']}, {args.threads} threads, {args.size} elements")
    for pair in args.pairs:
        print(measure(pair, args.size))


if __name__ == "__main__":
    main()
