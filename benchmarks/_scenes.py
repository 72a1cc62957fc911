"""Natural-looking moving content for the benchmarks.

Each clip is a camera panning across a large "world" image of 1/f noise (the
power spectrum of natural images), with a textured object moving across it,
so that JPEG sizes and decoding costs resemble real video frames rather than
noise or flat colour.
"""
import json
import os
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np

from gulpio import _format
from gulpio.fileio import GulpChunk


def world(height: int, width: int, seed: int) -> np.ndarray:
    """A colour image with a natural 1/f spectrum (BGR uint8)."""
    rng = np.random.default_rng(seed)
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    radius = np.sqrt(fx ** 2 + fy ** 2)
    radius[0, 0] = 1.0
    planes = []
    for _ in range(3):
        spectrum = (rng.normal(size=radius.shape)
                    + 1j * rng.normal(size=radius.shape)) / radius ** 1.7
        plane = np.fft.irfft2(spectrum, s=(height, width))
        plane = (plane - plane.mean()) / plane.std()
        planes.append(plane)
    mix = np.array([[0.9, 0.3, 0.1], [0.3, 0.9, 0.3], [0.1, 0.3, 0.9]])
    img = np.tensordot(np.stack(planes, -1), mix, axes=1)
    return np.clip(118 + 42 * img, 0, 255).astype(np.uint8)


def clip(world_img: np.ndarray, height: int, width: int, num_frames: int,
         seed: int) -> List[np.ndarray]:
    """A panning view of ``world_img`` with a moving object (BGR frames)."""
    rng = np.random.default_rng(seed)
    wh, ww = world_img.shape[:2]
    y0 = int(rng.integers(0, wh - height))
    x0 = int(rng.integers(0, ww - width))
    vy, vx = rng.uniform(-1.5, 1.5), rng.uniform(-3, 3)
    patch = world_img[rng.integers(0, wh - 64):, rng.integers(0, ww - 64):][:64, :64]
    frames = []
    for t in range(num_frames):
        y = int(np.clip(y0 + vy * t, 0, wh - height))
        x = int(np.clip(x0 + vx * t, 0, ww - width))
        frame = world_img[y:y + height, x:x + width].copy()
        oy = int((height // 3 + 2 * t) % (height - 64))
        ox = int((width // 4 + 5 * t) % (width - 64))
        mask = np.zeros((64, 64), np.uint8)
        cv2.circle(mask, (32, 32), 28, 255, -1)
        region = frame[oy:oy + 64, ox:ox + 64]
        region[mask > 0] = (255 - patch)[mask > 0]
        frames.append(frame)
    return frames


def make_gulps(folder: str, jpeg_folder: str, items: int, frames: int,
               size: Tuple[int, int], per_chunk: int = 50, seed: int = 0,
               labels: Sequence[str] = ("a", "b", "c", "d")
               ) -> Dict[str, List[bytes]]:
    """A gulp directory and the same frames as a folder of JPEG files.

    Returns the JPEG records (unpadded) of every id, for the decode-only
    baseline.
    """
    width, height = size
    stamp = os.path.join(folder, f".complete_{items}_{frames}_{width}x{height}")
    big = world(max(720, 3 * height), max(1280, 3 * width), seed)
    records: Dict[str, List[bytes]] = {}
    if not os.path.exists(stamp):
        os.makedirs(folder, exist_ok=True)
        for name in os.listdir(folder):
            os.remove(os.path.join(folder, name))
        for start in range(0, items, per_chunk):
            chunk = GulpChunk(*_format.chunk_paths(folder, start // per_chunk))
            with chunk.open("wb"):
                for i in range(start, min(start + per_chunk, items)):
                    label = labels[i % len(labels)]
                    chunk.append(f"v{i}", {"label": label},
                                 clip(big, height, width, frames, seed + i))
        with open(_format.label2idx_path(folder), "w") as fp:
            json.dump({label: k for k, label in enumerate(labels)}, fp)
        open(stamp, "w").close()
    from gulpio import GulpDirectory
    directory = GulpDirectory(folder)
    for id_ in directory.ids():
        chunk = directory._chunk_of_row(directory._row(id_))
        table = directory._index.table(directory._row(id_))
        with open(chunk.data_file_path, "rb") as fp:
            data = fp.read()
        records[id_] = [data[o:o + n - p] for o, p, n in table.tolist()]
    if jpeg_folder and not os.path.exists(os.path.join(jpeg_folder, ".complete")):
        for id_, jpegs in records.items():
            os.makedirs(os.path.join(jpeg_folder, id_), exist_ok=True)
            for k, jpeg in enumerate(jpegs):
                with open(os.path.join(jpeg_folder, id_, f"{k:05d}.jpg"), "wb") as fp:
                    fp.write(jpeg)
        open(os.path.join(jpeg_folder, ".complete"), "w").close()
    return records


def write_video(path: str, frames: Sequence[np.ndarray], fps: float) -> None:
    """An MPEG-4 (mp4v) video of ``frames``."""
    height, width = frames[0].shape[:2]
    partial = path + ".partial.mp4"  # renamed when complete
    writer = cv2.VideoWriter(partial, cv2.VideoWriter_fourcc(*"mp4v"), fps,
                             (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path}")
    try:
        for frame in frames:
            writer.write(frame)
    finally:
        writer.release()
    os.replace(partial, path)
