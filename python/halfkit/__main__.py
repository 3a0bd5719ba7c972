"""python -m halfkit {info, bench, verify}: what runs here, how fast, and proof of the contract."""

from __future__ import annotations

import argparse
import sys


def _info() -> int:
    import halfkit

    i = halfkit.kernel_info()
    print(f"halfkit {halfkit.__version__}")
    print(f"CPU features: {' '.join(i['cpu_features']) or '(none detected)'}")
    if i["cpu_assumed"]:
        print(f"assumed (HALFKIT_ASSUME_CPU; cpuid denies them): {' '.join(i['cpu_assumed'])}")
    print(
        f"CPU tier in use: {i['isa']}  (this CPU runs: {', '.join(i['isa_supported'])}; "
        f"compiled in: {', '.join(i['isa_compiled'])}; HALFKIT_FORCE_ISA picks one)"
    )
    if i["isa_emulated"]:
        print(f"test build: {', '.join(i['isa_emulated'])} emulates its instructions (slow)")
    print(
        f"threads: {i['threads']}  (arrays under {i['parallel_min_elements']} elements stay on "
        "the calling thread; HALFKIT_NUM_THREADS or set_num_threads changes it)"
    )
    c = i["cuda"]
    if not c["compiled"]:
        print(f"CUDA: {c['build']}; CuPy arrays are not accepted")
        return 0
    rt = c["runtime_version"]
    print(
        f"CUDA: module built, runtime {rt // 1000}.{rt % 1000 // 10}; "
        f"CuPy {c['cupy'] or 'not installed'}"
    )
    if not c["device_count"]:
        print(f"GPU: none ({c.get('no_device_reason', 'no device')})")
    for n, d in enumerate(c["devices"]):
        cc = ".".join(map(str, d["compute_capability"]))
        print(
            f"GPU {n}: {d['name']}, compute capability {cc}, {d['multiprocessors']} SMs, "
            f"{d['memory_bytes'] / 2**30:.0f} GiB"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m halfkit", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("info", help="CPU features, tiers, threads, CUDA and GPU details")
    b = sub.add_parser("bench", help="halfkit against numpy, ml_dtypes, torch (and CuPy on a GPU)")
    b.add_argument(
        "--quick", action="store_true", help="fewer sizes, shorter timing (under a minute)"
    )
    b.add_argument("--json", metavar="PATH", help="write the results as JSON")
    b.add_argument(
        "--plot", metavar="PATH", help="write a PNG of throughput against size (needs matplotlib)"
    )
    b.add_argument(
        "--threads",
        type=int,
        help="threads for halfkit, torch and numpy's BLAS (default: each library's own)",
    )
    v = sub.add_parser("verify", help="prove the numeric contract on this machine (every input)")
    v.add_argument(
        "--quick",
        action="store_true",
        help="compare numpy's slow float16 cast on every 61st float32 only",
    )
    args = p.parse_args(argv)
    try:
        if args.cmd == "info":
            return _info()
        if args.cmd == "bench":
            from ._bench import run

            return run(args.quick, args.json, args.plot, args.threads)
        from ._verify import run as verify

        return verify(args.quick)
    except KeyboardInterrupt:
        print("halfkit: interrupted", file=sys.stderr)
        return 130
    except SystemExit:
        raise
    except Exception as e:  # one clear line, not a traceback
        print(f"halfkit: error: {type(e).__name__}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
