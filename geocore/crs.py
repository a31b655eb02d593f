"""Mars coordinate reference systems through pyproj.

The two CRSs the project works in are built once:

* :func:`mars_geographic_crs` - IAU_2015:49900, Mars sphere, lon/lat degrees.
* :func:`mars_equirectangular_crs` - IAU_2015:49910, ``+proj=eqc +R=3396190``.

:func:`projection_from_crs` turns any CRS a raster carries into one of geocore's
numpy projections, refusing Earth and other non-Mars CRSs with a clear error.
:func:`portable_wkt` gives the definition to store in files that QGIS 3.22 must
read back (it loses CRSs that carry an IAU authority id).

pyproj is imported here only; the rest of geocore runs without it.
"""

from __future__ import annotations

import functools
import math

from .body import MARS, Body
from .errors import CRSError
from .projection import Equirectangular, Geographic, Projection

__all__ = [
    "crs_for_projection",
    "mars_equirectangular_crs",
    "mars_geographic_crs",
    "portable_wkt",
    "projection_from_crs",
]

#: Relative tolerance on the sphere radius for a CRS to count as Mars.
_RADIUS_RTOL = 0.01
_FIX = "reproject it to a Mars CRS such as IAU_2015:49910 (e.g. gdalwarp -t_srs IAU_2015:49910)"


def _pyproj():
    try:
        import pyproj
    except ImportError as err:  # pragma: no cover - pyproj is a core dependency
        raise CRSError("pyproj is needed for CRS handling: pip install pyproj") from err
    return pyproj


@functools.cache
def mars_geographic_crs():
    """The Mars sphere geographic CRS, IAU_2015:49900 (a ``pyproj.CRS``)."""
    pyproj = _pyproj()
    try:
        return pyproj.CRS.from_user_input("IAU_2015:49900")
    except pyproj.exceptions.CRSError:  # PROJ < 8.2 has no IAU codes
        return pyproj.CRS.from_proj4(Geographic(MARS).to_proj4())


@functools.cache
def mars_equirectangular_crs():
    """The Mars sphere equirectangular CRS, IAU_2015:49910 (a ``pyproj.CRS``)."""
    pyproj = _pyproj()
    try:
        return pyproj.CRS.from_user_input("IAU_2015:49910")
    except pyproj.exceptions.CRSError:  # PROJ < 8.2 has no IAU codes
        return pyproj.CRS.from_proj4(Equirectangular(MARS).to_proj4())


def crs_for_projection(projection: Projection):
    """The ``pyproj.CRS`` of a geocore projection (IAU codes for the standard ones)."""
    if projection == Geographic(MARS):
        return mars_geographic_crs()
    if projection == Equirectangular(MARS):
        return mars_equirectangular_crs()
    return _pyproj().CRS.from_proj4(projection.to_proj4())


def _to_pyproj(crs):
    pyproj = _pyproj()
    if crs is None or (isinstance(crs, str) and not crs.strip()):
        raise CRSError(
            "the raster has no CRS; georeference it in a Mars CRS, or give its resolution in "
            "m/px to work in pixel coordinates"
        )
    if isinstance(crs, pyproj.CRS):
        return crs
    if isinstance(crs, Geographic | Equirectangular):
        return crs_for_projection(crs)
    to_wkt = getattr(crs, "to_wkt", None)  # rasterio.crs.CRS and similar
    try:
        return pyproj.CRS.from_user_input(to_wkt() if callable(to_wkt) else crs)
    except pyproj.exceptions.CRSError as err:
        raise CRSError(f"cannot understand the CRS {str(crs)[:80]!r}: {err}") from err


def projection_from_crs(crs) -> Projection:
    """The geocore projection of a Mars CRS.

    Parameters
    ----------
    crs : pyproj.CRS, rasterio CRS, str (WKT, PROJ, "AUTH:CODE") or Projection
        The CRS of a raster or layer.

    Returns
    -------
    Geographic or Equirectangular

    Raises
    ------
    CRSError
        No CRS; an Earth or other non-Mars CRS; a Mars CRS on an ellipsoid, with
        west-positive longitudes, or in a projection geocore does not handle.

    Examples
    --------
    >>> projection_from_crs("IAU_2015:49910")
    Equirectangular(body=Body(name='Mars', radius_m=3396190.0), lon_0_deg=0.0, lat_ts_deg=0.0, kind='equirectangular')
    """  # noqa: E501
    if isinstance(crs, Geographic | Equirectangular):
        return crs
    crs = _to_pyproj(crs)
    name = crs.name or "unnamed CRS"
    ellipsoid = crs.ellipsoid
    if ellipsoid is None:
        raise CRSError(f"the CRS {name!r} has no ellipsoid; {_FIX}")
    a, b = ellipsoid.semi_major_metre, ellipsoid.semi_minor_metre
    if not math.isclose(a, MARS.radius_m, rel_tol=_RADIUS_RTOL):
        raise CRSError(
            f"the CRS {name!r} is not a Mars CRS (its body has radius {a:,.0f} m, Mars "
            f"{MARS.radius_m:,.0f} m); if the data really are of Mars, {_FIX}"
        )
    if not math.isclose(a, b, rel_tol=1e-9):
        raise CRSError(
            f"the CRS {name!r} uses an ellipsoidal Mars ({a:,.0f} x {b:,.0f} m); geocore works "
            f"on the IAU 2015 sphere: {_FIX}"
        )
    body = Body("Mars", float(a))
    geographic = crs if crs.is_geographic else crs.geodetic_crs
    if geographic is not None:
        lon_axis = [ax for ax in geographic.axis_info if ax.direction in ("east", "west")]
        if lon_axis and lon_axis[0].direction == "west":
            raise CRSError(f"the CRS {name!r} has west-positive longitudes; {_FIX}")
        pm = geographic.prime_meridian
        if pm is not None and pm.longitude != 0:
            raise CRSError(f"the CRS {name!r} has a prime meridian at {pm.longitude}; {_FIX}")
    if crs.is_geographic:
        return Geographic(body)
    if crs.is_projected:
        return _equirectangular_from(crs, body, name)
    raise CRSError(f"the CRS {name!r} is neither geographic nor projected; {_FIX}")


def _equirectangular_from(crs, body: Body, name: str) -> Equirectangular:
    op = crs.coordinate_operation
    method = (op.method_name if op is not None else "").lower()
    if "equidistant cylindrical" not in method and "equirectangular" not in method:
        raise CRSError(
            f"the CRS {name!r} uses the projection {method or 'unknown'!r}; geocore handles "
            f"geographic and equirectangular Mars CRSs: {_FIX}"
        )
    params = {p.name.lower(): p.value for p in op.params}
    for key, value in params.items():
        if key.startswith("false ") and value != 0:
            raise CRSError(f"the CRS {name!r} has a {key} of {value}; {_FIX}")
    axis_units = {ax.unit_name.lower() for ax in crs.axis_info}
    if not axis_units <= {"metre", "meter"}:
        raise CRSError(f"the CRS {name!r} has axis units {sorted(axis_units)}; {_FIX}")
    lon_0 = params.get("longitude of natural origin", 0.0)
    lat_ts = params.get("latitude of 1st standard parallel", 0.0)
    return Equirectangular(body, float(lon_0), float(lat_ts))


def portable_wkt(crs) -> str:
    """WKT of a CRS without authority ids, which QGIS 3.22 reads back as valid.

    QGIS 3.22 cannot resolve ``IAU_2015`` ids and then marks the whole CRS as
    invalid; the same definition without ids round-trips.
    """
    pyproj = _pyproj()
    crs = _to_pyproj(crs)
    definition = crs.to_json_dict()

    def strip(node):
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k not in ("id", "ids")}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    return pyproj.CRS.from_json_dict(strip(definition)).to_wkt()
