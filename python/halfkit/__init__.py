"""halfkit: bit-exact, fast float16/bfloat16 conversions and mixed-precision matmul for NumPy
(and CuPy)."""

from ._subinterpreter import refuse_subinterpreters

refuse_subinterpreters()  # before the compiled module and numpy are loaded

from typing import TYPE_CHECKING  # noqa: E402

from ._convert import astype, to_bfloat16, to_float16, to_float32, to_float64  # noqa: E402
from ._dtypes import bfloat16  # noqa: E402
from ._fixed import fixed_point  # noqa: E402
from ._formats import FORMATS, Format, round  # noqa: E402
from ._info import _apply_environment, get_num_threads, kernel_info, set_num_threads  # noqa: E402
from ._matmul import matmul  # noqa: E402
from ._numpy_patch import patch_numpy, patched_numpy, unpatch_numpy  # noqa: E402

if not TYPE_CHECKING:  # type checkers read the Python functions' signatures above
    from ._convert import fast_fronts as _fast_fronts

    astype, to_bfloat16, to_float16, to_float32, to_float64 = _fast_fronts()

__version__ = "0.1.0"

__all__ = [
    "FORMATS",
    "Format",
    "astype",
    "bfloat16",
    "fixed_point",
    "get_num_threads",
    "kernel_info",
    "matmul",
    "patch_numpy",
    "patched_numpy",
    "round",
    "set_num_threads",
    "to_bfloat16",
    "to_float16",
    "to_float32",
    "to_float64",
    "unpatch_numpy",
]

_apply_environment()
