"""The on-disk gulp format: the one place that spells file names and records.

A gulp directory holds chunks; chunk ``N`` is ``data_N.gulp`` (JPEG records
back to back, each zero-padded to a multiple of 4 bytes) and ``meta_N.gmeta``
(JSON: ``{id: {"frame_info": [[offset, pad, length], ...],
"meta_data": [{...}, ...]}}``).  See ``docs/format.rst`` for the prose.
"""
import os
import re
from collections import namedtuple
from typing import Dict, Tuple

DATA_FILE_TEMPLATE = "data_{}.gulp"
META_FILE_TEMPLATE = "meta_{}.gmeta"
LABEL2IDX_FILE = "label2idx.json"

# A chunk being written lives under these names until it is complete; a
# leftover with this suffix is what an interrupted write leaves behind.
INCOMPLETE_SUFFIX = ".incomplete"

ALIGNMENT = 4
FRAME_INFO_KEY = "frame_info"
META_DATA_KEY = "meta_data"

JPEG_SOI = b"\xff\xd8"
JPEG_EOI = b"\xff\xd9"

ImgInfo = namedtuple("ImgInfo", ["loc", "pad", "length"])

_DATA_RE = re.compile(r"^data_(\d+)\.gulp$")
_META_RE = re.compile(r"^meta_(\d+)\.gmeta$")
_INCOMPLETE_RE = re.compile(
    r"^(?:data_(\d+)\.gulp|meta_(\d+)\.gmeta)"
    r"(?:" + re.escape(INCOMPLETE_SUFFIX) + ")+$")


def pad_length(num_bytes: int) -> int:
    """Number of zero bytes that follow a record of ``num_bytes`` bytes."""
    return (ALIGNMENT - num_bytes % ALIGNMENT) % ALIGNMENT


def data_file_name(index: int) -> str:
    return DATA_FILE_TEMPLATE.format(index)


def meta_file_name(index: int) -> str:
    return META_FILE_TEMPLATE.format(index)


def chunk_paths(folder: str, index: int) -> Tuple[str, str]:
    """``(data_path, meta_path)`` of chunk ``index`` in ``folder``."""
    return (os.path.join(folder, data_file_name(index)),
            os.path.join(folder, meta_file_name(index)))


def incomplete_path(path: str) -> str:
    """The name a chunk file has while it is being written."""
    return path + INCOMPLETE_SUFFIX


def label2idx_path(folder: str) -> str:
    return os.path.join(folder, LABEL2IDX_FILE)


def chunk_index_of(file_name: str) -> Tuple[str, int]:
    """``('data'|'meta', N)`` for a chunk file name, ``('', -1)`` otherwise."""
    base = os.path.basename(file_name)
    match = _DATA_RE.match(base)
    if match:
        return "data", int(match.group(1))
    match = _META_RE.match(base)
    if match:
        return "meta", int(match.group(1))
    return "", -1


def scan_chunk_files(folder: str) -> Dict[str, Dict[int, str]]:
    """Group the chunk files of ``folder`` by kind.

    Returns
    -------
    dict
        ``{"data": {N: path}, "meta": {N: path}, "incomplete": {N: [paths]}}``
        where ``incomplete`` lists leftovers of interrupted writes.
    """
    found: Dict[str, Dict] = {"data": {}, "meta": {}, "incomplete": {}}
    for entry in os.scandir(folder):
        kind, index = chunk_index_of(entry.name)
        if kind:
            found[kind][index] = entry.path
            continue
        match = _INCOMPLETE_RE.match(entry.name)
        if match:
            index = int(match.group(1) or match.group(2))
            found["incomplete"].setdefault(index, []).append(entry.path)
    for paths in found["incomplete"].values():
        paths.sort()
    return found
