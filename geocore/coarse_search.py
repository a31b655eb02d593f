"""Coarse crater search: template correlation on block-averaged maps, a few radii per octave.

A radius ``r`` is matched on the map averaged over ``s x s`` blocks, ``s`` the
largest power of two with ``r / s >= max(coarse_px, 0.5 sqrt(r))``, with an
area-weighted template, by the normalised cross-correlation that
:func:`geocore.template_matching.match_templates` computes (zero-mean
template, the window's own mean and variance, 0 on flat windows, zeros outside
the map): the whole radius range costs about one correlation of a
sixteenth-size map. The correlation runs through numpy's FFT with each block's
spectrum computed once per level and each template's spectrum by a small
matrix product (the template spans a few rows). Also here: the clean-ups of
the map that go before the search (the band inside blobs' edges for filled
targets, isolated specks).

Only numpy is needed.
"""

from __future__ import annotations

import math

import numpy as np

from .crater_duplicates import check_cancel
from .template_matching import RimGeometry, _fft_size, render_template, stretch_bands

__all__ = ["block_counts", "coarse_candidates", "coarse_radii", "despeckle", "edge_band"]

# coarse template radius of large craters: _SQRT_GAIN * sqrt(radius_px)
_SQRT_GAIN = 0.5
# windows whose variance is below this count as flat: correlation 0 (as the reference)
_FLAT_VARIANCE = 1e-6


def coarse_radii(rmin: float, rmax: float, per_octave: int, coarse_px: float):
    """The radii searched and the level (``s = 2^level``) of each.

    ``per_octave`` radii per doubling from ``rmin`` to ``rmax``, plus one beyond
    each end: what peaks there is out of range, and the merge of neighbouring
    maxima takes away the lower maxima it leaves at the end radii.

    Examples
    --------
    >>> radii, levels = coarse_radii(8.0, 32.0, 2, 2.0)
    >>> print([round(float(r), 2) for r in radii], levels.tolist())
    [5.66, 8.0, 11.31, 16.0, 22.63, 32.0, 45.25] [2, 2, 2, 3, 3, 3, 3]
    """
    ratio = 2.0 ** (1.0 / per_octave)
    n = max(1, math.ceil(math.log(rmax / rmin) / math.log(ratio) - 1e-9) + 1)
    radii = rmin * (rmax / rmin) ** (np.arange(n) / max(n - 1, 1)) if n > 1 else np.array([rmin])
    radii = np.concatenate([[max(radii[0] / ratio, 1.0)], radii, [radii[-1] * ratio]])
    # the template radius on the averaged map: coarse_px for small craters, growing as
    # sqrt(r) for large ones (cheap there, and it places them better)
    template_px = np.maximum(coarse_px, _SQRT_GAIN * np.sqrt(radii))
    levels = np.maximum(0, np.floor(np.log2(radii / template_px))).astype(int)
    levels[0], levels[-1] = levels[1], levels[-2]  # the extra radii do not open a finer level
    return radii, levels


def coarse_candidates(
    evidence: np.ndarray,
    geometry: RimGeometry,
    shrink: float,
    stretch: np.ndarray | None,
    radii: np.ndarray,
    levels: np.ndarray,
    threshold: float,
    *,
    stretch_tolerance: float = 0.02,
    block_px: int = 2048,
    cancel=None,
):
    """Correlation maxima ``(x, y, r, score)`` of each radius on its averaged map.

    Parameters
    ----------
    evidence : numpy.ndarray of bool
        What is searched (the thresholded map, or its edge band).
    geometry : RimGeometry
        The template's footprint; radius ``r - shrink`` is drawn for ``r``.
    stretch : numpy.ndarray or None
        Stretch of each full-resolution row.
    radii, levels : numpy.ndarray
        From :func:`coarse_radii`.
    threshold : float
        Keep maxima (3 x 3, same radius) above this.

    Returns
    -------
    x, y, r, score : numpy.ndarray
        Full-resolution pixel centres of the maxima, their radius and score.
    """
    parts = []
    for level in np.unique(levels).tolist():
        check_cancel(cancel)
        s = 2**level
        counts = block_counts(evidence, s)
        k_rows = None
        if stretch is not None:
            rows = np.minimum(np.arange(counts.shape[0]) * s + (s - 1) // 2, stretch.size - 1)
            k_rows = stretch[rows]
        col, row, radius, score = _match_level(
            counts,
            radii[levels == level],
            lambda r, k, s=s: render_template(geometry, r - shrink, k, scale=s, soft=True),
            threshold,
            k_rows,
            stretch_tolerance,
            block_px,
            cancel,
        )
        parts.append((col * s + (s - 1) / 2.0, row * s + (s - 1) / 2.0, radius, score))
    x, y, r, score = (np.concatenate(p) for p in zip(*parts, strict=True))
    return x.astype(float), y.astype(float), r, score


def _match_level(image, radii, make_template, threshold, k_rows, tolerance, block_px, cancel):
    """Local maxima of the normalised correlation of ``image`` with each radius' template."""
    height, width = image.shape
    k_rows = np.ones(height) if k_rows is None else k_rows
    found = []
    for row0, row1, stretch in stretch_bands(k_rows, tolerance, block_px):
        templates = [make_template(float(r), stretch) for r in radii]
        half_y = max(t.shape[0] // 2 for t in templates) + 1
        half_x = max(t.shape[1] // 2 for t in templates) + 1
        n_cols = max(1, math.ceil(width / block_px))
        core_w = math.ceil(width / n_cols)
        for col0 in range(0, width, core_w):
            check_cancel(cancel)
            col1 = min(width, col0 + core_w)
            block = _Block(image, row0, row1, col0, col1, half_y, half_x)
            if block.empty:
                continue
            for radius, template in zip(radii.tolist(), templates, strict=True):
                check_cancel(cancel)
                found.append(block.peaks(template, threshold, radius))
    found = [f for f in found if f[0].size]
    if not found:
        return _no_peaks()
    return tuple(np.concatenate(p) for p in zip(*found, strict=True))


class _Block:
    """One block of a level map (set-pixel counts) with margins: spectrum, integral images.

    The counts are integers, so window sums from wrapping ``uint32`` integral
    images are exact, and so is the variance (in ``int64``); the correlation
    does not depend on the scale of the map.
    """

    def __init__(self, counts, row0, row1, col0, col1, margin_y, margin_x):
        height, width = counts.shape
        self.row0, self.col0 = row0, col0
        self.core = (row1 - row0, col1 - col0)
        self.margin = (margin_y, margin_x)
        shape = (_fft_size(self.core[0] + 2 * margin_y), _fft_size(self.core[1] + 2 * margin_x))
        self.shape = shape
        r_lo, r_hi = max(0, row0 - margin_y), min(height, row1 + margin_y)
        c_lo, c_hi = max(0, col0 - margin_x), min(width, col1 + margin_x)
        src = counts[r_lo:r_hi, c_lo:c_hi]
        self.empty = not src.any()
        if self.empty:
            return
        padded = np.zeros(shape, dtype=np.uint32)
        oy, ox = r_lo - (row0 - margin_y), c_lo - (col0 - margin_x)
        padded[oy : oy + src.shape[0], ox : ox + src.shape[1]] = src
        self.spectrum = np.fft.rfft2(padded.astype(np.float32))
        self.sum1 = _integral(padded)
        self.sum2 = _integral(padded * padded)
        self.top = int(src.max())  # the largest count: bounds the window sums

    def peaks(self, template: np.ndarray, threshold: float, radius: float):
        """``(col, row, radius, score)`` of the correlation's local maxima above ``threshold``.

        A maximum is not below its 8 neighbours and above those before it in
        raster order (a plateau keeps one pixel), over the core grown by one
        pixel.
        """
        t0 = template.astype(np.float64) - template.mean(dtype=np.float64)
        norm = float(np.sqrt(np.sum(t0 * t0)))
        if norm == 0.0:
            return _no_peaks()
        th, tw = template.shape
        hy, hx = th // 2, tw // 2
        region = (self.core[0] + 2, self.core[1] + 2)
        corr = np.fft.irfft2(self.spectrum * _spectrum(t0, self.shape), s=self.shape)
        y0, x0 = self.margin[0] - 1, self.margin[1] - 1
        n = th * tw
        # n^2 times the windows' variance, exact: in float32 while it holds the integers
        exact32 = (self.top * n) ** 2 < 2**24
        dtype = np.float32 if exact32 else np.float64
        s1 = _window_sum(self.sum1, y0, x0, *region, hy, hx).astype(dtype)
        nvar = _window_sum(self.sum2, y0, x0, *region, hy, hx).astype(dtype)
        nvar *= dtype(n)
        nvar -= s1 * s1
        flat = nvar <= 0
        den = np.sqrt(nvar, dtype=np.float32) if exact32 else np.sqrt(nvar).astype(np.float32)
        den *= np.float32(norm / math.sqrt(n))
        den[flat] = 1.0
        score = corr[y0 : y0 + region[0], x0 : x0 + region[1]] / den
        score[flat] = 0.0
        score = score.ravel()
        at = np.flatnonzero(score > threshold)
        iy, ix = np.divmod(at, region[1])
        inner = (iy > 0) & (iy < region[0] - 1) & (ix > 0) & (ix < region[1] - 1)
        at = at[inner]
        value = score[at]
        keep = np.ones(at.size, dtype=bool)
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                neighbour = score.take(at + (dy * region[1] + dx))
                if (dy, dx) < (0, 0):
                    keep &= neighbour < value
                elif (dy, dx) > (0, 0):
                    keep &= neighbour <= value
        iy, ix = np.divmod(at[keep], region[1])
        radius = np.full(iy.size, float(radius))
        value = np.minimum(value[keep].astype(np.float64), 1.0)
        return ix - 1 + self.col0, iy - 1 + self.row0, radius, value


def _no_peaks():
    return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0), np.empty(0)


def _spectrum(t0: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Conjugate spectrum (rfft2 layout) of a template wrapped around (0, 0) in ``shape``.

    A template symmetric about its middle row and column (as
    :func:`render_template` draws them) has a real spectrum: the rfft of its
    middle-and-lower rows, combined with cosines along columns (a small
    product); others go through the FFT.
    """
    height, width = shape
    th, tw = t0.shape
    hy, hx = th // 2, tw // 2
    cols = (np.arange(tw) - hx) % width
    if np.array_equal(t0, t0[::-1, :]) and np.array_equal(t0, t0[:, ::-1]):
        rows = np.zeros((hy + 1, width), dtype=np.float32)
        rows[:, cols] = t0[hy:]
        row_spectrum = np.fft.rfft(rows, axis=1).real.astype(np.float32)
        weight = np.full(hy + 1, 2.0)
        weight[0] = 1.0
        cosines = np.cos(np.outer(np.arange(height), np.arange(hy + 1)) * (2 * np.pi / height))
        # einsum's own loop: a BLAS product would spin threads for this thin a matrix
        return np.einsum("ud,dv->uv", (cosines * weight).astype(np.float32), row_spectrum)
    wrapped = np.zeros(shape, dtype=np.float32)
    wrapped[np.ix_((np.arange(th) - hy) % height, cols)] = t0
    return np.conj(np.fft.rfft2(wrapped))


def _integral(block: np.ndarray) -> np.ndarray:
    """Integral image in ``uint32``: it wraps, but sums over windows stay exact."""
    out = np.zeros((block.shape[0] + 1, block.shape[1] + 1), dtype=np.uint32)
    np.cumsum(block, axis=0, dtype=np.uint32, out=out[1:, 1:])
    np.cumsum(out[1:, 1:], axis=1, out=out[1:, 1:])
    return out


def _window_sum(integral, y0, x0, ny, nx, hy, hx):
    """Sums over the windows ``[y - hy, y + hy] x [x - hx, x + hx]`` for the region's pixels."""
    top, bottom = y0 - hy, y0 + hy + 1
    left, right = x0 - hx, x0 + hx + 1
    rows = integral[bottom : bottom + ny] - integral[top : top + ny]
    return rows[:, right : right + nx] - rows[:, left : left + nx]


# ------------------------------------------------------------ map clean-ups
def block_counts(binary: np.ndarray, s: int) -> np.ndarray:
    """Set pixels in each ``s x s`` block (``s`` a power of two; beyond the map counts 0).

    Examples
    --------
    >>> block_counts(np.eye(6, dtype=bool), 4).tolist()
    [[4, 0], [0, 2]]
    """
    h, w = binary.shape
    height, width = -(-h // s) * s, -(-w // s) * s
    if s == 1:
        return binary.astype(np.uint16)
    pad_w = max(width, -(-w // 4) * 4)
    src = np.ascontiguousarray(binary).view(np.uint8)
    if (height, pad_w) != (h, w):
        src = np.zeros((height, pad_w), dtype=np.uint8)
        src[:h, :w] = binary
    if s >= 4:
        # four neighbouring bytes summed at once: the top byte of v * 0x01010101
        words = src.view(np.uint32)
        row = ((words * np.uint32(0x01010101)) >> np.uint32(24)).astype(np.uint8)
        step = 4
    else:
        row, step = src[:, 0::2] + src[:, 1::2], 2
    while step < s:
        row, step = row[:, 0::2] + row[:, 1::2], step * 2
    row = row[:, : width // s]
    return row.reshape(height // s, s, width // s).sum(axis=1, dtype=np.uint16)


def edge_band(binary: np.ndarray, width: int) -> np.ndarray:
    """Set pixels less than ``width`` pixels (chessboard) from an unset one (beyond counts set).

    Examples
    --------
    >>> disk = np.zeros((9, 9), dtype=bool)
    >>> disk[1:8, 1:8] = True
    >>> edge_band(disk, 2).astype(int)[4].tolist()
    [0, 1, 1, 0, 0, 0, 1, 1, 0]
    """
    return binary & ~_erode(_erode(binary, width, 0), width, 1)


def _erode(mask: np.ndarray, width: int, axis: int) -> np.ndarray:
    """Erosion along one axis by a segment of ``2 width + 1`` pixels (beyond counts set).

    Runs of ever longer length by doubling: a run of ``2 L`` is set where two
    runs of ``L`` that follow each other are.
    """
    span = 2 * width + 1
    run, length = mask, 1  # run[i]: pixels i .. i + length - 1 all set (beyond: set)
    while 2 * length <= span:
        run = _and_shifted(run, run, length, axis)
        length *= 2
    if length < span:
        run = _and_shifted(run, run, span - length, axis)
    # the run starting ``width`` pixels before each pixel; the first ones start at 0
    out = np.empty_like(mask)
    n = mask.shape[axis]
    dst = [slice(None)] * 2
    src = [slice(None)] * 2
    dst[axis], src[axis] = slice(width, n), slice(0, max(0, n - width))
    out[tuple(dst)] = run[tuple(src)]
    for i in range(min(width, n)):
        dst[axis], src[axis] = i, slice(0, i + width + 1)
        out[tuple(dst)] = np.logical_and.reduce(mask[tuple(src)], axis=axis)
    return out


def _and_shifted(a: np.ndarray, b: np.ndarray, shift: int, axis: int) -> np.ndarray:
    """``a[i] & b[i + shift]`` along ``axis``; beyond the end counts set."""
    out = a.copy()
    n = a.shape[axis]
    if shift < n:
        head = [slice(None)] * 2
        tail = [slice(None)] * 2
        head[axis], tail[axis] = slice(0, n - shift), slice(shift, n)
        out[tuple(head)] &= b[tuple(tail)]
    return out


def despeckle(binary: np.ndarray) -> np.ndarray:
    """``binary`` without its isolated set pixels (no set 8-neighbour).

    Examples
    --------
    >>> m = np.zeros((5, 7), dtype=bool)
    >>> m[1, 1] = True  # a speck
    >>> m[3, 2] = m[3, 3] = True  # a pair stays
    >>> np.argwhere(despeckle(m)).tolist()
    [[3, 2], [3, 3]]
    """
    h, w = binary.shape
    if h < 2 or w < 2:
        return np.zeros_like(binary)
    # any of the three pixels above, or below; left or right
    three = binary.copy()
    three[:, 1:] |= binary[:, :-1]
    three[:, :-1] |= binary[:, 1:]
    near = np.zeros_like(binary)
    near[:, 1:] = binary[:, :-1]
    near[:, :-1] |= binary[:, 1:]
    near[1:] |= three[:-1]
    near[:-1] |= three[1:]
    return binary & near
