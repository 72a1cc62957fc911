"""ActivitynetAdapter / gulp_activitynet with a --phase that no video has, or
an empty database: a one-line error naming the file, the phase and the
subsets there are, exit status 1, nothing written."""
import json
import os
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import _media  # noqa: E402

from gulpio import GulpDirectory  # noqa: E402
from gulpio.adapters import ActivitynetAdapter  # noqa: E402
from gulpio.cli import gulp_activitynet  # noqa: E402
from gulpio.errors import InvalidInputError  # noqa: E402

SUBSETS = {"a": "training", "b": "validation", "c": "training"}


@pytest.fixture
def dataset(tmp_path):
    json_path, videos = _media.make_activitynet_dataset(str(tmp_path / "in"), SUBSETS,
                                                        num_frames=4)
    return json_path, videos, tmp_path / "out"


def test_adapter_rejects_a_phase_no_video_has(dataset):
    json_path, videos, _ = dataset
    with pytest.raises(InvalidInputError) as info:
        ActivitynetAdapter(json_path, videos, phase="train")
    message = str(info.value)
    assert message == (f"{json_path}: no video has subset 'train'; subsets in the file: "
                       "'training' (2 videos), 'validation' (1 video)")
    # the valid phases still work
    assert [i["id"] for i in ActivitynetAdapter(json_path, videos).items] == ["a", "c"]
    assert [i["id"] for i in ActivitynetAdapter(json_path, videos,
                                                phase="validation").items] == ["b"]


def test_adapter_counts_videos_without_a_subset(tmp_path):
    os.makedirs(tmp_path / "v")
    path = _media.write_json(str(tmp_path / "a.json"),
                             {"database": {"x": {"subset": "testing"}, "y": {"duration": 1.0},
                                           "z": {"subset": None}}})
    with pytest.raises(InvalidInputError, match=r"a\.json: no video has subset 'training'; "
                                                r"subsets in the file: 'testing' \(1 video\), "
                                                r"None \(1 video\); 1 video without a \"subset\""):
        ActivitynetAdapter(path, str(tmp_path / "v"))
    path = _media.write_json(str(tmp_path / "b.json"), {"database": {"y": {}}})
    with pytest.raises(InvalidInputError, match=r"b\.json: no video has subset 'training'; "
                                                r"subsets in the file: none; "
                                                r"1 video without a \"subset\""):
        ActivitynetAdapter(path, str(tmp_path / "v"))


def test_adapter_rejects_an_empty_database(tmp_path):
    os.makedirs(tmp_path / "v")
    path = _media.write_json(str(tmp_path / "empty.json"), {"version": "1.3", "database": {}})
    with pytest.raises(InvalidInputError, match=r"empty\.json: the \"database\" object is empty"):
        ActivitynetAdapter(path, str(tmp_path / "v"), phase="validation")


def test_cli_exits_1_with_one_line(dataset, capsys):
    json_path, videos, out = dataset
    status = gulp_activitynet.main([json_path, videos, str(out), "--phase", "train",
                                    "--num_workers", "1"])
    captured = capsys.readouterr()
    assert status == 1
    assert captured.err == (f"gulp_activitynet: error: {json_path}: no video has subset 'train'; "
                            "subsets in the file: 'training' (2 videos), 'validation' (1 video)\n")
    assert captured.out == "" and not out.exists()
    # --remove_duplicates (dropped by the command, not the adapter) changes nothing
    assert gulp_activitynet.main([json_path, videos, str(out), "--phase", "testing",
                                  "--remove_duplicates", "--num_workers", "1"]) == 1
    assert "no video has subset 'testing'" in capsys.readouterr().err and not out.exists()


def test_installed_command_exits_non_zero(dataset, tmp_path):
    json_path, videos, out = dataset
    command = shutil.which("gulp_activitynet")
    assert command, "gulp_activitynet is not installed (pip install -e .)"
    done = subprocess.run([command, "--num_workers", "1", "--phase", "train", json_path, videos,
                           str(out)], cwd=str(tmp_path), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "no video has subset 'train'" in lines[0] and json_path in lines[0]
    assert "wrote" not in done.stdout and not out.exists()
    empty = _media.write_json(str(tmp_path / "empty.json"), {"database": {}})
    done = subprocess.run([command, "--num_workers", "1", empty, videos, str(out)],
                          cwd=str(tmp_path), capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "empty.json: the \"database\" object is empty" in done.stderr
    assert not out.exists()
    # the subset that exists is written
    done = subprocess.run([command, "--num_workers", "1", "--phase", "validation", json_path,
                           videos, str(out)], cwd=str(tmp_path), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert GulpDirectory(str(out)).ids() == ["b"]
    with open(json_path) as fp:
        assert GulpDirectory(str(out)).meta("b") == json.load(fp)["database"]["b"]
