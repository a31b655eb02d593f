"""Raster files through rasterio: grids of raster files and georeferencing THEMIS tiles.

This adapter is the only geocore module that imports rasterio (inside its
functions); the QGIS plugin reads pixels through QGIS instead.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable
from pathlib import Path

from .atomic import atomic_output
from .crs import crs_for_projection, portable_wkt
from .errors import GridError, RasterReadError, TileNameError
from .grid import PixelGrid
from .themis import TILE_SIZE_PX, ThemisTile

__all__ = [
    "MAX_SEQUENTIAL_PX",
    "RasterioSource",
    "check_windowed_reading",
    "georeference_themis",
    "open_raster",
    "read_grid",
    "themis_grid_for_shape",
    "write_geotiff",
]

log = logging.getLogger(__name__)

ProgressCallback = Callable[[float], None]

#: Largest image, in pixels, read window by window from a file format that can
#: only be decoded from its first row (PNG, JPEG, GIF): 16384 x 16384. A
#: THEMIS 256 px/degree tile (7680 x 7680) is 59 Mpx.
MAX_SEQUENTIAL_PX = 16384 * 16384
#: GDAL drivers whose files are decoded from the top for every window read.
SEQUENTIAL_DRIVERS = frozenset({"PNG", "JPEG", "GIF"})


def open_raster(path: str | os.PathLike):
    """Open a raster for reading with rasterio, with a clear error when it cannot be read.

    Raises
    ------
    RasterReadError
        The file does not exist or is not a raster GDAL can read.
    """
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning, RasterioIOError

    path = Path(path)
    if not path.exists():
        raise RasterReadError(f"raster {str(path)!r} does not exist; check the path")
    if path.is_dir():
        raise RasterReadError(f"{str(path)!r} is a folder, not a raster file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            return rasterio.open(path)
    except RasterioIOError as err:
        raise RasterReadError(
            f"cannot read {str(path)!r} as a raster ({err}); give a GeoTIFF, PNG or JPEG image"
        ) from err


def themis_grid_for_shape(tile: ThemisTile, width: int, height: int) -> PixelGrid:
    """The grid of a THEMIS tile image of ``width`` x ``height`` pixels.

    Full tiles are 7680 x 7680 (256 px/degree); square downsampled copies are
    accepted and get proportionally larger pixels.

    Raises
    ------
    GridError
        The image is not square.
    """
    if width != height:
        raise GridError(
            f"a THEMIS tile image is square (7680 x 7680 px), but {tile.name} is "
            f"{width} x {height} px; crop or resample it, or georeference it yourself"
        )
    grid = tile.grid
    return grid if width == TILE_SIZE_PX else grid.scaled(TILE_SIZE_PX / width)


def read_grid(path: str | os.PathLike, resolution_m: float | None = None) -> PixelGrid:
    """The pixel grid of a raster file.

    In order of preference: the raster's own georeferencing (a Mars CRS); a
    THEMIS tile name at the start of the file name; a plain image with
    ``resolution_m`` (pixel coordinates only).

    Raises
    ------
    RasterReadError
        The file cannot be read.
    CRSError
        The raster's CRS is not a Mars CRS, or it has none and nothing else
        tells where it is.
    """
    from .errors import CRSError

    with open_raster(path) as src:
        width, height, crs, transform = src.width, src.height, src.crs, src.transform
    if crs is not None:
        return PixelGrid.from_transform(transform, width, height, crs)
    tile = ThemisTile.find_in_name(Path(path).name)
    if tile is not None:
        return themis_grid_for_shape(tile, width, height)
    if resolution_m is not None:
        return PixelGrid.from_resolution(width, height, resolution_m)
    raise CRSError(
        f"{str(path)!r} has no georeferencing; give its resolution in m/px "
        "(--resolution-m), name it after its THEMIS tile (e.g. thm_dir_N-30_090.png), "
        "or georeference it in a Mars CRS"
    )


def _geotiff_profile(grid: PixelGrid, count: int, dtype: str, nodata) -> dict:
    import rasterio

    if not grid.is_georeferenced:
        raise GridError("a GeoTIFF needs a georeferenced grid; this one has pixel coordinates only")
    return {
        "driver": "GTiff",
        "width": grid.width,
        "height": grid.height,
        "count": count,
        "dtype": dtype,
        "crs": rasterio.crs.CRS.from_wkt(portable_wkt(crs_for_projection(grid.projection))),
        "transform": rasterio.Affine(*grid.transform),
        "nodata": nodata,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "deflate",
        "BIGTIFF": "IF_SAFER",
    }


def write_geotiff(
    path: str | os.PathLike,
    array,
    grid: PixelGrid,
    *,
    nodata: float | None = None,
    overwrite: bool = False,
) -> None:
    """Write a 2-D array (or bands, first axis) as a GeoTIFF on ``grid``.

    Raises
    ------
    GridError
        The array's shape differs from the grid's, or the grid is not georeferenced.
    """
    import numpy as np
    import rasterio

    data = np.asarray(array)
    if data.ndim == 2:
        data = data[None]
    if data.ndim != 3 or data.shape[1:] != (grid.height, grid.width):
        raise GridError(
            f"array of shape {np.shape(array)} does not fit the grid "
            f"({grid.height} rows x {grid.width} columns)"
        )
    profile = _geotiff_profile(grid, data.shape[0], data.dtype.name, nodata)
    with atomic_output(path, overwrite) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        dst.write(data)


def georeference_themis(
    src_path: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    tile: ThemisTile | str | None = None,
    overwrite: bool = False,
    nodata: float | None = 0,
    block_rows: int = 512,
    progress: ProgressCallback | None = None,
) -> PixelGrid:
    """Write a georeferenced GeoTIFF copy of a THEMIS tile image.

    The copy is in the Mars equirectangular CRS (IAU_2015:49910), tiled and
    DEFLATE-compressed, read and written ``block_rows`` rows at a time so that
    a 59 Mpx tile never sits in memory whole.

    Parameters
    ----------
    src_path : path
        The tile image (PNG, JPEG, TIFF), named after its tile unless ``tile`` is given.
    out_path : path
        The GeoTIFF to write.
    tile : ThemisTile or str, optional
        The tile, when the file name does not say it.
    overwrite : bool
        Replace an existing ``out_path``.
    nodata : number or None
        Value marking missing pixels (THEMIS mosaics use 0, black); None for none.
    block_rows : int
        Rows per read/write window.
    progress : callable, optional
        Called with the fraction done, 0..1.

    Returns
    -------
    PixelGrid
        The grid of the written GeoTIFF.

    Raises
    ------
    TileNameError
        The tile cannot be told from the file name and ``tile`` is not given.
    """
    import rasterio
    from rasterio.windows import Window

    if tile is None:
        tile = ThemisTile.find_in_name(Path(src_path).name)
        if tile is None:
            raise TileNameError(
                f"cannot tell the THEMIS tile of {Path(src_path).name!r}; name the file after "
                "its tile (e.g. thm_dir_N-30_090.png) or give the tile (--tile)"
            )
    elif not isinstance(tile, ThemisTile):
        tile = ThemisTile.from_name(tile)
    with open_raster(src_path) as src:
        grid = themis_grid_for_shape(tile, src.width, src.height)
        profile = _geotiff_profile(grid, src.count, src.dtypes[0], nodata)
        with atomic_output(out_path, overwrite) as tmp:
            with rasterio.open(tmp, "w", **profile) as dst:
                for row in range(0, grid.height, block_rows):
                    window = Window(0, row, grid.width, min(block_rows, grid.height - row))
                    dst.write(src.read(window=window), window=window)
                    if progress is not None:
                        progress(min(1.0, (row + window.height) / grid.height))
            log.info("georeferenced %s as %s", src_path, tile.name)
    return grid


def check_windowed_reading(dataset, name: str, limit_px: int = MAX_SEQUENTIAL_PX) -> None:
    """Refuse a PNG / JPEG / GIF too large to be read window by window.

    These formats have no tiles or strips: GDAL decodes them from the first
    row for every window that starts above the last row decoded, so reading a
    large one window by window takes time that grows with the square of its
    height (once a band of rows leaves GDAL's cache), interlaced PNGs are
    decoded whole for every 100 MB of rows, and a progressive JPEG makes
    libjpeg hold the whole image's coefficients. GeoTIFFs (tiled or striped)
    are read at any size. Only the header has been read when this refuses.

    Parameters
    ----------
    dataset : rasterio.DatasetReader
        The open raster.
    name : str
        The file's name, for the message.
    limit_px : int
        Largest accepted ``width x height`` for these formats.

    Raises
    ------
    RasterReadError
        A PNG, JPEG or GIF larger than ``limit_px`` pixels; the message gives
        its size and the command that converts it to a tiled GeoTIFF.
    """
    width, height, driver = dataset.width, dataset.height, dataset.driver
    if driver in SEQUENTIAL_DRIVERS and width * height > limit_px:
        raise RasterReadError(
            f"{name} is a {width} x {height} px {driver} image ({width * height / 1e6:,.0f} Mpx); "
            f"{driver} files are decoded from their first row for every window, so those over "
            f"{limit_px / 1e6:,.0f} Mpx are not read. Convert it to a tiled GeoTIFF first "
            f"(GDAL reads it once, top to bottom): `gdal_translate -co TILED=YES -co "
            f"COMPRESS=DEFLATE -co BIGTIFF=IF_SAFER {name} {Path(name).stem}.tif` (QGIS: "
            "Raster > Conversion > Translate), or crop it"
        )


class RasterioSource:
    """A raster file read window by window through rasterio (a detection ``RasterSource``).

    Parameters
    ----------
    path : path
        GeoTIFF, THEMIS tile PNG named after its tile, or a plain image.
    band : int
        1-based band to read. A multi-band raster needs it chosen explicitly
        unless its bands are identical gray levels (RGB of a gray image).
    resolution_m : float, optional
        Pixel size of a plain image without georeferencing.

    Raises
    ------
    RasterReadError
        The file cannot be read, the band does not exist, or it is a PNG,
        JPEG or GIF larger than :data:`MAX_SEQUENTIAL_PX` (see
        :func:`check_windowed_reading`).
    """

    def __init__(self, path, band: int | None = None, resolution_m: float | None = None):
        self.path = Path(path)
        self._dataset = open_raster(self.path)
        try:
            check_windowed_reading(self._dataset, self.path.name)
            self.grid = read_grid(self.path, resolution_m=resolution_m)
            self.band = self._choose_band(band)
        except BaseException:
            self._dataset.close()
            raise
        self.nodata = self._dataset.nodatavals[self.band - 1]
        self.name = self.path.name

    def _choose_band(self, band: int | None) -> int:
        count = self._dataset.count
        if band is None:
            if count > 1 and self._dataset.colorinterp[0].name not in ("red", "gray", "grey"):
                raise RasterReadError(
                    f"{self.path.name} has {count} bands; choose one (--band N, 1..{count})"
                )
            return 1
        if not 1 <= band <= count:
            raise RasterReadError(f"{self.path.name} has no band {band}; choose 1..{count}")
        return band

    def read(self, col_off: int, row_off: int, width: int, height: int):
        """Read one window of the band."""
        from rasterio.windows import Window

        return self._dataset.read(self.band, window=Window(col_off, row_off, width, height))

    def close(self) -> None:
        """Close the file."""
        self._dataset.close()

    def __enter__(self) -> RasterioSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
