"""Shared pieces of the benchmark suites: peers, inputs, and a side-by-side ratio summary.

Each benchmark records its group (operation, size, mode, threads), its implementation, and the
work it does (elements, bytes moved, or flops) in extra_info; at the end of the run a table
lists, per group, every implementation's median and halfkit's speed relative to each peer
measured in the same run. `--ratio-md PATH` writes that table as markdown as well.
"""

from __future__ import annotations

import platform
import time
from collections import defaultdict

import pytest


def pytest_addoption(parser):
    parser.addoption("--ratio-md", default=None, help="write the side-by-side table as markdown")


def pytest_benchmark_update_machine_info(config, machine_info):
    import halfkit
    import numpy as np

    machine_info["halfkit"] = halfkit.kernel_info()
    machine_info["numpy"] = np.__version__
    try:
        import ml_dtypes

        machine_info["ml_dtypes"] = ml_dtypes.__version__
    except ImportError:
        pass
    try:
        import torch

        machine_info["torch"] = torch.__version__
    except ImportError:
        pass
    machine_info["platform"] = platform.platform()


_last_impl = [None]


@pytest.fixture(autouse=True)
def _settle(request):
    """numpy's OpenBLAS and torch's OpenMP threads keep spinning for a while after a call; pause
    before the next benchmark, longer after those peers. (torch's cases run last, see the suites:
    after a torch bf16 matmul, a 2-thread halfkit GEMM in the same process measured 1.2-3.5x
    slower for seconds on the 2-core CI machine.)"""
    time.sleep(1.0 if _last_impl[0] not in (None, "halfkit") else 0.1)
    yield
    params = getattr(request.node, "callspec", None)
    _last_impl[0] = params.params.get("impl") if params else None


def _rows(config):
    session = getattr(config, "_benchmarksession", None)
    if session is None:
        return {}
    groups = defaultdict(dict)
    for b in session.benchmarks:
        if not b or not b.stats:
            continue
        info = b.extra_info
        groups[b.group][info.get("impl", b.name)] = (b.stats.median, info)
    return groups


def _fmt_rate(median, info):
    if "flops" in info:
        return f"{info['flops'] / median / 1e9:8.1f} GFLOP/s"
    gel = info["elements"] / median / 1e9
    gbs = info["bytes"] / median / 1e9
    return f"{gel:7.2f} Gel/s {gbs:7.1f} GB/s"


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter, config):
    groups = _rows(config)
    if not groups:
        return
    lines = [
        "",
        "halfkit against peers measured in this run (medians; ratio = peer time / halfkit time)",
    ]
    md = ["| group | implementation | median | rate | halfkit speed-up |", "|---|---|---|---|---|"]
    for group in sorted(groups):
        impls = groups[group]
        hk = impls.get("halfkit")
        lines.append(f"  {group}")
        for name, (median, info) in sorted(impls.items(), key=lambda kv: kv[1][0]):
            ratio = f"{median / hk[0]:6.2f}x" if hk and name != "halfkit" else ""
            lines.append(
                f"    {name:<16} {median * 1e6:12.2f} us  {_fmt_rate(median, info)}  {ratio}"
            )
            rate = _fmt_rate(median, info).strip()
            md.append(f"| {group} | {name} | {median * 1e6:.2f} us | {rate} | {ratio.strip()} |")
    terminalreporter.write_line("\n".join(lines))
    path = config.getoption("--ratio-md")
    if path:
        with open(path, "w") as f:
            f.write("\n".join(md) + "\n")
