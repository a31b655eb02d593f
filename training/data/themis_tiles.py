"""THEMIS Day IR 256 px/degree mosaic tiles with a crater catalogue, as in the paper.

A folder holds tile images named after their tile (``thm_dir_N-30_090.png``;
PNG, TIFF or JPEG, anything :meth:`geocore.themis.ThemisTile.find_in_name`
recognises at the start of the name). Full tiles are 7680 x 7680 px; square
downsampled copies work too (their pixels are proportionally larger). The
craters come from a catalogue that :func:`geocore.catalog.read_catalog` reads
(e.g. the folder of Robbins per-tile CSVs) or a :class:`CraterCatalog`.

As DeLatte et al. (2018): missing (black) pixels become the tile's mean,
pixels are scaled to [-1, 1], the tiles are split at random into training and
validation tiles (``config.validation_split``, ``config.seed``; no tile in both),
and each tile is cut into ``tile_size_px`` sub-images (padded, with weight 0,
where the tile is not a multiple of it). Targets are drawn on the tile's grid
by :func:`geocore.targets.rasterize_targets` (true crater shapes on the sphere)
with the configured target kind and diameter range. One tile is in memory at a
time.

Where the catalogue is when none is given: ``<tiles folder>/catalog`` if that
folder exists, else ``robbins2012_pm30`` in the project's shared data folder
(``$SHARED_DATA``, default ``../shared/data`` beside the repository).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from geocore.catalog import load_catalog
from geocore.crater import CraterCatalog
from geocore.raster_io import themis_grid_for_shape
from geocore.targets import TargetSpec, craters_on_grid
from geocore.themis import TILE_SIZE_DEG, ThemisTile, preprocess
from training.config import TrainConfig

from .common import (
    MAX_IMAGE_PIXELS,
    DataError,
    DatasetInfo,
    DataSource,
    ValidationItem,
    cut_windows,
    image_size,
    n_windows,
    read_gray_image,
    require_folder,
    sample_shape,
    split_ids,
)

__all__ = [
    "TILE_SUFFIXES",
    "default_catalog",
    "find_tiles",
    "themis_tile_datasets",
    "themis_tile_source",
]

log = logging.getLogger(__name__)

TILE_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg")
_REPO = Path(__file__).resolve().parents[2]
# Resolutions closer than this (relative) are the same.
_RESOLUTION_TOLERANCE = 0.01


def shared_data_folder() -> Path:
    """The project's shared data folder: ``$SHARED_DATA`` or ``../shared/data`` beside the repo."""
    return Path(os.environ.get("SHARED_DATA", _REPO.parent / "shared" / "data"))


def find_tiles(folder: str | os.PathLike) -> dict[str, Path]:
    """The THEMIS tile images of a folder, by tile name (sorted).

    Raises
    ------
    DataError
        The folder does not exist, holds no tile image, or holds two images of
        one tile.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "thm_dir_N-30_090.png").write_bytes(b"")
    >>> list(find_tiles(folder))
    ['thm_dir_N-30_090']
    """
    folder = require_folder(folder, "THEMIS tile folder")
    tiles: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if not (path.is_file() and path.suffix.lower() in TILE_SUFFIXES):
            continue
        tile = ThemisTile.find_in_name(path.name)
        if tile is None:
            continue
        if tile.name in tiles:
            raise DataError(
                f"two images of tile {tile.name} in {str(folder)!r}: {tiles[tile.name].name!r} "
                f"and {path.name!r}; keep one tile image per tile in the folder"
            )
        tiles[tile.name] = path
    if not tiles:
        raise DataError(
            f"no THEMIS tile image in {str(folder)!r}; expected files named like "
            f"'thm_dir_N-30_090.png' (suffix {', '.join(TILE_SUFFIXES)})"
        )
    return dict(sorted(tiles.items()))


def default_catalog(tiles_folder: str | os.PathLike) -> Path:
    """The catalogue used when none is given (see the module documentation).

    Raises
    ------
    DataError
        Neither ``<tiles_folder>/catalog`` nor the shared Robbins folder exists.
    """
    candidates = [Path(tiles_folder) / "catalog", shared_data_folder() / "robbins2012_pm30"]
    for path in candidates:
        if path.is_dir():
            return path
    raise DataError(
        f"no crater catalogue for the THEMIS tiles: neither {', nor '.join(map(str, candidates))} "
        "exists; give one (a folder of Robbins CSV_Tile_*.csv files or a crater CSV/GeoPackage)"
    )


def themis_tile_source(
    config: TrainConfig,
    tiles_folder: str | os.PathLike,
    catalog_source: str | os.PathLike | CraterCatalog | None = None,
    max_image_px: int = MAX_IMAGE_PIXELS,
) -> DataSource:
    """The THEMIS tiles of a folder as a :class:`~training.data.common.DataSource`.

    Parameters
    ----------
    config : TrainConfig
        Split, targets, diameter range, ``tile_size_px``, seed, augmentation.
        ``resolution_m`` / ``source_resolution_m``, when set, must be the
        tiles' own (they are not resampled).
    tiles_folder : str or os.PathLike
        Folder of tile images (see :func:`find_tiles`); all the same size.
    catalog_source : path or CraterCatalog, optional
        Craters with longitude/latitude; default :func:`default_catalog`.
    max_image_px : int
        Largest tile image accepted, pixels.

    Raises
    ------
    DataError
        Missing folder or catalogue, no tile, tiles of different sizes, fewer
        than 2 tiles, a resolution in ``config`` that is not the tiles'.
    GridError
        A tile image is not square.
    """
    tiles = find_tiles(tiles_folder)
    sizes = {name: image_size(path, max_image_px) for name, path in tiles.items()}
    if len(set(sizes.values())) > 1:
        listed = ", ".join(f"{n} {w}x{h}" for n, (w, h) in sizes.items())
        raise DataError(f"THEMIS tiles of different sizes ({listed}); resample them to one size")
    width, height = next(iter(sizes.values()))
    grids = {n: themis_grid_for_shape(ThemisTile.from_name(n), width, height) for n in tiles}
    resolution_m = next(iter(grids.values())).resolution_m
    for name in ("resolution_m", "source_resolution_m"):
        wanted = getattr(config, name)
        if wanted is not None and abs(wanted / resolution_m - 1) > _RESOLUTION_TOLERANCE:
            raise DataError(
                f"{name}={wanted:g} m/px but the THEMIS tiles are {width} x {height} px, "
                f"{resolution_m:.1f} m/px; tiles are used at their own resolution: leave "
                f"{name} unset"
            )
    catalog, catalog_name = _load_catalog(config, tiles_folder, catalog_source)
    train_ids, val_ids = split_ids(list(tiles), config.validation_split, config.seed)
    shape = sample_shape(height, width, config.tile_size_px)
    per_tile = n_windows(height, width, shape)
    spec = TargetSpec(config.target_kind, config.inner_ratio, config.ring_width_px)
    info = DatasetInfo(
        data_kind="themis-tiles",
        description=(
            f"THEMIS Day IR {width / TILE_SIZE_DEG:g} px/degree tiles with "
            f"{Path(catalog_name).name} labels, {len(train_ids)} train / {len(val_ids)} val "
            f"tiles cut into {shape[1]} x {shape[0]} px sub-images, {resolution_m:.1f} m/px"
        ),
        resolution_m=resolution_m,
        n_train=len(train_ids),
        n_val=len(val_ids),
        train_ids=train_ids,
        val_ids=val_ids,
        target_kind=spec.kind,
        inner_ratio=spec.inner_ratio,
        ring_width_px=spec.ring_width_px,
        min_diameter_km=config.min_diameter_km,
        max_diameter_km=config.max_diameter_km,
        sample_width_px=shape[1],
        sample_height_px=shape[0],
        n_train_samples=per_tile * len(train_ids),
        n_val_samples=per_tile * len(val_ids),
        source_resolution_m=resolution_m,
        data_path=str(tiles_folder),
        catalog=catalog_name,
    )

    def load(name: str, rng: np.random.Generator | None) -> Iterator[ValidationItem]:
        pixels, max_value = read_gray_image(tiles[name], max_image_px)
        if pixels.shape != (height, width):
            raise DataError(f"tile image {str(tiles[name])!r} changed size while training")
        grid = grids[name]
        image = preprocess(pixels, max_value)
        del pixels
        craters = catalog[craters_on_grid(grid, catalog, spec)]
        target = spec.rasterize(grid, craters)
        log.debug("tile %s: %d craters", name, len(craters))
        yield from cut_windows(name, image, target, grid, craters, shape, spec, rng)

    return DataSource(info, load, seed=config.seed, augment=config.augment)


def themis_tile_datasets(
    config: TrainConfig,
    tiles_folder: str | os.PathLike,
    catalog_source: str | os.PathLike | CraterCatalog | None = None,
):
    """Training and validation ``tf.data.Dataset`` of THEMIS tiles, and their description.

    See :func:`themis_tile_source` for the parameters.

    Returns
    -------
    (tf.data.Dataset, tf.data.Dataset, DatasetInfo)
    """
    source = themis_tile_source(config, tiles_folder, catalog_source)
    return (*source.datasets(config.batch_size), source.info)


def _load_catalog(config: TrainConfig, tiles_folder, source) -> tuple[CraterCatalog, str]:
    """The catalogue in the configured diameter range, and its name for the description."""
    if isinstance(source, CraterCatalog):
        catalog, name = source, "in-memory catalogue"
    else:
        path = default_catalog(tiles_folder) if source is None else Path(source)
        catalog, name = load_catalog(path), str(path)
    catalog = catalog.filter(
        min_diameter_km=config.min_diameter_km, max_diameter_km=config.max_diameter_km
    )
    lon, lat = np.asarray(catalog.lon_deg), np.asarray(catalog.lat_deg)
    if len(catalog) and not np.all(np.isfinite(lon) & np.isfinite(lat)):
        raise DataError(
            f"catalogue {name!r} has craters without longitude/latitude; THEMIS tiles need "
            "georeferenced craters (use labelled-images for pixel labels)"
        )
    log.info("catalogue %s: %d craters in %g-%g km", name, len(catalog),
             config.min_diameter_km, config.max_diameter_km)  # fmt: skip
    return catalog, name
