"""The ingestion commands: main([...]) for the details, each installed script once."""
import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
import _media  # noqa: E402

from gulpio import GulpDirectory, __version__  # noqa: E402
from gulpio._format import label2idx_path  # noqa: E402
from gulpio.cli import (gulp_20bn_csv_jpeg, gulp_20bn_csv_webm,  # noqa: E402
                        gulp_20bn_json_videos, gulp_activitynet, gulp_image_folder,
                        gulp_image_list, gulp_kinetics, gulp_register_adapter)

IDS = [("10", "pull"), ("11", "push"), ("12", "pull")]


def run_installed(command, args, cwd, env=None):
    path = shutil.which(command)
    assert path, f"{command} is not installed (pip install -e .)"
    return subprocess.run([path] + [str(a) for a in args], cwd=str(cwd), env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def json_dataset(tmp_path):
    json_path, videos = _media.make_20bn_json_dataset(str(tmp_path / "in"), IDS, num_frames=16,
                                                      fps=16, size=(48, 32))
    return json_path, videos, str(tmp_path / "out")


# ------------------------------------------------------------ common behaviour
@pytest.mark.parametrize("module", [gulp_20bn_json_videos, gulp_20bn_csv_webm, gulp_20bn_csv_jpeg,
                                    gulp_activitynet, gulp_kinetics, gulp_image_folder,
                                    gulp_image_list, gulp_register_adapter])
def test_help_and_version(module, capsys):
    prog = module.__name__.rsplit(".", 1)[1]
    assert module.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"{prog} {__version__}"
    assert module.main(["-h"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(prog + ":") and "Usage:" in out and f"    {prog} " in out


def test_usage_errors_exit_2(json_dataset, capsys):
    json_path, videos, out = json_dataset
    # one line says what is wrong, docopt's own text does not show
    for argv, reason in [([json_path, videos], "missing argument <output_directory>"),
                         ([json_path, videos, out, "--bogus"], "unknown option --bogus"),
                         ([json_path, videos, out, "x"], "unexpected argument 'x'"),
                         ([json_path, videos, out, "--num_workers"],
                          "option --num_workers needs a value")]:
        assert gulp_20bn_json_videos.main(argv) == 2
        err = capsys.readouterr().err
        assert err.splitlines()[0] == f"gulp_20bn_json_videos: error: {reason}"
        assert "Warning" not in err and "unmatched" not in err
    for option, value in [("--videos_per_chunk", "0"), ("--num_workers", "two"),
                          ("--frame_size", "abc"), ("--frame_size", "0"), ("--frame_rate", "fast")]:
        assert gulp_20bn_json_videos.main([json_path, videos, out, option, value]) == 2
        err = capsys.readouterr().err
        assert f"error: {option} must be" in err and repr(value) in err
    assert not os.path.exists(out)


def test_json_videos_end_to_end(json_dataset, capsys):
    json_path, videos, out = json_dataset
    status = gulp_20bn_json_videos.main([json_path, videos, out, "--videos_per_chunk", "2",
                                         "--num_workers", "1", "--frame_size", "16",
                                         "--frame_rate", "4", "--extend"])
    assert status == 0
    assert "wrote 3 items in 2 chunks to " + out in capsys.readouterr().out
    directory = GulpDirectory(out)
    assert directory.ids() == ["10", "11", "12"]
    frames, meta = directory["11"]
    assert len(frames) == 4 and frames[0].shape == (16, 24, 3)  # 17 frames at 16 fps -> 4 at 4
    assert meta == {"id": "11", "label": "push", "idx": 1}
    with open(label2idx_path(out)) as fp:
        assert json.load(fp) == {"pull": 0, "push": 1}
    # running again adds new chunks after the existing ones (with or without
    # --extend); --remove_duplicates writes only what is not there yet
    assert gulp_20bn_json_videos.main([json_path, videos, out, "--num_workers", "1",
                                       "--remove_duplicates"]) == 0
    assert "wrote 0 items in 0 chunks" in capsys.readouterr().out
    assert GulpDirectory(out).ids() == ["10", "11", "12"]


def test_label_name_and_fractional_frame_rate(tmp_path):
    json_path, videos = _media.make_20bn_json_dataset(str(tmp_path / "in"), IDS[:1],
                                                      num_frames=30, fps=30, label_name="action")
    out = str(tmp_path / "out")
    assert gulp_20bn_json_videos.main([json_path, videos, out, "--label_name", "action",
                                       "--frame_rate", "7.5", "--num_workers", "1"]) == 0
    assert GulpDirectory(out).num_frames("10") == 8  # 1 s at 7.5 fps, rounded


def test_skipped_items_exit_3_and_are_listed(json_dataset, capsys):
    json_path, videos, out = json_dataset
    os.remove(os.path.join(videos, "11", "11.mp4"))
    with open(os.path.join(videos, "12", "12.mp4"), "wb") as fp:
        fp.write(b"\x00" * 500)
    status = gulp_20bn_json_videos.main([json_path, videos, out, "--num_workers", "1"])
    assert status == 3
    captured = capsys.readouterr()
    assert "wrote 1 item in 1 chunk" in captured.out
    assert "skipped 2 items:" in captured.out
    assert "  11: " in captured.out and "no .mp4 video in" in captured.out
    assert "  12: " in captured.out and "12.mp4" in captured.out
    assert "Traceback" not in captured.err
    assert GulpDirectory(out).ids() == ["10"]
    # a chunk whose items were all skipped makes no files and is not counted
    other = out + "_by_one"
    status = gulp_20bn_json_videos.main([json_path, videos, other, "--num_workers", "1",
                                         "--videos_per_chunk", "1"])
    assert status == 3
    assert "wrote 1 item in 1 chunk to" in capsys.readouterr().out
    assert GulpDirectory(other).num_chunks == 1


@pytest.mark.parametrize("case", ["missing_json", "bad_json", "missing_videos", "output_is_file"])
def test_bad_input_exits_1_before_writing(json_dataset, tmp_path, capsys, case):
    json_path, videos, out = json_dataset
    if case == "missing_json":
        json_path, expected = str(tmp_path / "nope.json"), "nope.json does not exist"
    elif case == "bad_json":
        with open(json_path, "w") as fp:
            fp.write('[{"id": 1, ')
        expected = "list.json is not valid JSON"
    elif case == "missing_videos":
        videos, expected = str(tmp_path / "novideos"), "novideos does not exist"
    else:
        with open(out, "w") as fp:
            fp.write("a file")
        expected = "exists and is not a folder"
    assert gulp_20bn_json_videos.main([json_path, videos, out, "--num_workers", "1"]) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("gulp_20bn_json_videos: error: ")
    assert expected in lines[0]
    assert not os.path.isdir(out) or os.listdir(out) == []


def test_unwritable_output_folder(json_dataset, tmp_path, capsys):
    json_path, videos, _ = json_dataset
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    assert gulp_20bn_json_videos.main([json_path, videos, str(blocker / "out")]) == 1
    assert "is not writable" in capsys.readouterr().err


def test_verbose_shows_tracebacks(json_dataset, tmp_path, capsys):
    json_path, videos, out = json_dataset
    assert gulp_20bn_json_videos.main([str(tmp_path / "nope.json"), videos, out]) == 1
    assert "Traceback" not in capsys.readouterr().err
    assert gulp_20bn_json_videos.main([str(tmp_path / "nope.json"), videos, out,
                                       "--verbose"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_csv_webm_main(tmp_path, capsys):
    csv_path, videos = _media.make_20bn_webm_dataset(str(tmp_path / "in"),
                                                      [("1", "a"), ("2", None)], num_frames=16,
                                                      fps=16)
    out = str(tmp_path / "out")
    assert gulp_20bn_csv_webm.main([csv_path, videos, out, "--num_workers", "1"]) == 0
    directory = GulpDirectory(out)
    assert directory.num_frames("1") == 8  # --frame_rate defaults to 8 here
    assert directory.meta("2") == {"id": "2", "label": "dummy", "idx": 1}


def test_csv_with_wrong_field_count_names_the_line(tmp_path, capsys):
    csv_path = _media.write_lines(str(tmp_path / "l.csv"), ["1;a", "2;b;c"])
    os.makedirs(tmp_path / "v")
    assert gulp_20bn_csv_webm.main([csv_path, str(tmp_path / "v"), str(tmp_path / "o")]) == 1
    assert "l.csv, line 2: expected 'id;label'" in capsys.readouterr().err


def test_csv_jpeg_main(tmp_path):
    csv_path, jpegs = _media.make_20bn_jpeg_dataset(str(tmp_path / "in"), [("a", "x"), ("b", "y")],
                                                    num_frames=3, size=(40, 30))
    out = str(tmp_path / "out")
    assert gulp_20bn_csv_jpeg.main([csv_path, jpegs, out, "--image_size", "15",
                                    "--num_workers", "1"]) == 0
    frames, meta = GulpDirectory(out)["b"]
    assert len(frames) == 4 and frames[0].shape == (15, 20, 3) and meta["label"] == "y"


def test_activitynet_main(tmp_path):
    json_path, videos = _media.make_activitynet_dataset(
        str(tmp_path / "in"), {"a": "training", "b": "validation"}, num_frames=6)
    out = str(tmp_path / "out")
    assert gulp_activitynet.main([json_path, videos, out, "--phase", "validation",
                                  "--num_workers", "1"]) == 0
    directory = GulpDirectory(out)
    assert directory.ids() == ["b"] and directory.num_frames("b") == 7
    assert directory.meta("b")["subset"] == "validation"
    # --remove_duplicates on an adapter without that parameter
    assert gulp_activitynet.main([json_path, videos, out, "--phase", "validation",
                                  "--num_workers", "1", "--remove_duplicates"]) == 0
    assert GulpDirectory(out).ids() == ["b"]


def test_kinetics_main(tmp_path):
    json_path, videos = _media.make_kinetics_dataset(str(tmp_path / "in"),
                                                     {"v1": "jumping", "v2": "running"},
                                                     num_frames=5)
    out = str(tmp_path / "out")
    assert gulp_kinetics.main([json_path, videos, out, "--image_size", "12",
                               "--num_workers", "1"]) == 0
    frames, meta = GulpDirectory(out)["v2"]
    assert len(frames) == 6 and frames[0].shape == (12, 16, 3)
    assert meta["annotations"]["label"] == "running"


def test_image_folder_main(tmp_path):
    folder = _media.make_image_folder(str(tmp_path / "in"), {"cat": ["1.jpg", "2.png"],
                                                            "dog": ["3.jpg"]})
    out = str(tmp_path / "out")
    assert gulp_image_folder.main([folder, out, "--images_per_chunk", "2",
                                   "--num_workers", "1"]) == 0
    directory = GulpDirectory(out)
    assert directory.ids() == ["cat-1.jpg", "cat-2.png", "dog-3.jpg"]
    assert directory.num_chunks == 2


def test_image_list_root_path_defaults_to_the_current_directory(tmp_path, monkeypatch, capsys):
    _media.make_image(str(tmp_path / "imgs" / "a.jpg"))
    _media.make_image(str(tmp_path / "imgs" / "b.jpg"), seed=3)
    listing = _media.write_lines(str(tmp_path / "list.txt"), ["imgs/a.jpg,x", "imgs/b.jpg,y"])
    monkeypatch.chdir(tmp_path)
    assert gulp_image_list.main(["list.txt", "out", "--num_workers", "1"]) == 0
    assert GulpDirectory(str(tmp_path / "out")).ids() == ["a.jpg", "b.jpg"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert gulp_image_list.main([listing, "out", "--root_path", str(tmp_path),
                                 "--num_workers", "1"]) == 0
    assert GulpDirectory(str(elsewhere / "out")).ids() == ["a.jpg", "b.jpg"]
    # without --root_path nothing resolves from here: every image is skipped
    assert gulp_image_list.main([listing, "out2", "--num_workers", "1"]) == 3


# ------------------------------------------------- installed console scripts
def test_installed_scripts_run(tmp_path):
    json_path, videos = _media.make_20bn_json_dataset(str(tmp_path / "j"), IDS[:2])
    csv_path, webms = _media.make_20bn_webm_dataset(str(tmp_path / "w"), [("1", "a")])
    jpeg_csv, jpegs = _media.make_20bn_jpeg_dataset(str(tmp_path / "p"), [("1", "a")])
    anet_json, anet_videos = _media.make_activitynet_dataset(str(tmp_path / "n"), {"x": "training"})
    kin_json, kin_videos = _media.make_kinetics_dataset(str(tmp_path / "k"), {"y": "surfing"})
    folder = _media.make_image_folder(str(tmp_path / "f"), {"c": ["1.jpg"]})
    _media.make_image(str(tmp_path / "l" / "i.jpg"))
    listing = _media.write_lines(str(tmp_path / "l" / "list.txt"), ["i.jpg,c"])
    runs = [
        ("gulp_20bn_json_videos", [json_path, videos], 2),
        ("gulp_20bn_csv_webm", [csv_path, webms], 1),
        ("gulp_20bn_csv_jpeg", [jpeg_csv, jpegs], 1),
        ("gulp_activitynet", [anet_json, anet_videos], 1),
        ("gulp_kinetics", [kin_json, kin_videos], 1),
        ("gulp_image_folder", [folder], 1),
        ("gulp_image_list", [listing, "--root_path", str(tmp_path / "l")], 1),
    ]
    for command, args, count in runs:
        out = tmp_path / ("out_" + command)
        done = run_installed(command, args + [out, "--num_workers", "1"], tmp_path)
        assert done.returncode == 0, (command, done.stderr)
        assert f"wrote {count} item" in done.stdout
        assert len(GulpDirectory(str(out)).ids()) == count
    done = run_installed("gulp_20bn_json_videos", [json_path, videos, tmp_path / "o",
                                                   "--num_workers", "zero"], tmp_path)
    assert done.returncode == 2 and "--num_workers must be an integer, got 'zero'" in done.stderr


# ---------------------------------------------------- gulp_register_adapter
ADAPTER_MODULE = '''
import numpy as np
from gulpio.adapters import AbstractDatasetAdapter


class ToyVideoAdapter(AbstractDatasetAdapter):
    """Items with flat frames; records the types its parameters arrive with."""

    def __init__(self, count: int, output_folder, size=8, scale=1.5, shuffle=False,
                 tags=["a", "b"], name="toy", extra=None, keep=True, note=""):
        self.count, self.size, self.scale = count, size, scale
        self.settings = {"count": count, "size": size, "scale": scale, "shuffle": shuffle,
                         "tags": tags, "name": name, "extra": extra, "keep": keep, "note": note}

    def __len__(self):
        return self.count

    def iter_data(self, slice_element=None):
        for i in range(self.count)[slice_element or slice(None)]:
            meta = dict(self.settings, types={k: type(v).__name__
                                              for k, v in self.settings.items()})
            yield {"id": "%s%d" % (self.settings["name"], i), "meta": meta,
                   "frames": [np.full((self.size, self.size, 3), 30 * i, np.uint8)] * 2}


class BareAdapter(AbstractDatasetAdapter):
    def __init__(self, count, prefix):
        self.count, self.prefix = int(count), prefix

    def __len__(self):
        return self.count

    def iter_data(self, slice_element=None):
        for i in range(self.count)[slice_element or slice(None)]:
            yield {"id": self.prefix + str(i), "meta": {"i": i},
                   "frames": [np.zeros((4, 6, 3), np.uint8)]}


class NotAnAdapter:
    def __init__(self, x):
        pass
'''


@pytest.fixture
def adapter_module(tmp_path):
    module_dir = tmp_path / "mods"
    module_dir.mkdir()
    (module_dir / "toy_adapters.py").write_text(textwrap.dedent(ADAPTER_MODULE))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(module_dir)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    work = tmp_path / "work"
    work.mkdir()
    return module_dir, env, work


def test_snake_case():
    assert gulp_register_adapter.snake_case("MyAdapter") == "my_adapter"
    assert gulp_register_adapter.snake_case("HTTPVideoAdapter") == "http_video_adapter"
    assert gulp_register_adapter.snake_case("Custom20BNJsonVideoAdapter") == \
        "custom20_bn_json_video_adapter"


def test_register_adapter_end_to_end(adapter_module):
    module_dir, env, work = adapter_module
    done = run_installed("gulp_register_adapter", ["toy_adapters", "ToyVideoAdapter"], work, env)
    assert done.returncode == 0, done.stderr
    script = work / "toy_video_adapter"
    assert script.exists() and os.access(script, os.X_OK)
    usage = subprocess.run([str(script), "--help"], cwd=work, env=env, capture_output=True,
                           text=True, timeout=60)
    assert usage.returncode == 0
    assert "toy_video_adapter [options] <count> <output_folder>" in usage.stdout
    assert "[default: 1.5]" in usage.stdout and "--videos_per_chunk" in usage.stdout

    done = subprocess.run([str(script), "3", "gulps", "--videos_per_chunk", "2",
                           "--num_workers", "1"], cwd=work, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    directory = GulpDirectory(str(work / "gulps"))
    assert directory.ids() == ["toy0", "toy1", "toy2"] and directory.num_chunks == 2
    meta = directory.meta("toy1")
    assert meta["types"] == {"count": "int", "size": "int", "scale": "float", "shuffle": "bool",
                             "tags": "list", "name": "str", "extra": "NoneType", "keep": "bool",
                             "note": "str"}
    assert (meta["count"], meta["size"], meta["scale"], meta["tags"]) == (3, 8, 1.5, ["a", "b"])
    frames, _ = directory["toy2"]
    assert len(frames) == 2 and frames[0].shape == (8, 8, 3) and int(frames[0].mean()) == 60

    done = subprocess.run([str(script), "2", "more", "--size", "16", "--scale", "3",
                           "--shuffle", "--tags", "x,y,z", "--name", "big", "--extra", "e",
                           "--keep", "false", "--num_workers", "1"],
                          cwd=work, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    meta = GulpDirectory(str(work / "more")).meta("big0")
    assert (meta["size"], meta["scale"], meta["shuffle"], meta["tags"], meta["extra"],
            meta["keep"]) == (16, 3.0, True, ["x", "y", "z"], "e", False)
    assert meta["types"]["scale"] == "float"

    bad = subprocess.run([str(script), "2", "x", "--size", "big"], cwd=work, env=env,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--size must be an integer" in bad.stderr


def test_register_adapter_without_defaults_and_by_file_path(adapter_module, monkeypatch, capsys):
    module_dir, env, work = adapter_module
    monkeypatch.chdir(work)
    # registering by file path puts the module's folder on sys.path/PYTHONPATH
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv("PYTHONPATH", os.environ.get("PYTHONPATH", ""))
    assert gulp_register_adapter.main([str(module_dir / "toy_adapters.py"), "BareAdapter"]) == 0
    assert "wrote ./bare_adapter" in capsys.readouterr().out
    # no PYTHONPATH needed: the script loads the module from its file
    env_without = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(["./bare_adapter", "2", "item-", "gulps"], cwd=work, env=env_without,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    directory = GulpDirectory(str(work / "gulps"))
    assert directory.ids() == ["item-0", "item-1"]
    assert directory.meta("item-1") == {"i": 1}
    # an adapter without an item list cannot drop ids: a clear refusal
    done = subprocess.run(["./bare_adapter", "2", "item-", "gulps", "--remove_duplicates"],
                          cwd=work, env=env_without, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "BareAdapter has no drop_duplicate_ids()" in done.stderr


def test_register_adapter_bad_input(adapter_module, monkeypatch, capsys):
    module_dir, env, work = adapter_module
    monkeypatch.chdir(work)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv("PYTHONPATH", os.environ.get("PYTHONPATH", ""))
    assert gulp_register_adapter.main(["no_such_module_xyz", "A"]) == 1
    assert "cannot import adapter module no_such_module_xyz" in capsys.readouterr().err
    assert gulp_register_adapter.main(["gulpio.adapters", "Nope"]) == 1
    assert "has no class Nope" in capsys.readouterr().err
    path = str(module_dir / "toy_adapters.py")
    assert gulp_register_adapter.main([path, "NotAnAdapter"]) == 1
    assert "is not an adapter" in capsys.readouterr().err
    assert os.listdir(work) == []


def test_register_a_builtin_adapter(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert gulp_register_adapter.main(["gulpio.adapters", "ImageFolderAdapter"]) == 0
    folder = _media.make_image_folder(str(tmp_path / "in"), {"a": ["1.png", "2.jpg"]})
    done = subprocess.run([str(tmp_path / "image_folder_adapter"), folder, "out",
                           "--file_extensions", ".png", "--img_size", "10",
                           "--num_workers", "1"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    frames, _ = GulpDirectory(str(tmp_path / "out"))["a-1.png"]
    assert GulpDirectory(str(tmp_path / "out")).ids() == ["a-1.png"]
    assert frames[0].shape == (10, 13, 3)
    assert np.asarray(frames[0]).dtype == np.uint8
    # running it again is refused, and --remove_duplicates resumes
    again = [str(tmp_path / "image_folder_adapter"), folder, "out", "--num_workers", "1"]
    done = subprocess.run(again, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "'a-1.png'; pass --remove_duplicates" in done.stderr
    done = subprocess.run(again + ["--remove_duplicates"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert sorted(GulpDirectory(str(tmp_path / "out")).ids()) == ["a-1.png", "a-2.jpg"]
