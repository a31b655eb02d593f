"""Tests of geocore.resample: exact area averages, bilinear upsampling, nodata."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geocore.errors import GridError
from geocore.grid import PixelGrid
from geocore.resample import resample, resample_masked, resample_to_shape, resampled_shape

RNG = np.random.default_rng(42)


def brute_area(image: np.ndarray, factor_x: float, factor_y: float) -> np.ndarray:
    """Area averages: overlap of every input pixel with every output pixel (slow, plain)."""
    out_h, out_w = resampled_shape(image.shape, factor_x, factor_y)

    def axis_matrix(n_in: int, n_out: int, factor: float) -> np.ndarray:
        m = np.zeros((n_out, n_in))
        for i in range(n_out):
            a, b = i / factor, min((i + 1) / factor, n_in)
            for j in range(n_in):
                m[i, j] = max(0.0, min(j + 1, b) - max(j, a))
        return m / m.sum(axis=1, keepdims=True)

    rows = axis_matrix(image.shape[0], out_h, factor_y)
    cols = axis_matrix(image.shape[1], out_w, factor_x)
    return rows @ image.astype(np.float64) @ cols.T


@pytest.mark.parametrize("method", ["auto", "area", "bilinear"])
@pytest.mark.parametrize("factors", [(0.5, 0.5), (0.432, 0.432), (2.5, 1.4), (0.27, 2), (1, 1)])
def test_constant_image_stays_constant(method, factors):
    image = np.full((37, 23), 117, dtype=np.uint8)
    out = resample(image, *factors, method=method)
    assert out.shape == resampled_shape(image.shape, *factors)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, 117.0)


@pytest.mark.parametrize("factor", [2, 3, 4, 8])
def test_integer_factors_give_block_means(factor):
    image = RNG.uniform(0, 255, (8 * 3, 8 * 5))
    out = resample(image, 1 / factor)
    h, w = image.shape[0] // factor, image.shape[1] // factor
    blocks = image[: h * factor, : w * factor].reshape(h, factor, w, factor).mean(axis=(1, 3))
    np.testing.assert_allclose(out[:h, :w], blocks, rtol=1e-12)
    assert out.dtype == np.float64


@pytest.mark.parametrize("factors", [(0.432, 0.432), (0.667, 0.3077), (0.1266, 0.909), (1.0, 0.4)])
def test_area_matches_brute_force_integration(factors):
    image = RNG.integers(0, 256, (41, 29)).astype(np.uint8)
    np.testing.assert_allclose(resample(image, *factors), brute_area(image, *factors), atol=2e-4)


@pytest.mark.parametrize("factor", [0.5, 0.4, 0.25])
def test_area_downsampling_conserves_energy(factor):
    # sizes that are whole multiples of the pixel size: no partial pixel at the end
    image = RNG.uniform(0, 1, (40, 60))
    out = resample(image, factor)
    assert out.sum() / factor**2 == pytest.approx(image.sum(), rel=1e-12)


def test_resample_to_shape_conserves_energy_for_any_ratio():
    image = RNG.uniform(0, 1, (97, 61))
    out = resample_to_shape(image, (13, 17))
    assert out.sum() * (97 / 13) * (61 / 17) == pytest.approx(image.sum(), rel=1e-12)


def test_a_ramp_stays_a_ramp():
    x = np.arange(50, dtype=np.float64)
    image = np.tile(3.0 * x + 1.0, (4, 1))
    # area, whole factor: the average of a linear function is its value at the centre
    down = resample(image, 0.2, 1)
    centres = (np.arange(10) + 0.5) * 5 - 0.5
    np.testing.assert_allclose(down[0], 3.0 * centres + 1.0, rtol=1e-12)
    # any factor: pixels are steps of a staircase, so the ramp is kept to within a step
    down = resample(image, 0.4, 1)
    centres = (np.arange(20) + 0.5) * 2.5 - 0.5
    np.testing.assert_allclose(down[0], 3.0 * centres + 1.0, atol=3.0 / 4)
    assert (np.diff(down[0]) > 0).all()
    # bilinear: exact between the outermost centres, edge value beyond them
    up = resample(image, 4, 1)
    centres = np.clip((np.arange(200) + 0.5) * 0.25 - 0.5, 0, 49)
    np.testing.assert_allclose(up[0], 3.0 * centres + 1.0, rtol=1e-12)


def test_bilinear_between_two_pixels():
    out = resample(np.array([[0.0, 4.0]]), 4, 1, method="bilinear")
    # centres -0.375, -0.125, 0.125 ... 1.375 in input pixels; edge values beyond 0 and 1
    np.testing.assert_allclose(out[0], [0, 0, 0.5, 1.5, 2.5, 3.5, 4, 4])


def test_upsampling_then_area_downsampling_returns_the_image():
    image = RNG.uniform(0, 1, (9, 11))
    up = resample(image, 3, method="area")  # box upsampling by 3
    np.testing.assert_allclose(resample(up, 1 / 3), image, rtol=1e-12)


def test_matches_pixel_grid_scaled():
    grid = PixelGrid.from_resolution(1000, 777, 100.0)
    scaled = grid.scaled(231.5 / 100.0)
    out = resample(np.zeros((777, 1000), dtype=np.uint8), 100.0 / 231.5)
    assert out.shape == (scaled.height, scaled.width)


def test_last_partial_pixel_averages_what_it_covers():
    image = np.array([[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 7.0]])
    out = resample(image, 0.5, 1)  # 7 / 2 rounds to 4 output pixels; the last covers [6, 7)
    np.testing.assert_allclose(out[0], [1, 1, 1, 7])


def test_input_is_not_modified_nor_returned():
    image = RNG.uniform(0, 1, (6, 6))
    before = image.copy()
    out = resample(image, 1)
    assert out is not image and not np.shares_memory(out, image)
    out[:] = -1
    np.testing.assert_array_equal(image, before)


@settings(max_examples=40, deadline=None)
@given(
    h=st.integers(1, 30),
    w=st.integers(1, 30),
    fx=st.floats(0.15, 5.0),
    fy=st.floats(0.15, 5.0),
)
def test_values_stay_within_the_input_range(h, w, fx, fy):
    image = np.random.default_rng(h * 31 + w).uniform(-5, 5, (h, w))
    out = resample(image, fx, fy)
    assert out.shape == resampled_shape((h, w), fx, fy)
    assert out.min() >= image.min() - 1e-9 and out.max() <= image.max() + 1e-9


# ---------------------------------------------------------------- nodata
def test_masked_ignores_nodata_pixels():
    image = np.array([[9, 9, 2, 4], [9, 3, 6, 8]], dtype=np.uint8)
    mask = image == 9
    out, nodata = resample_masked(image, mask, 0.5, min_valid_fraction=0.25)
    np.testing.assert_allclose(out, [[3.0, 5.0]])
    assert nodata.tolist() == [[False, False]]
    out, nodata = resample_masked(image, mask, 0.5)  # default 0.5: 1 valid pixel of 4 is too few
    assert nodata.tolist() == [[True, False]] and out[0, 0] == 0


def test_masked_treats_nan_as_nodata_and_keeps_valid_means():
    image = RNG.uniform(0, 1, (20, 20))
    image[5:9, :] = np.nan  # output rows 2 and 4 are half valid, row 3 has no data
    out, nodata = resample_masked(image, None, 0.5)
    assert np.isfinite(out).all()
    assert nodata.any(axis=1).tolist() == [i == 3 for i in range(10)] and nodata[3].all()
    np.testing.assert_allclose(out[5:], resample(image[10:], 0.5), rtol=1e-12)
    np.testing.assert_allclose(out[2], resample(image[4:5], 0.5, 1)[0], rtol=1e-12)


def test_masked_without_nodata_equals_resample():
    image = RNG.integers(0, 256, (30, 25)).astype(np.uint8)
    out, nodata = resample_masked(image, np.zeros(image.shape, bool), 0.432)
    np.testing.assert_allclose(out, resample(image, 0.432), rtol=1e-6)
    assert not nodata.any()


def test_masked_upsampling_mask():
    mask = np.zeros((4, 4), bool)
    mask[:2] = True
    out, nodata = resample_masked(np.ones((4, 4)), mask, 2)
    assert nodata[:3].all() and not nodata[5:].any()
    np.testing.assert_array_equal(out[~nodata], 1.0)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: resample(np.zeros((3, 3)), 0), r"factor_x=0: must be a positive zoom"),
        (lambda: resample(np.zeros((3, 3)), 2, float("nan")), r"factor_y=nan"),
        (lambda: resample(np.zeros((3, 3)), "x"), r"factor_x='x': must be a number"),
        (lambda: resample(np.zeros(3), 2), r"shape \(3,\): expected a non-empty 2-D"),
        (lambda: resample(np.zeros((0, 3)), 2), r"non-empty 2-D"),
        (lambda: resample(np.zeros((3, 3), bool), 2), r"dtype bool"),
        (lambda: resample(np.zeros((3, 3)), 2, method="cubic"), r"method='cubic'"),
        (lambda: resample_to_shape(np.zeros((3, 3)), (0, 2)), r"shape=\(0, 2\)"),
        (lambda: resample_to_shape(np.zeros((3, 3)), 5), r"shape=5"),
        (
            lambda: resample_masked(np.zeros((3, 3)), np.zeros((2, 3), bool), 2),
            r"nodata_mask of shape \(2, 3\) does not match",
        ),
        (
            lambda: resample_masked(np.zeros((3, 3)), None, 2, min_valid_fraction=0),
            r"min_valid_fraction=0: must be in \(0, 1\]",
        ),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(GridError, match=match):
        call()
