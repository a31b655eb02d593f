"""Crater extraction from probability maps (geocore.extraction, geocore.template_matching)."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

from geocore.crater import CraterCatalog
from geocore.errors import CancelledError, GeocoreError, GridError
from geocore.extraction import (
    ExtractionError,
    ExtractionParams,
    extract_craters,
    remove_duplicates,
)
from geocore.grid import PixelGrid
from geocore.metrics import evaluate
from geocore.projection import Equirectangular
from geocore.targets import rasterize_targets
from geocore.template_matching import RimGeometry, render_template, stretch_bands

METHODS = ("fast", "template")
KINDS = ("ring", "outline", "filled")
RES_M = 100.0  # 1 px = 0.1 km


def pixel_catalog(x, y, radius_px) -> CraterCatalog:
    x, y, r = (np.atleast_1d(np.asarray(v, dtype=float)) for v in (x, y, radius_px))
    nan = np.full(x.size, np.nan)
    return CraterCatalog(nan, nan, 2 * r * RES_M / 1000.0, x_px=x, y_px=y, diameter_px=2 * r)


def target_map(size, catalog, kind="ring", width=4.0):
    grid = PixelGrid.from_resolution(size, size, RES_M)
    return grid, rasterize_targets(grid, catalog, kind, ring_width_px=width)


def blur(image: np.ndarray, sigma: float) -> np.ndarray:
    radius = int(3 * sigma) + 1
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    out = image.astype(float)
    for axis in (0, 1):
        out = np.apply_along_axis(np.convolve, axis, out, taps, mode="same")
    return out


def random_craters(rng, n, size, rmin=5.0, rmax=30.0, margin=20):
    x = rng.uniform(margin, size - margin, n)
    y = rng.uniform(margin, size - margin, n)
    # power law: many small, few large
    u = rng.uniform(0, 1, n)
    r = (rmin**-2 - u * (rmin**-2 - rmax**-2)) ** -0.5
    return pixel_catalog(x, y, r)


# ----------------------------------------------------------------- single craters
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("kind", KINDS)
def test_single_crater_is_found_within_a_pixel_and_5_percent(method, kind):
    truth = pixel_catalog(47.3, 45.8, 14.2)
    grid, mask = target_map(96, truth, kind)
    params = ExtractionParams(method=method, target_kind=kind, ring_width_px=4, max_radius_px=30)
    found = extract_craters(mask, grid, params)
    assert len(found) == 1
    assert math.hypot(found.x_px[0] - 47.3, found.y_px[0] - 45.8) < 1.0
    assert found.diameter_px[0] / 2 == pytest.approx(14.2, rel=0.05)
    assert found.diameter_km[0] == pytest.approx(found.diameter_px[0] * RES_M / 1000.0)
    assert 0.5 < found.confidence[0] <= 1.0
    assert np.isnan(found.lon_deg[0]) and np.isnan(found.lat_deg[0])


def test_fast_method_is_sub_pixel():
    truth = pixel_catalog(40.37, 43.81, 17.6)
    grid, mask = target_map(96, truth, "ring")
    found = extract_craters(mask, grid, ExtractionParams(ring_width_px=4))
    assert abs(found.x_px[0] - 40.37) < 0.25 and abs(found.y_px[0] - 43.81) < 0.25
    assert found.diameter_px[0] / 2 == pytest.approx(17.6, rel=0.01)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("lat", [55.0, 30.0])
def test_crater_on_equirectangular_grid_is_round_on_the_sphere(method, lat):
    # a 500 m/px equirectangular window around (lon 20, lat): 1 / cos(55) = 1.74 px wide per px
    projection = Equirectangular()
    x0, y0 = projection.forward(19.0, lat + 1.0)
    grid = PixelGrid((500.0, 0.0, float(x0), 0.0, -500.0, float(y0)), 160, 120, projection)
    truth = CraterCatalog([20.0], [lat], [16.0])
    mask = rasterize_targets(grid, truth, "ring", ring_width_px=3)
    params = ExtractionParams(method=method, ring_width_px=3, min_radius_px=8, max_radius_px=24)
    found = extract_craters(mask, grid, params)
    assert len(found) == 1
    assert found.diameter_km[0] == pytest.approx(16.0, rel=0.05)
    assert found.lon_deg[0] == pytest.approx(20.0, abs=0.01)
    assert found.lat_deg[0] == pytest.approx(lat, abs=0.01)
    # matched as a circle, the same ellipse is not the crater
    circles = extract_craters(mask, grid, params.replace(stretch="none"))
    assert not any(abs(d - 16.0) < 0.05 * 16.0 for d in circles.diameter_km)


@pytest.mark.parametrize("method", METHODS)
def test_two_overlapping_craters_are_both_found(method):
    truth = pixel_catalog([40.0, 64.0], [50.0, 54.0], [18.0, 14.0])
    grid, mask = target_map(110, truth, "ring")
    params = ExtractionParams(method=method, ring_width_px=4, max_radius_px=30)
    found = extract_craters(mask, grid, params)
    assert len(found) == 2
    for x, y, r in ((40.0, 50.0, 18.0), (64.0, 54.0, 14.0)):
        i = int(np.argmin(np.hypot(found.x_px - x, found.y_px - y)))
        assert math.hypot(found.x_px[i] - x, found.y_px[i] - y) < 1.0
        assert found.diameter_px[i] / 2 == pytest.approx(r, rel=0.05)


# ------------------------------------------------------------------- duplicates
def test_same_crater_from_two_windows_is_kept_once():
    projection = Equirectangular()
    x0, y0 = projection.forward(10.0, 5.0)
    grid = PixelGrid((500.0, 0.0, float(x0), 0.0, -500.0, float(y0)), 200, 120, projection)
    truth = CraterCatalog([10.8, 11.2], [4.5, 4.6], [12.0, 8.0])
    mask = rasterize_targets(grid, truth, "ring", ring_width_px=3)
    params = ExtractionParams(ring_width_px=3)
    # two overlapping windows that both hold both craters, extracted separately
    parts = []
    for col0 in (0, 40):
        window = grid.window(col0, 0, 160, 120)
        parts.append(extract_craters(mask[:, col0 : col0 + 160], window, params))
    both = CraterCatalog.concat(parts)
    assert len(both) == 4
    kept = remove_duplicates(both)
    assert len(kept) == 2
    assert sorted(np.round(kept.diameter_km)) == [8.0, 12.0]


def test_remove_duplicates_keeps_the_most_confident_and_the_order():
    cat = pixel_catalog([10.0, 11.0, 50.0, 12.0], [10.0, 10.0, 50.0, 11.0], [5.0, 5.5, 5.0, 5.0])
    cat = cat.replace(confidence=[0.6, 0.9, 0.7, 0.8])
    kept = remove_duplicates(cat, space="pixel")
    assert kept.confidence.tolist() == [0.9, 0.7]
    # a crater of twice the radius is another crater (DeepMoon's |r1 - r2| / min(r) < 1)
    pair = pixel_catalog([10.0, 10.0], [10.0, 10.0], [5.0, 10.0])
    assert len(remove_duplicates(pair)) == 2


def test_remove_duplicates_on_the_sphere_across_the_antimeridian():
    cat = CraterCatalog([179.999, -179.999], [0.0, 0.0], [10.0, 10.0], confidence=[0.5, 0.6])
    kept = remove_duplicates(cat)
    assert len(kept) == 1 and kept.confidence[0] == 0.6


def test_remove_duplicates_bad_input():
    cat = pixel_catalog([1.0, 2.0], [1.0, 2.0], [3.0, 3.0])
    with pytest.raises(ExtractionError, match="space='sphere' needs lon/lat"):
        remove_duplicates(cat, space="sphere")
    with pytest.raises(ExtractionError, match="space='planet': must be one of"):
        remove_duplicates(cat, space="planet")
    no_pixels = CraterCatalog([1.0, 1.0], [1.0, 1.0], [3.0, 3.0])
    with pytest.raises(ExtractionError, match="needs x_px, y_px and diameter_px"):
        remove_duplicates(no_pixels, space="pixel")


# ------------------------------------------------------------- noisy maps, empty
@pytest.mark.parametrize("kind", KINDS)
def test_noisy_probability_maps_give_no_spurious_craters(kind):
    # measured on 10 seeds x 3 kinds: no false positive with either method
    rng = np.random.default_rng(3)
    size = 200
    truth = random_craters(rng, 6, size)
    grid, mask = target_map(size, truth, kind)
    prob = np.clip(blur(mask, 1.5) * 1.2, 0, 1)
    speckle = rng.random(prob.shape) < 0.02
    prob[speckle] = rng.random(int(speckle.sum()))
    prob = prob.astype(np.float32)
    for method in METHODS:
        params = ExtractionParams(method=method, target_kind=kind, max_radius_px=36)
        found = extract_craters(prob, grid, params)
        m = evaluate(found, truth, region=grid, min_diameter_km=1.0, max_diameter_km=6.0)
        assert m.false_positives == 0, method
        assert m.recall >= 0.8, method


@pytest.mark.parametrize("method", METHODS)
def test_speckle_alone_gives_no_crater(method):
    rng = np.random.default_rng(5)
    noise = (rng.random((160, 160)) < 0.05) * rng.random((160, 160))
    grid = PixelGrid.from_resolution(160, 160, RES_M)
    for kind in KINDS:
        params = ExtractionParams(method=method, target_kind=kind, max_radius_px=40)
        assert len(extract_craters(noise.astype(np.float32), grid, params)) == 0


@pytest.mark.parametrize("method", METHODS)
def test_empty_map_gives_empty_catalogue(method):
    found = extract_craters(
        np.zeros((64, 80), np.float32), None, ExtractionParams(method=method), resolution_m=RES_M
    )
    assert len(found) == 0


# ------------------------------------------------------------- inputs and params
def test_input_is_not_modified_and_read_only_input_works():
    truth = pixel_catalog(40.0, 40.0, 12.0)
    grid, mask = target_map(80, truth, "ring")
    prob = (blur(mask, 1.0) * 0.9).astype(np.float32)
    before = prob.copy()
    prob.setflags(write=False)
    for method in METHODS:
        extract_craters(prob, grid, ExtractionParams(method=method, max_radius_px=30))
    np.testing.assert_array_equal(prob, before)


def test_mask_encodings_give_the_same_craters():
    truth = pixel_catalog([30.0, 60.0], [35.0, 50.0], [10.0, 15.0])
    grid, mask = target_map(96, truth, "outline")
    params = ExtractionParams(target_kind="outline")
    results = [
        extract_craters(m, grid, params)
        for m in (mask, mask.astype(bool), mask * np.uint8(255), mask.astype(np.float32))
    ]
    for other in results[1:]:
        np.testing.assert_allclose(other.x_px, results[0].x_px)
        np.testing.assert_allclose(other.diameter_px, results[0].diameter_px)


def test_diameter_range_in_km_overrides_the_radius_range():
    truth = pixel_catalog([30.0, 64.0], [40.0, 48.0], [8.0, 20.0])
    grid, mask = target_map(100, truth, "ring")
    found = extract_craters(mask, grid, min_diameter_km=3.0, max_diameter_km=5.0)
    assert len(found) == 1 and found.diameter_km[0] == pytest.approx(4.0, rel=0.05)


def test_cancel_stops_with_cancelled_error():
    truth = pixel_catalog(40.0, 40.0, 12.0)
    grid, mask = target_map(80, truth, "ring")
    for method in METHODS:
        calls = []

        def cancel(calls=calls):
            calls.append(1)
            return len(calls) > 2

        with pytest.raises(CancelledError, match="cancelled"):
            extract_craters(mask, grid, ExtractionParams(method=method), cancel=cancel)
        assert len(calls) == 3
    never = []
    extract_craters(mask, grid, cancel=lambda: never.append(1) or False)
    assert len(never) > 3  # checked along the way


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"threshold": 0.0}, "threshold=0.0: must be within"),
        ({"threshold": 1.5}, "threshold=1.5: must be within"),
        ({"correlation_threshold": -0.1}, "correlation_threshold=-0.1"),
        ({"min_radius_px": 20.0, "max_radius_px": 10.0}, "is above max_radius_px=10.0; swap"),
        ({"method": "hough"}, "method='hough': must be one of fast, template"),
        ({"target_kind": "disk"}, "target_kind='disk': must be one of ring, outline, filled"),
        ({"stretch": "cos"}, "stretch='cos': must be one of auto, none"),
        ({"inner_ratio": 1.0}, "inner_ratio=1.0"),
        ({"ring_width_px": 0.0}, "ring_width_px=0.0: must be a positive number"),
        ({"template_ring_width_px": -2.0}, "template_ring_width_px=-2.0"),
        ({"block_px": 10}, "block_px=10: must be at least 64"),
        ({"fast_radii_per_octave": 2.5}, "fast_radii_per_octave=2.5"),
    ],
)
def test_bad_params_are_refused(changes, match):
    with pytest.raises(ExtractionError, match=match):
        ExtractionParams(**changes)


def test_params_round_trip_through_json_for_model_info():
    params = ExtractionParams(method="template", target_kind="outline", template_ring_width_px=2.0)
    text = json.dumps(params.to_dict())
    assert ExtractionParams.from_dict(json.loads(text)) == params
    assert ExtractionParams.from_dict(None) == ExtractionParams()
    with pytest.raises(ExtractionError, match=r"unknown extraction parameter\(s\) \['radius'\]"):
        ExtractionParams.from_dict({"radius": 3})


def test_params_for_a_model_take_its_targets_then_its_extraction_dict():
    from geocore.model_info import ModelInfo

    info = ModelInfo(
        resolution_m=231.5,
        target_kind="ring",
        ring_width_px=8.0,
        threshold=0.4,
        extraction={"method": "template", "min_radius_px": 7.0},
    )
    params = ExtractionParams.for_model(info, max_radius_px=100.0)
    assert (params.target_kind, params.ring_width_px, params.threshold) == ("ring", 8.0, 0.4)
    assert (params.method, params.min_radius_px, params.max_radius_px) == ("template", 7.0, 100.0)
    bad = info.replace(extraction={"min_radius": 7.0})
    with pytest.raises(ExtractionError, match="unknown extraction parameter"):
        ExtractionParams.for_model(bad)


def test_bad_maps_and_grids_are_refused():
    grid = PixelGrid.from_resolution(32, 32, RES_M)
    with pytest.raises(ExtractionError, match="must be a 2-D numpy array"):
        extract_craters(np.zeros((1, 32, 32, 1)), grid)
    with pytest.raises(ExtractionError, match=r"probabilities must be within \[0, 1\]"):
        extract_craters(np.full((32, 32), 3.0), grid)
    with pytest.raises(ExtractionError, match=r"integer map values must be 0/1 or 0\.\.255"):
        extract_craters(np.full((32, 32), 1000, dtype=np.int32), grid)
    with pytest.raises(GridError, match="needs the map's grid"):
        extract_craters(np.zeros((32, 32)))
    with pytest.raises(GridError, match="the grid is 32 x 32 px but the map is 40 x 32 px"):
        extract_craters(np.zeros((32, 40)), grid)
    with pytest.raises(GridError, match="either grid or resolution_m"):
        extract_craters(np.zeros((32, 32)), grid, resolution_m=RES_M)
    with pytest.raises(GeocoreError, match="min diameter 5 km is above max diameter 2 km"):
        extract_craters(np.zeros((32, 32)), grid, min_diameter_km=5, max_diameter_km=2)


# ------------------------------------------------------ fast against template
def test_fast_f1_is_at_least_template_f1_on_a_synthetic_map():
    rng = np.random.default_rng(11)
    size = 360
    truth = random_craters(rng, 50, size)
    grid, mask = target_map(size, truth, "ring")
    scores = {}
    for method in METHODS:
        params = ExtractionParams(method=method, min_radius_px=4.0, max_radius_px=36.0)
        found = extract_craters(mask, grid, params)
        scores[method] = evaluate(found, truth, region=grid).f1
    assert scores["template"] > 0.8
    assert scores["fast"] >= scores["template"]


# ------------------------------------------------------------- template engine
def test_ring_template_matches_the_target_drawing():
    geometry = RimGeometry("ring", width_px=4)
    template = render_template(geometry, 10.0)
    _, mask = target_map(25, pixel_catalog(12.0, 12.0, 10.0), "ring")
    np.testing.assert_array_equal(template[1:-1, 1:-1], mask)


def test_stretch_bands_cover_all_rows_within_tolerance():
    lat = np.linspace(0, 60, 500)
    k = 1 / np.cos(np.radians(lat))
    bands = stretch_bands(k, 0.01, 128)
    assert bands[0][0] == 0 and bands[-1][1] == 500
    for (a0, a1, s), (b0, _, _) in itertools.pairwise(bands):
        assert a1 == b0 and a1 - a0 <= 128
        assert k[a0:a1].max() / k[a0:a1].min() <= 1.01
        assert k[a0:a1].min() <= s <= k[a0:a1].max()


@pytest.mark.realdata
def test_seed_ring_mask_crop_recovers_the_robbins_craters(shared_data):
    from PIL import Image

    from geocore.catalog import load_catalog
    from geocore.themis import ThemisTile

    Image.MAX_IMAGE_PIXELS = None
    tile = ThemisTile.from_name("thm_dir_N-30_090")
    name = "thm_dir_N-30_090_-30_0_90_120_2_32_km_segrng_4_edge.png"
    crop = np.asarray(Image.open(shared_data / "delatte_targets" / name))[:1024, :1024]
    grid = tile.grid.window(0, 0, 1024, 1024)
    truth = load_catalog(shared_data / "robbins2012_pm30", bbox=(89, -5, 95, 1))
    params = ExtractionParams(ring_width_px=4, stretch="none")  # the seed drew circles
    found = extract_craters(crop, grid, params, min_diameter_km=3.71, max_diameter_km=63.9)
    m = evaluate(found, truth, region=grid, min_diameter_km=3.71, max_diameter_km=63.9)
    assert m.true_positives > 30
    assert m.precision >= 0.98 and m.recall >= 0.95


# ------------------------------------------------- fast method: the steps inside
def test_extraction_error_lives_in_errors_and_is_re_exported():
    from geocore import errors

    assert ExtractionError is errors.ExtractionError
    assert issubclass(ExtractionError, GeocoreError) and issubclass(ExtractionError, ValueError)


def test_small_outline_craters_on_a_larger_ones_rim_are_found():
    # painter's order: the large crater is drawn first and five small ones on its rim clear
    # their holes in it; the one whose outline merges into the large annulus is found by
    # the second search, where the craters found first are erased
    angles = np.linspace(0.0, 2.0 * np.pi, 5, endpoint=False) + 0.3
    x = np.r_[64.0, 64.0 + 24.0 * np.cos(angles)]
    y = np.r_[64.0, 64.0 + 24.0 * np.sin(angles)]
    truth = pixel_catalog(x, y, np.r_[24.0, np.full(5, 9.0)])
    grid, mask = target_map(128, truth, "outline")
    params = ExtractionParams(target_kind="outline", min_radius_px=6, max_radius_px=40)
    found = extract_craters(mask, grid, params)
    assert len(found) == 6
    for xi, yi, ri in zip(x, y, truth.diameter_px / 2, strict=True):
        i = int(np.argmin(np.hypot(found.x_px - xi, found.y_px - yi)))
        assert math.hypot(found.x_px[i] - xi, found.y_px[i] - yi) < 1.0
        assert found.diameter_px[i] / 2 == pytest.approx(ri, rel=0.05)


def test_isolated_specks_give_no_coarse_candidates():
    from geocore.coarse_search import coarse_candidates, coarse_radii, despeckle

    rng = np.random.default_rng(7)
    specks = np.zeros((256, 256), dtype=bool)  # at most one per 3 x 3 cell: isolated
    specks[1::3, 1::3] = rng.random((85, 85)) < 0.03
    radii, levels = coarse_radii(6.0, 40.0, 4, 2.0)
    geometry = RimGeometry("ring", 4.0)

    def candidates(evidence):
        return coarse_candidates(evidence, geometry, 0.0, None, radii, levels, 0.3)[0].size

    assert candidates(specks) > 0  # each speck answers the coarse search
    cleaned = despeckle(specks)
    assert not cleaned.any()
    assert candidates(cleaned) == 0
    # what is not isolated stays: a ring and a speck touching it
    _, ring = target_map(64, pixel_catalog(32.0, 32.0, 12.0), "ring")
    ring = ring.astype(bool)
    ring[32, 32 + 15] = True
    np.testing.assert_array_equal(despeckle(ring), ring)


def test_coarse_correlation_peaks_match_the_template_engine():
    from geocore.coarse_search import _Block
    from geocore.template_matching import match_templates

    rng = np.random.default_rng(2)
    counts = rng.integers(0, 17, (150, 170)) * (rng.random((150, 170)) < 0.3)
    template = render_template(RimGeometry("ring", 4.0), 11.0, 1.1, scale=4, soft=True)
    block = _Block(counts.astype(np.uint16), 0, 150, 0, 170, 8, 10)
    col, row, _, score = block.peaks(template, 0.3, 11.0)
    ref = match_templates((counts / 16.0).astype(np.float32), [11.0], lambda r, k: template, 0.3)
    assert col.size > 20
    mine = dict(zip(zip(col.tolist(), row.tolist(), strict=True), score.tolist(), strict=True))
    where = zip(ref[0].tolist(), ref[1].tolist(), strict=True)
    theirs = dict(zip(where, ref[3].tolist(), strict=True))
    assert mine.keys() == theirs.keys()
    assert max(abs(mine[p] - theirs[p]) for p in mine) < 1e-5


def test_block_counts_and_edge_band_match_simple_references():
    from geocore.coarse_search import block_counts, edge_band

    rng = np.random.default_rng(4)
    for _ in range(20):
        h, w = rng.integers(1, 40, 2)
        mask = rng.random((h, w)) < rng.uniform(0.3, 0.99)
        for s in (1, 2, 4, 8):
            padded = np.zeros((-(-h // s) * s, -(-w // s) * s), dtype=int)
            padded[:h, :w] = mask
            expect = padded.reshape(padded.shape[0] // s, s, padded.shape[1] // s, s).sum((1, 3))
            np.testing.assert_array_equal(block_counts(mask, s), expect)
        # a pixel is in the band when an unset pixel lies within 3 px (chessboard)
        unset = np.pad(~mask, 3, constant_values=False)
        near = np.zeros_like(mask)
        for dy, dx in itertools.product(range(7), repeat=2):
            near |= unset[dy : dy + h, dx : dx + w]
        np.testing.assert_array_equal(edge_band(mask, 3), mask & near)


def test_vectorised_suppression_keeps_what_a_simple_greedy_loop_keeps():
    from geocore.crater_duplicates import duplicate_pairs_px, suppress

    rng = np.random.default_rng(9)
    for trial in range(30):
        n = int(rng.integers(1, 150))
        x, y = rng.uniform(0, 60, n), rng.uniform(0, 60, n)
        r = rng.uniform(2, 12, n)
        score = rng.random(n).round(1 if trial % 2 else 6)  # ties too
        # the reference: best first (ties: earlier first), drop what a kept one duplicates
        keep = np.zeros(n, dtype=bool)
        for i in np.lexsort((np.arange(n), -score)):
            kept = np.flatnonzero(keep)
            rmin = np.minimum(r[i], r[kept])
            d2 = ((x[i] - x[kept]) ** 2 + (y[i] - y[kept]) ** 2) / rmin**2
            if not np.any((d2 < 0.5) & (np.abs(r[i] - r[kept]) / rmin < 0.25)):
                keep[i] = True
        i, j = duplicate_pairs_px(x, y, r, None, 0.5, 0.25)
        np.testing.assert_array_equal(suppress(score, i, j), keep)
        np.testing.assert_array_equal(suppress(score, i, j, max_rounds=1), keep)
