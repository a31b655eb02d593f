"""End-to-end tests of the block-wise detector and the detect / extract commands.

The "model" is a tiny ONNX graph whose output is known exactly: ``sigmoid(10 x)``
of the scaled input. Fed with a raster on which craters are drawn as ring
targets, it returns the ring map itself, so the whole pipeline (blocks,
resampling, windowed inference, extraction, seams, lon/lat, outputs) can be
checked against the craters that were drawn.
"""

from __future__ import annotations

import numpy as np
import pytest

from geocore.cli import main
from geocore.crater import CraterCatalog
from geocore.detection import ArraySource, detect_craters, plan_blocks
from geocore.errors import CancelledError, GridError
from geocore.extraction import ExtractionParams
from geocore.metrics import evaluate
from geocore.synthetic import random_catalog
from geocore.targets import rasterize_targets
from geocore.themis import ThemisTile

TILE = ThemisTile.from_name("thm_dir_N-30_090")
MODEL_GRID = TILE.grid.scaled(8)  # 960 px, 1852 m/px
RASTER_GRID = TILE.grid.scaled(4)  # 1920 px, 926 m/px: the detector resamples by 2
RING_PX = 4.0


@pytest.fixture(scope="module")
def truth():
    return random_catalog(TILE.bounds_deg, 60, 12.0, 80.0, seed=4)


@pytest.fixture(scope="module")
def ring_raster(truth):
    """Ring targets drawn on the raster grid, as 0/255 (rings 2x wider at 2x finer px)."""
    mask = rasterize_targets(RASTER_GRID, truth, kind="ring", ring_width_px=2 * RING_PX)
    return (mask * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def model(tmp_path_factory, oracle_model):
    from geocore.inference import OnnxCraterModel

    path = oracle_model(
        tmp_path_factory.mktemp("m") / "oracle.onnx", MODEL_GRID.resolution_m, ring_width_px=RING_PX
    )
    return OnnxCraterModel.load(path)


def params():
    return ExtractionParams(target_kind="ring", ring_width_px=RING_PX, threshold=0.5)


def run(model, raster, block_px, **kwargs):
    source = ArraySource(raster, RASTER_GRID, name="scene.tif")
    return detect_craters(
        source,
        model.predict,
        model_resolution_m=model.info.resolution_m,
        extraction=params(),
        min_diameter_km=10.0,
        max_diameter_km=100.0,
        block_px=block_px,
        **kwargs,
    )


def test_plan_blocks_cover_the_raster_once():
    plans = plan_blocks(1000, 700, 256, 40)
    cover = np.zeros((700, 1000), int)
    for p in plans:
        cover[
            p.core_row_off : p.core_row_off + p.core_height,
            p.core_col_off : p.core_col_off + p.core_width,
        ] += 1
        assert p.col_off >= 0 and p.col_off + p.width <= 1000
    assert np.all(cover == 1)


def test_detects_the_drawn_craters_across_blocks(model, ring_raster, truth):
    fractions = []
    found = run(model, ring_raster, block_px=256, progress=fractions.append)
    assert fractions[-1] == pytest.approx(1.0)
    assert np.all(np.diff(fractions) >= 0)
    metrics = evaluate(found, truth, region=RASTER_GRID, min_diameter_km=12, max_diameter_km=80)
    assert metrics.f1 >= 0.9, metrics.to_table()
    assert metrics.median_diameter_error < 0.05
    assert set(found.source) == {"scene.tif"}
    # pixel columns are in the input raster's pixels (926 m/px), not the model's
    lon, lat = RASTER_GRID.pixel_to_lonlat(found.x_px, found.y_px)
    assert np.allclose(lon, found.lon_deg, atol=1e-6) and np.allclose(lat, found.lat_deg)
    assert np.allclose(found.diameter_px * RASTER_GRID.resolution_m / 1000, found.diameter_km)


def test_block_seams_neither_lose_nor_double_craters(model, ring_raster):
    small = run(model, ring_raster, block_px=256)
    whole = run(model, ring_raster, block_px=4096)
    assert len(small) == len(whole)
    assert evaluate(small, whole).f1 == pytest.approx(1.0)


def test_cancel_stops_with_nothing(model, ring_raster):
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(CancelledError):
        run(model, ring_raster, block_px=256, cancel=cancel)


def test_all_nodata_raster_gives_no_crater(model):
    source = ArraySource(
        np.zeros((300, 200), np.uint8), RASTER_GRID.window(0, 0, 200, 300), nodata=0, name="empty"
    )
    found = detect_craters(
        source,
        model.predict,
        model_resolution_m=model.info.resolution_m,
        extraction=params(),
        min_diameter_km=10,
        max_diameter_km=100,
    )
    assert len(found) == 0 and isinstance(found, CraterCatalog)


def test_absurd_resolution_factor_is_refused(model, ring_raster):
    source = ArraySource(ring_raster, RASTER_GRID, name="x")
    with pytest.raises(GridError, match="times finer/coarser"):
        detect_craters(source, model.predict, model_resolution_m=1e6, extraction=params())


# ----------------------------------------------------------------- commands
@pytest.fixture(scope="module")
def files(tmp_path_factory, ring_raster, oracle_model):
    from PIL import Image

    from geocore.raster_io import write_geotiff

    folder = tmp_path_factory.mktemp("detect")
    write_geotiff(folder / "scene.tif", ring_raster, RASTER_GRID)
    Image.fromarray(ring_raster[:960, :960]).save(folder / "plain.png")
    oracle_model(folder / "oracle.onnx", MODEL_GRID.resolution_m, ring_width_px=RING_PX)
    return folder


def test_cli_detect_writes_gpkg_and_csv(files, tmp_path, capsys):
    import csv

    import pyogrio

    gpkg, table = tmp_path / "craters.gpkg", tmp_path / "craters.csv"
    args = [
        "detect",
        str(files / "scene.tif"),
        "--model",
        str(files / "oracle.onnx"),
        "--out",
        str(gpkg),
        "--csv",
        str(table),
        "--min-diameter-km",
        "10",
        "--max-diameter-km",
        "100",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    n = pyogrio.read_info(gpkg, layer="craters")["features"]
    assert f"{n} craters written" in out and n > 40
    with open(table, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == n
    assert list(rows[0])[:8] == [
        "source",
        "x_px",
        "y_px",
        "diameter_px",
        "diameter_km",
        "lon",
        "lat",
        "confidence",
    ]
    before = gpkg.read_bytes()
    assert main(args) == 2
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    assert gpkg.read_bytes() == before


def test_cli_detect_plain_image_pixels_only(files, tmp_path, capsys):
    png = str(files / "plain.png")
    model = [
        "--model",
        str(files / "oracle.onnx"),
        "--min-diameter-km",
        "10",
        "--max-diameter-km",
        "100",
    ]
    assert main(["detect", png, *model, "--csv", str(tmp_path / "a.csv")]) == 2
    assert "has no georeferencing; give its resolution" in capsys.readouterr().err
    args = ["detect", png, *model, "--resolution-m", "926.2"]
    assert main([*args, "--out", str(tmp_path / "a.gpkg")]) == 2
    assert "pixel coordinates only; write them with --csv" in capsys.readouterr().err
    assert main([*args, "--csv", str(tmp_path / "a.csv")]) == 0
    text = (tmp_path / "a.csv").read_text().splitlines()
    assert len(text) > 1 and ",,," not in text[0]


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda d: d / "missing.tif", "does not exist"),
        (lambda d: (d / "notes.tif").write_text("x") and d / "notes.tif", "cannot read"),
    ],
)
def test_cli_detect_bad_rasters(files, tmp_path, capsys, make, error):
    path = make(tmp_path)
    args = [
        "detect",
        str(path),
        "--model",
        str(files / "oracle.onnx"),
        "--csv",
        str(tmp_path / "o.csv"),
    ]
    assert main(args) == 2
    assert error in capsys.readouterr().err


def test_cli_detect_needs_an_output_and_a_model(files, capsys):
    assert main(["detect", str(files / "scene.tif"), "--model", str(files / "oracle.onnx")]) == 2
    assert "give at least one output" in capsys.readouterr().err


def test_cli_detect_refuses_earth_crs(tmp_path, files, capsys):
    import rasterio

    path = tmp_path / "earth.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=8,
        height=8,
        count=1,
        dtype="uint8",
        crs="EPSG:4326",
        transform=rasterio.Affine(0.1, 0, 0, 0, -0.1, 0),
    ) as ds:
        ds.write(np.zeros((1, 8, 8), np.uint8))
    args = [
        "detect",
        str(path),
        "--model",
        str(files / "oracle.onnx"),
        "--csv",
        str(tmp_path / "o.csv"),
    ]
    assert main(args) == 2
    assert "is not a Mars CRS" in capsys.readouterr().err


def test_cli_extract_reads_a_map_named_after_its_tile(tmp_path, truth, capsys):
    from PIL import Image

    grid = TILE.grid.scaled(8)
    mask = rasterize_targets(grid, truth, kind="ring", ring_width_px=RING_PX)
    path = tmp_path / "thm_dir_N-30_090_rings.png"
    Image.fromarray((mask * 255).astype(np.uint8)).save(path)
    out = tmp_path / "found.csv"
    args = [
        "extract",
        str(path),
        "--kind",
        "ring",
        "--ring-width-px",
        "4",
        "--csv",
        str(out),
        "--min-diameter-km",
        "10",
        "--max-diameter-km",
        "100",
    ]
    assert main(args) == 0
    from geocore.catalog import read_catalog

    found = read_catalog(out)
    assert evaluate(found, truth, region=grid, min_diameter_km=12, max_diameter_km=80).f1 >= 0.9
