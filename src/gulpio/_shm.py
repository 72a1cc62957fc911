"""Moving numpy arrays from loader workers to the parent through shared memory.

A worker copies every large array of a batch into a fresh
:class:`multiprocessing.shared_memory.SharedMemory` segment and sends only a
small :class:`SharedArray` descriptor through its pipe.  The parent maps the
segment, removes its name at once (the mapping lives on until the array is
garbage collected) and hands out an ordinary ``numpy.ndarray`` backed by it,
without another copy where the platform shows segments as files in
``/dev/shm`` (Linux), with one copy elsewhere.

Segment names start with a per-loader prefix, so whatever a killed worker
left behind can be found and removed when the loader shuts down.  Segments
are registered with multiprocessing's resource tracker when created (so even
a crash of every process leaves nothing behind) and unregistered when the
parent unlinks them.
"""
import collections
import itertools
import logging
import mmap
import os
import secrets
from multiprocessing import resource_tracker, shared_memory
from typing import Any, Callable, List, NamedTuple, Tuple

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

def _to_segment(arr: np.ndarray, name: str) -> SharedArray:
    shm = shared_memory.SharedMemory(name=name, create=True, size=arr.nbytes)
    try:
        view = np.ndarray(arr.shape, dtype=arr.dtype, buffer=shm.buf)
        view[...] = arr
        del view
    except BaseException:
        shm.close()
        shm.unlink()
        raise
    shm.close()
    return SharedArray(name, tuple(arr.shape), arr.dtype.str, arr.nbytes)


def stack_into_segment(arrays: List[np.ndarray], name: str) -> SharedArray:
    """Stack equally shaped ``arrays`` straight into a new segment ``name``."""
    first = arrays[0]
    shape = (len(arrays),) + first.shape
    dtype = np.result_type(*arrays)
    nbytes = int(np.prod(shape)) * dtype.itemsize
    shm = shared_memory.SharedMemory(name=name, create=True, size=nbytes)
    try:
        view = np.ndarray(shape, dtype=dtype, buffer=shm.buf)
        np.stack(arrays, out=view)
        del view
    except BaseException:
        shm.close()
        shm.unlink()
        raise
    shm.close()
    return SharedArray(name, shape, dtype.str, nbytes)


def shared_stacker(prefix: str, counter: "itertools.count[int]",
                   created: List[str], min_bytes: int = SHM_MIN_BYTES
                   ) -> Callable[[List[np.ndarray]], Any]:
    """A ``stack`` function for :func:`gulpio._collate.collate`.

    Large stacks go straight into shared memory (their names are appended
    to ``created``); small ones are stacked normally.
    """
    def stack(arrays: List[np.ndarray]) -> Any:
        first = arrays[0]
        nbytes = first.nbytes * len(arrays)
        if nbytes < min_bytes or first.dtype.hasobject or nbytes == 0:
            return np.stack(arrays)
        name = f"{prefix}{next(counter)}"
        desc = stack_into_segment(arrays, name)
        created.append(name)
        return desc
    return stack


def share(obj: Any, prefix: str, counter: "itertools.count[int]",
          min_bytes: int = SHM_MIN_BYTES) -> Tuple[Any, List[str]]:
    """Replace the large numpy arrays inside ``obj`` by shared segments.

    Parameters
    ----------
    obj : object
        A batch: arrays, possibly inside lists, tuples, namedtuples, dicts.
    prefix : str
        Name prefix of the segments (from :func:`new_prefix`).
    counter : itertools.count
        Source of unique suffixes within this process.
    min_bytes : int
        Arrays of fewer bytes stay in ``obj``.

    Returns
    -------
    (object, list of str)
        ``obj`` with :class:`SharedArray` descriptors in place of the arrays,
        and the names of the segments created.
    """
    created: List[str] = []

    def leaf(value: Any) -> Any:
        if (isinstance(value, np.ndarray) and value.nbytes >= min_bytes
                and value.nbytes > 0 and not value.dtype.hasobject):
            name = f"{prefix}{next(counter)}"
            desc = _to_segment(value, name)
            created.append(name)
            return desc
        return value

    try:
        return _walk(obj, leaf), created
    except BaseException:
        for name in created:
            unlink(name)
        raise


# ---------------------------------------------------------------- parent side

def _attach(desc: SharedArray) -> np.ndarray:
    path = os.path.join(_SHM_DIR, desc.name)
    if os.path.isdir(_SHM_DIR) and os.path.exists(path):
        fd = os.open(path, os.O_RDWR)
        try:
            buf = mmap.mmap(fd, desc.nbytes)
        finally:
            os.close(fd)
        os.unlink(path)
        _unregister(desc.name)
        # The array keeps the mapping alive; it is unmapped with the array.
        return np.frombuffer(buf, dtype=np.dtype(desc.dtype)).reshape(desc.shape)
    shm = shared_memory.SharedMemory(name=desc.name)
    try:
        view = np.ndarray(desc.shape, dtype=np.dtype(desc.dtype), buffer=shm.buf)
        arr = view.copy()
        del view
    finally:
        shm.close()
        shm.unlink()
    return arr


def receive(obj: Any) -> Any:
    """Turn the descriptors in ``obj`` back into arrays (and free the names)."""
    return _walk(obj, lambda v: _attach(v) if isinstance(v, SharedArray) else v)


def discard(obj: Any) -> None:
    """Free the segments of a message that will never be received."""
    def leaf(value: Any) -> Any:
        if isinstance(value, SharedArray):
            unlink(value.name)
        return value
    try:
        _walk(obj, leaf)
    except Exception:
        logger.debug("could not walk a discarded batch", exc_info=True)


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

    Returns
    -------
    int
        How many were removed (leftovers of killed workers).
    """
    if not os.path.isdir(_SHM_DIR):
        return 0
    removed = 0
    for entry in os.listdir(_SHM_DIR):
        if entry.startswith(prefix):
            unlink(entry)
            removed += 1
    if removed:
        logger.debug("removed %d leftover shared memory segments %s*",
                     removed, prefix)
    return removed
