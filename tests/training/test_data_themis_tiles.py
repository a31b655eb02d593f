"""Tests of training.data.themis_tiles, on small rendered tiles (and the real catalogue)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from geocore.crater import CraterCatalog
from geocore.errors import CatalogReadError, GridError
from geocore.raster_io import themis_grid_for_shape
from geocore.synthetic import random_catalog, render_scene
from geocore.themis import ThemisTile
from training.config import preset_config
from training.data import DataError, make_datasets, themis_tile_source
from training.data.themis_tiles import default_catalog, find_tiles

TILES = ("thm_dir_N-30_090", "thm_dir_N00_030", "thm_dir_N00_300")
SIZE_PX = 640  # 12x downsampled tiles: 2.8 km/px, windows of 256 px with padding


def _config(**changes):
    values = dict(tile_size_px=256, min_diameter_km=10.0, max_diameter_km=200.0, batch_size=4)
    values.update(changes)
    return preset_config("C-1", **values)


def _write_tiles(folder, names=TILES, size=SIZE_PX, suffix=".png"):
    """Rendered tiles and the catalogue they show (30 craters of 15-150 km per tile)."""
    folder.mkdir(exist_ok=True)
    catalogs = []
    for i, name in enumerate(names):
        tile = ThemisTile.from_name(name)
        cat = random_catalog(tile.bounds_deg, 30, 15.0, 150.0, seed=i)
        image = render_scene(themis_grid_for_shape(tile, size, size), cat, seed=i)
        if i == 0:
            image[100:110, :] = 0  # a missing-data streak
        Image.fromarray(image).save(folder / f"{name}{suffix}")
        catalogs.append(cat)
    return CraterCatalog.concat(catalogs)


@pytest.fixture(scope="module")
def tiles(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiles")
    return folder, _write_tiles(folder)


def test_split_by_tile_and_info(tiles):
    folder, catalog = tiles
    info = themis_tile_source(_config(), folder, catalog).info
    assert set(info.train_ids) | set(info.val_ids) == set(TILES)
    assert not set(info.train_ids) & set(info.val_ids)
    assert (info.n_train, info.n_val) == (2, 1)
    assert (info.sample_width_px, info.sample_height_px) == (256, 256)
    assert (info.n_train_samples, info.n_val_samples) == (18, 9)  # 3 x 3 windows per tile
    assert info.resolution_m == pytest.approx(7680 / SIZE_PX * 231.54, rel=1e-3)
    assert "2 train / 1 val tiles" in info.description
    splits = {themis_tile_source(_config(seed=s), folder, catalog).info.val_ids for s in range(6)}
    assert len(splits) > 1  # the seed chooses the split
    assert themis_tile_source(_config(), folder, catalog).info == info


def test_validation_samples(tiles):
    folder, catalog = tiles
    config = _config(validation_split=0.5, seed=1)  # round(1.5) = 2 validation tiles
    source = themis_tile_source(config, folder, catalog)
    items = list(source.validation_items())
    assert len(items) == source.info.n_val_samples
    assert [i.item_id for i in items[:9]] == [source.info.val_ids[0]] * 9
    n_craters = 0
    for item in items:
        assert item.image.shape == (256, 256) and item.image.dtype == np.float32
        assert -1 <= item.image.min() and item.image.max() <= 1
        assert set(np.unique(item.target)) <= {0.0, 1.0}
        assert set(np.unique(item.weight)) <= {0.0, 1.0}
        assert item.grid is not None and item.grid.is_georeferenced
        # padding: windows starting at 512 hold 128 real pixels
        r0, c0 = (int(v) for v in item.sample_id.split("/r")[1].split("_c"))
        real = np.zeros((256, 256), bool)
        real[: min(256, SIZE_PX - r0), : min(256, SIZE_PX - c0)] = True
        np.testing.assert_array_equal(item.weight == 1, real)
        assert np.all(item.target[~real] == 0)
        # the targets are on the craters: every crater centre inside is a target pixel
        cat = item.craters
        assert np.all((cat.diameter_km >= 10) & (cat.diameter_km <= 200))
        col, row = np.round(cat.x_px).astype(int), np.round(cat.y_px).astype(int)
        inside = (col >= 0) & (row >= 0) & (col < 256) & (row < 256) & (cat.diameter_px > 3)
        inside &= real[np.clip(row, 0, 255), np.clip(col, 0, 255)]
        assert np.all(item.target[row[inside], col[inside]] == 1)
        n_craters += int(inside.sum())
    assert n_craters > 10


def test_missing_pixels_become_the_tile_mean(tiles):
    folder, catalog = tiles
    config = _config(validation_split=0.99)  # 2 of 3 tiles in validation
    source = themis_tile_source(config, folder, catalog)
    assert TILES[0] in source.info.val_ids
    first = next(i for i in source.validation_items() if i.item_id == TILES[0])
    streak = first.image[100:110, :]
    assert np.all(streak > -1) and np.ptp(streak) == 0  # filled with one value, not black


def test_training_samples_are_shuffled_across_windows(tiles):
    folder, catalog = tiles
    source = themis_tile_source(_config(), folder, catalog)
    ids = [i.sample_id for i in source.training_items(0)]
    assert len(ids) == 18 and len(set(ids)) == 18
    assert {i.split("/")[0] for i in ids} == set(source.info.train_ids)
    assert ids != sorted(ids)
    assert ids == [i.sample_id for i in source.training_items(0)]


def test_tf_datasets(tiles):
    folder, catalog = tiles
    train, val, info = make_datasets(_config(), folder, catalog=catalog)
    for image, _, weight in val.take(1):
        assert image.shape == (4, 256, 256, 1)
        assert float(weight.numpy().min()) == 0.0 or info.n_val_samples < 4
    shapes = [tuple(b[0].shape) for b in train]
    assert shapes == [(4, 256, 256, 1)] * 4 + [(2, 256, 256, 1)]
    for _, target, weight in train:  # augmented: padding and targets stay together
        assert np.all(target.numpy()[weight.numpy() == 0] == 0)


@pytest.mark.realdata
def test_real_catalogue_on_rendered_tiles(tmp_path, shared_data):
    _write_tiles(tmp_path, names=TILES[:2], size=768)
    config = _config(min_diameter_km=4.0, max_diameter_km=64.0, target_kind="outline")
    source = themis_tile_source(config, tmp_path, shared_data / "robbins2012_pm30")
    assert source.info.catalog.endswith("robbins2012_pm30")
    assert "robbins2012_pm30 labels, 1 train / 1 val" in source.info.description
    items = list(source.validation_items())
    assert len(items) == 9
    total = sum(len(i.craters) for i in items)
    assert total > 500  # thousands of Robbins craters of 4-64 km per 30 x 30 degree tile
    assert 0.01 < np.mean([i.target.mean() for i in items]) < 0.5
    # the catalogue's craters land where the tile says: lon/lat of a crater inside the window
    item = items[4]
    lon, lat = item.grid.pixel_to_lonlat(item.craters.x_px, item.craters.y_px)
    np.testing.assert_allclose(lon, item.craters.lon_deg, atol=1e-6)
    np.testing.assert_allclose(lat, item.craters.lat_deg, atol=1e-6)


# ------------------------------------------------------------- bad input
def test_missing_or_empty_folder(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        find_tiles(tmp_path / "nope")
    (tmp_path / "notes.png").write_bytes(b"")
    with pytest.raises(DataError, match="no THEMIS tile image"):
        find_tiles(tmp_path)


def test_two_images_of_one_tile(tmp_path):
    (tmp_path / "thm_dir_N00_030.png").write_bytes(b"")
    (tmp_path / "thm_dir_N00_030.tif").write_bytes(b"")
    with pytest.raises(DataError, match="two images of tile thm_dir_N00_030"):
        find_tiles(tmp_path)


def test_one_tile_cannot_be_split(tmp_path):
    catalog = _write_tiles(tmp_path, names=TILES[:1], size=128)
    with pytest.raises(DataError, match="at least 2 are needed"):
        themis_tile_source(_config(), tmp_path, catalog)


def test_tiles_must_be_square_and_of_one_size(tmp_path):
    Image.new("L", (128, 100), 5).save(tmp_path / "thm_dir_N00_030.png")
    Image.new("L", (128, 100), 5).save(tmp_path / "thm_dir_N00_060.png")
    with pytest.raises(GridError, match="square"):
        themis_tile_source(_config(), tmp_path, CraterCatalog.empty())
    Image.new("L", (128, 128), 5).save(tmp_path / "thm_dir_N00_030.png")
    Image.new("L", (256, 256), 5).save(tmp_path / "thm_dir_N00_060.png")
    with pytest.raises(DataError, match="different sizes"):
        themis_tile_source(_config(), tmp_path, CraterCatalog.empty())


def test_resolution_must_be_the_tiles_own(tiles):
    folder, catalog = tiles
    with pytest.raises(DataError, match=r"resolution_m=231\.5 m/px but the THEMIS tiles"):
        themis_tile_source(_config(resolution_m=231.5), folder, catalog)


def test_catalogue_problems(tiles, tmp_path, monkeypatch):
    folder, _ = tiles
    monkeypatch.setenv("SHARED_DATA", str(tmp_path / "absent"))
    with pytest.raises(DataError, match="no crater catalogue for the THEMIS tiles"):
        default_catalog(folder)
    with pytest.raises(DataError, match="no crater catalogue"):
        themis_tile_source(_config(), folder)
    with pytest.raises(CatalogReadError, match="does not exist"):
        themis_tile_source(_config(), folder, tmp_path / "missing.csv")
    pixels_only = CraterCatalog([np.nan], [np.nan], [20.0], x_px=[5.0], y_px=[5.0])
    with pytest.raises(DataError, match="without longitude/latitude"):
        themis_tile_source(_config(), folder, pixels_only)
    (folder / "catalog").mkdir()
    try:
        assert default_catalog(folder) == folder / "catalog"
    finally:
        (folder / "catalog").rmdir()


def test_image_too_large(tiles):
    folder, catalog = tiles
    from training.data.themis_tiles import themis_tile_source as source

    with pytest.raises(DataError, match="more than 1,000 px"):
        source(_config(), folder, catalog, max_image_px=1000)
