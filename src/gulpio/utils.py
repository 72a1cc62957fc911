"""Helpers for ingestion: image resizing, file lookup, duplicate removal and
the original's ffmpeg "burst" functions.

The burst functions (:func:`burst_video_into_frames` and friends) need an
``ffmpeg`` binary on ``PATH``; they are kept for compatibility.  The adapters
decode videos in-process (see :mod:`gulpio._video`) and only fall back to
bursting when OpenCV cannot open a video and ``ffmpeg`` exists.
"""
import contextlib
import glob
import logging
import os
import re
import shutil
import subprocess
import tempfile
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Union

import cv2
import numpy as np

from .errors import DuplicateIdError, FrameDecodeError, GulpError, InvalidInputError

logger = logging.getLogger(__name__)

__all__ = [
    "FFMPEGNotFound", "ImageNotFound", "DuplicateIdException", "VideoNotFound",
    "check_ffmpeg_exists", "temp_dir_for_bursting", "burst_frames_to_shm",
    "burst_video_into_frames", "resize_images", "resize_by_short_edge",
    "remove_entries_with_duplicate_ids", "find_images_in_folder",
    "get_single_video_path",
]

# Frame files written by ffmpeg while bursting; wide enough for ~27 hours at
# 1000 fps, and sorted numerically anyway so any count works.
_BURST_PATTERN = "%08d.jpg"
_NUMBER_RE = re.compile(r"(\d+)")


class FFMPEGNotFound(GulpError, FileNotFoundError):
    """The ``ffmpeg`` binary is not on ``PATH``."""

    def __init__(self, message: str = "the ffmpeg binary was not found on PATH; "
                 "install ffmpeg or let gulpio decode videos in-process") -> None:
        super().__init__(message)


class ImageNotFound(GulpError, FileNotFoundError):
    """An image path that does not exist or does not decode."""


class VideoNotFound(GulpError, FileNotFoundError):
    """No video file (or more than one) where exactly one was expected."""


class DuplicateIdException(DuplicateIdError):
    """An id that occurs more than once (the original's name)."""


# --------------------------------------------------------------------- ffmpeg
def check_ffmpeg_exists() -> bool:
    """Return whether an ``ffmpeg`` binary is on ``PATH``."""
    return shutil.which("ffmpeg") is not None


@contextlib.contextmanager
def temp_dir_for_bursting(shm_dir_path: str = "/dev/shm") -> Iterator[str]:
    """Context manager giving a fresh temporary folder, removed afterwards.

    Parameters
    ----------
    shm_dir_path : str
        Parent folder of the temporary folder (a RAM disk such as
        ``/dev/shm`` is fastest).  When it does not exist the system's
        temporary folder is used instead, with a warning.

    Yields
    ------
    str
        Path of the new, empty folder.
    """
    parent: Optional[str] = shm_dir_path
    if not parent or not os.path.isdir(parent):
        logger.warning("shm_dir %r does not exist; bursting into %s instead",
                       shm_dir_path, tempfile.gettempdir())
        parent = None
    temp_dir = tempfile.mkdtemp(prefix="gulpio-burst-", dir=parent)
    try:
        yield temp_dir
    finally:
        shutil.rmtree(temp_dir, ignore_errors=True)


def burst_frames_to_shm(vid_path: str, temp_burst_dir: str,
                        frame_rate: Optional[float] = None) -> None:
    """Extract the frames of a video into JPEG files with the ffmpeg binary.

    Parameters
    ----------
    vid_path : str
        The video file.
    temp_burst_dir : str
        Existing folder that receives ``00000001.jpg``, ``00000002.jpg``, ...
    frame_rate : float, optional
        Output frames per second (``ffmpeg -r``); ``None`` or a value <= 0
        keeps every frame.

    Raises
    ------
    FFMPEGNotFound
        No ``ffmpeg`` on ``PATH``.
    gulpio.errors.FrameDecodeError
        ffmpeg failed; the message holds the path and ffmpeg's last lines.
    """
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise FFMPEGNotFound()
    args = [ffmpeg, "-nostdin", "-loglevel", "error", "-i", vid_path]
    if frame_rate is not None and float(frame_rate) > 0:
        args += ["-r", str(frame_rate)]
    args += ["-q:v", "1", "-f", "image2", os.path.join(temp_burst_dir, _BURST_PATTERN)]
    try:
        subprocess.run(args, check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    except subprocess.CalledProcessError as exc:
        tail = exc.stdout.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise FrameDecodeError(
            f"ffmpeg could not burst {vid_path}: {' | '.join(tail) or 'exit status %d' % exc.returncode}"
        ) from exc


def _numeric_key(path: str) -> List[Any]:
    """Sort key that puts frame files in numeric order (``2.jpg`` before
    ``10.jpg``); zero-padded names keep their plain sorted order."""
    parts = _NUMBER_RE.split(os.path.basename(path))
    return [int(p) if p.isdigit() else p for p in parts]


def burst_video_into_frames(vid_path: str, temp_burst_dir: str,
                            frame_rate: Optional[float] = None) -> List[str]:
    """Burst a video into JPEG files and return their paths in frame order.

    Works for any number of frames (the file names are sorted numerically).
    See :func:`burst_frames_to_shm` for the parameters and errors.
    """
    burst_frames_to_shm(vid_path, temp_burst_dir, frame_rate=frame_rate)
    return sorted(glob.glob(os.path.join(glob.escape(temp_burst_dir), "*.jpg")),
                  key=_numeric_key)


# ------------------------------------------------------------------- images
def resize_by_short_edge(img: Union[np.ndarray, str], size: int) -> np.ndarray:
    """Resize an image so that its shorter edge is ``size`` pixels.

    The longer edge becomes ``int(size * long / short)``; the aspect ratio is
    kept.  ``size < 1`` returns the image unchanged.

    Parameters
    ----------
    img : numpy.ndarray or str
        An image array (as OpenCV gives it) or the path of an image file.
    size : int
        Target length of the shorter edge; ``-1`` keeps the image as it is.

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    ImageNotFound
        ``img`` is a path that does not exist or does not decode.
    """
    if isinstance(img, (str, os.PathLike)):
        path = os.fspath(img)
        img = cv2.imread(path)
        if img is None:
            reason = "does not exist" if not os.path.exists(path) else "does not decode as an image"
            raise ImageNotFound(f"image {path} {reason}")
    size = int(size)
    if size < 1:
        return img
    height, width = img.shape[:2]
    if height < width:
        new_size = (int(size * (width / float(height))), size)
    else:
        new_size = (size, int(size * (height / float(width))))
    return cv2.resize(img, new_size)


def resize_images(imgs: Iterable[Union[str, np.ndarray]], img_size: int = -1) -> Iterator[np.ndarray]:
    """Yield each image (path or array) resized by its short edge.

    Parameters
    ----------
    imgs : iterable of str or numpy.ndarray
    img_size : int
        See :func:`resize_by_short_edge`.

    Raises
    ------
    ImageNotFound
        A path that does not exist or does not decode.
    """
    for img in imgs:
        yield resize_by_short_edge(img, img_size)


def find_images_in_folder(folder: str, formats: Sequence[str] = ("jpg",)) -> List[str]:
    """Sorted paths of the files in ``folder`` with one of the extensions.

    Parameters
    ----------
    folder : str
    formats : sequence of str
        Extensions without the dot (``['jpg', 'png']``); every one is used.
    """
    if isinstance(formats, str):
        formats = [formats]
    images: List[str] = []
    for format_ in formats:
        images.extend(glob.glob(os.path.join(glob.escape(folder), "*." + format_.lstrip("."))))
    return sorted(set(images))


def get_single_video_path(folder_name: str, format_: str = "mp4") -> str:
    """The one video file with extension ``format_`` in ``folder_name``.

    Raises
    ------
    VideoNotFound
        The folder does not exist, holds no such file or more than one.
    """
    if not os.path.isdir(folder_name):
        raise VideoNotFound(f"video folder {folder_name} does not exist")
    candidates = sorted(glob.glob(os.path.join(glob.escape(folder_name), "*." + format_.lstrip("."))))
    if not candidates:
        raise VideoNotFound(f"no .{format_.lstrip('.')} video in {folder_name}")
    if len(candidates) > 1:
        raise VideoNotFound(
            f"expected one .{format_.lstrip('.')} video in {folder_name}, found {len(candidates)}: "
            + ", ".join(os.path.basename(c) for c in candidates))
    return candidates[0]


# --------------------------------------------------------------- duplicates
def _existing_ids(output_directory: str) -> List[str]:
    """Ids stored in the complete chunks of ``output_directory`` (none if absent)."""
    if not output_directory or not os.path.isdir(output_directory):
        return []
    from .fileio import GulpDirectory  # fileio imports nothing from here; keep it lazy anyway

    return list(GulpDirectory(output_directory).ids())


def remove_entries_with_duplicate_ids(output_directory: str,
                                      meta_dict: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Drop entries whose id repeats in ``meta_dict`` or is already stored.

    Parameters
    ----------
    output_directory : str
        A gulp directory (it may not exist yet: then no id is stored).
    meta_dict : list of dict
        Entries with an ``'id'`` key, in input order.

    Returns
    -------
    list of dict
        The entries to ingest: the first occurrence of every id that is not
        yet in ``output_directory``, in input order.
    """
    existing = set(_existing_ids(output_directory))
    seen = set()
    kept = []
    repeated = 0
    for entry in meta_dict:
        try:
            key = str(entry["id"])
        except (KeyError, TypeError) as exc:
            raise InvalidInputError(f"entry without an 'id': {entry!r}") from exc
        if key in seen:
            repeated += 1
            continue
        seen.add(key)
        if key in existing:
            continue
        kept.append(entry)
    if repeated:
        logger.info("removed %d entries whose id repeats in the input", repeated)
    already = len(meta_dict) - repeated - len(kept)
    if already:
        logger.info("removed %d entries already stored in %s", already, output_directory)
    return kept
