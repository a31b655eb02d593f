"""ModelInfo: validation, the crater.* metadata round trip, and reading ONNX files.

No TensorFlow here: ONNX files are built directly with ``onnx.helper``.
"""

from __future__ import annotations

import logging
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from geocore.errors import GeocoreError, ModelError
from geocore.model_info import (
    FORMAT_VERSION,
    INPUT_SCALINGS,
    METADATA_PREFIX,
    ModelInfo,
    read_model_info,
)
from geocore.themis import preprocess

FULL = {
    "resolution_m": 231.5,
    "target_kind": "outline",
    "tile_size_px": 384,
    "inner_ratio": 0.65,
    "min_diameter_km": 4.0,
    "max_diameter_km": 64.0,
    "threshold": 0.4,
    "extraction": {"method": "hough", "radii_px": [4, 70], "min_score": 0.5},
    "preset": "O-1",
    "kernel_size": 3,
    "filter_multiple": 1.0,
    "training_data": "6 THEMIS tiles, Robbins 2012 craters",
    "epochs": 50,
    "created": "2025-01-31",
    "project_version": "0.1.0",
}


# ---------------------------------------------------------------- values
def test_defaults_and_required_fields():
    info = ModelInfo(resolution_m=100, target_kind="ring")
    assert info.format_version == FORMAT_VERSION
    assert (info.input_scaling, info.missing_value, info.tile_size_px) == ("unit_range", 0.0, 512)
    assert (info.input_name, info.output_name, info.size_multiple_px) == (
        "image",
        "probability",
        128,
    )
    assert info.resolution_m == 100.0 and isinstance(info.resolution_m, float)
    assert info.target_spec.kind == "ring"
    with pytest.raises(TypeError, match="resolution_m"):
        ModelInfo(target_kind="ring")


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"resolution_m": 0}, r"resolution_m=0.0: must be a positive number of metres"),
        ({"resolution_m": float("nan")}, "resolution_m=nan"),
        ({"resolution_m": "231"}, r"resolution_m='231': must be a number"),
        ({"target_kind": "blob"}, "unknown target kind 'blob'"),
        ({"inner_ratio": 1.2}, "inner_ratio must be within"),
        ({"ring_width_px": -1}, "ring_width_px must be a positive"),
        ({"tile_size_px": 500}, r"tile_size_px=500: must be a positive multiple of .*128"),
        ({"tile_size_px": 512.5}, r"tile_size_px=512.5: must be a whole number"),
        ({"size_multiple_px": 0}, "size_multiple_px=0"),
        ({"threshold": 1.5}, r"threshold=1.5: must be between 0 and 1"),
        ({"input_scaling": "2x-1"}, r"input_scaling='2x-1': must be one of unit_range"),
        ({"missing_value": float("inf")}, "missing_value=inf"),
        ({"min_diameter_km": 70.0}, "min diameter 70 km is above max diameter 64 km"),
        ({"max_diameter_km": -1.0}, "max diameter -1.0 km must be a number >= 0"),
        ({"created": "yesterday"}, r"created='yesterday': must be an ISO date"),
        ({"extraction": {"f": object()}}, "must hold only JSON values"),
        ({"extraction": [1, 2]}, "must be a dict of JSON values"),
        ({"format_version": FORMAT_VERSION + 1}, "update geocore"),
        ({"kernel_size": 0}, "kernel_size=0"),
        ({"epochs": True}, "epochs=True: must be a number"),
        ({"input_name": ""}, "input_name='': must name"),
        ({"preset": None}, r"preset=None: a value is needed"),
    ],
)
def test_invalid_values_are_refused(change, match):
    with pytest.raises(ModelError, match=match):
        ModelInfo(**{**FULL, **change})


def test_model_error_is_a_geocore_value_error():
    assert issubclass(ModelError, GeocoreError) and issubclass(ModelError, ValueError)


def test_frozen_hashable_and_extraction_read_only():
    info = ModelInfo(**FULL)
    with pytest.raises(AttributeError):
        info.threshold = 0.9
    with pytest.raises(TypeError):
        info.extraction["method"] = "template"
    assert hash(info) == hash(ModelInfo(**FULL))


def test_extraction_is_copied_from_the_caller():
    extraction = {"radii_px": [4, 70]}
    info = ModelInfo(**{**FULL, "extraction": extraction})
    extraction["radii_px"].append(99)
    assert info.extraction["radii_px"] == [4, 70]


def test_replace_validates_and_names_unknown_fields():
    info = ModelInfo(**FULL)
    assert info.replace(threshold=0.3).threshold == 0.3
    with pytest.raises(ModelError, match=r"threshold=0\.0"):
        info.replace(threshold=0.0)
    with pytest.raises(ModelError, match=r"unknown model fields \['resolution'\]"):
        info.replace(resolution=100)


def test_summary_names_the_contract():
    text = ModelInfo(**FULL).summary()
    for part in ("O-1", "231.5 m/px", "tile 384 px", "outline (inner ratio 0.65)", "4-64 km"):
        assert part in text
    assert "threshold 0.4" in text and '"method": "hough"' in text


# ---------------------------------------------------------------- input scaling
def test_unit_range_is_the_papers_preprocessing():
    image = np.array([[0, 10, 255], [128, 0, 64]], dtype=np.uint8)
    before = image.copy()
    out = ModelInfo(resolution_m=100, target_kind="filled").scale_input(image)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, preprocess(image))
    np.testing.assert_array_equal(image, before)


def test_other_scalings_and_no_missing_value():
    image = np.array([[0, 51], [255, 102]], dtype=np.uint8)
    base = {"resolution_m": 100, "target_kind": "filled"}
    zero_one = ModelInfo(**base, input_scaling="zero_one").scale_input(image)
    np.testing.assert_allclose(zero_one, [[136 / 255, 0.2], [1.0, 0.4]], rtol=1e-6)
    identity = ModelInfo(**base, input_scaling="identity", missing_value=None).scale_input(image)
    np.testing.assert_array_equal(identity, image.astype(np.float32))
    assert set(INPUT_SCALINGS) == {"unit_range", "zero_one", "identity"}


def test_sixteen_bit_images_scale_by_their_maximum():
    image = np.array([[0, 65535], [32768, 65535]], dtype=np.uint16)
    out = ModelInfo(resolution_m=100, target_kind="filled").scale_input(image, max_value=65535)
    np.testing.assert_array_equal(out, preprocess(image, max_value=65535))
    assert out.max() == 1.0
    with pytest.raises(ModelError, match=r"max_value=0: must be positive"):
        ModelInfo(resolution_m=100, target_kind="filled").scale_input(image, max_value=0)


def test_scale_input_needs_one_band():
    with pytest.raises(ModelError, match=r"shape \(1, 2, 2\): expected one 2-D band"):
        ModelInfo(resolution_m=100, target_kind="filled").scale_input(np.zeros((1, 2, 2)))


# ---------------------------------------------------------------- metadata strings
def test_metadata_round_trip_and_layout():
    info = ModelInfo(**FULL)
    meta = info.to_metadata()
    assert all(k.startswith(METADATA_PREFIX) for k in meta)
    assert all(isinstance(v, str) for v in meta.values())
    assert meta["crater.resolution_m"] == "231.5"
    assert meta["crater.target_kind"] == "outline"
    assert meta["crater.extraction"] == '{"method":"hough","min_score":0.5,"radii_px":[4,70]}'
    assert ModelInfo.from_metadata(meta) == info


def test_none_values_round_trip_as_empty_strings():
    info = ModelInfo(resolution_m=None, target_kind="filled", missing_value=None)
    meta = info.to_metadata()
    assert meta["crater.missing_value"] == "" and meta["crater.extraction"] == ""
    assert meta["crater.epochs"] == "" and meta["crater.preset"] == ""
    assert meta["crater.resolution_m"] == ""
    back = ModelInfo.from_metadata(meta)
    assert back == info and back.missing_value is None and back.extraction is None
    assert back.resolution_m is None and "no physical scale" in back.summary()


@given(
    resolution_m=st.floats(1e-3, 1e6, allow_nan=False),
    threshold=st.floats(0.0, 1.0, exclude_min=True, exclude_max=True),
    diameters=st.tuples(st.floats(0, 1e3), st.floats(0, 1e3)).map(sorted),
    text=st.text(),
)
def test_metadata_round_trip_is_exact(resolution_m, threshold, diameters, text):
    info = ModelInfo(
        resolution_m=resolution_m,
        target_kind="filled",
        threshold=threshold,
        min_diameter_km=diameters[0],
        max_diameter_km=diameters[1],
        training_data=text,
    )
    assert ModelInfo.from_metadata(info.to_metadata()) == info


def test_overrides_win_over_metadata_and_foreign_keys_are_ignored():
    meta = {**ModelInfo(**FULL).to_metadata(), "model_type": "Segmentor", "resolution": "10"}
    info = ModelInfo.from_metadata(meta, threshold=0.3, resolution_m=100)
    assert (info.threshold, info.resolution_m, info.preset) == (0.3, 100.0, "O-1")


def test_no_metadata_names_the_overrides_to_pass():
    with pytest.raises(
        ModelError, match=r"no crater metadata; pass .*resolution_m=\.\.\., target_kind"
    ):
        ModelInfo.from_metadata({"producer": "x"})
    info = ModelInfo.from_metadata({}, resolution_m=100, target_kind="ring", ring_width_px=8)
    assert (info.resolution_m, info.target_kind, info.ring_width_px) == (100.0, "ring", 8.0)


def test_partial_metadata_names_what_is_missing():
    meta = ModelInfo(**FULL).to_metadata()
    del meta["crater.resolution_m"]
    with pytest.raises(ModelError, match=r"no resolution_m in its metadata.*--resolution-m"):
        ModelInfo.from_metadata(meta)
    assert ModelInfo.from_metadata(meta, resolution_m=231.5) == ModelInfo(**FULL)


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("crater.threshold", "high", r"crater.threshold='high' is not a valid float"),
        ("crater.tile_size_px", "512.0", r"crater.tile_size_px='512.0' is not a valid int"),
        ("crater.extraction", "{oops", r"crater.extraction='\{oops' is not a valid json"),
        ("crater.tile_size_px", "", r"crater.tile_size_px is empty"),
        ("crater.format_version", "99", r"format_version='99' is newer than this geocore"),
        ("crater.threshold", "2", r"threshold=2.0: must be between 0 and 1"),
    ],
)
def test_bad_metadata_values(key, value, match):
    meta = {**ModelInfo(**FULL).to_metadata(), key: value}
    with pytest.raises(ModelError, match=match):
        ModelInfo.from_metadata(meta)


def test_unknown_crater_keys_are_logged_and_ignored(caplog):
    meta = {**ModelInfo(**FULL).to_metadata(), "crater.future_field": "1"}
    with caplog.at_level(logging.WARNING, logger="geocore.model_info"):
        assert ModelInfo.from_metadata(meta) == ModelInfo(**FULL)
    assert "crater.future_field" in caplog.text


def test_unknown_override_is_refused():
    with pytest.raises(ModelError, match=r"unknown model fields \['tile_size'\]"):
        ModelInfo.from_metadata({}, resolution_m=1, target_kind="filled", tile_size=512)


# ---------------------------------------------------------------- ONNX files
FLOAT, DOUBLE = 1, 11  # onnx.TensorProto element types


def make_onnx(
    path,
    metadata=None,
    shape=("N", "H", "W", 1),
    input_name="image",
    output_name="probability",
    elem_type=FLOAT,
    n_inputs=1,
):
    """A tiny Sigmoid model ``input -> output`` with the given input shape and metadata."""
    onnx = pytest.importorskip("onnx")
    from onnx import helper

    inputs = [helper.make_tensor_value_info(input_name, elem_type, list(shape))]
    inputs += [
        helper.make_tensor_value_info(f"extra{i}", elem_type, list(shape))
        for i in range(1, n_inputs)
    ]
    output = helper.make_tensor_value_info(output_name, elem_type, list(shape))
    node = helper.make_node("Sigmoid", [input_name], [output_name])
    graph = helper.make_graph([node], "tiny", inputs, [output])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if metadata:
        helper.set_model_props(model, metadata)
    onnx.save(model, str(path))
    return path


def test_read_model_info_round_trips(tmp_path):
    info = ModelInfo(**FULL)
    path = make_onnx(tmp_path / "m.onnx", info.to_metadata())
    assert read_model_info(path) == info
    assert read_model_info(str(path), threshold=0.25).threshold == 0.25


def test_model_without_metadata_needs_overrides(tmp_path):
    path = make_onnx(tmp_path / "bare.onnx", {"model_type": "Segmentor"}, input_name="x")
    with pytest.raises(
        ModelError, match=r"bare.onnx'.*no crater metadata.*resolution_m=.*target_kind"
    ):
        read_model_info(path)
    info = read_model_info(path, resolution_m=100, target_kind="outline")
    assert (info.resolution_m, info.target_kind) == (100.0, "outline")
    assert (info.input_name, info.output_name) == ("x", "probability")


def test_metadata_names_must_match_the_graph(tmp_path):
    meta = ModelInfo(**FULL, input_name="input_1").to_metadata()
    path = make_onnx(tmp_path / "m.onnx", meta)
    with pytest.raises(ModelError, match=r"input_name='input_1' but .* named 'image'"):
        read_model_info(path)
    assert read_model_info(path, input_name="image").input_name == "image"


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ModelError, match=r"nope.onnx' does not exist; give the path of an .onnx"):
        read_model_info(tmp_path / "nope.onnx")
    with pytest.raises(ModelError, match="is a folder"):
        read_model_info(tmp_path)


def test_not_an_onnx_file(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_text("not a model at all\n")
    with pytest.raises(ModelError, match=r"model.onnx' is not a readable ONNX model"):
        read_model_info(path)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"shape": ("N", "H", "W")}, r"input 'image' has shape \['N', 'H', 'W'\] \(3-D\)"),
        ({"shape": ("N", 1, "H", "W")}, r"\(channels first, NCHW\?\), not 1 channel last"),
        ({"shape": ("N", "H", "W", 3)}, r"not 1 channel last"),
        ({"shape": ("N", 512, 512, 1)}, r"with fixed height, width"),
        ({"shape": (1, "H", "W", 1)}, r"with fixed batch"),
        ({"elem_type": DOUBLE}, r"is tensor\(double\)"),
        ({"n_inputs": 2}, r"has 2 inputs and 1 outputs"),
    ],
)
def test_wrong_input_layout_is_refused(tmp_path, kwargs, match):
    path = make_onnx(tmp_path / "m.onnx", ModelInfo(**FULL).to_metadata(), **kwargs)
    with pytest.raises(ModelError, match=match):
        read_model_info(path)


def test_module_imports_only_numpy_and_the_standard_library():
    code = (
        "import sys, geocore.model_info; "
        "heavy = [m for m in ('onnxruntime', 'onnx', 'tensorflow', 'keras', 'rasterio', "
        "'pyproj', 'shapely', 'geopandas', 'PIL') if m in sys.modules]; "
        "sys.exit(f'imported {heavy}' if heavy else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_the_bundled_default_model_and_its_card():
    from pathlib import Path

    from geocore.model_info import default_model_path, read_model_info

    path = default_model_path()
    assert path is not None and path.name == "crater_default.onnx"
    info = read_model_info(path)
    assert (info.resolution_m, info.target_kind, info.ring_width_px) == (231.5, "ring", 4.0)
    assert info.threshold == 0.6 and dict(info.extraction) == {"correlation_threshold": 0.5}
    assert info.epochs == 60 and "660 train / 117 val images" in info.training_data
    held_out = (path.parent / "crater_default_validation.txt").read_text().split()
    assert len(held_out) == 117 == len(set(held_out))
    card = (Path(__file__).resolve().parents[2] / "MODEL_CARD.md").read_text()
    assert "0.787" in card and "crater_default_validation.txt" in card
