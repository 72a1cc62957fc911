"""Map-style datasets over a gulp directory: item ``i`` -> (data, label index).

Both datasets keep their per-item tables compact (numpy arrays of frame
counts and label indices, one numpy string array of ids), so that forked
loader workers share them instead of copying them page by page, and so that
pickling them to spawned workers is cheap.  They work unchanged under
:class:`gulpio.loader.DataLoader` and PyTorch's ``torch.utils.data``.
"""
import json
import logging
import numbers
import operator
from typing import (Any, Callable, Iterable, Iterator, List, Optional,
                    Sequence, Tuple)

import numpy as np

from gulpio._collate import batch_space, collate
from gulpio._format import label2idx_path
from gulpio.errors import GulpIOEmptyFolder, InvalidInputError
from gulpio.fileio import GulpDirectory
from gulpio.transforms import ComposeVideo

__all__ = ["GulpVideoDataset", "GulpImageDataset", "GulpIOEmptyFolder",
           "clip_slice"]

logger = logging.getLogger(__name__)


def clip_slice(num_stored: int, num_frames: int, step_size: int,
               random_start: bool) -> Tuple[slice, int]:
    """Which stored frames make a clip, and how many to pad.

    Parameters
    ----------
    num_stored : int
        Frames stored for the item.
    num_frames : int
        Frames wanted; ``-1`` means every ``step_size``-th frame of all.
    step_size : int
        Distance between the chosen frames.
    random_start : bool
        Draw the start offset uniformly from every offset at which the clip
        fits (``0 .. num_stored - span``, both ends included, where
        ``span = (num_frames - 1) * step_size + 1``); else start at 0.

    Returns
    -------
    (slice, int)
        The slice of stored frames to read, and how many copies of the last
        read frame to append so that the clip has ``num_frames`` frames.
    """
    if num_frames == -1:
        return slice(0, num_stored, step_size), 0
    span = (num_frames - 1) * step_size + 1
    if num_stored < span:
        available = -(-num_stored // step_size)  # ceil division
        return slice(0, num_stored, step_size), num_frames - available
    last_start = num_stored - span
    start = 0
    if random_start and last_start > 0:
        start = int(np.random.randint(0, last_start + 1))
    return slice(start, start + span, step_size), 0


class _GulpLabelledDataset:
    """Shared part: the directory, the item table and the labels."""

    def __init__(self, data_path: str, transform: Optional[Callable],
                 target_transform: Optional[Callable],
                 reduction: int = 1) -> None:
        self.data_path = data_path
        self.gd = GulpDirectory(data_path, reduction=reduction)
        self.num_chunks = self.gd.num_chunks
        if self.num_chunks == 0:
            raise GulpIOEmptyFolder(
                f"Found 0 gulp chunks (data_N.gulp / meta_N.gmeta) in "
                f"{data_path}")
        logger.info("%s: found %d chunks", data_path, self.num_chunks)
        self.label2idx = self._read_label2idx(data_path)
        self.classes: List[str] = list(self.label2idx)
        ids = self.gd.ids()
        self._ids = np.array(ids, dtype=str)
        self._num_stored = self.gd.frame_counts().astype(np.int64)
        self._labels = np.fromiter(
            (self._label_index(id_, meta)
             for id_, meta in zip(ids, self.gd.metas())),
            dtype=np.int64, count=len(ids))
        self.transform = transform
        self.target_transform = target_transform

    @staticmethod
    def _read_label2idx(data_path: str) -> dict:
        path = label2idx_path(data_path)
        try:
            with open(path, encoding="utf-8") as fp:
                label2idx = json.load(fp)
        except FileNotFoundError:
            raise FileNotFoundError(
                f"{path} not found: the datasets need the label index that "
                "the label-aware adapters write") from None
        except ValueError as exc:
            raise InvalidInputError(f"{path} is not valid JSON: {exc}") from None
        if not isinstance(label2idx, dict) or not all(
                isinstance(v, int) for v in label2idx.values()):
            raise InvalidInputError(
                f"{path} must map label strings to integer indices")
        return label2idx

    def _label_index(self, id_: str, meta: dict) -> int:
        if "label" not in meta:
            raise InvalidInputError(
                f"item {id_!r} in {self.data_path} has no 'label' in its "
                f"meta data ({sorted(meta)})")
        label = meta["label"]
        try:
            return self.label2idx[label]
        except (KeyError, TypeError):
            pass
        # JSON keys are strings: an adapter that stores a number as the label
        # writes it to label2idx.json as text.
        if isinstance(label, numbers.Number) and not isinstance(label, bool):
            try:
                return self.label2idx[str(label)]
            except KeyError:
                pass
        raise InvalidInputError(
                f"label {label!r} of item {id_!r} is not in "
                f"{label2idx_path(self.data_path)}")

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def ids(self) -> List[str]:
        """Item ids in dataset order."""
        return self._ids.tolist()

    def _item(self, index: int) -> Tuple[str, int]:
        try:  # ints, numpy integers, 0-d integer tensors
            if isinstance(index, (bool, np.bool_)):
                raise TypeError
            index = operator.index(index)
        except TypeError:
            raise TypeError(f"dataset indices must be integers, got "
                            f"{type(index).__name__} {index!r}") from None
        n = len(self._ids)
        if not -n <= index < n:
            raise IndexError(f"index {index} is out of range for a dataset "
                             f"of {n} items")
        if self._num_stored[index] == 0:
            raise InvalidInputError(
                f"item {str(self._ids[index])!r} in {self.data_path} has no "
                "frames")
        return str(self._ids[index]), int(self._labels[index])

    def _load_frames(self, id_: str, slice_: Optional[slice]) -> List[np.ndarray]:
        """Read frames of ``id_`` (a subclass may read them its own way;
        every path then reads through this method)."""
        frames, _ = self.gd[id_, slice_] if slice_ is not None else self.gd[id_]
        return frames

    def _target(self, label: int) -> Any:
        if self.target_transform is not None:
            return self.target_transform(label)
        return label


def _padded(frames: Iterator[np.ndarray], pad: int) -> Iterator[np.ndarray]:
    """``frames`` (at least one), then ``pad`` more times the last of them."""
    for last in frames:
        yield last
    for _ in range(pad):
        yield last


class GulpVideoDataset(_GulpLabelledDataset):
    """Clips of the videos in a gulp directory.

    Parameters
    ----------
    data_path : str
        The gulp directory (with ``label2idx.json``).
    num_frames : int
        Frames per clip; ``-1`` takes every ``step_size``-th frame of the
        whole video.
    step_size : int
        Distance between the frames of a clip.
    is_val : bool
        Validation: clips always start at the first frame.
    transform : callable, optional
        Applied to the list of a clip's frames (e.g.
        :class:`gulpio.transforms.ComposeVideo`).
    target_transform : callable, optional
        Applied to the label index.
    stack : bool
        Return the clip as one array ``(T, H, W, C)`` (``(T, H, W)`` for
        grayscale) instead of a list of frames.
    random_offset : bool
        In training, start a clip at a random frame when the video is longer
        than the clip (every possible start, the last one included).
    reduction : int
        Opt-in (beyond the original): decode frames at 1/2, 1/4 or 1/8 of
        their stored size (2, 4, 8) through the JPEG decoder's DCT scaling.
        Worth it when the transforms scale the frames down by that much
        anyway; default 1 (stored size).

    Raises
    ------
    GulpIOEmptyFolder
        When ``data_path`` holds no chunks.
    FileNotFoundError
        When ``label2idx.json`` is missing.
    InvalidInputError
        When an item's label is not in ``label2idx.json``.

    Notes
    -----
    A video shorter than the clip is read from its first frame and padded
    with copies of its last read frame up to ``num_frames``.
    """

    def __init__(self, data_path: str, num_frames: int, step_size: int,
                 is_val: bool, transform: Optional[Callable] = None,
                 target_transform: Optional[Callable] = None,
                 stack: bool = True, random_offset: bool = True,
                 reduction: int = 1) -> None:
        if (not isinstance(num_frames, (int, np.integer))
                or not (num_frames == -1 or num_frames >= 1)):
            raise ValueError(f"num_frames must be a positive int or -1, got "
                             f"{num_frames!r}")
        if not isinstance(step_size, (int, np.integer)) or step_size < 1:
            raise ValueError(f"step_size must be a positive int, got "
                             f"{step_size!r}")
        super().__init__(data_path, transform, target_transform, reduction)
        self.num_frames = int(num_frames)
        self.step_size = int(step_size)
        self.is_val = is_val
        self.stack = stack
        self.random_offset = random_offset
        # The original's name for the clip transform.
        self.transform_video = transform

    def __getitem__(self, index: int) -> Tuple[Any, Any]:
        return self._clip(index)

    def _clip(self, index: int, out: Optional[np.ndarray] = None
              ) -> Tuple[Any, Any]:
        """``self[index]``; a fused pipeline writes the clip into ``out``
        when it fits (see :meth:`ComposeVideo._stacked`)."""
        id_, label = self._item(index)
        slice_, pad = clip_slice(int(self._num_stored[index]), self.num_frames,
                                 self.step_size,
                                 self.random_offset and not self.is_val)
        if self.stack and self.transform is None and self._reads_gulp_files():
            # Decode straight into one array; padding repeats an index,
            # whose frame is decoded once.
            indices = np.arange(int(self._num_stored[index]))[slice_]
            if pad:
                indices = np.concatenate([indices, np.repeat(indices[-1], pad)])
            return self.gd.read_clip(id_, indices), self._target(label)
        if self.stack and type(self.transform) is ComposeVideo:
            # Same result as below; a fast path for common pipelines, given
            # the frames as they are decoded.
            frames = self._clip_frames(id_, slice_, pad, lazily=True)
            return self.transform._stacked(frames, out), self._target(label)
        frames = self._clip_frames(id_, slice_, pad)
        if self.transform is not None:
            frames = self.transform(frames)
        if self.stack:
            frames = np.stack(frames)
        return frames, self._target(label)

    def _reads_gulp_files(self) -> bool:
        """Whether frames are read this class's way (no own
        ``_load_frames``, and ``gd`` a :class:`GulpDirectory` whose
        ``__getitem__`` is its own), so fast paths may read the files."""
        return ("_load_frames" not in vars(self)
                and type(self)._load_frames is _GulpLabelledDataset._load_frames
                and type(self.gd).__getitem__ is GulpDirectory.__getitem__)

    def _clip_frames(self, id_: str, slice_: slice, pad: int,
                     lazily: bool = False) -> Iterable[np.ndarray]:
        """The frames of a clip, the last repeated ``pad`` more times.

        ``lazily``: an iterator that decodes each frame when it is asked
        for, when :meth:`_reads_gulp_files`.
        """
        if lazily and self._reads_gulp_files():
            frames = self.gd._iter_frames(id_, slice_)
            return _padded(frames, pad) if pad else frames
        frames = self._load_frames(id_, slice_)
        if pad:
            if len(frames) == 0:
                raise InvalidInputError(
                    f"reading id {id_!r} from {self.data_path} gave no frames "
                    "to pad the clip with")
            frames.extend([frames[-1]] * pad)
        return frames

    def _collate_batch(self, indices: Sequence[Any], stack: Any) -> Any:
        """The batch ``default_collate`` makes of ``self[i]`` for
        ``indices``, with every clip written straight into it; for pipelines
        that :meth:`ComposeVideo._stacked` fuses (NotImplemented otherwise).
        Used by :class:`gulpio.loader.DataLoader`."""
        if (len(indices) < 2 or not self.stack
                or type(self.transform) is not ComposeVideo
                or not self.transform._fusable()
                or type(self).__getitem__ is not GulpVideoDataset.__getitem__
                or type(self)._clip is not GulpVideoDataset._clip):
            return NotImplemented
        first, target = self._clip(indices[0])
        space = batch_space(stack, (len(indices),) + first.shape, first.dtype)
        try:
            space.array[0] = first
            samples = [(first, target)]
            fits = True
            for k, index in enumerate(indices[1:], 1):
                slot = space.array[k] if fits else None
                clip, target = self._clip(index, slot)
                fits = fits and clip is slot
                samples.append((clip, target))
            if not fits:
                # A clip of another shape: what default_collate makes of
                # the samples (an error, unless only the types differ).
                samples = [(np.array(clip), target) for clip, target in samples]
                space.discard()
                return collate(samples, stack)
            targets = collate([target for _, target in samples], stack)
            return [space.result(), targets]
        except BaseException:
            slot = samples = None  # no views of the space left here
            space.discard()
            raise


class GulpImageDataset(_GulpLabelledDataset):
    """Images (one-frame items) of a gulp directory.

    Parameters
    ----------
    data_path : str
        The gulp directory (with ``label2idx.json``).
    is_val : bool
        Kept for compatibility; images are read the same way either way.
    transform : callable, optional
        Applied to the image (e.g. :class:`gulpio.transforms.Compose`).
    target_transform : callable, optional
        Applied to the label index.
    reduction : int
        Opt-in: decode at 1/2, 1/4 or 1/8 of the stored size (see
        :class:`GulpVideoDataset`).

    Raises
    ------
    GulpIOEmptyFolder, FileNotFoundError, InvalidInputError
        As :class:`GulpVideoDataset`.
    """

    def __init__(self, data_path: str, is_val: bool = False,
                 transform: Optional[Callable] = None,
                 target_transform: Optional[Callable] = None,
                 reduction: int = 1) -> None:
        super().__init__(data_path, transform, target_transform, reduction)
        self.is_val = is_val

    def __getitem__(self, index: int) -> Tuple[Any, Any]:
        id_, label = self._item(index)
        img = self._load_frames(id_, slice(0, 1))[0]
        if self.transform is not None:
            img = self.transform(img)
        return img, self._target(label)
