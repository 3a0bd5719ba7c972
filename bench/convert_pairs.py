"""Quick conversion timings for chosen pairs: halfkit's kernel call (`_core.convert`, no Python
layer) and `halfkit.astype(out=)` against torch `copy_` into a preallocated tensor, same thread
count, medians of 7 timed loops, peers timed in the same run. For trying a change; the full
suite is bench/test_bench_convert.py.

    python bench/convert_pairs.py --threads 1 --size 65536 f32-bf16 f64-bf16 f16-f32
    python bench/convert_pairs.py --best 200 f32-f16 f64-f16    # the fastest of 200 loops
    python bench/convert_pairs.py --offsets f16-f32    # by the buffers' offsets in a line
    python bench/convert_pairs.py --rounds 7 --threads 2 --size 67108864 f64-f16

With --rounds R, halfkit's astype(out=), torch's copy_ and a torch float32 copy of as many
elements are timed in turn, the best of three calls each, R times, after a pause: the ratio of
each round, whose timings are seconds apart, is steadier than a ratio of two medians on a
machine whose memory bandwidth moves between minutes (a two-thread float32 copy measured 46 and
72-81 GB/s on the Zen 5 VM).

With --offsets, halfkit and torch convert the same buffers (torch tensors over numpy's memory),
placed 0, 16, 32 or 48 bytes past a page, for every pairing of source and destination offsets:
numpy's large buffers start 16 bytes past a 64-byte line and torch's on one, which the plain
rows do not separate from the kernels' own speed.
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


def settle() -> None:
    """torch's OpenMP threads keep spinning for a while after a call; on a machine with as many
    cores as threads they took the cores from the next halfkit measurement (64M elements, two
    threads: float64 -> float16 0.6-0.8x torch timed right after a torch call, 1.0x after a
    pause). A pause before each halfkit measurement, as bench/conftest.py does."""
    if torch is not None and torch.get_num_threads() > 1:
        time.sleep(1.0)


def pair_source(pair: str, size: int):
    """SRC-DST's dtypes, and size source values (normal, times 100)."""
    s, d = (DTYPES[p] for p in pair.split("-"))
    return s, d, (np.random.default_rng(0).standard_normal(size) * 100).astype(s)


def as_torch(a: np.ndarray):
    """A torch tensor over a's memory (bfloat16 through its bits)."""
    if a.dtype == ml_dtypes.bfloat16:
        return torch.from_numpy(a.view(np.int16)).view(torch.bfloat16)
    return torch.from_numpy(a)


def placed(dtype, size: int, offset: int) -> np.ndarray:
    """An empty array of size elements starting offset bytes past a page boundary."""
    nbytes = size * np.dtype(dtype).itemsize
    raw = np.empty(nbytes + 8192, np.uint8)
    start = -raw.ctypes.data % 4096 + offset
    return raw[start : start + nbytes].view(dtype)


def by_offsets(pair: str, size: int) -> str:
    s, d, values = pair_source(pair, size)
    lines = [f"{pair}: microseconds a call, halfkit astype(out=) / torch copy_ on the same buffers"]
    lines.append("src%64 dst%64  " + "  ".join(f"{o:>17d}" for o in (0, 16, 32, 48)))
    for so in (0, 16, 32, 48):
        row = []
        for do in (0, 16, 32, 48):
            x = placed(s, size, so)
            x[...] = values
            y = placed(d, size, do)
            settle()
            h = size / median_rate(lambda x=x, y=y: halfkit.astype(x, d, out=y), size) * 1e6
            cell = f"{h:7.2f}"
            if torch is not None:
                tx, ty = as_torch(x), as_torch(y)
                t = size / median_rate(lambda tx=tx, ty=ty: ty.copy_(tx), size) * 1e6
                cell += f" / {t:7.2f}"
            row.append(f"{cell:>17s}")
        lines.append(f"{so:6d}         " + "  ".join(row))
    return "\n".join(lines)


def by_rounds(pair: str, size: int, rounds: int) -> str:
    s, d, x = pair_source(pair, size)
    y = np.empty(size, d)
    tx, ty = as_torch(x), as_torch(np.empty(size, d))

    def best_of_3(fn) -> float:
        # Calls for 50 ms first: a core back from the pause (or a thread pool asleep) ran the
        # first calls of a 2M-element conversion at half speed.
        end = time.perf_counter() + 0.05
        while time.perf_counter() < end:
            fn()
        times = []
        for _ in range(3):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return min(times)

    # A float32 copy of as many elements (8 bytes an element read plus written), for bytes a
    # second against a copy's.
    cx = torch.empty(size, dtype=torch.float32).normal_()
    cy = torch.empty_like(cx)
    h, t, c = [], [], []
    for _ in range(rounds):
        settle()
        h.append(best_of_3(lambda: halfkit.astype(x, d, out=y)))
        t.append(best_of_3(lambda: ty.copy_(tx)))
        c.append(best_of_3(lambda: cy.copy_(cx)))
    ratios = sorted(b / a for a, b in zip(h, t, strict=True))
    moved = (x.itemsize + y.itemsize) / 8
    to_copy = sorted(moved * b / a for a, b in zip(h, c, strict=True))
    return (
        f"{pair:10s} astype {size / statistics.median(h) / 1e9:6.2f}  torch "
        f"{size / statistics.median(t) / 1e9:6.2f} Gelem/s  per-round astype/torch "
        f"{statistics.median(ratios):5.2f}x ({ratios[0]:.2f}-{ratios[-1]:.2f})  bytes/s over "
        f"a float32 copy's {statistics.median(to_copy):4.2f}x ({to_copy[0]:.2f}-{to_copy[-1]:.2f})"
    )


def measure(pair: str, size: int) -> str:
    s, d, x = pair_source(pair, size)
    y = np.empty(size, d)
    codes = FORMAT[np.dtype(s)], FORMAT[np.dtype(d)]
    settle()
    rates = {
        "kernel": median_rate(lambda: _core.convert(x, y, *codes), size),
        "astype": median_rate(lambda: halfkit.astype(x, d, out=y), size),
    }
    line = f"{pair:10s} " + "  ".join(f"{k} {v / 1e9:6.2f}" for k, v in rates.items())
    if torch is not None:
        tx = as_torch(x)
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
    parser.add_argument(
        "--offsets",
        action="store_true",
        help="time every pairing of source and destination offsets in a line (see above)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        metavar="R",
        help="R alternating rounds against torch, with each round's ratio (see above)",
    )
    args = parser.parse_args()
    if args.rounds and torch is None:
        parser.error("--rounds times torch, which is not installed")
    if args.best:
        LOOPS[0], BEST[0] = args.best, True
    halfkit.set_num_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)
    print(f"# tier {halfkit.kernel_info()['isa']}, {args.threads} threads, {args.size} elements")
    for pair in args.pairs:
        if args.offsets:
            print(by_offsets(pair, args.size))
        elif args.rounds:
            print(by_rounds(pair, args.size, args.rounds))
        else:
            print(measure(pair, args.size))


if __name__ == "__main__":
    main()
