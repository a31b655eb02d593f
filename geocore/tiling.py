"""Overlapping windows over an image, and how their outputs are stitched.

A fully convolutional network is run on windows of ``window_px`` pixels that
overlap by ``overlap_px``; :class:`WindowLayout` says where the windows are and
which part of each window's output is kept (*centre-crop* stitching).

Layout
------
* The image (``height x width``) is extended at its bottom and right to the
  next multiple of ``multiple_px`` (128 for the 7-pooling UNet) by *reflecting*
  it (``numpy.pad(mode="reflect")``), so the network sees image-like context,
  not a hard edge, beyond the image's end.
* A window is ``min(window_px, padded size)`` pixels along each axis (an image
  smaller than one window is one smaller window). Windows start every
  ``stride = window - overlap`` pixels; the last one along an axis is moved
  back to end at the padded edge. Every start is a multiple of
  ``multiple_px``: a network that pools ``log2(multiple_px)`` times then sees
  each window on the same pooling grid as the whole image, which is what
  makes the stitched output equal to a whole-image run.
* Centre-crop: of two neighbouring windows, each keeps its output up to the
  middle of their overlap, so every kept pixel lies at least ``overlap / 2``
  pixels inside its window (or on the image's edge). The kept parts tile the
  image exactly once: no blending, no weights, each output pixel comes from
  one window. If the network's receptive-field radius is at most
  ``overlap / 2``, the stitched map equals the whole-image run, bit for bit,
  wherever the whole-image run itself is more than a receptive field away
  from the image's edges.

numpy and the standard library only.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from .errors import ModelError

__all__ = ["Window", "WindowLayout", "reflect_indices"]


@dataclass(frozen=True)
class Window:
    """One window: where it reads the (padded) image, and what it keeps.

    Attributes
    ----------
    row_px, col_px : int
        Top-left corner of the window in image pixels (the window may reach
        into the reflected padding below and right of the image).
    keep_rows, keep_cols : tuple of int
        ``(start, stop)`` of the kept part, in image pixels (inside the image).
    """

    row_px: int
    col_px: int
    keep_rows: tuple[int, int]
    keep_cols: tuple[int, int]

    def keep_slices(self) -> tuple[slice, slice]:
        """The kept part as slices of the image (rows, cols)."""
        return slice(*self.keep_rows), slice(*self.keep_cols)

    def keep_in_window(self) -> tuple[slice, slice]:
        """The kept part as slices of the window's own output (rows, cols)."""
        return (
            slice(self.keep_rows[0] - self.row_px, self.keep_rows[1] - self.row_px),
            slice(self.keep_cols[0] - self.col_px, self.keep_cols[1] - self.col_px),
        )


@dataclass(frozen=True)
class WindowLayout:
    """Overlapping windows covering an image, with centre-crop stitching.

    Build it with :meth:`plan`.

    Attributes
    ----------
    height_px, width_px : int
        Image size.
    window_height_px, window_width_px : int
        Size of every window (``window_px``, or the padded image if smaller).
    overlap_px : int
        Overlap of neighbouring windows.
    padded_height_px, padded_width_px : int
        Image size rounded up to the multiple.
    row_starts, col_starts : tuple of int
        Window starts along each axis.
    row_keeps, col_keeps : tuple of (int, int)
        Kept ``(start, stop)`` of each window along each axis.

    Examples
    --------
    >>> layout = WindowLayout.plan(300, 1000, window_px=512, overlap_px=128)
    >>> layout.window_height_px, layout.window_width_px, layout.col_starts
    (384, 512, (0, 384, 512))
    >>> layout.col_keeps
    ((0, 448), (448, 704), (704, 1000))
    >>> len(layout)
    3
    """

    height_px: int
    width_px: int
    window_height_px: int
    window_width_px: int
    overlap_px: int
    padded_height_px: int
    padded_width_px: int
    row_starts: tuple[int, ...]
    col_starts: tuple[int, ...]
    row_keeps: tuple[tuple[int, int], ...]
    col_keeps: tuple[tuple[int, int], ...]

    @classmethod
    def plan(
        cls,
        height_px: int,
        width_px: int,
        *,
        window_px: int = 512,
        overlap_px: int = 128,
        multiple_px: int = 128,
    ) -> WindowLayout:
        """Lay windows over an image of ``height_px x width_px``.

        Parameters
        ----------
        height_px, width_px : int
            Image size, >= 1.
        window_px : int
            Window side, a positive multiple of ``multiple_px``.
        overlap_px : int
            Overlap of neighbouring windows: a multiple of ``multiple_px``
            (0 allowed) smaller than ``window_px``.
        multiple_px : int
            The network's size multiple (128 for 7 poolings).

        Raises
        ------
        ModelError
            A size, window or overlap that breaks the rules above.
        """
        for name, value in (("height_px", height_px), ("width_px", width_px)):
            if int(value) != value or value < 1:
                raise ModelError(f"image {name}={value!r}: must be a whole number >= 1")
        if int(multiple_px) != multiple_px or multiple_px < 1:
            raise ModelError(f"multiple_px={multiple_px!r}: must be a whole number >= 1, e.g. 128")
        if int(window_px) != window_px or window_px < multiple_px or window_px % multiple_px:
            raise ModelError(
                f"window_px={window_px!r}: must be a positive multiple of the model's size "
                f"multiple {multiple_px}, e.g. {4 * multiple_px}"
            )
        if (
            int(overlap_px) != overlap_px
            or not 0 <= overlap_px < window_px
            or overlap_px % multiple_px
        ):
            raise ModelError(
                f"overlap_px={overlap_px!r}: must be a multiple of the model's size multiple "
                f"{multiple_px} (0 allowed) smaller than window_px={window_px}, e.g. "
                f"{multiple_px}; windows must start on the network's pooling grid"
            )
        height_px, width_px = int(height_px), int(width_px)
        padded_h = -(-height_px // multiple_px) * multiple_px
        padded_w = -(-width_px // multiple_px) * multiple_px
        win_h, win_w = min(int(window_px), padded_h), min(int(window_px), padded_w)
        overlap = int(overlap_px)
        rows, row_keeps = _axis(height_px, padded_h, win_h, overlap)
        cols, col_keeps = _axis(width_px, padded_w, win_w, overlap)
        return cls(
            height_px, width_px, win_h, win_w, overlap, padded_h, padded_w,
            rows, cols, row_keeps, col_keeps,
        )  # fmt: skip

    def __len__(self) -> int:
        return len(self.row_starts) * len(self.col_starts)

    def __iter__(self):
        """Windows in row-major order."""
        for row, keep_rows in zip(self.row_starts, self.row_keeps, strict=True):
            for col, keep_cols in zip(self.col_starts, self.col_keeps, strict=True):
                yield Window(row, col, keep_rows, keep_cols)

    def read(self, image: np.ndarray, window: Window) -> np.ndarray:
        """The window's pixels of ``image``, reflected beyond the image's end.

        Parameters
        ----------
        image : numpy.ndarray
            Array whose first two axes are ``(height_px, width_px)``.
        window : Window
            One of this layout's windows.

        Returns
        -------
        numpy.ndarray
            A new array ``(window_height_px, window_width_px, ...)``.
        """
        r0, c0 = window.row_px, window.col_px
        rows = reflect_indices(r0, r0 + self.window_height_px, self.height_px)
        cols = reflect_indices(c0, c0 + self.window_width_px, self.width_px)
        if rows[-1] == r0 + self.window_height_px - 1 and cols[-1] == c0 + self.window_width_px - 1:
            return image[r0 : r0 + self.window_height_px, c0 : c0 + self.window_width_px].copy()
        return image[np.ix_(rows, cols)]


def reflect_indices(start: int, stop: int, n: int) -> np.ndarray:
    """Indices of positions ``start..stop-1`` into ``n`` samples, reflected at the ends.

    Reflection as ``numpy.pad(mode="reflect")`` (the edge sample is not
    repeated), repeated as often as needed; ``n == 1`` repeats the sample.

    Examples
    --------
    >>> reflect_indices(2, 9, 4).tolist()
    [2, 3, 2, 1, 0, 1, 2]
    """
    positions = np.arange(start, stop)
    if n == 1:
        return np.zeros(len(positions), dtype=np.intp)
    period = 2 * (n - 1)
    folded = np.mod(positions, period)
    return np.where(folded < n, folded, period - folded).astype(np.intp)


def _axis(
    n: int, padded: int, window: int, overlap: int
) -> tuple[tuple[int, ...], tuple[tuple[int, int], ...]]:
    """Window starts and kept ranges along one axis."""
    stride = window - overlap
    starts = [0]
    while starts[-1] + window < padded:
        starts.append(min(starts[-1] + stride, padded - window))
    # centre-crop: neighbours meet in the middle of their overlap
    cuts = [(nxt + prev + window) // 2 for prev, nxt in itertools.pairwise(starts)]
    bounds = [0, *(min(cut, n) for cut in cuts), n]
    keeps = tuple((bounds[i], bounds[i + 1]) for i in range(len(starts)))
    return tuple(starts), keeps
