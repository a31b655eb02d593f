"""Make the plugin's screenshots, headless: docs/img/dialog.png and docs/img/result.png.

Run from the repository root with QGIS's Python (``make qgis-venv`` first)::

    QT_QPA_PLATFORM=offscreen PYTHONPATH=. .venv-qgis/bin/python docs/make_screenshots.py

The synthetic Mars GeoTIFF (ring targets drawn at six known craters, in
IAU_2015:49910) and the tiny "oracle" ONNX model are the QGIS tests' own
(tests/qgis/conftest.py), made with the project's main environment (``.venv``).
The dialog is shown with that model chosen; the result is what the plugin's
task adds for that raster, drawn over it by QGIS's map renderer.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "img"


def make_test_data(folder: Path) -> None:
    """The synthetic raster and tiny model of the QGIS tests, written into ``folder``."""
    sys.path.insert(0, str(ROOT / "tests" / "qgis"))
    from conftest import PLUGIN_DATA_SCRIPT

    python = os.environ.get("GEOCORE_PYTHON", str(ROOT / ".venv" / "bin" / "python"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run([python, "-c", PLUGIN_DATA_SCRIPT, str(folder)], cwd=ROOT, env=env, check=True)


class _Iface:
    """The two things the dialog asks of QGIS's interface."""

    def __init__(self, layer, canvas) -> None:
        self._layer, self._canvas = layer, canvas

    def activeLayer(self):
        return self._layer

    def mapCanvas(self):
        return self._canvas


def save_image(image, path: Path) -> None:
    """Save a QImage/QPixmap through a temporary file."""
    from geocore.atomic import atomic_output

    with atomic_output(path, overwrite=True) as tmp:
        if not image.save(str(tmp), "PNG"):
            raise OSError(f"could not write {tmp}")
    print(f"wrote {path.relative_to(ROOT)} ({image.width()} x {image.height()} px)")


def dialog_screenshot(layer, model: Path) -> None:
    """docs/img/dialog.png: the dialog on ``layer`` with ``model`` chosen."""
    from qgis.gui import QgsMapCanvas

    from crater_qgis_plugin.dialog import DetectCratersDialog

    canvas = QgsMapCanvas()
    dialog = DetectCratersDialog(_Iface(layer, canvas))
    dialog.model_file.setFilePath(str(model))
    dialog.points_check.setChecked(True)
    dialog.resize(620, dialog.sizeHint().height())
    dialog.show()
    save_image(dialog.grab(), OUT / "dialog.png")
    dialog.close()


def result_screenshot(layer, model: Path) -> int:
    """docs/img/result.png: the craters the plugin finds on ``layer``, drawn over it."""
    from qgis.core import QgsMapRendererParallelJob, QgsMapSettings, QgsProject
    from qgis.PyQt.QtCore import QSize
    from qgis.PyQt.QtGui import QColor

    from crater_qgis_plugin.crater_layers import crater_point_layer, crater_polygon_layer
    from crater_qgis_plugin.detection_run import DetectionRequest, run_detection
    from crater_qgis_plugin.layer_source import LayerRasterSource

    request = DetectionRequest(model_path=str(model), min_diameter_km=4.0, max_diameter_km=40.0)
    source = LayerRasterSource.from_layer(layer)
    catalog = run_detection(source, request)
    craters = crater_polygon_layer(catalog, source.grid, "craters", request.model_label)
    centres = crater_point_layer(catalog, source.grid, "craters_centres", request.model_label)
    QgsProject.instance().addMapLayers([craters, centres])
    layer.renderer().setOpacity(0.45)  # a lighter image, so the outlines stand out
    settings = QgsMapSettings()
    settings.setLayers([centres, craters, layer])
    settings.setOutputDpi(120)
    settings.setDestinationCrs(layer.crs())
    settings.setExtent(layer.extent().buffered(layer.extent().width() * 0.02))
    settings.setOutputSize(QSize(720, 720))
    settings.setBackgroundColor(QColor("white"))
    settings.setTransformContext(QgsProject.instance().transformContext())
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    save_image(job.renderedImage(), OUT / "result.png")
    return len(catalog)


def main() -> int:
    """Make both screenshots."""
    from qgis.core import QgsApplication, QgsProject, QgsRasterLayer

    app = QgsApplication([], True)
    app.initQgis()
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="crater_demo_") as folder:
        data = Path(folder)
        make_test_data(data)
        layer = QgsRasterLayer(str(data / "mars_eqc.tif"), "mars_eqc (synthetic)")
        QgsProject.instance().addMapLayer(layer)
        dialog_screenshot(layer, data / "oracle.onnx")
        found = result_screenshot(layer, data / "oracle.onnx")
        print(f"{found} craters drawn")
        QgsProject.instance().removeAllMapLayers()
    app.exitQgis()
    return 0


if __name__ == "__main__":
    sys.exit(main())
