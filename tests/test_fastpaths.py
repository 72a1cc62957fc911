"""The fast paths give the plain paths' results: the meta-file parser, clip
reads into one array, and (approximately, by design) reduced-size decoding."""
import json
from collections import OrderedDict

import cv2
import numpy as np
import pytest

from gulpio import GulpDirectory
from gulpio._index import ChunkIndex, _fast_parse, load_chunk_index
from gulpio.errors import CorruptMetaError
from gulpio.fileio import json_serializer

from test_fileio import expected_rgb, scene, write_chunk


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
