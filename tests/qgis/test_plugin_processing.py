"""The ``craterdetect`` Processing algorithms, run the way users' scripts and qgis_process do.

``processing.run("craterdetect:detectcraters", ...)`` on small synthetic Mars GeoTIFFs with
the tiny oracle model must find the craters drawn on them, in a valid Mars CRS; every
refusal of the issue (Earth CRS, no CRS, multi-band without band, missing onnxruntime)
is a clear QgsProcessingException; qgis_process lists and runs the algorithm headless.
"""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.qgis

QGIS_PROCESS = "/usr/bin/qgis_process.bin"
MARS_R = 3_396_190.0


@pytest.fixture(scope="module")
def provider(qgis_processing):
    from qgis.core import QgsApplication

    from crater_qgis_plugin.processing.provider import CraterDetectProvider

    registry = QgsApplication.processingRegistry()
    existing = registry.providerById("craterdetect")
    if existing is not None:  # e.g. left by a plugin loaded in another test
        registry.removeProvider(existing)
    provider = CraterDetectProvider()
    assert registry.addProvider(provider)
    yield provider
    registry.removeProvider(provider)


def run(algorithm, **params):
    """``processing.run`` as a user's script calls it; a refusal raises QgsProcessingException
    whose message is the algorithm's own (processing.run reports it to the feedback and raises
    a generic one)."""
    import processing
    from qgis.core import QgsProcessingContext, QgsProcessingException, QgsProcessingFeedback

    class Feedback(QgsProcessingFeedback):
        def __init__(self):
            super().__init__()
            self.errors = []

        def reportError(self, error, fatalError=False):  # QGIS names it so
            self.errors.append(error)
            super().reportError(error, fatalError)

    context = QgsProcessingContext()
    feedback = Feedback()
    try:
        result = processing.run(
            f"craterdetect:{algorithm}", params, context=context, feedback=feedback
        )
    except QgsProcessingException as err:
        raise QgsProcessingException(" | ".join([*feedback.errors, str(err)])) from err
    return result, context


def result_layer(result, context, name="OUTPUT"):
    layer = result[name]
    return context.takeResultLayer(layer) if isinstance(layer, str) else layer


def detect(raster, model, **params):
    params = {
        "INPUT": str(raster),
        "MODEL": str(model),
        "MIN_DIAMETER_KM": 4.0,
        "MAX_DIAMETER_KM": 40.0,
        "OUTPUT": "memory:craters",
        **params,
    }
    result, context = run("detectcraters", **params)
    return result, result_layer(result, context)


def assert_craters_found(layer, truth, tol_deg=0.03, tol_diameter=0.08):
    features = list(layer.getFeatures())
    assert len(features) == len(truth)
    lon = np.array([f["lon"] for f in features])
    lat = np.array([f["lat"] for f in features])
    diameter = np.array([f["diameter_km"] for f in features])
    for t_lon, t_lat, t_diameter in truth:
        d = np.hypot(lon - t_lon, lat - t_lat)
        i = int(np.argmin(d))
        assert d[i] < tol_deg, (t_lon, t_lat)
        assert diameter[i] == pytest.approx(t_diameter, rel=tol_diameter)
        centre = features[i].geometry().centroid().asPoint()
        assert (centre.x(), centre.y()) == (
            pytest.approx(lon[i], abs=0.01),
            pytest.approx(lat[i], abs=0.01),
        )
    assert all(0.5 <= f["confidence"] <= 1 and f["model"] == "oracle.onnx" for f in features)


def assert_mars_crs(crs):
    assert crs.isValid(), crs.toWkt()
    assert "+R=3396190" in crs.toProj() and "+proj=longlat" in crs.toProj()


# ------------------------------------------------------------------ provider
def test_provider_lists_three_algorithms(provider):
    ids = sorted(a.id() for a in provider.algorithms())
    assert ids == [
        "craterdetect:detectcraters",
        "craterdetect:evaluatecraters",
        "craterdetect:georeferencethemis",
    ]
    detect_alg = provider.algorithm("detectcraters")
    names = [p.name() for p in detect_alg.parameterDefinitions()]
    for name in ("INPUT", "BAND", "ASSUME_MARS", "MODEL", "MIN_DIAMETER_KM", "MAX_DIAMETER_KM",
                 "THRESHOLD", "EXTENT", "POLYGONS", "DEVICE", "OUTPUT"):  # fmt: skip
        assert name in names
    assert "Earth" in detect_alg.shortHelpString()


# ------------------------------------------------------------------ detection
def test_detectcraters_runs_inside_a_graphical_model(provider, tiny_model_path, mars_geotiff):
    """A Processing model (as built in the Model Designer) with the algorithm as its one step."""
    import processing
    from qgis.core import (
        QgsProcessingContext,
        QgsProcessingFeedback,
        QgsProcessingModelAlgorithm,
        QgsProcessingModelChildAlgorithm,
        QgsProcessingModelChildParameterSource,
        QgsProcessingModelOutput,
        QgsProcessingModelParameter,
        QgsProcessingParameterRasterLayer,
    )

    model = QgsProcessingModelAlgorithm("Mars craters", "tests")
    model.addModelParameter(
        QgsProcessingParameterRasterLayer("raster", "Mars raster"),
        QgsProcessingModelParameter("raster"),
    )
    step = QgsProcessingModelChildAlgorithm("craterdetect:detectcraters")
    step.setChildId("detect")
    source = QgsProcessingModelChildParameterSource
    step.addParameterSources("INPUT", [source.fromModelParameter("raster")])
    # the values the Model Designer's form fills in (the algorithm's defaults, and our choices)
    defaults = {p.name(): p.defaultValue() for p in provider.algorithm("detectcraters")
                .parameterDefinitions()}  # fmt: skip
    static = {**defaults, "MODEL": str(tiny_model_path), "MIN_DIAMETER_KM": 4.0,
              "MAX_DIAMETER_KM": 40.0}  # fmt: skip
    for name, value in static.items():
        if name not in ("INPUT", "OUTPUT") and value is not None:
            step.addParameterSources(name, [source.fromStaticValue(value)])
    output = QgsProcessingModelOutput("craters")
    output.setChildId("detect")
    output.setChildOutputName("OUTPUT")
    step.setModelOutputs({"craters": output})
    model.addChildAlgorithm(step)
    assert model.validate()[0], model.validate()[1]

    context = QgsProcessingContext()
    result = processing.run(
        model, {"raster": str(mars_geotiff.path), "detect:craters": "TEMPORARY_OUTPUT"},
        context=context, feedback=QgsProcessingFeedback(),
    )  # fmt: skip
    layer = result_layer(result, context, "detect:craters")
    assert_craters_found(layer, mars_geotiff.craters)
    assert_mars_crs(layer.crs())


@pytest.mark.parametrize("fixture", ["mars_geotiff", "mars_geotiff_geographic"])
def test_detectcraters_finds_the_known_craters(provider, request, tiny_model_path, fixture):
    raster = request.getfixturevalue(fixture)
    result, layer = detect(raster.path, tiny_model_path)
    assert result["CRATER_COUNT"] == 6
    assert_craters_found(layer, raster.craters)
    assert_mars_crs(layer.crs())


def test_detectcraters_into_geopackage_with_centres(
    provider, tmp_path, mars_geotiff, tiny_model_path
):
    from qgis.core import QgsVectorLayer, QgsWkbTypes

    gpkg = tmp_path / "craters.gpkg"
    centres = tmp_path / "centres.gpkg"
    result, _ = detect(
        mars_geotiff.path, tiny_model_path, OUTPUT=str(gpkg), CENTRES=str(centres), DEVICE=1
    )
    assert result["OUTPUT"] == str(gpkg)
    back = QgsVectorLayer(str(gpkg), "back", "ogr")
    points = QgsVectorLayer(str(centres), "points", "ogr")
    try:
        assert back.isValid() and back.geometryType() == QgsWkbTypes.PolygonGeometry
        assert_mars_crs(back.crs())
        assert_craters_found(back, mars_geotiff.craters)
        assert points.featureCount() == 6 and points.geometryType() == QgsWkbTypes.PointGeometry
        assert_mars_crs(points.crs())
    finally:
        del back, points


def test_detectcraters_diameter_range_threshold_extent_and_polygons(
    provider, mars_geotiff, tiny_model_path
):
    from qgis.core import QgsFeature, QgsGeometry, QgsVectorLayer

    _, layer = detect(mars_geotiff.path, tiny_model_path, MIN_DIAMETER_KM=14.0, THRESHOLD=0.6)
    assert sorted(round(f["diameter_km"]) for f in layer.getFeatures()) == [16, 20, 28, 30]

    # the northern half (lat -8.5..-7) as an extent in the raster's CRS (metres)
    m_per_deg = MARS_R * math.pi / 180
    extent = f"{100 * m_per_deg},{103 * m_per_deg},{-8.5 * m_per_deg},{-7 * m_per_deg}"
    _, layer = detect(mars_geotiff.path, tiny_model_path, EXTENT=extent + " [IAU_2015:49910]")
    north = [c for c in mars_geotiff.craters if c[1] > -8.5]
    assert_craters_found(layer, north)

    # polygons in lon/lat (another CRS than the raster's): the eastern third
    polygons = QgsVectorLayer("Polygon?crs=IAU_2015:49900", "area", "memory")
    feature = QgsFeature()
    feature.setGeometry(QgsGeometry.fromWkt("POLYGON((102 -7, 103 -7, 103 -10, 102 -10, 102 -7))"))
    polygons.dataProvider().addFeatures([feature])
    _, layer = detect(mars_geotiff.path, tiny_model_path, POLYGONS=polygons)
    east = [c for c in mars_geotiff.craters if c[0] > 102]
    assert_craters_found(layer, east)


# ------------------------------------------------------------------ refusals
def test_earth_crs_refused_unless_assume_mars(provider, bad_rasters, tiny_model_path, mars_geotiff):
    from qgis.core import QgsProcessingException

    with pytest.raises(QgsProcessingException, match=r"EPSG:4326.*an Earth CRS.*ASSUME_MARS"):
        detect(bad_rasters["earth"], tiny_model_path)
    _, layer = detect(bad_rasters["earth"], tiny_model_path, ASSUME_MARS=True)
    assert_craters_found(layer, mars_geotiff.craters)
    assert_mars_crs(layer.crs())  # the craters are on Mars, whatever the raster's label said


def test_no_crs_and_multiband_refused(provider, bad_rasters, tiny_model_path, mars_geotiff):
    from qgis.core import QgsProcessingException

    with pytest.raises(QgsProcessingException, match="no coordinate reference system"):
        detect(bad_rasters["no_crs"], tiny_model_path)
    with pytest.raises(QgsProcessingException, match="has 3 bands; choose the band"):
        detect(bad_rasters["three_bands"], tiny_model_path)
    result, _ = detect(bad_rasters["three_bands"], tiny_model_path, BAND=2)
    assert result["CRATER_COUNT"] == 6


def test_missing_onnxruntime_refused_with_install_command(
    provider, monkeypatch, mars_geotiff, tiny_model_path
):
    from qgis.core import QgsProcessingException

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime -> ImportError
    with pytest.raises(QgsProcessingException, match="needs the Python package onnxruntime"):
        detect(mars_geotiff.path, tiny_model_path)


def test_missing_model_refused(provider, tmp_path, mars_geotiff):
    from qgis.core import QgsProcessingException

    from geocore.model_info import default_model_path

    with pytest.raises(QgsProcessingException, match="does not exist"):
        detect(mars_geotiff.path, tmp_path / "missing.onnx")
    if default_model_path() is None:
        with pytest.raises(QgsProcessingException, match="no bundled default model"):
            detect(mars_geotiff.path, "")


# --------------------------------------------------------- georeferencethemis
def test_georeferencethemis_writes_a_mars_geotiff(provider, tmp_path, themis_png):
    from osgeo import gdal
    from qgis.core import QgsRasterLayer

    out = tmp_path / "tile.tif"
    result, _ = run("georeferencethemis", INPUT=str(themis_png), OUTPUT=str(out))
    assert result["OUTPUT"] == str(out)
    layer = QgsRasterLayer(str(out), "tile")
    try:
        assert layer.isValid() and layer.crs().isValid()
        assert "+proj=eqc" in layer.crs().toProj() and "+R=3396190" in layer.crs().toProj()
        m_per_deg = MARS_R * math.pi / 180
        extent = layer.extent()
        assert extent.xMinimum() == pytest.approx(90 * m_per_deg)
        assert extent.xMaximum() == pytest.approx(120 * m_per_deg)
        assert extent.yMinimum() == pytest.approx(-30 * m_per_deg)
        assert extent.yMaximum() == pytest.approx(0.0, abs=1e-6)
        assert layer.dataProvider().sourceNoDataValue(1) == 0
    finally:
        del layer
    source, copy = gdal.Open(str(themis_png)), gdal.Open(str(out))
    assert np.array_equal(source.ReadAsArray(), copy.ReadAsArray())
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_georeferencethemis_refuses_unknown_names(provider, tmp_path, themis_png):
    import shutil

    from qgis.core import QgsProcessingException

    renamed = tmp_path / "my_tile.png"
    shutil.copy(themis_png, renamed)
    with pytest.raises(QgsProcessingException, match="cannot tell the THEMIS tile"):
        run("georeferencethemis", INPUT=str(renamed), OUTPUT=str(tmp_path / "x.tif"))
    run(
        "georeferencethemis",
        INPUT=str(renamed),
        TILE="thm_dir_N00_300",
        OUTPUT=str(tmp_path / "y.tif"),
    )
    assert (tmp_path / "y.tif").exists()
    assert not (tmp_path / "x.tif").exists()


# ------------------------------------------------------------ evaluatecraters
def truth_layer(raster, drop=0, crs="IAU_2015:49910"):
    """The truth as a point layer in the raster's CRS, without lon/lat fields."""
    from qgis.core import QgsFeature, QgsField, QgsGeometry, QgsPointXY, QgsVectorLayer
    from qgis.PyQt.QtCore import QVariant

    layer = QgsVectorLayer(f"Point?crs={crs}", "truth", "memory")
    layer.dataProvider().addAttributes([QgsField("Diam_km", QVariant.Double)])
    layer.updateFields()
    m_per_deg = MARS_R * math.pi / 180
    features = []
    with open(raster.truth_csv, newline="") as handle:
        for row in list(csv.DictReader(handle))[drop:]:
            feature = QgsFeature(layer.fields())
            x, y = float(row["lon"]) * m_per_deg, float(row["lat"]) * m_per_deg
            feature.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(x, y)))
            feature.setAttributes([float(row["diameter_km"])])
            features.append(feature)
    layer.dataProvider().addFeatures(features)
    return layer


def test_evaluatecraters_scores_detection_against_catalogue(
    provider, mars_geotiff, tiny_model_path
):
    _, craters = detect(mars_geotiff.path, tiny_model_path)
    result, context = run(
        "evaluatecraters", INPUT=craters, CATALOGUE=truth_layer(mars_geotiff), OUTPUT="memory:"
    )
    assert (result["PRECISION"], result["RECALL"], result["F1"]) == (1.0, 1.0, 1.0)
    table = result_layer(result, context)
    rows = {f["bin"]: f for f in table.getFeatures()}
    assert list(rows) == ["all", "2-4 km", "4-8 km", "8-16 km", "16-32 km"]
    assert rows["all"]["tp_reference"] == 6 and rows["all"]["false_positives"] == 0
    assert rows["16-32 km"]["tp_reference"] == 4  # 16, 20, 28, 30 km
    assert rows["all"]["median_diameter_error"] < 0.08
    assert not table.isSpatial()

    # a catalogue missing two craters: two false positives
    result, _ = run(
        "evaluatecraters",
        INPUT=craters,
        CATALOGUE=truth_layer(mars_geotiff, drop=2),
        OUTPUT="memory:",
    )
    assert result["PRECISION"] == pytest.approx(4 / 6) and result["RECALL"] == 1.0


def test_evaluatecraters_refusals(provider, mars_geotiff, tiny_model_path):
    from qgis.core import QgsProcessingException

    _, craters = detect(mars_geotiff.path, tiny_model_path)
    earth = truth_layer(mars_geotiff, crs="EPSG:3857")
    with pytest.raises(QgsProcessingException, match="catalogue layer is in EPSG:3857"):
        run("evaluatecraters", INPUT=craters, CATALOGUE=earth, OUTPUT="memory:")
    with pytest.raises(QgsProcessingException, match="has no field 'nope'"):
        run(
            "evaluatecraters",
            INPUT=craters,
            CATALOGUE=truth_layer(mars_geotiff),
            CATALOGUE_DIAMETER_FIELD="nope",
            OUTPUT="memory:",
        )


# ----------------------------------------------------------------- qgis_process
def qgis_process(env, *args, timeout=180):
    return subprocess.run(
        [QGIS_PROCESS, *args], env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def enabled_env(qgis_process_env):
    proc = qgis_process(qgis_process_env, "plugins", "enable", "crater_qgis_plugin")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return qgis_process_env


def test_qgis_process_lists_and_runs_detectcraters(
    enabled_env, tmp_path, mars_geotiff, tiny_model_path
):
    from qgis.core import QgsVectorLayer

    listing = qgis_process(enabled_env, "list")
    assert listing.returncode == 0, listing.stderr
    for alg in ("detectcraters", "georeferencethemis", "evaluatecraters"):
        assert f"craterdetect:{alg}" in listing.stdout

    out = tmp_path / "craters.gpkg"
    proc = qgis_process(
        enabled_env, "--json", "run", "craterdetect:detectcraters", "--",
        f"INPUT={mars_geotiff.path}", f"MODEL={tiny_model_path}", "MIN_DIAMETER_KM=4",
        "MAX_DIAMETER_KM=40", f"OUTPUT={out}",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    answer = json.loads(proc.stdout)
    assert answer["results"]["CRATER_COUNT"] == 6
    assert any("6 craters found" in line for line in answer["log"]["info"])
    layer = QgsVectorLayer(str(out), "craters", "ogr")
    try:
        assert_mars_crs(layer.crs())
        assert_craters_found(layer, mars_geotiff.craters)
    finally:
        del layer


def test_qgis_process_refuses_an_earth_crs(enabled_env, tmp_path, bad_rasters, tiny_model_path):
    out = tmp_path / "craters.gpkg"
    proc = qgis_process(
        enabled_env, "run", "craterdetect:detectcraters", "--", f"INPUT={bad_rasters['earth']}",
        f"MODEL={tiny_model_path}", f"OUTPUT={out}",
    )  # fmt: skip
    assert proc.returncode != 0
    assert "an Earth CRS" in proc.stdout + proc.stderr
    assert not out.exists()
