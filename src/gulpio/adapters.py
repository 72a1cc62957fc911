"""Dataset adapters: what to ingest and how to load one item's frames.

An adapter is a sized iterable of items for :class:`gulpio.fileio.ChunkWriter`:
``iter_data(slice)`` yields ``{'id': ..., 'meta': {...}, 'frames': [...]}``
(frames are BGR or grayscale ``uint8`` arrays, as OpenCV reads them).  An
item that cannot be loaded is yielded with ``'frames': []`` and a
``'skip_reason'`` string; the writer skips and reports it, the run goes on.

:class:`ItemListAdapter` is the shared base: a concrete adapter lists its
items once (in the parent process) and says how to load one item's frames;
the base does slicing, shuffling, duplicate removal and the per-item error
protocol.  Label indexing (``label2idx.json``) comes from
:class:`Custom20BNAdapterMixin`; the file is written once, by
:meth:`ItemListAdapter.finalize`, which :class:`gulpio.fileio.GulpIngestor`
calls in the parent after every chunk is written.
"""
import csv
import gzip
import json
import logging
import os
import random
from abc import ABC, abstractmethod
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence

import numpy as np

from . import _video
from ._format import label2idx_path
from .errors import GulpError, InvalidInputError, ItemSkipped
from .utils import (ImageNotFound, VideoNotFound, _numeric_key,
                    find_images_in_folder, get_single_video_path,
                    remove_entries_with_duplicate_ids, resize_by_short_edge)

logger = logging.getLogger(__name__)

__all__ = [
    "AbstractDatasetAdapter", "Custom20BNAdapterMixin", "ItemListAdapter",
    "Custom20BNJsonVideoAdapter", "Custom20BNCsvWebmAdapter",
    "Custom20BNCsvJpegAdapter", "ImageListAdapter", "ImageFolderAdapter",
    "ActivitynetAdapter", "KineticsAdapter",
]

DUMMY_LABEL = "dummy"

Item = Dict[str, Any]


class AbstractDatasetAdapter(ABC):
    """Base class of every adapter: a sized source of items to ingest."""

    @abstractmethod
    def iter_data(self, slice_element: Optional[slice] = None) -> Iterator[Dict[str, Any]]:
        """Yield ``{'id', 'meta', 'frames'}`` dicts for the items in ``slice_element``."""

    @abstractmethod
    def __len__(self) -> int:
        """Number of items."""


class Custom20BNAdapterMixin:
    """Label index helpers (``label2idx.json``) for adapters with labels.

    Expects ``self.output_folder`` and ``self.data`` (the parsed input entries,
    dicts holding the label under ``label_name``).
    """

    output_folder: str
    data: List[Dict[str, Any]]
    label2idx: Dict[str, int]

    def check_if_label2idx_exists(self) -> bool:
        """Whether ``label2idx.json`` exists in the output folder."""
        return os.path.isfile(label2idx_path(self.output_folder))

    def read_label2idx(self) -> Dict[str, int]:
        """The label index stored in the output folder.

        Raises
        ------
        gulpio.errors.InvalidInputError
            The file is not a JSON object of label -> integer.
        """
        path = label2idx_path(self.output_folder)
        try:
            with open(path, encoding="utf-8") as fp:
                stored = json.load(fp)
        except ValueError as exc:
            raise InvalidInputError(f"{path} is not valid JSON: {exc}") from exc
        if not isinstance(stored, dict) or not all(
                isinstance(v, int) and not isinstance(v, bool) for v in stored.values()):
            raise InvalidInputError(f"{path} must map each label to an integer index")
        return stored

    def create_label2idx_dict(self, label_name: str) -> Dict[str, int]:
        """Label -> index for the labels of ``self.data``.

        Labels are numbered in sorted order.  When ``label2idx.json`` already
        exists in the output folder its indices are kept and labels it lacks
        get the next free indices (in sorted order).
        """
        labels = sorted({str(entry[label_name]) for entry in self.data})
        label2idx: Dict[str, int] = {}
        if self.check_if_label2idx_exists():
            label2idx = dict(self.read_label2idx())
        next_index = max(label2idx.values(), default=-1) + 1
        for label in labels:
            if label not in label2idx:
                label2idx[label] = next_index
                next_index += 1
        return label2idx

    def write_label2idx_dict(self) -> None:
        """Write ``self.label2idx`` to ``label2idx.json`` (atomically)."""
        path = label2idx_path(self.output_folder)
        temp_path = f"{path}.{os.getpid()}.tmp"
        try:
            with open(temp_path, "w", encoding="utf-8") as fp:
                json.dump(self.label2idx, fp)
            os.replace(temp_path, path)
        finally:
            if os.path.exists(temp_path):
                os.remove(temp_path)


class ItemListAdapter(AbstractDatasetAdapter):
    """Shared base: a list of items, each loaded on demand.

    Subclasses build a list of item dicts, each with an ``'id'``, the
    ``'meta'`` to store and whatever :meth:`load_frames` needs, then call
    :meth:`set_items`.  The list is built in the parent process; workers only
    receive slices of it through :meth:`iter_data`.
    """

    items: List[Item]

    def set_items(self, items: List[Item], shuffle: bool = False,
                  remove_duplicate_ids: bool = False,
                  output_folder: Optional[str] = None) -> None:
        """Set the items to ingest, then drop duplicates and shuffle as asked.

        Parameters
        ----------
        items : list of dict
            Each with an ``'id'``, the ``'meta'`` to store, and what
            :meth:`load_frames` needs.
        shuffle : bool
            Shuffle with :func:`random.shuffle`.
        remove_duplicate_ids : bool
            See :meth:`drop_duplicate_ids`.
        output_folder : str, optional
            The gulp directory holding already stored ids.
        """
        self.items = list(items)
        if remove_duplicate_ids:
            self.drop_duplicate_ids(output_folder)
        if shuffle:
            random.shuffle(self.items)

    def drop_duplicate_ids(self, output_folder: Optional[str]) -> int:
        """Drop items whose id repeats or is already stored in ``output_folder``.

        Returns
        -------
        int
            Number of items dropped.
        """
        before = len(self.items)
        self.items = remove_entries_with_duplicate_ids(output_folder or "", self.items)
        return before - len(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @abstractmethod
    def load_frames(self, item: Item) -> List[np.ndarray]:
        """The frames of one item (BGR or grayscale ``uint8`` arrays).

        Raise an exception (with a message naming the file) when the item
        cannot be loaded; :meth:`iter_data` turns it into a skipped item.
        """

    def item_source(self, item: Item) -> str:
        """Where an item comes from, for messages (a path by default)."""
        return str(item.get("path", ""))

    def iter_data(self, slice_element: Optional[slice] = None) -> Iterator[Dict[str, Any]]:
        """Yield ``{'id', 'meta', 'frames'}`` for the items in ``slice_element``.

        An item that fails to load is yielded with ``'frames': []`` and a
        ``'skip_reason'``.
        """
        if slice_element is None:
            slice_element = slice(0, len(self))
        for item in self.items[slice_element]:
            yield self._load_item(item)

    def _load_item(self, item: Item) -> Dict[str, Any]:
        try:
            frames = self.load_frames(item)
        except Exception as exc:  # any per-item failure becomes a reported skip
            return self._skipped(item, exc)
        result = {"id": item["id"], "meta": item["meta"], "frames": frames}
        # A list, one stacked array, or an iterator (the writer then checks
        # that it gives a frame).
        if hasattr(frames, "__len__") and len(frames) == 0:
            result["skip_reason"] = self._skip_reason(item, None)
        return result

    def _skipped(self, item: Item, exc: BaseException) -> Dict[str, Any]:
        """The result for an item that failed to load: no frames, and why."""
        logger.debug("item %s cannot be loaded", item["id"], exc_info=exc)
        return {"id": item["id"], "meta": item["meta"], "frames": [],
                "skip_reason": self._skip_reason(item, exc)}

    def _skip_reason(self, item: Item, exc: Optional[BaseException]) -> str:
        """Why ``item`` is skipped: ``exc``'s message (or "no frames"),
        naming where the item comes from."""
        source = self.item_source(item)
        if exc is None:
            return f"{source}: no frames" if source else "no frames"
        message = str(exc) or type(exc).__name__
        if not isinstance(exc, (GulpError, OSError)):
            message = f"{type(exc).__name__}: {message}"
        if source and source not in message:
            message = f"{source}: {message}"
        return message

    def frame_iterator(self, item: Item) -> Optional[Iterator[np.ndarray]]:
        """The frames of ``item`` one at a time, or ``None`` (the default)
        when only :meth:`load_frames` can load them.

        Adapters of videos return a decoder here, so that the writer stores
        frames while the rest of the video is decoded, with a few frames in
        memory instead of the whole video.
        """
        return None

    def iter_streams(self, slice_element: Optional[slice] = None) -> Iterator[Dict[str, Any]]:
        """As :meth:`iter_data`, but where :meth:`frame_iterator` gives an
        iterator it is the item's ``'frames'``; iterating it raises
        :class:`gulpio.errors.ItemSkipped` when the item turns out to be
        unloadable (after some of its frames, possibly).

        An adapter that overrides :meth:`iter_data` gets its ``iter_data``.
        """
        if type(self).iter_data is not ItemListAdapter.iter_data:
            yield from self.iter_data(slice_element)
            return
        if slice_element is None:
            slice_element = slice(0, len(self))
        for item in self.items[slice_element]:
            try:
                frames = self.frame_iterator(item)
            except Exception as exc:  # as from load_frames: a reported skip
                yield self._skipped(item, exc)
                continue
            if frames is None:
                yield self._load_item(item)
            else:
                # 'skip_reason' is what the writer reports if no frame comes.
                yield {"id": item["id"], "meta": item["meta"],
                       "frames": self._guarded(item, frames),
                       "skip_reason": self._skip_reason(item, None)}

    def _guarded(self, item: Item, frames: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        try:
            yield from frames
        except Exception as exc:  # any per-item failure becomes a reported skip
            logger.debug("item %s cannot be loaded", item["id"], exc_info=True)
            raise ItemSkipped(self._skip_reason(item, exc)) from exc

    def finalize(self) -> None:
        """Called once in the parent after ingestion: writes ``label2idx.json``."""
        if getattr(self, "label2idx", None) is not None and getattr(self, "output_folder", None):
            os.makedirs(self.output_folder, exist_ok=True)
            self.write_label2idx_dict()  # type: ignore[attr-defined]


# ------------------------------------------------------------ input parsing
def _require_file(path: str, what: str) -> None:
    if not os.path.isfile(path):
        raise InvalidInputError(f"{what} {path} does not exist")


def _require_folder(path: str, what: str) -> None:
    if not os.path.isdir(path):
        raise InvalidInputError(f"{what} {path} does not exist or is not a folder")


def _read_json(path: str) -> Any:
    _require_file(path, "input file")
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as fp:
            return json.load(fp)
    except (ValueError, OSError, EOFError) as exc:
        raise InvalidInputError(f"{path} is not valid JSON: {exc}") from exc


def _read_20bn_json(path: str, label_name: str) -> List[Dict[str, Any]]:
    """Entries ``{'id', label_name}`` of a 20BN JSON list (``.json`` or ``.json.gz``)."""
    data = _read_json(path)
    if not isinstance(data, list):
        raise InvalidInputError(f"{path}: expected a JSON list of {{\"id\": ..., "
                                f"\"{label_name}\": ...}} objects, got {type(data).__name__}")
    with_label = 0
    for number, entry in enumerate(data):
        if not isinstance(entry, dict) or "id" not in entry:
            raise InvalidInputError(f"{path}: entry {number} has no 'id': {entry!r}"[:300])
        with_label += label_name in entry
    if data and with_label == 0:
        logger.warning("%s: no entry has the label key %r; labelling every item %r",
                       path, label_name, DUMMY_LABEL)
    elif with_label < len(data):
        missing = next(i for i, e in enumerate(data) if label_name not in e)
        raise InvalidInputError(f"{path}: entry {missing} has no {label_name!r} key "
                                f"(but {with_label} other entries do)")
    entries = []
    for entry in data:
        entry = dict(entry)
        entry.setdefault(label_name, DUMMY_LABEL)
        entries.append(entry)
    return entries


def _read_20bn_csv(path: str) -> List[Dict[str, Any]]:
    """Rows ``id;label`` (``id`` alone: a test-split row labelled ``dummy``)."""
    _require_file(path, "input file")
    entries = []
    try:
        with open(path, newline="", encoding="utf-8") as fp:
            for number, row in enumerate(csv.reader(fp, delimiter=";"), start=1):
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                if len(row) > 2 or not row[0].strip():
                    raise InvalidInputError(
                        f"{path}, line {number}: expected 'id;label' or 'id', got {';'.join(row)!r}")
                label = row[1] if len(row) == 2 else DUMMY_LABEL
                entries.append({"id": row[0].strip(), "label": label})
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{path} is not a UTF-8 text file: {exc}") from exc
    return entries


def _as_frame_rate(value: Any) -> Optional[float]:
    """``frame_rate`` as a number (strings such as ``"8"`` accepted, as the original did)."""
    if value is None or isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    try:
        number = float(str(value).strip())
    except ValueError:
        raise InvalidInputError(f"frame_rate must be a number, got {value!r}") from None
    return int(number) if number.is_integer() else number


def _label_meta(entries: List[Dict[str, Any]], label_name: str,
                label2idx: Dict[str, int]) -> List[Item]:
    return [{"id": e["id"],
             "meta": {"id": e["id"], "label": e[label_name], "idx": label2idx[str(e[label_name])]}}
            for e in entries]


# ------------------------------------------------------------------- 20BN
class _AllMetaMixin:
    """``all_meta``: the stored meta dicts (``{'id', 'label', 'idx'}``), as the original had."""

    items: List[Item]

    @property
    def all_meta(self) -> List[Dict[str, Any]]:
        """The stored meta of every item, in ingestion order (settable)."""
        return [item["meta"] for item in self.items]

    @all_meta.setter
    def all_meta(self, metas: List[Dict[str, Any]]) -> None:
        self.items = [{"id": meta["id"], "meta": meta} for meta in metas]


class _DecodedVideoMixin:
    """Video adapters: frames come from ``_decoder(item)``, a generator, so
    the writer can store them while the rest of the video is decoded."""

    def _decoder(self, item: Item) -> Iterator[np.ndarray]:
        raise NotImplementedError

    def load_frames(self, item: Item) -> List[np.ndarray]:
        return list(self._decoder(item))

    def frame_iterator(self, item: Item) -> Optional[Iterator[np.ndarray]]:
        if type(self).load_frames is not _DecodedVideoMixin.load_frames:
            return None  # a subclass loads frames its own way
        return self._decoder(item)


class _Video20BNAdapter(_DecodedVideoMixin, _AllMetaMixin, Custom20BNAdapterMixin, ItemListAdapter):
    """20BN video adapters: labelled items, one video each."""

    def __init__(self, folder: str, output_folder: str, shuffle: bool, frame_size: int,
                 frame_rate: Optional[float], shm_dir_path: str, label_name: str,
                 remove_duplicate_ids: bool) -> None:
        _require_folder(folder, "videos directory")
        self.folder = folder
        self.output_folder = output_folder
        self.shuffle = bool(shuffle)
        self.frame_size = int(frame_size)
        self.frame_rate = _as_frame_rate(frame_rate)
        self.shm_dir_path = shm_dir_path
        self.label_name = label_name
        self.label2idx = self.create_label2idx_dict(label_name)
        items = _label_meta(self.data, label_name, self.label2idx)
        self.set_items(items, self.shuffle, remove_duplicate_ids, output_folder)


    def video_path(self, item: Item) -> str:
        raise NotImplementedError

    def item_source(self, item: Item) -> str:
        return os.path.join(self.folder, str(item["id"]))

    def _decoder(self, item: Item) -> Iterator[np.ndarray]:
        # A generator: finding the file fails when the frames are asked for.
        yield from _video.iter_video_frames(self.video_path(item), frame_rate=self.frame_rate,
                                            frame_size=self.frame_size,
                                            shm_dir_path=self.shm_dir_path)


class Custom20BNJsonVideoAdapter(_Video20BNAdapter):
    """20BN JSON list of ``{"id", "<label_name>"}``; video ``folder/<id>/*.mp4``.

    Parameters
    ----------
    json_file : str
        ``.json`` or ``.json.gz`` file holding a list of objects.  Entries
        without the label key (a test split) are labelled ``"dummy"``.
    folder : str
        Folder with one sub-folder per id, holding one ``.mp4`` file.
    output_folder : str
        The gulp directory (for ``label2idx.json`` and duplicate removal).
    shuffle : bool
        Shuffle the items before writing.
    frame_size : int
        Shorter edge of the stored frames; ``-1`` keeps the size.
    frame_rate : float
        Frames per second sampled from each video (see :mod:`gulpio._video`).
    shm_dir_path : str
        Temporary folder, used only by the ffmpeg fallback.
    label_name : str
        Key of the label in the JSON entries.
    remove_duplicate_ids : bool
        Drop repeated ids and ids already in ``output_folder``.

    Stored meta per item: ``{'id', 'label', 'idx'}``.
    """

    def __init__(self, json_file: str, folder: str, output_folder: str, shuffle: bool = False,
                 frame_size: int = -1, frame_rate: float = 8, shm_dir_path: str = "/dev/shm",
                 label_name: str = "template", remove_duplicate_ids: bool = False) -> None:
        self.json_file = json_file
        self.data = _read_20bn_json(json_file, label_name)
        super().__init__(folder, output_folder, shuffle, frame_size, frame_rate,
                         shm_dir_path, label_name, remove_duplicate_ids)

    def video_path(self, item: Item) -> str:
        return get_single_video_path(os.path.join(self.folder, str(item["id"])), format_="mp4")


class Custom20BNCsvWebmAdapter(_Video20BNAdapter):
    """20BN CSV of ``id;label`` rows; video ``folder/<id>.webm``.

    Parameters are those of :class:`Custom20BNJsonVideoAdapter` with
    ``csv_file`` for ``json_file``; a row holding only an id is a test-split
    row labelled ``"dummy"``.  Stored meta per item: ``{'id', 'label', 'idx'}``.
    """

    def __init__(self, csv_file: str, folder: str, output_folder: str, shuffle: bool = False,
                 frame_size: int = -1, frame_rate: float = 12, shm_dir_path: str = "/dev/shm",
                 label_name: str = "label", remove_duplicate_ids: bool = False) -> None:
        self.csv_file = csv_file
        self.data = [{"id": e["id"], label_name: e["label"]} for e in _read_20bn_csv(csv_file)]
        super().__init__(folder, output_folder, shuffle, frame_size, frame_rate,
                         shm_dir_path, label_name, remove_duplicate_ids)

    def video_path(self, item: Item) -> str:
        return os.path.join(self.folder, f"{item['id']}.webm")

    def item_source(self, item: Item) -> str:
        return self.video_path(item)


class Custom20BNCsvJpegAdapter(_AllMetaMixin, Custom20BNAdapterMixin, ItemListAdapter):
    """20BN CSV of ``id;label`` rows; frames are the sorted ``folder/<id>/*.jpg``.

    Parameters
    ----------
    csv_file : str
    folder : str
    output_folder : str
    shuffle : bool
    frame_size : int
        Shorter edge of the stored frames; ``-1`` keeps the size.
    shm_dir_path : str
        Unused (kept for the original signature).
    remove_duplicate_ids : bool
        Drop repeated ids and ids already in ``output_folder`` (ours).

    Stored meta per item: ``{'id', 'label', 'idx'}``.
    """

    def __init__(self, csv_file: str, folder: str, output_folder: str, shuffle: bool = False,
                 frame_size: int = -1, shm_dir_path: str = "/dev/shm",
                 remove_duplicate_ids: bool = False) -> None:
        self.csv_file = csv_file
        self.data = _read_20bn_csv(csv_file)
        _require_folder(folder, "jpeg directory")
        self.folder = folder
        self.output_folder = output_folder
        self.shuffle = bool(shuffle)
        self.frame_size = int(frame_size)
        self.shm_dir_path = shm_dir_path
        self.label2idx = self.create_label2idx_dict("label")
        self.set_items(_label_meta(self.data, "label", self.label2idx), self.shuffle,
                        remove_duplicate_ids, output_folder)


    def item_source(self, item: Item) -> str:
        return os.path.join(self.folder, str(item["id"]))

    def load_frames(self, item: Item) -> List[np.ndarray]:
        frame_folder = self.item_source(item)
        if not os.path.isdir(frame_folder):
            raise ImageNotFound(f"frame folder {frame_folder} does not exist")
        # Numeric order: 1.jpg ... 9.jpg, 10.jpg (plain sorting would put
        # 10.jpg after 1.jpg); zero-padded names sort the same either way.
        paths = sorted(find_images_in_folder(frame_folder, formats=["jpg"]),
                       key=_numeric_key)
        if not paths:
            raise ImageNotFound(f"no .jpg frames in {frame_folder}")
        return [resize_by_short_edge(path, self.frame_size) for path in paths]


# ----------------------------------------------------------------- images
class _ImageAdapter(Custom20BNAdapterMixin, ItemListAdapter):
    """One image per item, labelled; ``self.data`` = ``[{'id', 'label', 'path'}]``."""

    img_size: int

    def _finish(self, shuffle: bool, remove_duplicate_ids: bool) -> None:
        self.shuffle = bool(shuffle)
        self.label2idx = self.create_label2idx_dict("label")
        items = [{"id": e["id"], "path": e["path"],
                  "meta": {"id": e["id"], "label": e["label"], "idx": self.label2idx[e["label"]]}}
                 for e in self.data]
        self.set_items(items, self.shuffle, remove_duplicate_ids, self.output_folder)

    def load_frames(self, item: Item) -> List[np.ndarray]:
        return [resize_by_short_edge(item["path"], self.img_size)]


class ImageListAdapter(_ImageAdapter):
    """A text file of ``path,label`` lines, one image per item.

    Parameters
    ----------
    input_file : str
        One ``path,label`` per line (empty lines are ignored).
    output_folder : str
    root_folder : str
        Prefix of the paths; ``''`` resolves them from the current directory.
    shuffle : bool
    img_size : int
        Shorter edge of the stored images; ``-1`` keeps the size.
    remove_duplicate_ids : bool
        Drop repeated ids and ids already in ``output_folder`` (ours).

    The id of an item is ``os.path.basename(label + '-' + path)``; stored
    meta: ``{'id', 'label', 'idx'}``.  Unreadable images are skipped.
    """

    def __init__(self, input_file: str, output_folder: str, root_folder: str = "",
                 shuffle: bool = False, img_size: int = -1,
                 remove_duplicate_ids: bool = False) -> None:
        self.input_file = input_file
        self.output_folder = output_folder
        self.root_folder = root_folder or ""
        self.img_size = int(img_size)
        self.data = self.read_input_file(input_file)
        self._finish(shuffle, remove_duplicate_ids)

    def read_input_file(self, input_file: str) -> List[Dict[str, str]]:
        """Parse the list file into ``[{'id', 'label', 'path'}]``."""
        _require_file(input_file, "image list")
        entries = []
        try:
            with open(input_file, encoding="utf-8") as fp:
                for number, line in enumerate(fp, start=1):
                    line = line.strip()
                    if not line:
                        continue
                    path, sep, label = line.rpartition(",")
                    if not sep or not path.strip() or not label.strip():
                        raise InvalidInputError(
                            f"{input_file}, line {number}: expected 'path,label', got {line!r}")
                    path, label = path.strip(), label.strip()
                    entries.append({"id": os.path.basename(label + "-" + path), "label": label,
                                    "path": os.path.join(self.root_folder, path)})
        except UnicodeDecodeError as exc:
            raise InvalidInputError(f"{input_file} is not a UTF-8 text file: {exc}") from exc
        return entries


class ImageFolderAdapter(_ImageAdapter):
    """Images in ``folder/<label>/<image>``; one item per image.

    Parameters
    ----------
    folder : str
    output_folder : str
    file_extensions : list of str
        Every listed extension is used (``['.jpg', '.png']``).
    shuffle : bool
    img_size : int
        Shorter edge of the stored images; ``-1`` keeps the size.
    remove_duplicate_ids : bool
        Drop repeated ids and ids already in ``output_folder`` (ours).

    The id of an item is ``<label>-<image file name>``; stored meta:
    ``{'id', 'label', 'idx'}``.  Unreadable images are skipped.
    """

    def __init__(self, folder: str, output_folder: str,
                 file_extensions: Sequence[str] = (".jpg", ".png"), shuffle: bool = False,
                 img_size: int = -1, remove_duplicate_ids: bool = False) -> None:
        _require_folder(folder, "images directory")
        if isinstance(file_extensions, str):
            file_extensions = [e for e in file_extensions.split(",") if e]
        self.folder = folder
        self.output_folder = output_folder
        self.file_extensions = list(file_extensions)
        self.img_size = int(img_size)
        self.data = self.get_meta()
        self._finish(shuffle, remove_duplicate_ids)

    def get_meta(self) -> List[Dict[str, str]]:
        """``[{'id', 'label', 'path'}]`` for every image, labels and files sorted."""
        extensions = tuple(self.file_extensions)
        entries = []
        for label in sorted(e.name for e in os.scandir(self.folder) if e.is_dir()):
            label_folder = os.path.join(self.folder, label)
            for name in sorted(os.listdir(label_folder)):
                if name.endswith(extensions) and os.path.isfile(os.path.join(label_folder, name)):
                    entries.append({"id": f"{label}-{name}", "label": label,
                                    "path": os.path.join(label_folder, name)})
        return entries


# ------------------------------------------------- ActivityNet and Kinetics
def _index_videos(folder: str, key_of_name: Callable[[str], str]) -> Dict[str, str]:
    """Map key -> path for the files in ``folder`` and its direct sub-folders."""
    index: Dict[str, str] = {}
    subfolders = []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.is_dir():
            subfolders.append(entry.path)
        elif key_of_name(entry.name):
            index.setdefault(key_of_name(entry.name), entry.path)
    for subfolder in subfolders:
        for entry in sorted(os.scandir(subfolder), key=lambda e: e.name):
            if entry.is_file() and key_of_name(entry.name):
                index.setdefault(key_of_name(entry.name), entry.path)
    return index


class _IndexedVideoAdapter(_DecodedVideoMixin, ItemListAdapter):
    """Videos found by scanning ``folder`` once; every frame is kept."""

    def _setup(self, json_file: str, folder: str, shuffle: bool,
               frame_size: int, shm_dir_path: str) -> None:
        _require_folder(folder, "videos directory")
        self.json_file = json_file
        self.folder = folder
        self.shuffle = bool(shuffle)
        self.frame_size = int(frame_size)
        self.shm_dir_path = shm_dir_path
        self.video_index = _index_videos(folder, self._key_of)

    @staticmethod
    def _key_of(name: str) -> str:
        raise NotImplementedError

    def _decoder(self, item: Item) -> Iterator[np.ndarray]:
        if not item["path"]:
            raise VideoNotFound(f"no video file {self.item_source(item)}")
        yield from _video.iter_video_frames(item["path"], frame_rate=None,
                                            frame_size=self.frame_size,
                                            shm_dir_path=self.shm_dir_path)


class ActivitynetAdapter(_IndexedVideoAdapter):
    """ActivityNet: ``{"database": {vid: {"subset": ..., ...}}}``, videos ``folder/<vid>.<ext>``.

    Parameters
    ----------
    json_file : str
        ActivityNet's JSON (``.json`` or ``.json.gz``).
    folder : str
        Folder of the videos, named ``<vid>.<ext>`` (``v_<vid>.<ext>`` also
        found).
    shuffle : bool
    frame_size : int
        Shorter edge of the stored frames; ``-1`` keeps the size.
    shm_dir_path : str
        Temporary folder, used only by the ffmpeg fallback.
    phase : str
        The subset to ingest (``'training'``, ``'validation'``, ``'testing'``).

    Every frame is kept; the stored meta is the video's database entry.

    Raises
    ------
    gulpio.errors.InvalidInputError
        The JSON is not ActivityNet's, its database is empty, or no video is
        in the subset ``phase`` (the message lists the subsets there are).
    """

    def __init__(self, json_file: str, folder: str, shuffle: bool = False, frame_size: int = -1,
                 shm_dir_path: str = "/dev/shm", phase: str = "training") -> None:
        data = _read_json(json_file)
        if not isinstance(data, dict) or not isinstance(data.get("database"), dict):
            raise InvalidInputError(f"{json_file}: expected an object with a \"database\" object")
        self._setup(json_file, folder, shuffle, frame_size, shm_dir_path)
        self.phase = phase
        if not data["database"]:
            raise InvalidInputError(f"{json_file}: the \"database\" object is empty (no videos)")
        items = []
        subsets: Dict[str, int] = {}  # repr of each subset -> number of videos
        for vid, entry in data["database"].items():
            if not isinstance(entry, dict):
                raise InvalidInputError(f"{json_file}: database entry {vid!r} is not an object")
            if "subset" in entry:
                subsets[repr(entry["subset"])] = subsets.get(repr(entry["subset"]), 0) + 1
            if entry.get("subset") == phase:
                items.append({"id": vid, "meta": entry, "path": self.video_index.get(vid)})
        if not items:
            found = ", ".join(f"{name} ({count} video{'s' * (count != 1)})"
                              for name, count in sorted(subsets.items())) or "none"
            unlabelled = len(data["database"]) - sum(subsets.values())
            if unlabelled:
                found += f"; {unlabelled} video{'s' * (unlabelled != 1)} without a \"subset\""
            raise InvalidInputError(f"{json_file}: no video has subset {phase!r}; "
                                    f"subsets in the file: {found}")
        self.set_items(items, self.shuffle)

    @staticmethod
    def _key_of(name: str) -> str:
        stem = os.path.splitext(name)[0]
        return stem[2:] if stem.startswith("v_") else stem

    def item_source(self, item: Item) -> str:
        return item["path"] or os.path.join(self.folder, f"{item['id']}.*")


class KineticsAdapter(_IndexedVideoAdapter):
    """Kinetics: ``{vid: {...}}``, videos ``folder/<class>/<vid>_<start>_<end>.mp4``.

    Parameters
    ----------
    json_file : str
        Kinetics' JSON (``.json`` or ``.json.gz``).
    folder : str
        Folder with one sub-folder per class (videos directly in ``folder``
        are found too).
    shuffle : bool
    frame_size : int
        Shorter edge of the stored frames; ``-1`` keeps the size.
    shm_dir_path : str
        Temporary folder, used only by the ffmpeg fallback.

    Every frame is kept; the stored meta is the JSON entry of the video.
    """

    def __init__(self, json_file: str, folder: str, shuffle: bool = False, frame_size: int = -1,
                 shm_dir_path: str = "/dev/shm") -> None:
        data = _read_json(json_file)
        if not isinstance(data, dict):
            raise InvalidInputError(f"{json_file}: expected an object mapping video ids to entries")
        self._setup(json_file, folder, shuffle, frame_size, shm_dir_path)
        items = [{"id": vid, "meta": entry, "path": self.video_index.get(vid)}
                 for vid, entry in data.items()]
        self.set_items(items, self.shuffle)

    @staticmethod
    def _key_of(name: str) -> str:
        stem, ext = os.path.splitext(name)
        parts = stem.rsplit("_", 2)
        if ext.lower() != ".mp4" or len(parts) != 3:
            return ""
        return parts[0]

    def item_source(self, item: Item) -> str:
        return item["path"] or os.path.join(self.folder, "*", f"{item['id']}_*.mp4")
