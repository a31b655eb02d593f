import json

import pytest

from training.config import PRESETS, ConfigError, TrainConfig, preset_config


def test_the_24_presets_of_the_paper():
    assert sorted(PRESETS) == sorted(f"{x}-{n}" for x in "SCO" for n in range(1, 9))
    variants = {1: (3, 1.0), 2: (3, 1.0), 3: (3, 1.0), 4: (7, 1.0), 5: (3, 0.5), 6: (3, 2.0),
                7: (11, 1.0), 8: (7, 2.0)}  # fmt: skip
    for name, preset in PRESETS.items():
        assert (preset.kernel_size, preset.filter_multiple) == variants[int(name[2])]
    assert PRESETS["S-3"].data_kind == "synthetic"
    assert (PRESETS["C-7"].data_kind, PRESETS["C-7"].target_kind) == ("themis-tiles", "filled")
    assert PRESETS["O-8"].target_kind == "outline"


def test_preset_config_overrides_and_json_round_trip(tmp_path):
    cfg = preset_config("c-6", epochs=3, learning_rate=5e-4, target_kind="ring")
    assert (cfg.preset, cfg.kernel_size, cfg.filter_multiple) == ("C-6", 3, 2.0)
    assert cfg.filters == (32, 48, 64, 96, 128, 192, 256)
    cfg.save(tmp_path / "config.json")
    assert TrainConfig.load(tmp_path) == cfg
    assert json.loads((tmp_path / "config.json").read_text())["epochs"] == 3


def test_filters_of_the_half_multiple():
    assert preset_config("S-5").filters == (8, 12, 16, 24, 32, 48, 64)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"kernel_size": 4}, "kernel_size=4: must be an odd number"),
        ({"data_kind": "mars"}, "data_kind='mars': must be one of synthetic"),
        ({"target_kind": "blob"}, "target_kind='blob'"),
        ({"inner_ratio": 1.2}, "inner_ratio=1.2: must be between 0 and 1"),
        ({"tile_size_px": 500}, "tile_size_px=500: must be a positive multiple of 128"),
        ({"validation_split": 0}, "validation_split=0"),
        ({"epochs": 0}, "epochs=0: must be a positive whole number"),
        ({"min_diameter_km": 40}, "min_diameter_km=40"),
        ({"optimizer": "lbfgs"}, "optimizer='lbfgs'"),
        ({"learning_rate": -1}, "learning_rate=-1"),
        ({"resolution_m": 0}, "resolution_m=0"),
        ({"steps_per_epoch": 0}, "steps_per_epoch=0"),
    ],
)
def test_bad_values_are_named(changes, match):
    with pytest.raises(ConfigError, match=match):
        TrainConfig(**changes)


def test_unknown_preset_and_fields(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown preset 'X-1'; choose one of S-1\.\.S-8"):
        preset_config("X-1")
    with pytest.raises(ConfigError, match=r"unknown configuration fields \['colour'\]"):
        TrainConfig.from_dict({"colour": "red"})
    with pytest.raises(ConfigError, match="not valid JSON"):
        TrainConfig.from_json("{")
    with pytest.raises(ConfigError, match="no configuration at"):
        TrainConfig.load(tmp_path)


def test_importing_config_does_not_import_tensorflow():
    import subprocess
    import sys

    code = "import sys, training.config; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
