"""Plain images with YOLO crater boxes, e.g. the THEMIS Day IR 100 m/px set.

A folder holds ``images/`` (JPEG, PNG or TIFF) and one or more label folders
of YOLO box files named after the images (``labels_robbins/`` by default; see
:mod:`geocore.yolo`); an image without a label file holds no crater, a label
file without an image is an error. The images have no georeferencing, only a
resolution: ``config.source_resolution_m``, default 100 m/px (the THEMIS Day
IR set of ``../shared/data/themis_dayir_100m``).

With ``config.resolution_m`` set, each image is resampled to it first
(Pillow, bilinear with antialiasing when shrinking, i.e. an area average),
the crater positions and pixel diameters are scaled with it, and the targets
are drawn after resampling on the resampled image's pixel grid, so a 20 px
crater at 100 m/px becomes a ~8.6 px one at 231.5 m/px (the paper's tiles).

Images go through the paper's pre-processing (black pixels to the image mean,
``[0, 255] -> [-1, 1]``), are split at random by image (``validation_split``,
``seed``), and are padded (image mean, weight 0) to the sample size: each side
the largest image side of the set rounded up to a multiple of 128, at most
``tile_size_px``; larger images are cut into windows of that size.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geocore.crater import CraterCatalog
from geocore.grid import PixelGrid
from geocore.targets import TargetSpec
from geocore.themis import fill_missing, scale_to_unit_range
from geocore.yolo import IMAGE_SUFFIXES, read_yolo_labels
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
    "DEFAULT_LABELS",
    "DEFAULT_SOURCE_RESOLUTION_M",
    "labelled_image_datasets",
    "labelled_image_source",
    "resample_image",
    "resampled_craters",
    "resampled_grid",
]

log = logging.getLogger(__name__)

#: Resolution of labelled images when the configuration gives none: the THEMIS Day IR set.
DEFAULT_SOURCE_RESOLUTION_M = 100.0
#: Label folder used by default.
DEFAULT_LABELS = "labels_robbins"


@dataclass(frozen=True)
class _Image:
    """One labelled image as planned at set-up: file, sizes, craters on the resampled grid."""

    path: Path
    size_px: tuple[int, int]  # width, height as read
    grid: PixelGrid  # the (resampled) image's pixel-only grid
    craters: CraterCatalog


def resampled_grid(
    size_px: tuple[int, int], source_resolution_m: float, resolution_m: float
) -> PixelGrid:
    """Pixel-only grid of an image of ``size_px`` resampled from one resolution to another.

    The new size is the old one times ``source_resolution_m / resolution_m``,
    rounded; the grid covers exactly the original image, so its pixels are
    ``resolution_m`` wide to within that rounding.

    Raises
    ------
    DataError
        The resampled image would have no pixel.

    Examples
    --------
    >>> grid = resampled_grid((416, 416), 100.0, 231.5)
    >>> grid.width, round(grid.resolution_m, 1)
    (180, 231.1)
    """
    width, height = size_px
    factor = source_resolution_m / resolution_m
    new_w, new_h = round(width * factor), round(height * factor)
    if new_w < 1 or new_h < 1:
        raise DataError(
            f"a {width} x {height} px image at {source_resolution_m:g} m/px becomes "
            f"{new_w} x {new_h} px at {resolution_m:g} m/px; choose a finer resolution_m"
        )
    res_x, res_y = width * source_resolution_m / new_w, height * source_resolution_m / new_h
    return PixelGrid((res_x, 0.0, 0.0, 0.0, -res_y, 0.0), new_w, new_h)


def resampled_craters(
    craters: CraterCatalog, size_px: tuple[int, int], source_resolution_m: float, grid: PixelGrid
) -> CraterCatalog:
    """Craters of an image of ``size_px`` moved to the pixels of its resampled ``grid``.

    Positions go through map coordinates (metres from the image corner), so
    the pixel-centre convention is kept; ``diameter_px`` scales with the mean
    of the two axes' factors; ``diameter_km`` is unchanged.

    Examples
    --------
    >>> cat = CraterCatalog([np.nan], [np.nan], [2.0], x_px=[207.5], y_px=[0.0], diameter_px=[20.0])
    >>> grid = resampled_grid((416, 416), 100.0, 231.5)
    >>> out = resampled_craters(cat, (416, 416), 100.0, grid)
    >>> round(float(out.x_px[0]), 2), round(float(out.diameter_px[0]), 2)
    (89.5, 8.65)
    """
    if not len(craters):
        return craters
    source = PixelGrid.from_resolution(*size_px, source_resolution_m)
    x, y = grid.xy_to_pixel(*source.pixel_to_xy(craters.x_px, craters.y_px))
    scale = (grid.width / size_px[0] + grid.height / size_px[1]) / 2.0
    return craters.replace(x_px=x, y_px=y, diameter_px=craters.diameter_px * scale)


def resample_image(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """A float image resized to ``width`` x ``height`` (Pillow bilinear, antialiased); a copy."""
    from PIL import Image

    resized = Image.fromarray(np.asarray(image, dtype=np.float32), mode="F").resize(
        (width, height), Image.Resampling.BILINEAR
    )
    return np.asarray(resized, dtype=np.float32).copy()


def labelled_image_source(
    config: TrainConfig,
    folder: str | os.PathLike,
    labels: str = DEFAULT_LABELS,
    limit: int | None = None,
    max_image_px: int = MAX_IMAGE_PIXELS,
) -> DataSource:
    """A folder of labelled images as a :class:`~training.data.common.DataSource`.

    Every selected label file is read (and checked) here, before any training.

    Parameters
    ----------
    config : TrainConfig
        Split, targets, diameter range, resolutions, ``tile_size_px``, seed,
        augmentation.
    folder : str or os.PathLike
        Folder holding ``images/`` and ``labels``.
    labels : str
        Name of the label folder inside ``folder``.
    limit : int, optional
        Use only the first ``limit`` images (by file name), e.g. for a quick test.
    max_image_px : int
        Largest image accepted, pixels.

    Raises
    ------
    DataError
        Missing folder, no image, a label file without an image, two images of
        one name, an image too large or resampled to nothing, fewer than 2 images.
    CatalogFormatError
        A malformed label file or a box outside its image (:mod:`geocore.yolo`).
    """
    folder = require_folder(folder, "labelled image folder")
    images = _find_images(require_folder(folder / "images", "image folder"))
    labels_dir = folder / labels
    if not labels_dir.is_dir():
        found = sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name != "images")
        raise DataError(
            f"no label folder {labels!r} in {str(folder)!r} (it holds {found}); "
            "choose one with labels=..."
        )
    label_files = {p.stem: p for p in labels_dir.glob("*.txt") if p.name != "classes.txt"}
    orphans = sorted(set(label_files) - {p.stem for p in images.values()})
    if orphans:
        raise DataError(
            f"{len(orphans)} label files in {str(labels_dir)!r} have no image in "
            f"{str(folder / 'images')!r}, e.g. {orphans[0]}.txt; add the images or remove "
            "the labels"
        )
    if limit is not None:
        if int(limit) != limit or limit < 1:
            raise DataError(f"limit={limit!r} must be a positive whole number of images")
        images = dict(list(images.items())[:limit])

    source_res = config.source_resolution_m or DEFAULT_SOURCE_RESOLUTION_M
    resolution = config.resolution_m or source_res
    planned = {}
    for name, path in images.items():
        size = image_size(path, max_image_px)
        grid = resampled_grid(size, source_res, resolution)
        label = label_files.get(path.stem)
        craters = CraterCatalog.empty() if label is None else read_yolo_labels(
            label, size, source_res, source=name
        )  # fmt: skip
        craters = craters.filter(
            min_diameter_km=config.min_diameter_km, max_diameter_km=config.max_diameter_km
        )
        planned[name] = _Image(path, size, grid, resampled_craters(craters, size, source_res, grid))
    train_ids, val_ids = split_ids(list(planned), config.validation_split, config.seed)
    shape = sample_shape(
        max(p.grid.height for p in planned.values()),
        max(p.grid.width for p in planned.values()),
        config.tile_size_px,
    )

    def count(ids) -> int:
        return sum(n_windows(planned[i].grid.height, planned[i].grid.width, shape) for i in ids)

    spec = TargetSpec(config.target_kind, config.inner_ratio, config.ring_width_px)
    resampled = resolution != source_res
    where = f"{folder.parent.name}/{folder.name}" if folder.parent.name else folder.name
    info = DatasetInfo(
        data_kind="labelled-images",
        description=(
            f"{source_res:g} m/px labelled images from {where} with {labels} labels, "
            f"{len(train_ids)} train / {len(val_ids)} val images"
            + (f", resampled to {resolution:g} m/px" if resampled else "")
            + f", {shape[1]} x {shape[0]} px samples"
        ),
        resolution_m=resolution,
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
        n_train_samples=count(train_ids),
        n_val_samples=count(val_ids),
        source_resolution_m=source_res,
        data_path=str(folder),
        labels=labels,
    )

    def load(name: str, rng: np.random.Generator | None) -> Iterator[ValidationItem]:
        item = planned[name]
        pixels, max_value = read_gray_image(item.path, max_image_px)
        if pixels.shape[::-1] != item.size_px:
            raise DataError(f"image {str(item.path)!r} changed size while training")
        image = fill_missing(pixels)
        if resampled:
            image = resample_image(image, item.grid.width, item.grid.height)
        image = scale_to_unit_range(image, max_value)
        target = spec.rasterize(item.grid, item.craters)
        yield from cut_windows(name, image, target, item.grid, item.craters, shape, spec, rng)

    return DataSource(info, load, seed=config.seed, augment=config.augment)


def labelled_image_datasets(
    config: TrainConfig,
    folder: str | os.PathLike,
    labels: str = DEFAULT_LABELS,
    limit: int | None = None,
):
    """Training and validation ``tf.data.Dataset`` of labelled images, and their description.

    See :func:`labelled_image_source` for the parameters.

    Returns
    -------
    (tf.data.Dataset, tf.data.Dataset, DatasetInfo)
    """
    source = labelled_image_source(config, folder, labels, limit)
    return (*source.datasets(config.batch_size), source.info)


def _find_images(images_dir: Path) -> dict[str, Path]:
    """Image files of a folder by file name (sorted); stems must be unique."""
    images: dict[str, Path] = {}
    stems: dict[str, str] = {}
    for path in sorted(images_dir.iterdir()):
        if not (path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES):
            continue
        if path.stem in stems:
            raise DataError(
                f"two images named {path.stem!r} in {str(images_dir)!r} ({stems[path.stem]}, "
                f"{path.name}); a label file must match one image: rename or remove one"
            )
        stems[path.stem] = path.name
        images[path.name] = path
    if not images:
        raise DataError(
            f"no image in {str(images_dir)!r}; expected {', '.join(IMAGE_SUFFIXES)} files"
        )
    return images
