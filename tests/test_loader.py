"""gulpio.loader: DataLoader with real worker processes (fork and spawn)."""
import collections
import gc
import json
import mmap
import multiprocessing.forkserver
import os
import signal
import subprocess
import sys
import time
from multiprocessing import resource_tracker

import numpy as np
import psutil
import pytest

import _loader_data as data
from gulpio import _shm
from gulpio.loader import DataLoader, default_collate
from gulpio.sampler import SequentialSampler


# ---------------------------------------------------------------- helpers

def gulpio_segments():
    """Segments of loaders of this process (names carry the parent's pid)."""
    mine = f"gulpio_{os.getpid():x}_"
    return sorted(e for e in os.listdir("/dev/shm") if e.startswith(mine))


def children():
    return {p.pid for p in psutil.Process().children(recursive=True)
            if p.status() != psutil.STATUS_ZOMBIE}


@pytest.fixture
def baseline():
    """Children and segments before the test; both must be back after it."""
    resource_tracker.ensure_running()  # long-lived helper, not a worker
    gc.collect()
    before = (children(), gulpio_segments())
    yield before
    gc.collect()
    deadline = time.monotonic() + 5
    while children() - before[0] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert children() - before[0] == set(), "worker processes left behind"
    assert gulpio_segments() == before[1], "shared memory left behind"


def assert_clean(before):
    gc.collect()
    assert children() - before[0] == set()
    assert gulpio_segments() == before[1]


def mmap_backed(arr):
    base = arr
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    if isinstance(base, memoryview):
        base = base.obj
    return isinstance(base, mmap.mmap)


# ---------------------------------------------------------------- arguments

@pytest.mark.parametrize("kwargs, message", [
    (dict(sampler=SequentialSampler(range(4)), shuffle=True),
     "sampler option is mutually exclusive with shuffle"),
    (dict(batch_sampler=[[0, 1]], batch_size=2), "batch_sampler option"),
    (dict(batch_sampler=[[0, 1]], shuffle=True), "batch_sampler option"),
    (dict(batch_sampler=[[0, 1]], sampler=[0, 1]), "batch_sampler option"),
    (dict(batch_sampler=[[0, 1]], drop_last=True), "batch_sampler option"),
    (dict(batch_size=None, drop_last=True), "batch_size=None"),
    (dict(num_workers=-1), "num_workers"),
    (dict(timeout=-1), "timeout"),
    (dict(prefetch_factor=2), "prefetch_factor"),
    (dict(persistent_workers=True), "persistent_workers"),
    (dict(num_workers=1, prefetch_factor=0), "prefetch_factor"),
    (dict(seed=1, generator=np.random.default_rng(1)), "seed and generator"),
    (dict(num_workers=1, multiprocessing_context="nope"), "start method"),
    (dict(batch_size=0), "batch_size"),
])
def test_argument_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DataLoader(data.ArrayDataset(), **kwargs)


def test_attributes_frozen_after_init():
    loader = DataLoader(data.ArrayDataset(), batch_size=2)
    with pytest.raises(ValueError, match="batch_size attribute"):
        loader.batch_size = 3
    loader.num_workers = 0  # allowed, as in PyTorch


def test_len():
    ds = data.ArrayDataset(n=10)
    assert len(DataLoader(ds, batch_size=3)) == 4
    assert len(DataLoader(ds, batch_size=3, drop_last=True)) == 3
    assert len(DataLoader(ds, batch_size=None)) == 10
    assert len(DataLoader(ds, batch_sampler=[[0, 1], [2]])) == 2


# ---------------------------------------------------------------- collation

def test_default_collate_structures():
    Pair = collections.namedtuple("Pair", "a b")
    batch = [(np.ones((2, 3)) * i, i, float(i), f"s{i}", {"k": np.int64(i)},
              Pair(i, np.zeros(2))) for i in range(3)]
    arrays, ints, floats, strs, dicts, pairs = default_collate(batch)
    assert arrays.shape == (3, 2, 3) and arrays[2, 0, 0] == 2
    assert ints == [0, 1, 2] and floats == [0.0, 1.0, 2.0]
    assert strs == ["s0", "s1", "s2"]
    assert default_collate([np.str_("a"), np.str_("b")]) == ["a", "b"]  # not an array
    assert isinstance(dicts["k"], np.ndarray) and dicts["k"].tolist() == [0, 1, 2]
    assert isinstance(pairs, Pair) and pairs.a == [0, 1, 2]
    assert pairs.b.shape == (3, 2)


def test_default_collate_errors():
    with pytest.raises(ValueError, match="same shape"):
        default_collate([np.zeros((2, 2)), np.zeros((3, 2))])
    with pytest.raises(ValueError, match="same length"):
        default_collate([[1, 2], [1]])
    with pytest.raises(TypeError, match="object"):
        default_collate([object(), object()])


# ---------------------------------------------------------------- batches

@pytest.mark.parametrize("num_workers", [0, 2])
def test_batches_in_sampler_order(num_workers, baseline):
    ds = data.ArrayDataset(n=11)
    loader = DataLoader(ds, batch_size=3, num_workers=num_workers)
    batches = list(loader)
    assert [b[1] for b in batches] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10]]
    assert batches[3][0].shape == (2, 4, 8, 8, 3)
    assert np.all(batches[3][0][1] == 10)
    # a custom batch sampler, out of order, keeps its order
    order = [[7, 1], [0], [10, 9, 8], [3, 2]]
    loader = DataLoader(ds, batch_sampler=order, num_workers=num_workers)
    assert [b[1] for b in loader] == order
    # shuffled: every item exactly once
    loader = DataLoader(ds, batch_size=4, shuffle=True, drop_last=True,
                        num_workers=num_workers, seed=3)
    seen = [i for batch in loader for i in batch[1]]
    assert len(seen) == 8 and len(set(seen)) == 8


@pytest.mark.parametrize("num_workers", [0, 2])
def test_no_auto_batching(num_workers, baseline):
    loader = DataLoader(data.ArrayDataset(n=5), batch_size=None,
                        num_workers=num_workers)
    items = list(loader)
    assert [label for _, label in items] == [0, 1, 2, 3, 4]
    assert items[4][0].shape == (4, 8, 8, 3)


def test_spawn_context(baseline):
    loader = DataLoader(data.BigArrayDataset(n=6), batch_size=2, num_workers=2,
                        multiprocessing_context="spawn")
    batches = list(loader)
    assert [b[1] for b in batches] == [[0, 1], [2, 3], [4, 5]]
    assert np.all(batches[2][0][1] == 5)
    assert mmap_backed(batches[0][0])


@pytest.fixture
def forkserver():
    """The fork server, started before ``baseline`` counts the children."""
    multiprocessing.forkserver.ensure_running()


def test_forkserver_workers_wait_while_idle(forkserver, baseline):
    # A forkserver worker's OS parent is the fork server, not the loader's
    # process; an idle worker must not take that for its parent's death.
    idle = 1.3  # longer than the workers' parent check interval (1 s)
    loader = DataLoader(data.ArrayDataset(n=4, shape=(2,)), batch_size=1,
                        num_workers=1, prefetch_factor=1,
                        persistent_workers=True,
                        multiprocessing_context="forkserver")
    first = []
    for _, label in loader:
        first.append(int(label[0]))
        if len(first) == 1:
            time.sleep(idle)  # a long training step
    time.sleep(idle)  # persistent workers idle between epochs
    second = [int(label[0]) for _, label in loader]
    assert first == second == [0, 1, 2, 3]
    loader.close()


def test_large_arrays_travel_through_shared_memory(baseline):
    loader = DataLoader(data.BigArrayDataset(n=4), batch_size=2, num_workers=1)
    segments_seen = []
    for frames, labels in loader:
        segments_seen.append(gulpio_segments())
        assert mmap_backed(frames)  # mapped, not unpickled into the heap
        assert frames.flags.writeable and frames.shape == (2, 8, 32, 32, 3)
        frames += 1  # a normal, writable array
    # a received segment's name is removed at once (the mapping stays): only
    # batches still in flight (prefetch_factor 2 x 1 worker) have names
    assert all(len(names) <= 2 for names in segments_seen)
    small = next(iter(DataLoader(data.ArrayDataset(n=2, shape=(2,)),
                                 batch_size=2, num_workers=1)))
    assert not mmap_backed(small[0])  # tiny arrays are pickled


def test_held_batches_are_never_overwritten(baseline):
    ds = data.BigArrayDataset(n=24)
    loader = DataLoader(ds, batch_size=2, num_workers=2,
                        persistent_workers=True)
    first_epoch = list(loader)  # every batch kept alive
    second_epoch = list(loader)
    loader.close()  # workers gone, segment names removed
    assert gulpio_segments() == baseline[1]
    for epoch in (first_epoch, second_epoch):
        for frames, labels in epoch:  # still mapped and intact
            assert mmap_backed(frames)
            for clip, label in zip(frames, labels):
                assert np.all(clip == label)
    del first_epoch, second_epoch, loader


def test_segments_are_reused_once_batches_are_dropped(baseline):
    loader = DataLoader(data.BigArrayDataset(n=60), batch_size=2, num_workers=2)
    seen = set()
    for frames, labels in loader:
        assert np.all(frames[1] == labels[1])
        seen.update(gulpio_segments())
    # 30 batches went through a handful of segments
    assert 0 < len(seen) <= 12


def test_custom_collate_results_also_use_shared_memory(baseline):
    loader = DataLoader(data.BigArrayDataset(n=4), batch_size=2, num_workers=1,
                        collate_fn=data.concat_collate)
    frames, labels = next(iter(loader))
    assert frames.shape == (16, 32, 32, 3) and mmap_backed(frames)
    assert labels.tolist() == [0, 1] and np.all(frames[8:] == 1)


def test_prefetch_and_persistent_workers(baseline):
    ds = data.RandomDataset()
    loader = DataLoader(ds, batch_size=4, num_workers=2, prefetch_factor=1,
                        persistent_workers=True, seed=5)
    first = list(loader)
    second = list(loader)
    pids_first = {p for b in first for p in b["pid"]}
    pids_second = {p for b in second for p in b["pid"]}
    assert len(pids_first) == 2 and pids_first == pids_second
    draws_first = [d for b in first for d in b["np"]]
    draws_second = [d for b in second for d in b["np"]]
    assert draws_first != draws_second  # reseeded for the new epoch
    # an unfinished epoch followed by a new one
    iterator = iter(loader)
    next(iterator)
    third = list(loader)
    assert [i for b in third for i in b["index"]] == list(range(16))
    del iterator
    assert children() - baseline[0]  # still alive between epochs
    del loader
    assert_clean(baseline)


# ---------------------------------------------------------------- seeds

def _draws(loader):
    return [(w, n, p) for b in loader
            for w, n, p in zip(b["worker"], b["np"], b["py"])]


def test_workers_get_different_seeds_per_worker_and_epoch(baseline):
    loader = DataLoader(data.RandomDataset(), batch_size=2, num_workers=2)
    epoch1 = _draws(loader)
    epoch2 = _draws(loader)
    by_worker = collections.defaultdict(list)
    for worker, draw, _ in epoch1:
        by_worker[worker].append(draw)
    assert sorted(by_worker) == [0, 1]
    # the original gave every worker the same random state: equal sequences
    assert by_worker[0] != by_worker[1]
    assert len({n for _, n, _ in epoch1}) == 16
    assert len({p for _, _, p in epoch1}) == 16
    assert [n for _, n, _ in epoch1] != [n for _, n, _ in epoch2]


def test_seed_makes_workers_reproducible(baseline):
    def run(seed):
        return _draws(DataLoader(data.RandomDataset(), batch_size=2,
                                 shuffle=True, num_workers=2, seed=seed))
    assert run(11) == run(11)
    assert run(11) != run(12)
    gen_a = DataLoader(data.RandomDataset(), batch_size=2, num_workers=2,
                       generator=np.random.default_rng(4))
    gen_b = DataLoader(data.RandomDataset(), batch_size=2, num_workers=2,
                       generator=np.random.default_rng(4))
    assert _draws(gen_a) == _draws(gen_b)


def test_worker_init_fn_runs_in_every_worker(baseline):
    loader = DataLoader(data.InitCheckDataset(n=8), batch_size=2, num_workers=2,
                        worker_init_fn=data.mark_worker)
    marks = {m for batch in loader for m in batch[0]}
    assert marks == {"initialised-0", "initialised-1"}


def test_worker_init_fn_failure_is_raised(baseline):
    loader = DataLoader(data.ArrayDataset(), num_workers=1,
                        worker_init_fn=data.failing_init)
    with pytest.raises(OSError, match="init failed in worker 0"):
        list(loader)


# ---------------------------------------------------------------- errors

@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_worker_exception_same_type_with_traceback(context, baseline):
    loader = DataLoader(data.FailingDataset(5, ValueError("bad item 5")),
                        batch_size=2, num_workers=2,
                        multiprocessing_context=context)
    got = []
    with pytest.raises(ValueError, match="bad item 5") as info:
        for batch in loader:
            got.append(batch[1])
    assert got == [[0, 1], [2, 3]]  # the batches before the bad one
    cause = info.value.__cause__
    assert cause is not None
    text = str(cause)
    assert "Traceback" in text and "_loader_data.py" in text
    assert "in __getitem__" in text
    del info
    assert_clean(baseline)


def test_worker_exception_not_rebuildable(baseline):
    loader = DataLoader(data.FailingDataset(0, data.NeedsTwoArgsError("a", "b")),
                        num_workers=1)
    with pytest.raises(Exception) as info:
        list(loader)
    assert "a/b" in str(info.value)
    assert "NeedsTwoArgsError" in str(info.value) + str(info.value.__cause__)


def test_worker_exception_keyerror_and_iteration_goes_on(baseline):
    loader = DataLoader(data.FailingDataset(1, KeyError("missing")),
                        batch_size=1, num_workers=2)
    iterator = iter(loader)
    assert next(iterator)[1] == [0]
    with pytest.raises(KeyError):
        next(iterator)
    assert next(iterator)[1] == [2]  # the loader survives a bad item
    del iterator


def test_unpicklable_batch_is_reported(baseline):
    loader = DataLoader(data.UnpicklableDataset(n=2), batch_size=None,
                        num_workers=1)
    with pytest.raises(Exception, match="(?i)pickle"):
        list(loader)


@pytest.mark.parametrize("how, expected", [
    ("kill", "killed by SIGKILL"), ("exit", "exited with code 3")])
def test_dead_worker_raises_quickly(how, expected, baseline):
    loader = DataLoader(data.DyingDataset(4, how), batch_size=2, num_workers=2)
    started = time.monotonic()
    with pytest.raises(RuntimeError, match=f"DataLoader worker [01] .*{expected}"):
        list(loader)
    assert time.monotonic() - started < 30  # never a hang


def test_worker_killed_from_outside(baseline):
    loader = DataLoader(data.SlowDataset(0.2, n=40), batch_size=1, num_workers=2)
    iterator = iter(loader)
    next(iterator)
    victim = sorted(children() - baseline[0])[0]
    os.kill(victim, signal.SIGKILL)
    with pytest.raises(RuntimeError, match=f"pid {victim}.*SIGKILL"):
        for _ in iterator:
            pass
    del iterator


def test_timeout(baseline):
    loader = DataLoader(data.SlowDataset(1.0, n=1), num_workers=1, timeout=0.3)
    with pytest.raises(RuntimeError, match="timed out after 0.3 seconds"):
        next(iter(loader))


class OneSlowItem(data.BigArrayDataset):
    """Item ``slow`` takes ``delay`` seconds; batches use shared memory."""

    def __init__(self, slow, delay, n=6):
        super().__init__(n=n)
        self.slow, self.delay = slow, delay

    def __getitem__(self, index):
        if index == self.slow:
            time.sleep(self.delay)
        return super().__getitem__(index)


def test_timeout_does_not_lose_the_batch(baseline):
    loader = DataLoader(OneSlowItem(1, 0.8), batch_size=1, num_workers=2,
                        timeout=0.3, persistent_workers=True)
    iterator = iter(loader)
    got, timeouts = [], 0
    while True:
        try:
            _, labels = next(iterator)
        except StopIteration:
            break
        except RuntimeError as exc:
            assert "timed out after 0.3 seconds" in str(exc)
            timeouts += 1
            continue
        got.append(int(labels[0]))
    assert timeouts >= 1
    assert got == [0, 1, 2, 3, 4, 5]  # the late batch, in its place
    assert not loader._pool.results and not loader._pool.pending
    del iterator
    loader.close()


@pytest.mark.parametrize("persistent", [False, True])
def test_abandoned_iteration_after_timeout_releases_everything(persistent,
                                                               baseline):
    loader = DataLoader(OneSlowItem(1, 0.8), batch_size=1, num_workers=2,
                        timeout=0.3, persistent_workers=persistent)
    iterator = iter(loader)
    next(iterator)
    with pytest.raises(RuntimeError, match="timed out"):
        next(iterator)
    del iterator  # the late batch is still on its way
    if persistent:
        loader.timeout = 0  # item 1 is slow again in the new epoch
        # a new epoch on the same workers: the late batch is not mixed in
        assert [int(b[1][0]) for b in loader] == [0, 1, 2, 3, 4, 5]
        assert not loader._pool.results and not loader._pool.pending
        assert not loader._pool.abandoned
        loader.close()
    # the baseline fixture checks workers and shared memory are gone


# ---------------------------------------------------------------- shutdown

def test_break_ends_workers_and_frees_memory(baseline):
    loader = DataLoader(data.BigArrayDataset(n=32), batch_size=2, num_workers=2,
                        prefetch_factor=4)
    for i, _ in enumerate(loader):
        if i == 1:
            break
    # results were waiting in the pipes and in the reorder buffer
    assert_clean(baseline)


def test_exception_in_training_loop_ends_workers(baseline):
    loader = DataLoader(data.BigArrayDataset(n=32), batch_size=2, num_workers=2)

    def train():
        for frames, _ in loader:
            raise ArithmeticError("loss is nan")

    with pytest.raises(ArithmeticError):
        train()
    assert_clean(baseline)


def test_del_loader_with_persistent_workers(baseline):
    loader = DataLoader(data.BigArrayDataset(n=16), batch_size=2, num_workers=2,
                        persistent_workers=True)
    iterator = iter(loader)
    next(iterator)
    assert len(children() - baseline[0]) == 2
    del iterator, loader
    assert_clean(baseline)


PARENT_SCRIPT = """
import sys, time
sys.path.insert(0, {tests!r})
import _loader_data as data
from gulpio.loader import DataLoader
loader = DataLoader(data.SlowDataset(0.05, n=1000), batch_size=2, num_workers=2,
                    multiprocessing_context={context!r})
iterator = iter(loader)
next(iterator)
print(" ".join(str(p.pid) for p in iterator._pool.processes), flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("context", ["fork", "spawn", "forkserver"])
def test_workers_exit_when_the_parent_is_killed(context):
    # With forkserver the workers are the fork server's children, not the
    # killed process's: they must notice all the same.
    tests = os.path.dirname(os.path.abspath(__file__))
    parent = subprocess.Popen(
        [sys.executable, "-c",
         PARENT_SCRIPT.format(tests=tests, context=context)],
        stdout=subprocess.PIPE, text=True)
    try:
        pids = [int(p) for p in parent.stdout.readline().split()]
        assert len(pids) == 2
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 10
        alive = pids
        while alive and time.monotonic() < deadline:
            time.sleep(0.1)
            alive = [p for p in pids if psutil.pid_exists(p)
                     and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
        assert alive == [], "orphaned workers kept running"
    finally:
        if parent.poll() is None:
            parent.kill()
        parent.stdout.close()


def test_sweep_removes_segments_of_killed_workers(baseline):
    pool = _shm.SegmentPool(_shm.new_prefix())
    sent = []
    _shm.share([np.zeros(1 << 16, np.uint8)], pool, sent)
    pool.close()  # a worker that stops without anyone unlinking
    assert len(sent) == 1 and gulpio_segments()
    assert _shm.sweep(pool.prefix) == 1
    assert gulpio_segments() == baseline[1]


def test_segment_pool_reuses_released_segments(baseline):
    pool = _shm.SegmentPool(_shm.new_prefix(), keep_free=1)
    try:
        first = pool.write(np.ones(1 << 15, np.uint8))
        second = pool.write(np.ones(1 << 15, np.uint8))
        assert first.name != second.name  # the first one is still busy
        pool.release([first.name])
        third = pool.write(np.full(1 << 15, 7, np.uint8))
        assert third.name == first.name  # written again, not a new one
        small = pool.write(np.ones(100, np.uint8))
        assert small.name not in (first.name, second.name)  # far too big
        pool.release([second.name, third.name, small.name])
        assert len(pool.free) == 1 and not pool.busy  # the rest removed
        arr = _shm.receive(pool.write(np.arange(1 << 14, dtype=np.int32)))
        assert arr.tolist() == list(range(1 << 14))
        del arr
    finally:
        pool.close()
        _shm.sweep(pool.prefix)


def test_loader_benchmark_smoke_run(tmp_path, baseline):
    """benchmarks/bench_loader.py runs end to end (tiny sizes; no timing
    is asserted) and writes its JSON report."""
    bench_dir = os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), "benchmarks")
    sys.path.insert(0, bench_dir)
    try:
        import bench_loader
    finally:
        sys.path.remove(bench_dir)
    out = tmp_path / "bench.json"
    report = bench_loader.main([
        "--mb", "2", "--reps", "1", "--items", "8", "--frames", "18",
        "--width", "64", "--height", "48", "--epochs", "1",
        "--workers", "0,2", "--out", str(out)])
    assert json.loads(out.read_text())["loader"] == report["loader"]
    assert [row["workers"] for row in report["loader"]] == [0, 2]
    assert all(row["clips_per_epoch"] == 8 for row in report["loader"])
    assert report["transport"]["pipe_receive_ms"] > 0
