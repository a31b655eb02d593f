"""One crater detection run, as the dialog's task and the Processing algorithm start it.

:class:`DetectionRequest` holds the user's choices; :func:`run_detection` loads
the model, runs :func:`geocore.detection.detect_craters` over a raster source
(a :class:`~crater_qgis_plugin.layer_source.LayerRasterSource` made on the main
thread) and keeps the craters inside the chosen polygons. It touches no QGIS
layer or project, so it runs in a worker thread.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from qgis.core import QgsGeometry, QgsPointXY

from geocore.crater import CraterCatalog
from geocore.detection import RasterSource, detect_craters
from geocore.errors import ModelError

from .dependencies import require_onnxruntime
from .errors import PluginInputError

__all__ = ["DEVICES", "DetectionRequest", "describe_model", "run_detection"]

#: Device choices and the onnxruntime providers geocore asks for with each.
DEVICES = {"auto": "auto", "cpu": "cpu", "gpu": "cuda"}


@dataclass(frozen=True)
class DetectionRequest:
    """What to detect, with which model.

    Parameters
    ----------
    model_path : str or None
        The ``.onnx`` model; None: the bundled default model.
    min_diameter_km, max_diameter_km : float
        Diameter range of the craters kept, km.
    threshold : float or None
        Probability threshold; None: the model's own.
    device : {"auto", "cpu", "gpu"}
        Where onnxruntime runs ("auto": the GPU when onnxruntime-gpu can use
        one, else the CPU).
    block_px : int
        Block size at the model's resolution (memory grows with its square).
    polygons_wkt : tuple of str
        Polygons (WKT, in the raster's CRS) limiting the result: craters whose
        centre lies outside all of them are dropped. Empty: no limit.

    Raises
    ------
    PluginInputError
        A value is out of range.
    """

    model_path: str | None = None
    min_diameter_km: float = 2.0
    max_diameter_km: float = 32.0
    threshold: float | None = None
    device: str = "auto"
    block_px: int = 2048
    polygons_wkt: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        low, high = self.min_diameter_km, self.max_diameter_km
        if not (math.isfinite(low) and math.isfinite(high) and 0 < low < high):
            raise PluginInputError(
                f"diameter range {low:g}-{high:g} km: the smallest must be above 0 and below "
                "the largest, e.g. 2-32 km"
            )
        if self.threshold is not None and not 0 < self.threshold < 1:
            raise PluginInputError(
                f"threshold {self.threshold:g}: must be between 0 and 1 (e.g. 0.5), or unset "
                "to use the model's"
            )
        if self.device not in DEVICES:
            raise PluginInputError(f"device {self.device!r}: choose one of {', '.join(DEVICES)}")
        if int(self.block_px) != self.block_px or self.block_px < 128:
            raise PluginInputError(
                f"block size {self.block_px!r} px: must be a whole number >= 128"
            )
        object.__setattr__(self, "polygons_wkt", tuple(self.polygons_wkt))

    @property
    def model_label(self) -> str:
        """The model's name for the crater layer's ``model`` field."""
        path = self.resolved_model_path()
        return Path(path).name

    def resolved_model_path(self) -> str:
        """The model file to load: the chosen one or the bundled default.

        Raises
        ------
        ModelError
            No model chosen and none bundled.
        """
        from geocore.model_info import default_model_path

        path = self.model_path or default_model_path()
        if not path:
            raise ModelError(
                "this installation has no bundled default model; choose an ONNX crater model "
                "(.onnx), e.g. one exported with `python -m training.export`"
            )
        return str(path)


def run_detection(
    source: RasterSource,
    request: DetectionRequest,
    progress: Callable[[float], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> CraterCatalog:
    """Detect craters on a raster source (worker-thread safe).

    Parameters
    ----------
    source : RasterSource
        The raster (a ``LayerRasterSource`` made on the main thread).
    request : DetectionRequest
        The choices.
    progress : callable, optional
        Called with the fraction done, 0..1.
    cancel : callable, optional
        Returns True to stop.

    Returns
    -------
    CraterCatalog
        Craters in lon/lat on the raster's sphere, diameters in km, confidence,
        and pixel positions in ``source``'s grid.

    Raises
    ------
    DependencyError
        onnxruntime is missing.
    ModelError
        No model, an unreadable model, or an unavailable device.
    CancelledError
        ``cancel()`` returned True; nothing is returned.
    GeocoreError
        Other refusals from geocore (e.g. a raster far from the model's resolution).
    """
    from geocore.extraction import ExtractionParams
    from geocore.inference import OnnxCraterModel

    require_onnxruntime()
    model = OnnxCraterModel.load(request.resolved_model_path(), providers=DEVICES[request.device])
    overrides = {} if request.threshold is None else {"threshold": request.threshold}
    params = ExtractionParams.for_model(model.info, **overrides)
    catalog = detect_craters(
        source,
        model.predict,
        model_resolution_m=model.info.resolution_m,
        extraction=params,
        min_diameter_km=request.min_diameter_km,
        max_diameter_km=request.max_diameter_km,
        block_px=request.block_px,
        progress=progress,
        cancel=cancel,
    )
    if request.polygons_wkt and len(catalog):
        catalog = catalog[_inside_polygons(catalog, source, request.polygons_wkt)]
    return catalog


def _inside_polygons(catalog: CraterCatalog, source: RasterSource, polygons_wkt) -> np.ndarray:
    """Which craters have their centre inside one of the polygons (in the raster's CRS)."""
    geometries = []
    for wkt in polygons_wkt:
        geometry = QgsGeometry.fromWkt(wkt)
        if geometry.isNull() or geometry.isEmpty():
            raise PluginInputError(f"cannot read the polygon {wkt[:60]!r}...; select polygons")
        geometries.append(geometry)
    area = QgsGeometry.unaryUnion(geometries)
    x, y = source.grid.pixel_to_xy(catalog.x_px, catalog.y_px)
    points = zip(np.atleast_1d(x).tolist(), np.atleast_1d(y).tolist(), strict=True)
    return np.array([area.contains(QgsPointXY(px, py)) for px, py in points], dtype=bool)


def describe_model(path) -> str:
    """A few lines about a model for the dialog: resolution, targets, diameters, threshold.

    Raises
    ------
    DependencyError
        onnxruntime is missing (it reads the model's metadata).
    ModelError
        The file is missing, not an ONNX model, or lacks crater metadata.
    """
    from geocore.model_info import read_model_info

    require_onnxruntime()
    info = read_model_info(path)
    if info.resolution_m is None:
        resolution = "none stated: rasters are used at their own resolution"
    else:
        resolution = f"{info.resolution_m:.1f} m/px (rasters are resampled to it)"
    target = info.target_kind
    if target == "ring":
        target += f" ({info.ring_width_px:g} px wide)"
    elif target == "outline":
        target += f" (inner ratio {info.inner_ratio:g})"
    if info.min_diameter_km is None and info.max_diameter_km is None:
        diameters = "not stated"
    else:
        low = "?" if info.min_diameter_km is None else f"{info.min_diameter_km:g}"
        high = "?" if info.max_diameter_km is None else f"{info.max_diameter_km:g}"
        diameters = f"{low}-{high} km"
    lines = [
        f"Model: {Path(path).name}" + (f" ({info.preset})" if info.preset else ""),
        f"Resolution: {resolution}",
        f"Targets: {target}",
        f"Trained on crater diameters: {diameters}",
        f"Threshold: {info.threshold:g}",
    ]
    if info.training_data:
        lines.append(f"Training data: {info.training_data}")
    return "\n".join(lines)
