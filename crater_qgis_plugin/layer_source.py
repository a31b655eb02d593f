"""A QGIS raster layer as a geocore raster source, and the checks a layer must pass.

:func:`check_raster_layer` refuses, with the problem and the fix, the layers the
detector cannot use: no CRS, an Earth CRS (unless the user confirms the data are
of Mars), an unsupported Mars CRS, a multi-band layer without a chosen band, a
rotated raster. :class:`LayerRasterSource` is made on the main thread from a layer
and then read from a worker thread through a *clone* of the layer's data
provider, so the worker never touches the layer or the project.

A raster's resolution in metres comes from its CRS on the Mars sphere
(:mod:`geocore.projection`), never from Earth constants. Images without a CRS
named after a THEMIS 256 px/degree tile (``thm_dir_N-30_090.png``) get the
tile's grid from their name.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from qgis.core import (
    Qgis,
    QgsCoordinateReferenceSystem,
    QgsRasterLayer,
    QgsRectangle,
    QgsUnitTypes,
)

from geocore.body import MARS, Body
from geocore.grid import PixelGrid
from geocore.projection import Equirectangular, Geographic, Projection
from geocore.themis import TILE_SIZE_PX, ThemisTile

from .errors import PluginInputError

__all__ = [
    "LayerRasterSource",
    "check_raster_layer",
    "projection_from_qgs_crs",
]

#: Relative tolerance on the sphere radius for a CRS to count as Mars (as geocore.crs).
_RADIUS_RTOL = 0.01
_EARTH_RADIUS_M = 6_378_137.0
_ASSIGN = (
    "assign the layer its Mars CRS (Layer Properties > Source > Assigned CRS, e.g. "
    "IAU_2015:49910 or IAU_2015:49900)"
)
_REPROJECT = (
    "reproject it to a Mars CRS such as IAU_2015:49910 (Raster > Projections > Warp, "
    "or gdalwarp -t_srs IAU_2015:49910)"
)
_DTYPES = {
    Qgis.DataType.Byte: np.uint8,
    Qgis.DataType.UInt16: np.uint16,
    Qgis.DataType.Int16: np.int16,
    Qgis.DataType.UInt32: np.uint32,
    Qgis.DataType.Int32: np.int32,
    Qgis.DataType.Float32: np.float32,
    Qgis.DataType.Float64: np.float64,
}


def _proj_params(proj: str) -> dict[str, str]:
    params = {}
    for token in proj.split():
        key, _, value = token.lstrip("+").partition("=")
        params[key] = value
    return params


def _crs_label(crs: QgsCoordinateReferenceSystem) -> str:
    authid, description = crs.authid(), crs.description()
    if authid and description:
        return f"{authid} ({description})"
    return authid or description or crs.toProj()


def _radii(params: dict[str, str]) -> tuple[float | None, float | None]:
    """Semi-major and semi-minor axes in metres of a PROJ string's body, when it states them."""
    if "R" in params:
        radius = float(params["R"])
        return radius, radius
    if "a" in params:
        a = float(params["a"])
        if "b" in params:
            return a, float(params["b"])
        rf = float(params.get("rf", 0) or 0)
        return a, (a * (1 - 1 / rf) if rf else a)
    if "ellps" in params or "datum" in params:  # PROJ's named ellipsoids are all of the Earth
        return _EARTH_RADIUS_M, None
    return None, None


def projection_from_qgs_crs(
    crs: QgsCoordinateReferenceSystem, assume_mars: bool = False, what: str = "the layer"
) -> Projection:
    """The geocore projection of a QGIS CRS, which must be a Mars sphere CRS.

    Parameters
    ----------
    crs : QgsCoordinateReferenceSystem
        The layer's CRS.
    assume_mars : bool
        Treat a geographic (longitude/latitude) CRS of another body, such as
        EPSG:4326, as Mars longitudes and latitudes: the user has confirmed that
        the data are of Mars and that only the CRS label is wrong.
    what : str
        How messages name the layer.

    Returns
    -------
    Geographic or Equirectangular

    Raises
    ------
    PluginInputError
        No or an invalid CRS; an Earth or other non-Mars CRS (a projected one even
        with ``assume_mars``); an ellipsoidal Mars, west-positive longitudes, a
        shifted prime meridian, or a projection other than equirectangular.
    """
    if crs is None or not crs.isValid():
        raise PluginInputError(
            f"{what} has no coordinate reference system; {_ASSIGN}, or keep a THEMIS tile "
            "image's original name (e.g. thm_dir_N-30_090.png) so its place is known"
        )
    params = _proj_params(crs.toProj())
    kind = params.get("proj", "")
    geographic = crs.mapUnits() == QgsUnitTypes.DistanceDegrees or kind in ("longlat", "latlong")
    a, b = _radii(params)
    label = _crs_label(crs)
    if a is None or not math.isclose(a, MARS.radius_m, rel_tol=_RADIUS_RTOL):
        body = (
            "an Earth CRS"
            if a and math.isclose(a, _EARTH_RADIUS_M, rel_tol=0.01)
            else ("not a Mars CRS")
        )
        if not assume_mars:
            return _refuse_non_mars(what, label, body, geographic)
        if not geographic:
            raise PluginInputError(
                f"{what} is in {label}, a projected CRS that is {body}; 'the data are of Mars' "
                f"applies to longitude/latitude CRSs only: {_ASSIGN}, or {_REPROJECT}"
            )
        return Geographic(MARS)
    if b is not None and not math.isclose(a, b, rel_tol=1e-9):
        raise PluginInputError(
            f"{what} is in {label}, on an ellipsoidal Mars ({a:,.0f} x {b:,.0f} m); crater "
            f"sizes are measured on the IAU 2015 sphere: {_REPROJECT}"
        )
    if params.get("pm", "0") not in ("0", "greenwich"):
        raise PluginInputError(f"{what} is in {label}, with a shifted prime meridian; {_REPROJECT}")
    if params.get("axis", "enu")[:1] == "w":
        raise PluginInputError(f"{what} is in {label}, with west-positive longitudes; {_REPROJECT}")
    body = Body("Mars", a)
    if geographic:
        return Geographic(body)
    if kind != "eqc":
        raise PluginInputError(
            f"{what} is in {label}, a {kind or 'unknown'} projection; crater detection works "
            f"on Mars longitude/latitude or equirectangular rasters: {_REPROJECT}"
        )
    for key in ("x_0", "y_0", "lat_0"):
        if float(params.get(key, 0) or 0) != 0:
            raise PluginInputError(f"{what} is in {label}, with {key}={params[key]}; {_REPROJECT}")
    if params.get("units", "m") != "m" or float(params.get("to_meter", 1)) != 1:
        raise PluginInputError(f"{what} is in {label}, whose units are not metres; {_REPROJECT}")
    return Equirectangular(body, float(params.get("lon_0", 0)), float(params.get("lat_ts", 0)))


def _refuse_non_mars(what: str, label: str, body: str, geographic: bool):
    fix = (
        "if the data really are of Mars and only the CRS label is wrong, tick 'the data are "
        f"of Mars' (ASSUME_MARS=true in Processing) or {_ASSIGN}"
        if geographic
        else f"if the data are of Mars, {_ASSIGN}"
    )
    raise PluginInputError(f"{what} is in {label}, {body}; {fix}")


def _themis_tile(layer: QgsRasterLayer) -> ThemisTile | None:
    path = layer.source().split("|", 1)[0]
    return ThemisTile.find_in_name(Path(path).name) or ThemisTile.find_in_name(layer.name())


def _check_not_rotated(layer: QgsRasterLayer, what: str) -> None:
    if layer.providerType() != "gdal":
        return
    try:
        from osgeo import gdal
    except ImportError:  # pragma: no cover - GDAL's Python comes with QGIS
        return
    dataset = gdal.OpenEx(layer.source().split("|", 1)[0], gdal.OF_RASTER | gdal.OF_READONLY)
    if dataset is None:
        return
    transform = dataset.GetGeoTransform(can_return_null=True)
    dataset = None
    if transform is not None and (transform[2] != 0 or transform[4] != 0):
        raise PluginInputError(
            f"{what} is a rotated raster (geotransform {tuple(transform)}); crater detection "
            "needs north-up pixels: warp it first (Raster > Projections > Warp, or gdalwarp)"
        )


def _layer_transform(layer: QgsRasterLayer) -> tuple[float, float, float, float, float, float]:
    """The layer's own pixel -> map transform (what its provider reads by)."""
    extent = layer.extent()
    sx = extent.width() / layer.width()
    sy = extent.height() / layer.height()
    return (sx, 0.0, extent.xMinimum(), 0.0, -sy, extent.yMaximum())


def _check_band(layer: QgsRasterLayer, band: int | None, what: str) -> int:
    count = layer.bandCount()
    if band is None or band == 0:
        if count > 1:
            raise PluginInputError(
                f"{what} has {count} bands; choose the band that holds the image (Band 1..{count})"
            )
        band = 1
    if not 1 <= int(band) <= count:
        raise PluginInputError(
            f"band {band} does not exist: {what} has {count} band(s); choose one of 1..{count}"
        )
    dtype = layer.dataProvider().dataType(int(band))
    if dtype not in _DTYPES:
        raise PluginInputError(
            f"band {band} of {what} holds data of type {int(dtype)} (colour or complex "
            "values); use a grayscale band (8/16-bit or float), e.g. convert "
            "the image to grayscale with Raster > Conversion > Translate"
        )
    return int(band)


def check_raster_layer(
    layer: QgsRasterLayer, band: int | None = None, assume_mars: bool = False
) -> tuple[PixelGrid, int]:
    """Check that crater detection can run on a layer; its geocore grid and band.

    Parameters
    ----------
    layer : QgsRasterLayer
        The input layer (call this on the main thread).
    band : int or None
        The band chosen, 1-based; None (or 0) means none was chosen, which is
        fine for a single-band layer only.
    assume_mars : bool
        The user confirms the data are of Mars although the layer's
        longitude/latitude CRS is not (e.g. EPSG:4326).

    Returns
    -------
    grid : PixelGrid
        The whole layer's pixel grid in its Mars projection.
    band : int
        The band to read, 1-based.

    Raises
    ------
    PluginInputError
        Not a valid raster layer, no CRS, an Earth CRS, an unsupported CRS, a
        multi-band layer without a band, a band out of range or of a colour
        type, a rotated raster, a THEMIS tile image that is not square.
    """
    if layer is None or not isinstance(layer, QgsRasterLayer):
        raise PluginInputError("no raster layer given; choose the raster to detect craters on")
    what = f"the layer {layer.name()!r}"
    if not layer.isValid():
        raise PluginInputError(f"{what} is not valid (its file cannot be read); re-add it")
    band = _check_band(layer, band, what)
    _check_not_rotated(layer, what)
    width, height = layer.width(), layer.height()
    tile = _themis_tile(layer)
    # the provider's CRS is the file's own: QGIS may have given the layer a default one
    if tile is not None and not layer.dataProvider().crs().isValid():
        if width != height:
            raise PluginInputError(
                f"{what} is named after the THEMIS tile {tile.name} but is {width} x {height} "
                "px, not square like a tile; crop or resample it, or georeference it yourself"
            )
        grid = tile.grid
        return (grid if width == TILE_SIZE_PX else grid.scaled(TILE_SIZE_PX / width)), band
    projection = projection_from_qgs_crs(layer.crs(), assume_mars, what)
    return PixelGrid(_layer_transform(layer), width, height, projection), band


class LayerRasterSource:
    """One band of a QGIS raster layer, readable from a worker thread.

    Make it on the main thread with :meth:`from_layer`; afterwards :meth:`read`
    uses only a clone of the layer's data provider, never the layer or the
    project. It follows geocore's ``RasterSource`` protocol (``grid``,
    ``nodata``, ``name``, ``read``).

    Attributes
    ----------
    grid : PixelGrid
        The grid of the part read (the whole layer, or the extent snapped to
        whole pixels).
    nodata : float or None
        The band's nodata value.
    name : str
        The layer's name.
    band : int
        The band read, 1-based.
    """

    def __init__(
        self,
        provider,
        band: int,
        grid: PixelGrid,
        nodata: float | None,
        name: str,
        layer_transform: tuple[float, float, float, float, float, float],
        offset_px: tuple[int, int] = (0, 0),
    ) -> None:
        self._provider = provider
        self.band = band
        self.grid = grid
        self.nodata = nodata
        self.name = name
        self._layer_transform = layer_transform
        self._offset_px = offset_px

    @classmethod
    def from_layer(
        cls,
        layer: QgsRasterLayer,
        band: int | None = None,
        extent: QgsRectangle | None = None,
        assume_mars: bool = False,
    ) -> LayerRasterSource:
        """A source for ``layer`` (on the main thread), optionally limited to ``extent``.

        Parameters
        ----------
        layer : QgsRasterLayer
            The input layer.
        band : int or None
            1-based band; None (or 0) for a single-band layer.
        extent : QgsRectangle, optional
            Part of the layer to read, in the layer's CRS (for a THEMIS tile
            image without CRS: in its Mars equirectangular metres); snapped
            outwards to whole pixels and clipped to the layer.
        assume_mars : bool
            See :func:`check_raster_layer`.

        Raises
        ------
        PluginInputError
            As :func:`check_raster_layer`; an extent that misses the layer.
        """
        grid, band = check_raster_layer(layer, band, assume_mars)
        provider = layer.dataProvider()
        nodata = provider.sourceNoDataValue(band) if provider.sourceHasNoDataValue(band) else None
        offset = (0, 0)
        if extent is not None and not extent.isNull() and not extent.isEmpty():
            offset, grid = _snap_extent(grid, extent, layer.name())
        return cls(
            provider.clone(), band, grid, nodata, layer.name(), _layer_transform(layer), offset
        )

    def read(self, col_off: int, row_off: int, width: int, height: int) -> np.ndarray:
        """One window of the band as a 2-D array ``(height, width)`` (thread-safe)."""
        a, _, c, _, e, f = self._layer_transform
        col = col_off + self._offset_px[0]
        row = row_off + self._offset_px[1]
        rect = QgsRectangle(c + a * col, f + e * (row + height), c + a * (col + width), f + e * row)
        block = self._provider.block(self.band, rect, width, height)
        if block is None or not block.isValid():
            raise PluginInputError(
                f"cannot read pixels {col}..{col + width}, {row}..{row + height} of "
                f"{self.name!r}; check that its file is still readable"
            )
        dtype = _DTYPES.get(block.dataType())
        if dtype is None:
            raise PluginInputError(f"{self.name!r}: band {self.band} is not a grayscale band")
        data = np.frombuffer(bytes(block.data()), dtype=dtype)
        return data.reshape(height, width)


def _snap_extent(grid: PixelGrid, extent: QgsRectangle, name: str):
    """Pixel offset and grid of ``extent`` snapped outwards to whole pixels of ``grid``."""
    cols, rows = grid.xy_to_pixel(
        [extent.xMinimum(), extent.xMaximum()], [extent.yMaximum(), extent.yMinimum()], "corner"
    )
    c0, c1 = max(0, math.floor(min(cols) + 1e-9)), min(grid.width, math.ceil(max(cols) - 1e-9))
    r0, r1 = max(0, math.floor(min(rows) + 1e-9)), min(grid.height, math.ceil(max(rows) - 1e-9))
    if c1 - c0 < 1 or r1 - r0 < 1:
        raise PluginInputError(
            f"the extent {extent.toString(3)} does not overlap the layer {name!r}; choose an "
            "extent over the raster (in the layer's CRS) or use the whole layer"
        )
    return (c0, r0), grid.window(c0, r0, c1 - c0, r1 - r0)
