"""``craterdetect:detectcraters``: craters of a Mars raster layer as a polygon layer.

The layer is checked and its data provider cloned in :meth:`prepareAlgorithm`,
which QGIS runs on the main thread; :meth:`processAlgorithm` (possibly in a
background thread) only reads the clone, runs the model and writes the sink.
"""

from __future__ import annotations

from typing import ClassVar

from qgis.core import (
    QgsCoordinateTransform,
    QgsFeatureSink,
    QgsProcessing,
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingLayerPostProcessorInterface,
    QgsProcessingOutputNumber,
    QgsProcessingParameterBand,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterExtent,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsRectangle,
    QgsVectorLayer,
    QgsWkbTypes,
)

from geocore.errors import CancelledError, GeocoreError
from geocore.projection import Geographic

from ..crater_layers import crater_features, crater_fields, mars_qgs_crs, style_crater_layer
from ..dependencies import require_onnxruntime
from ..detection_run import DEVICES, DetectionRequest, run_detection
from ..errors import PluginInputError
from ..layer_source import LayerRasterSource

__all__ = ["DetectCratersAlgorithm"]

_HELP = """\
Detects impact craters on a Mars raster layer with a crater segmentation model (ONNX) and \
returns them as true circles on the Mars sphere (longitude/latitude), with the fields lon, lat, \
diameter_km, confidence, model, x_px, y_px and diameter_px.

<b>Input</b>: a raster in a Mars CRS (longitude/latitude or equirectangular, e.g. \
IAU_2015:49900 or IAU_2015:49910), or a THEMIS 256 px/degree tile image named after its tile \
(thm_dir_N-30_090.png). A multi-band raster needs its band chosen. A raster labelled with an \
Earth longitude/latitude CRS (EPSG:4326) is refused unless "The data are of Mars" is ticked.
The raster is resampled to the model's resolution (from its metadata), measured on the Mars \
sphere.

<b>Model</b>: an .onnx file exported by the project's training (python -m training.export); \
empty: the bundled default model. Needs the Python package onnxruntime in QGIS's Python.

<b>Extent</b> and <b>polygons</b> limit the search: only craters whose centre lies inside \
are kept ("Selected features only" uses the selected polygons)."""


class _StyleCraters(QgsProcessingLayerPostProcessorInterface):
    """Styles the crater layer loaded after the run (outline by confidence, no fill)."""

    _alive: ClassVar[list] = []  # QGIS does not own post-processors: keep the latest ones alive

    def postProcessLayer(self, layer, context, feedback) -> None:  # the name QGIS calls
        """Style the layer."""
        if isinstance(layer, QgsVectorLayer):
            style_crater_layer(layer)

    @classmethod
    def create(cls) -> _StyleCraters:
        """A post-processor kept alive for the next runs."""
        cls._alive = [*cls._alive[-7:], cls()]
        return cls._alive[-1]


class DetectCratersAlgorithm(QgsProcessingAlgorithm):
    """Detect craters on a Mars raster layer."""

    INPUT = "INPUT"
    BAND = "BAND"
    ASSUME_MARS = "ASSUME_MARS"
    MODEL = "MODEL"
    MIN_DIAMETER_KM = "MIN_DIAMETER_KM"
    MAX_DIAMETER_KM = "MAX_DIAMETER_KM"
    THRESHOLD = "THRESHOLD"
    EXTENT = "EXTENT"
    POLYGONS = "POLYGONS"
    DEVICE = "DEVICE"
    BLOCK_PX = "BLOCK_PX"
    OUTPUT = "OUTPUT"
    CENTRES = "CENTRES"
    CRATER_COUNT = "CRATER_COUNT"
    DEVICE_CHOICES = tuple(DEVICES)

    def __init__(self) -> None:
        super().__init__()
        self._source: LayerRasterSource | None = None
        self._request: DetectionRequest | None = None

    def createInstance(self) -> DetectCratersAlgorithm:  # the name QGIS calls
        """A fresh copy for one run."""
        return DetectCratersAlgorithm()

    def name(self) -> str:
        """The id within the provider."""
        return "detectcraters"

    def displayName(self) -> str:  # the name QGIS calls
        """The name in the toolbox."""
        return "Detect craters"

    def shortHelpString(self) -> str:  # the name QGIS calls
        """The help shown beside the parameters."""
        return _HELP.replace("\n", "<br>")

    def initAlgorithm(self, config=None) -> None:  # the name QGIS calls
        """Declare the parameters and outputs."""
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, "Mars raster layer"))
        self.addParameter(
            QgsProcessingParameterBand(
                self.BAND, "Band (needed for a multi-band raster)", None, self.INPUT, True
            )
        )
        self.addParameter(
            QgsProcessingParameterBoolean(
                self.ASSUME_MARS,
                "The data are of Mars although the layer's lon/lat CRS is not (e.g. EPSG:4326)",
                False,
            )
        )
        self.addParameter(
            QgsProcessingParameterFile(
                self.MODEL,
                "Crater model (.onnx; empty: the bundled default)",
                extension="onnx",
                optional=True,
            )
        )
        for name, label, default in (
            (self.MIN_DIAMETER_KM, "Smallest crater diameter (km)", 2.0),
            (self.MAX_DIAMETER_KM, "Largest crater diameter (km)", 32.0),
        ):
            self.addParameter(
                QgsProcessingParameterNumber(
                    name, label, QgsProcessingParameterNumber.Double, default, False, 0.01, 10000.0
                )
            )
        self.addParameter(
            QgsProcessingParameterNumber(
                self.THRESHOLD,
                "Probability threshold (empty: the model's)",
                QgsProcessingParameterNumber.Double,
                None,
                True,
                0.001,
                0.999,
            )
        )
        self.addParameter(
            QgsProcessingParameterExtent(self.EXTENT, "Extent (empty: the whole layer)", None, True)
        )
        self.addParameter(
            QgsProcessingParameterFeatureSource(
                self.POLYGONS,
                "Only inside these polygons",
                [QgsProcessing.TypeVectorPolygon],
                None,
                True,
            )
        )
        self.addParameter(
            QgsProcessingParameterEnum(
                self.DEVICE, "Device", ["auto (GPU if available)", "CPU", "GPU"], False, 0
            )
        )
        block = QgsProcessingParameterNumber(
            self.BLOCK_PX,
            "Block size at the model's resolution (px)",
            QgsProcessingParameterNumber.Integer,
            2048,
            False,
            128,
            16384,
        )
        block.setFlags(block.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
        self.addParameter(block)
        self.addParameter(
            QgsProcessingParameterFeatureSink(
                self.OUTPUT, "Craters", QgsProcessing.TypeVectorPolygon
            )
        )
        self.addParameter(
            QgsProcessingParameterFeatureSink(
                self.CENTRES, "Crater centres", QgsProcessing.TypeVectorPoint, None, True, False
            )
        )
        self.addOutput(QgsProcessingOutputNumber(self.CRATER_COUNT, "Number of craters"))

    # ------------------------------------------------------------------ run
    def prepareAlgorithm(self, parameters, context, feedback) -> bool:  # the name QGIS calls
        """Check the inputs and clone the layer's provider (main thread)."""
        try:
            require_onnxruntime()
            layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
            if layer is None:
                raise PluginInputError(
                    f"INPUT={parameters.get(self.INPUT)!r} is not a raster layer; give a "
                    "raster file or a raster layer of the project"
                )
            band = self.parameterAsInt(parameters, self.BAND, context)
            assume_mars = self.parameterAsBoolean(parameters, self.ASSUME_MARS, context)
            extent = None
            if parameters.get(self.EXTENT) not in (None, ""):
                extent = self.parameterAsExtent(parameters, self.EXTENT, context, layer.crs())
            polygons = self._polygons(parameters, context, layer)
            if polygons:
                box = QgsRectangle(polygons[0][1])
                for _, rect in polygons[1:]:
                    box.combineExtentWith(rect)
                extent = box if extent is None else extent.intersect(box)
                if extent.isEmpty():
                    raise PluginInputError(
                        "the polygons lie outside the extent; widen the extent or choose "
                        "polygons inside it"
                    )
            self._source = LayerRasterSource.from_layer(layer, band or None, extent, assume_mars)
            threshold = parameters.get(self.THRESHOLD)
            model = self.parameterAsFile(parameters, self.MODEL, context) or None
            self._request = DetectionRequest(
                model_path=model,
                min_diameter_km=self.parameterAsDouble(parameters, self.MIN_DIAMETER_KM, context),
                max_diameter_km=self.parameterAsDouble(parameters, self.MAX_DIAMETER_KM, context),
                threshold=(
                    None
                    if threshold in (None, "")
                    else self.parameterAsDouble(parameters, self.THRESHOLD, context)
                ),
                device=self.DEVICE_CHOICES[self.parameterAsEnum(parameters, self.DEVICE, context)],
                block_px=self.parameterAsInt(parameters, self.BLOCK_PX, context),
                polygons_wkt=tuple(wkt for wkt, _ in polygons),
            )
            self._request.resolved_model_path()  # no model at all: say so before running
        except GeocoreError as err:
            raise QgsProcessingException(str(err)) from err
        return True

    def _polygons(self, parameters, context, layer) -> list[tuple[str, QgsRectangle]]:
        """WKT and bounding box, in the raster's CRS, of the chosen polygons."""
        source = self.parameterAsSource(parameters, self.POLYGONS, context)
        if source is None:
            return []
        transform = None
        if layer.crs().isValid() and source.sourceCrs() != layer.crs():
            transform = QgsCoordinateTransform(
                source.sourceCrs(), layer.crs(), context.transformContext()
            )
        polygons = []
        for feature in source.getFeatures():
            geometry = feature.geometry()
            if geometry.isNull() or geometry.isEmpty():
                continue
            if transform is not None:
                geometry.transform(transform)
            polygons.append((geometry.asWkt(), geometry.boundingBox()))
        if not polygons:
            raise PluginInputError(
                "the polygon layer has no polygon (or none selected); select polygons or "
                "leave 'Only inside these polygons' empty"
            )
        return polygons

    def processAlgorithm(self, parameters, context, feedback) -> dict:  # the name QGIS calls
        """Run the model (any thread) and write the craters."""
        source, request = self._source, self._request
        grid = source.grid
        feedback.pushInfo(
            f"{source.name}: {grid.width} x {grid.height} px at {grid.resolution_m:.1f} m/px "
            f"(Mars sphere), band {source.band}; model {request.model_label}"
        )
        try:
            catalog = run_detection(
                source,
                request,
                progress=lambda fraction: feedback.setProgress(100.0 * fraction),
                cancel=feedback.isCanceled,
            )
        except CancelledError as err:
            raise QgsProcessingException("crater detection cancelled; nothing was written") from err
        except GeocoreError as err:
            raise QgsProcessingException(str(err)) from err
        crs = mars_qgs_crs(Geographic(grid.projection.body))
        results = {self.CRATER_COUNT: len(catalog)}
        for name, kind, wkb in (
            (self.OUTPUT, "polygon", QgsWkbTypes.MultiPolygon),
            (self.CENTRES, "point", QgsWkbTypes.Point),
        ):
            sink, dest_id = self.parameterAsSink(
                parameters, name, context, crater_fields(), wkb, crs
            )
            if sink is None:  # the optional centres not asked for
                continue
            features = crater_features(catalog, request.model_label, kind)
            if not sink.addFeatures(features, QgsFeatureSink.FastInsert):
                raise QgsProcessingException(f"could not write the craters: {sink.lastError()}")
            results[name] = dest_id
            if context.willLoadLayerOnCompletion(dest_id):
                details = context.layerToLoadOnCompletionDetails(dest_id)
                details.setPostProcessor(_StyleCraters.create())
        feedback.pushInfo(f"{len(catalog)} craters found")
        return results
