"""Errors of the QGIS plugin, in geocore's exception tree.

Every error the plugin raises on purpose is a :class:`geocore.errors.GeocoreError`,
so the task, the dialog and the Processing algorithms catch one root and show
its message (the problem and the fix) instead of a traceback.
"""

from __future__ import annotations

from geocore.errors import GeocoreError

__all__ = ["DependencyError", "PluginInputError"]


class PluginInputError(GeocoreError, ValueError):
    """A layer, band, extent or parameter cannot be used for crater detection."""


class DependencyError(GeocoreError, ImportError):
    """A Python package the plugin needs (onnxruntime) is missing from QGIS's Python."""
