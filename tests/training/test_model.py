import numpy as np
import pytest

from training.config import preset_config
from training.model import DEPTH, build_unet, dropout_rates

keras = pytest.importorskip("keras")


def expected_parameters(kernel: int, filters: tuple[int, ...]) -> int:
    """Parameter count of the Symmetric UNet from the layer formula k*k*cin*cout + cout."""

    def conv(k, cin, cout):
        return k * k * cin * cout + cout

    total, cin = 0, 1
    for f in filters:  # down path
        total += conv(kernel, cin, f)
        cin = f
    total += conv(kernel, cin, filters[-1])  # bottom
    cin = filters[-1]
    for f in reversed(filters):  # up path
        total += conv(kernel, cin, f)
        cin = f
    return total + conv(1, cin, 1)  # 1x1 sigmoid


@pytest.mark.parametrize(
    ("preset", "kernel", "filters"),
    [
        ("S-1", 3, (16, 24, 32, 48, 64, 96, 128)),
        ("S-4", 7, (16, 24, 32, 48, 64, 96, 128)),
        ("S-5", 3, (8, 12, 16, 24, 32, 48, 64)),
        ("S-6", 3, (32, 48, 64, 96, 128, 192, 256)),
        ("S-7", 11, (16, 24, 32, 48, 64, 96, 128)),
        ("S-8", 7, (32, 48, 64, 96, 128, 192, 256)),
    ],
)
def test_parameter_counts(preset, kernel, filters):
    model = build_unet(preset_config(preset))
    assert model.count_params() == expected_parameters(kernel, filters)


def test_the_paper_default_has_731473_parameters():
    assert build_unet(preset_config("O-1")).count_params() == 731_473
    assert expected_parameters(3, (16, 24, 32, 48, 64, 96, 128)) == 731_473


def test_layer_order_and_dropout_schedule():
    model = build_unet(preset_config("C-1"))
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds[0] == "InputLayer"
    down = kinds[1 : 1 + 3 + 3 * 6]  # first block has no dropout
    assert down[:2] == ["Conv2D", "AveragePooling2D"]
    assert down[2:5] == ["Conv2D", "Dropout", "AveragePooling2D"]
    assert kinds.count("AveragePooling2D") == kinds.count("UpSampling2D") == DEPTH
    assert kinds.count("Add") == DEPTH and kinds.count("Conv2D") == 2 * DEPTH + 2
    rates = [layer.rate for layer in model.layers if type(layer).__name__ == "Dropout"]
    down_rates, bottom = dropout_rates()
    assert rates[:6] == list(down_rates[1:]) and rates[6] == bottom
    assert rates[7:] == list(reversed(down_rates[1:]))
    assert min(rates) == 0.2 and max(rates) == 0.5
    last = model.layers[-1]
    assert last.kernel_size == (1, 1) and last.activation.__name__ == "sigmoid"
    assert all(
        layer.activation.__name__ == "relu"
        for layer in model.layers
        if type(layer).__name__ == "Conv2D" and layer is not last
    )


@pytest.mark.parametrize("shape", [(1, 128, 128, 1), (2, 128, 384, 1)])
def test_fully_convolutional_shapes_and_range(shape):
    model = build_unet(preset_config("S-5"))
    assert model.input_shape == (None, None, None, 1)
    out = model.predict(np.random.default_rng(0).uniform(-1, 1, shape).astype("float32"), verbose=0)
    assert out.shape == shape
    assert 0.0 <= out.min() and out.max() <= 1.0
