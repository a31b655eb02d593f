import numpy as np
import pytest

from geocore.grid import PixelGrid
from geocore.synthetic import random_catalog, render_scene


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


def test_render_scene_shows_craters_where_they_are():
    grid = PixelGrid.from_themis_tile("thm_dir_N-30_090").scaled(16)  # 480 px
    cat = random_catalog((90, -30, 120, 0), 30, 20.0, 60.0, seed=2)
    image = render_scene(grid, cat, seed=2)
    assert image.shape == (480, 480) and image.dtype == np.uint8
    assert image.min() >= 1  # 0 is reserved for missing data
    empty = render_scene(grid, cat[:0], seed=2)
    # craters add shading contrast around their centres
    col, row = grid.lonlat_to_pixel(cat.lon_deg, cat.lat_deg)
    i = int(np.argmax(cat.diameter_km))
    r = int(cat.diameter_km[i] * 500 / grid.resolution_m)
    c0, r0 = int(col[i]), int(row[i])
    win = (slice(max(r0 - r, 0), r0 + r), slice(max(c0 - 2 * r, 0), c0 + 2 * r))
    assert image[win].std() > 2 * empty[win].std()
