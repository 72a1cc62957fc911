"""Round trips, errors and crash safety of gulpio.fileio, on real files."""
import json
import re
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import OrderedDict

import cv2
import numpy as np
import pytest

from gulpio import GulpChunk, GulpDirectory, GulpIngestor, _format
from gulpio.errors import (CorruptMetaError, DuplicateIdError,
                           FrameDecodeError, GulpIdNotFoundError,
                           GulpIOEmptyFolder, InvalidInputError,
                           MissingChunkFileError)
from gulpio.fileio import (ChunkWriter, ImgInfo, JSONSerializer,
                           PickleSerializer, calculate_chunk_slices,
                           extract_input_for_getitem, json_serializer,
                           pickle_serializer, remove_incomplete_chunks)


def scene(height, width, t=0, channels=3):
    """A frame with smooth structure that moves with ``t`` (BGR)."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = 127 + 60 * np.sin((xx + 3 * t) / 9.0) * np.cos((yy - 2 * t) / 7.0)
    frame = np.stack([base, np.roll(base, t + 5, axis=1),
                      255 - base], axis=-1).clip(0, 255).astype(np.uint8)
    cv2.circle(frame, ((5 * t) % width, height // 2), max(2, height // 6),
               (20, 200, 60), -1)
    if channels == 1:
        return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    return frame


def expected_rgb(frame):
    """What a reader must return for ``frame``: its JPEG, decoded, in RGB."""
    ok, buf = cv2.imencode(".jpg", frame)
    img = cv2.imdecode(buf, cv2.IMREAD_ANYCOLOR)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB) if img.ndim == 3 else img


class ListAdapter:
    """A minimal adapter over in-memory items (the documented protocol)."""

    def __init__(self, items):
        self.items = items

    def __len__(self):
        return len(self.items)

    def iter_data(self, slice_element=None):
        for item in self.items[slice_element or slice(None)]:
            yield item


def write_chunk(folder, items):
    os.makedirs(folder, exist_ok=True)
    directory = GulpDirectory(str(folder))
    chunk = directory.new_chunks(1)[0]
    with chunk.open("wb"):
        for id_, meta, frames in items:
            chunk.append(id_, meta, frames)
    return chunk


@pytest.fixture
def frames3():
    return [scene(48, 64, t) for t in range(5)]


# ---------------------------------------------------------------- helpers

def test_extract_input_for_getitem():
    assert extract_input_for_getitem(1) == ("1", None)
    assert extract_input_for_getitem("a") == ("a", None)
    assert extract_input_for_getitem((3, slice(1, 2))) == ("3", slice(1, 2))
    for bad in [(1, 2, 3), (1, 5), [1], 1.5, None]:
        with pytest.raises(TypeError):
            extract_input_for_getitem(bad)


def test_calculate_chunk_slices():
    assert calculate_chunk_slices(2, 5) == [slice(0, 2), slice(2, 4),
                                            slice(4, 5)]
    assert calculate_chunk_slices(10, 3) == [slice(0, 3)]
    for args in [(0, 5), (2, 0), (-1, 3), (2.5, 3)]:
        with pytest.raises(ValueError, match="must be a positive integer"):
            calculate_chunk_slices(*args)


def test_img_info_is_a_namedtuple():
    info = ImgInfo(loc=4, pad=1, length=8)
    assert info == (4, 1, 8) and info.loc == 4


# ---------------------------------------------------------------- round trips

@pytest.mark.parametrize("shape", [(48, 64, 3), (37, 53, 3), (48, 64),
                                   (31, 17), (48, 64, 1)])
def test_round_trip_shapes(tmp_path, shape):
    channels = shape[2] if len(shape) == 3 else 1
    frames = [scene(shape[0], shape[1], t, channels=3 if channels == 3 else 1)
              for t in range(4)]
    if len(shape) == 3 and shape[2] == 1:
        frames = [f[:, :, None] for f in frames]
    write_chunk(tmp_path, [("vid", {"label": "x"}, frames)])
    read, meta = GulpDirectory(str(tmp_path))["vid"]
    assert meta == {"label": "x"}
    assert len(read) == len(frames)
    for got, frame in zip(read, frames):
        assert got.dtype == np.uint8
        want = expected_rgb(frame)
        assert got.shape == want.shape
        assert got.shape[:2] == shape[:2]
        assert got.ndim == (3 if channels == 3 else 2)
        np.testing.assert_array_equal(got, want)
        # and close to the input itself (JPEG is lossy)
        source = frame if channels != 3 else frame[:, :, ::-1]
        assert np.abs(got.astype(int) - source.reshape(got.shape)).mean() < 8


def test_reader_returns_rgb_of_imread_frames(tmp_path):
    path = str(tmp_path / "img.png")
    pure = np.zeros((32, 32, 3), np.uint8)
    pure[:, :, 0] = 255  # blue in BGR
    cv2.imwrite(path, pure)
    write_chunk(tmp_path / "g", [(1, {}, [cv2.imread(path)])])
    (frame,), _ = GulpDirectory(str(tmp_path / "g"))[1]
    assert frame[..., 2].mean() > 240 and frame[..., 0].mean() < 15


def test_one_frame_and_300_frames(tmp_path):
    long = [scene(24, 32, t) for t in range(300)]
    write_chunk(tmp_path, [("one", {}, [scene(24, 32)]), ("long", {}, long)])
    directory = GulpDirectory(str(tmp_path))
    assert len(directory["one"][0]) == 1
    frames, _ = directory["long"]
    assert len(frames) == 300
    np.testing.assert_array_equal(frames[299], expected_rgb(long[299]))
    assert directory.num_frames("long") == 300


def test_int_and_str_ids_are_the_same_item(tmp_path, frames3):
    chunk = write_chunk(tmp_path, [(1, {"n": 1}, frames3)])
    directory = GulpDirectory(str(tmp_path))
    assert 1 in directory and "1" in directory
    assert 1 in chunk and "1" in chunk
    a, _ = directory[1]
    b, _ = directory["1"]
    c, _ = chunk[1]
    for x, y, z in zip(a, b, c):
        np.testing.assert_array_equal(x, y)
        np.testing.assert_array_equal(x, z)
    assert list(chunk.meta_dict) == ["1"]


@pytest.mark.parametrize("sl", [slice(1, 10, 2), slice(None, None, -1),
                                slice(-3, None), slice(-4, -1, 2),
                                slice(3, 100), slice(50, 60), slice(4, 1, -2),
                                slice(None, None, 3)])
def test_slices_behave_like_python_slices(tmp_path, sl):
    frames = [scene(24, 32, t) for t in range(12)]
    chunk = write_chunk(tmp_path, [("v", {}, frames)])
    want = [expected_rgb(f) for f in frames][sl]
    for got, _ in (GulpDirectory(str(tmp_path))["v", sl], chunk["v", sl]):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)


def test_read_frames_needs_open_chunk_and_iter_all(tmp_path, frames3):
    items = [(i, {"i": i}, frames3[: i + 1]) for i in range(4)]
    chunk = write_chunk(tmp_path, items)
    with pytest.raises(Exception, match="not open for reading"):
        chunk.read_frames(1)
    with chunk.open("rb") as fp:
        assert hasattr(fp, "read")
        frames, meta = chunk.read_frames(2, slice(0, 2))
        assert len(frames) == 2 and meta == {"i": 2}
    metas = [meta["i"] for _, meta in chunk]
    assert metas == [0, 1, 2, 3]
    accepted = [meta["i"] for _, meta in chunk.iter_all(accepted_ids=[3, "1"])]
    assert accepted == [1, 3]
    np.random.seed(0)
    shuffled = [meta["i"] for _, meta in chunk.iter_all(shuffle=True)]
    assert sorted(shuffled) == [0, 1, 2, 3]
    np.random.seed(0)
    again = [meta["i"] for _, meta in chunk.iter_all(shuffle=True)]
    assert again == shuffled


def test_shuffle_changes_order(tmp_path):
    frames = [scene(16, 16)]
    chunk = write_chunk(tmp_path, [(i, {"i": i}, frames) for i in range(20)])
    orders = {tuple(m["i"] for _, m in chunk.iter_all(shuffle=True))
              for _ in range(5)}
    assert len(orders) > 1
    assert all(sorted(o) == list(range(20)) for o in orders)


def test_append_same_id_twice(tmp_path, frames3):
    chunk = write_chunk(tmp_path, [("a", {"k": 1}, frames3[:2]),
                                   ("a", {"k": 2}, frames3[2:])])
    entry = chunk.meta_dict["a"]
    assert [m["k"] for m in entry["meta_data"]] == [1, 2]
    frames, meta = GulpDirectory(str(tmp_path))["a"]
    assert meta == {"k": 1}
    assert len(frames) == 5


def test_meta_is_a_copy(tmp_path, frames3):
    write_chunk(tmp_path, [("a", {"tags": ["x"]}, frames3)])
    directory = GulpDirectory(str(tmp_path))
    _, meta = directory["a"]
    meta["tags"].append("changed")
    assert directory["a"][1] == {"tags": ["x"]}
    assert directory.meta("a") == {"tags": ["x"]}


def test_meta_reads_back_alike_from_directory_and_chunk(tmp_path, frames3):
    metas = {"none": None, "text": "just text", "dict": {"k": [1, 2]}}
    chunk = write_chunk(tmp_path, [(id_, meta, frames3[:1])
                                   for id_, meta in metas.items()])
    directory = GulpDirectory(str(tmp_path))
    with chunk.open("rb"):
        for id_, meta in metas.items():
            assert directory[id_][1] == chunk[id_][1] == meta
            assert directory.meta(id_) == meta
    assert list(directory.metas()) == [{}, "just text", {"k": [1, 2]}]


def test_extending_a_directory_continues_numbering(tmp_path, frames3):
    write_chunk(tmp_path, [("a", {}, frames3)])
    write_chunk(tmp_path, [("b", {}, frames3)])
    directory = GulpDirectory(str(tmp_path))
    assert list(directory.chunk_objs_lookup) == [0, 1]
    new = directory.new_chunks(2)
    assert [os.path.basename(c.data_file_path) for c in new] == [
        "data_2.gulp", "data_3.gulp"]
    adapter = ListAdapter([{"id": "c", "meta": {}, "frames": frames3}])
    GulpIngestor(adapter, str(tmp_path), 1, 1)()
    directory = GulpDirectory(str(tmp_path))
    assert directory.chunk_lookup == {"a": 0, "b": 1, "c": 2}
    assert directory.ids() == ["a", "b", "c"]


def test_chunks_are_ordered_numerically(tmp_path, frames3):
    for number in [10, 2, 1]:
        chunk = GulpChunk(str(tmp_path / f"data_{number}.gulp"),
                          str(tmp_path / f"meta_{number}.gmeta"))
        with chunk.open("wb"):
            chunk.append(f"id{number}", {}, frames3[:1])
    directory = GulpDirectory(str(tmp_path))
    assert list(directory.chunk_objs_lookup) == [1, 2, 10]
    assert [os.path.basename(c.data_file_path) for c in directory] == [
        "data_1.gulp", "data_2.gulp", "data_10.gulp"]
    assert directory.ids() == ["id1", "id2", "id10"]
    assert directory.num_chunks == 3
    assert len(directory.all_meta_dicts) == 3
    assert set(directory.merged_meta_dict) == {"id1", "id2", "id10"}
    assert directory.new_chunks(1)[0].data_file_path.endswith("data_11.gulp")


def test_original_attributes(tmp_path, frames3):
    write_chunk(tmp_path, [("a", {"x": 1}, frames3)])
    directory = GulpDirectory(str(tmp_path))
    entry = directory.merged_meta_dict["a"]
    assert list(entry) == ["frame_info", "meta_data"]
    assert entry["meta_data"] == [{"x": 1}]
    assert len(entry["frame_info"]) == 5
    assert directory.output_dir == str(tmp_path)
    assert isinstance(directory.all_meta_dicts[0], OrderedDict)


def test_empty_and_missing_folders(tmp_path):
    directory = GulpDirectory(str(tmp_path))
    assert directory.num_chunks == 0 and directory.ids() == []
    assert list(directory) == []
    with pytest.raises(GulpIOEmptyFolder, match="does not exist"):
        GulpDirectory(str(tmp_path / "nope"))
    assert issubclass(GulpIOEmptyFolder, FileNotFoundError)


# ---------------------------------------------------------------- byte format

def test_bytes_match_the_format_description(tmp_path):
    frames = [scene(40, 56, t) for t in range(6)] + [scene(21, 33, 0, 1)]
    write_chunk(tmp_path, [("7", {"label": "é", "n": 1.5}, frames[:4]),
                           (8, {"id": 8}, frames[4:])])
    data = (tmp_path / "data_0.gulp").read_bytes()
    expected_data = b""
    frame_infos = []
    for frame in frames:
        record = cv2.imencode(".jpg", frame)[1].tobytes()
        pad = (4 - len(record) % 4) % 4
        frame_infos.append([len(expected_data), pad, len(record) + pad])
        expected_data += record + b"\0" * pad
    assert data == expected_data
    meta = {"7": {"frame_info": frame_infos[:4],
                  "meta_data": [{"label": "é", "n": 1.5}]},
            "8": {"frame_info": frame_infos[4:], "meta_data": [{"id": 8}]}}
    # json.dump with its defaults: separators, ASCII escapes, no newline
    assert (tmp_path / "meta_0.gmeta").read_text() == json.dumps(meta)


def test_json_serializer_loads_ordered(tmp_path):
    path = str(tmp_path / "m.json")
    thing = OrderedDict([("b", 1), ("a", {"z": 1, "y": [ImgInfo(0, 1, 2)]})])
    json_serializer.dump(thing, path)
    loaded = JSONSerializer().load(path)
    assert list(loaded) == ["b", "a"] and list(loaded["a"]) == ["z", "y"]
    assert loaded["a"]["y"] == [[0, 1, 2]]
    assert not os.path.exists(path + ".incomplete")


def test_pickle_serializer_chunk(tmp_path, frames3):
    chunk = GulpChunk(str(tmp_path / "data_0.gulp"),
                      str(tmp_path / "meta_0.gmeta"),
                      serializer=pickle_serializer)
    with chunk.open("wb"):
        chunk.append("p", {"k": 1}, frames3)
    again = GulpChunk(chunk.data_file_path, chunk.meta_file_path,
                      serializer=PickleSerializer())
    frames, meta = again["p"]
    assert meta == {"k": 1} and len(frames) == 5


# ---------------------------------------------------------------- errors

def test_unknown_id(tmp_path, frames3):
    chunk = write_chunk(tmp_path, [("a", {}, frames3)])
    directory = GulpDirectory(str(tmp_path))
    with pytest.raises(KeyError, match="'zz' is not in gulp directory"):
        directory["zz"]
    with pytest.raises(GulpIdNotFoundError, match="data_0.gulp"):
        chunk["zz"]
    with pytest.raises(KeyError):
        directory.num_frames("zz")


def test_id_in_two_chunks_names_both_files(tmp_path, frames3):
    write_chunk(tmp_path, [("dup", {}, frames3)])
    write_chunk(tmp_path, [("dup", {}, frames3)])
    with pytest.raises(DuplicateIdError) as info:
        GulpDirectory(str(tmp_path))
    assert "meta_0.gmeta" in str(info.value)
    assert "meta_1.gmeta" in str(info.value)
    assert "'dup'" in str(info.value)


def test_data_without_meta_and_meta_without_data(tmp_path, frames3):
    write_chunk(tmp_path, [("a", {}, frames3)])
    os.remove(tmp_path / "meta_0.gmeta")
    with pytest.raises(MissingChunkFileError, match="data_0.gulp has no meta"):
        GulpDirectory(str(tmp_path))
    write_chunk(tmp_path / "x", [("a", {}, frames3)])
    os.remove(tmp_path / "x" / "data_0.gulp")
    with pytest.raises(MissingChunkFileError, match="meta_0.gmeta has no data"):
        GulpDirectory(str(tmp_path / "x"))


@pytest.mark.parametrize("content,problem", [
    ('[1, 2]', "holds a list, not an object"),
    ('{"a": 3}', "entry of id 'a' is a number, not an object"),
    ('{"a": {"meta_data": []}}', "entry of id 'a' lacks 'frame_info'"),
    ('{"a": {"frame_info": 7, "meta_data": []}}',
     "'frame_info' of id 'a' is a number, not a list"),
    ('{"a": {"frame_info": [], "meta_data": {"x": 1}}}',
     "'meta_data' of id 'a' is an object, not a list"),
    ('{"a": {"frame_info": [[0, 0, 4], [4, 0]], "meta_data": [{}]}}',
     r"frame 1 of id 'a' is \[4, 0\], not an \[offset, pad, length\]"),
])
def test_meta_json_of_the_wrong_shape(tmp_path, frames3, content, problem):
    write_chunk(tmp_path, [("a", {}, frames3)])
    (tmp_path / "meta_0.gmeta").write_text(content)
    with pytest.raises(CorruptMetaError, match=f"meta_0.gmeta: {problem}|"
                                               f"meta_0.gmeta {problem}"):
        GulpDirectory(str(tmp_path))


def test_meta_json_that_does_not_parse(tmp_path, frames3):
    write_chunk(tmp_path, [("a", {}, frames3)])
    (tmp_path / "meta_0.gmeta").write_text('{"a": {"frame_info": [[0, 1')
    with pytest.raises(CorruptMetaError, match="meta_0.gmeta is not valid"):
        GulpDirectory(str(tmp_path))
    (tmp_path / "meta_0.gmeta").write_text('{"a": {"frame_info": [[0, 1]]}}')
    with pytest.raises(CorruptMetaError, match="meta_0.gmeta"):
        GulpDirectory(str(tmp_path))


def test_frame_that_does_not_decode(tmp_path, frames3):
    write_chunk(tmp_path, [("a", {}, frames3)])
    path = tmp_path / "data_0.gulp"
    data = bytearray(path.read_bytes())
    info = GulpDirectory(str(tmp_path)).merged_meta_dict["a"]["frame_info"][2]
    data[info[0]:info[0] + 16] = b"\x00" * 16
    path.write_bytes(bytes(data))
    directory = GulpDirectory(str(tmp_path))
    assert len(directory["a", 0:2][0]) == 2
    with pytest.raises(FrameDecodeError) as err:
        directory["a"]
    message = str(err.value)
    assert "frame 2" in message and "'a'" in message and "data_0.gulp" in message


def test_truncated_data_file(tmp_path, frames3):
    write_chunk(tmp_path, [("a", {}, frames3)])
    path = tmp_path / "data_0.gulp"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CorruptMetaError, match="truncated"):
        GulpDirectory(str(tmp_path))["a"]


def test_open_flags(tmp_path, frames3):
    chunk = write_chunk(tmp_path, [("a", {}, frames3)])
    for flag in ["r", "w", "a+", "rb+"]:
        with pytest.raises(NotImplementedError, match=re.escape(repr(flag))):
            with chunk.open(flag):
                pass
    with pytest.raises(Exception, match="not open for writing"):
        chunk.append("b", {}, frames3)


def test_unencodable_frame_names_the_item(tmp_path):
    chunk = GulpDirectory(str(tmp_path)).new_chunks(1)[0]
    with pytest.raises(ValueError, match="frame 1 of id 'bad'"):
        with chunk.open("wb"):
            chunk.append("bad", {}, [scene(8, 8), np.zeros((0, 5, 3), np.uint8)])
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------- writer

def test_chunk_writer_skips_items_without_frames(tmp_path, frames3, caplog):
    adapter = ListAdapter([
        {"id": 1, "meta": {"a": 1}, "frames": frames3},
        {"id": 2, "meta": {}, "frames": [], "skip_reason": "video unreadable"},
        {"id": 3, "meta": {}, "frames": []},
    ])
    chunk = GulpDirectory(str(tmp_path)).new_chunks(1)[0]
    with caplog.at_level(logging.WARNING):
        report = ChunkWriter(adapter).write_chunk(chunk, slice(0, 3))
    assert report.written == ["1"]
    assert report.skipped == [("2", "video unreadable"), ("3", "no frames")]
    assert "video unreadable" in caplog.text and "'2'" in caplog.text
    assert GulpDirectory(str(tmp_path)).ids() == ["1"]


def test_chunk_with_nothing_written_makes_no_files(tmp_path):
    chunk = GulpDirectory(str(tmp_path)).new_chunks(1)[0]
    with chunk.open("wb"):
        pass
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("num_workers", [1, 2])
def test_ingestor(tmp_path, num_workers):
    items = [{"id": i, "meta": {"i": i}, "frames": [scene(16, 24, t)
                                                    for t in range(i + 1)]}
             for i in range(7)]
    items[3] = {"id": 3, "meta": {}, "frames": [], "skip_reason": "broken"}
    adapter = ListAdapter(items)
    finalized = []
    adapter.finalize = lambda: finalized.append(True)
    report = GulpIngestor(adapter, str(tmp_path / "out"), 2, num_workers)()
    assert finalized == [True]
    assert report.written == ["0", "1", "2", "4", "5", "6"]
    assert report.skipped == [("3", "broken")]
    assert len(report.chunks) == 4
    directory = GulpDirectory(str(tmp_path / "out"))
    assert directory.num_chunks == 4
    assert directory.ids() == report.written
    assert directory.num_frames(6) == 7


def test_ingestor_honours_joblib_backend(tmp_path):
    from joblib import parallel_config
    items = [{"id": i, "meta": {}, "frames": [scene(16, 16, i)]}
             for i in range(4)]
    with parallel_config(backend="threading"):
        report = GulpIngestor(ListAdapter(items), str(tmp_path / "a"), 1, 1)()
    assert len(report.written) == 4
    report = GulpIngestor(ListAdapter(items), str(tmp_path / "b"), 3, 2,
                          backend="threading")()
    assert GulpDirectory(str(tmp_path / "b")).ids() == ["0", "1", "2", "3"]
    for name in ["data_0.gulp", "data_1.gulp", "meta_0.gmeta", "meta_1.gmeta"]:
        assert ((tmp_path / "a" / name).exists())
    assert ((tmp_path / "a" / "data_0.gulp").read_bytes()
            + (tmp_path / "a" / "data_1.gulp").read_bytes()
            + (tmp_path / "a" / "data_2.gulp").read_bytes()
            ) == (tmp_path / "b" / "data_0.gulp").read_bytes()


def test_ingestor_validates_arguments(tmp_path):
    with pytest.raises(ValueError, match="videos_per_chunk must be a positive"):
        GulpIngestor(ListAdapter([]), str(tmp_path), 0, 1)
    with pytest.raises(ValueError, match="num_workers must be a positive"):
        GulpIngestor(ListAdapter([]), str(tmp_path), 1, -2)


# ---------------------------------------------------------------- fork safety

def test_reads_stay_correct_after_fork(tmp_path):
    frames = {i: [scene(32, 32, i * 7 + t) for t in range(6)] for i in range(4)}
    write_chunk(tmp_path, [(i, {}, f) for i, f in frames.items()])
    directory = GulpDirectory(str(tmp_path))
    directory[0]  # the parent opens the data file before forking
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: interleave reads with the parent
        ok = True
        try:
            for _ in range(30):
                for i in (3, 1):
                    got, _ = directory[i]
                    ok &= all(np.array_equal(g, expected_rgb(f))
                              for g, f in zip(got, frames[i]))
        finally:
            os.write(write_fd, b"1" if ok else b"0")
            os._exit(0)
    for _ in range(30):
        for i in (0, 2):
            got, _ = directory[i]
            assert all(np.array_equal(g, expected_rgb(f))
                       for g, f in zip(got, frames[i]))
    os.waitpid(pid, 0)
    assert os.read(read_fd, 1) == b"1"


def test_directory_pickles(tmp_path, frames3):
    import pickle
    write_chunk(tmp_path, [("a", {"m": 1}, frames3)])
    directory = GulpDirectory(str(tmp_path))
    directory["a"]
    clone = pickle.loads(pickle.dumps(directory))
    frames, meta = clone["a"]
    assert meta == {"m": 1} and len(frames) == 5


# ---------------------------------------------------------------- crash safety

def test_exception_inside_write_leaves_no_chunk(tmp_path, frames3, caplog):
    write_chunk(tmp_path, [("keep", {}, frames3)])
    chunk = GulpDirectory(str(tmp_path)).new_chunks(1)[0]
    with pytest.raises(RuntimeError, match="boom"):
        with chunk.open("wb"):
            chunk.append("lost", {}, frames3)
            raise RuntimeError("boom")
    assert sorted(os.listdir(tmp_path)) == ["data_0.gulp", "meta_0.gmeta"]
    assert GulpDirectory(str(tmp_path)).ids() == ["keep"]


def test_exception_inside_append_restores_chunk(tmp_path, frames3):
    chunk = write_chunk(tmp_path, [("keep", {}, frames3)])
    before = {name: (tmp_path / name).read_bytes()
              for name in ["data_0.gulp", "meta_0.gmeta"]}
    with pytest.raises(RuntimeError):
        with chunk.open("ab"):
            chunk.append("lost", {}, frames3)
            raise RuntimeError("boom")
    for name, content in before.items():
        assert (tmp_path / name).read_bytes() == content
    with pytest.raises(RuntimeError):
        with chunk.open("ab"):
            chunk.append("flushed", {}, frames3[:3])
            chunk.flush()  # a commit point
            chunk.append("lost", {}, frames3)
            raise RuntimeError("boom")
    with chunk.open("ab"):
        chunk.append("new", {}, frames3[:2])
    directory = GulpDirectory(str(tmp_path))
    assert directory.ids() == ["keep", "flushed", "new"]
    assert len(directory["flushed"][0]) == 3
    assert len(directory["new"][0]) == 2
    from gulpio.sanity_utils import check_data_file_size
    assert check_data_file_size(directory) == []


def test_append_cuts_off_trailing_bytes_of_an_interrupted_append(tmp_path, frames3):
    chunk = write_chunk(tmp_path, [("a", {}, frames3)])
    with open(chunk.data_file_path, "ab") as fp:
        fp.write(b"\xff\xd8 half a frame")
    with chunk.open("ab"):
        chunk.append("b", {}, frames3[:1])
    directory = GulpDirectory(str(tmp_path))
    assert len(directory["b"][0]) == 1
    from gulpio.sanity_utils import check_data_file_size
    assert check_data_file_size(directory) == []


def test_leftover_of_interrupted_commit_is_ignored(tmp_path, frames3, caplog):
    write_chunk(tmp_path, [("a", {}, frames3)])
    write_chunk(tmp_path, [("b", {}, frames3)])
    # the state between the two renames of a commit
    os.rename(tmp_path / "meta_1.gmeta", tmp_path / "meta_1.gmeta.incomplete")
    with caplog.at_level(logging.WARNING):
        directory = GulpDirectory(str(tmp_path))
    assert directory.ids() == ["a"]
    assert "interrupted write" in caplog.text and "data_1.gulp" in caplog.text
    assert "--remove_duplicates" in caplog.text


WRITER_SCRIPT = textwrap.dedent("""
    import sys, numpy as np
    from gulpio import GulpDirectory
    folder, mode = sys.argv[1], sys.argv[2]
    directory = GulpDirectory(folder)
    chunk = (directory.new_chunks(1)[0] if mode == "wb"
             else directory.chunk_objs_lookup[0])
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
              for _ in range(4)]
    with chunk.open(mode):
        for i in range(100000):
            chunk.append(f"{mode}-{i}", {"i": i}, frames)
            if i == 2:
                print("writing", flush=True)
            if mode == "ab" and i % 5 == 0:
                chunk.flush()
""")


def check_directory_is_consistent(folder):
    directory = GulpDirectory(folder)
    for id_ in directory.ids():
        frames, _ = directory[id_]
        assert len(frames) == directory.num_frames(id_) > 0
    return directory


@pytest.mark.parametrize("mode,delay", [("wb", 0.0), ("wb", 0.3),
                                        ("ab", 0.0), ("ab", 0.4)])
def test_sigkill_while_writing(tmp_path, frames3, mode, delay):
    write_chunk(tmp_path, [("keep", {"k": 1}, frames3)])
    before = (tmp_path / "data_0.gulp").read_bytes()
    script = tmp_path / "writer.py"
    script.write_text(WRITER_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path), mode],
                            stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"writing"
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    directory = check_directory_is_consistent(str(tmp_path))
    assert directory["keep"][1] == {"k": 1}
    if mode == "wb":
        assert directory.ids() == ["keep"]
        assert (tmp_path / "data_0.gulp").read_bytes() == before
        assert os.path.exists(tmp_path / "data_1.gulp.incomplete")
    else:
        # flushed appends are kept, each complete; the tail is not indexed
        assert directory.ids()[0] == "keep"
        assert all(directory.num_frames(i) == 4 for i in directory.ids()[1:])
        assert (tmp_path / "data_0.gulp").read_bytes()[:len(before)] == before
    # a new ingestion cleans the leftovers and carries on
    adapter = ListAdapter([{"id": "after", "meta": {}, "frames": frames3}])
    GulpIngestor(adapter, str(tmp_path), 1, 1)()
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".incomplete")]
    directory = check_directory_is_consistent(str(tmp_path))
    assert "after" in directory


def test_meta_that_cannot_be_stored_is_refused_naming_the_item(tmp_path, frames3):
    write_chunk(tmp_path, [("keep", {}, frames3)])
    chunk = GulpDirectory(str(tmp_path)).new_chunks(1)[0]
    with pytest.raises(InvalidInputError,
                       match=r"meta data of id 'bad' cannot be stored in .*meta_1"):
        with chunk.open("wb"):
            chunk.append("fine", {"n": 1}, frames3)
            chunk.append("bad", {"n": np.int64(2)}, frames3)
    assert sorted(os.listdir(tmp_path)) == ["data_0.gulp", "meta_0.gmeta"]
    assert GulpDirectory(str(tmp_path)).ids() == ["keep"]
    pickled = GulpChunk(str(tmp_path / "data_1.gulp"), str(tmp_path / "meta_1.gmeta"),
                        serializer=pickle_serializer)
    with pytest.raises(InvalidInputError, match="id 'lambda'"):
        with pickled.open("wb"):
            pickled.append("lambda", {"f": lambda: 0}, frames3)
    assert sorted(os.listdir(tmp_path)) == ["data_0.gulp", "meta_0.gmeta"]


class FailingSerializer(JSONSerializer):
    """Writes nothing: as if the disk filled up while the meta was stored."""

    def dump(self, thing, file_name):
        with open(file_name, "w") as fp:
            fp.write("{")
        raise OSError(28, "No space left on device", file_name)


def test_a_meta_file_that_fails_to_write_leaves_the_folder_as_it_was(tmp_path, frames3):
    write_chunk(tmp_path, [("keep", {}, frames3)])
    before = {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)}
    for number in (1, 0):  # a new chunk, then overwriting the existing one
        target = GulpChunk(*_format.chunk_paths(str(tmp_path), number),
                           serializer=FailingSerializer())
        with pytest.raises(OSError, match="No space left"):
            with target.open("wb"):
                target.append("new", {}, frames3)
        assert {name: (tmp_path / name).read_bytes()
                for name in os.listdir(tmp_path)} == before
    assert GulpDirectory(str(tmp_path)).ids() == ["keep"]


def test_leftovers_with_a_doubled_suffix_are_found_and_removed(tmp_path, frames3):
    write_chunk(tmp_path, [("keep", {}, frames3)])
    (tmp_path / "meta_1.gmeta.incomplete.incomplete").write_text("{")
    (tmp_path / "data_1.gulp.incomplete").write_bytes(b"\xff\xd8")
    assert GulpDirectory(str(tmp_path)).ids() == ["keep"]
    removed = remove_incomplete_chunks(str(tmp_path))
    assert [os.path.basename(p) for p in removed] == [
        "data_1.gulp.incomplete", "meta_1.gmeta.incomplete.incomplete"]
    assert sorted(os.listdir(tmp_path)) == ["data_0.gulp", "meta_0.gmeta"]


# A full disk, made real with a file size limit (RLIMIT_FSIZE): writes past
# it fail with EFBIG as they would with ENOSPC.
FULL_DISK_SCRIPT = textwrap.dedent("""
    import os, resource, signal, sys
    import numpy as np
    from gulpio import GulpChunk, _format
    folder, mode, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    rng = np.random.default_rng(0)
    chunk = GulpChunk(*_format.chunk_paths(folder, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    try:
        with chunk.open(mode):
            for i in range(6):
                chunk.append(f"new{i}", {"i": i},
                             [rng.integers(0, 255, (60, 80, 3), np.uint8)
                              for _ in range(3)])
    except OSError as exc:
        print(exc)
        sys.exit(0)
    sys.exit("no error")
""")


@pytest.mark.parametrize("mode", ["wb", "ab"])
def test_a_full_disk_leaves_the_folder_as_it_was(tmp_path, frames3, mode):
    folder = str(tmp_path)
    if mode == "ab":
        write_chunk(folder, [("old", {"k": 1}, frames3)])
    before = {name: open(os.path.join(folder, name), "rb").read()
              for name in os.listdir(folder)}
    limit = sum(map(len, before.values())) + 30000
    done = subprocess.run([sys.executable, "-c", FULL_DISK_SCRIPT, folder,
                           mode, str(limit)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    # the message names the file and what was being written
    assert "File too large" in done.stdout and "data_0.gulp" in done.stdout
    assert re.search(r"id 'new\d'|finishing|flushing", done.stdout)
    assert "undoing" not in done.stdout  # the first error, not a later one
    after = {name: open(os.path.join(folder, name), "rb").read()
             for name in os.listdir(folder)}
    assert after == before  # no leftover, nothing of the failed write kept
    if mode == "ab":
        frames, meta = GulpDirectory(folder)["old"]
        assert len(frames) == 5 and meta == {"k": 1}
