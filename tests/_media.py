"""Real media files for the ingestion tests: videos, images and input lists.

Videos are written with ``cv2.VideoWriter`` (mp4 with MPEG-4 part 2, webm
with VP8 or VP9); every frame differs from the previous one (a moving block
and a changing background), so a dropped or repeated frame is visible.
"""
import gzip
import json
import os
import shutil
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import cv2
import numpy as np

FOURCC_BY_EXT = {".mp4": "mp4v", ".webm": "VP80", ".avi": "MJPG", ".mkv": "VP90"}


def frame_content(index: int, width: int, height: int) -> np.ndarray:
    """A BGR frame that depends on ``index``: background level and block position."""
    frame = np.empty((height, width, 3), np.uint8)
    frame[:] = ((index * 37) % 200 + 20, (index * 11) % 200 + 30, (index * 5) % 200 + 40)
    block = max(4, min(width, height) // 4)
    x = (index * 3) % max(1, width - block)
    y = (index * 2) % max(1, height - block)
    frame[y:y + block, x:x + block] = (250, 250 - (index % 50), 10)
    return frame


def make_video(path: str, num_frames: int, fps: float = 12.0, size: Tuple[int, int] = (32, 32),
               fourcc: Optional[str] = None) -> str:
    """Write a real video of ``num_frames`` frames of ``size`` = ``(width, height)``."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    code = fourcc or FOURCC_BY_EXT[os.path.splitext(path)[1].lower()]
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*code), fps, size)
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path} with fourcc {code}")
    try:
        for index in range(num_frames):
            writer.write(frame_content(index, *size))
    finally:
        writer.release()
    return path


def read_all_frames(path: str) -> List[np.ndarray]:
    """Every frame of a video as OpenCV decodes it (the reference)."""
    capture = cv2.VideoCapture(path)
    frames = []
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(frame)
    finally:
        capture.release()
    return frames


def make_image(path: str, size: Tuple[int, int] = (40, 30), seed: int = 0) -> str:
    """Write a JPEG or PNG of ``size`` = ``(width, height)`` with a gradient and a block."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    width, height = size
    ys, xs = np.mgrid[0:height, 0:width]
    img = np.stack([(xs * 5 + seed * 13) % 256, (ys * 7 + seed * 29) % 256,
                    np.full_like(xs, (seed * 53) % 256)], axis=-1).astype(np.uint8)
    img[: height // 3, : width // 3] = (seed * 17 % 256, 255, 0)
    if not cv2.imwrite(path, img):
        raise RuntimeError(f"cannot write {path}")
    return path


def write_json(path: str, obj, gz: bool = False) -> str:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if gz:
        with gzip.open(path, "wt", encoding="utf-8") as fp:
            json.dump(obj, fp)
    else:
        with open(path, "w", encoding="utf-8") as fp:
            json.dump(obj, fp)
    return path


def write_lines(path: str, lines: Iterable[str]) -> str:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fp:
        for line in lines:
            fp.write(line + "\n")
    return path


# --------------------------------------------------------- dataset layouts
def make_20bn_json_dataset(root: str, ids_labels: Sequence[Tuple[str, str]],
                           num_frames: int = 12, fps: float = 12.0,
                           size: Tuple[int, int] = (32, 24), label_name: str = "template",
                           gz: bool = False) -> Tuple[str, str]:
    """``videos/<id>/<id>.mp4`` plus a JSON list; returns ``(json_path, videos_dir)``."""
    videos = os.path.join(root, "videos")
    for i, (id_, _) in enumerate(ids_labels):
        make_video(os.path.join(videos, id_, f"{id_}.mp4"), num_frames + i, fps, size)
    entries = [{"id": id_, label_name: label} for id_, label in ids_labels]
    json_path = os.path.join(root, "list.json.gz" if gz else "list.json")
    write_json(json_path, entries, gz=gz)
    return json_path, videos


def make_20bn_webm_dataset(root: str, ids_labels: Sequence[Tuple[str, Optional[str]]],
                           num_frames: int = 12, fps: float = 12.0,
                           size: Tuple[int, int] = (32, 24), fourcc: str = "VP80") -> Tuple[str, str]:
    """``videos/<id>.webm`` plus an ``id;label`` CSV (label ``None``: id-only row)."""
    videos = os.path.join(root, "videos")
    for i, (id_, _) in enumerate(ids_labels):
        make_video(os.path.join(videos, f"{id_}.webm"), num_frames + i, fps, size, fourcc)
    csv_path = write_lines(os.path.join(root, "list.csv"),
                           [id_ if label is None else f"{id_};{label}" for id_, label in ids_labels])
    return csv_path, videos


def make_20bn_jpeg_dataset(root: str, ids_labels: Sequence[Tuple[str, str]],
                           num_frames: int = 5, size: Tuple[int, int] = (40, 30)) -> Tuple[str, str]:
    """``jpegs/<id>/00001.jpg ...`` plus an ``id;label`` CSV."""
    jpegs = os.path.join(root, "jpegs")
    for i, (id_, _) in enumerate(ids_labels):
        for f in range(num_frames + i):
            make_image(os.path.join(jpegs, id_, f"{f + 1:05d}.jpg"), size, seed=f + 7 * i)
    csv_path = write_lines(os.path.join(root, "list.csv"), [f"{i};{lab}" for i, lab in ids_labels])
    return csv_path, jpegs


def make_image_folder(root: str, layout: Dict[str, Sequence[str]],
                      size: Tuple[int, int] = (40, 30)) -> str:
    """``images/<label>/<name>`` for each label and file name; returns the folder."""
    folder = os.path.join(root, "images")
    for li, (label, names) in enumerate(sorted(layout.items())):
        for ni, name in enumerate(names):
            make_image(os.path.join(folder, label, name), size, seed=li * 10 + ni)
    return folder


def make_activitynet_dataset(root: str, subsets: Dict[str, str], num_frames: int = 10,
                             fps: float = 10.0, size: Tuple[int, int] = (32, 24),
                             missing: Sequence[str] = ()) -> Tuple[str, str]:
    """ActivityNet layout: ``videos/<vid>.mp4`` and ``{"database": {...}}``."""
    videos = os.path.join(root, "videos")
    os.makedirs(videos, exist_ok=True)
    database = {}
    for i, (vid, subset) in enumerate(sorted(subsets.items())):
        if vid not in missing:
            make_video(os.path.join(videos, f"{vid}.mp4"), num_frames + i, fps, size)
        database[vid] = {"subset": subset, "duration": (num_frames + i) / fps,
                         "resolution": f"{size[0]}x{size[1]}",
                         "annotations": [{"label": f"action{i % 2}", "segment": [0.0, 0.5]}],
                         "url": f"https://example.invalid/{vid}"}
    json_path = write_json(os.path.join(root, "activity_net.json"),
                           {"version": "1.3", "taxonomy": [], "database": database})
    return json_path, videos


def make_kinetics_dataset(root: str, vids: Dict[str, str], num_frames: int = 10,
                          fps: float = 10.0, size: Tuple[int, int] = (32, 24),
                          missing: Sequence[str] = ()) -> Tuple[str, str]:
    """Kinetics layout: ``videos/<label>/<vid>_<start>_<end>.mp4`` and its JSON."""
    videos = os.path.join(root, "videos")
    os.makedirs(videos, exist_ok=True)
    entries = {}
    for i, (vid, label) in enumerate(sorted(vids.items())):
        start, end = 10 * i, 10 * i + 10
        if vid not in missing:
            make_video(os.path.join(videos, label.replace(" ", "_"),
                                    f"{vid}_{start:06d}_{end:06d}.mp4"), num_frames + i, fps, size)
        entries[vid] = {"annotations": {"label": label, "segment": [float(start), float(end)]},
                        "duration": 10.0, "subset": "train",
                        "url": f"https://example.invalid/{vid}"}
    json_path = write_json(os.path.join(root, "kinetics.json"), entries)
    return json_path, videos


def truncate_file(path: str, keep_bytes: int) -> str:
    with open(path, "r+b") as fp:
        fp.truncate(keep_bytes)
    return path


def copy_file(src: str, dst: str) -> str:
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    shutil.copyfile(src, dst)
    return dst
