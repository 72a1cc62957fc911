"""Datasets and callbacks for the loader tests.

They live at module level in an importable module so that workers started
with the ``spawn`` method can unpickle them.
"""
import os
import random
import signal
import time

import numpy as np

from gulpio.loader import get_worker_info


class ArrayDataset:
    """Item ``i`` -> (array filled with ``i``, ``i``)."""

    def __init__(self, n=20, shape=(4, 8, 8, 3), dtype=np.uint8):
        self.n, self.shape, self.dtype = n, shape, dtype

    def __len__(self):
        return self.n

    def __getitem__(self, index):
        if not 0 <= index < self.n:
            raise IndexError(index)
        return np.full(self.shape, index % 256, dtype=self.dtype), index


class RandomDataset:
    """Random draws made in the worker, with the worker's id and pid."""

    def __len__(self):
        return 16

    def __getitem__(self, index):
        info = get_worker_info()
        worker = -1 if info is None else info.id
        return {"np": int(np.random.randint(0, 1 << 30)),
                "py": random.random(),
                "worker": worker,
                "pid": os.getpid(),
                "index": index}


class FailingDataset(ArrayDataset):
    """Raises ``exc`` for item ``bad``."""

    def __init__(self, bad, exc, n=12):
        super().__init__(n=n, shape=(2, 2))
        self.bad, self.exc = bad, exc

    def __getitem__(self, index):
        if index == self.bad:
            raise self.exc
        return super().__getitem__(index)


class NeedsTwoArgsError(Exception):
    """An exception that pickle cannot rebuild from its args."""

    def __init__(self, first, second):
        super().__init__(f"{first}/{second}")


class DyingDataset(ArrayDataset):
    """Its worker dies (``how``: 'kill' or 'exit') when item ``bad`` is read."""

    def __init__(self, bad, how, n=12):
        super().__init__(n=n, shape=(2, 2))
        self.bad, self.how = bad, how

    def __getitem__(self, index):
        if index == self.bad and get_worker_info() is not None:
            if self.how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            os._exit(3)
        return super().__getitem__(index)


class SlowDataset(ArrayDataset):
    def __init__(self, delay, n=8):
        super().__init__(n=n, shape=(2, 2))
        self.delay = delay

    def __getitem__(self, index):
        time.sleep(self.delay)
        return super().__getitem__(index)


class BigArrayDataset(ArrayDataset):
    """Large items so that batches go through shared memory."""

    def __init__(self, n=8):
        super().__init__(n=n, shape=(8, 32, 32, 3))


class UnpicklableDataset(ArrayDataset):
    def __getitem__(self, index):
        return (lambda: index), index


INIT_MARK = "GULPIO_TEST_INIT_MARK"


def mark_worker(worker_id):
    os.environ[INIT_MARK] = f"initialised-{worker_id}"


def failing_init(worker_id):
    raise OSError(f"init failed in worker {worker_id}")


class InitCheckDataset(ArrayDataset):
    def __getitem__(self, index):
        return os.environ.get(INIT_MARK, "missing"), index


def concat_collate(samples):
    """A custom collate function: frames concatenated, labels as an array."""
    return (np.concatenate([frames for frames, _ in samples]),
            np.array([label for _, label in samples]))


class RepeatItem:
    """``n`` times item ``index`` of ``dataset`` (to compare random draws)."""

    def __init__(self, dataset, index, n):
        self.dataset, self.index, self.n = dataset, index, n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return self.dataset[self.index]
