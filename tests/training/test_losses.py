"""Tests of the training losses."""

from __future__ import annotations

import numpy as np
import pytest

from training.config import ConfigError, TrainConfig

keras = pytest.importorskip("keras")

from training.losses import WeightedBinaryCrossentropy, make_loss  # noqa: E402


def _pair(seed=0):
    rng = np.random.default_rng(seed)
    y_true = (rng.uniform(size=(2, 8, 8, 1)) < 0.2).astype("float32")
    y_pred = rng.uniform(0.01, 0.99, size=(2, 8, 8, 1)).astype("float32")
    return y_true, y_pred


def test_weight_one_is_the_plain_cross_entropy():
    y_true, y_pred = _pair()
    plain = keras.losses.BinaryCrossentropy()(y_true, y_pred)
    ours = WeightedBinaryCrossentropy(1.0)(y_true, y_pred)
    np.testing.assert_allclose(float(ours), float(plain), rtol=1e-5)


def test_positive_pixels_are_weighted():
    y_true, y_pred = _pair(1)
    per_pixel = -(5.0 * y_true * np.log(y_pred) + (1 - y_true) * np.log(1 - y_pred))
    got = WeightedBinaryCrossentropy(5.0)(y_true, y_pred)
    np.testing.assert_allclose(float(got), per_pixel.mean(), rtol=1e-5)


def test_sample_weights_still_mask_padding():
    y_true, y_pred = _pair(2)
    weight = np.zeros((2, 8, 8), "float32")
    weight[:, :4] = 1.0
    loss = WeightedBinaryCrossentropy(3.0, reduction="sum")
    masked = float(loss(y_true, y_pred, sample_weight=weight))
    expected = float(loss(y_true[:, :4], y_pred[:, :4]))
    np.testing.assert_allclose(masked, expected, rtol=1e-5)


def test_round_trip_through_keras_serialisation():
    loss = make_loss("weighted-bce", 7.5)
    again = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(again, WeightedBinaryCrossentropy) and again.positive_weight == 7.5
    assert make_loss("bce") == "binary_crossentropy"


def test_config_checks_the_loss():
    assert TrainConfig(loss="weighted-bce", positive_weight=4).positive_weight == 4
    with pytest.raises(ConfigError, match="loss"):
        TrainConfig(loss="dice")
    with pytest.raises(ConfigError, match="positive_weight"):
        TrainConfig(loss="weighted-bce", positive_weight=0)
