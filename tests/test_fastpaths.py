"""The fast paths give the plain paths' results: the meta-file parser, clip
reads into one array, and (approximately, by design) reduced-size decoding."""
import json
import os
from collections import OrderedDict

import cv2
import numpy as np
import pytest

import _gulps
from gulpio import GulpDirectory, _shm
from gulpio._index import ChunkIndex, _fast_parse, load_chunk_index
from gulpio.errors import CorruptMetaError
from gulpio.dataset import GulpVideoDataset
from gulpio.fileio import json_serializer
from gulpio.loader import DataLoader, default_collate
from gulpio import _jpeg, transforms
from gulpio.errors import FrameDecodeError, InvalidInputError
from gulpio.transforms import (CenterCrop, ComposeVideo, JitterCropVideo,
                               RandHorFlipVideo, RandomCrop, RandomCropVideo,
                               RandVerFlipVideo, Scale, UnitNorm)

from test_fileio import expected_rgb, scene, write_chunk
from test_loader import baseline  # noqa: F401 (a fixture)


def plain_index(path):
    with open(path) as fp:
        meta = json.load(fp, object_pairs_hook=OrderedDict)
    return ChunkIndex.from_meta_dict(meta, path)


def assert_same_index(a, b):
    assert a.ids == b.ids
    np.testing.assert_array_equal(a.starts, b.starts)
    np.testing.assert_array_equal(a.offsets, b.offsets)
    np.testing.assert_array_equal(a.pads, b.pads)
    np.testing.assert_array_equal(a.lengths, b.lengths)
    import pickle
    assert pickle.loads(a.metas) == pickle.loads(b.metas)


META = OrderedDict([
    ("702766", {"frame_info": [[0, 3, 7260], [7260, 3, 7252]],
                "meta_data": [{"label": "a", "id": 702766}]}),
    ("caf\u00e9 \"x\"", {"frame_info": [[14512, 0, 8]],
                         "meta_data": [{"l": "b"}, {"l": "second"}]}),
    ("empty-meta", {"frame_info": [[14520, 1, 12]], "meta_data": []}),
    ("nested", {"frame_info": [[14532, 0, 4]],
                "meta_data": [{"boxes": [[1, 2], [3, 4]], "t": None}]}),
])


@pytest.mark.parametrize("dump", [
    lambda m: json.dumps(m),                              # the default
    lambda m: json.dumps(m, indent=2),                    # pretty-printed
    lambda m: json.dumps(m, separators=(",", ":")),       # compact
    lambda m: json.dumps(m, ensure_ascii=False),
    # a user meta that itself mentions frame_info
    lambda m: json.dumps(OrderedDict(list(m.items()) + [
        ("tricky", {"frame_info": [[14536, 0, 4]],
                    "meta_data": [{"frame_info": [[9, 9, 9]]}]})])),
    lambda m: json.dumps(OrderedDict(list(m.items()) + [
        ("text", {"frame_info": [[14536, 0, 4]],
                  "meta_data": [{"s": '"frame_info": [[1, 2, 3]]'}]})])),
    lambda m: json.dumps({"x": {"meta_data": [{}], "frame_info": []}}),
])
def test_fast_parser_equals_json_parser(tmp_path, dump):
    path = str(tmp_path / "meta_0.gmeta")
    with open(path, "w", encoding="utf-8") as fp:
        fp.write(dump(META))
    assert_same_index(load_chunk_index(path, json_serializer), plain_index(path))


def test_fast_parser_takes_the_default_layout():
    text = json.dumps(META).encode()
    assert _fast_parse(text, json_serializer.loads_plain, "m") is not None
    pretty = json.dumps(META, indent=1).encode()
    assert _fast_parse(pretty, json_serializer.loads_plain, "m") is None


@pytest.mark.parametrize("text,match", [
    ('{"a": {"frame_info": [[0, 1.5, 8]], "meta_data": []}}', "triple"),
    ('{"a": {"frame_info": [[0, 1]], "meta_data": []}}', "triple"),
    ('{"a": {"frame_info": [[0, -1, 8]], "meta_data": []}}', "negative"),
    ('{"a": {"frame_info": [[0, 1, 8]]}}', "lacks"),
    ('{"a": {"frame_info": [[0, 1, 8]], "meta_data": []', "not valid JSON"),
])
def test_bad_meta_files_still_get_clear_errors(tmp_path, text, match):
    path = str(tmp_path / "meta_0.gmeta")
    with open(path, "w") as fp:
        fp.write(text)
    with pytest.raises(CorruptMetaError, match=match):
        load_chunk_index(path, json_serializer)


def test_directory_index_matches_the_meta_dicts(tmp_path):
    items = [(i, {"i": i}, [scene(16, 16, t) for t in range(i % 4 + 1)])
             for i in range(9)]
    write_chunk(tmp_path, items[:5])
    write_chunk(tmp_path, items[5:])
    directory = GulpDirectory(str(tmp_path))
    np.testing.assert_array_equal(directory.frame_counts(),
                                  [i % 4 + 1 for i in range(9)])
    assert list(directory.metas()) == [{"i": i} for i in range(9)]
    for id_, entry in directory.merged_meta_dict.items():
        assert directory._index.table(directory._row(id_)).tolist() == \
            entry["frame_info"]


# ---------------------------------------------------------------- clips

@pytest.fixture
def video_dir(tmp_path):
    frames = [scene(40, 56, t) for t in range(10)]
    gray = [scene(40, 56, t, channels=1) for t in range(3)]
    write_chunk(tmp_path, [("v", {}, frames), ("g", {}, gray)])
    return tmp_path, frames, gray


@pytest.mark.parametrize("indices", [None, [0, 2, 4, 6], [9, 9, 9],
                                     slice(1, 8, 3), [3, 1, -1], slice(-2, None)])
def test_read_clip_equals_stacked_frames(video_dir, indices):
    folder, frames, _ = video_dir
    directory = GulpDirectory(str(folder))
    clip = directory.read_clip("v", indices)
    all_frames, _ = directory["v"]
    chosen = (np.arange(10) if indices is None else
              np.arange(10)[indices] if isinstance(indices, slice)
              else np.array(indices))
    np.testing.assert_array_equal(clip, np.stack([all_frames[i]
                                                  for i in chosen]))
    assert clip.shape == (len(chosen), 40, 56, 3) and clip.dtype == np.uint8


def test_read_clip_grayscale_and_errors(video_dir):
    folder, _, gray = video_dir
    directory = GulpDirectory(str(folder))
    clip = directory.read_clip("g", [0, 2])
    assert clip.shape == (2, 40, 56)
    np.testing.assert_array_equal(clip[1], expected_rgb(gray[2]))
    with pytest.raises(IndexError, match="frame index 3 is out of range for "
                                         "id 'g', which has 3 frames"):
        directory.read_clip("g", [0, 3])
    huge = np.array([2**64 - 1], dtype=np.uint64)  # wraps to -1 as int64
    with pytest.raises(IndexError, match=f"frame index {2**64 - 1} is out"):
        directory.read_clip("g", huge)
    with pytest.raises(IndexError, match="frame index -4 is out"):
        directory.read_clip("g", np.array([-4], dtype=np.int8))
    with pytest.raises(IndexError, match="no frames"):
        directory.read_clip("g", [])
    with pytest.raises(TypeError, match="frame indices"):
        directory.read_clip("g", [0.5])
    with pytest.raises(KeyError):
        directory.read_clip("nope")


def test_read_clip_of_frames_with_different_sizes(tmp_path):
    write_chunk(tmp_path, [("m", {}, [scene(16, 16), scene(20, 16)])])
    directory = GulpDirectory(str(tmp_path))
    assert [f.shape for f in directory["m"][0]] == [(16, 16, 3), (20, 16, 3)]
    with pytest.raises(ValueError, match="frame 1 of id 'm'.*shape"):
        directory.read_clip("m")


# ---------------------------------------------------------------- reduction

@pytest.mark.parametrize("reduction", [2, 4, 8])
def test_reduced_reads(tmp_path, reduction):
    frames = [scene(96, 128, t) for t in range(3)]
    gray = [scene(96, 128, t, channels=1) for t in range(2)]
    chunk = write_chunk(tmp_path, [("c", {}, frames), ("g", {}, gray)])
    directory = GulpDirectory(str(tmp_path), reduction=reduction)
    small, _ = directory["c"]
    size = (96 // reduction, 128 // reduction)
    assert [f.shape for f in small] == [size + (3,)] * 3
    gsmall, _ = directory["g", 0:1]
    assert gsmall[0].shape == size
    full, _ = GulpDirectory(str(tmp_path))["c"]
    for s, f in zip(small, full):  # close to a downscaled full decode, in RGB
        want = cv2.resize(f, size[::-1], interpolation=cv2.INTER_AREA)
        assert np.abs(s.astype(int) - want).mean() < 6
    clip = directory.read_clip("c", [0, 1])
    np.testing.assert_array_equal(clip, np.stack(small[:2]))
    np.testing.assert_array_equal(
        GulpDirectory(str(tmp_path)).read_clip("c", [2], reduction=reduction)[0],
        small[2])
    with chunk.open("rb"):
        via_chunk, _ = chunk.read_frames("c", slice(0, 1), reduction=reduction)
    np.testing.assert_array_equal(via_chunk[0], small[0])


def test_reduction_is_validated(tmp_path):
    with pytest.raises(ValueError, match="reduction must be one of"):
        GulpDirectory(str(tmp_path), reduction=3)


# ---------------------------------------------------------------- clip pipeline

class ShiftedUnitNorm(UnitNorm):
    def __call__(self, img):
        return super().__call__(img) + 1


def frames_of(shape, dtype, count=5, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.random(shape) * 250).astype(dtype) for _ in range(count)]


def plain_and_fused(pipeline, frames, seed=7):
    """The clip both ways from the same random state, and the draw after."""
    np.random.seed(seed)
    plain = np.stack(pipeline(frames))
    after_plain = np.random.random_sample()
    np.random.seed(seed)
    fused = pipeline._stacked(frames)
    after_fused = np.random.random_sample()
    assert after_plain == after_fused  # the same number of random draws
    return plain, fused


PIPELINES = [  # (pipeline, whether it takes the fused path)
    (lambda: ComposeVideo([Scale(24), UnitNorm()], [RandomCropVideo(20)]), True),
    (lambda: ComposeVideo([UnitNorm()], [RandomCropVideo((18, 9))]), True),
    (lambda: ComposeVideo([Scale((50, 30)), UnitNorm()]), True),
    (lambda: ComposeVideo([UnitNorm()]), True),
    (lambda: ComposeVideo([UnitNorm()], [RandHorFlipVideo(), RandomCropVideo(20)]), True),
    (lambda: ComposeVideo([UnitNorm()], [RandomCropVideo(20), RandHorFlipVideo(0.7),
                                         RandVerFlipVideo(0.6)]), True),
    (lambda: ComposeVideo([UnitNorm()], [JitterCropVideo([12, 16, 30]),
                                         RandomCropVideo(10)]), True),
    # frame by frame through the image transforms before UnitNorm
    (lambda: ComposeVideo([Scale(36), CenterCrop(30), UnitNorm()],
                          [RandomCropVideo(20)]), True),
    # transform after transform: the random draws keep their order
    (lambda: ComposeVideo([RandomCrop(30), RandomCrop(24), UnitNorm()],
                          [RandHorFlipVideo()]), True),
    # other shapes of pipeline
    (lambda: ComposeVideo([UnitNorm()], [RandomCropVideo(20, padding=3)]), False),
    (lambda: ComposeVideo([UnitNorm()], [JitterCropVideo([16], padding=2)]), False),
    (lambda: ComposeVideo([UnitNorm(), Scale(24)], [RandomCropVideo(20)]), False),
    (lambda: ComposeVideo([ShiftedUnitNorm()], [RandomCropVideo(20)]), False),
    (lambda: ComposeVideo([Scale(24)], [RandomCropVideo(20)]), False),
    (lambda: ComposeVideo(), False),
]


@pytest.mark.parametrize("make", [make for make, _ in PIPELINES])
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("shape,dtype", [
    ((40, 60, 3), np.uint8), ((40, 60), np.uint8), ((40, 60, 1), np.uint8),
    ((33, 47, 4), np.uint16), ((33, 47, 5), np.float32), ((40, 60, 3), np.float64)])
def test_fused_clip_pipeline_equals_plain(make, seed, shape, dtype):
    pipeline = make()
    plain, fused = plain_and_fused(pipeline, frames_of(shape, dtype), seed)
    assert fused.dtype == plain.dtype and fused.shape == plain.shape
    np.testing.assert_array_equal(fused, plain)


def test_fused_clip_pipeline_on_views_and_repeated_frames():
    base = frames_of((60, 40, 3), np.uint8, count=3)
    frames = [f.transpose(1, 0, 2) for f in base] + [np.rot90(base[0])]
    frames.append(frames[-1])  # a short video padded with its last frame
    pipeline = ComposeVideo([UnitNorm()], [RandomCropVideo(20)])
    plain, fused = plain_and_fused(pipeline, frames)
    np.testing.assert_array_equal(fused, plain)
    assert np.allclose(fused[-1], fused[-2])


def test_fused_clip_pipeline_falls_back_for_frames_of_different_sizes():
    frames = frames_of((40, 60, 3), np.uint8, 2) + frames_of((50, 70, 3), np.uint8, 2)
    pipeline = ComposeVideo([UnitNorm()], [RandomCropVideo(20)])
    plain, fused = plain_and_fused(pipeline, frames)
    np.testing.assert_array_equal(fused, plain)
    with pytest.raises(ValueError, match="same shape"):
        ComposeVideo([UnitNorm()])._stacked(frames)


@pytest.mark.parametrize("frames,error,match", [
    ([], ValueError, "without frames"),
    ([np.zeros((10, 10, 3), np.uint8)] * 2, ValueError, "larger than"),
    ([np.zeros((30, 30, 3), np.uint8), "frame"], ValueError, "expected an image"),
])
def test_fused_clip_pipeline_gives_the_plain_errors(frames, error, match):
    pipeline = ComposeVideo([UnitNorm()], [RandomCropVideo(20)])
    with pytest.raises(error, match=match):
        pipeline(frames)
    with pytest.raises(error, match=match):
        pipeline._stacked(frames)


def test_video_dataset_takes_the_fused_path_with_the_plain_result(tmp_path, monkeypatch):
    folder = str(tmp_path)
    _gulps.write_gulp(folder, [12, 4], ["a", "b"], height=48, width=64)
    pipeline = ComposeVideo([Scale(32), UnitNorm()], [RandomCropVideo(24)])
    fused = GulpVideoDataset(folder, num_frames=8, step_size=1, is_val=False,
                             transform=pipeline)
    plain = GulpVideoDataset(folder, num_frames=8, step_size=1, is_val=False,
                             transform=pipeline, stack=False)
    calls = []
    stacked = ComposeVideo._stacked
    monkeypatch.setattr(ComposeVideo, "_stacked",
                        lambda self, *args: calls.append(1) or stacked(self, *args))
    for index in [0, 1, 0]:  # a video longer and one shorter than the clip
        np.random.seed(index)
        clip, label = fused[index]
        np.random.seed(index)
        frames, plain_label = plain[index]
        np.testing.assert_array_equal(clip, np.stack(frames))
        assert clip.shape == (8, 24, 24, 3) and clip.dtype == np.float32
        assert label == plain_label
    assert len(calls) == 3


@pytest.mark.parametrize("reduction", [1, 2])
def test_video_dataset_decodes_each_frame_after_the_last_is_scaled(
        tmp_path, monkeypatch, reduction):
    """The fused path decodes a frame, scales it and drops it before the
    next is decoded (so the decoded frame is still in the CPU's cache);
    padding repeats the last frame without decoding it again."""
    folder = str(tmp_path)
    _gulps.write_gulp(folder, [12, 4], ["a", "b"], height=48, width=64)
    pipeline = ComposeVideo([Scale(16), UnitNorm()], [RandomCropVideo(12)])
    fused = GulpVideoDataset(folder, num_frames=8, step_size=1, is_val=True,
                             transform=pipeline, reduction=reduction)
    plain = GulpVideoDataset(folder, num_frames=8, step_size=1, is_val=True,
                             transform=pipeline, reduction=reduction,
                             stack=False)
    calls = []
    decode, scale = _jpeg.decode_record, Scale.__call__
    monkeypatch.setattr(_jpeg, "decode_record", lambda *args, **kwargs: (
        calls.append("decode") or decode(*args, **kwargs)))
    monkeypatch.setattr(Scale, "__call__", lambda self, img: (
        calls.append("scale") or scale(self, img)))
    for index, pad in [(0, 0), (1, 4)]:
        calls.clear()
        np.random.seed(index)
        clip, _ = fused[index]
        assert calls == ["decode", "scale"] * (8 - pad) + ["scale"] * pad
        np.random.seed(index)
        frames, _ = plain[index]
        np.testing.assert_array_equal(clip, np.stack(frames))


def test_video_dataset_fused_path_reports_a_bad_frame_as_the_plain_path(
        tmp_path):
    folder = str(tmp_path)
    _gulps.write_gulp(folder, [10], ["a"], height=48, width=64)
    corrupt_frame(folder, "vid0", 5)
    pipeline = ComposeVideo([Scale(32), UnitNorm()], [RandomCropVideo(24)])
    errors, draws = [], []
    for stack in (True, False):
        dataset = GulpVideoDataset(folder, num_frames=8, step_size=1,
                                   is_val=False, transform=pipeline,
                                   stack=stack, random_offset=False)
        np.random.seed(3)
        with pytest.raises(FrameDecodeError) as caught:
            dataset[0]
        errors.append(str(caught.value))
        draws.append(np.random.random_sample())
    assert errors[0] == errors[1]
    assert "frame 5 of id 'vid0'" in errors[0] and "data_0.gulp" in errors[0]
    assert draws[0] == draws[1]  # no crop was drawn before the error


def corrupt_frame(folder, id_, index):
    """Overwrite the JPEG record of frame ``index`` of ``id_`` with zeros."""
    offset, pad, length = GulpDirectory(folder).merged_meta_dict[id_][
        "frame_info"][index]
    with open(os.path.join(folder, "data_0.gulp"), "r+b") as fp:
        fp.seek(offset)
        fp.write(b"\0" * (length - pad))


def test_fused_path_reports_a_bad_frame_before_a_failing_transform(tmp_path):
    """Transform after transform, every frame is decoded first: a frame
    that cannot be decoded wins over a transform that fails on frame 0."""
    folder = str(tmp_path)
    _gulps.write_gulp(folder, [10], ["a"], height=48, width=64)
    corrupt_frame(folder, "vid0", 5)
    pipeline = ComposeVideo([Scale(32, interpolation=99), UnitNorm()])
    for stack in (True, False):
        dataset = GulpVideoDataset(folder, num_frames=8, step_size=1,
                                   is_val=True, transform=pipeline, stack=stack)
        with pytest.raises(FrameDecodeError, match="frame 5 of id 'vid0'") as caught:
            dataset[0]
        assert caught.value.__context__ is None  # not tied to Scale's error


def test_frame_by_frame_raises_the_error_of_transform_after_transform():
    # The second transform fails on every frame, the first only on the
    # last; transform after transform, the first one's error comes first.
    frames = frames_of((40, 60, 3), np.uint8, count=3) + ["frame"]
    pipeline = ComposeVideo([Scale(30), Scale(20, interpolation=99),
                             UnitNorm()], [RandomCropVideo(10)])
    with pytest.raises(ValueError, match="expected an image"):
        pipeline(frames)
    for given in (frames, iter(frames)):
        with pytest.raises(ValueError, match="expected an image"):
            pipeline._stacked(given)
    with pytest.raises(cv2.error):  # when every frame is an image
        pipeline._stacked(iter(frames[:3]))


class InvertingDirectory(GulpDirectory):
    def __getitem__(self, element):
        frames, meta = super().__getitem__(element)
        return [255 - frame for frame in frames], meta


class WrappedDirectory:
    """A stand-in for a directory: only ``[id, slice]``."""

    def __init__(self, directory):
        self.directory = directory

    def __getitem__(self, element):
        return self.directory[element]


@pytest.mark.parametrize("transform", [
    None, ComposeVideo([Scale(32), UnitNorm()], [RandomCropVideo(24)])])
def test_datasets_read_through_their_own_directory(tmp_path, transform):
    """A ``gd`` with its own ``__getitem__``, an ``_load_frames`` set on
    the instance: the fast paths read through them like the plain one."""
    folder = str(tmp_path)
    _gulps.write_gulp(folder, [12, 4], ["a", "b"], height=48, width=64)

    def clip(stack=True, gd=None, load=None, index=0):
        dataset = GulpVideoDataset(folder, num_frames=8, step_size=1,
                                   is_val=False, transform=transform,
                                   stack=stack)
        if gd is not None:
            dataset.gd = gd(dataset.gd)
        if load is not None:
            dataset._load_frames = load(dataset._load_frames)
        np.random.seed(index)
        return np.stack(dataset[index][0])

    for index in (0, 1):  # a video longer and one shorter than the clip
        expected = clip(stack=False, index=index)
        np.testing.assert_array_equal(clip(index=index), expected)
        inverted = clip(stack=False, index=index,
                        gd=lambda gd: InvertingDirectory(folder))
        assert not np.array_equal(inverted, expected)
        np.testing.assert_array_equal(
            clip(index=index, gd=lambda gd: InvertingDirectory(folder)),
            inverted)
        np.testing.assert_array_equal(
            clip(index=index, gd=WrappedDirectory), expected)
        calls = []
        np.testing.assert_array_equal(
            clip(index=index, load=lambda load: lambda *args: (
                calls.append(args) or load(*args))), expected)
        assert len(calls) == 1


class NoFrames(GulpVideoDataset):
    def _load_frames(self, id_, slice_):
        return []


@pytest.mark.parametrize("stack", [True, False])
def test_padding_a_clip_without_frames_is_a_clear_error(tmp_path, stack):
    folder = str(tmp_path)
    _gulps.write_gulp(folder, [4], ["a"], height=48, width=64)
    dataset = NoFrames(folder, num_frames=8, step_size=1, is_val=True,
                       transform=ComposeVideo([UnitNorm()]), stack=stack)
    with pytest.raises(InvalidInputError, match="id 'vid0'.*no frames"):
        dataset[0]


def test_per_frame_transforms_draw_nothing():
    """ComposeVideo takes a clip frame by frame only through transforms
    whose results do not depend on the order of the calls."""
    assert set(transforms._PER_FRAME_TRANSFORMS) == {Scale, CenterCrop}
    frames = frames_of((40, 60, 3), np.uint8)
    np.random.seed(0)
    before = np.random.get_state()[1].copy()
    for transform in (Scale(30), CenterCrop(20)):
        [transform(frame) for frame in frames]
    np.testing.assert_array_equal(np.random.get_state()[1], before)


@pytest.mark.parametrize("make,fused", PIPELINES)
def test_which_clip_pipelines_are_fused(make, fused, monkeypatch):
    def not_called(self, img):
        raise AssertionError("UnitNorm applied frame by frame")
    monkeypatch.setattr(UnitNorm, "__call__", not_called)
    frames = frames_of((40, 60, 3), np.uint8)
    if fused:
        assert make()._stacked(frames).dtype == np.float32
    elif any(type(t) is UnitNorm for t in make().img_transforms):
        with pytest.raises(AssertionError, match="frame by frame"):
            make()._stacked(frames)


# ---------------------------------------------------------------- batches

def plain_collate(batch):
    """default_collate under another name: the loader stacks the samples."""
    return default_collate(batch)


def one_hot(label):
    return np.eye(4, dtype=np.float32)[label]


class ResizingDataset(GulpVideoDataset):
    """Video 1's frames come out larger (frames of another size)."""

    def _load_frames(self, id_, slice_):
        frames = super()._load_frames(id_, slice_)
        if id_ == "vid1":
            frames = [cv2.resize(f, (100, 60)) for f in frames]
        return frames


class FailingDataset(GulpVideoDataset):
    def _load_frames(self, id_, slice_):
        if id_ == "vid2":
            raise OSError(f"cannot read {id_}")
        return super()._load_frames(id_, slice_)


class OwnGetitemDataset(GulpVideoDataset):
    def __getitem__(self, index):
        clip, label = super().__getitem__(index)
        return clip + 1, label


@pytest.fixture(scope="module")
def clips_dir(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("clips"))
    _gulps.write_gulp(folder, [12, 4, 9, 7, 10], ["a", "b", "a", "c", "b"],
                      height=48, width=64)
    return folder


def clip_dataset(folder, cls=GulpVideoDataset, crop=24, **kwargs):
    video = [RandomCropVideo(crop), RandHorFlipVideo()] if crop else []
    pipeline = ComposeVideo([Scale(32), UnitNorm()], video)
    kwargs.setdefault("is_val", False)
    return cls(folder, num_frames=8, step_size=1, transform=pipeline, **kwargs)


def epoch(dataset, num_workers, collate_fn=default_collate, seed=3):
    np.random.seed(seed)  # the main process's draws (no workers)
    loader = DataLoader(dataset, batch_size=2, num_workers=num_workers,
                        seed=seed, collate_fn=collate_fn)
    return [[np.array(part) for part in batch] for batch in loader]


@pytest.mark.parametrize("num_workers", [0, 2])
@pytest.mark.parametrize("target_transform", [None, one_hot])
def test_loader_writes_fused_clips_straight_into_the_batch(
        clips_dir, num_workers, target_transform, baseline, monkeypatch):
    dataset = clip_dataset(clips_dir, target_transform=target_transform)
    built = []
    collate_batch = GulpVideoDataset._collate_batch
    monkeypatch.setattr(GulpVideoDataset, "_collate_batch", lambda self, *args:
                        built.append(1) or collate_batch(self, *args))
    fast = epoch(dataset, num_workers)
    plain = epoch(dataset, num_workers, plain_collate)
    assert len(fast) == len(plain) == 3  # 2 + 2 + a last batch of 1
    for got, want in zip(fast, plain):
        assert [g.shape for g in got] == [w.shape for w in want]
        for g, w in zip(got, want):
            assert g.dtype == w.dtype
            np.testing.assert_array_equal(g, w)
    assert fast[0][0].shape == (2, 8, 24, 24, 3)
    if num_workers == 0:
        assert len(built) == 3


@pytest.mark.parametrize("num_workers", [0, 1])
def test_batch_with_a_clip_of_another_shape(clips_dir, num_workers, baseline):
    uncropped = clip_dataset(clips_dir, ResizingDataset, crop=None)
    with pytest.raises(ValueError, match="same shape") as plain_error:
        epoch(uncropped, num_workers, plain_collate)
    with pytest.raises(ValueError) as fast_error:
        epoch(uncropped, num_workers)
    assert str(fast_error.value) == str(plain_error.value)
    # cropped to one size, frames of two sizes make one batch
    cropped = clip_dataset(clips_dir, ResizingDataset)
    for got, want in zip(epoch(cropped, num_workers),
                         epoch(cropped, num_workers, plain_collate)):
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("num_workers", [0, 1])
def test_error_in_the_middle_of_a_batch(clips_dir, num_workers, baseline):
    dataset = clip_dataset(clips_dir, FailingDataset)
    loader = DataLoader(dataset, batch_size=3, num_workers=num_workers,
                        persistent_workers=num_workers > 0)
    for _ in range(2):  # the loader goes on working after the error
        batches = iter(loader)
        with pytest.raises(OSError, match="cannot read vid2"):
            next(batches)
        clips, labels = next(batches)
        assert clips.shape == (2, 8, 24, 24, 3)
    if num_workers:
        loader.close()


def test_batches_only_for_the_dataset_own_way(clips_dir):
    assert clip_dataset(clips_dir, OwnGetitemDataset)._collate_batch(
        [0, 1], np.stack) is NotImplemented
    assert clip_dataset(clips_dir, stack=False)._collate_batch(
        [0, 1], np.stack) is NotImplemented
    plain = GulpVideoDataset(clips_dir, num_frames=8, step_size=1, is_val=False,
                             transform=ComposeVideo([Scale(32)]))
    assert plain._collate_batch([0, 1], np.stack) is NotImplemented
    assert clip_dataset(clips_dir)._collate_batch([0], np.stack) is NotImplemented


def test_shared_batch_space(baseline):
    pool = _shm.SegmentPool(_shm.new_prefix())
    try:
        sent = []
        space = _shm.SharedBatch(pool, sent, (4, 1024), np.float32, 1024)
        space.array[...] = 7
        desc = space.result()
        assert sent == [desc.name] and desc.shape == (4, 1024)
        arr = _shm.receive(desc)
        assert arr.dtype == np.float32 and np.all(arr == 7)
        del arr
        dropped = _shm.SharedBatch(pool, sent, (4, 1024), np.float32, 1024)
        dropped.discard()
        assert sent == [desc.name] and len(pool.free) == 1  # back in the pool
        small = _shm.SharedBatch(pool, sent, (4,), np.float32, 1024)
        assert isinstance(small.result(), np.ndarray)  # too small to share
    finally:
        pool.close()
        _shm.sweep(pool.prefix)


def test_fused_clip_pipeline_errors_before_any_draw():
    frames = [np.full((20, 30, 3), 1 + 2j)] * 2
    pipeline = ComposeVideo([UnitNorm()], [RandVerFlipVideo(), RandomCropVideo(10)])
    for run in (pipeline, pipeline._stacked):
        np.random.seed(1)
        with pytest.raises(TypeError, match="real numbers, got dtype complex128"):
            run(frames)
        assert np.random.random_sample() == np.random.RandomState(1).random_sample()


def test_fused_clip_into_an_out_array_of_any_layout():
    frames = frames_of((10, 12, 3), np.uint8, count=3)
    pipeline = ComposeVideo([UnitNorm()], [RandHorFlipVideo()])
    plain, _ = plain_and_fused(pipeline, frames)
    for out in (np.zeros((3, 10, 12, 3), np.float32),
                np.zeros((3, 10, 12, 3), np.float32, order="F"),
                np.zeros((3, 10, 12, 3), np.float32)[..., ::-1],
                np.zeros((3, 10, 12, 3), np.float64)):
        np.random.seed(7)
        got = pipeline._stacked(frames, out)
        np.testing.assert_array_equal(got, plain)
        assert (got is out) == (out.flags.c_contiguous and out.dtype == np.float32)


def test_fused_clip_of_an_empty_region():
    pipeline = ComposeVideo([UnitNorm()], [JitterCropVideo([4])])
    pipeline.video_transforms[0].sample_sizes = [0]  # changed after construction
    plain, fused = plain_and_fused(pipeline, frames_of((10, 12, 3), np.uint8))
    assert fused.shape == plain.shape == (5, 0, 0, 3)


class Reversed:
    """A wrapper that forwards other attributes to the dataset it wraps."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, index):
        return self.dataset[len(self.dataset) - 1 - index]

    def __getattr__(self, name):
        if name == "dataset":
            raise AttributeError(name)
        return getattr(self.dataset, name)


class GeneratorBatches:
    def __len__(self):
        return 1

    def __iter__(self):
        yield (i for i in range(3))


@pytest.mark.parametrize("num_workers", [0, 1])
def test_wrappers_and_batch_samplers_get_their_own_batches(clips_dir, num_workers,
                                                           baseline):
    wrapped = Reversed(clip_dataset(clips_dir, is_val=True, crop=None))
    for batch, plain in zip(epoch(wrapped, num_workers),
                            epoch(wrapped, num_workers, plain_collate)):
        for got, want in zip(batch, plain):
            np.testing.assert_array_equal(got, want)
    if num_workers == 0:  # (a generator does not pickle to a worker)
        dataset = clip_dataset(clips_dir, is_val=True, crop=None)
        clips, labels = next(iter(DataLoader(dataset,
                                             batch_sampler=GeneratorBatches())))
        assert clips.shape == (3, 8, 32, 42, 3) and len(labels) == 3
