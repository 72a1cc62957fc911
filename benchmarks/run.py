"""gulpio's benchmark suite: every measurement side by side with its baseline.

    python benchmarks/run.py            # the full suite (about 13 minutes)
    python benchmarks/run.py --quick    # tiny sizes, a smoke run (~1 minute)
    python benchmarks/run.py --only read,open

Sections (each prints a table; everything goes to
``benchmarks/results/run.json``, which ``benchmarks/plot.py`` draws):

read
    frames/s of ``GulpDirectory[id]`` for whole items and for strided clips
    (16 frames, step 2), against the decode-only limit (the same JPEG bytes
    decoded in a tight loop), the original's reader (one seek and read per
    frame) and a folder of JPEG files (what gulping replaces); and the
    decode-only loop keeping the last 1, 3, 12 or an item's worth of frames
    (what keeping an item's frames costs in the CPU's cache).
e2e
    clips/s of ``GulpVideoDataset`` (16 frames, step 2, ``Scale``,
    ``RandomCropVideo``, ``UnitNorm``) through ``DataLoader`` (batch 8) with
    0, 1 and 2 workers, and with the opt-in ``reduction=2`` decoding.
open
    time and resident memory to open an SSv2-sized directory (220,847 items,
    2,209 chunks) the original's way and ours, each in a fresh process; and
    the time to the first batch of a 2-worker ``spawn`` loader whose dataset
    holds the original's dictionaries, against ours.
ingest
    frames/s of ``gulp_20bn_json_videos`` on 240p and 720p videos, against
    the original's approach (burst with the ``ffmpeg`` binary at ``-q:v 1``
    into a temporary folder, read each JPEG back, resize, encode), when an
    ffmpeg binary is installed.
transport
    moving a 64 MB batch from a worker through shared memory vs a pipe
    (``benchmarks/bench_loader.py``).

Medians over repetitions; ratios are what to compare (the machine is noisy).
"""
import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import OrderedDict, deque
from typing import Any, Callable, Dict, List, Optional

import cv2
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import _scenes  # noqa: E402
import _ssv2  # noqa: E402

from gulpio import GulpDirectory, _format  # noqa: E402
from gulpio.dataset import GulpVideoDataset  # noqa: E402
from gulpio.loader import DataLoader  # noqa: E402
from gulpio.transforms import (ComposeVideo, RandomCropVideo, Scale,  # noqa: E402
                               UnitNorm)

RESULTS = os.path.join(HERE, "results")


def interleaved_times(fns: Dict[str, Callable[[], Any]], reps: int,
                      faults: Optional[Dict[str, float]] = None
                      ) -> Dict[str, List[float]]:
    """Seconds of each call of each function, timed round-robin (a round
    calls every function once) so that the machine's noise falls on all of
    them alike.  ``faults``, if given, gets each function's median number
    of minor page faults per call."""
    times: Dict[str, List[float]] = {label: [] for label in fns}
    minflt: Dict[str, List[int]] = {label: [] for label in fns}
    for _ in range(reps):
        for label, fn in fns.items():
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            start = time.perf_counter()
            fn()
            times[label].append(time.perf_counter() - start)
            minflt[label].append(
                resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    if faults is not None:
        faults.update({label: statistics.median(n)
                       for label, n in minflt.items()})
    return times


def paired_ratio(slow: List[float], fast: List[float]) -> float:
    """Median over rounds of ``slow[i] / fast[i]``: the speed-up of the
    second of two setups timed side by side in each round.  A burst of
    load on the machine slows both sides of a round, so the ratios scatter
    less than the ratio of the two medians."""
    return statistics.median(s / f for s, f in zip(slow, fast))


def table(title: str, header: List[str], rows: List[List[Any]]) -> None:
    print(f"\n== {title}")
    cells = [header] + [[f"{c:.3g}" if isinstance(c, float) else str(c)
                         for c in row] + [""] * (len(header) - len(row))
                        for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for k, row in enumerate(cells):
        print("  ".join(c.rjust(w) for c, w in zip(row, widths)))
        if k == 0:
            print("  ".join("-" * w for w in widths))


# ------------------------------------------------------------------ read

def original_read(directory_path: str, meta: Dict[str, Any],
                  chunk_of: Dict[str, int], id_: str,
                  slice_: Any = None) -> List[np.ndarray]:
    """The original reader: open the chunk, seek and read every frame."""
    data_path = _format.chunk_paths(directory_path, chunk_of[id_])[0]
    infos = meta[id_]["frame_info"]
    if slice_ is not None:
        infos = infos[slice_]
    frames = []
    with open(data_path, "rb") as fp:
        for loc, pad, length in infos:
            fp.seek(loc)
            record = fp.read(length)
            img = cv2.imdecode(np.frombuffer(record[:length - pad], np.uint8),
                               cv2.IMREAD_ANYCOLOR)
            if img.ndim > 2:
                img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
            frames.append(img)
    return frames


def bench_read(work: str, quick: bool) -> Dict[str, Any]:
    items, frames, reps = (8, 40, 3) if quick else (100, 48, 7)
    results: Dict[str, Any] = {"items": items, "frames_per_item": frames}
    for size in [(427, 240), (340, 256)]:
        name = f"{size[0]}x{size[1]}"
        folder = os.path.join(work, f"read_{name}_{items}x{frames}")
        jpegs = folder + "_jpeg"
        records = _scenes.make_gulps(folder, jpegs, items, frames, size)
        directory = GulpDirectory(folder)
        ids = directory.ids()
        meta = directory.merged_meta_dict
        chunk_of = directory.chunk_lookup
        total = sum(len(r) for r in records.values())
        arrays = {id_: [np.frombuffer(r, np.uint8) for r in rs]
                  for id_, rs in records.items()}
        clip = slice(4, 36, 2)  # 16 frames, step 2
        clip_frames = sum(len(range(*clip.indices(len(r))))
                          for r in records.values())

        def decode_only(selection=slice(None)):
            for id_ in ids:
                for buf in arrays[id_][selection]:
                    cv2.imdecode(buf, cv2.IMREAD_COLOR)

        def decode_only_kept(selection=slice(None)):
            # As above, but an item's frames are kept together until the
            # next item, as any reader that returns an item must.
            for id_ in ids:
                frames = [cv2.imdecode(buf, cv2.IMREAD_COLOR)
                          for buf in arrays[id_][selection]]
            return frames

        def gulp_whole():
            for id_ in ids:
                directory[id_]

        def gulp_clip():
            for id_ in ids:
                directory[id_, clip]

        def gulp_read_clip():
            for id_ in ids:
                directory.read_clip(id_, clip)

        def original_whole():
            for id_ in ids:
                original_read(folder, meta, chunk_of, id_)

        def original_clip():
            for id_ in ids:
                original_read(folder, meta, chunk_of, id_, clip)

        def jpeg_folder(selection=slice(None)):
            for id_ in ids:
                names = sorted(os.listdir(os.path.join(jpegs, id_)))
                for file_name in names[selection]:
                    img = cv2.imread(os.path.join(jpegs, id_, file_name))
                    cv2.cvtColor(img, cv2.COLOR_BGR2RGB)

        gulp_whole()
        jpeg_folder()  # warm the page cache for both
        runs = OrderedDict([
            ("decode-only limit, whole items", (decode_only, total)),
            ("decode-only limit, item's frames kept",
             (decode_only_kept, total)),
            ("gulpio directory[id], whole items", (gulp_whole, total)),
            ("original reader, whole items", (original_whole, total)),
            ("JPEG files folder, whole items", (jpeg_folder, total)),
            ("decode-only limit, 16-frame clips",
             (lambda: decode_only(clip), clip_frames)),
            ("decode-only limit, clip's frames kept",
             (lambda: decode_only_kept(clip), clip_frames)),
            ("gulpio directory[id, slice], clips", (gulp_clip, clip_frames)),
            ("gulpio read_clip(id, slice), clips", (gulp_read_clip, clip_frames)),
            ("original reader, clips", (original_clip, clip_frames)),
            ("JPEG files folder, clips",
             (lambda: jpeg_folder(clip), clip_frames)),
        ])
        faults: Dict[str, float] = {}
        times = interleaved_times(
            {label: fn for label, (fn, _) in runs.items()}, reps, faults)
        fps = {label: count / statistics.median(times[label])
               for label, (_, count) in runs.items()}
        # Against the two decode-only loops: medians of each round's ratio
        # (the loop and the reader read the same frames).
        limit = {label: "decode-only limit, " + (
                     "16-frame clips" if "clip" in label else "whole items")
                 for label in runs}
        kept = {label: "decode-only limit, " + (
                    "clip's frames kept" if "clip" in label
                    else "item's frames kept")
                for label in runs}
        vs_limit = {label: paired_ratio(times[limit[label]], times[label])
                    for label in runs}
        vs_kept = {label: paired_ratio(times[kept[label]], times[label])
                   for label in runs}
        faults_per_frame = {label: faults[label] / count
                            for label, (_, count) in runs.items()}
        rows = [[label, value, vs_limit[label], vs_kept[label],
                 faults_per_frame[label]]
                for label, value in fps.items()]
        table(f"read {name} ({items} items x {frames} frames; frames/s: "
              f"median of {reps} rounds, each calling every reader once; "
              f"x decode-only: median of the rounds' ratios)",
              ["what", "frames/s", "x decode-only", "x decode-only kept",
               "page faults/frame"], rows)
        whole = "gulpio directory[id], whole items"
        clips = "gulpio directory[id, slice], clips"
        if name == "427x240":
            results["keep_window"] = bench_keep_window(
                [buf for id_ in ids for buf in arrays[id_]], frames,
                2 if quick else 5)
        results[name] = {"frames_per_s": fps,
                         "seconds": times,
                         "page_faults_per_frame": faults_per_frame,
                         "whole_vs_decode_only": vs_limit[whole],
                         "whole_vs_decode_only_kept": vs_kept[whole],
                         "clip_vs_decode_only": vs_limit[clips],
                         "clip_vs_decode_only_kept": vs_kept[clips]}
    return results


def l2_cache_kib() -> Optional[int]:
    """Size of one core's level-2 cache, from Linux's sysfs (None if it
    cannot be read)."""
    folder = "/sys/devices/system/cpu/cpu0/cache"
    try:
        for index in sorted(os.listdir(folder)):
            with open(os.path.join(folder, index, "level")) as fp:
                if fp.read().strip() != "2":
                    continue
            with open(os.path.join(folder, index, "size")) as fp:
                size = fp.read().strip()
            return int(size[:-1]) * 1024 if size.endswith("M") else int(
                size.rstrip("K"))
    except (OSError, ValueError):
        return None
    return None


def bench_keep_window(buffers: List[np.ndarray], frames: int, reps: int
                      ) -> Dict[str, Any]:
    """The decode-only loop over the same frames, keeping the last ``k``
    decoded frames alive (``k = 1`` is the loop that throws each frame
    away, ``k = frames`` keeps an item's worth).  Every decoding does the
    same work; what changes is whether the frames being written still fit
    in the CPU's cache."""
    windows = sorted({1, 3, 12, frames})

    def loop(k: int) -> Callable[[], None]:
        def run() -> None:
            kept: deque = deque(maxlen=k)
            for buf in buffers:
                kept.append(cv2.imdecode(buf, cv2.IMREAD_COLOR))
        return run

    times = interleaved_times({k: loop(k) for k in windows}, reps)
    frame = cv2.imdecode(buffers[0], cv2.IMREAD_COLOR)
    result = {"windows": windows,
              "frame_kib": frame.nbytes / 1024,
              "l2_cache_kib_per_core": l2_cache_kib(),
              "seconds": {str(k): times[k] for k in windows},
              "frames_per_s": {str(k): len(buffers) / statistics.median(
                  times[k]) for k in windows},
              "vs_window_1": {str(k): paired_ratio(times[1], times[k])
                              for k in windows}}
    l2 = result["l2_cache_kib_per_core"]
    table(f"decode-only loop keeping the last k frames ({len(buffers)} "
          f"frames of {result['frame_kib']:.0f} KiB; level-2 cache "
          f"{'unknown' if l2 is None else f'{l2} KiB'} per core; x k=1: "
          f"median of {reps} rounds' ratios)",
          ["k frames kept", "KiB kept", "frames/s", "x k=1"],
          [[k, round(k * result["frame_kib"]),
            result["frames_per_s"][str(k)], result["vs_window_1"][str(k)]]
           for k in windows])
    return result


# ------------------------------------------------------------------ e2e

def e2e_dataset(folder: str, reduction: int, size: int = 112
                ) -> GulpVideoDataset:
    # Scale(112) shrinks 427x240 frames by 2.1x: the case for reduction=2;
    # Scale(56) by 4.3x: the case for reduction=4.
    transform = ComposeVideo(img_transforms=[Scale(size), UnitNorm()],
                             video_transforms=[RandomCropVideo(size)])
    kwargs = {"reduction": reduction} if reduction != 1 else {}
    return GulpVideoDataset(folder, num_frames=16, step_size=2, is_val=False,
                            transform=transform, **kwargs)


def bench_e2e(work: str, quick: bool) -> Dict[str, Any]:
    items, frames, epochs = (16, 36, 1) if quick else (160, 40, 15)
    folder = os.path.join(work, f"e2e_427x240_{items}x{frames}")
    _scenes.make_gulps(folder, "", items, frames, (427, 240))
    rows = []
    results: Dict[str, Any] = {"items": items, "epochs": epochs}
    # (scale size, reduced decoding, worker counts).  All loaders of a
    # setup (full-size and reduced decoding, every worker count) exist side
    # by side and their epochs are timed in turn, so that the machine's
    # drift falls on all of them alike.
    setups = [(112, 2, (0, 1, 2)), (56, 4, (0, 2))]
    for size, reduction, worker_counts in setups:
        try:
            datasets = {r: e2e_dataset(folder, r, size) for r in (1, reduction)}
        except TypeError:
            print("(this GulpVideoDataset has no `reduction`; skipped)")
            continue
        # Steady state: persistent workers; the first epoch of each loader
        # (which starts them) is not counted.
        loaders = {(w, r): DataLoader(dataset, batch_size=8, shuffle=True,
                                      num_workers=w, persistent_workers=w > 0)
                   for w in worker_counts for r, dataset in datasets.items()}
        times: Dict[Any, List[float]] = {key: [] for key in loaders}
        count = 0
        try:
            for epoch in range(epochs + 1):
                # A round times one epoch of every loader; every other
                # round goes in reverse order, so that a drift of the
                # machine's speed falls on both sides of each pair alike.
                keys = list(loaders) if epoch % 2 else list(loaders)[::-1]
                for key in keys:
                    start = time.perf_counter()
                    count = sum(len(labels) for _, labels in loaders[key])
                    if epoch:
                        times[key].append(time.perf_counter() - start)
        finally:
            for loader in loaders.values():
                loader.close()
        del loaders
        results[f"scale{size}_epoch_seconds"] = {
            f"reduction{r}_workers{w}": t for (w, r), t in times.items()}
        rates = {key: count / statistics.median(t) for key, t in times.items()}
        for (workers, r), rate in rates.items():
            results[f"scale{size}_reduction{r}_workers{workers}"] = rate
            speedup = paired_ratio(times[workers, 1], times[workers, r])
            rows.append([f"Scale({size})+RandomCropVideo({size})",
                         f"reduction={r}", workers, rate, speedup])
            if r != 1:
                results[f"scale{size}_reduction{r}_vs_1_workers"
                        f"{workers}"] = speedup
    table(f"end to end: GulpVideoDataset -> DataLoader(batch 8), 427x240, "
          f"16 frames step 2, Scale + RandomCropVideo + UnitNorm "
          f"(clips/s: median of {epochs} epochs after a warm-up epoch; "
          f"speed-up: median of the {epochs} rounds' ratios, each round "
          f"timing one epoch of every loader of a pipeline in turn)",
          ["pipeline", "decoding", "workers", "clips/s",
           "x full-size decoding"], rows)
    epochs_112 = results.get("scale112_epoch_seconds")
    if epochs_112:
        full0 = epochs_112["reduction1_workers0"]
        results["workers2_vs_0"] = paired_ratio(
            full0, epochs_112["reduction1_workers2"])
        results["workers1_vs_0"] = paired_ratio(
            full0, epochs_112["reduction1_workers1"])
        print(f"2 workers: {results['workers2_vs_0']:.2f}x the clips/s of 0")
    return results


# ------------------------------------------------------------------ open

OPEN_SCRIPT = r"""
import json, os, resource, sys, time
from collections import OrderedDict
sys.path.insert(0, {here!r})
def rss():
    with open("/proc/self/statm") as fp:
        return int(fp.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
import gulpio, simplejson
from gulpio import _format
folder, way = sys.argv[1], sys.argv[2]
before = rss()
start = time.perf_counter()
if way == "original":
    # the original's GulpDirectory.__init__: every meta dict, then lookups
    found = _format.scan_chunk_files(folder)
    numbers = sorted(found["meta"])
    all_meta_dicts = []
    for n in numbers:
        with open(found["meta"][n]) as fp:
            all_meta_dicts.append(simplejson.load(fp, object_pairs_hook=OrderedDict))
    chunk_lookup = {{}}
    for n, meta in zip(numbers, all_meta_dicts):
        for id_ in meta:
            chunk_lookup[id_] = n
    merged_meta_dict = {{}}
    for meta in all_meta_dicts:
        for id_ in meta:
            if id_ in merged_meta_dict:
                raise ValueError(id_)
        merged_meta_dict.update(meta)
    count = len(merged_meta_dict)
else:
    directory = gulpio.GulpDirectory(folder)
    count = len(directory.ids())
elapsed = time.perf_counter() - start
after = rss()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
first_use = None
if way == "ours":
    start = time.perf_counter()
    sizes = (len(directory.merged_meta_dict), len(directory.chunk_lookup),
             len(directory.all_meta_dicts))
    first_use = time.perf_counter() - start
    if sizes != (count, count, directory.num_chunks):
        raise SystemExit(f"original attributes have sizes {{sizes}}, expected "
                         f"{{(count, count, directory.num_chunks)}}")
print(json.dumps({{"seconds": elapsed, "rss_mb": after, "rss_increase_mb": after - before,
                  "peak_rss_mb": peak, "items": count,
                  "original_attributes_first_use_s": first_use}}))
"""

SPAWN_SCRIPT = r"""
import json, os, sys, time
from collections import OrderedDict
sys.path.insert(0, {here!r})
import numpy as np, simplejson, cv2
from gulpio import _format
from gulpio.dataset import GulpVideoDataset
from gulpio.loader import DataLoader


class OriginalStyleVideoDataset:
    # Holds the original GulpDirectory's dictionaries, which a spawned
    # worker receives pickled.
    def __init__(self, folder):
        found = _format.scan_chunk_files(folder)
        self.folder = folder
        self.numbers = sorted(found["meta"])
        self.all_meta_dicts = []
        for n in self.numbers:
            with open(found["meta"][n]) as fp:
                self.all_meta_dicts.append(
                    simplejson.load(fp, object_pairs_hook=OrderedDict))
        self.chunk_lookup = {{}}
        self.merged_meta_dict = {{}}
        for n, meta in zip(self.numbers, self.all_meta_dicts):
            for id_ in meta:
                self.chunk_lookup[id_] = n
            self.merged_meta_dict.update(meta)
        self.ids = list(self.merged_meta_dict)

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, index):
        id_ = self.ids[index]
        infos = self.merged_meta_dict[id_]["frame_info"][0:30:2]
        path = _format.chunk_paths(self.folder, self.chunk_lookup[id_])[0]
        frames = []
        with open(path, "rb") as fp:
            for loc, pad, length in infos:
                fp.seek(loc)
                buf = np.frombuffer(fp.read(length)[:length - pad], np.uint8)
                frames.append(cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR),
                                           cv2.COLOR_BGR2RGB))
        return np.stack(frames), 0


if __name__ == "__main__":
    folder, way = sys.argv[1], sys.argv[2]
    if way == "original":
        dataset = OriginalStyleVideoDataset(folder)
    else:
        dataset = GulpVideoDataset(folder, num_frames=15, step_size=2, is_val=True)
    loader = DataLoader(dataset, batch_size=8, num_workers=2,
                        multiprocessing_context="spawn")
    start = time.perf_counter()
    clips, labels = next(iter(loader))
    elapsed = time.perf_counter() - start
    print(json.dumps({{"first_batch_s": elapsed, "shape": list(clips.shape)}}))
"""


def _run_json(script: str, args: List[str]) -> Dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", script] + args,
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"benchmark subprocess failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_open(work: str, quick: bool, items: int) -> Dict[str, Any]:
    folder = _ssv2.make(os.path.join(work, f"ssv2_{items}"), items)
    script = OPEN_SCRIPT.format(here=HERE)
    reps = 1 if quick else 3
    results: Dict[str, Any] = {"items": items,
                               "chunks": -(-items // _ssv2.ITEMS_PER_CHUNK)}
    rows = []
    ways = ("original", "ours")
    # The two ways take turns, so that the machine's drift falls on both.
    all_runs: Dict[str, List[Dict[str, Any]]] = {way: [] for way in ways}
    for _ in range(reps):
        for way in ways:
            all_runs[way].append(_run_json(script, [folder, way]))
    for way, runs in all_runs.items():
        seconds = statistics.median(r["seconds"] for r in runs)
        rss = statistics.median(r["rss_mb"] for r in runs)
        increase = statistics.median(r["rss_increase_mb"] for r in runs)
        results[way] = {"seconds": seconds, "rss_mb": rss,
                        "rss_increase_mb": increase,
                        "first_use_s": runs[0]["original_attributes_first_use_s"]}
        rows.append([way, seconds, rss, increase])
    results["speedup"] = paired_ratio(
        [r["seconds"] for r in all_runs["original"]],
        [r["seconds"] for r in all_runs["ours"]])
    results["memory_ratio"] = results["original"]["rss_mb"] / results["ours"]["rss_mb"]
    results["memory_increase_ratio"] = (results["original"]["rss_increase_mb"]
                                        / results["ours"]["rss_increase_mb"])
    table(f"open a directory of {items} items in "
          f"{results['chunks']} chunks (fresh process, median of {reps}, "
          f"the two ways in turn)",
          ["way", "seconds", "RSS MB", "RSS increase MB"], rows)
    print(f"open: {results['speedup']:.1f}x faster, "
          f"{results['memory_ratio']:.1f}x less resident memory "
          f"({results['memory_increase_ratio']:.1f}x less added by opening); "
          f"merged_meta_dict/chunk_lookup/all_meta_dicts built on first use "
          f"in {results['ours']['first_use_s']:.2f} s")
    spawn = SPAWN_SCRIPT.format(here=HERE)
    script_path = os.path.join(work, "spawn_first_batch.py")
    with open(script_path, "w") as fp:
        fp.write(spawn)
    rows = []
    for way in ("original", "ours"):
        out = subprocess.run([sys.executable, script_path, folder, way],
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"spawn benchmark failed:\n{out.stderr}")
        value = json.loads(out.stdout.strip().splitlines()[-1])["first_batch_s"]
        results[f"spawn_first_batch_{way}_s"] = value
        rows.append([way, value])
    results["spawn_first_batch_speedup"] = (
        results["spawn_first_batch_original_s"]
        / results["spawn_first_batch_ours_s"])
    table("time to the first batch of a 2-worker spawn loader",
          ["dataset metadata", "seconds"], rows)
    print(f"first batch {results['spawn_first_batch_speedup']:.1f}x sooner")
    return results


# ------------------------------------------------------------------ ingest

def _ingest_videos(folder: str, big: np.ndarray, size: Any,
                   num_videos: int, seconds: float, fps_video: float
                   ) -> List[str]:
    videos_dir = os.path.join(folder, "videos")
    entries = []
    for k in range(num_videos):
        os.makedirs(os.path.join(videos_dir, str(k)), exist_ok=True)
        path = os.path.join(videos_dir, str(k), f"{k}.mp4")
        if not os.path.exists(path):
            _scenes.write_video(path, _scenes.clip(
                big, size[1], size[0], int(seconds * fps_video), 7 + k),
                fps_video)
        entries.append({"id": str(k), "template": "something"})
    with open(os.path.join(folder, "list.json"), "w") as fp:
        json.dump(entries, fp)
    return [os.path.join(videos_dir, e["id"], f"{e['id']}.mp4")
            for e in entries]


def bench_ingest(work: str, quick: bool) -> Dict[str, Any]:
    # Something-Something-v2's setting: 12 fps videos gulped at 12 fps,
    # mostly 2-6 s long; and, for contrast, fewer but longer videos.
    fps_video, frame_rate = 12.0, 12
    reps = 1 if quick else 3
    setups = ([("240p", (427, 240), 2, 2)] if quick else
              [("240p", (427, 240), 40, 4), ("240p", (427, 240), 4, 30),
               ("720p", (1280, 720), 12, 4), ("720p", (1280, 720), 2, 30)])
    results: Dict[str, Any] = {"ffmpeg": shutil.which("ffmpeg")}
    rows = []
    big = _scenes.world(1440, 2560, 3)
    for label, size, num_videos, seconds in setups:
        folder = os.path.join(
            work, f"ingest_{label}_{num_videos}x{seconds}s_{fps_video:g}fps")
        os.makedirs(folder, exist_ok=True)
        videos = _ingest_videos(folder, big, size, num_videos, seconds,
                                fps_video)
        videos_dir = os.path.join(folder, "videos")
        for frame_size in (-1, 128):
            def ours():
                out = os.path.join(folder, "out_ours")
                shutil.rmtree(out, ignore_errors=True)
                subprocess.run(
                    ["gulp_20bn_json_videos", os.path.join(folder, "list.json"),
                     videos_dir, out, "--num_workers", "1", "--frame_rate",
                     str(frame_rate), "--frame_size", str(frame_size)],
                    check=True, capture_output=True)
                return int(sum(GulpDirectory(out).frame_counts()))

            def burst():
                # A command too, so that both include starting Python.
                out = os.path.join(folder, "out_burst")
                shutil.rmtree(out, ignore_errors=True)
                subprocess.run(
                    [sys.executable, os.path.join(HERE, "burst_baseline.py"),
                     out, str(frame_rate), str(frame_size)] + videos,
                    check=True, capture_output=True)
                return int(sum(GulpDirectory(out).frame_counts()))

            ways = {"gulpio (in-process decoding)": ours}
            if results["ffmpeg"]:
                ways["original (ffmpeg burst)"] = burst
            times: Dict[str, List[float]] = {way: [] for way in ways}
            cpu: Dict[str, List[float]] = {way: [] for way in ways}
            frames: Dict[str, int] = {}
            for _ in range(reps):  # interleaved
                for way, fn in ways.items():
                    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
                    own = resource.getrusage(resource.RUSAGE_SELF)
                    start = time.perf_counter()
                    frames[way] = fn()
                    times[way].append(time.perf_counter() - start)
                    usage2 = resource.getrusage(resource.RUSAGE_CHILDREN)
                    own2 = resource.getrusage(resource.RUSAGE_SELF)
                    cpu[way].append(sum(
                        getattr(usage2, f) - getattr(usage, f)
                        + getattr(own2, f) - getattr(own, f)
                        for f in ("ru_utime", "ru_stime")))
            key = f"{label}_{num_videos}x{seconds}s_size{frame_size}"
            results[key] = {}
            for way in ways:
                rate = frames[way] / statistics.median(times[way])
                cpu_ms = 1000 * statistics.median(cpu[way]) / frames[way]
                results[key][way] = {"frames_per_s": rate,
                                     "cpu_ms_per_frame": cpu_ms,
                                     "frames": frames[way]}
                rows.append([label, f"{num_videos} x {seconds} s", frame_size,
                             way, frames[way], rate, cpu_ms])
            if len(ways) == 2:
                a, b = (results[key][w] for w in ways)
                results[key]["speedup"] = a["frames_per_s"] / b["frames_per_s"]
                results[key]["cpu_ratio"] = (b["cpu_ms_per_frame"]
                                             / a["cpu_ms_per_frame"])
                rows[-1].append(results[key]["speedup"])
    table(f"ingest: gulp_20bn_json_videos --num_workers 1 --frame_rate "
          f"{frame_rate} on {fps_video:g} fps mp4 videos (median of {reps}; "
          "the command's time includes starting Python)",
          ["video", "videos", "frame_size", "way", "frames", "frames/s",
           "CPU ms/frame", "speedup"], rows)
    if not results["ffmpeg"]:
        print("(no ffmpeg binary: the burst baseline was not measured)")
    return results


# ------------------------------------------------------------------ transport

def bench_transport_section(quick: bool) -> Dict[str, Any]:
    import bench_loader
    mb, reps = (8, 3) if quick else (64, 9)
    result = bench_loader.bench_transport(mb, reps)
    table(f"moving a {result['batch_mb']:.0f} MB batch from a worker "
          f"(median of {reps})", ["way", "receive ms", "receive + read ms"],
          [[way, result[f"{way}_receive_ms"],
            result[f"{way}_receive_and_read_ms"]] for way in ("pipe", "shm")])
    print(f"shared memory {result['speedup_receive']:.1f}x faster than a "
          f"pipe ({result['speedup_receive_and_read']:.1f}x including one "
          "read of the batch)")
    return {"mb": mb, **result}


# ------------------------------------------------------------------ main

SECTIONS = ["read", "e2e", "open", "ingest", "transport"]


def main(argv: Any = None) -> Dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes: a smoke run")
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help="comma-separated sections to run")
    parser.add_argument("--open-items", type=int, default=None,
                        help="items of the synthetic SSv2 directory "
                             f"(default {_ssv2.FULL_ITEMS}, 2000 with --quick)")
    parser.add_argument("--work", default=os.path.join(
        tempfile.gettempdir(), "gulpio-bench"),
        help="where the generated data is kept between runs")
    parser.add_argument("--out", default=os.path.join(RESULTS, "run.json"))
    args = parser.parse_args(argv)
    only = [s for s in args.only.split(",") if s]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    os.makedirs(args.work, exist_ok=True)
    results: Dict[str, Any] = {
        "machine": {"python": platform.python_version(),
                    "cpus": os.cpu_count(), "opencv": cv2.__version__,
                    "numpy": np.__version__},
        "quick": args.quick,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    open_items = args.open_items or (2000 if args.quick else _ssv2.FULL_ITEMS)
    runners = {
        "read": lambda: bench_read(args.work, args.quick),
        "e2e": lambda: bench_e2e(args.work, args.quick),
        "open": lambda: bench_open(args.work, args.quick, open_items),
        "ingest": lambda: bench_ingest(args.work, args.quick),
        "transport": lambda: bench_transport_section(args.quick),
    }
    for section in SECTIONS:
        if section in only:
            start = time.perf_counter()
            results[section] = runners[section]()
            print(f"[{section} took {time.perf_counter() - start:.0f} s]")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as fp:
        json.dump(results, fp, indent=2)
    print(f"\nwrote {args.out}")
    return results


if __name__ == "__main__":
    main()
