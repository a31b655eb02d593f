"""Tests of geocore.inference: model loading, providers, windowed prediction.

No TensorFlow: tiny fully convolutional ONNX models with known weights are
built here with ``onnx.helper`` (NHWC input, transposed to NCHW inside, as
tf2onnx's exports are).
"""

from __future__ import annotations

import numpy as np
import pytest

from geocore.errors import CancelledError, GeocoreError, ModelError
from geocore.inference import (
    DEFAULT_OVERLAP_PX,
    DEFAULT_WINDOW_PX,
    OnnxCraterModel,
    default_overlap_px,
    default_providers,
    default_window_px,
)
from geocore.model_info import ModelInfo

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

CPU, CUDA = "CPUExecutionProvider", "CUDAExecutionProvider"
RNG = np.random.default_rng(7)
KERNEL = RNG.normal(0, 0.5, (3, 3)).astype(np.float32)

#: Contract of the 3x3 convolution model (default tile 512, multiple 128).
CONV_INFO = ModelInfo(resolution_m=231.5, target_kind="outline", threshold=0.4)
#: Contract of the pooling model: two poolings, so sizes are multiples of 4.
POOL_INFO = ModelInfo(resolution_m=100.0, target_kind="ring", tile_size_px=64, size_multiple_px=4)


def _save(path, nodes, initializers, info, input_shape=("N", "H", "W", 1), metadata=True):
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, list(input_shape))],
        [helper.make_tensor_value_info("probability", TensorProto.FLOAT, ["N", "H", "W", 1])],
        initializer=[numpy_helper.from_array(a, name) for name, a in initializers.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if metadata:
        helper.set_model_props(model, info.to_metadata())
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def conv_model(path, info=CONV_INFO, kernel=KERNEL, bias=0.1, **kwargs):
    """NHWC -> Transpose -> Conv 3x3 (zero 'same' padding) -> Sigmoid -> Transpose."""
    nodes = [
        helper.make_node("Transpose", ["image"], ["nchw"], perm=[0, 3, 1, 2]),
        helper.make_node("Conv", ["nchw", "w", "b"], ["conv"], pads=[1, 1, 1, 1]),
        helper.make_node("Sigmoid", ["conv"], ["sig"]),
        helper.make_node("Transpose", ["sig"], ["probability"], perm=[0, 2, 3, 1]),
    ]
    weights = {"w": kernel.reshape(1, 1, 3, 3), "b": np.array([bias], np.float32)}
    return _save(path, nodes, weights, info, **kwargs)


def sigmoid_model(path, shape):
    """``probability = sigmoid(image)`` for any input shape."""
    graph = helper.make_graph(
        [helper.make_node("Sigmoid", ["image"], ["probability"])],
        "sigmoid",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, list(shape))],
        [helper.make_tensor_value_info("probability", TensorProto.FLOAT, list(shape))],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, CONV_INFO.to_metadata())
    onnx.save(model, str(path))
    return path


def pool_model(path, info=POOL_INFO):
    """A tiny UNet: conv, pool, conv, pool, conv, upsample x2 twice, skip, sigmoid.

    Its output depends on where the pooling grid falls (multiples of 4).
    """
    k = [RNG.normal(0, 0.5, (1, 1, 3, 3)).astype(np.float32) for _ in range(3)]
    conv = {"pads": [1, 1, 1, 1]}
    pool = {"kernel_shape": [2, 2], "strides": [2, 2]}
    nodes = [
        helper.make_node("Transpose", ["image"], ["x0"], perm=[0, 3, 1, 2]),
        helper.make_node("Conv", ["x0", "k0"], ["c0"], **conv),
        helper.make_node("Relu", ["c0"], ["r0"]),
        helper.make_node("AveragePool", ["r0"], ["p0"], **pool),
        helper.make_node("Conv", ["p0", "k1"], ["c1"], **conv),
        helper.make_node("AveragePool", ["c1"], ["p1"], **pool),
        helper.make_node("Conv", ["p1", "k2"], ["c2"], **conv),
        helper.make_node("Resize", ["c2", "", "scales"], ["u1"], mode="nearest"),
        helper.make_node("Resize", ["u1", "", "scales"], ["u0"], mode="nearest"),
        helper.make_node("Add", ["u0", "c0"], ["sum"]),
        helper.make_node("Sigmoid", ["sum"], ["sig"]),
        helper.make_node("Transpose", ["sig"], ["probability"], perm=[0, 2, 3, 1]),
    ]
    weights = {"k0": k[0], "k1": k[1], "k2": k[2]}
    weights["scales"] = np.array([1, 1, 2, 2], np.float32)
    return _save(path, nodes, weights, info)


def whole_run(model: OnnxCraterModel, network_input: np.ndarray) -> np.ndarray:
    """One onnxruntime run on the whole (already scaled) image."""
    x = network_input[None, :, :, None].astype(np.float32)
    return model.session.run(["probability"], {"image": x})[0][0, :, :, 0]


@pytest.fixture(scope="module")
def conv(tmp_path_factory):
    return OnnxCraterModel.load(conv_model(tmp_path_factory.mktemp("m") / "conv.onnx"))


@pytest.fixture(scope="module")
def pooled(tmp_path_factory):
    return OnnxCraterModel.load(pool_model(tmp_path_factory.mktemp("m") / "pool.onnx"))


def image_of(shape, seed=0, low=1):
    return np.random.default_rng(seed).integers(low, 256, shape).astype(np.uint8)


# ---------------------------------------------------------------- loading
def test_load_reads_the_contract_and_uses_the_cpu(conv):
    assert conv.info == CONV_INFO
    assert conv.providers == [CPU]
    assert "conv.onnx" in repr(conv)


def test_threads_are_passed_to_onnxruntime(tmp_path):
    model = OnnxCraterModel.load(conv_model(tmp_path / "m.onnx"), providers="cpu", threads=1)
    assert model.session.get_session_options().intra_op_num_threads == 1
    level = model.session.get_session_options().graph_optimization_level
    assert level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL


def test_overrides_replace_metadata(tmp_path):
    model = OnnxCraterModel.load(conv_model(tmp_path / "m.onnx"), threshold=0.25)
    assert model.info.threshold == 0.25


def test_model_without_metadata_needs_overrides(tmp_path):
    path = conv_model(tmp_path / "bare.onnx", metadata=False)
    with pytest.raises(ModelError, match=r"no crater metadata.*resolution_m=.*target_kind"):
        OnnxCraterModel.load(path)
    model = OnnxCraterModel.load(path, resolution_m=100, target_kind="ring")
    assert (model.info.resolution_m, model.info.target_kind) == (100.0, "ring")


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda p: p.write_bytes(b"not a model at all") and p, r"is not a readable ONNX model"),
        (lambda p: p, r"does not exist; give the path of an \.onnx file"),
        (lambda p: p.mkdir() or p, r"is a folder"),
        (lambda p: sigmoid_model(p, ("N", "H", "W")), r"input 'image' has shape .* \(3-D\)"),
        (
            lambda p: conv_model(p, input_shape=(1, 512, 512, 1)),
            r"fixed batch, height, width",
        ),
    ],
)
def test_bad_model_files(tmp_path, make, match):
    path = make(tmp_path / "model.onnx")
    with pytest.raises(ModelError, match=match):
        OnnxCraterModel.load(path)


def test_bad_threads(tmp_path):
    with pytest.raises(ModelError, match=r"threads=0: must be a whole number >= 1"):
        OnnxCraterModel.load(conv_model(tmp_path / "m.onnx"), threads=0)


# ---------------------------------------------------------------- providers
def test_auto_is_the_cpu_without_onnxruntime_gpu(monkeypatch):
    monkeypatch.setattr(ort, "get_available_providers", lambda: [CPU])
    assert default_providers() == [CPU]
    assert default_providers("cpu") == [CPU]


def test_auto_prefers_cuda_when_onnxruntime_gpu_is_installed(monkeypatch):
    monkeypatch.setattr(ort, "get_available_providers", lambda: [CUDA, CPU])
    assert default_providers("auto") == [CUDA, CPU]
    assert default_providers("cuda") == [CUDA, CPU]
    assert default_providers("cpu") == [CPU]


def test_cuda_without_onnxruntime_gpu_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(ort, "get_available_providers", lambda: [CPU])
    with pytest.raises(ModelError, match=r"no CUDAExecutionProvider.*pip install onnxruntime-gpu"):
        default_providers("cuda")
    with pytest.raises(ModelError, match=r"cannot be installed together"):
        OnnxCraterModel.load(conv_model(tmp_path / "m.onnx"), providers="cuda")
    with pytest.raises(ModelError, match=r"\['CUDAExecutionProvider'\] not available.*gpu"):
        default_providers([CUDA, CPU])


@pytest.mark.skipif(CUDA in ort.get_available_providers(), reason="onnxruntime-gpu installed")
def test_this_machine_runs_auto_on_the_cpu_and_refuses_cuda(tmp_path):
    path = conv_model(tmp_path / "m.onnx")
    assert OnnxCraterModel.load(path, providers="auto").providers == [CPU]
    with pytest.raises(ModelError, match=r"pip install onnxruntime-gpu"):
        OnnxCraterModel.load(path, providers="cuda")


@pytest.mark.parametrize(
    ("providers", "match"),
    [
        ("tpu", r"providers='tpu': expected 'auto', 'cpu', 'cuda'"),
        (["NoSuchProvider"], r"\['NoSuchProvider'\] not available"),
        ([], r"empty list"),
    ],
)
def test_bad_providers(providers, match):
    with pytest.raises(ModelError, match=match):
        default_providers(providers)


# ---------------------------------------------------------------- prediction
def test_scaling_follows_the_contract(tmp_path):
    centre = np.zeros((3, 3), np.float32)
    centre[1, 1] = 1  # output = sigmoid(scaled input)
    model = OnnxCraterModel.load(conv_model(tmp_path / "id.onnx", kernel=centre, bias=0.0))
    image = image_of((40, 50))
    expected = 1 / (1 + np.exp(-(2 * image.astype(np.float64) / 255 - 1)))
    np.testing.assert_allclose(model.predict(image), expected, atol=1e-6)
    # floats are resampled 8-bit data; 16-bit images scale by 65535
    np.testing.assert_allclose(model.predict(image.astype(np.float32)), expected, atol=1e-6)
    wide = image.astype(np.uint16) * 257
    np.testing.assert_allclose(model.predict(wide), expected, atol=1e-6)
    np.testing.assert_allclose(
        model.predict(image, max_value=510.0), 1 / (1 + np.exp(-(image / 255.0 - 1))), atol=1e-6
    )


@pytest.mark.parametrize("shape", [(300, 517), (256, 384), (129, 1)])
def test_stitched_equals_whole_image_run_away_from_the_end(conv, shape):
    image = image_of(shape)
    out = conv.predict(image, window_px=256, overlap_px=128, batch_size=3)
    assert out.shape == shape and out.dtype == np.float32
    reference = whole_run(conv, CONV_INFO.scale_input(image))
    # the 3x3 kernel reaches 1 px: only the last row and column see the reflected padding
    np.testing.assert_allclose(out[:-1, :-1], reference[:-1, :-1], rtol=0, atol=1e-6)
    if shape[0] % 128 == 0 and shape[1] % 128 == 0:  # no padding: equal everywhere
        np.testing.assert_allclose(out, reference, rtol=0, atol=1e-6)


def test_seams_are_invisible_with_pooling(pooled):
    image = image_of((100, 148), seed=3)  # multiples of 4: the whole run needs no padding
    reference = whole_run(pooled, POOL_INFO.scale_input(image))
    out = pooled.predict(image, window_px=64, overlap_px=32, batch_size=2)
    np.testing.assert_allclose(out, reference, rtol=0, atol=1e-6)
    # without overlap, windows lose their context at the seams
    rough = pooled.predict(image, window_px=32, overlap_px=0)
    assert np.abs(rough - reference).max() > 1e-3


def test_windows_start_on_the_pooling_grid(pooled):
    # a shifted copy of the image gives a different map: the grid matters
    image = image_of((96, 96), seed=4)
    reference = whole_run(pooled, POOL_INFO.scale_input(image))
    shifted = whole_run(pooled, POOL_INFO.scale_input(image[2:94, 2:94]))
    assert np.abs(shifted[8:-8, 8:-8] - reference[10:-10, 10:-10]).max() > 1e-3
    out = pooled.predict(image, window_px=48, overlap_px=32)  # stride 16, every start % 4 == 0
    np.testing.assert_allclose(out, reference, rtol=0, atol=1e-6)


def test_image_smaller_than_one_window(conv):
    image = image_of((50, 70))
    out = conv.predict(image)  # window 512 shrinks to the padded 128 x 128
    reference = whole_run(conv, CONV_INFO.scale_input(image))
    assert out.shape == (50, 70)
    np.testing.assert_allclose(out[:-1, :-1], reference[:-1, :-1], rtol=0, atol=1e-6)


def test_a_single_pixel(conv):
    out = conv.predict(np.full((1, 1), 200, np.uint8))
    assert out.shape == (1, 1) and 0 < out[0, 0] < 1


@pytest.mark.parametrize("batch_size", [1, 2, 5, 100])
def test_batch_size_does_not_change_the_result(conv, batch_size):
    image = image_of((300, 517), seed=1)
    reference = conv.predict(image, window_px=256, overlap_px=128, batch_size=4)
    out = conv.predict(image, window_px=256, overlap_px=128, batch_size=batch_size)
    np.testing.assert_allclose(out, reference, rtol=0, atol=1e-6)


def test_input_is_not_modified(conv):
    image = image_of((130, 140))
    image[:5] = 0
    mask = np.zeros(image.shape, bool)
    mask[:, :3] = True
    before, mask_before = image.copy(), mask.copy()
    conv.predict(image, nodata_mask=mask)
    np.testing.assert_array_equal(image, before)
    np.testing.assert_array_equal(mask, mask_before)


# ---------------------------------------------------------------- nodata
def test_missing_pixels_are_filled_as_in_training_and_zero_in_the_output(conv):
    image = image_of((300, 517), seed=2)
    image[100:140, :] = 0  # a THEMIS black streak (missing_value 0)
    image[:, 400:] = 0
    out = conv.predict(image, window_px=256, overlap_px=128)
    # training filled missing pixels with the mean of the valid ones (fill_missing)
    reference = whole_run(conv, CONV_INFO.scale_input(image))
    missing = image == 0
    assert (out[missing] == 0).all()
    keep = ~missing
    keep[-1, :] = keep[:, -1] = False
    np.testing.assert_allclose(out[keep], reference[keep], rtol=0, atol=1e-6)


def test_nodata_mask_and_nan_are_honoured(conv):
    image = image_of((200, 260), seed=5).astype(np.float32)
    mask = np.zeros(image.shape, bool)
    mask[20:60, 30:90] = True
    image[150:160, :] = np.nan
    out = conv.predict(image, nodata_mask=mask, window_px=128, overlap_px=0)
    nodata = mask | np.isnan(image)
    assert (out[nodata] == 0).all() and (out[~nodata] > 0).all()
    valid_mean = image[~nodata].mean(dtype=np.float64)
    filled = np.where(nodata, valid_mean, image)
    reference = whole_run(conv, 2 * filled / 255 - 1)
    inner = ~nodata
    inner[:, -1] = inner[-1, :] = False
    inner[127:129, :] = False  # no overlap: the seams differ
    inner[:, 127:129] = inner[:, 255:257] = False
    np.testing.assert_allclose(out[inner], reference[inner], rtol=0, atol=1e-5)


def test_all_nodata_gives_zeros_without_running(conv):
    calls = []
    out = conv.predict(np.zeros((300, 300), np.uint8), progress=lambda *a: calls.append(a))
    assert (out == 0).all() and out.shape == (300, 300)
    assert calls == [(0, 0)]


def test_windows_that_are_all_nodata_are_skipped(conv):
    image = image_of((256, 1024))
    image[:, 512:] = 0
    calls = []
    conv.predict(image, window_px=256, overlap_px=0, progress=lambda *a: calls.append(a))
    assert calls[-1] == (2, 2)  # 2 of the 4 windows have data


# ---------------------------------------------------------------- progress, cancel
def test_progress_is_called_after_each_batch(conv):
    calls = []
    # 300 x 517: padded 384 x 640, windows of 256 every 128 px: 2 x 4 = 8 windows
    conv.predict(
        image_of((300, 517)),
        window_px=256,
        overlap_px=128,
        batch_size=3,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert calls == [(3, 8), (6, 8), (8, 8)]


def test_default_windows(conv, pooled):
    assert (DEFAULT_WINDOW_PX, DEFAULT_OVERLAP_PX) == (1024, 256)
    assert default_overlap_px(DEFAULT_WINDOW_PX) == DEFAULT_OVERLAP_PX
    assert default_window_px(512) == 1024 and default_window_px(1536) == 1536
    assert [default_overlap_px(w, 4) for w in (4, 8, 16, 64)] == [0, 4, 4, 16]
    calls = []
    # 1500 x 2200: padded 1536 x 2304, windows of 1024 every 768 px: 2 x 3
    image = image_of((1500, 2200), seed=6)
    out = conv.predict(image, progress=lambda *a: calls.append(a))
    assert calls[-1] == (6, 6)
    explicit = conv.predict(image, window_px=1024, overlap_px=256)
    np.testing.assert_array_equal(out, explicit)
    calls.clear()  # an explicit window gets a quarter of it as overlap: 512 -> 128
    conv.predict(image_of((300, 517)), window_px=512, progress=lambda *a: calls.append(a))
    assert calls == [(1, 2), (2, 2)]  # padded 384 x 640: one row of windows at 0 and 128
    calls.clear()  # the pooling model (multiple 4, tile 64) gets the same default window
    pooled.predict(image_of((100, 1100), seed=3), progress=lambda *a: calls.append(a))
    assert calls[-1] == (2, 2)  # 100 x 1100: windows of 1024 at 0 and 76 (1100 - 1024)


def test_default_batch_on_the_cpu_is_one_window(conv):
    calls = []
    conv.predict(image_of((300, 517)), window_px=256, progress=lambda *a: calls.append(a))
    assert calls == [(i, 8) for i in range(1, 9)]


def test_cancel_stops_before_the_next_batch(conv):
    calls, checks = [], []

    def cancel():
        checks.append(1)
        return len(calls) >= 2

    with pytest.raises(CancelledError, match=r"cancelled after 4 of 8 windows"):
        conv.predict(
            image_of((300, 517)),
            window_px=256,
            overlap_px=128,
            batch_size=2,
            progress=lambda *a: calls.append(a),
            cancel=cancel,
        )
    assert calls == [(2, 8), (4, 8)] and len(checks) == 3


def test_cancelled_error_is_a_geocore_error():
    assert issubclass(CancelledError, GeocoreError)


# ---------------------------------------------------------------- bad arguments
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"image": np.zeros((3, 4, 5))}, r"image of shape \(3, 4, 5\): expected one non-empty 2-D"),
        ({"image": np.zeros((0, 5))}, r"non-empty 2-D"),
        ({"image": np.zeros((4, 4), bool)}, r"dtype bool"),
        ({"nodata_mask": np.zeros((3, 3), bool)}, r"nodata_mask of shape \(3, 3\) does not match"),
        ({"window_px": 300}, r"window_px=300: must be a positive multiple of .* 128"),
        ({"overlap_px": 100}, r"overlap_px=100: must be a multiple of .* 128"),
        ({"window_px": 256, "overlap_px": 256}, r"overlap_px=256: .* smaller than window_px"),
        ({"batch_size": 0}, r"batch_size=0: must be a whole number >= 1"),
        ({"max_value": 0.0}, r"max_value=0.0: must be a positive pixel value"),
        ({"max_value": float("nan")}, r"max_value=nan"),
    ],
)
def test_bad_prediction_arguments(conv, kwargs, match):
    kwargs = {"image": image_of((20, 20)), **kwargs}
    with pytest.raises(ModelError, match=match):
        conv.predict(kwargs.pop("image"), **kwargs)


def test_a_model_that_changes_the_size_is_refused(tmp_path):
    nodes = [
        helper.make_node("Transpose", ["image"], ["x"], perm=[0, 3, 1, 2]),
        helper.make_node("AveragePool", ["x"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Transpose", ["p"], ["probability"], perm=[0, 2, 3, 1]),
    ]
    model = OnnxCraterModel.load(_save(tmp_path / "half.onnx", nodes, {}, CONV_INFO))
    with pytest.raises(ModelError, match=r"returned shape \(1, 64, 64, 1\) for input"):
        model.predict(image_of((100, 100)))
