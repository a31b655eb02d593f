"""Segmentation targets: crater catalogues rasterised onto a pixel grid.

Three kinds of target, as in DeLatte et al. (2018) and its follow-up:

* ``"filled"``: every pixel inside a crater is 1.
* ``"outline"``: a filled crater minus an inner disk at ``inner_ratio`` of its
  radius (0.7 in the paper).
* ``"ring"``: a ring ``ring_width_px`` wide centred on the rim (4 or 8 px in
  the follow-up, which drew them with ``cv2.circle(..., thickness)``, also
  centred on the rim), measured in pixels along a meridian (the grid's pixel
  height). A crater whose radius is under half the width becomes a disk.

Craters are drawn largest first (painter's order), each one setting its disk to
1 and then clearing its inner disk to 0, as the paper did with PIL: a small
crater on a large one's rim keeps its own hole. Ties are broken by position so
the result does not depend on the order of the catalogue.

On a georeferenced grid a pixel belongs to a crater when the great-circle
distance on the body's sphere from the crater's centre to the pixel centre is
at most the crater's radius: on an equirectangular grid a crater is an ellipse
stretched by ``1 / cos(lat)`` in x, and large craters get their true,
slightly egg-shaped outline. On a grid with no georeferencing
(:meth:`PixelGrid.from_resolution`) craters are plain circles in pixel space
from the catalogue's ``x_px``, ``y_px`` and ``diameter_px``.

Only numpy is needed (this module runs inside QGIS and in training).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from .catalog import check_diameter_range
from .crater import CraterCatalog
from .errors import GridError, TargetSpecError
from .grid import PixelGrid

__all__ = ["KINDS", "TargetSpec", "TargetSpecError", "craters_on_grid", "rasterize_targets"]

log = logging.getLogger(__name__)

#: The target kinds :func:`rasterize_targets` draws.
KINDS = ("filled", "outline", "ring")

# Pixels added around each crater's bounding box, against rounding at its edges.
_BOX_MARGIN_PX = 1


@dataclass(frozen=True)
class TargetSpec:
    """How craters are drawn: the value a training configuration carries.

    Parameters
    ----------
    kind : {"filled", "outline", "ring"}
        Target kind (see the module documentation).
    inner_ratio : float
        Radius of the hole of an ``"outline"`` target as a fraction of the
        crater's radius, in (0, 1). Ignored by the other kinds.
    ring_width_px : float
        Width of a ``"ring"`` target in pixels along a meridian, > 0, centred on
        the crater's rim. Ignored by the other kinds.

    Raises
    ------
    TargetSpecError
        Unknown kind, ``inner_ratio`` outside (0, 1), ``ring_width_px`` <= 0.

    Examples
    --------
    >>> TargetSpec("ring", ring_width_px=8).kind
    'ring'
    >>> TargetSpec("outline").inner_ratio
    0.7
    """

    kind: str = "filled"
    inner_ratio: float = 0.7
    ring_width_px: float = 4.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise TargetSpecError(f"unknown target kind {self.kind!r}; expected one of {KINDS}")
        ratio = float(self.inner_ratio)
        if not 0.0 < ratio < 1.0:
            raise TargetSpecError(
                f"inner_ratio must be within (0, 1) (a fraction of the crater radius, "
                f"e.g. 0.7), got {self.inner_ratio!r}"
            )
        width = float(self.ring_width_px)
        if not (math.isfinite(width) and width > 0.0):
            raise TargetSpecError(
                f"ring_width_px must be a positive number of pixels (e.g. 4 or 8), "
                f"got {self.ring_width_px!r}"
            )
        object.__setattr__(self, "inner_ratio", ratio)
        object.__setattr__(self, "ring_width_px", width)

    def rasterize(self, grid: PixelGrid, catalog: CraterCatalog, **kwargs) -> np.ndarray:
        """:func:`rasterize_targets` with this specification; ``kwargs`` are passed on."""
        return rasterize_targets(
            grid,
            catalog,
            kind=self.kind,
            inner_ratio=self.inner_ratio,
            ring_width_px=self.ring_width_px,
            **kwargs,
        )


def rasterize_targets(
    grid: PixelGrid,
    catalog: CraterCatalog,
    kind: str = "filled",
    inner_ratio: float = 0.7,
    ring_width_px: float = 4.0,
    min_diameter_km: float | None = None,
    max_diameter_km: float | None = None,
    dtype=np.uint8,
    offset: str = "center",
) -> np.ndarray:
    """Draw the craters of a catalogue as a 0/1 target raster on a grid.

    Parameters
    ----------
    grid : PixelGrid
        The raster's grid. Georeferenced: craters are placed by their lon/lat
        and measured on the sphere. Not georeferenced: by ``x_px``, ``y_px``,
        ``diameter_px`` (``diameter_km`` converted with the grid's resolution
        where ``diameter_px`` is missing).
    catalog : CraterCatalog
        The craters; not modified. Craters off the grid are ignored, craters
        partly on it are drawn in part.
    kind : {"filled", "outline", "ring"}
        Target kind (see the module documentation).
    inner_ratio : float
        Hole radius of ``"outline"`` targets as a fraction of the radius, in (0, 1).
    ring_width_px : float
        Width of ``"ring"`` targets, pixels along a meridian, > 0, centred on
        the rim. Craters of radius under half the width are drawn filled.
    min_diameter_km, max_diameter_km : float, optional
        Inclusive range of the craters to draw (diameters, not radii).
    dtype : numpy dtype
        Type of the returned array (values 0 and 1).
    offset : {"center", "corner"}
        Convention of the catalogue's ``x_px``, ``y_px`` (pixel-only grids).

    Returns
    -------
    numpy.ndarray
        ``(grid.height, grid.width)`` array of 0 and 1.

    Raises
    ------
    TargetSpecError
        Unknown kind, ``inner_ratio`` outside (0, 1), ``ring_width_px`` <= 0,
        unknown ``offset``.
    CraterValueError
        A negative diameter bound, or the minimum above the maximum.
    GridError
        The catalogue lacks the coordinates the grid needs (lon/lat on a
        georeferenced grid, pixel positions otherwise).

    Examples
    --------
    >>> grid = PixelGrid.from_resolution(9, 9, 1000.0)
    >>> cat = CraterCatalog([np.nan], [np.nan], [6.0], x_px=[4.0], y_px=[4.0])
    >>> print(rasterize_targets(grid, cat, "ring", ring_width_px=1))
    [[0 0 0 0 0 0 0 0 0]
     [0 0 0 1 1 1 0 0 0]
     [0 0 1 0 0 0 1 0 0]
     [0 1 0 0 0 0 0 1 0]
     [0 1 0 0 0 0 0 1 0]
     [0 1 0 0 0 0 0 1 0]
     [0 0 1 0 0 0 1 0 0]
     [0 0 0 1 1 1 0 0 0]
     [0 0 0 0 0 0 0 0 0]]
    """
    spec = TargetSpec(kind, inner_ratio, ring_width_px)
    check_diameter_range(min_diameter_km, max_diameter_km)
    if offset not in ("center", "corner"):
        raise TargetSpecError(f"offset must be 'center' or 'corner', got {offset!r}")
    out = np.zeros((grid.height, grid.width), dtype=dtype)
    catalog = catalog.filter(min_diameter_km=min_diameter_km, max_diameter_km=max_diameter_km)
    if not len(catalog):
        return out
    craters = _Footprints.build(grid, catalog, spec, offset)
    boxes = craters.boxes()
    key_outer, key_inner = craters.key_outer.tolist(), craters.key_inner.tolist()
    for i, r0, r1, c0, c1 in boxes.T.tolist():
        q = craters.distance_key(i, r0, r1, c0, c1)
        view = out[r0:r1, c0:c1]
        view[q <= key_outer[i]] = 1
        if key_inner[i] > 0.0:
            view[q <= key_inner[i]] = 0
    log.debug(
        "drew %d %s crater footprints on a %d x %d grid",
        boxes.shape[1],
        spec.kind,
        grid.width,
        grid.height,
    )
    return out


def craters_on_grid(
    grid: PixelGrid,
    catalog: CraterCatalog,
    spec: TargetSpec | None = None,
    offset: str = "center",
) -> np.ndarray:
    """Which craters :func:`rasterize_targets` would draw at least partly on ``grid``.

    A crater counts when its bounding box meets the grid (a crater just off a
    corner may count without setting a pixel). ``spec`` matters for rings,
    which reach half their width outside the rim (default: filled disks).

    Returns
    -------
    numpy.ndarray of bool
        One value per crater of ``catalog``.

    Examples
    --------
    >>> grid = PixelGrid.from_resolution(10, 10, 1000.0)
    >>> cat = CraterCatalog([np.nan] * 2, [np.nan] * 2, [2.0, 2.0], x_px=[5, 50], y_px=[5, 5])
    >>> craters_on_grid(grid, cat).tolist()
    [True, False]
    """
    hit = np.zeros(len(catalog), dtype=bool)
    if len(catalog):
        craters = _Footprints.build(grid, catalog, spec or TargetSpec(), offset)
        hit[craters.index[craters.boxes()[0]]] = True
    return hit


# --------------------------------------------------------------------- internals
@dataclass(frozen=True)
class _Footprints:
    """Craters in painter's order, with their bounding boxes and distance thresholds.

    ``distance_key`` is a quantity that grows with the distance from a crater's
    centre (the haversine on the sphere, the squared distance in pixels), so a
    pixel is inside a disk when its key is at most the disk's key: no square
    root or arcsine per pixel.
    """

    grid: PixelGrid
    index: np.ndarray  # position of each crater in the caller's catalogue
    col_c: np.ndarray  # centre, pixel coordinates (centre convention)
    row_c: np.ndarray
    col_half: np.ndarray  # half size of the bounding box, pixels
    row_half: np.ndarray
    key_outer: np.ndarray
    key_inner: np.ndarray  # negative: no hole
    # georeferenced grids only: centre in radians, per-pixel lon/lat
    lon_c: np.ndarray | None = None
    lat_c: np.ndarray | None = None
    col_lon: np.ndarray | None = None  # lon of each column's pixel centres (axis-aligned grid)
    row_lat: np.ndarray | None = None

    @classmethod
    def build(
        cls, grid: PixelGrid, catalog: CraterCatalog, spec: TargetSpec, offset: str
    ) -> _Footprints:
        if grid.is_georeferenced:
            return cls._on_sphere(grid, catalog, spec)
        return cls._in_pixels(grid, catalog, spec, offset)

    @classmethod
    def _in_pixels(
        cls, grid: PixelGrid, catalog: CraterCatalog, spec: TargetSpec, offset: str
    ) -> _Footprints:
        if catalog.x_px is None or catalog.y_px is None:
            raise GridError(
                "this grid has no georeferencing, so craters are placed by pixel position, "
                "but the catalogue has no x_px/y_px columns; give a georeferenced raster or "
                "a catalogue with pixel coordinates"
            )
        x, y = np.asarray(catalog.x_px, float), np.asarray(catalog.y_px, float)
        missing = ~(np.isfinite(x) & np.isfinite(y))
        if np.any(missing):
            raise GridError(
                f"{int(missing.sum())} craters have no pixel position (x_px/y_px); "
                "drop them or rasterise on a georeferenced grid"
            )
        if offset == "corner":  # corner convention: pixel (0, 0) centre is at (0.5, 0.5)
            x, y = x - 0.5, y - 0.5
        diameter_px = catalog.diameter_km * 1000.0 / grid.resolution_m
        if catalog.diameter_px is not None:
            given = np.isfinite(catalog.diameter_px)
            diameter_px = np.where(given, catalog.diameter_px, diameter_px)
        outer_px, inner_px = _disk_radii(diameter_px / 2.0, spec, spec.ring_width_px)
        order = np.lexsort((y, x, -diameter_px))
        outer_px, inner_px = outer_px[order], inner_px[order]
        return cls(
            grid=grid,
            index=order,
            col_c=x[order],
            row_c=y[order],
            col_half=outer_px,
            row_half=outer_px,
            key_outer=outer_px**2,
            key_inner=np.where(inner_px > 0, inner_px**2, -1.0),
        )

    @classmethod
    def _on_sphere(cls, grid: PixelGrid, catalog: CraterCatalog, spec: TargetSpec) -> _Footprints:
        lon, lat = np.asarray(catalog.lon_deg, float), np.asarray(catalog.lat_deg, float)
        missing = ~(np.isfinite(lon) & np.isfinite(lat))
        if np.any(missing):
            raise GridError(
                f"{int(missing.sum())} craters have no longitude/latitude, which a "
                "georeferenced grid needs; drop them, or rasterise on a grid without "
                "georeferencing (PixelGrid.from_resolution) to use their pixel positions"
            )
        radius_m_body = grid.projection.body.radius_m
        ring_width_m = spec.ring_width_px * grid.resolution_m
        outer_m, inner_m = _disk_radii(catalog.diameter_km * 500.0, spec, ring_width_m)
        order = np.lexsort((lat, lon, -catalog.diameter_km))
        lon, lat, outer_m, inner_m = lon[order], lat[order], outer_m[order], inner_m[order]

        col_c, row_c = grid.lonlat_to_pixel(lon, lat)  # the copy of each centre nearest the grid
        col_c, row_c = np.atleast_1d(col_c), np.atleast_1d(row_c)
        # Extent of each crater in lon/lat, then in pixels (both projections are
        # linear in lon/lat, so the extent maps through the affine transform).
        rho = np.minimum(outer_m / radius_m_body, math.pi)
        dlat_deg = np.degrees(rho)
        # a cap of angular radius rho centred at lat spans +-asin(sin rho / cos lat) in
        # longitude; one that reaches a pole spans every longitude
        sin_ratio = np.sin(rho) / np.maximum(np.cos(np.radians(lat)), 1e-12)
        polar = (np.abs(lat) + dlat_deg >= 90.0) | (sin_ratio >= 1.0)
        dlon_deg = np.where(polar, 180.0, np.degrees(np.arcsin(np.minimum(sin_ratio, 1.0))))
        col_half, row_half = _pixel_half_sizes(grid, dlon_deg, dlat_deg)

        _, b, _, d, _, _ = grid.transform
        axis_aligned = b == 0.0 and d == 0.0
        col_lon = row_lat = None
        if axis_aligned:
            lon_deg, _ = grid.pixel_to_lonlat(np.arange(grid.width), 0)
            _, lat_deg = grid.pixel_to_lonlat(0, np.arange(grid.height))
            col_lon = np.radians(np.atleast_1d(lon_deg))
            row_lat = np.radians(np.atleast_1d(lat_deg))
        return cls(
            grid=grid,
            index=order,
            col_c=col_c,
            row_c=row_c,
            col_half=col_half,
            row_half=row_half,
            key_outer=_haversine_of(rho),
            key_inner=np.where(inner_m > 0, _haversine_of(inner_m / radius_m_body), -1.0),
            lon_c=np.radians(lon),
            lat_c=np.radians(lat),
            col_lon=col_lon,
            row_lat=row_lat,
        )

    def boxes(self) -> np.ndarray:
        """``(5, n)`` int array: crater, row0, row1, col0, col1 of each non-empty box.

        A crater appears once more for each copy of it one planet turn away that
        meets the grid (grids spanning all longitudes).
        """
        shifts = [(0.0, 0.0)]
        if self.grid.is_georeferenced:
            proj = self.grid.projection
            c0, r0 = self.grid.xy_to_pixel(0.0, 0.0)
            c1, r1 = self.grid.xy_to_pixel(proj.x_period, 0.0)
            shifts += [(c1 - c0, r1 - r0), (c0 - c1, r0 - r1)]
        parts = []
        for dc, dr in shifts:
            col0 = np.ceil(self.col_c + dc - self.col_half) - _BOX_MARGIN_PX
            col1 = np.floor(self.col_c + dc + self.col_half) + _BOX_MARGIN_PX + 1
            row0 = np.ceil(self.row_c + dr - self.row_half) - _BOX_MARGIN_PX
            row1 = np.floor(self.row_c + dr + self.row_half) + _BOX_MARGIN_PX + 1
            col0, row0 = np.maximum(col0, 0), np.maximum(row0, 0)
            col1, row1 = np.minimum(col1, self.grid.width), np.minimum(row1, self.grid.height)
            keep = (col0 < col1) & (row0 < row1)
            crater = np.flatnonzero(keep)
            parts.append(np.stack([crater, row0[keep], row1[keep], col0[keep], col1[keep]]))
        boxes = np.concatenate(parts, axis=1).astype(np.int64)
        return boxes[:, np.argsort(boxes[0], kind="stable")]  # keep painter's order

    def distance_key(self, i: int, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
        """The distance key of the pixels ``[r0:r1, c0:c1]`` from crater ``i``."""
        if self.lon_c is None:  # pixel space: squared distance
            dx = np.arange(c0, c1, dtype=float) - self.col_c[i]
            dy = np.arange(r0, r1, dtype=float) - self.row_c[i]
            return dy[:, None] ** 2 + dx[None, :] ** 2
        lon_c, lat_c = self.lon_c[i], self.lat_c[i]
        if self.col_lon is not None:  # axis-aligned grid: lon by column, lat by row
            lon, lat = self.col_lon[c0:c1][None, :], self.row_lat[r0:r1][:, None]
        else:
            cols, rows = np.meshgrid(np.arange(c0, c1), np.arange(r0, r1))
            lon_deg, lat_deg = self.grid.pixel_to_lonlat(cols, rows)
            lon, lat = np.radians(lon_deg), np.radians(lat_deg)
        # haversine: sin^2(dlat/2) + cos(lat_c) cos(lat) sin^2(dlon/2); periodic in lon
        return (
            np.sin((lat - lat_c) / 2.0) ** 2
            + (math.cos(lat_c) * np.cos(lat)) * np.sin((lon - lon_c) / 2.0) ** 2
        )


def _disk_radii(radius: np.ndarray, spec: TargetSpec, ring_width: float):
    """Outer radius and hole radius (0 or less: no hole) of each crater's footprint."""
    if spec.kind == "outline":
        return radius, radius * spec.inner_ratio
    if spec.kind == "ring":  # centred on the rim
        return radius + ring_width / 2.0, radius - ring_width / 2.0
    return radius, np.zeros_like(radius)


def _haversine_of(angle_rad: np.ndarray) -> np.ndarray:
    """``sin^2(angle / 2)``, the haversine of a great-circle angle."""
    return np.sin(np.asarray(angle_rad, float) / 2.0) ** 2


def _pixel_half_sizes(grid: PixelGrid, dlon_deg: np.ndarray, dlat_deg: np.ndarray):
    """Half width and height in pixels of boxes ``+-dlon_deg``, ``+-dlat_deg`` wide."""
    proj = grid.projection
    x0, y0 = proj.forward(0.0, 0.0)
    xs, _ = proj.forward(dlon_deg, 0.0)
    _, ys = proj.forward(0.0, dlat_deg)
    dx, dy = np.asarray(xs, float) - x0, np.asarray(ys, float) - y0
    a, b, _, d, e, _ = grid.transform
    det = a * e - b * d
    # pixel offsets of the map vectors (dx, 0) and (0, dy); a box edge is the sum of both
    col_dx, row_dx = e * dx / det, -d * dx / det
    col_dy, row_dy = -b * dy / det, a * dy / det
    return np.abs(col_dx) + np.abs(col_dy), np.abs(row_dx) + np.abs(row_dy)
