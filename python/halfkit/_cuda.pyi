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
def device_count() -> tuple[int, str]: ...
def device_info(device: int) -> dict[str, Any]: ...
def runtime_version() -> int: ...
