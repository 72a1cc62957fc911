"""gulpio.dataset on small gulp directories written by the library."""
import os
import pickle

import numpy as np
import pytest

import _gulps
import _loader_data
from gulpio import _format
from gulpio.dataset import (GulpImageDataset, GulpIOEmptyFolder,
                            GulpVideoDataset, clip_slice)
from gulpio.errors import GulpIOEmptyFolder as ErrorsEmptyFolder
from gulpio.errors import InvalidInputError
from gulpio.loader import DataLoader
from gulpio.transforms import (ComposeVideo, RandHorFlipVideo,
                               RandomCropVideo, Scale)

LENGTHS = [5, 10, 20, 3, 12, 7, 1]
LABELS = ["run", "jump", "run", "sit", "jump", "sit", "run"]


@pytest.fixture(scope="module")
def video_dir(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("videos"))
    _gulps.write_gulp(folder, LENGTHS, LABELS, items_per_chunk=3)
    return folder


@pytest.fixture(scope="module")
def gray_dir(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("gray"))
    _gulps.write_gulp(folder, [4, 6], ["a", "b"], grayscale=True)
    return folder


def indices(clip):
    return [_gulps.frame_index(frame) for frame in clip]


def test_items_labels_and_classes(video_dir):
    ds = GulpVideoDataset(video_dir, num_frames=2, step_size=1, is_val=True)
    assert len(ds) == len(LENGTHS)
    assert ds.classes == ["jump", "run", "sit"]
    assert ds.ids == [f"vid{i}" for i in range(len(LENGTHS))]
    labels = [ds[i][1] for i in range(len(ds))]
    assert labels == [ds.label2idx[label] for label in LABELS]
    assert ds.num_chunks == 3
    # the tables are numpy arrays, not a Python object per frame
    assert isinstance(ds._num_stored, np.ndarray)
    assert ds._num_stored.tolist() == LENGTHS
    assert isinstance(ds._labels, np.ndarray)


def test_validation_clips_start_at_zero(video_dir):
    ds = GulpVideoDataset(video_dir, num_frames=4, step_size=2, is_val=True)
    clip, _ = ds[2]  # 20 frames
    assert clip.shape == (4, _gulps.HEIGHT, _gulps.WIDTH, 3)
    assert clip.dtype == np.uint8
    assert indices(clip) == [0, 2, 4, 6]
    assert [indices(ds[2][0]) for _ in range(5)] == [[0, 2, 4, 6]] * 5


def test_random_offsets_cover_every_start_including_last(video_dir):
    np.random.seed(0)
    # item 1 has 10 frames; 4 frames 2 apart span 7 frames: starts 0..3
    ds = GulpVideoDataset(video_dir, num_frames=4, step_size=2, is_val=False)
    starts = set()
    for _ in range(200):
        clip = indices(ds[1][0])
        assert clip == list(range(clip[0], clip[0] + 8, 2))
        starts.add(clip[0])
    assert starts == {0, 1, 2, 3}
    # random_offset=False keeps training clips at the start
    fixed = GulpVideoDataset(video_dir, num_frames=4, step_size=2,
                             is_val=False, random_offset=False)
    assert {indices(fixed[1][0])[0] for _ in range(20)} == {0}


def test_exact_fit_and_padding(video_dir):
    ds = GulpVideoDataset(video_dir, num_frames=4, step_size=1, is_val=False)
    np.random.seed(1)
    assert {tuple(indices(ds[0][0])) for _ in range(60)} == {
        (0, 1, 2, 3), (1, 2, 3, 4)}
    # 3 frames, 5 wanted 2 apart: 0, 2, then the last read frame repeated
    short = GulpVideoDataset(video_dir, num_frames=5, step_size=2, is_val=False)
    clip, _ = short[3]
    assert indices(clip) == [0, 2, 2, 2, 2]
    one = GulpVideoDataset(video_dir, num_frames=3, step_size=1, is_val=True)
    assert indices(one[6][0]) == [0, 0, 0]


def test_all_frames_and_unstacked(video_dir):
    ds = GulpVideoDataset(video_dir, num_frames=-1, step_size=1, is_val=True,
                          stack=False)
    frames, label = ds[2]
    assert isinstance(frames, list) and len(frames) == 20
    assert indices(frames) == list(range(20))
    stepped = GulpVideoDataset(video_dir, num_frames=-1, step_size=3,
                               is_val=False)
    assert indices(stepped[4][0]) == [0, 3, 6, 9]


def test_clip_slice_function():
    assert clip_slice(10, 4, 2, False) == (slice(0, 7, 2), 0)
    assert clip_slice(7, 4, 2, False) == (slice(0, 7, 2), 0)
    assert clip_slice(3, 5, 2, True) == (slice(0, 3, 2), 3)
    assert clip_slice(9, -1, 4, True) == (slice(0, 9, 4), 0)
    np.random.seed(3)
    starts = {clip_slice(9, 2, 3, True)[0].start for _ in range(100)}
    assert starts == {0, 1, 2, 3, 4, 5}  # span 4 in 9 frames


def test_transforms_are_applied(video_dir):
    seen = []

    def spy(frames):
        seen.append(type(frames))
        return [frame[:10, :20] for frame in frames]

    ds = GulpVideoDataset(video_dir, 3, 1, True, transform=spy,
                          target_transform=lambda y: y + 100)
    clip, target = ds[0]
    assert seen == [list]  # the list of frames, as in the original
    assert clip.shape == (3, 10, 20, 3)
    assert target == ds.label2idx["run"] + 100
    flip = GulpVideoDataset(video_dir, 3, 1, True, transform=ComposeVideo(
        [Scale((32, 24))], [RandHorFlipVideo(p=1.0)]))
    assert flip[0][0].shape == (3, 24, 32, 3)


def test_grayscale_stays_2d(gray_dir):
    ds = GulpVideoDataset(gray_dir, num_frames=3, step_size=1, is_val=True)
    clip, _ = ds[1]
    assert clip.shape == (3, _gulps.HEIGHT, _gulps.WIDTH)


def test_image_dataset(tmp_path):
    labels = ["cat", "dog", "cat", "bird"]
    _gulps.write_image_gulp(str(tmp_path), labels)
    ds = GulpImageDataset(str(tmp_path), transform=lambda img: img[::2, ::2],
                          target_transform=str)
    assert len(ds) == 4 and ds.classes == ["bird", "cat", "dog"]
    img, target = ds[3]
    assert img.shape == (_gulps.HEIGHT // 2, _gulps.WIDTH // 2, 3)
    assert _gulps.frame_index(img) == 3
    assert target == "0"
    assert ds[-1][1] == "0"
    with pytest.raises(IndexError):
        ds[4]


def test_empty_folder_errors(tmp_path):
    assert GulpIOEmptyFolder is ErrorsEmptyFolder
    with pytest.raises(GulpIOEmptyFolder, match=str(tmp_path)):
        GulpVideoDataset(str(tmp_path), 4, 1, False)
    with pytest.raises(GulpIOEmptyFolder, match=str(tmp_path)):
        GulpImageDataset(str(tmp_path))
    missing = str(tmp_path / "nope")
    with pytest.raises(GulpIOEmptyFolder):
        GulpImageDataset(missing)


def test_label_errors(tmp_path):
    folder = str(tmp_path)
    _gulps.write_gulp(folder, [2, 2], ["a", "b"], label2idx={"a": 0})
    with pytest.raises(InvalidInputError, match="'b'.*vid1"):
        GulpVideoDataset(folder, 2, 1, True)
    os.remove(_format.label2idx_path(folder))
    with pytest.raises(FileNotFoundError, match="label2idx.json"):
        GulpVideoDataset(folder, 2, 1, True)
    with open(_format.label2idx_path(folder), "w") as fp:
        fp.write("{not json")
    with pytest.raises(InvalidInputError, match="not valid JSON"):
        GulpVideoDataset(folder, 2, 1, True)


def test_numeric_labels_find_their_text_keys(tmp_path):
    # label2idx.json keys are always text; the meta keeps the number
    _gulps.write_gulp(str(tmp_path), [2, 2, 2], [3, 7, 3])
    ds = GulpVideoDataset(str(tmp_path), 2, 1, True)
    assert [ds[i][1] for i in range(3)] == [0, 1, 0]


class _Index:
    def __init__(self, value):
        self.value = value

    def __index__(self):
        return self.value


def test_empty_items_and_bad_indices(tmp_path):
    _gulps.write_gulp(str(tmp_path), [2, 0], ["a", "a"])
    for ds in (GulpVideoDataset(str(tmp_path), 2, 1, True),
               GulpVideoDataset(str(tmp_path), 2, 1, True, stack=False),
               GulpImageDataset(str(tmp_path))):
        with pytest.raises(InvalidInputError, match="'vid1'.*has no frames"):
            ds[1]
        assert ds[np.int64(0)][1] == 0
        assert ds[_Index(0)][1] == 0  # anything with __index__ (0-d tensors)
        for index in (1.0, True, "0"):
            with pytest.raises(TypeError, match="must be integers"):
                ds[index]


@pytest.mark.parametrize("kwargs", [dict(num_frames=0), dict(num_frames=-2),
                                    dict(step_size=0)])
def test_argument_errors(video_dir, kwargs):
    args = dict(num_frames=2, step_size=1, is_val=True)
    args.update(kwargs)
    with pytest.raises(ValueError):
        GulpVideoDataset(video_dir, **args)


def test_pickles_small_and_reads_after_unpickling(video_dir):
    ds = GulpVideoDataset(video_dir, num_frames=3, step_size=1, is_val=True)
    clone = pickle.loads(pickle.dumps(ds))
    assert np.array_equal(clone[2][0], ds[2][0])


@pytest.mark.parametrize("num_workers", [0, 2])
def test_under_the_gulpio_loader(video_dir, num_workers):
    ds = GulpVideoDataset(video_dir, num_frames=4, step_size=1, is_val=True)
    loader = DataLoader(ds, batch_size=3, num_workers=num_workers)
    batches = list(loader)
    assert [b[0].shape for b in batches] == [
        (3, 4, _gulps.HEIGHT, _gulps.WIDTH, 3)] * 2 + [
        (1, 4, _gulps.HEIGHT, _gulps.WIDTH, 3)]
    assert [label for b in batches for label in b[1]] == [
        ds.label2idx[label] for label in LABELS]
    assert indices(batches[0][0][1]) == [0, 1, 2, 3]


def test_random_augmentations_differ_across_workers_and_repeat_with_seed(
        video_dir):
    ds = GulpVideoDataset(video_dir, num_frames=2, step_size=1, is_val=False,
                          transform=ComposeVideo([], [RandomCropVideo(24)]))
    repeated = _loader_data.RepeatItem(ds, 2, 8)  # 20 frames: 19 starts

    def draws(seed):
        loader = DataLoader(repeated, batch_size=4, num_workers=2, seed=seed)
        return [(indices(clip)[0], int(clip[0, 0, 0, 0]), int(clip[0, 0, -1, 0]))
                for batch, _ in loader for clip in batch]

    first = draws(seed=1)
    # worker 0 made clips 0-3, worker 1 clips 4-7: independent draws
    assert first[:4] != first[4:]
    assert draws(seed=1) == first


@pytest.mark.parametrize("num_frames,step", [(4, 2), (8, 3), (-1, 1), (30, 1)])
def test_stacked_fast_path_equals_the_frame_list(video_dir, num_frames, step):
    stacked = GulpVideoDataset(video_dir, num_frames, step, is_val=True)
    listed = GulpVideoDataset(video_dir, num_frames, step, is_val=True,
                              stack=False)
    for i in range(len(stacked)):
        clip, label = stacked[i]
        frames, label2 = listed[i]
        assert label == label2
        np.testing.assert_array_equal(clip, np.stack(frames))


def test_reduced_decoding(video_dir, tmp_path):
    full = GulpVideoDataset(video_dir, 4, 1, is_val=True)
    half = GulpVideoDataset(video_dir, 4, 1, is_val=True, reduction=2)
    clip, _ = full[0]
    small, _ = half[0]
    assert small.shape == (4, clip.shape[1] // 2, clip.shape[2] // 2, 3)
    unstacked, _ = GulpVideoDataset(video_dir, 4, 1, is_val=True, stack=False,
                                    reduction=2)[0]
    np.testing.assert_array_equal(small, np.stack(unstacked))
    with pytest.raises(ValueError, match="reduction"):
        GulpVideoDataset(video_dir, 4, 1, is_val=True, reduction=5)
