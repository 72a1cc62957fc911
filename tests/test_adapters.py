"""gulpio.adapters on real videos, images and list files made in tmp_path."""
import json
import os
import pickle
import random
import sys

import cv2
import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
import _media  # noqa: E402
from _h264 import write_h264  # noqa: E402

from gulpio import GulpDirectory, GulpIngestor  # noqa: E402
from gulpio._format import label2idx_path  # noqa: E402
from gulpio.adapters import (AbstractDatasetAdapter, ActivitynetAdapter,  # noqa: E402
                             Custom20BNCsvJpegAdapter, Custom20BNCsvWebmAdapter,
                             Custom20BNJsonVideoAdapter, ImageFolderAdapter,
                             ImageListAdapter, ItemListAdapter, KineticsAdapter)
from gulpio.errors import InvalidInputError  # noqa: E402


def read_label2idx(folder):
    with open(label2idx_path(str(folder))) as fp:
        return json.load(fp)


def ingest(adapter, out, per_chunk=2, workers=1):
    return GulpIngestor(adapter, str(out), per_chunk, workers)()


IDS = [("10", "pull"), ("11", "push"), ("12", "pull"), ("13", "drop")]


# ----------------------------------------------------------------- 20BN JSON
@pytest.mark.parametrize("gz", [False, True])
def test_json_adapter_items_meta_and_frames(tmp_path, gz):
    json_path, videos = _media.make_20bn_json_dataset(str(tmp_path), IDS, num_frames=24,
                                                      fps=24, gz=gz)
    out = tmp_path / "out"
    adapter = Custom20BNJsonVideoAdapter(json_path, videos, str(out), frame_rate=8)
    assert len(adapter) == 4
    assert adapter.label2idx == {"drop": 0, "pull": 1, "push": 2}
    items = list(adapter.iter_data())
    assert [item["id"] for item in items] == ["10", "11", "12", "13"]
    assert items[1]["meta"] == {"id": "11", "label": "push", "idx": 2}
    # 24 + i frames at 24 fps sampled at 8 fps
    assert [len(item["frames"]) for item in items] == [8, 8, 9, 9]
    assert [item["id"] for item in adapter.iter_data(slice(1, 3))] == ["11", "12"]
    assert not os.path.exists(label2idx_path(str(out)))  # iterating writes nothing

    report = ingest(adapter, out)
    assert report.written == ["10", "11", "12", "13"] and report.skipped == []
    assert read_label2idx(out) == {"drop": 0, "pull": 1, "push": 2}
    directory = GulpDirectory(str(out))
    frames, meta = directory["12"]
    assert meta == {"id": "12", "label": "pull", "idx": 1}
    expected = _media.read_all_frames(os.path.join(videos, "12", "12.mp4"))[::3]
    assert len(frames) == 9
    # stored as JPEG, read back as RGB
    diff = np.abs(frames[4].astype(int) - expected[4][..., ::-1].astype(int)).mean()
    assert diff < 6


def test_json_adapter_frame_size_and_default_rate(tmp_path):
    json_path, videos = _media.make_20bn_json_dataset(str(tmp_path), IDS[:1], num_frames=16,
                                                      fps=16, size=(64, 48))
    adapter = Custom20BNJsonVideoAdapter(json_path, videos, str(tmp_path / "o"), frame_size=24)
    (item,) = list(adapter.iter_data())
    assert len(item["frames"]) == 8  # default frame_rate 8
    assert item["frames"][0].shape == (24, 32, 3)


def test_numeric_parameters_given_as_text(tmp_path):
    json_path, videos = _media.make_20bn_json_dataset(str(tmp_path), IDS[:1], num_frames=24,
                                                      fps=24, size=(64, 48))
    adapter = Custom20BNJsonVideoAdapter(json_path, videos, str(tmp_path / "o"),
                                         frame_rate="6", frame_size="24")
    (item,) = list(adapter.iter_data())
    assert len(item["frames"]) == 6 and item["frames"][0].shape == (24, 32, 3)
    with pytest.raises(InvalidInputError, match="frame_rate must be a number, got 'fast'"):
        Custom20BNJsonVideoAdapter(json_path, videos, str(tmp_path / "o"), frame_rate="fast")


def test_json_test_split_without_labels_is_dummy(tmp_path):
    json_path = _media.write_json(str(tmp_path / "l.json"), [{"id": 1}, {"id": 2}])
    os.makedirs(tmp_path / "v")
    adapter = Custom20BNJsonVideoAdapter(json_path, str(tmp_path / "v"), str(tmp_path / "o"))
    assert [m["label"] for m in adapter.all_meta] == ["dummy", "dummy"]
    assert adapter.label2idx == {"dummy": 0}


@pytest.mark.parametrize("content,message", [
    ("{not json", "is not valid JSON"),
    ('{"id": 1}', "expected a JSON list"),
    ('[{"id": 1, "template": "a"}, {"template": "b"}]', "entry 1 has no 'id'"),
    ('[{"id": 1, "template": "a"}, {"id": 2}]', "entry 1 has no 'template' key"),
])
def test_json_adapter_rejects_malformed_input(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    os.makedirs(tmp_path / "v")
    with pytest.raises(InvalidInputError, match=message) as info:
        Custom20BNJsonVideoAdapter(str(path), str(tmp_path / "v"), str(tmp_path / "o"))
    assert "bad.json" in str(info.value)


def test_json_adapter_missing_inputs(tmp_path):
    os.makedirs(tmp_path / "v")
    with pytest.raises(InvalidInputError, match="missing.json does not exist"):
        Custom20BNJsonVideoAdapter(str(tmp_path / "missing.json"), str(tmp_path / "v"), "o")
    path = _media.write_json(str(tmp_path / "l.json"), [{"id": 1, "template": "a"}])
    with pytest.raises(InvalidInputError, match="videos directory .*nowhere does not exist"):
        Custom20BNJsonVideoAdapter(path, str(tmp_path / "nowhere"), "o")


def test_label_indices_are_kept_when_extending(tmp_path):
    out = tmp_path / "out"
    json1, videos1 = _media.make_20bn_json_dataset(str(tmp_path / "a"), [("1", "b"), ("2", "d")])
    ingest(Custom20BNJsonVideoAdapter(json1, videos1, str(out)), out)
    assert read_label2idx(out) == {"b": 0, "d": 1}
    json2, videos2 = _media.make_20bn_json_dataset(str(tmp_path / "b"),
                                                   [("3", "a"), ("4", "d"), ("5", "c")])
    adapter = Custom20BNJsonVideoAdapter(json2, videos2, str(out))
    assert adapter.label2idx == {"b": 0, "d": 1, "a": 2, "c": 3}
    ingest(adapter, out)
    assert read_label2idx(out) == {"b": 0, "d": 1, "a": 2, "c": 3}
    directory = GulpDirectory(str(out))
    assert directory.ids() == ["1", "2", "3", "4", "5"]
    assert directory.meta("4")["idx"] == 1 and directory.meta("3")["idx"] == 2


def test_remove_duplicate_ids(tmp_path):
    out = tmp_path / "out"
    json1, videos = _media.make_20bn_json_dataset(str(tmp_path), IDS)
    ingest(Custom20BNJsonVideoAdapter(json1, videos, str(out)), out)
    entries = [{"id": i, "template": lab} for i, lab in IDS + [("10", "pull")]]
    entries.append({"id": "14", "template": "pull"})
    _media.make_video(os.path.join(videos, "14", "14.mp4"), 12, 12, (32, 24))
    json2 = _media.write_json(str(tmp_path / "again.json"), entries + [entries[-1]])
    adapter = Custom20BNJsonVideoAdapter(json2, videos, str(out), remove_duplicate_ids=True)
    assert [m["id"] for m in adapter.all_meta] == ["14"]
    ingest(adapter, out)
    assert GulpDirectory(str(out)).ids() == ["10", "11", "12", "13", "14"]


def test_shuffle_permutes_the_items(tmp_path):
    ids = [(str(i), "x") for i in range(12)]
    json_path = _media.write_json(str(tmp_path / "l.json"),
                                  [{"id": i, "template": lab} for i, lab in ids])
    os.makedirs(tmp_path / "v")
    random.seed(3)
    shuffled = Custom20BNJsonVideoAdapter(json_path, str(tmp_path / "v"), "o", shuffle=True)
    order = [m["id"] for m in shuffled.all_meta]
    assert sorted(order, key=int) == [i for i, _ in ids] and order != [i for i, _ in ids]
    plain = Custom20BNJsonVideoAdapter(json_path, str(tmp_path / "v"), "o")
    assert [m["id"] for m in plain.all_meta] == [i for i, _ in ids]


def test_bad_videos_become_skipped_items(tmp_path):
    ids = [("ok", "a"), ("nofolder", "a"), ("empty", "a"), ("garbage", "a"), ("truncated", "b"),
           ("h264", "b")]
    json_path = _media.write_json(str(tmp_path / "l.json"),
                                  [{"id": i, "template": lab} for i, lab in ids])
    videos = tmp_path / "videos"
    _media.make_video(str(videos / "ok" / "ok.mp4"), 12, 12, (32, 24))
    (videos / "empty").mkdir()
    (videos / "empty" / "empty.mp4").write_bytes(b"")
    (videos / "garbage").mkdir()
    (videos / "garbage" / "garbage.mp4").write_bytes(os.urandom(3000))
    trunc = _media.make_video(str(videos / "truncated" / "truncated.mp4"), 60, 12, (64, 48))
    _media.truncate_file(trunc, os.path.getsize(trunc) // 2)
    # an H.264 stream (hand-written, see _h264.py) in a file named .mp4
    os.makedirs(videos / "h264")
    write_h264(str(videos / "h264" / "h264.mp4"),
               [_media.frame_content(i, 32, 32) for i in range(25)])
    adapter = Custom20BNJsonVideoAdapter(json_path, str(videos), str(tmp_path / "out"),
                                         frame_rate=25)
    report = ingest(adapter, tmp_path / "out", per_chunk=4)
    assert report.written == ["ok", "h264"]
    reasons = dict(report.skipped)
    assert set(reasons) == {"nofolder", "empty", "garbage", "truncated"}
    assert "nofolder" in reasons["nofolder"] and "does not exist" in reasons["nofolder"]
    assert "empty.mp4 is an empty file" in reasons["empty"]
    assert "garbage.mp4" in reasons["garbage"]
    assert "truncated.mp4" in reasons["truncated"]
    directory = GulpDirectory(str(tmp_path / "out"))
    assert directory.num_frames("h264") == 25
    assert read_label2idx(tmp_path / "out") == {"a": 0, "b": 1}


def test_adapter_pickles_for_worker_processes(tmp_path):
    json_path, videos = _media.make_20bn_json_dataset(str(tmp_path), IDS[:2])
    adapter = Custom20BNJsonVideoAdapter(json_path, videos, str(tmp_path / "o"))
    clone = pickle.loads(pickle.dumps(adapter))
    a, b = list(adapter.iter_data()), list(clone.iter_data())
    assert [x["meta"] for x in a] == [x["meta"] for x in b]
    assert all(np.array_equal(f, g) for x, y in zip(a, b) for f, g in zip(x["frames"], y["frames"]))


def test_parallel_ingestion_writes_label_index_once_in_the_parent(tmp_path):
    json_path, videos = _media.make_20bn_json_dataset(str(tmp_path), IDS)
    out = tmp_path / "out"
    report = ingest(Custom20BNJsonVideoAdapter(json_path, videos, str(out)), out,
                    per_chunk=1, workers=2)
    assert sorted(report.written) == ["10", "11", "12", "13"]
    assert sorted(os.listdir(out)) == sorted(
        ["label2idx.json"] + [f"data_{i}.gulp" for i in range(4)]
        + [f"meta_{i}.gmeta" for i in range(4)])
    assert read_label2idx(out) == {"drop": 0, "pull": 1, "push": 2}


# ------------------------------------------------------------ 20BN CSV webm
def test_csv_webm_adapter(tmp_path):
    csv_path, videos = _media.make_20bn_webm_dataset(
        str(tmp_path), [("1", "Holding something"), ("2", "Moving something"), ("3", None)],
        num_frames=24, fps=24)
    adapter = Custom20BNCsvWebmAdapter(csv_path, videos, str(tmp_path / "out"))
    metas = [m for m in adapter.all_meta]
    assert metas[2] == {"id": "3", "label": "dummy", "idx": 2}
    assert adapter.label2idx == {"Holding something": 0, "Moving something": 1, "dummy": 2}
    items = list(adapter.iter_data())
    assert [len(i["frames"]) for i in items] == [12, 13, 13]  # default frame_rate 12
    report = ingest(adapter, tmp_path / "out")
    assert report.written == ["1", "2", "3"]


def test_csv_webm_missing_video_is_skipped(tmp_path):
    csv_path, videos = _media.make_20bn_webm_dataset(str(tmp_path), [("1", "a")])
    with open(csv_path, "a") as fp:
        fp.write("2;a\n")
    report = ingest(Custom20BNCsvWebmAdapter(csv_path, videos, str(tmp_path / "o")),
                    tmp_path / "o")
    assert report.written == ["1"]
    assert report.skipped[0][0] == "2" and "2.webm does not exist" in report.skipped[0][1]


def test_csv_with_a_bad_row_names_the_line(tmp_path):
    path = _media.write_lines(str(tmp_path / "l.csv"), ["1;a", "", "2;b;extra"])
    os.makedirs(tmp_path / "v")
    with pytest.raises(InvalidInputError, match=r"l.csv, line 3: expected 'id;label'"):
        Custom20BNCsvWebmAdapter(path, str(tmp_path / "v"), "o")


# ------------------------------------------------------------ 20BN CSV jpeg
def test_csv_jpeg_adapter(tmp_path):
    csv_path, jpegs = _media.make_20bn_jpeg_dataset(str(tmp_path), [("5", "x"), ("6", "y")],
                                                    num_frames=3, size=(40, 30))
    os.makedirs(os.path.join(jpegs, "7"))  # a folder without frames
    with open(csv_path, "a") as fp:
        fp.write("7;x\n8;x\n")
    adapter = Custom20BNCsvJpegAdapter(csv_path, jpegs, str(tmp_path / "out"), frame_size=15)
    items = list(adapter.iter_data())
    assert [len(i["frames"]) for i in items] == [3, 4, 0, 0]
    paths = sorted(os.listdir(os.path.join(jpegs, "6")))
    expected = cv2.resize(cv2.imread(os.path.join(jpegs, "6", paths[2])), (20, 15))
    assert np.array_equal(items[1]["frames"][2], expected)
    assert "no .jpg frames in" in items[2]["skip_reason"]
    assert "8 does not exist" in items[3]["skip_reason"]
    assert items[0]["meta"] == {"id": "5", "label": "x", "idx": 0}


def test_csv_jpeg_frames_without_zero_padding_keep_their_order(tmp_path):
    jpegs = tmp_path / "jpegs" / "1"
    for number in range(1, 13):  # 1.jpg ... 12.jpg, brightness = number
        jpegs.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(jpegs / f"{number}.jpg"),
                    np.full((8, 8, 3), 20 * number, np.uint8))
    csv_path = _media.write_lines(str(tmp_path / "l.csv"), ["1;x"])
    adapter = Custom20BNCsvJpegAdapter(csv_path, str(tmp_path / "jpegs"),
                                       str(tmp_path / "out"))
    frames = next(adapter.iter_data())["frames"]
    assert [round(int(f[4, 4, 0]) / 20) for f in frames] == list(range(1, 13))


# ------------------------------------------------------------------ images
def test_image_folder_adapter_honours_every_extension(tmp_path):
    folder = _media.make_image_folder(str(tmp_path), {"cat": ["a.jpg", "b.png", "c.gif"],
                                                      "dog": ["d.png"]})
    with open(os.path.join(folder, "cat", "c.gif"), "wb") as fp:
        fp.write(b"ignored")
    out = tmp_path / "out"
    adapter = ImageFolderAdapter(folder, str(out), img_size=15)
    assert [m["id"] for m in (i["meta"] for i in adapter.items)] == ["cat-a.jpg", "cat-b.png",
                                                                    "dog-d.png"]
    report = ingest(adapter, out)
    assert report.written == ["cat-a.jpg", "cat-b.png", "dog-d.png"]
    assert read_label2idx(out) == {"cat": 0, "dog": 1}
    frames, meta = GulpDirectory(str(out))["cat-b.png"]
    assert meta == {"id": "cat-b.png", "label": "cat", "idx": 0}
    assert frames[0].shape == (15, 20, 3)
    only_png = ImageFolderAdapter(folder, str(out), file_extensions=[".png"])
    assert len(only_png) == 2


def test_image_folder_unreadable_image_is_skipped(tmp_path):
    folder = _media.make_image_folder(str(tmp_path), {"a": ["1.jpg"]})
    with open(os.path.join(folder, "a", "2.jpg"), "wb") as fp:
        fp.write(b"not a jpeg")
    report = ingest(ImageFolderAdapter(folder, str(tmp_path / "o")), tmp_path / "o")
    assert report.written == ["a-1.jpg"]
    assert report.skipped[0][0] == "a-2.jpg" and "2.jpg does not decode" in report.skipped[0][1]


def test_image_list_adapter(tmp_path, monkeypatch):
    _media.make_image(str(tmp_path / "imgs" / "one.jpg"), (40, 30), seed=1)
    _media.make_image(str(tmp_path / "imgs" / "two.png"), (30, 40), seed=2)
    listing = _media.write_lines(str(tmp_path / "list.txt"),
                                 ["imgs/one.jpg,cat", "", "imgs/two.png,dog", "imgs/gone.jpg,dog"])
    adapter = ImageListAdapter(listing, str(tmp_path / "out"), root_folder=str(tmp_path))
    assert [i["id"] for i in adapter.items] == ["one.jpg", "two.png", "gone.jpg"]
    report = ingest(adapter, tmp_path / "out")
    assert report.written == ["one.jpg", "two.png"]
    assert report.skipped[0][0] == "gone.jpg" and "does not exist" in report.skipped[0][1]
    frames, meta = GulpDirectory(str(tmp_path / "out"))["two.png"]
    assert meta == {"id": "two.png", "label": "dog", "idx": 1}
    assert frames[0].shape == (40, 30, 3)
    # without a root folder, paths resolve from the current directory
    monkeypatch.chdir(tmp_path)
    relative = ImageListAdapter("list.txt", "out2")
    assert len(list(relative.iter_data())[0]["frames"]) == 1


def test_image_list_bad_line(tmp_path):
    listing = _media.write_lines(str(tmp_path / "list.txt"), ["a.jpg,cat", "just-a-path"])
    with pytest.raises(InvalidInputError, match="list.txt, line 2: expected 'path,label'"):
        ImageListAdapter(listing, str(tmp_path / "out"))


# ------------------------------------------------- ActivityNet and Kinetics
def test_activitynet_adapter(tmp_path):
    json_path, videos = _media.make_activitynet_dataset(
        str(tmp_path), {"aa": "training", "bb": "validation", "cc": "training", "dd": "training"},
        missing=["dd"])
    os.rename(os.path.join(videos, "cc.mp4"), os.path.join(videos, "v_cc.mp4"))
    adapter = ActivitynetAdapter(json_path, videos)
    assert [i["id"] for i in adapter.items] == ["aa", "cc", "dd"]
    with open(json_path) as fp:
        database = json.load(fp)["database"]
    items = list(adapter.iter_data())
    assert items[0]["meta"] == database["aa"]
    assert len(items[1]["frames"]) == 12  # every frame kept
    assert "dd" in items[2]["skip_reason"]
    validation = ActivitynetAdapter(json_path, videos, phase="validation", frame_size=12)
    assert [i["id"] for i in validation.items] == ["bb"]
    assert list(validation.iter_data())[0]["frames"][0].shape == (12, 16, 3)


def test_kinetics_adapter(tmp_path):
    json_path, videos = _media.make_kinetics_dataset(
        str(tmp_path), {"abc_x-1": "riding bike", "q9": "surfing", "zz": "surfing"},
        missing=["zz"])
    adapter = KineticsAdapter(json_path, videos)
    with open(json_path) as fp:
        entries = json.load(fp)
    items = list(adapter.iter_data())
    assert [i["id"] for i in items] == ["abc_x-1", "q9", "zz"]
    assert items[0]["meta"] == entries["abc_x-1"]
    assert [len(i["frames"]) for i in items] == [10, 11, 0]
    assert "zz_*.mp4" in items[2]["skip_reason"]
    out = tmp_path / "out"
    report = ingest(adapter, out)
    assert report.written == ["abc_x-1", "q9"] and not os.path.exists(label2idx_path(str(out)))


def test_activitynet_and_kinetics_reject_bad_json(tmp_path):
    os.makedirs(tmp_path / "v")
    path = _media.write_json(str(tmp_path / "x.json"), [1, 2])
    with pytest.raises(InvalidInputError, match="database"):
        ActivitynetAdapter(path, str(tmp_path / "v"))
    with pytest.raises(InvalidInputError, match="expected an object"):
        KineticsAdapter(path, str(tmp_path / "v"))


# ----------------------------------------------------------- custom adapters
def test_abstract_adapter_and_a_minimal_subclass(tmp_path):
    with pytest.raises(TypeError):
        AbstractDatasetAdapter()

    class Noise(AbstractDatasetAdapter):
        def __len__(self):
            return 3

        def iter_data(self, slice_element=None):
            for i in range(3)[slice_element or slice(None)]:
                yield {"id": i, "meta": {"n": i},
                       "frames": [np.full((8, 8, 3), 40 * i, np.uint8)] * (i + 1)}

    report = ingest(Noise(), tmp_path / "out")
    assert report.written == ["0", "1", "2"]
    assert GulpDirectory(str(tmp_path / "out")).num_frames(2) == 3


def test_item_list_base_turns_exceptions_into_skips(tmp_path):
    from gulpio.adapters import ItemListAdapter

    class Numbers(ItemListAdapter):
        def __init__(self, count, output_folder, shuffle=False, remove_duplicate_ids=False):
            self.output_folder = output_folder
            self.set_items([{"id": i % 4, "meta": {"n": i}} for i in range(count)], shuffle,
                           remove_duplicate_ids, output_folder)

        def load_frames(self, item):
            if item["id"] == 2:
                raise ValueError("two is not allowed")
            return [np.full((6, 6), 50 * item["id"], np.uint8)] if item["id"] else []

    adapter = Numbers(4, str(tmp_path / "out"))
    report = ingest(adapter, tmp_path / "out")
    assert report.written == ["1", "3"]
    assert report.skipped == [("0", "no frames"), ("2", "ValueError: two is not allowed")]
    again = Numbers(8, str(tmp_path / "out"), remove_duplicate_ids=True)
    assert [i["id"] for i in again.items] == [0, 2]  # 1 and 3 are stored; 4..7 repeat 0..3
    frames, _ = GulpDirectory(str(tmp_path / "out"))[3]
    assert frames[0].shape == (6, 6) and int(frames[0][0, 0]) == 150


class _Listed(ItemListAdapter):
    """Items with given ids; each loads two small frames as one array."""

    def __init__(self, ids, output_folder=None, remove_duplicate_ids=False):
        self.set_items([{"id": id_, "meta": {"n": n}} for n, id_ in enumerate(ids)],
                       False, remove_duplicate_ids, output_folder)

    def load_frames(self, item):
        return np.full((2, 6, 6, 3), 40, np.uint8)  # stacked, not a list


def test_repeated_or_stored_ids_are_refused_before_writing(tmp_path):
    out = tmp_path / "out"
    assert next(_Listed(["x"]).iter_data())["frames"].shape == (2, 6, 6, 3)
    with pytest.raises(InvalidInputError, match=r"appear more than once in the "
                                                r"input: 'a' \(2 times\)"):
        ingest(_Listed(["a", "b", "a"]), out)
    assert not os.path.exists(out)  # nothing written, not even the folder
    report = ingest(_Listed(["a", "b"]), out)
    assert report.written == ["a", "b"]
    assert GulpDirectory(str(out)).num_frames("a") == 2
    with pytest.raises(InvalidInputError, match=r"1 id\(s\) of the input are "
                                                r"already stored in .*: 'b'"):
        ingest(_Listed(["b", "c"]), out)
    again = _Listed(["b", "c", "c"], str(out), remove_duplicate_ids=True)
    assert ingest(again, out).written == ["c"]
    assert sorted(GulpDirectory(str(out)).ids()) == ["a", "b", "c"]


def test_adapters_whose_items_are_not_id_dicts_or_whose_frames_are_generators(tmp_path):
    class Paths(AbstractDatasetAdapter):  # its own `items`: plain strings
        def __init__(self):
            self.items = ["p", "q"]

        def __len__(self):
            return len(self.items)

        def iter_data(self, slice_element=None):
            for name in self.items[slice_element or slice(None)]:
                yield {"id": name, "meta": {},
                       "frames": (np.full((4, 4, 3), 9, np.uint8) for _ in range(3))}

    class Generated(_Listed):
        def load_frames(self, item):
            return (np.full((4, 4, 3), 9, np.uint8) for _ in range(2))

    assert ingest(Paths(), tmp_path / "a").written == ["p", "q"]
    assert ingest(Generated(["x", "y"]), tmp_path / "b").written == ["x", "y"]
    assert GulpDirectory(str(tmp_path / "b")).num_frames("y") == 2


def test_a_second_ingestion_into_the_same_folder_is_refused(tmp_path):
    from gulpio.errors import GulpError
    from gulpio.fileio import _ingestion_lock

    out = tmp_path / "out"
    out.mkdir()
    with _ingestion_lock(str(out)):  # as a run in progress holds it
        with pytest.raises(GulpError, match="another ingestion is writing"):
            ingest(_Listed(["a"]), out)
    assert ingest(_Listed(["a"]), out).written == ["a"]


def test_all_meta_is_settable_like_the_original(tmp_path):
    json_path, videos = _media.make_20bn_json_dataset(str(tmp_path), IDS)
    adapter = Custom20BNJsonVideoAdapter(json_path, videos, str(tmp_path / "o"))
    adapter.all_meta = [m for m in adapter.all_meta if m["label"] == "pull"]
    assert len(adapter) == 2
    assert [item["id"] for item in adapter.iter_data()] == ["10", "12"]
