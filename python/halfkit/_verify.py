"""`python -m halfkit verify`: the numeric contract, proven on this machine.

Every CPU tier (and the GPU, when CuPy sees one) over all 2^32 float32 inputs and all 65,536
inputs of each 16-bit format, bit for bit against the scalar reference; the reference against
numpy (float16) and ml_dtypes (bfloat16) on the same inputs; float64 sources against the exact
rational model on a sample.
"""

from __future__ import annotations

import platform
import random
from collections.abc import Callable, Iterator

import numpy as np

from . import _core
from ._dtypes import FORMAT, KERNEL_PAIRS, bfloat16, float16, float32, float64
from ._exact import round_exact
from ._progress import Progress

UINT = {2: np.uint16, 4: np.uint32, 8: np.uint64}
CHUNK = 1 << 26


class Mismatch(Exception):
    pass


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).view(UINT[a.dtype.itemsize])


def _convert(tier: str, x: np.ndarray, dst: np.dtype) -> np.ndarray:
    y = np.empty(x.shape, dst)
    _core.convert(x, y, FORMAT[x.dtype], FORMAT[dst], tier)
    return y


def _compare(what: str, x: np.ndarray, got: np.ndarray, want: np.ndarray) -> None:
    g, w = _bits(got), _bits(want)
    bad = np.flatnonzero(g != w)
    if bad.size:
        xs = _bits(x)
        lines = [f"{what}: {bad.size} mismatches; first:"]
        lines += [
            f"  input {int(xs[i]):#x}: got {int(g[i]):#x}, want {int(w[i]):#x}" for i in bad[:8]
        ]
        raise Mismatch("\n".join(lines))


def _gpu_astype() -> Callable[[np.ndarray, np.dtype], np.ndarray] | None:
    from ._gpu import info

    cuda = info()
    if not cuda.get("compiled") or not cuda.get("device_count") or cuda.get("cupy") is None:
        return None
    import cupy

    from ._convert import astype

    return lambda x, dst: cupy.asnumpy(astype(cupy.asarray(x), dst))


def _all_16bit(dtype: np.dtype) -> np.ndarray:
    return np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(dtype)


# The contract's float16 reference is numpy on x86-64, which converts float16 in software.
# Elsewhere numpy uses the FPU's conversions, which quiet signalling NaNs and drop NaN payloads
# (aarch64: 0x7c01 -> 0x7fc02000 where x86-64 gives 0x7f802000); there the NaN lanes of numpy's
# float16 casts are compared against the contract's NaN rule instead (numerics.md).
_NUMPY_F16_IN_SOFTWARE = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686")


def _contract_nan(x: np.ndarray, dst: np.dtype) -> np.ndarray:
    """The contract's bits for NaN inputs x of a float16 cast (sign and payload kept, never
    quieted; a float16 payload that truncates to zero becomes 1)."""
    u = _bits(x).astype(np.uint64)
    if x.dtype == float16:
        sign, mant = (u & 0x8000) << 16, (u & 0x3FF) << 13
        f32 = sign | 0x7F800000 | mant
        if dst == float32:
            return f32.astype(np.uint32)
        return ((f32 & 0x80000000) << 32) | 0x7FF0000000000000 | (mant << 29)
    shift = 13 if x.dtype == float32 else 42
    top = 16 if x.dtype == float32 else 48
    payload = (u & ((np.uint64(1) << np.uint64(shift + 10)) - np.uint64(1))) >> np.uint64(shift)
    sign = (u >> np.uint64(top)) & np.uint64(0x8000)
    return (sign | 0x7C00 | np.where(payload == 0, 1, payload)).astype(np.uint16)


def peer_cast(x: np.ndarray, dst: np.dtype) -> np.ndarray:
    """numpy's cast for float16 results and sources, ml_dtypes' for bfloat16 ones, as the
    contract defines them (see _NUMPY_F16_IN_SOFTWARE)."""
    with np.errstate(all="ignore"):
        y = x.astype(dst)
    if not _NUMPY_F16_IN_SOFTWARE and bfloat16 not in (x.dtype, dst) and float16 in (x.dtype, dst):
        nan = np.isnan(x)
        y.view(UINT[y.dtype.itemsize])[nan] = _contract_nan(x[nan], dst)
    return y


def steps(quick: bool) -> Iterator[tuple[str, Callable[[], None]]]:
    tiers = [t for t in _core.isa_supported() if t != "scalar"]
    gpu = _gpu_astype()
    targets = [(t, lambda x, d, t=t: _convert(t, x, d)) for t in tiers]
    if gpu is not None:
        targets.append(("gpu", gpu))
    numpy_step = 61 if quick else 1  # numpy's float16 cast is scalar: 300 s for every input

    for start in range(0, 1 << 32, CHUNK):

        def chunk(start: int = start) -> None:
            x = np.arange(start, start + CHUNK, dtype=np.uint64).astype(np.uint32).view(float32)
            for dst in (float16, bfloat16):
                ref = _convert("scalar", x, dst)
                for name, fn in targets:
                    _compare(f"{name} float32->{dst.name}", x, fn(x, dst), ref)
                sub = slice(None, None, numpy_step) if dst == float16 else slice(None)
                peer = "numpy" if dst == float16 else "ml_dtypes"
                want = peer_cast(x[sub], dst)
                _compare(f"reference vs {peer} float32->{dst.name}", x[sub], ref[sub], want)

        yield f"float32 inputs {start >> 26}/64", chunk

    def sixteen() -> None:
        for src, dst in KERNEL_PAIRS:
            if src.itemsize != 2:
                continue
            x = _all_16bit(src)
            ref = _convert("scalar", x, dst)
            for name, fn in targets:
                _compare(f"{name} {src.name}->{dst.name}", x, fn(x, dst), ref)
            _compare(f"reference vs peer {src.name}->{dst.name}", x, ref, peer_cast(x, dst))

    yield "every 16-bit input", sixteen

    def doubles() -> None:
        rng = np.random.default_rng(2026)
        x = rng.integers(0, 1 << 64, size=1 << 20, dtype=np.uint64).view(float64)
        for dst in (float16, bfloat16):
            near = peer_cast(_all_16bit(dst), float64)
            near = near[np.isfinite(near)]
            xs = np.concatenate([x, near, (near[:-1] + near[1:]) / 2, np.nextafter(near, np.inf)])
            ref = _convert("scalar", xs, dst)
            for name, fn in targets:
                _compare(f"{name} float64->{dst.name}", xs, fn(xs, dst), ref)
            finite = xs[np.isfinite(xs)]
            sample = random.Random(7).sample(range(finite.size), 2000 if quick else 20000)
            s = finite[sample]
            want = np.array([round_exact(float(v), dst.name) for v in s], np.uint16).view(dst)
            _compare(
                f"reference vs exact model float64->{dst.name}", s, _convert("scalar", s, dst), want
            )

    yield "float64 sources", doubles


def run(quick: bool) -> int:
    todo = list(steps(quick))
    bar = Progress(len(todo), "verify")
    for what, fn in todo:
        try:
            fn()
        except Mismatch as e:
            bar.step(what)
            print(f"FAILED\n{e}")
            return 1
        bar.step(what)
    tiers = ", ".join(_core.isa_supported())
    gpu = " and the GPU" if _gpu_astype() is not None else ""
    sample = " (numpy float16 on every 61st float32)" if quick else ""
    print(
        f"OK: tiers {tiers}{gpu} match the reference on every input; the reference matches "
        f"numpy and ml_dtypes{sample} and the exact float64 model"
    )
    return 0
