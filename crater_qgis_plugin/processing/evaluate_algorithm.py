"""``craterdetect:evaluatecraters``: a crater layer scored against a catalogue layer.

Craters are matched one to one on the Mars sphere by DeepMoon's rule
(:mod:`geocore.matching`) and scored overall and per diameter bin
(:mod:`geocore.metrics`); the result is a table (a sink without geometry).
"""

from __future__ import annotations

import math

import numpy as np
from qgis.core import (
    QgsFeature,
    QgsFeatureSink,
    QgsField,
    QgsFields,
    QgsProcessing,
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingParameterExtent,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterNumber,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QVariant

from geocore.crater import CraterCatalog
from geocore.errors import GeocoreError
from geocore.metrics import evaluate

from ..errors import PluginInputError
from ..layer_source import projection_from_qgs_crs

__all__ = ["EvaluateCratersAlgorithm", "catalog_from_features", "metrics_fields"]

#: Field names tried, in order, when no diameter / lon / lat field is given.
DIAMETER_NAMES = ("diameter_km", "diam_km", "diam_circle_image", "diameter", "diam")
LON_NAMES = ("lon", "lon_deg", "longitude", "longitude_circle_image")
LAT_NAMES = ("lat", "lat_deg", "latitude", "latitude_circle_image")

_COUNTS = ("tp_reference", "tp_detected", "false_negatives", "false_positives")
_SCORES = (
    "precision",
    "recall",
    "f1",
    "median_lon_error",
    "median_lat_error",
    "median_diameter_error",
)

_HELP = """\
Scores a crater layer (e.g. the output of Detect craters) against a reference catalogue \
layer (e.g. Robbins & Hynek 2012): craters are matched one to one on the Mars sphere \
(DeepMoon's rule: centres closer than 1.34 times the smaller radius, radii within a factor \
of 2) and counted overall and per diameter bin (2-4, 4-8, 8-16, 16-32 km).
Each layer gives its craters' diameters in km (field DIAMETER_FIELD / CATALOGUE_DIAMETER_FIELD, \
found by name when empty: diameter_km, Diam_km, DIAM_CIRCLE_IMAGE...) and centres from lon/lat \
fields when it has them (lon, LONGITUDE_CIRCLE_IMAGE...), else from its points or polygon \
centres in the layer's Mars CRS.
The extent limits the scoring to a region; craters cut by its edge are matched but not counted."""


def metrics_fields() -> QgsFields:
    """Fields of the metrics table: one row overall (``all``) then one per bin."""
    fields = QgsFields()
    fields.append(QgsField("bin", QVariant.String))
    fields.append(QgsField("min_diameter_km", QVariant.Double))
    fields.append(QgsField("max_diameter_km", QVariant.Double))
    for name in _COUNTS:
        fields.append(QgsField(name, QVariant.Int))
    for name in _SCORES:
        fields.append(QgsField(name, QVariant.Double))
    return fields


def _find_field(source, wanted: str | None, names, what: str, role: str) -> str | None:
    available = [field.name() for field in source.fields()]
    if wanted:
        if wanted not in available:
            raise PluginInputError(
                f"{what} has no field {wanted!r}; choose one of {', '.join(available)}"
            )
        return wanted
    lower = {name.lower(): name for name in available}
    for name in names:
        if name in lower:
            return lower[name]
    if role == "diameter":
        raise PluginInputError(
            f"{what} has no crater diameter field (tried {', '.join(names)}); choose the field "
            f"holding diameters in km among {', '.join(available) or 'none'}"
        )
    return None


def catalog_from_features(source, diameter_field: str | None, what: str) -> CraterCatalog:
    """Craters of a feature source (diameters in km; centres in Mars lon/lat).

    Diameters come from a field; centres from lon/lat fields when the layer has
    them, else from its points or polygon centroids in the layer's Mars CRS.

    Raises
    ------
    PluginInputError
        No diameter field, a non-Mars CRS (when the centres come from geometry), a
        feature without diameter or centre.
    """
    diameter = _find_field(source, diameter_field, DIAMETER_NAMES, what, "diameter")
    lon_field = _find_field(source, None, LON_NAMES, what, "lon")
    lat_field = _find_field(source, None, LAT_NAMES, what, "lat")
    use_fields = lon_field is not None and lat_field is not None
    projection = None if use_fields else projection_from_qgs_crs(source.sourceCrs(), what=what)
    lon, lat, diam = [], [], []
    for feature in source.getFeatures():
        value = feature[diameter]
        if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
            raise PluginInputError(
                f"{what}: feature {feature.id()} has no {diameter}; fill it or remove the feature"
            )
        if use_fields:
            x, y = feature[lon_field], feature[lat_field]
        else:
            geometry = feature.geometry()
            if geometry.isNull() or geometry.isEmpty():
                raise PluginInputError(f"{what}: feature {feature.id()} has no geometry")
            if geometry.type() == QgsWkbTypes.PointGeometry:
                point = geometry.asPoint() if not geometry.isMultipart() else geometry.centroid()
            else:
                point = geometry.centroid()
            point = point.asPoint() if hasattr(point, "asPoint") else point
            x, y = projection.inverse(point.x(), point.y())
        lon.append(float(x))
        lat.append(float(y))
        diam.append(float(value))
    if not diam:
        return CraterCatalog.empty()
    return CraterCatalog(np.array(lon), np.array(lat), np.array(diam))


class EvaluateCratersAlgorithm(QgsProcessingAlgorithm):
    """Crater layer vs catalogue layer -> precision, recall, F1 and errors."""

    INPUT = "INPUT"
    DIAMETER_FIELD = "DIAMETER_FIELD"
    CATALOGUE = "CATALOGUE"
    CATALOGUE_DIAMETER_FIELD = "CATALOGUE_DIAMETER_FIELD"
    MIN_DIAMETER_KM = "MIN_DIAMETER_KM"
    MAX_DIAMETER_KM = "MAX_DIAMETER_KM"
    EXTENT = "EXTENT"
    OUTPUT = "OUTPUT"

    def createInstance(self) -> EvaluateCratersAlgorithm:  # the name QGIS calls
        """A fresh copy for one run."""
        return EvaluateCratersAlgorithm()

    def name(self) -> str:
        """The id within the provider."""
        return "evaluatecraters"

    def displayName(self) -> str:  # the name QGIS calls
        """The name in the toolbox."""
        return "Evaluate craters against a catalogue"

    def shortHelpString(self) -> str:  # the name QGIS calls
        """The help shown beside the parameters."""
        return _HELP.replace("\n", "<br>")

    def initAlgorithm(self, config=None) -> None:  # the name QGIS calls
        """Declare the parameters and outputs."""
        kinds = [QgsProcessing.TypeVectorPolygon, QgsProcessing.TypeVectorPoint]
        for layer, field, label in (
            (self.INPUT, self.DIAMETER_FIELD, "Detected craters"),
            (self.CATALOGUE, self.CATALOGUE_DIAMETER_FIELD, "Reference catalogue"),
        ):
            self.addParameter(QgsProcessingParameterFeatureSource(layer, label, kinds))
            self.addParameter(
                QgsProcessingParameterField(
                    field,
                    f"{label}: diameter field, km (empty: found by name)",
                    None,
                    layer,
                    QgsProcessingParameterField.Numeric,
                    optional=True,
                )
            )
        for name, label in (
            (self.MIN_DIAMETER_KM, "Smallest diameter scored (km; empty: no limit)"),
            (self.MAX_DIAMETER_KM, "Largest diameter scored (km; empty: no limit)"),
        ):
            self.addParameter(
                QgsProcessingParameterNumber(
                    name, label, QgsProcessingParameterNumber.Double, None, True, 0.0
                )
            )
        self.addParameter(
            QgsProcessingParameterExtent(
                self.EXTENT, "Region scored (empty: everywhere)", None, True
            )
        )
        self.addParameter(QgsProcessingParameterFeatureSink(self.OUTPUT, "Crater metrics"))
        for name in ("PRECISION", "RECALL", "F1"):
            self.addOutput(QgsProcessingOutputNumber(name, name.title()))

    def _optional_number(self, parameters, name, context) -> float | None:
        if parameters.get(name) in (None, ""):
            return None
        return self.parameterAsDouble(parameters, name, context)

    def _region(self, parameters, context):
        if parameters.get(self.EXTENT) in (None, ""):
            return None
        extent = self.parameterAsExtent(parameters, self.EXTENT, context)
        crs = self.parameterAsExtentCrs(parameters, self.EXTENT, context)
        projection = projection_from_qgs_crs(crs, what="the region's extent")
        lon, lat = projection.inverse(
            np.array([extent.xMinimum(), extent.xMaximum()]),
            np.array([extent.yMinimum(), extent.yMaximum()]),
        )
        return (float(lon[0]), float(lat[0]), float(lon[1]), float(lat[1]))

    def processAlgorithm(self, parameters, context, feedback) -> dict:  # the name QGIS calls
        """Match, score and write the table."""
        try:
            detected = catalog_from_features(
                self.parameterAsSource(parameters, self.INPUT, context),
                self.parameterAsString(parameters, self.DIAMETER_FIELD, context),
                "the detected crater layer",
            )
            reference = catalog_from_features(
                self.parameterAsSource(parameters, self.CATALOGUE, context),
                self.parameterAsString(parameters, self.CATALOGUE_DIAMETER_FIELD, context),
                "the catalogue layer",
            )
            metrics = evaluate(
                detected,
                reference,
                region=self._region(parameters, context),
                min_diameter_km=self._optional_number(parameters, self.MIN_DIAMETER_KM, context),
                max_diameter_km=self._optional_number(parameters, self.MAX_DIAMETER_KM, context),
                mode="sphere",
            )
        except GeocoreError as err:
            raise QgsProcessingException(str(err)) from err
        feedback.pushInfo(f"{len(detected)} detected, {len(reference)} reference craters")
        feedback.pushInfo(metrics.to_table())
        fields = metrics_fields()
        sink, dest_id = self.parameterAsSink(
            parameters, self.OUTPUT, context, fields, QgsWkbTypes.NoGeometry
        )
        if sink is None:
            raise QgsProcessingException("cannot create the metrics table (OUTPUT)")
        tp = metrics.true_positives
        rows = [
            (
                "all",
                metrics.min_diameter_km,
                metrics.max_diameter_km,
                (tp, tp, metrics.false_negatives, metrics.false_positives),
                metrics,
            )
        ]
        for b in metrics.bins:
            counts = tuple(getattr(b, name) for name in _COUNTS)
            rows.append((b.label, b.min_diameter_km, b.max_diameter_km, counts, b))
        for label, low, high, counts, scores in rows:
            feature = QgsFeature(fields)
            values = [_number(getattr(scores, name)) for name in _SCORES]
            feature.setAttributes([label, _number(low), _number(high), *counts, *values])
            sink.addFeature(feature, QgsFeatureSink.FastInsert)
        return {
            self.OUTPUT: dest_id,
            "PRECISION": metrics.precision,
            "RECALL": metrics.recall,
            "F1": metrics.f1,
        }


def _number(value):
    """A float for the table, NULL for None / NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)
