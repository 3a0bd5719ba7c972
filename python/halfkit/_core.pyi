from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

parallel_min_elements: int
max_gemm_dim: int
emulated_bf16: bool
avx512bf16_assumed: bool
avx512bf16_gemm: str
cuda_build_note: str
sanitized: bool

def convert(
    src: np.ndarray,
    dst: np.ndarray,
    src_format: int,
    dst_format: int,
    tier: str = "",
    check_overlap: bool = False,
    fresh_dst: bool = False,
    underflow: bool | None = None,
) -> int: ...
def stream_min_bytes(threads: int) -> int: ...
def astype_fast(x: object, dtype: object, out: object) -> np.ndarray | None: ...

_F = TypeVar("_F", bound=Callable[..., Any])

def fast_front(general: _F, dtype: object) -> _F: ...
def matmul_fast(a: object, b: object, out: object) -> np.ndarray | None: ...
def empty_aligned(shape: Sequence[int]) -> np.ndarray: ...
def numpy_patch(on: bool, bfloat16_type: int) -> str: ...
def numpy_patch_bf16_calls() -> int: ...
def numpy_dot_finish(
    a: np.ndarray, b: np.ndarray, c: np.ndarray, out: np.ndarray, format: int
) -> int: ...
def underflow_wanted() -> bool: ...
def dot(a: object, b: object, out: object = None) -> object: ...
def set_dot_patch(
    numpy_dot: Callable[..., object], by_gemm: Callable[[np.ndarray, np.ndarray, object], object]
) -> None: ...
def set_fast_path(dtypes: list[np.dtype], report_flags: Callable[[int], None]) -> None: ...
def isa() -> str: ...
def set_isa(name: str) -> None: ...
def isa_supported() -> list[str]: ...
def isa_compiled() -> list[str]: ...
def cpu_features() -> list[str]: ...
def cache_sizes() -> dict[str, Any]: ...
def set_cache_sizes(l1d: int, l2: int, l3: int) -> None: ...
def gemm_blocking(tier: str, fmt: int) -> dict[str, int]: ...
def get_num_threads() -> int: ...
def set_num_threads(n: int) -> None: ...
def cpus_available() -> int: ...
def matmul(
    a: np.ndarray,
    b: np.ndarray,
    c: np.ndarray,
    a_offsets: np.ndarray,
    b_offsets: np.ndarray,
    format: int,
    tier: str = "",
) -> None: ...
def round(
    x: np.ndarray,
    y: np.ndarray,
    mode: int,
    mantissa_bits: int,
    emin_sub: int,
    tiny_exp: int,
    tiny_bits: int,
    max_bits: int,
    over_bits: int,
    inf_bits: int,
    negative_zero: bool,
    seed: int,
    tier: str = "",
    index: tuple[int, ...] = (),
) -> None: ...
def fixed_point(
    x: np.ndarray,
    y: np.ndarray,
    mode: int,
    fraction_bits: int,
    hi: int,
    lo_magnitude: int,
    mask: int,
    is_signed: bool,
    wrap: bool,
    scale: float,
    seed: int,
    tier: str = "",
    index: tuple[int, ...] = (),
) -> int: ...
def encode(
    x: np.ndarray,
    codes: np.ndarray,
    round_spec: tuple[int, ...],
    encode_spec: tuple[int, ...],
    tier: str = "",
    index: tuple[int, ...] = (),
) -> int: ...
def decode(
    codes: np.ndarray, y: np.ndarray, table: np.ndarray, spec: tuple[int, int, int, int, int]
) -> None: ...
