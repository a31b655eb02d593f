"""An ONNX model exported by training.export is read and run inside QGIS's Python.

The model is built and exported in the project's main environment (TensorFlow)
through a subprocess; QGIS's Python (numpy 1.24, onnxruntime) then reads its
ModelInfo and runs it, and must agree with Keras's output saved beside it.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.qgis

ROOT = Path(__file__).resolve().parents[2]

HEAVY = ("tensorflow", "keras", "tf2onnx", "onnx", "rasterio", "geopandas")

# Runs in the main environment: a tiny S-5 run folder, exported with the command line,
# plus a seeded input image and Keras's prediction for it.
EXPORT_SCRIPT = """
import json, sys
from pathlib import Path
import numpy as np
from geocore.themis import preprocess
from training.config import preset_config
from training.model import build_unet
from training.export import main
root = Path(sys.argv[1])
cfg = preset_config("O-5", epochs=2, resolution_m=231.5, threshold=0.4)
run = root / "runs" / "o5"
(run / "checkpoints").mkdir(parents=True)
cfg.save(run / "config.json")
(run / "dataset.json").write_text(json.dumps(
    {"data_kind": "themis-tiles", "description": "test tiles", "resolution_m": 231.5}))
model = build_unet(cfg)
model.save(run / "checkpoints" / "best.keras")
image = np.random.default_rng(3).integers(0, 256, (128, 256), dtype=np.uint8)
image[:, :20] = 0  # a missing-data streak
np.save(root / "image.npy", image)
x = preprocess(image)[None, :, :, None]
np.save(root / "keras.npy", np.asarray(model(x, training=False)))
sys.exit(main([str(run), "--out", str(root / "o5.onnx")]))
"""


@pytest.fixture(scope="module")
def exported(geocore_python, tmp_path_factory):
    root = tmp_path_factory.mktemp("onnx")
    proc = subprocess.run(
        [geocore_python, "-c", EXPORT_SCRIPT, str(root)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={
            **{k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
            "TF_CPP_MIN_LOG_LEVEL": "2",
        },
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise AssertionError(f"export in the main environment failed: {proc.stderr[-2000:]}")
    return root


def test_model_info_module_is_light():
    # in a fresh interpreter: other tests of this session may have loaded onnxruntime
    code = (
        "import sys, geocore.model_info; "
        f"print([m for m in {(*HEAVY, 'onnxruntime')!r} if m in sys.modules])"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]", (
        f"geocore.model_info pulled {proc.stdout} into QGIS's Python"
    )


def test_read_and_run_exported_model_in_qgis(qgis_app, exported):
    import onnxruntime

    from geocore.model_info import read_model_info

    assert np.__version__.startswith("1."), "QGIS 3.22 on Debian 12 ships numpy 1.24"
    info = read_model_info(exported / "o5.onnx")
    assert (info.preset, info.target_kind, info.resolution_m) == ("O-5", "outline", 231.5)
    assert (info.threshold, info.tile_size_px, info.input_scaling) == (0.4, 512, "unit_range")
    assert (info.training_data, info.epochs, info.kernel_size) == ("test tiles", 2, 3)

    image = np.load(exported / "image.npy")
    x = info.scale_input(image)[None, :, :, None]
    session = onnxruntime.InferenceSession(
        str(exported / "o5.onnx"), providers=["CPUExecutionProvider"]
    )
    y = session.run([info.output_name], {info.input_name: x})[0]
    expected = np.load(exported / "keras.npy")
    assert y.shape == expected.shape == (1, 128, 256, 1)
    assert np.max(np.abs(y - expected)) < 1e-4
    loaded = [m for m in HEAVY if m in sys.modules]
    assert not loaded, f"reading a model pulled {loaded} into QGIS's Python"
