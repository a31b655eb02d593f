"""A tiny "oracle" ONNX crater model for tests and benchmarks.

``probability = sigmoid(10 * image)`` (NHWC, dynamic sizes): fed an image that
already draws the craters (255 on the targets, 0 elsewhere, i.e. +1 and -1
after the model's input scaling), it predicts exactly them. Needs the ``onnx``
package (the project's dev environment); QGIS tests call it through that
environment::

    python tests/oracle_model.py OUT.onnx RESOLUTION_M ['{"target_kind": "ring"}']
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

DEFAULT_INFO = {"target_kind": "ring", "ring_width_px": 4.0, "missing_value": None,
                "tile_size_px": 256}  # fmt: skip


def write_oracle_model(path, resolution_m: float, **info) -> Path:
    """Write the oracle model with ``crater.*`` metadata (``DEFAULT_INFO`` updated by ``info``)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from geocore.model_info import ModelInfo

    graph = helper.make_graph(
        [
            helper.make_node("Mul", ["image", "k"], ["scaled"]),
            helper.make_node("Sigmoid", ["scaled"], ["probability"]),
        ],
        "oracle",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", "H", "W", 1])],
        [helper.make_tensor_value_info("probability", TensorProto.FLOAT, ["N", "H", "W", 1])],
        initializer=[numpy_helper.from_array(np.array(10.0, np.float32), "k")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    fields = {**DEFAULT_INFO, **info}
    helper.set_model_props(model, ModelInfo(resolution_m=resolution_m, **fields).to_metadata())
    onnx.save(model, str(path))
    return Path(path)


if __name__ == "__main__":
    out, resolution = sys.argv[1], float(sys.argv[2])
    extra = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    print(write_oracle_model(out, resolution, **extra))
