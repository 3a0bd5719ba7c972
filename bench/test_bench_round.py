"""halfkit.round (float32 sources, out= given) against the simulators: ml_dtypes' astype there
and back (the same bits, for its dtypes, nearest-even only) and pychop's Chop (its own overflow
rules, the same work), at 64K and 4M elements, 1 and 2 threads.

    pip install ".[bench]"
    python -m pytest bench/test_bench_round.py --benchmark-json=bench/results/round.json \
        --ratio-md=bench/results/round.md
"""

from __future__ import annotations

import functools

import halfkit
import ml_dtypes
import numpy as np
import pytest

try:
    import pychop
except ImportError:
    pychop = None

TARGETS = {  # name: (halfkit format, exponent and mantissa bits for pychop)
    "float8_e4m3fn": ("float8_e4m3fn", 4, 3),
    "float8_e5m2": ("float8_e5m2", 5, 2),
    "float6_e2m3fn": ("float6_e2m3fn", 2, 3),
    "bfloat16": ("bfloat16", 8, 7),
    "e5m7": (halfkit.Format(5, 7), 5, 7),
}
MODES = {"nearest-even": 1, "toward-zero": 4, "stochastic": 5}
SIZES = [1 << 16, 1 << 22]


@functools.lru_cache(maxsize=2)
def data(n):
    return np.random.default_rng(n).standard_normal(n, dtype=np.float32)


def cases():
    for name in TARGETS:
        for mode in MODES:
            for n in SIZES:
                for threads in (1, 2):
                    if threads == 2 and n < SIZES[-1]:
                        continue
                    impls = ["halfkit"]
                    if threads == 1:
                        if mode == "nearest-even" and hasattr(ml_dtypes, name):
                            impls.append("ml_dtypes-astype-x2")
                        if pychop is not None and n == SIZES[0]:
                            impls.append("pychop")
                    for impl in impls:
                        yield pytest.param(
                            name, mode, n, threads, impl, id=f"{name}-{mode}-n{n}-t{threads}-{impl}"
                        )


@pytest.mark.parametrize("name, mode, n, threads, impl", list(cases()))
def test_round(benchmark, name, mode, n, threads, impl):
    x = data(n)
    y = np.empty_like(x)
    fmt, e, m = TARGETS[name]
    benchmark.group = f"round {name} {mode} n={n} threads={threads}"
    benchmark.extra_info.update(impl=impl, elements=n, bytes=8 * n)
    halfkit.set_num_threads(threads)
    if impl == "halfkit":
        fn = lambda: halfkit.round(x, fmt, rounding=mode, seed=1, out=y)  # noqa: E731
    elif impl == "ml_dtypes-astype-x2":
        dt = getattr(ml_dtypes, name)
        fn = lambda: np.copyto(y, x.astype(dt))  # noqa: E731
    else:
        chop = pychop.Chop(exp_bits=e, sig_bits=m, rmode=MODES[mode])
        fn = lambda: chop(x)  # noqa: E731
    with np.errstate(all="ignore"):
        benchmark(fn)
