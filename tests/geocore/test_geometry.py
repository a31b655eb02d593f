"""Tests of geocore.geometry: crater circles on the sphere."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pyproj
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from geocore.body import MARS, Body
from geocore.errors import CraterValueError
from geocore.geometry import (
    crater_area_m2,
    crater_polygon_parts,
    crater_polygons,
    crater_rings,
    diameter_from_area_km,
)

R = MARS.radius_m
GEOD = pyproj.Geod(a=R, b=R)  # independent area and distance computations


def geod_diameter_km(parts) -> float:
    """Diameter from the parts' spherical area (pyproj), craterstats' rule written out."""
    area = sum(GEOD.geometry_area_perimeter(shapely.Polygon(p))[0] for p in parts)
    return 2 * R * math.acos(1 - area / (2 * math.pi * R**2)) / 1000


def distances_from_centre_m(lon, lat, ring_lon, ring_lat):
    n = np.size(ring_lon)
    _, _, dist = GEOD.inv(np.full(n, lon), np.full(n, lat), ring_lon, ring_lat)
    return np.asarray(dist)


# -------------------------------------------------------------- area <-> diameter
def test_diameter_from_area_is_craterstats_rule():
    area = 5.0e11  # m^2, a large cap where 1 - cos matters
    expected = 2 * R * math.acos(1 - area / (2 * math.pi * R**2)) / 1000
    assert diameter_from_area_km(area) == pytest.approx(expected, rel=1e-12)


def test_diameter_from_area_inverts_cap_area_vectorised():
    diameters = np.array([0.01, 1.0, 42.0, 2000.0])
    assert diameter_from_area_km(crater_area_m2(diameters)) == pytest.approx(diameters, rel=1e-10)


def test_small_crater_area_is_planar_disc():
    assert crater_area_m2(2.0) == pytest.approx(math.pi * 1000.0**2, rel=1e-6)


def test_diameter_from_area_uses_the_body():
    small = Body("Small", 1000.0)
    assert diameter_from_area_km(crater_area_m2(1.0, small), small) == pytest.approx(1.0)
    assert diameter_from_area_km(crater_area_m2(1.0, small)) != pytest.approx(1.0, rel=1e-3)


@pytest.mark.parametrize("area", [-1.0, math.nan, math.inf, 4 * math.pi * R**2 * 1.01])
def test_diameter_from_area_rejects_impossible_area(area):
    with pytest.raises(CraterValueError, match="is not the area of a cap on Mars"):
        diameter_from_area_km(area)


# -------------------------------------------------------------------- rings
def test_rings_shape_and_counter_clockwise_start_north():
    lon, lat = crater_rings([10.0, -20.0], [5.0, -40.0], [3.0, 30.0], n_vertices=16)
    assert lon.shape == lat.shape == (2, 16)
    assert lon[0, 0] == pytest.approx(10.0) and lat[0, 0] > 5.0  # due north first
    assert lon[0, 4] < 10.0  # a quarter turn later: west (counter-clockwise)


@pytest.mark.parametrize("lat", [0.0, 45.0, -70.0, 89.0, 90.0, -90.0])
def test_rim_vertices_are_on_the_circle(lat):
    lon, ring_lat = crater_rings([33.0], [lat], [120.0], n_vertices=64, equal_area=False)
    dist = distances_from_centre_m(33.0, lat, lon[0], ring_lat[0])
    assert dist == pytest.approx(60_000.0, rel=1e-9)


@pytest.mark.parametrize("n_vertices", [16, 64, 256])
def test_equal_area_vertices_sit_just_outside_the_rim(n_vertices):
    lon, lat = crater_rings([0.0], [30.0], [100.0], n_vertices=n_vertices)
    dist = distances_from_centre_m(0.0, 30.0, lon[0], lat[0])
    planar_factor = math.sqrt((2 * math.pi / n_vertices) / math.sin(2 * math.pi / n_vertices))
    assert np.ptp(dist) < 1e-6 * dist.mean()  # all on one circle
    assert dist.mean() / 50_000.0 == pytest.approx(planar_factor, rel=1e-5)


def test_unknown_centre_gives_nan_ring_and_no_part():
    lon, lat = crater_rings([np.nan, 1.0], [np.nan, 1.0], [5.0, 5.0])
    assert np.isnan(lon[0]).all() and np.isnan(lat[0]).all()
    assert np.isfinite(lon[1]).all()
    assert crater_polygon_parts(math.nan, math.nan, 5.0) == []


def test_inputs_are_not_modified():
    lon = np.array([190.0, 0.0])
    lat = np.array([10.0, 89.5])
    diameter = np.array([30.0, 200.0])
    for a in (lon, lat, diameter):
        a.setflags(write=False)  # would raise if written to
    crater_polygons(lon, lat, diameter)
    assert lon.tolist() == [190.0, 0.0]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_vertices": 3}, "n_vertices must be an integer >= 4, got 3"),
        ({"n_vertices": 6.5}, "n_vertices must be an integer >= 4, got 6.5"),
        ({"n_vertices": True}, "n_vertices must be an integer"),
        ({"diameter_km": [0.0]}, "diameter must be a positive number of km, got 0.0"),
        ({"diameter_km": [math.nan]}, "diameter must be a positive number of km, got nan"),
        ({"lat_deg": [91.0]}, r"latitude 91.0 is outside \[-90, 90\]"),
        ({"diameter_km": [11_000.0]}, "spans more than a hemisphere of Mars"),
        ({"lon_deg": [1.0, 2.0], "diameter_km": [1.0, 2.0, 3.0]}, "must have the same length"),
        ({"lon_deg": [[1.0]]}, "expected 1-D arrays"),
    ],
)
def test_rings_reject_bad_input(kwargs, match):
    args = {"lon_deg": [1.0], "lat_deg": [1.0], "diameter_km": [10.0], **kwargs}
    with pytest.raises(CraterValueError, match=match):
        crater_rings(**args)


# ---------------------------------------------------------------- accuracy
@pytest.mark.parametrize("lat", [0.0, 20.0, 45.0, 70.0, 85.0, -85.0])
@pytest.mark.parametrize("diameter_km", [1.0, 10.0, 100.0, 500.0])
@pytest.mark.parametrize("lon", [12.5, 179.99, -179.9])
def test_polygon_area_gives_the_diameter(lon, lat, diameter_km):
    parts = crater_polygon_parts(lon, lat, diameter_km, n_vertices=64)
    measured = geod_diameter_km(parts)
    assert measured == pytest.approx(diameter_km, rel=0.005)  # the requirement
    assert measured == pytest.approx(diameter_km, rel=1e-6)  # what equal-area vertices give


@pytest.mark.parametrize("lat", [0.0, 60.0, 85.0])
def test_inscribed_polygon_is_within_requirement_too(lat):
    parts = crater_polygon_parts(100.0, lat, 200.0, n_vertices=64, equal_area=False)
    measured = geod_diameter_km(parts)
    assert 0.998 * 200.0 < measured < 200.0  # inscribed: slightly small


@settings(max_examples=60, deadline=None)
@given(
    lon=st.floats(-540.0, 540.0),
    lat=st.floats(-90.0, 90.0),
    diameter_km=st.floats(0.5, 3000.0),
)
def test_area_diameter_round_trip_anywhere(lon, lat, diameter_km):
    parts = crater_polygon_parts(lon, lat, diameter_km)
    assert 1 <= len(parts) <= 2
    for p in parts:
        poly = shapely.Polygon(p)
        assert poly.is_valid, shapely.is_valid_reason(poly)
        assert poly.exterior.is_ccw
        assert p[:, 0].min() >= -180.0 and p[:, 0].max() <= 180.0
        assert np.array_equal(p[0], p[-1])
    assert geod_diameter_km(parts) == pytest.approx(diameter_km, rel=1e-6)


# ------------------------------------------------------ antimeridian and poles
def test_crater_across_antimeridian_is_split_in_two():
    parts = crater_polygon_parts(179.9, -12.0, 50.0)
    assert len(parts) == 2
    west, east = parts  # sorted by longitude: the piece at -180 first
    assert west[:, 0].min() == -180.0 and west[:, 0].max() < -179.0
    assert east[:, 0].max() == 180.0 and east[:, 0].min() > 179.0
    # the two cut edges meet: same latitudes on the antimeridian
    cut_w = np.sort(west[west[:, 0] == -180.0, 1])
    cut_e = np.sort(east[east[:, 0] == 180.0, 1])
    assert np.unique(cut_w) == pytest.approx(np.unique(cut_e), abs=1e-9)
    assert geod_diameter_km(parts) == pytest.approx(50.0, rel=1e-6)


@pytest.mark.parametrize("lon", [180.0, -180.0, 540.0])
def test_crater_centred_on_antimeridian(lon):
    parts = crater_polygon_parts(lon, 30.0, 40.0)
    assert len(parts) == 2
    areas = [GEOD.geometry_area_perimeter(shapely.Polygon(p))[0] for p in parts]
    assert areas[0] == pytest.approx(areas[1], rel=1e-6)  # half on each side


def test_crater_near_but_not_across_antimeridian_is_one_part():
    parts = crater_polygon_parts(179.0, 0.0, 50.0)  # radius 0.42 deg
    assert len(parts) == 1 and parts[0][:, 0].max() < 180.0


@pytest.mark.parametrize(("lat", "pole"), [(89.0, 90.0), (90.0, 90.0), (-88.5, -90.0)])
def test_crater_containing_a_pole_is_bounded_by_the_pole_line(lat, pole):
    parts = crater_polygon_parts(-45.0, lat, 400.0)
    assert len(parts) == 1
    ring = parts[0]
    assert ring[:, 0].min() == -180.0 and ring[:, 0].max() == 180.0
    assert np.count_nonzero(ring[:, 1] == pole) == 2  # the pole line, -180 to 180
    poly = shapely.Polygon(ring)
    assert poly.is_valid and poly.exterior.is_ccw
    assert geod_diameter_km(parts) == pytest.approx(400.0, rel=1e-6)


def test_crater_near_pole_without_containing_it_is_one_ordinary_part():
    parts = crater_polygon_parts(10.0, 85.0, 200.0)  # 5 deg from the pole, radius 1.7 deg
    assert len(parts) == 1
    assert parts[0][:, 1].max() < 90.0
    assert geod_diameter_km(parts) == pytest.approx(200.0, rel=1e-6)


def test_polygons_of_many_craters_match_one_by_one():
    lon = [0.0, 179.9, 20.0, np.nan]
    lat = [0.0, 10.0, 89.9, np.nan]
    diameter = [5.0, 50.0, 100.0, 3.0]
    many = crater_polygons(lon, lat, diameter, n_vertices=32)
    assert [len(p) for p in many] == [1, 2, 1, 0]
    for parts, args in zip(many, zip(lon, lat, diameter, strict=True), strict=True):
        single = crater_polygon_parts(*args, n_vertices=32)
        assert len(single) == len(parts)
        for a, b in zip(single, parts, strict=True):
            assert np.array_equal(a, b)


def test_geometry_imports_only_numpy():
    code = (
        "import sys, geocore.geometry; "
        "heavy = {'pyproj', 'shapely', 'geopandas', 'rasterio', 'pyogrio', 'qgis'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
