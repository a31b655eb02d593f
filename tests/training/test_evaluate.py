"""Tests of ``python -m training.evaluate`` (crater-level figures of an exported model)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from training.evaluate import load_image_set, main

SIZE_PX = 416
# (x_px, y_px, diameter_px) per image, at 100 m/px; the last of image b is cut by the edge
CRATERS = {
    "a.png": [(120.0, 140.0, 60.0), (300.0, 280.0, 120.0)],
    "b.png": [(200.0, 210.0, 90.0), (60.0, 330.0, 44.0), (405.0, 100.0, 80.0)],
    "c.png": [],
}


def _draw(craters, width_px: float = 4.0) -> np.ndarray:
    yy, xx = np.mgrid[0:SIZE_PX, 0:SIZE_PX]
    image = np.zeros((SIZE_PX, SIZE_PX), np.uint8)
    for x, y, d in craters:
        dist = np.hypot(xx - x, yy - y)
        image[np.abs(dist - d / 2) <= width_px / 2] = 255
    return image


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("labelled")
    (root / "images").mkdir()
    (root / "labels_robbins").mkdir()
    for name, craters in CRATERS.items():
        Image.fromarray(_draw(craters)).save(root / "images" / name)
        lines = []
        for x, y, d in craters:  # boxes clipped to the image, as in the real label files
            x0, x1 = max(x + 0.5 - d / 2, 0), min(x + 0.5 + d / 2, SIZE_PX)
            y0, y1 = max(y + 0.5 - d / 2, 0), min(y + 0.5 + d / 2, SIZE_PX)
            xc, yc, w, h = np.array([x0 + x1, y0 + y1, 2 * (x1 - x0), 2 * (y1 - y0)]) / 2 / SIZE_PX
            lines.append(f"0 {xc:.6f} {yc:.6f} {w:.6f} {h:.6f}")
        (root / "labels_robbins" / (name[:-4] + ".txt")).write_text("\n".join(lines))
    return root


@pytest.fixture(scope="module")
def model_path(data, oracle_model):
    # rings 4 px wide at 100 m/px are 2 px wide at the model's 200 m/px
    return oracle_model(data / "oracle.onnx", 200.0, ring_width_px=2.0, threshold=0.5)


def test_load_image_set_reads_labels_in_pixels(data):
    images = load_image_set(data, ["a.png", "b.png"])
    assert [p.name for p in images.paths] == ["a.png", "b.png"]
    assert len(images.truth) == 5
    expected_km = [4.4, 6.0, 8.0, 9.0, 12.0]  # the clipped box is completed to its circle
    np.testing.assert_allclose(np.sort(images.truth.diameter_km), expected_km, rtol=1e-5)


def test_oracle_scores_perfectly_and_edge_craters_are_not_counted(data, model_path, tmp_path):
    out = tmp_path / "figures.json"
    args = [str(model_path), "--data", str(data), "--split", "all", "--json", str(out)]
    assert main([*args, "--min-diameter-km", "3", "--max-diameter-km", "20"]) == 0
    report = json.loads(out.read_text())
    row = report["results"][0]
    assert report["images"] == 3
    # 4 whole craters found; the one cut by the right edge is neither a FP nor a FN
    assert (row["tp"], row["fp"], row["fn"]) == (4, 0, 0)
    assert row["f1"] == 1.0
    assert row["median_diameter_error"] < 0.05


def test_threshold_sweep_runs_the_network_once_per_image(data, model_path, tmp_path, capsys):
    out = tmp_path / "sweep.json"
    args = [str(model_path), "--data", str(data), "--split", "all", "--json", str(out)]
    assert main([*args, "--threshold", "0.3", "0.9", "--min-diameter-km", "3"]) == 0
    rows = json.loads(out.read_text())["results"]
    assert [r["threshold"] for r in rows] == [0.3, 0.9]
    assert "| threshold 0.3 | all |" in capsys.readouterr().out


def test_validation_split_of_a_run(data, model_path, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "dataset.json").write_text(json.dumps({"train_ids": ["a.png"], "val_ids": ["b.png"]}))
    out = tmp_path / "val.json"
    args = [str(model_path), "--run", str(run), "--data", str(data), "--json", str(out)]
    assert main([*args, "--min-diameter-km", "3"]) == 0
    report = json.loads(out.read_text())
    assert report["images"] == 1 and report["split"] == "validation"
    assert report["results"][0]["tp"] == 2


def test_missing_split_images_are_named(data, model_path, tmp_path):
    run = tmp_path / "run2"
    run.mkdir()
    (run / "dataset.json").write_text(json.dumps({"train_ids": [], "val_ids": ["zzz.png"]}))
    with pytest.raises(SystemExit, match=r"zzz\.png"):
        main([str(model_path), "--run", str(run), "--data", str(data)])


def test_images_named_in_a_file(data, model_path, tmp_path):
    ids = tmp_path / "ids.txt"
    ids.write_text("a.png\n\nc.png\n")
    out = tmp_path / "ids.json"
    args = [str(model_path), "--ids", str(ids), "--data", str(data), "--json", str(out)]
    assert main([*args, "--min-diameter-km", "3"]) == 0
    report = json.loads(out.read_text())
    assert report["images"] == 2 and report["results"][0]["tp"] == 2


def test_sweep_of_an_extraction_field(data, model_path, tmp_path):
    out = tmp_path / "grid.json"
    args = [str(model_path), "--data", str(data), "--split", "all", "--json", str(out)]
    args += ["--threshold", "0.5", "--sweep", "correlation_threshold=0.4,0.6"]
    assert main([*args, "--min-diameter-km", "3"]) == 0
    rows = json.loads(out.read_text())["results"]
    assert [(r["threshold"], r["correlation_threshold"]) for r in rows] == [(0.5, 0.4), (0.5, 0.6)]
    assert all(r["tp"] == 4 for r in rows)


def test_overlays_are_written_per_image(data, model_path, tmp_path):
    out = tmp_path / "overlays"
    args = [str(model_path), "--data", str(data), "--split", "all", "--overlays", str(out)]
    assert main(args) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png", "c.png"]
    with Image.open(out / "a.png") as im:
        assert im.mode == "RGB" and im.size == (SIZE_PX, SIZE_PX)


@pytest.mark.realdata
def test_bundled_model_on_its_held_out_real_images(shared_data, tmp_path):
    """The default model's card figures (F1 0.787 on 117 held-out THEMIS images), re-measured."""
    from geocore.model_info import default_model_path

    model = default_model_path()
    ids = model.parent / "crater_default_validation.txt"
    out = tmp_path / "real.json"
    data = shared_data / "themis_dayir_100m" / "train"
    assert main([str(model), "--ids", str(ids), "--data", str(data), "--json", str(out)]) == 0
    row = json.loads(out.read_text())["results"][0]
    assert row["threshold"] == 0.6
    assert row["f1"] > 0.76 and row["precision"] > 0.9 and row["median_diameter_error"] < 0.05


def test_limit_counts_only_the_labels_of_the_images_evaluated(data, model_path, tmp_path):
    out = tmp_path / "limit.json"
    args = [str(model_path), "--data", str(data), "--split", "all", "--limit", "1"]
    assert main([*args, "--min-diameter-km", "3", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["images"] == 1  # a.png: its 2 craters found, b.png's not counted as missed
    assert (report["results"][0]["tp"], report["results"][0]["fn"]) == (2, 0)
    assert "setting_keys" not in report["results"][0]
