"""The golden directory in tests/data/golden (made by make_golden.py from the
format description alone) is read exactly and re-written byte for byte."""
import importlib.util
import os
import shutil

import cv2
import numpy as np
import pytest

from gulpio import GulpChunk, GulpDirectory
from gulpio.sanity_utils import open_for_checking, run_checks

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
GOLDEN = os.path.join(DATA, "golden")


def load_maker():
    spec = importlib.util.spec_from_file_location(
        "make_golden", os.path.join(DATA, "make_golden.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


maker = load_maker()


def golden_records(chunk):
    """The JPEG records of a golden chunk, split by hand from the bytes."""
    import json
    with open(os.path.join(GOLDEN, f"meta_{chunk}.gmeta")) as fp:
        index = json.load(fp)
    with open(os.path.join(GOLDEN, f"data_{chunk}.gulp"), "rb") as fp:
        data = fp.read()
    return index, {id_: [data[o:o + n - p] for o, p, n in e["frame_info"]]
                   for id_, e in index.items()}


def test_golden_reads_exactly():
    directory = GulpDirectory(GOLDEN)
    assert directory.ids() == ["702766", "grey", "single", "10"]
    assert directory.chunk_lookup == {"702766": 0, "grey": 0, "single": 1,
                                      "10": 1}
    for number, (chunk, id_, meta, shapes) in enumerate(maker.ITEMS):
        frames, got_meta = directory[id_]
        assert got_meta == meta
        _, records = golden_records(chunk)
        assert len(frames) == len(shapes) == len(records[str(id_)])
        for frame, record, shape in zip(frames, records[str(id_)], shapes):
            want = cv2.imdecode(np.frombuffer(record, np.uint8),
                                cv2.IMREAD_ANYCOLOR)
            if want.ndim == 3:
                want = cv2.cvtColor(want, cv2.COLOR_BGR2RGB)
            assert frame.shape == shape[:2] + ((3,) if len(shape) == 3 else ())
            np.testing.assert_array_equal(frame, want)
    assert [name for name, failures in run_checks(open_for_checking(GOLDEN),
                                                  deep=True) if failures] == []


def test_golden_rewrites_byte_identically(tmp_path):
    first_item = maker.frames_of(0)[0]
    _, records = golden_records(0)
    if cv2.imencode(".jpg", first_item)[1].tobytes() != records["702766"][0]:
        pytest.skip("this OpenCV build encodes JPEG differently from the one "
                    "that made the golden files")
    chunks = {}
    for number, (chunk, id_, meta, _) in enumerate(maker.ITEMS):
        chunks.setdefault(chunk, []).append((id_, meta, maker.frames_of(number)))
    for chunk, items in chunks.items():
        gulp = GulpChunk(str(tmp_path / f"data_{chunk}.gulp"),
                         str(tmp_path / f"meta_{chunk}.gmeta"))
        with gulp.open("wb"):
            for id_, meta, frames in items:
                gulp.append(id_, meta, frames)
        for name in [f"data_{chunk}.gulp", f"meta_{chunk}.gmeta"]:
            with open(os.path.join(GOLDEN, name), "rb") as fp:
                assert (tmp_path / name).read_bytes() == fp.read(), name


def test_golden_appended_by_us_stays_readable_by_format(tmp_path):
    shutil.copytree(GOLDEN, tmp_path / "g")
    chunk = GulpDirectory(str(tmp_path / "g")).chunk_objs_lookup[1]
    with chunk.open("ab"):
        chunk.append("extra", {"label": "x"}, maker.frames_of(0))
    # the golden records are untouched and the new ones follow on
    data = (tmp_path / "g" / "data_1.gulp").read_bytes()
    with open(os.path.join(GOLDEN, "data_1.gulp"), "rb") as fp:
        original = fp.read()
    assert data.startswith(original)
    directory = GulpDirectory(str(tmp_path / "g"))
    assert directory.ids()[-1] == "extra"
    assert directory.merged_meta_dict["extra"]["frame_info"][0][0] == len(original)
