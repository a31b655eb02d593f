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
    Coarse to fine (:mod:`geocore.extraction_fast`; docs/extraction.md has the
    details and the measurements).

    1. *Candidates*: isolated specks removed, every radius
       (``fast_radii_per_octave`` per doubling, one more beyond each end) is
       matched on the thresholded map's counts over ``s x s`` blocks, ``s`` the
       power of two that brings the radius to 2-4 pixels
       (``fast_coarse_radius_px``; more for large craters), with an
       area-weighted template (:mod:`geocore.coarse_search`): the whole range
       costs about one correlation of a sixteenth-size map. Filled targets are
       searched through the 4 px band inside each blob's edge, as rings.
       Maxima above ``fast_candidate_threshold`` close in position and radius
       are merged.
    2. *Rim fit* at full resolution (:mod:`geocore.rim_fit`): the threshold
       crossings near the candidate are split into inner and outer edges; the
       rim's distance in each of 16 directions is the mode of a histogram and a
       sinusoid fit moves the centre (two passes), then a circle fit with one
       centre and two radii refines it (two passes).
    3. Strong candidates first; then a second search on the map with the
       craters found erased, where what is left of craters hidden under others
       stands out, and its candidates are fitted too.
    4. *Score*: the same normalised correlation as the reference (area-weighted
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
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .crater import CraterCatalog
from .crater_duplicates import (
    DISTANCE_RATIO2,
    RADIUS_RATIO,
    duplicate_pairs,
    greedy_keep,
    nms_px,
)
from .errors import CancelledError, ExtractionError, GridError
from .extraction_fast import fast_method
from .grid import PixelGrid
from .template_matching import RimGeometry, match_templates, render_template

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
    geocore.errors.ExtractionError: threshold=1.5: must be within (0, 1), e.g. 0.5
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
        the grid's resolution along a meridian). The fast method's sub-pixel
        radii are kept to the nearest pixel of the range (0.5 px beyond it), as
        the template method's whole-pixel radii are.
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
        x, y, r, score = fast_method(prob, scale, binary, stretch, rmin, rmax, params, cancel)
    # sub-pixel radii are kept to the nearest pixel of the range, as the reference's grid of
    # whole-pixel radii keeps them (a crater of 7.9 px is found at 8 px there)
    slack = 0.5 if params.method == "fast" else 1e-9
    keep = (r >= rmin - slack) & (r <= rmax + slack)
    x, y, r, score = x[keep], y[keep], r[keep], score[keep]
    log.debug("%s method: %d craters with radii %.1f-%.1f px", params.method, x.size, rmin, rmax)
    return _catalog(grid, x, y, r, score)


def remove_duplicates(
    catalog: CraterCatalog,
    space: str = "auto",
    distance_ratio2: float = DISTANCE_RATIO2,
    radius_ratio: float = RADIUS_RATIO,
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
        i, j = duplicate_pairs(points, radius_km, None, distance_ratio2, radius_ratio)
    else:
        if catalog.x_px is None or catalog.y_px is None or catalog.diameter_px is None:
            raise ExtractionError(
                "space='pixel' needs x_px, y_px and diameter_px columns; give craters with "
                "pixel positions, or lon/lat and space='sphere'"
            )
        points = np.stack([catalog.x_px, catalog.y_px], axis=1)
        i, j = duplicate_pairs(
            points, catalog.diameter_px / 2.0, None, distance_ratio2, radius_ratio
        )
    score = catalog.confidence if catalog.confidence is not None else np.zeros(len(catalog))
    keep = greedy_keep(np.nan_to_num(score, nan=-np.inf), i, j)
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
    keep = nms_px(x, y, radius, score, stretch, cancel=cancel)
    return x[keep], y[keep], radius[keep], score[keep]

