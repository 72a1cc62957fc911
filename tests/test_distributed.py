"""Ingestion on a dask.distributed cluster through joblib's backend.

A LocalCluster (threads, one worker) stands in for a real cluster: the chunk
jobs go through dask's scheduler and workers.  The result must be the same as
a local run, byte for byte.
"""
import filecmp
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import _media  # noqa: E402

distributed = pytest.importorskip("distributed")
joblib = pytest.importorskip("joblib")

from gulpio import GulpDirectory, GulpIngestor  # noqa: E402
from gulpio.adapters import Custom20BNJsonVideoAdapter  # noqa: E402

IDS = [(f"{i}", ["a", "b", "c"][i % 3]) for i in range(7)]


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as local_cluster:
        with distributed.Client(local_cluster) as client:
            yield client


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("dist")
    json_path, videos = _media.make_20bn_json_dataset(str(root), IDS, num_frames=20, fps=20,
                                                      size=(48, 32))
    local = str(root / "local")
    GulpIngestor(Custom20BNJsonVideoAdapter(json_path, videos, local, frame_rate=10),
                 local, 2, 1)()
    return json_path, videos, local


def assert_same_directory(left, right):
    names = sorted(os.listdir(left))
    assert names == sorted(os.listdir(right))
    assert names.count("label2idx.json") == 1 and len(names) == 1 + 2 * 4
    _, mismatch, errors = filecmp.cmpfiles(left, right, names, shallow=False)
    assert mismatch == [] and errors == []
    a, b = GulpDirectory(left), GulpDirectory(right)
    assert a.ids() == b.ids() == [i for i, _ in IDS]


def test_parallel_config_dask_backend_equals_a_local_run(cluster, dataset, tmp_path):
    json_path, videos, local = dataset
    out = str(tmp_path / "dask")
    with distributed.get_task_stream(client=cluster) as stream:
        with joblib.parallel_config(backend="dask"):
            report = GulpIngestor(Custom20BNJsonVideoAdapter(json_path, videos, out,
                                                             frame_rate=10), out, 2, 2)()
    assert sorted(report.written) == sorted(i for i, _ in IDS) and report.skipped == []
    # the chunk jobs really ran as tasks on the dask worker (4 chunks)
    assert len(stream.data) >= 4
    assert_same_directory(local, out)


def test_backend_argument_runs_on_the_cluster(cluster, dataset, tmp_path):
    json_path, videos, local = dataset
    out = str(tmp_path / "dask_arg")
    with distributed.get_task_stream(client=cluster) as stream:
        GulpIngestor(Custom20BNJsonVideoAdapter(json_path, videos, out, frame_rate=10),
                     out, 2, 2, backend="dask")()
    # one task per chunk ran on the dask worker
    assert len(stream.data) >= 4
    assert_same_directory(local, out)
