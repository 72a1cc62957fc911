"""The PyTorch training example: script, notebook, and the script under DDP."""
import os
import subprocess
import sys

import pytest

import _gulps

pytest.importorskip("torch")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")
SCRIPT = os.path.join(EXAMPLES, "train_pytorch.py")
NOTEBOOK = os.path.join(EXAMPLES, "train_pytorch.ipynb")


@pytest.fixture(scope="module")
def gulp_dir(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("train_gulps"))
    _gulps.write_gulp(folder, [12, 15, 20, 9, 14, 16, 11, 13],
                      ["a", "b", "c", "a", "b", "c", "a", "b"])
    return folder


def run(args, **kwargs):
    return subprocess.run(args, capture_output=True, text=True, timeout=300,
                          **kwargs)


@pytest.mark.parametrize("loader, workers", [("gulpio", 2), ("torch", 0)])
def test_train_script(gulp_dir, loader, workers):
    result = run([sys.executable, SCRIPT, gulp_dir, "--steps", "3",
                  "--batch-size", "4", "--num-frames", "4", "--size", "32",
                  "--workers", str(workers), "--loader", loader])
    assert result.returncode == 0, result.stderr
    assert "8 videos, 3 classes ['a', 'b', 'c']" in result.stdout
    assert "step   3  loss" in result.stdout
    assert "batch (4, 3, 4, 32, 32)" in result.stdout
    assert "trained 3 steps on 12 clips" in result.stdout


def test_train_script_under_torchrun_ddp(gulp_dir):
    result = run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                  "--nproc_per_node=2", SCRIPT, gulp_dir, "--steps", "2",
                  "--num-frames", "4", "--size", "32", "--workers", "1"])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "DDP over 2 processes" in result.stdout
    assert "trained 2 steps on 8 clips" in result.stdout


def test_notebook_is_generated_from_its_script():
    nbformat = pytest.importorskip("nbformat")
    sys.path.insert(0, EXAMPLES)
    try:
        import make_train_notebook
    finally:
        sys.path.remove(EXAMPLES)
    stored = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(stored)
    fresh = make_train_notebook.build()
    assert [c.source for c in stored.cells] == [c.source for c in fresh.cells]
    assert [c.cell_type for c in stored.cells] == [c.cell_type
                                                   for c in fresh.cells]


def test_notebook_executes(gulp_dir, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    kernelspec = pytest.importorskip("jupyter_client.kernelspec")
    try:
        kernelspec.get_kernel_spec("python3")
    except kernelspec.NoSuchKernel:
        pytest.skip("no python3 Jupyter kernel (pip install ipykernel)")
    monkeypatch.setenv("GULPIO_SAMPLE", gulp_dir)
    monkeypatch.setenv("GULPIO_STEPS", "2")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(notebook, timeout=180, kernel_name="python3",
                            resources={"metadata": {"path": EXAMPLES}}
                            ).execute()
    text = "\n".join(out.get("text", "") for cell in notebook.cells
                     if cell.cell_type == "code" for out in cell.outputs)
    assert "8 videos; classes: ['a', 'b', 'c']" in text
    assert "batch: (4, 8, 48, 48, 3) float32" in text
    assert "2 steps in" in text


def test_quickstart_runs_end_to_end(tmp_path):
    """The README's main-job command: real videos, the real ingestion and
    sanity-check commands, reading back and loading batches."""
    workdir = tmp_path / "quick"
    done = subprocess.run(
        [sys.executable, os.path.join(EXAMPLES, "quickstart.py"),
         "--videos", "6", "--workers", "2", "--workdir", str(workdir)],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "checks passed" in out and "failed" not in out
    assert "read back 6 items" in out
    assert "loaded 6 clips" in out
    assert out.strip().endswith("quickstart: all done")
    from gulpio import GulpDirectory
    directory = GulpDirectory(str(workdir / "gulps"))
    assert len(directory.ids()) == 6
    assert (workdir / "gulps" / "label2idx.json").exists()
