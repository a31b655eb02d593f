"""Training losses of the crater UNet.

The paper trains with plain binary cross-entropy. On real THEMIS images with
sparse crater targets (3 % of the pixels are rim at 231.5 m/px) that loss lets
the network settle on "all background" for many epochs; weighting the rim
pixels more is the usual remedy. Each loss returns one value per pixel, so the
per-pixel sample weights of the data pipeline (0 on padding) still apply.
"""

from __future__ import annotations

import keras
from keras import ops

from .config import LOSS_NAMES

__all__ = ["LOSSES", "WeightedBinaryCrossentropy", "make_loss"]

#: Loss names accepted by ``TrainConfig.loss``.
LOSSES = LOSS_NAMES

_EPS = 1e-7


@keras.saving.register_keras_serializable(package="training")
class WeightedBinaryCrossentropy(keras.losses.Loss):
    """Binary cross-entropy with the positive (crater) pixels weighted by ``positive_weight``.

    ``-(w * y * log(p) + (1 - y) * log(1 - p))``, averaged over the channel axis;
    ``positive_weight=1`` is the plain cross-entropy.
    """

    def __init__(self, positive_weight: float = 1.0, name: str = "weighted_bce", **kwargs):
        super().__init__(name=name, **kwargs)
        self.positive_weight = float(positive_weight)

    def call(self, y_true, y_pred):
        """Per-pixel loss, shape ``y_pred.shape[:-1]``."""
        y_true = ops.cast(y_true, y_pred.dtype)
        p = ops.clip(y_pred, _EPS, 1.0 - _EPS)
        loss = -(self.positive_weight * y_true * ops.log(p) + (1.0 - y_true) * ops.log(1.0 - p))
        return ops.mean(loss, axis=-1)

    def get_config(self) -> dict:
        """Keras serialisation."""
        return {**super().get_config(), "positive_weight": self.positive_weight}


def make_loss(name: str, positive_weight: float = 1.0):
    """The Keras loss for ``TrainConfig.loss`` (``"bce"`` or ``"weighted-bce"``)."""
    if name == "bce":
        return "binary_crossentropy"
    if name == "weighted-bce":
        return WeightedBinaryCrossentropy(positive_weight)
    raise ValueError(f"unknown loss {name!r}; use one of {', '.join(LOSSES)}")
