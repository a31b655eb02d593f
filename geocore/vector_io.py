"""Crater vector writers (work in progress; write_craters' signature is final)."""

from __future__ import annotations

import os
from pathlib import Path

from .crater import CraterCatalog
from .errors import OutputWriteError

__all__ = ["write_craters"]

SUFFIXES = (".gpkg", ".csv", ".diam")


def write_craters(
    path: str | os.PathLike, catalog: CraterCatalog, overwrite: bool = False, **options
) -> Path:
    """Write ``catalog`` to ``path`` in the format its suffix names (.gpkg, .csv, .diam)."""
    suffix = Path(path).suffix.lower()
    raise OutputWriteError(
        f"cannot write {str(path)!r}: writer for {suffix!r} not ready yet; supported {SUFFIXES}"
    )
