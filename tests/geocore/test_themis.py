import numpy as np
import pytest

from geocore.errors import CoordinateError, TileNameError
from geocore.themis import ThemisTile, fill_missing, preprocess, scale_to_unit_range


@pytest.mark.parametrize(
    ("name", "lat_min", "lon_min", "bounds"),
    [
        ("thm_dir_N-30_090", -30, 90, (90, -30, 120, 0)),
        ("thm_dir_N00_300", 0, 300, (-60, 0, -30, 30)),
        ("thm_dir_N00_000", 0, 0, (0, 0, 30, 30)),
        ("thm_dir_N-60_330", -60, 330, (-30, -60, 0, -30)),
    ],
)
def test_parse_and_format(name, lat_min, lon_min, bounds):
    tile = ThemisTile.from_name(name)
    assert (tile.lat_min_deg, tile.lon_min_deg) == (lat_min, lon_min)
    assert tile.name == name == str(tile)
    assert tile.bounds_deg == bounds
    assert ThemisTile.from_name(f"/data/{name}.png") == tile


@pytest.mark.parametrize(
    "bad",
    [
        "thm_dir_N-30_095",
        "thm_dir_N-45_090",
        "thm_dir_N90_000",
        "tile_N00_030",
        "",
        "thm_dir_N00_360",
    ],
)
def test_unknown_names_are_refused(bad):
    with pytest.raises(TileNameError, match=r"unknown THEMIS tile name.*thm_dir_N-30_090"):
        ThemisTile.from_name(bad)


def test_find_in_name():
    assert ThemisTile.find_in_name("thm_dir_N00_030_0_30_30_60_2_32_km_segrng.png").name == (
        "thm_dir_N00_030"
    )
    assert ThemisTile.find_in_name("crater0.jpg") is None


@pytest.mark.parametrize(
    ("lon", "lat", "name"),
    [
        (95.0, -10.0, "thm_dir_N-30_090"),
        (-55.0, 12.0, "thm_dir_N00_300"),
        (305.0, 12.0, "thm_dir_N00_300"),
        (0.0, 0.0, "thm_dir_N00_000"),
        (359.999, -0.001, "thm_dir_N-30_330"),
        (10.0, 90.0, "thm_dir_N60_000"),
        (-180.0, -90.0, "thm_dir_N-90_180"),
    ],
)
def test_tile_containing(lon, lat, name):
    assert ThemisTile.containing(lon, lat).name == name


def test_tile_containing_bad_latitude():
    with pytest.raises(CoordinateError, match="latitude must be within"):
        ThemisTile.containing(10.0, 95.0)


def test_tile_grid_matches_bounds():
    tile = ThemisTile.from_name("thm_dir_N00_300")
    grid = tile.grid
    assert grid.pixel_to_lonlat(0, 0, offset="corner") == pytest.approx((-60.0, 30.0))
    assert grid.pixel_to_lonlat(7680, 7680, offset="corner") == pytest.approx((-30.0, 0.0))


def test_fill_missing_uses_the_mean_of_valid_pixels_and_keeps_input():
    image = np.array([[0, 10], [20, 30]], dtype=np.uint8)
    out = fill_missing(image)
    assert out.dtype == np.float32
    assert out[0, 0] == pytest.approx(20.0)
    assert image[0, 0] == 0  # input untouched
    assert np.all(fill_missing(np.zeros((3, 3))) == 0)


def test_scaling_and_preprocess():
    assert scale_to_unit_range(np.array([0, 127.5, 255])).tolist() == [-1.0, 0.0, 1.0]
    out = preprocess(np.array([[0, 255], [255, 255]], dtype=np.uint8))
    assert out.min() >= -1 and out.max() <= 1
    assert out[0, 0] == pytest.approx(1.0)  # missing pixel took the mean (255)
    with pytest.raises(ValueError, match="max_value must be positive"):
        scale_to_unit_range(np.ones(2), max_value=0)
