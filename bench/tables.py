"""Turn pytest-benchmark JSON (bench/results/*.json) into the README's markdown tables.

python bench/tables.py bench/results/convert.json bench/results/gemm.json
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict


def load(path):
    with open(path) as f:
        data = json.load(f)
    groups = defaultdict(dict)
    for b in data["benchmarks"]:
        groups[b["group"]][b["extra_info"]["impl"]] = (b["stats"]["median"], b["extra_info"])
    return data["machine_info"], groups


def convert_tables(groups):
    out = []
    spec = [
        (
            "64K elements, out= given, 1 thread (Gelem/s; halfkit's speed-up in brackets)",
            "n=65536 out threads=1",
            "gel",
        ),
        ("64M elements, out= given, 2 threads (GB/s moved)", "n=67108864 out threads=2", "gbs"),
        ("64M elements, allocating, 1 thread (GB/s moved)", "n=67108864 alloc threads=1", "gbs"),
        ("16 elements, allocating, 1 thread (microseconds per call)", "n=16 alloc threads=1", "us"),
    ]
    for title, suffix, unit in spec:
        rows = {g.split(" ")[0]: v for g, v in groups.items() if g.endswith(suffix)}
        if not rows:
            continue
        peers = sorted({p for v in rows.values() for p in v if p != "halfkit"})
        out.append(f"**{title}**\n")
        out.append("| conversion | halfkit | " + " | ".join(peers) + " |")
        out.append("|---" * (len(peers) + 2) + "|")
        for conv in sorted(rows):
            v = rows[conv]
            hk_t, info = v["halfkit"]

            def fmt(t, info=info, unit=unit):
                if unit == "us":
                    return f"{t * 1e6:.2f}"
                return (
                    f"{info['elements'] / t / 1e9:.2f}"
                    if unit == "gel"
                    else f"{info['bytes'] / t / 1e9:.1f}"
                )

            cells = [fmt(hk_t)]
            for p in peers:
                cells.append(f"{fmt(v[p][0])} ({v[p][0] / hk_t:.2f}x)" if p in v else "-")
            out.append(f"| {conv} | " + " | ".join(cells) + " |")
        out.append("")
    return out


def gemm_table(groups):
    out = ["**GEMM, fp32 accumulation and output (GFLOP/s; halfkit's speed-up in brackets)**\n"]
    peers = sorted({p for v in groups.values() for p in v if p != "halfkit"})
    out.append("| shape, inputs, threads | halfkit | " + " | ".join(peers) + " |")
    out.append("|---" * (len(peers) + 2) + "|")
    for g in sorted(groups, key=lambda s: (s.split(" ")[1], s.split(" ")[-1], s)):
        v = groups[g]
        if "halfkit" not in v:
            continue
        hk_t, info = v["halfkit"]
        cells = [f"{info['flops'] / hk_t / 1e9:.0f}"]
        for p in peers:
            cells.append(
                f"{info['flops'] / v[p][0] / 1e9:.0f} ({v[p][0] / hk_t:.2f}x)" if p in v else "-"
            )
        out.append(f"| {g} | " + " | ".join(cells) + " |")
    return out


def slim(path):
    with open(path) as f:
        data = json.load(f)
    for b in data.get("benchmarks", []):
        b.get("stats", {}).pop("data", None)
    with open(path, "w") as f:
        json.dump(data, f, indent=1)


def main():
    args = sys.argv[1:]
    if args and args[0] == "--slim":
        args = args[1:]
        for path in args:
            slim(path)
    lines = []
    for path in args:
        machine, groups = load(path)
        kinds = {i["impl"] for v in groups.values() for _, i in v.values()}
        flops = any("flops" in i for v in groups.values() for _, i in v.values())
        cpu = machine.get("cpu", {}).get("brand_raw", "?")
        lines.append(
            f"_{path}: {cpu}, tier {machine['halfkit']['isa']}, numpy {machine.get('numpy')}, "
            f"torch {machine.get('torch', '-')}, ml_dtypes {machine.get('ml_dtypes')}_\n"
        )
        lines += gemm_table(groups) if flops else convert_tables(groups)
        lines.append("")
        del kinds
    print("\n".join(lines))


if __name__ == "__main__":
    main()
