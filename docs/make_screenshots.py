"""Make the plugin's screenshots, headless: docs/img/dialog.png and docs/img/result.png.

Run from the repository root with QGIS's Python (``make qgis-venv`` first)::

    QT_QPA_PLATFORM=offscreen PYTHONPATH=. .venv-qgis/bin/python docs/make_screenshots.py

Without arguments, the synthetic Mars GeoTIFF (ring targets drawn at six known
craters, in IAU_2015:49910) and the tiny "oracle" ONNX model are the QGIS tests'
own (tests/qgis/conftest.py), made with the project's main environment (``.venv``).
With ``--scene`` and ``--model``, the raster is a GeoTIFF such as the scene that
``python -m geocore demo`` writes, searched with that model::

    QT_QPA_PLATFORM=offscreen PYTHONPATH=. .venv-qgis/bin/python docs/make_screenshots.py \
        --scene demo_output/scene.tif --model path/to/model.onnx

The dialog is shown with the model chosen; the result is what the plugin's
detection adds for the whole raster (the code path of its toolbar task), drawn
over it by QGIS's map renderer. For a scene, the picture shows the central part
of the raster (``--crop``) at full opacity, with the crater circles only.
``--out-dir`` writes the images elsewhere than docs/img.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "img"
#: Width and height of the result picture, px.
RESULT_SIZE_PX = 800


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
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    print(f"wrote {shown} ({image.width()} x {image.height()} px)")


def dialog_screenshot(layer, model: Path, out_dir: Path = OUT):
    """``out_dir``/dialog.png: the dialog on ``layer`` with ``model`` chosen.

    Returns
    -------
    crater_qgis_plugin.dialog.DetectionJob
        What pressing Detect would start (the model's diameter range, whole layer).
    """
    from qgis.gui import QgsMapCanvas

    from crater_qgis_plugin.dialog import DetectCratersDialog

    canvas = QgsMapCanvas()
    dialog = DetectCratersDialog(_Iface(layer, canvas))
    dialog.model_file.setFilePath(str(model))
    dialog.points_check.setChecked(True)
    dialog.resize(620, dialog.sizeHint().height())
    dialog.show()
    save_image(dialog.grab(), out_dir / "dialog.png")
    job = dialog.build_job()
    dialog.close()
    return job


def _detect(layer, request):
    """The craters the plugin's task finds on the whole of ``layer``, and its grid."""
    from crater_qgis_plugin.detection_run import run_detection
    from crater_qgis_plugin.layer_source import LayerRasterSource

    source = LayerRasterSource.from_layer(layer)
    return run_detection(source, request), source.grid


def _render(layers, crs, extent, size_px: int, path: Path) -> None:
    """Draw ``layers`` (top first) over ``extent`` into a ``size_px`` wide PNG."""
    from qgis.core import QgsMapRendererParallelJob, QgsMapSettings, QgsProject
    from qgis.PyQt.QtCore import QSize
    from qgis.PyQt.QtGui import QColor

    height_px = max(1, round(size_px * extent.height() / extent.width()))
    settings = QgsMapSettings()
    settings.setLayers(layers)
    settings.setOutputDpi(120)
    settings.setDestinationCrs(crs)
    settings.setExtent(extent)
    settings.setOutputSize(QSize(size_px, height_px))
    settings.setBackgroundColor(QColor("white"))
    settings.setTransformContext(QgsProject.instance().transformContext())
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    save_image(job.renderedImage(), path)


def result_screenshot(layer, model: Path, out_dir: Path = OUT) -> int:
    """``out_dir``/result.png: the craters found on the tests' raster, drawn over it.

    Returns
    -------
    int
        The number of craters drawn (all that were found).
    """
    from qgis.core import QgsProject

    from crater_qgis_plugin.crater_layers import crater_point_layer, crater_polygon_layer
    from crater_qgis_plugin.detection_run import DetectionRequest

    request = DetectionRequest(model_path=str(model), min_diameter_km=4.0, max_diameter_km=40.0)
    catalog, grid = _detect(layer, request)
    craters = crater_polygon_layer(catalog, grid, "craters", request.model_label)
    centres = crater_point_layer(catalog, grid, "craters_centres", request.model_label)
    QgsProject.instance().addMapLayers([craters, centres])
    layer.renderer().setOpacity(0.45)  # a lighter image, so the outlines stand out
    extent = layer.extent().buffered(layer.extent().width() * 0.02)
    _render([centres, craters, layer], layer.crs(), extent, 720, out_dir / "result.png")
    return len(catalog)


def central_window(width_px: int, height_px: int, fraction: float) -> tuple[int, int, int, int]:
    """The central ``fraction`` of a raster's width and height: (col0, row0, col1, row1), px."""
    cols = max(1, round(width_px * fraction))
    rows = max(1, round(height_px * fraction))
    col0, row0 = (width_px - cols) // 2, (height_px - rows) // 2
    return col0, row0, col0 + cols, row0 + rows


def scene_result_screenshot(
    layer, request, out_dir: Path = OUT, crop: float = 1 / 3, size_px: int = RESULT_SIZE_PX
) -> tuple[int, int]:
    """``out_dir``/result.png: the central part of a scene with the craters found on it.

    Parameters
    ----------
    layer : QgsRasterLayer
        The scene, in a Mars CRS.
    request : crater_qgis_plugin.detection_run.DetectionRequest
        Model and choices, e.g. those of the dialog's job.
    out_dir : Path
        Folder of the picture.
    crop : float
        Fraction (0..1] of the scene's width and height shown, centred.
    size_px : int
        Width of the picture, px.

    Returns
    -------
    found, drawn : int
        Craters found on the whole scene, and those whose centre lies in the
        part shown.
    """
    import numpy as np
    from qgis.core import QgsBilinearRasterResampler, QgsProject, QgsRectangle

    from crater_qgis_plugin.crater_layers import crater_polygon_layer

    catalog, grid = _detect(layer, request)
    craters = crater_polygon_layer(catalog, grid, "craters", request.model_label)
    QgsProject.instance().addMapLayer(craters)
    layer.resampleFilter().setZoomedInResampler(QgsBilinearRasterResampler())
    col0, row0, col1, row1 = central_window(layer.width(), layer.height(), crop)
    full = layer.extent()
    x_m = full.width() / layer.width()
    y_m = full.height() / layer.height()
    extent = QgsRectangle(
        full.xMinimum() + col0 * x_m,
        full.yMaximum() - row1 * y_m,
        full.xMinimum() + col1 * x_m,
        full.yMaximum() - row0 * y_m,
    )
    _render([craters, layer], layer.crs(), extent, size_px, out_dir / "result.png")
    x_px, y_px = np.asarray(catalog.x_px, float), np.asarray(catalog.y_px, float)
    shown = (x_px >= col0) & (x_px < col1) & (y_px >= row0) & (y_px < row1)
    return len(catalog), int(shown.sum())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--scene", type=Path, help="Mars GeoTIFF to search (e.g. scene.tif)")
    parser.add_argument("--model", type=Path, help="ONNX crater model (with --scene)")
    parser.add_argument(
        "--out-dir", type=Path, default=OUT, help="folder of the PNGs (default docs/img)"
    )
    parser.add_argument(
        "--crop",
        type=float,
        default=1 / 3,
        help="with --scene: central fraction of the scene's width and height shown (default 1/3)",
    )
    args = parser.parse_args(argv)
    if (args.scene is None) != (args.model is None):
        parser.error("--scene and --model go together; give both, or neither for the test raster")
    if args.scene is not None:
        for what, path, suffixes in (
            ("--scene", args.scene, (".tif", ".tiff")),
            ("--model", args.model, (".onnx",)),
        ):
            if not path.is_file():
                parser.error(f"{what} {path}: no such file; give an existing file")
            if path.suffix.lower() not in suffixes:
                parser.error(f"{what} {path}: expected a {' or '.join(suffixes)} file")
    if not 0 < args.crop <= 1:
        parser.error(f"--crop {args.crop:g}: must be above 0 and at most 1, e.g. 0.33")
    return args


def main(argv: list[str] | None = None) -> int:
    """Make both screenshots."""
    args = parse_args(argv)
    from qgis.core import QgsApplication, QgsProject, QgsRasterLayer

    app = QgsApplication([], True)
    app.initQgis()
    out_dir = args.out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    if args.scene is not None:
        scene = args.scene.resolve()
        layer = QgsRasterLayer(str(scene), scene.stem)
        if not layer.isValid():
            raise SystemExit(f"--scene {args.scene}: QGIS cannot read it as a raster")
        QgsProject.instance().addMapLayer(layer)
        job = dialog_screenshot(layer, args.model, out_dir)  # the path as given, shown
        request = job.request
        print(
            f"detecting {request.min_diameter_km:g}-{request.max_diameter_km:g} km craters "
            f"with {request.model_label} on {layer.name()} ({layer.width()} x {layer.height()} px)"
        )
        found, drawn = scene_result_screenshot(layer, request, out_dir, args.crop)
        print(f"{found} craters found on the scene, {drawn} drawn in the central part shown")
        QgsProject.instance().removeAllMapLayers()
    else:
        with tempfile.TemporaryDirectory(prefix="crater_demo_") as folder:
            data = Path(folder)
            make_test_data(data)
            layer = QgsRasterLayer(str(data / "mars_eqc.tif"), "mars_eqc (synthetic)")
            QgsProject.instance().addMapLayer(layer)
            dialog_screenshot(layer, data / "oracle.onnx", out_dir)
            found = result_screenshot(layer, data / "oracle.onnx", out_dir)
            print(f"{found} craters drawn")
            QgsProject.instance().removeAllMapLayers()
    app.exitQgis()
    return 0


if __name__ == "__main__":
    sys.exit(main())
