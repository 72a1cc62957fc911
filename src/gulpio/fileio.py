"""Reading and writing gulp chunks and directories.

The classes and functions here keep the names, signatures and behaviour of
the original GulpIO ``gulpio.fileio`` module; the on-disk format itself is
defined in :mod:`gulpio._format`.

Interrupted writes
------------------
A new chunk is written under temporary names (``data_N.gulp.incomplete``,
``meta_N.gmeta.incomplete``) and renamed into place only when it is complete,
data first, then meta.  Appending to an existing chunk writes to its data file
in place and replaces its meta file atomically when done; data past the end of
the last indexed record is the trace of an interrupted append and is cut off
by the next append.  So whatever kills a writer, a ``data_N.gulp`` with its
``meta_N.gmeta`` always describes complete items.  :class:`GulpDirectory`
ignores leftovers of interrupted writes with a logged warning (the ingestion
commands remove them, and re-running an ingestion with ``--remove_duplicates``
finishes the job); ``gulp_sanity_check`` reports them.
"""
import copy
import logging
import os
import pickle
import queue
import sys
import threading
from abc import ABC, abstractmethod
from collections import Counter, OrderedDict
from collections.abc import Mapping
from contextlib import contextmanager, nullcontext
from numbers import Integral
from typing import (Any, Dict, Iterable, Iterator, List, NamedTuple,
                    Optional, Sequence, Tuple)

import numpy as np
import simplejson
from tqdm import tqdm

from . import _format
from ._format import ImgInfo
from ._index import ChunkIndex, DirectoryIndex, gc_paused, load_chunk_index
from ._jpeg import (check_reduction, decode_clip, iter_records,
                    encode_frame, prepare_heap)
from .errors import (CorruptMetaError, DuplicateIdError, GulpError,
                     GulpIdNotFoundError, GulpIOEmptyFolder,
                     InvalidInputError, ItemSkipped, MissingChunkFileError)

__all__ = [
    "ImgInfo", "AbstractSerializer", "JSONSerializer", "PickleSerializer",
    "json_serializer", "pickle_serializer", "extract_input_for_getitem",
    "calculate_chunk_slices", "GulpChunk", "GulpDirectory", "ChunkWriter",
    "GulpIngestor", "ChunkReport", "IngestReport",
]

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------
# serializers

def _write_error(exc: OSError, doing: str, fp: Any) -> OSError:
    """``exc`` again (same errno), saying what was being written where."""
    return OSError(exc.errno, f"{exc.strerror or exc} ({doing})",
                   getattr(fp, "name", None))


def _close_after_failure(fp: Any) -> None:
    """Close a file whose write already failed.  Flushing its buffer
    usually fails the same way (a full disk); that second error is logged,
    the first one is what propagates."""
    try:
        fp.close()
    except OSError as exc:
        logger.warning("closing %s after a failed write failed too: %s",
                       getattr(fp, "name", fp), exc)


def _replace_atomically(path: str, payload: bytes) -> None:
    """Write ``payload`` to ``path`` so that no reader sees it half-written."""
    tmp_path = _format.incomplete_path(path)
    try:
        fp = open(tmp_path, "wb")
        try:
            fp.write(payload)
            fp.flush()
            os.fsync(fp.fileno())
        except BaseException as exc:
            _close_after_failure(fp)
            if isinstance(exc, OSError):
                raise _write_error(exc, "writing it", fp) from exc
            raise
        fp.close()
        os.replace(tmp_path, path)
    except BaseException:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)
        raise


class AbstractSerializer(ABC):
    """Reads and writes the meta file of a chunk."""

    @abstractmethod
    def load(self, file_name: str) -> Any:
        """Read the object stored in ``file_name``."""

    @abstractmethod
    def dump(self, thing: Any, file_name: str) -> None:
        """Store ``thing`` in ``file_name``."""

    def _check_storable(self, thing: Any) -> None:
        """Raise ``TypeError`` or ``ValueError`` when ``thing`` cannot be
        stored.  Serializers that cannot tell before ``dump`` do nothing."""


class JSONSerializer(AbstractSerializer):
    """JSON meta files, written byte for byte as ``json.dump`` writes them
    with its defaults, read back into ``OrderedDict`` s (key order kept)."""

    def load(self, file_name: str) -> Any:
        with open(file_name, "rb") as fp:
            text = fp.read()
        return self.loads(text, file_name)

    @staticmethod
    def loads(text, file_name: str = "<string>") -> Any:
        try:
            with gc_paused():
                return simplejson.loads(text, object_pairs_hook=OrderedDict)
        except (ValueError, UnicodeDecodeError) as exc:
            raise CorruptMetaError(
                f"meta file {file_name} is not valid JSON: {exc}") from None

    @staticmethod
    def loads_plain(text: str) -> Any:
        """Parse JSON text into plain dicts (used to build indexes)."""
        return simplejson.loads(text)

    @staticmethod
    def dumps(thing: Any) -> str:
        # simplejson would write namedtuples (ImgInfo) as objects by default.
        return simplejson.dumps(thing, namedtuple_as_object=False)

    def dump(self, thing: Any, file_name: str) -> None:
        _replace_atomically(file_name, self.dumps(thing).encode("ascii"))

    def _check_storable(self, thing: Any) -> None:
        self.dumps(thing)


class PickleSerializer(AbstractSerializer):
    """Pickled meta files (not interchangeable with JSON ones)."""

    def load(self, file_name: str) -> Any:
        with open(file_name, "rb") as fp:
            try:
                return pickle.load(fp)
            except (pickle.UnpicklingError, EOFError, ValueError) as exc:
                raise CorruptMetaError(
                    f"meta file {file_name} does not unpickle: {exc}") from None

    def dump(self, thing: Any, file_name: str) -> None:
        _replace_atomically(file_name, pickle.dumps(thing))

    def _check_storable(self, thing: Any) -> None:
        try:
            pickle.dumps(thing)
        except (pickle.PicklingError, AttributeError) as exc:
            raise TypeError(str(exc)) from exc


json_serializer = JSONSerializer()
pickle_serializer = PickleSerializer()


# --------------------------------------------------------------------------
# small helpers of the original API

def extract_input_for_getitem(element: Any) -> Tuple[str, Optional[slice]]:
    """Split ``id`` or ``(id, slice)`` into ``(str(id), slice_or_None)``.

    Raises
    ------
    TypeError
        For any other shape of input.
    """
    if isinstance(element, tuple):
        if len(element) != 2 or not isinstance(element[1], slice):
            raise TypeError(
                f"expected an id or (id, slice), got {element!r}")
        id_, slice_ = element
    else:
        id_, slice_ = element, None
    if not isinstance(id_, (str, Integral)) or isinstance(id_, bool):
        raise TypeError(
            f"an id must be a str or an int, got {type(id_).__name__} "
            f"{id_!r}")
    return str(id_), slice_


def _check_positive(name: str, value: Any) -> int:
    if (not isinstance(value, Integral) or isinstance(value, bool)
            or value <= 0):
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def calculate_chunk_slices(items_per_chunk: int,
                           num_items: int) -> List[slice]:
    """Consecutive slices covering ``range(num_items)``, each holding at most
    ``items_per_chunk`` items."""
    items_per_chunk = _check_positive("items_per_chunk", items_per_chunk)
    num_items = _check_positive("num_items", num_items)
    return [slice(start, min(start + items_per_chunk, num_items))
            for start in range(0, num_items, items_per_chunk)]


def _read_range(fd: int, table: np.ndarray, id_: str, data_path: str
                ) -> Tuple[bytes, int]:
    """One read of the bytes covering every record of ``table``."""
    first = int(table[:, 0].min())
    end = int((table[:, 0] + table[:, 2]).max())
    data = os.pread(fd, end - first, first)
    if len(data) < end - first:
        raise CorruptMetaError(
            f"data file {data_path} is truncated: id {id_!r} needs bytes "
            f"{first}-{end}, the file ends at {first + len(data)}")
    return data, first


def _item_frames(fd: int, table: np.ndarray, slice_: Optional[slice],
                 id_: str, data_path: str, reduction: int = 1
                 ) -> Iterator[np.ndarray]:
    """The frames ``table[slice_]`` of one item: read now with a single
    ``pread``, decoded one at a time as they are asked for."""
    numbers = np.arange(len(table))
    if slice_ is not None:
        table = table[slice_]
        numbers = numbers[slice_]
    if len(table) == 0:
        return iter(())
    data, first = _read_range(fd, table, id_, data_path)
    return iter_records(
        data, first, table,
        lambda i: f"frame {numbers[i]} of id {id_!r} in {data_path}",
        reduction)


def _read_item(fd: int, table: np.ndarray, slice_: Optional[slice],
               id_: str, data_path: str, reduction: int = 1
               ) -> List[np.ndarray]:
    """Decode the frames ``table[slice_]`` of one item with a single read."""
    return list(_item_frames(fd, table, slice_, id_, data_path, reduction))


def _frame_numbers(indices: Any, num_frames: int, id_: str) -> np.ndarray:
    """Validate frame indices (ints or a slice) of an item."""
    if indices is None:
        return np.arange(num_frames)
    if isinstance(indices, slice):
        return np.arange(num_frames)[indices]
    numbers = np.asarray(indices)
    if numbers.ndim != 1 or (numbers.size and numbers.dtype.kind not in "iu"):
        raise TypeError(
            f"frame indices must be a slice or a 1-D sequence of ints, got "
            f"{indices!r}")
    # Checked before the cast, which would wrap huge unsigned values.
    bad = numbers >= num_frames
    if numbers.dtype.kind != "u":
        bad |= numbers < -num_frames
    if bad.any():
        raise IndexError(
            f"frame index {numbers[bad][0].item()} is out of range for id "
            f"{id_!r}, which has {num_frames} frames")
    return numbers.astype(np.int64) % max(num_frames, 1)


def _read_clip(fd: int, table: np.ndarray, indices: Any, id_: str,
               data_path: str, reduction: int) -> np.ndarray:
    numbers = _frame_numbers(indices, len(table), id_)
    if len(numbers) == 0:
        raise IndexError(f"no frames selected from id {id_!r}")
    table = table[numbers]
    data, first = _read_range(fd, table, id_, data_path)
    return decode_clip(
        data, first, table,
        lambda i: f"frame {numbers[i]} of id {id_!r} in {data_path}",
        reduction)


# --------------------------------------------------------------------------
# chunks

class GulpChunk:
    """One chunk: a data file of JPEG records and its meta file.

    Parameters
    ----------
    data_file_path, meta_file_path : str
        The ``data_N.gulp`` and ``meta_N.gmeta`` paths.
    serializer : AbstractSerializer
        How the meta file is stored (JSON by default).
    """

    def __init__(self, data_file_path: str, meta_file_path: str,
                 serializer: AbstractSerializer = json_serializer) -> None:
        self.data_file_path = data_file_path
        self.meta_file_path = meta_file_path
        self.serializer = serializer
        self.fp = None
        self._meta_dict: Optional[dict] = None
        self._flag: Optional[str] = None
        self._position = 0
        self._committed_end = 0

    def __repr__(self) -> str:
        return f"GulpChunk({self.data_file_path!r}, {self.meta_file_path!r})"

    def __getstate__(self) -> dict:
        if self.fp is not None and self._flag != "rb":
            raise GulpError(
                f"chunk {self.data_file_path} is open for writing and cannot "
                "be pickled")
        state = self.__dict__.copy()
        state.update(fp=None, _flag=None)
        return state

    # -- meta --------------------------------------------------------------

    @property
    def meta_dict(self) -> dict:
        """``{id: {"frame_info": [...], "meta_data": [...]}}``, loaded from
        the meta file on first use (empty when there is no meta file)."""
        if self._meta_dict is None:
            self._meta_dict = self._get_or_create_dict()
        return self._meta_dict

    @meta_dict.setter
    def meta_dict(self, value: dict) -> None:
        self._meta_dict = value

    def _get_or_create_dict(self) -> dict:
        if os.path.exists(self.meta_file_path):
            return self.serializer.load(self.meta_file_path)
        return OrderedDict()

    def _entry(self, id_: Any) -> dict:
        id_ = str(id_)
        try:
            return self.meta_dict[id_]
        except KeyError:
            raise GulpIdNotFoundError(
                f"id {id_!r} is not in chunk {self.data_file_path}") from None

    def _get_frame_infos(self, id_: Any) -> Tuple[List[ImgInfo], dict]:
        entry = self._entry(id_)
        frame_infos = [ImgInfo(*info) for info in entry["frame_info"]]
        meta = entry["meta_data"]
        return frame_infos, copy.deepcopy(meta[0]) if meta else {}

    def __contains__(self, id_: Any) -> bool:
        return str(id_) in self.meta_dict

    # -- opening -----------------------------------------------------------

    @contextmanager
    def open(self, flag: str = "rb") -> Iterator[Any]:
        """Open the chunk for reading (``'rb'``), writing anew (``'wb'``) or
        appending (``'ab'``); yields the data file object.

        Leaving a write or append context writes the meta file.  If the
        context ends with an exception, nothing of it is kept: a new chunk
        is not created, an appended chunk is restored as it was.

        Raises
        ------
        NotImplementedError
            For any other flag.
        """
        if flag not in ("rb", "wb", "ab"):
            raise NotImplementedError(
                f"unsupported open flag {flag!r} for chunk "
                f"{self.data_file_path}; use 'rb', 'wb' or 'ab'")
        if flag == "rb":
            with self._open_for_reading() as fp:
                yield fp
            return
        if self.fp is not None:
            raise GulpError(
                f"chunk {self.data_file_path} is already open")
        if flag == "ab" and os.path.exists(self.data_file_path):
            with self._open_for_appending() as fp:
                yield fp
        else:
            if flag == "ab" and os.path.exists(self.meta_file_path):
                raise MissingChunkFileError(
                    f"meta file {self.meta_file_path} exists but data file "
                    f"{self.data_file_path} does not; cannot append")
            with self._open_new() as fp:
                yield fp

    @contextmanager
    def _open_for_reading(self) -> Iterator[Any]:
        if self.fp is not None:
            if self._flag != "rb":
                raise GulpError(
                    f"chunk {self.data_file_path} is open for writing")
            yield self.fp  # already open for reading: reuse it
            return
        try:
            fp = open(self.data_file_path, "rb")
        except FileNotFoundError:
            raise MissingChunkFileError(
                f"data file {self.data_file_path} does not exist") from None
        self.fp, self._flag = fp, "rb"
        try:
            yield fp
        finally:
            self.fp, self._flag = None, None
            fp.close()

    @contextmanager
    def _open_new(self) -> Iterator[Any]:
        tmp_path = _format.incomplete_path(self.data_file_path)
        meta_tmp_path = _format.incomplete_path(self.meta_file_path)
        fp = open(tmp_path, "wb")
        self.fp, self._flag, self._position = fp, "wb", 0
        self._meta_dict = OrderedDict()
        committed = False
        try:
            yield fp
            try:
                fp.flush()
                os.fsync(fp.fileno())
                fp.close()
            except OSError as exc:
                raise _write_error(exc, "finishing the chunk", fp) from exc
            if self._meta_dict:
                # The meta file is written before anything is renamed, so a
                # meta dict that cannot be stored leaves the folder as it was.
                self.serializer.dump(self._meta_dict, meta_tmp_path)
                os.replace(tmp_path, self.data_file_path)
                os.replace(meta_tmp_path, self.meta_file_path)
            else:
                logger.info("chunk %s: nothing was written, no files made",
                            self.data_file_path)
                os.remove(tmp_path)
            committed = True
        finally:
            self.fp, self._flag = None, None
            if committed:
                fp.close()
            else:
                _close_after_failure(fp)
                self._meta_dict = None
                for path in (tmp_path, meta_tmp_path):
                    if os.path.exists(path):
                        os.remove(path)
                logger.warning("chunk %s was not written: the write failed "
                               "or was interrupted", self.data_file_path)

    @contextmanager
    def _open_for_appending(self) -> Iterator[Any]:
        if not os.path.exists(self.meta_file_path):
            raise MissingChunkFileError(
                f"data file {self.data_file_path} has no meta file "
                f"{self.meta_file_path}; cannot append")
        self._meta_dict = None
        end = ChunkIndex.from_meta_dict(self.meta_dict,
                                        self.meta_file_path).data_end()
        size = os.path.getsize(self.data_file_path)
        if size < end:
            raise CorruptMetaError(
                f"data file {self.data_file_path} has {size} bytes but its "
                f"meta file indexes {end}")
        fp = open(self.data_file_path, "r+b")
        if size > end:
            logger.warning("chunk %s: cutting off %d bytes left by an "
                           "interrupted append", self.data_file_path,
                           size - end)
            fp.truncate(end)
        fp.seek(end)
        self.fp, self._flag, self._position = fp, "ab", end
        self._committed_end = end
        committed = False
        try:
            yield fp
            self.flush()
            committed = True
        finally:
            self.fp, self._flag = None, None
            if committed:
                fp.close()
            else:
                # Closed first: what is still buffered goes (or fails to
                # go) before the file is cut back to its last flush.
                _close_after_failure(fp)
                os.truncate(self.data_file_path, self._committed_end)
                self._meta_dict = None
                logger.warning("chunk %s: the append was interrupted; the "
                               "chunk is left as it was at its last flush",
                               self.data_file_path)

    # -- writing -----------------------------------------------------------

    def flush(self) -> None:
        """Flush written data.

        When appending to an existing chunk this also writes the meta file,
        so that what was appended so far survives a crash; a new chunk
        (``'wb'``) appears only when its context ends.
        """
        if self.fp is None or self._flag == "rb":
            raise GulpError(
                f"chunk {self.data_file_path} is not open for writing")
        try:
            self.fp.flush()
            if self._flag == "ab":
                os.fsync(self.fp.fileno())
        except OSError as exc:
            raise _write_error(exc, "flushing the chunk", self.fp) from exc
        if self._flag == "ab":
            self.serializer.dump(self._meta_dict, self.meta_file_path)
            self._committed_end = self._position

    def append(self, id_: Any, meta_data: Any,
               frames: Iterable[np.ndarray]) -> None:
        """Append an item: encode ``frames`` (BGR or grayscale) as JPEG
        records and record ``meta_data``.

        ``frames`` may be any iterable, a generator that decodes frames as
        they are asked for included: each is encoded and written as it
        comes.  If the iteration or an encoding fails, the item's bytes are
        cut off again and the exception propagates; the chunk is as before.
        Appending an id that is already in the chunk adds its frames and
        another meta dict.

        Raises
        ------
        InvalidInputError
            When the chunk's serializer cannot store ``meta_data`` (checked
            before any frame is written).
        ValueError
            When a frame cannot be encoded (naming the id and frame).
        """
        if self.fp is None or self._flag == "rb":
            raise GulpError(
                f"chunk {self.data_file_path} is not open for writing; use "
                "`with chunk.open('wb'):`")
        id_ = str(id_)
        check = getattr(self.serializer, "_check_storable", None)
        try:
            if check is not None:
                check(meta_data)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(
                f"meta data of id {id_!r} cannot be stored in "
                f"{self.meta_file_path}: {exc}") from exc
        start = position = self._position
        infos = []
        write = self.fp.write
        try:
            for index, frame in enumerate(frames):
                try:
                    record, pad = encode_frame(frame)
                except ValueError as exc:
                    raise ValueError(
                        f"frame {index} of id {id_!r}: {exc}") from exc
                try:
                    write(record)
                except OSError as exc:
                    raise _write_error(exc, f"writing frame {index} of id "
                                            f"{id_!r}", self.fp) from exc
                infos.append(ImgInfo(position, pad, len(record)))
                position += len(record)
        except BaseException:
            try:
                self.fp.seek(start)
                self.fp.truncate(start)
            except OSError as exc:
                # Usually the first error again (a full disk).  The chunk
                # cannot go on: the context that opened it ends with the
                # first error and drops or cuts back what was written.
                logger.warning("chunk %s: could not undo the partly written "
                               "id %r either: %s", self.data_file_path, id_,
                               exc)
            raise
        entry = self._meta_dict.get(id_)
        if entry is None:
            entry = self._meta_dict[id_] = {"frame_info": [],
                                            "meta_data": []}
        entry["meta_data"].append(meta_data)
        entry["frame_info"].extend(infos)
        self._position = position

    # -- reading -----------------------------------------------------------

    def read_frames(self, id_: Any, slice_: Optional[slice] = None,
                    reduction: int = 1) -> Tuple[List[np.ndarray], dict]:
        """Frames (RGB or grayscale arrays) and meta dict of an item.

        Needs the chunk open for reading.  ``reduction`` (2, 4 or 8; opt-in)
        decodes the frames at that fraction of their size, faster.
        """
        reduction = check_reduction(reduction)
        if self.fp is None or self._flag != "rb":
            raise GulpError(
                f"chunk {self.data_file_path} is not open for reading; use "
                "`with chunk.open('rb'):`")
        id_ = str(id_)
        entry = self._entry(id_)
        table = np.array(entry["frame_info"], dtype=np.int64).reshape(-1, 3)
        frames = _read_item(self.fp.fileno(), table, slice_, id_,
                            self.data_file_path, reduction)
        meta = entry["meta_data"]
        return frames, copy.deepcopy(meta[0]) if meta else {}

    def __getitem__(self, element: Any) -> Tuple[List[np.ndarray], dict]:
        id_, slice_ = extract_input_for_getitem(element)
        with self.open("rb"):
            return self.read_frames(id_, slice_)

    def iter_all(self, accepted_ids: Optional[Sequence[Any]] = None,
                 shuffle: bool = False
                 ) -> Iterator[Tuple[List[np.ndarray], dict]]:
        """Yield ``(frames, meta)`` of every item in stored order (only
        ``accepted_ids`` when given; shuffled with ``numpy.random.shuffle``
        when asked)."""
        ids = list(self.meta_dict.keys())
        if accepted_ids is not None:
            accepted = {str(id_) for id_ in accepted_ids}
            ids = [id_ for id_ in ids if id_ in accepted]
        if shuffle:
            np.random.shuffle(ids)
        with self.open("rb"):
            for id_ in ids:
                yield self.read_frames(id_)

    def __iter__(self) -> Iterator[Tuple[List[np.ndarray], dict]]:
        return self.iter_all()


# --------------------------------------------------------------------------
# directories

class _DescriptorCache:
    """Open read-only file descriptors of recently read chunks.

    Reads use ``os.pread``, which does not move a shared file offset, so a
    descriptor inherited through ``fork`` stays correct in the child.
    """

    def __init__(self, capacity: int = 64) -> None:
        self.capacity = capacity
        self._fds: "OrderedDict[str, int]" = OrderedDict()
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def get(self, path: str) -> int:
        with self._lock:
            if self._pid != os.getpid():
                # Inherited descriptors are the parent's to close.
                self._fds = OrderedDict()
                self._pid = os.getpid()
            fd = self._fds.get(path)
            if fd is not None:
                self._fds.move_to_end(path)
                return fd
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                raise MissingChunkFileError(
                    f"data file {path} does not exist (was it removed after "
                    "the directory was opened?)") from None
            self._fds[path] = fd
            while len(self._fds) > self.capacity:
                _, old = self._fds.popitem(last=False)
                os.close(old)
            return fd

    def close(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                for fd in self._fds.values():
                    os.close(fd)
            self._fds = OrderedDict()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: nothing left to do
            pass


class GulpDirectory:
    """A folder of gulp chunks, read by item id.

    Parameters
    ----------
    output_dir : str
        The folder holding ``data_N.gulp`` / ``meta_N.gmeta`` pairs.
    reduction : int, optional
        Opt-in: decode frames at 1/2, 1/4 or 1/8 of their size (2, 4, 8)
        through the JPEG decoder's DCT scaling, which is faster than decoding
        at full size and resizing.  Default 1: full size, as stored.

    Raises
    ------
    GulpIOEmptyFolder
        When the folder does not exist.
    MissingChunkFileError
        A data file without its meta file or the reverse.
    DuplicateIdError
        An id stored in two chunks.
    CorruptMetaError
        A meta file that does not parse.
    """

    def __init__(self, output_dir: str, reduction: int = 1) -> None:
        self.output_dir = output_dir
        self.reduction = check_reduction(reduction)
        if not os.path.isdir(output_dir):
            raise GulpIOEmptyFolder(
                f"gulp directory {output_dir} does not exist")
        self.chunk_objs_lookup: "OrderedDict[int, GulpChunk]" = OrderedDict(
            (number, GulpChunk(*_format.chunk_paths(output_dir, number)))
            for number in self._complete_chunk_numbers())
        self.num_chunks = len(self.chunk_objs_lookup)
        with gc_paused():
            self._index = DirectoryIndex(
                list(self.chunk_objs_lookup),
                [load_chunk_index(chunk.meta_file_path, chunk.serializer)
                 for chunk in self.chunk_objs_lookup.values()])
        duplicates = self._index.find_duplicates()
        if duplicates:
            id_, numbers = next(iter(duplicates.items()))
            files = " and ".join(
                self.chunk_objs_lookup[n].meta_file_path for n in numbers)
            raise DuplicateIdError(
                f"id {id_!r} is stored in {files} ({len(duplicates)} "
                "duplicated id(s) in all); remove the extra chunk or re-gulp")
        self._fds = _DescriptorCache()
        self._chunk_lookup: Optional[Dict[str, int]] = None
        self._merged_meta_dict: Optional[dict] = None

    def _complete_chunk_numbers(self) -> List[int]:
        found = _format.scan_chunk_files(self.output_dir)
        data, meta, leftovers = found["data"], found["meta"], found["incomplete"]
        complete = []
        for number in sorted(set(data) | set(meta)):
            if number in data and number in meta:
                complete.append(number)
            elif number in leftovers:
                continue  # interrupted while being committed: warned below
            elif number in data:
                raise MissingChunkFileError(
                    f"data file {data[number]} has no meta file "
                    f"{_format.chunk_paths(self.output_dir, number)[1]}")
            else:
                raise MissingChunkFileError(
                    f"meta file {meta[number]} has no data file "
                    f"{_format.chunk_paths(self.output_dir, number)[0]}")
        for number, paths in sorted(leftovers.items()):
            state = ("left beside complete chunk" if number in complete
                     else "incomplete chunk, ignored")
            logger.warning(
                "%s: %s %s, left by an interrupted write; re-run the "
                "ingestion with --remove_duplicates to finish it, or delete "
                "these files", self.output_dir, state, ", ".join(
                    paths + [p for p in (data.get(number), meta.get(number))
                             if p and number not in complete]))
        return complete

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_fds"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._fds = _DescriptorCache()

    def close(self) -> None:
        """Close the data files kept open for reading."""
        self._fds.close()

    def __repr__(self) -> str:
        return (f"GulpDirectory({self.output_dir!r}: {self.num_chunks} "
                f"chunks, {len(self._index.ids)} items)")

    # -- the original's attributes, built on first use ---------------------

    @property
    def all_meta_dicts(self) -> List[dict]:
        """Every chunk's ``meta_dict``, in chunk order."""
        return [chunk.meta_dict for chunk in self.chunk_objs_lookup.values()]

    @property
    def chunk_lookup(self) -> Dict[str, int]:
        """Id -> number of the chunk that holds it."""
        if self._chunk_lookup is None:
            numbers = np.array(self._index.chunk_numbers, dtype=np.int64)
            self._chunk_lookup = dict(zip(
                self._index.ids, numbers[self._index.chunk_of].tolist()))
        return self._chunk_lookup

    @property
    def merged_meta_dict(self) -> dict:
        """Id -> that id's ``{"frame_info", "meta_data"}`` entry."""
        if self._merged_meta_dict is None:
            merged: dict = {}
            for meta_dict in self.all_meta_dicts:
                merged.update(meta_dict)
            self._merged_meta_dict = merged
        return self._merged_meta_dict

    # -- chunks -------------------------------------------------------------

    def chunks(self) -> Iterator[GulpChunk]:
        """The chunks, in numeric order."""
        return iter(self.chunk_objs_lookup.values())

    def __iter__(self) -> Iterator[GulpChunk]:
        return self.chunks()

    def new_chunks(self, total_new_chunks: int) -> List[GulpChunk]:
        """``total_new_chunks`` fresh chunks numbered after the existing ones."""
        total_new_chunks = _check_positive("total_new_chunks",
                                           total_new_chunks)
        first = _next_chunk_number(self.output_dir)
        return [GulpChunk(*_format.chunk_paths(self.output_dir, number))
                for number in range(first, first + total_new_chunks)]

    # -- items ---------------------------------------------------------------

    def ids(self) -> List[str]:
        """Every item id, in chunk order then stored order."""
        return list(self._index.ids)

    def _row(self, id_: Any) -> int:
        id_ = str(id_)
        try:
            return self._index.position[id_]
        except KeyError:
            raise GulpIdNotFoundError(
                f"id {id_!r} is not in gulp directory {self.output_dir}"
            ) from None

    def __contains__(self, id_: Any) -> bool:
        return str(id_) in self._index.position

    def num_frames(self, id_: Any) -> int:
        """Number of frames stored for ``id_``."""
        row = self._row(id_)
        return int(self._index.starts[row + 1] - self._index.starts[row])

    def frame_counts(self) -> np.ndarray:
        """Number of frames of every item, in the order of :meth:`ids`."""
        return self._index.frame_counts()

    def meta(self, id_: Any) -> dict:
        """A copy of the first meta dict stored for ``id_`` (as stored: a
        ``None`` appended as meta data reads back as ``None``, as it does
        from the chunk)."""
        return copy.deepcopy(self._index.first_meta(self._row(id_)))

    def metas(self) -> Iterator[dict]:
        """The first meta dict of every item, in the order of :meth:`ids`
        (shared objects: copy before changing them)."""
        for position in range(len(self._index.chunk_numbers)):
            for meta in self._index.chunk_metas(position):
                yield meta if meta is not None else {}

    def _chunk_of_row(self, row: int) -> GulpChunk:
        return self.chunk_objs_lookup[self._index.chunk_number(row)]

    def __getitem__(self, element: Any) -> Tuple[List[np.ndarray], dict]:
        id_, slice_ = extract_input_for_getitem(element)
        return list(self._iter_frames(id_, slice_)), self.meta(id_)

    def _iter_frames(self, id_: Any, slice_: Optional[slice] = None
                     ) -> Iterator[np.ndarray]:
        """The frames of ``self[id_, slice_]``, read at once and decoded one
        at a time as they are asked for: a frame that is transformed and
        dropped before the next is decoded stays in the CPU's cache."""
        row = self._row(id_)
        chunk = self._chunk_of_row(row)
        return _item_frames(self._fds.get(chunk.data_file_path),
                            self._index.table(row), slice_, str(id_),
                            chunk.data_file_path, self.reduction)

    def read_clip(self, id_: Any, indices: Any = None,
                  reduction: Optional[int] = None) -> np.ndarray:
        """Frames of an item decoded into one ``(T, H, W, 3)`` RGB array
        (``(T, H, W)`` for grayscale), without building a list first.

        Parameters
        ----------
        id_ : str or int
            The item.
        indices : slice or sequence of int, optional
            The frames to take, in order; an index may repeat (its frame is
            decoded once).  Default: every frame.
        reduction : int, optional
            1, 2, 4 or 8; default: the directory's ``reduction``.

        Raises
        ------
        KeyError
            Unknown id.
        IndexError
            A frame index out of range, or no frame selected.
        ValueError
            Frames of different sizes.
        """
        id_ = str(id_)
        reduction = (self.reduction if reduction is None
                     else check_reduction(reduction))
        row = self._row(id_)
        chunk = self._chunk_of_row(row)
        return _read_clip(self._fds.get(chunk.data_file_path),
                          self._index.table(row), indices, id_,
                          chunk.data_file_path, reduction)


def _next_chunk_number(folder: str) -> int:
    """One more than the highest chunk number in ``folder`` (0 if none)."""
    if not os.path.isdir(folder):
        return 0
    found = _format.scan_chunk_files(folder)
    numbers = set(found["data"]) | set(found["meta"]) | set(found["incomplete"])
    return max(numbers) + 1 if numbers else 0


# --------------------------------------------------------------------------
# writing datasets

@contextmanager
def _ingestion_lock(folder: str) -> Iterator[None]:
    """Hold an exclusive lock on the folder itself for one ingestion run.

    A second run into the same folder would take the first one's chunk in
    progress for a leftover of an interrupted run and remove it.  The lock
    is advisory (``flock`` on the directory), needs no file, and goes away
    with the process however it ends.
    """
    try:
        import fcntl
    except ImportError:  # not a POSIX system: no advisory locks
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise GulpError(
                f"another ingestion is writing into {folder}; wait for it "
                "to finish or write elsewhere") from None
        except OSError as exc:  # a file system without locks
            logger.warning("cannot lock %s (%s): make sure that no other "
                           "ingestion writes into it meanwhile", folder, exc)
        yield
    finally:
        os.close(fd)  # releases the lock


def _shown(texts: List[str], limit: int = 5) -> str:
    more = f" and {len(texts) - limit} more" if len(texts) > limit else ""
    return ", ".join(texts[:limit]) + more


def _id_counts(adapter: Any) -> Optional[Counter]:
    """How often each id occurs in the adapter's item list; ``None`` for an
    adapter without an item list of dicts with an ``'id'`` (as
    ``ItemListAdapter.items``), which cannot be checked in advance."""
    items = getattr(adapter, "items", None)
    if not isinstance(items, list) or not all(
            isinstance(item, Mapping) and "id" in item for item in items):
        return None
    return Counter(str(item["id"]) for item in items)


def _check_repeated_ids(counts: Optional[Counter]) -> None:
    """Refuse an item list that repeats ids (``counts`` from _id_counts):
    stored twice, an id would be one item with both videos' frames (same
    chunk) or make the directory unreadable (two chunks)."""
    repeated = [f"{id_!r} ({n} times)" for id_, n in (counts or {}).items()
                if n > 1]
    if repeated:
        raise InvalidInputError(
            f"{len(repeated)} id(s) appear more than once in the input: "
            f"{_shown(repeated)}; every id is stored once, so remove the "
            "repeats, or pass --remove_duplicates (remove_duplicate_ids=True) "
            "to keep the first of each")


def _check_stored_ids(counts: Optional[Counter], folder: str) -> None:
    """Refuse ids (``counts`` from _id_counts) that ``folder`` already
    stores."""
    found = _format.scan_chunk_files(folder)
    if not counts or not (found["data"] or found["meta"]):
        return
    stored = set(GulpDirectory(folder).ids())
    clashing = [id_ for id_ in counts if id_ in stored]
    if clashing:
        raise InvalidInputError(
            f"{len(clashing)} id(s) of the input are already stored in "
            f"{folder}: {_shown([repr(id_) for id_ in clashing])}; pass "
            "--remove_duplicates (remove_duplicate_ids=True) to skip them, "
            "which is also how an interrupted run is resumed")


class ChunkReport(NamedTuple):
    """What :meth:`ChunkWriter.write_chunk` wrote into one chunk."""
    data_file: str
    written: List[str]
    skipped: List[Tuple[str, str]]


class IngestReport(NamedTuple):
    """What a :class:`GulpIngestor` run wrote, over all chunks."""
    chunks: List[ChunkReport]
    written: List[str]
    skipped: List[Tuple[str, str]]


class ChunkWriter:
    """Writes an adapter's items into chunks.

    Parameters
    ----------
    adapter : gulpio.adapters.AbstractDatasetAdapter
        Yields ``{'id', 'meta', 'frames'}`` dicts from ``iter_data``.
    """

    def __init__(self, adapter: Any) -> None:
        self.adapter = adapter

    def write_chunk(self, output_chunk: GulpChunk, input_slice: slice,
                    on_item: Optional[Any] = None) -> ChunkReport:
        """Write the items of ``input_slice`` into ``output_chunk``.

        An item without frames is skipped with a logged message naming it
        (and the adapter's ``skip_reason`` if it gave one), as is an item
        whose frame iterator raises :class:`gulpio.errors.ItemSkipped`
        (what it wrote is undone).  ``on_item`` is called once per item
        processed, written or skipped.
        """
        written: List[str] = []
        skipped: List[Tuple[str, str]] = []
        # Adapters that can decode videos frame by frame hand out iterators
        # (ItemListAdapter.iter_streams); any other adapter gives lists.
        iter_items = getattr(self.adapter, "iter_streams", self.adapter.iter_data)
        prepare_heap()  # decoded video frames are large blocks too
        with output_chunk.open("wb"), _Prefetcher(iter_items(input_slice)) as items:
            for item in items:
                id_ = str(item["id"])
                frames = item["frames"]
                reason = None
                if _is_stream(frames):
                    try:
                        output_chunk.append(id_, item["meta"], _not_empty(
                            frames, item.get("skip_reason")))
                    except ItemSkipped as exc:
                        reason = str(exc)
                elif len(frames) > 0:
                    output_chunk.append(id_, item["meta"], frames)
                else:
                    reason = str(item.get("skip_reason") or "no frames")
                if reason is None:
                    written.append(id_)
                else:
                    logger.warning("skipped id %r: %s", id_, reason)
                    skipped.append((id_, reason))
                if on_item is not None:
                    on_item()
        return ChunkReport(output_chunk.data_file_path, written, skipped)


def _is_stream(frames: Any) -> bool:
    """Frames given as an iterator (decoded on demand), not a list."""
    return not hasattr(frames, "__len__")


def _not_empty(frames: Iterator[Any], reason: Optional[str]) -> Iterator[Any]:
    """``frames``, raising ItemSkipped at the end if there was none (an
    item without frames is skipped, whether its frames come as a list or
    one at a time)."""
    count = 0
    for frame in frames:
        count += 1
        yield frame
    if not count:
        raise ItemSkipped(str(reason or "no frames"))


class _Prefetcher:
    """Runs an adapter's item generator ahead of the writer, in a thread.

    Decoding (OpenCV releases the GIL) then overlaps with encoding, so one
    writer keeps two cores busy.  An item whose frames are an iterator is
    decoded frame by frame in the thread and handed over through a short
    queue, so a long video never sits in memory whole.  Only the thread
    advances the generators; their exceptions are raised in the consumer,
    in order (a frame iterator's, when the writer reaches it).
    """

    def __init__(self, items: Iterator[Any], depth: int = 6) -> None:
        self._items = items
        self._queue: "queue.Queue" = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        # Whole items (lists of frames) wait one at a time, as frames of a
        # long video could fill the memory otherwise.
        self._whole_item_slot = threading.Semaphore(1)
        self._thread = threading.Thread(target=self._produce, daemon=True,
                                        name="gulpio-prefetch")
        self._stream_open = False

    def _put(self, kind: str, value: Any = None) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put((kind, value), timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self) -> None:
        try:
            for item in self._items:
                frames = item["frames"]
                if not _is_stream(frames):
                    while not self._whole_item_slot.acquire(timeout=0.1):
                        if self._stop.is_set():
                            return
                    if not self._put("item", item):
                        return
                    continue
                if not (self._put("start", item) and self._stream(frames)):
                    return
        except BaseException as exc:  # handed to the consumer
            self._put("error", exc)
            return
        self._put("done")

    def _stream(self, frames: Iterator[Any]) -> bool:
        """Decode one item's frames into the queue; False to stop."""
        try:
            for frame in frames:
                if not self._put("frame", frame):
                    return False
        except Exception as exc:  # the item's failure, for the consumer
            return self._put("fail", exc)
        finally:
            close = getattr(frames, "close", None)
            if callable(close):
                close()
        return self._put("end")

    def __enter__(self) -> Iterator[Any]:
        self._thread.start()
        return self._consume()

    def _consume(self) -> Iterator[Any]:
        while True:
            if self._stream_open:  # the writer left a stream unfinished
                try:
                    for _ in self._frames():
                        pass
                except Exception as exc:  # that item was given up already
                    logger.debug("an unfinished item ended with %r", exc)
            kind, value = self._queue.get()
            if kind == "error":
                raise value
            if kind == "done":
                return
            if kind == "start":
                self._stream_open = True
                value = dict(value, frames=self._frames())
            else:
                self._whole_item_slot.release()
            yield value

    def _frames(self) -> Iterator[Any]:
        while self._stream_open:
            kind, value = self._queue.get()
            if kind == "frame":
                yield value
                continue
            self._stream_open = False
            if kind in ("fail", "error"):
                raise value
            if kind != "end":
                raise RuntimeError(f"gulpio prefetch: {kind!r} inside a stream")

    def __exit__(self, *exc_info: Any) -> None:
        self._stop.set()
        self._thread.join()
        close = getattr(self._items, "close", None)
        if callable(close):
            close()


def _write_chunk_job(chunk_writer: ChunkWriter, chunk: GulpChunk,
                     input_slice: slice) -> ChunkReport:
    # Module level so that every joblib backend can pickle it.
    return chunk_writer.write_chunk(chunk, input_slice)


def remove_incomplete_chunks(folder: str) -> List[str]:
    """Delete what interrupted writes left in ``folder``; returns the paths.

    Leftovers are ``*.incomplete`` files and data files whose meta file is
    still being written.  Complete chunks are never touched.
    """
    found = _format.scan_chunk_files(folder)
    removed = []
    for number, paths in found["incomplete"].items():
        doomed = list(paths)
        if number in found["data"] and number not in found["meta"]:
            doomed.append(found["data"][number])
        for path in doomed:
            os.remove(path)
            removed.append(path)
    if removed:
        logger.warning("removed leftovers of an interrupted write: %s",
                       ", ".join(sorted(removed)))
    return sorted(removed)


def _backend_configured() -> bool:
    if "joblib" not in sys.modules:
        return False  # nobody configured one; importing joblib takes ~0.15 s
    from joblib.parallel import LokyBackend, get_active_backend
    backend, _ = get_active_backend()
    return not isinstance(backend, LokyBackend)


class GulpIngestor:
    """Writes a whole adapter into new chunks of a folder, in parallel.

    Parameters
    ----------
    adapter : gulpio.adapters.AbstractDatasetAdapter
        The items to write.
    output_folder : str
        Created if needed; existing chunks are kept and new ones numbered
        after them.
    videos_per_chunk : int
        Items per chunk.
    num_workers : int
        Parallel jobs; 1 writes in this process unless a joblib backend is
        configured.
    backend : str or joblib backend, optional
        A joblib backend for the chunk jobs (``'loky'``, ``'dask'``, ...);
        by default the one selected with ``joblib.parallel_config``.
    """

    def __init__(self, adapter: Any, output_folder: str,
                 videos_per_chunk: int, num_workers: int,
                 backend: Any = None) -> None:
        self.adapter = adapter
        self.output_folder = output_folder
        self.videos_per_chunk = _check_positive("videos_per_chunk",
                                                videos_per_chunk)
        self.num_workers = _check_positive("num_workers", num_workers)
        self.backend = backend

    def __call__(self) -> IngestReport:
        counts = _id_counts(self.adapter)
        _check_repeated_ids(counts)  # before the folder is even made
        os.makedirs(self.output_folder, exist_ok=True)
        with _ingestion_lock(self.output_folder):
            _check_stored_ids(counts, self.output_folder)
            remove_incomplete_chunks(self.output_folder)
            return self._write()

    def _write(self) -> IngestReport:
        num_items = len(self.adapter)
        reports: List[ChunkReport] = []
        if num_items == 0:
            logger.warning("the adapter has no items to write into %s",
                           self.output_folder)
        else:
            slices = calculate_chunk_slices(self.videos_per_chunk, num_items)
            first = _next_chunk_number(self.output_folder)
            chunks = [GulpChunk(*_format.chunk_paths(self.output_folder, n))
                      for n in range(first, first + len(slices))]
            writer = ChunkWriter(self.adapter)
            with tqdm(total=num_items, unit="item", desc="gulping") as bar:
                in_process = (self.backend is None and self.num_workers == 1
                              and not _backend_configured())
                if in_process:
                    for chunk, slice_ in zip(chunks, slices):
                        reports.append(writer.write_chunk(
                            chunk, slice_, on_item=lambda: bar.update(1)))
                else:
                    reports = self._run_parallel(writer, chunks, slices, bar)
        report = IngestReport(
            reports, [id_ for r in reports for id_ in r.written],
            [item for r in reports for item in r.skipped])
        finalize = getattr(self.adapter, "finalize", None)
        if callable(finalize):
            finalize()
        return report

    def _run_parallel(self, writer: ChunkWriter, chunks: List[GulpChunk],
                      slices: List[slice], bar: tqdm) -> List[ChunkReport]:
        from joblib import Parallel, delayed, parallel_config
        config = (parallel_config(backend=self.backend)
                  if self.backend is not None else nullcontext())
        reports = []
        with config:
            jobs = Parallel(n_jobs=self.num_workers,
                            return_as="generator_unordered")
            for report in jobs(delayed(_write_chunk_job)(writer, chunk, s)
                               for chunk, s in zip(chunks, slices)):
                reports.append(report)
                bar.update(len(report.written) + len(report.skipped))
                bar.set_postfix(chunks=f"{len(reports)}/{len(chunks)}")
        order = {chunk.data_file_path: i for i, chunk in enumerate(chunks)}
        reports.sort(key=lambda r: order[r.data_file])
        return reports
