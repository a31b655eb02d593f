"""One-to-one matching of detected craters to a reference catalogue (DeepMoon's rule).

Two craters with centre distance ``d`` and radii ``r1``, ``r2`` are the same
crater when (Silburt et al. 2019, DeepMoon)::

    d**2 / min(r1, r2)**2 < 1.8   and   |r1 - r2| / min(r1, r2) < 1.0

Two ways to measure ``d`` and ``r`` (``mode``):

* ``"sphere"``: ``d`` is the great-circle distance in km on the body's sphere
  (:data:`geocore.body.MARS`), ``r = diameter_km / 2``. Longitudes in either
  convention; pairs across the antimeridian or near a pole are found.
* ``"pixel"``: ``d`` in pixels from ``x_px, y_px``, ``r = diameter_px / 2``, for
  craters of plain images (YOLO labels, detections on an image without
  georeferencing). Pixels are taken as square. When both catalogues have a
  ``source`` column, craters are compared only within the same image: sources
  are compared by file name without folder and image suffix (``a/crater0.jpg``
  and ``crater0`` are the same image).
* ``"auto"`` (default): ``"sphere"`` when every crater of both catalogues has a
  longitude and latitude, else ``"pixel"`` when every crater has ``x_px``,
  ``y_px`` and ``diameter_px``, else :class:`~geocore.errors.CatalogFormatError`.

One-to-one, greedy
    Every candidate pair is given a cost, the sum of its two criteria as
    fractions of their thresholds, ``(d / min r)**2 / 1.8 + |r1 - r2| / min r``
    (each term < 1 for a candidate); pairs are taken cheapest first (ties by
    detection then reference index) and a pair is kept only when neither crater
    is already taken. So each detection and each reference crater is used at most
    once, and two detections of one crater give one match and one false positive.

Region and diameter range: which craters count
    Each crater of both catalogues gets a :class:`Status`:

    * ``OUTSIDE``: its disk is entirely outside ``region``; ``OUT_OF_RANGE``: its
      diameter is outside ``[min / (1 + margin), max * (1 + margin)]``. Neither
      takes part in matching.
    * ``EDGE``: its rim crosses the region's edge (the disk is partly inside,
      wherever its centre is); ``MARGIN``: its diameter is in the tolerance band
      just outside ``[min, max]`` (``margin`` = ``diameter_margin``, 0.25 by
      default: for ``min = 2`` km the band is 1.6-2 km). These take part in
      matching but are *not counted* on their own: unmatched, they are neither
      false negatives nor false positives.
    * ``COUNTED``: the rest.

    A matched pair is a true positive when at least one of its two craters is
    ``COUNTED`` (a 1.95 km detection of a 2.05 km crater is a match with
    ``min = 2``; so is a 2.05 km detection of a 1.95 km crater). A pair of two
    uncounted craters is ignored. Unmatched ``COUNTED`` references are false
    negatives, unmatched ``COUNTED`` detections false positives.

    "Rim crosses the edge" is tested on the crater's bounding box: on the sphere
    its extent is ``lat +- r/R`` and ``lon +- asin(sin(r/R) / cos(lat))`` (a cap
    over a pole spans all longitudes); on a :class:`~geocore.grid.PixelGrid`
    that box is mapped to pixels and compared with the grid's outer pixel edges;
    in pixel mode the box is ``x +- r``, ``y +- r``. Near a region's corner a crater
    just outside the corner may so be called ``EDGE`` instead of ``OUTSIDE``
    (harmless: uncounted craters never add errors).

Per-pair errors (fractions of the *reference* radius or diameter)
    ``lon_error = |dlon| cos(lat_ref) R / r_ref`` (east-west distance over the
    radius), ``lat_error = |dlat| R / r_ref``, ``diameter_error = |D_det - D_ref| /
    D_ref``; in pixel mode ``|dx| / r_ref``, ``|dy| / r_ref`` and diameters in
    pixels. (DeepMoon divides by the mean radius of the pair; the reference is
    used here so that the errors are fractions of the truth.)

Speed: candidate pairs come from spatial hashing, without scipy. Craters are put
in octaves of radius; for the reference craters of one octave only the
detections of the neighbouring octaves (the radius rule allows a factor < 2) in
the 27 neighbouring cells of a 3-D grid of unit vectors (9 cells in pixel mode),
whose cell size is the largest distance allowed in that octave, are examined.
Greedy selection runs in vectorised rounds of mutually cheapest pairs, which
gives exactly the sequential greedy result.

Only numpy and the standard library are imported: the module runs in QGIS.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
from dataclasses import dataclass, fields
from enum import IntEnum

import numpy as np

from .body import MARS, Body
from .catalog import check_bbox, check_diameter_range
from .crater import CraterCatalog
from .errors import CatalogFormatError, CoordinateError, CraterValueError, GridError
from .grid import PixelGrid, wrap_longitude

__all__ = [
    "DIAMETER_RULE",
    "DISTANCE_RULE",
    "MODES",
    "MatchResult",
    "Status",
    "check_diameter_margin",
    "crater_status",
    "match_catalogs",
]

log = logging.getLogger(__name__)

#: DeepMoon's thresholds: ``d**2 / min(r)**2 < DISTANCE_RULE`` and
#: ``|r1 - r2| / min(r) < DIAMETER_RULE``.
DISTANCE_RULE = 1.8
DIAMETER_RULE = 1.0
MODES = ("auto", "sphere", "pixel")
#: Default tolerance band around the diameter range (a fraction of the bound).
DEFAULT_DIAMETER_MARGIN = 0.25
_SOURCE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".txt")
# Mutual-best rounds before the greedy selection finishes in a plain loop.
_MAX_ROUNDS = 64


class Status(IntEnum):
    """What a crater is to the metrics (see the module docstring)."""

    COUNTED = 0
    EDGE = 1
    MARGIN = 2
    OUTSIDE = 3
    OUT_OF_RANGE = 4


#: Statuses of the craters that take part in matching.
_MATCHABLE = (Status.COUNTED, Status.EDGE, Status.MARGIN)


def _frozen(value, dtype) -> np.ndarray:
    arr = np.array(value, dtype=dtype).reshape(-1)
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class MatchResult:
    """The one-to-one matches between a detected and a reference catalogue.

    Index arrays refer to rows of the catalogues given to :func:`match_catalogs`.

    Parameters
    ----------
    mode : {"sphere", "pixel"}
        How distances were measured.
    detected_index, reference_index : numpy.ndarray of int
        The matched pairs: ``detected[detected_index[i]]`` is
        ``reference[reference_index[i]]``.
    distance : numpy.ndarray
        Centre distance of each pair, km (sphere) or pixels.
    lon_error, lat_error, diameter_error : numpy.ndarray
        Fractional errors of each pair (see the module docstring).
    detected_status, reference_status : numpy.ndarray of int8
        The :class:`Status` of every crater of each catalogue.
    unmatched_detected, unmatched_reference : numpy.ndarray of int
        Craters that took part in matching (``COUNTED``, ``EDGE``, ``MARGIN``)
        and found no partner.
    """

    mode: str
    detected_index: np.ndarray
    reference_index: np.ndarray
    distance: np.ndarray
    lon_error: np.ndarray
    lat_error: np.ndarray
    diameter_error: np.ndarray
    detected_status: np.ndarray
    reference_status: np.ndarray
    unmatched_detected: np.ndarray
    unmatched_reference: np.ndarray

    def __post_init__(self) -> None:
        if self.mode not in ("sphere", "pixel"):
            raise ValueError(f"mode must be 'sphere' or 'pixel', got {self.mode!r}")
        for f in fields(self):
            if f.name == "mode":
                continue
            if f.name.endswith("status"):
                dtype = np.int8
            elif "index" in f.name or "unmatched" in f.name:
                dtype = np.int64
            else:
                dtype = float
            object.__setattr__(self, f.name, _frozen(getattr(self, f.name), dtype))
        n = self.detected_index.size
        for name in ("reference_index", "distance", "lon_error", "lat_error", "diameter_error"):
            if getattr(self, name).size != n:
                raise ValueError(f"{name} has {getattr(self, name).size} values, expected {n}")

    def __len__(self) -> int:
        return int(self.detected_index.size)

    def __repr__(self) -> str:
        return (
            f"MatchResult({len(self)} pairs, {self.unmatched_detected.size} unmatched detections,"
            f" {self.unmatched_reference.size} unmatched reference craters, mode={self.mode!r})"
        )

    @property
    def pair_counted(self) -> np.ndarray:
        """Whether each pair is a true positive (at least one of its craters is ``COUNTED``)."""
        return (self.detected_status[self.detected_index] == Status.COUNTED) | (
            self.reference_status[self.reference_index] == Status.COUNTED
        )


# ----------------------------------------------------------------- helpers
def _has_lonlat(catalog: CraterCatalog) -> bool:
    return bool(np.all(np.isfinite(catalog.lon_deg)) and np.all(np.isfinite(catalog.lat_deg)))


def _has_pixels(catalog: CraterCatalog) -> bool:
    if not len(catalog):
        return True
    columns = (catalog.x_px, catalog.y_px, catalog.diameter_px)
    return all(c is not None and bool(np.all(np.isfinite(c))) for c in columns)


def _choose_mode(detected: CraterCatalog, reference: CraterCatalog, mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    sphere_ok = _has_lonlat(detected) and _has_lonlat(reference)
    pixel_ok = _has_pixels(detected) and _has_pixels(reference)
    if mode == "auto":
        if sphere_ok:
            return "sphere"
        if pixel_ok:
            return "pixel"
    elif (mode == "sphere" and sphere_ok) or (mode == "pixel" and pixel_ok):
        return mode

    def has(cat: CraterCatalog) -> str:
        parts = []
        if _has_lonlat(cat):
            parts.append("lon/lat")
        if _has_pixels(cat):
            parts.append("x_px, y_px, diameter_px")
        return " and ".join(parts) if parts else "neither lon/lat for every crater nor pixels"

    wanted = {"auto": "lon/lat or pixel positions", "sphere": "lon/lat", "pixel": "pixels"}[mode]
    raise CatalogFormatError(
        f"cannot compare the catalogues by {wanted}: the detections have {has(detected)}, "
        f"the reference has {has(reference)}; match georeferenced detections with a lon/lat "
        "catalogue, or pixel detections of plain images with pixel labels (e.g. YOLO) of "
        "the same images"
    )


def _source_key(name) -> str:
    if name is None:
        return ""
    base = os.path.basename(str(name).replace("\\", "/"))
    stem, suffix = os.path.splitext(base)
    return stem if suffix.lower() in _SOURCE_SUFFIXES else base


def _pixel_groups(detected: CraterCatalog, reference: CraterCatalog):
    """Integer image ids of both catalogues, from their ``source`` columns."""
    keys = []
    for cat in (detected, reference):
        if cat.source is None or all(s is None for s in cat.source):
            keys.append(None)
        else:
            keys.append(np.array([_source_key(s) for s in cat.source], dtype=object))
    if keys[0] is None or keys[1] is None:
        other = {0: reference, 1: detected}
        for i, (name, k) in enumerate(zip(("detected", "reference"), keys, strict=True)):
            if k is not None and len(set(k)) > 1 and len(other[i]):
                raise CatalogFormatError(
                    f"the {name} catalogue has craters of {len(set(k))} images (column "
                    "'source') but the other catalogue names no image; pixel positions of "
                    "different images cannot be compared: give both a 'source' column or "
                    "one image only"
                )
        return np.zeros(len(detected), np.int64), np.zeros(len(reference), np.int64)
    names, ids = np.unique(np.concatenate(keys).astype(str), return_inverse=True)
    ids = ids.reshape(-1).astype(np.int64)
    det_ids, ref_ids = ids[: len(detected)], ids[len(detected) :]
    if det_ids.size and ref_ids.size and not np.intersect1d(det_ids, ref_ids).size:
        log.warning(
            "no image name is shared by the detections and the reference (e.g. %r vs %r): "
            "nothing can match",
            names[det_ids[0]], names[ref_ids[0]],
        )  # fmt: skip
    return det_ids, ref_ids


def _unit_vectors(lon_deg, lat_deg) -> np.ndarray:
    lon, lat = np.radians(lon_deg), np.radians(lat_deg)
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=1)


def _octave(radius: np.ndarray) -> np.ndarray:
    """``floor(log2(radius))`` exactly (fixed where log2 rounds across a power of 2)."""
    level = np.floor(np.log2(radius)).astype(np.int32)  # int32: ldexp on every platform
    level -= np.ldexp(1.0, level) > radius
    level += np.ldexp(1.0, level + 1) <= radius
    return level.astype(np.int64)


def _cell_keys(cells: np.ndarray, group: np.ndarray, low: np.ndarray, size: np.ndarray):
    """One int64 key per cell and group: exact mixed radix when it fits, else a hash."""
    if float(np.prod(size.astype(float))) * (float(group.max(initial=0)) + 1) < 2.0**62:
        key = group.astype(np.int64)
        for axis in range(cells.shape[1]):
            key = key * size[axis] + (cells[:, axis] - low[axis])
        return key
    # Collisions only add candidate pairs, which the exact test then drops.
    primes = (73856093, 19349663, 83492791)
    key = group.astype(np.int64) * np.int64(2654435761)
    for axis in range(cells.shape[1]):
        key = key + cells[:, axis] * np.int64(primes[axis])
    return key


def _neighbour_pairs(ref_xyz, ref_g, det_xyz, det_g, cell_size: float):
    """Pairs (ref row, det row) whose points lie in the same or adjacent grid cells."""
    ref_cells = np.floor(ref_xyz / cell_size).astype(np.int64)
    det_cells = np.floor(det_xyz / cell_size).astype(np.int64)
    low = np.minimum(ref_cells.min(axis=0), det_cells.min(axis=0)) - 1
    size = np.maximum(ref_cells.max(axis=0), det_cells.max(axis=0)) + 2 - low
    ref_keys = _cell_keys(ref_cells, ref_g, low, size)
    order = np.argsort(ref_keys, kind="stable")
    cell_keys, cell_start, cell_count = np.unique(
        ref_keys[order], return_index=True, return_counts=True
    )
    # Queries in key order make the binary searches cache friendly (several times faster).
    det_order = np.argsort(_cell_keys(det_cells, det_g, low, size), kind="stable")
    det_cells, det_g = det_cells[det_order], det_g[det_order]
    ref_parts, det_parts = [], []
    for offset in itertools.product((-1, 0, 1), repeat=det_cells.shape[1]):
        query = _cell_keys(det_cells + np.array(offset), det_g, low, size)
        pos = np.minimum(np.searchsorted(cell_keys, query), cell_keys.size - 1)
        hit = np.flatnonzero(cell_keys[pos] == query)
        if not hit.size:
            continue
        counts = cell_count[pos[hit]]
        total = int(counts.sum())
        first = np.repeat(cell_start[pos[hit]] - (np.cumsum(counts) - counts), counts)
        ref_parts.append(order[first + np.arange(total)])
        det_parts.append(det_order[np.repeat(hit, counts)])
    if not ref_parts:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(ref_parts), np.concatenate(det_parts)


def _candidates(det_xyz, det_r, det_g, ref_xyz, ref_r, ref_g, cell_size_of):
    """All (det, ref) pairs that may pass DeepMoon's rule (a superset of them)."""
    det_level, ref_level = _octave(det_r), _octave(ref_r)
    det_parts, ref_parts = [], []
    for level in np.unique(ref_level):
        refs = np.flatnonzero(ref_level == level)
        # |r1 - r2| < min(r1, r2) means a ratio < 2: detections one octave away at most
        dets = np.flatnonzero(np.abs(det_level - level) <= 1)
        if not dets.size:
            continue
        # d < sqrt(1.8) min(r1, r2) <= sqrt(1.8) r_ref < sqrt(1.8) 2**(level + 1)
        reach = math.sqrt(DISTANCE_RULE) * 2.0 ** (int(level) + 1)
        r_rows, d_rows = _neighbour_pairs(
            ref_xyz[refs], ref_g[refs], det_xyz[dets], det_g[dets], cell_size_of(reach)
        )
        ref_parts.append(refs[r_rows])
        det_parts.append(dets[d_rows])
    if not det_parts:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    det_idx, ref_idx = np.concatenate(det_parts), np.concatenate(ref_parts)
    unique = np.unique(det_idx * np.int64(ref_r.size) + ref_idx)  # hash collisions only
    return unique // ref_r.size, unique % ref_r.size


def _greedy(det_idx, ref_idx, cost):
    """Greedy one-to-one selection, cheapest pair first; returns positions of kept pairs."""
    order = np.lexsort((ref_idx, det_idx, cost))
    d_sorted, r_sorted = det_idx[order], ref_idx[order]
    alive = np.ones(order.size, dtype=bool)
    kept: list[np.ndarray] = []
    used_d = np.zeros(int(det_idx.max(initial=-1)) + 1, dtype=bool)
    used_r = np.zeros(int(ref_idx.max(initial=-1)) + 1, dtype=bool)
    rounds = 0
    while alive.any() and rounds < _MAX_ROUNDS:
        # A pair that is the cheapest alive pair of both its craters is taken by the
        # sequential greedy too, so all of them can be taken at once.
        pos = np.flatnonzero(alive)
        d, r = d_sorted[pos], r_sorted[pos]
        best = np.zeros(pos.size, dtype=bool)
        best[np.unique(d, return_index=True)[1]] = True
        best_r = np.zeros(pos.size, dtype=bool)
        best_r[np.unique(r, return_index=True)[1]] = True
        take = pos[best & best_r]
        kept.append(take)
        used_d[d_sorted[take]] = True
        used_r[r_sorted[take]] = True
        alive[pos] = ~(used_d[d] | used_r[r])
        rounds += 1
    rest = []
    for p in np.flatnonzero(alive):  # long chains of rivals only
        if not (used_d[d_sorted[p]] or used_r[r_sorted[p]]):
            used_d[d_sorted[p]] = used_r[r_sorted[p]] = True
            rest.append(p)
    kept.append(np.array(rest, dtype=np.int64))
    return np.sort(order[np.concatenate(kept)])


# ------------------------------------------------------------------ status
def check_diameter_margin(diameter_margin: float) -> float:
    """Validate the diameter tolerance band (a fraction >= 0); return it as a float.

    Raises
    ------
    CraterValueError
        Not a finite number >= 0.
    """
    try:
        margin = float(diameter_margin)
    except (TypeError, ValueError):
        margin = math.nan
    if not (math.isfinite(margin) and margin >= 0):
        raise CraterValueError(
            f"diameter_margin must be a fraction >= 0 (e.g. 0.25), got {diameter_margin!r}"
        )
    return margin


def _box_status(lo_x, hi_x, lo_y, hi_y, x_range, y_range) -> np.ndarray:
    """EDGE / OUTSIDE / COUNTED of boxes against a rectangle (x wrap handled by callers)."""
    inside = (lo_x >= x_range[0]) & (hi_x <= x_range[1]) & (lo_y >= y_range[0])
    inside &= hi_y <= y_range[1]
    touch = (hi_x >= x_range[0]) & (lo_x <= x_range[1]) & (hi_y >= y_range[0])
    touch &= lo_y <= y_range[1]
    return np.where(inside, Status.COUNTED, np.where(touch, Status.EDGE, Status.OUTSIDE))


def _cap_extent_deg(lat_deg, radius_km, body: Body):
    """Half extents in longitude and latitude (degrees) of spherical caps."""
    angle = np.asarray(radius_km, dtype=float) / (body.radius_m / 1000.0)
    half_lat = np.degrees(angle)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.sin(np.minimum(angle, math.pi / 2)) / np.cos(np.radians(lat_deg))
        half_lon = np.where(ratio < 1.0, np.degrees(np.arcsin(np.minimum(ratio, 1.0))), 180.0)
    return half_lon, half_lat


def _region_status_bbox(catalog, bbox, body) -> np.ndarray:
    west, south, east, north = bbox
    half_lon, half_lat = _cap_extent_deg(catalog.lat_deg, catalog.diameter_km / 2.0, body)
    lat = np.asarray(catalog.lat_deg, dtype=float)
    lo_y, hi_y = np.maximum(lat - half_lat, -90.0), np.minimum(lat + half_lat, 90.0)
    if east - west >= 360.0:  # every longitude: only the parallels can cut a crater
        zero = np.zeros_like(lat)
        return _box_status(zero, zero, lo_y, hi_y, (0.0, 0.0), (south, north))
    span = (east - west) % 360.0
    rel = wrap_longitude(np.asarray(catalog.lon_deg, dtype=float) - west, "0..360")
    # A crater just west of the box has rel near 360: put it at the box's west side.
    rel = np.where(rel - half_lon > span, rel - 360.0, rel)
    return _box_status(rel - half_lon, rel + half_lon, lo_y, hi_y, (0.0, span), (south, north))


def _region_status_grid_sphere(catalog, grid: PixelGrid, body) -> np.ndarray:
    if not grid.is_georeferenced:
        raise GridError(
            "region is a pixel grid without georeferencing, but the craters are matched by "
            "lon/lat; give a georeferenced grid or a lon/lat bbox (or match in pixels)"
        )
    col, row = grid.lonlat_to_pixel(catalog.lon_deg, catalog.lat_deg)
    half_lon, half_lat = _cap_extent_deg(catalog.lat_deg, catalog.diameter_km / 2.0, body)
    # pixels per degree: map units per degree (both projections are linear) through the
    # inverse of the affine part of the transform
    x0, y0 = grid.projection.forward(0.0, 0.0)
    x1, y1 = grid.projection.forward(1.0, 1.0)
    kx, ky = float(x1) - float(x0), float(y1) - float(y0)
    a, b, _, d, e, _ = grid.transform
    det = a * e - b * d
    j = np.array([[e * kx, -b * ky], [-d * kx, a * ky]]) / det
    ext_x = abs(j[0, 0]) * half_lon + abs(j[0, 1]) * half_lat
    ext_y = abs(j[1, 0]) * half_lon + abs(j[1, 1]) * half_lat
    return _pixel_box_status(np.asarray(col), np.asarray(row), ext_x, ext_y, grid)


def _pixel_box_status(x, y, ext_x, ext_y, grid: PixelGrid) -> np.ndarray:
    # pixel-centre convention: the grid's outer edges are at -0.5 and size - 0.5
    return _box_status(
        x - ext_x, x + ext_x, y - ext_y, y + ext_y,
        (-0.5, grid.width - 0.5), (-0.5, grid.height - 0.5),
    )  # fmt: skip


def crater_status(
    catalog: CraterCatalog,
    *,
    mode: str,
    region=None,
    min_diameter_km: float | None = None,
    max_diameter_km: float | None = None,
    diameter_margin: float = DEFAULT_DIAMETER_MARGIN,
    body: Body = MARS,
) -> np.ndarray:
    """The :class:`Status` of every crater of a catalogue (int8 array).

    Parameters
    ----------
    catalog : CraterCatalog
    mode : {"sphere", "pixel"}
        ``"sphere"`` uses lon/lat and ``diameter_km``; ``"pixel"`` uses ``x_px``,
        ``y_px`` and ``diameter_px``.
    region : (west, south, east, north) or PixelGrid, optional
        The area searched; see the module docstring. A bbox needs ``"sphere"``.
    min_diameter_km, max_diameter_km : float, optional
        Diameter range of the craters that count (inclusive).
    diameter_margin : float
        Tolerance band beyond the range, as a fraction of each bound.
    body : Body
        The sphere (sphere mode).

    Raises
    ------
    CoordinateError
        A bad bbox, or a bbox in pixel mode.
    GridError
        A grid without georeferencing in sphere mode.
    CraterValueError
        A bad diameter range or margin.

    Examples
    --------
    >>> from geocore.crater import Crater
    >>> cat = CraterCatalog.from_craters([Crater(10, 0, 3), Crater(0.01, 0, 3), Crater(10, 0, 1.9)])
    >>> [Status(s).name for s in crater_status(cat, mode="sphere", region=(0, -5, 20, 5),
    ...                                        min_diameter_km=2)]
    ['COUNTED', 'EDGE', 'MARGIN']
    """
    if mode not in ("sphere", "pixel"):
        raise ValueError(f"mode must be 'sphere' or 'pixel', got {mode!r}")
    margin = check_diameter_margin(diameter_margin)
    check_diameter_range(min_diameter_km, max_diameter_km)
    if region is not None and not isinstance(region, PixelGrid):
        region = check_bbox(region)
        if mode == "pixel":
            raise CoordinateError(
                f"region {region!r} is a lon/lat box, but the craters are matched in pixels; "
                "give the images' PixelGrid as the region, e.g. PixelGrid.from_resolution("
                "416, 416, 100)"
            )
    diameter = np.asarray(catalog.diameter_km, dtype=float)
    status = np.full(len(catalog), Status.COUNTED, dtype=np.int8)
    if region is not None and len(catalog):
        if not isinstance(region, PixelGrid):
            edge = _region_status_bbox(catalog, region, body)
        elif mode == "pixel":
            r = np.asarray(catalog.diameter_px, dtype=float) / 2.0
            edge = _pixel_box_status(catalog.x_px, catalog.y_px, r, r, region)
        else:
            edge = _region_status_grid_sphere(catalog, region, body)
        status = np.maximum(status, edge.astype(np.int8))
    low = -math.inf if min_diameter_km is None else min_diameter_km
    high = math.inf if max_diameter_km is None else max_diameter_km
    in_band = (diameter >= low / (1.0 + margin)) & (diameter <= high * (1.0 + margin))
    in_range = (diameter >= low) & (diameter <= high)
    status = np.where(in_range, status, np.maximum(status, Status.MARGIN))
    status = np.where(in_band, status, Status.OUT_OF_RANGE)
    return status.astype(np.int8)


# ---------------------------------------------------------------- matching
def match_catalogs(
    detected: CraterCatalog,
    reference: CraterCatalog,
    *,
    region=None,
    min_diameter_km: float | None = None,
    max_diameter_km: float | None = None,
    diameter_margin: float = DEFAULT_DIAMETER_MARGIN,
    mode: str = "auto",
    body: Body = MARS,
) -> MatchResult:
    """Match detected craters to a reference catalogue one to one (DeepMoon's rule).

    Parameters
    ----------
    detected, reference : CraterCatalog
        The craters found and the ground truth.
    region : (west, south, east, north) or PixelGrid, optional
        The area that was searched: a lon/lat box in degrees (longitudes in either
        convention, running east from west to east) or the grid of the image. Craters
        cut by its edge are matched but not counted alone; craters outside are
        dropped (see the module docstring).
    min_diameter_km, max_diameter_km : float, optional
        Inclusive diameter range of both catalogues; craters within
        ``diameter_margin`` beyond it are matched but not counted alone.
    diameter_margin : float
        Width of that tolerance band as a fraction of each bound (default 0.25).
    mode : {"auto", "sphere", "pixel"}
        Distances on the sphere (lon/lat, km) or in pixels.
    body : Body
        The sphere; Mars by default.

    Returns
    -------
    MatchResult

    Raises
    ------
    CatalogFormatError
        The catalogues cannot be compared in ``mode`` (no lon/lat, no pixels), or
        pixel craters of several images without ``source``.
    CoordinateError, GridError, CraterValueError
        A bad region, diameter range or margin.

    Examples
    --------
    >>> from geocore.crater import Crater
    >>> truth = CraterCatalog.from_craters([Crater(179.99, 0, 10), Crater(20, 5, 4)])
    >>> found = CraterCatalog.from_craters([Crater(-179.99, 0, 11), Crater(50, 5, 4)])
    >>> result = match_catalogs(found, truth)
    >>> result.detected_index.tolist(), result.reference_index.tolist()
    ([0], [0])
    >>> round(float(result.diameter_error[0]), 3), result.unmatched_reference.tolist()
    (0.1, [1])
    """
    mode = _choose_mode(detected, reference, mode)
    options = dict(
        mode=mode, region=region, min_diameter_km=min_diameter_km,
        max_diameter_km=max_diameter_km, diameter_margin=diameter_margin, body=body,
    )  # fmt: skip
    det_status = crater_status(detected, **options)
    ref_status = crater_status(reference, **options)
    det_rows = np.flatnonzero(np.isin(det_status, _MATCHABLE))
    ref_rows = np.flatnonzero(np.isin(ref_status, _MATCHABLE))
    det, ref = detected[det_rows], reference[ref_rows]

    radius_km = body.radius_m / 1000.0
    if mode == "sphere":
        det_xyz, ref_xyz = (
            _unit_vectors(det.lon_deg, det.lat_deg),
            _unit_vectors(ref.lon_deg, ref.lat_deg),
        )
        det_r, ref_r = det.diameter_km / 2.0, ref.diameter_km / 2.0
        det_g, ref_g = np.zeros(len(det), np.int64), np.zeros(len(ref), np.int64)

        def cell_size_of(reach_km: float) -> float:  # chord of the reach
            return 2.0 * math.sin(min(reach_km / radius_km, math.pi) / 2.0)

    else:
        det_xyz = np.stack([det.x_px, det.y_px], axis=1) if len(det) else np.empty((0, 2))
        ref_xyz = np.stack([ref.x_px, ref.y_px], axis=1) if len(ref) else np.empty((0, 2))
        det_r = np.asarray(det.diameter_px, dtype=float) / 2.0 if len(det) else np.empty(0)
        ref_r = np.asarray(ref.diameter_px, dtype=float) / 2.0 if len(ref) else np.empty(0)
        det_g, ref_g = _pixel_groups(det, ref)

        def cell_size_of(reach_px: float) -> float:
            return reach_px

    if len(det) and len(ref):
        d_i, r_i = _candidates(det_xyz, det_r, det_g, ref_xyz, ref_r, ref_g, cell_size_of)
    else:
        d_i = r_i = np.empty(0, np.int64)
    chord = np.linalg.norm(det_xyz[d_i] - ref_xyz[r_i], axis=1) if d_i.size else np.empty(0)
    if mode == "sphere":
        distance = 2.0 * radius_km * np.arcsin(np.minimum(chord / 2.0, 1.0))
    else:
        distance = chord
    r_min = np.minimum(det_r[d_i], ref_r[r_i])
    dist_term = (distance / r_min) ** 2 / DISTANCE_RULE
    size_term = np.abs(det_r[d_i] - ref_r[r_i]) / r_min / DIAMETER_RULE
    ok = (dist_term < 1.0) & (size_term < 1.0)
    d_i, r_i, distance = d_i[ok], r_i[ok], distance[ok]
    keep = _greedy(d_i, r_i, dist_term[ok] + size_term[ok])
    d_i, r_i, distance = d_i[keep], r_i[keep], distance[keep]

    if mode == "sphere":
        dlon = np.radians(wrap_longitude(det.lon_deg[d_i] - ref.lon_deg[r_i]))
        dlat = np.radians(det.lat_deg[d_i] - ref.lat_deg[r_i])
        scale = radius_km / ref_r[r_i]
        lon_error = np.abs(dlon) * np.cos(np.radians(ref.lat_deg[r_i])) * scale
        lat_error = np.abs(dlat) * scale
    else:
        lon_error = np.abs(det_xyz[d_i, 0] - ref_xyz[r_i, 0]) / ref_r[r_i]
        lat_error = np.abs(det_xyz[d_i, 1] - ref_xyz[r_i, 1]) / ref_r[r_i]
    diameter_error = np.abs(det_r[d_i] - ref_r[r_i]) / ref_r[r_i]

    matched_d = np.zeros(len(det), dtype=bool)
    matched_d[d_i] = True
    matched_r = np.zeros(len(ref), dtype=bool)
    matched_r[r_i] = True
    result = MatchResult(
        mode=mode,
        detected_index=det_rows[d_i],
        reference_index=ref_rows[r_i],
        distance=distance,
        lon_error=lon_error,
        lat_error=lat_error,
        diameter_error=diameter_error,
        detected_status=det_status,
        reference_status=ref_status,
        unmatched_detected=det_rows[~matched_d],
        unmatched_reference=ref_rows[~matched_r],
    )
    log.info("%s", result)
    return result
