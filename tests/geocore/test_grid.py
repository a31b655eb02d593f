import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geocore.body import MARS
from geocore.errors import CoordinateError, GridError
from geocore.grid import PixelGrid, wrap_longitude
from geocore.projection import Equirectangular, Geographic
from geocore.themis import ThemisTile

TILE_NAMES = [ThemisTile(lat, lon).name for lat in (-30, 0) for lon in range(0, 360, 30)]

lons = st.floats(-180.0, 180.0, allow_nan=False)
lats = st.floats(-89.9, 89.9, allow_nan=False)


def equirect_grid(lon_0=0.0, lat_ts=0.0, res_m=500.0, x0=-1e6, y0=1e6, size=(4000, 4000)):
    proj = Equirectangular(MARS, lon_0, lat_ts)
    return PixelGrid((res_m, 0.0, x0, 0.0, -res_m, y0), size[0], size[1], proj)


@settings(max_examples=300, deadline=None)
@given(lon=lons, lat=lats, offset=st.sampled_from(["center", "corner"]))
def test_lonlat_pixel_round_trip_equirectangular(lon, lat, offset):
    grid = equirect_grid(lon_0=20.0, lat_ts=10.0)
    col, row = grid.lonlat_to_pixel(lon, lat, offset=offset)
    lon2, lat2 = grid.pixel_to_lonlat(col, row, offset=offset)
    assert lat2 == pytest.approx(lat, abs=1e-9)
    assert wrap_longitude(lon2 - lon) == pytest.approx(0.0, abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(lon=st.floats(0.0, 359.99), lat=lats, name=st.sampled_from(TILE_NAMES))
def test_lonlat_pixel_round_trip_geographic_0_360(lon, lat, name):
    tile = ThemisTile.from_name(name)
    grid = PixelGrid(
        (1 / 256, 0.0, tile.lon_min_deg, 0.0, -1 / 256, tile.lat_max_deg),
        7680,
        7680,
        Geographic(MARS),
    )
    col, row = grid.lonlat_to_pixel(lon, lat)
    lon2, lat2 = grid.pixel_to_lonlat(col, row, lon_range="0..360")
    assert lat2 == pytest.approx(lat, abs=1e-9)
    assert abs(wrap_longitude(lon2 - lon)) < 1e-9
    assert 0.0 <= lon2 < 360.0


@settings(max_examples=100, deadline=None)
@given(col=st.floats(-10, 7700), row=st.floats(-10, 7700), name=st.sampled_from(TILE_NAMES))
def test_pixel_lonlat_round_trip_tile(col, row, name):
    grid = PixelGrid.from_themis_tile(name)
    lon, lat = grid.pixel_to_lonlat(col, row)
    col2, row2 = grid.lonlat_to_pixel(lon, lat)
    assert col2 == pytest.approx(col, abs=1e-6)
    assert row2 == pytest.approx(row, abs=1e-6)


def test_vectorised_shapes():
    grid = PixelGrid.from_themis_tile("thm_dir_N00_030")
    lon = np.linspace(30, 60, 12).reshape(3, 4)
    lat = np.linspace(0, 30, 12).reshape(3, 4)
    col, row = grid.lonlat_to_pixel(lon, lat)
    assert col.shape == row.shape == (3, 4)
    assert isinstance(grid.lonlat_to_pixel(45.0, 15.0)[0], float)


def test_centre_and_corner_conventions():
    grid = PixelGrid.from_themis_tile("thm_dir_N-30_090")
    assert grid.pixel_to_lonlat(0, 0, offset="corner") == pytest.approx((90.0, 0.0))
    # the centre of pixel (0, 0) is half a pixel in from the corner
    assert grid.pixel_to_lonlat(0, 0) == pytest.approx((90.0 + 0.5 / 256, -0.5 / 256))
    col_c, row_c = grid.lonlat_to_pixel(100.0, -10.0, offset="corner")
    col, row = grid.lonlat_to_pixel(100.0, -10.0, offset="center")
    assert (col_c - col, row_c - row) == pytest.approx((0.5, 0.5))
    with pytest.raises(ValueError, match="offset must be one of"):
        grid.pixel_to_lonlat(0, 0, offset="middle")


def test_antimeridian_wrap():
    # an equirectangular grid centred on 180 E spanning 170 E .. 170 W
    proj = Equirectangular(MARS)
    x0, y0 = proj.forward(170.0, 10.0)
    res = MARS.metres_per_degree / 100
    grid = PixelGrid((res, 0, float(x0), 0, -res, float(y0)), 2000, 2000, proj)
    for lon in (-175.0, 185.0):
        col, _ = grid.lonlat_to_pixel(lon, 0.0, offset="corner")
        assert col == pytest.approx(1500.0)
    lon, _ = grid.pixel_to_lonlat(1500, 0, offset="corner")
    assert lon == pytest.approx(-175.0)
    lon, _ = grid.pixel_to_lonlat(1500, 0, offset="corner", lon_range="0..360")
    assert lon == pytest.approx(185.0)


def test_resolution_from_the_mars_sphere():
    grid = PixelGrid.from_themis_tile("thm_dir_N-30_090")
    assert grid.resolution_m == pytest.approx(231.54, abs=0.01)  # not Earth's 434 m
    geo = PixelGrid((1 / 256, 0, 90, 0, -1 / 256, 0), 10, 10, Geographic(MARS))
    assert geo.pixel_size_m == pytest.approx((231.54, 231.54), abs=0.01)


def test_plain_image_grid_has_no_lonlat():
    grid = PixelGrid.from_resolution(416, 416, 100.0)
    assert grid.resolution_m == 100.0 and not grid.is_georeferenced
    with pytest.raises(GridError, match="no georeferencing"):
        grid.pixel_to_lonlat(0, 0)
    with pytest.raises(GridError, match="resolution_m must be a positive"):
        PixelGrid.from_resolution(10, 10, -1.0)


def test_bad_grids_and_coordinates():
    with pytest.raises(GridError, match="singular"):
        PixelGrid((0, 0, 0, 0, 0, 0), 10, 10)
    with pytest.raises(GridError, match="width must be a positive integer"):
        PixelGrid((1, 0, 0, 0, -1, 0), 0, 10)
    grid = PixelGrid.from_themis_tile("thm_dir_N00_030")
    with pytest.raises(CoordinateError, match=re.escape("latitude 91.0 is outside [-90, 90]")):
        grid.lonlat_to_pixel(40.0, 91.0)
    with pytest.raises(CoordinateError, match="finite"):
        grid.lonlat_to_pixel(np.nan, 0.0)


def test_from_transform_and_gdal_order():
    grid = PixelGrid.from_transform((500.0, 0, -1e6, 0, -500.0, 1e6), 100, 50, "IAU_2015:49910")
    assert isinstance(grid.projection, Equirectangular)
    assert PixelGrid.from_gdal(grid.to_gdal(), 100, 50, "IAU_2015:49910") == grid


def test_window_and_scaled():
    grid = PixelGrid.from_themis_tile("thm_dir_N00_030")
    sub = grid.window(100, 200, 64, 32)
    assert sub.pixel_to_lonlat(0, 0) == pytest.approx(grid.pixel_to_lonlat(100, 200))
    small = grid.scaled(8)
    assert (small.width, small.height) == (960, 960)
    assert small.pixel_to_lonlat(960, 960, offset="corner") == pytest.approx((60.0, 0.0))


@pytest.mark.realdata
def test_robbins_tile_pixels_within_one_pixel(shared_data):
    """Every row of the per-tile Robbins CSVs lands within 1 px of its LONG_X_PX/LAT_Y_PX."""
    files = sorted((shared_data / "robbins2012_pm30").glob("CSV_Tile_*.csv"))
    assert len(files) == 24
    total = 0
    for path in files:
        _, _, _, lat_min, lat_max, lon_min, lon_max, _ = path.stem.split("_")
        tile = ThemisTile.containing(float(lon_min) + 15, float(lat_min) + 15)
        assert tile.bounds_deg == (int(lon_min), int(lat_min), int(lon_max), int(lat_max))
        data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
        lat, lon, x_px, y_px = data[:, 0], data[:, 1], data[:, 4], data[:, 3]
        col, row = tile.grid.lonlat_to_pixel(lon, lat, offset="corner")
        assert np.max(np.abs(col - x_px)) <= 1.0 + 1e-6, path.name
        assert np.max(np.abs(row - y_px)) <= 1.0 + 1e-6, path.name
        total += len(lat)
    assert total == 225_367


def test_wrap_longitude_keeps_values_in_range_exact():
    assert wrap_longitude([179.9, -180.0, 180.0, 359.5, -190.0]).tolist() == [
        179.9,
        -180.0,
        -180.0,
        -0.5,
        170.0,
    ]
    assert wrap_longitude([359.9, 360.0, -0.1], "0..360").tolist() == [359.9, 0.0, 359.9]
