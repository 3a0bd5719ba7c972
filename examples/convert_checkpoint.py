"""Convert a float32 checkpoint larger than the memory you give it to bfloat16, on disk, chunk
by chunk, on a dask.distributed LocalCluster of two worker processes.

The example makes its own checkpoint: a raw float32 file (np.memmap) of --size MiB. Each worker
gets --worker-memory MiB, less than the file, so the conversion must stream: every task reads
one chunk of the file, converts it with halfkit, and writes it into the bfloat16 file at its
place. A progress bar shows the tasks as they finish. The result is checked bit for bit against
halfkit.astype on a sample, and the throughput is compared with the same conversion done
chunk by chunk in this one process.

    pip install "dask[array]" distributed
    python examples/convert_checkpoint.py [--size 2048] [--worker-memory 512] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import halfkit
import numpy as np

CHUNK = 1 << 23  # elements a task converts: 32 MiB of float32


class RawFile:
    """A raw array file as dask sees it: a shape and a dtype, read (or written) one slice at a
    time. It pickles as its path, so a task carries no data (an np.memmap pickles as a copy)."""

    def __init__(self, path: str, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.path, self.shape, self.dtype, self.ndim = path, shape, np.dtype(dtype), len(shape)

    def _map(self, mode: str) -> np.memmap:
        return np.memmap(self.path, self.dtype, mode, shape=self.shape)

    def __getitem__(self, key):
        return np.array(self._map("r")[key])

    def __setitem__(self, key, value) -> None:
        mm = self._map("r+")
        mm[key] = value
        mm.flush()


def make_checkpoint(path: str, n: int) -> None:
    mm = np.memmap(path, np.float32, "w+", shape=(n,))
    rng = np.random.default_rng(0)
    for i in range(0, n, CHUNK):
        mm[i : i + CHUNK] = rng.standard_normal(min(CHUNK, n - i), dtype=np.float32) * 0.02
    mm.flush()


def convert_on_cluster(src: RawFile, dst: RawFile, workers: int, memory: int) -> float:
    import dask.array as da
    from dask.distributed import Client, LocalCluster, progress

    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            memory_limit=f"{memory}MiB",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        x = da.from_array(src, chunks=CHUNK, asarray=True)
        y = halfkit.to_bfloat16(x)
        t0 = time.perf_counter()
        stored = da.store(y, dst, lock=False, compute=False)
        future = client.compute(stored)
        progress(future)
        future.result()
        return time.perf_counter() - t0


def convert_in_process(src: RawFile, dst: RawFile) -> float:
    t0 = time.perf_counter()
    s, d = src._map("r"), dst._map("r+")
    out = np.empty(CHUNK, halfkit.bfloat16)
    for i in range(0, src.shape[0], CHUNK):
        n = min(CHUNK, src.shape[0] - i)
        halfkit.to_bfloat16(s[i : i + n], out=out[:n])
        d[i : i + n] = out[:n]
    d.flush()
    return time.perf_counter() - t0


def check_sample(src: RawFile, dst: RawFile, count: int = 1 << 20) -> None:
    rng = np.random.default_rng(1)
    idx = np.sort(rng.integers(0, src.shape[0], count))
    want = halfkit.to_bfloat16(src._map("r")[idx])
    got = dst._map("r")[idx]
    if not np.array_equal(got.view(np.uint16), want.view(np.uint16)):
        raise SystemExit("convert_checkpoint: the bfloat16 file differs from halfkit.astype")


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=2048, help="checkpoint size in MiB (float32)")
    p.add_argument("--worker-memory", type=int, default=512, help="memory per worker, MiB")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--dir", default=None, help="where the files go (default: a temporary one)")
    args = p.parse_args(argv)
    n = args.size * (1 << 20) // 4
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        src = RawFile(os.path.join(tmp, "weights.f32"), (n,), np.float32)
        dst = RawFile(os.path.join(tmp, "weights.bf16"), (n,), halfkit.bfloat16)
        print(f"making a {args.size} MiB float32 checkpoint ({n:,} elements)")
        make_checkpoint(src.path, n)
        np.memmap(dst.path, halfkit.bfloat16, "w+", shape=(n,)).flush()
        print(f"converting on {args.workers} worker processes with {args.worker_memory} MiB each")
        cluster_s = convert_on_cluster(src, dst, args.workers, args.worker_memory)
        check_sample(src, dst)
        local_s = convert_in_process(src, dst)
        check_sample(src, dst)
    gbs = n * 6 / 1e9  # bytes read and written
    res = {"cluster_gb_s": gbs / cluster_s, "process_gb_s": gbs / local_s}
    print(
        f"\ncluster: {cluster_s:.2f} s ({res['cluster_gb_s']:.2f} GB/s read + written); "
        f"one process, chunk by chunk: {local_s:.2f} s ({res['process_gb_s']:.2f} GB/s); "
        "a sample of 1M elements matches halfkit.astype bit for bit"
    )
    return res


if __name__ == "__main__":
    main()
