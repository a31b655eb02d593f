"""Crater catalogue readers: Robbins & Hynek (2012), YOLO labels, the project's own files.

Every reader returns a :class:`~geocore.crater.CraterCatalog` with longitudes
wrapped to -180..180 degrees east (files may use -180..180 or 0..360) and
diameters in km. Pixel coordinates (``x_px``, ``y_px``) always use the
pixel-*centre* convention of :mod:`geocore.grid`: the centre of pixel (0, 0) is
``(0.0, 0.0)``.

Formats
-------
* The full Robbins release ``RobbinsCraters_20121016.tsv`` (tab-separated,
  latin-1, ~380k rows): :func:`read_robbins_tsv`.
* One per-tile CSV of the seed's split, ``CSV_Tile_NN_..._px.csv``:
  :func:`read_robbins_tile_csv`; a folder of them: :func:`read_robbins_tiles`.
* YOLO box files of un-georeferenced images: see :mod:`geocore.yolo`.
* The project's CSV (columns ``lon, lat, diameter_km`` and optionally
  ``x_px, y_px, diameter_px, confidence, source``) and GeoPackage (a layer with
  the same fields): :func:`read_crater_csv`, :func:`read_crater_gpkg`.

:func:`read_catalog` recognises all the georeferenced formats; :func:`load_catalog`
also filters by bounds and diameter and drops duplicates.

Only numpy and the standard library are imported here, so the module runs in
QGIS's Python; Pillow and pyogrio are imported by the functions that need them.
"""

from __future__ import annotations

import csv
import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .crater import CraterCatalog
from .errors import (
    CatalogFormatError,
    CatalogReadError,
    CoordinateError,
    CraterValueError,
)
from .grid import wrap_longitude

__all__ = [
    "ROBBINS_SOURCE",
    "check_bbox",
    "check_diameter_range",
    "load_catalog",
    "read_catalog",
    "read_crater_csv",
    "read_crater_gpkg",
    "read_robbins_tile_csv",
    "read_robbins_tiles",
    "read_robbins_tsv",
]

log = logging.getLogger(__name__)

#: ``source`` value of craters read from the Robbins & Hynek (2012) catalogue.
ROBBINS_SOURCE = "Robbins2012"

_ROBBINS = {
    "lon": "LONGITUDE_CIRCLE_IMAGE",
    "lat": "LATITUDE_CIRCLE_IMAGE",
    "diameter_km": "DIAM_CIRCLE_IMAGE",
}
# Pixel row/column of the centre in the 7680 px tile, corner convention.
_ROBBINS_PIXELS = {"x_px": "LONG_X_PX", "y_px": "LAT_Y_PX"}
_TILE_GLOB = "CSV_Tile_*.csv"
# The project's own columns, with the other names accepted for them.
_PROJECT = {
    "lon": ("lon", "lon_deg"),
    "lat": ("lat", "lat_deg"),
    "diameter_km": ("diameter_km",),
    "x_px": ("x_px",),
    "y_px": ("y_px",),
    "diameter_px": ("diameter_px",),
    "confidence": ("confidence",),
    "source": ("source",),
}
_FORMATS_HELP = (
    "a folder of Robbins CSV_Tile_*.csv files, the Robbins .tsv release, a Robbins tile "
    ".csv, or a project .csv / .gpkg with lon, lat, diameter_km"
)


# ------------------------------------------------------------------- helpers
def _columns_message(path, missing, found, expected) -> str:
    return (
        f"{str(path)!r} lacks column(s) {', '.join(missing)}; found {list(found)}, "
        f"expected {', '.join(expected)}"
    )


def _to_float(path, values, lines, column: str, where: str, allow_empty: bool) -> np.ndarray:
    """Convert a column of cells to floats; name the line of the first bad cell."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiu":
        return values.astype(float)
    try:
        return np.array(values, dtype=float)
    except (TypeError, ValueError):
        pass  # some cell is empty or not a number: find which, below
    out = np.empty(len(values))
    for i, cell in enumerate(values):
        text = "" if cell is None else str(cell).strip()
        if not text and allow_empty:
            out[i] = math.nan
            continue
        try:
            out[i] = float(text)
        except ValueError:
            raise CatalogFormatError(
                f"{str(path)!r}, {where} {lines[i]}: column {column!r} holds {cell!r}, "
                "not a number; fix or remove that row"
            ) from None
    return out


def _check_rows(path, lines, where: str, columns: dict[str, np.ndarray]) -> None:
    """Raise CraterValueError naming the first impossible value and its line."""
    lon, lat, diameter_km = columns["lon"], columns["lat"], columns["diameter_km"]
    unknown = np.isnan(lon) & np.isnan(lat)
    has_pixels = "x_px" in columns and "y_px" in columns
    lonlat = [lon, lat]
    checks = [
        (~unknown & ~(np.isfinite(lon) & np.isfinite(lat)), "longitude, latitude", lonlat,
         "must both be numbers (or both empty, with x_px, y_px given)"),
        (~unknown & (np.abs(lat) > 90), "latitude", [lat], "is outside [-90, 90] degrees"),
        (~unknown & ((lon < -180) | (lon > 360)), "longitude", [lon],
         "is outside -180..360 degrees east"),
        (~(diameter_km > 0) | ~np.isfinite(diameter_km), "diameter_km", [diameter_km],
         "must be a positive number of km"),
    ]  # fmt: skip
    if has_pixels:
        x, y = columns["x_px"], columns["y_px"]
        checks.append(
            (unknown & ~(np.isfinite(x) & np.isfinite(y)), "x_px, y_px", [x, y],
             "must be numbers when longitude and latitude are empty")
        )  # fmt: skip
    else:
        checks.append((unknown, "longitude, latitude", lonlat, "are missing"))
    if "confidence" in columns:
        conf = columns["confidence"]
        checks.append((~np.isnan(conf) & ~((conf >= 0) & (conf <= 1)), "confidence", [conf],
                       "is outside [0, 1]"))  # fmt: skip
    for bad, name, values, problem in checks:
        if np.any(bad):
            i = int(np.argmax(bad))
            shown = ", ".join(f"{float(v[i]):g}" for v in values)
            raise CraterValueError(
                f"{str(path)!r}, {where} {lines[i]}: {name} {shown} {problem}; "
                "fix or remove that row"
            )


def _build(path, raw: dict, lines, where: str, source=None) -> CraterCatalog:
    """Make a validated catalogue from raw columns (cells or arrays) of one file."""
    lines = np.asarray(lines)
    columns = {
        name: _to_float(path, values, lines, name, where, allow_empty=name != "diameter_km")
        for name, values in raw.items()
        if name != "source"
    }
    n = len(lines)
    for name in ("lon", "lat"):
        columns.setdefault(name, np.full(n, math.nan))
    _check_rows(path, lines, where, columns)
    lon = columns["lon"]
    # Wrap only what needs it, so that -180..180 values are kept bit for bit.
    columns["lon"] = np.where((lon >= -180) & (lon < 180), lon, wrap_longitude(lon))
    if "source" in raw:
        columns["source"] = np.array(
            [None if s is None or s == "" else str(s) for s in raw["source"]], dtype=object
        )
    elif source is not None:
        columns["source"] = np.full(n, source, dtype=object)
    return CraterCatalog(
        lon_deg=columns.pop("lon"),
        lat_deg=columns.pop("lat"),
        diameter_km=columns.pop("diameter_km"),
        **columns,
    )


def _read_table(path, delimiter: str, encoding: str, wanted: dict[str, tuple[str, ...]]):
    """Stream a delimited text file; keep only the ``wanted`` columns (as strings).

    ``wanted`` maps a column's name in the result to the header names accepted for it
    (compared without case). Returns ``(header, columns, line_numbers)``.
    """
    path = Path(path)
    try:
        with open(path, encoding=encoding, newline="") as fh:
            reader = csv.reader(fh, delimiter=delimiter)
            header = next(reader, None)
            if header is None:
                raise CatalogFormatError(
                    f"{str(path)!r} is empty; expected a header row then one crater per line"
                )
            header = [h.strip().lstrip("\ufeff") for h in header]
            lookup = {h.upper(): i for i, h in enumerate(header)}
            index = {}
            for name, accepted in wanted.items():
                for alias in accepted:
                    if alias.upper() in lookup:
                        index[name] = lookup[alias.upper()]
                        break
            cells: dict[str, list[str]] = {name: [] for name in index}
            lines: list[int] = []
            width = max(index.values(), default=-1) + 1
            for row in reader:
                if len(row) < width:
                    if not any(c.strip() for c in row):
                        continue  # blank line
                    raise CatalogFormatError(
                        f"{str(path)!r}, line {reader.line_num}: {len(row)} fields, "
                        f"expected {len(header)} like the header"
                    )
                lines.append(reader.line_num)
                for name, i in index.items():
                    cells[name].append(row[i])
    except csv.Error as err:
        raise CatalogFormatError(f"{str(path)!r} is not a readable table: {err}") from err
    except UnicodeDecodeError as err:
        raise CatalogFormatError(
            f"{str(path)!r} is not {encoding} text ({err.reason}); save it as UTF-8 CSV"
        ) from err
    return header, cells, lines


def require_path(path) -> Path:
    """The path as a ``Path``, raising CatalogReadError when it does not exist."""
    path = Path(path)
    if not path.exists():
        raise CatalogReadError(f"catalogue {str(path)!r} does not exist; check the path")
    return path


# ------------------------------------------------------------------ Robbins
def _read_robbins(path, delimiter: str, keep_pixels: bool) -> CraterCatalog:
    path = require_path(path)
    wanted = {name: (col,) for name, col in _ROBBINS.items()}
    if keep_pixels:
        wanted.update({name: (col,) for name, col in _ROBBINS_PIXELS.items()})
    header, cells, lines = _read_table(path, delimiter, "latin-1", wanted)
    missing = [col for name, (col,) in wanted.items() if name not in cells]
    if missing:
        raise CatalogFormatError(
            _columns_message(path, missing, header, [c for (c,) in wanted.values()])
        )
    catalog = _build(path, cells, lines, "line", source=ROBBINS_SOURCE)
    if keep_pixels:
        # The tile files count pixels from the corner (x = (lon - lon_min) * 256);
        # geocore's x_px/y_px count from the centre of pixel (0, 0).
        catalog = catalog.replace(x_px=catalog.x_px - 0.5, y_px=catalog.y_px - 0.5)
    log.info("read %d craters from %s", len(catalog), path)
    return catalog


def read_robbins_tsv(path: str | os.PathLike) -> CraterCatalog:
    """Read the Robbins & Hynek (2012) release ``RobbinsCraters_20121016.tsv``.

    The file is streamed line by line; only ``LONGITUDE_CIRCLE_IMAGE``,
    ``LATITUDE_CIRCLE_IMAGE`` and ``DIAM_CIRCLE_IMAGE`` are kept, wherever they
    are in the header. Longitudes (-180..180 or 0..360) are wrapped to -180..180.

    Parameters
    ----------
    path : str or os.PathLike
        Tab-separated, latin-1 text with a header row.

    Returns
    -------
    CraterCatalog
        ``source`` is ``"Robbins2012"``.

    Raises
    ------
    CatalogFormatError
        Empty file, missing columns, a row with too few fields, a cell that is
        not a number.
    CraterValueError
        Latitude outside [-90, 90], non-positive diameter (the line is named).
    """
    return _read_robbins(path, "\t", keep_pixels=False)


def read_robbins_tile_csv(path: str | os.PathLike, keep_pixels: bool = True) -> CraterCatalog:
    """Read one per-tile Robbins CSV (``CSV_Tile_NN_<latmin>_<latmax>_<lonmin>_<lonmax>_px.csv``).

    Parameters
    ----------
    path : str or os.PathLike
        Comma-separated file with ``LATITUDE_CIRCLE_IMAGE``,
        ``LONGITUDE_CIRCLE_IMAGE``, ``DIAM_CIRCLE_IMAGE`` and, when
        ``keep_pixels``, ``LONG_X_PX`` and ``LAT_Y_PX``.
    keep_pixels : bool
        Keep the tile's pixel columns as ``x_px``/``y_px``. The file counts them
        from the pixel corner; they are shifted by -0.5 px to geocore's centre
        convention (and are rounded to whole pixels in the file). ``RAD_PX`` is
        not kept: it is ``ceil(D / 2 / 231.54 m)``, on average half a pixel too
        large (see docs/targets.md).

    Returns
    -------
    CraterCatalog

    Raises
    ------
    CatalogFormatError, CraterValueError
        As :func:`read_robbins_tsv`.
    """
    return _read_robbins(path, ",", keep_pixels=keep_pixels)


def read_robbins_tiles(folder: str | os.PathLike) -> CraterCatalog:
    """Read every ``CSV_Tile_*.csv`` of a folder; drop the craters listed twice.

    A crater on a shared tile edge is listed in both tiles (15 such in the
    -30..30 degree split); the first copy is kept. Pixel columns are dropped,
    as each file has its own pixel frame.

    Raises
    ------
    CatalogFormatError
        The folder holds no ``CSV_Tile_*.csv`` file, or one of them is malformed.
    """
    folder = require_path(folder)
    files = sorted(folder.glob(_TILE_GLOB))
    if not files:
        raise CatalogFormatError(
            f"no {_TILE_GLOB} file in {str(folder)!r}; expected the Robbins per-tile CSVs"
        )
    raw = CraterCatalog.concat(_read_robbins(f, ",", keep_pixels=False) for f in files)
    catalog = raw.drop_duplicates()
    log.info(
        "read %d craters from %d tile files in %s; dropped %d duplicates on tile edges",
        len(raw), len(files), folder, len(raw) - len(catalog),
    )  # fmt: skip
    return catalog


# --------------------------------------------------------- project formats
def read_crater_csv(path: str | os.PathLike, delimiter: str = ",") -> CraterCatalog:
    r"""Read the project's crater CSV (as written by :func:`geocore.vector_io.write_craters`).

    Parameters
    ----------
    path : str or os.PathLike
        UTF-8 text with a header holding ``lon``, ``lat``, ``diameter_km`` and
        optionally ``x_px``, ``y_px``, ``diameter_px``, ``confidence``,
        ``source`` (any order, any case; ``lon_deg``/``lat_deg`` accepted).
        Empty cells of optional columns are missing values; ``lon``/``lat`` may
        be empty (or absent) for craters that have ``x_px``/``y_px``.
    delimiter : str
        Field separator.

    Returns
    -------
    CraterCatalog

    Raises
    ------
    CatalogFormatError
        Empty file, missing columns, a cell that is not a number.
    CraterValueError
        An impossible value; the line is named.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "craters.csv"
    >>> _ = path.write_text("lon,lat,diameter_km\n350.5,-4.25,12\n")
    >>> cat = read_crater_csv(path)
    >>> float(cat.lon_deg[0]), float(cat.diameter_km[0])
    (-9.5, 12.0)
    """
    path = require_path(path)
    header, cells, lines = _read_table(path, delimiter, "utf-8-sig", _PROJECT)
    _check_project_columns(path, cells, header)
    return _build(path, cells, lines, "line")


def _check_project_columns(path, found: Sequence[str], header: Sequence[str]) -> None:
    need = ["diameter_km"]
    if not {"x_px", "y_px"} <= set(found):
        need += ["lon", "lat"]
    missing = [name for name in need if name not in found]
    if missing:
        raise CatalogFormatError(
            _columns_message(
                path,
                missing,
                header,
                ["lon", "lat", "diameter_km (optional: x_px, y_px, diameter_px, confidence, "
                 "source; lon/lat may be replaced by x_px, y_px)"],
            )
        )  # fmt: skip


def read_crater_gpkg(path: str | os.PathLike, layer: str | int | None = None) -> CraterCatalog:
    """Read craters from a GeoPackage layer with ``lon``, ``lat``, ``diameter_km`` fields.

    Fields are those of :func:`read_crater_csv`; the geometry is not read. Needs
    pyogrio (imported here).

    Parameters
    ----------
    path : str or os.PathLike
        The ``.gpkg`` file.
    layer : str or int, optional
        Layer name or index; by default the only layer, or the one named ``craters``.

    Raises
    ------
    CatalogFormatError
        Not a readable GeoPackage, several layers and none chosen, missing fields.
    CraterValueError
        An impossible value; the feature id is named.
    """
    import pyogrio
    from pyogrio.errors import DataLayerError, DataSourceError

    path = require_path(path)
    try:
        if layer is None:
            names = [str(name) for name, _ in pyogrio.list_layers(path)]
            if len(names) == 1 or "craters" in names:
                layer = names[0] if len(names) == 1 else "craters"
            else:
                raise CatalogFormatError(
                    f"{str(path)!r} has layers {names}; choose one with layer=..."
                )
        meta, fids, _, values = pyogrio.raw.read(
            path, layer=layer, read_geometry=False, return_fids=True
        )
    except (DataSourceError, DataLayerError) as err:
        raise CatalogFormatError(f"cannot read {str(path)!r} as a GeoPackage: {err}") from err
    header = [str(name) for name in meta["fields"]]
    lookup = {name.lower(): i for i, name in enumerate(header)}
    raw = {}
    for name, accepted in _PROJECT.items():
        for alias in accepted:
            if alias in lookup:
                raw[name] = values[lookup[alias]]
                break
    _check_project_columns(path, raw, header)
    return _build(path, raw, fids, "feature")


def _sniff_header(path: Path) -> tuple[list[str], str]:
    """The header names of a text table, and its delimiter (tab or comma)."""
    with open(path, "rb") as fh:
        first = fh.readline()
    text = first.decode("latin-1").removeprefix("\u00ef\u00bb\u00bf").strip("\r\n")
    if not text.strip():
        raise CatalogFormatError(
            f"{str(path)!r} is empty or starts with a blank line; expected a header row "
            f"naming the columns ({_FORMATS_HELP})"
        )
    delimiter = "\t" if "\t" in text else ","
    return [h.strip() for h in text.split(delimiter)], delimiter


def read_catalog(source: str | os.PathLike, **options) -> CraterCatalog:
    r"""Read a georeferenced crater catalogue, whatever its format.

    Recognises, by what ``source`` is and by its header:

    * a folder of Robbins ``CSV_Tile_*.csv`` files (:func:`read_robbins_tiles`);
    * a file whose header has the Robbins columns, tab- or comma-separated
      (:func:`read_robbins_tsv`, :func:`read_robbins_tile_csv`);
    * a project ``.csv`` (:func:`read_crater_csv`) or ``.gpkg`` (:func:`read_crater_gpkg`).

    Parameters
    ----------
    source : str or os.PathLike
        File or folder.
    **options
        Passed to the reader chosen (e.g. ``layer=`` for a GeoPackage,
        ``keep_pixels=`` for a Robbins tile CSV).

    Returns
    -------
    CraterCatalog
        Longitudes -180..180, diameters in km.

    Raises
    ------
    CatalogFormatError
        Missing path, unknown file type, unknown or missing columns, empty file.
    CraterValueError
        An impossible value (file and line named).

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "tile.csv"
    >>> _ = path.write_text("LATITUDE_CIRCLE_IMAGE,LONGITUDE_CIRCLE_IMAGE,DIAM_CIRCLE_IMAGE\n"
    ...                     "-5.4,137.4,154.0\n")
    >>> len(read_catalog(path))
    1
    """
    path = require_path(source)
    if path.is_dir():
        if any(path.glob(_TILE_GLOB)):
            return read_robbins_tiles(path, **options)
        hint = ""
        if any(path.glob("*.txt")):
            hint = (
                "; for YOLO label files use read_yolo_folder(labels_dir, images_dir, resolution_m)"
            )
        raise CatalogFormatError(f"folder {str(path)!r} holds no {_TILE_GLOB} file{hint}")
    suffix = path.suffix.lower()
    if suffix == ".gpkg":
        return read_crater_gpkg(path, **options)
    if suffix not in (".csv", ".tsv", ".tab", ".txt"):
        raise CatalogFormatError(
            f"unknown catalogue file type {suffix or path.name!r} for {str(path)!r}; "
            f"expected {_FORMATS_HELP}"
        )
    header, delimiter = _sniff_header(path)
    names = {h.upper() for h in header}
    if set(_ROBBINS.values()) <= names:
        if delimiter == "\t":
            return read_robbins_tsv(path, **options)
        # A tile file keeps its pixel columns; a Robbins CSV without them is read too.
        options.setdefault("keep_pixels", set(_ROBBINS_PIXELS.values()) <= names)
        return read_robbins_tile_csv(path, **options)
    project = {alias.upper() for aliases in _PROJECT.values() for alias in aliases}
    if names & project:
        return read_crater_csv(path, delimiter=delimiter, **options)
    raise CatalogFormatError(
        f"{str(path)!r} has columns {header}, which match no known catalogue; expected "
        f"{', '.join(_ROBBINS.values())} (Robbins) or lon, lat, diameter_km (project CSV)"
    )


def check_bbox(bbox: Sequence[float]) -> tuple[float, float, float, float]:
    """Validate a ``(west, south, east, north)`` box in degrees; return it as floats.

    Longitudes may be -180..180 or 0..360. The box runs east from ``west`` to
    ``east``, so ``(170, -10, -170, 10)`` crosses 180 E and ``(350, -10, 10, 10)`` 0 E.

    Raises
    ------
    CoordinateError
        Not 4 finite numbers, latitudes outside [-90, 90], ``south > north``,
        ``west == east`` or a longitude outside -180..360.

    Examples
    --------
    >>> check_bbox([170, -10, -170, 10])
    (170.0, -10.0, -170.0, 10.0)
    """
    try:
        west, south, east, north = (float(v) for v in bbox)
    except (TypeError, ValueError):
        raise CoordinateError(
            f"bbox must be 4 numbers WEST SOUTH EAST NORTH in degrees, got {bbox!r}"
        ) from None
    problem = None
    if not all(math.isfinite(v) for v in (west, south, east, north)):
        problem = "holds a value that is not a finite number"
    elif not (-90 <= south <= 90 and -90 <= north <= 90):
        problem = "has a latitude outside [-90, 90]"
    elif south > north:
        problem = f"has south {south:g} above north {north:g}"
    elif not (-180 <= west <= 360 and -180 <= east <= 360):
        problem = "has a longitude outside -180..360"
    elif west == east:
        problem = "has no width (west == east)"
    if problem:
        raise CoordinateError(
            f"bbox {(west, south, east, north)} {problem}; expected WEST SOUTH EAST NORTH in "
            "degrees, e.g. 90 -30 120 0"
        )
    return west, south, east, north


def load_catalog(
    source: str | os.PathLike,
    bbox: Sequence[float] | None = None,
    min_diameter_km: float | None = None,
    max_diameter_km: float | None = None,
    **options,
) -> CraterCatalog:
    """Read a catalogue (:func:`read_catalog`), keep the craters wanted, drop duplicates.

    Parameters
    ----------
    source : str or os.PathLike
        Anything :func:`read_catalog` reads.
    bbox : (west, south, east, north), optional
        Degrees; longitudes -180..180 or 0..360; the box runs east from west
        to east (it may cross 180 E or 0 E). Craters whose centre is inside are kept.
    min_diameter_km, max_diameter_km : float, optional
        Inclusive diameter range, km.
    **options
        Passed to :func:`read_catalog`.

    Raises
    ------
    CoordinateError
        Bad ``bbox`` (checked before reading).
    CraterValueError
        Negative diameter bound, or minimum above maximum.
    """
    if bbox is not None:
        bbox = check_bbox(bbox)
    check_diameter_range(min_diameter_km, max_diameter_km)
    catalog = read_catalog(source, **options)
    return catalog.filter(bbox, min_diameter_km, max_diameter_km).drop_duplicates()


def check_diameter_range(min_diameter_km: float | None, max_diameter_km: float | None) -> None:
    """Raise :class:`CraterValueError` for a negative bound or ``min > max``."""
    for name, value in (("min", min_diameter_km), ("max", max_diameter_km)):
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise CraterValueError(
                f"{name} diameter {value!r} km must be a number >= 0; e.g. 2 and 32"
            )
    if None not in (min_diameter_km, max_diameter_km) and min_diameter_km > max_diameter_km:
        raise CraterValueError(
            f"min diameter {min_diameter_km:g} km is above max diameter {max_diameter_km:g} km; "
            "swap them"
        )
