"""The plugin object QGIS loads: toolbar button, Raster menu entries and Processing provider.

:class:`CraterDetectPlugin` adds "Detect craters" (enabled only while the active
layer is a raster) and "Export craters as GeoPackage" to a toolbar of their own
and to the Raster menu, registers the ``craterdetect`` Processing provider, and
starts a :class:`~crater_qgis_plugin.task.DetectCratersTask` in QGIS's task
manager when the detection dialog is accepted. :meth:`CraterDetectPlugin.unload`
removes everything it added.
"""

from __future__ import annotations

from pathlib import Path

from qgis.core import Qgis, QgsApplication, QgsMapLayer, QgsMapLayerType
from qgis.PyQt.QtGui import QIcon
from qgis.PyQt.QtWidgets import QAction, QDialog

from geocore.errors import GeocoreError

__all__ = ["MENU", "TOOLBAR_NAME", "CraterDetectPlugin", "icon_path"]

#: The submenu of QGIS's Raster menu holding the plugin's actions.
MENU = "&Mars Crater Detection"
#: Title (and object name) of the plugin's toolbar.
TOOLBAR_NAME = "Mars Crater Detection"
#: Title of the plugin's messages in the message bar.
MESSAGE_TITLE = "Crater detection"


def icon_path() -> str:
    """The plugin icon: in the plugin folder once installed, else at the repository root."""
    here = Path(__file__).resolve().parent
    for folder in (here, here.parent):
        if (folder / "icon.svg").is_file():
            return str(folder / "icon.svg")
    return ""


class CraterDetectPlugin:
    """The Mars Crater Detection plugin.

    Parameters
    ----------
    iface : qgis.gui.QgisInterface
        The QGIS interface.
    """

    def __init__(self, iface) -> None:
        self.iface = iface
        self.provider = None
        self.toolbar = None
        self.detect_action: QAction | None = None
        self.export_action: QAction | None = None
        # Python references of running tasks: the task manager owns the C++ objects,
        # but a task whose Python wrapper is collected would lose its run()/finished().
        self.tasks: list = []

    # ---------------------------------------------------------------- set-up
    def initProcessing(self) -> None:
        """Register the ``craterdetect`` Processing provider."""
        from .processing.provider import CraterDetectProvider

        provider = CraterDetectProvider()
        # QGIS deletes a provider whose id is already registered (e.g. by a second copy
        # of the plugin): keep no reference to it, and so never remove the other one.
        registered = QgsApplication.processingRegistry().addProvider(provider)
        self.provider = provider if registered else None

    def initGui(self) -> None:
        """Add the actions to a toolbar and the Raster menu, and register Processing."""
        self.initProcessing()
        icon = QIcon(icon_path())
        window = self.iface.mainWindow()
        self.detect_action = QAction(icon, "Detect craters…", window)
        self.detect_action.setObjectName("craterDetectAction")
        self.detect_action.setToolTip(
            "Detect craters on the active Mars raster layer (runs in the background)"
        )
        self.detect_action.triggered.connect(self.show_detect_dialog)
        self.export_action = QAction(icon, "Export craters as GeoPackage…", window)
        self.export_action.setObjectName("craterExportAction")
        self.export_action.triggered.connect(self.show_export_dialog)

        self.toolbar = self.iface.addToolBar(TOOLBAR_NAME)
        self.toolbar.setObjectName("craterDetectToolbar")
        self.toolbar.addAction(self.detect_action)
        self.toolbar.addAction(self.export_action)
        for action in (self.detect_action, self.export_action):
            self.iface.addPluginToRasterMenu(MENU, action)
        self.iface.currentLayerChanged.connect(self.update_actions)
        self.update_actions()

    def unload(self) -> None:
        """Remove the actions, menu entries, toolbar, provider and signal connections."""
        for task in list(self.tasks):
            task.cancel()
        if self.detect_action is not None:  # initGui ran (not so in qgis_process or scripts)
            self.iface.currentLayerChanged.disconnect(self.update_actions)
        for action in (self.detect_action, self.export_action):
            if action is not None:
                self.iface.removePluginRasterMenu(MENU, action)
                action.deleteLater()
        self.detect_action = self.export_action = None
        if self.toolbar is not None:
            self.iface.mainWindow().removeToolBar(self.toolbar)
            self.toolbar.deleteLater()
            self.toolbar = None
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None

    # --------------------------------------------------------------- actions
    def update_actions(self, *args) -> None:
        """Enable "Detect craters" only while the active layer is a raster.

        Connected to ``iface.currentLayerChanged``, which passes the new layer.
        """
        if self.detect_action is None:
            return
        layer = args[0] if args and isinstance(args[0], QgsMapLayer) else self.iface.activeLayer()
        is_raster = layer is not None and layer.type() == QgsMapLayerType.RasterLayer
        self.detect_action.setEnabled(is_raster)

    def show_detect_dialog(self) -> None:
        """Check onnxruntime, show the detection dialog and start the task it describes."""
        from .dependencies import onnxruntime_status
        from .dialog import DetectCratersDialog

        ok, message = onnxruntime_status()
        if not ok:
            self.push_error(message)
            return
        dialog = DetectCratersDialog(self.iface, parent=self.iface.mainWindow())
        try:
            if dialog.exec_() == QDialog.Accepted:
                self.start_detection(dialog.job())
        finally:
            dialog.deleteLater()

    def show_export_dialog(self) -> None:
        """Show the export dialog and write the GeoPackage it describes."""
        from .export import ExportCratersDialog

        dialog = ExportCratersDialog(self.iface, parent=self.iface.mainWindow())
        try:
            if dialog.has_layers():
                dialog.exec_()
            else:
                self.push_error(
                    "there is no crater layer (polygons with a diameter_km field) in the "
                    "project; run Detect craters first"
                )
        finally:
            dialog.deleteLater()

    def start_detection(self, job):
        """Start a detection in QGIS's task manager.

        The raster is opened here, on the main thread (the worker thread only
        reads the cloned data provider); expected problems go to the message bar.

        Parameters
        ----------
        job : crater_qgis_plugin.dialog.DetectionJob
            The dialog's choices.

        Returns
        -------
        DetectCratersTask or None
            The task added to the task manager, or None when the input was refused.
        """
        from .dependencies import onnxruntime_status
        from .task import DetectCratersTask

        ok, message = onnxruntime_status()
        if not ok:
            self.push_error(message)
            return None
        try:
            task = DetectCratersTask.from_job(job, self.iface)
        except GeocoreError as err:
            self.push_error(str(err))
            return None
        self.tasks.append(task)
        task.taskCompleted.connect(lambda: self._forget(task))
        task.taskTerminated.connect(lambda: self._forget(task))
        QgsApplication.taskManager().addTask(task)
        return task

    def _forget(self, task) -> None:
        if task in self.tasks:
            self.tasks.remove(task)

    def push_error(self, message: str) -> None:
        """Show an expected problem (its reason and fix) in QGIS's message bar."""
        self.iface.messageBar().pushMessage(MESSAGE_TITLE, message, level=Qgis.Critical)
