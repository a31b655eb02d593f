"""The crater GeoPackage that geocore writes opens correctly in real QGIS.

The file is written by geocore.vector_io in the project's main environment
(geopandas/pyogrio are not available in QGIS's Python) and opened here with
QGIS's OGR provider: the layer and its CRS must be valid, the CRS must be the
3,396,190 m Mars sphere, and the areas QGIS measures must give back the crater
diameters (craterstats' rule).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.qgis

ROOT = Path(__file__).resolve().parents[2]
MARS_RADIUS_M = 3_396_190.0

# (lon, lat, diameter_km, confidence, source): an ordinary crater, one across the
# antimeridian (given in 0..360), one at 80 N, and one that contains the south pole.
CRATERS = [
    (137.4, -5.4, 154.0, 0.93, "gale"),
    (179.8, 12.0, 40.0, 0.71, "across_180"),
    (200.0, 80.0, 30.0, 0.55, "north_80"),
    (45.0, -89.0, 300.0, 0.62, "south_pole"),
]

WRITE_SCRIPT = """
import json, sys
from geocore.crater import Crater, CraterCatalog
from geocore.vector_io import write_geopackage
rows = json.loads(sys.argv[1])
catalog = CraterCatalog.from_craters(
    [Crater(lon, lat, d, confidence=c, source=s) for lon, lat, d, c, s in rows]
)
write_geopackage(sys.argv[2], catalog, points_layer="crater_centres")
"""


def diameter_from_area_km(area_m2: float) -> float:
    return 2 * MARS_RADIUS_M * math.acos(1 - area_m2 / (2 * math.pi * MARS_RADIUS_M**2)) / 1000


@pytest.fixture(scope="module")
def gpkg(tmp_path_factory, geocore_python) -> Path:
    path = tmp_path_factory.mktemp("gpkg") / "craters.gpkg"
    proc = subprocess.run(
        [geocore_python, "-c", WRITE_SCRIPT, json.dumps(CRATERS), str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    assert proc.returncode == 0, proc.stderr
    return path


def open_layer(path: Path, name: str):
    from qgis.core import QgsVectorLayer

    return QgsVectorLayer(f"{path}|layername={name}", name, "ogr")


def distance_area(crs):
    from qgis.core import QgsDistanceArea, QgsProject

    da = QgsDistanceArea()
    da.setSourceCrs(crs, QgsProject.instance().transformContext())
    assert da.setEllipsoid(crs.ellipsoidAcronym())
    return da


def test_crs_is_the_valid_mars_sphere(qgis_app, gpkg):
    from qgis.core import QgsEllipsoidUtils, QgsUnitTypes

    layer = open_layer(gpkg, "craters")
    try:
        assert layer.isValid()
        crs = layer.crs()
        assert crs.isValid()  # lost when the CRS is stored with its IAU_2015 id
        # QGIS 3.22 answers isGeographic() False for any CRS outside its srs.db (this
        # one, or the same as a PROJ string); the map units tell what it is.
        assert crs.mapUnits() == QgsUnitTypes.DistanceDegrees
        assert crs.description() == "Mars (2015) - Sphere / Ocentric"
        assert "+R=3396190" in crs.toProj()
        ellipsoid = QgsEllipsoidUtils.ellipsoidParameters(crs.ellipsoidAcronym())
        assert ellipsoid.valid
        assert (ellipsoid.semiMajor, ellipsoid.semiMinor) == (MARS_RADIUS_M, MARS_RADIUS_M)
    finally:
        del layer


def test_fields_and_values(qgis_app, gpkg):
    from qgis.core import QgsWkbTypes

    layer = open_layer(gpkg, "craters")
    try:
        assert layer.featureCount() == len(CRATERS)
        assert layer.wkbType() == QgsWkbTypes.MultiPolygon
        names = layer.fields().names()
        assert names[:1] == ["fid"]  # the GeoPackage key, then geocore's fields
        assert names[1:] == ["lon", "lat", "diameter_km", "confidence", "source"]
        features = list(layer.getFeatures())
        assert [f["source"] for f in features] == [c[4] for c in CRATERS]
        for name, i in (("lat", 1), ("diameter_km", 2), ("confidence", 3)):
            assert [f[name] for f in features] == pytest.approx([c[i] for c in CRATERS])
        # longitudes come back in -180..180
        assert [f["lon"] for f in features] == pytest.approx([137.4, 179.8, -160.0, 45.0])
    finally:
        del layer


def test_areas_measured_by_qgis_give_the_diameters(qgis_app, gpkg):
    layer = open_layer(gpkg, "craters")
    try:
        da = distance_area(layer.crs())
        assert da.willUseEllipsoid()
        for feature in layer.getFeatures():
            geometry = feature.geometry()
            assert geometry.isGeosValid(), feature["source"]
            box = geometry.boundingBox()
            assert -180 <= box.xMinimum() and box.xMaximum() <= 180
            measured = diameter_from_area_km(da.measureArea(geometry))
            assert measured == pytest.approx(feature["diameter_km"], rel=0.005), feature["source"]
        parts = {f["source"]: f.geometry().constGet().numGeometries() for f in layer.getFeatures()}
        assert parts == {"gale": 1, "across_180": 2, "north_80": 1, "south_pole": 1}
    finally:
        del layer


def test_points_layer_in_the_same_file(qgis_app, gpkg):
    layer = open_layer(gpkg, "crater_centres")
    try:
        assert layer.isValid() and layer.crs().isValid()
        assert layer.featureCount() == len(CRATERS)
        points = [f.geometry().asPoint() for f in layer.getFeatures()]
        assert [p.x() for p in points] == pytest.approx([137.4, 179.8, -160.0, 45.0])
        assert [p.y() for p in points] == pytest.approx([c[1] for c in CRATERS])
    finally:
        del layer


def test_geometry_module_builds_the_same_areas_inside_qgis(qgis_app):
    # What the plugin does: geocore.geometry (numpy 1.24) -> QgsGeometry.
    from qgis.core import QgsCoordinateReferenceSystem, QgsGeometry, QgsPointXY

    from geocore.geometry import crater_polygons

    crs = QgsCoordinateReferenceSystem.fromProj("+proj=longlat +R=3396190 +no_defs +type=crs")
    assert crs.isValid()
    da = distance_area(crs)
    lon, lat, diameter = (list(col) for col in zip(*(c[:3] for c in CRATERS), strict=True))
    for parts, d_km in zip(crater_polygons(lon, lat, diameter), diameter, strict=True):
        geometry = QgsGeometry.fromMultiPolygonXY(
            [[[QgsPointXY(float(x), float(y)) for x, y in ring]] for ring in parts]
        )
        assert geometry.isGeosValid()
        measured = diameter_from_area_km(da.measureArea(geometry))
        assert measured == pytest.approx(d_km, rel=0.005)
