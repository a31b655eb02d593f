"""Write crater catalogues as vectors: GeoPackage, CSV and craterstats ``.diam``.

This is an adapter for the command line: geopandas, pyogrio and shapely are
imported inside the functions that need them (the QGIS plugin builds its layers
from :mod:`geocore.geometry` instead). Every writer goes through
:func:`geocore.atomic.atomic_output`, so an existing file is replaced only with
``overwrite=True`` and a failed write leaves nothing behind.

Longitudes are written in -180..180 degrees east in every format; latitudes
are planetocentric degrees north; diameters are km on the Mars sphere.
"""

from __future__ import annotations

import csv
import logging
import math
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from .atomic import atomic_output
from .body import MARS
from .crater import Crater, CraterCatalog
from .errors import CraterValueError, OutputWriteError
from .geometry import crater_polygons
from .grid import wrap_longitude

__all__ = [
    "CSV_COLUMNS",
    "DEFAULT_POINTS_LAYER",
    "SUFFIXES",
    "write_craters",
    "write_csv",
    "write_diam",
    "write_geopackage",
]

logger = logging.getLogger(__name__)

#: Columns of the CSV output, in order.
CSV_COLUMNS = ("source", "x_px", "y_px", "diameter_px", "diameter_km", "lon", "lat", "confidence")
#: GeoPackage attribute fields, in order (those the catalogue has).
GPKG_FIELDS = ("lon", "lat", "diameter_km", "confidence", "source", "x_px", "y_px", "diameter_px")
#: Name of the optional point layer of crater centres.
DEFAULT_POINTS_LAYER = "crater_centres"
#: File suffixes :func:`write_craters` understands.
SUFFIXES = (".gpkg", ".csv", ".diam")


def _as_catalog(catalog) -> CraterCatalog:
    if isinstance(catalog, CraterCatalog):
        return catalog
    if isinstance(catalog, Crater):
        return CraterCatalog.from_craters([catalog])
    if isinstance(catalog, Iterable) and not isinstance(catalog, str | bytes):
        return CraterCatalog.from_craters(catalog)
    raise CraterValueError(
        f"expected a CraterCatalog (or Crater values), got {type(catalog).__name__}"
    )


def _columns(catalog: CraterCatalog) -> dict[str, np.ndarray]:
    """Output columns by output name: lon wrapped to -180..180, others as stored."""
    columns = {
        name.removesuffix("_deg") if name in ("lon_deg", "lat_deg") else name: values
        for name, values in catalog.columns.items()
    }
    columns["lon"] = wrap_longitude(np.asarray(columns["lon"], dtype=float).reshape(-1))
    return columns


# ----------------------------------------------------------------- GeoPackage
def _portable_crs_wkt() -> str:
    # QGIS 3.22 marks a GeoPackage CRS stored with its IAU_2015 id as invalid
    # (GDAL writes organization "IAU", id 49900, which QGIS cannot resolve). The
    # same definition without ids is read back as a valid CRS on the
    # 3,396,190 m sphere (checked in tests/qgis/test_geopackage_in_qgis.py).
    from .crs import mars_geographic_crs, portable_wkt

    return portable_wkt(mars_geographic_crs())


def _frame(columns: dict[str, np.ndarray], geometry, crs: str):
    import geopandas as gpd
    import pandas as pd

    data = {}
    for name in GPKG_FIELDS:
        if name not in columns:
            continue
        if name == "source":
            data[name] = pd.Series(
                [None if v is None else str(v) for v in columns[name]], dtype=object
            )
        else:
            data[name] = pd.Series(np.asarray(columns[name], dtype=float), dtype="float64")
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geometry, crs=crs), crs=crs)


def _crater_multipolygons(catalog: CraterCatalog, n_vertices: int) -> list:
    import shapely

    geometries = []
    for parts in crater_polygons(
        catalog.lon_deg, catalog.lat_deg, catalog.diameter_km, n_vertices, MARS
    ):
        if parts:
            geometries.append(shapely.MultiPolygon([shapely.Polygon(p) for p in parts]))
        else:  # centre unknown (pixel coordinates only): a feature without geometry
            geometries.append(None)
    return geometries


def _check_layer_names(layer: str, points_layer: str | None) -> None:
    for name in (layer, points_layer):
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise CraterValueError(f"a layer name must be a non-empty string, got {name!r}")
    if layer == points_layer:
        raise CraterValueError(
            f"the point layer needs its own name, not {layer!r} like the polygon layer; "
            f"use e.g. {DEFAULT_POINTS_LAYER!r}"
        )


def write_geopackage(
    path: str | os.PathLike,
    catalog: CraterCatalog,
    *,
    layer: str = "craters",
    points_layer: str | None = None,
    overwrite: bool = False,
    n_vertices: int = 64,
) -> Path:
    """Write craters as true circles on Mars to a GeoPackage.

    Parameters
    ----------
    path : str or os.PathLike
        Output ``.gpkg`` file.
    catalog : CraterCatalog
        The craters; craters without lon/lat (pixel coordinates only) become
        features without geometry.
    layer : str
        Name of the MultiPolygon layer of crater circles
        (:func:`geocore.geometry.crater_polygons`: antimeridian split, poles
        closed, polygon area equal to the crater's cap area).
    points_layer : str, optional
        Also write a Point layer of crater centres with this name (e.g.
        :data:`DEFAULT_POINTS_LAYER`) in the same file.
    overwrite : bool
        Replace an existing file.
    n_vertices : int
        Vertices per crater circle.

    Returns
    -------
    pathlib.Path
        The file written.

    Notes
    -----
    Fields: ``lon, lat, diameter_km, confidence, source, x_px, y_px,
    diameter_px`` (those the catalogue has; missing values are NULL). The CRS
    is Mars geographic (IAU_2015:49900) stored as WKT without authority ids, so
    that QGIS 3.22 reads it back as a valid CRS. An empty catalogue gives the
    layers with their fields and no feature.

    Raises
    ------
    OutputExistsError
        ``path`` exists and ``overwrite`` is false.
    OutputWriteError
        The folder is missing or not writable, or GDAL fails to write.
    CraterValueError
        Bad layer names, or craters the geometry cannot draw.
    """
    import pyogrio

    catalog = _as_catalog(catalog)
    _check_layer_names(layer, points_layer)
    columns = _columns(catalog)
    crs = _portable_crs_wkt()
    polygons = _frame(columns, _crater_multipolygons(catalog, n_vertices), crs)
    with atomic_output(path, overwrite) as tmp:
        try:
            pyogrio.write_dataframe(
                polygons, tmp, layer=layer, driver="GPKG", geometry_type="MultiPolygon"
            )
            if points_layer is not None:
                import shapely

                lon, lat = columns["lon"], np.asarray(columns["lat"], dtype=float)
                points = [
                    None if math.isnan(x) or math.isnan(y) else shapely.Point(x, y)
                    for x, y in zip(lon.tolist(), lat.tolist(), strict=True)
                ]
                pyogrio.write_dataframe(
                    _frame(columns, points, crs),
                    tmp,
                    layer=points_layer,
                    driver="GPKG",
                    geometry_type="Point",
                )
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError) as err:
            raise OutputWriteError(
                f"cannot write GeoPackage {str(path)!r}: {err}; check the folder and free space"
            ) from err
    logger.info("wrote %d craters to %s (layer %r)", len(catalog), path, layer)
    return Path(path)


# ------------------------------------------------------------------------ CSV
def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    value = float(value)
    return "" if math.isnan(value) else repr(value)


def write_csv(path: str | os.PathLike, catalog: CraterCatalog, overwrite: bool = False) -> Path:
    """Write craters to a CSV file.

    Columns ``source, x_px, y_px, diameter_px, diameter_km, lon, lat,
    confidence`` (:data:`CSV_COLUMNS`), always all of them; missing values are
    empty cells. Floats are written in full precision (``repr``).

    Parameters
    ----------
    path : str or os.PathLike
        Output ``.csv`` file.
    catalog : CraterCatalog
        The craters.
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    OutputExistsError, OutputWriteError
        As for :func:`write_geopackage`.

    Examples
    --------
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "c.csv"
    >>> _ = write_csv(out, CraterCatalog.from_craters([Crater(190.0, 5.0, 3.5)]))
    >>> out.read_text().splitlines()[1]
    ',,,,3.5,-170.0,5.0,'
    """
    catalog = _as_catalog(catalog)
    columns = _columns(catalog)
    with atomic_output(path, overwrite) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(CSV_COLUMNS)
            writer.writerows(_csv_rows(columns, len(catalog)))
    logger.info("wrote %d craters to %s", len(catalog), path)
    return Path(path)


def _csv_rows(columns: dict[str, np.ndarray], n: int):
    present = [columns.get(name) for name in CSV_COLUMNS]
    for i in range(n):
        yield [_cell(None if col is None else col[i]) for col in present]


# ----------------------------------------------------------------------- diam
def write_diam(
    path: str | os.PathLike,
    catalog: CraterCatalog,
    area_km2: float | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a craterstats ``.diam`` crater list.

    The layout follows craterstats' ``sample/sample.diam`` ("new format
    introduced 2014.03.04") and its reader ``Cratercount.ReadDiamFile`` /
    ``gm.read_textstructure`` (github.com/ggmichael/craterstats): ``#`` comment
    lines, ``area = <km^2>``, then a table ``crater = {diameter, fraction, lon,
    lat`` with one whitespace-separated row per crater (diameter km, fraction of
    the crater counted, lon and lat degrees) closed by ``}``.

    Parameters
    ----------
    path : str or os.PathLike
        Output ``.diam`` file.
    catalog : CraterCatalog
        The craters. Every crater gets fraction 1 (wholly counted). When some
        crater has no lon/lat the table has only ``diameter, fraction``.
    area_km2 : float, optional
        The counting area in km^2, which craterstats needs to turn counts into
        densities and ages. When omitted it is estimated as the area on the
        sphere of the smallest lon/lat box that holds every crater rim (logged
        as a warning and noted in the file): replace it with the area you
        actually searched. An empty catalogue without an area gets
        ``area = 0``, which craterstats reports as "undefined area".
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    CraterValueError
        ``area_km2`` not a positive number, or no area given and no crater has
        lon/lat to estimate one.
    OutputExistsError, OutputWriteError
        As for :func:`write_geopackage`.
    """
    from .craterstats import diam_text

    catalog = _as_catalog(catalog)
    text, estimated = diam_text(catalog.diameter_km, catalog.lon_deg, catalog.lat_deg, area_km2)
    if estimated:
        logger.warning(
            "%s: no counting area given; wrote an estimated area to replace (see the file)", path
        )
    with atomic_output(path, overwrite) as tmp:
        tmp.write_text(text, encoding="utf-8")
    logger.info("wrote %d craters to %s", len(catalog), path)
    return Path(path)


# ------------------------------------------------------------------ dispatch
def write_craters(
    path: str | os.PathLike, catalog: CraterCatalog, overwrite: bool = False, **options
) -> Path:
    """Write craters in the format named by the file's suffix.

    Parameters
    ----------
    path : str or os.PathLike
        ``.gpkg`` (:func:`write_geopackage`), ``.csv`` (:func:`write_csv`) or
        ``.diam`` (:func:`write_diam`), in any letter case.
    catalog : CraterCatalog
        The craters.
    overwrite : bool
        Replace an existing file.
    **options
        Passed to the writer (e.g. ``points_layer`` for .gpkg, ``area_km2`` for
        .diam).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    OutputWriteError
        Unsupported suffix, or as the writer raises.
    """
    suffix = Path(path).suffix.lower()
    writers = {".gpkg": write_geopackage, ".csv": write_csv, ".diam": write_diam}
    if suffix not in writers:
        raise OutputWriteError(
            f"cannot write craters to {str(path)!r}: unsupported suffix {suffix or '(none)'!r}; "
            f"use one of {', '.join(SUFFIXES)}"
        )
    return writers[suffix](path, catalog, overwrite=overwrite, **options)
