"""Tests of ``geocore catalog`` (geocore.cli.catalog)."""

from __future__ import annotations

import numpy as np
import pytest

from geocore.catalog import read_catalog
from geocore.cli import main

TSV = (
    "CRATER_ID\tLATITUDE_CIRCLE_IMAGE\tLONGITUDE_CIRCLE_IMAGE\tDIAM_CIRCLE_IMAGE\tNAME\n"
    "01-1\t-5.4\t137.4\t154.0\tGale\n"
    "01-2\t-4.0\t138.0\t3.5\tcôté\n"
    "01-3\t10.0\t350.0\t12.0\t\n"
    "01-4\t10.0\t-10.0\t12.0\t\n"  # the same crater as 01-3, 0..360 vs -180..180
    "01-5\t20.0\t10.0\t1.2\t\n"
)


@pytest.fixture
def tsv(tmp_path):
    path = tmp_path / "RobbinsCraters_20121016.tsv"
    path.write_bytes(TSV.encode("latin-1"))
    return path


@pytest.fixture
def fake_writer(monkeypatch):
    """Replace the vector writer by one that records what it was given."""
    calls = []

    def write_craters(path, catalog, overwrite=False, **options):
        calls.append((path, catalog, overwrite))
        path.write_text(f"{len(catalog)}\n")
        return path

    monkeypatch.setattr("geocore.vector_io.write_craters", write_craters)
    return calls


def test_filters_drops_duplicates_and_summarises(tsv, tmp_path, fake_writer, capsys):
    out = tmp_path / "out.gpkg"
    argv = ["catalog", str(tsv), "--out", str(out), "--min-diameter-km", "2",
            "--max-diameter-km", "32", "--bbox", "-20", "-10", "140", "15"]  # fmt: skip
    assert main(argv) == 0
    (path, catalog, overwrite), = fake_writer  # fmt: skip
    assert path == out and overwrite is False
    np.testing.assert_array_equal(catalog.diameter_km, [3.5, 12.0])
    np.testing.assert_array_equal(catalog.lon_deg, [138.0, -10.0])
    assert capsys.readouterr().out.strip() == (
        f"2 craters written to {out} (of 5 read; 1 duplicates dropped)"
    )


def test_writes_a_csv_that_reads_back(tsv, tmp_path, capsys):
    out = tmp_path / "craters.csv"
    assert main(["catalog", str(tsv), "--out", str(out)]) == 0
    assert f"4 craters written to {out}" in capsys.readouterr().out
    back = read_catalog(out)
    np.testing.assert_allclose(np.sort(back.diameter_km), [1.2, 3.5, 12.0, 154.0])
    np.testing.assert_allclose(np.sort(back.lon_deg), [-10.0, 10.0, 137.4, 138.0])


def test_existing_output_needs_overwrite(tsv, tmp_path, fake_writer, capsys):
    out = tmp_path / "out.csv"
    out.write_text("keep me\n")
    assert main(["catalog", str(tsv), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "geocore catalog: error:" in err and "already exists; pass --overwrite" in err
    assert out.read_text() == "keep me\n" and not fake_writer
    assert main(["catalog", str(tsv), "--out", str(out), "--overwrite"]) == 0
    assert fake_writer[0][2] is True


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (
            ["--bbox", "0", "10", "20", "5"],
            "bbox (0.0, 10.0, 20.0, 5.0) has south 10 above north 5",
        ),
        (["--bbox", "0", "-100", "20", "5"], r"latitude outside [-90, 90]"),
        (["--min-diameter-km", "32", "--max-diameter-km", "2"], "min diameter 32 km is above"),
        (["--min-diameter-km", "-2"], "min diameter -2.0 km must be a number >= 0"),
    ],
)
def test_bad_filters_are_clear_errors(tsv, tmp_path, fake_writer, capsys, extra, match):
    assert main(["catalog", str(tsv), "--out", str(tmp_path / "o.csv"), *extra]) == 2
    assert match in capsys.readouterr().err
    assert not fake_writer


def test_non_numeric_bbox_is_a_usage_error(tsv, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["catalog", str(tsv), "--out", str(tmp_path / "o.csv"), "--bbox", "a", "0", "1", "2"])
    assert info.value.code == 2
    assert "--bbox: invalid float value: 'a'" in capsys.readouterr().err


def test_unknown_output_suffix(tsv, tmp_path, fake_writer, capsys):
    assert main(["catalog", str(tsv), "--out", str(tmp_path / "o.shp")]) == 2
    assert "unknown suffix '.shp'; use one of .gpkg, .csv, .diam" in capsys.readouterr().err


def test_bad_source(tmp_path, fake_writer, capsys):
    assert main(["catalog", str(tmp_path / "none.tsv"), "--out", str(tmp_path / "o.csv")]) == 2
    assert "does not exist" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("lon,lat,diameter_km\n1,2,-3\n")
    assert main(["catalog", str(bad), "--out", str(tmp_path / "o.csv")]) == 2
    assert "line 2: diameter_km -3 must be a positive number" in capsys.readouterr().err
    assert not fake_writer


def test_help_states_units_and_longitude_conventions(capsys):
    with pytest.raises(SystemExit) as info:
        main(["catalog", "--help"])
    assert info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "Diameters are in km" in text
    assert "-180..180 or 0..360" in text
    assert "--min-diameter-km D" in text and ".gpkg, .csv or .diam" in text


def test_writes_a_geopackage_that_reads_back(tsv, tmp_path, capsys):
    out = tmp_path / "craters.gpkg"
    assert main(["catalog", str(tsv), "--out", str(out), "--bbox", "350", "0", "10", "15"]) == 0
    assert f"1 craters written to {out}" in capsys.readouterr().out
    back = read_catalog(out)
    assert (back.lon_deg.tolist(), back.lat_deg.tolist(), back.diameter_km.tolist()) == (
        [-10.0],
        [10.0],
        [12.0],
    )


def test_area_is_passed_to_the_diam_writer_only(tsv, tmp_path, fake_writer, monkeypatch, capsys):
    options = {}
    monkeypatch.setattr(
        "geocore.vector_io.write_craters",
        lambda path, catalog, overwrite=False, **kw: options.update(kw),
    )
    assert main(["catalog", str(tsv), "--out", str(tmp_path / "o.diam"), "--area-km2", "1e6"]) == 0
    assert options == {"area_km2": 1e6}
    assert main(["catalog", str(tsv), "--out", str(tmp_path / "o.csv"), "--area-km2", "1e6"]) == 2
    assert "--area-km2 applies to a .diam output only" in capsys.readouterr().err
