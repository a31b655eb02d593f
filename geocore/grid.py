"""The pixel grid: one georeferencing object for every raster.

A :class:`PixelGrid` is an affine transform (rasterio / ``affine`` order
``a, b, c, d, e, f``: ``x = a*col + b*row + c``, ``y = d*col + e*row + f``), a
size in pixels and, when the raster is georeferenced, a Mars projection.

Pixel coordinates are floats ``(col, row)``, x before y. Their origin is named
by ``offset``:

* ``"center"`` (default): integer values are pixel centres; pixel ``(0, 0)``
  covers ``[-0.5, 0.5)`` in both axes.
* ``"corner"``: integer values are pixel corners; pixel ``(0, 0)`` covers
  ``[0, 1)``. This is the convention of the Robbins tile CSVs
  (``x = (lon - lon_min) * 256``).

Longitudes are degrees east. Functions that return longitudes take
``lon_range``: ``"-180..180"`` (default) or ``"0..360"``. Functions that take
longitudes accept either convention and wrap them to the copy of the planet
nearest the grid, so a grid spanning the antimeridian works.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .errors import CoordinateError, GridError
from .projection import Equirectangular, Geographic, Projection

if TYPE_CHECKING:  # pragma: no cover
    from .themis import ThemisTile

__all__ = ["LON_RANGES", "OFFSETS", "PixelGrid", "wrap_longitude"]

OFFSETS = ("center", "corner")
LON_RANGES = ("-180..180", "0..360")


def _offset_shift(offset: str) -> float:
    if offset == "center":
        return 0.5
    if offset == "corner":
        return 0.0
    raise ValueError(f"offset must be one of {OFFSETS}, got {offset!r}")


def wrap_longitude(lon_deg, lon_range: str = "-180..180"):
    """Wrap longitudes (degrees east) into ``lon_range``.

    Parameters
    ----------
    lon_deg : float or array_like
        Longitudes in degrees east, any range.
    lon_range : {"-180..180", "0..360"}
        Target convention; the upper bound is excluded.

    Returns
    -------
    numpy.ndarray or float

    Examples
    --------
    >>> float(wrap_longitude(190.0))
    -170.0
    >>> float(wrap_longitude(-90.0, "0..360"))
    270.0
    >>> wrap_longitude([179.9, 180.0, -540.0]).tolist()
    [179.9, -180.0, -180.0]
    """
    lon = np.asarray(lon_deg, dtype=float)
    if lon_range == "-180..180":
        low = -180.0
    elif lon_range == "0..360":
        low = 0.0
    else:
        raise ValueError(f"lon_range must be one of {LON_RANGES}, got {lon_range!r}")
    # values already in range stay exactly as they are (179.9 stays 179.9)
    in_range = (lon >= low) & (lon < low + 360.0)
    out = np.where(in_range, lon, (lon - low) % 360.0 + low)
    return out if out.ndim else float(out)


@dataclass(frozen=True)
class PixelGrid:
    """An affine pixel grid with an optional Mars projection.

    Parameters
    ----------
    transform : tuple of 6 floats
        ``(a, b, c, d, e, f)`` mapping the *corner* of pixel ``(col, row)`` to
        map ``x, y`` (rasterio's ``Affine`` order; ``tuple(affine)[:6]`` works).
    width, height : int
        Size in pixels.
    projection : Geographic or Equirectangular or None
        Map projection of ``x, y``. ``None`` for an image known only by its
        resolution: map units are then metres and lon/lat are unavailable.

    Examples
    --------
    >>> grid = PixelGrid.from_themis_tile("thm_dir_N-30_090")
    >>> grid.width, grid.height
    (7680, 7680)
    >>> lon, lat = grid.pixel_to_lonlat(0, 0, offset="corner")
    >>> round(float(lon), 6), round(float(lat), 6)
    (90.0, 0.0)
    """

    transform: tuple[float, float, float, float, float, float]
    width: int
    height: int
    projection: Projection | None = None

    def __post_init__(self) -> None:
        t = tuple(float(v) for v in tuple(self.transform)[:6])
        if len(t) != 6 or not all(math.isfinite(v) for v in t):
            raise GridError(f"transform must hold 6 finite numbers, got {self.transform!r}")
        a, b, _, d, e, _ = t
        if abs(a * e - b * d) == 0.0:
            raise GridError(f"transform {t} is singular (zero pixel size?)")
        object.__setattr__(self, "transform", t)
        for name in ("width", "height"):
            value = getattr(self, name)
            if int(value) != value or value <= 0:
                raise GridError(f"{name} must be a positive integer, got {value!r}")
            object.__setattr__(self, name, int(value))

    # ----------------------------------------------------------------- builders
    @classmethod
    def from_themis_tile(cls, tile: str | ThemisTile) -> PixelGrid:
        """Grid of a 256 px/degree THEMIS mosaic tile in Mars equirectangular metres."""
        from .themis import ThemisTile

        if not isinstance(tile, ThemisTile):
            tile = ThemisTile.from_name(tile)
        return tile.grid

    @classmethod
    def from_resolution(cls, width: int, height: int, resolution_m: float) -> PixelGrid:
        """Grid of a plain image whose pixels are ``resolution_m`` metres wide.

        Such a grid has no lon/lat; map coordinates are metres from the image's
        upper-left corner, y up.
        """
        if not (math.isfinite(resolution_m) and resolution_m > 0):
            raise GridError(
                f"resolution_m must be a positive number of metres per pixel, got {resolution_m!r}"
            )
        return cls((resolution_m, 0.0, 0.0, 0.0, -resolution_m, 0.0), width, height, None)

    @classmethod
    def from_transform(cls, transform, width: int, height: int, crs) -> PixelGrid:
        """Grid of a raster from its affine transform and CRS.

        Parameters
        ----------
        transform : affine.Affine or sequence of 6 floats
            rasterio-order transform.
        width, height : int
            Raster size in pixels.
        crs : pyproj.CRS, rasterio CRS, str or Projection
            The raster's CRS; it must be a Mars geographic or equirectangular
            CRS (see :func:`geocore.crs.projection_from_crs`).

        Raises
        ------
        CRSError
            The CRS is missing or not a supported Mars CRS.
        """
        if isinstance(crs, Geographic | Equirectangular):
            projection = crs
        else:
            from .crs import projection_from_crs

            projection = projection_from_crs(crs)
        return cls(tuple(transform)[:6], width, height, projection)

    @classmethod
    def from_gdal(cls, geotransform, width: int, height: int, crs) -> PixelGrid:
        """Like :meth:`from_transform` with a GDAL geotransform ``(c, a, b, f, d, e)``."""
        c, a, b, f, d, e = geotransform
        return cls.from_transform((a, b, c, d, e, f), width, height, crs)

    def to_gdal(self) -> tuple[float, float, float, float, float, float]:
        """The transform in GDAL geotransform order ``(c, a, b, f, d, e)``."""
        a, b, c, d, e, f = self.transform
        return (c, a, b, f, d, e)

    # --------------------------------------------------------------- properties
    @property
    def is_georeferenced(self) -> bool:
        """Whether lon/lat can be computed for this grid."""
        return self.projection is not None

    @property
    def pixel_size_m(self) -> tuple[float, float]:
        """Pixel width and height in metres.

        Width is measured at the projection's latitude of true scale (the
        equator for the standard Mars CRSs); on an equirectangular grid the
        ground width of a pixel shrinks with ``cos(lat)``.
        """
        a, b, _, d, e, _ = self.transform
        sx, sy = math.hypot(a, d), math.hypot(b, e)
        if self.projection is None:
            return sx, sy
        return sx * self.projection.x_units_m, sy * self.projection.y_units_m

    @property
    def resolution_m(self) -> float:
        """Nominal resolution: the pixel height in metres (along a meridian)."""
        return self.pixel_size_m[1]

    # ---------------------------------------------------------- pixel <-> map
    def pixel_to_xy(self, col, row, offset: str = "center"):
        """Map coordinates of pixel coordinates ``(col, row)``."""
        s = _offset_shift(offset)
        a, b, c, d, e, f = self.transform
        col = np.asarray(col, dtype=float) + s
        row = np.asarray(row, dtype=float) + s
        return a * col + b * row + c, d * col + e * row + f

    def xy_to_pixel(self, x, y, offset: str = "center"):
        """Pixel coordinates ``(col, row)`` of map coordinates ``(x, y)``."""
        s = _offset_shift(offset)
        a, b, c, d, e, f = self.transform
        det = a * e - b * d
        x = np.asarray(x, dtype=float) - c
        y = np.asarray(y, dtype=float) - f
        col = (e * x - b * y) / det
        row = (-d * x + a * y) / det
        return col - s, row - s

    # -------------------------------------------------------- pixel <-> lonlat
    def _require_projection(self) -> Projection:
        if self.projection is None:
            raise GridError(
                "this grid has no georeferencing (an image known only by its resolution); "
                "use a georeferenced raster or a THEMIS tile name to get lon/lat"
            )
        return self.projection

    def pixel_to_lonlat(self, col, row, offset: str = "center", lon_range: str = "-180..180"):
        """Longitude and latitude (degrees) of pixel coordinates.

        Raises
        ------
        GridError
            The grid is not georeferenced.
        """
        proj = self._require_projection()
        lon, lat = proj.inverse(*self.pixel_to_xy(col, row, offset))
        return wrap_longitude(lon, lon_range), _scalar_or_array(lat)

    def lonlat_to_pixel(self, lon_deg, lat_deg, offset: str = "center"):
        """Pixel coordinates ``(col, row)`` (floats) of lon/lat in degrees.

        Longitudes in either convention are accepted: each is moved by whole
        turns to the copy nearest the grid's centre, so points across the
        antimeridian of a grid that spans it land inside it.

        Raises
        ------
        CoordinateError
            A latitude is outside [-90, 90] or a coordinate is not finite.
        GridError
            The grid is not georeferenced.
        """
        proj = self._require_projection()
        lon = np.asarray(lon_deg, dtype=float)
        lat = np.asarray(lat_deg, dtype=float)
        if not (np.all(np.isfinite(lon)) and np.all(np.isfinite(lat))):
            raise CoordinateError("longitudes and latitudes must be finite numbers")
        if np.any(np.abs(lat) > 90.0):
            bad = lat[np.abs(lat) > 90.0].ravel()[0]
            raise CoordinateError(f"latitude {bad} is outside [-90, 90] degrees")
        x, y = proj.forward(lon, lat)
        cx, _ = self.pixel_to_xy(self.width / 2.0, self.height / 2.0, offset="corner")
        period = proj.x_period
        x = np.asarray(x) - np.round((np.asarray(x) - cx) / period) * period
        col, row = self.xy_to_pixel(x, y, offset)
        return _scalar_or_array(col), _scalar_or_array(row)

    # ------------------------------------------------------------------ windows
    def window(self, col_off: int, row_off: int, width: int, height: int) -> PixelGrid:
        """The sub-grid of a window; offsets may be negative or exceed the grid."""
        a, b, c, d, e, f = self.transform
        x0, y0 = a * col_off + b * row_off + c, d * col_off + e * row_off + f
        return PixelGrid((a, b, x0, d, e, y0), width, height, self.projection)

    def scaled(self, factor: float) -> PixelGrid:
        """The grid covering the same area with pixels ``factor`` times larger."""
        if not factor > 0:
            raise GridError(f"scale factor must be positive, got {factor!r}")
        a, b, c, d, e, f = self.transform
        width = max(1, round(self.width / factor))
        height = max(1, round(self.height / factor))
        return PixelGrid(
            (a * factor, b * factor, c, d * factor, e * factor, f), width, height, self.projection
        )


def _scalar_or_array(values):
    arr = np.asarray(values, dtype=float)
    return arr if arr.ndim else float(arr)
