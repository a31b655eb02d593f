"""craterstats ``.diam`` crater lists: the text, and the counting area when none is given.

The layout follows craterstats' ``sample/sample.diam`` ("new format introduced
2014.03.04") and its reader ``Cratercount.ReadDiamFile`` /
``gm.read_textstructure`` (github.com/ggmichael/craterstats): ``#`` comment
lines, ``area = <km^2>``, then a table ``crater = {diameter, fraction, lon,
lat`` with one whitespace-separated row per crater (diameter km, fraction of
the crater counted, lon and lat degrees) closed by ``}``.

numpy only: :func:`geocore.vector_io.write_diam` and the QGIS plugin's export
both write their files with :func:`diam_text`.
"""

from __future__ import annotations

import math

import numpy as np

from .body import MARS
from .errors import CraterValueError
from .geometry import crater_polygons, lonlat_box_area_km2
from .grid import wrap_longitude

__all__ = ["diam_text", "rim_box_area_km2"]

_ESTIMATE_NOTES = (
    "# area unknown: estimated as the lon/lat box holding every crater rim;",
    "# replace it with the area actually searched, in km^2",
)
_NO_CRATER_NOTES = ("# area unknown (no crater): replace 0 with the area searched, in km^2",)


def rim_box_area_km2(lon_deg, lat_deg, diameter_km) -> float | None:
    """Area on the sphere of the smallest lon/lat box holding every crater rim, km^2.

    The box leaves out the widest gap between the rims' longitudes, so craters
    on both sides of the antimeridian give a narrow box; a rim around a pole
    spans every longitude. None when no crater has a finite lon/lat.

    Examples
    --------
    >>> round(rim_box_area_km2([179.5, -179.5], [0.0, 0.0], [10.0, 10.0]))
    693
    """
    lon, lat, d = (np.asarray(v, dtype=float) for v in (lon_deg, lat_deg, diameter_km))
    known = np.isfinite(lon) & np.isfinite(lat)
    parts = [p for ps in crater_polygons(lon[known], lat[known], d[known], n_vertices=64)
             for p in ps]  # fmt: skip
    if not parts:
        return None
    points = np.concatenate(parts)
    south, north = float(points[:, 1].min()), float(points[:, 1].max())
    if np.any(np.abs(points[:, 1]) == 90.0):  # a crater around a pole: every longitude
        return lonlat_box_area_km2(-180.0, south, 180.0, north)
    lons = np.sort(wrap_longitude(points[:, 0], "0..360"))
    span = 360.0 - float(np.max(np.diff(np.append(lons, lons[0] + 360.0))))
    if span >= 360.0:
        return lonlat_box_area_km2(-180.0, south, 180.0, north)
    return lonlat_box_area_km2(0.0, south, span, north)


def diam_text(
    diameter_km, lon_deg=None, lat_deg=None, area_km2: float | None = None, source: str = "geocore"
) -> tuple[str, bool]:
    """The ``.diam`` file of a crater list, and whether its area is an estimate.

    Parameters
    ----------
    diameter_km : array_like
        Crater diameters; every crater gets fraction 1 (wholly counted).
    lon_deg, lat_deg : array_like, optional
        Centres; when some crater has none the table has only ``diameter, fraction``.
    area_km2 : float, optional
        The counting area, which craterstats needs for densities and ages. When
        omitted it is estimated with :func:`rim_box_area_km2` and the file says
        so; an empty list without an area gets ``area = 0`` ("undefined area").
    source : str
        Who wrote the file (a comment line).

    Returns
    -------
    text : str
    estimated : bool
        True when the area is an estimate (or 0) to replace.

    Raises
    ------
    CraterValueError
        ``area_km2`` not a positive number, or no area and no lon/lat to estimate one.

    Examples
    --------
    >>> text, estimated = diam_text([3.5], [10.0], [-5.0], area_km2=1000.0)
    >>> text.splitlines()[-3:], estimated
    (['crater = {diameter, fraction, lon, lat', '3.500000 1 10.000000 -5.000000', '}'], False)
    """
    diameter = np.atleast_1d(np.asarray(diameter_km, dtype=float))
    n = len(diameter)
    lon = np.full(n, np.nan) if lon_deg is None else np.atleast_1d(np.asarray(lon_deg, float))
    lat = np.full(n, np.nan) if lat_deg is None else np.atleast_1d(np.asarray(lat_deg, float))
    notes: tuple[str, ...] = ()
    if area_km2 is not None:
        area = float(area_km2)
        if not (math.isfinite(area) and area > 0):
            raise CraterValueError(
                f"area_km2 must be a positive number of km^2, got {area_km2!r}; give the "
                "area you counted craters in"
            )
    else:
        estimate = rim_box_area_km2(lon, lat, diameter)
        if estimate is None and n:
            raise CraterValueError(
                "craterstats needs the counting area but these craters have no lon/lat to "
                "estimate it from; give area_km2 (e.g. image width x height x resolution^2)"
            )
        area = 0.0 if estimate is None else estimate
        notes = _NO_CRATER_NOTES if estimate is None else _ESTIMATE_NOTES
    with_lonlat = bool(np.all(np.isfinite(lon)) and np.all(np.isfinite(lat)))
    lon = wrap_longitude(lon) if with_lonlat and n else lon
    fields = "diameter, fraction, lon, lat" if with_lonlat else "diameter, fraction"
    lines = [
        "# Crater diameters for Craterstats (craterstats .diam format of 2014-03-04)",
        f"# written by {source}; {n} craters on {MARS.name} "
        f"(sphere radius {MARS.radius_m:.0f} m); lon -180..180 east, planetocentric lat",
        "#",
        "# area, km^2",
        *notes,
        f"area = {area:.6f}",
        "#",
        "#             km        -      deg  deg",
        f"crater = {{{fields}",
    ]
    for i, d in enumerate(diameter.tolist()):
        lines.append(f"{d:.6f} 1" + (f" {lon[i]:.6f} {lat[i]:.6f}" if with_lonlat else ""))
    lines.append("}")
    return "\n".join(lines) + "\n", area_km2 is None
