"""The exception tree of geocore.

Every error raised on purpose by geocore derives from :class:`GeocoreError` and
from the builtin exception it resembles, so callers can catch either.
"""

from __future__ import annotations

__all__ = [
    "CancelledError",
    "CatalogFormatError",
    "CatalogReadError",
    "CRSError",
    "CoordinateError",
    "CraterValueError",
    "ExtractionError",
    "GeocoreError",
    "GridError",
    "ModelError",
    "OutputExistsError",
    "OutputWriteError",
    "RasterReadError",
    "SceneParameterError",
    "TargetSpecError",
    "TileNameError",
]


class GeocoreError(Exception):
    """Root of all errors raised by geocore."""


class CRSError(GeocoreError, ValueError):
    """A coordinate reference system is missing, unsupported or not of Mars."""


class CoordinateError(GeocoreError, ValueError):
    """A longitude, latitude or pixel coordinate is out of its valid range."""


class GridError(GeocoreError, ValueError):
    """A pixel grid is malformed or cannot answer the question asked of it."""


class TileNameError(GeocoreError, ValueError):
    """A THEMIS tile name or tile position is not valid."""


class CatalogFormatError(GeocoreError, ValueError):
    """A crater catalogue file cannot be read: wrong format or missing columns."""


class CatalogReadError(GeocoreError, OSError):
    """A crater catalogue file or folder does not exist or cannot be opened."""


class CraterValueError(GeocoreError, ValueError):
    """A crater has an impossible value (latitude out of range, negative diameter...)."""


class ExtractionError(GeocoreError, ValueError):
    """Crater extraction parameters or input map are not valid."""


class TargetSpecError(GeocoreError, ValueError):
    """A target kind, inner ratio or ring width is not valid."""


class SceneParameterError(GeocoreError, ValueError):
    """A parameter of a synthetic scene is out of its range."""


class ModelError(GeocoreError, ValueError):
    """An ONNX model file is missing, unreadable, of the wrong shape, or lacks its metadata."""


class RasterReadError(GeocoreError, OSError):
    """A raster file cannot be opened or read."""


class OutputExistsError(GeocoreError, FileExistsError):
    """An output file exists and overwriting was not requested."""


class OutputWriteError(GeocoreError, OSError):
    """An output file cannot be written (missing or read-only folder...)."""


class CancelledError(GeocoreError):
    """A long operation was cancelled by its caller (a cancel callback returned True)."""
