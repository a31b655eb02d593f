"""Crater templates and their normalised cross-correlation with a map (numpy FFT).

The engine under both crater extraction methods of :mod:`geocore.extraction`:

* :class:`RimGeometry` says what a crater looks like in a map (a ring of some
  width centred on the rim, an outline, a filled disk), as
  :mod:`geocore.targets` draws it.
* :func:`render_template` draws one crater as a template, hard-edged (a pixel
  is in or out, as the targets are drawn) or with soft, area-weighted edges
  (for sub-pixel centres and for block-averaged maps).
* :func:`match_templates` correlates a map with one template per radius, as
  ``skimage.feature.match_template(image, template, pad_input=True)`` does
  (zero-mean template, the window's own mean and variance, 0 where the window
  is flat), and returns the local maxima above a threshold. It works block by
  block (bounded memory, a cancel check per radius and block), computes each
  block's spectrum once for all radii, and processes latitude bands in which
  the ``1/cos(lat)`` stretch of an equirectangular map is nearly constant.
* :class:`CraterWindows` reads the windows around many craters at once and
  scores each crater by the same correlation at a sub-pixel centre and any
  radius (with other craters' footprints left out, if asked), and finds the
  threshold crossings near each crater for rim fitting.

Only numpy is needed (``numpy.fft``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .errors import CancelledError

__all__ = [
    "CraterWindows",
    "RimGeometry",
    "coverage",
    "match_templates",
    "render_template",
    "stretch_bands",
]

# Windows whose variance is below this (in squared map units) count as flat: NCC 0.
_FLAT_VARIANCE = 1e-6


@dataclass(frozen=True)
class RimGeometry:
    """The footprint of a crater of radius ``r`` in a target or probability map.

    Parameters
    ----------
    kind : {"ring", "outline", "filled"}
        ``"ring"``: ``r - w/2 < d <= r + w/2``; ``"outline"``:
        ``inner_ratio * r < d <= r``; ``"filled"``: ``d <= r``; ``d`` is the
        distance from the centre in pixels along a meridian (x distances divided
        by the stretch). A ring whose radius is under ``w/2`` is a disk.
    width_px : float
        Ring width in pixels along a meridian.
    inner_ratio : float
        Hole radius of an outline as a fraction of ``r``.

    Examples
    --------
    >>> RimGeometry("ring", width_px=4).edges(10.0)
    (8.0, 12.0)
    >>> RimGeometry("filled").edges(10.0)
    (-inf, 10.0)
    """

    kind: str = "ring"
    width_px: float = 4.0
    inner_ratio: float = 0.7

    def edges(self, radius_px: float) -> tuple[float, float]:
        """Inner and outer edge radii (``-inf``: no hole) for a crater of ``radius_px``."""
        if self.kind == "ring":
            inner = radius_px - self.width_px / 2.0
            return (inner if inner > 0 else -math.inf), radius_px + self.width_px / 2.0
        if self.kind == "outline":
            return self.inner_ratio * radius_px, radius_px
        return -math.inf, radius_px

    def edges_array(self, radius_px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`edges` for an array of radii."""
        r = np.asarray(radius_px, dtype=float)
        if self.kind == "ring":
            inner = r - self.width_px / 2.0
            return np.where(inner > 0, inner, -np.inf), r + self.width_px / 2.0
        if self.kind == "outline":
            return self.inner_ratio * r, r
        return np.full_like(r, -np.inf), r

    def half_size(self, radius_px: float, stretch: float, scale: float = 1.0) -> tuple[int, int]:
        """Half height and half width (pixels at ``scale``) of the template window.

        The window holds the footprint and a border of one pixel, as DeepMoon's
        templates (``2 * (r + rw + 1)`` wide) do.
        """
        outer = self.edges(radius_px)[1] / scale
        return math.ceil(outer) + 1, math.ceil(outer * stretch) + 1


def coverage(distance, inner, outer) -> np.ndarray:
    """Fraction of a one-pixel-wide radial step at ``distance`` inside ``(inner, outer]``.

    The 1-D box-filtered footprint: 1 well inside, 0 well outside, linear over
    the pixel that straddles an edge; thin rings get their partial weight.

    Examples
    --------
    >>> coverage(np.array([7.0, 8.0, 10.0, 12.25, 13.0]), 8.0, 12.0).tolist()
    [0.0, 0.5, 1.0, 0.25, 0.0]
    """
    d = np.asarray(distance)
    return np.clip(np.minimum(d + 0.5, outer) - np.maximum(d - 0.5, inner), 0.0, 1.0)


def render_template(
    geometry: RimGeometry,
    radius_px: float,
    stretch: float = 1.0,
    scale: float = 1.0,
    soft: bool = False,
    offset: tuple[float, float] = (0.0, 0.0),
) -> np.ndarray:
    """Draw one crater as a template centred on its middle pixel.

    Parameters
    ----------
    geometry : RimGeometry
        What the crater looks like.
    radius_px : float
        Radius in full-resolution pixels along a meridian.
    stretch : float
        Width / height ratio of the footprint (``1/cos(lat)`` on an
        equirectangular grid; 1 for circles).
    scale : float
        Size of a template pixel in full-resolution pixels (a map block-averaged
        by ``scale``).
    soft : bool
        False: a pixel is 1 when its centre is inside (as targets are drawn).
        True: area-weighted edges (:func:`coverage`).
    offset : (float, float)
        Sub-pixel position (x, y) of the crater's centre from the middle pixel,
        in template pixels.

    Returns
    -------
    numpy.ndarray
        float32, ``(2 * hy + 1, 2 * hx + 1)`` with ``hy, hx`` from
        :meth:`RimGeometry.half_size`.

    Examples
    --------
    >>> print(render_template(RimGeometry("ring", width_px=1), 2.0).astype(int))
    [[0 0 0 0 0 0 0 0 0]
     [0 0 0 0 0 0 0 0 0]
     [0 0 0 1 1 1 0 0 0]
     [0 0 1 0 0 0 1 0 0]
     [0 0 1 0 0 0 1 0 0]
     [0 0 1 0 0 0 1 0 0]
     [0 0 0 1 1 1 0 0 0]
     [0 0 0 0 0 0 0 0 0]
     [0 0 0 0 0 0 0 0 0]]
    """
    hy, hx = geometry.half_size(radius_px, stretch, scale)
    inner, outer = geometry.edges(radius_px)
    y = np.arange(-hy, hy + 1, dtype=np.float64)[:, None] - offset[1]
    x = (np.arange(-hx, hx + 1, dtype=np.float64)[None, :] - offset[0]) / stretch
    d = np.sqrt(x * x + y * y)
    if soft:
        return coverage(d, inner / scale, outer / scale).astype(np.float32)
    d = d * scale
    return ((d > inner) & (d <= outer)).astype(np.float32)


def stretch_bands(
    stretch_rows: np.ndarray, tolerance: float, max_rows: int
) -> list[tuple[int, int, float]]:
    """Split rows into bands whose stretch varies by at most ``tolerance`` (relative).

    Returns ``(row0, row1, stretch)`` triples covering all rows, each band at
    most ``max_rows`` tall, its stretch the geometric mean of its extremes.

    Examples
    --------
    >>> [(a, b, round(k, 3)) for a, b, k in stretch_bands([1.0, 1.0, 1.01, 1.05, 1.06], 0.02, 9)]
    [(0, 3, 1.005), (3, 5, 1.055)]
    """
    k = np.asarray(stretch_rows, dtype=float)
    bands = []
    start, n = 0, k.size
    while start < n:
        stop = min(start + max(1, max_rows), n)
        seg = k[start:stop]
        lo = np.minimum.accumulate(seg)
        hi = np.maximum.accumulate(seg)
        bad = np.flatnonzero(hi > lo * (1.0 + tolerance))
        if bad.size:
            stop = start + int(bad[0])
        kmin, kmax = float(k[start:stop].min()), float(k[start:stop].max())
        bands.append((start, stop, math.sqrt(kmin * kmax)))
        start = stop
    return bands


def _fft_size(n: int) -> int:
    """The smallest ``2^a 3^b 5^c`` at least ``n`` (fast sizes for pocketfft)."""
    best = 1 << max(0, (n - 1).bit_length())
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            m = p35
            while m < n:
                m *= 2
            best = min(best, m)
            p35 *= 3
        p5 *= 5
    return best


def match_templates(
    image: np.ndarray,
    radii_px: np.ndarray,
    make_template: Callable[[float, float], np.ndarray],
    threshold: float,
    stretch_rows: np.ndarray | None = None,
    *,
    stretch_tolerance: float = 0.01,
    block_px: int = 2048,
    binary: bool = False,
    cancel: Callable[[], bool] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Local maxima of the normalised cross-correlation of ``image`` with each template.

    Parameters
    ----------
    image : numpy.ndarray
        2-D map (not modified). Outside it counts as 0.
    radii_px : array_like
        Radii to try; ``make_template(radius, stretch)`` draws the template of
        each (odd height and width, centre in the middle).
    make_template : callable
        ``(radius, stretch) -> 2-D array``.
    threshold : float
        Keep correlations above this.
    stretch_rows : numpy.ndarray, optional
        Stretch (width / height of a crater) of each row; None: 1.
    stretch_tolerance : float
        Relative spread of the stretch allowed within one band of rows.
    block_px : int
        Largest core size of a block (rows and columns).
    binary : bool
        The image holds only 0 and 1 (saves the sum of squares).
    cancel : callable, optional
        Checked for every radius and block; True raises :class:`CancelledError`.

    Returns
    -------
    col, row : numpy.ndarray of int
        Position of each maximum (pixel centres of ``image``).
    radius : numpy.ndarray of float
        Template radius.
    score : numpy.ndarray of float
        Correlation, in (threshold, 1].

    Notes
    -----
    A maximum is a pixel whose score is above ``threshold``, not below any of its
    8 neighbours at the same radius and above those before it in raster order (a
    plateau keeps one pixel).
    """
    image = np.asarray(image)
    height, width = image.shape
    radii = np.asarray(radii_px, dtype=float).ravel()
    k_rows = np.ones(height) if stretch_rows is None else np.asarray(stretch_rows, dtype=float)
    found: list[tuple[np.ndarray, ...]] = []
    if radii.size == 0 or height == 0 or width == 0:
        return _empty_peaks()
    for row0, row1, stretch in stretch_bands(k_rows, stretch_tolerance, block_px):
        templates = [make_template(float(r), stretch) for r in radii]
        half_y = max(t.shape[0] // 2 for t in templates)
        half_x = max(t.shape[1] // 2 for t in templates)
        blocks = _band_blocks(image, row0, row1, half_y + 1, half_x + 1, block_px, binary, cancel)
        for radius, template in zip(radii, templates, strict=True):
            spectrum = norm = None
            for block in blocks:
                if cancel is not None and cancel():
                    raise CancelledError("crater extraction cancelled")
                if spectrum is None:
                    spectrum, norm = _template_spectrum(template, block.fft_shape)
                score = block.score(template.shape, spectrum, norm)
                found.append(block.peaks(score, threshold, radius))
    found = [f for f in found if f[0].size]
    if not found:
        return _empty_peaks()
    return tuple(np.concatenate(parts) for parts in zip(*found, strict=True))  # type: ignore[return-value]


def _empty_peaks():
    return (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0), np.empty(0))


def _template_spectrum(template: np.ndarray, shape: tuple[int, int]):
    """Conjugate spectrum of the zero-mean template wrapped around (0, 0), and its norm."""
    t0 = template.astype(np.float64) - template.mean(dtype=np.float64)
    norm = float(np.sqrt(np.sum(t0 * t0)))
    hy, hx = template.shape[0] // 2, template.shape[1] // 2
    wrapped = np.zeros(shape, dtype=np.float32)
    rows = (np.arange(template.shape[0]) - hy) % shape[0]
    cols = (np.arange(template.shape[1]) - hx) % shape[1]
    wrapped[np.ix_(rows, cols)] = t0
    return np.conj(np.fft.rfft2(wrapped)), norm


@dataclass
class _Block:
    """One block of a band: its spectrum and integral images, and where its core lies."""

    spectrum: np.ndarray
    sum1: np.ndarray  # integral image of the padded block, (H + 1, W + 1)
    sum2: np.ndarray | None  # of its square; None for binary images
    fft_shape: tuple[int, int]
    margin_y: int
    margin_x: int
    row0: int  # image position of the core's first row / column
    col0: int
    core_h: int
    core_w: int

    def score(self, tshape, spectrum, norm) -> np.ndarray:
        """Correlation with one template over the core grown by one pixel (float32)."""
        region = (self.core_h + 2, self.core_w + 2)
        if norm == 0.0:
            return np.zeros(region, dtype=np.float32)
        th, tw = tshape
        hy, hx = th // 2, tw // 2
        corr = np.fft.irfft2(self.spectrum * spectrum, s=self.fft_shape)
        y0, x0 = self.margin_y - 1, self.margin_x - 1
        num = corr[y0 : y0 + region[0], x0 : x0 + region[1]].astype(np.float32, copy=False)
        n = float(th * tw)
        s1 = _window_sum(self.sum1, y0, x0, *region, hy, hx)
        s2 = s1 if self.sum2 is None else _window_sum(self.sum2, y0, x0, *region, hy, hx)
        var = (s2 - s1 * s1 / n).astype(np.float32)
        den = np.sqrt(np.maximum(var, _FLAT_VARIANCE))
        den *= np.float32(norm)
        score = num / den
        score[var <= _FLAT_VARIANCE] = 0.0
        return score

    def peaks(self, score, threshold, radius):
        """``(col, row, radius, score)`` of the local maxima of a score map above ``threshold``.

        A maximum is not below its 8 neighbours and above those before it in
        raster order (a plateau keeps one pixel).
        """
        iy, ix = np.nonzero(score[1:-1, 1:-1] > threshold)
        iy, ix = iy + 1, ix + 1
        value = score[iy, ix]
        keep = np.ones(iy.size, dtype=bool)
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                if (dy, dx) < (0, 0):
                    keep &= score[iy + dy, ix + dx] < value
                elif (dy, dx) > (0, 0):
                    keep &= score[iy + dy, ix + dx] <= value
        iy, ix, value = iy[keep], ix[keep], value[keep]
        radius = np.full(iy.size, float(radius))
        return ix - 1 + self.col0, iy - 1 + self.row0, radius, np.minimum(value, 1.0)


def _window_sum(integral, y0, x0, ny, nx, hy, hx):
    """Sums over the windows ``[y - hy, y + hy] x [x - hx, x + hx]`` for the region's pixels."""
    top, bottom = y0 - hy, y0 + hy + 1
    left, right = x0 - hx, x0 + hx + 1
    return (
        integral[bottom : bottom + ny, right : right + nx]
        - integral[top : top + ny, right : right + nx]
        - integral[bottom : bottom + ny, left : left + nx]
        + integral[top : top + ny, left : left + nx]
    )


def _integral(block: np.ndarray) -> np.ndarray:
    out = np.zeros((block.shape[0] + 1, block.shape[1] + 1), dtype=np.float64)
    np.cumsum(block, axis=0, dtype=np.float64, out=out[1:, 1:])
    np.cumsum(out[1:, 1:], axis=1, out=out[1:, 1:])
    return out


def _band_blocks(
    image, row0, row1, margin_y, margin_x, block_px, binary, cancel=None
) -> list[_Block]:
    """The blocks of rows ``row0:row1`` with their margins; blocks with nothing set are left out."""
    height, width = image.shape
    n_cols = max(1, math.ceil(width / block_px))
    core_w_max = math.ceil(width / n_cols)
    core_h = row1 - row0
    # the window of the outermost core pixel's neighbour must stay inside the padded block
    fft_shape = (_fft_size(core_h + 2 * margin_y), _fft_size(core_w_max + 2 * margin_x))
    blocks = []
    for c in range(n_cols):
        col0 = c * core_w_max
        col1 = min(width, col0 + core_w_max)
        if col0 >= col1:
            continue
        r_lo, r_hi = max(0, row0 - margin_y), min(height, row1 + margin_y)
        c_lo, c_hi = max(0, col0 - margin_x), min(width, col1 + margin_x)
        if cancel is not None and cancel():
            raise CancelledError("crater extraction cancelled")
        src = image[r_lo:r_hi, c_lo:c_hi]
        if not src.any():
            continue
        padded = np.zeros(fft_shape, dtype=np.float32)
        oy, ox = r_lo - (row0 - margin_y), c_lo - (col0 - margin_x)
        padded[oy : oy + src.shape[0], ox : ox + src.shape[1]] = src
        blocks.append(
            _Block(
                spectrum=np.fft.rfft2(padded),
                sum1=_integral(padded),
                sum2=None if binary else _integral(padded * padded),
                fft_shape=fft_shape,
                margin_y=margin_y,
                margin_x=margin_x,
                row0=row0,
                col0=col0,
                core_h=core_h,
                core_w=col1 - col0,
            )
        )
    return blocks


# ------------------------------------------------------------- crater windows
# Window half sizes are rounded up to these so that craters of similar size are
# read together as one (n, h, w) array.
_SIZES = np.unique(np.round(4 * 1.125 ** np.arange(60)).astype(np.int64))
_CHUNK_PIXELS = 4_000_000


class CraterWindows:
    """Windows of a thresholded map around many craters at once (zero outside the map).

    Parameters
    ----------
    binary : numpy.ndarray of bool
        The thresholded map; not modified (a zero-padded copy is kept).
    geometry : RimGeometry
        The footprint of a crater, for :meth:`score`.
    reach_px : float
        Largest half size of a window that will be read.
    cancel : callable, optional
        Checked for every chunk of windows; True raises :class:`CancelledError`.
    """

    def __init__(self, binary: np.ndarray, geometry: RimGeometry, reach_px: float, cancel=None):
        self.height, self.width = binary.shape
        self.geometry = geometry
        self.cancel = cancel
        self._pad = math.ceil(reach_px) + 2
        self._padded = np.zeros(
            (self.height + 2 * self._pad, self.width + 2 * self._pad), dtype=bool
        )
        self._padded[self._pad : -self._pad, self._pad : -self._pad] = binary

    def groups(self, hx: np.ndarray, hy: np.ndarray):
        """Chunks ``(index, gx, gy)`` of craters whose half sizes round up to ``gx, gy``."""
        if hx.size == 0:
            return
        if max(int(hx.max()), int(hy.max())) + 1 > self._pad - 1:
            raise ValueError(f"windows of half size {max(hx.max(), hy.max())} exceed the padding")
        qx = _SIZES[np.minimum(np.searchsorted(_SIZES, hx), _SIZES.size - 1)]
        qy = _SIZES[np.minimum(np.searchsorted(_SIZES, hy), _SIZES.size - 1)]
        qx, qy = np.maximum(qx, hx), np.maximum(qy, hy)
        qx, qy = np.minimum(qx, self._pad - 2), np.minimum(qy, self._pad - 2)
        key = qy * (int(qx.max()) + 1) + qx
        for value in np.unique(key):
            index = np.flatnonzero(key == value)
            gx, gy = int(qx[index[0]]), int(qy[index[0]])
            per = max(1, _CHUNK_PIXELS // ((2 * gx + 2) * (2 * gy + 2)))
            for start in range(0, index.size, per):
                if self.cancel is not None and self.cancel():
                    raise CancelledError("crater extraction cancelled")
                yield index[start : start + per], gx, gy

    def read(self, cx, cy, gx: int, gy: int, extra: int = 0) -> np.ndarray:
        """``(n, 2 gy + 1 + extra, 2 gx + 1 + extra)`` windows centred on pixels ``cx, cy``."""
        rows = cy[:, None] + (np.arange(-gy, gy + 1 + extra) + self._pad)
        cols = cx[:, None] + (np.arange(-gx, gx + 1 + extra) + self._pad)
        return self._padded[rows[:, :, None], cols[:, None, :]]

    def score(self, x, y, r, k) -> np.ndarray:
        """Correlation with an area-weighted template at craters ``(x, y, radius, stretch)``.

        As :func:`match_templates` computes it, over the template's own window
        (the footprint and a one-pixel border), at sub-pixel centres.
        """
        out = np.zeros(x.size)
        inner, outer = self.geometry.edges_array(r)
        hy = np.ceil(outer + 0.5).astype(np.int64) + 1
        hx = np.ceil((outer + 0.5) * k).astype(np.int64) + 1
        cx, cy = np.round(x).astype(np.int64), np.round(y).astype(np.int64)
        for idx, gx, gy in self.groups(hx, hy):
            b = self.read(cx[idx], cy[idx], gx, gy).astype(np.float32)
            oy = np.arange(-gy, gy + 1, dtype=np.float32)
            ox = np.arange(-gx, gx + 1, dtype=np.float32)
            dy = (cy[idx] - y[idx]).astype(np.float32)[:, None] + oy
            dx = ((cx[idx] - x[idx]).astype(np.float32)[:, None] + ox) / k[idx, None]
            d = np.sqrt(dy[:, :, None] ** 2 + dx[:, None, :] ** 2)
            t = coverage(d, inner[idx, None, None], outer[idx, None, None]).astype(np.float32)
            # only the crater's own window counts; the rest of the rounded-up one is masked
            wy = (np.abs(oy)[None, :] <= hy[idx, None]).astype(np.float32)
            wx = (np.abs(ox)[None, :] <= hx[idx, None]).astype(np.float32)
            b *= wy[:, :, None] * wx[:, None, :]
            t *= wy[:, :, None] * wx[:, None, :]
            n = wy.sum(1) * wx.sum(1)
            out[idx] = _ncc(
                n,
                t.sum((1, 2), dtype=np.float64),
                b.sum((1, 2), dtype=np.float64),
                (t * t).sum((1, 2), dtype=np.float64),
                (t * b).sum((1, 2), dtype=np.float64),
            )
        return out

    def score_without(self, c: int, others: np.ndarray, x, y, r, k) -> float:
        """:meth:`score` of crater ``c``, the footprints of ``others`` (grown 1 px) left out."""
        inner, outer = self.geometry.edges(float(r[c]))
        hy = math.ceil(outer + 0.5) + 1
        hx = math.ceil((outer + 0.5) * k[c]) + 1
        cx, cy = round(float(x[c])), round(float(y[c]))
        b = self.read(np.array([cx]), np.array([cy]), hx, hy)[0].astype(np.float64)
        rows = np.arange(cy - hy, cy + hy + 1, dtype=np.float64)[:, None]
        cols = np.arange(cx - hx, cx + hx + 1, dtype=np.float64)[None, :]
        t = coverage(np.hypot((cols - x[c]) / k[c], rows - y[c]), inner, outer)
        w = np.ones_like(t)
        for o in others.tolist():
            o_in, o_out = self.geometry.edges(float(r[o]))
            d = np.hypot((cols - x[o]) / k[o], rows - y[o])
            w[(d > o_in - 1.0) & (d <= o_out + 1.0)] = 0.0
        t, b = t * w, b * w
        return float(_ncc(w.sum(), t.sum(), b.sum(), (t * t).sum(), (t * b).sum()))

    def crossings(self, prob, scale: float, threshold: float, x, y, hx, hy):
        """Sub-pixel threshold crossings near each crater: ``owner, x, y, axis, sign``.

        A crossing lies between a pixel and its right (``axis`` 0) or lower
        (``axis`` 1) neighbour on the other side of the threshold; ``sign`` is
        +1 when the pixel itself is above it. Its position is interpolated
        linearly in ``prob / scale`` for float maps, half way otherwise.
        """
        cx, cy = np.round(x).astype(np.int64), np.round(y).astype(np.int64)
        found = []
        interpolate = np.issubdtype(prob.dtype, np.floating)
        for idx, gx, gy in self.groups(hx, hy):
            win = self.read(cx[idx], cy[idx], gx, gy, extra=1)
            here = win[:, :-1, :-1]
            for axis, there in ((0, win[:, :-1, 1:]), (1, win[:, 1:, :-1])):
                o, iy, ix = np.nonzero(here != there)
                col = cx[idx][o] - gx + ix
                row = cy[idx][o] - gy + iy
                ncol, nrow = col + (axis == 0), row + (axis == 1)
                ok = (col >= 0) & (row >= 0) & (ncol < self.width) & (nrow < self.height)
                o, iy, ix = o[ok], iy[ok], ix[ok]
                col, row, ncol, nrow = col[ok], row[ok], ncol[ok], nrow[ok]
                sign = np.where(here[o, iy, ix], 1.0, -1.0)
                frac = np.full(o.size, 0.5)
                if interpolate and o.size:
                    p0 = prob[row, col].astype(float) / scale
                    p1 = prob[nrow, ncol].astype(float) / scale
                    with np.errstate(divide="ignore", invalid="ignore"):
                        frac = np.clip(np.nan_to_num((threshold - p0) / (p1 - p0), nan=0.5), 0, 1)
                px = col + frac if axis == 0 else col.astype(float)
                py = row + frac if axis == 1 else row.astype(float)
                found.append((idx[o], px, py, np.full(o.size, axis), sign))
        if not found:
            return (np.empty(0, np.int64), *(np.empty(0) for _ in range(4)))
        owner, px, py, axis, sign = (np.concatenate(p) for p in zip(*found, strict=True))
        return owner.astype(np.int64), px, py, axis, sign


def _ncc(n, st, sb, stt, stb):
    """Normalised correlation from window sums (0 where the template or the map is flat)."""
    var_t = stt - st * st / n
    var_b = sb - sb * sb / n  # the map is 0/1: its sum of squares is its sum
    with np.errstate(divide="ignore", invalid="ignore"):
        ncc = (stb - st * sb / n) / np.sqrt(var_t * var_b)
    return np.where((var_b > _FLAT_VARIANCE) & (var_t > 1e-9) & (n > 1), ncc, 0.0)
