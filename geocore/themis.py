"""THEMIS Day IR 256 px/degree mosaic tiles: names, grids and the paper's pre-processing.

Tiles are 30 x 30 degrees, 7680 x 7680 px, named ``thm_dir_N<lat_min>_<lon_min>``
with ``lat_min`` a multiple of 30 in -90..60 (written ``-30``, ``00``, ``30``)
and ``lon_min`` a multiple of 30 in 0..330 degrees east, three digits
(``thm_dir_N-30_090`` covers lat -30..0, lon 90..120 E).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from .body import MARS
from .errors import CoordinateError, TileNameError
from .grid import PixelGrid, wrap_longitude
from .projection import Equirectangular

__all__ = [
    "PIXELS_PER_DEGREE",
    "TILE_SIZE_DEG",
    "TILE_SIZE_PX",
    "ThemisTile",
    "fill_missing",
    "preprocess",
    "scale_to_unit_range",
]

PIXELS_PER_DEGREE = 256
TILE_SIZE_DEG = 30
TILE_SIZE_PX = PIXELS_PER_DEGREE * TILE_SIZE_DEG

_NAME_RE = re.compile(r"^thm_dir_N(-?\d{2})_(\d{3})$")
_NAME_EXAMPLE = "expected e.g. 'thm_dir_N-30_090' (lat_min -90..60, lon_min 000..330 east)"


@dataclass(frozen=True, order=True)
class ThemisTile:
    """One 30 x 30 degree THEMIS Day IR mosaic tile.

    Parameters
    ----------
    lat_min_deg : int
        Southern edge, a multiple of 30 in -90..60.
    lon_min_deg : int
        Western edge in degrees east, a multiple of 30 in 0..330.

    Examples
    --------
    >>> tile = ThemisTile.from_name("thm_dir_N-30_090")
    >>> tile.lat_min_deg, tile.lon_min_deg, tile.name
    (-30, 90, 'thm_dir_N-30_090')
    >>> ThemisTile.containing(-150.5, 12.0).name
    'thm_dir_N00_180'
    """

    lat_min_deg: int
    lon_min_deg: int

    def __post_init__(self) -> None:
        lat, lon = self.lat_min_deg, self.lon_min_deg
        if lat not in range(-90, 61, 30) or lon not in range(0, 331, 30):
            raise TileNameError(f"no THEMIS tile starts at lat {lat}, lon {lon}; {_NAME_EXAMPLE}")

    @classmethod
    def from_name(cls, name: str) -> ThemisTile:
        """Parse a tile name; a file name or path with an extension is accepted.

        Raises
        ------
        TileNameError
            The name is not a THEMIS tile name.
        """
        stem = str(name).replace("\\", "/").rsplit("/", 1)[-1]
        stem = stem.split(".", 1)[0]
        match = _NAME_RE.match(stem)
        if match is None:
            raise TileNameError(f"unknown THEMIS tile name {name!r}; {_NAME_EXAMPLE}")
        try:
            return cls(int(match.group(1)), int(match.group(2)))
        except TileNameError as err:
            raise TileNameError(f"unknown THEMIS tile name {name!r}; {_NAME_EXAMPLE}") from err

    @classmethod
    def find_in_name(cls, text: str) -> ThemisTile | None:
        """The tile whose name starts a file name such as ``thm_dir_N00_030_x.png``, or None."""
        stem = str(text).replace("\\", "/").rsplit("/", 1)[-1]
        match = re.match(r"^thm_dir_N(-?\d{2})_(\d{3})(?!\d)", stem)
        if match is None:
            return None
        try:
            return cls(int(match.group(1)), int(match.group(2)))
        except TileNameError:
            return None

    @classmethod
    def containing(cls, lon_deg: float, lat_deg: float) -> ThemisTile:
        """The tile containing a point (either longitude convention).

        Points on a tile's northern or eastern edge belong to the next tile, except
        at the north pole.

        Raises
        ------
        CoordinateError
            The latitude is outside [-90, 90] or a value is not finite.
        """
        if not (math.isfinite(lon_deg) and math.isfinite(lat_deg)) or abs(lat_deg) > 90:
            raise CoordinateError(
                f"cannot find a tile for lon {lon_deg}, lat {lat_deg}: "
                "latitude must be within [-90, 90]"
            )
        lon = float(wrap_longitude(lon_deg, "0..360"))
        lat_min = min(60, math.floor(lat_deg / TILE_SIZE_DEG) * TILE_SIZE_DEG)
        lon_min = math.floor(lon / TILE_SIZE_DEG) * TILE_SIZE_DEG % 360
        return cls(lat_min, lon_min)

    @property
    def name(self) -> str:
        """Tile name such as ``thm_dir_N-30_090``."""
        return f"thm_dir_N{self.lat_min_deg:02d}_{self.lon_min_deg:03d}"

    @property
    def lat_max_deg(self) -> int:
        """Northern edge in degrees."""
        return self.lat_min_deg + TILE_SIZE_DEG

    @property
    def lon_min_180_deg(self) -> int:
        """Western edge in degrees east, -180..180 convention."""
        return self.lon_min_deg - 360 if self.lon_min_deg >= 180 else self.lon_min_deg

    @property
    def bounds_deg(self) -> tuple[int, int, int, int]:
        """``(west, south, east, north)``, longitudes -180..180 (east may be 180)."""
        west = self.lon_min_180_deg
        return west, self.lat_min_deg, west + TILE_SIZE_DEG, self.lat_max_deg

    @property
    def grid(self) -> PixelGrid:
        """The tile's 7680 x 7680 grid in Mars equirectangular metres (IAU_2015:49910)."""
        projection = Equirectangular(MARS)
        size_m = MARS.metres_per_degree / PIXELS_PER_DEGREE
        x0, y0 = projection.forward(self.lon_min_180_deg, self.lat_max_deg)
        transform = (size_m, 0.0, float(x0), 0.0, -size_m, float(y0))
        return PixelGrid(transform, TILE_SIZE_PX, TILE_SIZE_PX, projection)

    def __str__(self) -> str:
        return self.name


def fill_missing(image: np.ndarray, missing_value: float = 0) -> np.ndarray:
    """Replace missing (black) pixels by the mean of the valid ones, as the paper did.

    Parameters
    ----------
    image : numpy.ndarray
        2-D image; not modified.
    missing_value : number
        Value that marks missing data (THEMIS mosaics use 0).

    Returns
    -------
    numpy.ndarray
        A float32 copy. An image with no valid pixel becomes all zeros.

    Examples
    --------
    >>> fill_missing(np.array([[0, 2], [4, 0]], dtype=np.uint8)).tolist()
    [[3.0, 2.0], [4.0, 3.0]]
    """
    out = np.asarray(image, dtype=np.float32).copy()
    missing = out == missing_value
    if missing.all():
        return np.zeros_like(out)
    if missing.any():
        out[missing] = out[~missing].mean(dtype=np.float64)
    return out


def scale_to_unit_range(image: np.ndarray, max_value: float = 255.0) -> np.ndarray:
    """Scale ``[0, max_value]`` to ``[-1, 1]`` (the companion code's ``2x - 1``).

    Examples
    --------
    >>> scale_to_unit_range(np.array([0, 255])).tolist()
    [-1.0, 1.0]
    """
    if not max_value > 0:
        raise ValueError(f"max_value must be positive, got {max_value!r}")
    return (np.asarray(image, dtype=np.float32) * np.float32(2.0 / max_value)) - np.float32(1.0)


def preprocess(image: np.ndarray, max_value: float = 255.0, missing_value: float = 0) -> np.ndarray:
    """The paper's pre-processing: missing pixels to the tile mean, then scale to [-1, 1]."""
    return scale_to_unit_range(fill_missing(image, missing_value), max_value)
