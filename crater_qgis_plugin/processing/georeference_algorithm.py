"""``craterdetect:georeferencethemis``: a THEMIS tile image -> a georeferenced GeoTIFF.

The THEMIS Day IR 256 px/degree mosaic tiles are distributed as images named
after their tile (``thm_dir_N-30_090.png`` covers lat -30..0, lon 90..120 east);
the name is their only georeferencing. The copy is written by GDAL (from QGIS's
own Python) in the Mars equirectangular CRS (IAU_2015:49910's definition),
tiled and compressed, to a temporary name first.
"""

from __future__ import annotations

from pathlib import Path

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterString,
)

from geocore.atomic import atomic_output
from geocore.errors import GeocoreError
from geocore.themis import TILE_SIZE_PX, ThemisTile

from ..crater_layers import mars_qgs_crs
from ..errors import PluginInputError

__all__ = ["GeoreferenceThemisAlgorithm", "themis_tile_grid"]

_HELP = """\
Writes a georeferenced GeoTIFF copy of a THEMIS Day IR 256 px/degree mosaic tile image \
(PNG, JPEG or TIFF) whose place is known from its name only: \
thm_dir_N&lt;lat_min&gt;_&lt;lon_min&gt;, e.g. thm_dir_N-30_090.png covers latitudes -30..0 \
and longitudes 90..120 east. Full tiles are 7680 x 7680 px; square downsampled copies get \
proportionally larger pixels.
The GeoTIFF is in the Mars equirectangular CRS on the IAU 2015 sphere (IAU_2015:49910); black \
(0) pixels, missing data in THEMIS mosaics, are marked as nodata unless NODATA is emptied."""


def themis_tile_grid(path: str, tile_name: str | None, width: int, height: int):
    """The tile and grid of a THEMIS tile image of ``width`` x ``height`` px.

    Raises
    ------
    PluginInputError
        The tile cannot be told from the name, or the image is not square.
    """
    if tile_name:
        try:
            tile = ThemisTile.from_name(tile_name.strip())
        except GeocoreError as err:
            raise PluginInputError(str(err)) from err
    else:
        tile = ThemisTile.find_in_name(Path(path).name)
        if tile is None:
            raise PluginInputError(
                f"cannot tell the THEMIS tile of {Path(path).name!r}; name the file after its "
                "tile (e.g. thm_dir_N-30_090.png) or give the tile name (TILE)"
            )
    if width != height:
        raise PluginInputError(
            f"a THEMIS tile image is square (7680 x 7680 px), but {Path(path).name} is "
            f"{width} x {height} px; crop or resample it, or georeference it yourself"
        )
    grid = tile.grid
    return tile, (grid if width == TILE_SIZE_PX else grid.scaled(TILE_SIZE_PX / width))


class GeoreferenceThemisAlgorithm(QgsProcessingAlgorithm):
    """THEMIS tile image -> georeferenced GeoTIFF."""

    INPUT = "INPUT"
    TILE = "TILE"
    NODATA = "NODATA"
    OUTPUT = "OUTPUT"

    def createInstance(self) -> GeoreferenceThemisAlgorithm:  # the name QGIS calls
        """A fresh copy for one run."""
        return GeoreferenceThemisAlgorithm()

    def name(self) -> str:
        """The id within the provider."""
        return "georeferencethemis"

    def displayName(self) -> str:  # the name QGIS calls
        """The name in the toolbox."""
        return "Georeference a THEMIS tile image"

    def shortHelpString(self) -> str:  # the name QGIS calls
        """The help shown beside the parameters."""
        return _HELP.replace("\n", "<br>")

    def initAlgorithm(self, config=None) -> None:  # the name QGIS calls
        """Declare the parameters."""
        self.addParameter(
            QgsProcessingParameterFile(
                self.INPUT,
                "THEMIS tile image (named like thm_dir_N-30_090.png)",
                fileFilter="Images (*.png *.PNG *.jpg *.jpeg *.tif *.tiff);;All files (*)",
            )
        )
        self.addParameter(
            QgsProcessingParameterString(
                self.TILE, "Tile name, when the file name does not say it", None, False, True
            )
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                self.NODATA,
                "Nodata value (THEMIS: 0; empty: none)",
                QgsProcessingParameterNumber.Double,
                0.0,
                True,
            )
        )
        self.addParameter(
            QgsProcessingParameterRasterDestination(self.OUTPUT, "Georeferenced GeoTIFF")
        )

    def processAlgorithm(self, parameters, context, feedback) -> dict:  # the name QGIS calls
        """Write the GeoTIFF with GDAL."""
        from osgeo import gdal

        src_path = self.parameterAsFile(parameters, self.INPUT, context)
        out_path = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        if Path(out_path).suffix.lower() not in (".tif", ".tiff"):
            raise QgsProcessingException(
                f"OUTPUT={out_path!r}: the output is a GeoTIFF; give a .tif file name"
            )
        tile_name = self.parameterAsString(parameters, self.TILE, context)
        nodata = None
        if parameters.get(self.NODATA, 0.0) not in (None, ""):  # missing: the default, 0
            nodata = self.parameterAsDouble(parameters, self.NODATA, context)
        try:
            src = gdal.OpenEx(src_path, gdal.OF_RASTER | gdal.OF_READONLY)
        except RuntimeError:  # GDAL's Python raises when exceptions were turned on
            src = None
        if src is None:
            raise QgsProcessingException(
                f"cannot open {src_path!r} as an image ({gdal.GetLastErrorMsg()}); give a "
                "PNG, JPEG or TIFF THEMIS tile"
            )
        try:
            tile, grid = themis_tile_grid(src_path, tile_name, src.RasterXSize, src.RasterYSize)
        except GeocoreError as err:
            raise QgsProcessingException(str(err)) from err
        west, north = grid.pixel_to_xy(0, 0, offset="corner")
        east, south = grid.pixel_to_xy(grid.width, grid.height, offset="corner")
        feedback.pushInfo(
            f"{Path(src_path).name}: tile {tile.name}, {grid.width} x {grid.height} px at "
            f"{grid.resolution_m:.1f} m/px"
        )

        def progress(fraction, _message, _data) -> int:
            feedback.setProgress(100.0 * fraction)
            return 0 if feedback.isCanceled() else 1

        try:
            with atomic_output(out_path, overwrite=True) as tmp:
                options = gdal.TranslateOptions(
                    format="GTiff",
                    outputSRS=mars_qgs_crs(grid).toWkt(),
                    outputBounds=[float(west), float(north), float(east), float(south)],
                    noData=nodata,
                    creationOptions=["TILED=YES", "COMPRESS=DEFLATE", "BIGTIFF=IF_SAFER"],
                    callback=progress,
                )
                try:
                    written = gdal.Translate(str(tmp), src, options=options)
                except RuntimeError:  # GDAL's Python raises when exceptions were turned on
                    written = None
                if written is None:
                    if feedback.isCanceled():
                        raise QgsProcessingException("cancelled; nothing was written")
                    raise QgsProcessingException(
                        f"GDAL could not write {out_path!r}: {gdal.GetLastErrorMsg()}"
                    )
                written = None  # closes and flushes the file before it is moved
        except GeocoreError as err:
            raise QgsProcessingException(str(err)) from err
        finally:
            src = None
        return {self.OUTPUT: out_path}
