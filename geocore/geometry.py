"""Craters as polygons of their true circles on the sphere.

A crater of diameter ``D`` is the set of points within great-circle distance
``D / 2`` of its centre: a spherical cap. :func:`crater_rings` samples its rim
at ``n`` equally spaced azimuths, which is the circle drawn in a local azimuthal
equidistant projection centred on the crater (as OpenCraterTool does), computed
here directly on the sphere with unit vectors. :func:`crater_polygon_parts`
turns one ring into lon/lat polygon parts that GIS software draws correctly: a
crater across the antimeridian becomes two parts, one on each side, and a crater
that contains a pole becomes one part closed along the pole line.

Equal-area vertices
    A polygon inscribed in a circle is smaller than the circle (by about
    ``1 - sin(2 pi / n) / (2 pi / n)``: 0.16 % of the area for ``n = 64``). By
    default (``equal_area=True``) the vertices are placed slightly outside the
    rim, at the angular radius for which the spherical polygon (great-circle
    edges) has exactly the cap's area, so the diameter that craterstats
    recomputes from the polygon's area (:func:`diameter_from_area_km`) is the
    crater's diameter. For ``n = 64`` the vertices are 0.08 % of the radius
    outside the rim.

Only numpy and the standard library are used: this module runs inside QGIS.
Longitudes are degrees east in -180..180; latitudes planetocentric degrees.
"""

from __future__ import annotations

import math

import numpy as np

from .body import MARS, Body
from .errors import CraterValueError
from .grid import wrap_longitude

__all__ = [
    "crater_area_m2",
    "crater_polygon_parts",
    "crater_polygons",
    "crater_rings",
    "diameter_from_area_km",
    "lonlat_box_area_km2",
]

#: Lowest number of vertices accepted for a crater ring (64 is a good default).
MIN_VERTICES = 4


def crater_area_m2(diameter_km, body: Body = MARS):
    """Area of a crater's spherical cap, m^2: ``2 pi R^2 (1 - cos(D / 2R))``.

    Examples
    --------
    >>> round(float(crater_area_m2(10.0)) / 1e6, 3)  # ~ pi * 5^2 km^2
    78.54
    """
    radius_m = body.radius_m
    angle = np.asarray(diameter_km, dtype=float) * 1000.0 / (2.0 * radius_m)
    # 1 - cos(x) = 2 sin^2(x/2) keeps precision for small craters
    return 4.0 * math.pi * radius_m**2 * np.sin(angle / 2.0) ** 2


def lonlat_box_area_km2(
    west_deg: float, south_deg: float, east_deg: float, north_deg: float, body: Body = MARS
) -> float:
    """Area on the sphere of a longitude/latitude box, km^2.

    ``R^2 * dlon * (sin(north) - sin(south))``; ``east < west`` means a box
    across the antimeridian.

    Examples
    --------
    >>> round(lonlat_box_area_km2(90, -30, 120, 0))  # a THEMIS tile
    3019622
    """
    span_deg = (east_deg - west_deg) % 360.0 or (360.0 if east_deg != west_deg else 0.0)
    radius_km = body.radius_m / 1000.0
    band = math.sin(math.radians(north_deg)) - math.sin(math.radians(south_deg))
    return float(radius_km**2 * math.radians(span_deg) * band)


def diameter_from_area_km(area_m2, body: Body = MARS):
    """Diameter (km) of the spherical cap of area ``area_m2``: craterstats' rule.

    ``D = 2 R acos(1 - A / (2 pi R^2))``, the inverse of :func:`crater_area_m2`.

    Parameters
    ----------
    area_m2 : float or array_like
        Area on the sphere, m^2, in ``[0, 4 pi R^2]``.
    body : Body
        The sphere (default Mars).

    Returns
    -------
    float or numpy.ndarray
        Diameter in km.

    Raises
    ------
    CraterValueError
        An area that is negative, not finite or larger than the whole sphere.

    Examples
    --------
    >>> round(float(diameter_from_area_km(crater_area_m2(42.0))), 9)
    42.0
    """
    area = np.asarray(area_m2, dtype=float)
    radius_m = body.radius_m
    whole = 4.0 * math.pi * radius_m**2
    bad = ~np.isfinite(area) | (area < 0) | (area > whole * (1 + 1e-12))
    if np.any(bad):
        raise CraterValueError(
            f"area {np.atleast_1d(area)[np.atleast_1d(bad)][0]!r} m^2 is not the area of a "
            f"cap on {body.name}; give a finite area between 0 and {whole:.6g} m^2"
        )
    # acos(1 - 2 s^2) = 2 asin(s), with s^2 = A / (4 pi R^2): precise for small A
    half = np.arcsin(np.sqrt(np.clip(area / whole, 0.0, 1.0)))
    out = 4.0 * radius_m * half / 1000.0
    return out if out.ndim else float(out)


def _vertex_angle(cap_angle: np.ndarray, n_vertices: int) -> np.ndarray:
    """Angular radius at which ``n`` vertices span a polygon of the cap's area.

    The polygon is ``n`` isosceles spherical triangles (legs ``a``, apex angle
    ``C = 2 pi / n``) whose excess ``E`` obeys
    ``tan(E/2) = t sin C / (1 + t cos C)`` with ``t = tan^2(a/2)``; setting
    ``n E`` to the cap's area ``2 pi (1 - cos rho)`` gives ``t`` in closed form.
    """
    apex = 2.0 * math.pi / n_vertices
    excess = 4.0 * math.pi * np.sin(cap_angle / 2.0) ** 2 / n_vertices
    tan_half = np.tan(excess / 2.0)
    t = tan_half / (math.sin(apex) - tan_half * math.cos(apex))
    return 2.0 * np.arctan(np.sqrt(t))


def crater_rings(
    lon_deg,
    lat_deg,
    diameter_km,
    n_vertices: int = 64,
    body: Body = MARS,
    equal_area: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Rim points of many craters, at ``n_vertices`` equally spaced azimuths.

    Parameters
    ----------
    lon_deg, lat_deg : array_like, shape (N,)
        Crater centres, degrees east (any convention) and degrees north.
    diameter_km : array_like, shape (N,)
        Diameters on the sphere, km. A single value in any of the three
        arguments is used for every crater.
    n_vertices : int
        Points per ring (at least 4). The rings are not closed (the first point
        is not repeated) and run counter-clockwise seen from above, starting
        due north of the centre.
    body : Body
        The sphere (default Mars).
    equal_area : bool
        Place the points slightly outside the rim so that the polygon through
        them (great-circle edges) has the cap's area (see the module notes);
        ``False`` puts them exactly on the rim.

    Returns
    -------
    lon_deg, lat_deg : numpy.ndarray, shape (N, n_vertices)
        Longitudes in -180..180 and latitudes. NaN rows for craters whose centre
        is unknown (NaN).

    Raises
    ------
    CraterValueError
        Mismatched shapes, too few vertices, a non-positive diameter, a latitude
        outside [-90, 90], or a crater wider than a hemisphere.

    Examples
    --------
    >>> lon, lat = crater_rings([0.0], [0.0], [2 * MARS.metres_per_degree / 1000], 4,
    ...                         equal_area=False)
    >>> (lon.round(6) + 0.0).tolist(), (lat.round(6) + 0.0).tolist()
    ([[0.0, -1.0, 0.0, 1.0]], [[1.0, 0.0, -1.0, 0.0]])
    """
    is_int = isinstance(n_vertices, int | np.integer) and not isinstance(n_vertices, bool)
    if not is_int or n_vertices < MIN_VERTICES:
        raise CraterValueError(
            f"n_vertices must be an integer >= {MIN_VERTICES}, got {n_vertices!r}; use e.g. 64"
        )
    n_vertices = int(n_vertices)
    try:
        lon, lat, diameter = np.broadcast_arrays(
            *(np.atleast_1d(np.asarray(v, dtype=float)) for v in (lon_deg, lat_deg, diameter_km))
        )
    except ValueError as err:
        raise CraterValueError(
            f"lon_deg, lat_deg and diameter_km must have the same length (or one value): {err}"
        ) from err
    if lon.ndim != 1:
        raise CraterValueError(f"expected 1-D arrays of crater values, got shape {lon.shape}")
    known = np.isfinite(lon) & np.isfinite(lat)
    if np.any(np.abs(lat[known]) > 90.0):
        raise CraterValueError(
            f"crater latitude {lat[known][np.abs(lat[known]) > 90][0]} is outside [-90, 90] degrees"
        )
    bad = known & ~(diameter > 0)
    if np.any(bad):
        raise CraterValueError(
            f"crater diameter must be a positive number of km, got {diameter[bad][0]}"
        )
    cap = diameter * 1000.0 / (2.0 * body.radius_m)  # angular radius, rad
    too_big = known & (cap >= math.pi / 2)
    if np.any(too_big):
        raise CraterValueError(
            f"crater diameter {diameter[too_big][0]} km spans more than a hemisphere of "
            f"{body.name} (limit {math.pi * body.radius_m / 1000:.0f} km); check the units"
        )
    angle = _vertex_angle(cap, n_vertices) if equal_area else cap

    lam = np.radians(lon)[:, None]
    phi = np.radians(lat)[:, None]
    # Local frame of each centre: centre c, east e, north u (well defined at the poles).
    c = np.stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)])
    e = np.stack([-np.sin(lam), np.cos(lam), np.zeros_like(lam)])
    u = np.stack([-np.sin(phi) * np.cos(lam), -np.sin(phi) * np.sin(lam), np.cos(phi)])
    # Azimuths clockwise from north, taken in decreasing order: a counter-clockwise ring.
    azimuth = -2.0 * math.pi * np.arange(n_vertices) / n_vertices
    a = angle[:, None]
    points = np.cos(a) * c + np.sin(a) * (np.cos(azimuth) * u + np.sin(azimuth) * e)
    x, y, z = points
    ring_lon = np.degrees(np.arctan2(y, x))
    ring_lat = np.degrees(np.arctan2(z, np.hypot(x, y)))
    ring_lon = np.where(known[:, None], wrap_longitude(ring_lon), np.nan)
    ring_lat = np.where(known[:, None], ring_lat, np.nan)
    return ring_lon, ring_lat


def _lat_on_great_circle(lon1, lat1, lon2, lat2, lon):
    """Latitude (deg) at longitude ``lon`` of the great circle through two points."""
    l1, p1, l2, p2, lx = (math.radians(v) for v in (lon1, lat1, lon2, lat2, lon))
    den = math.sin(l2 - l1)
    if den == 0.0:  # meridional edge: only its ends can lie on the line
        return lat1 if lon == lon1 else lat2
    tan_lat = (math.tan(p1) * math.sin(l2 - lx) + math.tan(p2) * math.sin(lx - l1)) / den
    return math.degrees(math.atan(tan_lat))


def _clip(points: list[tuple[float, float]], meridian: float, keep_west: bool):
    """Sutherland-Hodgman clip of a closed lon/lat ring to one side of a meridian.

    Edges are great-circle arcs, so the crossing latitude is found on the great
    circle: the part polygons then add up to exactly the unclipped area.
    """
    sign = -1.0 if keep_west else 1.0
    # side > 0: kept, == 0: on the meridian (kept, never duplicated), < 0: dropped
    sides = [sign * (p[0] - meridian) for p in points]
    out: list[tuple[float, float]] = []
    for i, cur in enumerate(points):
        prev, s_prev, s_cur = points[i - 1], sides[i - 1], sides[i]
        if s_prev * s_cur < 0:  # the edge crosses the meridian strictly
            out.append((meridian, _lat_on_great_circle(*prev, *cur, meridian)))
        if s_cur >= 0:
            out.append(cur)
    return out


def _closed(points) -> np.ndarray:
    arr = np.asarray(points, dtype=float).reshape(-1, 2)
    return np.vstack([arr, arr[:1]])


def _has_area(ring: np.ndarray) -> bool:
    x, y = ring[:, 0], ring[:, 1]
    return abs(np.dot(x[:-1], y[1:]) - np.dot(x[1:], y[:-1])) > 1e-12


def _polar_part(lon: np.ndarray, lat: np.ndarray, north: bool) -> np.ndarray:
    """One ring around a pole, cut at the antimeridian and closed along the pole line."""
    unwrapped = np.degrees(np.unwrap(np.radians(lon)))
    if unwrapped[-1] < unwrapped[0]:  # make longitudes increase along the ring
        unwrapped, lat = unwrapped[::-1], lat[::-1]
    # Three copies of the ring, end to end, cover [-180, 180] whatever the start.
    lons = np.concatenate([unwrapped - 360.0, unwrapped, unwrapped + 360.0])
    lats = np.concatenate([lat, lat, lat])
    start = lons[0]
    lons = lons + 360.0 * math.floor((-180.0 - start) / 360.0)
    pts: list[tuple[float, float]] = []
    for i in range(lons.size - 1):
        l1, p1, l2, p2 = lons[i], lats[i], lons[i + 1], lats[i + 1]
        if l1 <= -180.0 < l2:
            pts.append((-180.0, _lat_on_great_circle(l1, p1, l2, p2, -180.0)))
        if -180.0 < l2 < 180.0:
            pts.append((float(l2), float(p2)))
        if l1 < 180.0 <= l2:
            pts.append((180.0, _lat_on_great_circle(l1, p1, l2, p2, 180.0)))
            break
    pole = 90.0 if north else -90.0
    if north:  # west to east along the ring, back west along the pole line
        ring = [*pts, (180.0, pole), (-180.0, pole)]
    else:  # east to west along the ring, back east along the pole line
        ring = [*pts[::-1], (-180.0, pole), (180.0, pole)]
    return _closed(ring)


def crater_polygons(
    lon_deg,
    lat_deg,
    diameter_km,
    n_vertices: int = 64,
    body: Body = MARS,
    equal_area: bool = True,
) -> list[list[np.ndarray]]:
    """The polygon parts of many craters (see :func:`crater_polygon_parts`).

    Parameters
    ----------
    lon_deg, lat_deg, diameter_km : array_like, shape (N,)
        Centres (degrees east, any convention; degrees north) and diameters (km).
    n_vertices, body, equal_area
        As for :func:`crater_rings`.

    Returns
    -------
    list of N lists of numpy.ndarray
        For each crater, its parts as closed counter-clockwise (lon, lat) rings
        of shape (m, 2); an empty list for a crater whose centre is unknown.

    Raises
    ------
    CraterValueError
        As for :func:`crater_rings`.

    Examples
    --------
    >>> [len(parts) for parts in crater_polygons([0, 180, 0], [0, 0, 89.9], [5, 5, 50])]
    [1, 2, 1]
    """
    ring_lon, ring_lat = crater_rings(lon_deg, lat_deg, diameter_km, n_vertices, body, equal_area)
    centre = wrap_longitude(np.atleast_1d(np.asarray(lon_deg, dtype=float)))
    centre = np.broadcast_to(centre, ring_lon.shape[:1])[:, None]
    # Longitudes unwrapped around each centre; a pole inside a ring adds +-360.
    rel = wrap_longitude(ring_lon - centre)
    step = wrap_longitude(np.diff(np.concatenate([rel, rel[:, :1]], axis=1), axis=1))
    winding = np.sum(step, axis=1)
    unwrapped = centre + rel
    closed = np.stack([unwrapped, ring_lat], axis=-1)
    closed = np.concatenate([closed, closed[:, :1]], axis=1)  # (N, n + 1, 2)
    known = np.all(np.isfinite(unwrapped), axis=1)
    polar = known & (np.abs(winding) > 180.0)
    crossing = known & ~polar & ((unwrapped.max(axis=1) > 180) | (unwrapped.min(axis=1) < -180))
    out: list[list[np.ndarray]] = [
        [ring] if ok else [] for ring, ok in zip(closed, known, strict=True)
    ]
    for i in np.flatnonzero(polar):
        out[i] = [_polar_part(ring_lon[i], ring_lat[i], north=bool(np.mean(ring_lat[i]) > 0))]
    for i in np.flatnonzero(crossing):
        out[i] = _split_at_antimeridian(unwrapped[i], ring_lat[i])
    return out


def _split_at_antimeridian(lon: np.ndarray, lat: np.ndarray) -> list[np.ndarray]:
    """Cut a ring whose unwrapped longitudes pass +-180 into parts in -180..180."""
    points = list(zip(lon.tolist(), lat.tolist(), strict=True))
    edge = 180.0 if lon.max() > 180.0 else -180.0
    pieces = (
        (_clip(points, edge, keep_west=False), -360.0 if edge > 0 else 0.0),
        (_clip(points, edge, keep_west=True), 360.0 if edge < 0 else 0.0),
    )
    parts = []
    for piece, shift in pieces:
        if len(piece) >= 3:
            ring = _closed(piece)
            ring[:, 0] += shift
            if _has_area(ring):
                parts.append(ring)
    parts.sort(key=lambda r: float(r[:, 0].min()))
    return parts


def crater_polygon_parts(
    lon_deg: float,
    lat_deg: float,
    diameter_km: float,
    n_vertices: int = 64,
    body: Body = MARS,
    equal_area: bool = True,
) -> list[np.ndarray]:
    """The polygon parts of one crater, in lon/lat -180..180.

    Parameters
    ----------
    lon_deg, lat_deg, diameter_km : float
        Centre (degrees east, any convention; degrees north) and diameter (km).
    n_vertices, body, equal_area
        As for :func:`crater_rings`.

    Returns
    -------
    list of numpy.ndarray, each of shape (m, 2)
        Closed counter-clockwise rings of (lon, lat) points, one per polygon
        part: one part normally; two when the crater crosses the antimeridian
        (a MultiPolygon; parts sorted by longitude, the one at -180 first); one
        part bounded by the pole line (lat +-90 from lon -180 to 180) when the
        crater contains a pole. Empty when the centre is unknown (NaN).

    Raises
    ------
    CraterValueError
        As for :func:`crater_rings`.

    Examples
    --------
    >>> parts = crater_polygon_parts(179.9, 0.0, 50.0)
    >>> len(parts), [round(float(p[:, 0].min()), 2) for p in parts]
    (2, [-180.0, 179.48])
    """
    return crater_polygons([lon_deg], [lat_deg], [diameter_km], n_vertices, body, equal_area)[0]
