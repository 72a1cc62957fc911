"""Resumable ingestion: SIGKILL a real gulp_20bn_json_videos run, then finish it.

The ingestion runs as a subprocess of the installed command; the test watches
the output folder and kills the process (SIGKILL, no chance to clean up) at
several points.  Running the same command again with --remove_duplicates must
then leave every id exactly once, no orphan files, and a directory that
passes gulp_sanity_check --deep.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import _media  # noqa: E402

from gulpio import GulpDirectory  # noqa: E402
from gulpio._format import chunk_index_of, label2idx_path  # noqa: E402
from gulpio.cli import gulp_20bn_json_videos, gulp_sanity_check  # noqa: E402

NUM_VIDEOS = 14
NUM_FRAMES = 90
PER_CHUNK = 2
LABELS = ["open", "close", "lift"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    ids = [(f"v{i:02d}", LABELS[i % 3]) for i in range(NUM_VIDEOS)]
    json_path, videos = _media.make_20bn_json_dataset(str(root), ids, num_frames=NUM_FRAMES,
                                                      fps=30, size=(128, 96))
    return json_path, videos, [i for i, _ in ids]


def _state(out):
    if not os.path.isdir(out):
        return set()
    return set(os.listdir(out))


def _incomplete_bytes(out, names):
    total = 0
    for name in names:
        if name.endswith(".incomplete"):
            try:
                total += os.path.getsize(os.path.join(out, name))
            except FileNotFoundError:  # renamed into place meanwhile
                pass
    return total


KILL_POINTS = {
    # as soon as the first chunk is being written
    "first_chunk_started": lambda out, names: any(n.endswith(".incomplete") for n in names),
    # right after the first chunk was committed
    "after_first_chunk": lambda out, names: "meta_0.gmeta" in names,
    # in the middle of the run, between chunks
    "after_three_chunks": lambda out, names: "meta_2.gmeta" in names,
    # in the middle of a later chunk, with frames already in its data file
    "mid_chunk_with_data": lambda out, names: ("meta_3.gmeta" in names
                                               and _incomplete_bytes(out, names) > 30000),
}


def _run_and_kill(json_path, videos, out, condition, workers):
    command = shutil.which("gulp_20bn_json_videos")
    assert command, "gulp_20bn_json_videos is not installed"
    proc = subprocess.Popen(
        [command, json_path, videos, out, "--videos_per_chunk", str(PER_CHUNK),
         "--num_workers", str(workers), "--frame_rate", "30"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if condition(out, _state(out)):
                # the whole process group: workers too, as a crash would
                os.killpg(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.0005)
    finally:
        if proc.poll() is None and time.monotonic() >= deadline:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    return proc.returncode


def _check_complete_chunks_intact(out):
    directory = GulpDirectory(out)  # ignores leftovers of the killed write
    for id_ in directory.ids():
        frames, meta = directory[id_]
        assert len(frames) == NUM_FRAMES + int(id_[1:])
        assert frames[0].shape == (96, 128, 3) and meta["id"] == id_
    return directory.ids()


def _check_finished(out, all_ids):
    directory = GulpDirectory(out)
    ids = directory.ids()
    assert sorted(ids) == sorted(all_ids) and len(ids) == len(set(ids))
    for id_ in all_ids:
        assert directory.num_frames(id_) == NUM_FRAMES + int(id_[1:])
    names = os.listdir(out)
    assert not [n for n in names if n.endswith(".incomplete")]
    chunk_files = [n for n in names if n != "label2idx.json"]
    numbers = {}
    for name in chunk_files:
        kind, number = chunk_index_of(name)
        assert kind, f"orphan file {name}"
        numbers.setdefault(number, set()).add(kind)
    assert all(kinds == {"data", "meta"} for kinds in numbers.values()), numbers
    with open(label2idx_path(out)) as fp:
        assert json.load(fp) == {"close": 0, "lift": 1, "open": 2}
    assert gulp_sanity_check.main(["--deep", out]) == 0


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_sigkill_then_resume(dataset, tmp_path, point, capsys):
    json_path, videos, all_ids = dataset
    out = str(tmp_path / "out")
    status = _run_and_kill(json_path, videos, out, KILL_POINTS[point], workers=1)
    assert status == -signal.SIGKILL, "the run ended before the kill point was reached"
    before = _check_complete_chunks_intact(out)
    assert len(before) < NUM_VIDEOS
    assert gulp_20bn_json_videos.main([json_path, videos, out, "--videos_per_chunk", str(PER_CHUNK),
                                       "--num_workers", "1", "--frame_rate", "30",
                                       "--remove_duplicates"]) == 0
    assert f"wrote {NUM_VIDEOS - len(before)} items" in capsys.readouterr().out
    _check_finished(out, all_ids)


def test_sigkill_of_a_parallel_run_then_resume_in_parallel(dataset, tmp_path):
    json_path, videos, all_ids = dataset
    out = str(tmp_path / "out")
    status = _run_and_kill(json_path, videos, out, KILL_POINTS["after_three_chunks"], workers=2)
    assert status == -signal.SIGKILL
    _check_complete_chunks_intact(out)
    assert gulp_20bn_json_videos.main([json_path, videos, out, "--videos_per_chunk", str(PER_CHUNK),
                                       "--num_workers", "2", "--frame_rate", "30",
                                       "--remove_duplicates"]) == 0
    _check_finished(out, all_ids)


def test_killed_twice_then_resumed(dataset, tmp_path):
    json_path, videos, all_ids = dataset
    out = str(tmp_path / "out")
    assert _run_and_kill(json_path, videos, out, KILL_POINTS["after_first_chunk"], 1) == -9
    # the second attempt (with --remove_duplicates) is killed too
    command = shutil.which("gulp_20bn_json_videos")
    proc = subprocess.Popen([command, json_path, videos, out, "--videos_per_chunk", "2",
                             "--num_workers", "1", "--frame_rate", "30", "--remove_duplicates"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    start_names = _state(out)
    while proc.poll() is None:
        new = _state(out) - start_names
        if any(n.startswith("meta_") and not n.endswith(".incomplete") for n in new):
            os.killpg(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.0005)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    _check_complete_chunks_intact(out)
    assert gulp_20bn_json_videos.main([json_path, videos, out, "--videos_per_chunk", "2",
                                       "--num_workers", "1", "--frame_rate", "30",
                                       "--remove_duplicates"]) == 0
    _check_finished(out, all_ids)
