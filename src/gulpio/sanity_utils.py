"""Consistency checks of a gulp directory.

Each ``check_*`` function takes a gulp directory (a
:class:`gulpio.fileio.GulpDirectory`, or the result of
:func:`open_for_checking`, which also opens directories that GulpDirectory
refuses, such as one holding an id twice) and returns the list of failing
paths, ids or descriptions; an empty list means the check passed.
"""
import logging
import mmap
import os
from collections import Counter, OrderedDict
from typing import Any, Callable, Iterator, List, Sequence, Tuple

from . import _format
from ._index import ChunkIndex
from ._jpeg import decode_record
from .errors import GulpError, GulpIOEmptyFolder
from .fileio import GulpChunk

__all__ = [
    "check_meta_file_size_larger_zero", "check_data_file_size_larger_zero",
    "check_data_file_size", "check_for_duplicate_ids", "extract_all_ids",
    "get_duplicate_entries", "check_for_failures", "check_incomplete_chunks",
    "check_meta_files_parse", "check_frame_tables", "check_frames_decode",
    "open_for_checking", "run_checks", "CHECKS",
]

logger = logging.getLogger(__name__)


class _CheckedDirectory:
    """The complete chunks of a folder, opened without GulpDirectory's
    validation so that the checks can report what is wrong."""

    def __init__(self, output_dir: str) -> None:
        if not os.path.isdir(output_dir):
            raise GulpIOEmptyFolder(
                f"gulp directory {output_dir} does not exist")
        self.output_dir = output_dir
        found = _format.scan_chunk_files(output_dir)
        if not any(found.values()):
            raise GulpIOEmptyFolder(
                f"found no gulp chunks (data_N.gulp / meta_N.gmeta) in "
                f"{output_dir}")
        numbers = sorted(set(found["data"]) & set(found["meta"]))
        self.chunk_objs_lookup = OrderedDict(
            (n, GulpChunk(*_format.chunk_paths(output_dir, n)))
            for n in numbers)
        self.num_chunks = len(numbers)

    def chunks(self) -> Iterator[GulpChunk]:
        return iter(self.chunk_objs_lookup.values())

    def __iter__(self) -> Iterator[GulpChunk]:
        return self.chunks()


def open_for_checking(output_dir: str) -> _CheckedDirectory:
    """Open ``output_dir`` for the checks, whatever state its chunks are in.

    Raises
    ------
    GulpIOEmptyFolder
        When ``output_dir`` does not exist or holds no chunk file at all
        (neither complete chunks nor orphan or incomplete chunk files).
    """
    return _CheckedDirectory(output_dir)


def _read_index(chunk: GulpChunk) -> ChunkIndex:
    """Parse a chunk's meta file and check its shape as the reader does.

    Raises
    ------
    CorruptMetaError
        Naming the meta file and, where it applies, the id and frame at
        fault: the file does not parse, is not an object mapping ids to
        entries, an entry lacks ``frame_info`` or ``meta_data``, or a frame
        is not an ``[offset, pad, length]`` triple of integers in range.
    """
    return ChunkIndex.from_meta_dict(chunk.meta_dict, chunk.meta_file_path)


def _indexed_chunks(gulp_directory: Any
                    ) -> Iterator[Tuple[GulpChunk, ChunkIndex]]:
    """Chunks whose meta file parses and is well formed, with their index.

    The other chunks are left out on purpose: check_meta_files_parse reports
    each of them, and the later checks cannot say anything about them.
    """
    for chunk in gulp_directory:
        try:
            index = _read_index(chunk)
        except (GulpError, OSError):
            continue
        yield chunk, index


def _loadable_chunks(gulp_directory: Any) -> Iterator[GulpChunk]:
    """Chunks whose meta file is well formed (see :func:`_indexed_chunks`)."""
    for chunk, _ in _indexed_chunks(gulp_directory):
        yield chunk


def check_meta_file_size_larger_zero(gulp_directory: Any) -> List[str]:
    """Meta files that are empty."""
    return [chunk.meta_file_path for chunk in gulp_directory
            if os.path.getsize(chunk.meta_file_path) == 0]


def check_data_file_size_larger_zero(gulp_directory: Any) -> List[str]:
    """Data files that are empty."""
    return [chunk.data_file_path for chunk in gulp_directory
            if os.path.getsize(chunk.data_file_path) == 0]


def check_data_file_size(gulp_directory: Any) -> List[str]:
    """Data files whose size is not the last record's offset + length.

    The last record is the one furthest into the file, whichever id it
    belongs to (appending an id again adds records after other ids').
    """
    return [chunk.data_file_path
            for chunk, index in _indexed_chunks(gulp_directory)
            if os.path.getsize(chunk.data_file_path) != index.data_end()]


def extract_all_ids(gulp_directory: Any) -> List[str]:
    """Every id of every chunk, repeated ids included."""
    return [id_ for _, index in _indexed_chunks(gulp_directory)
            for id_ in index.ids]


def get_duplicate_entries(list_: Sequence[Any]) -> List[Any]:
    """The entries that occur more than once in ``list_``."""
    return [item for item, count in Counter(list_).items() if count > 1]


def check_for_duplicate_ids(gulp_directory: Any) -> List[str]:
    """Ids stored in more than one chunk."""
    return get_duplicate_entries(extract_all_ids(gulp_directory))


def check_for_failures(result: Sequence[Any]) -> bool:
    """True when a check's result lists failures."""
    return len(result) > 0


def check_incomplete_chunks(gulp_directory: Any) -> List[str]:
    """Orphan and incomplete chunk files: leftovers of interrupted writes,
    data files without meta files and meta files without data files."""
    found = _format.scan_chunk_files(gulp_directory.output_dir)
    failures = [path for paths in found["incomplete"].values()
                for path in paths]
    failures += [path for n, path in found["data"].items()
                 if n not in found["meta"]]
    failures += [path for n, path in found["meta"].items()
                 if n not in found["data"]]
    return sorted(failures)


def check_meta_files_parse(gulp_directory: Any) -> List[str]:
    """Meta files that cannot be read, do not parse, or are not shaped as
    ``{id: {"frame_info": [[offset, pad, length], ...], "meta_data": [...]}}``.
    """
    failures = []
    for chunk in gulp_directory:
        try:
            _read_index(chunk)
        except (GulpError, OSError) as exc:
            # Most messages already start with "meta file <path>"; say the
            # path once, first, like the other checks' failures.
            message = str(exc)
            named = f"meta file {chunk.meta_file_path}"
            if message.startswith(named):
                message = message[len(named):].lstrip(":").lstrip()
            failures.append(f"{chunk.meta_file_path}: {message}")
    return failures


def _records(chunk: GulpChunk) -> Iterator[Tuple[str, int, Tuple[int, int, int]]]:
    for id_, entry in chunk.meta_dict.items():
        for number, info in enumerate(entry["frame_info"]):
            yield id_, number, tuple(info)


def _map_data(path: str) -> Any:
    size = os.path.getsize(path)
    if size == 0:
        return b""
    with open(path, "rb") as fp:
        return mmap.mmap(fp.fileno(), 0, access=mmap.ACCESS_READ)


def check_frame_tables(gulp_directory: Any) -> List[str]:
    """Frame records that break the format: the records of a chunk, taken in
    file order (by offset, whatever their order in the meta file), must
    start at 0 and follow each other without gap or overlap,
    ``length % 4 == 0``, ``0 <= pad <= 3``, padding bytes zero, and each
    record must be a JPEG (start-of-image marker at its start, end-of-image
    marker at the end of its unpadded bytes)."""
    failures = []
    for chunk in _loadable_chunks(gulp_directory):
        data = _map_data(chunk.data_file_path)
        try:
            expected = 0
            previous = "the start of the file"
            records = sorted(_records(chunk), key=lambda record: record[2][0])
            for id_, number, (offset, pad, length) in records:
                where = f"{chunk.data_file_path}: id {id_!r} frame {number}"
                problems = []
                if offset > expected:
                    problems.append(
                        f"starts at {offset}, expected {expected}: a gap of "
                        f"{offset - expected} bytes after {previous}")
                elif offset < expected:
                    problems.append(
                        f"starts at {offset}, expected {expected}: overlaps "
                        f"{previous}")
                if length % _format.ALIGNMENT:
                    problems.append(f"length {length} is not a multiple of "
                                    f"{_format.ALIGNMENT}")
                if not 0 <= pad < _format.ALIGNMENT:
                    problems.append(f"pad {pad} is not within 0-3")
                if offset + length > len(data):
                    problems.append(f"ends at {offset + length}, past the end "
                                    f"of the file ({len(data)} bytes)")
                elif 0 <= pad < _format.ALIGNMENT and length >= pad + 4:
                    end = offset + length - pad
                    if data[offset:offset + 2] != _format.JPEG_SOI:
                        problems.append("no JPEG start-of-image marker")
                    if data[end - 2:end] != _format.JPEG_EOI:
                        problems.append("no JPEG end-of-image marker")
                    if data[end:offset + length].strip(b"\0"):
                        problems.append("padding bytes are not zero")
                if problems:
                    failures.append(f"{where}: {'; '.join(problems)}")
                if offset + length >= expected:
                    expected = offset + length
                    previous = (f"id {id_!r} frame {number} (ending at "
                                f"{expected})")
        finally:
            if isinstance(data, mmap.mmap):
                data.close()
    return failures


def check_frames_decode(gulp_directory: Any) -> List[str]:
    """Frames that do not decode as images (slow: decodes everything)."""
    failures = []
    for chunk in _loadable_chunks(gulp_directory):
        data = _map_data(chunk.data_file_path)
        try:
            for id_, number, (offset, pad, length) in _records(chunk):
                where = (f"frame {number} of id {id_!r} in "
                         f"{chunk.data_file_path}")
                record = data[offset:offset + length - pad]
                try:
                    decode_record(record, where)
                except GulpError as exc:
                    failures.append(str(exc))
        finally:
            if isinstance(data, mmap.mmap):
                data.close()
    return failures


Check = Tuple[str, Callable[[Any], List[str]]]

CHECKS: List[Check] = [
    ("meta files are not empty", check_meta_file_size_larger_zero),
    ("data files are not empty", check_data_file_size_larger_zero),
    ("meta files parse", check_meta_files_parse),
    ("data file sizes match the meta files", check_data_file_size),
    ("no duplicate ids", check_for_duplicate_ids),
    ("no orphan or incomplete chunk files", check_incomplete_chunks),
    ("frame tables are consistent", check_frame_tables),
]

DEEP_CHECKS: List[Check] = [
    ("every frame decodes", check_frames_decode),
]


def run_checks(gulp_directory: Any, deep: bool = False
               ) -> List[Tuple[str, List[str]]]:
    """Run every check (and the decoding one when ``deep``); returns
    ``[(check name, failures), ...]``."""
    checks = CHECKS + (DEEP_CHECKS if deep else [])
    return [(name, list(check(gulp_directory))) for name, check in checks]

