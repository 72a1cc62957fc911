"""Make tests/data/golden/, a tiny gulp directory, from the format alone.

This script does not import gulpio: it follows the format description
(docs/format.rst) with OpenCV's JPEG encoder and the standard json module,
so that the files guard compatibility with the original library.

    python tests/data/make_golden.py
"""
import json
import os

import cv2
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "golden")

# (chunk number, id, meta dict, frame shapes); ids are stored as str(id)
ITEMS = [
    (0, 702766, {"label": "something something", "id": 702766},
     [(24, 32, 3)] * 3),
    (0, "grey", {"label": "Pushing [something]", "note": "caf\u00e9"},
     [(17, 23)] * 2),
    (1, "single", {"label": "something something", "id": "single"},
     [(30, 18, 3)]),
    (1, 10, {"label": "Pushing [something]"}, [(20, 20, 3)] * 4),
]
LABEL2IDX = {"Pushing [something]": 0, "something something": 1}


def make_frame(seed, shape):
    """Deterministic, smooth, non-flat content (BGR or grayscale)."""
    height, width = shape[:2]
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    planes = [127 + 100 * np.sin((xx * (c + 1) + yy * 2 + seed * 5) / 6.0)
              for c in range(shape[2] if len(shape) == 3 else 1)]
    frame = np.stack(planes, axis=-1).round().clip(0, 255).astype(np.uint8)
    return frame if len(shape) == 3 else frame[:, :, 0]


def frames_of(item_number):
    shapes = ITEMS[item_number][3]
    return [make_frame(item_number * 10 + k, shape)
            for k, shape in enumerate(shapes)]


def main():
    os.makedirs(GOLDEN, exist_ok=True)
    chunks = {}
    for number, (chunk, id_, meta, _) in enumerate(ITEMS):
        data, index = chunks.setdefault(chunk, (bytearray(), {}))
        entry = index.setdefault(str(id_), {"frame_info": [],
                                            "meta_data": []})
        entry["meta_data"].append(meta)
        for frame in frames_of(number):
            jpeg = cv2.imencode(".jpg", frame)[1].tobytes()
            pad = (4 - len(jpeg) % 4) % 4
            entry["frame_info"].append([len(data), pad, len(jpeg) + pad])
            data += jpeg + b"\0" * pad
    for chunk, (data, index) in chunks.items():
        with open(os.path.join(GOLDEN, f"data_{chunk}.gulp"), "wb") as fp:
            fp.write(bytes(data))
        with open(os.path.join(GOLDEN, f"meta_{chunk}.gmeta"), "w") as fp:
            json.dump(index, fp)
    with open(os.path.join(GOLDEN, "label2idx.json"), "w") as fp:
        json.dump(LABEL2IDX, fp)


if __name__ == "__main__":
    main()
