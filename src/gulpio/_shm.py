"""Moving numpy arrays from loader workers to the parent through shared memory.

A worker writes every large array of a batch into a
:class:`multiprocessing.shared_memory.SharedMemory` segment (with
``default_collate`` it stacks the samples straight into it) and sends only a
small :class:`SharedArray` descriptor through its pipe.  The parent maps the
segment and hands out an ordinary ``numpy.ndarray`` backed by it, without
another copy where the platform shows segments as files in ``/dev/shm``
(Linux), with one copy elsewhere.

When that array is garbage collected, the parent tells the worker (with its
next task) that the segment is free, and the worker writes a later batch into
it: a segment's pages are allocated and faulted in once, not for every batch
(:class:`SegmentPool`).

Segment names start with a per-loader prefix, so the parent removes all of
them, including whatever a killed worker left behind, when the loader shuts
down (:func:`sweep`).  Segments are registered with multiprocessing's
resource tracker when created, so even if every process is killed the
tracker removes them.
"""
import collections
import itertools
import logging
import mmap
import os
import secrets
import weakref
from multiprocessing import resource_tracker, shared_memory
from typing import (Any, Callable, Dict, List, NamedTuple, Optional, Sequence,
                    Tuple)

import numpy as np

logger = logging.getLogger(__name__)

# Arrays smaller than this are pickled with the rest of the message: for a
# few kilobytes a shared memory segment (create, map, unlink) costs more than
# it saves.
SHM_MIN_BYTES = 16 * 1024

_SHM_DIR = "/dev/shm"
_TRACKER_TYPE = "shared_memory"


class SharedArray(NamedTuple):
    """Descriptor of an array stored in a shared memory segment."""

    name: str
    shape: Tuple[int, ...]
    dtype: str
    nbytes: int


def new_prefix() -> str:
    """A segment name prefix unique to one loader worker pool."""
    return f"gulpio_{os.getpid():x}_{secrets.token_hex(4)}_"


def ensure_tracker() -> None:
    """Start the resource tracker before workers are forked.

    Forked workers inherit a running tracker; without one, each would start
    its own and the parent's unregistering would go to the wrong tracker.
    """
    resource_tracker.ensure_running()


def _tracker_name(name: str) -> str:
    # SharedMemory registers POSIX segments under their "/"-prefixed name.
    return "/" + name if os.name == "posix" else name


def _unregister(name: str) -> None:
    try:
        resource_tracker.unregister(_tracker_name(name), _TRACKER_TYPE)
    except Exception:  # the tracker is gone (interpreter shutdown)
        logger.debug("could not unregister shared memory %s", name,
                     exc_info=True)


def _walk(obj: Any, leaf: Callable[[Any], Any]) -> Any:
    """Rebuild ``obj`` with ``leaf`` applied to every non-container value."""
    if isinstance(obj, SharedArray):
        return leaf(obj)
    if isinstance(obj, (list, tuple, dict)) or hasattr(obj, "_fields"):
        if isinstance(obj, dict):
            items = [(key, _walk(value, leaf)) for key, value in obj.items()]
            if type(obj) in (dict, collections.OrderedDict):
                return type(obj)(items)
            try:
                return type(obj)(items)
            except TypeError:
                return dict(items)
        if isinstance(obj, tuple) and hasattr(obj, "_fields"):
            return type(obj)(*(_walk(value, leaf) for value in obj))
        if isinstance(obj, tuple):
            return tuple(_walk(value, leaf) for value in obj)
        if isinstance(obj, list):
            return [_walk(value, leaf) for value in obj]
    return leaf(obj)


# ---------------------------------------------------------------- worker side

class SegmentPool:
    """The shared memory segments one worker writes batches into.

    A segment is *busy* from the moment a batch is written into it until
    the parent reports (:meth:`release`) that the array it made of it was
    garbage collected; then it is *free* and the next batch of a size that
    fits is written into it again.  Writing into pages that are already
    allocated and mapped is several times cheaper than a fresh segment,
    whose every page must first be faulted in and zeroed.  At most
    ``keep_free`` free segments are kept; the rest are removed.

    Parameters
    ----------
    prefix : str
        Name prefix of the segments (from :func:`new_prefix`).
    keep_free : int
        Free segments to keep for reuse.
    """

    def __init__(self, prefix: str, keep_free: int = 2) -> None:
        self.prefix = prefix
        self.keep_free = keep_free
        self._counter = itertools.count()
        self.free: "collections.OrderedDict[str, shared_memory.SharedMemory]" = \
            collections.OrderedDict()
        self.busy: Dict[str, shared_memory.SharedMemory] = {}

    def acquire(self, nbytes: int) -> shared_memory.SharedMemory:
        """A busy segment of at least ``nbytes`` bytes (reused if possible)."""
        fits = [(shm.size, name) for name, shm in self.free.items()
                if nbytes <= shm.size <= 2 * nbytes]
        if fits:
            _, name = min(fits)
            shm = self.free.pop(name)
        else:
            name = f"{self.prefix}{next(self._counter)}"
            shm = shared_memory.SharedMemory(name=name, create=True,
                                             size=nbytes)
        self.busy[name] = shm
        return shm

    def release(self, names: Sequence[str]) -> None:
        """Make segments free again (their arrays in the parent are gone)."""
        for name in names:
            shm = self.busy.pop(name, None)
            if shm is not None:
                self.free[name] = shm
        while len(self.free) > self.keep_free:
            _, shm = self.free.popitem(last=False)
            shm.close()
            shm.unlink()

    def close(self) -> None:
        """Unmap every segment (the parent removes the names)."""
        for shm in list(self.free.values()) + list(self.busy.values()):
            shm.close()
        self.free.clear()
        self.busy.clear()

    def write(self, arr: np.ndarray) -> SharedArray:
        """Copy ``arr`` into a segment."""
        shm = self.acquire(arr.nbytes)
        view = np.ndarray(arr.shape, dtype=arr.dtype, buffer=shm.buf)
        try:
            view[...] = arr
        finally:
            del view
        return SharedArray(_plain_name(shm), tuple(arr.shape), arr.dtype.str,
                           arr.nbytes)

    def stacker(self, sent: List[str], min_bytes: int = SHM_MIN_BYTES
                ) -> Callable[[List[np.ndarray]], Any]:
        """A ``stack`` function for :func:`gulpio._collate.collate`.

        Large stacks go straight into a segment (its name is appended to
        ``sent``); small ones are stacked normally.  Its ``batch_space``
        gives the same space to be written in place (:class:`SharedBatch`).
        """
        def batch_space(shape: Tuple[int, ...], dtype: Any) -> "SharedBatch":
            return SharedBatch(self, sent, shape, dtype, min_bytes)

        def stack(arrays: List[np.ndarray]) -> Any:
            space = batch_space((len(arrays),) + arrays[0].shape,
                                np.result_type(*arrays))
            try:
                np.stack(arrays, out=space.array)
            except BaseException:
                space.discard()
                raise
            return space.result()

        stack.batch_space = batch_space  # type: ignore[attr-defined]
        return stack


class SharedBatch:
    """Space for a stacked batch in a segment of ``pool``, written in place
    (:func:`gulpio._collate.batch_space`); small batches stay in ordinary
    memory, as :meth:`SegmentPool.stacker` keeps them."""

    def __init__(self, pool: SegmentPool, sent: List[str],
                 shape: Tuple[int, ...], dtype: Any, min_bytes: int) -> None:
        dtype = np.dtype(dtype)
        self._pool, self._sent, self._shm = pool, sent, None
        self._desc: Optional[SharedArray] = None
        nbytes = int(np.prod(shape)) * dtype.itemsize
        if nbytes < min_bytes or dtype.hasobject or nbytes == 0:
            self.array: Optional[np.ndarray] = np.empty(shape, dtype)
            return
        self._shm = pool.acquire(nbytes)
        self._desc = SharedArray(_plain_name(self._shm), tuple(shape),
                                 dtype.str, nbytes)
        self.array = np.ndarray(shape, dtype=dtype, buffer=self._shm.buf)

    def result(self) -> Any:
        """The descriptor that goes to the parent (or the small array)."""
        array, self.array = self.array, None
        if self._desc is None:
            return array
        self._sent.append(self._desc.name)
        self._shm = None
        return self._desc

    def discard(self) -> None:
        """Give the segment back to the pool (nothing of it was sent)."""
        self.array = None
        if self._shm is not None:
            self._shm = None
            self._pool.release([self._desc.name])


def _plain_name(shm: shared_memory.SharedMemory) -> str:
    return shm.name.lstrip("/")


def share(obj: Any, pool: SegmentPool, sent: List[str],
          min_bytes: int = SHM_MIN_BYTES) -> Any:
    """Replace the large numpy arrays inside ``obj`` by shared segments.

    Parameters
    ----------
    obj : object
        A batch: arrays, possibly inside lists, tuples, namedtuples, dicts.
    pool : SegmentPool
        Where the arrays are written.
    sent : list of str
        The names of the segments used are appended here.
    min_bytes : int
        Arrays of fewer bytes stay in ``obj``.

    Returns
    -------
    object
        ``obj`` with :class:`SharedArray` descriptors in place of the arrays.
    """
    def leaf(value: Any) -> Any:
        if (isinstance(value, np.ndarray) and value.nbytes >= min_bytes
                and value.nbytes > 0 and not value.dtype.hasobject):
            desc = pool.write(value)
            sent.append(desc.name)
            return desc
        return value

    return _walk(obj, leaf)


# ---------------------------------------------------------------- parent side

def _attach(desc: SharedArray, release: Optional[Callable[[str], None]]
            ) -> np.ndarray:
    path = os.path.join(_SHM_DIR, desc.name)
    if os.path.isdir(_SHM_DIR) and os.path.exists(path):
        fd = os.open(path, os.O_RDWR)
        try:
            buf = mmap.mmap(fd, desc.nbytes)
        finally:
            os.close(fd)
        # The array keeps the mapping alive; it is unmapped with the array,
        # and then the worker may write the segment again.
        flat = np.frombuffer(buf, dtype=np.dtype(desc.dtype))
        if release is not None:
            weakref.finalize(flat, release, desc.name)
        return flat.reshape(desc.shape)
    shm = shared_memory.SharedMemory(name=desc.name)
    try:
        view = np.ndarray(desc.shape, dtype=np.dtype(desc.dtype),
                          buffer=shm.buf)
        arr = view.copy()
        del view
    finally:
        shm.close()
    if release is not None:
        release(desc.name)
    return arr


def receive(obj: Any, release: Optional[Callable[[str], None]] = None) -> Any:
    """Turn the descriptors in ``obj`` back into arrays.

    Parameters
    ----------
    obj : object
        What a worker sent.
    release : callable, optional
        Called with a segment's name once the array made of it is garbage
        collected (from a finalizer: it must only record the name).
    """
    return _walk(obj, lambda v: _attach(v, release)
                 if isinstance(v, SharedArray) else v)


def names_in(obj: Any) -> List[str]:
    """The segment names a message refers to."""
    names: List[str] = []

    def leaf(value: Any) -> Any:
        if isinstance(value, SharedArray):
            names.append(value.name)
        return value
    _walk(obj, leaf)
    return names


def unlink(name: str) -> None:
    """Remove segment ``name`` (if it still exists) and stop tracking it."""
    try:
        shm = shared_memory.SharedMemory(name=name)
    except FileNotFoundError:
        return
    shm.close()
    try:
        shm.unlink()  # also unregisters it from the resource tracker
    except FileNotFoundError:
        _unregister(name)


def sweep(prefix: str) -> int:
    """Remove every segment whose name starts with ``prefix``.

    Called when a loader's workers have stopped: it removes the segments
    they kept for reuse, those of batches never received, and whatever a
    killed worker left behind.  Arrays the parent still holds stay valid
    (their mappings outlive the names).

    Returns
    -------
    int
        How many were removed.
    """
    if not os.path.isdir(_SHM_DIR):
        return 0
    removed = 0
    for entry in os.listdir(_SHM_DIR):
        if entry.startswith(prefix):
            unlink(entry)
            removed += 1
    if removed:
        logger.debug("removed %d shared memory segments %s*",
                     removed, prefix)
    return removed
