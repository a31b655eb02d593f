"""Tests of geocore.catalog: Robbins, YOLO and project catalogue readers."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from geocore.catalog import (
    ROBBINS_SOURCE,
    check_bbox,
    check_diameter_range,
    load_catalog,
    read_catalog,
    read_crater_csv,
    read_crater_gpkg,
    read_robbins_tile_csv,
    read_robbins_tiles,
    read_robbins_tsv,
)
from geocore.errors import (
    CatalogFormatError,
    CatalogReadError,
    CoordinateError,
    CraterValueError,
)

# Columns shuffled, extra columns, a latin-1 character in a text field, 0..360 longitudes.
TSV = (
    "CRATER_ID\tDIAM_CIRCLE_IMAGE\tMORPHOLOGY_EJECTA_1\tLONGITUDE_CIRCLE_IMAGE\t"
    "DEPTH_RIMFLOOR_TOPOG\tLATITUDE_CIRCLE_IMAGE\tNUMBER_LAYERS\r\n"
    "01-000000\t82.10\tRd/SLERS\t350.5\t0.22\t-4.25\t0\r\n"
    "02-000001\t2.5\tcôté Ö\t10.0\t\t12.0\t1\r\n"
    "03-000002\t1.0\t\t180.0\t\t-89.5\t0\r\n"
    "\r\n"
)
TILE_HEADER = (
    "LATITUDE_CIRCLE_IMAGE,LONGITUDE_CIRCLE_IMAGE,DIAM_CIRCLE_IMAGE,LAT_Y_PX,LONG_X_PX,RAD_PX\n"
)


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


# ------------------------------------------------------------------ Robbins
def test_robbins_tsv_reads_shuffled_columns_latin1_and_wraps_longitudes(tmp_path):
    path = write(tmp_path / "RobbinsCraters_20121016.tsv", TSV, "latin-1")
    with pytest.raises(UnicodeDecodeError):  # the file really is latin-1, not UTF-8
        path.read_bytes().decode("utf-8")
    cat = read_robbins_tsv(path)
    assert len(cat) == 3
    np.testing.assert_array_equal(cat.lon_deg, [-9.5, 10.0, -180.0])
    np.testing.assert_array_equal(cat.lat_deg, [-4.25, 12.0, -89.5])
    np.testing.assert_array_equal(cat.diameter_km, [82.1, 2.5, 1.0])
    assert list(cat.source) == [ROBBINS_SOURCE] * 3
    assert cat.x_px is None and cat.confidence is None


def test_read_catalog_recognises_the_tsv_by_its_header(tmp_path):
    path = write(tmp_path / "release.tsv", TSV, "latin-1")
    assert len(read_catalog(path)) == 3


def test_robbins_tile_csv_keeps_pixels_in_centre_convention(tmp_path):
    path = write(
        tmp_path / "CSV_Tile_03_-30_0_90_120_px.csv",
        TILE_HEADER + "0.0,117.057,5.33,0,6927,12\n-22.984,90.0,2.45,5884,0,6\n",
    )
    cat = read_robbins_tile_csv(path)
    np.testing.assert_array_equal(cat.x_px, [6926.5, -0.5])
    np.testing.assert_array_equal(cat.y_px, [-0.5, 5883.5])
    assert cat.diameter_px is None  # RAD_PX is not a true radius: not kept
    assert read_robbins_tile_csv(path, keep_pixels=False).x_px is None
    np.testing.assert_array_equal(read_catalog(path).x_px, [6926.5, -0.5])


def test_robbins_csv_without_pixel_columns_is_read_by_read_catalog(tmp_path):
    path = write(
        tmp_path / "robbins.csv",
        "CRATER_ID,LATITUDE_CIRCLE_IMAGE,LONGITUDE_CIRCLE_IMAGE,DIAM_CIRCLE_IMAGE\n"
        "a,1.5,200.0,3.0\n",
    )
    cat = read_catalog(path)
    assert cat.x_px is None
    np.testing.assert_allclose(cat.lon_deg, [-160.0])
    with pytest.raises(CatalogFormatError, match=r"lacks column.*LONG_X_PX"):
        read_robbins_tile_csv(path)


def test_robbins_tiles_folder_drops_edge_duplicates_and_pixels(tmp_path):
    write(
        tmp_path / "CSV_Tile_02_-30_0_60_90_px.csv", TILE_HEADER + "-22.984,90.0,2.45,5884,7679,6\n"
    )
    write(
        tmp_path / "CSV_Tile_03_-30_0_90_120_px.csv",
        TILE_HEADER + "-22.984,90.0,2.45,5884,0,6\n-10.0,100.0,40.0,2560,2560,90\n",
    )
    write(tmp_path / "README.txt", "not a tile\n")
    cat = read_robbins_tiles(tmp_path)
    assert len(cat) == 2
    assert cat.x_px is None
    np.testing.assert_array_equal(cat.diameter_km, [2.45, 40.0])
    assert len(read_catalog(tmp_path)) == 2


def test_robbins_tiles_empty_folder(tmp_path):
    with pytest.raises(CatalogFormatError, match=r"no CSV_Tile_\*\.csv file"):
        read_robbins_tiles(tmp_path)


# --------------------------------------------------------- project formats
def test_project_csv_in_writer_column_order(tmp_path):
    path = write(
        tmp_path / "detections.csv",
        "source,x_px,y_px,diameter_px,diameter_km,lon,lat,confidence\n"
        "thm_dir_N-30_090,10.5,20.0,8.6,2.0,95.0,-3.5,0.9\n"
        "crater0.jpg,100.0,200.0,25.0,2.5,,,\n"
        ",,,,7.0,359.0,1.0,\n",
    )
    cat = read_catalog(path)
    assert len(cat) == 3
    np.testing.assert_array_equal(cat.lon_deg, [95.0, np.nan, -1.0])
    np.testing.assert_array_equal(cat.x_px, [10.5, 100.0, np.nan])
    np.testing.assert_array_equal(cat.confidence, [0.9, np.nan, np.nan])
    assert list(cat.source) == ["thm_dir_N-30_090", "crater0.jpg", None]
    assert cat[1].x_px == 100.0 and cat[2].x_px is None


def test_project_csv_minimal_columns_any_case(tmp_path):
    path = write(tmp_path / "c.csv", "\ufeffDiameter_KM,LAT,Lon\n3,4,5\n")
    cat = read_crater_csv(path)
    assert (cat.lon_deg[0], cat.lat_deg[0], cat.diameter_km[0]) == (5.0, 4.0, 3.0)


def _write_gpkg(path, fields: dict, layer="craters"):
    import pyogrio.raw
    import shapely

    n = len(next(iter(fields.values())))
    geometry = shapely.to_wkb(shapely.points(np.arange(n), np.zeros(n)))
    pyogrio.raw.write(
        path,
        geometry=np.asarray(geometry, dtype=object),
        field_data=[np.asarray(v) for v in fields.values()],
        fields=list(fields),
        layer=layer,
        driver="GPKG",
        geometry_type="Point",
        crs="+proj=longlat +R=3396190 +no_defs",
        append=path.exists(),
    )


def test_gpkg_read_and_layer_choice(tmp_path):
    path = tmp_path / "craters.gpkg"
    _write_gpkg(path, {"lon": [200.0, 10.0], "lat": [5.0, -5.0], "diameter_km": [3.0, 30.0]})
    cat = read_catalog(path)
    np.testing.assert_array_equal(cat.lon_deg, [-160.0, 10.0])
    np.testing.assert_array_equal(cat.diameter_km, [3.0, 30.0])
    _write_gpkg(path, {"lon": [1.0], "lat": [2.0], "diameter_km": [4.0]}, layer="other")
    assert len(read_crater_gpkg(path)) == 2  # "craters" is preferred
    assert len(read_catalog(path, layer="other")) == 1


def test_gpkg_errors(tmp_path):
    path = tmp_path / "two.gpkg"
    _write_gpkg(path, {"lon": [1.0], "lat": [2.0], "diameter_km": [4.0]}, layer="a")
    _write_gpkg(path, {"lon": [1.0], "lat": [2.0], "diam": [4.0]}, layer="b")
    with pytest.raises(CatalogFormatError, match=r"has layers \['a', 'b'\]; choose one"):
        read_crater_gpkg(path)
    with pytest.raises(CatalogFormatError, match=r"lacks column.*diameter_km.*found.*'diam'"):
        read_crater_gpkg(path, layer="b")
    bad = tmp_path / "bad.gpkg"
    _write_gpkg(bad, {"lon": [1.0], "lat": [95.0], "diameter_km": [4.0]})
    with pytest.raises(CraterValueError, match="feature 1: latitude 95"):
        read_catalog(bad)
    write(tmp_path / "fake.gpkg", "not a geopackage")
    with pytest.raises(CatalogFormatError, match=r"cannot read .* as a GeoPackage"):
        read_catalog(tmp_path / "fake.gpkg")


# --------------------------------------------------------------- bad inputs
@pytest.mark.parametrize(
    ("name", "text", "error", "match"),
    [
        ("e.csv", "", CatalogFormatError, "is empty"),
        ("e.tsv", "\n\n", CatalogFormatError, "is empty"),
        (
            "x.csv",
            "LATITUDE_CIRCLE_IMAGE,LONGITUDE_CIRCLE_IMAGE,DIAM\n1,2,3\n",
            CatalogFormatError,
            r"columns \['LATITUDE_CIRCLE_IMAGE', 'LONGITUDE_CIRCLE_IMAGE', 'DIAM'\].*expected",
        ),
        ("p.csv", "lon,lat,diam\n1,2,3\n", CatalogFormatError, r"lacks column\(s\) diameter_km"),
        ("p.csv", "lon,diameter_km\n1,3\n", CatalogFormatError, r"lacks column\(s\) lat"),
        ("p.csv", "lon,lat,diameter_km\n1,2,3\n4,95.5,3\n", CraterValueError,
         "line 3: latitude 95.5 is outside"),
        ("p.csv", "lon,lat,diameter_km\n1,2,-3\n", CraterValueError,
         "line 2: diameter_km -3 must be a positive"),
        ("p.csv", "lon,lat,diameter_km\n1,2,0\n", CraterValueError, "line 2: diameter_km 0"),
        ("p.csv", "lon,lat,diameter_km\n1,2,\n", CatalogFormatError,
         "line 2: column 'diameter_km' holds ''"),
        ("p.csv", "lon,lat,diameter_km\n1,abc,3\n", CatalogFormatError,
         "line 2: column 'lat' holds 'abc', not a number"),
        ("p.csv", "lon,lat,diameter_km\n1,2,3\n4,5\n", CatalogFormatError, "line 3: 2 fields"),
        ("p.csv", "lon,lat,diameter_km\n500,2,3\n", CraterValueError, "longitude 500"),
        ("p.csv", "lon,lat,diameter_km\n,,3\n", CraterValueError, "longitude, latitude nan"),
        ("p.csv", "lon,lat,diameter_km,x_px,y_px\n,,3,,\n", CraterValueError,
         "x_px, y_px nan, nan must be numbers"),
        ("p.csv", "lon,lat,diameter_km,confidence\n1,2,3,1.5\n", CraterValueError,
         "confidence 1.5 is outside"),
        ("t.tsv", TSV.replace("-89.5", "-91"), CraterValueError, "line 4: latitude -91"),
        ("t.tsv", TSV.replace("82.10", "-82.1"), CraterValueError, "line 2: diameter_km -82.1"),
        ("craters.shp", "x", CatalogFormatError, "unknown catalogue file type '.shp'"),
        ("craters.json", "{}", CatalogFormatError, "unknown catalogue file type '.json'"),
    ],
)  # fmt: skip
def test_read_catalog_bad_inputs(tmp_path, name, text, error, match):
    path = write(tmp_path / name, text, "latin-1")
    with pytest.raises(error, match=match) as info:
        read_catalog(path)
    assert name in str(info.value)


def test_robbins_tsv_missing_columns_named(tmp_path):
    path = write(tmp_path / "r.tsv", "CRATER_ID\tLATITUDE_CIRCLE_IMAGE\n1\t2\n")
    with pytest.raises(
        CatalogFormatError,
        match=r"lacks column\(s\) LONGITUDE_CIRCLE_IMAGE, DIAM_CIRCLE_IMAGE; "
        r"found \['CRATER_ID', 'LATITUDE_CIRCLE_IMAGE'\]",
    ):
        read_robbins_tsv(path)


def test_missing_source_and_folders(tmp_path):
    with pytest.raises(CatalogReadError, match="does not exist"):
        read_catalog(tmp_path / "nope.csv")
    with pytest.raises(CatalogFormatError, match=r"holds no CSV_Tile_\*\.csv file$"):
        read_catalog(tmp_path)
    write(tmp_path / "crater0.txt", "0 0.5 0.5 0.1 0.1\n")
    with pytest.raises(CatalogFormatError, match="use read_yolo_folder"):
        read_catalog(tmp_path)


# ----------------------------------------------------------- load / checks
def test_load_catalog_filters_and_drops_duplicates(tmp_path):
    path = write(
        tmp_path / "c.csv",
        "lon,lat,diameter_km\n179,0,5\n-179,0,5\n-179,0,5\n181,0,50\n0,0,5\n179,20,5\n",
    )
    cat = load_catalog(path, bbox=(170, -10, -170, 10), min_diameter_km=2, max_diameter_km=32)
    np.testing.assert_array_equal(cat.lon_deg, [179.0, -179.0])
    assert len(load_catalog(path)) == 5
    across_0 = load_catalog(path, bbox=(350, -10, 10, 10))
    np.testing.assert_array_equal(across_0.lon_deg, [0.0])


@pytest.mark.parametrize(
    ("bbox", "match"),
    [
        ((0, 10, 10, 5), "south 10 above north 5"),
        ((0, -95, 10, 5), r"latitude outside \[-90, 90\]"),
        ((0, 0, 0, 5), r"no width \(west == east\)"),
        ((-200, 0, 10, 5), "longitude outside -180..360"),
        ((0, 0, float("nan"), 5), "not a finite number"),
        ((0, 0, 10), "must be 4 numbers"),
        (("a", 0, 10, 5), "must be 4 numbers"),
    ],
)
def test_check_bbox_rejects(bbox, match):
    with pytest.raises(CoordinateError, match=match):
        check_bbox(bbox)


def test_check_bbox_accepts_both_longitude_conventions():
    assert check_bbox((0, -30, 360, 30)) == (0.0, -30.0, 360.0, 30.0)
    assert check_bbox(("-180", -30, 180, 30)) == (-180.0, -30.0, 180.0, 30.0)


def test_check_diameter_range():
    check_diameter_range(2, 32)
    check_diameter_range(None, 0)
    with pytest.raises(CraterValueError, match="min diameter 32 km is above max diameter 2 km"):
        check_diameter_range(32, 2)
    with pytest.raises(CraterValueError, match="min diameter -1 km must be a number >= 0"):
        check_diameter_range(-1, None)


def test_load_catalog_checks_bbox_before_reading(tmp_path):
    with pytest.raises(CoordinateError, match="south"):
        load_catalog(tmp_path / "absent.csv", bbox=(0, 5, 1, 0))


def test_module_imports_only_numpy_and_stdlib():
    code = (
        "import sys, geocore.catalog\n"
        "heavy = {'PIL', 'pyogrio', 'pyproj', 'rasterio', 'geopandas', 'shapely', 'pandas'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ----------------------------------------------------------------- real data
@pytest.mark.realdata
def test_real_robbins_tiles_counts(shared_data):
    folder = shared_data / "robbins2012_pm30"
    files = sorted(folder.glob("CSV_Tile_*.csv"))
    assert len(files) == 24
    raw_rows = sum(len(read_robbins_tile_csv(f, keep_pixels=False)) for f in files)
    assert raw_rows == 225_367
    cat = read_robbins_tiles(folder)
    assert len(cat) == 225_367 - 15
    assert cat.x_px is None
    assert len(cat.filter(min_diameter_km=2, max_diameter_km=32)) == 69_854 - 5
    assert cat.lon_deg.min() >= -180 and cat.lon_deg.max() < 180
    assert np.abs(cat.lat_deg).max() <= 30


@pytest.mark.realdata
def test_real_tile_pixels_agree_with_the_themis_grid(shared_data):
    from geocore.themis import ThemisTile

    cat = read_robbins_tile_csv(shared_data / "robbins2012_pm30/CSV_Tile_03_-30_0_90_120_px.csv")
    x, y = ThemisTile.from_name("thm_dir_N-30_090").grid.lonlat_to_pixel(
        cat.lon_deg, cat.lat_deg, offset="center"
    )
    # The file rounds its pixel values: after the -0.5 px shift they agree to half a pixel.
    assert np.abs(x - cat.x_px).max() <= 0.5
    assert np.abs(y - cat.y_px).max() <= 0.5
    assert abs(np.mean(x - cat.x_px)) < 0.01 and abs(np.mean(y - cat.y_px)) < 0.01


@pytest.mark.parametrize("suffix", [".csv", ".gpkg"])
def test_reads_back_what_vector_io_writes(tmp_path, suffix):
    from geocore.crater import Crater, CraterCatalog
    from geocore.vector_io import write_craters

    cat = CraterCatalog.from_craters(
        [
            Crater(np.nan, np.nan, 2.5, x_px=10.5, y_px=3.0, diameter_px=25.0, source="a.jpg"),
            Crater(-120.25, 12.5, 7.0, confidence=0.8, source="thm_dir_N00_210"),
        ]
    )
    path = tmp_path / f"craters{suffix}"
    write_craters(path, cat)
    back = read_catalog(path)
    for name in ("lon_deg", "lat_deg", "diameter_km", "x_px", "y_px", "diameter_px", "confidence"):
        np.testing.assert_allclose(getattr(back, name), getattr(cat, name), err_msg=name)
    assert list(back.source) == ["a.jpg", "thm_dir_N00_210"]
