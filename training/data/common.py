"""What every training data pipeline shares: values, the split, windows, shuffling, tf.data.

A data kind (synthetic dots, THEMIS tiles, labelled images) is described by a
:class:`DataSource`: its :class:`DatasetInfo` (the split and the settings, saved
as ``dataset.json`` in the run folder), the shape of its samples and a loader
that turns one item (a tile, an image, a synthetic index) into samples, each a
:class:`ValidationItem` (image, target, weight and the craters in its pixels).

Everything up to the last step is numpy and runs without TensorFlow, so it is
tested and reused (crater-level validation) without it; :meth:`DataSource.datasets`
wraps the two sample streams in ``tf.data.Dataset.from_generator``. Nothing is
held in memory beyond one item and a small shuffle buffer.

Shuffling and augmentation use numpy generators seeded with ``(seed, epoch)``:
every epoch is reshuffled, and a new run with the same seed sees the same
sequence of epochs.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from geocore.atomic import atomic_output
from geocore.crater import CraterCatalog
from geocore.errors import GeocoreError, RasterReadError
from geocore.grid import PixelGrid
from geocore.targets import TargetSpec, craters_on_grid

__all__ = [
    "MAX_IMAGE_PIXELS",
    "MULTIPLE_PX",
    "SHUFFLE_BUFFER",
    "DataError",
    "DataSource",
    "DatasetInfo",
    "ValidationItem",
    "augment_item",
    "check_image_size",
    "craters_in_window",
    "cut_windows",
    "image_size",
    "n_windows",
    "read_gray_image",
    "require_folder",
    "sample_shape",
    "split_ids",
    "window_origins",
]

log = logging.getLogger(__name__)

#: Sample sides are multiples of this (the UNet pools 7 times: 2**7).
MULTIPLE_PX = 128
#: Largest image read in one piece: one 7680 x 7680 THEMIS tile.
MAX_IMAGE_PIXELS = 7680 * 7680
#: Samples held back to mix the sub-images of consecutive items in training.
SHUFFLE_BUFFER = 32


class DataError(GeocoreError, ValueError):
    """A training data folder, image, label set or split cannot be used."""


# --------------------------------------------------------------------- values
@dataclass(frozen=True, eq=False)
class ValidationItem:
    """One sample, ready for the network, with its ground truth.

    :func:`training.data.validation_items` yields these; the training stream is
    built from the same values.

    Parameters
    ----------
    item_id : str
        The item it comes from: a tile name, an image file name, ``"synthetic-17"``.
    sample_id : str
        This sample: ``item_id`` plus the window's origin, e.g.
        ``"thm_dir_N-30_090/r0512_c1024"`` (just ``item_id`` for one-window items).
    image : numpy.ndarray
        ``(H, W)`` float32 in [-1, 1].
    target : numpy.ndarray
        ``(H, W)`` float32, 0 or 1.
    weight : numpy.ndarray
        ``(H, W)`` float32, 1 on real pixels, 0 on padding.
    craters : CraterCatalog
        Ground truth drawn in ``target`` (the configured diameter range), with
        ``x_px``, ``y_px`` (pixel-centre convention) and ``diameter_px`` in this
        sample's pixels; craters cut by its edges included.
    grid : PixelGrid or None
        The sample's grid (georeferenced for THEMIS tiles; pixel-only for
        labelled images; None for synthetic images and augmented samples).

    Arrays are stored read-only.
    """

    item_id: str
    sample_id: str
    image: np.ndarray
    target: np.ndarray
    weight: np.ndarray
    craters: CraterCatalog
    grid: PixelGrid | None = None

    def __post_init__(self) -> None:
        shape = None
        for name in ("image", "target", "weight"):
            arr = np.asarray(getattr(self, name), dtype=np.float32)
            if arr.ndim != 2 or (shape is not None and arr.shape != shape):
                raise DataError(
                    f"{self.sample_id}: {name} has shape {arr.shape}; image, target and weight "
                    "must be 2-D arrays of the same shape"
                )
            shape = arr.shape
            view = arr.view()  # read-only view: the caller's array keeps its flags
            view.setflags(write=False)
            object.__setattr__(self, name, view)
        if self.grid is not None and (self.grid.height, self.grid.width) != shape:
            raise DataError(
                f"{self.sample_id}: grid is {self.grid.width} x {self.grid.height} px but the "
                f"image is {shape[1]} x {shape[0]} px"
            )

    @property
    def shape(self) -> tuple[int, int]:
        """``(H, W)`` of the arrays."""
        return self.image.shape


@dataclass(frozen=True)
class DatasetInfo:
    """What a run was trained on: the split and the data settings (``dataset.json``).

    Parameters
    ----------
    data_kind : str
        ``"synthetic"``, ``"themis-tiles"`` or ``"labelled-images"``.
    description : str
        One human sentence (goes into the ONNX metadata).
    resolution_m : float or None
        Pixel size the model is trained at, metres; None for synthetic data.
    n_train, n_val : int
        Number of items (tiles, images) in each part.
    train_ids, val_ids : tuple of str
        The items of each part (never one in both).
    target_kind, inner_ratio, ring_width_px : str, float, float
        How the targets are drawn (:class:`geocore.targets.TargetSpec`).
    min_diameter_km, max_diameter_km : float or None
        Diameter range of the craters drawn; None when not applied (synthetic).
    sample_width_px, sample_height_px : int
        Size of every sample (multiples of 128).
    n_train_samples, n_val_samples : int
        Number of samples (sub-images) per training epoch and per validation.
    source_resolution_m : float or None
        Pixel size of the data as read, metres.
    data_path, catalog, labels : str or None
        Where the data came from (folder, catalogue, label folder name).

    Examples
    --------
    >>> info = DatasetInfo("synthetic", "dots", None, 1, 1, ("a",), ("b",), "filled", 0.7,
    ...                    4.0, None, None, 128, 128, 1, 1)
    >>> DatasetInfo.from_json(info.to_json()) == info
    True
    """

    data_kind: str
    description: str
    resolution_m: float | None
    n_train: int
    n_val: int
    train_ids: tuple[str, ...]
    val_ids: tuple[str, ...]
    target_kind: str
    inner_ratio: float
    ring_width_px: float
    min_diameter_km: float | None
    max_diameter_km: float | None
    sample_width_px: int
    sample_height_px: int
    n_train_samples: int
    n_val_samples: int
    source_resolution_m: float | None = None
    data_path: str | None = None
    catalog: str | None = None
    labels: str | None = None

    def __post_init__(self) -> None:
        for name in ("train_ids", "val_ids"):
            object.__setattr__(self, name, tuple(str(v) for v in getattr(self, name)))
        if (self.n_train, self.n_val) != (len(self.train_ids), len(self.val_ids)):
            raise DataError(
                f"n_train={self.n_train}, n_val={self.n_val} do not match the "
                f"{len(self.train_ids)} train and {len(self.val_ids)} validation ids"
            )
        both = sorted(set(self.train_ids) & set(self.val_ids))
        if both:
            raise DataError(f"items {both[:5]} are in both the training and validation sets")
        for name in ("sample_width_px", "sample_height_px"):
            value = getattr(self, name)
            if value <= 0 or value % MULTIPLE_PX:
                raise DataError(f"{name}={value!r} must be a positive multiple of {MULTIPLE_PX}")

    def to_dict(self) -> dict:
        """Plain, JSON-ready dict of every field (ids as lists)."""
        data = dataclasses.asdict(self)
        data["train_ids"], data["val_ids"] = list(self.train_ids), list(self.val_ids)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> DatasetInfo:
        """Build from :meth:`to_dict`'s dict; unknown or missing keys are an error naming them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise DataError(f"unknown dataset fields {unknown}; known: {sorted(known)}")
        try:
            return cls(**data)
        except TypeError as err:
            raise DataError(f"dataset description is incomplete: {err}") from err

    def to_json(self) -> str:
        """The description as indented JSON."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> DatasetInfo:
        """Build from JSON text."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise DataError(f"dataset description is not valid JSON: {err}") from err
        if not isinstance(data, dict):
            raise DataError("dataset description must be a JSON object")
        return cls.from_dict(data)

    def save(self, path: str | Path, overwrite: bool = False) -> None:
        """Write ``dataset.json`` (atomically; an existing file needs ``overwrite``)."""
        with atomic_output(path, overwrite) as tmp:
            tmp.write_text(self.to_json() + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> DatasetInfo:
        """Read a file written by :meth:`save` (a file or a run folder)."""
        path = Path(path)
        if path.is_dir():
            path = path / "dataset.json"
        if not path.is_file():
            raise DataError(f"no dataset description at {str(path)!r}; give a run folder")
        return cls.from_json(path.read_text(encoding="utf-8"))


# ---------------------------------------------------------------- the split
def split_ids(
    ids: Sequence[str], validation_split: float, seed: int
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Split items (tiles, images) at random into training and validation ids.

    The ids are sorted first, so the split depends only on the set of ids, the
    share and the seed. ``round(n * validation_split)`` items go to validation,
    at least one and at most ``n - 1``. Each part keeps the sorted order.

    Raises
    ------
    DataError
        Fewer than 2 items, repeated ids, or a share outside (0, 1).

    Examples
    --------
    >>> train, val = split_ids([f"t{i}" for i in range(9)], 1 / 3, seed=0)
    >>> len(train), len(val), set(train) & set(val)
    (6, 3, set())
    """
    ids = sorted(str(i) for i in ids)
    if len(set(ids)) != len(ids):
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        raise DataError(f"item ids {repeated[:5]} appear more than once; ids must be unique")
    if not 0 < validation_split < 1:
        raise DataError(f"validation_split={validation_split!r} must be between 0 and 1")
    if len(ids) < 2:
        raise DataError(
            f"{len(ids)} item(s) {ids} cannot be split: at least 2 are needed "
            "(1 for training and 1 for validation); add tiles or images"
        )
    n_val = min(max(round(len(ids) * validation_split), 1), len(ids) - 1)
    order = np.random.default_rng(seed).permutation(len(ids))
    val = set(order[:n_val].tolist())
    train_ids = tuple(i for k, i in enumerate(ids) if k not in val)
    val_ids = tuple(i for k, i in enumerate(ids) if k in val)
    return train_ids, val_ids


# ------------------------------------------------------------------ windows
def sample_shape(height_px: int, width_px: int, tile_size_px: int) -> tuple[int, int]:
    """Shape of the samples cut from images of at most ``height_px`` x ``width_px``.

    Each side is the image side rounded up to a multiple of 128, at most
    ``tile_size_px``: small images are padded, large ones cut into windows.

    Examples
    --------
    >>> sample_shape(416, 416, 512), sample_shape(180, 180, 512), sample_shape(7680, 7680, 512)
    ((512, 512), (256, 256), (512, 512))
    """
    if height_px <= 0 or width_px <= 0:
        raise DataError(f"image size {width_px} x {height_px} px is empty")

    def side(n: int) -> int:
        return min(tile_size_px, MULTIPLE_PX * math.ceil(n / MULTIPLE_PX))

    return side(height_px), side(width_px)


def window_origins(length_px: int, window_px: int) -> list[int]:
    """Start of each window covering ``length_px`` (the last one may reach past the end).

    Examples
    --------
    >>> window_origins(768, 512), window_origins(7680, 512)[-1]
    ([0, 512], 7168)
    """
    return list(range(0, length_px, window_px))


def n_windows(height_px: int, width_px: int, shape: tuple[int, int]) -> int:
    """Number of windows of ``shape`` :func:`cut_windows` makes of an image."""
    return len(window_origins(height_px, shape[0])) * len(window_origins(width_px, shape[1]))


def cut_windows(
    item_id: str,
    image: np.ndarray,
    target: np.ndarray,
    grid: PixelGrid,
    craters: CraterCatalog,
    shape: tuple[int, int],
    spec: TargetSpec,
    rng: np.random.Generator | None = None,
    fill: float | None = None,
) -> Iterator[ValidationItem]:
    """Cut a prepared image and its target into samples of ``shape``.

    Windows reaching past the image are padded: image with ``fill`` (default
    the image's mean), target 0, weight 0. Each sample gets the craters whose
    footprint meets it (:func:`geocore.targets.craters_on_grid`), in its pixels.

    Parameters
    ----------
    item_id : str
        Name of the item (tile, image).
    image, target : numpy.ndarray
        ``(H, W)`` arrays on ``grid``; not modified.
    grid : PixelGrid
        The image's grid: georeferenced (craters placed by lon/lat) or pixel-only
        (craters placed by ``x_px``/``y_px``).
    craters : CraterCatalog
        Craters of the image (pixel coordinates on ``grid`` for pixel-only grids).
    shape : (int, int)
        ``(H, W)`` of the samples.
    spec : TargetSpec
        How the targets were drawn (rings reach beyond the rim).
    rng : numpy.random.Generator, optional
        Yield the windows in a random order; default row by row.
    fill : float, optional
        Image value of the padding.

    Yields
    ------
    ValidationItem
    """
    height, width = image.shape
    win_h, win_w = shape
    fill = float(np.mean(image, dtype=np.float64)) if fill is None else fill
    origins = [(r, c) for r in window_origins(height, win_h) for c in window_origins(width, win_w)]
    if rng is not None:
        origins = [origins[i] for i in rng.permutation(len(origins))]
    one = len(origins) == 1
    for r0, c0 in origins:
        h, w = min(win_h, height - r0), min(win_w, width - c0)
        img = np.full(shape, fill, dtype=np.float32)
        tgt = np.zeros(shape, dtype=np.float32)
        wgt = np.zeros(shape, dtype=np.float32)
        img[:h, :w] = image[r0 : r0 + h, c0 : c0 + w]
        tgt[:h, :w] = target[r0 : r0 + h, c0 : c0 + w]
        wgt[:h, :w] = 1.0
        window = grid.window(c0, r0, win_w, win_h)
        yield ValidationItem(
            item_id=item_id,
            sample_id=item_id if one else f"{item_id}/r{r0:04d}_c{c0:04d}",
            image=img,
            target=tgt,
            weight=wgt,
            craters=craters_in_window(craters, grid, window, r0, c0, spec),
            grid=window,
        )


def craters_in_window(
    craters: CraterCatalog, grid: PixelGrid, window: PixelGrid, row0: int, col0: int,
    spec: TargetSpec,
) -> CraterCatalog:  # fmt: skip
    """The craters that meet ``window`` (a window of ``grid`` at ``row0, col0``), in its pixels."""
    if not len(craters):
        return craters
    if grid.is_georeferenced:
        inside = craters[craters_on_grid(window, craters, spec)]
        return inside.with_pixels(window)
    shifted = craters.replace(x_px=craters.x_px - col0, y_px=craters.y_px - row0)
    return shifted[craters_on_grid(window, shifted, spec)]


# -------------------------------------------------------------- augmentation
def augment_item(item: ValidationItem, rng: np.random.Generator) -> ValidationItem:
    """A random flip and 90-degree rotation, the same for image, target, weight and craters.

    Square samples get one of the 8 symmetries of the square; others a flip
    and a rotation by 0 or 180 degrees (their shape is kept). The crater pixel
    coordinates follow; the grid is dropped (it no longer describes the pixels).
    """
    height, width = item.shape
    flip = bool(rng.integers(2))
    turns = int(rng.integers(4)) if height == width else 2 * int(rng.integers(2))
    arrays = [item.image, item.target, item.weight]
    craters = item.craters
    x, y = (craters.x_px, craters.y_px) if len(craters) else (np.empty(0), np.empty(0))
    if flip:  # left-right
        arrays = [a[:, ::-1] for a in arrays]
        x = width - 1 - x
    for _ in range(turns):  # np.rot90: counter-clockwise; (x, y) -> (y, W - 1 - x)
        arrays = [np.rot90(a) for a in arrays]
        x, y = y, width - 1 - x
        height, width = width, height
    image, target, weight = (np.ascontiguousarray(a) for a in arrays)
    if len(craters):
        craters = craters.replace(x_px=x, y_px=y)
    return ValidationItem(item.item_id, item.sample_id, image, target, weight, craters, None)


# ------------------------------------------------------------------ reading
def read_gray_image(path: Path, max_pixels: int = MAX_IMAGE_PIXELS) -> tuple[np.ndarray, float]:
    """Read a one-band image with Pillow: ``(array, max_value)``.

    8-bit images give ``max_value`` 255, 16-bit ones 65535; colour images are
    converted to gray.

    Raises
    ------
    RasterReadError
        The file cannot be read as an image.
    DataError
        The image has more than ``max_pixels`` pixels or an unsupported mode.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            width, height = img.size
            check_image_size(path, width, height, max_pixels)
            if img.mode in ("I;16", "I;16B", "I;16L"):
                return np.asarray(img, dtype=np.uint16), 65535.0
            if img.mode not in ("L", "P", "RGB", "RGBA", "LA", "1"):
                raise DataError(
                    f"image {str(path)!r} has pixel mode {img.mode!r}; give an 8-bit or "
                    "16-bit gray (or colour) image"
                )
            return np.asarray(img.convert("L")), 255.0
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as err:
        raise RasterReadError(f"cannot read image {str(path)!r}: {err}") from err


def image_size(path: Path, max_pixels: int = MAX_IMAGE_PIXELS) -> tuple[int, int]:
    """``(width, height)`` of an image from its header (Pillow), checked against ``max_pixels``."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            width, height = img.size
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as err:
        raise RasterReadError(f"cannot read image {str(path)!r}: {err}") from err
    check_image_size(path, width, height, max_pixels)
    return width, height


def check_image_size(path, width: int, height: int, max_pixels: int) -> None:
    """Raise :class:`DataError` for an empty image or one of more than ``max_pixels``."""
    if width <= 0 or height <= 0:
        raise DataError(f"image {str(path)!r} is empty ({width} x {height} px)")
    if width * height > max_pixels:
        raise DataError(
            f"image {str(path)!r} is {width} x {height} px, more than {max_pixels:,} px "
            "(one 7680 x 7680 THEMIS tile); cut it into smaller images first"
        )


# ------------------------------------------------------------------- source
Loader = Callable[[str, "np.random.Generator | None"], Iterator[ValidationItem]]


@dataclass(frozen=True)
class DataSource:
    """A data kind ready to stream: its description, sample shape and item loader.

    Parameters
    ----------
    info : DatasetInfo
        The split and settings.
    load : callable
        ``load(item_id, rng)`` yields the samples of one item; with ``rng``
        their order is random, without it fixed.
    seed : int
        Seed of the training shuffling and augmentation.
    augment : bool
        Augment training samples (:func:`augment_item`).
    shuffle_buffer : int
        Training samples held back to mix consecutive items.
    """

    info: DatasetInfo
    load: Loader
    seed: int = 0
    augment: bool = False
    shuffle_buffer: int = SHUFFLE_BUFFER

    @property
    def shape(self) -> tuple[int, int]:
        """``(H, W)`` of every sample."""
        return self.info.sample_height_px, self.info.sample_width_px

    def validation_items(self) -> Iterator[ValidationItem]:
        """The validation samples in a fixed order, never augmented."""
        for item_id in self.info.val_ids:
            yield from self.load(item_id, None)

    def training_items(self, epoch: int) -> Iterator[ValidationItem]:
        """One pass over the training samples, shuffled (and augmented) for ``epoch``.

        Items come in a random order, the samples of each in a random order,
        mixed through a buffer of ``shuffle_buffer`` samples; the random
        generator is seeded with ``(seed, epoch)``.
        """
        rng = np.random.default_rng([self.seed, epoch])
        ids = self.info.train_ids
        buffer: list[ValidationItem] = []

        def out(item: ValidationItem) -> ValidationItem:
            return augment_item(item, rng) if self.augment else item

        for k in rng.permutation(len(ids)):
            for item in self.load(ids[k], rng):
                if len(buffer) < self.shuffle_buffer:
                    buffer.append(item)
                    continue
                j = int(rng.integers(len(buffer)))
                buffer[j], item = item, buffer[j]
                yield out(item)
        for j in rng.permutation(len(buffer)):
            yield out(buffer[j])

    def datasets(self, batch_size: int, initial_epoch: int = 0):
        """The training and validation ``tf.data.Dataset`` of ``(image, target, weight)`` batches.

        Each element is three float32 tensors ``(B, H, W, 1)``. The training
        dataset is one pass (Keras repeats epochs); its first iteration is
        epoch ``initial_epoch`` of :meth:`training_items` (give the epoch a
        resumed run starts at), each new iteration the next epoch.
        """
        import os

        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import tensorflow as tf

        spec = tf.TensorSpec((*self.shape, 1), tf.float32)
        epochs = itertools.count(initial_epoch)

        def arrays(items: Iterator[ValidationItem]):
            for item in items:
                yield item.image[..., None], item.target[..., None], item.weight[..., None]

        def train_gen():
            epoch = next(epochs)
            log.debug("training data: epoch %d", epoch)
            return arrays(self.training_items(epoch))

        def val_gen():
            return arrays(self.validation_items())

        def make(gen, n_samples: int):
            ds = tf.data.Dataset.from_generator(gen, output_signature=(spec, spec, spec))
            ds = ds.batch(batch_size)
            ds = ds.apply(
                tf.data.experimental.assert_cardinality(math.ceil(n_samples / batch_size))
            )
            return ds.prefetch(2)

        return make(train_gen, self.info.n_train_samples), make(val_gen, self.info.n_val_samples)


def require_folder(path, what: str) -> Path:
    """``path`` as a Path; :class:`DataError` naming ``what`` when it is not a folder."""
    if path is None:
        raise DataError(f"no {what} given; pass the folder path")
    path = Path(path)
    if not path.is_dir():
        problem = "is a file, not a folder" if path.exists() else "does not exist"
        raise DataError(f"{what} {str(path)!r} {problem}; check the path")
    return path
