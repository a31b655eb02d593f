"""Streaming training data: synthetic dots, THEMIS tiles with a catalogue, labelled images.

:func:`make_datasets` is what ``training.train`` calls: it picks the data kind
of the configuration and returns the training and validation
``tf.data.Dataset`` and a :class:`DatasetInfo` (saved as ``dataset.json``).
Each dataset yields ``(image, target, weight)`` batches, float32, ``(B, H, W, 1)``:
the image in [-1, 1], the target 0/1 and the weight 1 on real pixels and 0 on
padding (Keras uses it as a per-pixel sample weight). The training dataset is
one pass over the training items, shuffled anew each epoch from
``config.seed`` and augmented when ``config.augment``; the validation dataset
is fixed. :func:`validation_items` yields the validation samples with their
ground-truth craters, for crater-level metrics.

``data_path`` by kind:

* ``synthetic``: not used (may be None).
* ``themis-tiles``: the folder of tile images; the catalogue is ``catalog=``,
  else ``<data_path>/catalog``, else the shared Robbins folder
  (:func:`training.data.themis_tiles.default_catalog`).
* ``labelled-images``: the folder holding ``images/`` and the label folder
  ``labels=`` (default ``labels_robbins``).

Importing this package does not import TensorFlow; building datasets does.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

from geocore.crater import CraterCatalog
from training.config import TrainConfig

from .common import DataError, DatasetInfo, DataSource, ValidationItem, split_ids
from .labelled_images import DEFAULT_LABELS, labelled_image_datasets, labelled_image_source
from .synthetic import synthetic_datasets, synthetic_source
from .themis_tiles import themis_tile_datasets, themis_tile_source

__all__ = [
    "DataError",
    "DataSource",
    "DatasetInfo",
    "ValidationItem",
    "data_source",
    "labelled_image_datasets",
    "labelled_image_source",
    "make_datasets",
    "split_ids",
    "synthetic_datasets",
    "synthetic_source",
    "themis_tile_datasets",
    "themis_tile_source",
    "validation_items",
]

log = logging.getLogger(__name__)


def data_source(
    config: TrainConfig,
    data_path: str | os.PathLike | None,
    catalog: str | os.PathLike | CraterCatalog | None = None,
    labels: str = DEFAULT_LABELS,
    limit: int | None = None,
) -> DataSource:
    """The :class:`DataSource` of ``config.data_kind`` (see the module documentation).

    Parameters
    ----------
    config : TrainConfig
        The run's configuration.
    data_path : str or os.PathLike or None
        Data folder (None only for synthetic data).
    catalog : path or CraterCatalog, optional
        THEMIS tiles: the crater catalogue.
    labels : str
        Labelled images: the label folder's name.
    limit : int, optional
        Labelled images: use only the first ``limit`` images.

    Raises
    ------
    DataError
        No data folder for a kind that needs one, or any problem with the data.
    """
    kind = config.data_kind
    if kind == "synthetic":
        ignored = [n for n in ("resolution_m", "source_resolution_m") if getattr(config, n)]
        ignored += ["data_path"] if data_path is not None else []
        if ignored:
            log.warning("synthetic data has no resolution nor folder; ignoring %s", ignored)
        return synthetic_source(config)
    if data_path is None:
        what = "THEMIS tile images" if kind == "themis-tiles" else "images/ and labels"
        raise DataError(f"data kind {kind!r} needs a data folder (of {what}); give its path")
    if kind == "themis-tiles":
        return themis_tile_source(config, Path(data_path), catalog)
    if kind == "labelled-images":
        return labelled_image_source(config, Path(data_path), labels, limit)
    raise DataError(
        f"unknown data kind {kind!r}; expected synthetic, themis-tiles or labelled-images"
    )


def make_datasets(
    config: TrainConfig,
    data_path: str | os.PathLike | None,
    catalog: str | os.PathLike | CraterCatalog | None = None,
    labels: str = DEFAULT_LABELS,
    limit: int | None = None,
    initial_epoch: int = 0,
):
    """Training and validation datasets of a run, and their description.

    Parameters are those of :func:`data_source`, and ``initial_epoch``: the
    epoch the run starts at (a resumed run gets the shuffling and augmentation
    of that epoch, as if it had not stopped).

    Returns
    -------
    train : tf.data.Dataset
        One shuffled (and augmented) pass over the training samples per iteration.
    val : tf.data.Dataset
        The validation samples, always in the same order.
    info : DatasetInfo
        The split and data settings.
    """
    source = data_source(config, data_path, catalog, labels, limit)
    train, val = source.datasets(config.batch_size, initial_epoch)
    return train, val, source.info


def validation_items(
    config: TrainConfig,
    data_path: str | os.PathLike | None,
    catalog: str | os.PathLike | CraterCatalog | None = None,
    labels: str = DEFAULT_LABELS,
    limit: int | None = None,
) -> Iterator[ValidationItem]:
    """The validation samples of a run, in order, with their ground-truth craters.

    The same samples, in the same order, as the validation dataset of
    :func:`make_datasets`, without TensorFlow.
    """
    return data_source(config, data_path, catalog, labels, limit).validation_items()
