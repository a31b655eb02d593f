"""Export a crater layer as a GeoPackage layer, and optionally a craterstats ``.diam`` file.

The GeoPackage is written to a temporary file beside the target and moved into
place (:func:`geocore.atomic.atomic_output`): an existing file keeps its other
layers (it is copied first), a layer of the same name is replaced only when the
user agreed, and a failed write leaves the file as it was.
"""

from __future__ import annotations

import contextlib
import math
import shutil
import sqlite3
from pathlib import Path

import numpy as np
from qgis.core import (
    Qgis,
    QgsCoordinateTransformContext,
    QgsMapLayerProxyModel,
    QgsProject,
    QgsSettings,
    QgsVectorFileWriter,
    QgsVectorLayer,
    QgsWkbTypes,
)
from qgis.gui import QgsDoubleSpinBox, QgsFileWidget, QgsMapLayerComboBox, QgsMessageBar
from qgis.PyQt.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QMessageBox,
    QSizePolicy,
    QVBoxLayout,
)

from geocore.atomic import atomic_output
from geocore.craterstats import diam_text
from geocore.errors import GeocoreError, OutputExistsError, OutputWriteError

from .errors import PluginInputError

__all__ = [
    "ExportCratersDialog",
    "diam_path",
    "export_craters",
    "geopackage_layers",
    "is_crater_layer",
    "open_geopackage_layer",
    "write_diam_file",
    "write_geopackage",
]

_TITLE = "Export craters"
_SETTINGS = "CraterDetect/"


# ------------------------------------------------------------------ GeoPackage
def geopackage_layers(path: str | Path) -> list[str]:
    """Names of the layers (tables) of a GeoPackage; [] when the file does not exist.

    Raises
    ------
    OutputWriteError
        The file exists but is not a GeoPackage.
    """
    path = Path(path)
    if not path.is_file():
        return []
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            return [row[0] for row in db.execute("SELECT table_name FROM gpkg_contents")]
    except sqlite3.Error as err:
        raise OutputWriteError(
            f"{str(path)!r} exists but is not a GeoPackage ({err}); choose another file name"
        ) from err


def open_geopackage_layer(path: str | Path, name: str) -> QgsVectorLayer:
    """Open layer ``name`` of a GeoPackage as a QGIS layer.

    Raises
    ------
    OutputWriteError
        The layer cannot be opened.
    """
    layer = QgsVectorLayer(f"{path}|layername={name}", name, "ogr")
    if not layer.isValid():
        raise OutputWriteError(
            f"layer {name!r} of {str(path)!r} cannot be opened after writing; check the file"
        )
    return layer


def write_geopackage(
    path: str | Path, layers: list[tuple[QgsVectorLayer, str]], overwrite: bool = False
) -> Path:
    """Write vector layers into a GeoPackage, through a temporary file.

    Parameters
    ----------
    path : str or Path
        The ``.gpkg`` file; other layers of an existing file are kept.
    layers : list of (QgsVectorLayer, str)
        The layers and their names in the file.
    overwrite : bool
        Replace layers of the same names in an existing file.

    Returns
    -------
    Path

    Raises
    ------
    OutputExistsError
        A layer of that name exists and ``overwrite`` is false.
    OutputWriteError
        The folder is missing or not writable, the file is not a GeoPackage,
        or QGIS could not write a layer.
    """
    path = Path(path)
    if path.suffix.lower() != ".gpkg":
        raise OutputWriteError(f"{str(path)!r}: a GeoPackage file name must end in .gpkg")
    existing = geopackage_layers(path)
    taken = [name for _, name in layers if name in existing]
    if taken and not overwrite:
        raise OutputExistsError(
            f"{str(path)!r} already has layer(s) {', '.join(map(repr, taken))}; agree to "
            "replace them or choose another layer name"
        )
    try:
        with atomic_output(path, overwrite=True) as tmp:
            if existing:
                shutil.copyfile(path, tmp)
            for i, (layer, name) in enumerate(layers):
                _write_layer(layer, tmp, name, new_file=not existing and i == 0)
    except GeocoreError:
        raise
    except OSError as err:
        raise OutputWriteError(
            f"cannot write {str(path)!r} ({err}); the file may be open in another program: "
            "close it or choose another file"
        ) from err
    _reload_layers_of(path)
    return path


def _reload_layers_of(path: Path) -> None:
    """Reload the project's layers read from ``path``: the file under them was replaced."""
    for layer in QgsProject.instance().mapLayers().values():
        source = layer.source().split("|", 1)[0]
        if layer.providerType() == "ogr" and Path(source) == path:
            layer.reload()


def _write_layer(layer: QgsVectorLayer, path: Path, name: str, new_file: bool) -> None:
    options = QgsVectorFileWriter.SaveVectorOptions()
    options.driverName = "GPKG"
    options.layerName = name
    options.fileEncoding = "UTF-8"
    options.actionOnExistingFile = (
        QgsVectorFileWriter.CreateOrOverwriteFile
        if new_file
        else QgsVectorFileWriter.CreateOrOverwriteLayer
    )
    error, message, _, _ = QgsVectorFileWriter.writeAsVectorFormatV3(
        layer, str(path), QgsCoordinateTransformContext(), options
    )
    if error != QgsVectorFileWriter.NoError:
        raise OutputWriteError(
            f"QGIS could not write layer {name!r} of {layer.name()!r}: {message or error}; "
            "check the folder and the layer"
        )


# ----------------------------------------------------------------- craterstats
def is_crater_layer(layer) -> bool:
    """True for a polygon layer with a ``diameter_km`` field (as the plugin makes them)."""
    return (
        isinstance(layer, QgsVectorLayer)
        and layer.geometryType() == QgsWkbTypes.PolygonGeometry
        and layer.fields().indexOf("diameter_km") >= 0
    )


def diam_path(gpkg_path: str | Path, layer_name: str) -> Path:
    """Where the ``.diam`` file of a layer exported to ``gpkg_path`` goes: beside it."""
    return Path(gpkg_path).with_name(f"{layer_name}.diam")


def _crater_values(layer: QgsVectorLayer) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    fields = layer.fields()
    if fields.indexOf("diameter_km") < 0:
        raise PluginInputError(
            f"layer {layer.name()!r} has no diameter_km field; export a crater layer made by "
            "Detect craters"
        )
    has_lonlat = fields.indexOf("lon") >= 0 and fields.indexOf("lat") >= 0
    rows = []
    for feature in layer.getFeatures():
        values = [feature["diameter_km"]]
        values += [feature["lon"], feature["lat"]] if has_lonlat else [None, None]
        rows.append([math.nan if v is None or v == "" else float(v) for v in values])
    table = np.array(rows, dtype=float).reshape(-1, 3)
    return table[:, 0], table[:, 1], table[:, 2]


def _diam_text(layer: QgsVectorLayer, area_km2: float | None) -> str:
    """The ``.diam`` text of a crater layer (geocore.craterstats; area estimated from the rims)."""
    diameter, lon, lat = _crater_values(layer)
    text, _ = diam_text(
        diameter, lon, lat, area_km2, source=f"the Mars Crater Detection QGIS plugin from layer "
        f"{layer.name()!r}",
    )  # fmt: skip
    return text


def write_diam_file(
    path: str | Path,
    layer: QgsVectorLayer,
    area_km2: float | None = None,
    overwrite: bool = False,
) -> Path:
    """Write the craters of a layer as a craterstats ``.diam`` file.

    Same layout as :func:`geocore.vector_io.write_diam` (craterstats' "new
    format" of 2014-03-04): comments, ``area = <km^2>``, then a table
    ``crater = {diameter, fraction, lon, lat`` with one row per crater,
    closed by ``}``.

    Parameters
    ----------
    path : str or Path
        The ``.diam`` file.
    layer : QgsVectorLayer
        A crater layer (fields diameter_km and, if present, lon and lat).
    area_km2 : float, optional
        The counting area; when omitted it is estimated as the area on the
        sphere of the smallest lon/lat box of the crater rims
        (:func:`geocore.craterstats.rim_box_area_km2`; across the antimeridian
        too), noted in the file as an estimate to replace.
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    Path

    Raises
    ------
    PluginInputError
        No diameter_km field, a bad area, or no area and no lon/lat extent.
    OutputExistsError, OutputWriteError
        The file exists and ``overwrite`` is false, or cannot be written.
    """
    text = _diam_text(layer, area_km2)
    with atomic_output(path, overwrite) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def export_craters(
    layer: QgsVectorLayer,
    path: str | Path,
    layer_name: str,
    overwrite: bool = False,
    diam: bool = False,
    area_km2: float | None = None,
) -> list[Path]:
    """Export a crater layer to a GeoPackage (and a ``.diam`` file beside it).

    Both outputs are checked before anything is written.

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    PluginInputError, OutputExistsError, OutputWriteError
        As :func:`write_geopackage` and :func:`write_diam_file`.
    """
    if not isinstance(layer, QgsVectorLayer) or not layer.isValid():
        raise PluginInputError("no valid crater layer is chosen; choose the layer to export")
    if not layer_name.strip():
        raise PluginInputError("the GeoPackage layer needs a name; type one")
    path = Path(path)
    if not path.parent.is_dir():
        raise OutputWriteError(
            f"folder {str(path.parent)!r} does not exist; choose an existing folder"
        )
    written = []
    diam_file = diam_path(path, layer_name)
    if diam:
        if diam_file.exists() and not overwrite:
            raise OutputExistsError(
                f"{str(diam_file)!r} already exists; agree to replace it or choose another name"
            )
        # refuse a layer without diameters or a usable area before writing anything
        _diam_text(layer, area_km2)
    written.append(write_geopackage(path, [(layer, layer_name)], overwrite=overwrite))
    if diam:
        written.append(write_diam_file(diam_file, layer, area_km2, overwrite=overwrite))
    return written


# ---------------------------------------------------------------------- dialog
class ExportCratersDialog(QDialog):
    """The "Export craters as GeoPackage" dialog.

    Parameters
    ----------
    iface : qgis.gui.QgisInterface
        The QGIS interface (active layer, message bar).
    parent : QWidget, optional
        Parent window.
    """

    def __init__(self, iface, parent=None) -> None:
        super().__init__(parent)
        self.iface = iface
        self.written: list[Path] = []
        self.setWindowTitle("Export craters as GeoPackage")
        self.setMinimumWidth(520)
        layout = QVBoxLayout(self)
        self.message_bar = QgsMessageBar(self)
        self.message_bar.setSizePolicy(QSizePolicy.Minimum, QSizePolicy.Fixed)
        layout.addWidget(self.message_bar)
        form = QFormLayout()
        layout.addLayout(form)
        self.layer_combo = QgsMapLayerComboBox()
        self.layer_combo.setFilters(QgsMapLayerProxyModel.PolygonLayer)
        self.layer_combo.setExceptedLayerList(
            [lyr for lyr in _project_layers() if not is_crater_layer(lyr)]
        )
        self.layer_combo.layerChanged.connect(self._layer_changed)
        form.addRow("Crater layer", self.layer_combo)
        self.file_widget = QgsFileWidget()
        self.file_widget.setStorageMode(QgsFileWidget.SaveFile)
        self.file_widget.setFilter("GeoPackage (*.gpkg)")
        self.file_widget.setConfirmOverwrite(False)  # asked on OK, for the layer only
        form.addRow("GeoPackage", self.file_widget)
        self.name_edit = QLineEdit()
        form.addRow("Layer name", self.name_edit)
        self.diam_check = QCheckBox("Also write a craterstats .diam file beside it")
        form.addRow("", self.diam_check)
        self.area = QgsDoubleSpinBox()
        self.area.setRange(0.0, 1.5e8)
        self.area.setDecimals(1)
        self.area.setSuffix(" km²")
        self.area.setSpecialValueText("estimate from the craters' extent")
        self.area.setClearValue(0.0)
        self.area.setToolTip("The area you searched for craters; craterstats needs it")
        form.addRow("Counting area", self.area)
        self.diam_check.toggled.connect(self.area.setEnabled)
        self.area.setEnabled(False)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.button(QDialogButtonBox.Ok).setText("Export")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        active = iface.activeLayer()
        if is_crater_layer(active):
            self.layer_combo.setLayer(active)
        self._layer_changed(self.layer_combo.currentLayer())

    def has_layers(self) -> bool:
        """Whether the project holds a crater layer to export."""
        return self.layer_combo.count() > 0

    def _layer_changed(self, layer) -> None:
        if layer is None:
            return
        name = layer.name().strip().replace(" ", "_") or "craters"
        self.name_edit.setText(name)
        folder = QgsSettings().value(_SETTINGS + "export_folder", "", type=str)
        if folder and Path(folder).is_dir() and not self.file_widget.filePath():
            self.file_widget.setFilePath(str(Path(folder) / f"{name}.gpkg"))

    def accept(self) -> None:
        """Export; ask before replacing; keep the dialog open with a message on a problem."""
        self.message_bar.clearWidgets()
        layer = self.layer_combo.currentLayer()
        path = self.file_widget.filePath().strip()
        name = self.name_edit.text().strip()
        if not path:
            self.message_bar.pushMessage(_TITLE, "choose the GeoPackage file", level=Qgis.Warning)
            return
        if not path.lower().endswith(".gpkg"):
            path += ".gpkg"
        diam = self.diam_check.isChecked()
        area = self.area.value() or None
        try:
            clashes = [f"layer {name!r} in {path}"] if name in geopackage_layers(path) else []
            if diam and diam_path(path, name).exists():
                clashes.append(str(diam_path(path, name)))
            overwrite = False
            if clashes:
                answer = QMessageBox.question(
                    self,
                    _TITLE,
                    "Replace " + " and ".join(clashes) + "?",
                    QMessageBox.Yes | QMessageBox.No,
                    QMessageBox.No,
                )
                if answer != QMessageBox.Yes:
                    return
                overwrite = True
            self.written = export_craters(layer, path, name, overwrite, diam, area)
        except GeocoreError as err:
            self.message_bar.pushMessage(_TITLE, str(err), level=Qgis.Warning)
            return
        QgsSettings().setValue(_SETTINGS + "export_folder", str(Path(path).parent))
        count = layer.featureCount()
        self.iface.messageBar().pushMessage(
            _TITLE,
            f"{count} craters written to {', '.join(str(p) for p in self.written)}",
            level=Qgis.Success,
        )
        super().accept()


def _project_layers() -> list:
    return list(QgsProject.instance().mapLayers().values())
