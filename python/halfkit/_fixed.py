"""halfkit.fixed_point: float32/float64 values as the fixed-point numbers of a Qm.n format, as
values in their own storage (simulation) or as integer codes. The kernel is in
csrc/common/round.h (fixed_code); this module checks the arguments once and derives the words'
constants."""

from __future__ import annotations

import functools
import math
from typing import Any, overload

import numpy as np

from . import _core
from ._formats import ROUNDINGS, _flag, _seed, check_out, float_source

OVERFLOWS = ("saturate", "wrap")

# Per source: its significand's bits (a value's code must fit in them), the largest exponent of
# a finite value and the exponent of the smallest subnormal (the quantum must lie between).
_SRC = {
    np.dtype(np.float32): (24, 127, -149),
    np.dtype(np.float64): (53, 1023, -1074),
}


def _int(value: Any, name: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"fixed_point: {name} must be an integer, got {type(value).__name__}")
    return int(value)


def code_dtype(word_bits: int, signed: bool) -> np.dtype:
    """The narrowest integer dtype that holds a word of word_bits (1 to 64) bits."""
    size = next(b for b in (8, 16, 32, 64) if word_bits <= b)
    return np.dtype(f"{'i' if signed else 'u'}{size // 8}")


def _plan_uncached(
    dt: np.dtype,
    integer_bits: Any,
    fraction_bits: Any,
    signed: Any,
    rounding: Any,
    overflow: Any,
    codes: Any,
) -> tuple[np.dtype, tuple[Any, ...]]:
    m = _int(integer_bits, "integer_bits")
    n = _int(fraction_bits, "fraction_bits")
    signed = _flag(signed, "signed")
    codes = _flag(codes, "codes")
    if not isinstance(rounding, str) or rounding not in ROUNDINGS:
        raise ValueError(
            f"fixed_point: unknown rounding {rounding!r}; accepted: {', '.join(ROUNDINGS)}"
        )
    if not isinstance(overflow, str) or overflow not in OVERFLOWS:
        raise ValueError(
            f"fixed_point: unknown overflow {overflow!r}; accepted: {', '.join(OVERFLOWS)}"
        )
    word = int(signed) + m + n
    if not 1 <= word <= 64:
        raise ValueError(
            f"fixed_point: the word ({'1 sign bit + ' if signed else ''}integer_bits {m} + "
            f"fraction_bits {n} = {word} bits) must have 1 to 64 bits"
        )
    sig, top, bottom = _SRC[dt]
    if not -2048 <= n <= 2048:
        raise ValueError(f"fixed_point: fraction_bits must be -2048 to 2048, got {n}")
    if not codes:
        if m + n > sig:
            raise ValueError(
                f"fixed_point: {dt.name} holds a code of at most {sig} bits, and integer_bits + "
                f"fraction_bits is {m + n}; pass codes=True for the integer codes"
                + (", or round a float64 array" if sig == 24 else "")
            )
        if m > top or -n < bottom:
            raise ValueError(
                f"fixed_point: the format's range (quantum 2^{-n}, magnitudes below 2^{m}) lies "
                f"outside {dt.name}'s (2^{bottom} to below 2^{top + 1}); pass codes=True for "
                "the integer codes"
            )
    result = code_dtype(word, signed) if codes else dt
    mag = (1 << (m + n)) if signed else 0
    hi = (1 << (word - 1)) - 1 if signed else (1 << word) - 1
    scale = 0.0 if codes else math.ldexp(1.0, -n)  # exact whatever the rounding direction
    spec = (ROUNDINGS[rounding], n, hi, mag, (1 << word) - 1, signed, overflow == "wrap", scale)
    return result, spec


# typed: True and 1 are different keys (1 is refused where a flag is asked for).
_plan_cached = functools.lru_cache(maxsize=512, typed=True)(_plan_uncached)


def _plan(*args: Any) -> tuple[np.dtype, tuple[Any, ...]]:
    """The result's dtype and the kernel's FixedSpec fields (the tuple spec_args.h reads) for
    fixed_point's arguments but x, seed and out, every one checked: looked up once per
    combination, as a call's fixed cost is most of a small array's."""
    try:
        return _plan_cached(*args)
    except TypeError:  # an unhashable argument, which the checks then name; or their own error
        return _plan_uncached(*args)


@overload
def fixed_point(
    x: np.ndarray,
    *,
    integer_bits: int,
    fraction_bits: int,
    signed: bool = ...,
    rounding: str = ...,
    overflow: str = ...,
    seed: int | None = ...,
    codes: bool = ...,
    out: np.ndarray | None = ...,
) -> np.ndarray: ...
@overload
def fixed_point(
    x: Any,
    *,
    integer_bits: int,
    fraction_bits: int,
    signed: bool = ...,
    rounding: str = ...,
    overflow: str = ...,
    seed: int | None = ...,
    codes: bool = ...,
    out: np.ndarray | None = ...,
) -> Any: ...
def fixed_point(
    x: Any,
    *,
    integer_bits: int,
    fraction_bits: int,
    signed: bool = True,
    rounding: str = "nearest-even",
    overflow: str = "saturate",
    seed: int | None = None,
    codes: bool = False,
    out: np.ndarray | None = None,
) -> Any:
    """The values of ``x`` (a float32 or float64 numpy array or scalar, or a CuPy or dask array) in
    the fixed-point format Qm.n, m = ``integer_bits`` and n = ``fraction_bits``: multiples of
    2^-n from -2^m to 2^m - 2^-n (``signed``, a word of 1 + m + n bits, two's complement), or
    from 0 to 2^m - 2^-n (unsigned, m + n bits). Either count may be negative as long as the
    word has at least one bit.

    ``rounding``: the modes of ``halfkit.round`` (``"nearest-even"``, ``"nearest-away"``,
    ``"toward-zero"``, ``"up"``, ``"down"``, ``"to-odd"``, ``"stochastic"`` with ``seed``, the
    same counter-based generator). ``overflow="saturate"``: values past the range (infinities
    too) give its nearest end; ``"wrap"``: the code is taken modulo 2^word as an integer
    register wraps (an infinity then has no code). Returns x's dtype (the values, exact:
    ``integer_bits + fraction_bits`` must be at most 24 for float32 and 53 for float64), or
    with ``codes=True`` the integer codes (``value * 2**fraction_bits``) in the narrowest
    numpy integer dtype that holds the word, int8 to int64 or uint8 to uint64. A zero result
    is +0. NaN gives NaN (its code is 0 and raises numpy's "invalid value" report, as numpy's
    float -> int casts do; so does a wrapped infinity). Rules in full: docs/numerics.md,
    "Fixed point".
    """
    if type(x).__module__.startswith("dask.array"):  # _dask.is_dask, without its import
        from . import _dask

        return _dask.fixed_point(
            x, integer_bits, fraction_bits, signed, rounding, overflow, seed, codes, out
        )
    return fixed_array(x, integer_bits, fraction_bits, signed, rounding, overflow, seed, codes, out)


def fixed_array(
    x: Any,
    integer_bits: Any,
    fraction_bits: Any,
    signed: Any,
    rounding: Any,
    overflow: Any,
    seed: Any,
    codes: Any,
    out: Any,
    index: tuple[int, ...] = (),
) -> Any:
    """halfkit.fixed_point of a numpy or CuPy array or a numpy scalar; index: where x lies in a
    larger array (a dask chunk's place, for stochastic rounding's key; numpy only)."""
    if isinstance(x, (np.float32, np.float64)) and out is None:
        r = fixed_array(
            np.asarray(x),
            integer_bits,
            fraction_bits,
            signed,
            rounding,
            overflow,
            seed,
            codes,
            None,
        )
        return r[()]
    dt, gpu = float_source("fixed_point", x, out)
    result, plan = _plan(dt, integer_bits, fraction_bits, signed, rounding, overflow, codes)
    key = _seed(seed, rounding, "fixed_point")
    if gpu:
        from . import _gpu

        return _gpu.fixed_point(x, result, plan, key, out)
    check_out("fixed_point", out, (result,), "the result's dtype", x.shape)
    src = np.ascontiguousarray(x, dtype=dt)
    # The kernel reads a block of x before it writes that block: y may be x itself, not a
    # shifted or differently sized view of it.
    direct = (
        out is not None
        and out.flags.c_contiguous
        and (
            not np.may_share_memory(out, src)
            or (out.dtype == dt and out.ctypes.data == src.ctypes.data)
        )
    )
    y = out if direct else np.empty(x.shape, result)
    assert y is not None
    flags = _core.fixed_point(src, y, plan, key, "", index if rounding == "stochastic" else ())
    if flags:
        from ._cpu import report_flags

        report_flags(flags, "fixed_point")
    if out is None or direct:
        return y
    np.copyto(out, y)
    return out
