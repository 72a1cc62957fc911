"""A smoke run of the benchmark suite with tiny sizes (no timing asserted)."""
import importlib.util
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_benchmark_suite_smoke_run(tmp_path):
    out = tmp_path / "run.json"
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "run.py"), "--quick",
         "--open-items", "250", "--work", str(tmp_path / "work"),
         "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())
    assert set(results) >= {"read", "e2e", "open", "ingest", "transport"}
    read = results["read"]["427x240"]
    assert all(value > 0 for value in read["frames_per_s"].values())
    seconds = read["seconds"]
    assert read["whole_vs_decode_only"] == statistics.median(
        limit / ours for limit, ours in zip(
            seconds["decode-only limit, whole items"],
            seconds["gulpio directory[id], whole items"]))
    window = results["read"]["keep_window"]
    assert window["windows"][0] == 1 and window["windows"][-1] == 40
    assert window["vs_window_1"]["1"] == 1.0
    assert window["vs_window_1"]["40"] == statistics.median(
        one / kept for one, kept in zip(window["seconds"]["1"],
                                        window["seconds"]["40"]))
    assert window["frame_kib"] == 427 * 240 * 3 / 1024
    assert "keeping the last k frames" in done.stdout
    assert results["open"]["items"] == 250
    assert results["open"]["ours"]["seconds"] > 0
    e2e = results["e2e"]
    assert e2e["scale112_reduction1_workers0"] > 0
    # Speed-ups are medians of each round's ratio of epoch times.
    epochs = e2e["scale112_epoch_seconds"]
    assert set(epochs) == {f"reduction{r}_workers{w}"
                           for r in (1, 2) for w in (0, 1, 2)}
    assert all(len(times) == e2e["epochs"] for times in epochs.values())
    assert e2e["scale112_reduction2_vs_1_workers1"] == statistics.median(
        full / reduced for full, reduced in zip(epochs["reduction1_workers1"],
                                                epochs["reduction2_workers1"]))
    assert e2e["workers2_vs_0"] == statistics.median(
        zero / two for zero, two in zip(epochs["reduction1_workers0"],
                                        epochs["reduction1_workers2"]))
    assert "== read 427x240" in done.stdout and "wrote" in done.stdout
    plot = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "plot.py"), str(out),
         str(tmp_path / "plot.png")], capture_output=True, text=True)
    if importlib.util.find_spec("matplotlib") is not None:
        assert plot.returncode == 0, plot.stderr[-3000:]
        assert (tmp_path / "plot.png").stat().st_size > 1000
    else:  # matplotlib is an optional extra
        assert plot.returncode != 0
        assert "plot.py needs matplotlib" in plot.stderr
