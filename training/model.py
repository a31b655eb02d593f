"""The "Symmetric UNet" of DeLatte et al. (2018), built from a configuration.

Seven down blocks ``Conv2D -> Dropout -> AveragePooling2D(2)``, a bottom
``Conv2D -> Dropout``, seven up blocks ``UpSampling2D(2) -> Conv2D -> Dropout
-> Add`` (with the down block's convolution output of the same size), and a
final ``Conv2D(1, 1x1, sigmoid)``. Filters 16, 24, 32, 48, 64, 96, 128 down,
128 at the bottom, then mirrored up, all times the filter multiple; ReLU,
``same`` padding. Dropout is none in the first (outermost) block and rises
linearly from 0.2 to 0.5 toward the bottom; the up blocks mirror it. At 3x3 and
x1 the network has 731,473 parameters. It is fully convolutional: any height
and width that are multiples of 128 work.
"""

from __future__ import annotations

from .config import TrainConfig

__all__ = ["DEPTH", "build_unet", "dropout_rates"]

#: Number of down (and up) blocks; inputs must be multiples of 2**DEPTH.
DEPTH = 7


def dropout_rates(depth: int = DEPTH) -> tuple[tuple[float, ...], float]:
    """Dropout of each down block (outermost first) and of the bottom block.

    Examples
    --------
    >>> down, bottom = dropout_rates()
    >>> down, bottom
    ((0.0, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45), 0.5)
    """
    step = (0.5 - 0.2) / (depth - 1)
    down = (0.0, *(round(0.2 + i * step, 6) for i in range(depth - 1)))
    return down, 0.5


def build_unet(config: TrainConfig | None = None, name: str | None = None):
    """Build the Symmetric UNet for ``config`` (kernel size and filter multiple).

    Parameters
    ----------
    config : TrainConfig, optional
        Default: the paper's default network (3x3, x1).
    name : str, optional
        Keras model name; default ``"symmetric_unet_<preset>"``.

    Returns
    -------
    keras.Model
        Input ``(None, None, 1)``, output ``(None, None, 1)`` probabilities.
    """
    import keras
    from keras import layers

    config = config or TrainConfig()
    k = config.kernel_size
    filters = config.filters
    down_dropout, bottom_dropout = dropout_rates(DEPTH)

    def conv(n: int, label: str):
        return layers.Conv2D(n, k, padding="same", activation="relu", name=label)

    inputs = keras.Input(shape=(None, None, 1), name="image")
    x = inputs
    skips = []
    for i, (n, rate) in enumerate(zip(filters, down_dropout, strict=True), start=1):
        x = conv(n, f"down{i}_conv")(x)
        skips.append(x)
        if rate:
            x = layers.Dropout(rate, name=f"down{i}_dropout")(x)
        x = layers.AveragePooling2D(2, name=f"down{i}_pool")(x)
    x = conv(filters[-1], "bottom_conv")(x)
    x = layers.Dropout(bottom_dropout, name="bottom_dropout")(x)
    for i in range(DEPTH, 0, -1):  # mirror: innermost up block first
        n, rate, skip = filters[i - 1], down_dropout[i - 1], skips[i - 1]
        x = layers.UpSampling2D(2, name=f"up{i}_upsample")(x)
        x = conv(n, f"up{i}_conv")(x)
        if rate:
            x = layers.Dropout(rate, name=f"up{i}_dropout")(x)
        x = layers.Add(name=f"up{i}_add")([x, skip])
    outputs = layers.Conv2D(1, 1, activation="sigmoid", name="probability")(x)
    return keras.Model(inputs, outputs, name=name or f"symmetric_unet_{config.preset}")
