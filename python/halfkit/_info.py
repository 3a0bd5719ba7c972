"""kernel_info, thread control, and the environment variables read at import."""

from __future__ import annotations

import operator
import os
import warnings
from typing import Any, SupportsIndex

from . import _core


def kernel_info() -> dict[str, Any]:
    """What runs here: the CPU tier in use, the tiers this CPU can run, CPU features, threads,
    and the CUDA module's state."""
    return {
        "isa": _core.isa(),
        "isa_supported": list(_core.isa_supported()),
        "isa_compiled": list(_core.isa_compiled()),
        # Only a test build (HALFKIT_EMULATE_BF16) emulates the avx512bf16 tier's instructions.
        "isa_emulated": ["avx512bf16"] if _core.emulated_bf16 else [],
        "cpu_features": list(_core.cpu_features()),
        # Features taken on trust from HALFKIT_ASSUME_CPU (cpuid denies them).
        "cpu_assumed": ["avx512_bf16"] if _core.avx512bf16_assumed else [],
        # How the avx512bf16 tier multiplies bfloat16 on this CPU: "vdpbf16ps", or "fma" (widened
        # to float32, as the avx512 tier does, with its bits) where that was measured faster;
        # None where this CPU cannot run that tier at all.
        "avx512bf16_gemm": (
            str(_core.avx512bf16_gemm) if "avx512bf16" in _core.isa_supported() else None
        ),
        # The data caches one core sees (bytes; source "cpuid", "sysconf", "default", or
        # "override" from HALFKIT_CACHE_SIZES) and the GEMM blocking the tier in use derives
        # from them (mr x nr register tile; kc k steps per block, fixed: it decides the bits;
        # mc rows of A and nc columns of B per block; products of up to few_rows rows pack A
        # whole).
        "caches": dict(_core.cache_sizes()),
        "gemm_blocking": {
            name: dict(_core.gemm_blocking("", code))
            for name, code in (("float16", 0), ("bfloat16", 1))
        },
        # Conversions into out= whose destination is larger than this (bytes) write it around
        # the caches, where the destination is at least as wide as the source (from the caches
        # of the threads in use; docs/internals.md, "Non-temporal stores").
        "stream_min_bytes": int(_core.stream_min_bytes(_core.get_num_threads())),
        "threads": _core.get_num_threads(),
        "parallel_min_elements": int(_core.parallel_min_elements),
        "cuda": _cuda_info(),
    }


def _cuda_info() -> dict[str, Any]:
    from ._gpu import info

    return info()


def set_num_threads(n: SupportsIndex) -> None:
    """Use up to ``n`` threads (the caller included) for large arrays and products; results
    never depend on it. ``n`` is any integer >= 1; more than the CPUs this process may run on
    (its affinity mask) is capped at that number, with a RuntimeWarning: extra threads only
    compete for the same cores (1000 of them made an 8M-element conversion 30x slower)."""
    _core.set_num_threads(_thread_count(n, "set_num_threads takes"))


def _thread_count(n: Any, what: str) -> int:
    if isinstance(n, bool):
        raise TypeError(f"{what} an integer >= 1, got {n!r}")
    try:
        count = operator.index(n)
    except TypeError:
        raise TypeError(f"{what} an integer >= 1, got {n!r}") from None
    if count < 1:
        raise ValueError(f"{what} an integer >= 1, got {count}")
    cpus = int(_core.cpus_available())
    if count > cpus:
        warnings.warn(
            f"halfkit: {count} threads asked for, but this process may run on {cpus} CPUs; "
            f"using {cpus}",
            RuntimeWarning,
            stacklevel=3,
        )
        count = cpus
    return count


def get_num_threads() -> int:
    """The number of threads large arrays and products are split over (the caller included)."""
    return int(_core.get_num_threads())


def _apply_environment() -> None:
    assume = os.environ.get("HALFKIT_ASSUME_CPU")
    if assume and assume != "avx512_bf16":
        raise ValueError(
            f"HALFKIT_ASSUME_CPU={assume!r} is not a feature halfkit can assume; "
            "the one accepted is avx512_bf16"
        )
    if assume and "avx512_bf16" not in _core.cpu_features():
        raise ValueError(
            "HALFKIT_ASSUME_CPU=avx512_bf16 needs AVX-512 F, BW, VL and DQ, which this CPU (or "
            "its OS) does not offer"
        )
    isa = os.environ.get("HALFKIT_FORCE_ISA")
    if isa:
        name = isa.strip().lower()
        if name not in _core.isa_supported():
            raise ValueError(
                f"HALFKIT_FORCE_ISA={isa!r} is not a tier this CPU and build can run; "
                f"choose one of: {', '.join(_core.isa_supported())} "
                f"(compiled: {', '.join(_core.isa_compiled())})"
            )
        _core.set_isa(name)
    caches = os.environ.get("HALFKIT_CACHE_SIZES")
    if caches:
        _core.set_cache_sizes(*parse_cache_sizes(caches))
    threads = os.environ.get("HALFKIT_NUM_THREADS")
    if threads:
        try:
            n = int(threads)
        except ValueError:
            n = 0
        if n < 1:
            raise ValueError(f"HALFKIT_NUM_THREADS={threads!r} must be an integer >= 1")
        _core.set_num_threads(_thread_count(n, "HALFKIT_NUM_THREADS must be"))


_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def parse_cache_sizes(text: str) -> tuple[int, int, int]:
    """HALFKIT_CACHE_SIZES, e.g. "l2=512K,l3=32M": the cache sizes the GEMM blocking is derived
    from, in place of the detected ones (for trying another machine's hierarchy; results never
    depend on it). Levels l1d, l2, l3; sizes in bytes with an optional K, M or G (powers of
    1024). A level not named keeps its detected size."""
    sizes = {"l1d": 0, "l2": 0, "l3": 0}
    form = 'comma-separated level=size items, e.g. "l2=512K,l3=32M" (levels l1d, l2, l3)'
    for item in text.split(","):
        level, eq, size = (p.strip() for p in item.partition("="))
        unit = size[-1:].upper() if size[-1:].isalpha() else ""
        digits = size[: len(size) - len(unit)]
        if not eq or level.lower() not in sizes or unit not in _UNITS or not digits.isdigit():
            raise ValueError(f"HALFKIT_CACHE_SIZES={text!r}: cannot read {item.strip()!r}; {form}")
        value = int(digits) * _UNITS[unit]
        if not 1 << 10 <= value <= 1 << 40:
            raise ValueError(
                f"HALFKIT_CACHE_SIZES={text!r}: {level} = {value} bytes is outside 1K to 1024G"
            )
        sizes[level.lower()] = value
    return sizes["l1d"], sizes["l2"], sizes["l3"]
