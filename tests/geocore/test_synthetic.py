import time

import numpy as np
import pytest

from geocore.crater import CraterCatalog
from geocore.errors import GridError, SceneParameterError
from geocore.grid import PixelGrid
from geocore.projection import Equirectangular
from geocore.synthetic import _background, _crater_profile, random_catalog, render_scene

THEMIS = PixelGrid.from_themis_tile("thm_dir_N-30_090")  # 231.5 m/px, lat 0..-30


def test_random_catalog_is_seeded_and_in_bounds():
    a = random_catalog((90, -30, 120, 0), 500, 2.0, 32.0, seed=7)
    b = random_catalog((90, -30, 120, 0), 500, 2.0, 32.0, seed=7)
    assert np.array_equal(a.diameter_km, b.diameter_km)
    assert a.lon_deg.min() >= 90 and a.lon_deg.max() <= 120
    assert a.lat_deg.min() >= -30 and a.lat_deg.max() <= 0
    assert a.diameter_km.min() >= 2 and a.diameter_km.max() <= 32
    # power law with slope 2: about 3/4 of craters between 2 and 4 km
    share = np.mean(a.diameter_km < 4)
    assert 0.68 < share < 0.82


def test_random_catalog_bad_input():
    with pytest.raises(ValueError, match="need 0 < min_diameter_km < max_diameter_km"):
        random_catalog((0, 0, 1, 1), 5, 10.0, 2.0)
    with pytest.raises(ValueError, match="n_craters must be >= 0"):
        random_catalog((0, 0, 1, 1), -1)


def _window(size_px=384):
    """A window of the THEMIS tile near the equator, and its lon/lat box."""
    grid = THEMIS.window(1000, 1000, size_px, size_px)
    lon, lat = grid.pixel_to_lonlat([0, size_px], [size_px, 0], offset="corner")
    return grid, (float(lon[0]), float(lat[0]), float(lon[1]), float(lat[1]))


def test_render_scene_is_reproducible_8_bit_and_never_zero():
    grid, bbox = _window(256)
    cat = random_catalog(bbox, 20, 3.0, 20.0, seed=4)
    a = render_scene(grid, cat, seed=4)
    assert a.shape == (256, 256) and a.dtype == np.uint8
    assert np.array_equal(a, render_scene(grid, cat, seed=4))
    assert not np.array_equal(a, render_scene(grid, cat, seed=5))
    # a harsh stretch pushes many pixels below 1: they are clipped to 1, never 0
    harsh = render_scene(grid, cat, seed=4, contrast=600.0, noise=20.0)
    assert harsh.min() == 1 and np.mean(harsh == 1) > 0.01 and harsh.max() == 255


def _east_minus_west(image, x, y, radius_px):
    """Mean grey of the east half of a crater's interior minus that of its west half."""
    rows, cols = np.mgrid[: image.shape[0], : image.shape[1]]
    inside = np.hypot(cols - x, rows - y) < 0.8 * radius_px
    return image[inside & (cols > x + 1)].mean() - image[inside & (cols < x - 1)].mean()


def test_craters_are_visible_where_the_catalogue_puts_them():
    # sun from the west: a bowl's west inner wall faces away (cool, dark), its east
    # inner wall faces the sun (warm, bright); the bare terrain has no such pattern
    grid, bbox = _window(384)
    cat = random_catalog(bbox, 12, 8.0, 24.0, seed=1).with_pixels(grid)
    radius_px = cat.diameter_px / 2
    ok = (np.minimum(cat.x_px, cat.y_px) > radius_px) & (
        np.maximum(cat.x_px, cat.y_px) < 384 - radius_px
    )
    assert ok.sum() >= 5
    args = list(zip(cat.x_px[ok], cat.y_px[ok], radius_px[ok], strict=True))
    with_craters, without = [], []
    for seed in (1, 2, 3):
        image = render_scene(grid, cat, seed=seed).astype(float)
        empty = render_scene(grid, cat[:0], seed=seed).astype(float)
        contrast = np.array([_east_minus_west(image, *a) for a in args])
        # degraded craters on rough ground may fade, as in real images; most stand out
        assert np.mean(contrast > 10) >= 0.75, contrast
        with_craters += list(contrast)
        without += [abs(_east_minus_west(empty, *a)) for a in args]
    assert np.median(with_craters) > np.median(without) + 25


def test_a_small_crater_inside_a_big_one_stays_visible():
    grid, (west, south, east, north) = _window(384)
    lon, lat = (west + east) / 2, (south + north) / 2
    big = CraterCatalog([lon], [lat], [60.0])
    small_lon = lon + 6.0 / 59.27  # 6 km east of the big crater's centre, on its floor
    both = CraterCatalog([lon, small_lon], [lat, lat], [60.0, 6.0])
    for seed in range(4):
        image = render_scene(grid, both, seed=seed, noise=0.0).astype(float)
        alone = render_scene(grid, big, seed=seed, noise=0.0).astype(float)
        x, y = grid.lonlat_to_pixel(small_lon, lat)
        r = 3.0 / grid.resolution_m * 1000
        assert _east_minus_west(image, x, y, r) > _east_minus_west(alone, x, y, r) + 10


def _footprint_aspect(lat_deg: float) -> float:
    """Width over height (px) of the pixels a 20 km crater at ``lat_deg`` changes."""
    res = 500.0
    y0 = lat_deg * Equirectangular().forward(0.0, 1.0)[1] + 100 * res
    grid = PixelGrid((res, 0.0, -100 * res, 0.0, -res, y0), 200, 200, Equirectangular())
    cat = CraterCatalog([0.0], [lat_deg], [20.0])
    calm = dict(seed=0, noise=0.0, roughness=0.0, background_craters=0.0)
    diff = np.abs(render_scene(grid, cat, **calm).astype(int) - render_scene(grid, cat[:0], **calm))
    rows, cols = np.nonzero(diff > 3)
    return (cols.max() - cols.min()) / (rows.max() - rows.min())


def test_footprints_are_stretched_by_one_over_cos_lat():
    # 1/cos(60) = 2: at 60 N a crater is twice as wide in pixels as at the equator
    assert 1.8 < _footprint_aspect(60.0) / _footprint_aspect(0.0) < 2.2


def test_background_craters_are_all_smaller_than_the_catalogue():
    grid, bbox = _window(512)
    cat = random_catalog(bbox, 30, 4.0, 30.0, seed=2)
    dx_m = np.full(grid.height, grid.resolution_m)
    _, _, _, _, d_km = _background(np.random.default_rng(0), grid, dx_m, cat, 0.004, None)
    smallest = cat.diameter_km.min()
    assert len(d_km) > 50
    assert d_km.max() < smallest and d_km.min() >= 2.5 * grid.resolution_m / 1000
    # N(>1 km) = 0.004 per km², slope 2.5, drawn between 0.58 km and the catalogue's 4+ km
    area_km2 = (512 * grid.resolution_m / 1000) ** 2
    expected = 0.004 * area_km2 * (d_km.min() ** -2.5 - smallest**-2.5)
    assert 0.7 * expected < len(d_km) < 1.3 * expected
    none = _background(np.random.default_rng(0), grid, dx_m, cat, 0.0, None)
    assert len(none[0]) == 0


def test_fresh_craters_are_deep_and_degraded_ones_shallow():
    r = np.linspace(0.0, 2.5, 400)
    rng = np.random.default_rng(0)
    for d_km in (2.0, 5.0):
        fresh = _crater_profile(r, d_km, 0.0, 50.0, rng)
        old = _crater_profile(r, d_km, 1.0, 50.0, rng)
        # depth from the rim crest to the floor, over the diameter
        assert 0.18 < (fresh.max() - fresh.min()) / (d_km * 1000) < 0.26
        assert 0.03 < (old.max() - old.min()) / (d_km * 1000) < 0.07
        assert np.argmax(fresh) > np.argmin(fresh)  # rim outside, floor inside
    big = _crater_profile(r, 40.0, 0.0, 50.0, rng)
    assert (big.max() - big.min()) / 40_000 < 0.12  # complex craters are relatively shallow


def test_render_scene_without_georeferencing_needs_pixel_positions():
    grid = PixelGrid.from_resolution(128, 128, 100.0)
    cat = CraterCatalog([0.0], [0.0], [3.0])
    with pytest.raises(GridError, match="with_pixels"):
        render_scene(grid, cat)
    placed = cat.replace(x_px=[64.0], y_px=[64.0])
    assert render_scene(grid, placed).shape == (128, 128)


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"noise": -1.0}, "noise must be >= 0"),
        ({"background_craters": -0.1}, "background_craters must be a density >= 0"),
        ({"roughness": -1.0}, "roughness must be >= 0"),
        ({"sun_elevation_deg": 0.0}, r"sun_elevation_deg must be in \(0, 90\]"),
        ({"contrast": 0.0}, "contrast must be > 0"),
    ],
)
def test_render_scene_bad_parameters(option, message):
    grid, _ = _window(64)
    with pytest.raises(SceneParameterError, match=message):
        render_scene(grid, CraterCatalog.empty(), **option)


def test_render_scene_speed_sanity():
    # the benchmark measures speed; this only catches an accidental blow-up
    grid, bbox = _window(512)
    cat = random_catalog(bbox, 100, 2.0, 40.0, seed=0)
    start = time.perf_counter()
    render_scene(grid, cat)
    assert time.perf_counter() - start < 15.0
