"""Figures of a training run (matplotlib, Agg backend): curves and validation examples."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from geocore.atomic import atomic_output

__all__ = ["plot_history", "plot_validation_examples", "read_history"]


def read_history(path: str | Path) -> dict[str, list[float]]:
    """Columns of a Keras ``history.csv`` (CSVLogger) as lists of floats."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return {}
    return {key: [float(row[key]) for row in rows if row.get(key)] for key in rows[0]}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_history(history_csv: str | Path, out_png: str | Path, title: str = "") -> None:
    """Loss and pixel accuracy per epoch, training and validation, side by side."""
    plt = _pyplot()
    history = read_history(history_csv)
    epochs = [int(e) + 1 for e in history.get("epoch", [])]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, metric in zip(axes, ("loss", "accuracy"), strict=True):
        for key, style in ((metric, "-"), (f"val_{metric}", "--")):
            if history.get(key):
                ax.plot(epochs, history[key], style, marker="o", ms=3, label=key)
        ax.set_xlabel("epoch")
        ax.set_ylabel("binary cross-entropy" if metric == "loss" else "pixel accuracy")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_output(out_png, overwrite=True) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)


def plot_validation_examples(
    images: np.ndarray,
    targets: np.ndarray,
    predictions: np.ndarray,
    out_png: str | Path,
    title: str = "",
) -> None:
    """The paper's "Validation | Target | Prediction" figure, one row per example.

    Arrays are (N, H, W) or (N, H, W, 1); images in [-1, 1], targets and
    predictions in [0, 1].
    """
    plt = _pyplot()
    images, targets, predictions = (np.asarray(a)[..., 0] if np.ndim(a) == 4 else np.asarray(a)
                                    for a in (images, targets, predictions))  # fmt: skip
    n = len(images)
    fig, axes = plt.subplots(n, 3, figsize=(9, 3 * n), squeeze=False)
    for row in range(n):
        panels = (
            (images[row], "gray", (-1, 1)),
            (targets[row], "magma", (0, 1)),
            (predictions[row], "magma", (0, 1)),
        )
        for col, (data, cmap, (vmin, vmax)) in enumerate(panels):
            ax = axes[row, col]
            ax.imshow(data, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(("Validation", "Target", "Prediction")[col])
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_output(out_png, overwrite=True) as tmp:
        fig.savefig(tmp, dpi=80, format="png")
    plt.close(fig)
