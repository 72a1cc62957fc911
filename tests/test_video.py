"""In-process video decoding (gulpio._video) on real videos written by OpenCV."""
import logging
import os
import shutil
import sys

import cv2
import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from _h264 import to_i420, write_h264  # noqa: E402
from _media import frame_content, make_video, read_all_frames, truncate_file  # noqa: E402

from gulpio import _video  # noqa: E402
from gulpio.errors import FrameDecodeError  # noqa: E402
from gulpio.utils import VideoNotFound, burst_video_into_frames, resize_by_short_edge, \
    temp_dir_for_bursting  # noqa: E402

HAVE_FFMPEG = shutil.which("ffmpeg") is not None


def assert_same_frames(got, expected):
    assert len(got) == len(expected)
    for index, (a, b) in enumerate(zip(got, expected)):
        assert a.shape == b.shape, index
        assert np.array_equal(a, b), f"frame {index} differs"


# ----------------------------------------------------------- the rate rule
def test_rule_downsampling_picks_nearest_frames():
    # 10 frames at 25 fps last 0.4 s: 4 frames at 10 fps, at t = 0, .1, .2, .3 s
    # = source frames 0, 2.5 -> 3, 5, 7.5 -> 8.
    assert _video.source_indices(10, 25.0, 10).tolist() == [0, 3, 5, 8]


def test_rule_upsampling_repeats_frames_and_clamps():
    # 4 frames at 8 fps = 0.5 s -> 8 frames at 16 fps; the last maps past the end.
    assert _video.source_indices(4, 8.0, 16).tolist() == [0, 1, 1, 2, 2, 3, 3, 3]


def test_rule_same_rate_and_no_rate_keep_every_frame():
    assert _video.source_indices(7, 12.0, 12).tolist() == list(range(7))
    assert _video.source_indices(7, 12.0, None).tolist() == list(range(7))
    assert _video.source_indices(7, 12.0, 0).tolist() == list(range(7))
    assert _video.source_indices(7, float("nan"), 8).tolist() == list(range(7))


def test_rule_count_is_duration_times_rate():
    assert _video.output_frame_count(300, 29.97, 8) == round(300 / 29.97 * 8)
    assert _video.output_frame_count(1, 60.0, 8) == 1  # never zero frames


# (fps, seconds) pairs covering 8 to 60 fps and 1 to 20 s; tiny frames.
RATE_CASES = [(8, 20), (12, 1), (25, 7), (29.97, 3), (30, 10), (60, 20)]


@pytest.mark.parametrize("fps,seconds", RATE_CASES)
def test_frame_rate_resampling_on_real_videos(tmp_path, fps, seconds):
    num_frames = int(round(fps * seconds))
    path = make_video(str(tmp_path / "v.mp4"), num_frames, fps, (32, 32))
    reference = read_all_frames(path)
    assert len(reference) == num_frames
    for rate in (8, 12):
        frames = _video.read_video_frames(path, frame_rate=rate)
        expected_count = _video.output_frame_count(num_frames, fps, rate)
        assert len(frames) == expected_count
        assert abs(len(frames) - seconds * rate) <= 1
        indices = _video.source_indices(num_frames, fps, rate)
        assert_same_frames(frames, [reference[i] for i in indices])
        if HAVE_FFMPEG:
            with temp_dir_for_bursting(str(tmp_path)) as burst:
                assert abs(len(burst_video_into_frames(path, burst, rate)) - len(frames)) <= 2
    # a video whose own rate equals R keeps its frames one for one
    assert_same_frames(_video.read_video_frames(path, frame_rate=fps), reference)


@pytest.mark.parametrize("fourcc", ["VP80", "VP90"])
def test_webm_decodes_every_frame(tmp_path, fourcc):
    path = make_video(str(tmp_path / "v.webm"), 30, 12, (48, 32), fourcc)
    frames = _video.read_video_frames(path, frame_rate=None)
    assert_same_frames(frames, read_all_frames(path))
    # the content changes between frames, and the decoder gets it roughly right
    assert not np.array_equal(frames[0], frames[1])
    assert np.abs(frames[5].astype(int) - frame_content(5, 48, 32).astype(int)).mean() < 12


def test_frame_size_resizes_the_short_edge_like_utils(tmp_path):
    path = make_video(str(tmp_path / "v.mp4"), 10, 10, (64, 48))
    frames = _video.read_video_frames(path, frame_rate=None, frame_size=24)
    assert frames[0].shape == (24, 32, 3)
    assert_same_frames(frames, [resize_by_short_edge(f, 24) for f in read_all_frames(path)])
    portrait = make_video(str(tmp_path / "p.mp4"), 4, 10, (48, 64))
    assert _video.read_video_frames(portrait, frame_size=24)[0].shape == (32, 24, 3)


def test_h264_stream_decodes_exactly(tmp_path):
    originals = [frame_content(i, 48, 32) for i in range(15)]
    path = write_h264(str(tmp_path / "v.h264"), originals)
    frames = _video.read_video_frames(path, frame_rate=None)
    assert len(frames) == len(originals)
    for frame, original in zip(frames, originals):
        # I_PCM macroblocks store the YUV samples losslessly: the decoded frame
        # is the 4:2:0 version of the original, up to colour-conversion rounding.
        y, u, v = to_i420(original)
        yuv = np.concatenate([y, u.reshape(-1, 48), v.reshape(-1, 48)])
        expected = cv2.cvtColor(yuv, cv2.COLOR_YUV2BGR_I420)
        assert np.abs(frame.astype(int) - expected.astype(int)).max() <= 4


def test_missing_video(tmp_path):
    with pytest.raises(VideoNotFound, match="does not exist"):
        _video.read_video_frames(str(tmp_path / "nope.mp4"))


def test_empty_video_file(tmp_path):
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    with pytest.raises(FrameDecodeError, match="empty file"):
        _video.read_video_frames(str(path))


@pytest.mark.parametrize("ext", ["mp4", "webm"])
def test_video_with_zero_frames_is_an_error(tmp_path, ext):
    path = make_video(str(tmp_path / f"zero.{ext}"), 0, 12, (32, 32))
    assert os.path.getsize(path) > 0  # a container without frames
    with pytest.raises(FrameDecodeError, match=f"zero.{ext}"):
        _video.read_video_frames(path)


@pytest.mark.skipif(HAVE_FFMPEG, reason="with ffmpeg the fallback is tried (tested below)")
def test_undecodable_video_without_ffmpeg(tmp_path):
    path = tmp_path / "garbage.mp4"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(FrameDecodeError, match="garbage.mp4.*no ffmpeg binary"):
        _video.read_video_frames(str(path))


@pytest.mark.parametrize("ext", ["mp4", "webm"])
def test_truncated_video_is_an_error(tmp_path, ext):
    path = make_video(str(tmp_path / f"v.{ext}"), 60, 12, (64, 48))
    truncate_file(path, os.path.getsize(path) * 2 // 5)
    with pytest.raises(FrameDecodeError, match="v." + ext):
        _video.read_video_frames(path)


def test_a_few_missing_frames_are_kept_with_a_warning(tmp_path, caplog):
    # 200 frames announced, the last few cut off: within the 5% tolerance
    path = make_video(str(tmp_path / "v.webm"), 200, 10, (64, 48))
    truncate_file(path, os.path.getsize(path) * 95 // 100)  # about 5 frames
    with caplog.at_level(logging.INFO, logger="gulpio._video"):
        frames = _video.read_video_frames(path)
    assert 190 <= len(frames) <= 197
    warned = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1
    assert (f"v.webm: {len(frames)} of the 200 frames its container announces"
            in warned[0].getMessage())


@pytest.mark.skipif(not HAVE_FFMPEG, reason="needs the ffmpeg binary")
def test_fallback_to_bursting_when_opencv_cannot_open(tmp_path, monkeypatch):
    path = make_video(str(tmp_path / "v.mp4"), 24, 12, (32, 32))

    class Closed:
        def __init__(self, *args):
            pass

        def isOpened(self):
            return False

        def release(self):
            pass

    monkeypatch.setattr(_video.cv2, "VideoCapture", Closed)
    frames = _video.read_video_frames(path, frame_rate=6, shm_dir_path=str(tmp_path))
    assert abs(len(frames) - 12) <= 2
    assert list(tmp_path.glob("gulpio-burst-*")) == []
