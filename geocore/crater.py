"""Craters as values: one :class:`Crater`, and a columnar :class:`CraterCatalog`.

A crater is a centre in degrees (longitude east, planetocentric latitude) and a
diameter in km on the Mars sphere; pixel position, confidence and source are
optional. Craters found on an image with no georeferencing have pixel
coordinates and NaN longitude/latitude.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields

import numpy as np

from .errors import CraterValueError
from .grid import PixelGrid, wrap_longitude

__all__ = ["Crater", "CraterCatalog"]

_OPTIONAL_FLOATS = ("x_px", "y_px", "diameter_px", "confidence")


def _check_values(lon, lat, diameter_km, has_pixels, confidence=None) -> None:
    lon, lat, diameter_km = (np.asarray(v, dtype=float) for v in (lon, lat, diameter_km))
    unknown = np.isnan(lon) & np.isnan(lat)
    if np.any(unknown) and not has_pixels:
        raise CraterValueError("a crater without longitude/latitude needs pixel coordinates")
    known = ~unknown
    if not np.all(np.isfinite(lon[known])) or not np.all(np.isfinite(lat[known])):
        raise CraterValueError("crater longitudes and latitudes must be finite numbers")
    bad = known & (np.abs(np.where(known, lat, 0.0)) > 90.0)
    if np.any(bad):
        raise CraterValueError(f"crater latitude {lat[bad][0]} is outside [-90, 90] degrees")
    bad = ~(diameter_km > 0) | ~np.isfinite(diameter_km)
    if np.any(bad):
        raise CraterValueError(
            f"crater diameter must be a positive number of km, got {diameter_km[bad][0]}"
        )
    if confidence is not None:
        conf = np.asarray(confidence, dtype=float)
        bad = ~((conf >= 0) & (conf <= 1)) & ~np.isnan(conf)
        if np.any(bad):
            raise CraterValueError(f"confidence must be within [0, 1], got {conf[bad][0]}")


@dataclass(frozen=True)
class Crater:
    """One crater.

    Parameters
    ----------
    lon_deg, lat_deg : float
        Centre, degrees east and planetocentric degrees north. NaN when unknown
        (then ``x_px``/``y_px`` must be given).
    diameter_km : float
        Rim-to-rim diameter on the sphere, km.
    x_px, y_px : float, optional
        Centre in pixel coordinates (column, row) of the image it was found on.
    diameter_px : float, optional
        Diameter in pixels along a meridian.
    confidence : float, optional
        Detection score in [0, 1].
    source : str, optional
        Where the crater comes from (image or catalogue name).

    Raises
    ------
    CraterValueError
        Latitude outside [-90, 90], non-positive diameter, confidence outside [0, 1].

    Examples
    --------
    >>> Crater(137.4, -5.4, 154.0).diameter_km
    154.0
    """

    lon_deg: float
    lat_deg: float
    diameter_km: float
    x_px: float | None = None
    y_px: float | None = None
    diameter_px: float | None = None
    confidence: float | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        has_pixels = self.x_px is not None and self.y_px is not None
        conf = math.nan if self.confidence is None else self.confidence
        _check_values(self.lon_deg, self.lat_deg, self.diameter_km, has_pixels, conf)


@dataclass(frozen=True, eq=False)
class CraterCatalog:
    """A set of craters stored column by column (numpy arrays, read-only).

    Optional columns are ``None`` when absent. Indexing with an integer gives a
    :class:`Crater`; with a slice, boolean mask or index array, a new catalogue.

    Examples
    --------
    >>> cat = CraterCatalog.from_craters([Crater(10, 0, 3.0), Crater(20, 5, 40.0)])
    >>> len(cat.filter(min_diameter_km=2, max_diameter_km=32))
    1
    """

    lon_deg: np.ndarray
    lat_deg: np.ndarray
    diameter_km: np.ndarray
    x_px: np.ndarray | None = None
    y_px: np.ndarray | None = None
    diameter_px: np.ndarray | None = None
    confidence: np.ndarray | None = None
    source: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = None
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            dtype = object if f.name == "source" else float
            arr = np.array(value, dtype=dtype).reshape(-1)
            arr.setflags(write=False)
            object.__setattr__(self, f.name, arr)
            if n is None:
                n = arr.size
            elif arr.size != n:
                raise CraterValueError(
                    f"column {f.name!r} has {arr.size} values, expected {n} like the others"
                )
        has_pixels = self.x_px is not None and self.y_px is not None
        _check_values(self.lon_deg, self.lat_deg, self.diameter_km, has_pixels, self.confidence)

    # ------------------------------------------------------------ constructors
    @classmethod
    def empty(cls) -> CraterCatalog:
        """A catalogue with no crater."""
        return cls(np.empty(0), np.empty(0), np.empty(0))

    @classmethod
    def from_craters(cls, craters: Iterable[Crater]) -> CraterCatalog:
        """Build a catalogue from :class:`Crater` values."""
        craters = list(craters)
        if not craters:
            return cls.empty()
        columns = {}
        for f in fields(Crater):
            values = [getattr(c, f.name) for c in craters]
            if all(v is None for v in values):
                columns[f.name] = None
            elif f.name == "source":
                columns[f.name] = np.array(values, dtype=object)
            else:
                columns[f.name] = np.array(
                    [math.nan if v is None else v for v in values], dtype=float
                )
        return cls(**columns)

    @classmethod
    def concat(cls, catalogs: Iterable[CraterCatalog]) -> CraterCatalog:
        """Join catalogues; a column missing from some becomes NaN / None there."""
        catalogs = [c for c in catalogs if len(c)]
        if not catalogs:
            return cls.empty()
        columns = {}
        for f in fields(cls):
            parts = [getattr(c, f.name) for c in catalogs]
            if all(p is None for p in parts):
                columns[f.name] = None
                continue
            fill = None if f.name == "source" else math.nan
            dtype = object if f.name == "source" else float
            columns[f.name] = np.concatenate(
                [
                    np.asarray(p, dtype=dtype) if p is not None else np.full(len(c), fill, dtype)
                    for p, c in zip(parts, catalogs, strict=True)
                ]
            )
        return cls(**columns)

    # --------------------------------------------------------------- container
    def __len__(self) -> int:
        return int(self.diameter_km.size)

    def __iter__(self) -> Iterator[Crater]:
        for i in range(len(self)):
            yield self[i]

    def __getitem__(self, index):
        if isinstance(index, int | np.integer):
            kwargs = {}
            for f in fields(self):
                col = getattr(self, f.name)
                if col is None:
                    kwargs[f.name] = None
                elif f.name == "source":
                    kwargs[f.name] = col[index]
                else:
                    value = float(col[index])
                    optional = f.name in _OPTIONAL_FLOATS
                    kwargs[f.name] = None if optional and math.isnan(value) else value
            return Crater(**kwargs)
        return self.replace(
            **{
                f.name: getattr(self, f.name)[index]
                for f in fields(self)
                if getattr(self, f.name) is not None
            }
        )

    def __repr__(self) -> str:
        return f"CraterCatalog({len(self)} craters)"

    def replace(self, **columns) -> CraterCatalog:
        """A copy with some columns replaced (``None`` drops an optional column)."""
        current = {f.name: getattr(self, f.name) for f in fields(self)}
        current.update(columns)
        return type(self)(**current)

    @property
    def columns(self) -> dict[str, np.ndarray]:
        """The columns that are present, by name."""
        return {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None
        }

    # ------------------------------------------------------------------ queries
    def filter(
        self,
        bbox: tuple[float, float, float, float] | None = None,
        min_diameter_km: float | None = None,
        max_diameter_km: float | None = None,
    ) -> CraterCatalog:
        """Craters whose centre is in ``bbox`` and whose diameter is in range.

        Parameters
        ----------
        bbox : (west, south, east, north), optional
            Degrees; longitudes in either convention. ``west > east`` (after
            wrapping to -180..180) selects a box across the antimeridian.
        min_diameter_km, max_diameter_km : float, optional
            Inclusive diameter range.
        """
        keep = np.ones(len(self), dtype=bool)
        if min_diameter_km is not None:
            keep &= self.diameter_km >= min_diameter_km
        if max_diameter_km is not None:
            keep &= self.diameter_km <= max_diameter_km
        if bbox is not None:
            keep &= self._in_bbox(*bbox)
        return self[keep]

    def _in_bbox(self, west, south, east, north) -> np.ndarray:
        if not south <= north:
            raise CraterValueError(f"bbox south {south} is greater than north {north}")
        if abs(south) > 90 or abs(north) > 90:
            raise CraterValueError(f"bbox latitudes must be within [-90, 90], got {south}, {north}")
        lat_ok = (self.lat_deg >= south) & (self.lat_deg <= north)
        if east - west >= 360:
            return lat_ok
        w = wrap_longitude(west, "0..360")
        rel_lon = wrap_longitude(np.asarray(self.lon_deg) - w, "0..360")
        span = (east - west) % 360 if east != west else 0.0
        return lat_ok & (rel_lon <= span)

    def drop_duplicates(self, decimals: int = 4) -> CraterCatalog:
        """Remove repeated craters (same centre and diameter to ``decimals`` places).

        The Robbins per-tile files list a crater on a shared tile edge in both
        tiles; this keeps the first copy. Longitudes are compared modulo 360.
        """
        if not len(self):
            return self
        key = np.stack(
            [
                np.round(wrap_longitude(self.lon_deg, "0..360"), decimals) % 360.0,
                np.round(self.lat_deg, decimals),
                np.round(self.diameter_km, decimals),
            ],
            axis=1,
        )
        _, first = np.unique(key, axis=0, return_index=True)
        return self[np.sort(first)]

    def sorted_by_diameter(self, descending: bool = True) -> CraterCatalog:
        """Craters ordered by diameter (largest first by default); stable."""
        order = np.argsort(-self.diameter_km if descending else self.diameter_km, kind="stable")
        return self[order]

    def with_pixels(self, grid: PixelGrid, offset: str = "center") -> CraterCatalog:
        """A copy with ``x_px``, ``y_px`` and ``diameter_px`` computed on ``grid``.

        ``diameter_px`` is measured along a meridian (the grid's pixel height).
        """
        x, y = grid.lonlat_to_pixel(self.lon_deg, self.lat_deg, offset=offset)
        diameter_px = self.diameter_km * 1000.0 / grid.resolution_m
        return self.replace(x_px=x, y_px=y, diameter_px=diameter_px)
