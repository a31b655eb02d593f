"""Tests of training.data.synthetic: the paper's gray dots, and the tf.data pipeline."""

from __future__ import annotations

import numpy as np
import pytest

from geocore.grid import PixelGrid
from geocore.targets import rasterize_targets
from training.config import preset_config
from training.data import make_datasets, synthetic_datasets, validation_items
from training.data.synthetic import render_dots, synthetic_item, synthetic_source


def _config(**changes):
    values = dict(synthetic_train_images=6, synthetic_val_images=3, tile_size_px=128, batch_size=4)
    values.update(changes)
    return preset_config("S-1", **values)


def test_dots_and_filled_targets_coincide():
    item = synthetic_item(_config(), 0)
    assert item.image.shape == item.target.shape == item.weight.shape == (128, 128)
    assert item.image.dtype == np.float32
    assert item.image.min() == -1.0 and item.image.max() <= 1.0
    assert set(np.unique(item.target)) == {0.0, 1.0}
    assert np.all(item.weight == 1)
    # the black background is -1; every dot pixel, and only those, is a target pixel
    np.testing.assert_array_equal(item.image > -1, item.target == 1)
    assert len(item.craters) >= 1 and item.grid is None


def test_dots_have_various_shades_and_sizes():
    image, craters = render_dots(512, np.random.default_rng(5))
    assert 8 <= len(craters) <= 40
    assert len(np.unique(image)) > 5  # background plus several gray levels
    assert craters.diameter_px.min() >= 6.0 and craters.diameter_px.max() <= 64.0
    assert craters.diameter_px.max() / craters.diameter_px.min() > 2


def test_synthetic_items_are_seeded_per_index():
    config = _config()
    a, b = synthetic_item(config, 3), synthetic_item(config, 3)
    np.testing.assert_array_equal(a.image, b.image)
    assert not np.array_equal(a.image, synthetic_item(config, 4).image)
    assert not np.array_equal(a.image, synthetic_item(config.replace(seed=1), 3).image)


def test_outline_targets_are_drawn_from_the_dots():
    config = _config(target_kind="outline")
    item = synthetic_item(config, 1)
    redrawn = rasterize_targets(
        PixelGrid.from_resolution(128, 128, 1000.0), item.craters, "outline", 0.7
    )
    np.testing.assert_array_equal(item.target, redrawn)
    assert np.all(item.image[item.target == 1] > -1)  # outlines lie on dots
    assert np.sum(item.target) < np.sum(item.image > -1)


def test_synthetic_source_split_and_info():
    info = synthetic_source(_config()).info
    assert (info.n_train, info.n_val) == (6, 3)
    assert not set(info.train_ids) & set(info.val_ids)
    assert info.resolution_m is None and info.data_kind == "synthetic"
    assert (info.sample_width_px, info.n_train_samples) == (128, 6)
    assert "6 train / 3 val" in info.description
    items = list(validation_items(_config(), None))
    assert [i.item_id for i in items] == list(info.val_ids)


# ------------------------------------------------------------- tf.data
def _batches(dataset):
    return [tuple(t.numpy() for t in batch) for batch in dataset]


def test_datasets_yield_weighted_batches():
    train, val, _ = make_datasets(_config(), None)
    batches = _batches(train)
    assert [b[0].shape for b in batches] == [(4, 128, 128, 1), (2, 128, 128, 1)]
    assert int(train.cardinality()) == 2 and int(val.cardinality()) == 1
    for image, target, weight in batches + _batches(val):
        assert image.dtype == target.dtype == weight.dtype == np.float32
        assert image.min() >= -1 and image.max() <= 1
        assert set(np.unique(target)) <= {0.0, 1.0} and np.all(weight == 1)
        # augmented or not, the dots and their targets stay aligned
        np.testing.assert_array_equal(image > -1, target == 1)


def test_training_is_reshuffled_each_epoch_and_reproducible():
    config = _config(augment=True)
    train, val, _ = make_datasets(config, None)
    epoch0, epoch1 = _batches(train), _batches(train)
    assert not np.array_equal(epoch0[0][0], epoch1[0][0])
    again, _, _ = synthetic_datasets(config)
    for a, b in zip(epoch0, _batches(again), strict=True):
        np.testing.assert_array_equal(a[0], b[0])
    other, _, _ = make_datasets(config.replace(seed=9), None)
    assert not np.array_equal(epoch0[0][0], _batches(other)[0][0])
    # validation: fixed order, never augmented, equal to validation_items
    v1, v2 = _batches(val), _batches(val)
    np.testing.assert_array_equal(v1[0][0], v2[0][0])
    first = next(iter(validation_items(config, None)))
    np.testing.assert_array_equal(v1[0][0][0, ..., 0], first.image)


def test_a_resumed_run_continues_the_epoch_sequence():
    config = _config(augment=True)
    fresh, _, _ = make_datasets(config, None)
    _batches(fresh)
    resumed, _, _ = make_datasets(config, None, initial_epoch=1)
    np.testing.assert_array_equal(_batches(fresh)[0][0], _batches(resumed)[0][0])


def test_augmentation_changes_the_training_images():
    plain, _, _ = make_datasets(_config(augment=False), None)
    augmented, _, _ = make_datasets(_config(augment=True), None)
    a = sorted(x.tobytes() for b in _batches(plain) for x in b[0])
    b = sorted(x.tobytes() for b in _batches(augmented) for x in b[0])
    assert a != b


@pytest.mark.parametrize("kind", ["themis-tiles", "labelled-images"])
def test_kinds_with_data_need_a_folder(kind):
    from training.data import DataError

    with pytest.raises(DataError, match="needs a data folder"):
        make_datasets(_config(data_kind=kind), None)
