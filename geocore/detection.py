"""Detect craters over a whole raster of any size, block by block.

The raster is read in blocks (a core plus a margin wider than the largest
crater), each block is brought to the model's resolution, turned into a
probability map by a *predictor* (the ONNX model, or the identity for an
existing probability map), and its craters are extracted. A crater is kept by
the block whose core holds its centre, so craters on block seams are found
whole, once; duplicates left across seams are removed on the sphere. Memory is
bounded by the block size, whatever the raster's size.

numpy only: the QGIS plugin runs this with its own :class:`RasterSource`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .crater import CraterCatalog
from .errors import CancelledError, GridError
from .grid import PixelGrid

__all__ = [
    "ArraySource",
    "BlockPlan",
    "RasterSource",
    "detect_craters",
    "plan_blocks",
]

log = logging.getLogger(__name__)

#: Largest accepted ratio between the model's and the raster's resolution.
MAX_RESOLUTION_RATIO = 25.0
#: Relative resolution difference under which a raster is used without resampling.
SAME_RESOLUTION_TOLERANCE = 0.005

Predictor = Callable[..., np.ndarray]
Progress = Callable[[float], None]


class RasterSource(Protocol):
    """What the detector needs from a raster: its grid, nodata value and windowed reads."""

    grid: PixelGrid
    nodata: float | None
    name: str

    def read(self, col_off: int, row_off: int, width: int, height: int) -> np.ndarray:
        """Read one band of a window as a 2-D array (height, width)."""
        ...


@dataclass(frozen=True)
class ArraySource:
    """A raster held in memory (tests, the QGIS plugin's small extents, demos)."""

    array: np.ndarray
    grid: PixelGrid
    nodata: float | None = None
    name: str = "array"

    def __post_init__(self) -> None:
        if np.ndim(self.array) != 2:
            raise GridError(f"an ArraySource needs a 2-D array, got shape {np.shape(self.array)}")
        if np.shape(self.array) != (self.grid.height, self.grid.width):
            raise GridError(
                f"array of shape {np.shape(self.array)} does not fit its grid "
                f"({self.grid.height} x {self.grid.width})"
            )

    def read(self, col_off: int, row_off: int, width: int, height: int) -> np.ndarray:
        """Read a window (it must lie inside the array)."""
        return self.array[row_off : row_off + height, col_off : col_off + width]


@dataclass(frozen=True)
class BlockPlan:
    """One block of a raster: the window read (core plus margin) and its core, in raster px."""

    col_off: int
    row_off: int
    width: int
    height: int
    core_col_off: int
    core_row_off: int
    core_width: int
    core_height: int


def plan_blocks(width: int, height: int, core_px: int, margin_px: int) -> list[BlockPlan]:
    """Cut a ``width`` x ``height`` raster into blocks of ``core_px`` plus ``margin_px`` each side.

    Examples
    --------
    >>> [(b.col_off, b.width, b.core_col_off, b.core_width) for b in plan_blocks(250, 10, 100, 20)]
    [(0, 120, 0, 100), (80, 140, 100, 100), (180, 70, 200, 50)]
    """
    if core_px <= 0 or margin_px < 0:
        raise GridError(f"block core must be > 0 px and margin >= 0, got {core_px}, {margin_px}")
    plans = []
    for row in range(0, height, core_px):
        for col in range(0, width, core_px):
            c0, r0 = max(col - margin_px, 0), max(row - margin_px, 0)
            c1 = min(col + core_px + margin_px, width)
            r1 = min(row + core_px + margin_px, height)
            plans.append(
                BlockPlan(
                    c0,
                    r0,
                    c1 - c0,
                    r1 - r0,
                    col,
                    row,
                    min(core_px, width - col),
                    min(core_px, height - row),
                )
            )
    return plans


def _resolution_factor(raster_m: float, model_m: float | None) -> float:
    if model_m is None:
        return 1.0
    factor = model_m / raster_m
    if abs(factor - 1.0) < SAME_RESOLUTION_TOLERANCE:
        return 1.0  # e.g. a 231.54 m/px THEMIS tile and a 231.5 m/px model: no resampling
    if not 1 / MAX_RESOLUTION_RATIO <= factor <= MAX_RESOLUTION_RATIO:
        raise GridError(
            f"the model works at {model_m:.1f} m/px but the raster is {raster_m:.1f} m/px "
            f"({factor:.3g} times finer/coarser); check the raster's georeferencing or "
            "--resolution-m, or use a model trained near this resolution"
        )
    return factor


def detect_craters(
    source: RasterSource,
    predictor: Predictor,
    *,
    model_resolution_m: float | None,
    extraction,
    min_diameter_km: float | None = None,
    max_diameter_km: float | None = None,
    block_px: int = 2048,
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
) -> CraterCatalog:
    """Find craters over a whole raster.

    Parameters
    ----------
    source : RasterSource
        The raster (file, QGIS layer or array) with its grid.
    predictor : callable
        ``predictor(image, nodata_mask=..., progress=..., cancel=...) -> probability map``
        at the model's resolution (``OnnxCraterModel.predict``, or an identity for maps).
    model_resolution_m : float or None
        Resolution the predictor works at; None keeps the raster's.
    extraction : geocore.extraction.ExtractionParams
        How craters are found in the probability maps.
    min_diameter_km, max_diameter_km : float, optional
        Diameter range of the result.
    block_px : int
        Core size of a block at the model's resolution.
    progress : callable, optional
        Called with the fraction done, 0..1.
    cancel : callable, optional
        Returns True to stop; :class:`~geocore.errors.CancelledError` is raised.

    Returns
    -------
    CraterCatalog
        Craters with lon/lat (when georeferenced), diameter_km, confidence, and
        x_px, y_px, diameter_px in the *input raster's* pixels.
    """
    from .extraction import extract_craters, remove_duplicates
    from .resample import resample_masked

    grid = source.grid
    factor = _resolution_factor(grid.resolution_m, model_resolution_m)
    work_m = grid.resolution_m * factor
    largest_km = max_diameter_km if max_diameter_km is not None else 64.0
    margin_model_px = math.ceil(0.75 * largest_km * 1000.0 / work_m) + 16
    core_raster = max(1, round(block_px * factor))
    margin_raster = math.ceil(margin_model_px * factor)
    plans = plan_blocks(grid.width, grid.height, core_raster, margin_raster)
    log.info("%s: %d block(s), resolution factor %.3f", source.name, len(plans), factor)

    found = []
    for i, plan in enumerate(plans):
        if cancel is not None and cancel():
            raise CancelledError("detection cancelled; nothing was written")
        raw = np.asarray(source.read(plan.col_off, plan.row_off, plan.width, plan.height))
        nodata = _nodata_mask(raw, source.nodata)
        image = raw.astype(np.float32, copy=False)
        if factor != 1.0:
            image, nodata = resample_masked(image, nodata, 1.0 / factor)
            nodata = nodata if nodata.any() else None
        block_grid = _block_grid(grid, plan, image.shape)

        def block_progress(done: int, total: int, i=i) -> None:
            if progress is not None:
                progress((i + done / max(total, 1)) / len(plans))

        prob = predictor(image, nodata_mask=nodata, progress=block_progress, cancel=cancel)
        craters = extract_craters(
            prob,
            block_grid,
            extraction,
            min_diameter_km=min_diameter_km,
            max_diameter_km=max_diameter_km,
            cancel=cancel,
        )
        found.append(_keep_core(craters, plan, image.shape))
        if progress is not None:
            progress((i + 1) / len(plans))
    catalog = CraterCatalog.concat(found)
    if len(plans) > 1 and len(catalog):
        # a crater near a core edge can be owned by two blocks whose estimates of its centre
        # differ slightly; the fast method's own (stricter) rule keeps real overlapping craters
        catalog = remove_duplicates(catalog, distance_ratio2=0.5, radius_ratio=0.25)
    if len(catalog):
        catalog = catalog.replace(source=np.full(len(catalog), source.name, dtype=object))
    return catalog


def _nodata_mask(raw: np.ndarray, nodata: float | None) -> np.ndarray | None:
    if nodata is not None and not (isinstance(nodata, float) and math.isnan(nodata)):
        mask = raw == nodata
    elif np.issubdtype(raw.dtype, np.floating):
        mask = np.isnan(raw)
    else:
        return None
    return mask if mask.any() else None


def _block_grid(grid: PixelGrid, plan: BlockPlan, shape) -> PixelGrid:
    """The grid of a block at the model's resolution (its shape after resampling)."""
    window = grid.window(plan.col_off, plan.row_off, plan.width, plan.height)
    a, b, c, d, e, f = window.transform
    fx, fy = plan.width / shape[1], plan.height / shape[0]
    return PixelGrid((a * fx, b * fy, c, d * fx, e * fy, f), shape[1], shape[0], grid.projection)


def _keep_core(craters: CraterCatalog, plan: BlockPlan, shape) -> CraterCatalog:
    """Craters whose centre is in the block's core, with pixel values in raster pixels."""
    if not len(craters):
        return craters
    fx, fy = plan.width / shape[1], plan.height / shape[0]
    x = plan.col_off + (craters.x_px + 0.5) * fx - 0.5
    y = plan.row_off + (craters.y_px + 0.5) * fy - 0.5
    inside = (
        (x >= plan.core_col_off - 0.5)
        & (x < plan.core_col_off + plan.core_width - 0.5)
        & (y >= plan.core_row_off - 0.5)
        & (y < plan.core_row_off + plan.core_height - 0.5)
    )
    moved = craters.replace(x_px=x, y_px=y, diameter_px=craters.diameter_px * fy)
    return moved[inside]
