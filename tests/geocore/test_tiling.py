"""Tests of geocore.tiling: window layout and centre-crop stitching (numpy only)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geocore.errors import ModelError
from geocore.tiling import WindowLayout, reflect_indices


@settings(max_examples=60, deadline=None)
@given(
    height=st.integers(1, 1500),
    width=st.integers(1, 1500),
    window_blocks=st.integers(1, 6),
    overlap_blocks=st.integers(0, 5),
)
def test_kept_parts_tile_the_image_once_and_stay_inside(
    height, width, window_blocks, overlap_blocks
):
    multiple = 128
    window, overlap = window_blocks * multiple, overlap_blocks * multiple
    if overlap >= window:
        overlap = window - multiple
    layout = WindowLayout.plan(height, width, window_px=window, overlap_px=overlap)
    count = np.zeros((height, width), np.int32)
    for win in layout:
        count[win.keep_slices()] += 1
        assert win.row_px % multiple == 0 and win.col_px % multiple == 0
        assert win.row_px + layout.window_height_px <= layout.padded_height_px
        assert win.col_px + layout.window_width_px <= layout.padded_width_px
        # every kept pixel is overlap / 2 inside its window, unless on the image's edge
        for (start, stop), origin, size, n in (
            (win.keep_rows, win.row_px, layout.window_height_px, height),
            (win.keep_cols, win.col_px, layout.window_width_px, width),
        ):
            assert origin <= start < stop <= origin + size
            assert start == 0 or start - origin >= overlap // 2
            assert stop == n or origin + size - stop >= overlap // 2
    assert (count == 1).all()
    assert layout.padded_height_px % multiple == 0 and layout.padded_height_px - height < multiple


def test_layout_of_an_odd_image():
    layout = WindowLayout.plan(300, 517, window_px=256, overlap_px=128)
    assert (layout.padded_height_px, layout.padded_width_px) == (384, 640)
    assert layout.row_starts == (0, 128) and layout.col_starts == (0, 128, 256, 384)
    assert layout.row_keeps == ((0, 192), (192, 300))
    assert layout.col_keeps == ((0, 192), (192, 320), (320, 448), (448, 517))
    assert len(layout) == len(list(layout)) == 8


def test_small_image_gets_one_smaller_window():
    layout = WindowLayout.plan(50, 70, window_px=512, overlap_px=128)
    assert (layout.window_height_px, layout.window_width_px, len(layout)) == (128, 128, 1)


def test_read_reflects_beyond_the_image():
    image = np.arange(5 * 7).reshape(5, 7)
    layout = WindowLayout.plan(5, 7, window_px=8, overlap_px=0, multiple_px=8)
    (win,) = list(layout)
    np.testing.assert_array_equal(
        layout.read(image, win), np.pad(image, ((0, 3), (0, 1)), mode="reflect")
    )
    inside = WindowLayout.plan(16, 16, window_px=8, overlap_px=0, multiple_px=8)
    window = list(inside)[3]
    big = np.arange(256).reshape(16, 16)
    out = inside.read(big, window)
    np.testing.assert_array_equal(out, big[8:, 8:])
    assert not np.shares_memory(out, big)


@pytest.mark.parametrize("n", [1, 2, 3, 7])
@pytest.mark.parametrize("pad", [0, 1, 5, 30])
def test_reflect_indices_match_numpy_pad(n, pad):
    expected = np.pad(np.arange(n), (0, pad), mode="reflect")
    np.testing.assert_array_equal(reflect_indices(0, n + pad, n), expected)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"height_px": 0}, r"height_px=0: must be a whole number >= 1"),
        ({"width_px": 2.5}, r"width_px=2.5"),
        ({"window_px": 100}, r"window_px=100: must be a positive multiple of .* 128"),
        ({"window_px": 0}, r"window_px=0"),
        ({"overlap_px": 64}, r"overlap_px=64: must be a multiple of .* 128"),
        ({"overlap_px": 512}, r"overlap_px=512: .* smaller than window_px=512"),
        ({"overlap_px": -128}, r"overlap_px=-128"),
        ({"multiple_px": 0}, r"multiple_px=0"),
    ],
)
def test_bad_layouts(kwargs, match):
    args = {"height_px": 100, "width_px": 100, "window_px": 512, "overlap_px": 128, **kwargs}
    with pytest.raises(ModelError, match=match):
        WindowLayout.plan(args.pop("height_px"), args.pop("width_px"), **args)
