"""Resample images to another pixel size: exact area averages down, bilinear up.

The detection pipeline brings raster blocks to the model's metres per pixel
before inference; this module does it with numpy alone (it runs inside QGIS's
Python), for any factor, integer or not.

Conventions
-----------
A factor is a *zoom*: output pixels per input pixel along an axis.
``factor = 0.5`` halves the image (pixels twice larger), ``2`` doubles it. To
bring a raster of ``r`` m/px to a model's ``m`` m/px, the factor is
``r / m`` (100 m/px to 231.5 m/px: 0.432). The output has
``round(n * factor)`` pixels along each axis (at least 1), and output pixel
``i`` covers input coordinates ``[i / factor, (i + 1) / factor)`` (pixel
corners, origin at the image's corner): ``resample(block, 1 / s)`` lies on
``grid.scaled(s)`` (:meth:`geocore.grid.PixelGrid.scaled`, pixels ``s`` times
larger). :func:`resample_to_shape` instead stretches the image onto exactly
``(height, width)`` pixels covering the same extent.

Methods, chosen per axis:

* ``"area"``: each output pixel is the exact average of the input it covers,
  input pixels cut by its border counted by the fraction inside (box filter
  of the output pixel's size, no aliasing). An output pixel that reaches past
  the image's end averages the part inside.
* ``"bilinear"``: linear interpolation between the two nearest input pixel
  centres at the output pixel's centre; coordinates beyond the outermost
  centres take the edge value.
* ``"auto"`` (default): ``"area"`` along an axis that is downsampled
  (factor < 1), ``"bilinear"`` along one that is upsampled.

Resampling is separable: for each axis a small table of input indices and
weights (``n_out x taps``, taps = ``ceil(1 / factor) + 1`` at most) is computed
once and applied with :func:`numpy.take`, one tap at a time, so the work is
proportional to the pixels read and the memory to one output-sized array.
Sums are taken in float64; results are float32 (float64 for a float64 image).

:func:`resample_masked` also resamples a nodata mask: output pixels are the
weighted average of the valid input pixels only (normalised convolution), and
an output pixel is nodata when less than ``min_valid_fraction`` of its weight
falls on valid input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import GridError

__all__ = [
    "METHODS",
    "resample",
    "resample_masked",
    "resample_to_shape",
    "resampled_shape",
]

#: Resampling methods (see the module documentation).
METHODS = ("auto", "area", "bilinear")


@dataclass(frozen=True)
class _AxisWeights:
    """How one axis is resampled: ``out[i] = sum_k weights[i, k] * in[index[i, k]]``."""

    index: np.ndarray  # (n_out, taps) int, valid input indices
    weights: np.ndarray  # (n_out, taps) float64, each row sums to 1


def resampled_shape(shape: tuple[int, int], factor_x: float, factor_y: float | None = None):
    """The ``(height, width)`` of an image of ``shape`` resampled by the factors.

    ``round(n * factor)``, at least 1.

    Examples
    --------
    >>> resampled_shape((1000, 800), 100 / 231.5)
    (432, 346)
    """
    factor_y = factor_x if factor_y is None else factor_y
    height, width = _check_shape(shape, "shape")
    rows = _axis_size(height, _check_factor(factor_y, "factor_y"))
    return rows, _axis_size(width, _check_factor(factor_x, "factor_x"))


def resample(
    image: np.ndarray,
    factor_x: float,
    factor_y: float | None = None,
    *,
    method: str = "auto",
) -> np.ndarray:
    """Resample a 2-D image by a zoom factor: ``factor`` output pixels per input pixel.

    Parameters
    ----------
    image : numpy.ndarray
        2-D image (height, width) of numbers; not modified.
    factor_x, factor_y : float
        Output pixels per input pixel along x (columns) and y (rows);
        ``factor_y`` defaults to ``factor_x``. < 1 downsamples: raster
        metres per pixel / model metres per pixel.
    method : {"auto", "area", "bilinear"}
        See the module documentation.

    Returns
    -------
    numpy.ndarray
        ``resampled_shape(image.shape, factor_x, factor_y)``; float32
        (float64 for a float64 image).

    Raises
    ------
    GridError
        Not a 2-D numeric image, a factor that is not a positive finite
        number, or an unknown method.

    Examples
    --------
    >>> image = np.arange(16.0).reshape(4, 4)
    >>> resample(image, 0.5).tolist()
    [[2.5, 4.5], [10.5, 12.5]]
    >>> resample(np.array([[0.0, 2.0]]), 2, 1).tolist()
    [[0.0, 0.5, 1.5, 2.0]]
    """
    image = _check_image(image)
    factor_y = factor_x if factor_y is None else factor_y
    fx, fy = _check_factor(factor_x, "factor_x"), _check_factor(factor_y, "factor_y")
    _check_method(method)
    height, width = image.shape
    rows = _axis_weights(height, _axis_size(height, fy), 1.0 / fy, method)
    cols = _axis_weights(width, _axis_size(width, fx), 1.0 / fx, method)
    return _apply(image, rows, cols)


def resample_to_shape(
    image: np.ndarray, shape: tuple[int, int], *, method: str = "auto"
) -> np.ndarray:
    """Resample a 2-D image onto exactly ``shape = (height, width)`` pixels, same extent.

    The factors are ``shape / image.shape`` along each axis (see
    :func:`resample` for the methods, dtypes and errors).

    Examples
    --------
    >>> resample_to_shape(np.ones((5, 7), dtype=np.uint8), (3, 2)).tolist()
    [[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]]
    """
    image = _check_image(image)
    out_h, out_w = _check_shape(shape, "shape")
    _check_method(method)
    height, width = image.shape
    rows = _axis_weights(height, out_h, height / out_h, method)  # input px per output px
    cols = _axis_weights(width, out_w, width / out_w, method)
    return _apply(image, rows, cols)


def resample_masked(
    image: np.ndarray,
    nodata_mask: np.ndarray | None,
    factor_x: float,
    factor_y: float | None = None,
    *,
    method: str = "auto",
    min_valid_fraction: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`resample` that ignores nodata pixels and resamples the mask too.

    Parameters
    ----------
    image : numpy.ndarray
        2-D image; not modified. Non-finite values (NaN) count as nodata.
    nodata_mask : numpy.ndarray of bool or None
        True where ``image`` has no data; same shape as ``image``.
    factor_x, factor_y, method
        As :func:`resample`.
    min_valid_fraction : float
        An output pixel is nodata when less than this fraction of its
        resampling weight falls on valid input pixels (0 < f <= 1).

    Returns
    -------
    image : numpy.ndarray
        Weighted averages of the valid input pixels; 0 where the output is nodata.
    nodata_mask : numpy.ndarray of bool
        True where the output has no data.

    Raises
    ------
    GridError
        As :func:`resample`; a mask of another shape; a fraction outside (0, 1].

    Examples
    --------
    >>> image = np.array([[0, 4, 5, 7], [0, 0, 1, 3]], dtype=np.uint8)
    >>> out, nodata = resample_masked(image, image == 0, 0.5)
    >>> out.tolist(), nodata.tolist()
    ([[0.0, 4.0]], [[True, False]])
    """
    image = _check_image(image)
    if not 0 < min_valid_fraction <= 1:
        raise GridError(f"min_valid_fraction={min_valid_fraction!r}: must be in (0, 1], e.g. 0.5")
    valid = np.isfinite(image)
    if nodata_mask is not None:
        mask = np.asarray(nodata_mask)
        if mask.shape != image.shape:
            raise GridError(
                f"nodata_mask of shape {mask.shape} does not match the image {image.shape}; "
                "give one boolean per pixel"
            )
        valid &= ~mask.astype(bool)
    factor_y = factor_x if factor_y is None else factor_y
    fx, fy = _check_factor(factor_x, "factor_x"), _check_factor(factor_y, "factor_y")
    _check_method(method)
    height, width = image.shape
    rows = _axis_weights(height, _axis_size(height, fy), 1.0 / fy, method)
    cols = _axis_weights(width, _axis_size(width, fx), 1.0 / fx, method)
    weight = _apply(valid, rows, cols, np.float64)
    total = _apply(np.where(valid, image, 0), rows, cols, np.float64)
    # the weights of a pixel sum to 1, so ``weight`` is its valid fraction
    nodata = weight < min_valid_fraction * (1 - 1e-9)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(nodata, 0.0, total / weight)
    return out.astype(_out_dtype(image), copy=False), nodata


# ---------------------------------------------------------------- weights
def _axis_weights(n_in: int, n_out: int, step: float, method: str) -> _AxisWeights:
    """Tables mapping ``n_in`` input pixels to ``n_out`` outputs ``step`` input pixels wide."""
    if method == "auto":
        method = "area" if step > 1 else "bilinear"
    if method == "area":
        return _area_weights(n_in, n_out, step)
    return _bilinear_weights(n_in, n_out, step)


def _area_weights(n_in: int, n_out: int, step: float) -> _AxisWeights:
    start = np.arange(n_out, dtype=np.float64) * step
    stop = np.minimum(start + step, n_in)
    start = np.minimum(start, n_in - 1e-9)  # a last pixel past the end averages the edge
    stop = np.maximum(stop, start + 1e-9)
    taps = math.ceil(step) + 1
    first = np.floor(start).astype(np.int64)
    index = first[:, None] + np.arange(taps)[None, :]
    # overlap of input pixel [j, j + 1) with the output pixel [start, stop)
    overlap = np.minimum(index + 1, stop[:, None]) - np.maximum(index, start[:, None])
    weights = np.clip(overlap, 0.0, None)
    weights /= weights.sum(axis=1, keepdims=True)
    return _AxisWeights(np.clip(index, 0, n_in - 1), weights)


def _bilinear_weights(n_in: int, n_out: int, step: float) -> _AxisWeights:
    centre = (np.arange(n_out, dtype=np.float64) + 0.5) * step - 0.5
    centre = np.clip(centre, 0.0, n_in - 1.0)
    left = np.minimum(np.floor(centre).astype(np.int64), max(n_in - 2, 0))
    frac = np.clip(centre - left, 0.0, 1.0)
    index = np.stack([left, np.minimum(left + 1, n_in - 1)], axis=1)
    return _AxisWeights(index, np.stack([1.0 - frac, frac], axis=1))


def _apply(image: np.ndarray, rows: _AxisWeights, cols: _AxisWeights, dtype=None) -> np.ndarray:
    """Apply the row and the column tables (the cheaper order first).

    Sums are taken in float64 (so that a constant image stays exactly
    constant); the result is ``dtype``, by default :func:`_out_dtype`.
    """
    dtype = dtype or _out_dtype(image)
    height, width = image.shape
    n_rows, n_cols = len(rows.index), len(cols.index)
    # cost of each order: pixels touched by the first pass (taps x its output)
    rows_first = rows.index.shape[1] * n_rows * width + cols.index.shape[1] * n_rows * n_cols
    cols_first = cols.index.shape[1] * height * n_cols + rows.index.shape[1] * n_rows * n_cols
    if rows_first <= cols_first:
        out = _apply_axis(_apply_axis(image, rows, 0), cols, 1)
    else:
        out = _apply_axis(_apply_axis(image, cols, 1), rows, 0)
    # astype copies, so the caller's array is never handed back
    return out.astype(dtype) if out is image else out.astype(dtype, copy=False)


def _apply_axis(image: np.ndarray, table: _AxisWeights, axis: int) -> np.ndarray:
    if _is_identity(table, image.shape[axis]):
        return image
    out = None
    for k in range(table.index.shape[1]):
        weights = table.weights[:, k]
        if not weights.any():
            continue
        taken = np.take(image, table.index[:, k], axis=axis).astype(np.float64, copy=False)
        taken *= weights[:, None] if axis == 0 else weights[None, :]
        if out is None:
            out = taken
        else:
            out += taken
    return out


def _is_identity(table: _AxisWeights, n_in: int) -> bool:
    n_out = len(table.index)
    if n_out != n_in:
        return False
    first = table.weights[:, 0] == 1
    return bool(first.all() and (table.index[:, 0] == np.arange(n_in)).all())


# ---------------------------------------------------------------- checks
def _axis_size(n: int, factor: float) -> int:
    return max(1, round(n * factor))


def _out_dtype(image: np.ndarray) -> type:
    """float64 for a float64 image, else float32."""
    return np.float64 if image.dtype == np.float64 else np.float32


def _check_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 2 or image.size == 0:
        raise GridError(
            f"image of shape {image.shape}: expected a non-empty 2-D array (height, width)"
        )
    if image.dtype == bool or not (
        np.issubdtype(image.dtype, np.integer) or np.issubdtype(image.dtype, np.floating)
    ):
        raise GridError(f"image of dtype {image.dtype}: expected integer or float pixels")
    return image


def _check_factor(factor: float, name: str) -> float:
    try:
        value = float(factor)
    except (TypeError, ValueError) as err:
        raise GridError(f"{name}={factor!r}: must be a number, e.g. 0.432") from err
    if not (math.isfinite(value) and value > 0):
        raise GridError(
            f"{name}={factor!r}: must be a positive zoom, output pixels per input pixel "
            "(< 1 downsamples, > 1 upsamples), e.g. 0.432 for 100 m/px to 231.5 m/px"
        )
    return value


def _check_shape(shape: tuple[int, int], name: str) -> tuple[int, int]:
    try:
        height, width = (int(n) for n in shape)
        good = tuple(shape) == (height, width) and height >= 1 and width >= 1
    except (TypeError, ValueError):
        good = False
    if not good:
        raise GridError(f"{name}={shape!r}: expected (height, width), two positive whole numbers")
    return height, width


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise GridError(f"method={method!r}: expected one of {', '.join(map(repr, METHODS))}")
