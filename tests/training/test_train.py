"""End-to-end tests of ``python -m training.train`` on tiny synthetic data."""

import csv
import json

import pytest

from training.config import TrainConfig
from training.train import main

TINY = ["--preset", "S-5", "--tile-size-px", "128", "--synthetic-train-images", "24",
        "--synthetic-val-images", "8", "--batch-size", "4", "-q"]  # fmt: skip


def history(run):
    with open(run / "history.csv", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "s5"
    args = [*TINY, "--epochs", "2", "--learning-rate", "3e-3", "--crater-metric-every", "1"]
    assert main([*args, "--out", str(run)]) == 0
    return run


def test_smoke_train_writes_the_run_and_loss_falls(trained_run):
    names = {p.name for p in trained_run.iterdir()}
    assert {"config.json", "dataset.json", "history.csv", "metrics.json", "checkpoints",
            "training_curves.png", "validation_examples.png"} <= names  # fmt: skip
    assert {p.name for p in (trained_run / "checkpoints").iterdir()} == {"best.keras", "last.keras"}
    rows = history(trained_run)
    assert len(rows) == 2
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(rows[0])
    assert float(rows[1]["loss"]) < float(rows[0]["loss"])
    config = TrainConfig.load(trained_run)
    assert (config.preset, config.kernel_size, config.filter_multiple) == ("S-5", 3, 0.5)
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert metrics["epochs"] == 2 and metrics["parameters"] == 183_145
    with open(trained_run / "crater_metrics.csv", newline="") as handle:
        crater_rows = list(csv.DictReader(handle))
    assert [row["epoch"] for row in crater_rows] == ["1", "2"]
    assert {"precision", "recall", "f1", "median_diameter_error"} <= set(crater_rows[0])
    dataset = json.loads((trained_run / "dataset.json").read_text())
    assert not set(dataset["train_ids"]) & set(dataset["val_ids"])


def test_refuses_a_non_empty_run_folder(trained_run, capsys):
    before = (trained_run / "history.csv").read_text()
    assert main([*TINY, "--epochs", "1", "--out", str(trained_run)]) == 2
    assert "is not empty; choose a new --out, or pass --resume" in capsys.readouterr().err
    assert (trained_run / "history.csv").read_text() == before


def test_resume_continues_to_the_total_epochs(trained_run, tmp_path, capsys):
    import shutil

    run = tmp_path / "resumed"
    shutil.copytree(trained_run, run)
    assert main(["--out", str(run), "--resume", "--epochs", "3", "-q"]) == 0
    rows = history(run)
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    assert main(["--out", str(run), "--resume", "--epochs", "3"]) == 2
    assert "already has 3 epochs" in capsys.readouterr().err
    assert main(["--out", str(run), "--resume", "--epochs", "4", "--kernel-size", "7"]) == 2
    assert "a resumed run keeps its configuration" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--preset", "Z-9"], "unknown preset 'Z-9'"),
        (["--preset", "O-1"], "--data is needed for data kind 'themis-tiles'"),
        (["--preset", "O-1", "--data", "/nonexistent/tiles"], "/nonexistent/tiles"),
        (["--preset", "S-1", "--kernel-size", "4"], "kernel_size=4: must be an odd number"),
    ],
)
def test_bad_input_is_named(tmp_path, capsys, args, message):
    assert main([*args, "--epochs", "1", "--out", str(tmp_path / "run")]) == 2
    assert message in capsys.readouterr().err


def test_resume_needs_a_run(tmp_path, capsys):
    assert main(["--out", str(tmp_path), "--resume", "--epochs", "2"]) == 2
    assert "holds no run (no config.json)" in capsys.readouterr().err


def test_help_explains_every_field(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for flag in ("--inner-ratio", "--ring-width-px", "--no-augment", "--learning-rate", "--resume"):
        assert flag in text


def test_crater_evaluator_scores_a_perfect_model():
    """A 'model' that returns the target itself finds every crater (F1 = 1)."""
    import numpy as np

    from training.config import preset_config
    from training.crater_metrics import default_crater_evaluator
    from training.data import validation_items

    config = preset_config("S-1", tile_size_px=256, synthetic_val_images=4)
    targets = {item.image.tobytes(): item.target for item in validation_items(config, None)}

    class Oracle:
        def predict(self, batch, verbose=0):
            return targets[np.ascontiguousarray(batch[0, ..., 0]).tobytes()][None, ..., None]

    scores = default_crater_evaluator(config, None)(Oracle())
    assert scores["samples"] == 4
    assert scores["f1"] > 0.95 and scores["median_diameter_error"] < 0.05
