"""Tests of geocore.vector_io: GeoPackage, CSV and craterstats .diam writers."""

from __future__ import annotations

import csv
import math
import os
import sqlite3
from pathlib import Path

import numpy as np
import pyogrio
import pyproj
import pytest
import shapely

from geocore import vector_io
from geocore.body import MARS
from geocore.crater import Crater, CraterCatalog
from geocore.crs import mars_geographic_crs
from geocore.errors import CraterValueError, OutputExistsError, OutputWriteError
from geocore.vector_io import (
    CSV_COLUMNS,
    write_craters,
    write_csv,
    write_diam,
    write_geopackage,
)

R = MARS.radius_m
GEOD = pyproj.Geod(a=R, b=R)


@pytest.fixture
def catalog() -> CraterCatalog:
    return CraterCatalog.from_craters(
        [
            Crater(12.5, -3.0, 20.0, x_px=100.0, y_px=200.0, diameter_px=86.4, confidence=0.9,
                   source="tile_a"),
            Crater(179.9, 10.0, 50.0, confidence=0.5, source="tile_b"),  # across +-180
            Crater(200.0, 80.0, 30.0, source="tile_b"),  # lon 0..360 -> -160
            Crater(math.nan, math.nan, 5.0, x_px=10.0, y_px=20.0, diameter_px=21.6),
        ]
    )  # fmt: skip


def folder_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def geod_diameter_km(geometry) -> float:
    area = GEOD.geometry_area_perimeter(geometry)[0]
    return 2 * R * math.acos(1 - area / (2 * math.pi * R**2)) / 1000


# ---------------------------------------------------------------- GeoPackage
def test_geopackage_round_trip(tmp_path, catalog):
    out = write_geopackage(tmp_path / "c.gpkg", catalog, points_layer="crater_centres")
    assert out == tmp_path / "c.gpkg"
    layers = dict(pyogrio.list_layers(out).tolist())
    assert layers == {"craters": "MultiPolygon", "crater_centres": "Point"}
    info = pyogrio.read_info(out, layer="craters")
    assert info["features"] == 4
    assert list(info["fields"]) == [
        "lon", "lat", "diameter_km", "confidence", "source", "x_px", "y_px", "diameter_px"
    ]  # fmt: skip
    df = pyogrio.read_dataframe(out, layer="craters")
    assert df.crs.equals(mars_geographic_crs(), ignore_axis_order=True)
    assert df["lon"].tolist()[:3] == [12.5, 179.9, -160.0]
    assert df["diameter_km"].tolist() == [20.0, 50.0, 30.0, 5.0]
    assert df["source"].tolist()[:3] == ["tile_a", "tile_b", "tile_b"]
    assert df["source"].isna().tolist()[3]
    assert df["confidence"].isna().tolist() == [False, False, True, True]
    assert df["x_px"].tolist()[0] == 100.0
    assert df.geometry.isna().tolist() == [False, False, False, True]  # pixel-only crater
    assert [len(g.geoms) for g in df.geometry[:3]] == [1, 2, 1]
    points = pyogrio.read_dataframe(out, layer="crater_centres")
    assert points.crs.equals(mars_geographic_crs(), ignore_axis_order=True)
    assert (points.geometry[1].x, points.geometry[1].y) == (179.9, 10.0)
    assert points["diameter_km"].tolist() == [20.0, 50.0, 30.0, 5.0]


def test_geopackage_crs_is_stored_without_iau_id(tmp_path, catalog):
    # QGIS 3.22 reads a CRS stored with its IAU id as invalid (see tests/qgis).
    out = write_geopackage(tmp_path / "c.gpkg", catalog)
    with sqlite3.connect(out) as db:
        rows = db.execute(
            "SELECT organization, definition FROM gpkg_spatial_ref_sys WHERE srs_id = "
            "(SELECT srs_id FROM gpkg_geometry_columns WHERE table_name = 'craters')"
        ).fetchall()
    assert len(rows) == 1
    organization, definition = rows[0]
    assert organization.upper() != "IAU" and "IAU" not in definition
    assert pyproj.CRS(definition).ellipsoid.semi_major_metre == R


def test_geopackage_polygons_are_the_crater_circles(tmp_path, catalog):
    out = write_geopackage(tmp_path / "c.gpkg", catalog, n_vertices=64)
    df = pyogrio.read_dataframe(out, layer="craters")
    for geometry, lon, lat, diameter in zip(
        df.geometry[:3], df["lon"], df["lat"], df["diameter_km"], strict=False
    ):
        assert geometry.is_valid
        assert geod_diameter_km(geometry) == pytest.approx(diameter, rel=1e-6)
        xy = np.concatenate([shapely.get_coordinates(p.exterior) for p in geometry.geoms])
        rim = np.abs(xy[:, 0]) != 180.0  # vertices made by the antimeridian cut are not on it
        _, _, dist = GEOD.inv(np.full(rim.sum(), lon), np.full(rim.sum(), lat), *xy[rim].T)
        # on one circle just outside the rim (equal-area vertices, +0.08 % for n = 64)
        assert np.all(dist > 500 * diameter) and np.all(dist < 500.5 * diameter)
        assert np.ptp(dist) < 1e-6 * diameter * 500


def test_geopackage_without_points_layer_by_default(tmp_path, catalog):
    out = write_geopackage(tmp_path / "c.gpkg", catalog, layer="found")
    assert pyogrio.list_layers(out).tolist() == [["found", "MultiPolygon"]]


def test_geopackage_only_fields_present(tmp_path):
    cat = CraterCatalog.from_craters([Crater(1.0, 2.0, 3.0)])
    out = write_geopackage(tmp_path / "c.gpkg", cat)
    assert list(pyogrio.read_info(out)["fields"]) == ["lon", "lat", "diameter_km"]


def test_empty_catalogue_gives_empty_layers(tmp_path):
    cat = CraterCatalog.empty()
    out = write_geopackage(tmp_path / "e.gpkg", cat, points_layer="crater_centres")
    for layer, kind in (("craters", "MultiPolygon"), ("crater_centres", "Point")):
        info = pyogrio.read_info(out, layer=layer)
        assert info["features"] == 0 and info["geometry_type"] == kind
        assert list(info["fields"]) == ["lon", "lat", "diameter_km"]
        assert pyproj.CRS(info["crs"]).equals(mars_geographic_crs(), ignore_axis_order=True)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"layer": ""}, "a layer name must be a non-empty string, got ''"),
        ({"points_layer": "craters"}, "the point layer needs its own name"),
    ],
)
def test_geopackage_rejects_bad_layer_names(tmp_path, catalog, kwargs, match):
    with pytest.raises(CraterValueError, match=match):
        write_geopackage(tmp_path / "c.gpkg", catalog, **kwargs)
    assert folder_files(tmp_path) == []


def test_gdal_failure_becomes_output_write_error(tmp_path, catalog, monkeypatch):
    def fail(*args, **kwargs):
        raise pyogrio.errors.DataSourceError("disk I/O error")

    monkeypatch.setattr(pyogrio, "write_dataframe", fail)
    with pytest.raises(OutputWriteError, match=r"cannot write GeoPackage .*disk I/O error"):
        write_geopackage(tmp_path / "c.gpkg", catalog)
    assert folder_files(tmp_path) == []


# ----------------------------------------------------------------------- CSV
def test_csv_round_trip(tmp_path, catalog):
    out = write_csv(tmp_path / "c.csv", catalog)
    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == CSV_COLUMNS
    records = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    assert len(records) == 4
    assert records[0] == {
        "source": "tile_a", "x_px": "100.0", "y_px": "200.0", "diameter_px": "86.4",
        "diameter_km": "20.0", "lon": "12.5", "lat": "-3.0", "confidence": "0.9",
    }  # fmt: skip
    assert records[1]["lon"] == "179.9" and records[1]["x_px"] == ""
    assert records[2]["lon"] == "-160.0" and records[2]["confidence"] == ""
    assert records[3]["source"] == "" and records[3]["lon"] == "" and records[3]["lat"] == ""


def test_csv_keeps_full_precision(tmp_path):
    cat = CraterCatalog.from_craters([Crater(0.1 + 0.2, 1 / 3, 2 / 7)])
    out = write_csv(tmp_path / "c.csv", cat)
    with open(out, newline="", encoding="utf-8") as f:
        (row,) = list(csv.DictReader(f))
    assert float(row["lon"]) == 0.1 + 0.2 and float(row["diameter_km"]) == 2 / 7


def test_csv_empty_catalogue_has_header_only(tmp_path):
    out = write_csv(tmp_path / "e.csv", CraterCatalog.empty())
    assert out.read_text().splitlines() == [",".join(CSV_COLUMNS)]


# ---------------------------------------------------------------------- diam
def read_diam(path: Path) -> dict:
    """Read a .diam file by craterstats' rules (gm.read_textstructure): '#' lines
    are comments, ``key = value`` pairs, a table ``crater = {f1, f2`` closed by ``}``."""
    lines = [ln for ln in path.read_text().splitlines() if not ln.lstrip().startswith("#")]
    out: dict = {}
    i = 0
    while i < len(lines):
        key, _, value = (s.strip() for s in lines[i].partition("="))
        if value.startswith("{"):
            names = [n.strip("{ ") for n in value.split(",")]
            table = {n: [] for n in names}
            i += 1
            while lines[i].strip() != "}":
                for n, v in zip(names, lines[i].split(), strict=True):
                    table[n].append(float(v))
                i += 1
            out[key] = table
        elif key:
            out[key] = float(value)
        i += 1
    return out


def test_diam_follows_craterstats_layout(tmp_path):
    cat = CraterCatalog.from_craters([Crater(190.0, 10.0, 50.0), Crater(20.0, -5.0, 3.25)])
    out = write_diam(tmp_path / "c.diam", cat, area_km2=12345.5)
    text = out.read_text()
    assert "\narea = 12345.500000\n" in text
    assert "\ncrater = {diameter, fraction, lon, lat\n" in text
    assert text.endswith("\n}\n")
    parsed = read_diam(out)
    assert parsed["area"] == 12345.5
    assert parsed["crater"] == {
        "diameter": [50.0, 3.25],
        "fraction": [1.0, 1.0],
        "lon": [-170.0, 20.0],
        "lat": [10.0, -5.0],
    }


def test_diam_without_lonlat_has_diameter_and_fraction(tmp_path, catalog):
    out = write_diam(tmp_path / "c.diam", catalog, area_km2=100)
    parsed = read_diam(out)
    assert parsed["crater"] == {"diameter": [20.0, 50.0, 30.0, 5.0], "fraction": [1.0] * 4}


def test_diam_estimates_a_missing_area_from_the_craters(tmp_path, caplog):
    cat = CraterCatalog.from_craters([Crater(179.95, 0.0, 10.0)])  # box ~ 10 km x 10 km
    out = write_diam(tmp_path / "c.diam", cat)
    assert parsed_area(out) == pytest.approx(100.0, rel=0.01)
    assert "area unknown" in out.read_text()
    assert "no counting area given" in caplog.text


def test_diam_area_estimate_spans_the_craters(tmp_path):
    # two 1-degree-apart craters on the equator: box 1 deg + one diameter wide
    d_km = 10.0
    cat = CraterCatalog.from_craters([Crater(0.0, 0.0, d_km), Crater(1.0, 0.0, d_km)])
    width = MARS.metres_per_degree / 1000 + d_km
    area = parsed_area(write_diam(tmp_path / "c.diam", cat))
    assert area == pytest.approx(width * d_km, rel=0.01)


def test_diam_area_estimate_around_a_pole_takes_every_longitude(tmp_path):
    cat = CraterCatalog.from_craters([Crater(0.0, 89.5, 200.0)])
    south = 89.5 - 100.0 / (MARS.metres_per_degree / 1000)
    cap = 2 * math.pi * (R / 1000) ** 2 * (1 - math.sin(math.radians(south)))
    area = parsed_area(write_diam(tmp_path / "c.diam", cat))
    assert area == pytest.approx(cap, rel=0.01)


def parsed_area(path: Path) -> float:
    return read_diam(path)["area"]


def test_diam_empty_catalogue(tmp_path):
    out = write_diam(tmp_path / "e.diam", CraterCatalog.empty(), area_km2=50.0)
    parsed = read_diam(out)
    assert parsed["area"] == 50.0 and parsed["crater"]["diameter"] == []
    unknown = read_diam(write_diam(tmp_path / "u.diam", CraterCatalog.empty()))
    assert unknown["area"] == 0.0  # craterstats reports "undefined area": to be filled in


@pytest.mark.parametrize("area", [0.0, -5.0, math.nan, math.inf])
def test_diam_rejects_bad_area(tmp_path, area):
    cat = CraterCatalog.from_craters([Crater(0.0, 0.0, 1.0)])
    with pytest.raises(CraterValueError, match="area_km2 must be a positive number of km"):
        write_diam(tmp_path / "c.diam", cat, area_km2=area)
    assert folder_files(tmp_path) == []


def test_diam_needs_an_area_for_pixel_only_craters(tmp_path):
    cat = CraterCatalog.from_craters([Crater(math.nan, math.nan, 5.0, x_px=1.0, y_px=2.0)])
    with pytest.raises(CraterValueError, match="give area_km2"):
        write_diam(tmp_path / "c.diam", cat)


# ------------------------------------------------------- dispatch and safety
@pytest.mark.parametrize("name", ["c.gpkg", "c.csv", "c.diam", "C.GPKG"])
def test_write_craters_dispatches_on_suffix(tmp_path, catalog, name):
    options = {"area_km2": 10.0} if name.endswith(".diam") else {}
    out = write_craters(tmp_path / name, catalog, **options)
    assert out.is_file()
    if name.lower().endswith(".gpkg"):
        assert pyogrio.read_info(out)["features"] == 4
    else:
        assert "20.0" in out.read_text()


def test_write_craters_passes_options(tmp_path, catalog):
    out = write_craters(tmp_path / "c.gpkg", catalog, points_layer="centres", n_vertices=16)
    assert [name for name, _ in pyogrio.list_layers(out)] == ["craters", "centres"]
    ring = pyogrio.read_dataframe(out, layer="craters").geometry[0].geoms[0]
    assert len(ring.exterior.coords) == 17


@pytest.mark.parametrize("name", ["c.shp", "c.txt", "craters"])
def test_write_craters_rejects_unknown_suffix(tmp_path, catalog, name):
    with pytest.raises(OutputWriteError, match=r"unsupported suffix .*use one of \.gpkg, \.csv"):
        write_craters(tmp_path / name, catalog)
    assert folder_files(tmp_path) == []


WRITERS = [
    ("c.gpkg", write_geopackage),
    ("c.csv", write_csv),
    ("c.diam", lambda p, c, **kw: write_diam(p, c, area_km2=1.0, **kw)),
]


@pytest.mark.parametrize(("name", "writer"), WRITERS)
def test_existing_output_is_kept_without_overwrite(tmp_path, catalog, name, writer):
    target = tmp_path / name
    target.write_bytes(b"precious")
    with pytest.raises(OutputExistsError, match="already exists; pass --overwrite"):
        writer(target, catalog)
    assert target.read_bytes() == b"precious"
    assert folder_files(tmp_path) == [name]
    writer(target, catalog, overwrite=True)
    assert target.read_bytes() != b"precious"
    assert folder_files(tmp_path) == [name]


@pytest.mark.parametrize(("name", "writer"), WRITERS)
def test_missing_folder_is_an_output_write_error(tmp_path, catalog, name, writer):
    with pytest.raises(OutputWriteError, match="does not exist; create it first"):
        writer(tmp_path / "missing" / name, catalog)


@pytest.mark.parametrize(("name", "writer"), WRITERS)
def test_folder_that_is_a_file_is_an_output_write_error(tmp_path, catalog, name, writer):
    (tmp_path / "plain").write_text("x")
    with pytest.raises(OutputWriteError, match="is not a folder"):
        writer(tmp_path / "plain" / name, catalog)


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
def test_unwritable_system_folder_is_an_output_write_error(catalog):
    # /proc refuses new files even to root, unlike permission bits
    with pytest.raises(OutputWriteError, match="cannot write in folder '/proc'"):
        write_csv("/proc/craters.csv", catalog)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permission bits")
def test_read_only_folder_is_an_output_write_error(tmp_path, catalog):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(OutputWriteError, match="cannot write in folder"):
            write_geopackage(folder / "c.gpkg", catalog)
    finally:
        folder.chmod(0o700)


def test_geopackage_failure_mid_write_leaves_nothing(tmp_path, catalog, monkeypatch):
    real = pyogrio.write_dataframe
    calls = []

    def second_layer_fails(df, path, **kwargs):
        calls.append(kwargs["layer"])
        if len(calls) == 2:  # the polygon layer is already in the temporary file
            assert any(name.startswith(".c.tmp-") for name in folder_files(tmp_path))
            raise RuntimeError("interrupted")
        real(df, path, **kwargs)

    monkeypatch.setattr(pyogrio, "write_dataframe", second_layer_fails)
    (tmp_path / "c.gpkg").write_bytes(b"old")
    with pytest.raises(RuntimeError, match="interrupted"):
        write_geopackage(tmp_path / "c.gpkg", catalog, points_layer="pts", overwrite=True)
    assert calls == ["craters", "pts"]
    assert folder_files(tmp_path) == ["c.gpkg"]  # no temporary file, no journal
    assert (tmp_path / "c.gpkg").read_bytes() == b"old"


def test_csv_failure_mid_write_leaves_nothing(tmp_path, catalog, monkeypatch):
    real_rows = vector_io._csv_rows

    def rows_then_fail(columns, n):
        rows = real_rows(columns, n)
        yield next(rows)
        raise RuntimeError("interrupted")

    monkeypatch.setattr(vector_io, "_csv_rows", rows_then_fail)
    with pytest.raises(RuntimeError, match="interrupted"):
        write_csv(tmp_path / "c.csv", catalog)
    assert folder_files(tmp_path) == []
