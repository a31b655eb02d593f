"""Tests of training.data.common: split, DatasetInfo, windows, augmentation, shuffling (no TF)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from geocore.crater import CraterCatalog
from geocore.errors import GeocoreError, OutputExistsError, RasterReadError
from geocore.grid import PixelGrid
from geocore.targets import TargetSpec, rasterize_targets
from training.data.common import (
    DataError,
    DatasetInfo,
    DataSource,
    ValidationItem,
    augment_item,
    cut_windows,
    read_gray_image,
    sample_shape,
    split_ids,
    window_origins,
)


def _info(**changes) -> DatasetInfo:
    values = dict(
        data_kind="labelled-images",
        description="test set",
        resolution_m=231.5,
        n_train=2,
        n_val=1,
        train_ids=("a.png", "b.png"),
        val_ids=("c.png",),
        target_kind="ring",
        inner_ratio=0.7,
        ring_width_px=4.0,
        min_diameter_km=2.0,
        max_diameter_km=32.0,
        sample_width_px=256,
        sample_height_px=128,
        n_train_samples=2,
        n_val_samples=1,
        source_resolution_m=100.0,
        data_path="/data/train",
        labels="labels_robbins",
    )
    values.update(changes)
    return DatasetInfo(**values)


def _pixel_craters(x, y, d) -> CraterCatalog:
    n = len(x)
    return CraterCatalog([np.nan] * n, [np.nan] * n, d, x_px=x, y_px=y, diameter_px=d)


# ------------------------------------------------------------------- split
def test_split_ids_is_disjoint_complete_and_seeded():
    ids = [f"img{i}" for i in range(30)]
    train, val = split_ids(ids, 0.25, seed=3)
    assert len(val) == 8 and len(train) == 22
    assert not set(train) & set(val)
    assert set(train) | set(val) == set(ids)
    assert split_ids(reversed(ids), 0.25, seed=3) == (train, val)  # order of listing irrelevant
    assert split_ids(ids, 0.25, seed=4) != (train, val)


def test_split_ids_keeps_one_item_on_each_side():
    assert split_ids(["a", "b"], 0.01, seed=0)[1] and split_ids(["a", "b"], 0.99, seed=0)[0]
    train, val = split_ids(["a", "b", "c"], 0.99, seed=0)
    assert (len(train), len(val)) == (1, 2)


@pytest.mark.parametrize(
    ("ids", "share", "match"),
    [
        (["a"], 0.5, "at least 2 are needed"),
        ([], 0.5, "at least 2 are needed"),
        (["a", "a", "b"], 0.5, "more than once"),
        (["a", "b"], 1.0, "between 0 and 1"),
    ],
)
def test_split_ids_rejects_bad_input(ids, share, match):
    with pytest.raises(DataError, match=match):
        split_ids(ids, share, seed=0)


# ------------------------------------------------------------- DatasetInfo
def test_dataset_info_json_round_trip(tmp_path):
    info = _info()
    assert DatasetInfo.from_json(info.to_json()) == info
    assert DatasetInfo.from_dict(info.to_dict()) == info
    assert isinstance(info.to_dict()["train_ids"], list)
    info.save(tmp_path / "dataset.json")
    assert DatasetInfo.load(tmp_path) == info
    with pytest.raises(OutputExistsError, match="already exists"):
        info.save(tmp_path / "dataset.json")


def test_dataset_info_is_frozen():
    with pytest.raises(AttributeError):
        _info().n_train = 5


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"val_ids": ("a.png",)}, "in both"),
        ({"n_train": 3}, "do not match"),
        ({"sample_width_px": 200}, "multiple of 128"),
    ],
)
def test_dataset_info_rejects_inconsistent_values(changes, match):
    with pytest.raises(DataError, match=match):
        _info(**changes)


def test_dataset_info_rejects_bad_json(tmp_path):
    with pytest.raises(DataError, match="unknown dataset fields"):
        DatasetInfo.from_dict({**_info().to_dict(), "colour": "red"})
    with pytest.raises(DataError, match="incomplete"):
        DatasetInfo.from_dict({"data_kind": "synthetic"})
    with pytest.raises(DataError, match="not valid JSON"):
        DatasetInfo.from_json("{")
    with pytest.raises(DataError, match="no dataset description"):
        DatasetInfo.load(tmp_path)


# ---------------------------------------------------------------- windows
def test_sample_shape_and_window_origins():
    assert sample_shape(416, 300, 512) == (512, 384)
    assert sample_shape(1000, 100, 256) == (256, 128)
    assert window_origins(640, 256) == [0, 256, 512]
    with pytest.raises(DataError, match="empty"):
        sample_shape(0, 10, 512)


def test_cut_windows_pads_with_zero_weight_and_moves_craters():
    height, width = 300, 200
    grid = PixelGrid.from_resolution(width, height, 100.0)
    craters = _pixel_craters([150.0, 20.0], [280.0, 20.0], [10.0, 6.0])
    spec = TargetSpec("filled")
    target = rasterize_targets(grid, craters)
    image = np.linspace(-1, 1, height * width, dtype=np.float32).reshape(height, width)
    before = image.copy()
    items = list(cut_windows("img", image, target, grid, craters, (256, 128), spec, fill=0.25))
    np.testing.assert_array_equal(image, before)  # input untouched
    assert [i.sample_id for i in items] == [
        "img/r0000_c0000", "img/r0000_c0128", "img/r0256_c0000", "img/r0256_c0128"
    ]  # fmt: skip
    last = items[-1]  # rows 256..299, cols 128..199 real
    expected_weight = np.zeros((256, 128), np.float32)
    expected_weight[:44, :72] = 1
    np.testing.assert_array_equal(last.weight, expected_weight)
    assert np.all(last.image[expected_weight == 0] == 0.25)
    assert np.all(last.target[expected_weight == 0] == 0)
    np.testing.assert_array_equal(last.image[:44, :72], image[256:, 128:])
    # the big crater is in the last window, at (150 - 128, 280 - 256)
    assert len(last.craters) == 1
    assert (last.craters.x_px[0], last.craters.y_px[0]) == (22.0, 24.0)
    assert last.target[24, 22] == 1
    assert len(items[0].craters) == 1 and items[0].target[20, 20] == 1
    for item in items:  # targets of each window = its craters drawn on its grid
        redrawn = rasterize_targets(item.grid, item.craters) * item.weight
        np.testing.assert_array_equal(redrawn, item.target)


def test_cut_windows_random_order_is_a_permutation():
    grid = PixelGrid.from_resolution(512, 512, 100.0)
    zeros = np.zeros((512, 512), np.float32)
    cut = list(cut_windows("t", zeros, zeros, grid, CraterCatalog.empty(), (128, 128),
                           TargetSpec(), rng=np.random.default_rng(1)))  # fmt: skip
    ids = [i.sample_id for i in cut]
    assert len(ids) == 16 and sorted(ids) == sorted(set(ids)) and ids != sorted(ids)


# ----------------------------------------------------------- augmentation
def _item(height, width) -> ValidationItem:
    grid = PixelGrid.from_resolution(width, height, 100.0)
    craters = _pixel_craters([10.0, 60.0], [30.0, 90.0], [12.0, 20.0])
    target = rasterize_targets(grid, craters).astype(np.float32)
    image = np.full((height, width), -0.5, np.float32)
    image[:, : width // 8] = -1.0  # a distinct left band, for flips
    image[target > 0] = 0.8
    weight = np.ones((height, width), np.float32)
    weight[-10:, :] = 0.0  # "padding" at the bottom
    target[-10:, :] = 0.0
    return ValidationItem("x", "x", image, target, weight, craters, grid)


@pytest.mark.parametrize("shape", [(128, 128), (128, 256)])
def test_augmentation_keeps_image_target_weight_and_craters_aligned(shape):
    item = _item(*shape)
    seen = set()
    for seed in range(40):
        out = augment_item(item, np.random.default_rng(seed))
        assert out.grid is None and out.image.shape == item.image.shape
        assert out.image.flags.c_contiguous
        # crater pixels moved with the arrays: redrawing them gives the target
        grid = PixelGrid.from_resolution(out.image.shape[1], out.image.shape[0], 100.0)
        redrawn = rasterize_targets(grid, out.craters) * out.weight
        np.testing.assert_array_equal(redrawn, out.target)
        np.testing.assert_array_equal(out.image == np.float32(0.8), out.target == 1)
        assert np.all(out.target[out.weight == 0] == 0)
        assert out.weight.sum() == item.weight.sum()
        seen.add(out.image.tobytes())
    assert len(seen) == (8 if shape[0] == shape[1] else 4)  # every symmetry reached
    np.testing.assert_array_equal(item.craters.x_px, [10.0, 60.0])  # input untouched


def test_augmentation_of_an_item_without_craters():
    a = np.arange(16, dtype=np.float32).reshape(4, 4)
    item = ValidationItem("x", "x", a, a * 0, a * 0 + 1, CraterCatalog.empty())
    out = augment_item(item, np.random.default_rng(2))
    assert len(out.craters) == 0 and sorted(out.image.ravel()) == sorted(a.ravel())


def test_validation_item_checks_shapes_and_is_read_only():
    a = np.zeros((4, 4), np.float32)
    with pytest.raises(DataError, match="same shape"):
        ValidationItem("x", "x", a, np.zeros((4, 5)), a, CraterCatalog.empty())
    with pytest.raises(DataError, match="grid is"):
        ValidationItem("x", "x", a, a, a, CraterCatalog.empty(), PixelGrid.from_resolution(5, 4, 1))
    item = ValidationItem("x", "x", a, a, a, CraterCatalog.empty())
    with pytest.raises(ValueError, match="read-only"):
        item.image[0, 0] = 1
    a[0, 0] = 2  # the caller's array is still writable
    assert item.shape == (4, 4)


# ----------------------------------------------------------------- reading
def test_read_gray_image_converts_and_checks(tmp_path):
    rgb = np.zeros((6, 8, 3), np.uint8)
    rgb[..., 1] = 200
    Image.fromarray(rgb).save(tmp_path / "c.png")
    pixels, max_value = read_gray_image(tmp_path / "c.png")
    assert pixels.shape == (6, 8) and max_value == 255.0 and pixels.max() > 0
    Image.fromarray(np.full((6, 8), 1000, np.uint16)).save(tmp_path / "w.png")
    pixels, max_value = read_gray_image(tmp_path / "w.png")
    assert max_value == 65535.0 and int(pixels[0, 0]) == 1000
    with pytest.raises(DataError, match="more than 40 px"):
        read_gray_image(tmp_path / "c.png", max_pixels=40)
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(RasterReadError, match="cannot read image"):
        read_gray_image(tmp_path / "bad.png")


# -------------------------------------------------------------- shuffling
def _counting_source(n_items=5, per_item=3, augment=False, seed=0, buffer=4) -> DataSource:
    ids = tuple(f"i{k}" for k in range(n_items))

    def load(item_id, rng):
        order = range(per_item) if rng is None else rng.permutation(per_item)
        for j in order:
            a = np.full((128, 128), float(j), np.float32)
            yield ValidationItem(item_id, f"{item_id}/{j}", a, a * 0, a * 0 + 1,
                                 CraterCatalog.empty())  # fmt: skip

    n = n_items * per_item
    info = _info(n_train=n_items, n_val=1, train_ids=ids, val_ids=("v",), n_train_samples=n,
                 sample_width_px=128, sample_height_px=128)  # fmt: skip
    return DataSource(info, load, seed=seed, augment=augment, shuffle_buffer=buffer)


def test_training_items_are_one_reshuffled_reproducible_pass():
    source = _counting_source()
    epoch0 = [i.sample_id for i in source.training_items(0)]
    assert sorted(epoch0) == sorted(f"i{k}/{j}" for k in range(5) for j in range(3))
    assert [i.sample_id for i in source.training_items(0)] == epoch0
    assert [i.sample_id for i in source.training_items(1)] != epoch0
    other = [i.sample_id for i in _counting_source(seed=1).training_items(0)]
    assert other != epoch0
    assert [i.sample_id for i in source.validation_items()] == ["v/0", "v/1", "v/2"]


def test_data_error_is_a_geocore_value_error():
    assert issubclass(DataError, GeocoreError) and issubclass(DataError, ValueError)
