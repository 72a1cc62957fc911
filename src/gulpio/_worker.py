"""What runs inside a :class:`gulpio.loader.DataLoader` worker process.

The entry point :func:`worker_loop` is a module-level function so that it can
be started with any multiprocessing start method (``fork``, ``spawn``,
``forkserver``).

Protocol, one pipe in each direction per worker:

* parent -> worker: ``("task", task_id, indices, released)`` where
  ``released`` lists the shared memory segments whose arrays the parent no
  longer holds (the worker may write them again), ``("seed", base_seed)``
  (a new epoch for persistent workers) or ``None`` (stop);
* worker -> parent: ``(task_id, batch, error)`` where ``batch`` holds
  :class:`gulpio._shm.SharedArray` descriptors in place of large arrays and
  ``error`` is ``None`` or an :class:`ExceptionWrapper`.  ``task_id`` is
  ``-1`` for a failure before the first task (``worker_init_fn``).
"""
import logging
import multiprocessing
import multiprocessing.connection
import os
import pickle
import random
import signal
import sys
import traceback
from typing import Any, Callable, List, NamedTuple, Optional

import numpy as np

from gulpio import _shm
from gulpio._collate import fetch

logger = logging.getLogger(__name__)

# How often (seconds) an idle worker also checks its parent's pid, a backup
# for the parent's sentinel, which it waits on.
PARENT_CHECK_INTERVAL = 1.0

INIT_TASK_ID = -1


class WorkerInfo(NamedTuple):
    """What :func:`get_worker_info` tells code running in a worker."""

    id: int
    num_workers: int
    seed: int
    dataset: Any


_worker_info: Optional[WorkerInfo] = None


def get_worker_info() -> Optional[WorkerInfo]:
    """Information about the current loader worker, ``None`` in the parent.

    Returns
    -------
    WorkerInfo or None
        ``id``, ``num_workers``, ``seed`` (this worker's seed for the current
        epoch) and ``dataset`` (the worker's copy).
    """
    return _worker_info


class WorkerTraceback(Exception):
    """The traceback text of an exception raised in a worker process.

    Attached as ``__cause__`` of the exception re-raised in the parent, so
    that the worker's traceback is printed above the parent's.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ExceptionWrapper:
    """An exception caught in a worker, ready to cross the process boundary.

    Parameters
    ----------
    exc : BaseException
        The exception being handled.
    where : str
        Human-readable origin, e.g. ``"DataLoader worker 1 (pid 1234)"``.
    """

    def __init__(self, exc: BaseException, where: str) -> None:
        self.exc_type = type(exc)
        self.where = where
        self.message = str(exc)
        self.traceback_text = "".join(
            traceback.format_exception(type(exc), exc, exc.__traceback__))
        try:
            self.pickled: Optional[bytes] = pickle.dumps(exc)
        except Exception:
            self.pickled = None

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        try:  # a class defined in __main__ of a spawned worker may not pickle
            pickle.dumps(self.exc_type)
        except Exception:
            state["exc_type"] = RuntimeError
        return state

    def rebuild(self) -> BaseException:
        """The exception to raise in the parent, same type where possible."""
        header = (f"Caught {self.exc_type.__name__} in {self.where}.\n"
                  f"Original {self.traceback_text}")
        exc: Optional[BaseException] = None
        if self.pickled is not None:
            try:
                exc = pickle.loads(self.pickled)
            except Exception:
                exc = None
        if exc is None:
            try:
                exc = self.exc_type(header)
            except Exception:
                exc = RuntimeError(header)
        exc.__cause__ = WorkerTraceback(self.traceback_text)
        if hasattr(exc, "add_note"):
            exc.add_note(f"(raised in {self.where})")
        try:
            exc.worker_traceback = self.traceback_text  # type: ignore[attr-defined]
        except Exception:
            pass
        return exc


def worker_seed(base_seed: int, worker_id: int) -> int:
    """The seed of worker ``worker_id`` for an epoch with ``base_seed``."""
    return int(base_seed) + int(worker_id)


def seed_everything(seed: int) -> None:
    """Seed ``random``, NumPy's global state and (if loaded) torch."""
    random.seed(seed)
    np.random.seed(np.random.SeedSequence(seed).generate_state(4))
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "manual_seed"):
        torch.manual_seed(seed % (1 << 63))


def _set_info(worker_id: int, num_workers: int, seed: int, dataset: Any) -> None:
    global _worker_info
    _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)


def _fetch(dataset: Any, indices: Any, collate_fn: Callable,
           auto_collation: bool, pool: _shm.SegmentPool) -> Any:
    """Load and collate one batch; large arrays end up in shared memory."""
    sent: List[str] = []
    try:
        batch = fetch(dataset, indices, collate_fn, auto_collation,
                      pool.stacker(sent))
        return _shm.share(batch, pool, sent)
    except BaseException:
        pool.release(sent)  # nothing of this batch leaves the worker
        raise


def worker_loop(dataset: Any, index_conn: Any, result_conn: Any,
                collate_fn: Callable, auto_collation: bool, worker_id: int,
                num_workers: int, base_seed: int,
                worker_init_fn: Optional[Callable[[int], None]],
                shm_prefix: str, parent_pid: int) -> None:
    """Serve batches until told to stop or the parent goes away."""
    # Ctrl-C is the parent's business; it stops the workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    where = f"DataLoader worker {worker_id} (pid {os.getpid()})"
    pool = _shm.SegmentPool(f"{shm_prefix}w{worker_id}_")
    try:
        seed = worker_seed(base_seed, worker_id)
        seed_everything(seed)
        _set_info(worker_id, num_workers, seed, dataset)
        if worker_init_fn is not None:
            worker_init_fn(worker_id)
    except Exception as exc:
        result_conn.send((INIT_TASK_ID, None, ExceptionWrapper(exc, where)))
        return
    try:
        _serve(dataset, index_conn, result_conn, collate_fn, auto_collation,
               worker_id, num_workers, parent_pid, pool, where)
    finally:
        pool.close()


class _ParentGone(Exception):
    """The loader's process exited: the worker has nobody to serve."""


class _ParentWatch:
    """Tells a worker whether the process that started it is still alive.

    The start method decides who the worker's OS parent is: the loader's
    process with ``fork`` and ``spawn``, the fork server with
    ``forkserver``.  So ``os.getppid()`` alone cannot be compared with the
    loader's pid.  The primary signal is multiprocessing's parent sentinel
    (a pipe end that becomes ready when the parent exits, for every start
    method); a periodic check of the pid backs it up.
    """

    def __init__(self, parent_pid: int) -> None:
        self.parent_pid = parent_pid
        parent = multiprocessing.parent_process()
        self.sentinel: Optional[int] = (
            None if parent is None else parent.sentinel)
        # Re-parenting is a sure sign of death, but only when the loader's
        # process is our OS parent (not with the fork server in between).
        self._direct_child = os.getppid() == parent_pid

    def parent_is_alive(self) -> bool:
        """The periodic check: ``False`` once the parent is known dead."""
        if self._direct_child:
            return os.getppid() == self.parent_pid
        try:
            os.kill(self.parent_pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # exists, owned by someone else
            return True
        return True

    def wait(self, conn: Any, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for ``conn`` to be readable.

        Returns
        -------
        bool
            ``True`` when ``conn`` has data (or EOF) to read.

        Raises
        ------
        _ParentGone
            When the parent process has exited.
        """
        watched = [conn] if self.sentinel is None else [conn, self.sentinel]
        ready = multiprocessing.connection.wait(watched, timeout)
        if self.sentinel is not None and self.sentinel in ready:
            raise _ParentGone()
        if not ready and not self.parent_is_alive():
            raise _ParentGone()
        return bool(ready)


def _serve(dataset: Any, index_conn: Any, result_conn: Any,
           collate_fn: Callable, auto_collation: bool, worker_id: int,
           num_workers: int, parent_pid: int, pool: _shm.SegmentPool,
           where: str) -> None:
    watch = _ParentWatch(parent_pid)
    while True:
        try:
            if not watch.wait(index_conn, PARENT_CHECK_INTERVAL):
                continue
            message = index_conn.recv()
        except _ParentGone:
            logger.debug("%s: the loader's process is gone, stopping", where)
            return
        except (EOFError, OSError):
            return
        if message is None:
            return
        if message[0] == "seed":
            seed = worker_seed(message[1], worker_id)
            seed_everything(seed)
            _set_info(worker_id, num_workers, seed, dataset)
            continue
        _, task_id, indices, released = message
        pool.release(released)
        try:
            payload = _fetch(dataset, indices, collate_fn, auto_collation,
                             pool)
            reply = (task_id, payload, None)
        except Exception as exc:
            reply = (task_id, None, ExceptionWrapper(exc, where))
        payload = None
        try:
            result_conn.send(reply)
        except OSError:  # the parent is gone
            return
        except Exception as exc:  # the batch does not pickle; nothing was sent
            pool.release(_shm.names_in(reply[1]))
            result_conn.send((task_id, None, ExceptionWrapper(exc, where)))
