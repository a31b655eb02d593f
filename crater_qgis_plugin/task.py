"""Crater detection as a background task in QGIS's task manager.

:meth:`DetectCratersTask.run` works in a worker thread: it reads pixels only
through the cloned data provider of a
:class:`~crater_qgis_plugin.layer_source.LayerRasterSource` (made on the main
thread) and never touches a layer or the project. Progress is reported per
window and a cancel is seen between windows (well within a second). Layers are
made and added in :meth:`DetectCratersTask.finished`, on the main thread.
Expected problems (:class:`geocore.errors.GeocoreError`) go to the message bar
with their reason and fix; anything else is written to the QGIS message log,
never shown as a traceback dialog.
"""

from __future__ import annotations

import time
import traceback

from qgis.core import Qgis, QgsMessageLog, QgsProject, QgsTask, QgsVectorLayer

from geocore.errors import CancelledError, GeocoreError

__all__ = ["LOG_TAG", "DetectCratersTask"]

#: Tab of the Log Messages panel where unexpected errors are written.
LOG_TAG = "Crater detection"
_TITLE = "Crater detection"


class DetectCratersTask(QgsTask):
    """Detect craters on a raster in the background and add the crater layer(s).

    Parameters
    ----------
    source : crater_qgis_plugin.layer_source.LayerRasterSource
        The raster, opened on the main thread.
    request : crater_qgis_plugin.detection_run.DetectionRequest
        Model, diameter range, threshold, device, polygons.
    iface : qgis.gui.QgisInterface
        For the message bar.
    layer_name : str
        Name of the crater layer.
    output_path : str, optional
        GeoPackage to write the layers to; None: temporary (memory) layers.
    add_points : bool
        Also add a point layer of crater centres.
    overwrite : bool
        Replace layers of the same names in ``output_path``.

    Attributes
    ----------
    catalog : geocore.crater.CraterCatalog or None
        The craters found (after a successful run).
    error : GeocoreError or None
        The expected problem that stopped the run.
    failure : str or None
        Traceback of an unexpected error.
    layers : list of QgsVectorLayer
        The layers added to the project by :meth:`finished`.
    """

    def __init__(
        self,
        source,
        request,
        iface,
        *,
        layer_name: str = "craters",
        output_path: str | None = None,
        add_points: bool = False,
        overwrite: bool = False,
    ) -> None:
        super().__init__(f"Detecting craters on {source.name}", QgsTask.CanCancel)
        self.source = source
        self.request = request
        self.iface = iface
        self.layer_name = layer_name
        self.output_path = output_path
        self.add_points = add_points
        self.overwrite = overwrite
        self.catalog = None
        self.error: GeocoreError | None = None
        self.failure: str | None = None
        self.layers: list[QgsVectorLayer] = []
        self.seconds = 0.0

    @classmethod
    def from_job(cls, job, iface) -> DetectCratersTask:
        """The task for the dialog's choices; opens the raster here, on the main thread.

        Raises
        ------
        PluginInputError
            The layer cannot be searched (no or Earth CRS, band not chosen...).
        """
        from .layer_source import LayerRasterSource

        source = LayerRasterSource.from_layer(
            job.layer, band=job.band, extent=job.extent, assume_mars=job.assume_mars
        )
        return cls(
            source,
            job.request,
            iface,
            layer_name=job.layer_name,
            output_path=job.output_path,
            add_points=job.add_points,
            overwrite=job.overwrite,
        )

    # ------------------------------------------------------------ worker thread
    def run(self) -> bool:
        """Find the craters (worker thread: no layer or project access here)."""
        from .detection_run import run_detection

        start = time.perf_counter()
        try:
            self.catalog = run_detection(
                self.source,
                self.request,
                progress=lambda fraction: self.setProgress(100.0 * fraction),
                cancel=self.isCanceled,
            )
        except CancelledError:
            return False
        except GeocoreError as err:
            self.error = err
            return False
        except Exception:  # shown in the log, not as a traceback dialog
            self.failure = traceback.format_exc()
            return False
        self.seconds = time.perf_counter() - start
        return True

    # ------------------------------------------------------------ main thread
    def finished(self, result: bool) -> None:
        """Add the layers, or report why there are none (main thread)."""
        try:
            if result:
                self._add_layers()
            elif self.error is not None:
                self._push(str(self.error), Qgis.Critical)
            elif self.failure is not None:
                self._log_failure(self.failure)
            else:
                self._push(
                    f"detection on {self.source.name} cancelled; nothing was added", Qgis.Info
                )
        except GeocoreError as err:
            self.error = err
            self._push(str(err), Qgis.Critical)
        except Exception:
            self.failure = traceback.format_exc()
            self._log_failure(self.failure)
        finally:
            self.source = None  # releases the cloned data provider

    def _add_layers(self) -> None:
        from .crater_layers import crater_point_layer, crater_polygon_layer

        model = self.request.model_label
        grid = self.source.grid
        layers = [crater_polygon_layer(self.catalog, grid, self.layer_name, model)]
        if self.add_points:
            layers.append(
                crater_point_layer(self.catalog, grid, self.layer_name + "_centres", model)
            )
        if self.output_path is not None:
            layers = self._write_geopackage(layers)
        QgsProject.instance().addMapLayers(layers)
        self.layers = layers
        where = f" in {self.output_path}" if self.output_path else ""
        self._push(
            f"{len(self.catalog)} craters found on {self.source.name} in "
            f"{self.seconds:.1f} s; layer {self.layer_name!r}{where}",
            Qgis.Success,
        )

    def _write_geopackage(self, layers: list[QgsVectorLayer]) -> list[QgsVectorLayer]:
        """Write the memory layers to the GeoPackage and return them opened from it."""
        from .export import open_geopackage_layer, write_geopackage

        named = [(layer, layer.name()) for layer in layers]
        write_geopackage(self.output_path, named, overwrite=self.overwrite)
        opened = []
        for layer, name in named:
            saved = open_geopackage_layer(self.output_path, name)
            saved.setRenderer(layer.renderer().clone())
            opened.append(saved)
        return opened

    def _push(self, message: str, level) -> None:
        self.iface.messageBar().pushMessage(_TITLE, message, level=level)

    def _log_failure(self, text: str) -> None:
        QgsMessageLog.logMessage(text, LOG_TAG, Qgis.Critical)
        self._push(
            "an unexpected error stopped the detection; the details are in the Log Messages "
            f"panel ({LOG_TAG} tab). Please report them with the layer and model used.",
            Qgis.Critical,
        )
