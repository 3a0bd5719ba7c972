"""halfkit: bit-exact, fast float16/bfloat16 conversions and mixed-precision matmul for NumPy
(and CuPy)."""

from ._convert import astype, to_bfloat16, to_float16, to_float32, to_float64
from ._dtypes import bfloat16
from ._info import _apply_environment, get_num_threads, kernel_info, set_num_threads
from ._matmul import matmul

__version__ = "0.1.0"

__all__ = [
    "astype",
    "bfloat16",
    "get_num_threads",
    "kernel_info",
    "matmul",
    "set_num_threads",
    "to_bfloat16",
    "to_float16",
    "to_float32",
    "to_float64",
]

_apply_environment()
