"""Write outputs safely: to a temporary name first, then move into place.

An interrupted or failed run leaves no half-written file, and an existing file
is only replaced when the caller asked for it.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

from .errors import OutputExistsError, OutputWriteError

__all__ = ["atomic_output", "check_output_path"]

# Files some drivers create beside their output (SQLite journals of a GeoPackage).
_SIDECARS = ("-journal", "-wal", "-shm", ".aux.xml")


def check_output_path(path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Check that ``path`` can be written, before any work is done.

    Raises
    ------
    OutputExistsError
        ``path`` exists and ``overwrite`` is false.
    OutputWriteError
        The folder does not exist, is not a folder, or ``path`` is a folder.
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        raise OutputWriteError(
            f"cannot write {str(path)!r}: folder {str(parent)!r} does not exist; create it first"
        )
    if not parent.is_dir():
        raise OutputWriteError(f"cannot write {str(path)!r}: {str(parent)!r} is not a folder")
    if path.is_dir():
        raise OutputWriteError(f"cannot write {str(path)!r}: it is a folder; give a file name")
    if path.exists() and not overwrite:
        raise OutputExistsError(
            f"{str(path)!r} already exists; pass --overwrite (overwrite=True) to replace it"
        )
    return path


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it to ``path`` on success.

    The temporary name keeps the suffix (drivers choose formats by it). On any
    error the temporary file is removed and ``path`` is left as it was.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> with atomic_output(folder / "a.txt") as tmp:
    ...     _ = tmp.write_text("hello")
    >>> (folder / "a.txt").read_text()
    'hello'
    """
    path = check_output_path(path, overwrite)
    tmp = path.with_name(f".{path.stem}.tmp-{uuid.uuid4().hex[:8]}{path.suffix}")
    try:
        try:
            tmp.touch()
        except OSError as err:
            raise OutputWriteError(
                f"cannot write in folder {str(path.parent)!r} ({err.strerror}); "
                "choose a folder you can write to"
            ) from err
        yield tmp
        if path.exists() and not overwrite:  # appeared while we worked
            raise OutputExistsError(
                f"{str(path)!r} appeared while writing; pass --overwrite to replace it"
            )
        os.replace(tmp, path)
    finally:
        for leftover in [tmp, *(Path(str(tmp) + s) for s in _SIDECARS)]:
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
