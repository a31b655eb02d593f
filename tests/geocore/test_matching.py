"""Tests of geocore.matching: DeepMoon's rule, one-to-one greedy matching, regions, margins."""

from __future__ import annotations

import math

import numpy as np
import pytest

from geocore.body import MARS
from geocore.crater import CraterCatalog
from geocore.errors import CatalogFormatError, CoordinateError, CraterValueError, GridError
from geocore.grid import PixelGrid
from geocore.matching import MatchResult, Status, crater_status, match_catalogs
from geocore.metrics import evaluate

R_KM = MARS.radius_m / 1000.0
KM_PER_DEG = R_KM * math.pi / 180.0


def cat(*rows, **columns) -> CraterCatalog:
    """A catalogue from (lon, lat, diameter_km) rows."""
    lon, lat, d = (np.array(v, dtype=float) for v in zip(*rows, strict=True)) if rows else [[]] * 3
    return CraterCatalog(lon, lat, d, **columns)


def pix(*rows, source=None) -> CraterCatalog:
    """A pixel-only catalogue from (x_px, y_px, diameter_px) rows (10 m/px)."""
    x, y, d = (np.array(v, dtype=float) for v in zip(*rows, strict=True))
    nan = np.full(x.size, np.nan)
    src = None if source is None else np.array(source, dtype=object)
    return CraterCatalog(nan, nan, d * 0.01, x_px=x, y_px=y, diameter_px=d, source=src)


def east(km: float) -> float:
    """Degrees of longitude of ``km`` along the equator."""
    return km / KM_PER_DEG


def pairs(result: MatchResult) -> set[tuple[int, int]]:
    return set(zip(result.detected_index.tolist(), result.reference_index.tolist(), strict=True))


# ---------------------------------------------------------------- the rule
def test_perfect_match_has_zero_errors():
    rng = np.random.default_rng(0)
    ref = cat(*zip(rng.uniform(-180, 180, 200), rng.uniform(-60, 60, 200),
                   rng.uniform(2, 32, 200), strict=True))  # fmt: skip
    result = match_catalogs(ref, ref)
    assert result.mode == "sphere"
    np.testing.assert_array_equal(result.detected_index, result.reference_index)
    assert len(result) == 200 and result.unmatched_detected.size == 0
    assert result.unmatched_reference.size == 0
    for errors in (result.distance, result.lon_error, result.lat_error, result.diameter_error):
        np.testing.assert_allclose(errors, 0.0, atol=1e-9)
    assert np.all(result.pair_counted)


@pytest.mark.parametrize(
    ("distance_km", "det_diameter_km", "matched"),
    [
        (6.70, 10.0, True),  # 6.70^2 / 5^2 = 1.796 < 1.8
        (6.72, 10.0, False),  # 1.806
        (6.70, 16.0, True),  # min radius 5 still
        (6.72, 16.0, False),
        (0.0, 19.9, True),  # |5 - 9.95| / 5 = 0.99
        (0.0, 20.1, False),  # 1.01
        (0.0, 5.05, True),  # |2.525 - 5| / 2.525 = 0.98
        (0.0, 4.95, False),  # 1.02
    ],
)
def test_deepmoon_rule_thresholds(distance_km, det_diameter_km, matched):
    ref = cat((30.0, 0.0, 10.0))
    det = cat((30.0 + east(distance_km), 0.0, det_diameter_km))
    result = match_catalogs(det, ref)
    assert len(result) == int(matched)
    if matched:
        np.testing.assert_allclose(result.distance, distance_km, rtol=1e-9, atol=1e-9)


def test_distance_rule_uses_the_smaller_radius():
    ref = cat((0.0, 0.0, 10.0))
    # 3.5 km from a 5 km crater is fine for r = 5, not for r = 2.6 (3.5^2 / 2.6^2 = 1.81)
    assert len(match_catalogs(cat((east(3.5), 0.0, 5.2)), ref)) == 0
    assert len(match_catalogs(cat((east(3.4), 0.0, 5.2)), ref)) == 1


def test_two_detections_of_one_crater_give_one_match():
    ref = cat((10.0, 5.0, 8.0))
    det = cat((10.0 + east(1.5), 5.0, 8.0), (10.0 + east(0.5), 5.0, 8.0))
    result = match_catalogs(det, ref)
    assert pairs(result) == {(1, 0)}  # the closer one
    assert result.unmatched_detected.tolist() == [0]
    m = evaluate(det, ref)
    assert (m.true_positives, m.false_positives, m.false_negatives) == (1, 1, 0)


def test_one_detection_between_two_craters_matches_the_better():
    ref = cat((0.0, 0.0, 10.0), (east(4.0), 0.0, 10.0))
    det = cat((east(2.5), 0.0, 10.0))
    result = match_catalogs(det, ref)
    assert pairs(result) == {(0, 1)} and result.unmatched_reference.tolist() == [0]


def test_greedy_takes_the_cheapest_pair_first():
    # det 0 reaches both craters, det 1 only ref 0. A maximum matching would pair det 0
    # with ref 1 and det 1 with ref 0; greedy takes the cheapest pair (0, 0) first.
    ref = cat((0.0, 0.0, 10.0), (east(5.0), 0.0, 10.0))
    det = cat((east(0.2), 0.0, 10.0), (east(-3.0), 0.0, 10.0))
    assert pairs(match_catalogs(det, ref)) == {(0, 0)}


def test_antimeridian_and_pole_pairs_match():
    ref = cat((179.99, 0.0, 5.0), (0.0, 89.99, 5.0), (-90.0, -10.0, 5.0))
    det = cat((-179.99, 0.0, 5.0), (180.0, 89.99, 5.0), (270.0, -10.0, 5.0))
    result = match_catalogs(det, ref)
    assert pairs(result) == {(0, 0), (1, 1), (2, 2)}
    np.testing.assert_allclose(result.distance[:2], [0.02 * KM_PER_DEG] * 2, rtol=1e-6)
    np.testing.assert_allclose(result.lon_error[0], 0.02 * KM_PER_DEG / 2.5, rtol=1e-6)
    assert result.lat_error[0] == 0.0 and result.distance[2] < 1e-9


def test_fractional_errors_are_relative_to_the_reference():
    ref = cat((10.0, 60.0, 10.0))
    det = cat((10.05, 60.02, 11.0))
    result = match_catalogs(det, ref)
    east_west_km = 0.05 * KM_PER_DEG * math.cos(math.radians(60.0))
    np.testing.assert_allclose(result.lon_error, east_west_km / 5.0, rtol=1e-12)
    np.testing.assert_allclose(result.lat_error, 0.02 * KM_PER_DEG / 5.0, rtol=1e-12)
    np.testing.assert_allclose(result.diameter_error, 0.1, rtol=1e-12)


def test_inputs_are_not_modified_and_result_is_read_only():
    ref = cat((0.0, 0.0, 10.0))
    det = cat((0.01, 0.0, 10.0))
    result = match_catalogs(det, ref)
    with pytest.raises(ValueError, match="read-only"):
        result.detected_index[0] = 5
    assert det.lon_deg[0] == 0.01


# -------------------------------------------------- against a brute force
def _haversine_km(lon1, lat1, lon2, lat2):
    lon1, lat1, lon2, lat2 = map(np.radians, (lon1, lat1, lon2, lat2))
    h = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * R_KM * np.arcsin(np.sqrt(h))


def _brute_force(det_xy, det_r, ref_xy, ref_r, distance):
    """Every pair tested, then the sequential greedy by (cost, det, ref)."""
    d = distance(det_xy[:, None, :], ref_xy[None, :, :])
    r_min = np.minimum(det_r[:, None], ref_r[None, :])
    dist_term = (d / r_min) ** 2 / 1.8
    size_term = np.abs(det_r[:, None] - ref_r[None, :]) / r_min
    i, j = np.nonzero((dist_term < 1) & (size_term < 1))
    cost = dist_term[i, j] + size_term[i, j]
    used_i, used_j, out = set(), set(), set()
    for k in np.lexsort((j, i, cost)):
        if i[k] not in used_i and j[k] not in used_j:
            used_i.add(i[k])
            used_j.add(j[k])
            out.add((int(i[k]), int(j[k])))
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sphere_matching_equals_brute_force_greedy(seed):
    rng = np.random.default_rng(seed)
    n = 400
    # a crowded patch across the antimeridian, radii across many octaves (incl. powers of 2)
    lon = rng.uniform(179.0, 181.0, n)
    lat = rng.uniform(-1.0, 1.0, n)
    d = np.concatenate([2.0 ** rng.integers(1, 5, 40), np.exp(rng.uniform(0, 3.5, n - 40))])
    ref = cat(*zip(lon, lat, d, strict=True))
    jitter = rng.normal(0, 0.02, n)
    det = cat(*zip(lon + jitter, lat - jitter, d * rng.uniform(0.6, 1.6, n), strict=True))
    result = match_catalogs(det, ref)

    def distance(a, b):
        return _haversine_km(a[..., 0], a[..., 1], b[..., 0], b[..., 1])

    expected = _brute_force(
        np.stack([det.lon_deg, det.lat_deg], 1), det.diameter_km / 2,
        np.stack([ref.lon_deg, ref.lat_deg], 1), ref.diameter_km / 2, distance,
    )  # fmt: skip
    assert len(expected) > 100
    assert pairs(result) == expected


def test_pixel_matching_equals_brute_force_greedy():
    rng = np.random.default_rng(5)
    n = 300
    xy = rng.uniform(0, 400, (n, 2))
    d = np.exp(rng.uniform(1, 5, n))
    ref = pix(*zip(xy[:, 0], xy[:, 1], d, strict=True))
    xy2 = xy + rng.normal(0, 3, (n, 2))
    det = pix(*zip(xy2[:, 0], xy2[:, 1], d * rng.uniform(0.6, 1.6, n), strict=True))
    result = match_catalogs(det, ref)
    assert result.mode == "pixel"

    def distance(a, b):
        return np.hypot(a[..., 0] - b[..., 0], a[..., 1] - b[..., 1])

    expected = _brute_force(xy2, det.diameter_px / 2, xy, ref.diameter_px / 2, distance)
    assert len(expected) > 100
    assert pairs(result) == expected


def test_identical_70k_catalogues_match_completely():
    rng = np.random.default_rng(3)
    n = 70_000
    lon = rng.uniform(-180, 180, n)
    lat = np.degrees(np.arcsin(rng.uniform(-0.5, 0.5, n)))
    d = np.exp(rng.uniform(math.log(2), math.log(32), n))
    ref = CraterCatalog(lon, lat, d)
    m = evaluate(ref, ref)
    assert (m.true_positives, m.false_positives, m.false_negatives) == (n, 0, 0)
    assert m.f1 == 1.0


# ------------------------------------------------------------ pixel mode
def test_pixel_mode_matches_within_the_same_image_only():
    ref = pix((100, 100, 40), (100, 100, 40), source=["a/crater0.jpg", "crater1.jpg"])
    det = pix((101, 99, 42), (300, 300, 40), source=["crater0", "crater1.png"])
    result = match_catalogs(det, ref)
    assert pairs(result) == {(0, 0)}
    np.testing.assert_allclose(result.lon_error, 1 / 20)
    np.testing.assert_allclose(result.diameter_error, 2 / 40)


def test_pixel_craters_of_several_images_need_sources():
    ref = pix((100, 100, 40), (200, 100, 40), source=["a.jpg", "b.jpg"])
    det = pix((100, 100, 40))
    with pytest.raises(CatalogFormatError, match="2 images"):
        match_catalogs(det, ref)
    # one image on each side is fine
    assert len(match_catalogs(det, ref[:1])) == 1


def test_catalogues_that_cannot_be_compared():
    lonlat = cat((0.0, 0.0, 5.0))
    pixels = pix((10, 10, 20))
    with pytest.raises(CatalogFormatError, match="cannot compare the catalogues"):
        match_catalogs(pixels, lonlat)
    with pytest.raises(CatalogFormatError, match="by lon/lat"):
        match_catalogs(pixels, pixels, mode="sphere")
    with pytest.raises(CatalogFormatError, match="by pixels"):
        match_catalogs(lonlat, lonlat, mode="pixel")
    with pytest.raises(ValueError, match="mode must be one of"):
        match_catalogs(lonlat, lonlat, mode="metres")


def test_georeferenced_detections_can_be_matched_in_pixels():
    ref = pix((10, 10, 20))
    det = cat((0.0, 0.0, 0.2), x_px=[11.0], y_px=[10.0], diameter_px=[20.0])
    assert match_catalogs(det, ref).mode == "pixel"
    assert len(match_catalogs(det, ref)) == 1


# ---------------------------------------------------------------- empties
def test_empty_catalogues():
    empty, one = CraterCatalog.empty(), cat((0.0, 0.0, 5.0))
    for det, ref in ((empty, empty), (empty, one), (one, empty)):
        result = match_catalogs(det, ref)
        assert len(result) == 0
        assert result.unmatched_detected.size == len(det)
        assert result.unmatched_reference.size == len(ref)
    assert match_catalogs(empty, pix((10, 10, 20), (5, 5, 9), source=["a", "b"])).mode == "pixel"


# ---------------------------------------------------------------- regions
def test_status_against_a_bbox():
    ref = cat(
        (15.0, 0.0, 10.0),  # inside
        (0.01, 0.0, 10.0),  # rim crosses the west edge, centre inside
        (-0.05, 0.0, 10.0),  # centre outside, rim inside
        (-1.0, 0.0, 10.0),  # outside
        (15.0, 4.99, 10.0),  # crosses the north edge
        (15.0, 80.0, 10.0),  # far north
    )
    status = crater_status(ref, mode="sphere", region=(0, -5, 20, 5))
    assert [Status(s).name for s in status] == [
        "COUNTED", "EDGE", "EDGE", "OUTSIDE", "EDGE", "OUTSIDE",
    ]  # fmt: skip


def test_status_against_a_bbox_across_the_antimeridian():
    ref = cat((180.0, 0.0, 10.0), (170.01, 0.0, 10.0), (-170.01, 0.0, 10.0), (169.0, 0, 10.0),
              (-169.95, 0.0, 10.0), (0.0, 0.0, 10.0))  # fmt: skip
    status = crater_status(ref, mode="sphere", region=(170, -10, -170, 10))
    assert [Status(s).name for s in status] == [
        "COUNTED", "EDGE", "EDGE", "OUTSIDE", "EDGE", "OUTSIDE",
    ]  # fmt: skip
    # a whole-planet box: only the parallels cut
    status = crater_status(ref, mode="sphere", region=(-180, -0.01, 180, 10))
    assert set(status.tolist()) == {Status.EDGE}


def test_status_of_a_crater_over_the_pole():
    ref = cat((0.0, 89.99, 50.0))
    assert crater_status(ref, mode="sphere", region=(0, 80, 10, 90))[0] == Status.EDGE
    assert crater_status(ref, mode="sphere", region=(-180, 80, 180, 90))[0] == Status.COUNTED


def test_status_against_a_themis_grid_matches_its_bbox():
    grid = PixelGrid.from_themis_tile("thm_dir_N-30_090")
    rng = np.random.default_rng(4)
    n = 3000
    ref = cat(*zip(rng.uniform(88, 122, n), rng.uniform(-32, 2, n), rng.uniform(2, 60, n),
                   strict=True))  # fmt: skip
    by_grid = crater_status(ref, mode="sphere", region=grid)
    by_bbox = crater_status(ref, mode="sphere", region=(90, -30, 120, 0))
    assert {int(s) for s in by_grid} == {Status.COUNTED, Status.EDGE, Status.OUTSIDE}
    np.testing.assert_array_equal(by_grid, by_bbox)


def test_status_against_a_pixel_grid_in_pixel_mode():
    grid = PixelGrid.from_resolution(416, 416, 100.0)
    ref = pix((200, 200, 50), (10, 200, 50), (420, 200, 20), (460, 200, 20))
    status = crater_status(ref, mode="pixel", region=grid)
    assert [Status(s).name for s in status] == ["COUNTED", "EDGE", "EDGE", "OUTSIDE"]


def test_region_errors():
    ref = cat((0.0, 0.0, 5.0))
    with pytest.raises(CoordinateError, match="south"):
        match_catalogs(ref, ref, region=(0, 10, 20, -10))
    with pytest.raises(CoordinateError, match="lon/lat box"):
        match_catalogs(pix((1, 1, 2)), pix((1, 1, 2)), region=(0, -10, 20, 10))
    with pytest.raises(GridError, match="without georeferencing"):
        match_catalogs(ref, ref, region=PixelGrid.from_resolution(10, 10, 100.0))
    with pytest.raises(CraterValueError, match="diameter_margin"):
        match_catalogs(ref, ref, diameter_margin=-0.1)
    with pytest.raises(CraterValueError, match="swap them"):
        match_catalogs(ref, ref, min_diameter_km=32, max_diameter_km=2)
    with pytest.raises(ValueError, match="mode must be 'sphere' or 'pixel'"):
        crater_status(ref, mode="auto")


def test_edge_rule():
    region = (0, -5, 20, 5)
    ref = cat(
        (10.0, 0.0, 10.0),  # 0 counted, found
        (0.01, 0.0, 10.0),  # 1 cut, missed: no FN
        (19.99, 0.0, 10.0),  # 2 cut, found by a counted detection: TP
        (10.0, 4.99, 10.0),  # 3 cut, found by a cut detection: ignored
        (12.0, 0.0, 10.0),  # 4 counted, missed: FN
    )
    det = cat(
        (10.0, 0.0, 10.0),  # 0 -> ref 0
        (19.9, 0.0, 10.0),  # 1 -> ref 2 (its rim, 0.084 deg east, is inside: counted)
        (10.0, 4.995, 10.0),  # 2 cut -> ref 3
        (0.02, 3.0, 10.0),  # 3 cut, unmatched: no FP
        (5.0, 0.0, 10.0),  # 4 counted, unmatched: FP
    )
    result = match_catalogs(det, ref, region=region)
    assert pairs(result) == {(0, 0), (1, 2), (2, 3)}
    assert result.pair_counted.tolist() == [True, True, False]
    m = evaluate(det, ref, region=region)
    assert (m.true_positives, m.false_positives, m.false_negatives) == (2, 1, 1)
    assert (m.ignored_detected, m.ignored_reference) == (2, 2)


def test_diameter_margin_rule():
    ref = cat((0, 0, 2.05), (1, 0, 1.95), (2, 0, 1.85), (3, 0, 1.9), (4, 0, 1.5), (5, 0, 3.0))
    det = cat((0, 0, 1.95), (1, 0, 2.05), (2, 0, 1.8), (6, 0, 1.9), (7, 0, 1.5), (8, 0, 3.0))
    result = match_catalogs(det, ref, min_diameter_km=2, max_diameter_km=32)
    # 1.5 km craters are outside 2 / 1.25 = 1.6 km: not matched at all
    assert [Status(s).name for s in result.reference_status] == [
        "COUNTED", "MARGIN", "MARGIN", "MARGIN", "OUT_OF_RANGE", "COUNTED",
    ]  # fmt: skip
    assert pairs(result) == {(0, 0), (1, 1), (2, 2)}
    m = evaluate(det, ref, min_diameter_km=2, max_diameter_km=32)
    # TP: 1.95 det of a 2.05 crater, 2.05 det of a 1.95 crater; 1.8/1.85 pair ignored;
    # the 1.9 km ones unmatched but uncounted; the 3 km ones are an FN and an FP
    assert (m.true_positives, m.false_positives, m.false_negatives) == (2, 1, 1)
    assert (m.excluded_detected, m.excluded_reference) == (1, 1)
    # no margin: the 1.95 km ones are simply out
    m = evaluate(det, ref, min_diameter_km=2, max_diameter_km=32, diameter_margin=0)
    assert (m.true_positives, m.false_positives, m.false_negatives) == (0, 2, 2)


# --------------------------------------------------------------- real data
@pytest.mark.realdata
def test_robbins_against_itself_perturbed(shared_data):
    from geocore.catalog import read_catalog

    ref = read_catalog(shared_data / "robbins2012_pm30").filter(
        min_diameter_km=2, max_diameter_km=32
    )
    assert len(ref) > 69_000
    rng = np.random.default_rng(7)
    r_km = ref.diameter_km / 2
    dx, dy = rng.normal(0, 0.05, (2, len(ref))) * r_km  # 5 % of the radius
    lat = ref.lat_deg + np.degrees(dy / R_KM)
    lon = ref.lon_deg + np.degrees(dx / R_KM) / np.cos(np.radians(ref.lat_deg))
    scale = np.exp(rng.normal(0, 0.03, len(ref)))
    det = ref.replace(lon_deg=lon, lat_deg=lat, diameter_km=ref.diameter_km * scale)
    m = evaluate(det, ref, min_diameter_km=2, max_diameter_km=32)
    assert m.recall > 0.999 and m.precision > 0.999
    # medians of |N(0, s)| / r: 0.674 s
    assert m.median_lon_error == pytest.approx(0.674 * 0.05, rel=0.05)
    assert m.median_lat_error == pytest.approx(0.674 * 0.05, rel=0.05)
    assert m.median_diameter_error == pytest.approx(0.674 * 0.03, rel=0.05)
    assert sum(b.tp_reference for b in m.bins) == m.true_positives
