"""Planetary bodies as data.

The planet is a value, not a constant scattered through the code: every length
on the surface and every CRS is derived from a :class:`Body`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["MARS", "Body"]


@dataclass(frozen=True)
class Body:
    """A spherical planetary body.

    Parameters
    ----------
    name : str
        Name of the body, e.g. ``"Mars"``.
    radius_m : float
        Radius of the reference sphere in metres.

    Examples
    --------
    >>> round(MARS.metres_per_degree, 1)
    59274.7
    """

    name: str
    radius_m: float

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a Body needs a name, e.g. 'Mars'")
        if not (math.isfinite(self.radius_m) and self.radius_m > 0):
            raise ValueError(f"radius_m must be a positive number, got {self.radius_m!r}")

    @property
    def metres_per_degree(self) -> float:
        """Length of one degree of a great circle, in metres."""
        return self.radius_m * math.pi / 180.0

    def km_to_degrees(self, length_km: float) -> float:
        """Convert a great-circle length in km to degrees of arc."""
        return length_km * 1000.0 / self.metres_per_degree


#: The IAU 2015 Mars reference sphere (radius 3,396,190 m), as used by
#: IAU_2015:49900 (geographic) and IAU_2015:49910 (equirectangular).
MARS = Body("Mars", 3_396_190.0)
