"""Training configuration and the paper's experiments as data.

:class:`TrainConfig` is a frozen, validated value saved as ``config.json`` in
every run folder. :data:`PRESETS` holds the 24 experiments of DeLatte et al.
(2018), Tables 1-3: S-1..S-8 on synthetic dots, C-1..C-8 with filled-circle
targets and O-1..O-8 with outline targets, each a kernel size and a filter
multiple (1-3: 3x3 x1; 4: 7x7 x1; 5: 3x3 x1/2; 6: 3x3 x2; 7: 11x11 x1; 8: 7x7 x2).

The paper does not state its optimiser settings; the defaults here (Adam,
learning rate 1e-3, batch 8) are the project's choice.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path

from geocore.errors import GeocoreError

__all__ = [
    "DATA_KINDS",
    "LOSS_NAMES",
    "OPTIMIZERS",
    "PRESETS",
    "TARGET_KINDS",
    "FIELD_HELP",
    "ConfigError",
    "Preset",
    "TrainConfig",
    "parse_value",
    "preset_config",
]

DATA_KINDS = ("synthetic", "themis-tiles", "labelled-images")
TARGET_KINDS = ("filled", "outline", "ring")
OPTIMIZERS = ("adam", "sgd", "rmsprop")
LOSS_NAMES = ("bce", "weighted-bce")


class ConfigError(GeocoreError, ValueError):
    """A training configuration or preset is not valid."""


@dataclass(frozen=True)
class Preset:
    """One experiment of the paper: architecture variant, data and target kind."""

    name: str
    kernel_size: int
    filter_multiple: float
    data_kind: str
    target_kind: str


_VARIANTS = {  # experiment number -> (kernel size, filter multiple)
    1: (3, 1.0),
    2: (3, 1.0),
    3: (3, 1.0),
    4: (7, 1.0),
    5: (3, 0.5),
    6: (3, 2.0),
    7: (11, 1.0),
    8: (7, 2.0),
}
_FAMILIES = {  # letter -> (data kind, target kind)
    "S": ("synthetic", "filled"),
    "C": ("themis-tiles", "filled"),
    "O": ("themis-tiles", "outline"),
}

#: The paper's 24 experiments by name ("S-1" ... "O-8").
PRESETS: dict[str, Preset] = {
    f"{letter}-{n}": Preset(f"{letter}-{n}", kernel, multiple, data_kind, target_kind)
    for letter, (data_kind, target_kind) in _FAMILIES.items()
    for n, (kernel, multiple) in _VARIANTS.items()
}


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run.

    Attributes are grouped as: the experiment (``preset``, ``kernel_size``,
    ``filter_multiple``, ``data_kind``, ``target_kind``), the targets
    (``inner_ratio``, ``ring_width_px``, diameter range), the data
    (``tile_size_px``, ``validation_split``, resolutions, augmentation,
    synthetic set sizes) and the optimisation (``epochs``, ``batch_size``,
    ``learning_rate``, ``optimizer``, ``seed``, step limits).

    Examples
    --------
    >>> cfg = preset_config("O-4", epochs=2)
    >>> cfg.kernel_size, cfg.target_kind, cfg.epochs
    (7, 'outline', 2)
    >>> TrainConfig.from_json(cfg.to_json()) == cfg
    True
    """

    preset: str = "O-1"
    kernel_size: int = 3
    filter_multiple: float = 1.0
    data_kind: str = "themis-tiles"
    target_kind: str = "outline"
    # targets
    inner_ratio: float = 0.7
    ring_width_px: float = 4.0
    min_diameter_km: float = 2.0
    max_diameter_km: float = 32.0
    # data
    tile_size_px: int = 512
    validation_split: float = 1 / 3
    source_resolution_m: float | None = None
    resolution_m: float | None = None
    augment: bool = True
    synthetic_train_images: int = 256
    synthetic_val_images: int = 64
    # optimisation
    epochs: int = 50
    batch_size: int = 8
    learning_rate: float = 1e-3
    optimizer: str = "adam"
    loss: str = "bce"
    positive_weight: float = 1.0
    seed: int = 0
    steps_per_epoch: int | None = None
    validation_steps: int | None = None
    crater_metric_every: int = 0
    threshold: float = 0.5
    notes: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> ConfigError:
            return ConfigError(f"{name}={getattr(self, name)!r}: {why}")

        if self.kernel_size not in range(1, 32, 2):
            raise bad("kernel_size", "must be an odd number of pixels, e.g. 3, 7 or 11")
        if not (math.isfinite(self.filter_multiple) and self.filter_multiple > 0):
            raise bad("filter_multiple", "must be positive, e.g. 0.5, 1 or 2")
        if self.data_kind not in DATA_KINDS:
            raise bad("data_kind", f"must be one of {', '.join(DATA_KINDS)}")
        if self.target_kind not in TARGET_KINDS:
            raise bad("target_kind", f"must be one of {', '.join(TARGET_KINDS)}")
        if not 0 < self.inner_ratio < 1:
            raise bad("inner_ratio", "must be between 0 and 1 (the paper uses 0.7)")
        if not self.ring_width_px > 0:
            raise bad("ring_width_px", "must be a positive number of pixels, e.g. 4 or 8")
        if not 0 <= self.min_diameter_km < self.max_diameter_km:
            raise bad(
                "min_diameter_km", f"must be >= 0 and < max_diameter_km={self.max_diameter_km}"
            )
        if self.tile_size_px <= 0 or self.tile_size_px % 128:
            raise bad("tile_size_px", "must be a positive multiple of 128 (the UNet pools 7 times)")
        if not 0 < self.validation_split < 1:
            raise bad("validation_split", "must be between 0 and 1, e.g. 0.33 (3 of 9 tiles)")
        for name in ("source_resolution_m", "resolution_m"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise bad(name, "must be a positive number of metres per pixel")
        for name in ("synthetic_train_images", "synthetic_val_images", "epochs", "batch_size"):
            if int(getattr(self, name)) != getattr(self, name) or getattr(self, name) < 1:
                raise bad(name, "must be a positive whole number")
        for name in ("steps_per_epoch", "validation_steps"):
            value = getattr(self, name)
            if value is not None and (int(value) != value or value < 1):
                raise bad(name, "must be a positive whole number or None (the whole set)")
        if self.crater_metric_every < 0:
            raise bad("crater_metric_every", "must be >= 0 (0 turns the crater metric off)")
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise bad("learning_rate", "must be a positive number, e.g. 1e-3")
        if self.optimizer not in OPTIMIZERS:
            raise bad("optimizer", f"must be one of {', '.join(OPTIMIZERS)}")
        if self.loss not in LOSS_NAMES:
            raise bad("loss", f"must be one of {', '.join(LOSS_NAMES)}")
        if not (math.isfinite(self.positive_weight) and self.positive_weight > 0):
            raise bad("positive_weight", "must be a positive number, e.g. 5 (1: plain BCE)")
        if not 0 < self.threshold < 1:
            raise bad("threshold", "must be between 0 and 1")

    # ------------------------------------------------------------ derived
    @property
    def filters(self) -> tuple[int, ...]:
        """Filters of the 7 down blocks (the up blocks mirror them; the bottom repeats the last)."""
        return tuple(max(1, round(f * self.filter_multiple)) for f in (16, 24, 32, 48, 64, 96, 128))

    # ------------------------------------------------------------ JSON
    def to_dict(self) -> dict:
        """Plain dict of every field."""
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """The configuration as indented JSON."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        """Build from a dict; unknown keys are an error naming them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown configuration fields {unknown}; known: {sorted(known)}")
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        """Build from JSON text."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ConfigError(f"configuration is not valid JSON: {err}") from err
        return cls.from_dict(data)

    def save(self, path: str | Path) -> None:
        """Write ``config.json`` (or any path)."""
        Path(path).write_text(self.to_json() + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        """Read a configuration saved by :meth:`save` (a file or a run folder)."""
        path = Path(path)
        if path.is_dir():
            path = path / "config.json"
        if not path.is_file():
            raise ConfigError(
                f"no configuration at {str(path)!r}; give a run folder or config.json"
            )
        return cls.from_json(path.read_text(encoding="utf-8"))

    def replace(self, **changes) -> TrainConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


#: One line of help per field, for ``python -m training.train --help``.
FIELD_HELP: dict[str, str] = {
    "preset": "experiment of the paper (S-1..S-8, C-1..C-8, O-1..O-8)",
    "kernel_size": "convolution kernel size in px (odd: 3, 7, 11)",
    "filter_multiple": "multiply the filters 16..128 by this (0.5, 1, 2)",
    "data_kind": "synthetic, themis-tiles or labelled-images",
    "target_kind": "filled disks, outline (disk minus inner disk) or ring (fixed width)",
    "inner_ratio": "outline targets: inner disk radius / crater radius (paper: 0.7)",
    "ring_width_px": "ring targets: ring width in px (follow-up paper: 4 or 8)",
    "min_diameter_km": "smallest crater DIAMETER drawn in the targets, km",
    "max_diameter_km": "largest crater DIAMETER drawn in the targets, km",
    "tile_size_px": "side of the training sub-images, px (multiple of 128)",
    "validation_split": "share of tiles/images held out for validation (split by tile/image)",
    "source_resolution_m": "labelled images: their resolution in m/px (default 100)",
    "resolution_m": "labelled images: resample to this m/px before training (e.g. 231.5)",
    "augment": "random flips and 90-degree rotations of training items",
    "synthetic_train_images": "synthetic data: number of training images",
    "synthetic_val_images": "synthetic data: number of validation images",
    "epochs": "number of epochs (in total, also when resuming)",
    "batch_size": "sub-images per training step",
    "learning_rate": "optimiser learning rate",
    "optimizer": "adam, sgd or rmsprop",
    "loss": "bce (the paper's) or weighted-bce (crater pixels weighted by positive_weight)",
    "positive_weight": "weighted-bce: weight of crater pixels relative to background",
    "seed": "random seed of the split, shuffling, augmentation and weights",
    "steps_per_epoch": "limit each epoch to this many batches (default: the whole set)",
    "validation_steps": "limit validation to this many batches (default: the whole set)",
    "crater_metric_every": "compute crater-level precision/recall/F1 every N epochs (0: off)",
    "threshold": "recommended probability threshold, stored in the exported model",
    "notes": "free text kept in config.json",
}


def parse_value(text: str) -> int | float | str:
    """A command-line value as an int, else a float, else the (stripped) text.

    Examples
    --------
    >>> parse_value("3"), parse_value(" 0.5"), parse_value("fast")
    (3, 0.5, 'fast')
    """
    text = text.strip()
    try:
        return int(text) if text.lstrip("-").isdigit() else float(text)
    except ValueError:
        return text


def preset_config(name: str, **overrides) -> TrainConfig:
    """The configuration of one of the paper's experiments, with overrides.

    Raises
    ------
    ConfigError
        Unknown preset name or invalid override.
    """
    try:
        preset = PRESETS[name.upper()]
    except KeyError:
        raise ConfigError(
            f"unknown preset {name!r}; choose one of S-1..S-8, C-1..C-8, O-1..O-8"
        ) from None
    base = {
        "preset": preset.name,
        "kernel_size": preset.kernel_size,
        "filter_multiple": preset.filter_multiple,
        "data_kind": preset.data_kind,
        "target_kind": preset.target_kind,
    }
    base.update(overrides)
    return TrainConfig.from_dict(base)
