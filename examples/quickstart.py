"""gulpio end to end on a small sample that this script makes itself.

    python examples/quickstart.py [--videos 12] [--workdir DIR] [--workers 2]

1. writes a few short MPEG-4 videos with OpenCV, in the 20BN layout
   (``videos/<id>/<id>.mp4``) with a JSON list of ids and labels;
2. gulps them with the real ``gulp_20bn_json_videos`` command;
3. checks the result with ``gulp_sanity_check``;
4. reads every item back with ``GulpDirectory``;
5. loads shuffled, augmented batches with ``GulpVideoDataset`` and
   ``gulpio.loader.DataLoader``, and prints a summary with the throughput.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np

from gulpio import GulpDirectory
from gulpio.dataset import GulpVideoDataset
from gulpio.loader import DataLoader
from gulpio.transforms import (ComposeVideo, RandHorFlipVideo, RandomCropVideo,
                               Scale, UnitNorm)

LABELS = ["moving left", "moving right", "standing still"]


def command(name: str) -> list:
    """The installed console script, or the module when it is not on PATH."""
    exe = shutil.which(name)
    return [exe] if exe else [sys.executable, "-m", f"gulpio.cli.{name}"]


def write_video(path: str, label: int, seed: int, size=(160, 120),
                fps: float = 15.0, seconds: float = 2.0) -> None:
    """A textured background with a disc moving as the label says."""
    rng = np.random.default_rng(seed)
    width, height = size
    background = cv2.GaussianBlur(
        rng.integers(0, 255, (height, width, 3), dtype=np.uint8), (0, 0), 6)
    background = cv2.normalize(background, None, 30, 220, cv2.NORM_MINMAX)
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), fps,
                             (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path}")
    speed = {0: -3, 1: 3, 2: 0}[label]
    colour = tuple(int(c) for c in rng.integers(60, 255, 3))
    try:
        for t in range(int(fps * seconds)):
            frame = background.copy()
            x = int((width / 2 + speed * t) % width)
            cv2.circle(frame, (x, height // 2), height // 6, colour, -1)
            writer.write(frame)
    finally:
        writer.release()


def make_sample(workdir: str, num_videos: int) -> tuple:
    videos = os.path.join(workdir, "videos")
    entries = []
    for i in range(num_videos):
        id_ = str(1000 + i)
        label = i % len(LABELS)
        os.makedirs(os.path.join(videos, id_), exist_ok=True)
        write_video(os.path.join(videos, id_, f"{id_}.mp4"), label, seed=i)
        entries.append({"id": id_, "template": LABELS[label]})
    list_file = os.path.join(workdir, "videos.json")
    with open(list_file, "w") as fp:
        json.dump(entries, fp)
    return list_file, videos


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--videos", type=int, default=12)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--workdir", default=None,
                        help="keep the sample here (default: a temporary "
                             "folder, removed at the end)")
    args = parser.parse_args(argv)
    workdir = args.workdir or tempfile.mkdtemp(prefix="gulpio-quickstart-")
    os.makedirs(workdir, exist_ok=True)
    gulps = os.path.join(workdir, "gulps")
    try:
        start = time.perf_counter()
        list_file, videos = make_sample(workdir, args.videos)
        print(f"1. wrote {args.videos} videos under {videos} "
              f"({time.perf_counter() - start:.1f} s)")

        start = time.perf_counter()
        subprocess.run(command("gulp_20bn_json_videos") + [
            list_file, videos, gulps, "--videos_per_chunk", "4",
            "--num_workers", str(max(1, args.workers)), "--frame_rate", "8"],
            check=True)
        print(f"2. gulped them into {gulps} "
              f"({time.perf_counter() - start:.1f} s)")

        check = subprocess.run(command("gulp_sanity_check") + [gulps],
                               capture_output=True, text=True)
        print(f"3. gulp_sanity_check: {check.stdout.strip().splitlines()[-1]}")
        if check.returncode != 0:
            print(check.stdout, check.stderr)
            return 1

        directory = GulpDirectory(gulps)
        start = time.perf_counter()
        total = 0
        for id_ in directory.ids():
            frames, meta = directory[id_]
            total += len(frames)
        elapsed = time.perf_counter() - start
        print(f"4. read back {len(directory.ids())} items, {total} frames of "
              f"{frames[0].shape} in {directory.num_chunks} chunks "
              f"({total / elapsed:.0f} frames/s); last meta: {meta}")

        transform = ComposeVideo(img_transforms=[Scale(64), UnitNorm()],
                                 video_transforms=[RandomCropVideo(56),
                                                   RandHorFlipVideo()])
        dataset = GulpVideoDataset(gulps, num_frames=8, step_size=1,
                                   is_val=False, transform=transform)
        loader = DataLoader(dataset, batch_size=4, shuffle=True,
                            num_workers=args.workers)
        start = time.perf_counter()
        clips = 0
        for batch, labels in loader:
            clips += len(labels)
        elapsed = time.perf_counter() - start
        print(f"5. loaded {clips} clips in batches of {batch.shape} "
              f"{batch.dtype}, labels {list(labels)} of classes "
              f"{dataset.classes}; {clips / elapsed:.0f} clips/s with "
              f"{args.workers} workers")
        print("quickstart: all done")
        return 0
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
