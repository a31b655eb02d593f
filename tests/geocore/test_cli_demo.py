"""Tests of ``geocore demo`` (synthetic scene, detection, scores)."""

from __future__ import annotations

import pyogrio
import pytest
import rasterio

from geocore.cli import main


@pytest.fixture(scope="module")
def oracle_231(tmp_path_factory, oracle_model):
    return oracle_model(tmp_path_factory.mktemp("model") / "oracle.onnx", 231.5)


def test_demo_writes_every_output(tmp_path, capsys, oracle_231):
    out = tmp_path / "demo"
    args = ["demo", "--out", str(out), "--model", str(oracle_231), "--size-px", "256"]
    assert main([*args, "--craters", "30", "--seed", "3"]) == 0
    printed = capsys.readouterr().out
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "craters.csv", "craters.diam", "craters.gpkg", "overlay.png", "scene.tif", "truth.gpkg",
    ]  # fmt: skip
    n = pyogrio.read_info(out / "craters.gpkg", layer="craters")["features"]
    assert f"craters found: {n} in" in printed
    assert "against the known craters: precision" in printed and "2-4 km" in printed
    assert pyogrio.read_info(out / "truth.gpkg", layer="craters")["features"] == 30
    with rasterio.open(out / "scene.tif") as scene:
        assert scene.shape == (256, 256) and scene.crs is not None
        assert abs(scene.transform.a - 231.5418) < 1e-3  # THEMIS 256 px/degree, in metres
    assert "area = " in (out / "craters.diam").read_text()


def test_demo_refuses_a_non_empty_folder_without_overwrite(tmp_path, capsys, oracle_231):
    out = tmp_path / "demo"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    assert main(["demo", "--out", str(out), "--model", str(oracle_231), "--size-px", "256"]) == 2
    assert "is not empty; pass --overwrite" in capsys.readouterr().err
    assert (out / "mine.txt").read_text() == "keep"


def test_demo_without_a_model_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("geocore.model_info.default_model_path", lambda: None)
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--size-px", "256"]) == 2
    assert "--model" in capsys.readouterr().err
    assert not out.exists()


def test_demo_with_the_bundled_model(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--size-px", "384", "--craters", "40"]) == 0
    printed = capsys.readouterr().out
    assert "crater_default.onnx (231.5 m/px, ring targets)" in printed
    assert "against the known craters: precision" in printed
    assert (out / "craters.gpkg").is_file() and (out / "overlay.png").is_file()
