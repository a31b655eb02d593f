"""Crater extraction: from a probability (or target) map to a crater catalogue.

Two methods, chosen by :attr:`ExtractionParams.method`:

``"template"`` (the reference, as DeepMoon, Silburt et al. 2019)
    Threshold the map; for every radius from ``min_radius_px`` to
    ``max_radius_px`` in steps of ``radius_step_px`` correlate a template of the
    target's geometry (or DeepMoon's ring of ``template_ring_width_px``) with it
    (normalised cross-correlation, as ``skimage.feature.match_template`` with
    ``pad_input=True``, through numpy's FFT); keep local maxima above
    ``correlation_threshold``; remove duplicates (DeepMoon's rule, the best
    correlation kept).

``"fast"`` (default)
    Coarse to fine (docs/extraction.md has the details and the measurements).

    1. *Candidates*: every radius (``fast_radii_per_octave`` per doubling, one
       more beyond each end) is matched on the thresholded map averaged over
       ``s x s`` blocks, ``s`` the power of two that brings the radius to 2-4
       pixels (``fast_coarse_radius_px``; more for large craters), with an
       area-weighted template: the whole range costs about one correlation of a
       sixteenth-size map. Filled targets are searched through the 4 px band
       inside each blob's edge, as rings. Maxima above
       ``fast_candidate_threshold`` close in position and radius are merged.
    2. *Rim fit* at full resolution: the threshold crossings (sub-pixel,
       interpolated in float maps) near the candidate are split into inner and
       outer edges by their direction; the rim's distance in each of 16
       directions is the mode of a histogram (robust to other craters' edges)
       and a sinusoid fit moves the centre (two passes), then a circle fit with
       one centre and two radii refines it (two passes). Weak candidates whose
       rim lies on craters already found are not fitted.
    3. *Score*: the same normalised correlation as the reference (area-weighted
       template at the sub-pixel centre, the template's window), kept above
       ``correlation_threshold``. Fitted craters converge, so duplicates are
       merged by a strict rule (``fast_same_*``); pairs that DeepMoon's rule
       would call one are both kept only when the weaker still correlates above
       the threshold with the stronger one's footprint left out.

Both methods account for the ``1/cos(lat)`` stretch of equirectangular and
geographic grids: a crater at latitude ``phi`` is matched as an ellipse
``r/cos(phi)`` pixels wide and ``r`` tall (``stretch="none"`` matches circles,
for maps drawn without the stretch). Radii are measured along a meridian.

Only numpy is needed.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .crater import CraterCatalog
from .errors import CancelledError, GeocoreError, GridError
from .grid import PixelGrid
from .template_matching import CraterWindows, RimGeometry, match_templates, render_template

__all__ = [
    "METHODS",
    "CancelledError",
    "ExtractionError",
    "ExtractionParams",
    "extract_craters",
    "remove_duplicates",
]

log = logging.getLogger(__name__)

METHODS = ("fast", "template")
_KINDS = ("ring", "outline", "filled")
_STRETCHES = ("auto", "none")
# DeepMoon's duplicate / match rule: d^2 / min(r)^2 < 1.8 and |r1 - r2| / min(r) < 1
_DISTANCE_RATIO2 = 1.8
_RADIUS_RATIO = 1.0
# fast method (docs/extraction.md):
# coarse template radius of large craters: _SQRT_GAIN * sqrt(radius_px)
_SQRT_GAIN = 0.5
# coarse maxima closer than this (d^2/min(r)^2, |dr|/min(r)) are one crater
_MERGE = (0.5, 0.25)
# filled targets: the coarse search runs on the band this wide inside each blob's edge
_BAND_PX = 4
# candidates below this coarse score are fitted only when less than _EXPLAINED of the set
# pixels on their rim lie on the craters already found, and at least _RIM_SET are set
_STRONG = 0.45
_EXPLAINED = 0.6
_RIM_SET = 4


class ExtractionError(GeocoreError, ValueError):
    """Crater extraction parameters or input map are not valid."""


@dataclass(frozen=True)
class ExtractionParams:
    """How craters are extracted from a probability map; a validated value.

    Parameters
    ----------
    method : {"fast", "template"}
        ``"fast"`` (default) or the DeepMoon-style reference ``"template"``.
    threshold : float
        Probability threshold in (0, 1): the map is ``prob >= threshold``.
    min_radius_px, max_radius_px : float
        Radius range, pixels along a meridian (``extract_craters``'s
        ``min_diameter_km``/``max_diameter_km`` override them).
    target_kind : {"ring", "outline", "filled"}
        What the map draws for a crater (:mod:`geocore.targets`).
    ring_width_px : float
        Width of ``"ring"`` targets, pixels along a meridian, centred on the rim.
    inner_ratio : float
        Hole radius of ``"outline"`` targets, fraction of the radius, in (0, 1).
    stretch : {"auto", "none"}
        ``"auto"``: craters are ellipses ``1/cos(lat)`` wide on georeferenced
        grids (as :func:`geocore.targets.rasterize_targets` draws them);
        ``"none"``: circles in pixels (maps drawn without the stretch, such as
        the seed authors' masks).
    correlation_threshold : float
        Keep craters whose template correlation is above this, in (0, 1)
        (DeepMoon: 0.5). It is the crater's ``confidence``.
    radius_step_px : float
        Template method: step between radii (DeepMoon: 1 px).
    template_ring_width_px : float or None
        Template method: None matches the target's own geometry; a width
        matches DeepMoon's ring template of that width (DeepMoon: 2 px) whatever
        the target kind.
    stretch_tolerance : float
        Relative change of the stretch allowed within one band of rows matched
        with one template.
    block_px : int
        Largest block (rows and columns) correlated at once; bounds memory.
    fast_coarse_radius_px : float
        Fast method: smallest template radius on an averaged map, in pixels of
        that map. A radius ``r`` is matched on the map averaged over ``s x s``
        blocks, ``s`` the largest power of two with
        ``r / s >= max(fast_coarse_radius_px, 0.5 sqrt(r))``.
    fast_radii_per_octave : int
        Fast method: radii tried per doubling of the radius.
    fast_candidate_threshold : float
        Fast method: correlation a candidate needs on the averaged map.
    fast_same_distance_ratio2, fast_same_radius_ratio : float
        Fast method: two fitted craters are one when ``d^2 / min(r)^2`` and
        ``|r1 - r2| / min(r)`` are below these (DeepMoon's rule is 1.8 and 1.0;
        fitted craters converge, so a stricter rule keeps overlapping craters).

    Raises
    ------
    ExtractionError
        A value out of range, an unknown method, kind or stretch.

    Examples
    --------
    >>> params = ExtractionParams(target_kind="outline", threshold=0.4)
    >>> ExtractionParams.from_dict(params.to_dict()) == params
    True
    >>> ExtractionParams(threshold=1.5)
    Traceback (most recent call last):
    ...
    geocore.extraction.ExtractionError: threshold=1.5: must be within (0, 1), e.g. 0.5
    """

    method: str = "fast"
    threshold: float = 0.5
    min_radius_px: float = 5.0
    max_radius_px: float = 140.0
    target_kind: str = "ring"
    ring_width_px: float = 4.0
    inner_ratio: float = 0.7
    stretch: str = "auto"
    correlation_threshold: float = 0.5
    radius_step_px: float = 1.0
    template_ring_width_px: float | None = None
    stretch_tolerance: float = 0.01
    block_px: int = 2048
    fast_coarse_radius_px: float = 2.0
    fast_radii_per_octave: int = 4
    fast_candidate_threshold: float = 0.3
    fast_same_distance_ratio2: float = 0.5
    fast_same_radius_ratio: float = 0.25

    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> ExtractionError:
            return ExtractionError(f"{name}={getattr(self, name)!r}: {why}")

        choices = {"method": METHODS, "target_kind": _KINDS, "stretch": _STRETCHES}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise bad(name, f"must be one of {', '.join(allowed)}")
        for name in ("threshold", "correlation_threshold", "fast_candidate_threshold"):
            value = getattr(self, name)
            if not (_is_number(value) and 0.0 < value < 1.0):
                raise bad(name, "must be within (0, 1), e.g. 0.5")
        if not (_is_number(self.inner_ratio) and 0.0 < self.inner_ratio < 1.0):
            raise bad("inner_ratio", "must be within (0, 1), e.g. 0.7")
        positive = ("min_radius_px", "max_radius_px", "ring_width_px", "radius_step_px")
        others = (
            "stretch_tolerance",
            "fast_coarse_radius_px",
            "fast_same_distance_ratio2",
            "fast_same_radius_ratio",
        )
        for name in (*positive, *others):
            value = getattr(self, name)
            if not (_is_number(value) and value > 0):
                raise bad(name, "must be a positive number")
        if self.template_ring_width_px is not None and not (
            _is_number(self.template_ring_width_px) and self.template_ring_width_px > 0
        ):
            raise bad("template_ring_width_px", "must be a positive width in pixels or None")
        if self.min_radius_px > self.max_radius_px:
            raise bad("min_radius_px", f"is above max_radius_px={self.max_radius_px!r}; swap them")
        for name in ("block_px", "fast_radii_per_octave"):
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise bad(name, "must be a positive whole number")
        if self.block_px < 64:
            raise bad("block_px", "must be at least 64 pixels, e.g. 2048")

    def to_dict(self) -> dict[str, Any]:
        """The parameters as JSON values (for ``ModelInfo.extraction``)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> ExtractionParams:
        """Parameters from :meth:`to_dict`'s output; missing keys keep their default.

        Raises
        ------
        ExtractionError
            An unknown key or an invalid value.
        """
        values = dict(values or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ExtractionError(
                f"unknown extraction parameter(s) {unknown}; expected some of {sorted(known)}"
            )
        return cls(**values)

    @classmethod
    def for_model(cls, info, **overrides: Any) -> ExtractionParams:
        """Parameters for a model: its targets and threshold, its ``extraction`` dict, overrides.

        Parameters
        ----------
        info : geocore.model_info.ModelInfo
            The model's metadata (``target_kind``, ``ring_width_px``,
            ``inner_ratio``, ``threshold`` and the ``extraction`` JSON dict).
        **overrides
            Fields that win over both (e.g. ``method="template"``).

        Raises
        ------
        ExtractionError
            An unknown key or an invalid value in ``info.extraction`` or ``overrides``.
        """
        values: dict[str, Any] = {
            "target_kind": info.target_kind,
            "ring_width_px": info.ring_width_px,
            "inner_ratio": info.inner_ratio,
            "threshold": info.threshold,
        }
        values.update(dict(info.extraction or {}))
        values.update(overrides)
        return cls.from_dict(values)

    def replace(self, **changes: Any) -> ExtractionParams:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    @property
    def geometry(self) -> RimGeometry:
        """The target's footprint."""
        return RimGeometry(self.target_kind, self.ring_width_px, self.inner_ratio)


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


# ---------------------------------------------------------------------- the API
def extract_craters(
    prob: np.ndarray,
    grid: PixelGrid | None = None,
    params: ExtractionParams | None = None,
    *,
    min_diameter_km: float | None = None,
    max_diameter_km: float | None = None,
    resolution_m: float | None = None,
    cancel: Callable[[], bool] | None = None,
) -> CraterCatalog:
    """Find the craters of a probability or target map.

    Parameters
    ----------
    prob : numpy.ndarray
        2-D map, not modified: probabilities in [0, 1] (NaN counts as 0), a
        bool mask, or integers 0/1 or 0..255 (8-bit: 255 is probability 1).
    grid : PixelGrid, optional
        The map's grid (same width and height). Georeferenced: craters get
        lon/lat and the stretch is known; pixel-only
        (:meth:`PixelGrid.from_resolution`): lon/lat are NaN. When None,
        ``resolution_m`` must be given.
    params : ExtractionParams, optional
        How to extract (defaults: fast method, ring targets).
    min_diameter_km, max_diameter_km : float, optional
        Diameter range; they replace ``params``' radius range (converted with
        the grid's resolution along a meridian).
    resolution_m : float, optional
        Metres per pixel of a map given without a grid.
    cancel : callable, optional
        Called often; returning True stops with :class:`CancelledError`.

    Returns
    -------
    CraterCatalog
        ``x_px``, ``y_px`` (pixel-centre convention of ``prob``),
        ``diameter_px`` (along a meridian), ``confidence`` (template
        correlation, in [0, 1]), ``diameter_km`` and, on georeferenced grids,
        ``lon_deg``/``lat_deg`` (-180..180).

    Raises
    ------
    ExtractionError
        Not a 2-D numeric map, values outside [0, 1] (or 0..255), bad range.
    GridError
        No grid and no resolution, a grid of another size, a rotated grid.
    CancelledError
        ``cancel()`` returned True.

    Examples
    --------
    >>> from geocore.targets import rasterize_targets
    >>> grid = PixelGrid.from_resolution(64, 64, 100.0)
    >>> truth = CraterCatalog([np.nan], [np.nan], [2.4], x_px=[30.0], y_px=[33.0])
    >>> mask = rasterize_targets(grid, truth, "ring", ring_width_px=3)
    >>> found = extract_craters(mask, grid, ExtractionParams(ring_width_px=3))
    >>> [round(float(v), 1) for v in (found.x_px[0], found.y_px[0], found.diameter_km[0])]
    [30.0, 33.0, 2.4]
    """
    params = params or ExtractionParams()
    grid = _check_grid(prob, grid, resolution_m)
    rmin, rmax = _radius_range(params, grid, min_diameter_km, max_diameter_km)
    binary, scale = _binary_map(prob, params.threshold)
    stretch = _stretch_rows(grid, params.stretch)
    if not binary.any():
        return CraterCatalog.empty()
    if params.method == "template":
        x, y, r, score = _template_method(binary, stretch, rmin, rmax, params, cancel)
    else:
        x, y, r, score = _fast_method(prob, scale, binary, stretch, rmin, rmax, params, cancel)
    keep = (r >= rmin - 1e-9) & (r <= rmax + 1e-9)
    x, y, r, score = x[keep], y[keep], r[keep], score[keep]
    log.debug("%s method: %d craters with radii %.1f-%.1f px", params.method, x.size, rmin, rmax)
    return _catalog(grid, x, y, r, score)


def remove_duplicates(
    catalog: CraterCatalog,
    space: str = "auto",
    distance_ratio2: float = _DISTANCE_RATIO2,
    radius_ratio: float = _RADIUS_RATIO,
) -> CraterCatalog:
    """Remove craters that are the same crater by DeepMoon's rule, keeping the most confident.

    Two craters are the same when ``d^2 / min(r1, r2)^2 < distance_ratio2`` and
    ``|r1 - r2| / min(r1, r2) < radius_ratio`` (1.8 and 1.0 in DeepMoon).

    Parameters
    ----------
    catalog : CraterCatalog
        Craters, e.g. from several blocks or windows of one raster.
    space : {"auto", "sphere", "pixel"}
        ``"sphere"``: ``d`` is the distance between centres on the sphere (km)
        and ``r`` the radius in km, so craters found on different grids meet;
        ``"pixel"``: ``x_px``, ``y_px`` and ``diameter_px / 2`` (one image's
        pixels); ``"auto"``: sphere when every crater has lon/lat.
    distance_ratio2, radius_ratio : float
        The rule's thresholds.

    Returns
    -------
    CraterCatalog
        The kept craters, in their original order. Higher confidence wins (a
        missing confidence counts as lowest); ties keep the earlier crater.

    Raises
    ------
    ExtractionError
        Unknown ``space``, or pixel space without pixel columns.

    Examples
    --------
    >>> cat = CraterCatalog([10.0, 10.01, 20.0], [0.0, 0.0, 0.0], [5.0, 5.5, 5.0],
    ...                     confidence=[0.6, 0.9, 0.7])
    >>> remove_duplicates(cat).confidence.tolist()
    [0.9, 0.7]
    """
    if space not in ("auto", "sphere", "pixel"):
        raise ExtractionError(f"space={space!r}: must be one of auto, sphere, pixel")
    if len(catalog) < 2:
        return catalog
    has_lonlat = bool(np.all(np.isfinite(catalog.lon_deg) & np.isfinite(catalog.lat_deg)))
    if space == "auto":
        space = "sphere" if has_lonlat else "pixel"
    if space == "sphere":
        if not has_lonlat:
            raise ExtractionError(
                "space='sphere' needs lon/lat for every crater; use space='pixel' for craters "
                "found on an image without georeferencing"
            )
        radius_km = catalog.diameter_km / 2.0
        lon, lat = np.radians(catalog.lon_deg), np.radians(catalog.lat_deg)
        body_km = 3396.19  # Mars; only relative distances matter at crater scale
        points = body_km * np.stack(
            [np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=1
        )
        i, j = _duplicate_pairs(points, radius_km, None, distance_ratio2, radius_ratio)
    else:
        if catalog.x_px is None or catalog.y_px is None or catalog.diameter_px is None:
            raise ExtractionError(
                "space='pixel' needs x_px, y_px and diameter_px columns; give craters with "
                "pixel positions, or lon/lat and space='sphere'"
            )
        points = np.stack([catalog.x_px, catalog.y_px], axis=1)
        i, j = _duplicate_pairs(
            points, catalog.diameter_px / 2.0, None, distance_ratio2, radius_ratio
        )
    score = catalog.confidence if catalog.confidence is not None else np.zeros(len(catalog))
    keep = _greedy_keep(np.nan_to_num(score, nan=-np.inf), i, j)
    return catalog[np.flatnonzero(keep)]


# ------------------------------------------------------------------ input checks
def _check_grid(prob, grid: PixelGrid | None, resolution_m: float | None) -> PixelGrid:
    if not isinstance(prob, np.ndarray) or prob.ndim != 2:
        shape = getattr(prob, "shape", None)
        raise ExtractionError(
            f"the probability map must be a 2-D numpy array (height, width), got shape {shape}; "
            "squeeze a (1, H, W, 1) network output first"
        )
    height, width = prob.shape
    if grid is None:
        if resolution_m is None:
            raise GridError(
                "extract_craters needs the map's grid (grid=...) or its resolution "
                "(resolution_m=..., metres per pixel) to give diameters in km"
            )
        return PixelGrid.from_resolution(width, height, resolution_m)
    if resolution_m is not None:
        raise GridError("give either grid or resolution_m, not both (the grid has a resolution)")
    if (grid.width, grid.height) != (width, height):
        raise GridError(
            f"the grid is {grid.width} x {grid.height} px but the map is {width} x {height} px; "
            "pass the grid of this map (PixelGrid.window for a block)"
        )
    return grid


def _radius_range(params, grid, min_diameter_km, max_diameter_km) -> tuple[float, float]:
    from .catalog import check_diameter_range

    check_diameter_range(min_diameter_km, max_diameter_km)
    km_per_px = grid.resolution_m / 1000.0
    rmin = params.min_radius_px if min_diameter_km is None else min_diameter_km / 2.0 / km_per_px
    rmax = params.max_radius_px if max_diameter_km is None else max_diameter_km / 2.0 / km_per_px
    if rmin > rmax:
        raise ExtractionError(
            f"minimum radius {rmin:.3g} px is above maximum radius {rmax:.3g} px; check "
            "min/max diameters against the params' radius range"
        )
    if rmax < 1.0:
        raise ExtractionError(
            f"maximum radius {rmax:.3g} px is under one pixel: nothing to find at "
            f"{grid.resolution_m:g} m/px; lower the resolution or raise the diameters"
        )
    if rmin < 2.0:
        log.info("minimum radius %.2f px raised to 2 px (smaller craters are not found)", rmin)
        rmin = 2.0
    return rmin, max(rmin, rmax)


def _binary_map(prob: np.ndarray, threshold: float) -> tuple[np.ndarray, float]:
    """``prob >= threshold`` as bool, and the value that means probability 1."""
    if prob.dtype == bool:
        return prob, 1.0
    if np.issubdtype(prob.dtype, np.integer):
        top = int(prob.max()) if prob.size else 0
        low = int(prob.min()) if prob.size else 0
        if low < 0 or top > 255:
            raise ExtractionError(
                f"integer map values must be 0/1 or 0..255 (8-bit), got {low}..{top}; "
                "give probabilities in [0, 1] as floats"
            )
        scale = 1.0 if top <= 1 else 255.0
        return prob >= threshold * scale, scale
    if not np.issubdtype(prob.dtype, np.floating):
        raise ExtractionError(f"the map must hold numbers, got dtype {prob.dtype}")
    if bool(np.any(prob > 1.0 + 1e-6)) or bool(np.any(prob < -1e-6)):
        raise ExtractionError(
            f"probabilities must be within [0, 1], got {np.nanmin(prob):g}..{np.nanmax(prob):g}; "
            "divide 8-bit values by 255 or pass the uint8 array itself"
        )
    return prob >= threshold, 1.0  # NaN compares False: no crater there


def _stretch_rows(grid: PixelGrid, mode: str) -> np.ndarray | None:
    """Width / height of a crater in pixels for each row (None: 1 everywhere)."""
    if mode == "none":
        return None
    sx, sy = grid.pixel_size_m
    if not grid.is_georeferenced:
        return None if math.isclose(sx, sy, rel_tol=1e-9) else np.full(grid.height, sy / sx)
    _, b, _, d, _, _ = grid.transform
    if b != 0.0 or d != 0.0:
        raise GridError(
            "crater extraction needs a north-up grid (no rotation terms in the transform); "
            "warp the raster to a north-up Mars equirectangular CRS first"
        )
    _, lat = grid.pixel_to_lonlat(np.zeros(grid.height), np.arange(grid.height))
    lat_ts = getattr(grid.projection, "lat_ts_deg", 0.0)
    cos_lat = np.cos(np.radians(np.clip(np.atleast_1d(lat), -85.0, 85.0)))
    return sy * math.cos(math.radians(lat_ts)) / (sx * cos_lat)


def _catalog(grid: PixelGrid, x, y, r, score) -> CraterCatalog:
    if x.size == 0:
        return CraterCatalog.empty()
    order = np.lexsort((x, y))
    x, y, r, score = x[order], y[order], r[order], score[order]
    diameter_px = 2.0 * r
    diameter_km = diameter_px * grid.resolution_m / 1000.0
    if grid.is_georeferenced:
        lon, lat = grid.pixel_to_lonlat(x, y)
    else:
        lon = lat = np.full(x.size, np.nan)
    return CraterCatalog(
        np.atleast_1d(lon),
        np.atleast_1d(lat),
        diameter_km,
        x_px=x,
        y_px=y,
        diameter_px=diameter_px,
        confidence=np.clip(score, 0.0, 1.0),
    )


def _check_cancel(cancel) -> None:
    if cancel is not None and cancel():
        raise CancelledError("crater extraction cancelled")


# ------------------------------------------------------------ template method
def _template_method(binary, stretch, rmin, rmax, params, cancel):
    geometry = params.geometry
    if params.template_ring_width_px is not None:
        geometry = RimGeometry("ring", params.template_ring_width_px, params.inner_ratio)
    n = math.floor((rmax - rmin) / params.radius_step_px + 1e-9) + 1
    radii = rmin + params.radius_step_px * np.arange(n)
    col, row, radius, score = match_templates(
        binary,
        radii,
        lambda r, k: render_template(geometry, r, k),
        params.correlation_threshold,
        stretch,
        stretch_tolerance=params.stretch_tolerance,
        block_px=params.block_px,
        binary=True,
        cancel=cancel,
    )
    x, y = col.astype(float), row.astype(float)
    log.debug("template method: %d correlation maxima over %d radii", x.size, n)
    keep = _nms_px(x, y, radius, score, stretch, cancel=cancel)
    return x[keep], y[keep], radius[keep], score[keep]


# ---------------------------------------------------------------- fast method
def _fast_method(prob, scale, binary, stretch, rmin, rmax, params, cancel):
    # what the coarse search and the rim test look at: the map, or for filled targets the
    # band inside each blob's edge, matched as a ring (a disk template also answers along
    # the straight-ish edge of any larger disk; its boundary does not)
    evidence, rim, shrink = binary, params.geometry, 0.0
    if rim.kind == "filled":
        _check_cancel(cancel)
        evidence = _boundary(binary, _BAND_PX)
        rim, shrink = RimGeometry("ring", float(_BAND_PX)), _BAND_PX / 2.0
    x, y, r, score = _coarse_candidates(evidence, rim, shrink, stretch, rmin, rmax, params, cancel)
    if x.size == 0:
        return x, y, r, score
    # merge the maxima of one crater at neighbouring radii and positions, strictly, so
    # that a neighbour is never merged away before its own fit
    keep = _nms_px(x, y, r, score, stretch, *_MERGE)
    ratio = 2.0 ** (0.5 / params.fast_radii_per_octave)
    keep &= (r > rmin / ratio) & (r < rmax * ratio)  # drop the extra radii's maxima
    height, width = binary.shape
    x, y, r = np.clip(x[keep], 0, width - 1), np.clip(y[keep], 0, height - 1), r[keep]
    coarse_score = score[keep]
    k = np.ones(x.size) if stretch is None else stretch[_row_index(y, stretch.size)]
    geometry = params.geometry
    # largest window: the rim fit's, around the largest crater, stretched
    outer = geometry.edges(float(r.max()))[1]
    windows = CraterWindows(binary, geometry, 2.4 * max(outer, 4.0) * float(k.max()) + 8, cancel)
    # strong candidates first; weak ones lying on the rims found are not fitted
    strong = coarse_score >= _STRONG
    parts = [_refine(windows, prob, scale, params, x[strong], y[strong], r[strong], k[strong])]
    weak = np.flatnonzero(~strong)
    if weak.size:
        fx, fy, fr, fscore, fk = parts[0]
        ok = fscore > params.correlation_threshold
        known = _footprints(binary.shape, rim, fx[ok], fy[ok], fr[ok] - shrink, fk[ok])
        frac = _explained_fraction(
            evidence, known, rim, x[weak], y[weak], r[weak] - shrink, k[weak]
        )
        weak = weak[frac < _EXPLAINED]
        log.debug("fast method: %d weak candidates fitted, others on known rims", weak.size)
        parts.append(_refine(windows, prob, scale, params, x[weak], y[weak], r[weak], k[weak]))
    x, y, r, score, k = (np.concatenate(p) for p in zip(*parts, strict=True))
    if params.target_kind == "filled":
        found = (x, y, r, score, k)
        extra = _hidden_disks(
            binary,
            evidence,
            rim,
            shrink,
            stretch,
            rmin,
            rmax,
            params,
            windows,
            prob,
            scale,
            found,
            cancel,
        )
        parts = zip(found, extra, strict=True)
        x, y, r, score, k = (np.concatenate(pair) for pair in parts)
    ok = score > params.correlation_threshold
    x, y, r, score, k = x[ok], y[ok], r[ok], score[ok], k[ok]
    log.debug("fast method: %d of %d candidates above the correlation threshold", x.size, ok.size)
    rule = (params.fast_same_distance_ratio2, params.fast_same_radius_ratio)
    keep = _nms_px(x, y, r, score, stretch, *rule)
    x, y, r, score, k = x[keep], y[keep], r[keep], score[keep], k[keep]
    keep = _explain_away(windows, x, y, r, k, score, stretch, params.correlation_threshold)
    return x[keep], y[keep], r[keep], score[keep]


def _hidden_disks(
    binary, evidence, rim, shrink, stretch, rmin, rmax, params, windows, prob, scale, found, cancel
):
    """Filled targets: search again where the edges of the disks found are erased.

    A disk partly under others keeps only an arc of its edge, too little for
    the first search; with the found disks' edges gone, what is left of it
    stands out. Only on maps averaged by 8 or more (radii from 16 px, cheap),
    with a threshold lower by 0.1; candidates on known rims are skipped.
    """
    x, y, r, score, k = found
    ok = score > params.correlation_threshold
    known = _footprints(binary.shape, rim, x[ok], y[ok], r[ok] - shrink, k[ok], grow=2.0)
    r_lo = max(rmin, 8.0 * max(params.fast_coarse_radius_px, 2.0))
    if r_lo >= rmax:
        return (np.empty(0),) * 5
    again = params.replace(
        fast_candidate_threshold=max(0.05, params.fast_candidate_threshold - 0.1)
    )
    mx, my, mr, ms = _coarse_candidates(
        evidence & ~known, rim, shrink, stretch, r_lo, rmax, again, cancel
    )
    ratio = 2.0 ** (0.5 / params.fast_radii_per_octave)
    keep = _nms_px(mx, my, mr, ms, stretch, *_MERGE) & (mr > r_lo / ratio) & (mr < rmax * ratio)
    height, width = binary.shape
    mx, my, mr = np.clip(mx[keep], 0, width - 1), np.clip(my[keep], 0, height - 1), mr[keep]
    mk = np.ones(mx.size) if stretch is None else stretch[_row_index(my, stretch.size)]
    fresh = _explained_fraction(evidence, known, rim, mx, my, mr - shrink, mk) < _EXPLAINED
    log.debug("fast method: %d more candidates where found disks are erased", int(fresh.sum()))
    return _refine(windows, prob, scale, params, mx[fresh], my[fresh], mr[fresh], mk[fresh])


def _refine(windows, prob, scale, params, x, y, r, k):
    """Fit candidates at full resolution and score them: ``(x, y, r, score, k)``."""
    if x.size == 0:
        return x, y, r, np.empty(0), k
    fx, fy, fr = _fit_rims(windows, prob, scale, params.threshold, x, y, r, k)
    score = windows.score(fx, fy, fr, k)
    # where the fitted crater fails, the coarse one may pass (a fit pulled by a neighbour)
    retry = np.flatnonzero((score <= params.correlation_threshold) & ((fx != x) | (fr != r)))
    coarse = windows.score(x[retry], y[retry], r[retry], k[retry])
    better = retry[coarse > score[retry]]
    fx[better], fy[better], fr[better] = x[better], y[better], r[better]
    score[better] = np.maximum(score[better], coarse[coarse > score[retry]])
    return fx, fy, fr, score, k


def _footprints(shape, geometry: RimGeometry, x, y, r, k, grow=1.5) -> np.ndarray:
    """Boolean map of the craters' footprints, grown by ``grow`` pixels."""
    out = np.zeros(shape, dtype=bool)
    inner, outer = geometry.edges_array(r)
    inner, outer = inner - grow, outer + grow
    rows = zip(x.tolist(), y.tolist(), k.tolist(), inner.tolist(), outer.tolist(), strict=True)
    for xi, yi, ki, lo, hi in rows:
        r0, r1 = max(0, math.floor(yi - hi)), min(shape[0], math.ceil(yi + hi) + 1)
        c0, c1 = max(0, math.floor(xi - hi * ki)), min(shape[1], math.ceil(xi + hi * ki) + 1)
        if r0 >= r1 or c0 >= c1:
            continue
        dy = np.arange(r0, r1)[:, None] - yi
        dx = (np.arange(c0, c1)[None, :] - xi) / ki
        d2 = dx * dx + dy * dy
        inside = d2 <= hi * hi
        if lo > 0:
            inside &= d2 > lo * lo
        out[r0:r1, c0:c1] |= inside
    return out


def _explained_fraction(binary, explained, geometry, x, y, r, k) -> np.ndarray:
    """Fraction of the set pixels on each candidate's rim that lie on known footprints.

    The rim is sampled in 32 directions at 21 radii from 0.8 to 1.2 times the
    radius of the footprint's middle; a candidate with fewer than ``_RIM_SET``
    samples set counts as explained (1).
    """
    inner, outer = geometry.edges_array(r)
    middle = np.where(np.isfinite(inner), (inner + outer) / 2.0, outer - 1.0)
    angles = np.linspace(0.0, 2.0 * np.pi, 32, endpoint=False)
    # the coarse radius may be off by 10-15 %: sample densely enough not to step over a rim
    radii = middle[:, None, None] * np.linspace(0.8, 1.2, 21)[None, :, None]
    cols = np.round(x[:, None, None] + radii * np.cos(angles) * k[:, None, None]).astype(np.int64)
    rows = np.round(y[:, None, None] + radii * np.sin(angles)).astype(np.int64)
    inside = (cols >= 0) & (cols < binary.shape[1]) & (rows >= 0) & (rows < binary.shape[0])
    cols, rows = np.clip(cols, 0, binary.shape[1] - 1), np.clip(rows, 0, binary.shape[0] - 1)
    on = binary[rows, cols] & inside
    known = on & explained[rows, cols]
    total = on.sum(axis=(1, 2))
    fraction = np.where(total > 0, known.sum(axis=(1, 2)) / np.maximum(total, 1), 1.0)
    # hardly anything set on the rim (isolated specks): as good as explained
    return np.where(total < _RIM_SET, 1.0, fraction)


def _explain_away(windows, x, y, r, k, score, stretch, threshold) -> np.ndarray:
    """Resolve craters that DeepMoon's rule calls one: keep each that its betters do not explain.

    In decreasing score, a crater with kept neighbours (by DeepMoon's rule) is
    scored again with their footprints left out of its window; it is kept when
    that score is still above ``threshold`` (a real crater overlapping another
    keeps most of its rim; a mis-sized or mis-placed copy of a kept one does not).
    """
    n = x.size
    i, j = _duplicate_pairs_px(x, y, r, stretch)
    kept = np.ones(n, dtype=bool)
    if i.size == 0:
        return kept
    src, dst = np.concatenate([i, j]), np.concatenate([j, i])
    order = np.argsort(src, kind="stable")
    src, dst = src[order], dst[order]
    start = np.searchsorted(src, np.arange(n + 1)).tolist()
    involved = np.zeros(n, dtype=bool)
    involved[src] = True
    kept[involved] = False
    for c in np.lexsort((np.arange(n), -score)).tolist():
        if not involved[c]:
            continue
        others = dst[start[c] : start[c + 1]]
        others = others[kept[others]]
        if others.size == 0 or windows.score_without(c, others, x, y, r, k) > threshold:
            kept[c] = True
    return kept


def _row_index(y, n):
    return np.clip(np.round(y).astype(np.int64), 0, n - 1)


def _coarse_candidates(evidence, geometry, shrink, stretch, rmin, rmax, params, cancel):
    """Correlation maxima of each radius on the map averaged over blocks of ``s x s``."""
    ratio = 2.0 ** (1.0 / params.fast_radii_per_octave)
    n = max(1, math.ceil(math.log(rmax / rmin) / math.log(ratio) - 1e-9) + 1)
    radii = rmin * (rmax / rmin) ** (np.arange(n) / max(n - 1, 1)) if n > 1 else np.array([rmin])
    # one radius beyond each end: what peaks there is out of range, and the merge takes
    # away the lower maxima it leaves at the end radii
    radii = np.concatenate([[max(radii[0] / ratio, 1.0)], radii, [radii[-1] * ratio]])
    # the template radius on the averaged map: fast_coarse_radius_px for small craters,
    # growing as sqrt(r) for large ones (cheap there, and it places them better)
    coarse_px = np.maximum(params.fast_coarse_radius_px, _SQRT_GAIN * np.sqrt(radii))
    levels = np.maximum(0, np.floor(np.log2(radii / coarse_px))).astype(int)
    levels[0], levels[-1] = levels[1], levels[-2]  # the extra radii do not open a finer level
    level_map, level = evidence, 0
    parts = []
    for lev in np.unique(levels):
        while level < lev:
            _check_cancel(cancel)
            level_map, level = _half(level_map), level + 1
        s = 2**level
        k_coarse = None
        if stretch is not None:
            rows = np.minimum(np.arange(level_map.shape[0]) * s + (s - 1) // 2, stretch.size - 1)
            k_coarse = stretch[rows]
        col, row, radius, score = match_templates(
            level_map,
            radii[levels == lev],
            lambda r, k, s=s: render_template(geometry, r - shrink, k, scale=s, soft=True),
            params.fast_candidate_threshold,
            k_coarse,
            stretch_tolerance=max(params.stretch_tolerance, 0.02),
            block_px=params.block_px,
            binary=level == 0,
            cancel=cancel,
        )
        parts.append((col * s + (s - 1) / 2.0, row * s + (s - 1) / 2.0, radius, score))
    x, y, r, score = (np.concatenate(p) for p in zip(*parts, strict=True))
    return x.astype(float), y.astype(float), r, score


def _boundary(binary: np.ndarray, width: int) -> np.ndarray:
    """Set pixels less than ``width`` pixels (chessboard) from an unset one (beyond counts set)."""
    inside = binary.copy()
    for _ in range(width):  # erosion by a 3 x 3 square, ``width`` times
        step = inside.copy()
        step[1:, :] &= inside[:-1, :]
        step[:-1, :] &= inside[1:, :]
        inside = step.copy()
        inside[:, 1:] &= step[:, :-1]
        inside[:, :-1] &= step[:, 1:]
    return binary & ~inside


def _half(level_map: np.ndarray) -> np.ndarray:
    """Mean over 2 x 2 blocks (odd sizes padded with 0)."""
    h, w = level_map.shape
    src = level_map
    if h % 2 or w % 2:
        src = np.zeros((h + h % 2, w + w % 2), dtype=level_map.dtype)
        src[:h, :w] = level_map
    if src.dtype == bool:
        total = src[0::2, 0::2].astype(np.uint8) + src[1::2, 0::2]
        total += src[0::2, 1::2]
        total += src[1::2, 1::2]
        return total.astype(np.float32) * np.float32(0.25)
    return (src[0::2, 0::2] + src[1::2, 0::2] + src[0::2, 1::2] + src[1::2, 1::2]) * np.float32(
        0.25
    )


# --------------------------------------------------------------- the rim fit
def _fit_rims(windows: CraterWindows, prob, scale, threshold, x, y, r, k):
    """Refine centres and radii by fitting circles (in stretched units) to the rim's edges."""
    geometry = windows.geometry
    inner0, outer0 = geometry.edges_array(r)
    # the first pass looks +-reach around each edge; the centre may be off by as much
    reach = np.maximum(4.0, _SECTOR_PASSES[0] * outer0)
    hy = np.ceil(outer0 + 2 * reach + 1).astype(np.int64)
    hx = np.ceil(hy * k).astype(np.int64)
    owner, px, py, axis, sign = windows.crossings(prob, scale, threshold, x, y, hx, hy)
    owner = owner.astype(np.int64)
    m = x.size
    d = np.hypot((px - x[owner]) / k[owner], py - y[owner])
    lowest = np.where(np.isfinite(inner0), inner0, outer0) - 2 * reach
    near = (d > lowest[owner]) & (d < (outer0 + 2 * reach)[owner])
    order = np.argsort(owner[near], kind="stable")  # by crater, for chunks of craters
    owner, px, py = owner[near][order], px[near][order], py[near][order]
    axis, sign = axis[near][order], sign[near][order]
    start = np.searchsorted(owner, np.arange(m + 1))
    cx, cy = x.astype(float).copy(), y.astype(float).copy()
    r_in, r_out = inner0.copy(), outer0.copy()
    has_inner = np.isfinite(inner0)
    # robust passes: the rim's distance in each of 16 directions (the mode of a histogram,
    # which the edges of neighbouring craters rarely win), then a sinusoid fit; by chunks
    # of craters to bound the histograms' memory
    for rel in _SECTOR_PASSES:
        for c0 in range(0, m, _FIT_CHUNK):
            c = slice(c0, min(m, c0 + _FIT_CHUNK))
            p = slice(start[c.start], start[c.stop])
            cx[c], cy[c], r_in[c], r_out[c] = _sector_pass(
                owner[p] - c0,
                px[p],
                py[p],
                axis[p],
                sign[p],
                cx[c],
                cy[c],
                r_in[c],
                r_out[c],
                k[c],
                has_inner[c],
                rel,
            )
    got_in = got_out = np.zeros(m, dtype=bool)
    # precise passes: circle fit to the edges near the rim
    for rel, floor in ((0.06, 1.5), (0.04, 1.0)):
        u = (px - cx[owner]) / k[owner]
        v = py - cy[owner]
        outward = np.where(axis == 0, sign * u, sign * v) > 0
        d = np.hypot(u, v)
        tol = np.maximum(floor, rel * r_out)[owner]
        w_out = (outward & (np.abs(d - r_out[owner]) < tol)).astype(float)
        w_in = (~outward & has_inner[owner] & (np.abs(d - r_in[owner]) < tol)).astype(float)
        # Kasa's circle fit: u^2 + v^2 = 2 a u + 2 b v + (R^2 - a^2 - b^2)
        sol, n_in, n_out = _solve_edges(owner, 2 * u, 2 * v, u * u + v * v, w_in, w_out, m)
        enough = n_in + n_out >= 12
        da, db = np.where(enough, sol[:, 0], 0.0), np.where(enough, sol[:, 1], 0.0)
        cx, cy = cx + da * k, cy + db
        shift2 = da * da + db * db
        got_in = enough & (n_in >= 6)
        got_out = enough & (n_out >= 6)
        r_in = np.where(got_in, np.sqrt(np.maximum(sol[:, 2] + shift2, 0.0)), r_in)
        r_out = np.where(got_out, np.sqrt(np.maximum(sol[:, 3] + shift2, 0.0)), r_out)
    fitted = _radius_from_edges(geometry, r, r_in, r_out, got_in, got_out)
    # a fit that wandered off (to a neighbour) keeps the coarse estimate
    moved = np.hypot((cx - x) / k, cy - y) > 0.5 * r
    moved |= (cx < 0) | (cy < 0) | (cx > windows.width - 1) | (cy > windows.height - 1)
    wrong = moved | ~(np.abs(np.log(np.maximum(fitted, 1e-9) / r)) < np.log(1.4))
    return np.where(wrong, x, cx), np.where(wrong, y, cy), np.where(wrong, r, fitted)


_SECTORS = 16
_BINS = 32
# half-widths of the robust passes' search bands, fractions of the outer radius
_SECTOR_PASSES = (0.3, 0.12)
_FIT_CHUNK = 2048


def _sector_pass(owner, px, py, axis, sign, cx, cy, r_in, r_out, k, has_inner, rel):
    """One robust update of centres and edge radii from per-direction rim distances.

    For each crater, edge class (inner, outer) and direction sector, the rim's
    distance is the mode of the edges' distances within ``+-rel * r_out``; then
    ``distance = R_class + a cos(theta) + b sin(theta)`` is fitted over the
    sectors (one trimming pass), which moves the centre by ``(a, b)``.
    """
    m = cx.size
    u = (px - cx[owner]) / k[owner]
    v = py - cy[owner]
    d = np.hypot(u, v)
    outer = np.where(axis == 0, sign * u, sign * v) > 0
    radius = np.where(outer, r_out[owner], r_in[owner])
    half = np.maximum(4.0, rel * r_out)[owner]
    radius = np.where(np.isfinite(radius), radius, -1e9)
    b = np.clip(np.floor((d - radius + half) / (2.0 * half) * _BINS), -1, _BINS).astype(np.int64)
    use = (outer | has_inner[owner]) & (b >= 0) & (b < _BINS) & (d > 0)
    sector = np.floor((np.arctan2(v, u) + np.pi) / (2 * np.pi) * _SECTORS).astype(np.int64)
    group = (owner * 2 + outer) * _SECTORS + np.minimum(sector, _SECTORS - 1)
    n_groups = m * 2 * _SECTORS
    g, b, d, u, v = group[use], b[use], d[use], u[use], v[use]
    counts = np.bincount(g * _BINS + b, minlength=n_groups * _BINS).reshape(n_groups, _BINS)
    smooth = counts.copy()
    smooth[:, 1:] += counts[:, :-1]
    smooth[:, :-1] += counts[:, 1:]
    mode = np.argmax(smooth, axis=1)
    near = np.abs(b - mode[g]) <= 1
    g, d, u, v = g[near], d[near], u[near], v[near]
    n = np.bincount(g, minlength=n_groups)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = np.bincount(g, d, n_groups) / n
        cos_t = np.bincount(g, u / d, n_groups) / n
        sin_t = np.bincount(g, v / d, n_groups) / n
    ok = n >= 3
    grp = np.flatnonzero(ok)
    own, cls = grp // (2 * _SECTORS), (grp // _SECTORS) % 2
    rho, cos_t, sin_t = rho[grp], cos_t[grp], sin_t[grp]
    keep = np.ones(grp.size, dtype=bool)
    sol = np.zeros((m, 4))
    for _ in range(2):  # fit, drop sectors far off the fit, fit again
        w_in = (keep & (cls == 0)).astype(float)
        w_out = (keep & (cls == 1)).astype(float)
        sol, n_in, n_out = _solve_edges(own, cos_t, sin_t, rho, w_in, w_out, m)
        fit = np.where(cls == 1, sol[own, 3], sol[own, 2]) + sol[own, 0] * cos_t
        fit += sol[own, 1] * sin_t
        keep = np.abs(rho - fit) < np.maximum(1.5, 0.05 * sol[own, 3])
    enough = n_in + n_out >= 5
    cx = np.where(enough, cx + sol[:, 0] * k, cx)
    cy = np.where(enough, cy + sol[:, 1], cy)
    r_in = np.where(enough & (n_in >= 3), sol[:, 2], r_in)
    r_out = np.where(enough & (n_out >= 3), sol[:, 3], r_out)
    return cx, cy, r_in, r_out


def _solve_edges(owner, f1, f2, target, w_in, w_out, m):
    """Weighted least squares ``target = a f1 + b f2 + c_edge`` per crater.

    One ``(a, b)`` per crater and one constant per edge class (inner, outer);
    returns the solutions ``(m, 4)`` and the weights of inner and outer rows. A
    small ridge keeps empty classes (constant 0) and degenerate sets solvable.
    """
    w = w_in + w_out

    def tot(values):
        return np.bincount(owner, values, m)

    n_in, n_out = tot(w_in), tot(w_out)
    a = np.zeros((m, 4, 4))
    rhs = np.zeros((m, 4))
    a[:, 0, 0], a[:, 1, 1], a[:, 0, 1] = tot(w * f1 * f1), tot(w * f2 * f2), tot(w * f1 * f2)
    a[:, 0, 2], a[:, 0, 3] = tot(w_in * f1), tot(w_out * f1)
    a[:, 1, 2], a[:, 1, 3] = tot(w_in * f2), tot(w_out * f2)
    a[:, 2, 2], a[:, 3, 3] = n_in, n_out
    a = np.triu(a) + np.transpose(np.triu(a, 1), (0, 2, 1))
    a += (1e-9 * (np.trace(a, axis1=1, axis2=2) + 1.0))[:, None, None] * np.eye(4)
    rhs[:, 0], rhs[:, 1] = tot(w * target * f1), tot(w * target * f2)
    rhs[:, 2], rhs[:, 3] = tot(w_in * target), tot(w_out * target)
    return np.nan_to_num(np.linalg.solve(a, rhs[..., None])[..., 0]), n_in, n_out


def _radius_from_edges(geometry: RimGeometry, r, r_in, r_out, got_in, got_out):
    """The crater radius from the fitted edge radii (the coarse one where none was fitted)."""
    if geometry.kind == "ring":
        half = geometry.width_px / 2.0
        one = np.where(got_out, r_out - half, np.where(got_in, r_in + half, r))
        return np.where(got_in & got_out, (r_in + r_out) / 2.0, one)
    if geometry.kind == "outline":
        return np.where(got_out, r_out, np.where(got_in, r_in / geometry.inner_ratio, r))
    return np.where(got_out, r_out, r)


# --------------------------------------------------------------- duplicates
def _nms_px(
    x,
    y,
    r,
    score,
    stretch,
    distance_ratio2=_DISTANCE_RATIO2,
    radius_ratio=_RADIUS_RATIO,
    cancel=None,
) -> np.ndarray:
    """Mask of craters kept by greedy suppression (best score first) with DeepMoon's rule.

    A loop over the craters in decreasing score that looks up the kept craters
    in the neighbouring cells of a grid per radius class: memory linear in the
    number of craters (the template method can have 10^5-10^6 maxima); the same
    result as :func:`_greedy_keep` on :func:`_duplicate_pairs_px`.
    """
    if x.size == 0:
        return np.zeros(0, dtype=bool)
    k = np.ones(x.size) if stretch is None else stretch[_row_index(y, stretch.size)]
    base = 1.0 + radius_ratio
    reach = math.sqrt(distance_ratio2)
    cls = np.floor(np.log(np.maximum(r, 1e-12)) / math.log(base)).astype(np.int64)
    k_max = float(k.max())
    cells: dict[tuple[int, int, int], list[int]] = {}
    keep = np.zeros(x.size, dtype=bool)
    xs, ys, rs, ks, cs = x.tolist(), y.tolist(), r.tolist(), k.tolist(), cls.tolist()
    for count, i in enumerate(np.lexsort((np.arange(x.size), -score)).tolist()):
        if count % 65536 == 0:
            _check_cancel(cancel)
        xi, yi, ri, ki, ci = xs[i], ys[i], rs[i], ks[i], cs[i]
        duplicate = False
        for c in (ci - 1, ci, ci + 1):
            size = reach * base ** (c + 1)
            gx, gy = math.floor(xi / (size * k_max)), math.floor(yi / size)
            for dx in (-1, 0, 1):
                for dy in (-1, 0, 1):
                    for j in cells.get((c, gx + dx, gy + dy), ()):
                        rmin = min(ri, rs[j])
                        ddx = (xi - xs[j]) / ((ki + ks[j]) / 2.0)
                        d2 = (ddx * ddx + (yi - ys[j]) ** 2) / (rmin * rmin)
                        if d2 < distance_ratio2 and abs(ri - rs[j]) / rmin < radius_ratio:
                            duplicate = True
                            break
                    if duplicate:
                        break
                if duplicate:
                    break
            if duplicate:
                break
        if not duplicate:
            keep[i] = True
            size = reach * base ** (ci + 1)
            key = (ci, math.floor(xi / (size * k_max)), math.floor(yi / size))
            cells.setdefault(key, []).append(i)
    return keep


def _duplicate_pairs_px(
    x, y, r, stretch, distance_ratio2=_DISTANCE_RATIO2, radius_ratio=_RADIUS_RATIO
):
    """Duplicate pairs among craters of one map; x distances are divided by the stretch."""
    if stretch is None:
        return _duplicate_pairs(np.stack([x, y], 1), r, None, distance_ratio2, radius_ratio)
    k = stretch[np.clip(np.round(y).astype(int), 0, stretch.size - 1)]
    return _duplicate_pairs(np.stack([x, y], 1), r, k, distance_ratio2, radius_ratio)


def _duplicate_pairs(points, radius, stretch, distance_ratio2, radius_ratio):
    """Pairs ``(i, j)`` (i < j) that are the same crater by DeepMoon's rule.

    ``points`` is ``(n, dim)``; with ``stretch`` (per point, 2-D only) the x
    distance of a pair is divided by the pair's mean stretch.
    """
    n = radius.size
    if n < 2:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    radius = np.maximum(np.asarray(radius, float), 1e-12)
    base = 1.0 + radius_ratio
    k_max = 1.0 if stretch is None else float(np.max(stretch))
    reach = math.sqrt(distance_ratio2)
    cls = np.floor(np.log(radius) / math.log(base)).astype(np.int64)
    found_i, found_j = [], []
    for c in np.unique(cls):
        a = np.flatnonzero(cls == c)
        b = np.flatnonzero((cls == c) | (cls == c + 1))
        cell = reach * base ** (c + 1)
        scale = np.full(points.shape[1], cell)
        scale[0] *= k_max
        ia, ib = _grid_pairs(points[a] / scale, points[b] / scale)
        ia, ib = a[ia], b[ib]
        keep = (ia < ib) | (cls[ib] != c)
        found_i.append(ia[keep])
        found_j.append(ib[keep])
    i, j = np.concatenate(found_i), np.concatenate(found_j)
    i, j = np.minimum(i, j), np.maximum(i, j)
    delta = points[i] - points[j]
    if stretch is not None:
        delta[:, 0] /= (stretch[i] + stretch[j]) / 2.0
    rmin = np.minimum(radius[i], radius[j])
    same = (np.sum(delta * delta, axis=1) / rmin**2 < distance_ratio2) & (
        np.abs(radius[i] - radius[j]) / rmin < radius_ratio
    )
    return i[same], j[same]


def _grid_pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs of points of ``a`` and ``b`` in the same or neighbouring unit cells."""
    if a.shape[0] == 0 or b.shape[0] == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    ca, cb = np.floor(a).astype(np.int64), np.floor(b).astype(np.int64)
    low = np.minimum(ca.min(0), cb.min(0)) - 1
    ca, cb = ca - low, cb - low
    extent = np.maximum(ca.max(0), cb.max(0)) + 2
    strides = np.cumprod(np.concatenate([[1], extent[:-1]]))
    key_b = cb @ strides
    order = np.argsort(key_b, kind="stable")
    sorted_b = key_b[order]
    out_a, out_b = [], []
    for offset in itertools.product((-1, 0, 1), repeat=a.shape[1]):
        key = (ca + np.array(offset)) @ strides
        lo, hi = np.searchsorted(sorted_b, key, "left"), np.searchsorted(sorted_b, key, "right")
        count = hi - lo
        total = int(count.sum())
        if total == 0:
            continue
        ia = np.repeat(np.arange(a.shape[0]), count)
        within = np.arange(total) - np.repeat(np.cumsum(count) - count, count)
        out_a.append(ia)
        out_b.append(order[np.repeat(lo, count) + within])
    if not out_a:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(out_a), np.concatenate(out_b)


def _greedy_keep(score, i, j) -> np.ndarray:
    """Keep craters in decreasing score; each kept crater removes its duplicates."""
    n = score.size
    keep = np.ones(n, dtype=bool)
    if i.size == 0:
        return keep
    src = np.concatenate([i, j])
    dst = np.concatenate([j, i])
    order = np.argsort(src, kind="stable")
    src, dst = src[order], dst[order]
    start = np.searchsorted(src, np.arange(n + 1))
    involved = np.zeros(n, dtype=bool)
    involved[src] = True
    rank = np.lexsort((np.arange(n), -score))
    start_l, dst_l = start.tolist(), dst
    for c in rank[involved[rank]].tolist():
        if keep[c]:
            keep[dst_l[start_l[c] : start_l[c + 1]]] = False
    return keep
