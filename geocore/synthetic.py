"""Synthetic Mars scenes with known craters, for demos, tests and benchmarks.

:func:`random_catalog` draws craters with a power-law size-frequency distribution
(cumulative N(>D) ~ D^-slope, as crater populations roughly follow);
:func:`render_scene` renders them as a THEMIS Day IR-like image: a height field
in metres (fractal terrain, ridges, craters from fresh to degraded, a background
of small craters) lit by the afternoon sun from the west, plus albedo and
thermal-inertia mottling. The scene model and its figures against real THEMIS
images are described in ``docs/synthetic.md``. Everything is seeded and
reproducible. numpy only.
"""

from __future__ import annotations

import math

import numpy as np

from .crater import CraterCatalog
from .errors import GridError, SceneParameterError
from .grid import PixelGrid
from .resample import resample_to_shape

__all__ = ["random_catalog", "render_scene"]

SIMPLE_TO_COMPLEX_KM = 7.0  # Mars simple-to-complex transition diameter (Pike 1980)
CENTRAL_PEAK_KM = 20.0  # central peaks drawn in craters wider than this
EJECTA_EXTENT = 2.5  # outer edge of rim uplift and ejecta, in crater radii
BACKGROUND_SLOPE = 2.5  # cumulative power-law slope of the sub-catalogue craters
RIM_IRREGULARITY = 0.035  # relative radial noise of rims
EJECTA_ROUGHNESS = 0.003  # RMS relief of fresh ejecta, as a fraction of the diameter
# radial profile tables over [0, EJECTA_EXTENT]: fine for craters >= 4 px, coarse below
_R_FINE = np.linspace(0.0, EJECTA_EXTENT, 400)
_R_COARSE = np.linspace(0.0, EJECTA_EXTENT, 80)
RELIEF_M = 300.0  # RMS height of the fractal terrain
RELIEF_BETA = 3.4  # its power-spectrum slope
PATCHINESS = 1.0  # log-standard deviation of its amplitude from place to place
RIDGE_M = 250.0  # height of the ridges
RIDGE_WIDTH_KM = 1.5  # their half-width
MOTTLE_DIFFUSE = 12.0  # grey levels of diffuse albedo / thermal-inertia patches
MOTTLE_UNITS = 20.0  # grey levels of sharp-edged surface units
UNIT_SHARPNESS = 8.0
PSF_M = 100.0  # standard deviation of the instrument's point spread, metres


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
    diameter = _power_law(rng, n_craters, min_diameter_km, max_diameter_km, slope)
    return CraterCatalog(lon, lat, diameter, source=np.full(n_craters, "synthetic", dtype=object))


def render_scene(
    grid: PixelGrid,
    catalog: CraterCatalog,
    seed: int = 0,
    noise: float = 2.0,
    *,
    background_craters: float = 0.004,
    background_max_diameter_km: float | None = None,
    roughness: float = 1.0,
    sun_azimuth_deg: float = 270.0,
    sun_elevation_deg: float = 30.0,
    contrast: float = 120.0,
) -> np.ndarray:
    """Render a THEMIS Day IR-like scene of ``catalog`` on ``grid``: 8-bit (height, width).

    A height field in metres is built from fractal terrain with wrinkle-ridge-like
    lines, then every crater (the catalogue's and a background of smaller ones)
    is stamped on it, oldest first: fresh craters are deep (depth/diameter 0.2)
    with sharp, raised, irregular rims and rough ejecta; degraded ones are
    infilled down to depth/diameter 0.05 with low, rounded rims; craters wider
    than 7 km have flat floors, wider than 20 km central peaks. Footprints are
    ellipses stretched by ``1/cos(lat)`` on equirectangular grids. The image is
    the Lambert shading of the height field (daytime surface temperature follows
    the slope facing the sun) plus albedo and thermal-inertia mottling and noise.

    Parameters
    ----------
    grid : PixelGrid
        The image's grid; without georeferencing the catalogue needs ``x_px`` and
        ``y_px`` (:meth:`CraterCatalog.with_pixels`) and the grid's ``resolution_m``
        sets the scale.
    catalog : CraterCatalog
        The craters to draw: the scene's ground truth.
    seed : int
        Seed of every random choice; the same arguments give the same image.
    noise : float
        Standard deviation of the per-pixel detector noise, grey levels.
    background_craters : float
        Density of the background population, as the cumulative number per km²
        of craters wider than 1 km (power law of slope 2.5 extrapolated), drawn
        only between 2.5 px and ``background_max_diameter_km``; 0 draws none.
        These craters are not part of the returned truth.
    background_max_diameter_km : float, optional
        Background craters are all smaller than this; default the catalogue's
        smallest diameter (1 km for an empty catalogue), so that the catalogue
        stays the complete list of craters of its size range.
    roughness : float
        Scale of the terrain's relief (fractal noise and ridges); 0 gives flat plains.
    sun_azimuth_deg, sun_elevation_deg : float
        Direction the light comes from, degrees clockwise from north (270: west,
        the afternoon sun) and above the horizon.
    contrast : float
        Grey levels between a flat surface and one that faces away from the sun.

    Returns
    -------
    numpy.ndarray
        uint8 image; 0 is never used (it marks missing data in THEMIS mosaics).

    Raises
    ------
    SceneParameterError
        A parameter is out of its range (negative noise or density, sun below
        the horizon...).
    GridError
        The grid is not georeferenced and the catalogue has no pixel positions.

    Examples
    --------
    >>> grid = PixelGrid.from_themis_tile("thm_dir_N-30_090").scaled(64)
    >>> image = render_scene(grid, random_catalog((90, -30, 120, 0), 20, 20.0, 60.0))
    >>> image.shape, image.dtype.name, bool(image.min() >= 1)
    ((120, 120), 'uint8', True)
    """
    _check_parameters(noise, background_craters, roughness, sun_elevation_deg, contrast)
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(5)]
    terrain_rng, crater_rng, background_rng, albedo_rng, noise_rng = streams
    res_m = grid.resolution_m
    dx_m = _ground_width_m(grid)  # per row: pixel width on the ground
    height_m = roughness * _terrain_m(terrain_rng, grid.height, grid.width, res_m, dx_m)
    rough = _fractal(terrain_rng, grid.height, grid.width, res_m, dx_m, beta=2.5)

    x, y, radius_px, stretch, diameter_km = _catalog_pixels(grid, catalog, dx_m)
    bx, by, br, bk, bd = _background(
        background_rng, grid, dx_m, catalog, background_craters, background_max_diameter_km
    )
    x, y = np.concatenate([x, bx]), np.concatenate([y, by])
    radius_px, stretch = np.concatenate([radius_px, br]), np.concatenate([stretch, bk])
    diameter_km = np.concatenate([diameter_km, bd])
    age = _ages(crater_rng, x, y, radius_px, stretch, n_truth=len(catalog))
    for i in np.argsort(-age, kind="stable"):  # oldest first; younger craters erase them
        _stamp_crater(height_m, rough, crater_rng, x[i], y[i], radius_px[i], stretch[i],
                      diameter_km[i], age[i])  # fmt: skip

    shade = _lambert(height_m, res_m, dx_m, sun_azimuth_deg, sun_elevation_deg)
    mottling = _mottling(albedo_rng, grid.height, grid.width, res_m, dx_m)
    image = _blur(118.0 + contrast * shade + mottling, PSF_M / res_m)  # instrument's blur
    image += noise_rng.normal(0.0, noise, image.shape).astype(np.float32)
    return np.clip(np.rint(image), 1, 255).astype(np.uint8)


# ------------------------------------------------------------------ populations
def _power_law(rng, n: int, d_min: float, d_max: float, slope: float) -> np.ndarray:
    """``n`` diameters with cumulative ``N(>D) ~ D^-slope`` on ``[d_min, d_max]``."""
    u = rng.uniform(0.0, 1.0, n)
    a, b = d_min**-slope, d_max**-slope
    return (a - u * (a - b)) ** (-1.0 / slope)


def _catalog_pixels(grid: PixelGrid, catalog: CraterCatalog, dx_m: np.ndarray):
    """Centres, radii along a meridian (px), x stretch and diameters of the catalogue."""
    if grid.is_georeferenced:
        cx, cy = grid.lonlat_to_pixel(catalog.lon_deg, catalog.lat_deg)
    elif catalog.x_px is not None and catalog.y_px is not None:
        cx, cy = catalog.x_px, catalog.y_px
    else:
        raise GridError(
            "the grid has no georeferencing and the catalogue has no pixel positions; "
            "call catalog.with_pixels(grid) on a georeferenced grid first"
        )
    cx, cy = np.atleast_1d(np.asarray(cx, float)), np.atleast_1d(np.asarray(cy, float))
    row = np.clip(np.round(cy).astype(int), 0, grid.height - 1)
    stretch = grid.resolution_m / dx_m[row] if len(cy) else np.empty(0)
    radius_px = catalog.diameter_km * 500.0 / grid.resolution_m
    return cx, cy, radius_px, stretch, np.asarray(catalog.diameter_km, float)


def _background(rng, grid: PixelGrid, dx_m, catalog, density: float, max_km: float | None):
    """Small craters below the catalogue's sizes: centres, radii, stretch, diameters."""
    if max_km is None:
        max_km = float(catalog.diameter_km.min()) if len(catalog) else 1.0
    min_km = 2.5 * grid.resolution_m / 1000.0
    area_km2 = float(np.sum(dx_m)) * grid.width * grid.resolution_m / 1e6
    expected = density * area_km2 * (min_km**-BACKGROUND_SLOPE - max_km**-BACKGROUND_SLOPE)
    n = int(rng.poisson(expected)) if density > 0 and max_km > min_km else 0
    x = rng.uniform(-0.5, grid.width - 0.5, n)
    y = rng.uniform(-0.5, grid.height - 0.5, n)
    diameter_km = _power_law(rng, n, min_km, max_km, BACKGROUND_SLOPE) if n else np.empty(0)
    row = np.clip(np.round(y).astype(int), 0, grid.height - 1)
    return x, y, diameter_km * 500.0 / grid.resolution_m, grid.resolution_m / dx_m[row], diameter_km


def _ages(rng, x, y, radius_px, stretch, n_truth: int) -> np.ndarray:
    """Relative ages in [0, 1], 1 the oldest (and most degraded).

    A catalogue crater whose centre lies inside a larger catalogue crater is made
    younger than it, so that it stays visible: the catalogue is the truth.
    """
    age = rng.uniform(0.0, 1.0, len(x))
    order = np.argsort(-radius_px[:n_truth], kind="stable")
    for n, i in enumerate(order[1:], start=1):
        big = order[:n]
        dx = (x[big] - x[i]) / stretch[big]
        inside = np.hypot(dx, y[big] - y[i]) < 1.1 * radius_px[big]
        if inside.any():
            age[i] = min(age[i], 0.97 * float(age[big][inside].min()))
    return age


# ---------------------------------------------------------------- one crater
def _crater_profile(r, diameter_km: float, degradation: float, radius_px: float, rng):
    """Height (m) of a crater at radial distances ``r`` (in crater radii)."""
    if diameter_km <= SIMPLE_TO_COMPLEX_KM:
        depth_fresh_m = 200.0 * diameter_km
        floor = 0.0
    else:  # complex craters are relatively shallower, with flat floors
        depth_fresh_m = 200.0 * SIMPLE_TO_COMPLEX_KM * (diameter_km / SIMPLE_TO_COMPLEX_KM) ** 0.49
        floor = min(0.55, 0.25 + 0.01 * (diameter_km - SIMPLE_TO_COMPLEX_KM))
    rim_m = 0.22 * depth_fresh_m * (1.0 - degradation) ** 1.5
    depth_m = depth_fresh_m * (1.0 - 0.75 * degradation)  # degraded: infilled to 0.05
    wall = np.clip((r - floor) / (1.0 - floor), 0.0, None) ** 2
    z = np.maximum(-depth_m, rim_m - (rim_m + depth_fresh_m) * (1.0 - wall))
    outside = r >= 1.0
    tail = EJECTA_EXTENT**-3.0
    z[outside] = rim_m * (r[outside] ** -3.0 - tail) / (1.0 - tail)  # uplift and ejecta
    if diameter_km > CENTRAL_PEAK_KM:
        peak = 0.3 * depth_m * (1.0 - 0.6 * degradation) * rng.uniform(0.6, 1.2)
        z += peak * np.exp(-((r / 0.12) ** 2))
    # degradation rounds every edge; at least half a pixel of smoothing against aliasing
    sigma = max(0.03 + 0.25 * degradation, 0.5 / max(radius_px, 0.5))
    return _blur_profile(z, sigma / (r[1] - r[0]))


def _blur_profile(z: np.ndarray, sigma_samples: float) -> np.ndarray:
    """Gaussian blur of a radial profile, mirrored at r = 0 and held at its end."""
    half = min(int(3.0 * sigma_samples) + 1, len(z) - 1)
    kernel = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma_samples) ** 2)
    padded = np.concatenate([z[half:0:-1], z, np.full(half, z[-1])])
    return np.convolve(padded, kernel / kernel.sum(), mode="valid")


def _stamp_crater(height_m, rough, rng, x0, y0, radius_px, stretch, diameter_km, age) -> None:
    """Draw one crater into ``height_m`` (in place: the renderer's own array).

    ``age`` in [0, 1] is also the crater's degradation (0 fresh, 1 degraded).
    """
    extent_x, extent_y = EJECTA_EXTENT * radius_px * stretch, EJECTA_EXTENT * radius_px
    c0, c1 = max(int(x0 - extent_x), 0), min(int(x0 + extent_x) + 2, height_m.shape[1])
    r0, r1 = max(int(y0 - extent_y), 0), min(int(y0 + extent_y) + 2, height_m.shape[0])
    if c0 >= c1 or r0 >= r1:
        return
    degradation = float(age)
    r_table = _R_FINE if radius_px >= 4.0 else _R_COARSE
    table = _crater_profile(r_table, diameter_km, degradation, radius_px, rng)
    dx = (np.arange(c0, c1, dtype=np.float32)[None, :] - np.float32(x0)) / np.float32(stretch)
    dy = np.arange(r0, r1, dtype=np.float32)[:, None] - np.float32(y0)
    r = np.hypot(dx, dy) * np.float32(1.0 / max(radius_px, 0.5))
    if radius_px >= 3.0:  # irregular rim: a few random low harmonics of the azimuth
        theta = np.arctan2(dy, dx)
        wobble = np.zeros_like(r)
        for k in range(2, 7):
            wobble += np.float32(rng.normal(0.0, 1.0 / k)) * np.cos(k * theta + rng.uniform(0, 6.3))
        r /= 1.0 + np.float32(RIM_IRREGULARITY * (1.0 + 0.5 * rng.random())) * wobble
    patch = height_m[r0:r1, c0:c1]
    inside = r < 1.0
    base = float(patch[inside].mean()) if inside.any() else float(patch.mean())
    # the crater replaces the older surface inside its rim; later infill brings some back
    kept = 0.12 + 0.5 * degradation
    keep = np.clip((r - 0.8) * np.float32(2.5), 0.0, 1.0) * np.float32(1.0 - kept) + kept
    new = (patch - np.float32(base)) * keep + np.float32(base)
    new += np.interp(r, r_table, table).astype(np.float32)
    fresh = (1.0 - degradation) ** 2
    if fresh > 0.01 and radius_px >= 2.0:  # hummocky ejecta blanket and rough walls
        envelope = np.exp(np.abs(r - 1.0) * np.float32(-1.0 / 0.45)) * (r < EJECTA_EXTENT)
        amplitude_m = EJECTA_ROUGHNESS * fresh * diameter_km * 1000.0
        new += np.float32(amplitude_m) * envelope * rough[r0:r1, c0:c1]
    height_m[r0:r1, c0:c1] = new


# ------------------------------------------------------------ terrain, light
def _fractal(rng, h: int, w: int, res_m: float, dx_m, beta: float, coarse: int = 1) -> np.ndarray:
    """Gaussian noise with power spectrum ``~ f^-beta``, frequencies in cycles per km.

    For ``beta > 2`` the amplitude is physical: 1 is the standard deviation over
    an unbounded plane, so a small scene shows less of the long wavelengths and
    scenes of any size or resolution have the same local statistics. Rougher
    fields are scaled to unit standard deviation. Periodic (FFT synthesis).
    Smooth fields are made ``coarse`` times smaller and interpolated (faster).
    """
    hc, wc = max(2, -(-h // coarse)), max(2, -(-w // coarse))
    dx_km, dy_km = float(np.mean(dx_m)) * coarse / 1000.0, res_m * coarse / 1000.0
    fy = np.fft.fftfreq(hc, d=dy_km).astype(np.float32)[:, None]
    fx = np.fft.rfftfreq(wc, d=dx_km).astype(np.float32)[None, :]
    f0 = 1.0 / 150.0  # no power beyond ~150 km wavelengths
    f2 = fy * fy + fx * fx + np.float32(f0 * f0)
    white = rng.standard_normal((hc, wc), dtype=np.float32)
    field = np.fft.irfft2(np.fft.rfft2(white) * f2 ** np.float32(-beta / 4.0), s=(hc, wc))
    if beta > 2.0:
        unbounded_var = 2.0 * math.pi * f0 ** (2.0 - beta) / (beta - 2.0)
        field *= 1.0 / math.sqrt(dx_km * dy_km * unbounded_var)
    else:
        field /= max(float(field.std()), 1e-12)
    field = field.astype(np.float32)
    if coarse > 1:
        field = resample_to_shape(field, (coarse * hc, coarse * wc), method="bilinear")[:h, :w]
    return field


def _terrain_m(rng, h: int, w: int, res_m: float, dx_m: np.ndarray) -> np.ndarray:
    """Height (m): fractal relief (rough at every scale) and sinuous ridges on the plains."""
    relief = _fractal(rng, h, w, res_m, dx_m, beta=RELIEF_BETA)
    # rough highlands beside smooth plains: a slowly varying log-normal amplitude
    patchiness = _fractal(rng, h, w, res_m, dx_m, beta=4.0, coarse=4)
    relief *= np.float32(RELIEF_M) * np.exp(np.float32(PATCHINESS) * patchiness)
    band = _fractal(rng, h, w, res_m, dx_m, beta=4.5, coarse=4)  # ridges on its zero line
    # distance (km) to the zero line, to first order: the ridges keep one width everywhere
    d_row, d_col = np.gradient(band)
    per_km = np.hypot(d_row * np.float32(1000.0 / res_m), d_col * np.float32(1000.0 / dx_m.mean()))
    distance_km = np.abs(band) / np.maximum(per_km, np.float32(1e-6))
    plains = np.clip(-patchiness, 0.0, 1.0)  # wrinkle ridges rise on the smooth plains
    ridges = np.exp(-((distance_km / np.float32(RIDGE_WIDTH_KM)) ** 2)) * plains
    return relief + np.float32(RIDGE_M) * ridges


def _mottling(rng, h: int, w: int, res_m: float, dx_m: np.ndarray) -> np.ndarray:
    """Grey levels from albedo and thermal inertia: diffuse patches and sharp-edged units."""
    diffuse = _fractal(rng, h, w, res_m, dx_m, beta=2.6, coarse=2)
    units = np.tanh(UNIT_SHARPNESS * _fractal(rng, h, w, res_m, dx_m, beta=3.5, coarse=4))
    return np.float32(MOTTLE_DIFFUSE) * diffuse + np.float32(MOTTLE_UNITS) * units


def _lambert(height_m, res_m: float, dx_m, azimuth_deg: float, elevation_deg: float):
    """Lambert shading relative to flat ground: 0 flat, -1 facing away from the sun."""
    dz_drow, dz_dcol = np.gradient(height_m)
    p = dz_dcol / dx_m[:, None].astype(np.float32)  # slope toward east
    q = -dz_drow / np.float32(res_m)  # slope toward north (rows run south)
    az, el = math.radians(azimuth_deg), math.radians(elevation_deg)
    lx, ly, lz = math.sin(az) * math.cos(el), math.cos(az) * math.cos(el), math.sin(el)
    cos_i = (lz - p * lx - q * ly) / np.sqrt(1.0 + p * p + q * q)
    return np.clip(cos_i, 0.0, None) / np.float32(lz) - 1.0


def _blur(image: np.ndarray, sigma_px: float) -> np.ndarray:
    """Separable Gaussian blur of standard deviation ``sigma_px``, edges held."""
    if sigma_px < 0.25:
        return image
    half = math.ceil(2.5 * sigma_px)
    kernel = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma_px) ** 2)
    kernel = (kernel / kernel.sum()).astype(np.float32)
    for axis in (0, 1):
        pad = [(0, 0), (0, 0)]
        pad[axis] = (half, half)
        padded = np.pad(image, pad, mode="edge")
        n = image.shape[axis]
        out = np.zeros_like(image)
        for i, weight in enumerate(kernel):
            out += weight * (padded[i : i + n] if axis == 0 else padded[:, i : i + n])
        image = out
    return image


def _ground_width_m(grid: PixelGrid) -> np.ndarray:
    """Ground width (m) of the pixels of each row: ``cos(lat)`` smaller on map grids."""
    width_m = grid.pixel_size_m[0]
    if not grid.is_georeferenced:
        return np.full(grid.height, width_m)
    _, lat = grid.pixel_to_lonlat(np.full(grid.height, grid.width / 2.0), np.arange(grid.height))
    lat_ts = getattr(grid.projection, "lat_ts_deg", 0.0)
    scale = np.cos(np.radians(np.clip(lat, -85.0, 85.0))) / math.cos(math.radians(lat_ts))
    return width_m * scale


def _check_parameters(noise, density, roughness, elevation_deg, contrast) -> None:
    checks = [
        (noise >= 0, f"noise must be >= 0 grey levels, got {noise!r}"),
        (density >= 0, f"background_craters must be a density >= 0 per km², got {density!r}"),
        (roughness >= 0, f"roughness must be >= 0 (0 gives flat plains), got {roughness!r}"),
        (0 < elevation_deg <= 90, f"sun_elevation_deg must be in (0, 90], got {elevation_deg!r}"),
        (contrast > 0, f"contrast must be > 0 grey levels, got {contrast!r}"),
    ]
    for ok, message in checks:
        if not ok:
            raise SceneParameterError(message)
