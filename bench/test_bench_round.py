"""halfkit.round (float32 sources, out= given) against the simulators: ml_dtypes' astype there
and back (the same bits, for its dtypes, nearest-even only) and pychop's Chop (its own overflow
rules, the same work), at 64K and 4M elements, 1 and 2 threads; astype to and from ml_dtypes'
float8/float6/float4 dtypes against ml_dtypes; fixed_point against fxpmath and numpy.

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


# ---- storage in ml_dtypes' small dtypes, and fixed point ---------------------------------------

STORAGE = ["float8_e4m3fn", "float8_e5m2", "float6_e2m3fn", "float4_e2m1fn"]


@pytest.mark.parametrize("direction", ["encode", "decode"])
@pytest.mark.parametrize("name", STORAGE)
@pytest.mark.parametrize("impl", ["halfkit", "ml_dtypes"])
def test_storage(benchmark, name, direction, impl):
    """halfkit.astype to and from the small dtypes against ml_dtypes' own astype (the same
    bits), float32 <-> codes, 64K elements into an out, one thread."""
    n = SIZES[0]
    dt = np.dtype(getattr(ml_dtypes, name))
    x = data(n)
    codes = x.astype(dt)
    src, out = (x, np.empty(n, dt)) if direction == "encode" else (codes, np.empty(n, np.float32))
    benchmark.group = f"astype {name} {direction} n={n} threads=1"
    benchmark.extra_info.update(impl=impl, elements=n, bytes=5 * n)
    halfkit.set_num_threads(1)
    if impl == "halfkit":
        fn = lambda: halfkit.astype(src, out.dtype, out=out)  # noqa: E731
    else:
        fn = lambda: np.copyto(out, src, casting="unsafe")  # noqa: E731
    with np.errstate(all="ignore"):
        benchmark(fn)


@pytest.mark.parametrize("mode", ["nearest-even", "stochastic"])
@pytest.mark.parametrize("impl", ["halfkit", "numpy-rint-clip", "fxpmath"])
def test_fixed_point(benchmark, mode, impl):
    """halfkit.fixed_point to Q3.4 (saturating) against fxpmath and against the numpy
    expression a user writes for the nearest-even case (np.rint rounds to nearest even)."""
    if impl == "numpy-rint-clip" and mode != "nearest-even":
        pytest.skip("numpy has no stochastic rounding to compare with")
    n = SIZES[0]
    x = data(n)
    y = np.empty_like(x)
    benchmark.group = f"fixed_point Q3.4 {mode} n={n} threads=1"
    benchmark.extra_info.update(impl=impl, elements=n, bytes=8 * n)
    halfkit.set_num_threads(1)
    if impl == "halfkit":
        fn = lambda: halfkit.fixed_point(  # noqa: E731
            x, integer_bits=3, fraction_bits=4, rounding=mode, seed=1, out=y
        )
    elif impl == "numpy-rint-clip":
        fn = lambda: np.multiply(np.clip(np.rint(x * 16), -128, 127), 1 / 16, out=y)  # noqa: E731
    else:
        fxpmath = pytest.importorskip("fxpmath")
        rounding = "around" if mode == "nearest-even" else pytest.skip("fxpmath: no stochastic")
        fn = lambda: fxpmath.Fxp(x, True, 8, 4, rounding=rounding)  # noqa: E731
    benchmark(fn)
