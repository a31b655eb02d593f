"""The plugin's bridge between QGIS layers and geocore, in real QGIS 3.22.

Layers -> grids and pixels (LayerRasterSource, check_raster_layer and its refusals),
craters -> layers (Mars CRSs valid in 3.22 and through GeoPackage, true circles,
style), and one detection run with the tiny oracle model.
"""

from __future__ import annotations

import math
import sys
import threading

import numpy as np
import pytest

pytestmark = pytest.mark.qgis

MARS_R = 3_396_190.0
KM_PER_DEG = MARS_R * math.pi / 180 / 1000


def raster_layer(path, name=None):
    from qgis.core import QgsRasterLayer

    layer = QgsRasterLayer(str(path), name or path.stem)
    assert layer.isValid(), path
    return layer


def catalog_of(rows):
    from geocore.crater import CraterCatalog

    lon, lat, diameter = (np.array(v, dtype=float) for v in zip(*rows, strict=True))
    return CraterCatalog(lon, lat, diameter, confidence=np.linspace(0.55, 0.95, len(lon)))


# ----------------------------------------------------------- layer -> grid
@pytest.mark.parametrize("fixture", ["mars_geotiff", "mars_geotiff_geographic"])
def test_grid_of_mars_layers(qgis_app, request, fixture):
    from crater_qgis_plugin.layer_source import check_raster_layer
    from geocore.projection import Equirectangular, Geographic

    raster = request.getfixturevalue(fixture)
    grid, band = check_raster_layer(raster_layer(raster.path))
    assert band == 1 and (grid.width, grid.height) == (384, 384)
    kind = Equirectangular if raster.authid.endswith("49910") else Geographic
    assert type(grid.projection) is kind
    assert grid.projection.body.radius_m == MARS_R
    # the resolution comes from the Mars sphere, not Earth (x1.88)
    assert grid.resolution_m == pytest.approx(raster.resolution_m, rel=1e-9)
    lon, lat = grid.pixel_to_lonlat(0, 0, offset="corner")
    assert (lon, lat) == (pytest.approx(100.0), pytest.approx(-7.0))


def test_earth_crs_is_refused_unless_the_user_says_mars(qgis_app, bad_rasters):
    from crater_qgis_plugin.errors import PluginInputError
    from crater_qgis_plugin.layer_source import check_raster_layer
    from geocore.errors import GeocoreError
    from geocore.projection import Geographic

    layer = raster_layer(bad_rasters["earth"])
    with pytest.raises(PluginInputError, match=r"EPSG:4326.*an Earth CRS.*data are of Mars"):
        check_raster_layer(layer)
    assert issubclass(PluginInputError, GeocoreError)
    grid, _ = check_raster_layer(layer, assume_mars=True)
    assert grid.projection == Geographic()
    assert grid.resolution_m == pytest.approx(MARS_R * math.pi / 180 / 128)
    with pytest.raises(PluginInputError, match=r"EPSG:3857.*longitude/latitude CRSs only"):
        check_raster_layer(raster_layer(bad_rasters["earth_projected"]), assume_mars=True)


def test_layer_refusals_name_problem_and_fix(qgis_app, bad_rasters):
    from crater_qgis_plugin.errors import PluginInputError
    from crater_qgis_plugin.layer_source import LayerRasterSource, check_raster_layer

    with pytest.raises(PluginInputError, match="no coordinate reference system; assign"):
        check_raster_layer(raster_layer(bad_rasters["no_crs"]))
    three = raster_layer(bad_rasters["three_bands"])
    with pytest.raises(PluginInputError, match="has 3 bands; choose the band"):
        LayerRasterSource.from_layer(three)
    with pytest.raises(PluginInputError, match=r"band 4 does not exist.*1..3"):
        check_raster_layer(three, band=4)
    assert check_raster_layer(three, band=2)[1] == 2
    with pytest.raises(PluginInputError, match=r"rotated raster.*Warp"):
        check_raster_layer(raster_layer(bad_rasters["rotated"]))
    with pytest.raises(PluginInputError, match="no raster layer"):
        check_raster_layer(None)


def test_other_crs_refusals(qgis_app):
    from qgis.core import QgsCoordinateReferenceSystem as Crs

    from crater_qgis_plugin.errors import PluginInputError
    from crater_qgis_plugin.layer_source import projection_from_qgs_crs
    from geocore.projection import Equirectangular

    assert projection_from_qgs_crs(Crs("ESRI:103885")) == Equirectangular()
    shifted = Crs.fromProj("+proj=eqc +lat_ts=10 +lon_0=180 +R=3396190 +units=m +no_defs")
    assert projection_from_qgs_crs(shifted) == Equirectangular(lon_0_deg=180.0, lat_ts_deg=10.0)
    with pytest.raises(PluginInputError, match="ellipsoidal Mars"):
        projection_from_qgs_crs(Crs("IAU_2015:49901"))
    polar = Crs.fromProj("+proj=stere +lat_0=90 +R=3396190 +units=m +no_defs")
    with pytest.raises(PluginInputError, match=r"a stere projection.*Warp"):
        projection_from_qgs_crs(polar)
    moon = Crs.fromProj("+proj=longlat +R=1737400 +no_defs")
    with pytest.raises(PluginInputError, match="not a Mars CRS"):
        projection_from_qgs_crs(moon)
    with pytest.raises(PluginInputError, match="no coordinate reference system"):
        projection_from_qgs_crs(Crs())


def test_themis_tile_image_is_placed_by_its_name(qgis_app, themis_png):
    from crater_qgis_plugin.layer_source import LayerRasterSource

    source = LayerRasterSource.from_layer(raster_layer(themis_png))
    grid = source.grid
    assert (grid.width, grid.height) == (240, 240)
    assert grid.resolution_m == pytest.approx(MARS_R * math.pi / 180 / 8)  # 32x downsampled
    lon, lat = grid.pixel_to_lonlat([0, 240], [0, 240], offset="corner")
    assert np.allclose(lon, [90, 120]) and np.allclose(lat, [0, -30])
    from osgeo import gdal

    dataset = gdal.Open(str(themis_png))
    expected = dataset.GetRasterBand(1).ReadAsArray(10, 20, 30, 40)
    assert np.array_equal(source.read(10, 20, 30, 40), expected)


# ---------------------------------------------------------- reading pixels
def test_reads_match_gdal_also_from_a_worker_thread(qgis_app, mars_geotiff):
    from osgeo import gdal
    from qgis.core import QgsRectangle

    from crater_qgis_plugin.layer_source import LayerRasterSource

    dataset = gdal.Open(str(mars_geotiff.path))
    band = dataset.GetRasterBand(1)
    layer = raster_layer(mars_geotiff.path)
    source = LayerRasterSource.from_layer(layer)
    assert source.nodata is None and source.name == layer.name()
    whole = source.read(0, 0, 384, 384)
    assert whole.dtype == np.uint8 and np.array_equal(whole, band.ReadAsArray())
    assert {0, 1, 255} >= set(np.unique(whole)) and (whole == 255).any()

    # an extent snapped outwards to whole pixels, read from another thread
    grid = source.grid
    x0, y0 = grid.pixel_to_xy(100.3, 50.6, offset="corner")
    x1, y1 = grid.pixel_to_xy(300.2, 210.0, offset="corner")
    part = LayerRasterSource.from_layer(layer, extent=QgsRectangle(x0, y1, x1, y0))
    assert (part.grid.width, part.grid.height) == (201, 160)
    assert part.grid.transform[2] == pytest.approx(grid.pixel_to_xy(100, 0, "corner")[0])
    result = {}
    del layer  # the clone outlives the layer

    def work():
        result["block"] = part.read(5, 7, 64, 32)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert np.array_equal(result["block"], band.ReadAsArray(105, 57, 64, 32))


def test_extent_outside_the_layer_is_refused(qgis_app, mars_geotiff):
    from qgis.core import QgsRectangle

    from crater_qgis_plugin.errors import PluginInputError
    from crater_qgis_plugin.layer_source import LayerRasterSource

    with pytest.raises(PluginInputError, match="does not overlap"):
        LayerRasterSource.from_layer(
            raster_layer(mars_geotiff.path), extent=QgsRectangle(0, 0, 1000, 1000)
        )


# ----------------------------------------------------------- craters -> layers
@pytest.mark.parametrize("kind", ["geographic", "equirectangular", "equirectangular0"])
def test_mars_crs_valid_and_kept_by_geopackage(qgis_app, tmp_path, kind):
    from qgis.core import QgsVectorFileWriter, QgsVectorLayer

    from crater_qgis_plugin.crater_layers import crater_polygon_layer, mars_qgs_crs
    from geocore.projection import Equirectangular, Geographic

    projection = {
        "geographic": Geographic(),
        "equirectangular": Equirectangular(lon_0_deg=90),
        "equirectangular0": Equirectangular(),  # IAU_2015:49910's definition
    }[kind]
    crs = mars_qgs_crs(projection)
    assert crs.isValid() and not crs.authid()  # an IAU id would be lost by GeoPackage
    proj = crs.toProj()
    assert "+R=3396190" in proj
    assert {"geographic": "+proj=longlat", "equirectangular": "+lon_0=90"}.get(kind, "eqc") in proj
    layer = crater_polygon_layer(catalog_of([(101.0, -8.0, 10.0)]), crs)
    path = tmp_path / "c.gpkg"
    options = QgsVectorFileWriter.SaveVectorOptions()
    options.driverName = "GPKG"
    error = QgsVectorFileWriter.writeAsVectorFormatV3(
        layer, str(path), layer.transformContext(), options
    )
    assert error[0] == QgsVectorFileWriter.NoError, error
    back = QgsVectorLayer(str(path), "back", "ogr")
    assert back.isValid() and back.featureCount() == 1
    assert back.crs().isValid(), back.crs().toWkt()
    assert back.crs().toProj() == crs.toProj()
    del back, layer


def test_crater_polygons_are_true_circles_with_fields_and_style(qgis_app):
    from qgis.core import QgsGraduatedSymbolRenderer, QgsWkbTypes

    from crater_qgis_plugin.crater_layers import (
        CRATER_FIELDS,
        crater_point_layer,
        crater_polygon_layer,
    )

    rows = [(101.0, -8.0, 10.0), (-150.0, 60.0, 30.0), (179.9, 0.0, 50.0)]
    layer = crater_polygon_layer(catalog_of(rows), name="Craters", model_name="oracle.onnx")
    assert layer.isValid() and layer.featureCount() == 3
    assert layer.geometryType() == QgsWkbTypes.PolygonGeometry
    assert [f.name() for f in layer.fields()] == [name for name, _, _ in CRATER_FIELDS]
    assert "+R=3396190" in layer.crs().toProj()
    features = list(layer.getFeatures())
    for feature, (lon, lat, diameter) in zip(features, rows, strict=True):
        assert feature["lon"] == lon and feature["lat"] == lat
        assert feature["diameter_km"] == diameter and feature["model"] == "oracle.onnx"
        box = feature.geometry().boundingBox()
        # N-S extent is the diameter; E-W is stretched by 1/cos(lat)
        assert box.height() * KM_PER_DEG == pytest.approx(diameter, rel=0.01)
        if lon < 179:
            width_km = box.width() * KM_PER_DEG * math.cos(math.radians(lat))
            assert width_km == pytest.approx(diameter, rel=0.02)
    # a crater across the antimeridian is two parts, one on each side
    assert features[2].geometry().constGet().numGeometries() == 2

    renderer = layer.renderer()
    assert isinstance(renderer, QgsGraduatedSymbolRenderer)
    assert renderer.classAttribute() == "confidence"
    colours = {r.symbol().symbolLayer(0).strokeColor().name() for r in renderer.ranges()}
    assert len(colours) == len(renderer.ranges()) >= 4
    assert all(r.symbol().symbolLayer(0).brushStyle() == 0 for r in renderer.ranges())  # no fill

    points = crater_point_layer(catalog_of(rows[:2]))
    assert points.featureCount() == 2 and points.geometryType() == QgsWkbTypes.PointGeometry
    first = next(points.getFeatures()).geometry().asPoint()
    assert (first.x(), first.y()) == (101.0, -8.0)
    del layer, points


# ------------------------------------------------------------ detection run
def found_matches_truth(catalog, truth, tol_deg=0.03, tol_diameter=0.08):
    assert len(catalog) == len(truth), (catalog, truth)
    for lon, lat, diameter in truth:
        d = np.hypot(catalog.lon_deg - lon, catalog.lat_deg - lat)
        i = int(np.argmin(d))
        assert d[i] < tol_deg, (lon, lat, catalog[i])
        assert catalog.diameter_km[i] == pytest.approx(diameter, rel=tol_diameter)


@pytest.mark.parametrize("fixture", ["mars_geotiff", "mars_geotiff_geographic"])
def test_run_detection_finds_the_drawn_craters(qgis_app, request, tiny_model_path, fixture):
    from crater_qgis_plugin.detection_run import DetectionRequest, run_detection
    from crater_qgis_plugin.layer_source import LayerRasterSource

    raster = request.getfixturevalue(fixture)
    source = LayerRasterSource.from_layer(raster_layer(raster.path))
    fractions = []
    req = DetectionRequest(str(tiny_model_path), 4.0, 40.0, device="cpu", block_px=256)
    found = run_detection(source, req, progress=fractions.append)
    found_matches_truth(found, raster.craters)
    assert fractions[-1] == pytest.approx(1.0)
    assert req.model_label == "oracle.onnx"
    # the diameter range applies: 8 and 12 km craters are left out
    found = run_detection(source, DetectionRequest(str(tiny_model_path), 14.0, 40.0))
    assert sorted(found.diameter_km.round()) == [16, 20, 28, 30]


def test_run_detection_keeps_craters_in_polygons_and_cancels(
    qgis_app, mars_geotiff, tiny_model_path
):
    from crater_qgis_plugin.detection_run import DetectionRequest, run_detection
    from crater_qgis_plugin.layer_source import LayerRasterSource
    from geocore.errors import CancelledError

    source = LayerRasterSource.from_layer(raster_layer(mars_geotiff.path))
    grid = source.grid
    # the western half of the raster, in its CRS (metres)
    x0, y0 = grid.pixel_to_xy(0, 0, offset="corner")
    x1, y1 = grid.pixel_to_xy(192, 384, offset="corner")
    wkt = f"POLYGON(({x0} {y0}, {x1} {y0}, {x1} {y1}, {x0} {y1}, {x0} {y0}))"
    req = DetectionRequest(str(tiny_model_path), 4.0, 40.0, polygons_wkt=(wkt,))
    found = run_detection(source, req)
    west = [c for c in mars_geotiff.craters if c[0] < 101.5]
    found_matches_truth(found, west)
    with pytest.raises(CancelledError):
        run_detection(source, DetectionRequest(str(tiny_model_path)), cancel=lambda: True)


def test_request_refusals(qgis_app, tmp_path):
    from crater_qgis_plugin.detection_run import DetectionRequest, describe_model, run_detection
    from crater_qgis_plugin.errors import PluginInputError
    from geocore.detection import ArraySource
    from geocore.errors import ModelError
    from geocore.grid import PixelGrid

    with pytest.raises(PluginInputError, match="smallest must be above 0 and below"):
        DetectionRequest(min_diameter_km=32, max_diameter_km=2)
    with pytest.raises(PluginInputError, match="between 0 and 1"):
        DetectionRequest(threshold=1.5)
    with pytest.raises(PluginInputError, match="device 'tpu'"):
        DetectionRequest(device="tpu")
    bad = tmp_path / "bad.onnx"
    bad.write_text("not a model")
    source = ArraySource(np.zeros((64, 64), np.uint8), PixelGrid.from_resolution(64, 64, 100.0))
    with pytest.raises(ModelError, match="not a readable ONNX model"):
        run_detection(source, DetectionRequest(str(bad)))
    with pytest.raises(ModelError, match="does not exist"):
        describe_model(tmp_path / "missing.onnx")


def test_describe_model(qgis_app, tiny_model_path):
    from crater_qgis_plugin.detection_run import describe_model

    text = describe_model(tiny_model_path)
    assert "Resolution: 463.1 m/px" in text and "Targets: ring (4 px wide)" in text
    assert "diameters: 4-40 km" in text and "Threshold: 0.5" in text


def test_missing_onnxruntime_names_the_install_command(qgis_app, monkeypatch, tiny_model_path):
    from crater_qgis_plugin.dependencies import install_command, onnxruntime_status
    from crater_qgis_plugin.detection_run import DetectionRequest, describe_model, run_detection
    from crater_qgis_plugin.errors import DependencyError
    from geocore.detection import ArraySource
    from geocore.grid import PixelGrid

    assert onnxruntime_status()[0]
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime -> ImportError
    ok, message = onnxruntime_status()
    assert not ok and "pip install --user onnxruntime" in message and "restart QGIS" in message
    assert "OSGeo4W Shell" in install_command("win32")
    assert "QGIS.app/Contents/MacOS/bin/python3" in install_command("darwin")
    source = ArraySource(np.zeros((64, 64), np.uint8), PixelGrid.from_resolution(64, 64, 100.0))
    with pytest.raises(DependencyError, match="needs the Python package onnxruntime"):
        run_detection(source, DetectionRequest(str(tiny_model_path)))
    with pytest.raises(DependencyError, match="install it with"):
        describe_model(tiny_model_path)
