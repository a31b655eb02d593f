"""The ``craterdetect`` Processing provider."""

from __future__ import annotations

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from .detect_algorithm import DetectCratersAlgorithm
from .evaluate_algorithm import EvaluateCratersAlgorithm
from .georeference_algorithm import GeoreferenceThemisAlgorithm

__all__ = ["PROVIDER_ID", "CraterDetectProvider"]

#: Prefix of the algorithm ids: ``craterdetect:detectcraters``.
PROVIDER_ID = "craterdetect"


class CraterDetectProvider(QgsProcessingProvider):
    """Mars crater detection algorithms for the toolbox, models, scripts and qgis_process."""

    def id(self) -> str:
        """The provider id, ``craterdetect``."""
        return PROVIDER_ID

    def name(self) -> str:
        """The name shown in the toolbox."""
        return "Mars crater detection"

    def longName(self) -> str:  # the name QGIS calls
        """The name shown in the toolbox's tooltips."""
        return "Mars crater detection (ONNX crater models on Mars rasters)"

    def icon(self) -> QIcon:
        """The plugin's icon."""
        from ..plugin import icon_path

        return QIcon(icon_path())

    def loadAlgorithms(self) -> None:  # the name QGIS calls
        """Register the three algorithms."""
        for algorithm in (
            DetectCratersAlgorithm(),
            GeoreferenceThemisAlgorithm(),
            EvaluateCratersAlgorithm(),
        ):
            self.addAlgorithm(algorithm)
