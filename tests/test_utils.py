"""gulpio.utils on real files."""
import os
import shutil
import sys

import cv2
import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from _media import make_image, make_video  # noqa: E402

from gulpio import GulpChunk, utils  # noqa: E402
from gulpio._format import chunk_paths  # noqa: E402
from gulpio.errors import DuplicateIdError, GulpError  # noqa: E402

HAVE_FFMPEG = shutil.which("ffmpeg") is not None
needs_ffmpeg = pytest.mark.skipif(not HAVE_FFMPEG, reason="needs the ffmpeg binary")


def test_exceptions_keep_original_names_and_join_the_hierarchy():
    assert issubclass(utils.ImageNotFound, FileNotFoundError)
    assert issubclass(utils.FFMPEGNotFound, FileNotFoundError)
    assert issubclass(utils.DuplicateIdException, DuplicateIdError)
    for cls in (utils.ImageNotFound, utils.FFMPEGNotFound, utils.DuplicateIdException):
        assert issubclass(cls, GulpError)
    assert "ffmpeg" in str(utils.FFMPEGNotFound())


@pytest.mark.parametrize("shape,size,expected", [
    ((30, 40, 3), 15, (15, 20, 3)),    # landscape: height is the short edge
    ((40, 30, 3), 15, (20, 15, 3)),    # portrait
    ((33, 33, 3), 10, (10, 10, 3)),    # square
    ((30, 47, 3), 16, (16, 25, 3)),    # long edge is int(size * 47 / 30) = 25
    ((30, 40), 15, (15, 20)),          # grayscale stays 2-D
])
def test_resize_by_short_edge_shapes(shape, size, expected):
    img = np.random.RandomState(0).randint(0, 255, shape).astype(np.uint8)
    out = utils.resize_by_short_edge(img, size)
    assert out.shape == expected
    assert out.dtype == np.uint8


def test_resize_by_short_edge_minus_one_keeps_the_image():
    img = np.zeros((5, 7, 3), np.uint8)
    assert utils.resize_by_short_edge(img, -1) is img


def test_resize_by_short_edge_reads_paths(tmp_path):
    path = make_image(str(tmp_path / "a.png"), (40, 30))
    out = utils.resize_by_short_edge(path, 15)
    assert np.array_equal(out, cv2.resize(cv2.imread(path), (20, 15)))
    with pytest.raises(utils.ImageNotFound, match="nope.jpg does not exist"):
        utils.resize_by_short_edge(str(tmp_path / "nope.jpg"), 10)
    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    with pytest.raises(utils.ImageNotFound, match="bad.jpg does not decode"):
        utils.resize_by_short_edge(str(tmp_path / "bad.jpg"), 10)


def test_resize_images_is_a_generator_over_paths(tmp_path):
    paths = [make_image(str(tmp_path / f"{i}.jpg"), (40, 30), seed=i) for i in range(3)]
    gen = utils.resize_images(paths, 15)
    assert not isinstance(gen, list)
    assert [img.shape for img in gen] == [(15, 20, 3)] * 3


def test_find_images_in_folder_uses_every_format_sorted(tmp_path):
    for name in ["b.jpg", "a.jpg", "c.png", "d.txt", "e.jpeg"]:
        (tmp_path / name).write_bytes(b"x")
    assert [os.path.basename(p) for p in utils.find_images_in_folder(str(tmp_path))] == \
        ["a.jpg", "b.jpg"]
    found = utils.find_images_in_folder(str(tmp_path), formats=["jpg", "png"])
    assert [os.path.basename(p) for p in found] == ["a.jpg", "b.jpg", "c.png"]
    assert utils.find_images_in_folder(str(tmp_path / "missing")) == []


def test_get_single_video_path(tmp_path):
    folder = tmp_path / "42"
    folder.mkdir()
    with pytest.raises(utils.VideoNotFound, match="no .mp4 video in"):
        utils.get_single_video_path(str(folder))
    (folder / "x.mp4").write_bytes(b"x")
    assert utils.get_single_video_path(str(folder)) == str(folder / "x.mp4")
    (folder / "y.mp4").write_bytes(b"x")
    with pytest.raises(utils.VideoNotFound, match="found 2: x.mp4, y.mp4"):
        utils.get_single_video_path(str(folder))
    (folder / "z.webm").write_bytes(b"x")
    assert utils.get_single_video_path(str(folder), format_="webm").endswith("z.webm")
    with pytest.raises(utils.VideoNotFound, match="does not exist"):
        utils.get_single_video_path(str(tmp_path / "missing"))


def test_remove_entries_with_duplicate_ids(tmp_path):
    out = tmp_path / "gulps"
    out.mkdir()
    chunk = GulpChunk(*chunk_paths(str(out), 0))
    with chunk.open("wb"):
        chunk.append("1", {"id": 1}, [np.zeros((8, 8, 3), np.uint8)])
        chunk.append("3", {"id": 3}, [np.zeros((8, 8, 3), np.uint8)])
    entries = [{"id": 1}, {"id": 2}, {"id": "2", "again": True}, {"id": 3}, {"id": 4}]
    kept = utils.remove_entries_with_duplicate_ids(str(out), entries)
    assert kept == [{"id": 2}, {"id": 4}]
    # a folder that does not exist yet holds no ids
    assert utils.remove_entries_with_duplicate_ids(str(tmp_path / "new"), entries) == \
        [{"id": 1}, {"id": 2}, {"id": 3}, {"id": 4}]


def test_temp_dir_for_bursting_is_removed_even_after_an_error(tmp_path):
    with utils.temp_dir_for_bursting(str(tmp_path)) as folder:
        assert os.path.isdir(folder) and os.path.dirname(folder) == str(tmp_path)
        open(os.path.join(folder, "f.jpg"), "wb").close()
    assert not os.path.exists(folder)
    with pytest.raises(RuntimeError):
        with utils.temp_dir_for_bursting(str(tmp_path)) as folder:
            raise RuntimeError("boom")
    assert not os.path.exists(folder)
    with utils.temp_dir_for_bursting(str(tmp_path / "no-such-shm")) as folder:
        assert os.path.isdir(folder)  # falls back to the system temp folder
    assert not os.path.exists(folder)


def test_check_ffmpeg_exists_follows_path(monkeypatch, tmp_path):
    assert utils.check_ffmpeg_exists() == HAVE_FFMPEG
    monkeypatch.setenv("PATH", str(tmp_path))
    assert utils.check_ffmpeg_exists() is False
    with pytest.raises(utils.FFMPEGNotFound):
        utils.burst_frames_to_shm("any.mp4", str(tmp_path))


def test_burst_frame_names_sort_numerically():
    names = ["/t/10000.jpg", "/t/9999.jpg", "/t/00000002.jpg", "/t/1.jpg"]
    assert sorted(names, key=utils._numeric_key) == \
        ["/t/1.jpg", "/t/00000002.jpg", "/t/9999.jpg", "/t/10000.jpg"]


@needs_ffmpeg
def test_burst_video_into_frames(tmp_path):
    video = make_video(str(tmp_path / "v.mp4"), 36, 12, (32, 32))
    with utils.temp_dir_for_bursting(str(tmp_path)) as burst:
        every = utils.burst_video_into_frames(video, burst)
        assert len(every) == 36
        assert every == sorted(every, key=utils._numeric_key)
    with utils.temp_dir_for_bursting(str(tmp_path)) as burst:
        assert abs(len(utils.burst_video_into_frames(video, burst, frame_rate=6)) - 18) <= 2


@needs_ffmpeg
def test_burst_of_a_broken_video_names_it(tmp_path):
    from gulpio.errors import FrameDecodeError
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"garbage" * 100)
    with utils.temp_dir_for_bursting(str(tmp_path)) as burst:
        with pytest.raises(FrameDecodeError, match="bad.mp4"):
            utils.burst_video_into_frames(str(bad), burst)
