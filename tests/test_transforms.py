"""gulpio.transforms on numpy images and clips."""
import re

import cv2
import numpy as np
import pytest

from gulpio.transforms import (CenterCrop, Compose, ComposeVideo, JitterCrop,
                               JitterCropVideo, Normalize, RandHorFlipVideo,
                               RandomCrop, RandomCropVideo, RandVerFlipVideo,
                               Scale, UnitNorm)


def grid(height, width, channels=3):
    """Every pixel different: value = 1000 * row + column (+ channel)."""
    rows, cols = np.mgrid[0:height, 0:width]
    base = (rows * 1000 + cols).astype(np.int32)
    if channels == 0:
        return base
    return np.stack([base + c for c in range(channels)], axis=2)


def clip(n=4, height=10, width=12):
    """Frame k is the grid plus 100000 * k."""
    return [grid(height, width) + 100000 * k for k in range(n)]


def position(crop):
    """(row, column) of a grid crop's top-left pixel."""
    value = int(crop[0, 0, 0]) % 100000
    return value // 1000, value % 1000


def test_compose_and_compose_video_order():
    calls = []
    img_t = [lambda x: calls.append("img") or x + 1]
    vid_t = [lambda frames: calls.append("video") or [f * 10 for f in frames]]
    out = ComposeVideo(img_t, vid_t)([np.zeros(2), np.ones(2)])
    assert calls == ["img", "img", "video"]
    assert [f.tolist() for f in out] == [[10, 10], [20, 20]]
    assert Compose([lambda x: x * 2, lambda x: x + 1])(3) == 7
    assert ComposeVideo()([np.zeros(1)])[0].tolist() == [0]


@pytest.mark.parametrize("cls, axis", [(RandHorFlipVideo, 1),
                                       (RandVerFlipVideo, 0)])
def test_flips_same_for_all_frames(cls, axis):
    frames = clip()
    always = cls(p=1.0)(frames)
    assert all(np.array_equal(a, np.flip(f, axis=axis))
               for a, f in zip(always, frames))
    never = cls(p=0.0)(frames)
    assert all(np.array_equal(a, f) for a, f in zip(never, frames))
    np.random.seed(0)
    outcomes = set()
    for _ in range(50):
        out = cls()(frames)
        flipped = [not np.array_equal(o, f) for o, f in zip(out, frames)]
        assert len(set(flipped)) == 1  # one draw for the whole clip
        outcomes.add(flipped[0])
    assert outcomes == {True, False}


def test_normalize():
    img = np.dstack([np.full((2, 3), v, np.uint8) for v in (10, 20, 30)])
    out = Normalize([10, 10, 10], [1, 2, 5])(img)
    assert out.dtype == np.float32 and out.shape == (2, 3, 3)
    assert out[0, 0].tolist() == [0.0, 5.0, 4.0]
    gray = Normalize(100, 50)(np.full((2, 2), 200, np.uint8))
    assert gray.shape == (2, 2) and gray[0, 0] == 2.0
    with pytest.raises(ValueError, match="std"):
        Normalize([0], [0])
    imagenet = Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    for wrong in (np.zeros((2, 3, 1), np.uint8), np.zeros((2, 3), np.uint8),
                  np.zeros((2, 3, 4), np.uint8)):
        with pytest.raises(ValueError, match="mean has 3 values but the image has"):
            imagenet(wrong)


def test_unit_norm():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (16, 20, 3)).astype(np.uint8)
    img[:, :, 2] = 7  # a constant channel
    out = UnitNorm()(img)
    assert out.dtype == np.float32 and out.shape == img.shape
    assert np.allclose(out[:, :, :2].mean(axis=(0, 1)), 0, atol=1e-5)
    assert np.allclose(out[:, :, :2].std(axis=(0, 1)), 1, atol=1e-4)
    assert np.all(out[:, :, 2] == 0)
    reference = (img - img.mean(axis=(0, 1))) / np.where(
        img.std(axis=(0, 1)) == 0, 1, img.std(axis=(0, 1)))
    assert np.allclose(out, reference, atol=1e-4)
    as_float = UnitNorm()(img.astype(np.float64) / 3)
    assert np.allclose(as_float, reference, atol=1e-4)
    five = UnitNorm()(rng.random((4, 4, 5)))  # more channels than OpenCV takes
    assert np.allclose(five.mean(axis=(0, 1)), 0, atol=1e-5)
    gray = UnitNorm()(img[:, :, 0])
    assert gray.shape == (16, 20) and abs(gray.std() - 1) < 1e-4
    cropped = img[2:14, 3:17]  # a view whose rows are not contiguous
    assert np.allclose(UnitNorm()(cropped), UnitNorm()(cropped.copy()), atol=0)
    for view in (img.transpose(1, 0, 2), np.rot90(img)):  # not C-ordered
        normed = UnitNorm()(view)
        assert np.allclose(normed[:, :, :2].mean(axis=(0, 1)), 0, atol=1e-5)
        assert np.array_equal(normed, UnitNorm()(np.ascontiguousarray(view)))
    empty = UnitNorm()(np.zeros((0, 4, 3), np.uint8))
    assert empty.dtype == np.float32 and empty.shape == (0, 4, 3)


@pytest.mark.parametrize("shape,high,view", [
    ((16, 20, 3), 256, None), ((240, 427, 3), 256, None), ((720, 1280, 3), 2, None),
    ((1, 1, 3), 256, None), ((9, 7, 3), 1, None), ((1, 32769, 3), 256, None),
    ((60, 80, 3), 256, lambda a: a[::-1, ::2]), ((60, 80, 3), 256, np.rot90),
    ((60, 80, 4), 256, lambda a: a[..., 1:])])
def test_unit_norm_of_8bit_rgb_equals_opencv_three_channel_statistics(shape, high, view):
    """RGB uint8 statistics go through a 4-channel copy (OpenCV's fast
    path); the result must be the 3-channel statistics' bit for bit."""
    img = np.random.default_rng(1).integers(0, high, shape).astype(np.uint8) * (255 // max(high - 1, 1))
    if view is not None:  # not C-contiguous
        img = view(img)
    mean, std = cv2.meanStdDev(np.ascontiguousarray(img))
    mean = mean.reshape(-1).astype(np.float32)
    std = std.reshape(-1).astype(np.float32)
    std[std == 0] = 1
    want = (img.astype(np.float32) - mean) * (np.float32(1) / std)
    got = UnitNorm()(img)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want)


def test_unit_norm_refuses_other_element_types():
    for img in (np.full((4, 5, 3), 1 + 2j), np.full((4, 5), "7"),
                np.zeros((4, 5), "datetime64[s]")):
        with pytest.raises(TypeError, match=re.escape(f"real numbers, got dtype {img.dtype}")):
            UnitNorm()(img)
    assert UnitNorm()(np.ones((4, 5, 3), bool)).dtype == np.float32


def test_scale():
    img = np.zeros((40, 80, 3), np.uint8)
    assert Scale(20)(img).shape == (20, 40, 3)
    assert Scale(20)(np.zeros((80, 40, 3), np.uint8)).shape == (40, 20, 3)
    assert Scale((30, 10))(img).shape == (10, 30, 3)  # (width, height)
    assert Scale(40)(img) is img
    assert Scale(20)(img[:, :, 0]).shape == (20, 40)
    assert Scale(20)(img[:, :, :1]).shape == (20, 40, 1)
    ramp = np.tile(np.arange(80, dtype=np.uint8), (40, 1))
    near = Scale(20, interpolation=cv2.INTER_NEAREST)(ramp)
    assert set(np.unique(near)) <= set(range(80))
    for bad in (0, -3, "big", (10,), (10, 0)):
        with pytest.raises(ValueError):
            Scale(bad)


def test_center_crop():
    img = grid(10, 12)
    out = CenterCrop(4)(img)
    assert out.shape == (4, 4, 3) and position(out) == (3, 4)
    assert CenterCrop((6, 2))(img).shape == (6, 2, 3)
    gray = CenterCrop(4)(grid(10, 12, channels=0))
    assert gray.shape == (4, 4)
    one = CenterCrop(4)(grid(10, 12)[:, :, :1].astype(np.uint8))
    assert one.shape == (4, 4, 1)


def test_center_crop_scales_up_small_images():
    img = np.zeros((20, 30, 3), np.uint8)
    img[:, 15:] = 200
    out = CenterCrop(40)(img)  # the original crashed here
    assert out.shape == (40, 40, 3)
    assert out[:, :15].mean() < 50 and out[:, 25:].mean() > 150
    assert CenterCrop((10, 40))(img).shape == (10, 40, 3)
    assert CenterCrop(40)(img[:, :, 0]).shape == (40, 40)


def test_random_crop_reaches_every_position():
    img = grid(5, 6)
    np.random.seed(0)
    positions = {position(RandomCrop(3)(img)) for _ in range(500)}
    assert positions == {(r, c) for r in range(3) for c in range(4)}
    assert RandomCrop((5, 6))(img).shape == (5, 6, 3)
    with pytest.raises(ValueError, match="larger than"):
        RandomCrop(7)(img)


def test_random_crop_padding_applied_before_drawing():
    img = np.full((4, 4), 9, np.uint8)
    np.random.seed(1)
    crop = RandomCrop(8, padding=2)
    out = crop(img)  # 8x8 fits only because the border is added first
    assert out.shape == (8, 8)
    assert out[2:6, 2:6].min() == 9 and out.sum() == 9 * 16
    labelled = grid(4, 4, channels=0) + 1  # nonzero, every pixel different
    boxes = set()
    for _ in range(400):
        out = RandomCrop(4, padding=2)(labelled)
        i, j = np.argwhere(out > 0)[0]
        row, col = divmod(int(out[i, j]) - 1, 1000)
        boxes.add((row + 2 - i, col + 2 - j))  # top-left in the padded image
    # the box may lie anywhere in the padded 8x8 image: 5 x 5 positions
    assert boxes == {(r, c) for r in range(5) for c in range(5)}
    reflect = RandomCrop(8, padding=2, pad_method=cv2.BORDER_REFLECT)(img)
    assert reflect.min() == 9
    with pytest.raises(ValueError, match="padding"):
        RandomCrop(3, padding=-1)
    # element types OpenCV would convert keep their type and values
    big = np.full((4, 4, 2), 2 ** 40 + 5, np.int64)
    for pad_method in (cv2.BORDER_CONSTANT, cv2.BORDER_REFLECT):
        padded = RandomCrop(8, padding=2, pad_method=pad_method)(big)
        assert padded.dtype == np.int64 and padded.max() == 2 ** 40 + 5
        assert padded.shape == (8, 8, 2)


def test_crop_sizes_given_as_other_numbers():
    img = np.zeros((40, 40, 3), np.uint8)
    assert CenterCrop(24.0)(img).shape == (24, 24, 3)
    assert CenterCrop(224 * 0.1)(img).shape == (22, 22, 3)  # truncated
    assert RandomCrop(np.array([10, 20]))(img).shape == (10, 20, 3)
    assert CenterCrop(np.int64(8))(img).shape == (8, 8, 3)
    for bad in (True, "8", (8,), (8, 0)):
        with pytest.raises(ValueError, match="size"):
            CenterCrop(bad)


def test_random_crop_video_one_box_for_all_frames():
    frames = clip(n=5)
    np.random.seed(2)
    seen = set()
    for _ in range(100):
        out = RandomCropVideo(4)(frames)
        assert all(o.shape == (4, 4, 3) for o in out)
        first = out[0]
        assert all(np.array_equal(o - first, np.full_like(o, 100000 * k))
                   for k, o in enumerate(out))
        seen.add(position(first))
    assert len(seen) > 20
    padded = RandomCropVideo(12, padding=1)(frames)
    assert all(p.shape == (12, 12, 3) for p in padded)
    with pytest.raises(ValueError, match="without frames"):
        RandomCropVideo(4)([])


def test_jitter_crop_sizes():
    img = grid(40, 50)
    np.random.seed(4)
    shapes = {JitterCrop([10, 20, 30])(img).shape[:2] for _ in range(300)}
    assert shapes == {(h, w) for h in (10, 20, 30) for w in (10, 20, 30)}
    # sizes above the image are limited to the image
    assert JitterCrop([100])(img).shape == (40, 50, 3)
    assert JitterCrop([8], padding=3)(grid(4, 4, 0)).shape == (8, 8)
    with pytest.raises(ValueError):
        JitterCrop([])


def test_jitter_crop_video_one_draw_for_all_frames():
    frames = clip(n=3, height=30, width=30)
    np.random.seed(5)
    shapes = set()
    for _ in range(60):
        out = JitterCropVideo([8, 16, 24])(frames)
        assert len({o.shape for o in out}) == 1
        assert len({position(o) for o in out}) == 1
        shapes.add(out[0].shape[:2])
    assert len(shapes) == 9


def test_grayscale_stays_2d_through_video_pipeline():
    frames = [np.zeros((30, 40), np.uint8) for _ in range(3)]
    pipeline = ComposeVideo([Scale(20), CenterCrop(16)],
                            [RandomCropVideo(12), RandHorFlipVideo(),
                             JitterCropVideo([8])])
    out = pipeline(frames)
    assert [o.shape for o in out] == [(8, 8)] * 3
