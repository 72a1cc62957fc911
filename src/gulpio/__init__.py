"""gulpio: binary storage format for deep learning on videos."""
from ._version import __version__
from .fileio import ChunkWriter, GulpChunk, GulpDirectory, GulpIngestor

__all__ = [
    "__version__",
    "ChunkWriter",
    "GulpChunk",
    "GulpDirectory",
    "GulpIngestor",
]
