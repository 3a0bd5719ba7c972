"""Every GPU GEMM kernel the device runs, on small odd shapes and every operand layout, for
compute-sanitizer (memcheck, racecheck, synccheck) to watch:

    compute-sanitizer --tool memcheck --error-exitcode 1 python bench/gpu_sanitize.py

Inputs are made with numpy and copied over, so the only kernels launched are halfkit's. Each
result is also checked against a float64 host product within the float32-accumulation bound
(three units in the last place per k step, as tests/test_cuda_gemm.py allows tensor cores,
and one rounding of a 16-bit output); the script exits 1 on the first result outside it.
"""

from __future__ import annotations

import sys

import halfkit
import ml_dtypes
import numpy as np
from halfkit._matmul import _matmul

# m and n multiples of 8 in the last two: with m- or n-contiguous operands only those are read
# in place (others are first copied row-major). The last makes 153 output tiles of 128 x 256,
# more than an H100's 132 SMs: some CTAs of the persistent sm90 kernel run a second tile,
# starting on another pipeline stage (3 k tiles each). It runs in bfloat16, float32 out only.
SHAPES = [(1, 1, 1), (33, 77, 45), (129, 65, 257), (130, 200, 300), (136, 72, 264)]
MANY_TILES = (1032, 136, 4104)
DTYPES = [np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16)]
# Relative error of rounding the float32 result once to the output type (none for float32;
# no subnormal results arise from these inputs).
OUT_ROUNDING = {"float32": 0.0, "float16": 2.0**-11, "bfloat16": 2.0**-8}


def operands(m: int, k: int, n: int, dt: np.dtype, layout: str, rng) -> tuple:
    """A and B with A k- or m-contiguous ('n'/'t') and B n- or k-contiguous."""
    a = rng.standard_normal((m, k), dtype=np.float32).astype(dt)
    b = rng.standard_normal((k, n), dtype=np.float32).astype(dt)
    if layout[0] == "t":
        a = np.ascontiguousarray(a.T).T
    if layout[1] == "t":
        b = np.ascontiguousarray(b.T).T
    return a, b


def main() -> int:
    import cupy

    kernels = halfkit.kernel_info()["cuda"]["devices"][0]["gemm_kernels"]
    rng = np.random.default_rng(0)
    runs = 0
    cases = [(dt, shape, (np.dtype(np.float32), dt)) for dt in DTYPES for shape in SHAPES]
    cases.append((DTYPES[1], MANY_TILES, (np.dtype(np.float32),)))
    for kern in kernels:
        for dt, (m, k, n), out_dtypes in cases:
            for layout in ("nn", "tn", "nt", "tt"):
                a, b = operands(m, k, n, dt, layout, rng)
                for out_dtype in out_dtypes:
                    got = cupy.asnumpy(
                        _matmul(cupy.asarray(a), cupy.asarray(b), None, out_dtype, kern)
                    ).astype(np.float64)
                    a64, b64 = a.astype(np.float64), b.astype(np.float64)
                    ref = a64 @ b64
                    bound = 3 * (k + 1) * 2.0**-24 * (np.abs(a64) @ np.abs(b64))
                    bound += OUT_ROUNDING[out_dtype.name] * np.abs(ref)
                    if not np.all(np.abs(got - ref) <= bound):
                        print(f"FAIL {kern} {dt.name} {m}x{k}x{n} {layout} -> {out_dtype.name}")
                        return 1
                    runs += 1
    print(f"OK: {runs} products on kernels {kernels}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
