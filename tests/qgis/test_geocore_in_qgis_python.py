"""geocore's numpy-only core imports and works inside QGIS's Python (numpy 1.24)."""

import importlib
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.qgis

QGIS_SAFE_MODULES = [
    "geocore",
    "geocore.body",
    "geocore.projection",
    "geocore.grid",
    "geocore.themis",
    "geocore.crater",
    "geocore.atomic",
    "geocore.catalog",
    "geocore.yolo",
    "geocore.synthetic",
    "geocore.model_info",
    "geocore.matching",
    "geocore.metrics",
    "geocore.detection",
    "geocore.inference",
    "geocore.tiling",
    "geocore.resample",
    "geocore.extraction",
    "geocore.targets",
    "geocore.geometry",
]
HEAVY = ("rasterio", "geopandas", "pyogrio", "shapely", "tensorflow", "keras")


def test_numpy_is_qgis_own():
    assert np.__version__.startswith("1."), "QGIS 3.22 on Debian 12 ships numpy 1.24"


@pytest.mark.parametrize("name", QGIS_SAFE_MODULES)
def test_module_imports_without_heavy_dependencies(name):
    importlib.import_module(name)
    loaded = [m for m in HEAVY if m in sys.modules]
    assert not loaded, f"{name} pulled {loaded} into QGIS's Python"


def test_grid_and_tile_maths_in_qgis(qgis_app):
    from geocore.grid import PixelGrid

    grid = PixelGrid.from_themis_tile("thm_dir_N-30_090")
    lon, lat = grid.pixel_to_lonlat(
        np.array([0.0, 7680.0]), np.array([0.0, 7680.0]), offset="corner"
    )
    assert np.allclose(lon, [90.0, 120.0]) and np.allclose(lat, [0.0, -30.0])
