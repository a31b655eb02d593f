"""Keras callbacks of a training run: epoch timing, figures and the crater-level metric hook."""

from __future__ import annotations

import csv
import logging
import time
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np

from .plots import plot_history, plot_validation_examples

__all__ = ["CraterMetricCallback", "EpochTimer", "FiguresCallback"]

log = logging.getLogger(__name__)

#: A crater-level evaluator: model -> {"precision": .., "recall": .., "f1": .., ...}.
CraterEvaluator = Callable[[keras.Model], dict[str, float]]


class EpochTimer(keras.callbacks.Callback):
    """Adds ``epoch_seconds`` to the epoch logs (put it before CSVLogger)."""

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["epoch_seconds"] = time.perf_counter() - self._start


class FiguresCallback(keras.callbacks.Callback):
    """Redraws the loss/accuracy curves and the validation figure after each epoch.

    Parameters
    ----------
    run_dir : Path
        The run folder (``history.csv`` is read from it).
    examples : tuple of arrays
        ``(images, targets)`` of a few validation items, (N, H, W, 1).
    title : str
        Figure title (the preset and data).
    """

    def __init__(self, run_dir: Path, examples: tuple[np.ndarray, np.ndarray], title: str):
        super().__init__()
        self.run_dir = Path(run_dir)
        self.images, self.targets = examples
        self.title = title

    def on_epoch_end(self, epoch, logs=None):
        history = self.run_dir / "history.csv"
        if history.exists():
            plot_history(history, self.run_dir / "training_curves.png", self.title)
        if len(self.images):
            prediction = self.model.predict(self.images, verbose=0)
            plot_validation_examples(
                self.images,
                self.targets,
                prediction,
                self.run_dir / "validation_examples.png",
                f"{self.title}, epoch {epoch + 1}",
            )


class CraterMetricCallback(keras.callbacks.Callback):
    """Every ``every`` epochs, scores the model at the crater level and logs it.

    The evaluator finds craters in the model's predictions on the validation
    items and matches them to the ground truth; its figures go into
    ``crater_metrics.csv`` (not into the Keras logs, whose columns must stay
    the same every epoch for ``history.csv``).
    """

    def __init__(self, evaluate: CraterEvaluator, every: int, csv_path: Path):
        super().__init__()
        self.evaluate = evaluate
        self.every = every
        self.csv_path = Path(csv_path)

    def on_epoch_end(self, epoch, logs=None):
        if self.every <= 0 or (epoch + 1) % self.every:
            return
        scores = self.evaluate(self.model)
        row = {"epoch": epoch + 1, **{k: float(v) for k, v in scores.items()}}
        new = not self.csv_path.exists()
        with open(self.csv_path, "a", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)
        log.info("epoch %d crater-level: %s", epoch + 1, scores)
