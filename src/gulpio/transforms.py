"""Data augmentation on numpy images (``H x W x C`` or 2-D grayscale).

Image transforms take one array and return one array.  Video transforms
(names ending in ``Video``) take the list of a clip's frames and return a
list; each of them draws its random parameters once per call, so every frame
of a clip gets the same flip, the same crop box, the same crop size.

Random draws use NumPy's global random state (``numpy.random``), which
:class:`gulpio.loader.DataLoader` (and PyTorch's loader) seed differently in
every worker and every epoch.

Sizes follow two conventions, as in the original library: crop sizes are
``(height, width)`` (an int means a square), while an explicit
:class:`Scale` size is ``(width, height)``, OpenCV's order.
"""
import numbers
from typing import (Any, Callable, Iterable, Iterator, List, Optional,
                    Sequence, Tuple, Union)

import cv2
import numpy as np

__all__ = [
    "Compose", "ComposeVideo", "RandHorFlipVideo", "RandVerFlipVideo",
    "Normalize", "UnitNorm", "CenterCrop", "RandomCrop", "RandomCropVideo",
    "JitterCrop", "JitterCropVideo", "Scale",
]

Size = Union[int, Tuple[int, int]]

# Element types cv2.meanStdDev accepts.
_CV_DEPTHS = {np.dtype(t) for t in (np.uint8, np.int8, np.uint16, np.int16,
                                    np.int32, np.float32, np.float64)}


# ---------------------------------------------------------------- helpers

def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _as_hw(size: Size, name: str = "size") -> Tuple[int, int]:
    """``(height, width)`` of a crop size given as a number or a pair
    (numbers are truncated to ints: ``224 * 0.875`` is a size of 196)."""
    if _is_number(size):
        pair = (int(size), int(size))
    elif (isinstance(size, (Sequence, np.ndarray)) and len(size) == 2
          and all(_is_number(s) for s in size)):
        pair = (int(size[0]), int(size[1]))
    else:
        raise ValueError(
            f"{name} must be an int or a (height, width) pair of ints, "
            f"got {size!r}")
    if pair[0] <= 0 or pair[1] <= 0:
        raise ValueError(f"{name} must be positive, got {size!r}")
    return pair


def _check_image(img: np.ndarray) -> None:
    if not isinstance(img, np.ndarray) or img.ndim not in (2, 3):
        shape = getattr(img, "shape", None)
        raise ValueError(
            "expected an image as a numpy array of shape (H, W) or "
            f"(H, W, C), got {type(img).__name__} with shape {shape}")


def _resize(img: np.ndarray, width: int, height: int,
            interpolation: int) -> np.ndarray:
    """cv2.resize that keeps a trailing channel axis of length 1."""
    out = cv2.resize(img, (width, height), interpolation=interpolation)
    if img.ndim == 3 and out.ndim == 2:
        out = out[:, :, np.newaxis]
    return out


# OpenCV border modes as numpy.pad modes, for element types OpenCV would
# convert (int64 to int32, for one).
_NUMPY_PAD_MODES = {cv2.BORDER_CONSTANT: "constant", cv2.BORDER_REPLICATE: "edge",
                    cv2.BORDER_REFLECT: "symmetric", cv2.BORDER_REFLECT_101: "reflect",
                    cv2.BORDER_WRAP: "wrap"}


def _pad(img: np.ndarray, padding: int, pad_method: int) -> np.ndarray:
    if padding <= 0:
        return img
    if img.dtype not in _CV_DEPTHS:
        mode = _NUMPY_PAD_MODES.get(pad_method)
        if mode is None:
            raise ValueError(f"pad_method {pad_method} cannot pad an image of "
                             f"dtype {img.dtype}")
        widths = ((padding, padding), (padding, padding)) + ((0, 0),) * (img.ndim - 2)
        return np.pad(img, widths, mode=mode)
    out = cv2.copyMakeBorder(img, padding, padding, padding, padding,
                             pad_method, value=0)
    if img.ndim == 3 and out.ndim == 2:
        out = out[:, :, np.newaxis]
    return out


def _check_padding(padding: int) -> int:
    if (not isinstance(padding, numbers.Integral) or isinstance(padding, bool)
            or padding < 0):
        raise ValueError(
            f"padding must be a non-negative int, got {padding!r}")
    return int(padding)


def _random_box(height: int, width: int, crop_h: int,
                crop_w: int) -> Tuple[int, int]:
    """Top-left corner of a crop box drawn uniformly, every position possible."""
    if crop_h > height or crop_w > width:
        raise ValueError(
            f"crop size {crop_h}x{crop_w} (height x width) is larger than "
            f"the (padded) image {height}x{width}; scale the image first "
            "or pass padding")
    top = int(np.random.randint(0, height - crop_h + 1))
    left = int(np.random.randint(0, width - crop_w + 1))
    return top, left


def _along_row(mean: np.ndarray, inv_std: np.ndarray,
               width: int) -> np.ndarray:
    """``mean`` and ``inv_std`` (one value per channel) repeated for
    ``width`` pixels: a ``(2, width * C)`` array, one row each."""
    rows = np.empty((2, width, len(mean)), dtype=np.float32)
    rows[0] = mean
    rows[1] = inv_std
    return rows.reshape(2, -1)


def _unit_stats(img: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Per-channel ``float32`` mean and reciprocal standard deviation of a
    non-empty image (a constant channel gets 1 for its deviation)."""
    if img.dtype.kind not in "biuf":
        raise TypeError(f"UnitNorm needs an image of real numbers, got dtype "
                        f"{img.dtype}")
    channels = 1 if img.ndim == 2 else img.shape[2]
    if channels == 3 and img.dtype == np.uint8:
        # OpenCV's statistics have no vectorised path for 3 channels: with
        # a fourth one added they are over twice as fast, and since the
        # sums of 8-bit values are exact, the results are the same bit for
        # bit.
        mean, std = cv2.meanStdDev(cv2.cvtColor(img, cv2.COLOR_RGB2RGBA))
        mean = mean[:3, 0].astype(np.float32)
        std = std[:3, 0].astype(np.float32)
    elif channels <= 4 and img.dtype in _CV_DEPTHS:
        # OpenCV's one-pass statistics: several times faster than numpy's
        # reductions over the two leading axes of an HWC array.
        mean, std = cv2.meanStdDev(np.ascontiguousarray(img))
        mean = mean.reshape(-1).astype(np.float32)
        std = std.reshape(-1).astype(np.float32)
    else:
        data = img.reshape(-1, channels).astype(np.float64)
        mean = data.mean(axis=0).astype(np.float32)
        std = data.std(axis=0).astype(np.float32)
    std[std == 0] = 1.0
    return mean, np.float32(1.0) / std


def _unit_apply(img: np.ndarray, mean: np.ndarray, inv_std: np.ndarray,
                out: np.ndarray) -> None:
    """``out = (img - mean) * inv_std`` in ``float32``, per channel.

    ``out`` is C-contiguous with ``img``'s shape; ``img`` may be any view.
    """
    # Converting with a plain copy and then subtracting in place is cheaper
    # than numpy's casting inside the subtraction.  Per-channel values are
    # repeated along a row, so that numpy runs long contiguous inner loops
    # instead of ones of length C.
    if img.size == 0:
        return
    height = img.shape[0]
    rows = out.reshape(height, -1)
    if img.ndim == 2:
        rows[...] = img
        mean_row, inv_std_row = mean[0], inv_std[0]
    else:
        rows[...] = img.reshape(height, -1)
        mean_row, inv_std_row = _along_row(mean, inv_std, img.shape[1])
    np.subtract(rows, mean_row, out=rows)
    np.multiply(rows, inv_std_row, out=rows)


def _each_over_all(transforms: Sequence[Callable],
                   frames: Iterable[Any]) -> List[Any]:
    """Transform after transform, each over every frame in turn."""
    frames = list(frames)
    for transform in transforms:
        frames = [transform(frame) for frame in frames]
    return frames


def _raise_in_plain_order(error: Exception, before: Sequence[Callable],
                          rest: Iterator[np.ndarray]) -> None:
    """Raise what transform after transform would have raised, where
    taking frames one at a time through the transforms failed with
    ``error`` in the transform that comes after ``before``.

    Transform after transform, every frame is read first (so a frame that
    cannot be decoded raises here), and the ``before`` transforms run over
    the remaining frames before the failing transform runs at all.
    """
    _each_over_all(before, rest)
    raise error


def _stack_into(frames: Sequence[np.ndarray], out: Optional[np.ndarray]) -> np.ndarray:
    """``np.stack(frames)``, into ``out`` when it has the stack's shape and type."""
    stacked = np.stack(frames)  # its checks and its result type
    if out is None or out.shape != stacked.shape or out.dtype != stacked.dtype:
        return stacked
    out[...] = stacked
    return out


def _same_shape_images(frames: Sequence[Any]) -> bool:
    """Whether ``frames`` are non-empty images, all of one shape."""
    if not frames:
        return False
    shape = getattr(frames[0], "shape", None)
    return all(isinstance(frame, np.ndarray) and frame.ndim in (2, 3)
               and frame.size and frame.shape == shape for frame in frames)


def _frame_shape(frames: Sequence[np.ndarray]) -> Tuple[int, int]:
    if len(frames) == 0:
        raise ValueError("a video transform got a clip without frames")
    _check_image(frames[0])
    return frames[0].shape[0], frames[0].shape[1]


# ---------------------------------------------------------------- composition

class Compose:
    """Apply image transforms one after the other.

    Parameters
    ----------
    transforms : list of callables
        Each takes and returns an image.
    """

    def __init__(self, transforms: Sequence[Callable]) -> None:
        self.transforms = list(transforms)

    def __call__(self, img):
        for transform in self.transforms:
            img = transform(img)
        return img

    def __repr__(self) -> str:
        inner = ", ".join(repr(t) for t in self.transforms)
        return f"{type(self).__name__}([{inner}])"


class ComposeVideo:
    """Transform a clip: image transforms frame by frame, then video transforms.

    Parameters
    ----------
    img_transforms : list of callables
        Applied to every frame separately (in order).
    video_transforms : list of callables
        Applied to the whole list of frames afterwards (in order); a random
        video transform draws once per clip.
    """

    def __init__(self, img_transforms: Sequence[Callable] = (),
                 video_transforms: Sequence[Callable] = ()) -> None:
        self.img_transforms = list(img_transforms)
        self.video_transforms = list(video_transforms)

    def __call__(self, frames: Sequence[np.ndarray]) -> List[np.ndarray]:
        return self._apply(frames, self.img_transforms)

    def _apply(self, frames: Iterable[np.ndarray],
               img_transforms: Sequence[Callable]) -> List[np.ndarray]:
        """``img_transforms`` frame by frame, then the video transforms."""
        frames = _each_over_all(img_transforms, frames)
        for transform in self.video_transforms:
            frames = transform(frames)
        return frames

    def _stacked(self, frames: Iterable[np.ndarray],
                 out: Optional[np.ndarray] = None) -> np.ndarray:
        """``np.stack(self(frames))``, with the same random draws.

        ``frames`` may be an iterator (read once).  With ``out`` the clip
        is written into it when its shape and type fit (and ``out`` is
        returned); otherwise a new array is returned.

        The common clip pipelines take a fast path with the same result:
        image transforms ending in :class:`UnitNorm`, then video transforms
        that only cut out or mirror (:class:`RandomCropVideo` and
        :class:`JitterCropVideo` without padding, :class:`RandHorFlipVideo`,
        :class:`RandVerFlipVideo`).  Each frame's statistics come from the
        whole frame as usual, but only the region the video transforms
        keep is normalised, straight into the clip array: no normalised
        pixels are thrown away and no copy is needed to stack the frames.
        """
        if not self._fusable():
            return _stack_into(self(frames), out)
        frames = self._before_unit_norm(frames)
        if not _same_shape_images(frames):
            # The plain way, for its results or its errors.
            return _stack_into(self._apply(frames, self.img_transforms[-1:]), out)
        # Statistics first: UnitNorm's errors come before any video
        # transform draws, as in the plain way.
        stats = [_unit_stats(frame) for frame in frames]
        # The video transforms as indexing, drawn in order, each from the
        # shape the previous ones leave.
        region = np.broadcast_to(False, frames[0].shape[:2])  # for its shape
        views = []
        for transform in self.video_transforms:
            view = transform._view(*region.shape)
            if view is not None:
                views.append(view)
                region = region[view]
        shape = (len(frames),) + region.shape + frames[0].shape[2:]
        clip = (out if out is not None and out.shape == shape
                and out.dtype == np.float32 and out.flags.c_contiguous else
                np.empty(shape, dtype=np.float32))
        for frame, (mean, inv_std), frame_out in zip(frames, stats, clip):
            kept = frame
            for view in views:
                kept = kept[view]
            _unit_apply(kept, mean, inv_std, frame_out)
        return clip

    def _before_unit_norm(self, frames: Iterable[np.ndarray]
                          ) -> List[np.ndarray]:
        """The image transforms before the final :class:`UnitNorm`, over
        every frame of ``frames`` (a list, or an iterator that decodes
        each frame when it is asked for)."""
        head = self.img_transforms[:-1]
        if all(type(t) in _PER_FRAME_TRANSFORMS for t in head):
            # These draw nothing, so taking each frame through all of them
            # before the next gives the results of transform after
            # transform.  The frame is still in the CPU's cache, and
            # (unless a transform returns a view of it) a decoded frame is
            # dropped before the next one is decoded.
            done = []
            frames = iter(frames)
            for frame in frames:
                failed = None
                for step, transform in enumerate(head):
                    try:
                        frame = transform(frame)
                    except Exception as error:
                        failed = error, step
                        break
                if failed is not None:
                    # Outside the handler: an error found there is not
                    # chained to this one.
                    _raise_in_plain_order(failed[0], head[:failed[1]], frames)
                done.append(frame)
            return done
        return _each_over_all(head, frames)

    def _fusable(self) -> bool:
        """Whether :meth:`_stacked` can fuse the final :class:`UnitNorm`
        with the video transforms."""
        return (bool(self.img_transforms)
                and type(self.img_transforms[-1]) is UnitNorm
                and all(type(t) in _VIEW_TRANSFORMS and getattr(t, "padding", 0) == 0
                        for t in self.video_transforms))

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(img_transforms={self.img_transforms!r}, "
                f"video_transforms={self.video_transforms!r})")


# ---------------------------------------------------------------- flips

class RandHorFlipVideo:
    """Mirror all frames of a clip left-right with probability ``p``."""

    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def __call__(self, frames: Sequence[np.ndarray]) -> List[np.ndarray]:
        if np.random.random_sample() < self.p:
            return [np.ascontiguousarray(frame[:, ::-1]) for frame in frames]
        return list(frames)

    def _view(self, height: int, width: int) -> Any:
        """Draw as :meth:`__call__` does; the indexing it applies, or None."""
        if np.random.random_sample() < self.p:
            return (slice(None), slice(None, None, -1))
        return None


class RandVerFlipVideo:
    """Flip all frames of a clip upside down with probability ``p``."""

    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def __call__(self, frames: Sequence[np.ndarray]) -> List[np.ndarray]:
        if np.random.random_sample() < self.p:
            return [np.ascontiguousarray(frame[::-1]) for frame in frames]
        return list(frames)

    def _view(self, height: int, width: int) -> Any:
        """Draw as :meth:`__call__` does; the indexing it applies, or None."""
        if np.random.random_sample() < self.p:
            return slice(None, None, -1)
        return None


# ---------------------------------------------------------------- normalisation

class Normalize:
    """Subtract ``mean`` and divide by ``std``, per channel.

    Parameters
    ----------
    mean, std : float or sequence of floats
        One value, or one value per channel (last axis).

    Returns ``float32`` arrays of the input's shape.
    """

    def __init__(self, mean, std) -> None:
        self.mean = np.asarray(mean, dtype=np.float32)
        self.std = np.asarray(std, dtype=np.float32)
        if np.any(self.std == 0):
            raise ValueError(f"std must not contain zeros, got {std!r}")

    def __call__(self, img: np.ndarray) -> np.ndarray:
        _check_image(img)
        channels = 1 if img.ndim == 2 else img.shape[2]
        for name, values in (("mean", self.mean), ("std", self.std)):
            if values.size > 1 and values.size != channels:
                raise ValueError(
                    f"Normalize: {name} has {values.size} values but the image "
                    f"has {channels} channel(s) (shape {img.shape})")
        return (img.astype(np.float32) - self.mean) / self.std

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(mean={self.mean.tolist()}, "
                f"std={self.std.tolist()})")


class UnitNorm:
    """Instance normalisation: zero mean and unit variance per channel.

    A colour image is normalised per channel over its pixels, a grayscale
    image over all pixels.  A constant channel becomes zeros.  Returns
    ``float32``; an image whose elements are not real numbers (bool,
    integers, floats) is a ``TypeError``.
    """

    def __call__(self, img: np.ndarray) -> np.ndarray:
        _check_image(img)
        out = np.empty(img.shape, dtype=np.float32)
        if img.size:
            _unit_apply(img, *_unit_stats(img), out)
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


# ---------------------------------------------------------------- resizing

class Scale:
    """Resize an image.

    Parameters
    ----------
    size : int or (width, height)
        An int sets the shorter edge to ``size`` and keeps the aspect ratio;
        a pair is the exact output size, OpenCV's ``(width, height)`` order.
    interpolation : int
        OpenCV interpolation flag.
    """

    def __init__(self, size: Size, interpolation: int = cv2.INTER_LINEAR) -> None:
        if isinstance(size, numbers.Integral) and not isinstance(size, bool):
            if size <= 0:
                raise ValueError(f"size must be positive, got {size!r}")
            self.size: Size = int(size)
        elif (isinstance(size, Sequence) and len(size) == 2
              and all(isinstance(s, numbers.Integral) and s > 0 for s in size)):
            self.size = (int(size[0]), int(size[1]))
        else:
            raise ValueError(
                f"size must be an int or a (width, height) pair, got {size!r}")
        self.interpolation = interpolation

    def __call__(self, img: np.ndarray) -> np.ndarray:
        _check_image(img)
        height, width = img.shape[:2]
        if isinstance(self.size, tuple):
            out_w, out_h = self.size
        else:
            if min(height, width) == self.size:
                return img
            if width < height:
                out_w = self.size
                out_h = max(1, int(self.size * height / width))
            else:
                out_h = self.size
                out_w = max(1, int(self.size * width / height))
        if (out_h, out_w) == (height, width):
            return img
        return _resize(img, out_w, out_h, self.interpolation)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size!r})"


# ---------------------------------------------------------------- crops

class CenterCrop:
    """Cut the central ``size`` region out of an image.

    An image smaller than the crop in either dimension is first scaled up,
    keeping its aspect ratio, until the crop fits (the original crashed).

    Parameters
    ----------
    size : int or (height, width)
    """

    def __init__(self, size: Size) -> None:
        self.size = _as_hw(size)

    def __call__(self, img: np.ndarray) -> np.ndarray:
        _check_image(img)
        crop_h, crop_w = self.size
        height, width = img.shape[:2]
        if height < crop_h or width < crop_w:
            factor = max(crop_h / height, crop_w / width)
            new_h = max(crop_h, int(np.ceil(height * factor)))
            new_w = max(crop_w, int(np.ceil(width * factor)))
            img = _resize(img, new_w, new_h, cv2.INTER_LINEAR)
            height, width = new_h, new_w
        top = int(round((height - crop_h) / 2.0))
        left = int(round((width - crop_w) / 2.0))
        return img[top:top + crop_h, left:left + crop_w]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size!r})"


class RandomCrop:
    """Cut a ``size`` region at a random position.

    Parameters
    ----------
    size : int or (height, width)
    padding : int
        Border added on every side *before* the crop box is drawn, so the
        box can reach into the border.
    pad_method : int
        OpenCV border type used for the padding (zeros by default).

    Raises
    ------
    ValueError
        When the padded image is smaller than the crop.
    """

    def __init__(self, size: Size, padding: int = 0,
                 pad_method: int = cv2.BORDER_CONSTANT) -> None:
        self.size = _as_hw(size)
        self.padding = _check_padding(padding)
        self.pad_method = pad_method

    def __call__(self, img: np.ndarray) -> np.ndarray:
        _check_image(img)
        img = _pad(img, self.padding, self.pad_method)
        crop_h, crop_w = self.size
        top, left = _random_box(img.shape[0], img.shape[1], crop_h, crop_w)
        return img[top:top + crop_h, left:left + crop_w]

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(size={self.size!r}, "
                f"padding={self.padding})")


class RandomCropVideo(RandomCrop):
    """:class:`RandomCrop` with one crop box for all frames of a clip."""

    def __call__(self, frames: Sequence[np.ndarray]) -> List[np.ndarray]:
        height, width = _frame_shape(frames)
        top, left = self._box(height, width)
        crop_h, crop_w = self.size
        pad = self.padding
        return [_pad(frame, pad, self.pad_method)[top:top + crop_h,
                                                  left:left + crop_w]
                for frame in frames]

    def _box(self, height: int, width: int) -> Tuple[int, int]:
        """Draw the top-left corner (in padded coordinates) for a clip of
        ``height x width`` frames."""
        pad = self.padding
        return _random_box(height + 2 * pad, width + 2 * pad, *self.size)

    def _view(self, height: int, width: int) -> Any:
        """Draw as :meth:`__call__` does (without padding); the indexing."""
        top, left = self._box(height, width)
        return (slice(top, top + self.size[0]), slice(left, left + self.size[1]))


class JitterCrop:
    """Crop a random region whose height and width come from ``sample_sizes``.

    Height and width are drawn independently from ``sample_sizes``; a size
    larger than the (padded) image is limited to the image.  The position is
    uniform over all boxes that fit.

    Parameters
    ----------
    sample_sizes : list of int
    padding : int
        Zero border added on every side before drawing.
    """

    def __init__(self, sample_sizes: Sequence[int] = (256, 224, 192, 168),
                 padding: int = 0) -> None:
        sizes = list(sample_sizes)
        if not sizes or not all(isinstance(s, numbers.Integral) and s > 0
                                for s in sizes):
            raise ValueError(
                f"sample_sizes must be a non-empty list of positive ints, "
                f"got {sample_sizes!r}")
        self.sample_sizes = [int(s) for s in sizes]
        self.padding = _check_padding(padding)

    def _draw(self, height: int, width: int) -> Tuple[int, int, int, int]:
        crop_h = min(height, self.sample_sizes[np.random.randint(len(self.sample_sizes))])
        crop_w = min(width, self.sample_sizes[np.random.randint(len(self.sample_sizes))])
        top, left = _random_box(height, width, crop_h, crop_w)
        return top, left, crop_h, crop_w

    def __call__(self, img: np.ndarray) -> np.ndarray:
        _check_image(img)
        img = _pad(img, self.padding, cv2.BORDER_CONSTANT)
        top, left, crop_h, crop_w = self._draw(img.shape[0], img.shape[1])
        return img[top:top + crop_h, left:left + crop_w]

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(sample_sizes={self.sample_sizes!r}, "
                f"padding={self.padding})")


class JitterCropVideo(JitterCrop):
    """:class:`JitterCrop` with one crop size and position for all frames."""

    def __call__(self, frames: Sequence[np.ndarray]) -> List[np.ndarray]:
        height, width = _frame_shape(frames)
        pad = self.padding
        top, left, crop_h, crop_w = self._draw(height + 2 * pad,
                                               width + 2 * pad)
        return [_pad(frame, pad, cv2.BORDER_CONSTANT)[top:top + crop_h,
                                                      left:left + crop_w]
                for frame in frames]

    def _view(self, height: int, width: int) -> Any:
        """Draw as :meth:`__call__` does (without padding); the indexing."""
        top, left, crop_h, crop_w = self._draw(height, width)
        return (slice(top, top + crop_h), slice(left, left + crop_w))


# Video transforms that only index their frames: ComposeVideo fuses them with
# a final UnitNorm (when they do not pad).
_VIEW_TRANSFORMS = (RandomCropVideo, JitterCropVideo, RandHorFlipVideo,
                    RandVerFlipVideo)
# Image transforms that draw nothing: ComposeVideo takes a clip through them
# frame by frame.
_PER_FRAME_TRANSFORMS = (Scale, CenterCrop)
