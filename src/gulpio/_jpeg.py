"""Encoding frames into padded JPEG records and decoding them back.

Writers take OpenCV's convention (3-channel arrays are BGR, 2-D arrays are
grayscale); readers return RGB or 2-D grayscale ``uint8`` arrays.
"""
from functools import partial
from typing import Callable, Iterator, Optional, Tuple, Union

import cv2
import numpy as np

from ._format import pad_length
from .errors import FrameDecodeError

# OpenCV >= 4.10 can hand out RGB straight from the JPEG decoder.
_IMREAD_COLOR_RGB = getattr(cv2, "IMREAD_COLOR_RGB", None)
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers without a length field.
_STANDALONE = frozenset(range(0xD0, 0xDA)) | {0x01}


def encode_frame(frame: np.ndarray) -> Tuple[bytes, int]:
    """Encode one frame as a JPEG record padded to the alignment.

    Returns
    -------
    tuple
        ``(record, pad)``: the padded record and its number of zero bytes.

    Raises
    ------
    ValueError
        When OpenCV cannot encode the array.
    """
    try:
        ok, encoded = cv2.imencode(".jpg", frame)
    except cv2.error as exc:
        raise ValueError(
            f"cannot encode frame of shape {getattr(frame, 'shape', None)} and "
            f"dtype {getattr(frame, 'dtype', None)} as JPEG: {exc}") from exc
    if not ok:
        raise ValueError(
            f"cannot encode frame of shape {frame.shape} as JPEG")
    record = encoded.tobytes()
    pad = pad_length(len(record))
    return record + b"\0" * pad, pad


def jpeg_channels(buf) -> int:
    """Number of colour components of a JPEG, read from its frame header.

    Returns 0 when no frame header is found.
    """
    view = memoryview(buf)
    end = len(view)
    pos = 2
    while pos + 4 <= end:
        if view[pos] != 0xFF:
            return 0
        marker = view[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _STANDALONE:
            pos += 2
            continue
        if marker in _SOF_MARKERS:
            return view[pos + 9] if pos + 9 < end else 0
        pos += 2 + ((view[pos + 2] << 8) | view[pos + 3])
    return 0


_heap_ready = False
# glibc's largest dynamic mmap threshold (DEFAULT_MMAP_THRESHOLD_MAX on
# 64-bit systems), less a margin for the chunk header.
_WARMUP_BYTES = (32 << 20) - (64 << 10)


def prepare_heap() -> None:
    """Let the C heap recycle frame-sized blocks (once per process).

    glibc's ``malloc`` serves every block over 128 KiB (any decoded frame)
    with fresh pages from ``mmap`` and unmaps them on ``free``, until the
    process frees one large mmapped block: it then raises that threshold to
    the block's size (its documented dynamic rule).  Before that, every
    decoded frame costs a page fault per 4 KiB, about a third of its
    decoding time.  Allocating and freeing one untouched 32 MiB array
    triggers the rule, as any large numpy temporary would; elsewhere it is
    a cheap allocation that is never used.
    """
    global _heap_ready
    if not _heap_ready:
        _heap_ready = True
        np.empty(_WARMUP_BYTES, dtype=np.uint8)  # freed at once


REDUCTIONS = (1, 2, 4, 8)
_REDUCED_FLAGS = {
    2: (cv2.IMREAD_REDUCED_COLOR_2, cv2.IMREAD_REDUCED_GRAYSCALE_2),
    4: (cv2.IMREAD_REDUCED_COLOR_4, cv2.IMREAD_REDUCED_GRAYSCALE_4),
    8: (cv2.IMREAD_REDUCED_COLOR_8, cv2.IMREAD_REDUCED_GRAYSCALE_8),
}
# Flags that give RGB straight from the decoder, by reduction.
_RGB_FLAGS = {} if _IMREAD_COLOR_RGB is None else {
    1: _IMREAD_COLOR_RGB,
    **{reduction: (color & ~cv2.IMREAD_COLOR) | _IMREAD_COLOR_RGB
       for reduction, (color, _) in _REDUCED_FLAGS.items()}}


def check_reduction(reduction: int) -> int:
    """Validate a decoding reduction factor (1, 2, 4 or 8)."""
    if reduction not in REDUCTIONS or isinstance(reduction, bool):
        raise ValueError(
            f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return int(reduction)


def decode_record(buf, what: Union[str, Callable[[], str]], reduction: int = 1,
                  out: Optional[np.ndarray] = None) -> np.ndarray:
    """Decode one JPEG (without padding) into RGB or 2-D grayscale.

    ``what`` names the frame for the error message (id, index and file),
    or is a function that returns that name (called only on an error).
    ``reduction`` (2, 4 or 8) decodes at that fraction of the size through
    the JPEG decoder's DCT scaling.  When ``out`` is given the frame is
    written into it (its shape must match) and ``out`` is returned.
    """
    array = np.frombuffer(buf, dtype=np.uint8)
    img = None
    if len(array) > 2 and array[0] == 0xFF and array[1] == 0xD8:
        channels = jpeg_channels(buf)
        rgb_flag = _RGB_FLAGS.get(reduction) if channels == 3 else None
        if rgb_flag is not None:
            # RGB straight from the decoder; a copy into ``out`` is cheaper
            # than a colour conversion.
            img = _checked(cv2.imdecode(array, rgb_flag), what)
            if out is None:
                return img
            _check_shape(img, out, what)
            out[...] = img
            return out
        if reduction != 1:
            color, gray = _REDUCED_FLAGS[reduction]
            img = cv2.imdecode(array, gray if channels == 1 else color)
        else:
            img = cv2.imdecode(array, cv2.IMREAD_ANYCOLOR)
    img = _checked(img, what)
    if out is not None:
        _check_shape(img, out, what)
    if img.ndim == 3:
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB, dst=out)
    if out is not None:
        out[...] = img
        return out
    return img


def _name(what: Union[str, Callable[[], str]]) -> str:
    return what if isinstance(what, str) else what()


def _check_shape(img: np.ndarray, out: np.ndarray,
                 what: Union[str, Callable[[], str]]) -> None:
    if out.shape != img.shape:
        raise ValueError(
            f"{_name(what)} has shape {img.shape}, unlike the clip's first frame "
            f"{out.shape}; read it with directory[id] instead")


def _checked(img: Optional[np.ndarray],
             what: Union[str, Callable[[], str]]) -> np.ndarray:
    if img is None:
        raise FrameDecodeError(f"cannot decode {_name(what)}: not a valid JPEG record")
    return img


def iter_records(data, base: int, table: np.ndarray,
                 describe, reduction: int = 1) -> Iterator[np.ndarray]:
    """Decode the records of ``table`` (rows ``[offset, pad, length]``) one
    at a time, as they are asked for.

    ``data`` holds the file bytes starting at file offset ``base``;
    ``describe(i)`` names row ``i`` for error messages.
    """
    prepare_heap()
    view = memoryview(data)
    for i, (offset, pad, length) in enumerate(table.tolist()):
        start = offset - base
        yield decode_record(view[start:start + length - pad],
                            partial(describe, i), reduction)


def decode_clip(data, base: int, table: np.ndarray, describe,
                reduction: int = 1) -> np.ndarray:
    """Decode the records of ``table`` into one ``(T, H, W[, C])`` array.

    Rows that repeat a record (same offset) are decoded once.
    """
    prepare_heap()
    view = memoryview(data)
    rows = table.tolist()
    clip = None
    decoded = {}
    for i, (offset, pad, length) in enumerate(rows):
        if offset in decoded:
            clip[i] = clip[decoded[offset]]
            continue
        start = offset - base
        record = view[start:start + length - pad]
        if clip is None:
            first = decode_record(record, partial(describe, i), reduction)
            clip = np.empty((len(rows),) + first.shape, dtype=np.uint8)
            clip[0] = first
        else:
            decode_record(record, partial(describe, i), reduction, out=clip[i])
        decoded[offset] = i
    if clip is None:
        return np.empty((0,), dtype=np.uint8)
    return clip
