"""A Keras UNet's weights written directly as an ONNX graph that onnxruntime runs fast.

tf2onnx writes Keras' NHWC graph as it is: ``UpSampling2D`` becomes a chain of
Transpose, Shape, Slice, Tile and Reshape nodes, and onnxruntime converts
every upsampled tensor out of and back into its blocked NCHWc layout. This
module writes the same function as a plain NCHW graph that stays in that
layout, with the full-resolution level in *space-to-depth* form:

* the input goes through ``SpaceToDepth(2)``: channel ``(2 a + b) C + c`` at
  pixel ``(i, j)`` holds channel ``c`` at full-resolution pixel
  ``(2 i + a, 2 j + b)``; a full-resolution convolution becomes a
  half-resolution one with 4x the channels (:func:`space_to_depth_kernel`);
* the first pooling is the mean of the four phases (a 1x1 convolution);
* an upsampling back to full resolution is folded into the convolution that
  follows it (each output phase of ``conv(upsample(x))`` is a convolution of
  ``x``, :func:`upsample_conv_kernel`);
* lower levels upsample with one ``Resize(nearest)``;
* one ``DepthToSpace`` of the one-channel output ends the graph.

No full-resolution tensor of more than one channel exists, the activations
take half the memory of tf2onnx's graph, and the network runs 1.2x faster on
the CPU (``docs/inference.md``). The interface is the tf2onnx export's: one
float32 ``(N, H, W, 1)`` input and output (H and W even; the UNet wants
multiples of 128 anyway).

Layers understood: ``InputLayer``, ``Conv2D`` (odd kernel, ``same`` padding or
1x1, stride 1, ReLU, sigmoid or linear), ``AveragePooling2D(2)``, ``UpSampling2D(2,
nearest)``, ``Add`` and ``Dropout`` (inference: identity), connected in any
order (the graph is walked through the layers' input tensors, not their
names). Anything else raises :class:`~training.export.ExportError` naming the
layer and ``--graph tf2onnx``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .export import ExportError

__all__ = ["MIN_OPSET", "fast_graph", "space_to_depth_kernel", "upsample_conv_kernel"]

#: Oldest opset with ``Resize`` taking an empty ``roi`` (13).
MIN_OPSET = 13
_ACTIVATIONS = {"relu": "Relu", "sigmoid": "Sigmoid", "linear": None}


def upsample_conv_kernel(kernel: np.ndarray) -> np.ndarray:
    """Weights of ``conv(upsample_nearest_x2(x))`` as four convolutions of ``x``.

    Output pixel ``(2 i + a, 2 j + b)`` of a ``kh x kw`` 'same' convolution of
    the nearest-upsampled input reads input pixels
    ``(i + (a + dy - py) // 2, j + (b + dx - px) // 2)`` (``py = kh // 2``), so
    each phase ``(a, b)`` is a convolution of the low-resolution input.

    Parameters
    ----------
    kernel : numpy.ndarray
        ``(c_out, c_in, kh, kw)``, odd ``kh`` and ``kw``.

    Returns
    -------
    numpy.ndarray
        ``(4, c_out, c_in, 2 qy + 1, 2 qx + 1)``, phase ``2 a + b`` first,
        ``qy = ceil(py / 2)`` (3 x 3 for a 3 x 3 kernel, 5 x 5 for 7 x 7).

    Examples
    --------
    >>> upsample_conv_kernel(np.ones((1, 1, 3, 3)))[0, 0, 0]
    array([[1., 2., 0.],
           [2., 4., 0.],
           [0., 0., 0.]])
    """
    c_out, c_in, kh, kw = kernel.shape
    (py, px), (qy, qx) = _half_sizes(kh, kw)
    out = np.zeros((2, 2, c_out, c_in, 2 * qy + 1, 2 * qx + 1), np.float64)
    for a, b, dy, dx in np.ndindex(2, 2, kh, kw):
        out[a, b, :, :, (a + dy - py) // 2 + qy, (b + dx - px) // 2 + qx] += kernel[:, :, dy, dx]
    return out.reshape(4, c_out, c_in, 2 * qy + 1, 2 * qx + 1)


def space_to_depth_kernel(kernel: np.ndarray) -> np.ndarray:
    """A full-resolution 'same' convolution as a convolution in space-to-depth form.

    In space-to-depth form (ONNX ``SpaceToDepth``, blocks first) channel
    ``(2 a + b) C + c`` at pixel ``(i, j)`` is channel ``c`` at full-resolution
    pixel ``(2 i + a, 2 j + b)``.

    Parameters
    ----------
    kernel : numpy.ndarray
        ``(c_out, c_in, kh, kw)``, odd ``kh`` and ``kw``.

    Returns
    -------
    numpy.ndarray
        ``(4 c_out, 4 c_in, 2 qy + 1, 2 qx + 1)``, ``qy = ceil((kh // 2) / 2)``.

    Examples
    --------
    >>> space_to_depth_kernel(np.ones((1, 1, 1, 1)))[:, :, 0, 0]
    array([[1., 0., 0., 0.],
           [0., 1., 0., 0.],
           [0., 0., 1., 0.],
           [0., 0., 0., 1.]])
    """
    c_out, c_in, kh, kw = kernel.shape
    (py, px), (qy, qx) = _half_sizes(kh, kw)
    out = np.zeros((2, 2, c_out, 2, 2, c_in, 2 * qy + 1, 2 * qx + 1), np.float64)
    for a, b, dy, dx in np.ndindex(2, 2, kh, kw):
        (ry, a2), (rx, b2) = divmod(a + dy - py, 2), divmod(b + dx - px, 2)
        out[a, b, :, a2, b2, :, ry + qy, rx + qx] += kernel[:, :, dy, dx]
    return out.reshape(4 * c_out, 4 * c_in, 2 * qy + 1, 2 * qx + 1)


def _half_sizes(kh: int, kw: int) -> tuple[tuple[int, int], tuple[int, int]]:
    py, px = kh // 2, kw // 2
    return (py, px), (-(-py // 2), -(-px // 2))


@dataclass(frozen=True)
class _Tensor:
    """An ONNX tensor standing for a Keras tensor.

    ``scale``: input pixels per pixel of the Keras tensor (1 = full
    resolution). ``s2d``: stored in space-to-depth form (half resolution, 4x
    channels). ``upsampled``: the Keras tensor is ``name`` upsampled x2
    (nearest), left for its consumer to apply.
    """

    name: str
    channels: int
    scale: int
    s2d: bool = False
    upsampled: bool = False


class _Writer:
    """Accumulates nodes and initializers; one method per Keras layer kind."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.weights: list[Any] = []

    def node(self, op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        from onnx import helper

        self.nodes.append(helper.make_node(op, inputs, [output], **attrs))
        return output

    def const(self, name: str, array: np.ndarray) -> str:
        from onnx import numpy_helper

        self.weights.append(numpy_helper.from_array(np.ascontiguousarray(array, np.float32), name))
        return name

    def conv(self, x: str, name: str, kernel: np.ndarray, bias: np.ndarray | None, act) -> str:
        _, _, kh, kw = kernel.shape
        inputs = [x, self.const(f"{name}_w", kernel)]
        if bias is not None:
            inputs.append(self.const(f"{name}_b", bias))
        out = f"{name}_conv" if act else name
        self.node("Conv", inputs, out, kernel_shape=[kh, kw], pads=[kh // 2, kw // 2] * 2)
        return self.node(act, [out], name) if act else out

    def plain(self, t: _Tensor) -> _Tensor:
        """``t`` as an ordinary NCHW tensor at its own resolution."""
        if t.s2d:
            name = self.node("DepthToSpace", [t.name], f"{t.name}_d2s", blocksize=2, mode="DCR")
            return _Tensor(name, t.channels, t.scale)
        if t.upsampled:
            scales = self.const(f"{t.name}_scales", np.array([1, 1, 2, 2]))
            name = self.node(
                "Resize",
                [t.name, "", scales],
                f"{t.name}_up",
                mode="nearest",
                coordinate_transformation_mode="asymmetric",
                nearest_mode="floor",
            )
            return _Tensor(name, t.channels, t.scale)
        return t

    # ------------------------------------------------------------ layers
    def conv2d(self, layer: Any, x: _Tensor, name: str) -> _Tensor:
        kernel, bias = _conv_weights(layer)
        act = _activation(layer)
        c_out = kernel.shape[0]
        if x.upsampled and x.scale == 1:  # fold the upsampling; stay in space-to-depth form
            phases = upsample_conv_kernel(kernel)
            folded = phases.reshape(-1, *phases.shape[2:])
            out = self.conv(x.name, name, folded, _tile(bias, 4), act)
            return _Tensor(out, c_out, 1, s2d=True)
        if x.s2d:
            out = self.conv(x.name, name, space_to_depth_kernel(kernel), _tile(bias, 4), act)
            return _Tensor(out, c_out, 1, s2d=True)
        x = self.plain(x)
        return _Tensor(self.conv(x.name, name, kernel, bias, act), c_out, x.scale)

    def pool(self, layer: Any, x: _Tensor, name: str) -> _Tensor:
        config = layer.get_config()
        if tuple(config["pool_size"]) != (2, 2) or tuple(config["strides"] or (2, 2)) != (2, 2):
            raise _unsupported(layer, "pool size and strides 2")
        if x.s2d:  # the mean of the four phases: a 1x1 convolution
            mean = np.tile(np.eye(x.channels) / 4, (1, 4))[:, :, None, None]
            weights = self.const(f"{name}_w", mean)
            out = self.node("Conv", [x.name, weights], name, kernel_shape=[1, 1])
            return _Tensor(out, x.channels, 2)
        x = self.plain(x)
        out = self.node("AveragePool", [x.name], name, kernel_shape=[2, 2], strides=[2, 2])
        return _Tensor(out, x.channels, 2 * x.scale)

    def upsample(self, layer: Any, x: _Tensor, name: str) -> _Tensor:
        config = layer.get_config()
        if tuple(config["size"]) != (2, 2) or config.get("interpolation", "nearest") != "nearest":
            raise _unsupported(layer, "size 2, nearest interpolation")
        if x.scale < 2:
            raise _unsupported(layer, "upsampling back to at most the input's resolution")
        x = self.plain(x)
        return _Tensor(x.name, x.channels, x.scale // 2, upsampled=True)

    def add(self, layer: Any, xs: list[_Tensor], name: str) -> _Tensor:
        forms = {(t.s2d, t.upsampled) for t in xs}
        if len(forms) > 1:  # never in build_unet: bring every input to plain NCHW
            xs = [self.plain(t) for t in xs]
        first, out = xs[0], xs[0].name
        for i, other in enumerate(xs[1:], start=1):
            out = self.node("Add", [out, other.name], name if i == len(xs) - 1 else f"{name}_{i}")
        # nearest upsampling commutes with a sum: a pending one stays pending
        return _Tensor(out, first.channels, first.scale, first.s2d, first.upsampled)


def fast_graph(model: Any, *, input_name: str, output_name: str, opset: int):
    """Write ``model`` (a one-band UNet) as the fast NCHW / space-to-depth ONNX graph.

    Parameters
    ----------
    model : keras.Model
        A functional model, ``(None, None, None, 1) -> (None, None, None, 1)``.
    input_name, output_name : str
        Names of the graph's input and output.
    opset : int
        ONNX opset, at least :data:`MIN_OPSET`.

    Returns
    -------
    onnx.ModelProto
        Input and output float32 ``["batch", "height", "width", 1]``; no metadata.

    Raises
    ------
    ExportError
        A layer the writer does not know, or an opset below :data:`MIN_OPSET`.
    """
    import keras
    from onnx import TensorProto, helper

    if opset < MIN_OPSET:
        raise ExportError(
            f"--opset {opset}: the fast graph needs opset {MIN_OPSET} or later; "
            "pass --opset 17 or --graph tf2onnx"
        )
    writer = _Writer()
    start = writer.node("Transpose", [input_name], "x_nchw", perm=[0, 3, 1, 2])
    start = writer.node("SpaceToDepth", [start], "x_s2d", blocksize=2)
    tensors: dict[int, _Tensor] = {id(model.inputs[0]): _Tensor(start, 1, 1, s2d=True)}
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        inputs = layer.input if isinstance(layer.input, list | tuple) else [layer.input]
        try:
            xs = [tensors[id(t)] for t in inputs]
        except KeyError:
            raise _unsupported(layer, "a single chain of layers from the model's input") from None
        name = f"t_{layer.name}"  # never the graph's input or output name
        if isinstance(layer, keras.layers.Conv2D) and type(layer) is keras.layers.Conv2D:
            out = writer.conv2d(layer, xs[0], name)
        elif isinstance(layer, keras.layers.AveragePooling2D):
            out = writer.pool(layer, xs[0], name)
        elif isinstance(layer, keras.layers.UpSampling2D):
            out = writer.upsample(layer, xs[0], name)
        elif isinstance(layer, keras.layers.Add):
            out = writer.add(layer, xs, name)
        elif isinstance(layer, keras.layers.Dropout):
            out = xs[0]  # inference
        else:
            raise _unsupported(layer, "Conv2D, AveragePooling2D, UpSampling2D, Add, Dropout")
        tensors[id(layer.output)] = out
    result = tensors.get(id(model.outputs[0]))
    if result is None or result.scale != 1 or result.channels != 1:
        raise ExportError(
            "the fast ONNX graph could not follow the model to its one-band full-resolution "
            "output; export it with --graph tf2onnx"
        )
    last = writer.plain(result).name
    writer.node("Transpose", [last], output_name, perm=[0, 2, 3, 1])
    dims = ["batch", "height", "width", 1]
    graph = helper.make_graph(
        writer.nodes,
        f"{model.name}_nchw_s2d",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, dims)],
        initializer=writer.weights,
    )
    proto = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="training.export"
    )
    proto.ir_version = min(proto.ir_version, 8)  # onnxruntime 1.16+ (QGIS users) reads IR 8
    return proto


# ---------------------------------------------------------------- helpers
def _conv_weights(layer: Any) -> tuple[np.ndarray, np.ndarray | None]:
    config = layer.get_config()
    kh, kw = config["kernel_size"]
    good = (
        (config["padding"] == "same" or (kh, kw) == (1, 1))  # 'valid' 1x1 is 'same'
        and tuple(config["strides"]) == (1, 1)
        and tuple(config["dilation_rate"]) == (1, 1)
        and config.get("groups", 1) == 1
        and config.get("data_format", "channels_last") == "channels_last"
        and kh % 2 == 1
        and kw % 2 == 1
    )
    if not good:
        raise _unsupported(layer, "odd kernels, 'same' padding, stride 1, no dilation or groups")
    weights = layer.get_weights()
    kernel = weights[0].transpose(3, 2, 0, 1).astype(np.float64)  # (c_out, c_in, kh, kw)
    return kernel, (weights[1] if config["use_bias"] else None)


def _activation(layer: Any) -> str | None:
    name = getattr(layer.activation, "__name__", str(layer.activation))
    if name not in _ACTIVATIONS:
        raise _unsupported(layer, f"activations {', '.join(_ACTIVATIONS)}")
    return _ACTIVATIONS[name]


def _tile(bias: np.ndarray | None, n: int) -> np.ndarray | None:
    return None if bias is None else np.tile(bias, n)


def _unsupported(layer: Any, what: str) -> ExportError:
    return ExportError(
        f"the fast ONNX graph cannot write layer {layer.name!r} ({type(layer).__name__}); it "
        f"supports {what}. Export this model with --graph tf2onnx (graph='tf2onnx')"
    )
