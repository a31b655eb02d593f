"""ONNX export: dynamic shapes, Keras parity, metadata in the file, and clear errors."""

from __future__ import annotations

import datetime
import json

import numpy as np
import pytest

import geocore
from geocore.errors import ModelError, OutputExistsError
from geocore.model_info import ModelInfo, read_model_info
from training.config import preset_config

# Keras 3.15 saving weights under numpy 2 (model.save), not this code
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

keras = pytest.importorskip("keras")
pytest.importorskip("tf2onnx")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from training import export  # noqa: E402
from training.export import ExportError, export_onnx, export_onnx_report, main  # noqa: E402
from training.model import build_unet  # noqa: E402

CONFIG = preset_config("S-5", epochs=7, threshold=0.35, resolution_m=50.0)
S5_PARAMS = 183_145  # 3x3, filters x1/2; float32 weights, 4 bytes each
DATASET = {"data_kind": "synthetic", "description": "64 synthetic scenes", "resolution_m": 100.0}


def make_run(folder, model, config=CONFIG, dataset=DATASET, checkpoint="best.keras", epochs=3):
    """A run folder as train.py writes it (config.json, dataset.json, checkpoint, history)."""
    (folder / "checkpoints").mkdir(parents=True)
    if config is not None:
        config.save(folder / "config.json")
    if dataset is not None:
        (folder / "dataset.json").write_text(json.dumps(dataset))
    if checkpoint:
        model.save(folder / "checkpoints" / checkpoint)
    if epochs:
        rows = "".join(f"{i},0.5,0.9\n" for i in range(epochs))
        (folder / "history.csv").write_text("epoch,loss,accuracy\n" + rows)
    return folder


@pytest.fixture(scope="module")
def model():
    return build_unet(CONFIG)


@pytest.fixture(scope="module")
def exported(model, tmp_path_factory):
    """One export of a run folder, shared by the tests that only read it."""
    root = tmp_path_factory.mktemp("export")
    run = make_run(root / "runs" / "s5", model)
    report = export_onnx_report(run, root / "s5.onnx")
    return run, report


def session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


# ---------------------------------------------------------------- the exported file
def test_onnx_has_dynamic_batch_height_and_width(exported, model):
    _, report = exported
    sess = session(report.path)
    (inp,), (out,) = sess.get_inputs(), sess.get_outputs()
    assert (inp.name, out.name) == ("image", "probability")
    assert inp.shape == ["batch", "height", "width", 1] == out.shape
    rng = np.random.default_rng(1)
    for shape in [(1, 128, 128, 1), (3, 256, 384, 1), (1, 384, 128, 1)]:
        x = rng.uniform(-1, 1, shape).astype(np.float32)
        y = sess.run(None, {"image": x})[0]
        assert y.shape == shape
        assert np.max(np.abs(y - np.asarray(model(x, training=False)))) < 1e-4


def test_parity_is_measured_and_small(exported):
    _, report = exported
    assert report.max_abs_diff is not None
    assert 0 <= report.max_abs_diff < export.PARITY_TOLERANCE
    assert report.size_bytes == report.path.stat().st_size > 4 * S5_PARAMS


def test_metadata_describes_the_run(exported):
    _, report = exported
    info = read_model_info(report.path)
    assert info == report.info
    expected = ModelInfo(
        resolution_m=100.0,  # dataset.json wins over config.resolution_m (what the data really was)
        missing_value=None,  # synthetic dots: black is background, not missing data
        target_kind="filled",
        tile_size_px=512,
        inner_ratio=0.7,
        ring_width_px=4.0,
        min_diameter_km=2.0,
        max_diameter_km=32.0,
        threshold=0.35,
        preset="S-5",
        kernel_size=3,
        filter_multiple=0.5,
        training_data="64 synthetic scenes",
        epochs=3,  # rows of history.csv: the epochs actually trained
        created=datetime.date.today().isoformat(),
        project_version=geocore.__version__,
    )
    assert info == expected
    props = {p.key: p.value for p in onnx.load(str(report.path)).metadata_props}
    assert props == expected.to_metadata()


def test_overwrite_is_refused_then_allowed(exported, model, tmp_path):
    run, report = exported
    before = report.path.read_bytes()
    with pytest.raises(OutputExistsError, match="already exists; pass --overwrite"):
        export_onnx(run, report.path)
    assert report.path.read_bytes() == before
    out = tmp_path / "m.onnx"
    out.write_bytes(b"old")
    info = export_onnx(
        model, out, config=CONFIG, dataset_info=DATASET, overwrite=True, check=False, threshold=0.6
    )
    assert info.threshold == 0.6 and info.epochs == 7  # no run folder: config.epochs
    assert read_model_info(out) == info


def test_failed_parity_writes_nothing(model, tmp_path, monkeypatch):
    monkeypatch.setattr(export, "PARITY_TOLERANCE", 0.0)
    with pytest.raises(ExportError, match=r"Keras and onnxruntime disagree: max \|diff\| = "):
        export_onnx(model, tmp_path / "m.onnx", config=CONFIG, dataset_info=DATASET)
    assert list(tmp_path.iterdir()) == []


def test_stripped_metadata_needs_overrides(exported, tmp_path):
    _, report = exported
    proto = onnx.load(str(report.path))
    del proto.metadata_props[:]
    bare = tmp_path / "bare.onnx"
    onnx.save(proto, str(bare))
    with pytest.raises(ModelError, match=r"no crater metadata; pass .*resolution_m=.*target_kind"):
        read_model_info(bare)
    info = read_model_info(bare, resolution_m=100, target_kind="filled")
    assert (info.resolution_m, info.input_name, info.output_name) == (100.0, "image", "probability")


# ---------------------------------------------------------------- the command line
def test_cli_exports_a_keras_file_with_flags(exported, tmp_path, capsys):
    run, _ = exported
    out = tmp_path / "cli.onnx"
    argv = [str(run / "checkpoints" / "best.keras"), "--out", str(out), "--threshold", "0.3"]
    argv += ["--resolution-m", "231.5", "--target-kind", "outline"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "parity: max |Keras - onnxruntime| = " in printed and "2x256x384x1" in printed
    assert "231.5 m/px" in printed and "outline" in printed
    info = read_model_info(out)
    assert (info.threshold, info.resolution_m, info.target_kind) == (0.3, 231.5, "outline")
    assert info.preset == "" and info.epochs is None  # a bare .keras file knows no run

    assert main(argv) == 2
    assert "already exists; pass --overwrite" in capsys.readouterr().err


def test_cli_stores_extraction_settings(exported, tmp_path, capsys):
    run, _ = exported
    out = tmp_path / "tuned.onnx"
    argv = [str(run), "--out", str(out), "--no-check", "--extraction", "correlation_threshold=0.55"]
    assert main([*argv, "--extraction", "method=fast", "--extraction", "radius_step_px=1"]) == 0
    info = read_model_info(out)
    assert dict(info.extraction) == {
        "correlation_threshold": 0.55, "method": "fast", "radius_step_px": 1,
    }  # fmt: skip
    bad = [str(run), "--out", str(tmp_path / "bad.onnx"), "--extraction", "no_such_field=1"]
    assert main(bad) == 2
    assert "no_such_field" in capsys.readouterr().err
    assert not (tmp_path / "bad.onnx").exists()


def test_cli_reports_errors_with_status_2(tmp_path, capsys):
    assert main([str(tmp_path / "runs" / "gone"), "--out", str(tmp_path / "m.onnx")]) == 2
    assert "gone' does not exist; give a run folder" in capsys.readouterr().err


# ---------------------------------------------------------------- bad inputs
def test_missing_run_folder(tmp_path):
    with pytest.raises(ExportError, match=r"runs/x' does not exist; give a run folder"):
        export_onnx(tmp_path / "runs" / "x", tmp_path / "m.onnx")


def test_run_without_checkpoint(tmp_path, model):
    run = make_run(tmp_path / "run", model, checkpoint=None)
    with pytest.raises(ExportError, match=r"has no checkpoint \(checkpoints/best.keras or .*last"):
        export_onnx(run, tmp_path / "m.onnx")


def test_run_without_config(tmp_path, exported):
    run, _ = exported
    bare = tmp_path / "run"
    (bare / "checkpoints").mkdir(parents=True)
    (bare / "checkpoints" / "last.keras").write_bytes((run / "checkpoints/best.keras").read_bytes())
    with pytest.raises(ExportError, match=r"no training configuration .*config.json"):
        export_onnx(bare, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()
    # with the configuration given, the last.keras checkpoint is used
    info = export_onnx(bare, tmp_path / "m.onnx", config=CONFIG, check=False)
    assert info.preset == "S-5" and info.resolution_m == 50.0  # no dataset.json: config's


def test_keras_file_without_metadata_flags(exported, tmp_path):
    model_file = exported[0] / "checkpoints" / "best.keras"
    with pytest.raises(
        ExportError, match=r"no training configuration.*--resolution-m and --target"
    ):
        export_onnx(model_file, tmp_path / "m.onnx")
    with pytest.raises(ExportError, match=r"no training configuration.*--target-kind"):
        export_onnx(model_file, tmp_path / "m.onnx", resolution_m=100)
    with pytest.raises(ExportError, match=r"no resolution for unknown training data.*--resolution"):
        export_onnx(model_file, tmp_path / "m.onnx", target_kind="ring")


def test_no_resolution_for_real_data(tmp_path, model):
    config = preset_config("C-5")  # THEMIS tiles, no resolution in the configuration
    with pytest.raises(ExportError, match=r"no resolution for themis-tiles training data"):
        export_onnx(model, tmp_path / "m.onnx", config=config)
    dataset = {"data_kind": "themis-tiles", "description": "t", "resolution_m": None}
    with pytest.raises(ExportError, match=r"pass --resolution-m \(resolution_m=\.\.\.\)"):
        export_onnx(model, tmp_path / "m.onnx", config=config, dataset_info=dataset)


def test_dataset_description_wins_over_the_configuration():
    synthetic = {
        **DATASET,
        "resolution_m": None,  # synthetic scenes have no physical scale
        "min_diameter_km": None,
        "max_diameter_km": None,
        "ring_width_px": 8.0,
    }
    info = export.model_info_for(CONFIG, synthetic)
    assert info.resolution_m is None and "no physical scale" in info.summary()
    assert info.missing_value is None
    assert (info.min_diameter_km, info.max_diameter_km, info.ring_width_px) == (None, None, 8.0)
    assert info.training_data == "64 synthetic scenes" and info.epochs == 7
    assert export.model_info_for(CONFIG, {}).resolution_m == 50.0  # config.resolution_m
    assert export.model_info_for(preset_config("C-1", resolution_m=231.5)).missing_value == 0
    assert export.model_info_for(CONFIG, synthetic, resolution_m=80).resolution_m == 80.0


def test_not_a_model_file(tmp_path):
    path = tmp_path / "weights.h5"
    path.write_bytes(b"x")
    with pytest.raises(ExportError, match=r"weights.h5' is not a run folder or a .keras file"):
        export_onnx(path, tmp_path / "m.onnx")
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"not a zip")
    with pytest.raises(ExportError, match=r"cannot load Keras model .*broken.keras"):
        export_onnx(broken, tmp_path / "m.onnx", config=CONFIG)


def test_unknown_metadata_field(tmp_path, model):
    with pytest.raises(ExportError, match=r"unknown metadata fields \['tile_size'\]"):
        export_onnx(model, tmp_path / "m.onnx", config=CONFIG, tile_size=256)


def test_model_that_is_not_a_one_band_unet(tmp_path):
    inputs = keras.Input(shape=(None, None, 3), name="image")
    rgb = keras.Model(inputs, keras.layers.Conv2D(1, 1)(inputs))
    with pytest.raises(ExportError, match=r"a crater model maps one \(None, None, None, 1\)"):
        export_onnx(rgb, tmp_path / "m.onnx", config=CONFIG, dataset_info=DATASET)
    inputs = keras.Input(shape=(128, 128, 1), name="image")
    fixed = keras.Model(inputs, keras.layers.Conv2D(1, 1)(inputs))
    with pytest.raises(ExportError, match=r"input shape \(None, 128, 128, 1\); rebuild it"):
        export_onnx(fixed, tmp_path / "m.onnx", config=CONFIG, dataset_info=DATASET)


# ---------------------------------------------------------------- the two graphs
def test_fast_graph_is_the_default_and_tf2onnx_is_kept(exported, tmp_path):
    run, report = exported
    fast = onnx.load(str(report.path))
    ops = {node.op_type for node in fast.graph.node}
    assert {"SpaceToDepth", "DepthToSpace", "Resize"} <= ops and "Tile" not in ops
    assert "fast graph" in fast.doc_string
    out = tmp_path / "tf.onnx"
    tf_report = export_onnx_report(run, out, graph="tf2onnx")
    assert tf_report.max_abs_diff < export.PARITY_TOLERANCE
    assert "SpaceToDepth" not in {node.op_type for node in onnx.load(str(out)).graph.node}
    assert read_model_info(out) == report.info  # same contract, same metadata
    x = np.random.default_rng(3).uniform(-1, 1, (2, 128, 256, 1)).astype(np.float32)
    a, b = (session(p).run(["probability"], {"image": x})[0] for p in (report.path, out))
    assert np.abs(a - b).max() < 1e-5


def small_model(kernel=(3, 5)):
    """Rectangular kernels, a linear conv without bias, two skips: beyond build_unet."""
    inputs = keras.Input(shape=(None, None, 1), name="image")
    c0 = keras.layers.Conv2D(4, kernel, padding="same", activation="relu")(inputs)
    p0 = keras.layers.AveragePooling2D(2)(c0)
    c1 = keras.layers.Conv2D(6, 5, padding="same", activation="relu")(p0)
    p1 = keras.layers.AveragePooling2D(2)(c1)
    c2 = keras.layers.Conv2D(6, 3, padding="same", use_bias=False)(p1)
    u1 = keras.layers.UpSampling2D(2)(c2)
    a1 = keras.layers.Add()([u1, c1])  # an upsampled tensor added before any conv
    u0 = keras.layers.UpSampling2D(2)(a1)
    c3 = keras.layers.Conv2D(4, kernel[::-1], padding="same", activation="relu")(u0)
    a0 = keras.layers.Add()([c3, c0])
    out = keras.layers.Conv2D(1, 1, activation="sigmoid")(a0)
    return keras.Model(inputs, out)


@pytest.mark.parametrize(
    "make",
    [
        lambda: small_model((3, 5)),
        lambda: small_model((7, 1)),
        lambda: build_unet(preset_config("O-4", filter_multiple=0.25)),  # 7x7 UNet
    ],
)
def test_fast_graph_matches_keras_beyond_3x3(tmp_path, make):
    keras.utils.set_random_seed(2)
    net = make()
    report = export_onnx_report(net, tmp_path / "m.onnx", config=CONFIG, dataset_info=DATASET)
    assert report.max_abs_diff < export.PARITY_TOLERANCE


def test_fast_graph_refuses_unknown_layers(tmp_path):
    inputs = keras.Input(shape=(None, None, 1), name="image")
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.UpSampling2D(2)(x)
    net = keras.Model(inputs, keras.layers.Conv2D(1, 1, activation="sigmoid")(x))
    with pytest.raises(ExportError, match=r"cannot write layer .*MaxPooling2D.*--graph tf2onnx"):
        export_onnx(net, tmp_path / "m.onnx", config=CONFIG, dataset_info=DATASET)
    assert list(tmp_path.iterdir()) == []
    info = export_onnx(net, tmp_path / "m.onnx", config=CONFIG, graph="tf2onnx")
    assert read_model_info(tmp_path / "m.onnx") == info


def test_bad_graph_and_opset(tmp_path, model):
    with pytest.raises(ExportError, match=r"graph='onnx': expected one of fast, tf2onnx"):
        export_onnx(model, tmp_path / "m.onnx", config=CONFIG, graph="onnx")
    with pytest.raises(ExportError, match=r"--opset 11: the fast graph needs opset 13"):
        export_onnx(model, tmp_path / "m.onnx", config=CONFIG, opset=11)
    assert list(tmp_path.iterdir()) == []


def test_cli_graph_option(exported, tmp_path, capsys):
    run, _ = exported
    out = tmp_path / "tf.onnx"
    assert main([str(run), "--out", str(out), "--graph", "tf2onnx", "--no-check"]) == 0
    assert "(tf2onnx graph, " in capsys.readouterr().out
    assert "tf2onnx graph" in onnx.load(str(out)).doc_string


# ---------------------------------------------------------------- windows vs receptive field
def receptive_field_px(net) -> int:
    """How far (px) from an output pixel the input pixels it depends on reach.

    Follows each Keras tensor's reach ``[lo, hi]`` in input pixels around
    ``scale * i`` for its pixel ``i``: a k x k convolution widens it by
    ``k // 2`` of its pixels; a 2x pooling doubles the scale and reaches one
    more pixel on the high side; a nearest 2x upsampling halves the scale
    and reaches one more (new) pixel on the low side; an Add takes the union.
    """
    reach = {id(net.inputs[0]): (1, 0, 0)}
    for layer in net.layers[1:]:
        inputs = layer.input if isinstance(layer.input, list) else [layer.input]
        scale, lo, hi = reach[id(inputs[0])]
        if isinstance(layer, keras.layers.Conv2D):
            lo, hi = lo - layer.kernel_size[0] // 2 * scale, hi + layer.kernel_size[0] // 2 * scale
        elif isinstance(layer, keras.layers.AveragePooling2D):
            scale, hi = 2 * scale, hi + scale
        elif isinstance(layer, keras.layers.UpSampling2D):
            scale //= 2
            lo -= scale
        elif isinstance(layer, keras.layers.Add):
            lo, hi = min(reach[id(t)][1] for t in inputs), max(reach[id(t)][2] for t in inputs)
        reach[id(layer.output)] = (scale, lo, hi)
    _, lo, hi = reach[id(net.outputs[0])]
    return max(-lo, hi)


def test_receptive_field_of_the_paper_unets():
    assert receptive_field_px(build_unet(preset_config("S-5"))) == 509  # 3x3
    assert receptive_field_px(build_unet(preset_config("O-4", filter_multiple=0.25))) == 1273


def test_stitched_windows_match_a_whole_image_run_of_a_real_unet(tmp_path):
    """Stitched windows of an exported UNet (3x3, x1/2, random weights) vs one whole run.

    The image is a multiple of 128 px, so no reflected padding is involved
    and the comparison holds up to the image's edges.
    """
    from geocore.inference import DEFAULT_OVERLAP_PX, DEFAULT_WINDOW_PX, OnnxCraterModel

    keras.utils.set_random_seed(0)
    net = build_unet(preset_config("S-5"))
    path = tmp_path / "s5.onnx"
    export_onnx(net, path, config=CONFIG, dataset_info=DATASET, check=False)
    engine = OnnxCraterModel.load(path, providers="cpu", threads=2)
    image = np.random.default_rng(4).integers(1, 256, (1536, 1408)).astype(np.uint8)
    x = engine.info.scale_input(image)[None, :, :, None].astype(np.float32)
    whole = engine.session.run(["probability"], {"image": x})[0][0, :, :, 0]

    def deviation(**windows):
        return float(np.abs(engine.predict(image, **windows) - whole).max())

    # every kept pixel 512 px inside its window, beyond the receptive field (509): equal
    assert deviation(window_px=1152, overlap_px=1024) < 1e-5
    # the defaults keep 128 px: not equal, but close (5-100x closer than 512 / 128)
    assert (DEFAULT_WINDOW_PX, DEFAULT_OVERLAP_PX) == (1024, 256)
    assert deviation() < 1e-4
    assert deviation(window_px=512, overlap_px=128) > 1e-4
