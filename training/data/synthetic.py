"""The paper's synthetic set (DeLatte et al. 2018, sect. 3.1): gray dots on black.

Each image is ``tile_size_px`` square, black, with random dots (disks) of
various sizes and shades of gray; its target draws the same disks (filled for
the S presets; outline or ring targets if the configuration asks). Image ``i``
is drawn from a numpy generator seeded with ``(config.seed, i)``: the training
images are ``i = 0 .. synthetic_train_images - 1``, the validation images the
next ``synthetic_val_images`` indices, so both sets are reproducible and never
share an image. Pixels are scaled like the real data, ``[0, 255] -> [-1, 1]``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from geocore.crater import CraterCatalog
from geocore.grid import PixelGrid
from geocore.targets import TargetSpec, rasterize_targets
from geocore.themis import scale_to_unit_range
from training.config import TrainConfig

from .common import DatasetInfo, DataSource, ValidationItem

__all__ = ["render_dots", "synthetic_datasets", "synthetic_item", "synthetic_source"]

#: Dots per 512 x 512 px image (scaled with the image area).
DOTS_PER_512 = (8, 40)
#: Smallest dot diameter, px; the largest is an eighth of the image side.
MIN_DOT_DIAMETER_PX = 6.0
#: Gray levels of the dots (the background is 0).
SHADES = (40, 255)


def render_dots(size_px: int, rng: np.random.Generator) -> tuple[np.ndarray, CraterCatalog]:
    """Random gray dots on a black square: ``(uint8 image, craters)``.

    Diameters are log-uniform between 6 px and ``size_px / 8``; centres
    uniform over the image (dots may be cut by its edge or overlap, larger
    ones drawn first). A pixel belongs to a dot when its centre is within the
    radius, as in :func:`geocore.targets.rasterize_targets`. The craters have
    pixel coordinates only; ``diameter_km`` is nominally ``diameter_px``.

    Examples
    --------
    >>> image, craters = render_dots(128, np.random.default_rng(0))
    >>> image.shape, image.dtype.name, len(craters) >= 1
    ((128, 128), 'uint8', True)
    """
    area = (size_px / 512.0) ** 2
    low, high = (max(1, round(n * area)) for n in DOTS_PER_512)
    n = int(rng.integers(low, high + 1))
    max_d = max(MIN_DOT_DIAMETER_PX * 1.5, size_px / 8.0)
    diameter_px = np.exp(rng.uniform(math.log(MIN_DOT_DIAMETER_PX), math.log(max_d), n))
    x_px = rng.uniform(0.0, size_px - 1.0, n)
    y_px = rng.uniform(0.0, size_px - 1.0, n)
    shade = rng.integers(SHADES[0], SHADES[1] + 1, n)
    craters = CraterCatalog(
        lon_deg=np.full(n, np.nan),
        lat_deg=np.full(n, np.nan),
        diameter_km=diameter_px,
        x_px=x_px,
        y_px=y_px,
        diameter_px=diameter_px,
        source=np.full(n, "synthetic", dtype=object),
    )
    image = np.zeros((size_px, size_px), dtype=np.uint8)
    rows = np.arange(size_px, dtype=float)
    for i in np.argsort(-craters.diameter_px, kind="stable"):
        x, y, r = craters.x_px[i], craters.y_px[i], craters.diameter_px[i] / 2.0
        c0, c1 = max(0, math.floor(x - r)), min(size_px, math.ceil(x + r) + 1)
        r0, r1 = max(0, math.floor(y - r)), min(size_px, math.ceil(y + r) + 1)
        dx, dy = rows[c0:c1] - x, rows[r0:r1] - y
        inside = dy[:, None] ** 2 + dx[None, :] ** 2 <= r**2
        image[r0:r1, c0:c1][inside] = shade[i]
    return image, craters


def synthetic_item(config: TrainConfig, index: int) -> ValidationItem:
    """Synthetic image ``index`` of a configuration, with its target (reproducible)."""
    size = config.tile_size_px
    image, craters = render_dots(size, np.random.default_rng([config.seed, index]))
    grid = PixelGrid.from_resolution(size, size, 1000.0)  # nominal: 1 px = 1 "km"
    target = rasterize_targets(
        grid,
        craters,
        kind=config.target_kind,
        inner_ratio=config.inner_ratio,
        ring_width_px=config.ring_width_px,
    )
    item_id = _item_id(index)
    ones = np.ones((size, size), dtype=np.float32)
    return ValidationItem(item_id, item_id, scale_to_unit_range(image), target, ones, craters)


def synthetic_source(config: TrainConfig) -> DataSource:
    """The synthetic set of ``config`` as a :class:`~training.data.common.DataSource`."""
    n_train, n_val = config.synthetic_train_images, config.synthetic_val_images
    size = config.tile_size_px
    info = DatasetInfo(
        data_kind="synthetic",
        description=(
            f"Synthetic gray dots on black (DeLatte et al. 2018, sect. 3.1), "
            f"{n_train} train / {n_val} val images of {size} x {size} px"
        ),
        resolution_m=None,
        n_train=n_train,
        n_val=n_val,
        train_ids=tuple(_item_id(i) for i in range(n_train)),
        val_ids=tuple(_item_id(i) for i in range(n_train, n_train + n_val)),
        target_kind=TargetSpec(config.target_kind).kind,
        inner_ratio=config.inner_ratio,
        ring_width_px=config.ring_width_px,
        min_diameter_km=None,
        max_diameter_km=None,
        sample_width_px=size,
        sample_height_px=size,
        n_train_samples=n_train,
        n_val_samples=n_val,
    )

    def load(item_id: str, rng: np.random.Generator | None) -> Iterator[ValidationItem]:
        yield synthetic_item(config, int(item_id.rsplit("-", 1)[1]))

    return DataSource(info, load, seed=config.seed, augment=config.augment)


def synthetic_datasets(config: TrainConfig):
    """Training and validation ``tf.data.Dataset`` of the synthetic set, and its description.

    Returns
    -------
    (tf.data.Dataset, tf.data.Dataset, DatasetInfo)
    """
    source = synthetic_source(config)
    return (*source.datasets(config.batch_size), source.info)


def _item_id(index: int) -> str:
    return f"synthetic-{index:05d}"
