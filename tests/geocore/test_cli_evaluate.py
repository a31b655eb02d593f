"""Tests of ``geocore evaluate`` (geocore.cli.evaluate)."""

from __future__ import annotations

import json

import pytest

import geocore.cli as cli
from geocore.cli import main


@pytest.fixture(autouse=True)
def evaluate_command(monkeypatch):
    """Register the command even before it is listed in COMMAND_MODULES."""
    if "evaluate" not in cli.COMMAND_MODULES:
        monkeypatch.setattr(cli, "COMMAND_MODULES", (*cli.COMMAND_MODULES, "evaluate"))


REFERENCE = """\
lon,lat,diameter_km
10.0,0.0,3.0
11.0,0.0,20.0
12.0,0.0,6.0
0.01,0.0,10.0
"""
# one match (3.1 km), one false crater (5 km), one cut by the box edge (0.02 E)
DETECTIONS = """\
lon,lat,diameter_km,confidence
10.0,0.0,3.1,0.9
15.0,0.0,5.0,0.8
0.02,0.0,10.0,0.7
"""


@pytest.fixture
def files(tmp_path):
    ref, det = tmp_path / "reference.csv", tmp_path / "detections.csv"
    ref.write_text(REFERENCE)
    det.write_text(DETECTIONS)
    return det, ref


def test_prints_a_table(files, capsys):
    det, ref = files
    assert main(["evaluate", str(det), "--catalog", str(ref), "--bbox", "0", "-5", "20", "5"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"3 detections ({det}) against 4 reference craters ({ref})"
    assert out[1].startswith("matched on the sphere; region bbox 0 -5 20 5")
    rows = {line.split()[0]: line.split() for line in out[3:8]}
    # TP, TP, FN, FP: the cut crater and its detection are matched, so both are ignored
    assert rows["all"][1:5] == ["1", "1", "2", "1"]
    assert rows["2-4"][1:5] == ["1", "1", "0", "0"]
    assert rows["4-8"][1:5] == ["0", "0", "1", "1"]
    assert rows["16-32"][1:5] == ["0", "0", "1", "0"]
    assert "not scored: 1 detections, 1 reference craters" in out[8]


def test_json_output_parses(files, capsys):
    det, ref = files
    argv = ["evaluate", str(det), "--catalog", str(ref), "--json", "--min-diameter-km", "2",
            "--max-diameter-km", "32", "--bins", "2", "8", "32"]  # fmt: skip
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["n_detections"] == 3 and data["n_reference"] == 4
    assert (data["true_positives"], data["false_positives"], data["false_negatives"]) == (2, 1, 2)
    assert data["region"] is None and data["mode"] == "sphere"
    assert [(b["min_diameter_km"], b["max_diameter_km"]) for b in data["bins"]] == [
        (2, 8), (8, 32),
    ]  # fmt: skip
    assert data["bins"][1]["precision"] == 1.0  # the 10 km detection


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--bbox", "0", "5", "20", "-5"], "south 5 above north -5"),
        (["--bins", "4"], "at least two edges"),
        (["--bins", "8", "4"], "0 <= low < high"),
        (["--min-diameter-km", "32", "--max-diameter-km", "2"], "swap them"),
        (["--diameter-margin", "-1"], "diameter_margin must be a fraction"),
        (["--resolution-m", "100"], "--yolo-images and --resolution-m go together"),
        (["--bbox", "0", "-5", "20", "5", "--image-size", "416", "416"], "not both"),
        (["--image-size", "416", "416"], "without georeferencing"),
        (["--match", "pixel"], "cannot compare the catalogues by pixels"),
    ],
)
def test_bad_options_exit_2(files, capsys, extra, message):
    det, ref = files
    assert main(["evaluate", str(det), "--catalog", str(ref), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("geocore evaluate: error:") and message in err


def test_missing_or_unreadable_files_exit_2(files, tmp_path, capsys):
    det, ref = files
    assert main(["evaluate", str(tmp_path / "nope.csv"), "--catalog", str(ref)]) == 2
    assert "nope.csv' does not exist" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    assert main(["evaluate", str(det), "--catalog", str(bad)]) == 2
    assert "match no known catalogue" in capsys.readouterr().err


def test_pixel_detections_against_yolo_labels(tmp_path, capsys):
    from PIL import Image

    images, labels = tmp_path / "images", tmp_path / "labels"
    images.mkdir()
    labels.mkdir()
    for name in ("a", "b"):
        Image.new("L", (100, 100)).save(images / f"{name}.png")
    # a: a 20 px crater at (50, 50) and one cut by the left edge; b: a 30 px crater
    (labels / "a.txt").write_text("0 0.505 0.505 0.2 0.2\n0 0.05 0.5 0.1 0.3\n")
    (labels / "b.txt").write_text("0 0.3 0.3 0.3 0.3\n")
    det = tmp_path / "det.csv"
    det.write_text(
        "source,x_px,y_px,diameter_px,diameter_km\n"
        "a.png,51,49,22,2.2\n"  # matches a's crater
        "a.png,-4,50,28,2.8\n"  # the cut crater (its box completed to a 30 px circle at x -5.5):
        # both cross the image edge, so the pair is matched and ignored
        "b.png,80,80,30,3.0\n"  # wrong place in b: FP, and b's crater an FN
    )
    argv = ["evaluate", str(det), "--catalog", str(labels), "--yolo-images", str(images),
            "--resolution-m", "100", "--image-size", "100", "100", "--json"]  # fmt: skip
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["mode"] == "pixel" and data["region"] == "pixel grid 100 x 100 px"
    assert (data["true_positives"], data["false_positives"], data["false_negatives"]) == (1, 1, 1)
    assert data["median_diameter_error"] == pytest.approx(0.1)  # 22 px for 20 px


@pytest.mark.realdata
def test_robbins_tile_against_the_whole_catalogue(shared_data, capsys):
    folder = shared_data / "robbins2012_pm30"
    tile = folder / "CSV_Tile_03_-30_0_90_120_px.csv"
    argv = ["evaluate", str(tile), "--catalog", str(folder), "--bbox", "90", "-30", "120", "0",
            "--min-diameter-km", "2", "--max-diameter-km", "32", "--json"]  # fmt: skip
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["true_positives"] > 3000
    assert (data["false_positives"], data["false_negatives"], data["f1"]) == (0, 0, 1.0)
    assert data["ignored_reference"] > 0  # craters of the next tiles cut by the box edge
