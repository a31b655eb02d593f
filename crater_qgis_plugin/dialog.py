"""The "Detect craters" dialog: which raster, which model, which craters, where to.

The dialog is built in code with QGIS widgets. It defaults to the active raster
layer (band 1 of a one-band layer; a multi-band layer needs a chosen band), the
bundled model when the plugin has one, the model's diameter range and threshold,
the whole layer, and a temporary output layer. Accepting it checks the choices
and returns them as a :class:`DetectionJob`; a problem keeps the dialog open and
says what to change in the dialog's own message bar.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qgis.core import (
    Qgis,
    QgsMapLayerProxyModel,
    QgsRasterLayer,
    QgsSettings,
)
from qgis.gui import (
    QgsDoubleSpinBox,
    QgsFileWidget,
    QgsMapLayerComboBox,
    QgsMessageBar,
    QgsRasterBandComboBox,
)
from qgis.PyQt.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QRadioButton,
    QSizePolicy,
    QVBoxLayout,
)

from geocore.errors import GeocoreError

from .errors import PluginInputError
from .extents import map_view_extent, selected_polygons
from .layer_source import check_raster_layer

__all__ = [
    "DEVICES",
    "EXTENTS",
    "DetectCratersDialog",
    "DetectionJob",
]

#: Device choices: (value for DetectionRequest.device, label).
DEVICES = (
    ("auto", "Automatic (GPU if available, else CPU)"),
    ("cpu", "CPU"),
    ("gpu", "GPU (CUDA; needs onnxruntime-gpu)"),
)
#: Extent choices: (key, label).
EXTENTS = (
    ("layer", "Whole layer"),
    ("view", "Current map view"),
    ("polygons", "Selected polygons of a layer"),
)
_SETTINGS = "CraterDetect/"
_TITLE = "Detect craters"


@dataclass(frozen=True)
class DetectionJob:
    """What the dialog asks for: the input, the detection request and the output.

    Parameters
    ----------
    layer : QgsRasterLayer
        The raster to search.
    band : int or None
        Band number (1-based); None: not chosen (refused for multi-band layers).
    assume_mars : bool
        The user confirmed that a layer in an Earth CRS holds Mars data.
    extent : QgsRectangle or None
        Part of the layer to search, in the layer's CRS; None: the whole layer.
    request : crater_qgis_plugin.detection_run.DetectionRequest
        Model, diameter range, threshold, device, polygons.
    output_path : str or None
        GeoPackage to write; None: temporary (memory) layers.
    layer_name : str
        Name of the crater layer (in the project and in the GeoPackage).
    add_points : bool
        Also add a point layer of crater centres.
    overwrite : bool
        The user agreed to replace ``layer_name`` in an existing ``output_path``.
    """

    layer: Any
    band: int | None
    assume_mars: bool
    extent: Any
    request: Any
    output_path: str | None = None
    layer_name: str = "craters"
    add_points: bool = False
    overwrite: bool = False


class DetectCratersDialog(QDialog):
    """The "Detect craters" dialog.

    Parameters
    ----------
    iface : qgis.gui.QgisInterface
        The QGIS interface (active layer, map canvas).
    parent : QWidget, optional
        Parent window.
    """

    def __init__(self, iface, parent=None) -> None:
        super().__init__(parent)
        self.iface = iface
        self._job: DetectionJob | None = None
        self.setWindowTitle(_TITLE)
        self.setMinimumWidth(560)
        layout = QVBoxLayout(self)
        self.message_bar = QgsMessageBar(self)
        self.message_bar.setSizePolicy(QSizePolicy.Minimum, QSizePolicy.Fixed)
        layout.addWidget(self.message_bar)
        layout.addWidget(self._input_group())
        layout.addWidget(self._model_group())
        layout.addWidget(self._craters_group())
        layout.addWidget(self._output_group())
        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.buttons.button(QDialogButtonBox.Ok).setText("Detect")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self._set_defaults()

    # ------------------------------------------------------------ widgets
    def _input_group(self) -> QGroupBox:
        box = QGroupBox("Input")
        form = QFormLayout(box)
        self.layer_combo = QgsMapLayerComboBox()
        self.layer_combo.setFilters(QgsMapLayerProxyModel.RasterLayer)
        self.band_combo = QgsRasterBandComboBox()
        self.layer_combo.layerChanged.connect(self._layer_changed)
        self.assume_mars_check = QCheckBox("The data are of Mars (although the CRS is Earth's)")
        self.assume_mars_check.setToolTip(
            "Rasters in an Earth CRS (e.g. EPSG:4326) are refused unless you confirm that the "
            "pixels are of Mars; their degrees are then measured on the Mars sphere."
        )
        self.extent_combo = QComboBox()
        for key, label in EXTENTS:
            self.extent_combo.addItem(label, key)
        self.polygon_combo = QgsMapLayerComboBox()
        self.polygon_combo.setFilters(QgsMapLayerProxyModel.PolygonLayer)
        self.polygon_combo.setAllowEmptyLayer(True)
        self.extent_combo.currentIndexChanged.connect(self._extent_changed)
        form.addRow("Raster layer", self.layer_combo)
        form.addRow("Band", self.band_combo)
        form.addRow("", self.assume_mars_check)
        form.addRow("Extent", self.extent_combo)
        form.addRow("Polygon layer", self.polygon_combo)
        return box

    def _model_group(self) -> QGroupBox:
        box = QGroupBox("Model")
        form = QFormLayout(box)
        self.default_model_radio = QRadioButton("Bundled default model")
        self.file_model_radio = QRadioButton("Model file")
        group = QButtonGroup(self)
        group.addButton(self.default_model_radio)
        group.addButton(self.file_model_radio)
        self.model_file = QgsFileWidget()
        self.model_file.setFilter("ONNX crater models (*.onnx)")
        self.model_file.setDialogTitle("Choose an ONNX crater model")
        row = QHBoxLayout()
        row.addWidget(self.file_model_radio)
        row.addWidget(self.model_file, 1)
        form.addRow(self.default_model_radio)
        form.addRow(row)
        self.model_info = QPlainTextEdit()
        self.model_info.setReadOnly(True)
        self.model_info.setFixedHeight(self.model_info.fontMetrics().lineSpacing() * 7)
        form.addRow(self.model_info)
        self.device_combo = QComboBox()
        for key, label in DEVICES:
            self.device_combo.addItem(label, key)
        self.device_combo.setToolTip(
            "onnxruntime runs on the GPU only with the onnxruntime-gpu package and CUDA; "
            "Automatic falls back to the CPU without them"
        )
        device_row = QHBoxLayout()
        device_row.addWidget(QLabel("Device"))
        device_row.addWidget(self.device_combo, 1)
        form.addRow(device_row)
        self.default_model_radio.toggled.connect(self._model_changed)
        self.model_file.fileChanged.connect(self._model_file_changed)
        return box

    def _craters_group(self) -> QGroupBox:
        box = QGroupBox("Craters")
        form = QFormLayout(box)
        self.min_diameter = self._km_box(2.0)
        self.max_diameter = self._km_box(32.0)
        row = QHBoxLayout()
        row.addWidget(self.min_diameter)
        row.addWidget(QLabel("to"))
        row.addWidget(self.max_diameter)
        form.addRow("Diameter (km)", row)
        self.threshold = QgsDoubleSpinBox()
        self.threshold.setRange(0.0, 0.99)
        self.threshold.setSingleStep(0.05)
        self.threshold.setDecimals(2)
        self.threshold.setSpecialValueText("the model's")
        self.threshold.setClearValue(0.0)
        self.threshold.setToolTip(
            "Probability above which a pixel counts as crater; lower finds more, fainter craters"
        )
        form.addRow("Confidence threshold", self.threshold)
        return box

    @staticmethod
    def _km_box(value: float) -> QgsDoubleSpinBox:
        spin = QgsDoubleSpinBox()
        spin.setRange(0.1, 10000.0)
        spin.setDecimals(1)
        spin.setSuffix(" km")
        spin.setValue(value)
        spin.setClearValue(value)
        return spin

    def _output_group(self) -> QGroupBox:
        box = QGroupBox("Output")
        form = QFormLayout(box)
        self.temporary_radio = QRadioButton("Temporary layer")
        self.gpkg_radio = QRadioButton("GeoPackage")
        group = QButtonGroup(self)
        group.addButton(self.temporary_radio)
        group.addButton(self.gpkg_radio)
        self.gpkg_file = QgsFileWidget()
        self.gpkg_file.setStorageMode(QgsFileWidget.SaveFile)
        self.gpkg_file.setFilter("GeoPackage (*.gpkg)")
        self.gpkg_file.setConfirmOverwrite(False)  # asked on Detect, for the layer only
        self.gpkg_file.fileChanged.connect(
            lambda path: self.gpkg_radio.setChecked(True) if path else None
        )
        row = QHBoxLayout()
        row.addWidget(self.gpkg_radio)
        row.addWidget(self.gpkg_file, 1)
        form.addRow(self.temporary_radio)
        form.addRow(row)
        self.layer_name = QLineEdit("craters")
        form.addRow("Layer name", self.layer_name)
        self.points_check = QCheckBox("Also add a point layer of crater centres")
        form.addRow("", self.points_check)
        return box

    # ------------------------------------------------------------ defaults
    def _set_defaults(self) -> None:
        from geocore.model_info import default_model_path

        active = self.iface.activeLayer()
        if isinstance(active, QgsRasterLayer):
            self.layer_combo.setLayer(active)
        self._layer_changed(self.layer_combo.currentLayer())
        self._extent_changed()
        settings = QgsSettings()
        bundled = default_model_path()
        self.default_model_radio.setEnabled(bundled is not None)
        if bundled is None:
            self.default_model_radio.setText("Bundled default model (not installed)")
        last = settings.value(_SETTINGS + "model_path", "", type=str)
        if last and Path(last).is_file():
            self.model_file.setFilePath(last)
        if bundled is not None and not last:
            self.default_model_radio.setChecked(True)
        else:
            self.file_model_radio.setChecked(True)
        device = settings.value(_SETTINGS + "device", "auto", type=str)
        self.device_combo.setCurrentIndex(max(self.device_combo.findData(device), 0))
        self.temporary_radio.setChecked(True)
        self._model_changed()

    def _layer_changed(self, layer) -> None:
        self.band_combo.setLayer(layer)
        multi = isinstance(layer, QgsRasterLayer) and layer.bandCount() > 1
        self.band_combo.setShowNotSetOption(multi)
        # a one-band layer uses band 1; a multi-band layer needs the user's choice
        self.band_combo.setBand(-1 if multi else 1)

    def _extent_changed(self, *_args) -> None:
        self.polygon_combo.setEnabled(self.extent_combo.currentData() == "polygons")

    def _model_file_changed(self, path: str) -> None:
        if path:
            self.file_model_radio.setChecked(True)
        self._model_changed()

    def model_path(self) -> str | None:
        """The chosen model file, None for the bundled model, "" when none is chosen."""
        if self.default_model_radio.isChecked():
            return None
        return self.model_file.filePath().strip()

    def _model_changed(self, *_args) -> None:
        """Show the chosen model's metadata, and its diameter range in the spin boxes."""
        from geocore.model_info import default_model_path, read_model_info

        from .detection_run import describe_model

        path = self.model_path()
        if path is None:
            path = default_model_path()
        if not path:
            self.model_info.setPlainText(
                "This installation has no bundled default model: choose an ONNX crater model "
                "(.onnx), e.g. one exported with `python -m training.export`."
            )
            return
        try:
            self.model_info.setPlainText(describe_model(path))
            info = read_model_info(path)
        except GeocoreError as err:
            self.model_info.setPlainText(f"This model cannot be used: {err}")
            return
        if info.min_diameter_km is not None:
            self.min_diameter.setValue(info.min_diameter_km)
        if info.max_diameter_km is not None:
            self.max_diameter.setValue(info.max_diameter_km)

    # ------------------------------------------------------------ results
    def build_job(self) -> DetectionJob:
        """The dialog's choices, checked.

        Raises
        ------
        PluginInputError
            A choice is missing or impossible; the message says which and how
            to fix it.
        """
        from .detection_run import DetectionRequest

        layer = self.layer_combo.currentLayer()
        if not isinstance(layer, QgsRasterLayer):
            raise PluginInputError(
                "no raster layer is chosen; add a Mars raster to the project and choose it"
            )
        band = self.band_combo.currentBand()
        band = band if band >= 1 else None
        # the layer's own checks (CRS, band), here so that the user can fix them in place
        check_raster_layer(layer, band, self.assume_mars_check.isChecked())
        model_path = self.model_path()
        if model_path == "":
            raise PluginInputError(
                "no model is chosen and this installation has no bundled default model; "
                "choose an ONNX crater model (.onnx)"
            )
        if model_path is not None and not Path(model_path).is_file():
            raise PluginInputError(
                f"model file {model_path!r} does not exist; choose an existing .onnx file"
            )
        low, high = self.min_diameter.value(), self.max_diameter.value()
        if low >= high:
            raise PluginInputError(
                f"the smallest diameter ({low:g} km) must be below the largest ({high:g} km)"
            )
        extent, polygons = None, ()
        kind = self.extent_combo.currentData()
        if kind == "view":
            extent = map_view_extent(self.iface.mapCanvas(), layer)
        elif kind == "polygons":
            extent, polygons = selected_polygons(self.polygon_combo.currentLayer(), layer)
        name = self.layer_name.text().strip()
        if not name:
            raise PluginInputError("the output layer needs a name; type one in 'Layer name'")
        output_path = None
        if self.gpkg_radio.isChecked():
            output_path = self.gpkg_file.filePath().strip()
            if not output_path:
                raise PluginInputError(
                    "no GeoPackage file is given; choose one, or a temporary layer"
                )
            if not output_path.lower().endswith(".gpkg"):
                output_path += ".gpkg"
            if not Path(output_path).parent.is_dir():
                raise PluginInputError(
                    f"folder {str(Path(output_path).parent)!r} does not exist; choose an "
                    "existing folder for the GeoPackage"
                )
        threshold = self.threshold.value()
        request = DetectionRequest(
            model_path=model_path,
            min_diameter_km=low,
            max_diameter_km=high,
            threshold=threshold if threshold > 0 else None,
            device=self.device_combo.currentData(),
            polygons_wkt=polygons,
        )
        return DetectionJob(
            layer=layer,
            band=band,
            assume_mars=self.assume_mars_check.isChecked(),
            extent=extent,
            request=request,
            output_path=output_path,
            layer_name=name,
            add_points=self.points_check.isChecked(),
        )

    def accept(self) -> None:
        """Check the choices; keep the dialog open with a message when one is wrong."""
        self.message_bar.clearWidgets()
        try:
            job = self.build_job()
        except GeocoreError as err:
            self.message_bar.pushMessage(_TITLE, str(err), level=Qgis.Warning)
            return
        if job.output_path is not None:
            from .export import geopackage_layers

            if job.layer_name in geopackage_layers(job.output_path):
                answer = QMessageBox.question(
                    self,
                    _TITLE,
                    f"{job.output_path} already has a layer {job.layer_name!r}. Replace it?",
                    QMessageBox.Yes | QMessageBox.No,
                    QMessageBox.No,
                )
                if answer != QMessageBox.Yes:
                    return
                job = dataclasses.replace(job, overwrite=True)
        settings = QgsSettings()
        if job.request.model_path:
            settings.setValue(_SETTINGS + "model_path", job.request.model_path)
        settings.setValue(_SETTINGS + "device", job.request.device)
        self._job = job
        super().accept()

    def job(self) -> DetectionJob:
        """The accepted choices (after :meth:`accept`)."""
        if self._job is None:
            raise PluginInputError("the dialog was not accepted; press Detect first")
        return self._job
