"""Scripts of gulp_register_adapter convert each option by the parameter's
annotation (int, float, str, bool, also as strings) and fall back to the type
of its default; a float parameter with an int default takes 7.5 and 8."""
import os
import subprocess
import sys
import textwrap

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import _media  # noqa: E402

from gulpio import GulpDirectory  # noqa: E402
from gulpio.cli import _common, gulp_register_adapter  # noqa: E402

# Two copies of one adapter: typed by annotations (the first with
# `from __future__ import annotations`, so every annotation is a string; the
# second with real types), plus one without annotations to compare with.
ADAPTER_BODY = '''
import numpy as np
from typing import Optional

from gulpio.adapters import AbstractDatasetAdapter


class {name}(AbstractDatasetAdapter):
    """Records the value and type each parameter arrives with."""

    def __init__(self, count: int, output_folder: str, frame_rate: float = 8,
                 size: int = 4, label: str = 5, shuffle: bool = False, keep: bool = True,
                 limit: Optional[int] = None, scale: int = 1.5):
        self.count = count
        self.settings = dict(count=count, frame_rate=frame_rate, size=size, label=label,
                             shuffle=shuffle, keep=keep, limit=limit, scale=scale)

    def __len__(self):
        return self.count

    def iter_data(self, slice_element=None):
        types = {{k: type(v).__name__ for k, v in self.settings.items()}}
        for i in range(self.count)[slice_element or slice(None)]:
            yield {{"id": "item%d" % i, "meta": dict(self.settings, types=types),
                   "frames": [np.full((4, 6, 3), 40 * i, np.uint8)]}}


class Plain{name}(AbstractDatasetAdapter):
    def __init__(self, count, output_folder, size=4, shuffle=False, keep=True, name="x",
                 tags=["a"], limit=None):
        self.count = int(count)

    def __len__(self):
        return self.count

    def iter_data(self, slice_element=None):
        return iter(())
'''


def write_module(folder, filename, name, future):
    head = "from __future__ import annotations\n" if future else ""
    path = folder / filename
    path.write_text(head + textwrap.dedent(ADAPTER_BODY.format(name=name)))
    return str(path)


def run(args, cwd):
    return subprocess.run([str(a) for a in args], cwd=str(cwd), capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def modules(tmp_path, monkeypatch):
    """Both adapter files registered by path, the scripts written to ``work``."""
    module_dir = tmp_path / "mods"
    module_dir.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv("PYTHONPATH", os.environ.get("PYTHONPATH", ""))
    return {
        "strings": write_module(module_dir, "typed_str_adapters.py", "StrTypedAdapter", True),
        "types": write_module(module_dir, "typed_adapters.py", "TypedAdapter", False),
    }, work


@pytest.mark.parametrize("flavour, cls, script",
                         [("strings", "StrTypedAdapter", "str_typed_adapter"),
                          ("types", "TypedAdapter", "typed_adapter")])
def test_generated_script_converts_by_annotation(modules, capsys, flavour, cls, script):
    paths, work = modules
    assert gulp_register_adapter.main([paths[flavour], cls]) == 0
    assert f"wrote ./{script}" in capsys.readouterr().out
    usage = run([work / script, "--help"], work)
    assert usage.returncode == 0, usage.stderr
    assert "--frame_rate=<frame_rate>  float value of frame_rate [default: 8]." in usage.stdout
    assert "--size=<size>  int value of size [default: 4]." in usage.stdout
    assert "--label=<label>  str value of label [default: 5]." in usage.stdout
    # not a simple annotation / a default that does not fit it: typed by the default
    assert "--limit=<limit>  none_or_str value of limit [default: None]." in usage.stdout
    assert "--scale=<scale>  float value of scale [default: 1.5]." in usage.stdout

    done = run([work / script, "2", "out", "--frame_rate", "7.5", "--label", "12",
                "--num_workers", "1"], work)
    assert done.returncode == 0, done.stderr
    meta = GulpDirectory(str(work / "out")).meta("item1")
    assert (meta["count"], meta["frame_rate"], meta["size"], meta["label"]) == (2, 7.5, 4, "12")
    assert meta["types"] == {"count": "int", "frame_rate": "float", "size": "int", "label": "str",
                             "shuffle": "bool", "keep": "bool", "limit": "NoneType",
                             "scale": "float"}

    # an int for a float parameter is a number; the default too
    done = run([work / script, "1", "out8", "--frame_rate", "8", "--shuffle", "--keep", "no",
                "--num_workers", "1"], work)
    assert done.returncode == 0, done.stderr
    meta = GulpDirectory(str(work / "out8")).meta("item0")
    assert meta["frame_rate"] == 8 and meta["types"]["frame_rate"] in ("int", "float")
    assert (meta["shuffle"], meta["keep"]) == (True, False)
    done = run([work / script, "1", "out_default", "--num_workers", "1"], work)
    assert done.returncode == 0, done.stderr
    meta = GulpDirectory(str(work / "out_default")).meta("item0")
    assert meta["frame_rate"] == 8 and meta["types"]["frame_rate"] in ("int", "float")
    assert (meta["label"], meta["types"]["label"]) == ("5", "str")

    for option, value, message in [("--frame_rate", "fast", "--frame_rate must be a number"),
                                   ("--size", "7.5", "--size must be an integer")]:
        bad = run([work / script, "1", "bad", option, value], work)
        assert bad.returncode == 2 and message in bad.stderr and repr(value) in bad.stderr
    bad = run([work / script, "two", "bad"], work)
    assert bad.returncode == 2 and "<count> must be an integer, got 'two'" in bad.stderr
    assert not os.path.exists(work / "bad")


@pytest.mark.parametrize("flavour, cls", [("strings", "PlainStrTypedAdapter"),
                                          ("types", "PlainTypedAdapter")])
def test_defaults_without_annotations_type_as_before(modules, flavour, cls):
    paths, _ = modules
    module = _common.load_class(os.path.splitext(os.path.basename(paths[flavour]))[0], cls,
                                paths[flavour])
    assert _common.describe_parameters(module) == [
        ("count", "required", None, "str"), ("output_folder", "required", None, "str"),
        ("size", "option", 4, "int"), ("shuffle", "flag", False, "bool"),
        ("keep", "option", True, "bool"), ("name", "option", "x", "str"),
        ("tags", "option", ["a"], "list"), ("limit", "option", None, "none_or_str")]


def test_annotation_type():
    for annotation, expected in [(int, "int"), (float, "float"), (str, "str"), (bool, "bool"),
                                 ("float", "float"), (" int ", "int"), ("Optional[int]", None),
                                 ("List[str]", None), (list, None), (None, None), ([int], None)]:
        assert _common.annotation_type(annotation) == expected, annotation


def test_builtin_json_adapter_script_takes_a_fractional_frame_rate(tmp_path, monkeypatch):
    """The reviewed case: Custom20BNJsonVideoAdapter's frame_rate: float = 8."""
    json_path, videos = _media.make_20bn_json_dataset(
        str(tmp_path / "in"), [("1", "a"), ("2", "b")], num_frames=24, fps=12, size=(32, 24))
    monkeypatch.chdir(tmp_path)
    done = run(["gulp_register_adapter", "gulpio.adapters", "Custom20BNJsonVideoAdapter"],
               tmp_path)
    assert done.returncode == 0, done.stderr
    script = tmp_path / "custom20_bn_json_video_adapter"
    usage = run([script, "--help"], tmp_path)
    assert "--frame_rate=<frame_rate>  float value of frame_rate [default: 8]." in usage.stdout
    assert "--frame_size=<frame_size>  int value of frame_size [default: -1]." in usage.stdout
    for rate in ("7.5", "8"):
        generated = run([script, json_path, videos, tmp_path / f"gen{rate}", "--frame_rate", rate,
                         "--num_workers", "1"], tmp_path)
        assert generated.returncode == 0, generated.stderr
        builtin = run(["gulp_20bn_json_videos", json_path, videos, tmp_path / f"cli{rate}",
                       "--frame_rate", rate, "--num_workers", "1"], tmp_path)
        assert builtin.returncode == 0, builtin.stderr
        ours, theirs = (GulpDirectory(str(tmp_path / f"{kind}{rate}")) for kind in ("gen", "cli"))
        assert ours.ids() == theirs.ids() == ["1", "2"]
        assert [ours.num_frames(i) for i in ours.ids()] == \
            [theirs.num_frames(i) for i in theirs.ids()]
        assert ours.meta("2") == theirs.meta("2")
