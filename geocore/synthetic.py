"""Synthetic Mars scenes with known craters, for demos, tests and benchmarks.

:func:`random_catalog` draws craters with a power-law size-frequency distribution
(cumulative N(>D) ~ D^-slope, as crater populations roughly follow);
:func:`render_scene` draws them as shaded bowls with raised rims on a noisy
surface, lit from the west, which is how craters look in THEMIS Day IR images.
Everything is seeded and reproducible. numpy only.
"""

from __future__ import annotations

import numpy as np

from .crater import CraterCatalog
from .grid import PixelGrid

__all__ = ["random_catalog", "render_scene"]


def random_catalog(
    bbox: tuple[float, float, float, float],
    n_craters: int,
    min_diameter_km: float = 2.0,
    max_diameter_km: float = 64.0,
    slope: float = 2.0,
    seed: int = 0,
) -> CraterCatalog:
    """Random craters uniformly on the sphere within ``bbox`` (west, south, east, north).

    Diameters follow a truncated power law, cumulative ``N(>D) ~ D^-slope``.

    Examples
    --------
    >>> cat = random_catalog((90, -30, 120, 0), 100, seed=1)
    >>> len(cat), bool(cat.diameter_km.min() >= 2.0)
    (100, True)
    """
    west, south, east, north = bbox
    if n_craters < 0:
        raise ValueError(f"n_craters must be >= 0, got {n_craters}")
    if not 0 < min_diameter_km < max_diameter_km:
        raise ValueError(
            f"need 0 < min_diameter_km < max_diameter_km, got {min_diameter_km}, {max_diameter_km}"
        )
    rng = np.random.default_rng(seed)
    lon = rng.uniform(west, east, n_craters)
    # uniform in area: sin(lat) uniform
    s0, s1 = np.sin(np.radians([south, north]))
    lat = np.degrees(np.arcsin(rng.uniform(s0, s1, n_craters)))
    # inverse CDF of the truncated Pareto distribution
    u = rng.uniform(0.0, 1.0, n_craters)
    a, b = min_diameter_km**-slope, max_diameter_km**-slope
    diameter = (a - u * (a - b)) ** (-1.0 / slope)
    return CraterCatalog(lon, lat, diameter, source=np.full(n_craters, "synthetic", dtype=object))


def render_scene(
    grid: PixelGrid, catalog: CraterCatalog, seed: int = 0, noise: float = 6.0
) -> np.ndarray:
    """Render craters as shaded relief on ``grid``: an 8-bit image (height, width).

    Each crater is a parabolic bowl with a raised rim, its footprint an ellipse
    stretched by ``1/cos(lat)`` on an equirectangular grid; the height field is
    lit from the west. Larger craters are drawn first, smaller ones on top.
    Pixel value 0 is never used (it marks missing data in THEMIS mosaics).
    """
    rng = np.random.default_rng(seed)
    height = 4.0 * _smooth_noise(rng, grid.height, grid.width, 48)
    albedo = 18.0 * _smooth_noise(rng, grid.height, grid.width, 160)
    cat = catalog.sorted_by_diameter()
    if grid.is_georeferenced:
        cx, cy = grid.lonlat_to_pixel(cat.lon_deg, cat.lat_deg)
        stretch = 1.0 / np.cos(np.radians(np.clip(cat.lat_deg, -85.0, 85.0)))
    else:
        cx, cy = cat.x_px, cat.y_px
        stretch = np.ones(len(cat))
    radius_px = cat.diameter_km * 500.0 / grid.resolution_m
    for x0, y0, r, k in zip(np.atleast_1d(cx), np.atleast_1d(cy), radius_px, stretch, strict=True):
        rx, ry = 1.6 * r * k, 1.6 * r
        c0, c1 = max(int(x0 - rx), 0), min(int(x0 + rx) + 2, grid.width)
        r0, r1 = max(int(y0 - ry), 0), min(int(y0 + ry) + 2, grid.height)
        if c0 >= c1 or r0 >= r1:
            continue
        cols = np.arange(c0, c1, dtype=np.float32)[None, :]
        rows = np.arange(r0, r1, dtype=np.float32)[:, None]
        d = np.sqrt(((cols - x0) / k) ** 2 + (rows - y0) ** 2) / max(r, 0.5)
        depth = 0.2 * r
        bowl = np.where(d < 1.0, depth * (d**2 - 1.0), 0.0)
        rim = 0.08 * r * np.exp(-(((d - 1.0) / 0.25) ** 2))
        patch = height[r0:r1, c0:c1]
        inside = d < 1.6
        # a fresh crater replaces the terrain inside its rim, so nested craters stay sharp
        patch[inside] = np.where(d < 1.0, 0.3 * patch, patch)[inside] + (bowl + rim)[inside]
    shade = np.zeros_like(height)
    shade[:, 1:-1] = (height[:, 2:] - height[:, :-2]) * 0.5
    image = 120.0 + albedo - 90.0 * np.tanh(shade) + rng.normal(0.0, noise, height.shape)
    return np.clip(image, 1, 255).astype(np.uint8)


def _smooth_noise(rng: np.random.Generator, height: int, width: int, scale_px: int) -> np.ndarray:
    """Smooth random field of unit standard deviation and correlation length ``scale_px``.

    White noise blurred by three separable box filters (close to a Gaussian);
    unlike interpolated lattice noise it has no grid artefacts once shaded.
    """
    field = rng.normal(0.0, 1.0, (height, width)).astype(np.float32)
    radius = max(1, scale_px // 2)
    for axis in (0, 1, 0, 1, 0, 1):
        field = _box_blur(field, radius, axis)
    std = float(field.std())
    return field / std if std > 0 else field


def _box_blur(field: np.ndarray, radius: int, axis: int) -> np.ndarray:
    """Mean over a window of ``2 * radius + 1`` along ``axis``, edges reflected."""
    pad = [(0, 0), (0, 0)]
    pad[axis] = (radius + 1, radius)
    padded = np.pad(field, pad, mode="reflect")
    total = np.cumsum(padded, axis=axis, dtype=np.float32)
    n = field.shape[axis]
    upper = np.take(total, np.arange(2 * radius + 1, 2 * radius + 1 + n), axis=axis)
    lower = np.take(total, np.arange(0, n), axis=axis)
    return (upper - lower) / np.float32(2 * radius + 1)
