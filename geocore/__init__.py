"""geocore: Mars geodesy, crater catalogues, target rasters and crater vectors.

geocore never imports QGIS or TensorFlow. Modules that need only numpy (grids,
projections, THEMIS tiles, catalogues, targets, crater geometry) can run inside
QGIS's Python; rasterio, geopandas and pyproj are imported only by the adapters
that need them (:mod:`geocore.crs`, :mod:`geocore.raster_io`,
:mod:`geocore.vector_io`).
"""

from .body import MARS, Body
from .errors import GeocoreError
from .grid import PixelGrid
from .projection import Equirectangular, Geographic
from .themis import ThemisTile

__version__ = "0.1.0"

__all__ = [
    "MARS",
    "Body",
    "Equirectangular",
    "GeocoreError",
    "Geographic",
    "PixelGrid",
    "ThemisTile",
    "__version__",
]
