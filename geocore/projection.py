"""Map projections of a spherical body, in plain numpy.

Only the two projections the project's rasters use are implemented here, so that
lon/lat <-> map coordinates need nothing but numpy (the QGIS plugin runs without
pyproj). Other CRSs are handled through pyproj by :mod:`geocore.crs`.

Longitudes are degrees east. Map coordinates of :class:`Geographic` are degrees;
those of :class:`Equirectangular` are metres.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .body import MARS, Body

__all__ = ["Equirectangular", "Geographic", "Projection"]


@dataclass(frozen=True)
class Geographic:
    """Longitude/latitude in degrees on the body's sphere (e.g. IAU_2015:49900).

    Examples
    --------
    >>> Geographic().forward(10.0, -5.0)
    (10.0, -5.0)
    """

    body: Body = MARS
    kind: str = field(default="geographic", init=False)

    @property
    def x_period(self) -> float:
        """Map-x length of 360 degrees of longitude."""
        return 360.0

    @property
    def x_units_m(self) -> float:
        """Metres per map-x unit at the latitude of true scale (the equator)."""
        return self.body.metres_per_degree

    @property
    def y_units_m(self) -> float:
        """Metres per map-y unit along a meridian."""
        return self.body.metres_per_degree

    def forward(self, lon_deg, lat_deg):
        """Map lon/lat (degrees) to map x/y (degrees)."""
        return lon_deg, lat_deg

    def inverse(self, x, y):
        """Map x/y (degrees) to lon/lat (degrees)."""
        return x, y

    def to_proj4(self) -> str:
        """The projection as a PROJ string (no authority id)."""
        return f"+proj=longlat +R={self.body.radius_m:.1f} +no_defs +type=crs"


@dataclass(frozen=True)
class Equirectangular:
    """Equidistant cylindrical projection of the sphere (e.g. IAU_2015:49910).

    Parameters
    ----------
    body : Body
        The sphere.
    lon_0_deg : float
        Central meridian, degrees east.
    lat_ts_deg : float
        Latitude of true scale (standard parallel), degrees.

    Examples
    --------
    >>> x, y = Equirectangular().forward(1.0, 1.0)
    >>> round(float(x), 1), round(float(y), 1)
    (59274.7, 59274.7)
    """

    body: Body = MARS
    lon_0_deg: float = 0.0
    lat_ts_deg: float = 0.0
    kind: str = field(default="equirectangular", init=False)

    def __post_init__(self) -> None:
        if not -90.0 < self.lat_ts_deg < 90.0:
            raise ValueError(f"lat_ts_deg must be within (-90, 90), got {self.lat_ts_deg}")

    @property
    def _k(self) -> float:
        return self.body.metres_per_degree * math.cos(math.radians(self.lat_ts_deg))

    @property
    def x_period(self) -> float:
        """Map-x length of 360 degrees of longitude, in metres."""
        return 360.0 * self._k

    @property
    def x_units_m(self) -> float:
        """Metres per map-x unit at the latitude of true scale."""
        return 1.0

    @property
    def y_units_m(self) -> float:
        """Metres per map-y unit along a meridian."""
        return 1.0

    def forward(self, lon_deg, lat_deg):
        """Map lon/lat (degrees) to x/y (metres)."""
        x = (np.asarray(lon_deg, dtype=float) - self.lon_0_deg) * self._k
        y = np.asarray(lat_deg, dtype=float) * self.body.metres_per_degree
        return x, y

    def inverse(self, x, y):
        """Map x/y (metres) to lon/lat (degrees)."""
        lon = np.asarray(x, dtype=float) / self._k + self.lon_0_deg
        lat = np.asarray(y, dtype=float) / self.body.metres_per_degree
        return lon, lat

    def to_proj4(self) -> str:
        """The projection as a PROJ string (no authority id)."""
        return (
            f"+proj=eqc +lat_ts={self.lat_ts_deg:g} +lat_0=0 +lon_0={self.lon_0_deg:g} "
            f"+x_0=0 +y_0=0 +R={self.body.radius_m:.1f} +units=m +no_defs +type=crs"
        )


Projection = Geographic | Equirectangular
