"""Batches from a dataset, in sampler order, optionally from worker processes.

:class:`DataLoader` follows the interface of PyTorch's
``torch.utils.data.DataLoader`` (see ``LICENSE_PYTORCH``): the same
arguments, the same mutual exclusions and errors.  With ``num_workers > 0``
it runs worker processes that

* get their own seed for ``random``, NumPy (and torch, if it is imported),
  different per worker and per epoch and reproducible with ``seed=`` or
  ``generator=``;
* send numpy arrays through shared memory (:mod:`gulpio._shm`), only small
  descriptors through their pipes;
* re-raise their exceptions in the parent, with the same type where it can be
  rebuilt and the worker's traceback attached as ``__cause__``;
* are watched: a worker that dies gives a :class:`RuntimeError` naming it as
  soon as the parent waits for a batch; the parent never blocks without a
  timeout;
* are stopped (sentinel, join, terminate) when the iteration ends, when the
  iterator or the loader is garbage collected (``break``, ``del``, an
  exception in the training loop) and at interpreter exit, and their leftover
  shared memory is removed.
"""
import atexit
import collections
import itertools
import logging
import multiprocessing
import multiprocessing.connection
import numbers
import os
import signal
import time
import weakref
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple, Union

import numpy as np

from gulpio import _shm
from gulpio._collate import default_collate, fetch
from gulpio._worker import (INIT_TASK_ID, WorkerInfo,
                            get_worker_info, worker_loop)
from gulpio.sampler import BatchSampler, RandomSampler, SequentialSampler

__all__ = ["DataLoader", "default_collate", "get_worker_info", "WorkerInfo"]

logger = logging.getLogger(__name__)

# Seconds the parent waits between liveness checks while waiting for a batch.
_POLL_INTERVAL = 0.5
# Seconds workers get to stop on their own before they are terminated.
_SHUTDOWN_GRACE = 2.0


def _no_collate(sample: Any) -> Any:
    """What ``batch_size=None`` uses: samples are returned as they are."""
    return sample


# ---------------------------------------------------------------- helpers

def _describe_exit(exitcode: Optional[int]) -> str:
    if exitcode is None:
        return "stopped responding"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"was killed by {name}"
    return f"exited with code {exitcode}"


def _get_context(context: Any) -> Any:
    if context is None:
        return multiprocessing.get_context()
    if isinstance(context, str):
        if context not in multiprocessing.get_all_start_methods():
            raise ValueError(
                f"multiprocessing_context option should specify a valid start "
                f"method in {multiprocessing.get_all_start_methods()!r}, but "
                f"got multiprocessing_context={context!r}")
        return multiprocessing.get_context(context)
    if isinstance(context, multiprocessing.context.BaseContext):
        return context
    raise TypeError(
        "multiprocessing_context option should be a start method name or a "
        f"multiprocessing context, got {type(context).__name__}")


_live_pools: "weakref.WeakSet[_WorkerPool]" = weakref.WeakSet()


def _shutdown_all_pools() -> None:
    for pool in list(_live_pools):
        pool.shutdown()


# Registered after multiprocessing's own exit handler (imported above), so it
# runs first: our workers get their sentinel before being terminated.
atexit.register(_shutdown_all_pools)


# ---------------------------------------------------------------- worker pool

class _WorkerPool:
    """The worker processes of a loader, with their pipes and pending tasks."""

    def __init__(self, loader: "DataLoader", base_seed: int) -> None:
        self._owner_pid = os.getpid()
        self._closed = False
        self.num_workers = loader.num_workers
        self.prefix = _shm.new_prefix()
        self.processes: List[Any] = []
        self.index_conns: List[Any] = []
        self.result_conns: List[Any] = []
        self.pending: Dict[int, int] = {}         # task id -> worker id
        self.results: Dict[int, Tuple[Any, Any, int]] = {}
        # Segments whose arrays died, per worker, reported with the next
        # task.  Filled by finalizers, so only appended to (thread-safe).
        self.released: List[Deque[str]] = [
            collections.deque() for _ in range(self.num_workers)]
        self.abandoned: set = set()
        self._task_ids = itertools.count()
        self._next_worker = 0
        ctx = _get_context(loader.multiprocessing_context)
        _shm.ensure_tracker()
        auto_collation = loader._auto_collation
        _live_pools.add(self)
        try:
            for worker_id in range(self.num_workers):
                index_r, index_w = ctx.Pipe(duplex=False)
                result_r, result_w = ctx.Pipe(duplex=False)
                process = ctx.Process(
                    target=worker_loop,
                    args=(loader.dataset, index_r, result_w, loader.collate_fn,
                          auto_collation, worker_id, self.num_workers,
                          base_seed, loader.worker_init_fn, self.prefix,
                          os.getpid()),
                    name=f"gulpio-loader-worker-{worker_id}",
                    daemon=True)
                self.processes.append(process)
                self.index_conns.append(index_w)
                self.result_conns.append(result_r)
                try:
                    process.start()
                finally:
                    # The worker's ends; closing them here makes a dead
                    # worker's result pipe report EOF.
                    index_r.close()
                    result_w.close()
        except BaseException:
            self.shutdown()
            raise

    # -- tasks -----------------------------------------------------------

    def reseed(self, base_seed: int) -> None:
        """Start a new epoch (persistent workers): every worker reseeds."""
        self._next_worker = 0
        for worker_id, conn in enumerate(self.index_conns):
            self._send(worker_id, ("seed", base_seed))

    def _send(self, worker_id: int, message: Any) -> None:
        try:
            self.index_conns[worker_id].send(message)
        except OSError:
            self._raise_dead(worker_id)

    def submit(self, indices: Any) -> int:
        """Queue ``indices`` on the next worker in turn; returns the task id.

        Strict rotation makes the worker that loads a given batch, and so
        its random draws, the same in every run with the same seed.
        """
        worker_id = self._next_worker
        self._next_worker = (worker_id + 1) % self.num_workers
        task_id = next(self._task_ids)
        released = self.released[worker_id]
        names = [released.popleft() for _ in range(len(released))]
        self._send(worker_id, ("task", task_id, indices, names))
        self.pending[task_id] = worker_id
        return task_id

    def outstanding(self, task_id: int) -> bool:
        """Whether the result of ``task_id`` is still to be handed out."""
        return task_id in self.pending or task_id in self.results

    def abandon(self, task_ids: Any) -> None:
        """Forget tasks whose results nobody will ask for."""
        for task_id in task_ids:
            if task_id in self.results:
                payload, _, worker_id = self.results.pop(task_id)
                self.released[worker_id].extend(_shm.names_in(payload))
            elif task_id in self.pending:
                self.abandoned.add(task_id)

    def get(self, task_id: int, timeout: float) -> Any:
        """The batch of ``task_id``, waiting for it as long as needed.

        Raises
        ------
        RuntimeError
            When a worker died (the pool is shut down first) or no batch
            came within ``timeout`` seconds (``timeout > 0``; the task stays
            outstanding and can be asked for again).
        Exception
            What the dataset or collate function raised in the worker.
        """
        started = time.monotonic()
        while task_id not in self.results:
            wait = _POLL_INTERVAL
            if timeout > 0:
                left = timeout - (time.monotonic() - started)
                if left <= 0:
                    raise RuntimeError(
                        f"DataLoader timed out after {timeout} seconds "
                        f"waiting for a batch from worker "
                        f"{self.pending.get(task_id)}")
                wait = min(wait, left)
            self._poll(wait)
        payload, error, worker_id = self.results.pop(task_id)
        if error is not None:
            raise error.rebuild()
        return _shm.receive(payload, self.released[worker_id].append)

    def _poll(self, wait: float) -> None:
        conns = {conn: wid for wid, conn in enumerate(self.result_conns)}
        sentinels = {p.sentinel: wid for wid, p in enumerate(self.processes)}
        ready = multiprocessing.connection.wait(
            list(conns) + list(sentinels), wait)
        dead = []
        for obj in ready:
            if obj in conns:
                self._drain(conns[obj])
            else:
                dead.append(sentinels[obj])
        for worker_id in dead:
            self._drain(worker_id)
            self._raise_dead(worker_id)

    def _drain(self, worker_id: int) -> None:
        conn = self.result_conns[worker_id]
        while True:
            try:
                if conn.closed or not conn.poll(0):
                    return
                task_id, payload, error = conn.recv()
            except (EOFError, OSError):
                self._raise_dead(worker_id)
            if task_id == INIT_TASK_ID:
                self.shutdown()
                raise error.rebuild()
            self.pending.pop(task_id, None)
            if task_id in self.abandoned:
                self.abandoned.discard(task_id)
                self.released[worker_id].extend(_shm.names_in(payload))
                continue
            self.results[task_id] = (payload, error, worker_id)

    def _raise_dead(self, worker_id: int) -> None:
        process = self.processes[worker_id]
        process.join(1.0)
        message = (
            f"DataLoader worker {worker_id} (pid {process.pid}) "
            f"{_describe_exit(process.exitcode)} unexpectedly; the loader has "
            "been shut down. If the worker was killed by the system, it may "
            "have run out of memory.")
        self.shutdown()
        raise RuntimeError(message)

    # -- shutdown --------------------------------------------------------

    def _discard_pending(self) -> None:
        """Drop unconsumed results; their segments go with the sweep."""
        self.results.clear()
        for conn in self.result_conns:
            while True:
                try:
                    if conn.closed or not conn.poll(0):
                        break
                    conn.recv()
                except (EOFError, OSError):
                    break

    def shutdown(self) -> None:
        """Stop every worker and free their shared memory; idempotent."""
        if self._closed or os.getpid() != self._owner_pid:
            return
        self._closed = True
        _live_pools.discard(self)
        for conn in self.index_conns:
            try:
                conn.send(None)
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + _SHUTDOWN_GRACE
        started = [p for p in self.processes if p.pid is not None]
        while any(p.is_alive() for p in started):
            # Keep reading so that no worker stays blocked on a full pipe.
            self._discard_pending()
            if time.monotonic() > deadline:
                break
            alive = [p.sentinel for p in started if p.is_alive()]
            multiprocessing.connection.wait(alive, 0.05)
        for process in started:
            if process.is_alive():
                logger.debug("terminating loader worker pid %s", process.pid)
                process.terminate()
                process.join(1.0)
            if process.is_alive():
                process.kill()
            process.join()
        self._discard_pending()
        for conn in self.index_conns + self.result_conns:
            conn.close()
        _shm.sweep(self.prefix)
        for process in self.processes:
            try:
                process.close()
            except ValueError:
                pass

    @property
    def closed(self) -> bool:
        return self._closed

    def __del__(self) -> None:
        try:
            self.shutdown()
        except Exception:
            pass


# ---------------------------------------------------------------- iterators

class _SingleProcessIter:
    """Batches computed in the calling process."""

    def __init__(self, loader: "DataLoader") -> None:
        self._dataset = loader.dataset
        self._collate_fn = loader.collate_fn
        self._auto_collation = loader._auto_collation
        self._sampler_iter = iter(loader._index_sampler)

    def __iter__(self) -> "_SingleProcessIter":
        return self

    def __next__(self) -> Any:
        return fetch(self._dataset, next(self._sampler_iter),
                     self._collate_fn, self._auto_collation)


class _MultiProcessIter:
    """Batches computed by a pool of workers, yielded in sampler order."""

    def __init__(self, loader: "DataLoader", pool: _WorkerPool,
                 owns_pool: bool) -> None:
        self._pool = pool
        self._owns_pool = owns_pool
        self._timeout = loader.timeout
        self._sampler_iter = iter(loader._index_sampler)
        self._task_ids: Deque[int] = collections.deque()
        self._exhausted = False
        self._done = False
        try:
            for _ in range(loader.prefetch_factor * loader.num_workers):
                self._submit_one()
        except BaseException:
            self.close()
            raise

    def __iter__(self) -> "_MultiProcessIter":
        return self

    def _submit_one(self) -> None:
        if self._exhausted:
            return
        try:
            indices = next(self._sampler_iter)
        except StopIteration:
            self._exhausted = True
            return
        self._task_ids.append(self._pool.submit(indices))

    def __next__(self) -> Any:
        if self._done or not self._task_ids:
            self.close()
            raise StopIteration
        task_id = self._task_ids[0]
        try:
            batch = self._pool.get(task_id, self._timeout)
        except BaseException:
            if self._pool.closed:
                self._done = True
            elif not self._pool.outstanding(task_id):
                # The worker's exception for this batch: the batch is over.
                self._task_ids.popleft()
                self._submit_one()
            # Otherwise (timeout, Ctrl-C) the batch is still on its way: the
            # next call waits for it again, in order.
            raise
        self._task_ids.popleft()
        self._submit_one()
        return batch

    def close(self) -> None:
        """Stop this iteration (and the workers unless they persist)."""
        self._done = True
        if self._owns_pool:
            self._pool.shutdown()
        elif not self._pool.closed:
            self._pool.abandon(self._task_ids)
        self._task_ids.clear()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


# ---------------------------------------------------------------- the loader

class DataLoader:
    """Iterate over a dataset in batches.

    Parameters
    ----------
    dataset : object
        Anything with ``__getitem__`` and ``__len__`` (e.g.
        :class:`gulpio.dataset.GulpVideoDataset`).
    batch_size : int or None
        Samples per batch; ``None`` turns batching off (samples are yielded
        one by one, uncollated).
    shuffle : bool
        Visit the samples in a new random order every epoch.
    sampler : iterable of int, optional
        The order of the samples; excludes ``shuffle``.
    batch_sampler : iterable of lists of int, optional
        The batches' indices; excludes ``batch_size``, ``shuffle``,
        ``sampler`` and ``drop_last``.
    num_workers : int
        Worker processes; 0 loads in the calling process.
    collate_fn : callable
        Turns a list of samples into a batch; :func:`default_collate`.
    drop_last : bool
        Drop the last, incomplete batch.
    timeout : float
        Seconds to wait for a batch from the workers before raising
        :class:`RuntimeError`; 0 waits as long as the workers live.  The
        late batch is not lost: the next ``next()`` on the same iterator
        waits for it again.
    worker_init_fn : callable, optional
        Called in each worker with its id, after seeding, before loading.
    multiprocessing_context : str or multiprocessing context, optional
        Start method of the workers (``"fork"``, ``"spawn"``,
        ``"forkserver"``); default: multiprocessing's default.
    generator : numpy.random.Generator, optional
        Source of the shuffling order and of the workers' base seeds.
    prefetch_factor : int, optional
        Batches requested ahead per worker (default 2); only with workers.
    persistent_workers : bool
        Keep the workers alive between epochs; only with workers.
    seed : int, optional
        Makes shuffling and the workers' seeds reproducible (a shorthand for
        ``generator=numpy.random.default_rng(seed)``).  Without ``seed`` and
        ``generator`` NumPy's global random state is used.

    Raises
    ------
    ValueError
        For the combinations PyTorch rejects: ``sampler`` with ``shuffle``;
        ``batch_sampler`` with ``batch_size``, ``shuffle``, ``sampler`` or
        ``drop_last``; ``batch_size=None`` with ``drop_last``; a negative
        ``num_workers`` or ``timeout``; ``prefetch_factor`` or
        ``persistent_workers`` without workers; and ``seed`` with
        ``generator``.

    Notes
    -----
    Worker ``i`` is seeded with ``base_seed + i`` (``random``, NumPy's global
    state, and torch if it is imported), where ``base_seed`` is drawn anew
    for every epoch.  :func:`get_worker_info` tells code in a worker which
    worker it is.
    """

    _frozen_after_init = ("batch_size", "batch_sampler", "sampler",
                          "drop_last", "dataset", "persistent_workers")

    def __init__(self, dataset: Any, batch_size: Optional[int] = 1,
                 shuffle: bool = False, sampler: Any = None,
                 batch_sampler: Any = None, num_workers: int = 0,
                 collate_fn: Optional[Callable] = default_collate,
                 drop_last: bool = False, timeout: float = 0,
                 worker_init_fn: Optional[Callable[[int], None]] = None,
                 multiprocessing_context: Any = None,
                 generator: Optional[np.random.Generator] = None, *,
                 prefetch_factor: Optional[int] = None,
                 persistent_workers: bool = False,
                 seed: Optional[int] = None) -> None:
        if (not isinstance(num_workers, numbers.Integral)
                or isinstance(num_workers, bool) or num_workers < 0):
            raise ValueError("num_workers option should be a non-negative "
                             f"integer, but got num_workers={num_workers!r}")
        if not isinstance(timeout, numbers.Real) or timeout < 0:
            raise ValueError("timeout option should be non-negative, but got "
                             f"timeout={timeout!r}")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError(
                "prefetch_factor option could only be specified in "
                "multiprocessing: let num_workers > 0 to enable it")
        if prefetch_factor is None:
            prefetch_factor = 2
        if (not isinstance(prefetch_factor, numbers.Integral)
                or prefetch_factor < 1):
            raise ValueError("prefetch_factor option should be a positive "
                             f"integer, got {prefetch_factor!r}")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if seed is not None and generator is not None:
            raise ValueError("seed and generator options are mutually "
                             "exclusive; pass one of them")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "batch_sampler option is mutually exclusive with "
                    "batch_size, shuffle, sampler, and drop_last")
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError(
                "batch_size=None option disables auto-batching and is "
                "mutually exclusive with drop_last")

        if seed is not None:
            generator = np.random.default_rng(seed)
        if sampler is None:
            if shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        if collate_fn is None:
            collate_fn = default_collate
        if batch_sampler is None and collate_fn is default_collate:
            collate_fn = _no_collate
        if num_workers > 0:
            _get_context(multiprocessing_context)  # fail early on a bad name

        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = int(num_workers)
        self.collate_fn = collate_fn
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.generator = generator
        self.prefetch_factor = int(prefetch_factor)
        self.persistent_workers = bool(persistent_workers)
        self._pool: Optional[_WorkerPool] = None
        self._current_iter: Optional["weakref.ref[_MultiProcessIter]"] = None
        self._initialized = True

    def __setattr__(self, name: str, value: Any) -> None:
        if (self.__dict__.get("_initialized")
                and name in self._frozen_after_init):
            raise ValueError(f"{name} attribute should not be set after "
                             f"{type(self).__name__} is initialized")
        super().__setattr__(name, value)

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self) -> Any:
        return self.batch_sampler if self._auto_collation else self.sampler

    def _next_base_seed(self) -> int:
        if self.generator is not None:
            return int(self.generator.integers(0, 1 << 62))
        return int(np.random.randint(0, 1 << 62, dtype=np.int64))

    def __iter__(self) -> Union[_SingleProcessIter, _MultiProcessIter]:
        if self.num_workers == 0:
            return _SingleProcessIter(self)
        base_seed = self._next_base_seed()
        if not self.persistent_workers:
            return _MultiProcessIter(self, _WorkerPool(self, base_seed),
                                     owns_pool=True)
        previous = self._current_iter() if self._current_iter else None
        if previous is not None:
            previous.close()
        if self._pool is None or self._pool.closed:
            self._pool = _WorkerPool(self, base_seed)
        else:
            self._pool.reseed(base_seed)
        iterator = _MultiProcessIter(self, self._pool, owns_pool=False)
        self._current_iter = weakref.ref(iterator)
        return iterator

    def __len__(self) -> int:
        return len(self._index_sampler)

    def close(self) -> None:
        """Stop persistent workers now (they also stop when the loader dies)."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass
