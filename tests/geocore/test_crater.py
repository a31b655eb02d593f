import math

import numpy as np
import pytest

from geocore.crater import Crater, CraterCatalog
from geocore.errors import CraterValueError
from geocore.grid import PixelGrid


def small_catalog():
    return CraterCatalog(
        lon_deg=[10.0, -170.0, 175.0, 95.0],
        lat_deg=[0.0, 5.0, -5.0, -15.0],
        diameter_km=[1.5, 3.0, 40.0, 10.0],
        confidence=[0.9, 0.5, 0.7, 1.0],
    )


def test_crater_value_and_validation():
    c = Crater(137.4, -5.4, 154.0, confidence=0.5, source="x")
    assert c.diameter_km == 154.0
    with pytest.raises(CraterValueError, match=r"latitude 95.0 is outside \[-90, 90\]"):
        Crater(0.0, 95.0, 1.0)
    with pytest.raises(CraterValueError, match="diameter must be a positive number of km, got -2"):
        Crater(0.0, 0.0, -2.0)
    with pytest.raises(CraterValueError, match="confidence must be within"):
        Crater(0.0, 0.0, 2.0, confidence=1.5)
    with pytest.raises(CraterValueError, match="needs pixel coordinates"):
        Crater(math.nan, math.nan, 2.0)
    assert Crater(math.nan, math.nan, 2.0, x_px=3.0, y_px=4.0).x_px == 3.0


def test_catalog_is_read_only_and_indexable():
    cat = small_catalog()
    assert len(cat) == 4
    with pytest.raises(ValueError, match="read-only"):
        cat.lon_deg[0] = 1.0
    first = cat[0]
    assert isinstance(first, Crater) and first.x_px is None and first.confidence == 0.9
    assert len(cat[cat.diameter_km > 2]) == 3
    assert [c.diameter_km for c in cat] == [1.5, 3.0, 40.0, 10.0]


def test_catalog_column_lengths_must_agree():
    with pytest.raises(CraterValueError, match="column 'lat_deg' has 1 values, expected 2"):
        CraterCatalog([1.0, 2.0], [0.0], [1.0, 1.0])


def test_filter_by_diameter_and_bbox():
    cat = small_catalog()
    assert len(cat.filter(min_diameter_km=2, max_diameter_km=32)) == 2
    assert cat.filter(bbox=(90, -30, 120, 0)).lon_deg.tolist() == [95.0]
    # a box across the antimeridian, given in either convention
    across = cat.filter(bbox=(170, -10, -160, 10))
    assert sorted(across.lon_deg.tolist()) == [-170.0, 175.0]
    assert len(cat.filter(bbox=(170, -10, 200, 10))) == 2
    assert len(cat.filter(bbox=(-180, -90, 180, 90))) == 4
    with pytest.raises(CraterValueError, match="south 10 is greater than north -10"):
        cat.filter(bbox=(0, 10, 10, -10))


def test_drop_duplicates_across_longitude_conventions():
    cat = CraterCatalog([10.0, 10.0, -60.0, 300.0], [1.0, 1.0, 2.0, 2.0], [5.0, 5.0, 3.0, 3.0])
    dedup = cat.drop_duplicates()
    assert len(dedup) == 2
    assert dedup.lon_deg.tolist() == [10.0, -60.0]  # first copies, original order


def test_from_craters_concat_and_sort():
    a = CraterCatalog.from_craters([Crater(1, 1, 5.0, source="a"), Crater(2, 2, 50.0, source="a")])
    b = CraterCatalog([3.0], [3.0], [20.0], confidence=[0.4])
    both = CraterCatalog.concat([a, b])
    assert len(both) == 3
    assert both.source.tolist() == ["a", "a", None]
    assert np.isnan(both.confidence[0]) and both.confidence[2] == 0.4
    assert both.sorted_by_diameter().diameter_km.tolist() == [50.0, 20.0, 5.0]
    assert len(CraterCatalog.concat([])) == 0


def test_with_pixels_uses_the_grid():
    grid = PixelGrid.from_themis_tile("thm_dir_N-30_090")
    cat = CraterCatalog([100.0], [-10.0], [2.3154178720041492]).with_pixels(grid, offset="corner")
    assert cat.x_px[0] == pytest.approx(2560.0)
    assert cat.y_px[0] == pytest.approx(2560.0)
    assert cat.diameter_px[0] == pytest.approx(10.0)
