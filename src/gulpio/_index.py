"""Compact in-memory index of gulp chunks.

A directory's frame tables live in a few numpy arrays instead of millions of
Python lists and ints, so that opening a large directory is quick, forked
workers do not copy it page by page, and spawned workers unpickle it fast.
The first meta dict of every item is kept pickled, one blob per chunk, and
unpickled when asked for.

Meta files written by the default JSON serializer are read without building
the nested lists of ``frame_info``: its numbers are cut out of the text and
parsed by numpy, and only the small remainder goes through the JSON parser.
Anything unexpected falls back to parsing the whole file.
"""
import gc
import pickle
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from ._format import FRAME_INFO_KEY, META_DATA_KEY
from .errors import CorruptMetaError

_FRAME_INFO_TEXT = f'"{FRAME_INFO_KEY}": ['.encode()
_PLACEHOLDER = -7
_PLACEHOLDER_TEXT = f'"{FRAME_INFO_KEY}": {_PLACEHOLDER}'.encode()
_NUMBER_SEPARATORS = bytes.maketrans(b"[],", b"   ")
_NUMBER_CHARACTERS = b"0123456789 -\n\r\t"


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small objects.

    Parsing JSON allocates millions of containers that are never garbage;
    the collector would otherwise spend most of the time scanning them.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class ChunkIndex:
    """Ids, frame tables and first meta dicts of one chunk.

    Attributes
    ----------
    ids : list of str
        Item ids in stored order.
    starts : numpy.ndarray
        ``int64`` array of ``len(ids) + 1`` row offsets into the tables.
    offsets, pads, lengths : numpy.ndarray
        One entry per frame: record offset (``int64``), padding (``uint8``)
        and padded length (``uint32``).
    metas : bytes
        The pickled list of every item's first meta dict (``{}`` when an
        item has none).
    """

    __slots__ = ("ids", "starts", "offsets", "pads", "lengths", "metas")

    def __init__(self, ids: List[str], counts: Sequence[int],
                 table: np.ndarray, metas: List[Optional[dict]],
                 meta_path: str) -> None:
        table = np.asarray(table, dtype=np.int64).reshape(-1, 3)
        if len(table) and (table.min() < 0 or table[:, 2].max() >= 2 ** 32
                           or table[:, 1].max() > 255):
            raise CorruptMetaError(
                f"meta file {meta_path}: frame_info holds negative or "
                "out-of-range values")
        self.ids = ids
        self.starts = np.zeros(len(ids) + 1, dtype=np.int64)
        np.cumsum(counts, out=self.starts[1:])
        self.offsets = np.ascontiguousarray(table[:, 0])
        self.pads = table[:, 1].astype(np.uint8)
        self.lengths = table[:, 2].astype(np.uint32)
        self.metas = pickle.dumps(metas, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def from_meta_dict(cls, meta_dict: dict, meta_path: str) -> "ChunkIndex":
        """Build the index of a parsed meta file, checking its shape.

        Raises
        ------
        CorruptMetaError
            Naming the meta file and, where it applies, the id and frame
            that are not shaped as ``{id: {"frame_info": [[offset, pad,
            length], ...], "meta_data": [...]}}``.
        """
        if not isinstance(meta_dict, dict):
            raise CorruptMetaError(
                f"meta file {meta_path} holds {_kind(meta_dict)}, not an "
                "object mapping ids to their entries")
        ids = []
        counts = []
        metas = []
        flat: List = []
        for id_, entry in meta_dict.items():
            frame_info, meta_data = _entry_lists(entry, id_, meta_path)
            ids.append(str(id_))
            counts.append(len(frame_info))
            metas.append(meta_data[0] if meta_data else {})
            flat.extend(frame_info)
        try:
            table = np.array(flat)
        except (ValueError, TypeError):
            table = None
        if table is None or (table.size and (
                table.dtype.kind not in "iu" or table.ndim != 2
                or table.shape[1] != 3)):
            raise CorruptMetaError(_bad_frame(meta_dict, meta_path))
        return cls(ids, counts, table, metas, meta_path)

    def data_end(self) -> int:
        """The byte position just after the last record (0 when empty)."""
        if len(self.offsets) == 0:
            return 0
        return int((self.offsets + self.lengths).max())


def _kind(value: Any) -> str:
    """What a parsed meta value is, in JSON's words."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return "a number"
    return f"a {type(value).__name__}"


def _entry_lists(entry: Any, id_: Any, meta_path: str) -> Tuple[Any, Any]:
    """``frame_info`` and ``meta_data`` of a meta file entry, both lists."""
    if not isinstance(entry, dict):
        raise CorruptMetaError(
            f"meta file {meta_path}: entry of id {id_!r} is {_kind(entry)}, "
            "not an object")
    for key in (FRAME_INFO_KEY, META_DATA_KEY):
        if key not in entry:
            raise CorruptMetaError(
                f"meta file {meta_path}: entry of id {id_!r} lacks '{key}'")
        if not isinstance(entry[key], (list, tuple)):
            raise CorruptMetaError(
                f"meta file {meta_path}: '{key}' of id {id_!r} is "
                f"{_kind(entry[key])}, not a list")
    return entry[FRAME_INFO_KEY], entry[META_DATA_KEY]


def _is_integer(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _bad_frame(meta_dict: dict, meta_path: str) -> str:
    """The message for the first frame_info entry that is not a triple of
    integers (looked for only once the whole table was refused)."""
    for id_, entry in meta_dict.items():
        for number, info in enumerate(entry[FRAME_INFO_KEY]):
            if not (isinstance(info, (list, tuple)) and len(info) == 3
                    and all(_is_integer(value) for value in info)):
                return (f"meta file {meta_path}: frame {number} of id "
                        f"{id_!r} is {info!r}, not an [offset, pad, length] "
                        "triple of integers")
    return (f"meta file {meta_path}: frame_info entries must be "
            "[offset, pad, length] integer triples")


def _fast_parse(text: bytes, loads: Any, meta_path: str
                ) -> Optional[Tuple[List[str], List[int], np.ndarray, List]]:
    """Parse a JSON meta file by cutting ``frame_info`` out of the text.

    Works on files written with ``json.dump``'s default separators (every
    gulp writer's); returns ``None`` when the text is not shaped as expected,
    so that the caller parses it the ordinary way.
    """
    pieces = []
    spans = []
    position = 0
    find = text.find
    while True:
        start = find(_FRAME_INFO_TEXT, position)
        if start < 0:
            break
        opening = start + len(_FRAME_INFO_TEXT) - 1
        if text.startswith(b"[]", opening):
            end = opening + 2
        else:
            end = find(b"]]", opening) + 2
            if end < 2:
                return None
        pieces.append(text[position:start])
        pieces.append(_PLACEHOLDER_TEXT)
        spans.append(text[opening:end])
        position = end
    pieces.append(text[position:])
    try:
        skeleton = loads(b"".join(pieces))
    except ValueError:
        return None
    if not isinstance(skeleton, dict) or len(skeleton) != len(spans):
        return None
    ids, metas = [], []
    for id_, entry in skeleton.items():
        if (not isinstance(entry, dict)
                or entry.get(FRAME_INFO_KEY) != _PLACEHOLDER
                or not isinstance(entry.get(META_DATA_KEY), list)):
            return None
        ids.append(id_)
        meta_data = entry[META_DATA_KEY]
        metas.append(meta_data[0] if meta_data else {})
    counts = [span.count(b"[") - 1 for span in spans]
    numbers = b"".join(spans).translate(_NUMBER_SEPARATORS)
    if numbers.translate(None, _NUMBER_CHARACTERS):
        return None  # not only integers: let the JSON parser judge it
    if not numbers.strip():
        table = np.zeros(0, dtype=np.int64)
    else:
        table = np.fromstring(numbers.decode("ascii"), dtype=np.int64,
                              sep=" ")
    if len(table) != 3 * sum(counts):
        return None
    return ids, counts, table, metas


def load_chunk_index(meta_path: str, serializer: Any) -> ChunkIndex:
    """Read a chunk's meta file into a :class:`ChunkIndex`."""
    loads = getattr(serializer, "loads_plain", None)
    if loads is not None:
        with open(meta_path, "rb") as fp:
            parsed = _fast_parse(fp.read(), loads, meta_path)
        if parsed is not None:
            ids, counts, table, metas = parsed
            return ChunkIndex(ids, counts, table, metas, meta_path)
    return ChunkIndex.from_meta_dict(serializer.load(meta_path), meta_path)


class DirectoryIndex:
    """The chunk indexes of a directory merged, with an id lookup."""

    def __init__(self, chunk_numbers: Sequence[int],
                 chunk_indexes: Sequence[ChunkIndex]) -> None:
        self.ids: List[str] = []
        self.chunk_numbers = list(chunk_numbers)
        self.meta_blobs = [index.metas for index in chunk_indexes]
        chunk_of = []
        first_row = [0]
        starts = [np.zeros(1, dtype=np.int64)]
        offset = 0
        for position, index in enumerate(chunk_indexes):
            self.ids.extend(index.ids)
            chunk_of.append(np.full(len(index.ids), position, dtype=np.int32))
            first_row.append(first_row[-1] + len(index.ids))
            starts.append(index.starts[1:] + offset)
            offset += len(index.offsets)

        def joined(parts: List[np.ndarray], dtype: Any) -> np.ndarray:
            return np.concatenate(parts) if parts else np.zeros(0, dtype)

        self.chunk_of = joined(chunk_of, np.int32)
        self.first_row = np.array(first_row, dtype=np.int64)
        self.starts = np.concatenate(starts)
        self.offsets = joined([i.offsets for i in chunk_indexes], np.int64)
        self.pads = joined([i.pads for i in chunk_indexes], np.uint8)
        self.lengths = joined([i.lengths for i in chunk_indexes], np.uint32)
        self.position: Dict[str, int] = {}
        self._metas_cache: Dict[int, List[Optional[dict]]] = {}

    def find_duplicates(self) -> Dict[str, List[int]]:
        """Ids stored more than once, with the chunk numbers holding them."""
        with gc_paused():
            position = dict(zip(self.ids, range(len(self.ids))))
        duplicates: Dict[str, List[int]] = {}
        if len(position) != len(self.ids):
            first: Dict[str, int] = {}
            for row, id_ in enumerate(self.ids):
                seen = first.setdefault(id_, row)
                if seen != row:
                    duplicates.setdefault(id_, [self.chunk_number(seen)]
                                          ).append(self.chunk_number(row))
            position = first
        self.position = position
        return duplicates

    def chunk_number(self, row: int) -> int:
        return self.chunk_numbers[int(self.chunk_of[row])]

    def table(self, row: int) -> np.ndarray:
        """``[offset, pad, length]`` rows of one item, as ``int64``."""
        lo, hi = self.starts[row], self.starts[row + 1]
        return np.stack([self.offsets[lo:hi], self.pads[lo:hi],
                         self.lengths[lo:hi]], axis=1).astype(np.int64)

    def frame_counts(self) -> np.ndarray:
        return np.diff(self.starts)

    def chunk_metas(self, position: int) -> List[Optional[dict]]:
        metas = self._metas_cache.get(position)
        if metas is None:
            if len(self._metas_cache) >= 32:
                self._metas_cache.pop(next(iter(self._metas_cache)))
            metas = pickle.loads(self.meta_blobs[position])
            self._metas_cache[position] = metas
        return metas

    def first_meta(self, row: int) -> Optional[dict]:
        position = int(self.chunk_of[row])
        return self.chunk_metas(position)[row - int(self.first_row[position])]

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_metas_cache"] = {}
        return state
