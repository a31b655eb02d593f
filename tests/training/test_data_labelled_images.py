"""Tests of training.data.labelled_images: YOLO-labelled plain images, resampling, padding."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from geocore.errors import CatalogFormatError
from geocore.yolo import read_yolo_labels
from training.config import preset_config
from training.data import (
    DataError,
    labelled_image_datasets,
    labelled_image_source,
    make_datasets,
    validation_items,
)

BRIGHT, BACKGROUND = 220, 100


def _config(**changes):
    values = dict(
        data_kind="labelled-images", tile_size_px=512, min_diameter_km=1.0,
        max_diameter_km=50.0, validation_split=0.4, batch_size=2,
    )  # fmt: skip
    values.update(changes)
    return preset_config("C-1", **values)


def _write_image(folder, name, size, craters, labels="labels_robbins"):
    """A gray image with bright disks (x, y, diameter in px) and their YOLO label file."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / labels).mkdir(exist_ok=True)
    width, height = size
    image = np.full((height, width), BACKGROUND, np.uint8)
    rows, cols = np.mgrid[0:height, 0:width]
    lines = []
    for x, y, d in craters or []:
        image[(cols - x) ** 2 + (rows - y) ** 2 <= (d / 2) ** 2] = BRIGHT
        lines.append(f"0 {(x + 0.5) / width} {(y + 0.5) / height} {d / width} {d / height}")
    Image.fromarray(image).save(folder / "images" / f"{name}.png")
    if craters is not None:
        (folder / labels / f"{name}.txt").write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def image_set(tmp_path_factory):
    folder = tmp_path_factory.mktemp("labelled")
    rng = np.random.default_rng(0)
    for i in range(5):
        craters = [(*rng.uniform(30, 170, 2), rng.uniform(12, 40)) for _ in range(3)]
        _write_image(folder, f"img{i}", (200, 200), craters)
    return folder


def test_split_padding_and_targets(image_set):
    source = labelled_image_source(_config(), image_set)
    info = source.info
    assert (info.n_train, info.n_val) == (3, 2)
    assert not set(info.train_ids) & set(info.val_ids)
    assert (info.sample_width_px, info.sample_height_px) == (256, 256)  # 200 px padded
    assert info.resolution_m == info.source_resolution_m == 100.0
    assert "2 val images" in info.description and "resampled" not in info.description
    items = list(source.validation_items())
    assert [i.item_id for i in items] == list(info.val_ids)
    real = np.zeros((256, 256), bool)
    real[:200, :200] = True
    for item in items:
        np.testing.assert_array_equal(item.weight == 1, real)  # zeros exactly on padding
        assert np.all(item.target[~real] == 0)
        fill = item.image[~real]
        assert np.ptp(fill) == 0 and fill[0] == pytest.approx(item.image[real].mean(), abs=1e-5)
        # bright disks and filled targets are the same pixels
        np.testing.assert_array_equal(item.image[real] > 0, item.target[real] == 1)
        assert len(item.craters) == 3
        assert -1 <= item.image.min() and item.image.max() <= 1


def test_split_is_seeded(image_set):
    a = labelled_image_source(_config(), image_set).info
    assert labelled_image_source(_config(), image_set).info == a
    others = {labelled_image_source(_config(seed=s), image_set).info.val_ids for s in range(1, 6)}
    assert others - {a.val_ids}


def test_resampling_scales_craters(tmp_path):
    # a 20 px (2 km) crater at 100 m/px is 8.6 px at 231.5 m/px
    for i in range(2):
        _write_image(tmp_path, f"c{i}", (416, 416), [(200.0, 120.0, 20.0), (60.0, 300.0, 80.0)])
    config = _config(resolution_m=231.5, validation_split=0.5)
    source = labelled_image_source(config, tmp_path)
    assert source.info.resolution_m == 231.5 and source.info.source_resolution_m == 100.0
    assert "resampled to 231.5 m/px" in source.info.description
    assert source.info.sample_width_px == 256  # 416 px -> 180 px -> padded to 256
    (item,) = source.validation_items()
    assert item.weight.sum() == 180 * 180
    small = int(np.argmin(item.craters.diameter_km))
    assert item.craters.diameter_px[small] == pytest.approx(20 * 180 / 416)  # 8.65 px
    assert item.craters.diameter_km[small] == pytest.approx(2.0)
    x, y = item.craters.x_px[small], item.craters.y_px[small]
    assert (x, y) == pytest.approx(((200 + 0.5) * 180 / 416 - 0.5, (120 + 0.5) * 180 / 416 - 0.5))
    # the target disk is drawn after resampling: ~pi * 4.33^2 px, where the image is bright
    rows, cols = np.mgrid[0:256, 0:256]
    near = (cols - x) ** 2 + (rows - y) ** 2 <= 8**2
    assert 45 <= item.target[near].sum() <= 75
    assert item.image[round(y), round(x)] > item.image[item.weight == 1].mean()
    assert item.target[round(y), round(x)] == 1


def test_labels_folder_option_and_images_without_labels(tmp_path):
    _write_image(tmp_path, "a", (128, 128), [(60.0, 60.0, 30.0)], labels="labels_expanded")
    _write_image(tmp_path, "b", (128, 128), None, labels="labels_expanded")
    source = labelled_image_source(_config(validation_split=0.5), tmp_path, "labels_expanded")
    assert source.info.labels == "labels_expanded"
    assert source.info.sample_width_px == 128
    by_id = {i.item_id: i for i in source.validation_items()}
    by_id.update({i.item_id: i for i in source.training_items(0)})
    assert len(by_id["b.png"].craters) == 0 and by_id["b.png"].target.sum() == 0
    assert by_id["a.png"].target.sum() > 0


def test_limit(image_set):
    source = labelled_image_source(_config(), image_set, limit=3)
    assert set(source.info.train_ids + source.info.val_ids) == {"img0.png", "img1.png", "img2.png"}
    with pytest.raises(DataError, match="limit=0"):
        labelled_image_source(_config(), image_set, limit=0)
    with pytest.raises(DataError, match="at least 2 are needed"):
        labelled_image_source(_config(), image_set, limit=1)


def test_tf_datasets_with_augmentation(image_set):
    config = _config(augment=True, validation_split=0.25)
    train, _, info = make_datasets(config, image_set, limit=4)
    assert (info.n_train, info.n_val) == (3, 1)
    batches = [[t.numpy() for t in b] for b in train]
    assert [b[0].shape for b in batches] == [(2, 256, 256, 1), (1, 256, 256, 1)]
    for image, target, weight in batches:
        assert np.all(target[weight == 0] == 0)
        assert np.all(weight.sum(axis=(1, 2, 3)) == 200 * 200)
        assert np.all((image > 0) == (target == 1))  # bright disks stay on their targets
    train2, _, _ = labelled_image_datasets(config, image_set, limit=4)
    np.testing.assert_array_equal(batches[0][0], next(iter(train2))[0].numpy())


@pytest.mark.realdata
def test_real_labelled_images(shared_data):
    folder = shared_data / "themis_dayir_100m" / "train"
    config = _config(resolution_m=231.5, min_diameter_km=2.0, max_diameter_km=32.0,
                     validation_split=1 / 3)  # fmt: skip
    source = labelled_image_source(config, folder, limit=6)
    assert (source.info.n_train, source.info.n_val) == (4, 2)
    assert source.info.sample_width_px == 256
    items = list(validation_items(config, folder, limit=6))
    assert len(items) == 2
    for item in items:
        assert item.image.shape == (256, 256) and item.weight.sum() == 180 * 180
        assert -1 <= item.image.min() and item.image.max() <= 1
        labels = read_yolo_labels(
            folder / "labels_robbins" / item.item_id.replace(".jpg", ".txt"), (416, 416), 100.0
        ).filter(min_diameter_km=2.0, max_diameter_km=32.0)
        assert len(item.craters) == len(labels)
        np.testing.assert_allclose(item.craters.diameter_px, labels.diameter_px * 180 / 416)
        if len(labels):
            assert item.target.sum() > 0


# ------------------------------------------------------------- bad input
def test_missing_folders(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        labelled_image_source(_config(), tmp_path / "absent")
    with pytest.raises(DataError, match=r"image folder .* does not exist"):
        labelled_image_source(_config(), tmp_path)
    _write_image(tmp_path, "a", (64, 64), [(30.0, 30.0, 10.0)])
    with pytest.raises(DataError, match=r"no label folder 'labels_x'.*labels_robbins"):
        labelled_image_source(_config(), tmp_path, labels="labels_x")
    (tmp_path / "images" / "a.png").unlink()
    with pytest.raises(DataError, match="no image in"):
        labelled_image_source(_config(), tmp_path)


def test_label_file_without_image(tmp_path):
    _write_image(tmp_path, "a", (64, 64), [(30.0, 30.0, 10.0)])
    _write_image(tmp_path, "b", (64, 64), [(30.0, 30.0, 10.0)])
    (tmp_path / "labels_robbins" / "ghost.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    with pytest.raises(DataError, match=r"have no image .* e\.g\. ghost\.txt"):
        labelled_image_source(_config(), tmp_path)


def test_two_images_of_one_name(tmp_path):
    _write_image(tmp_path, "a", (64, 64), [(30.0, 30.0, 10.0)])
    Image.new("L", (64, 64)).save(tmp_path / "images" / "a.jpg")
    with pytest.raises(DataError, match="two images named 'a'"):
        labelled_image_source(_config(), tmp_path)


def test_box_outside_the_image(tmp_path):
    _write_image(tmp_path, "a", (64, 64), [(30.0, 30.0, 10.0)])
    _write_image(tmp_path, "b", (64, 64), [(30.0, 30.0, 10.0)])
    (tmp_path / "labels_robbins" / "b.txt").write_text("0 0.95 0.5 0.3 0.1\n")
    with pytest.raises(CatalogFormatError, match="reaches outside"):
        labelled_image_source(_config(), tmp_path)


def test_image_sizes_that_cannot_be_used(tmp_path):
    _write_image(tmp_path, "a", (64, 64), [(30.0, 30.0, 10.0)])
    _write_image(tmp_path, "b", (64, 64), [(30.0, 30.0, 10.0)])
    with pytest.raises(DataError, match="becomes 0 x 0 px at 100000 m/px"):
        labelled_image_source(_config(resolution_m=100_000.0), tmp_path)
    with pytest.raises(DataError, match="64 x 64 px, more than 1,000 px"):
        labelled_image_source(_config(), tmp_path, max_image_px=1000)
