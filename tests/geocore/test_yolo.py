from __future__ import annotations

import numpy as np
import pytest

from geocore.errors import CatalogFormatError, CraterValueError, GeocoreError, GridError
from geocore.yolo import read_yolo_folder, read_yolo_labels


def write(path, text, encoding="utf-8"):
    path.write_text(text, encoding=encoding)
    return path


def test_yolo_labels_pixels_diameters_and_confidence(tmp_path):
    path = write(tmp_path / "img7.txt", "0 0.5 0.25 0.1 0.2\n\n1 0.0 1.0 0.0 0.0 0.75\n".replace(
        "0.0 0.0 0.75", "0.002 0.004 0.75"))  # fmt: skip
    cat = read_yolo_labels(path, (400, 200), resolution_m=100.0)
    np.testing.assert_allclose(cat.x_px, [199.5, -0.5])
    np.testing.assert_allclose(cat.y_px, [49.5, 199.5])
    np.testing.assert_allclose(cat.diameter_px, [40.0, 0.8])
    np.testing.assert_allclose(cat.diameter_km, [4.0, 0.08])
    np.testing.assert_array_equal(cat.confidence, [np.nan, 0.75])
    assert np.all(np.isnan(cat.lon_deg)) and np.all(np.isnan(cat.lat_deg))
    assert list(cat.source) == ["img7", "img7"]
    assert list(read_yolo_labels(path, (400, 200), 100, source="x.jpg").source) == ["x.jpg"] * 2


def test_yolo_empty_file_has_no_crater(tmp_path):
    cat = read_yolo_labels(write(tmp_path / "a.txt", ""), (416, 416), 100)
    assert len(cat) == 0


@pytest.mark.parametrize(
    ("text", "error", "match"),
    [
        ("0 0.5 0.5 0.1 0.1\n0 0.98 0.5 0.1 0.1\n", CatalogFormatError,
         r"line 2: box .* reaches outside the 416 x 416 px image"),
        ("0 0.5 1.2 0.1 0.1\n", CatalogFormatError, "line 1: box .* outside"),
        ("0 208 208 20 20\n", CatalogFormatError, "outside .* normalised"),
        ("0 0.5 0.5 0.1\n", CatalogFormatError, "line 1: '0 0.5 0.5 0.1' is not a YOLO box"),
        ("crater 0.5 0.5 0.1 0.1\n", CatalogFormatError, "is not a YOLO box"),
        ("0.5 0.5 0.5 0.1 0.1\n", CatalogFormatError, "is not a YOLO box"),
        ("0 nan 0.5 0.1 0.1\n", CatalogFormatError, "is not a YOLO box"),
        ("0 0.5 0.5 0 0.1\n", CraterValueError, "line 1: box size 0.0 x 0.1 is not positive"),
    ],
)  # fmt: skip
def test_yolo_bad_labels(tmp_path, text, error, match):
    path = write(tmp_path / "bad.txt", text)
    with pytest.raises(error, match=match) as info:
        read_yolo_labels(path, (416, 416), 100)
    assert "bad.txt" in str(info.value)


def test_yolo_box_edge_within_half_a_pixel_is_accepted(tmp_path):
    path = write(tmp_path / "edge.txt", "0 0.05 0.5 0.1012 0.1\n")  # 0.25 px past the edge
    assert len(read_yolo_labels(path, (416, 416), 100)) == 1


@pytest.mark.parametrize(("size", "resolution"), [((416,), 100), ((0, 416), 100), ((4.5, 4), 100),
                                                  ((416, 416), 0), ((416, 416), "x")])  # fmt: skip
def test_yolo_bad_size_or_resolution(tmp_path, size, resolution):
    path = write(tmp_path / "a.txt", "0 0.5 0.5 0.1 0.1\n")
    with pytest.raises(GridError, match=r"image_size_px|resolution_m"):
        read_yolo_labels(path, size, resolution)


def _yolo_folder(tmp_path):
    from PIL import Image

    labels, images = tmp_path / "labels", tmp_path / "images"
    labels.mkdir()
    images.mkdir()
    Image.new("L", (40, 20)).save(images / "a.png")
    Image.new("L", (10, 10)).save(images / "b.JPG")
    Image.new("L", (10, 10)).save(images / "unlabelled.png")
    write(labels / "a.txt", "0 0.5 0.5 0.5 0.5\n")
    write(labels / "b.txt", "0 0.5 0.5 0.2 0.2\n0 0.25 0.25 0.5 0.5\n")
    write(labels / "classes.txt", "crater\n")
    return labels, images


def test_yolo_folder_sizes_each_image(tmp_path):
    labels, images = _yolo_folder(tmp_path)
    cat = read_yolo_folder(labels, images, resolution_m=50)
    assert list(cat.source) == ["a.png", "b.JPG", "b.JPG"]
    np.testing.assert_allclose(cat.x_px, [19.5, 4.5, 2.0])
    np.testing.assert_allclose(cat.diameter_px, [15.0, 2.0, 5.0])
    np.testing.assert_allclose(cat.diameter_km, [0.75, 0.1, 0.25])


def test_yolo_folder_errors(tmp_path):
    labels, images = _yolo_folder(tmp_path)
    write(labels / "ghost.txt", "0 0.5 0.5 0.1 0.1\n")
    with pytest.raises(CatalogFormatError, match=r"ghost.txt' has no image in .*images"):
        read_yolo_folder(labels, images, 100)
    (labels / "ghost.txt").unlink()
    from PIL import Image

    Image.new("L", (10, 10)).save(images / "a.jpg")
    with pytest.raises(CatalogFormatError, match=r"several images \['a.jpg', 'a.png'\]"):
        read_yolo_folder(labels, images, 100)
    (images / "a.jpg").unlink()
    write(labels / "b.txt", "0 0.5 0.5 0.2 0.2\n0 0.97 0.5 0.2 0.2\n")
    with pytest.raises(CatalogFormatError, match=r"b.txt', line 2: box .* 10 x 10 px image"):
        read_yolo_folder(labels, images, 100)
    with pytest.raises(CatalogFormatError, match="is not a folder"):
        read_yolo_folder(tmp_path / "none", images, 100)
    with pytest.raises(CatalogFormatError, match=r"no .txt label file"):
        read_yolo_folder(images, images, 100)
    write(images / "c.png", "not an image")
    write(labels / "c.txt", "")
    (labels / "b.txt").unlink()
    with pytest.raises(GeocoreError, match=r"cannot read image .*c.png"):
        read_yolo_folder(labels, images, 100)


@pytest.mark.realdata
def test_real_yolo_folder(shared_data):
    train = shared_data / "themis_dayir_100m/train"
    cat = read_yolo_folder(train / "labels_robbins", train / "images", resolution_m=100)
    assert len(cat) == 4924
    assert len(set(cat.source)) == 776  # one label file is empty
    np.testing.assert_allclose(cat.diameter_km, cat.diameter_px * 0.1)
    # boxes cut by the image edge are completed to circles: centres may lie outside
    inside = (cat.x_px >= -0.5) & (cat.x_px <= 415.5) & (cat.y_px >= -0.5) & (cat.y_px <= 415.5)
    assert 0.5 < cat.diameter_km.min() and 0 < (~inside).sum() < 0.15 * len(cat)
    expanded = read_yolo_folder(train / "labels_expanded", train / "images", resolution_m=100)
    assert len(expanded) == 9043


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # 60 px crater centred at x = 10 (pixel edges), cut by the left edge: box 0..40
        ("0 0.048077 0.5 0.096154 0.144231", (10 - 0.5, 207.5, 60.0)),
        # cut by the right edge: box 396..416, crater centred at 426
        ("0 0.975962 0.5 0.048077 0.144231", (426 - 0.5, 207.5, 60.0)),
        # cut by the top and left edges (a corner): the larger side is kept
        ("0 0.048077 0.036058 0.096154 0.072115", (20 - 0.5, 10 - 0.5, 40.0)),
        # not cut: the box as written
        ("0 0.5 0.5 0.1 0.12", (207.5, 207.5, 45.76)),
    ],
)
def test_boxes_cut_by_the_edge_become_circles(tmp_path, line, expected):
    path = tmp_path / "x.txt"
    path.write_text(line + "\n")
    cat = read_yolo_labels(path, (416, 416), resolution_m=100)
    got = (cat.x_px[0], cat.y_px[0], cat.diameter_px[0])
    np.testing.assert_allclose(got, expected, atol=0.05)
    plain = read_yolo_labels(path, (416, 416), resolution_m=100, edge_boxes="box")
    assert plain.diameter_px[0] == pytest.approx(416 * (sum(map(float, line.split()[3:5]))) / 2)
