"""halfkit.Format and halfkit.round: float32/float64 values rounded to any floating-point format
(exponent bits, mantissa bits, bias, and how it spends its top codes), in every rounding mode,
kept in their own storage. The kernel is csrc/common/round.h; this module checks the arguments
once and derives the bit patterns the kernel works with."""

from __future__ import annotations

import dataclasses
import functools
import math
import secrets
from fractions import Fraction
from typing import Any, Literal, overload

import numpy as np

from . import _core
from ._arrays import is_cupy

NanKind = Literal["ieee", "all-ones", "negative-zero"] | None

_NAN_KINDS = ("ieee", "all-ones", "negative-zero", None)

ROUNDINGS = {
    "nearest-even": 0,
    "nearest-away": 1,
    "toward-zero": 2,
    "up": 3,
    "down": 4,
    "to-odd": 5,
    "stochastic": 6,
}


@dataclasses.dataclass(frozen=True)
class Format:
    """A binary floating-point format: a sign, ``exponent_bits`` of exponent with ``bias``, and
    ``mantissa_bits`` of fraction after an implicit leading bit (subnormals below the smallest
    normal). ``nan`` says how the format spends its top codes:

    - ``"ieee"``: the top exponent field holds the infinities and NaNs (``infinities=True``), as
      in binary16, bfloat16 and float8_e5m2;
    - ``"all-ones"``: only the all-ones magnitude is NaN, there are no infinities, as in
      float8_e4m3fn;
    - ``"negative-zero"``: the code of -0 is the one NaN, there is no -0 and no infinity, as in
      the ``fnuz`` float8 formats;
    - ``None``: every code is a finite number, as in float6_e2m3fn and float4_e2m1fn.

    Presets: ``Format.named(name)`` for the names in ``halfkit.FORMATS``, and
    ``Format.from_dtype(dtype)`` for ml_dtypes' floating-point dtypes.
    """

    exponent_bits: int
    mantissa_bits: int
    bias: int | None = None
    infinities: bool = True
    nan: NanKind = "ieee"
    name: str | None = dataclasses.field(default=None, compare=False)

    def __post_init__(self) -> None:
        for field in ("exponent_bits", "mantissa_bits"):
            v = getattr(self, field)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise TypeError(f"Format: {field} must be an integer, got {type(v).__name__}")
            object.__setattr__(self, field, int(v))
        if not 1 <= self.exponent_bits <= 11:
            raise ValueError(
                f"Format: exponent_bits must be 1 to 11 (float64's), got {self.exponent_bits}"
            )
        if not 0 <= self.mantissa_bits <= 52:
            raise ValueError(
                f"Format: mantissa_bits must be 0 to 52 (float64's), got {self.mantissa_bits}"
            )
        if self.bias is None:
            object.__setattr__(self, "bias", 2 ** (self.exponent_bits - 1) - 1)
        elif isinstance(self.bias, bool) or not isinstance(self.bias, (int, np.integer)):
            raise TypeError(f"Format: bias must be an integer, got {type(self.bias).__name__}")
        else:
            object.__setattr__(self, "bias", int(self.bias))
        if self.nan not in _NAN_KINDS:
            raise ValueError(
                f"Format: nan must be one of 'ieee', 'all-ones', 'negative-zero' or None, "
                f"got {self.nan!r}"
            )
        if not isinstance(self.infinities, (bool, np.bool_)):
            raise TypeError("Format: infinities must be True or False")
        if bool(self.infinities) != (self.nan == "ieee"):
            raise ValueError(
                "Format: infinities=True goes with nan='ieee' (the top exponent field holds "
                "both), and nan='ieee' with infinities=True"
            )
        if self.nan == "all-ones" and self.exponent_bits + self.mantissa_bits < 2:
            raise ValueError("Format: nan='all-ones' needs at least two bits of magnitude")

    # ---- derived values ----------------------------------------------------------------------

    @property
    def emin(self) -> int:
        """The exponent of the smallest normal number."""
        assert self.bias is not None
        return 1 - self.bias

    @property
    def emax(self) -> int:
        """The exponent of the largest finite number."""
        assert self.bias is not None
        top = 2**self.exponent_bits - (2 if self.nan == "ieee" else 1)
        if self.nan == "all-ones" and self.mantissa_bits == 0:
            top -= 1  # the all-ones code is the whole top binade
        return top - self.bias

    @property
    def max_exact(self) -> Fraction:
        """The largest finite value, exactly."""
        m = self.mantissa_bits
        frac = Fraction(2**m - (2 if self.nan == "all-ones" and m > 0 else 1), 2**m)
        return (1 + frac) * Fraction(2) ** self.emax

    @property
    def max(self) -> float:
        """The largest finite value (as a Python float, which holds it exactly)."""
        return float(self.max_exact)

    @property
    def smallest_normal(self) -> float:
        return float(Fraction(2) ** self.emin)

    @property
    def smallest_subnormal(self) -> float:
        return float(Fraction(2) ** (self.emin - self.mantissa_bits))

    @property
    def negative_zero(self) -> bool:
        """Whether the format has a -0 (the ``negative-zero`` formats spend its code on NaN)."""
        return self.nan != "negative-zero"

    def __repr__(self) -> str:
        if self.name:
            return f"Format.named({self.name!r})"
        return (
            f"Format(exponent_bits={self.exponent_bits}, mantissa_bits={self.mantissa_bits}, "
            f"bias={self.bias}, infinities={self.infinities}, nan={self.nan!r})"
        )

    @staticmethod
    def named(name: str) -> Format:
        """A preset: one of the names in ``halfkit.FORMATS``."""
        try:
            return FORMATS[name]
        except (KeyError, TypeError):
            raise ValueError(
                f"unknown format name {name!r}; known: {', '.join(sorted(FORMATS))}"
            ) from None

    @staticmethod
    def from_dtype(dtype: Any) -> Format:
        """The format of numpy's float16 or of an ml_dtypes floating-point dtype."""
        try:
            dt = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"not a dtype: {dtype!r}") from None
        if dt == np.float16:
            return FORMATS["binary16"]
        if dt == np.float32:
            return FORMATS["binary32"]
        if dt == np.float64:
            return FORMATS["binary64"]
        if dt.name in FORMATS:
            return FORMATS[dt.name]
        if dt.name == "float8_e8m0fnu":
            raise ValueError(
                "float8_e8m0fnu (unsigned, exponent only, no zero) is not a format halfkit.round "
                "simulates"
            )
        raise ValueError(
            f"dtype {dt} is not a floating-point format halfkit knows; known: float16, float32, "
            f"float64 and ml_dtypes' {', '.join(n for n in FORMATS if n.startswith('float'))}"
        )


def _preset(name: str, e: int, m: int, bias: int | None = None, nan: NanKind = "ieee") -> Format:
    return Format(e, m, bias, infinities=nan == "ieee", nan=nan, name=name)


FORMATS: dict[str, Format] = {
    f.name: f  # type: ignore[misc]
    for f in (
        _preset("binary16", 5, 10),
        _preset("bfloat16", 8, 7),
        _preset("tf32", 8, 10),
        _preset("binary32", 8, 23),
        _preset("binary64", 11, 52),
        _preset("float8_e5m2", 5, 2),
        _preset("float8_e4m3", 4, 3),
        _preset("float8_e3m4", 3, 4),
        _preset("float8_e4m3fn", 4, 3, nan="all-ones"),
        _preset("float8_e4m3fnuz", 4, 3, 8, nan="negative-zero"),
        _preset("float8_e5m2fnuz", 5, 2, 16, nan="negative-zero"),
        _preset("float8_e4m3b11fnuz", 4, 3, 11, nan="negative-zero"),
        _preset("float6_e2m3fn", 2, 3, nan=None),
        _preset("float6_e3m2fn", 3, 2, nan=None),
        _preset("float4_e2m1fn", 2, 1, nan=None),
    )
}
FORMATS["float16"] = FORMATS["binary16"]
FORMATS["float32"] = FORMATS["binary32"]
FORMATS["float64"] = FORMATS["binary64"]


def as_format(fmt: Any) -> Format:
    if isinstance(fmt, Format):
        return fmt
    if isinstance(fmt, str):
        if fmt in FORMATS:
            return FORMATS[fmt]
        try:
            return Format.from_dtype(fmt)
        except (TypeError, ValueError):
            return Format.named(fmt)  # raises, listing the names
    try:
        np.dtype(fmt)
    except TypeError:
        raise TypeError(
            f"fmt must be a halfkit.Format, a format name or a floating-point dtype, got "
            f"{type(fmt).__name__}"
        ) from None
    return Format.from_dtype(fmt)


# ---- the source types --------------------------------------------------------------------------

_SRC = {
    np.dtype(np.float32): (np.uint32, 23, -126, 0x7F800000, 0x7FC00000),
    np.dtype(np.float64): (np.uint64, 52, -1022, 0x7FF0000000000000, 0x7FF8000000000000),
}


def _bits(value: float, dt: np.dtype) -> int:
    return int(np.array(value, dt).view(_SRC[dt][0]))


@functools.lru_cache(maxsize=256)
def _spec(fmt: Format, dt: np.dtype, subnormals: bool, saturate: bool) -> tuple[int, ...]:
    _, w, src_emin, inf, qnan = _SRC[dt]
    src_name = dt.name
    if fmt.mantissa_bits > w:
        raise ValueError(
            f"round: {src_name} holds at most {w} mantissa bits and the format has "
            f"{fmt.mantissa_bits}" + ("; round a float64 array" if w == 23 else "")
        )
    if fmt.emin < src_emin or fmt.max_exact > Fraction(np.finfo(dt).max.item()):
        raise ValueError(
            f"round: the format's exponent range (normal exponents {fmt.emin} to {fmt.emax}) "
            f"is wider than {src_name}'s ({src_emin} to {-src_emin + 1})"
            + ("; round a float64 array" if w == 23 else "")
        )
    tiny_exp = fmt.emin - fmt.mantissa_bits if subnormals else fmt.emin
    max_bits = _bits(fmt.max, dt)
    if saturate:
        over = max_bits
    elif fmt.infinities:
        over = inf
    elif fmt.nan is not None:
        over = qnan
    else:
        over = max_bits  # a format of finite numbers only saturates, as ml_dtypes' casts do
    emin_sub = fmt.emin if subnormals else -(1 << 20)
    return (
        fmt.mantissa_bits,
        emin_sub,
        tiny_exp,
        _bits(math.ldexp(1.0, tiny_exp), dt),  # exact whatever the rounding direction
        max_bits,
        over,
        over,
        fmt.negative_zero,
    )


def float_source(who: str, x: Any, out: Any) -> tuple[np.dtype, bool]:
    """x's dtype in native byte order (float32 or float64), and whether the call goes to the GPU
    (x or out a CuPy array); a TypeError for any other x."""
    # _arrays.is_cupy, inlined: this runs on every call
    gpu = type(x).__module__.startswith("cupy")
    if not gpu and not isinstance(x, np.ndarray):
        raise TypeError(
            f"{who}: x must be a float32 or float64 numpy, CuPy or dask array, got "
            f"{type(x).__name__}"
        )
    dt = x.dtype
    if dt not in _SRC:
        dt = dt.newbyteorder("=") if dt.kind == "f" else dt
        if dt not in _SRC:
            raise TypeError(f"{who}: x must be float32 or float64, got {x.dtype}")
    return dt, gpu or (out is not None and type(out).__module__.startswith("cupy"))


def _seed(seed: Any, rounding: str, who: str = "round") -> int:
    """The 64-bit key of stochastic rounding: the seed, or fresh entropy without one."""
    if seed is None:
        return secrets.randbits(64) if rounding == "stochastic" else 0
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_)):
        if not 0 <= int(seed) < 2**64:
            raise ValueError(f"{who}: seed must be in [0, 2**64), got {seed}")
        return int(seed)
    raise TypeError(f"{who}: seed must be an integer or None, got {type(seed).__name__}")


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"round: {name} must be True or False, got {type(value).__name__}")
    return bool(value)


def check_out(who: str, out: Any, dtypes: tuple[np.dtype, ...], what: str, shape: tuple) -> None:
    """out= as round and fixed_point take it: None, or a writeable numpy array of shape and of
    one of dtypes (named by what in the error)."""
    if out is None:
        return
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{who}: out must be a numpy array, got {type(out).__name__}")
    if out.dtype not in dtypes:
        raise ValueError(f"{who}: out must have {what} ({dtypes[0]}), got {out.dtype}")
    if out.shape != shape:
        raise ValueError(f"{who}: out must have x's shape {shape}, got {out.shape}")
    if not out.flags.writeable:
        raise ValueError(f"{who}: out is read-only")


@overload
def round(  # noqa: A001
    x: np.ndarray,
    fmt: Format | str | Any,
    *,
    rounding: str = ...,
    subnormals: bool = ...,
    saturate: bool = ...,
    seed: int | None = ...,
    out: np.ndarray | None = ...,
) -> np.ndarray: ...
@overload
def round(  # noqa: A001
    x: Any,
    fmt: Format | str | Any,
    *,
    rounding: str = ...,
    subnormals: bool = ...,
    saturate: bool = ...,
    seed: int | None = ...,
    out: np.ndarray | None = ...,
) -> Any: ...
def round(  # noqa: A001 - numpy's name for the operation (np.round), kept in halfkit's namespace
    x: Any,
    fmt: Format | str | Any,
    *,
    rounding: str = "nearest-even",
    subnormals: bool = True,
    saturate: bool = False,
    seed: int | None = None,
    out: np.ndarray | None = None,
) -> Any:
    """The values of ``x`` (a float32 or float64 numpy array or scalar, or a CuPy or dask array
    of them) rounded to ``fmt``, in ``x``'s dtype.

    ``fmt``: a ``halfkit.Format``, a preset name (``halfkit.FORMATS``) or a dtype (float16,
    ml_dtypes' float8/float6/float4 dtypes). ``rounding``: ``"nearest-even"``,
    ``"nearest-away"``, ``"toward-zero"``, ``"up"``, ``"down"``, ``"to-odd"`` or
    ``"stochastic"`` (up with probability equal to the distance from the lower neighbour in
    units of the last place, truncated to a multiple of 2^-32, from a counter-based generator
    keyed by ``seed`` and each element's index in C order: the same bits on every tier and
    thread count; a fresh seed per call without one). ``subnormals=False``: the format has no
    subnormals (values below the smallest normal round to 0 or to it, a tie to 0).
    ``saturate=True``: overflow and infinities give the largest finite value (NaN stays NaN).
    Otherwise overflow gives the format's infinity, else its NaN, else (formats of finite
    numbers only) the largest finite value; toward-zero, to-odd and the other side of up/down
    give the largest finite value, as IEEE 754 rounds. NaN inputs stay NaN (quieted), whatever
    the format. Rules in full: docs/numerics.md, "Rounding to any format".
    """
    if type(x).__module__.startswith("dask.array"):  # _dask.is_dask, without its import
        from . import _dask

        return _dask.round(x, fmt, rounding, subnormals, saturate, seed, out)
    return round_array(x, fmt, rounding, subnormals, saturate, seed, out)


def _round_plan_uncached(
    fmt: Any, dt: np.dtype, rounding: Any, subnormals: Any, saturate: Any
) -> tuple[int, ...]:
    f = as_format(fmt)
    if not isinstance(rounding, str) or rounding not in ROUNDINGS:
        raise ValueError(f"round: unknown rounding {rounding!r}; accepted: {', '.join(ROUNDINGS)}")
    return (
        ROUNDINGS[rounding],
        *_spec(f, dt, _flag(subnormals, "subnormals"), _flag(saturate, "saturate")),
    )


# typed: True and 1 are different keys (1 is refused, True is not).
_round_plan_cached = functools.lru_cache(maxsize=512, typed=True)(_round_plan_uncached)


def _round_plan(
    fmt: Any, dt: np.dtype, rounding: Any, subnormals: Any, saturate: Any
) -> tuple[int, ...]:
    """The kernel's mode and RoundSpec fields for round's arguments but x, seed and out, every
    one checked: looked up once per combination, as a call's fixed cost is most of a small
    array's."""
    try:
        return _round_plan_cached(fmt, dt, rounding, subnormals, saturate)
    except TypeError:  # an unhashable argument, which the checks then name; or their own error
        return _round_plan_uncached(fmt, dt, rounding, subnormals, saturate)


def round_array(
    x: Any,
    fmt: Any,
    rounding: str,
    subnormals: bool,
    saturate: bool,
    seed: Any,
    out: Any,
    index: tuple[int, ...] = (),
) -> Any:
    """halfkit.round of a numpy or CuPy array or a numpy scalar; index: where x lies in a larger
    array (a dask chunk's place, for stochastic rounding's key; numpy only)."""
    if isinstance(x, (np.float32, np.float64)) and out is None:
        r = round_array(np.asarray(x), fmt, rounding, subnormals, saturate, seed, None)
        return r[()]  # a scalar for a scalar, as numpy's functions answer
    dt, gpu = float_source("round", x, out)
    plan = _round_plan(fmt, dt, rounding, subnormals, saturate)
    key = _seed(seed, rounding)
    if gpu:
        from . import _gpu

        return _gpu.round(x, plan, key, out)
    check_out("round", out, (dt, x.dtype), "x's dtype", x.shape)
    src = np.ascontiguousarray(x, dtype=dt)
    direct = (
        out is not None
        and out.dtype == dt
        and out.flags.c_contiguous
        and (out is src or not np.may_share_memory(out, src))
    )
    y = out if direct else np.empty(x.shape, dt)
    assert y is not None
    _core.round(src, y, (*plan, key), "", _index(index, rounding))
    if out is None or direct:
        return y
    np.copyto(out, y)
    return out


def _index(index: tuple[int, ...], rounding: str) -> tuple[int, ...]:
    # Only stochastic rounding reads an element's index; the others run unsplit.
    return index if rounding == "stochastic" else ()


# ---- storage: ml_dtypes' 8-, 6- and 4-bit floating-point dtypes ---------------------------------

try:
    import ml_dtypes as _md
except ImportError:  # pragma: no cover - a required dependency
    _md = None

STORAGE: dict[np.dtype, Format] = {}
if _md is not None:
    for _name, _fmt in FORMATS.items():
        if _name.startswith(("float8_", "float6_", "float4_")) and hasattr(_md, _name):
            STORAGE[np.dtype(getattr(_md, _name))] = _fmt


def _bits_of(dt: np.dtype) -> int:
    assert _md is not None
    return int(_md.finfo(dt).bits)


@functools.lru_cache(maxsize=64)
def encode_spec(dt: np.dtype) -> tuple[int, ...]:
    """(bits, bias, mantissa bits, NaN code for +, for -, +inf code), as ml_dtypes 0.7.0 encodes:
    the canonical quiet NaN with its sign (the top exponent field and the top mantissa bit for
    the IEEE-like formats, the all-ones magnitude for the fn formats), 0x80 for every NaN of
    the fnuz formats, and for the finite-only float6/float4 formats the code of -0 for a
    positive NaN and of +0 for a negative one (an accident of ml_dtypes' cast, matched)."""
    fmt = STORAGE[dt]
    bits, e, m = _bits_of(dt), fmt.exponent_bits, fmt.mantissa_bits
    top = 1 << (bits - 1)
    inf = ((1 << e) - 1) << m
    if fmt.nan == "ieee":
        nan = inf | (1 << (m - 1))
        return bits, fmt.bias, m, nan, top | nan, inf
    if fmt.nan == "all-ones":
        return bits, fmt.bias, m, top - 1, 2 * top - 1, 0
    if fmt.nan == "negative-zero":
        return bits, fmt.bias, m, top, top, 0
    return bits, fmt.bias, m, top, 0, 0


@functools.lru_cache(maxsize=64)
def decode_spec(dt: np.dtype) -> tuple[int, int, int, int, int]:
    """(bits, mantissa bits, bias, the first magnitude that is NaN or inf, one more NaN code)
    for the decoding kernel; 256 where there is none."""
    fmt = STORAGE[dt]
    bits, e, m = _bits_of(dt), fmt.exponent_bits, fmt.mantissa_bits
    top = 1 << (bits - 1)
    special = {"ieee": ((1 << e) - 1) << m, "all-ones": top - 1}.get(fmt.nan, 256)  # type: ignore[arg-type]
    return bits, m, fmt.bias, special, top if fmt.nan == "negative-zero" else 256


@functools.lru_cache(maxsize=64)
def decode_table(dt: np.dtype, target: np.dtype) -> np.ndarray:
    """The float32 or float64 bits of every byte as ml_dtypes 0.7.0 reads it: for the float6
    and float4 dtypes any bit above the magnitude makes the value negative; NaN codes read as
    the canonical quiet NaN with their sign (0x80 of the fnuz formats as a negative one)."""
    fmt = STORAGE[dt]
    bits, e, m = _bits_of(dt), fmt.exponent_bits, fmt.mantissa_bits
    top = 1 << (bits - 1)
    values = []
    for code in range(256):
        negative = code >= top
        mag = code & (top - 1)
        field, frac = mag >> m, mag & ((1 << m) - 1)
        if fmt.nan == "negative-zero" and code == top:
            v = -math.nan
        elif fmt.nan == "all-ones" and mag == top - 1:
            v = math.nan
        elif fmt.nan == "ieee" and field == (1 << e) - 1:
            v = math.inf if frac == 0 else math.nan
        elif field == 0:
            v = float(Fraction(frac, 1 << m) * Fraction(2) ** fmt.emin)
        else:
            v = float((1 + Fraction(frac, 1 << m)) * Fraction(2) ** (field - fmt.bias))
        values.append(-v if negative and not math.isnan(v) else v)
    arr = np.array(values, target)
    nan = np.isnan(arr)
    u = np.dtype(np.uint32 if target.itemsize == 4 else np.uint64)
    sign = np.array(
        [c >= top or (fmt.nan == "negative-zero" and c == top) for c in range(256)], bool
    )
    quiet = np.array([_SRC[target][4]], u)[0]
    table = arr.view(u).copy()
    table[nan] = quiet | (sign[nan].astype(u) << u.type(8 * target.itemsize - 1))
    return table


def to_storage(
    x: np.ndarray,
    dt: np.dtype,
    rounding: str,
    saturate: bool,
    key: int,
    out: np.ndarray | None,
    index: tuple[int, ...] = (),
) -> tuple[np.ndarray, int]:
    """x (float32 or float64, native, any layout; numpy or CuPy) rounded and written as dt's
    codes, with the floating-point flags ml_dtypes' cast raises (float64 sources on the CPU
    only)."""
    spec = _spec(STORAGE[dt], x.dtype, True, saturate)
    rs = (ROUNDINGS[rounding], *spec, key)
    if is_cupy(x):
        from . import _gpu

        return _gpu.to_storage(x, dt, rs, encode_spec(dt), out), 0
    src = np.ascontiguousarray(x)
    direct = out is not None and out.flags.c_contiguous and not np.may_share_memory(out, src)
    codes = out if direct else np.empty(x.shape, dt)
    assert codes is not None
    flags = _core.encode(
        src, codes.view(np.uint8), rs, encode_spec(dt), index=_index(index, rounding)
    )
    if out is None or direct:
        return codes, flags
    np.copyto(out, codes)
    return out, flags


def from_storage(x: np.ndarray, target: np.dtype, out: np.ndarray | None) -> np.ndarray:
    """dt's codes read as float32 or float64 (exact); numpy or CuPy."""
    if is_cupy(x):
        from . import _gpu

        return _gpu.from_storage(x, target, decode_table(x.dtype, target), out)
    src = np.ascontiguousarray(x)
    direct = out is not None and out.flags.c_contiguous and not np.may_share_memory(out, src)
    y = out if direct else np.empty(x.shape, target)
    assert y is not None
    _core.decode(src.view(np.uint8), y, decode_table(x.dtype, target), decode_spec(x.dtype))
    if out is None or direct:
        return y
    np.copyto(out, y)
    return out


STORAGE_NAMES = ", ".join(dt.name for dt in STORAGE)

# The storage dtypes under the spellings a call most often uses (the dtype, its scalar type),
# and the two wide dtypes, for storage_fast's lookups.
_STORAGE_KEYS: dict[Any, np.dtype] = {k: dt for dt in STORAGE for k in (dt, dt.type)}
_WIDE_KEYS: dict[Any, np.dtype] = {
    k: np.dtype(t) for t in (np.float32, np.float64) for k in (np.dtype(t), t)
}


@functools.lru_cache(maxsize=64)
def _nearest_specs(dt: np.dtype, src: np.dtype) -> tuple[tuple[int, ...], tuple[int, ...]]:
    return (ROUNDINGS["nearest-even"], *_spec(STORAGE[dt], src, True, False), 0), encode_spec(dt)


def storage_fast(x: Any, dtype: Any, out: Any) -> Any:
    """halfkit.astype's common storage calls, with the fewest checks that decide them: a
    native C-contiguous float32/float64 array to a storage dtype or back, to nearest even, out=
    absent or C-contiguous, exactly right and apart from x. None where astype_any decides."""
    if type(x) is not np.ndarray or not x.flags.c_contiguous:
        return None
    src = x.dtype
    dst = _STORAGE_KEYS.get(dtype)
    if dst is not None:
        wide = _WIDE_KEYS.get(src)
        if wide is None or wide is not src:  # a byte-swapped float32 is not src
            return None
    else:
        dst = _WIDE_KEYS.get(dtype)
        if dst is None or src not in STORAGE:
            return None
    if out is None:
        out = np.empty(x.shape, dst)
    elif (
        type(out) is not np.ndarray
        or out.dtype is not dst
        or out.shape != x.shape
        or not out.flags.c_contiguous
        or not out.flags.writeable
        or np.may_share_memory(out, x)
    ):
        return None
    if src in STORAGE:
        _core.decode(x, out, decode_table(src, dst), decode_spec(src))
        return out
    rs, es = _nearest_specs(dst, src)
    flags = _core.encode(x, out, rs, es)
    if flags:
        from ._cpu import report_flags

        report_flags(flags)
    return out


def storage_dtype(dtype: Any) -> np.dtype | None:
    """dtype as one of the storage dtypes (any spelling numpy accepts), or None."""
    if dtype is None:
        return None
    try:
        dt = np.dtype(dtype)
    except TypeError:
        return None
    return dt if dt in STORAGE else None


def astype_any(
    x: Any,
    dst: np.dtype,
    out: Any,
    rounding: str,
    saturate: bool,
    seed: Any,
    index: tuple[int, ...] = (),
) -> Any:
    """halfkit.astype where a storage dtype or a rounding option is involved (numpy, CuPy and
    dask arrays); index: where x lies in a larger array (a dask chunk's place)."""
    from ._cpu import convert, report_flags
    from ._dask import is_dask
    from ._dtypes import ACCEPTED, FORMAT, native

    if is_dask(x):
        from . import _dask

        return _dask.astype_any(x, dst, out, rounding, saturate, seed)
    if not isinstance(rounding, str) or rounding not in ROUNDINGS:
        raise ValueError(
            f"halfkit.astype: unknown rounding {rounding!r}; accepted: {', '.join(ROUNDINGS)}"
        )
    saturate = _flag(saturate, "saturate")
    key = _seed(seed, rounding, "halfkit.astype")
    gpu = is_cupy(x) or is_cupy(out)
    if gpu:
        import cupy

        from . import _gpu

        xp, convert = cupy, _gpu.convert
        if not isinstance(x, cupy.ndarray):
            raise TypeError(
                "halfkit.astype: out is a CuPy array but x is not; pass both on the same device "
                "(cupy.asarray(x) to move x to the GPU)"
            )
        xa = x
    else:
        xp = np
        try:
            xa = np.asarray(x)
        except Exception as e:
            raise TypeError(
                f"halfkit.astype: cannot make an array of {type(x).__name__}: {e}"
            ) from e
    src = native(xa.dtype)
    if src not in FORMAT and src not in STORAGE:
        raise TypeError(
            f"halfkit.astype: source dtype {xa.dtype} is not supported; accepted: {ACCEPTED} "
            f"and {STORAGE_NAMES}"
        )
    if out is not None:
        if not isinstance(out, xp.ndarray):
            raise TypeError(
                f"halfkit.astype: out must be a {xp.__name__}.ndarray, got {type(out).__name__}"
            )
        if out.dtype != dst:
            raise TypeError(
                f"halfkit.astype: out has dtype {out.dtype}, but the result dtype is {dst}"
            )
        if out.shape != xa.shape:
            raise ValueError(
                f"halfkit.astype: out has shape {out.shape}, but the input has shape {xa.shape}"
            )
        if not gpu and not out.flags.writeable:
            raise ValueError("halfkit.astype: out is read-only")
    f32, f64 = np.dtype(np.float32), np.dtype(np.float64)
    if not xa.dtype.isnative:
        if gpu:
            raise TypeError(f"halfkit.astype: CuPy arrays need a native byte order, got {xa.dtype}")
        xa = xa.astype(src)
    if src in STORAGE and dst in (f32, f64):
        y = from_storage(xa, dst, out)
    elif dst in STORAGE and src == dst:
        y = xa.copy() if out is None else _copy(xp, xa, out)
    else:
        # A wide copy or view of x: storage and 16-bit values widen to float32 exactly.
        if src in STORAGE:
            wide = from_storage(xa, f32, None)
        elif src.itemsize == 2:
            wide = convert(xa, f32, None)
        else:
            wide = xa
        if dst in STORAGE:
            if out is not None and xp.may_share_memory(wide, out):
                wide = wide.copy()
            y, flags = to_storage(wide, dst, rounding, saturate, key, out, index)
            if flags and rounding == "nearest-even" and not saturate:
                report_flags(flags)
        elif rounding == "nearest-even" and not saturate:
            y = convert(wide, dst, out)
        else:
            fmt = Format.from_dtype(dst)
            r = round_array(wide, fmt, rounding, True, saturate, key, None, index)
            if r.dtype != dst:
                y = convert(r, dst, out)
            else:
                y = r if out is None else _copy(xp, r, out)
    if out is None and xa.ndim > 1 and xa.flags.f_contiguous and not xa.flags.c_contiguous:
        y = xp.asfortranarray(y)  # astype keeps x's memory order
    return y[()] if out is None and isinstance(x, np.generic) else y


def _copy(xp: Any, src: Any, out: Any) -> Any:
    xp.copyto(out, src)
    return out
