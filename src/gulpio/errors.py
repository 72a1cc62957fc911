"""Exceptions raised by gulpio.

Every exception derives from :class:`GulpError`; specific ones also derive
from the builtin that callers already catch (``KeyError`` for an unknown id,
``FileNotFoundError`` for a missing file, ``ValueError`` for bad content).
"""


class GulpError(Exception):
    """Base class of every gulpio error."""


class GulpIdNotFoundError(GulpError, KeyError):
    """An id that is not in the chunk or directory."""

    def __str__(self) -> str:  # KeyError would show the repr of the message
        return str(self.args[0]) if self.args else ""


class DuplicateIdError(GulpError, ValueError):
    """The same id is stored in more than one chunk."""


class MissingChunkFileError(GulpError, FileNotFoundError):
    """A chunk's data file without its meta file, or the reverse."""


class IncompleteChunkError(GulpError, RuntimeError):
    """A chunk left behind by an interrupted write."""


class CorruptMetaError(GulpError, ValueError):
    """A meta file that does not parse or does not describe the data file."""


class FrameDecodeError(GulpError, ValueError):
    """A frame record that does not decode as an image."""


class GulpIOEmptyFolder(GulpError, FileNotFoundError):
    """A folder that holds no gulp chunks."""


class InvalidInputError(GulpError, ValueError):
    """Ingestion input (list file, videos directory, ...) that cannot be used."""


class ItemSkipped(GulpError):
    """Raised by an adapter for one item that cannot be loaded; the run goes on."""
