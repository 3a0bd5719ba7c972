from typing import Any

def convert(
    src: int,
    dst: int,
    shape: list[int],
    src_strides: list[int],
    dst_strides: list[int],
    src_format: int,
    dst_format: int,
    stream: int,
    contiguous: bool,
) -> None: ...
def gemm(
    a: int,
    a_rs: int,
    a_cs: int,
    a_off: int,
    b: int,
    b_rs: int,
    b_cs: int,
    b_off: int,
    c: int,
    ldc: int,
    c_bs: int,
    m: int,
    n: int,
    k: int,
    batch: int,
    in_format: int,
    out_format: int,
    kernel: str,
    stream: int,
) -> str: ...
def device_count() -> tuple[int, str]: ...
def device_info(device: int) -> dict[str, Any]: ...
def runtime_version() -> int: ...
def round(
    x: int, y: int, n: int, elem_size: int, spec: tuple[Any, ...], index0: int, stream: int
) -> None: ...
def encode(
    x: int,
    codes: int,
    n: int,
    elem_size: int,
    spec: tuple[Any, ...],
    encode_spec: tuple[int, ...],
    index0: int,
    stream: int,
) -> None: ...
def decode(codes: int, y: int, n: int, elem_size: int, table: bytes, stream: int) -> None: ...
def fixed_point(
    x: int,
    y: int,
    n: int,
    elem_size: int,
    spec: tuple[Any, ...],
    out_bytes: int,
    seed: int,
    index0: int,
    stream: int,
) -> None: ...
