"""gulpio.sanity_utils and the gulp_sanity_check command on real directories."""
import json
import os
import shutil
import subprocess

import cv2
import numpy as np
import pytest

from gulpio import GulpDirectory
from gulpio.cli.gulp_sanity_check import main
from gulpio.errors import GulpIOEmptyFolder
from gulpio.sanity_utils import (check_data_file_size,
                                 check_data_file_size_larger_zero,
                                 check_for_duplicate_ids, check_for_failures,
                                 check_frame_tables, check_frames_decode,
                                 check_incomplete_chunks,
                                 check_meta_file_size_larger_zero,
                                 check_meta_files_parse, extract_all_ids,
                                 get_duplicate_entries, open_for_checking)

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data",
                      "golden")


def frames(n, seed=0):
    rng = np.random.default_rng(seed)
    base = cv2.resize(rng.integers(0, 255, (6, 8, 3), dtype=np.uint8),
                      (32, 24))
    return [np.roll(base, k, axis=1) for k in range(n)]


@pytest.fixture
def gulps(tmp_path):
    folder = tmp_path / "gulps"
    os.makedirs(folder)
    for chunk_items in ([("a", 3), ("b", 2)], [("c", 4)]):
        chunk = GulpDirectory(str(folder)).new_chunks(1)[0]
        with chunk.open("wb"):
            for id_, n in chunk_items:
                chunk.append(id_, {"label": id_}, frames(n))
    return folder


def run(folder, *extra):
    return main([*extra, str(folder)])


def test_clean_directory_passes(gulps, capsys):
    assert run(gulps, "--deep") == 0
    out = capsys.readouterr().out
    assert out.count("passed") >= 8
    assert "8 of 8 checks passed" in out
    directory = open_for_checking(str(gulps))
    for check in [check_meta_file_size_larger_zero,
                  check_data_file_size_larger_zero, check_data_file_size,
                  check_for_duplicate_ids, check_incomplete_chunks,
                  check_meta_files_parse, check_frame_tables,
                  check_frames_decode]:
        assert check(directory) == [], check.__name__
        assert check(GulpDirectory(str(gulps))) == [], check.__name__


def test_helpers():
    assert get_duplicate_entries([1, 2, 2, 3, 3, 3]) == [2, 3]
    assert check_for_failures(["x"]) and not check_for_failures([])


def test_duplicate_ids_across_chunks(gulps, capsys):
    chunk = GulpDirectory(str(gulps)).new_chunks(1)[0]
    with chunk.open("wb"):
        chunk.append("a", {}, frames(1))
    directory = open_for_checking(str(gulps))
    assert sorted(extract_all_ids(directory)) == ["a", "a", "b", "c"]
    assert check_for_duplicate_ids(directory) == ["a"]
    assert run(gulps) == 1
    out = capsys.readouterr().out
    assert "no duplicate ids: FAILED (1)" in out and "    a" in out
    assert "1 failed" in out.splitlines()[-1]


def test_wrong_data_size_and_empty_files(gulps, capsys):
    with open(gulps / "data_0.gulp", "ab") as fp:
        fp.write(b"\0\0\0\0")
    assert check_data_file_size(open_for_checking(str(gulps))) == [
        str(gulps / "data_0.gulp")]
    open(gulps / "data_1.gulp", "w").close()
    open(gulps / "meta_1.gmeta", "w").close()
    directory = open_for_checking(str(gulps))
    assert check_data_file_size_larger_zero(directory) == [
        str(gulps / "data_1.gulp")]
    assert check_meta_file_size_larger_zero(directory) == [
        str(gulps / "meta_1.gmeta")]
    assert check_meta_files_parse(directory)[0].startswith(
        str(gulps / "meta_1.gmeta"))
    assert run(gulps) == 1


def test_orphans_and_leftovers(gulps):
    shutil.copy(gulps / "data_1.gulp", gulps / "data_5.gulp")
    shutil.copy(gulps / "meta_0.gmeta", gulps / "meta_7.gmeta")
    (gulps / "data_9.gulp.incomplete").write_bytes(b"\xff\xd8")
    assert check_incomplete_chunks(open_for_checking(str(gulps))) == sorted(
        [str(gulps / "data_5.gulp"), str(gulps / "meta_7.gmeta"),
         str(gulps / "data_9.gulp.incomplete")])
    assert run(gulps) == 1


def rewrite_meta(folder, change):
    path = folder / "meta_0.gmeta"
    meta = json.loads(path.read_text())
    change(meta)
    path.write_text(json.dumps(meta))


@pytest.mark.parametrize("change,problem", [
    (lambda m: m["a"]["frame_info"][0].__setitem__(0, 4), "starts at 4"),
    (lambda m: m["b"]["frame_info"][1].__setitem__(1, 5), "pad 5"),
    (lambda m: m["b"]["frame_info"][1].__setitem__(2, 7), "not a multiple"),
])
def test_frame_table_problems(gulps, change, problem):
    rewrite_meta(gulps, change)
    failures = check_frame_tables(open_for_checking(str(gulps)))
    assert failures and problem in failures[0]
    assert str(gulps / "data_0.gulp") in failures[0]


def test_broken_markers_and_deep_decode(gulps, capsys):
    meta = json.loads((gulps / "meta_0.gmeta").read_text())
    offset, pad, length = meta["b"]["frame_info"][0]
    data = bytearray((gulps / "data_0.gulp").read_bytes())
    data[offset + length - pad - 1] = 0x00          # end-of-image marker
    data[offset + 200:offset + 400] = bytes(200)  # scan data
    (gulps / "data_0.gulp").write_bytes(bytes(data))
    failures = check_frame_tables(open_for_checking(str(gulps)))
    assert failures == [f"{gulps / 'data_0.gulp'}: id 'b' frame 0: "
                        "no JPEG end-of-image marker"]
    data[offset] = 0x00                             # start-of-image marker
    (gulps / "data_0.gulp").write_bytes(bytes(data))
    decode = check_frames_decode(open_for_checking(str(gulps)))
    assert len(decode) == 1 and "frame 0 of id 'b'" in decode[0]
    assert run(gulps) == 1
    assert "every frame decodes" not in capsys.readouterr().out
    assert run(gulps, "--deep") == 1
    assert "every frame decodes: FAILED (1)" in capsys.readouterr().out


def test_usage_errors(tmp_path, capsys):
    assert run(tmp_path / "missing") == 2
    assert "does not exist" in capsys.readouterr().err
    assert main([]) == 2
    assert "error: missing argument <gulp_directory>" in capsys.readouterr().err
    assert main(["--bogus", str(tmp_path)]) == 2
    assert "error: unknown option --bogus" in capsys.readouterr().err
    assert main(["--version"]) == 0
    assert "gulp_sanity_check" in capsys.readouterr().out


def test_installed_command(gulps):
    exe = shutil.which("gulp_sanity_check")
    if exe is None:
        pytest.skip("gulp_sanity_check is not installed on PATH")
    ok = subprocess.run([exe, GOLDEN], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "checks passed" in ok.stdout
    os.remove(gulps / "meta_1.gmeta")
    bad = subprocess.run([exe, str(gulps)], capture_output=True, text=True)
    assert bad.returncode == 1
    assert "data_1.gulp" in bad.stdout
    help_ = subprocess.run([exe, "-h"], capture_output=True, text=True)
    assert help_.returncode == 0 and "Usage:" in help_.stdout


@pytest.mark.parametrize("change,problem", [
    (lambda m: {"c": {"meta_data": []}}, "entry of id 'c' lacks 'frame_info'"),
    (lambda m: {"c": {"frame_info": m["c"]["frame_info"]}},
     "entry of id 'c' lacks 'meta_data'"),
    (lambda m: [1, 2], "holds a list, not an object"),
    (lambda m: {"c": 5}, "entry of id 'c' is a number, not an object"),
    (lambda m: m["c"].__setitem__("frame_info", 7), "'frame_info' of id 'c' "
     "is a number, not a list"),
    (lambda m: m["c"]["frame_info"].__setitem__(3, [1, 2]),
     "frame 3 of id 'c' is [1, 2], not an [offset, pad, length] triple"),
    (lambda m: m["c"]["frame_info"].__setitem__(1, [0, 0, 1.5]),
     "frame 1 of id 'c' is [0, 0, 1.5]"),
    (lambda m: m["c"]["frame_info"][2].__setitem__(0, -4),
     "negative or out-of-range"),
])
def test_meta_file_of_the_wrong_shape(gulps, capsys, change, problem):
    # change returns the new content of the meta file, or None when it
    # changed the meta dict in place
    path = gulps / "meta_1.gmeta"
    meta = json.loads(path.read_text())
    replaced = change(meta)
    path.write_text(json.dumps(meta if replaced is None else replaced))
    with open(gulps / "data_0.gulp", "ab") as fp:  # a failure in a good chunk
        fp.write(b"\0\0\0\0")
    assert run(gulps, "--deep") == 1
    out = capsys.readouterr().out
    assert "meta files parse: FAILED (1)" in out
    assert f"    {path}: " in out and problem in out
    # the other checks ran on chunk 0 and reported what they found there
    assert "data file sizes match the meta files: FAILED (1)" in out
    assert f"    {gulps / 'data_0.gulp'}\n" in out
    for name in ["no duplicate ids", "frame tables are consistent",
                 "every frame decodes"]:
        assert f"{name}: passed" in out
    assert out.splitlines()[-1].endswith("6 of 8 checks passed, 2 failed")


@pytest.fixture
def same_id_twice(tmp_path):
    """One chunk where id "a" was appended twice, around id "b"."""
    folder = tmp_path / "same_id"
    os.makedirs(folder)
    chunk = GulpDirectory(str(folder)).new_chunks(1)[0]
    with chunk.open("wb"):
        chunk.append("a", {"n": 1}, frames(2, seed=1))
        chunk.append("b", {"n": 2}, frames(1, seed=2))
        chunk.append("a", {"n": 3}, frames(1, seed=3))
    return folder


def test_same_id_appended_twice_to_a_chunk(same_id_twice, capsys):
    meta = json.loads((same_id_twice / "meta_0.gmeta").read_text())
    assert list(meta) == ["a", "b"] and len(meta["a"]["frame_info"]) == 3
    assert GulpDirectory(str(same_id_twice)).num_frames("a") == 3
    directory = open_for_checking(str(same_id_twice))
    assert check_data_file_size(directory) == []
    assert check_frame_tables(directory) == []
    assert run(same_id_twice, "--deep") == 0
    assert "8 of 8 checks passed" in capsys.readouterr().out
    # the last record in the file is a's third frame: cutting it is caught
    offset, _, length = meta["a"]["frame_info"][2]
    data = same_id_twice / "data_0.gulp"
    assert os.path.getsize(data) == offset + length
    os.truncate(data, offset + length - 4)
    assert check_data_file_size(open_for_checking(str(same_id_twice))) == [
        str(data)]


def test_frame_tables_gap_and_overlap_in_file_order(same_id_twice):
    # file order: a0 a1 b0 a2; moving b0 onto a1 overlaps a1 and leaves
    # b0's old bytes as a gap before a2
    path = same_id_twice / "meta_0.gmeta"
    meta = json.loads(path.read_text())
    a1_offset, _, a1_length = meta["a"]["frame_info"][1]
    b_length = meta["b"]["frame_info"][0][2]
    a2_offset = meta["a"]["frame_info"][2][0]
    meta["b"]["frame_info"][0][0] = a1_offset
    path.write_text(json.dumps(meta))
    failures = check_frame_tables(open_for_checking(str(same_id_twice)))
    data = same_id_twice / "data_0.gulp"
    a1_end = a1_offset + a1_length
    assert len(failures) == 2
    assert failures[0].startswith(
        f"{data}: id 'b' frame 0: starts at {a1_offset}, expected {a1_end}: "
        f"overlaps id 'a' frame 1 (ending at {a1_end})")
    # the gap is counted from whichever of a1 and the moved b0 ends further
    end, last = max((a1_end, "id 'a' frame 1"),
                    (a1_offset + b_length, "id 'b' frame 0"))
    assert failures[1] == (
        f"{data}: id 'a' frame 2: starts at {a2_offset}, expected {end}: "
        f"a gap of {a2_offset - end} bytes after {last} (ending at {end})")


def test_folder_without_chunks(tmp_path, capsys):
    folder = tmp_path / "not_gulps"
    os.makedirs(folder)
    (folder / "readme.txt").write_text("hello")
    assert run(folder) == 2
    captured = capsys.readouterr()
    assert "checks passed" not in captured.out
    assert f"found no gulp chunks (data_N.gulp / meta_N.gmeta) in {folder}" \
        in captured.err
    with pytest.raises(GulpIOEmptyFolder):
        open_for_checking(str(folder))
    # leftovers of an interrupted write are checked (and fail), not refused
    (folder / "data_0.gulp.incomplete").write_bytes(b"\xff\xd8")
    assert run(folder) == 1
    out = capsys.readouterr().out
    assert "no orphan or incomplete chunk files: FAILED (1)" in out
    assert out.splitlines()[-1].startswith(f"{folder}: 0 chunks")
