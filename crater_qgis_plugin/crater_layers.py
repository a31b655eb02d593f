"""Craters back into QGIS: Mars CRSs, crater circle and centre layers, their style.

Crater polygons are true circles on the Mars sphere (:mod:`geocore.geometry`),
in longitude/latitude degrees on the sphere of the raster they were found on.
CRSs are written as WKT *without* authority ids: QGIS 3.22 reads a Mars CRS that
carries an ``IAU_2015`` id back from a GeoPackage as invalid, and the same
definition without ids round-trips.
"""

from __future__ import annotations

import math

import numpy as np
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsFeature,
    QgsField,
    QgsFields,
    QgsFillSymbol,
    QgsGeometry,
    QgsGradientColorRamp,
    QgsGraduatedSymbolRenderer,
    QgsMarkerSymbol,
    QgsPointXY,
    QgsRendererRange,
    QgsVectorLayer,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QVariant
from qgis.PyQt.QtGui import QColor

from geocore.body import MARS
from geocore.crater import CraterCatalog
from geocore.geometry import crater_polygons
from geocore.grid import PixelGrid
from geocore.projection import Equirectangular, Geographic, Projection

from .errors import PluginInputError

__all__ = [
    "CRATER_FIELDS",
    "crater_features",
    "crater_fields",
    "crater_point_layer",
    "crater_polygon_layer",
    "mars_qgs_crs",
    "style_crater_layer",
]

#: Attribute fields of crater layers: name, type and meaning.
CRATER_FIELDS: tuple[tuple[str, QVariant.Type, str], ...] = (
    ("lon", QVariant.Double, "centre longitude, degrees east -180..180"),
    ("lat", QVariant.Double, "centre latitude, planetocentric degrees"),
    ("diameter_km", QVariant.Double, "rim diameter on the Mars sphere, km"),
    ("confidence", QVariant.Double, "detection score 0..1"),
    ("model", QVariant.String, "the model that found the crater"),
    ("x_px", QVariant.Double, "centre column in the input raster, pixels"),
    ("y_px", QVariant.Double, "centre row in the input raster, pixels"),
    ("diameter_px", QVariant.Double, "diameter along a meridian, input raster pixels"),
)

#: Confidence classes of the crater style: (low, high, colour); bright colours, so
#: that outlines stay visible over dark and light grey images alike.
_CONFIDENCE_CLASSES = (
    (0.0, 0.5, "#ffff33"),
    (0.5, 0.7, "#ffd000"),
    (0.7, 0.8, "#ff9900"),
    (0.8, 0.9, "#ff5500"),
    (0.9, 1.0, "#ff0000"),
)
#: Outline width of crater circles, mm.
_OUTLINE_WIDTH_MM = 0.7
_N_VERTICES = 64


def _sphere_name(radius_m: float) -> str:
    # deliberately not the IAU database's names: QGIS 3.22 would recognise the CRS as
    # IAU_2015:49900, write that id into GeoPackages and then read them back as invalid
    if radius_m == MARS.radius_m:
        return "Mars sphere (IAU 2015)"
    return f"Mars sphere R={radius_m:g} m"


def _geogcs(radius_m: float) -> str:
    name = _sphere_name(radius_m)
    return (
        f'GEOGCS["{name} longitude/latitude",DATUM["{name}",SPHEROID["{name}",{radius_m!r},0]],'
        'PRIMEM["Reference Meridian",0],UNIT["degree",0.0174532925199433]]'
    )


def mars_qgs_crs(grid_or_projection: PixelGrid | Projection | None = None):
    """The QGIS CRS of a geocore grid or projection, valid in QGIS 3.22 and in GeoPackages.

    Parameters
    ----------
    grid_or_projection : PixelGrid, Geographic, Equirectangular or None
        None: the Mars sphere's longitude/latitude CRS (IAU_2015:49900's definition).

    Returns
    -------
    QgsCoordinateReferenceSystem
        Defined by WKT without authority ids.

    Raises
    ------
    PluginInputError
        The grid has no projection.
    """
    projection = grid_or_projection
    if isinstance(projection, PixelGrid):
        projection = projection.projection
        if projection is None:
            raise PluginInputError(
                "this raster has no georeferencing, so craters have no Mars coordinates; "
                "use a raster in a Mars CRS or named after its THEMIS tile"
            )
    if projection is None:
        projection = Geographic(MARS)
    radius = float(projection.body.radius_m)
    if isinstance(projection, Equirectangular):
        name = f"{_sphere_name(radius)} equirectangular, lon_0 = {projection.lon_0_deg:g}"
        wkt = (
            f'PROJCS["{name}",{_geogcs(radius)},PROJECTION["Equirectangular"],'
            f'PARAMETER["standard_parallel_1",{projection.lat_ts_deg!r}],'
            f'PARAMETER["central_meridian",{projection.lon_0_deg!r}],'
            'PARAMETER["false_easting",0],PARAMETER["false_northing",0],UNIT["metre",1],'
            'AXIS["Easting",EAST],AXIS["Northing",NORTH]]'
        )
    else:
        wkt = _geogcs(radius)
    crs = QgsCoordinateReferenceSystem.fromWkt(wkt)
    if not crs.isValid() or crs.authid():  # pragma: no cover - a PROJ string always works
        crs = QgsCoordinateReferenceSystem.fromProj(projection.to_proj4())
    return crs


def crater_fields() -> QgsFields:
    """The :data:`CRATER_FIELDS` as ``QgsFields``."""
    fields = QgsFields()
    for name, kind, _ in CRATER_FIELDS:
        fields.append(QgsField(name, kind))
    return fields


def _value(column, i: int):
    if column is None:
        return None
    value = float(column[i])
    return None if math.isnan(value) else value


def crater_features(
    catalog: CraterCatalog,
    model_name: str = "",
    geometry: str = "polygon",
    n_vertices: int = _N_VERTICES,
) -> list[QgsFeature]:
    """Features of the craters (fields :data:`CRATER_FIELDS`), geometry in Mars lon/lat.

    Parameters
    ----------
    catalog : CraterCatalog
        The craters.
    model_name : str
        Written in the ``model`` field.
    geometry : {"polygon", "point"}
        True circles on the sphere (multipolygons: a crater across the
        antimeridian has two parts), or the centres.
    n_vertices : int
        Vertices per circle.

    Returns
    -------
    list of QgsFeature
        Craters with unknown centres get no geometry.
    """
    fields = crater_fields()
    lon = np.asarray(catalog.lon_deg, dtype=float)
    lat = np.asarray(catalog.lat_deg, dtype=float)
    if geometry == "polygon":
        parts = crater_polygons(lon, lat, catalog.diameter_km, n_vertices=n_vertices)
    elif geometry != "point":
        raise ValueError(f"geometry must be 'polygon' or 'point', got {geometry!r}")
    features = []
    for i in range(len(catalog)):
        feature = QgsFeature(fields)
        feature.setAttributes(
            [
                _value(lon, i),
                _value(lat, i),
                float(catalog.diameter_km[i]),
                _value(catalog.confidence, i),
                model_name,
                _value(catalog.x_px, i),
                _value(catalog.y_px, i),
                _value(catalog.diameter_px, i),
            ]
        )
        if geometry == "point":
            if math.isfinite(lon[i]) and math.isfinite(lat[i]):
                feature.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(lon[i], lat[i])))
        elif parts[i]:
            polygons = [[[QgsPointXY(x, y) for x, y in ring.tolist()]] for ring in parts[i]]
            feature.setGeometry(QgsGeometry.fromMultiPolygonXY(polygons))
        features.append(feature)
    return features


def _memory_layer(kind: str, crs, name: str) -> QgsVectorLayer:
    layer = QgsVectorLayer(kind, name, "memory")
    layer.setCrs(crs)
    provider = layer.dataProvider()
    provider.addAttributes(list(crater_fields()))
    layer.updateFields()
    return layer


def _crs_of(crs) -> QgsCoordinateReferenceSystem:
    """The lon/lat CRS of crater geometries: as given, or that of a grid's sphere."""
    if isinstance(crs, QgsCoordinateReferenceSystem):
        return crs
    projection = crs.projection if isinstance(crs, PixelGrid) else crs
    if projection is not None and not isinstance(projection, Geographic | Equirectangular):
        raise TypeError(f"crs must be a QgsCoordinateReferenceSystem, grid or projection: {crs!r}")
    return mars_qgs_crs(Geographic(projection.body if projection is not None else MARS))


def crater_polygon_layer(
    catalog: CraterCatalog, crs=None, name: str = "Craters", model_name: str = ""
) -> QgsVectorLayer:
    """A styled memory layer of crater circles (true circles on the Mars sphere).

    Parameters
    ----------
    catalog : CraterCatalog
        The craters (with lon/lat).
    crs : QgsCoordinateReferenceSystem, PixelGrid, projection or None
        The layer's lon/lat CRS; a grid or projection gives the longitude/latitude
        CRS of its sphere; None: the Mars sphere (IAU_2015:49900's definition).
    name : str
        Layer name.
    model_name : str
        Written in the ``model`` field.

    Returns
    -------
    QgsVectorLayer
        MultiPolygon memory layer, fields :data:`CRATER_FIELDS`, outline coloured
        by confidence and no fill (:func:`style_crater_layer`).
    """
    layer = _memory_layer("MultiPolygon", _crs_of(crs), name)
    layer.dataProvider().addFeatures(crater_features(catalog, model_name, "polygon"))
    layer.updateExtents()
    style_crater_layer(layer)
    return layer


def crater_point_layer(
    catalog: CraterCatalog, crs=None, name: str = "Crater centres", model_name: str = ""
) -> QgsVectorLayer:
    """A memory layer of crater centres (same fields and CRS rules as the circles)."""
    layer = _memory_layer("Point", _crs_of(crs), name)
    layer.dataProvider().addFeatures(crater_features(catalog, model_name, "point"))
    layer.updateExtents()
    style_crater_layer(layer)
    return layer


def _symbol(geometry_type, colour: str):
    if geometry_type == QgsWkbTypes.PointGeometry:
        return QgsMarkerSymbol.createSimple(
            {"name": "cross2", "color": colour, "outline_color": colour, "size": "2.5"}
        )
    return QgsFillSymbol.createSimple(
        {
            "style": "no",
            "outline_color": colour,
            "outline_width": f"{_OUTLINE_WIDTH_MM:g}",
            "outline_width_unit": "MM",
            "outline_style": "solid",
        }
    )


def style_crater_layer(layer: QgsVectorLayer) -> None:
    """Colour craters by confidence (graduated, yellow = low to red = high), no fill."""
    geometry_type = layer.geometryType()
    ranges = []
    for low, high, colour in _CONFIDENCE_CLASSES:
        label = f"confidence {low:g} - {high:g}"
        ranges.append(QgsRendererRange(low, high, _symbol(geometry_type, colour), label))
    renderer = QgsGraduatedSymbolRenderer("confidence", ranges)
    renderer.setSourceSymbol(_symbol(geometry_type, _CONFIDENCE_CLASSES[-1][2]))
    renderer.setSourceColorRamp(
        QgsGradientColorRamp(QColor(_CONFIDENCE_CLASSES[0][2]), QColor(_CONFIDENCE_CLASSES[-1][2]))
    )
    layer.setRenderer(renderer)
