"""A synthetic directory shaped like Something-Something-v2's gulps.

The meta files are realistic (ids, labels, 30-60 frames per item with
real-looking offsets).  Chunk 0 holds real (small) JPEG frames, so that a
loader can read its first batches; the other data files are sparse files of
the right size, which is all that opening a directory touches.
"""
import os

import numpy as np
import simplejson

from gulpio import _format
from gulpio.fileio import GulpChunk

FULL_ITEMS = 220847
ITEMS_PER_CHUNK = 100
LABELS = [f"Pushing something from {a} to {b}" for a in ("left", "right")
          for b in ("left", "right")] + [
    f"Putting something {p} something" for p in ("on", "into", "behind")]


def make(folder: str, num_items: int = FULL_ITEMS, seed: int = 0) -> str:
    """Write the directory (once; reused when it is complete)."""
    os.makedirs(folder, exist_ok=True)
    stamp = os.path.join(folder, f".complete_{num_items}")
    if os.path.exists(stamp):
        return folder
    rng = np.random.default_rng(seed)
    next_id = 100000
    tiny = [np.full((48, 64, 3), 40 + 3 * k, np.uint8) for k in range(60)]
    for chunk, start in enumerate(range(0, num_items, ITEMS_PER_CHUNK)):
        if chunk == 0:
            real = GulpChunk(*_format.chunk_paths(folder, 0))
            with real.open("wb"):
                for _ in range(min(ITEMS_PER_CHUNK, num_items)):
                    label = LABELS[int(rng.integers(len(LABELS)))]
                    real.append(next_id, {"id": next_id, "label": label,
                                          "idx": LABELS.index(label)},
                                tiny[:int(rng.integers(30, 61))])
                    next_id += 1
            continue
        meta = {}
        offset = 0
        for _ in range(min(ITEMS_PER_CHUNK, num_items - start)):
            n = int(rng.integers(30, 61))
            lengths = rng.integers(6000, 12000, n) // 4 * 4
            pads = rng.integers(0, 4, n)
            offsets = offset + np.concatenate([[0], np.cumsum(lengths)[:-1]])
            offset += int(lengths.sum())
            label = LABELS[int(rng.integers(len(LABELS)))]
            meta[str(next_id)] = {
                "frame_info": np.stack([offsets, pads, lengths], 1).tolist(),
                "meta_data": [{"id": next_id, "label": label,
                               "idx": LABELS.index(label)}]}
            next_id += 1
        data_path, meta_path = _format.chunk_paths(folder, chunk)
        with open(meta_path, "w") as fp:
            fp.write(simplejson.dumps(meta))
        with open(data_path, "wb") as fp:
            fp.truncate(offset)
    with open(_format.label2idx_path(folder), "w") as fp:
        simplejson.dump({label: i for i, label in enumerate(LABELS)}, fp)
    open(stamp, "w").close()
    return folder
