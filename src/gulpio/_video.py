"""In-process video decoding for the adapters (OpenCV's bundled FFmpeg).

``read_video_frames(path, frame_rate, frame_size)`` returns the frames the
original got from ``ffmpeg -i VIDEO -r R`` plus a resize, without an ffmpeg
binary.  Frame-rate rule: with ``n`` source frames at ``fps`` frames per
second the video lasts ``n / fps`` seconds, so there are
``K = max(1, round(n * R / fps))`` output frames, and output frame ``k`` is
the source frame nearest to time ``k / R`` (index ``round(k * fps / R)``,
halves rounded up, clamped to the last frame).  A video whose own rate equals
``R`` keeps its frames one for one; a lower ``R`` drops frames, a higher one
repeats them.

When OpenCV cannot open a file and an ``ffmpeg`` binary exists, the
original's burst path (:mod:`gulpio.utils`) is used instead.
"""
import logging
import math
import os
from collections import deque
from typing import Deque, Iterator, List, Optional

import cv2
import numpy as np

from .errors import FrameDecodeError
from .utils import (VideoNotFound, burst_video_into_frames, check_ffmpeg_exists,
                    resize_by_short_edge, resize_images, temp_dir_for_bursting)

logger = logging.getLogger(__name__)

# Frame rates outside this range are container garbage, not a real rate;
# such videos keep every frame.
_MIN_FPS, _MAX_FPS = 1e-3, 1e4
_EPS = 1e-9
# A video that decodes to fewer frames than its container announces, by more
# than this fraction (and at least _TRUNCATION_MIN_MISSING frames), is taken
# for a truncated file and skipped rather than ingested half.
_TRUNCATION_TOLERANCE = 0.05
_TRUNCATION_MIN_MISSING = 3


def _valid_rate(value: Optional[float]) -> bool:
    return value is not None and math.isfinite(value) and _MIN_FPS <= value <= _MAX_FPS


def output_frame_count(num_source_frames: int, source_fps: float, frame_rate: float) -> int:
    """Number of frames ``frame_rate`` gives for a video of ``num_source_frames``.

    Parameters
    ----------
    num_source_frames : int
        Frames in the video (``>= 1``).
    source_fps : float
        The video's own frame rate.
    frame_rate : float
        Requested output rate ``R``.

    Returns
    -------
    int
        ``max(1, round(num_source_frames * frame_rate / source_fps))``.
    """
    return max(1, int(math.floor(num_source_frames * frame_rate / source_fps + 0.5 + _EPS)))


def nearest_source_frame(k: int, source_fps: float, frame_rate: float) -> int:
    """Index of the source frame nearest to time ``k / frame_rate`` (unclamped)."""
    return int(math.floor(k * source_fps / frame_rate + 0.5 + _EPS))


def source_indices(num_source_frames: int, source_fps: float,
                   frame_rate: Optional[float]) -> np.ndarray:
    """Source frame index of every output frame under the frame-rate rule.

    ``frame_rate`` of ``None`` or ``<= 0`` (or an unusable ``source_fps``)
    keeps every frame.
    """
    if num_source_frames < 1:
        return np.zeros(0, dtype=np.int64)
    if not (frame_rate and frame_rate > 0 and _valid_rate(source_fps)):
        return np.arange(num_source_frames, dtype=np.int64)
    count = output_frame_count(num_source_frames, source_fps, frame_rate)
    indices = [nearest_source_frame(k, source_fps, frame_rate) for k in range(count)]
    return np.minimum(np.asarray(indices, dtype=np.int64), num_source_frames - 1)


def read_video_frames(path: str, frame_rate: Optional[float] = None, frame_size: int = -1,
                      shm_dir_path: str = "/dev/shm") -> List[np.ndarray]:
    """Decode a video into BGR frames, resampled to ``frame_rate`` and resized.

    Parameters
    ----------
    path : str
        The video file (anything OpenCV's FFmpeg reads: mp4 with H.264 or
        MPEG-4, webm with VP8 or VP9, ...).
    frame_rate : float, optional
        Output frames per second (see the module docstring); ``None`` or
        ``<= 0`` keeps every frame.
    frame_size : int
        Shorter edge of the output frames (``-1``: keep), as
        :func:`gulpio.utils.resize_by_short_edge`.
    shm_dir_path : str
        Temporary folder for the ffmpeg fallback.

    Returns
    -------
    list of numpy.ndarray
        ``uint8`` BGR frames (as ``cv2.imread`` gives images); a repeated
        source frame appears as the same array object more than once.

    Raises
    ------
    gulpio.utils.VideoNotFound
        ``path`` does not exist.
    gulpio.errors.FrameDecodeError
        The file is empty, cannot be opened or yields no frame.
    """
    return list(iter_video_frames(path, frame_rate, frame_size, shm_dir_path))


def iter_video_frames(path: str, frame_rate: Optional[float] = None, frame_size: int = -1,
                      shm_dir_path: str = "/dev/shm") -> Iterator[np.ndarray]:
    """The frames of :func:`read_video_frames`, decoded one at a time.

    Only a few frames are in memory at once, however long the video.  The
    checks that need the whole video (no frame at all, a truncated file)
    raise at the end, after the frames before them were yielded: a consumer
    that stores frames as they come must be ready to undo them (as
    :meth:`gulpio.fileio.GulpChunk.append` does).
    """
    if not os.path.isfile(path):
        raise VideoNotFound(f"video {path} does not exist")
    if os.path.getsize(path) == 0:
        raise FrameDecodeError(f"video {path} is an empty file")
    capture = cv2.VideoCapture(path)
    try:
        if not capture.isOpened():
            if check_ffmpeg_exists():
                logger.info("OpenCV cannot open %s; bursting it with the ffmpeg binary", path)
                frames = _read_by_bursting(path, frame_rate, frame_size, shm_dir_path)
            else:
                raise FrameDecodeError(
                    f"OpenCV cannot open video {path} (not a video, or a codec it "
                    "lacks), and no ffmpeg binary is installed to try instead")
        else:
            frames = _decode(capture, path, frame_rate, frame_size)
        count = 0
        for frame in frames:
            count += 1
            yield frame
    finally:
        capture.release()
    if not count:
        raise FrameDecodeError(f"video {path} has no decodable frame")


def _decode(capture: "cv2.VideoCapture", path: str, frame_rate: Optional[float],
            frame_size: int) -> Iterator[np.ndarray]:
    fps = capture.get(cv2.CAP_PROP_FPS)
    announced = capture.get(cv2.CAP_PROP_FRAME_COUNT)
    resample = bool(frame_rate and frame_rate > 0 and _valid_rate(fps))
    if frame_rate and frame_rate > 0 and not resample:
        logger.warning("video %s reports no usable frame rate (%r); keeping every frame", path, fps)
    # Output frames not yet known to be within the final count (which
    # depends on how many source frames there turn out to be).
    pending: Deque[np.ndarray] = deque()
    emitted = 0
    last = None
    next_k = 0
    wanted = 0  # source index of output frame next_k
    index = -1
    while True:
        try:
            if not capture.grab():
                break
            index += 1
            if resample and index < wanted:
                continue  # grab() alone skips the colour conversion
            ok, frame = capture.retrieve()
        except cv2.error as exc:
            raise FrameDecodeError(
                f"video {path}: decoding failed after frame {index}: {exc}") from exc
        if not ok or frame is None:
            logger.warning("video %s: frame %d did not decode; stopping there", path, index)
            index -= 1
            break
        frame = resize_by_short_edge(frame, frame_size)
        if not resample:
            emitted += 1
            yield frame
            continue
        while wanted == index:
            pending.append(frame)
            next_k += 1
            wanted = nearest_source_frame(next_k, fps, frame_rate)
        # The count only grows with more source frames: these are certain.
        certain = output_frame_count(index + 1, fps, frame_rate)
        while pending and emitted < certain:
            last = pending.popleft()
            emitted += 1
            yield last
    decoded = index + 1
    if (emitted or pending) and _valid_rate(announced) and announced >= 1:
        missing = announced - decoded
        if missing >= max(_TRUNCATION_MIN_MISSING, _TRUNCATION_TOLERANCE * announced):
            raise FrameDecodeError(f"video {path} looks truncated: {decoded} of the "
                                   f"{int(announced)} frames its container announces decoded")
        if missing > 0:
            # Containers often estimate their frame count; a frame or two
            # short is usual, more is worth a look.
            level = logging.WARNING if missing >= _TRUNCATION_MIN_MISSING else logging.INFO
            logger.log(level, "video %s: %d of the %d frames its container announces "
                       "decoded; kept (within the %d%% tolerance for truncation)", path,
                       decoded, int(announced), round(100 * _TRUNCATION_TOLERANCE))
    if resample and (emitted or pending):
        count = output_frame_count(decoded, fps, frame_rate)
        while pending and emitted < count:
            last = pending.popleft()
            emitted += 1
            yield last
        while emitted < count:  # frames beyond the end repeat the last one
            emitted += 1
            yield last


def _read_by_bursting(path: str, frame_rate: Optional[float], frame_size: int,
                      shm_dir_path: str) -> List[np.ndarray]:
    with temp_dir_for_bursting(shm_dir_path) as burst_dir:
        paths = burst_video_into_frames(path, burst_dir, frame_rate=frame_rate)
        return list(resize_images(paths, frame_size))
