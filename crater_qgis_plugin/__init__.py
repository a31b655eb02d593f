"""crater_qgis_plugin: detect Mars craters on a QGIS raster layer through geocore.

A thin QGIS layer: it turns layers into arrays and pixel grids, calls geocore,
and turns craters back into layers. It imports only numpy, onnxruntime, QGIS
and geocore's numpy-only modules.

``geocore`` is found in development on the repository root (``sys.path``), and
in an installed plugin in the ``_vendor`` folder that ``make plugin`` fills.
"""

from __future__ import annotations

import sys
from pathlib import Path

#: Where the plugin zip carries its copy of geocore.
VENDOR_DIR = Path(__file__).resolve().parent / "_vendor"


def ensure_geocore_importable() -> None:
    """Put the vendored geocore first on ``sys.path`` when the plugin carries one.

    In an installed plugin, geocore lives in ``<plugin>/_vendor/geocore``; in a
    checkout of the repository, it is found beside this package and the folder
    does not exist, so nothing changes.
    """
    vendor = str(VENDOR_DIR)
    if VENDOR_DIR.is_dir() and vendor not in sys.path:
        sys.path.insert(0, vendor)


ensure_geocore_importable()


def classFactory(iface):  # the name QGIS looks for
    """Create the plugin for QGIS (imported lazily, so loading the package stays cheap).

    Parameters
    ----------
    iface : qgis.gui.QgisInterface
        The QGIS interface.

    Returns
    -------
    CraterDetectPlugin
    """
    from .plugin import CraterDetectPlugin

    return CraterDetectPlugin(iface)
