"""The contract of a crater model: what an ONNX file says about itself.

A crater segmentation model takes one float32 tensor ``(batch, height, width,
1)`` (NHWC, one channel, dynamic batch, height and width; height and width
multiples of ``size_multiple_px``) and returns crater probabilities of the same
shape. :class:`ModelInfo` holds everything else a user of the model must know:
how to turn pixels into network input, the resolution it was trained at, the
tile size, what its targets look like, the crater sizes it learnt and the
recommended probability threshold. ``training.export`` writes it into the
ONNX file; the QGIS plugin and the command line read it back with
:func:`read_model_info`, so nothing is hard-coded twice.

Metadata layout
---------------
ONNX ``metadata_props`` map strings to strings. Every field of
:class:`ModelInfo` is stored under its own key ``"crater.<field name>"`` (for
example ``"crater.resolution_m": "231.5"``), so a model viewer such as Netron
shows them readably. Numbers are written with ``repr`` (floats round-trip
exactly), text as is, ``None`` as the empty string, and the ``extraction``
parameters as one JSON object. Every key is always written.
``crater.format_version`` says which layout a file uses; a file from a newer
layout is refused with a message to update. Keys without the prefix (other
tools' metadata) are ignored.

Input scaling vocabulary (:data:`INPUT_SCALINGS`); every scaling first replaces
missing pixels (``missing_value``, 0 for THEMIS) by the mean of the valid
pixels, unless ``missing_value`` is None:

* ``"unit_range"``: ``[0, max]`` to ``[-1, 1]`` (``2x/max - 1``; ``max`` is
  255 for 8-bit images), the paper's pre-processing,
  :func:`geocore.themis.preprocess`.
* ``"zero_one"``: ``[0, max]`` to ``[0, 1]`` (``x/max``).
* ``"identity"``: pixel values as float32, unchanged.

Only numpy and the standard library are imported at module level (this module
runs inside QGIS's Python); onnxruntime is imported by :func:`read_model_info`.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import math
import os
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .catalog import check_diameter_range
from .errors import CraterValueError, ModelError, TargetSpecError
from .targets import TargetSpec
from .themis import fill_missing, scale_to_unit_range

__all__ = [
    "FORMAT_VERSION",
    "INPUT_SCALINGS",
    "METADATA_PREFIX",
    "REQUIRED_WITHOUT_METADATA",
    "ModelError",
    "ModelInfo",
    "model_info_from_session",
    "read_model_info",
]

log = logging.getLogger(__name__)

#: Version of the metadata layout written by :meth:`ModelInfo.to_metadata`.
FORMAT_VERSION = 1

#: Prefix of every metadata key this module writes and reads.
METADATA_PREFIX = "crater."

#: How pixels become network input (see the module documentation).
INPUT_SCALINGS: dict[str, str] = {
    "unit_range": "missing pixels -> mean of valid pixels, then [0, max] -> [-1, 1] (2x/max - 1)",
    "zero_one": "missing pixels -> mean of valid pixels, then [0, max] -> [0, 1] (x/max)",
    "identity": "missing pixels -> mean of valid pixels, values otherwise unchanged",
}

#: Fields a model without crater metadata must be given as overrides.
REQUIRED_WITHOUT_METADATA = ("resolution_m", "target_kind")

# How each field is written to and read from a metadata string.
_CODECS = {
    "format_version": "int",
    "input_scaling": "str",
    "missing_value": "float?",
    "resolution_m": "float?",
    "tile_size_px": "int",
    "size_multiple_px": "int",
    "target_kind": "str",
    "inner_ratio": "float",
    "ring_width_px": "float",
    "min_diameter_km": "float?",
    "max_diameter_km": "float?",
    "threshold": "float",
    "extraction": "json?",
    "preset": "str",
    "kernel_size": "int?",
    "filter_multiple": "float?",
    "training_data": "str",
    "epochs": "int?",
    "created": "str",
    "project_version": "str",
    "input_name": "str",
    "output_name": "str",
}


@dataclass(frozen=True, kw_only=True)
class ModelInfo:
    """What a crater model expects and produces; stored in its ONNX metadata.

    All arguments are keyword-only; ``resolution_m`` and ``target_kind``
    have no default and must always be given (``resolution_m`` may be None).

    Parameters
    ----------
    format_version : int
        Metadata layout version (:data:`FORMAT_VERSION`).
    input_scaling : str
        How 8-bit pixels become network input, a key of :data:`INPUT_SCALINGS`.
    missing_value : float or None
        Pixel value marking missing data (0 in THEMIS mosaics), filled with the
        image mean before scaling; None: no missing data marker.
    resolution_m : float or None
        Metres per pixel of the training images; images should be resampled
        to it before inference. None: the training images had no physical
        scale (synthetic scenes); images are used at their own resolution.
    tile_size_px : int
        Tile (window) size in pixels the model was trained on, a multiple of
        ``size_multiple_px``.
    size_multiple_px : int
        Input height and width must be multiples of this (128: 7 poolings).
    target_kind : {"filled", "outline", "ring"}
        What the model draws for a crater (:mod:`geocore.targets`).
    inner_ratio : float
        Hole radius of ``"outline"`` targets as a fraction of the radius.
    ring_width_px : float
        Width of ``"ring"`` targets in pixels.
    min_diameter_km, max_diameter_km : float or None
        Range of crater diameters in the training targets; None: not known.
    threshold : float
        Recommended probability threshold, in (0, 1).
    extraction : dict or None
        Parameters of crater extraction tuned for this model (JSON values).
    preset : str
        Experiment name such as ``"O-1"``, or ``""``.
    kernel_size : int or None
        Convolution kernel size of the network.
    filter_multiple : float or None
        Filter multiple of the network (0.5, 1, 2).
    training_data : str
        Description of the training data.
    epochs : int or None
        Epochs trained.
    created : str
        ISO date (or date-time) of the export, or ``""``.
    project_version : str
        Version of the project that exported the model.
    input_name, output_name : str
        Names of the network's input and output tensors.

    Raises
    ------
    ModelError
        A value is out of range or of the wrong type.

    Examples
    --------
    >>> info = ModelInfo(resolution_m=231.5, target_kind="outline", threshold=0.4)
    >>> info.tile_size_px, info.input_scaling, info.target_spec.inner_ratio
    (512, 'unit_range', 0.7)
    >>> meta = info.to_metadata()
    >>> meta["crater.resolution_m"], meta["crater.target_kind"]
    ('231.5', 'outline')
    >>> ModelInfo.from_metadata(meta) == info
    True
    """

    format_version: int = FORMAT_VERSION
    input_scaling: str = "unit_range"
    missing_value: float | None = 0.0
    resolution_m: float | None
    tile_size_px: int = 512
    size_multiple_px: int = 128
    target_kind: str
    inner_ratio: float = 0.7
    ring_width_px: float = 4.0
    min_diameter_km: float | None = None
    max_diameter_km: float | None = None
    threshold: float = 0.5
    extraction: Mapping[str, Any] | None = field(default=None, hash=False)
    preset: str = ""
    kernel_size: int | None = None
    filter_multiple: float | None = None
    training_data: str = ""
    epochs: int | None = None
    created: str = ""
    project_version: str = ""
    input_name: str = "image"
    output_name: str = "probability"

    def __post_init__(self) -> None:
        for name, codec in _CODECS.items():
            object.__setattr__(self, name, _coerce(name, getattr(self, name), codec))

        def bad(name: str, why: str) -> ModelError:
            return ModelError(f"{name}={getattr(self, name)!r}: {why}")

        if not 1 <= self.format_version <= FORMAT_VERSION:
            raise bad(
                "format_version",
                f"this geocore reads metadata versions 1..{FORMAT_VERSION}; update geocore",
            )
        if self.input_scaling not in INPUT_SCALINGS:
            raise bad("input_scaling", f"must be one of {', '.join(INPUT_SCALINGS)}")
        if self.missing_value is not None and not math.isfinite(self.missing_value):
            raise bad("missing_value", "must be a finite number (0 for THEMIS) or None")
        if self.resolution_m is not None and not (
            math.isfinite(self.resolution_m) and self.resolution_m > 0
        ):
            raise bad(
                "resolution_m",
                "must be a positive number of metres per pixel, e.g. 231.5 (None: no physical "
                "scale)",
            )
        if self.size_multiple_px < 1:
            raise bad("size_multiple_px", "must be a positive number of pixels, e.g. 128")
        if self.tile_size_px < 1 or self.tile_size_px % self.size_multiple_px:
            raise bad(
                "tile_size_px",
                f"must be a positive multiple of size_multiple_px={self.size_multiple_px}, "
                "e.g. 512",
            )
        try:
            TargetSpec(self.target_kind, self.inner_ratio, self.ring_width_px)
            check_diameter_range(self.min_diameter_km, self.max_diameter_km)
        except (TargetSpecError, CraterValueError) as err:
            raise ModelError(f"model metadata: {err}") from err
        if not 0 < self.threshold < 1:
            raise bad("threshold", "must be between 0 and 1, e.g. 0.5")
        if self.kernel_size is not None and self.kernel_size < 1:
            raise bad("kernel_size", "must be a positive number of pixels or None")
        if self.filter_multiple is not None and not (
            math.isfinite(self.filter_multiple) and self.filter_multiple > 0
        ):
            raise bad("filter_multiple", "must be positive (e.g. 0.5, 1, 2) or None")
        if self.epochs is not None and self.epochs < 0:
            raise bad("epochs", "must be a whole number >= 0 or None")
        if self.created:
            try:
                datetime.datetime.fromisoformat(self.created)
            except ValueError as err:
                raise bad("created", "must be an ISO date such as '2025-01-31' or ''") from err
        for name in ("input_name", "output_name"):
            if not getattr(self, name):
                raise bad(name, "must name the network's tensor, e.g. 'image'")

    # ------------------------------------------------------------ derived
    @property
    def target_spec(self) -> TargetSpec:
        """The :class:`~geocore.targets.TargetSpec` the model was trained on."""
        return TargetSpec(self.target_kind, self.inner_ratio, self.ring_width_px)

    def scale_input(self, image: np.ndarray, max_value: float = 255.0) -> np.ndarray:
        """Turn a 2-D image into network input as ``input_scaling`` says.

        Parameters
        ----------
        image : numpy.ndarray
            2-D image; not modified.
        max_value : float
            The largest value of the image's data type, mapped to 1: 255 for
            8-bit images (as in training), 65535 for 16-bit ones.

        Returns
        -------
        numpy.ndarray
            float32 array of the same shape.

        Examples
        --------
        >>> info = ModelInfo(resolution_m=100, target_kind="filled")
        >>> info.scale_input(np.array([[0, 255], [255, 255]], dtype=np.uint8)).tolist()
        [[1.0, 1.0], [1.0, 1.0]]
        """
        if not (math.isfinite(max_value) and max_value > 0):
            raise ModelError(f"max_value={max_value!r}: must be positive, e.g. 255 for 8-bit")
        image = np.asarray(image)
        if image.ndim != 2:
            raise ModelError(f"image of shape {image.shape}: expected one 2-D band (height, width)")
        if self.missing_value is None:
            pixels = image.astype(np.float32)  # a copy: the caller's array is never touched
        else:
            pixels = fill_missing(image, self.missing_value)
        if self.input_scaling == "unit_range":
            return scale_to_unit_range(pixels, max_value)
        if self.input_scaling == "zero_one":
            return pixels * np.float32(1.0 / max_value)
        return pixels

    def replace(self, **changes: Any) -> ModelInfo:
        """A copy with some fields changed (validated again).

        Raises
        ------
        ModelError
            An unknown field name or an invalid value.
        """
        _check_names(changes)
        return dataclasses.replace(self, **changes)

    def summary(self) -> str:
        """A few readable lines describing the model, for the command line and the plugin."""
        diameters = "not stated"
        if self.min_diameter_km is not None or self.max_diameter_km is not None:
            diameters = f"{_num(self.min_diameter_km)}-{_num(self.max_diameter_km)} km"
        target = self.target_kind
        if target == "outline":
            target += f" (inner ratio {self.inner_ratio:g})"
        elif target == "ring":
            target += f" ({self.ring_width_px:g} px wide)"
        resolution = (
            "none (no physical scale: use images at their own resolution)"
            if self.resolution_m is None
            else f"{self.resolution_m:g} m/px"
        )
        network = self.preset or "unknown preset"
        if self.kernel_size is not None:
            network += f", {self.kernel_size}x{self.kernel_size} kernels"
        if self.filter_multiple is not None:
            network += f", filters x{self.filter_multiple:g}"
        lines = [
            f"network:        {network}",
            f"input:          {self.input_name!r} (N, H, W, 1) float32, H and W multiples of "
            f"{self.size_multiple_px} px; scaling {self.input_scaling!r}, "
            f"missing value {_num(self.missing_value)}",
            f"output:         {self.output_name!r} (N, H, W, 1) probabilities, "
            f"threshold {self.threshold:g}",
            f"resolution:     {resolution}; tile {self.tile_size_px} px",
            f"targets:        {target}; crater diameters {diameters}",
            f"training data:  {self.training_data or 'not stated'}"
            + (f"; {self.epochs} epochs" if self.epochs is not None else ""),
            f"created:        {self.created or 'unknown'} by version "
            f"{self.project_version or 'unknown'}",
        ]
        if self.extraction is not None:
            lines.append(f"extraction:     {json.dumps(dict(self.extraction), sort_keys=True)}")
        return "\n".join(lines)

    # ------------------------------------------------------------ metadata
    def to_metadata(self) -> dict[str, str]:
        """The ``crater.*`` string metadata stored in an ONNX file's ``metadata_props``.

        Every field is written, ``None`` as ``""``.
        """
        return {
            METADATA_PREFIX + name: _encode(getattr(self, name), codec)
            for name, codec in _CODECS.items()
        }

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str], **overrides: Any) -> ModelInfo:
        """Build from ONNX metadata (``crater.*`` keys), with explicit overrides.

        Parameters
        ----------
        metadata : mapping of str to str
            ONNX ``metadata_props`` (other keys are ignored).
        **overrides
            Field values that replace those in ``metadata`` (for a model
            without metadata: at least :data:`REQUIRED_WITHOUT_METADATA`).

        Raises
        ------
        ModelError
            No crater metadata and the required overrides are missing, a value
            cannot be parsed or is invalid, an unknown override name, or a
            layout newer than :data:`FORMAT_VERSION`.

        Examples
        --------
        >>> ModelInfo.from_metadata({}, resolution_m=100, target_kind="ring").ring_width_px
        4.0
        """
        _check_names(overrides)
        ours = {
            k[len(METADATA_PREFIX) :]: v
            for k, v in metadata.items()
            if k.startswith(METADATA_PREFIX)
        }
        version = ours.get("format_version")
        if version is not None:
            decoded_version = _decode("format_version", version, "int")
            if decoded_version > FORMAT_VERSION:
                raise ModelError(
                    f"model metadata crater.format_version={version!r} is newer than this geocore "
                    f"reads ({FORMAT_VERSION}); update mars-crater-detect to read this model"
                )
        unknown = sorted(set(ours) - set(_CODECS))
        if unknown:
            log.warning(
                "ignoring unknown model metadata keys %s", [METADATA_PREFIX + k for k in unknown]
            )
        values = {
            name: _decode(name, ours[name], codec)
            for name, codec in _CODECS.items()
            if name in ours
        }
        values.update(overrides)
        missing = [name for name in REQUIRED_WITHOUT_METADATA if name not in values]
        if missing:
            hint = ", ".join(f"{name}=..." for name in missing)
            flags = ", ".join("--" + name.replace("_", "-") for name in missing)
            what = "no crater metadata" if not ours else f"no {', '.join(missing)} in its metadata"
            raise ModelError(
                f"the model has {what}; pass them explicitly: {hint} "
                f"(on the command line {flags}), e.g. resolution_m=231.5, target_kind='outline'"
            )
        return cls(**values)


# ---------------------------------------------------------------- reading files
def read_model_info(path: str | os.PathLike, **overrides: Any) -> ModelInfo:
    """Read and check the contract of an ONNX crater model.

    Parameters
    ----------
    path : str or path-like
        The ``.onnx`` file.
    **overrides
        Field values replacing (or, for a model without metadata, supplying)
        those stored in the file; e.g. ``resolution_m=100, target_kind="ring"``.

    Returns
    -------
    ModelInfo

    Raises
    ------
    ModelError
        The file is missing or not an ONNX model, its input is not one
        ``(batch, height, width, 1)`` float tensor with dynamic batch, height
        and width, it has no metadata and the needed overrides are missing,
        or the metadata is invalid.
    """
    path = Path(path)
    if not path.is_file():
        where = "is a folder" if path.is_dir() else "does not exist"
        raise ModelError(f"model file {str(path)!r} {where}; give the path of an .onnx file")
    try:
        import onnxruntime
    except ImportError as err:
        raise ModelError(
            f"cannot read {str(path)!r}: onnxruntime is not installed; pip install onnxruntime"
        ) from err
    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises its own, unexported exception types
        raise ModelError(
            f"{str(path)!r} is not a readable ONNX model ({type(err).__name__}: "
            f"{str(err).strip()[:300]}); export one with `python -m training.export`"
        ) from err
    return model_info_from_session(session, source=str(path), **overrides)


def model_info_from_session(session: Any, source: str = "model", **overrides: Any) -> ModelInfo:
    """The :class:`ModelInfo` of an open ``onnxruntime.InferenceSession``.

    Use it when the caller already has a session (e.g. with the CUDA provider);
    :func:`read_model_info` opens one on the CPU. ``source`` names the model in
    error messages. See :func:`read_model_info` for ``overrides`` and errors.
    """
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1 or len(outputs) != 1:
        raise ModelError(
            f"{source!r} has {len(inputs)} inputs and {len(outputs)} outputs; a crater model has "
            "one input (N, H, W, 1) and one output (N, H, W, 1)"
        )
    _check_tensor(source, "input", inputs[0])
    _check_tensor(source, "output", outputs[0])
    metadata = dict(session.get_modelmeta().custom_metadata_map)
    graph_names = {"input_name": inputs[0].name, "output_name": outputs[0].name}
    defaults = {
        name: value
        for name, value in graph_names.items()
        if METADATA_PREFIX + name not in metadata and name not in overrides
    }
    try:
        info = ModelInfo.from_metadata(metadata, **defaults, **overrides)
    except ModelError as err:
        raise ModelError(f"{source!r}: {err}") from err
    for name, actual in graph_names.items():
        if getattr(info, name) != actual:
            raise ModelError(
                f"{source!r}: metadata says {name}={getattr(info, name)!r} but the network's "
                f"tensor is named {actual!r}; re-export the model or pass {name}={actual!r}"
            )
    return info


def _check_tensor(source: str, role: str, tensor: Any) -> None:
    """Raise :class:`ModelError` unless ``tensor`` is float (dynamic N, H, W, 1)."""
    shape = list(tensor.shape)
    expected = (
        "a crater model takes and returns one float32 tensor (batch, height, width, 1), "
        "NHWC with one channel and dynamic batch, height and width; re-export it with "
        "`python -m training.export`"
    )
    if len(shape) != 4:
        raise ModelError(
            f"{source!r}: {role} {tensor.name!r} has shape {shape} ({len(shape)}-D); {expected}"
        )
    if shape[3] != 1:
        layout = " (channels first, NCHW?)" if shape[1] == 1 else ""
        raise ModelError(
            f"{source!r}: {role} {tensor.name!r} has shape {shape}{layout}, not 1 channel "
            f"last; {expected}"
        )
    fixed = [
        axis
        for axis, dim in zip(("batch", "height", "width"), shape[:3], strict=True)
        if isinstance(dim, int)
    ]
    if fixed:
        raise ModelError(
            f"{source!r}: {role} {tensor.name!r} has shape {shape} with fixed "
            f"{', '.join(fixed)}; {expected}"
        )
    if tensor.type != "tensor(float)":
        raise ModelError(f"{source!r}: {role} {tensor.name!r} is {tensor.type}; {expected}")


# ---------------------------------------------------------------- coding helpers
def _check_names(values: Mapping[str, Any]) -> None:
    unknown = sorted(set(values) - set(_CODECS))
    if unknown:
        raise ModelError(f"unknown model fields {unknown}; known: {', '.join(_CODECS)}")


def _num(value: float | None) -> str:
    return "none" if value is None else f"{value:g}"


def _coerce(name: str, value: Any, codec: str) -> Any:
    """Check a field's type and normalise it (int -> float, dict -> read-only copy)."""
    kind, optional = codec.rstrip("?"), codec.endswith("?")
    if value is None:
        if optional:
            return None
        raise ModelError(f"{name}=None: a value is needed")
    if kind == "str":
        if not isinstance(value, str):
            raise ModelError(f"{name}={value!r}: must be text")
        return value
    if kind == "json":
        if not isinstance(value, Mapping):
            raise ModelError(f"{name}={value!r}: must be a dict of JSON values or None")
        try:
            return types.MappingProxyType(json.loads(json.dumps(dict(value), allow_nan=False)))
        except (TypeError, ValueError) as err:
            raise ModelError(f"{name}={value!r}: must hold only JSON values ({err})") from err
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ModelError(f"{name}={value!r}: must be a number")
    if kind == "int":
        if int(value) != value:
            raise ModelError(f"{name}={value!r}: must be a whole number")
        return int(value)
    return float(value)


def _encode(value: Any, codec: str) -> str:
    if value is None:
        return ""
    if codec.startswith("json"):
        return json.dumps(dict(value), sort_keys=True, separators=(",", ":"))
    if codec.startswith("float"):
        return repr(float(value))
    return str(value)


def _decode(name: str, text: str, codec: str) -> Any:
    kind, optional = codec.rstrip("?"), codec.endswith("?")
    if kind == "str":
        return text
    if text.strip() == "":
        if optional:
            return None
        raise ModelError(f"model metadata {METADATA_PREFIX}{name} is empty; it needs a value")
    try:
        if kind == "json":
            return json.loads(text)
        if kind == "int":
            return int(text)
        return float(text)
    except ValueError as err:
        raise ModelError(
            f"model metadata {METADATA_PREFIX}{name}={text!r} is not a valid {kind}; "
            f"re-export the model or override {name}"
        ) from err


#: Where the project's default model is installed (inside the geocore package).
DEFAULT_MODEL_PATH = Path(__file__).resolve().parent / "models" / "crater_default.onnx"


def default_model_path() -> Path | None:
    """The bundled default model, or None when this installation has none."""
    return DEFAULT_MODEL_PATH if DEFAULT_MODEL_PATH.is_file() else None
