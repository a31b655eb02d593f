"""The plugin's toolbar button, dialog, background task and export, in real QGIS 3.22.

QGIS runs headless (pytest-qgis, offscreen) with its stub interface: the message
bar records the messages pushed to it, and menu calls are recorded as mocks.
The detection runs with the tiny "oracle" model on the synthetic Mars GeoTIFF
of conftest.py, whose craters are known.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.qgis

MARS_RADIUS_M = 3_396_190.0


# ----------------------------------------------------------------- helpers
def process_events_until(condition, timeout_s: float = 60.0) -> bool:
    """Run the Qt event loop until ``condition()`` is true (False on timeout)."""
    from qgis.core import QgsApplication

    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        QgsApplication.processEvents()
        time.sleep(0.005)
    return True


def watch(task) -> list[str]:
    """A list that receives "completed" or "terminated" when the task ends."""
    ends: list[str] = []
    task.taskCompleted.connect(lambda: ends.append("completed"))
    task.taskTerminated.connect(lambda: ends.append("terminated"))
    return ends


def messages(iface, level) -> list[str]:
    return list(iface.messageBar().get_messages(level))


def flush_deletes() -> None:
    from qgis.PyQt.QtCore import QCoreApplication, QEvent

    QCoreApplication.sendPostedEvents(None, QEvent.DeferredDelete)


def write_raster(path: Path, width: int, height: int, bands: int, wkt: str, pixel: float) -> Path:
    """A random 8-bit GeoTIFF written with QGIS's GDAL (north-up, top-left at 0, 0)."""
    from osgeo import gdal

    dataset = gdal.GetDriverByName("GTiff").Create(str(path), width, height, bands, gdal.GDT_Byte)
    dataset.SetGeoTransform((0.0, pixel, 0.0, 0.0, 0.0, -pixel))
    dataset.SetProjection(wkt)
    rng = np.random.default_rng(0)
    for band in range(1, bands + 1):
        data = rng.integers(1, 256, (height, width), dtype=np.uint8)
        dataset.GetRasterBand(band).WriteArray(data)
    dataset.FlushCache()
    dataset = None
    return path


def match_truth(layer, truth, tol_km: float = 3.0):
    """For each true crater, the closest found one: (distance_km, diameter error ratio)."""
    found = [(f["lon"], f["lat"], f["diameter_km"]) for f in layer.getFeatures()]
    km_per_deg = MARS_RADIUS_M * math.pi / 180 / 1000
    pairs = []
    for lon, lat, diameter in truth:
        best = min(
            found,
            key=lambda c: math.hypot((c[0] - lon) * math.cos(math.radians(lat)), c[1] - lat),
        )
        distance = km_per_deg * math.hypot(
            (best[0] - lon) * math.cos(math.radians(lat)), best[1] - lat
        )
        pairs.append((distance, abs(best[2] - diameter) / diameter))
    return pairs


# ----------------------------------------------------------------- fixtures
@pytest.fixture(autouse=True)
def clean_settings(qgis_app):
    """The dialogs remember choices in QgsSettings: start every test without them."""
    from qgis.core import QgsSettings

    QgsSettings().remove("CraterDetect")
    yield
    QgsSettings().remove("CraterDetect")


@pytest.fixture
def plugin(qgis_iface, qgis_new_project):
    from crater_qgis_plugin import classFactory

    instance = classFactory(qgis_iface)
    instance.initGui()
    yield instance
    instance.unload()
    qgis_new_project.removeAllMapLayers()


@pytest.fixture
def mars_layer(qgis_iface, qgis_new_project, mars_geotiff):
    from qgis.core import QgsRasterLayer

    layer = QgsRasterLayer(str(mars_geotiff.path), "mars_eqc")
    assert layer.isValid()
    qgis_new_project.addMapLayer(layer)
    qgis_iface.setActiveLayer(layer)
    yield layer
    qgis_new_project.removeAllMapLayers()


@pytest.fixture
def crater_layer(qgis_new_project):
    """A crater layer made the plugin's way, with three craters."""
    from crater_qgis_plugin.crater_layers import crater_polygon_layer
    from geocore.crater import CraterCatalog

    catalog = CraterCatalog(
        np.array([100.6, 101.7, 179.9]),
        np.array([-7.6, -7.5, 10.0]),
        np.array([20.0, 12.0, 30.0]),
        confidence=np.array([0.9, 0.6, 0.75]),
    )
    layer = crater_polygon_layer(catalog, None, "craters", "oracle.onnx")
    qgis_new_project.addMapLayer(layer)
    yield layer
    qgis_new_project.removeAllMapLayers()


def make_job(layer, model_path, **changes):
    from crater_qgis_plugin.detection_run import DetectionRequest
    from crater_qgis_plugin.dialog import DetectionJob

    request = DetectionRequest(
        model_path=str(model_path),
        min_diameter_km=4.0,
        max_diameter_km=40.0,
        block_px=changes.pop("block_px", 2048),
    )
    values = {"layer": layer, "band": 1, "assume_mars": False, "extent": None, "request": request}
    values.update(changes)
    return DetectionJob(**values)


# ------------------------------------------------------------ load / unload
def test_load_adds_actions_menu_toolbar_and_provider_and_unload_removes_them(
    qgis_iface, qgis_new_project
):
    from qgis.core import QgsApplication
    from qgis.PyQt.QtWidgets import QToolBar

    from crater_qgis_plugin import classFactory
    from crater_qgis_plugin.plugin import MENU

    registry = QgsApplication.processingRegistry()
    receivers = qgis_iface.receivers(qgis_iface.currentLayerChanged)
    plugin = classFactory(qgis_iface)
    plugin.initGui()
    detect, export = plugin.detect_action, plugin.export_action
    assert registry.providerById("craterdetect") is not None
    assert [a.text() for a in plugin.toolbar.actions()] == [
        "Detect craters…",
        "Export craters as GeoPackage…",
    ]
    menu_calls = qgis_iface.addPluginToRasterMenu.call_args_list
    assert [c.args for c in menu_calls[-2:]] == [(MENU, detect), (MENU, export)]
    assert qgis_iface.receivers(qgis_iface.currentLayerChanged) == receivers + 1

    plugin.unload()
    flush_deletes()
    assert registry.providerById("craterdetect") is None
    removed = [c.args for c in qgis_iface.removePluginRasterMenu.call_args_list[-2:]]
    assert removed == [(MENU, detect), (MENU, export)]
    toolbars = qgis_iface.mainWindow().findChildren(QToolBar, "craterDetectToolbar")
    assert toolbars == []
    assert qgis_iface.receivers(qgis_iface.currentLayerChanged) == receivers
    plugin.unload()  # a second unload (QGIS reloading a plugin) is harmless


def test_headless_load_registers_processing_only(qgis_app):
    from qgis.core import QgsApplication

    from crater_qgis_plugin import classFactory

    # qgis_process and scripts start the plugin without an interface or initGui
    plugin = classFactory(None)
    plugin.initProcessing()
    registry = QgsApplication.processingRegistry()
    assert registry.providerById("craterdetect") is plugin.provider
    plugin.unload()
    assert registry.providerById("craterdetect") is None


def test_export_without_a_crater_layer_says_what_to_do(plugin, qgis_iface, mars_layer):
    from qgis.core import Qgis

    plugin.export_action.trigger()
    (shown,) = messages(qgis_iface, Qgis.Critical)
    assert "no crater layer" in shown and "run Detect craters first" in shown


def test_detect_action_is_enabled_only_for_a_raster(plugin, qgis_iface, mars_layer):
    from qgis.core import QgsProject, QgsVectorLayer

    vector = QgsVectorLayer("Point", "points", "memory")
    QgsProject.instance().addMapLayer(vector)
    for layer, enabled in ((mars_layer, True), (vector, False), (mars_layer, True)):
        qgis_iface.setActiveLayer(layer)
        qgis_iface.currentLayerChanged.emit(qgis_iface.mapCanvas())
        assert plugin.detect_action.isEnabled() is enabled
    # real QGIS passes the new layer with the signal
    plugin.update_actions(vector)
    assert not plugin.detect_action.isEnabled()
    plugin.update_actions(mars_layer)
    assert plugin.detect_action.isEnabled()
    qgis_iface._active_layer_id = None  # no active layer at all
    qgis_iface.currentLayerChanged.emit(qgis_iface.mapCanvas())
    assert not plugin.detect_action.isEnabled()


def test_button_without_onnxruntime_names_the_install_command(plugin, qgis_iface, monkeypatch):
    from qgis.core import Qgis

    from crater_qgis_plugin import dependencies, dialog

    missing = "crater detection needs the Python package onnxruntime; install it with: " + (
        dependencies.install_command()
    )
    monkeypatch.setattr(dependencies, "onnxruntime_status", lambda: (False, missing))
    monkeypatch.setattr(
        dialog.DetectCratersDialog, "exec_", lambda self: pytest.fail("no dialog expected")
    )
    plugin.detect_action.trigger()
    assert messages(qgis_iface, Qgis.Critical) == [f"Crater detection:{missing}"]
    assert "pip install" in missing


# ------------------------------------------------------------------ dialog
def _forget_last_model():
    from qgis.core import QgsSettings

    from crater_qgis_plugin import dialog

    QgsSettings().remove(dialog._SETTINGS + "model_path")


def test_dialog_defaults_to_the_active_raster_band_1_and_a_temporary_layer(
    qgis_iface, mars_layer, monkeypatch
):
    from crater_qgis_plugin.dialog import DetectCratersDialog

    _forget_last_model()
    monkeypatch.setattr("geocore.model_info.default_model_path", lambda: None)
    dialog = DetectCratersDialog(qgis_iface)
    assert dialog.layer_combo.currentLayer() is mars_layer
    assert dialog.band_combo.currentBand() == 1
    assert dialog.extent_combo.currentData() == "layer"
    assert not dialog.polygon_combo.isEnabled()
    assert dialog.device_combo.currentData() == "auto"
    assert dialog.temporary_radio.isChecked()
    assert dialog.layer_name.text() == "craters"
    assert dialog.threshold.value() == 0.0  # shown as "the model's"
    # an installation without a bundled default model: the user must choose a file
    assert not dialog.default_model_radio.isEnabled()
    assert dialog.file_model_radio.isChecked()
    assert "no bundled default model" in dialog.model_info.toPlainText()
    dialog.accept()
    assert dialog.result() != dialog.Accepted
    shown = dialog.message_bar.currentItem().text()
    assert "no model is chosen" in shown and "choose an ONNX crater model" in shown


def test_dialog_offers_the_bundled_model_first(qgis_iface, mars_layer):
    from crater_qgis_plugin.dialog import DetectCratersDialog

    _forget_last_model()
    dialog = DetectCratersDialog(qgis_iface)
    assert dialog.default_model_radio.isEnabled() and dialog.default_model_radio.isChecked()
    shown = dialog.model_info.toPlainText()
    assert "crater_default.onnx" in shown and "231.5 m/px" in shown and "Threshold: 0.6" in shown


def test_dialog_shows_the_model_metadata_and_builds_the_job(
    qgis_iface, mars_layer, tiny_model_path
):
    from crater_qgis_plugin.dialog import DetectCratersDialog

    dialog = DetectCratersDialog(qgis_iface)
    dialog.model_file.setFilePath(str(tiny_model_path))
    text = dialog.model_info.toPlainText()
    assert "oracle.onnx" in text and "ring (4 px wide)" in text
    assert "463.1 m/px" in text and "4-40 km" in text
    # the diameter range follows the model's
    assert (dialog.min_diameter.value(), dialog.max_diameter.value()) == (4.0, 40.0)
    dialog.threshold.setValue(0.35)
    dialog.device_combo.setCurrentIndex(dialog.device_combo.findData("cpu"))
    dialog.points_check.setChecked(True)
    dialog.accept()
    assert dialog.result() == dialog.Accepted
    job = dialog.job()
    assert job.layer is mars_layer and job.band == 1 and job.extent is None
    assert job.request.model_path == str(tiny_model_path)
    assert (job.request.min_diameter_km, job.request.max_diameter_km) == (4.0, 40.0)
    assert job.request.threshold == pytest.approx(0.35)
    assert job.request.device == "cpu"
    assert job.output_path is None and job.add_points
    # the model is remembered for the next time
    assert DetectCratersDialog(qgis_iface).model_path() == str(tiny_model_path)


def test_dialog_refuses_a_broken_model_file(qgis_iface, mars_layer, tmp_path):
    from crater_qgis_plugin.dialog import DetectCratersDialog

    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not a model")
    dialog = DetectCratersDialog(qgis_iface)
    dialog.model_file.setFilePath(str(bad))
    assert "cannot be used" in dialog.model_info.toPlainText()
    assert "not a readable ONNX model" in dialog.model_info.toPlainText()


def test_multiband_layer_needs_a_chosen_band(
    qgis_iface, qgis_new_project, mars_layer, tiny_model_path, tmp_path
):
    from qgis.core import QgsRasterLayer

    from crater_qgis_plugin.dialog import DetectCratersDialog
    from crater_qgis_plugin.errors import PluginInputError

    path = write_raster(tmp_path / "rgb.tif", 64, 64, 3, mars_layer.crs().toWkt(), 463.1)
    layer = QgsRasterLayer(str(path), "rgb")
    qgis_new_project.addMapLayer(layer)
    qgis_iface.setActiveLayer(layer)
    try:
        dialog = DetectCratersDialog(qgis_iface)
        assert dialog.band_combo.currentBand() == -1  # "not set": the user must choose
        with pytest.raises(PluginInputError, match="has 3 bands; choose the band"):
            dialog.build_job()
        dialog.band_combo.setBand(2)
        dialog.model_file.setFilePath(str(tiny_model_path))
        assert dialog.build_job().band == 2
    finally:
        qgis_new_project.removeAllMapLayers()


def test_dialog_refuses_an_earth_crs_until_the_user_confirms_mars(
    qgis_iface, qgis_new_project, tiny_model_path, tmp_path
):
    from qgis.core import QgsCoordinateReferenceSystem, QgsRasterLayer

    from crater_qgis_plugin.dialog import DetectCratersDialog

    wkt = QgsCoordinateReferenceSystem("EPSG:4326").toWkt()
    layer = QgsRasterLayer(str(write_raster(tmp_path / "earth.tif", 64, 64, 1, wkt, 0.01)), "e")
    qgis_new_project.addMapLayer(layer)
    qgis_iface.setActiveLayer(layer)
    try:
        dialog = DetectCratersDialog(qgis_iface)
        dialog.model_file.setFilePath(str(tiny_model_path))
        dialog.accept()
        assert dialog.result() != dialog.Accepted
        shown = dialog.message_bar.currentItem().text()
        assert "EPSG:4326" in shown and "an Earth CRS" in shown and "data are of Mars" in shown
        dialog.assume_mars_check.setChecked(True)
        dialog.accept()
        assert dialog.result() == dialog.Accepted and dialog.job().assume_mars
    finally:
        qgis_new_project.removeAllMapLayers()


def test_extent_of_the_map_view_and_of_selected_polygons(qgis_iface, mars_layer, tiny_model_path):
    from qgis.core import QgsFeature, QgsGeometry, QgsProject, QgsRectangle, QgsVectorLayer

    from crater_qgis_plugin.dialog import DetectCratersDialog
    from crater_qgis_plugin.errors import PluginInputError

    extent = mars_layer.extent()
    canvas = qgis_iface.mapCanvas()
    canvas.setDestinationCrs(mars_layer.crs())
    x0, y0 = extent.xMinimum(), extent.yMinimum()
    canvas.setExtent(QgsRectangle(x0 - 5e4, y0 - 5e4, x0 + 5e4, y0 + 5e4))
    dialog = DetectCratersDialog(qgis_iface)
    dialog.model_file.setFilePath(str(tiny_model_path))
    dialog.extent_combo.setCurrentIndex(dialog.extent_combo.findData("view"))
    job = dialog.build_job()
    view = canvas.extent()  # the canvas's shape widens the rectangle asked for
    assert view.xMinimum() < x0 and view.yMinimum() < y0
    assert job.extent.toRectF() == view.intersect(extent).toRectF()
    assert (job.extent.xMinimum(), job.extent.yMinimum()) == (x0, y0)

    polygons = QgsVectorLayer(f"Polygon?crs={mars_layer.crs().toWkt()}", "areas", "memory")
    assert polygons.isValid()
    feature = QgsFeature()
    inner = QgsRectangle(x0 + 1e4, y0 + 1e4, x0 + 3e4, y0 + 4e4)
    feature.setGeometry(QgsGeometry.fromRect(inner))
    polygons.dataProvider().addFeatures([feature])
    QgsProject.instance().addMapLayer(polygons)
    dialog.extent_combo.setCurrentIndex(dialog.extent_combo.findData("polygons"))
    dialog.polygon_combo.setLayer(polygons)
    assert dialog.polygon_combo.isEnabled()
    with pytest.raises(PluginInputError, match="no polygon is selected in layer 'areas'"):
        dialog.build_job()
    polygons.selectAll()
    job = dialog.build_job()
    assert job.extent.toRectF() == inner.toRectF()
    assert len(job.request.polygons_wkt) == 1 and job.request.polygons_wkt[0].startswith("Polygon")


def test_dialog_asks_before_replacing_a_geopackage_layer(
    qgis_iface, mars_layer, tiny_model_path, crater_layer, tmp_path, monkeypatch
):
    from qgis.PyQt.QtWidgets import QMessageBox

    from crater_qgis_plugin.dialog import DetectCratersDialog
    from crater_qgis_plugin.export import write_geopackage

    target = tmp_path / "out.gpkg"
    write_geopackage(target, [(crater_layer, "craters")])
    answers = []

    def answer(reply):
        def question(parent, title, text, *args):
            answers.append(text)
            return reply

        return question

    dialog = DetectCratersDialog(qgis_iface)
    dialog.model_file.setFilePath(str(tiny_model_path))
    dialog.gpkg_file.setFilePath(str(target))
    assert dialog.gpkg_radio.isChecked()
    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.No))
    dialog.accept()
    assert dialog.result() != dialog.Accepted and "Replace it?" in answers[-1]
    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.Yes))
    dialog.accept()
    assert dialog.result() == dialog.Accepted
    job = dialog.job()
    assert job.output_path == str(target) and job.overwrite
    # another layer name in the same file needs no question
    answers.clear()
    dialog = DetectCratersDialog(qgis_iface)
    dialog.model_file.setFilePath(str(tiny_model_path))
    dialog.gpkg_file.setFilePath(str(target))
    dialog.layer_name.setText("craters_2")
    dialog.accept()
    assert dialog.result() == dialog.Accepted and answers == []
    assert not dialog.job().overwrite


# -------------------------------------------------------------------- task
def test_task_adds_the_styled_crater_layer_in_mars_coordinates(
    plugin, qgis_iface, mars_layer, mars_geotiff, tiny_model_path
):
    from qgis.core import (
        Qgis,
        QgsGraduatedSymbolRenderer,
        QgsProject,
        QgsTask,
        QgsUnitTypes,
        QgsWkbTypes,
    )

    task = plugin.start_detection(make_job(mars_layer, tiny_model_path, add_points=True))
    assert task is not None and task.flags() & QgsTask.CanCancel
    ends = watch(task)
    assert process_events_until(lambda: ends)
    assert ends == ["completed"], (task.error, task.failure)
    assert plugin.tasks == []
    craters, centres = task.layers
    assert QgsProject.instance().mapLayersByName("craters") == [craters]
    assert QgsProject.instance().mapLayersByName("craters_centres") == [centres]
    assert craters.wkbType() == QgsWkbTypes.MultiPolygon
    assert centres.geometryType() == QgsWkbTypes.PointGeometry
    for layer in (craters, centres):
        crs = layer.crs()
        assert crs.isValid()
        assert crs.mapUnits() == QgsUnitTypes.DistanceDegrees
        assert "+R=3396190" in crs.toProj()
        assert layer.featureCount() == len(mars_geotiff.craters)
    assert isinstance(craters.renderer(), QgsGraduatedSymbolRenderer)
    assert craters.renderer().classAttribute() == "confidence"
    names = craters.fields().names()
    assert names[:5] == ["lon", "lat", "diameter_km", "confidence", "model"]
    assert {f["model"] for f in craters.getFeatures()} == {"oracle.onnx"}
    for distance_km, diameter_error in match_truth(craters, mars_geotiff.craters):
        assert distance_km < 1.5 and diameter_error < 0.1
    success = messages(qgis_iface, Qgis.Success)
    assert success and f"{len(mars_geotiff.craters)} craters found on mars_eqc" in success[-1]


def test_task_reads_its_own_copy_of_the_raster(
    plugin, qgis_iface, mars_layer, mars_geotiff, tiny_model_path
):
    from qgis.core import QgsProject

    task = plugin.start_detection(make_job(mars_layer, tiny_model_path, block_px=128))
    ends = watch(task)
    QgsProject.instance().removeMapLayer(mars_layer.id())  # the user removes the layer
    flush_deletes()
    assert process_events_until(lambda: ends) and ends == ["completed"], task.error
    (craters,) = task.layers
    assert craters.featureCount() == len(mars_geotiff.craters)


def test_task_reports_progress_per_window(qgis_iface, mars_layer, tiny_model_path):
    from crater_qgis_plugin.task import DetectCratersTask

    # run() called directly (in this thread) so that every progress signal is seen
    task = DetectCratersTask.from_job(
        make_job(mars_layer, tiny_model_path, block_px=128), qgis_iface
    )
    progress = []
    task.progressChanged.connect(progress.append)
    assert task.run(), task.error
    assert len(task.catalog) == 6
    assert len(progress) >= 9  # 9 blocks of one window or more
    assert progress == sorted(progress) and 0 < progress[0] < 20
    assert progress[-1] == pytest.approx(100.0)


def test_task_writes_the_geopackage_and_loads_it(
    plugin, qgis_iface, mars_layer, mars_geotiff, tiny_model_path, tmp_path
):
    from qgis.core import QgsProject

    target = tmp_path / "found.gpkg"
    job = make_job(mars_layer, tiny_model_path, output_path=str(target), layer_name="found")
    task = plugin.start_detection(job)
    ends = watch(task)
    assert process_events_until(lambda: ends) and ends == ["completed"], task.error
    (layer,) = QgsProject.instance().mapLayersByName("found")
    assert layer.providerType() == "ogr" and str(target) in layer.source()
    assert layer.crs().isValid() and "+R=3396190" in layer.crs().toProj()
    assert layer.featureCount() == len(mars_geotiff.craters)
    assert layer.renderer().type() == "graduatedSymbol"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["found.gpkg"]  # no temporary left


def test_cancel_stops_the_task_quickly_and_adds_nothing(
    plugin, qgis_iface, qgis_new_project, mars_layer, tiny_model_path, tmp_path
):
    from qgis.core import Qgis, QgsRasterLayer

    # a large noisy raster at the model's resolution, read in small blocks: many windows
    pixel_m = mars_layer.rasterUnitsPerPixelX()
    big = write_raster(tmp_path / "big.tif", 3000, 3000, 1, mars_layer.crs().toWkt(), pixel_m)
    layer = QgsRasterLayer(str(big), "big")
    assert layer.isValid()
    qgis_new_project.addMapLayer(layer)
    before = set(qgis_new_project.mapLayers())
    task = plugin.start_detection(make_job(layer, tiny_model_path, block_px=128))
    ends = watch(task)
    assert process_events_until(lambda: task.progress() > 0 or ends, timeout_s=30)
    assert not ends, "the task ended before it could be cancelled; make the raster larger"
    start = time.monotonic()
    task.cancel()
    assert process_events_until(lambda: ends, timeout_s=30)
    elapsed_s = time.monotonic() - start
    assert ends == ["terminated"]
    assert elapsed_s < 2.0  # about one window; generous for a shared, busy machine
    assert set(qgis_new_project.mapLayers()) == before
    assert task.error is None and task.failure is None
    assert messages(qgis_iface, Qgis.Info)[-1].endswith("cancelled; nothing was added")


# ------------------------------------------------------------------ errors
def test_earth_crs_is_refused_in_the_message_bar(
    plugin, qgis_iface, qgis_new_project, tiny_model_path, tmp_path
):
    from qgis.core import Qgis, QgsCoordinateReferenceSystem, QgsRasterLayer

    wkt = QgsCoordinateReferenceSystem("EPSG:4326").toWkt()
    path = write_raster(tmp_path / "earth.tif", 64, 64, 1, wkt, 0.01)
    layer = QgsRasterLayer(str(path), "earth")
    qgis_new_project.addMapLayer(layer)
    assert plugin.start_detection(make_job(layer, tiny_model_path)) is None
    (shown,) = messages(qgis_iface, Qgis.Critical)
    assert "Earth CRS" in shown and "data are of Mars" in shown
    assert plugin.tasks == []


def test_model_error_in_the_task_goes_to_the_message_bar(plugin, qgis_iface, mars_layer, tmp_path):
    from qgis.core import Qgis

    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not a model")
    task = plugin.start_detection(make_job(mars_layer, bad))
    ends = watch(task)
    assert process_events_until(lambda: ends) and ends == ["terminated"]
    (shown,) = messages(qgis_iface, Qgis.Critical)
    assert "not a readable ONNX model" in shown and "training.export" in shown
    assert task.layers == []


def test_unexpected_error_goes_to_the_log_not_a_traceback_dialog(
    plugin, qgis_iface, mars_layer, tiny_model_path, monkeypatch
):
    from qgis.core import Qgis, QgsApplication

    from crater_qgis_plugin import detection_run
    from crater_qgis_plugin.task import LOG_TAG

    def broken(*args, **kwargs):
        raise RuntimeError("something nobody expected")

    monkeypatch.setattr(detection_run, "run_detection", broken)
    logged = []
    log = QgsApplication.messageLog()
    log.messageReceived[str, str, Qgis.MessageLevel].connect(
        lambda text, tag, level: logged.append((tag, level, text))
    )
    task = plugin.start_detection(make_job(mars_layer, tiny_model_path))
    ends = watch(task)
    assert process_events_until(lambda: ends and logged) and ends == ["terminated"]
    tag, level, text = logged[-1]
    assert (tag, level) == (LOG_TAG, Qgis.Critical)
    assert "RuntimeError: something nobody expected" in text and "Traceback" in text
    (shown,) = messages(qgis_iface, Qgis.Critical)
    assert "Log Messages panel" in shown and "Traceback" not in shown


# ------------------------------------------------------------------ export
def test_export_round_trip_with_a_valid_mars_crs_and_a_diam_file(crater_layer, tmp_path):
    from qgis.core import QgsUnitTypes, QgsVectorLayer

    from crater_qgis_plugin.export import export_craters

    target = tmp_path / "export.gpkg"
    written = export_craters(crater_layer, target, "mars_craters", diam=True)
    assert written == [target, tmp_path / "mars_craters.diam"]
    layer = QgsVectorLayer(f"{target}|layername=mars_craters", "back", "ogr")
    try:
        assert layer.isValid()
        crs = layer.crs()
        assert crs.isValid() and crs.mapUnits() == QgsUnitTypes.DistanceDegrees
        assert "+R=3396190" in crs.toProj()
        assert layer.featureCount() == 3
        assert layer.fields().names()[1:6] == ["lon", "lat", "diameter_km", "confidence", "model"]
        rows = sorted((f["lon"], f["lat"], f["diameter_km"]) for f in layer.getFeatures())
        expected = [(100.6, -7.6, 20.0), (101.7, -7.5, 12.0), (179.9, 10.0, 30.0)]
        assert np.allclose(rows, expected)
        for back, original in zip(
            sorted(layer.getFeatures(), key=lambda f: f["lon"]),
            sorted(crater_layer.getFeatures(), key=lambda f: f["lon"]),
            strict=True,
        ):
            assert back.geometry().area() == pytest.approx(original.geometry().area(), rel=1e-9)
    finally:
        del layer
    text = (tmp_path / "mars_craters.diam").read_text()
    assert "crater = {diameter, fraction, lon, lat" in text
    assert "20.000000 1 100.600000 -7.600000" in text
    assert "30.000000 1 179.900000 10.000000" in text
    assert "estimated as the lon/lat box holding every crater rim" in text
    area = float(next(ln for ln in text.splitlines() if ln.startswith("area =")).split("=")[1])
    assert 1e5 < area < 1e8
    assert [p.name for p in sorted(tmp_path.iterdir())] == ["export.gpkg", "mars_craters.diam"]


def test_export_keeps_other_layers_and_refuses_to_overwrite_without_consent(crater_layer, tmp_path):
    from qgis.core import QgsProject, QgsVectorLayer

    from crater_qgis_plugin.crater_layers import crater_polygon_layer
    from crater_qgis_plugin.export import export_craters, geopackage_layers, write_diam_file
    from geocore.crater import CraterCatalog
    from geocore.errors import CraterValueError, OutputExistsError

    target = tmp_path / "craters.gpkg"
    export_craters(crater_layer, target, "first")
    export_craters(crater_layer, target, "second")
    assert geopackage_layers(target) == ["first", "second"]
    before = target.read_bytes()
    with pytest.raises(OutputExistsError, match=r"already has layer.*'first'"):
        export_craters(crater_layer, target, "first")
    assert target.read_bytes() == before
    # a layer of the project reads the replaced file afterwards
    opened = QgsVectorLayer(f"{target}|layername=first", "first", "ogr")
    QgsProject.instance().addMapLayer(opened)
    assert opened.featureCount() == 3
    one = crater_polygon_layer(CraterCatalog(np.array([5.0]), np.array([5.0]), np.array([9.0])))
    export_craters(one, target, "first", overwrite=True)
    assert geopackage_layers(target) == ["first", "second"]
    assert opened.featureCount() == 1
    assert [f["diameter_km"] for f in opened.getFeatures()] == [9.0]
    with pytest.raises(CraterValueError, match="area_km2 must be a positive number"):
        export_craters(crater_layer, tmp_path / "other.gpkg", "x", diam=True, area_km2=-1.0)
    assert not (tmp_path / "other.gpkg").exists()  # nothing written when one output is refused
    diam = write_diam_file(tmp_path / "c.diam", crater_layer, area_km2=1234.5)
    assert "area = 1234.500000" in diam.read_text()
    with pytest.raises(OutputExistsError, match="already exists"):
        write_diam_file(diam, crater_layer)


def test_export_dialog_asks_before_overwriting(qgis_iface, crater_layer, tmp_path, monkeypatch):
    from qgis.core import Qgis, QgsVectorLayer
    from qgis.PyQt.QtWidgets import QMessageBox

    from crater_qgis_plugin.export import ExportCratersDialog

    target = tmp_path / "dialog.gpkg"
    qgis_iface.setActiveLayer(crater_layer)
    dialog = ExportCratersDialog(qgis_iface)
    assert dialog.has_layers() and dialog.layer_combo.currentLayer() is crater_layer
    assert dialog.name_edit.text() == "craters"
    dialog.file_widget.setFilePath(str(target))
    dialog.diam_check.setChecked(True)
    dialog.accept()
    assert dialog.result() == dialog.Accepted
    assert (tmp_path / "craters.diam").is_file()
    assert "3 craters written to" in messages(qgis_iface, Qgis.Success)[-1]

    asked = []
    monkeypatch.setattr(
        QMessageBox, "question", lambda *args: asked.append(args[2]) or QMessageBox.No
    )
    stamp = target.stat().st_mtime_ns
    dialog = ExportCratersDialog(qgis_iface)
    dialog.file_widget.setFilePath(str(target))
    dialog.diam_check.setChecked(True)
    dialog.accept()
    assert dialog.result() != dialog.Accepted
    assert "layer 'craters'" in asked[-1] and "craters.diam" in asked[-1]
    assert target.stat().st_mtime_ns == stamp
    monkeypatch.setattr(QMessageBox, "question", lambda *args: QMessageBox.Yes)
    dialog.accept()
    assert dialog.result() == dialog.Accepted
    assert target.stat().st_mtime_ns != stamp
    back = QgsVectorLayer(f"{target}|layername=craters", "back", "ogr")
    assert back.isValid() and back.featureCount() == 3
    del back


def test_export_dialog_reports_problems_in_its_message_bar(qgis_iface, crater_layer, tmp_path):
    from crater_qgis_plugin.export import ExportCratersDialog

    not_gpkg = tmp_path / "notes.gpkg"
    not_gpkg.write_text("not a GeoPackage")
    dialog = ExportCratersDialog(qgis_iface)
    dialog.file_widget.setFilePath(str(not_gpkg))
    dialog.accept()
    assert dialog.result() != dialog.Accepted
    assert "is not a GeoPackage" in dialog.message_bar.currentItem().text()
    assert not_gpkg.read_text() == "not a GeoPackage"
