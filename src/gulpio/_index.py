"""Compact in-memory index of gulp chunks.

A directory's frame tables live in a few numpy arrays instead of millions of
Python lists and ints, so that opening a large directory is quick, forked
workers do not copy it page by page, and spawned workers unpickle it fast.
"""
import gc
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional, Sequence

import numpy as np

from ._format import FRAME_INFO_KEY, META_DATA_KEY
from .errors import CorruptMetaError


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
        ``int64`` array of ``len(ids) + 1`` row offsets into ``table``.
    table : numpy.ndarray
        ``int64`` array of shape ``(frames, 3)``: ``[offset, pad, length]``.
    metas : list
        The first meta dict of every item (``None`` when it has none).
    """

    __slots__ = ("ids", "starts", "table", "metas")

    def __init__(self, ids: List[str], starts: np.ndarray, table: np.ndarray,
                 metas: List[Optional[dict]]) -> None:
        self.ids = ids
        self.starts = starts
        self.table = table
        self.metas = metas

    @classmethod
    def from_meta_dict(cls, meta_dict: dict, meta_path: str) -> "ChunkIndex":
        """Build the index of a parsed meta file, checking its shape."""
        ids = []
        counts = []
        metas = []
        flat: List = []
        for id_, entry in meta_dict.items():
            try:
                frame_info = entry[FRAME_INFO_KEY]
                meta_data = entry[META_DATA_KEY]
            except (KeyError, TypeError, IndexError):
                raise CorruptMetaError(
                    f"meta file {meta_path}: entry of id {id_!r} lacks "
                    f"'{FRAME_INFO_KEY}' or '{META_DATA_KEY}'") from None
            ids.append(str(id_))
            counts.append(len(frame_info))
            metas.append(meta_data[0] if meta_data else None)
            flat.extend(frame_info)
        try:
            table = np.array(flat, dtype=np.int64).reshape(-1, 3)
        except (ValueError, TypeError) as exc:
            raise CorruptMetaError(
                f"meta file {meta_path}: frame_info entries must be "
                f"[offset, pad, length] integer triples ({exc})") from None
        starts = np.zeros(len(ids) + 1, dtype=np.int64)
        np.cumsum(counts, out=starts[1:])
        return cls(ids, starts, table, metas)

    def data_end(self) -> int:
        """The byte position just after the last record (0 when empty)."""
        if len(self.table) == 0:
            return 0
        return int((self.table[:, 0] + self.table[:, 2]).max())


class DirectoryIndex:
    """The chunk indexes of a directory merged, with an id lookup."""

    def __init__(self, chunk_numbers: Sequence[int],
                 chunk_indexes: Sequence[ChunkIndex]) -> None:
        self.ids: List[str] = []
        self.metas: List[Optional[dict]] = []
        chunk_of = []
        starts = [np.zeros(1, dtype=np.int64)]
        tables = []
        offset = 0
        for number, index in zip(chunk_numbers, chunk_indexes):
            self.ids.extend(index.ids)
            self.metas.extend(index.metas)
            chunk_of.append(np.full(len(index.ids), number, dtype=np.int64))
            starts.append(index.starts[1:] + offset)
            tables.append(index.table)
            offset += len(index.table)
        self.chunk_of = (np.concatenate(chunk_of) if chunk_of
                         else np.zeros(0, dtype=np.int64))
        self.starts = np.concatenate(starts)
        self.table = (np.concatenate(tables) if tables
                      else np.zeros((0, 3), dtype=np.int64))
        self.position: Dict[str, int] = {}

    def find_duplicates(self) -> Dict[str, List[int]]:
        """Ids stored more than once, with the chunk numbers holding them."""
        seen: Dict[str, int] = {}
        duplicates: Dict[str, List[int]] = {}
        for row, id_ in enumerate(self.ids):
            first = seen.setdefault(id_, row)
            if first != row:
                chunks = duplicates.setdefault(
                    id_, [int(self.chunk_of[first])])
                chunks.append(int(self.chunk_of[row]))
        self.position = seen
        return duplicates

    def frames_of(self, row: int) -> np.ndarray:
        return self.table[self.starts[row]:self.starts[row + 1]]
