"""The original's ingestion, as a command: ffmpeg bursts every video into
JPEG files in a temporary folder, each is read back, resized, encoded and
appended to one chunk.

    python benchmarks/burst_baseline.py OUT_FOLDER FRAME_RATE FRAME_SIZE VIDEO...

``benchmarks/run.py`` times it beside ``gulp_20bn_json_videos``, both as
commands (so both include starting Python).  Needs the ``ffmpeg`` binary.
"""
import os
import shutil
import subprocess
import sys
import tempfile
from typing import List

import cv2

from gulpio import _format
from gulpio.fileio import GulpChunk
from gulpio.utils import resize_by_short_edge


def burst_ingest(videos: List[str], out_folder: str, frame_rate: int,
                 frame_size: int) -> int:
    """The original's ingestion: ffmpeg bursts JPEGs into a temporary
    folder, each is read back, resized, encoded and appended."""
    os.makedirs(out_folder, exist_ok=True)
    chunk = GulpChunk(*_format.chunk_paths(out_folder, 0))
    written = 0
    with chunk.open("wb"):
        for k, video in enumerate(videos):
            burst = tempfile.mkdtemp(dir="/dev/shm")
            try:
                subprocess.run(["ffmpeg", "-nostats", "-loglevel", "error",
                                "-i", video, "-r", str(frame_rate),
                                "-q:v", "1", os.path.join(burst, "%04d.jpg")],
                               check=True)
                frames = []
                for name in sorted(os.listdir(burst)):
                    img = cv2.imread(os.path.join(burst, name))
                    if frame_size > 0:
                        img = resize_by_short_edge(img, frame_size)
                    frames.append(img)
                chunk.append(str(k), {"id": k}, frames)
                written += len(frames)
            finally:
                shutil.rmtree(burst)
    return written


def main(argv: List[str]) -> None:
    if len(argv) < 4:
        sys.exit(__doc__)
    out, frame_rate, frame_size, videos = argv[0], int(argv[1]), int(argv[2]), argv[3:]
    print(burst_ingest(videos, out, frame_rate, frame_size))


if __name__ == "__main__":
    main(sys.argv[1:])
