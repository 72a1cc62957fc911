"""Small gulp directories for the training-side tests, written by the library.

Every frame is flat grey with the value ``4 * frame_index + 2`` (clipped to
255) plus a thin bar whose column depends on the item, so a test can tell
from a decoded frame which stored frame it is (:func:`frame_index`).
"""
import json
import os
from typing import Dict, List, Sequence, Tuple

import numpy as np

from gulpio._format import chunk_paths, label2idx_path
from gulpio.fileio import GulpChunk

HEIGHT, WIDTH = 48, 64


def make_frame(frame_idx: int, item_idx: int, grayscale: bool = False,
               height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    value = min(255, 4 * frame_idx + 2)
    frame = np.full((height, width), value, dtype=np.uint8)
    column = (item_idx * 8) % (width - 8)
    frame[:, column:column + 4] = 255 - value
    if grayscale:
        return frame
    return np.repeat(frame[:, :, None], 3, axis=2)


def frame_index(frame: np.ndarray) -> int:
    """The stored frame index a decoded frame of :func:`make_frame` shows."""
    value = float(np.median(frame))
    return int(round((value - 2) / 4))


def write_gulp(folder: str, lengths: Sequence[int],
               labels: Sequence[str], items_per_chunk: int = 3,
               grayscale: bool = False, label2idx: Dict[str, int] = None,
               height: int = HEIGHT, width: int = WIDTH
               ) -> Tuple[List[str], Dict[str, int]]:
    """Write items ``"vid0", "vid1", ...`` with ``lengths[i]`` frames.

    Returns
    -------
    (ids, label2idx)
    """
    os.makedirs(folder, exist_ok=True)
    if label2idx is None:
        label2idx = {label: i for i, label in enumerate(sorted(set(labels)))}
    ids = [f"vid{i}" for i in range(len(lengths))]
    for first in range(0, len(ids), items_per_chunk):
        chunk = GulpChunk(*chunk_paths(folder, first // items_per_chunk))
        with chunk.open("wb"):
            for i in range(first, min(first + items_per_chunk, len(ids))):
                frames = [make_frame(j, i, grayscale, height, width)
                          for j in range(lengths[i])]
                chunk.append(ids[i], {"id": ids[i], "label": labels[i]},
                             frames)
    with open(label2idx_path(folder), "w") as fp:
        json.dump(label2idx, fp)
    return ids, label2idx


def write_image_gulp(folder: str, labels: Sequence[str],
                     height: int = HEIGHT, width: int = WIDTH
                     ) -> Tuple[List[str], Dict[str, int]]:
    """One-frame items, the frame index doubling as the item number."""
    os.makedirs(folder, exist_ok=True)
    label2idx = {label: i for i, label in enumerate(sorted(set(labels)))}
    ids = [f"img{i}" for i in range(len(labels))]
    chunk = GulpChunk(*chunk_paths(folder, 0))
    with chunk.open("wb"):
        for i, id_ in enumerate(ids):
            chunk.append(id_, {"id": id_, "label": labels[i]},
                         [make_frame(i, i, height=height, width=width)])
    with open(label2idx_path(folder), "w") as fp:
        json.dump(label2idx, fp)
    return ids, label2idx
