"""`python -m halfkit bench`: halfkit against every peer installed, side by side in one run.

Conversions (GB/s, bytes read plus written), halfkit.round (Gelem/s, float32 sources) and GEMM
(GFLOP/s) at a few sizes, medians of
repeated runs, ratios to each peer; on a GPU (CuPy), conversions against CuPy's astype, timed
with CUDA events.
"""

from __future__ import annotations

import importlib
import json
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ._dtypes import bfloat16, float16, float32, float64
from ._progress import Progress

CONVERSIONS = [
    (float32, float16),
    (float16, float32),
    (float32, bfloat16),
    (bfloat16, float32),
    (float64, bfloat16),
]


ROUNDS = 3


def _optional(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _median_time(fn: Callable[[], Any], budget: float) -> float:
    """Median seconds per call over about ``budget`` seconds, after as long a warm-up: a cold
    call (thread pool asleep, caches and pages cold) had made one first run's ratio 10x."""
    end = time.perf_counter() + budget
    fn()
    while time.perf_counter() < end:
        fn()
    times: list[float] = []
    end = time.perf_counter() + budget
    while len(times) < 5 or (time.perf_counter() < end and len(times) < 200):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    time.sleep(0.05)  # let the last library's spinning threads (OpenBLAS) settle
    return statistics.median(times)


def _torch_view(torch: Any, x: np.ndarray) -> Any:
    if x.dtype == bfloat16:
        return torch.from_numpy(x.view(np.int16)).view(torch.bfloat16)
    return torch.from_numpy(x)


def cases(quick: bool) -> list[dict[str, Any]]:
    import halfkit

    torch = _optional("torch")
    tdt = {}
    if torch is not None:
        tdt = {
            float16: torch.float16,
            bfloat16: torch.bfloat16,
            float32: torch.float32,
            float64: torch.float64,
        }
    out: list[dict[str, Any]] = []
    sizes = [1 << 16, 1 << 20] if quick else [1 << 16, 1 << 20, 1 << 24]
    for src, dst in CONVERSIONS:
        for n in sizes:
            x = (np.random.default_rng(n).standard_normal(n, dtype=np.float32) * 100).astype(src)
            y = np.empty(n, dst)
            peers: dict[str, Callable[[], Any]] = {
                ("ml_dtypes" if bfloat16 in (src, dst) else "numpy") + " np.copyto": (
                    lambda x=x, y=y: np.copyto(y, x, casting="unsafe")
                ),
            }
            if torch is not None:
                tx, ty = _torch_view(torch, x), torch.empty(n, dtype=tdt[dst])
                peers["torch copy_"] = lambda tx=tx, ty=ty: ty.copy_(tx)
            out.append(
                dict(
                    kind="convert",
                    op=f"{src.name}->{dst.name}",
                    size=n,
                    work=n * (src.itemsize + dst.itemsize),
                    unit="GB/s",
                    halfkit=lambda x=x, y=y, dst=dst: halfkit.astype(x, dst, out=y),
                    peers=peers,
                )
            )
    out += _round_cases(quick)
    for dt in (bfloat16, float16):
        for n in [256, 512] if quick else [256, 1024, 2048]:
            a, b = _square_pair(n, dt)
            af, bf = a.astype(np.float32), b.astype(np.float32)
            c = np.empty((n, n), np.float32)
            peers = {"numpy float32 @": lambda af=af, bf=bf: af @ bf}
            if torch is not None and (dt == bfloat16 or n <= 256):
                ta, tb = _torch_view(torch, a), _torch_view(torch, b)
                peers["torch @"] = lambda ta=ta, tb=tb: ta @ tb
            out.append(
                dict(
                    kind="matmul",
                    op=f"matmul {dt.name}",
                    size=n,
                    work=2.0 * n**3,
                    unit="GFLOP/s",
                    halfkit=lambda a=a, b=b, c=c: halfkit.matmul(a, b, out=c),
                    peers=peers,
                )
            )
    # numpy's own @ before and after patch_numpy(). The bfloat16 loop is registered first (it
    # is seen only if registered before numpy's first bfloat16 matmul); unpatched, it runs
    # numpy's float32 copies and loop, as numpy does.
    halfkit.patch_numpy()
    halfkit.unpatch_numpy()
    products = {"@": lambda a, b: a @ b, "np.dot": lambda a, b: np.dot(a, b)}
    for name, product in products.items():
        for dt in (bfloat16, float16):
            n = 256
            a, b = _square_pair(n, dt)
            out.append(
                dict(
                    kind="matmul",
                    op=f"numpy {name} {dt.name}, patch_numpy()",
                    size=n,
                    work=2.0 * n**3,
                    unit="GFLOP/s",
                    halfkit=lambda a=a, b=b, p=product: _patched(p, a, b),
                    peers={f"numpy {name} (unpatched)": lambda a=a, b=b, p=product: p(a, b)},
                )
            )
    return out


def _quiet(fn: Callable[[np.ndarray], Any], x: np.ndarray) -> Any:
    with np.errstate(all="ignore"):  # pychop's own arithmetic overflows on the way
        return fn(x)


def _rate(v: float) -> str:
    return f"{v:.1f}" if v >= 10 else f"{v:.3g}"


def _round_cases(quick: bool) -> list[dict[str, Any]]:
    """halfkit.round against the simulators: ml_dtypes' astype there and back (the same bits,
    for its dtypes) and pychop's Chop (its own rules for overflow; the same work); astype to
    and from two small storage dtypes against ml_dtypes; fixed_point against numpy's rint/clip
    and fxpmath."""
    import ml_dtypes

    import halfkit

    pychop = _optional("pychop")
    out: list[dict[str, Any]] = []
    targets = [
        ("float8_e4m3fn", "nearest-even", (4, 3, 1)),
        ("float8_e4m3fn", "stochastic", (4, 3, 5)),
        ("bfloat16", "stochastic", (8, 7, 5)),
    ]
    for name, mode, (e, m, rmode) in targets:
        for n in [1 << 16] if quick else [1 << 16, 1 << 22]:
            x = np.random.default_rng(n).standard_normal(n, dtype=np.float32)
            y = np.empty_like(x)
            peers: dict[str, Callable[[], Any]] = {}
            if mode == "nearest-even":
                dt = getattr(ml_dtypes, name)
                peers["ml_dtypes astype x2"] = lambda x=x, dt=dt: x.astype(dt).astype(np.float32)
            if pychop is not None:
                chop = pychop.Chop(exp_bits=e, sig_bits=m, rmode=rmode)
                peers[f"pychop Chop({e}, {m})"] = lambda x=x, chop=chop: _quiet(chop, x)
            out.append(
                dict(
                    kind="round",
                    op=f"round {name} {mode}",
                    size=n,
                    work=n,
                    unit="Gelem/s",
                    halfkit=lambda x=x, y=y, name=name, mode=mode: halfkit.round(
                        x, name, rounding=mode, seed=1, out=y
                    ),
                    peers=peers,
                )
            )
    n = 1 << 16
    x = np.random.default_rng(n).standard_normal(n, dtype=np.float32)
    y = np.empty_like(x)
    for name in ("float8_e4m3fn", "float4_e2m1fn"):
        dt = np.dtype(getattr(ml_dtypes, name))
        codes, back = x.astype(dt), np.empty(n, dt)
        for op, src, dst in ((f"float32->{name}", x, back), (f"{name}->float32", codes, y)):
            out.append(
                dict(
                    kind="round",
                    op=op,
                    size=n,
                    work=n,
                    unit="Gelem/s",
                    halfkit=lambda src=src, dst=dst: halfkit.astype(src, dst.dtype, out=dst),
                    peers={
                        "ml_dtypes np.copyto": lambda src=src, dst=dst: np.copyto(
                            dst, src, casting="unsafe"
                        )
                    },
                )
            )
    peers = {
        "numpy rint/clip": lambda: np.multiply(np.clip(np.rint(x * 16), -128, 127), 1 / 16, out=y)
    }
    fxpmath = _optional("fxpmath")
    if fxpmath is not None:
        peers["fxpmath Fxp"] = lambda: fxpmath.Fxp(x, True, 8, 4, rounding="around")
    out.append(
        dict(
            kind="round",
            op="fixed_point Q3.4 nearest-even",
            size=n,
            work=n,
            unit="Gelem/s",
            halfkit=lambda: halfkit.fixed_point(x, integer_bits=3, fraction_bits=4, out=y),
            peers=peers,
        )
    )
    return out


def _square_pair(n: int, dt: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(n)
    return tuple(rng.standard_normal((n, n), dtype=np.float32).astype(dt) for _ in range(2))  # type: ignore[return-value]


def _patched(product: Any, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    import halfkit

    with halfkit.patched_numpy():
        return product(a, b)


def gpu_cases(quick: bool) -> list[dict[str, Any]]:
    from ._gpu import info

    cuda = info()
    if not cuda.get("device_count") or cuda.get("cupy") is None:
        return []
    import cupy

    import halfkit

    out = []
    for src, dst in CONVERSIONS:
        for n in [1 << 24] if quick else [1 << 24, 1 << 26]:
            x = (cupy.random.default_rng(n).standard_normal(n, dtype=cupy.float32) * 100).astype(
                src
            )
            y = cupy.empty(n, dst)
            out.append(
                dict(
                    kind="gpu convert",
                    op=f"{src.name}->{dst.name}",
                    size=n,
                    work=n * (src.itemsize + dst.itemsize),
                    unit="GB/s",
                    gpu=True,
                    halfkit=lambda x=x, y=y, dst=dst: halfkit.astype(x, dst, out=y),
                    peers={"cupy.copyto": lambda x=x, y=y: cupy.copyto(y, x, casting="unsafe")},
                )
            )
    for dt in (bfloat16, float16):
        for n in [4096] if quick else [4096, 8192]:
            rng = cupy.random.default_rng(n)
            a = rng.standard_normal((n, n), dtype=cupy.float32).astype(dt)
            b = rng.standard_normal((n, n), dtype=cupy.float32).astype(dt)
            c, c2 = cupy.empty((n, n), float32), cupy.empty((n, n), float32)
            out.append(
                dict(
                    kind="gpu matmul",
                    op=f"gpu matmul {dt.name}",
                    size=n,
                    work=2.0 * n**3,
                    unit="GFLOP/s",
                    gpu=True,
                    halfkit=lambda a=a, b=b, c=c: halfkit.matmul(a, b, out=c),
                    peers={
                        "cuBLAS (f32 out)": lambda a=a, b=b, c2=c2: cublas_gemm_f32(a, b, c2),
                        "cupy.matmul (16-bit out)": lambda a=a, b=b: cupy.matmul(a, b),
                    },
                )
            )
    return out


def cublas_gemm_f32(a: Any, b: Any, c: Any) -> None:
    """c = a @ b for 2-D C-contiguous 16-bit CuPy arrays through cublasGemmEx with float32
    compute and output: the vendor's version of what halfkit.matmul does. Row-major c = a b is
    column-major c^T = b^T a^T."""
    import cupy
    from cupy.cuda import cublas, runtime

    m, k = a.shape
    n = b.shape[1]
    dt = runtime.CUDA_R_16BF if a.dtype == bfloat16 else runtime.CUDA_R_16F
    one, zero = np.ones(1, np.float32), np.zeros(1, np.float32)
    handle = cupy.cuda.device.get_cublas_handle()
    cublas.setPointerMode(handle, cublas.CUBLAS_POINTER_MODE_HOST)
    cublas.gemmEx(
        handle, cublas.CUBLAS_OP_N, cublas.CUBLAS_OP_N, n, m, k, one.ctypes.data,
        b.data.ptr, dt, n, a.data.ptr, dt, k, zero.ctypes.data, c.data.ptr, runtime.CUDA_R_32F,
        n, cublas.CUBLAS_COMPUTE_32F, cublas.CUBLAS_GEMM_DEFAULT,
    )  # fmt: skip


def _gpu_time(fn: Callable[[], Any]) -> float:
    import cupy

    for _ in range(3):
        fn()
    start, stop = cupy.cuda.Event(), cupy.cuda.Event()
    times = []
    for _ in range(20):
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(cupy.cuda.get_elapsed_time(start, stop) * 1e-3)
    return statistics.median(times)


def run(quick: bool, json_path: str | None, plot_path: str | None, threads: int | None) -> int:
    import halfkit

    if plot_path:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise SystemExit("--plot needs matplotlib: pip install matplotlib") from None
    limits = None
    if threads:
        halfkit.set_num_threads(threads)
        torch = _optional("torch")
        if torch is not None:
            torch.set_num_threads(threads)
        # numpy's BLAS too, so that its matmul runs on as many threads as the others.
        threadpoolctl = _optional("threadpoolctl")
        if threadpoolctl is not None:
            limits = threadpoolctl.threadpool_limits(threads)
    todo = cases(quick) + gpu_cases(quick)
    budget = 0.05 if quick else 0.2
    bar = Progress(len(todo), "bench")
    rows = []
    for case in todo:
        timer = _gpu_time if case.get("gpu") else (lambda f: _median_time(f, budget))
        fns = {"halfkit": case["halfkit"], **case["peers"]}
        # Rounds alternate the libraries, so that a burst of load elsewhere on the machine
        # lands on all of them; the spread of each ratio over the rounds is reported with it.
        rounds = [{k: case["work"] / timer(f) / 1e9 for k, f in fns.items()} for _ in range(ROUNDS)]
        rates = {k: statistics.median(r[k] for r in rounds) for k in fns}
        spread = {
            k: (min(r["halfkit"] / r[k] for r in rounds), max(r["halfkit"] / r[k] for r in rounds))
            for k in case["peers"]
        }
        rows.append(
            dict(
                kind=case["kind"],
                op=case["op"],
                size=case["size"],
                unit=case["unit"],
                rates=rates,
                ratio_range=spread,
            )
        )
        bar.step(f"{case['op']} {case['size']}")
    if limits is not None:
        limits.unregister()
    info = halfkit.kernel_info()
    print(
        f"halfkit {halfkit.__version__} on {platform.processor() or platform.machine()}: "
        f"tier {info['isa']}, {info['threads']} threads"
    )
    print(
        "size: elements for conversions and rounding (out= preallocated), n for n x n x n products "
        "(float32 out=). Rates are medians of "
        f"{ROUNDS} rounds; (ratio, range) is halfkit's speed-up over the peer and its spread "
        "over the rounds: on a shared machine ratios move between runs."
    )
    print(f"{'operation':<22}{'size':>10}  {'halfkit':>16}  peers (halfkit's speed-up, range)")
    for r in rows:
        hk = r["rates"]["halfkit"]
        peers = "  ".join(
            f"{k} {_rate(v)} ({hk / v:.2f}x, {r['ratio_range'][k][0]:.2f}-"
            f"{r['ratio_range'][k][1]:.2f})"
            for k, v in r["rates"].items()
            if k != "halfkit"
        )
        print(f"{r['op']:<22}{r['size']:>10}  {_rate(hk):>9} {r['unit']:<7} {peers}")
    if json_path:
        with open(json_path, "w") as f:
            json.dump({"kernel_info": info, "rows": rows}, f, indent=1, default=str)
    if plot_path:
        _plot(rows, plot_path)
    return 0


def _plot(rows: list[dict[str, Any]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ops = sorted({(r["kind"], r["op"]) for r in rows})
    cols = 3
    fig, axes = plt.subplots(
        (len(ops) + cols - 1) // cols,
        cols,
        figsize=(13, 3.2 * ((len(ops) + cols - 1) // cols)),
        squeeze=False,
    )
    for ax, (kind, op) in zip(axes.flat, ops, strict=False):
        sel = [r for r in rows if r["op"] == op and r["kind"] == kind]
        for impl in sel[0]["rates"]:
            ax.plot(
                [r["size"] for r in sel],
                [r["rates"].get(impl, np.nan) for r in sel],
                "o-",
                label=impl,
            )
        ax.set_xscale("log", base=2)
        ax.set_title(f"{kind}: {op}", fontsize=9)
        ax.set_ylabel(sel[0]["unit"])
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(ops) :]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
