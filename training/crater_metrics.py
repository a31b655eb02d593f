"""The crater-level validation metric hook of training runs.

Pixel accuracy says little about craters; crater counters care about craters
found, craters invented and diameters right. A *crater evaluator* is a function
``model -> {"precision": .., "recall": .., "f1": .., ...}`` that runs the model
over the validation items, extracts craters from its predictions and matches
them with the ground truth. :class:`training.callbacks.CraterMetricCallback`
calls it every ``config.crater_metric_every`` epochs and writes
``crater_metrics.csv``.

The evaluator needs geocore's crater extraction and catalogue matching, which
come with the detection engine; until then :func:`default_crater_evaluator`
returns None and runs train without the metric (with a warning).
"""

from __future__ import annotations

import logging

from .config import TrainConfig

__all__ = ["default_crater_evaluator"]

log = logging.getLogger(__name__)


def default_crater_evaluator(config: TrainConfig, data_path):
    """The crater-level evaluator of a run, or None while geocore cannot provide one."""
    log.warning(
        "crater-level metric (crater_metric_every=%d) not available yet: it needs geocore's "
        "crater extraction and matching; training continues with pixel metrics only",
        config.crater_metric_every,
    )
    return None
