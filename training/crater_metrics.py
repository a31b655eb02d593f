"""The crater-level validation metric of training runs.

Pixel accuracy says little about craters; crater counters care about craters
found, craters invented and diameters right. A *crater evaluator* is a function
``model -> {"precision": .., "recall": .., "f1": .., ...}``: it runs the model
over validation samples, extracts craters from its predictions with geocore's
extraction, and matches them with the ground truth of each sample in pixels
(DeepMoon's rule, :mod:`geocore.metrics`). :class:`training.callbacks.CraterMetricCallback`
calls it every ``config.crater_metric_every`` epochs and writes
``crater_metrics.csv``.
"""

from __future__ import annotations

import itertools
import logging

import numpy as np

from geocore.crater import CraterCatalog
from geocore.grid import PixelGrid

from .config import TrainConfig

__all__ = ["default_crater_evaluator", "extraction_params_for"]

log = logging.getLogger(__name__)


def extraction_params_for(config: TrainConfig):
    """Extraction settings that match the run's targets."""
    from geocore.extraction import ExtractionParams

    return ExtractionParams(
        target_kind=config.target_kind,
        ring_width_px=config.ring_width_px,
        inner_ratio=config.inner_ratio,
        threshold=config.threshold,
        min_radius_px=2.5,
        max_radius_px=config.tile_size_px / 2,
        stretch="none",  # samples are matched in their own pixels
    )


def default_crater_evaluator(
    config: TrainConfig,
    data_path,
    *,
    catalog=None,
    labels: str = "labels_robbins",
    max_samples: int = 32,
):
    """The crater-level evaluator of a run, over its first ``max_samples`` validation samples."""
    from geocore.extraction import extract_craters
    from geocore.metrics import evaluate

    from .data import validation_items

    items = list(
        itertools.islice(
            validation_items(config, data_path, catalog=catalog, labels=labels), max_samples
        )
    )
    params = extraction_params_for(config)

    def pixel_only(craters: CraterCatalog, sample_id: str) -> CraterCatalog:
        n = len(craters)
        return CraterCatalog(
            np.full(n, np.nan), np.full(n, np.nan), craters.diameter_km,
            x_px=craters.x_px, y_px=craters.y_px, diameter_px=craters.diameter_px,
            confidence=craters.confidence, source=np.full(n, sample_id, dtype=object),
        )  # fmt: skip

    def evaluate_model(model) -> dict[str, float]:
        found, truth = [], []
        for item in items:
            prob = model.predict(item.image[None, ..., None], verbose=0)[0, ..., 0]
            prob = np.where(item.weight > 0, prob, 0.0).astype(np.float32)
            grid = item.grid or PixelGrid.from_resolution(prob.shape[1], prob.shape[0], 1000.0)
            craters = extract_craters(prob, grid, params)
            found.append(pixel_only(craters, item.sample_id))
            truth.append(pixel_only(item.craters, item.sample_id))
        metrics = evaluate(CraterCatalog.concat(found), CraterCatalog.concat(truth), mode="pixel")
        return {
            "precision": metrics.precision,
            "recall": metrics.recall,
            "f1": metrics.f1,
            "median_diameter_error": metrics.median_diameter_error,
            "samples": float(len(items)),
        }

    return evaluate_model
