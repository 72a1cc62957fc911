"""Benchmark the training-side loader.

Two measurements, each printed as a table and written to
``benchmarks/results/bench_loader.json``:

1. **transport**: moving one numpy batch (64 MB by default) from a worker
   process to the parent, through shared memory (what
   :class:`gulpio.loader.DataLoader` does: :mod:`gulpio._shm` plus a small
   descriptor on a pipe) against pickling the array through the same kind
   of pipe.  Shared memory is measured twice: writing every batch into a new
   segment, and writing into a segment the parent has released (what the
   loader does in steady state).  Timed from the parent's request to the array being usable in
   the parent, and again including one full read of it (``arr.sum()``), so
   that lazily mapped pages are paid for.  Median over repetitions.
2. **loader**: clips/s of :class:`gulpio.dataset.GulpVideoDataset`
   (16 frames, step 2, ``Scale``, ``RandomCropVideo``, ``UnitNorm``) through
   :class:`gulpio.loader.DataLoader` (batch 8) with 0, 1 and 2 workers on a
   synthetic gulp directory of moving, textured content made here.  Median
   over epochs with persistent workers, and the first epoch (which includes
   starting the workers) on its own.

Usage::

    python benchmarks/bench_loader.py [--mb 64] [--reps 9] [--items 96]
        [--frames 40] [--width 320] [--height 240] [--epochs 4]
        [--workers 0,1,2] [--gulp-dir DIR] [--skip-transport]
        [--out benchmarks/results/bench_loader.json]
"""
import argparse
import collections
import json
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
import time
from typing import Dict, List

import cv2
import numpy as np

from gulpio import _shm
from gulpio._format import chunk_paths, label2idx_path
from gulpio.dataset import GulpVideoDataset
from gulpio.fileio import GulpChunk
from gulpio.loader import DataLoader
from gulpio.transforms import ComposeVideo, RandomCropVideo, Scale, UnitNorm

HERE = os.path.dirname(os.path.abspath(__file__))


# ---------------------------------------------------------------- transport

MODES = ("pipe", "shm_fresh", "shm")


def _sender(conn, nbytes: int, mode: str) -> None:
    """Worker: on each request, send the same batch by ``mode``.

    ``shm`` is what the loader does: segments the parent has released are
    written again; ``shm_fresh`` writes every batch into a new segment.
    """
    batch = np.random.default_rng(0).integers(
        0, 255, nbytes, dtype=np.uint8).reshape(-1, 16, 112, 112, 3)
    pool = _shm.SegmentPool(_shm.new_prefix())
    try:
        while True:
            request = conn.recv()
            if request is None:
                return
            if mode == "pipe":
                conn.send(batch)
                continue
            if mode == "shm":
                pool.release(request)
            sent: list = []
            conn.send(_shm.share(batch, pool, sent))
    finally:
        pool.close()
        _shm.sweep(pool.prefix)


def bench_transport(mb: int, reps: int) -> Dict[str, float]:
    nbytes = (mb * (1 << 20)) // (16 * 112 * 112 * 3) * (16 * 112 * 112 * 3)
    ctx = multiprocessing.get_context("fork")
    _shm.ensure_tracker()
    result: Dict[str, float] = {"batch_mb": nbytes / (1 << 20)}
    for mode in MODES:
        parent_conn, child_conn = ctx.Pipe()
        worker = ctx.Process(target=_sender, args=(child_conn, nbytes, mode),
                             daemon=True)
        worker.start()
        child_conn.close()
        receive, receive_read = [], []
        released: collections.deque = collections.deque()
        try:
            for rep in range(reps + 1):  # the first round warms up
                start = time.perf_counter()
                parent_conn.send([released.popleft()
                                  for _ in range(len(released))])
                payload = parent_conn.recv()
                arr = (payload if mode == "pipe"
                       else _shm.receive(payload, released.append))
                got = time.perf_counter()
                checksum = int(arr.sum(dtype=np.uint64))
                done = time.perf_counter()
                if arr.nbytes != nbytes or checksum <= 0:
                    raise RuntimeError(f"{mode}: the batch arrived damaged")
                del arr, payload
                if rep:
                    receive.append(got - start)
                    receive_read.append(done - start)
        finally:
            parent_conn.send(None)
            worker.join()
        result[f"{mode}_receive_ms"] = 1000 * statistics.median(receive)
        result[f"{mode}_receive_and_read_ms"] = 1000 * statistics.median(
            receive_read)
    for mode in ("shm", "shm_fresh"):
        result[f"{mode}_speedup_receive"] = (result["pipe_receive_ms"]
                                             / result[f"{mode}_receive_ms"])
        result[f"{mode}_speedup_receive_and_read"] = (
            result["pipe_receive_and_read_ms"]
            / result[f"{mode}_receive_and_read_ms"])
    # The loader's way (reused segments), under the names benchmarks/run.py
    # reads.
    result["speedup_receive"] = result["shm_speedup_receive"]
    result["speedup_receive_and_read"] = result["shm_speedup_receive_and_read"]
    return result


# ---------------------------------------------------------------- loader

def _texture(height: int, width: int, seed: int) -> np.ndarray:
    """Smooth, natural-looking colour texture (blurred noise at 3 scales)."""
    rng = np.random.default_rng(seed)
    out = np.zeros((height * 2, width * 2, 3), np.float32)
    for scale, weight in ((8, 0.6), (32, 0.3), (2, 0.1)):
        small = rng.random((max(2, 2 * height // scale),
                            max(2, 2 * width // scale), 3), dtype=np.float32)
        out += weight * cv2.resize(small, (width * 2, height * 2),
                                   interpolation=cv2.INTER_CUBIC)
    return np.clip(out * 255, 0, 255).astype(np.uint8)


def make_gulp(folder: str, items: int, frames: int, width: int,
              height: int) -> None:
    """A gulp directory of ``items`` videos of a texture moving diagonally."""
    labels = ["pan", "tilt", "zoom", "still"]
    per_chunk = 16
    for first in range(0, items, per_chunk):
        chunk = GulpChunk(*chunk_paths(folder, first // per_chunk))
        with chunk.open("wb"):
            for i in range(first, min(first + per_chunk, items)):
                big = _texture(height, width, seed=i)
                clip = []
                for t in range(frames):
                    y = (3 * t + i) % height
                    x = (5 * t + 2 * i) % width
                    frame = big[y:y + height, x:x + width].copy()
                    cv2.circle(frame, ((7 * t + 13 * i) % width, height // 2),
                               height // 6, (40, 200, 90), -1)
                    clip.append(frame)
                chunk.append(f"video{i}", {"label": labels[i % 4]}, clip)
    with open(label2idx_path(folder), "w") as fp:
        json.dump({label: k for k, label in enumerate(labels)}, fp)


def bench_loader(folder: str, worker_counts: List[int],
                 epochs: int) -> List[Dict[str, float]]:
    """clips/s per worker count: steady state and first epoch.

    Workers persist across epochs, so the steady-state figure (median over
    ``epochs`` epochs after the first) is the loading rate; the first epoch
    also pays for starting the workers and filling the pipeline.
    """
    transform = ComposeVideo([Scale(128), UnitNorm()], [RandomCropVideo(112)])
    dataset = GulpVideoDataset(folder, num_frames=16, step_size=2,
                               is_val=False, transform=transform)
    rows = []
    for workers in worker_counts:
        loader = DataLoader(dataset, batch_size=8, shuffle=True,
                            num_workers=workers, drop_last=True,
                            persistent_workers=workers > 0)
        rates = []
        for _ in range(epochs + 1):
            start = time.perf_counter()
            clips = 0
            for batch, _labels in loader:
                clips += batch.shape[0]
            rates.append(clips / (time.perf_counter() - start))
        loader.close()
        rows.append({"workers": workers,
                     "clips_per_s": statistics.median(rates[1:]),
                     "first_epoch_clips_per_s": rates[0],
                     "epochs": epochs, "clips_per_epoch": clips})
    base = rows[0]["clips_per_s"]
    for row in rows:
        row["vs_first"] = row["clips_per_s"] / base
    return rows


# ---------------------------------------------------------------- main

def main(argv=None) -> Dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=64)
    parser.add_argument("--reps", type=int, default=9)
    parser.add_argument("--items", type=int, default=96)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--workers", default="0,1,2")
    parser.add_argument("--gulp-dir", default=None,
                        help="measure the loader on this gulp directory "
                             "(e.g. the quickstart sample) instead of a "
                             "synthetic one")
    parser.add_argument("--skip-transport", action="store_true")
    parser.add_argument("--out", default=os.path.join(
        HERE, "results", "bench_loader.json"))
    args = parser.parse_args(argv)

    transport = None
    if not args.skip_transport:
        transport = bench_transport(args.mb, args.reps)
        print(f"\nMoving a {transport['batch_mb']:.1f} MB numpy batch from a "
              f"worker (median of {args.reps})")
        print(f"{'path':<22}{'receive ms':>12}{'receive+read ms':>18}"
              f"{'speedup':>10}")
        labels = {"pipe": "pipe (pickle)", "shm_fresh": "shm, new segment",
                  "shm": "shm, reused (loader)"}
        for mode in MODES:
            speedup = ("" if mode == "pipe" else
                       f"{transport[mode + '_speedup_receive']:>9.1f}x")
            print(f"{labels[mode]:<22}{transport[mode + '_receive_ms']:>12.2f}"
                  f"{transport[mode + '_receive_and_read_ms']:>18.2f}"
                  f"{speedup:>10}")

    workers = [int(w) for w in args.workers.split(",")]
    if args.gulp_dir:
        print(f"\nGulp directory: {args.gulp_dir}")
        rows = bench_loader(args.gulp_dir, workers, args.epochs)
    else:
        with tempfile.TemporaryDirectory(prefix="bench_loader_") as folder:
            started = time.perf_counter()
            make_gulp(folder, args.items, args.frames, args.width, args.height)
            print(f"\nSynthetic gulp: {args.items} videos x {args.frames} "
                  f"frames {args.width}x{args.height} "
                  f"(written in {time.perf_counter() - started:.1f} s)")
            rows = bench_loader(folder, workers, args.epochs)
    print("GulpVideoDataset(16 frames, step 2) + Scale(128) + UnitNorm + "
          "RandomCropVideo(112), batch 8")
    print(f"{'workers':>8}{'clips/s':>10}{'vs ' + str(workers[0]):>8}"
          f"{'1st epoch clips/s':>19}")
    for row in rows:
        print(f"{row['workers']:>8}{row['clips_per_s']:>10.1f}"
              f"{row['vs_first']:>7.2f}x"
              f"{row['first_epoch_clips_per_s']:>19.1f}")
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    print(f"(load average over the last minute: {load:.2f} on "
          f"{os.cpu_count()} CPUs)")

    report = {
        "benchmark": "bench_loader",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0],
                    "platform": platform.platform(),
                    "numpy": np.__version__, "opencv": cv2.__version__},
        "settings": vars(args),
        "transport": transport,
        "loader": rows,
        "load_average_1min": load,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as fp:
        json.dump(report, fp, indent=2)
    print(f"\nwrote {args.out}")
    return report


if __name__ == "__main__":
    main()
