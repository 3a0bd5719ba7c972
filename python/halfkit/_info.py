"""kernel_info, thread control, and the environment variables read at import."""

from __future__ import annotations

import os
from typing import Any

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
        # to float32, as the avx512 tier does, with its bits) where that was measured faster.
        "avx512bf16_gemm": str(_core.avx512bf16_gemm),
        "threads": _core.get_num_threads(),
        "parallel_min_elements": int(_core.parallel_min_elements),
        "cuda": _cuda_info(),
    }


def _cuda_info() -> dict[str, Any]:
    from ._gpu import info

    return info()


def set_num_threads(n: int) -> None:
    """Use up to ``n`` threads (the caller included) for large arrays (never the results)."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"set_num_threads takes an int >= 1, got {n!r}")
    if n < 1:
        raise ValueError(f"set_num_threads takes an int >= 1, got {n}")
    _core.set_num_threads(n)


def get_num_threads() -> int:
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
    threads = os.environ.get("HALFKIT_NUM_THREADS")
    if threads:
        try:
            n = int(threads)
        except ValueError:
            n = 0
        if n < 1:
            raise ValueError(f"HALFKIT_NUM_THREADS={threads!r} must be an integer >= 1")
        _core.set_num_threads(n)
