"""Frames stored as they are decoded: GulpChunk.append from an iterator, the
video decoder as a generator, and the writer's frame-by-frame prefetch."""
import os
import sys

import cv2
import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
import _media  # noqa: E402

from gulpio import GulpDirectory, GulpIngestor, _video  # noqa: E402
from gulpio.adapters import Custom20BNJsonVideoAdapter  # noqa: E402
from gulpio.errors import ItemSkipped  # noqa: E402
from gulpio.fileio import ChunkWriter, GulpChunk  # noqa: E402


def frames_of(count, start=0, size=(40, 30)):
    return [_media.frame_content(start + i, *size) for i in range(count)]


def chunk_files(folder, number=0):
    return (os.path.join(folder, f"data_{number}.gulp"),
            os.path.join(folder, f"meta_{number}.gmeta"))


def file_bytes(*paths):
    result = []
    for path in paths:
        with open(path, "rb") as fp:
            result.append(fp.read())
    return result


def failing_after(frames, count, exc):
    for frame in frames[:count]:
        yield frame
    raise exc


def test_append_from_a_generator_writes_the_same_files_as_a_list(tmp_path):
    items = [("a", {"n": 1}, frames_of(5)), ("b", {"n": 2}, frames_of(3, 9))]
    for name, as_stream in (("list", False), ("gen", True)):
        folder = tmp_path / name
        folder.mkdir()
        chunk = GulpChunk(*chunk_files(str(folder)))
        with chunk.open("wb"):
            for id_, meta, frames in items:
                chunk.append(id_, meta, iter(frames) if as_stream else frames)
    assert (file_bytes(*chunk_files(str(tmp_path / "list")))
            == file_bytes(*chunk_files(str(tmp_path / "gen"))))


@pytest.mark.parametrize("mode", ["wb", "ab"])
def test_an_iterator_failing_midway_leaves_the_chunk_as_before(tmp_path, mode):
    reference, folder = tmp_path / "reference", tmp_path / "chunk"
    for path in (reference, folder):
        path.mkdir()
    first, last = frames_of(4), frames_of(2, 20)
    ref = GulpChunk(*chunk_files(str(reference)))
    with ref.open("wb"):
        ref.append("first", {}, first)
        ref.append("last", {}, last)

    chunk = GulpChunk(*chunk_files(str(folder)))
    if mode == "ab":
        with chunk.open("wb"):
            chunk.append("first", {}, first)
    with chunk.open(mode):
        if mode == "wb":
            chunk.append("first", {}, first)
        with pytest.raises(ItemSkipped, match="broken"):
            chunk.append("broken", {}, failing_after(frames_of(6, 50), 3,
                                                     ItemSkipped("broken video")))
        chunk.append("last", {}, iter(last))
    assert file_bytes(*chunk_files(str(folder))) == file_bytes(*chunk_files(str(reference)))
    directory = GulpDirectory(str(folder))
    assert directory.ids() == ["first", "last"]
    assert len(directory["last"][0]) == 2


def test_iter_video_frames_decodes_on_demand(tmp_path, monkeypatch):
    path = _media.make_video(str(tmp_path / "v.mp4"), 30, 12, (48, 32))
    grabs = []

    real = cv2.VideoCapture

    class CountingCapture:  # the real capture, counting grab() calls
        def __init__(self, *args):
            self._capture = real(*args)

        def grab(self):
            grabs.append(1)
            return self._capture.grab()

        def __getattr__(self, name):
            return getattr(self._capture, name)

    monkeypatch.setattr(_video.cv2, "VideoCapture", CountingCapture)
    frames = _video.iter_video_frames(path)
    first = next(frames)
    assert first.shape == (32, 48, 3) and len(grabs) == 1
    frames.close()  # releases the capture; nothing more is decoded
    assert len(grabs) == 1


@pytest.mark.parametrize("frame_rate", [None, 5, 12, 30])
def test_iter_video_frames_follows_the_frame_rate_rule(tmp_path, frame_rate):
    path = _media.make_video(str(tmp_path / "v.mp4"), 30, 12, (48, 32))
    source = _media.read_all_frames(path)
    got = list(_video.iter_video_frames(path, frame_rate=frame_rate))
    wanted = _video.source_indices(len(source), 12.0, frame_rate)
    assert len(got) == len(wanted)
    for frame, index in zip(got, wanted):
        assert np.array_equal(frame, source[index])


class StreamAdapter:
    """The documented adapter protocol, with frames given as generators."""

    def __init__(self, items):
        self.items = items

    def __len__(self):
        return len(self.items)

    def iter_data(self, slice_element=None):
        for id_, frames, failure in self.items[slice_element or slice(None)]:
            source = (failing_after(frames, 2, failure) if failure
                      else (frame for frame in frames))
            yield {"id": id_, "meta": {"id": id_}, "frames": source}


def test_writer_stores_streamed_items_and_skips_failing_ones(tmp_path):
    adapter = StreamAdapter([("a", frames_of(4), None),
                             ("b", frames_of(5, 7), ItemSkipped("b.mp4: cut short")),
                             ("c", frames_of(3, 30), None)])
    chunk = GulpChunk(*chunk_files(str(tmp_path)))
    report = ChunkWriter(adapter).write_chunk(chunk, slice(0, 3))
    assert report.written == ["a", "c"]
    assert report.skipped == [("b", "b.mp4: cut short")]
    directory = GulpDirectory(str(tmp_path))
    assert directory.frame_counts().tolist() == [4, 3]
    size = os.path.getsize(chunk.data_file_path)
    offset, _, length = directory.merged_meta_dict["c"]["frame_info"][-1]
    assert size == offset + length  # nothing of "b" is left in the file


def test_a_stream_without_frames_is_skipped(tmp_path):
    adapter = StreamAdapter([("a", frames_of(2), None), ("empty", [], None)])
    chunk = GulpChunk(*chunk_files(str(tmp_path)))
    report = ChunkWriter(adapter).write_chunk(chunk, slice(0, 2))
    assert report.written == ["a"]
    assert report.skipped == [("empty", "no frames")]
    assert GulpDirectory(str(tmp_path)).ids() == ["a"]


def test_other_errors_of_a_stream_stop_the_run(tmp_path):
    adapter = StreamAdapter([("a", frames_of(4), RuntimeError("disk on fire"))])
    chunk = GulpChunk(*chunk_files(str(tmp_path)))
    with pytest.raises(RuntimeError, match="disk on fire"):
        ChunkWriter(adapter).write_chunk(chunk, slice(0, 1))
    assert os.listdir(tmp_path) == []


def test_a_subclass_that_loads_frames_its_own_way_is_used(tmp_path):
    json_path, videos = _media.make_20bn_json_dataset(
        str(tmp_path), [("1", "a"), ("2", "b")], num_frames=6)

    class Flipped(Custom20BNJsonVideoAdapter):
        def load_frames(self, item):
            return [np.ascontiguousarray(f[::-1]) for f in super().load_frames(item)]

    out = tmp_path / "out"
    adapter = Flipped(json_path, videos, str(out))
    assert adapter.frame_iterator(adapter.items[0]) is None
    GulpIngestor(adapter, str(out), 2, 1)()
    plain = Custom20BNJsonVideoAdapter(json_path, videos, str(tmp_path / "o2"))
    expected = plain.load_frames(plain.items[0])
    stored, _ = GulpDirectory(str(out))["1"]
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(expected[0][::-1]))
    decoded = cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    assert np.array_equal(stored[0], decoded)


def test_long_video_is_ingested_with_a_few_frames_in_memory(tmp_path, monkeypatch):
    # 300 frames of 320x240 (69 MB decoded): the writer must never hold more
    # than the prefetch queue's few frames plus the ones being worked on.
    json_path, videos = _media.make_20bn_json_dataset(
        str(tmp_path), [("long", "a")], num_frames=300, size=(320, 240))
    alive = []
    peak = [0]
    real = _video.resize_by_short_edge

    class Tracked(np.ndarray):
        def __del__(self):
            alive.pop()

    def tracking_resize(frame, size):
        out = real(frame, size).view(Tracked)
        alive.append(1)
        peak[0] = max(peak[0], len(alive))
        return out

    monkeypatch.setattr(_video, "resize_by_short_edge", tracking_resize)
    adapter = Custom20BNJsonVideoAdapter(json_path, videos, str(tmp_path / "out"),
                                         frame_rate=12)
    report = GulpIngestor(adapter, str(tmp_path / "out"), 1, 1)()
    assert report.written == ["long"]
    assert GulpDirectory(str(tmp_path / "out")).num_frames("long") == 300
    assert 1 <= peak[0] <= 12


def test_whole_items_are_prefetched_one_at_a_time(tmp_path):
    # Lists of frames (a custom adapter's long videos, say) must not pile up
    # in the prefetch queue the way single frames may.
    class Counting:
        produced = 0

        def __len__(self):
            return 12

        def iter_data(self, slice_element=None):
            for i in range(12):
                Counting.produced += 1
                yield {"id": i, "meta": {}, "frames": frames_of(2, i)}

    ahead = []
    chunk = GulpChunk(*chunk_files(str(tmp_path)))
    report = ChunkWriter(Counting()).write_chunk(
        chunk, slice(0, 12),
        on_item=lambda: ahead.append(Counting.produced - len(ahead) - 1))
    assert len(report.written) == 12
    assert max(ahead) <= 2


def test_a_frame_iterator_that_fails_before_its_first_frame_skips_the_item(tmp_path):
    # An override of the hook may open the video before it returns the
    # iterator; its error must skip the item as load_frames' error does.
    json_path, videos = _media.make_20bn_json_dataset(
        str(tmp_path), [("a", "x"), ("b", "x"), ("c", "x")], num_frames=6)
    os.remove(os.path.join(videos, "b", "b.mp4"))

    class Eager(Custom20BNJsonVideoAdapter):
        def frame_iterator(self, item):
            path = os.path.join(videos, item["id"], item["id"] + ".mp4")
            if not os.path.exists(path):
                raise OSError(f"cannot open {path}")
            return super().frame_iterator(item)

    out = str(tmp_path / "out")
    report = GulpIngestor(Eager(json_path, videos, out), out, 3, 1)()
    assert report.written == ["a", "c"]
    assert [id_ for id_, _ in report.skipped] == ["b"]
    assert "b.mp4" in report.skipped[0][1]
    assert GulpDirectory(out).ids() == ["a", "c"]


class Stop(BaseException):
    """Not an Exception: like SystemExit or KeyboardInterrupt."""


def test_a_base_exception_from_a_stream_reaches_the_caller_as_itself(tmp_path):
    adapter = StreamAdapter([("a", frames_of(3), None),
                             ("b", frames_of(4), Stop("stop now"))])
    chunk = GulpChunk(*chunk_files(str(tmp_path)))
    with pytest.raises(Stop, match="stop now"):
        ChunkWriter(adapter).write_chunk(chunk, slice(0, 2))
    assert os.listdir(tmp_path) == []
