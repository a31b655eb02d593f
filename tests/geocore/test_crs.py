import pytest
from pyproj import CRS

from geocore.body import MARS
from geocore.crs import (
    crs_for_projection,
    mars_equirectangular_crs,
    mars_geographic_crs,
    portable_wkt,
    projection_from_crs,
)
from geocore.errors import CRSError
from geocore.projection import Equirectangular, Geographic


def test_standard_crs_are_iau_and_built_once():
    assert mars_geographic_crs() is mars_geographic_crs()
    assert mars_geographic_crs().to_authority() == ("IAU_2015", "49900")
    assert mars_equirectangular_crs().to_authority() == ("IAU_2015", "49910")
    assert mars_equirectangular_crs().ellipsoid.semi_major_metre == MARS.radius_m


@pytest.mark.parametrize(
    ("crs", "expected"),
    [
        ("IAU_2015:49900", Geographic(MARS)),
        ("ESRI:104971", Geographic(MARS)),
        ("IAU_2015:49910", Equirectangular(MARS)),
        ("ESRI:103885", Equirectangular(MARS)),
        ("+proj=eqc +R=3396190 +lon_0=180 +lat_ts=10 +units=m", Equirectangular(MARS, 180, 10)),
    ],
)
def test_projection_from_mars_crs(crs, expected):
    assert projection_from_crs(crs) == expected
    assert projection_from_crs(CRS(crs)) == expected


def test_projection_round_trip_through_pyproj():
    for proj in (Geographic(MARS), Equirectangular(MARS), Equirectangular(MARS, 90.0, 20.0)):
        assert projection_from_crs(crs_for_projection(proj)) == proj


def test_numpy_projection_agrees_with_proj():
    from pyproj import Transformer

    t = Transformer.from_crs(mars_geographic_crs(), mars_equirectangular_crs(), always_xy=True)
    x, y = t.transform(123.4, -25.6)
    assert Equirectangular(MARS).forward(123.4, -25.6) == pytest.approx((x, y), abs=1e-6)


@pytest.mark.parametrize(
    ("crs", "message"),
    [
        ("EPSG:4326", "not a Mars CRS .*radius 6,378,137 m"),
        ("EPSG:3857", "not a Mars CRS"),
        (None, "has no CRS"),
        ("", "has no CRS"),
        ("ESRI:104905", "ellipsoidal Mars"),
        ("+proj=stere +lat_0=90 +R=3396190", "projection 'polar stereographic"),
        ("+proj=eqc +R=3396190 +x_0=100", "false easting"),
        ("not a crs", "cannot understand the CRS"),
    ],
)
def test_non_mars_or_unsupported_crs_refused(crs, message):
    with pytest.raises(CRSError, match=message):
        projection_from_crs(crs)


def test_portable_wkt_has_no_ids_but_same_definition():
    wkt = portable_wkt(mars_equirectangular_crs())
    assert "IAU_2015" not in wkt  # unit ids (EPSG:9001...) may stay
    assert CRS(wkt).equals(mars_equirectangular_crs(), ignore_axis_order=True)
    assert projection_from_crs(wkt) == Equirectangular(MARS)
