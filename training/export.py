"""Export a trained UNet to ONNX, with its contract in the file's metadata.

``python -m training.export runs/NAME --out model.onnx`` writes the run's
``checkpoints/best.keras`` (``last.keras`` when there is no best) as an ONNX
graph with one input ``"image"`` and one output ``"probability"``, both
float32 ``(batch, height, width, 1)`` with dynamic batch, height and width.
Two graphs compute the same function (``--graph``):

* ``fast`` (default): the weights written directly as an NCHW graph whose
  full-resolution level runs in space-to-depth form
  (:mod:`training.onnx_graph`); about 1.2x faster on the CPU than tf2onnx's
  graph, half its activation memory (``docs/inference.md``);
* ``tf2onnx``: ``tf2onnx.convert.from_keras``, for comparison and for models
  with layers the fast writer does not know.
 The run's ``config.json`` and ``dataset.json`` give
the :class:`geocore.model_info.ModelInfo` written into the file's metadata
(input scaling, resolution in m/px, tile size, target kind, diameter range,
threshold, preset, training data, date, project version).

The export checks itself before the file appears: Keras and onnxruntime must
agree on a random ``2 x 256 x 384 x 1`` input (a non-square size proves the
height and width are dynamic) to a largest absolute difference below
:data:`PARITY_TOLERANCE`, and the metadata must read back equal through
:func:`geocore.model_info.read_model_info`. Otherwise :class:`ExportError` is
raised and nothing is written.

TensorFlow, tf2onnx and onnx are imported only by the functions that need them.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import datetime
import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from geocore import __version__
from geocore.atomic import atomic_output, check_output_path
from geocore.errors import GeocoreError
from geocore.model_info import ModelInfo, read_model_info

from .config import ConfigError, TrainConfig

__all__ = [
    "DEFAULT_GRAPH",
    "DEFAULT_OPSET",
    "GRAPHS",
    "PARITY_SHAPE",
    "PARITY_TOLERANCE",
    "ExportError",
    "ExportReport",
    "export_onnx",
    "export_onnx_report",
    "main",
    "model_info_for",
]

log = logging.getLogger(__name__)

#: ONNX opset written by default (onnxruntime 1.16+ runs it).
DEFAULT_OPSET = 17
#: The graphs ``export_onnx`` can write (same function, same interface).
GRAPHS = ("fast", "tf2onnx")
#: The graph written by default: the faster one.
DEFAULT_GRAPH = "fast"
#: Largest absolute difference allowed between Keras and onnxruntime outputs.
PARITY_TOLERANCE = 1e-4
#: Shape of the random input of the parity check: non-square, batch of 2.
PARITY_SHAPE = (2, 256, 384, 1)
#: Checkpoints looked for in a run folder, in order.
CHECKPOINTS = ("checkpoints/best.keras", "checkpoints/last.keras")

_DYNAMIC_AXES = ("batch", "height", "width")
# What the data pipeline's dataset.json says about the targets (wins over config.json).
_FROM_DATASET = (
    "resolution_m",
    "target_kind",
    "inner_ratio",
    "ring_width_px",
    "min_diameter_km",
    "max_diameter_km",
)


class ExportError(GeocoreError, RuntimeError):
    """A model cannot be exported: missing inputs, conversion failure or failed checks."""


@dataclass(frozen=True)
class ExportReport:
    """What :func:`export_onnx_report` wrote and measured.

    Attributes
    ----------
    info : ModelInfo
        The metadata written into the file (as read back from it).
    path : pathlib.Path
        The ONNX file.
    max_abs_diff : float or None
        Largest absolute difference between Keras and onnxruntime on the
        parity input; None when the check was skipped.
    seconds : float
        Wall time of conversion, checks and writing (model loading excluded).
    size_bytes : int
        Size of the ONNX file.
    """

    info: ModelInfo
    path: Path
    max_abs_diff: float | None
    seconds: float
    size_bytes: int


def export_onnx(
    model_or_run: Any,
    out_path: str | os.PathLike,
    *,
    config: TrainConfig | str | os.PathLike | None = None,
    dataset_info: dict | str | os.PathLike | None = None,
    overwrite: bool = False,
    opset: int = DEFAULT_OPSET,
    check: bool = True,
    graph: str = DEFAULT_GRAPH,
    **metadata_overrides: Any,
) -> ModelInfo:
    """Export a Keras UNet (or a run's checkpoint) to ONNX with crater metadata.

    Parameters
    ----------
    model_or_run : path or keras.Model
        A run folder (``config.json``, ``dataset.json``,
        ``checkpoints/best.keras`` or ``last.keras``), a ``.keras`` file, or
        a Keras model.
    out_path : path
        The ``.onnx`` file to write.
    config : TrainConfig or path, optional
        Training configuration; default: the run folder's ``config.json``.
        Without one, ``metadata_overrides`` must give at least
        ``resolution_m`` and ``target_kind``.
    dataset_info : dict or path, optional
        The data pipeline's ``DatasetInfo.to_dict()`` (keys ``data_kind``,
        ``description``, ``resolution_m``); default: the run's ``dataset.json``.
    overwrite : bool
        Replace an existing ``out_path``.
    opset : int
        ONNX opset.
    check : bool
        Compare Keras and onnxruntime outputs (see :data:`PARITY_TOLERANCE`).
    graph : {"fast", "tf2onnx"}
        Which graph to write (see :data:`GRAPHS`): ``"fast"``, the weights
        as an NCHW / space-to-depth graph (:func:`training.onnx_graph.fast_graph`),
        or tf2onnx's conversion. Both have the same interface and function.
    **metadata_overrides
        :class:`~geocore.model_info.ModelInfo` fields that replace the values
        derived from the run (e.g. ``threshold=0.4``, ``resolution_m=100``).

    Returns
    -------
    ModelInfo
        The metadata in the written file.

    Raises
    ------
    ExportError
        Missing run folder, configuration or checkpoint; a model that is not
        ``(N, H, W, 1) -> (N, H, W, 1)``; an unknown ``graph``; a layer the
        fast graph does not know (use ``graph="tf2onnx"``); conversion
        failure; Keras and onnxruntime disagree; metadata does not read back
        equal.
    geocore.errors.OutputExistsError
        ``out_path`` exists and ``overwrite`` is false.
    geocore.errors.ModelError
        An invalid metadata value.
    """
    return export_onnx_report(
        model_or_run,
        out_path,
        config=config,
        dataset_info=dataset_info,
        overwrite=overwrite,
        opset=opset,
        check=check,
        graph=graph,
        **metadata_overrides,
    ).info


def export_onnx_report(
    model_or_run: Any,
    out_path: str | os.PathLike,
    *,
    config: TrainConfig | str | os.PathLike | None = None,
    dataset_info: dict | str | os.PathLike | None = None,
    overwrite: bool = False,
    opset: int = DEFAULT_OPSET,
    check: bool = True,
    graph: str = DEFAULT_GRAPH,
    **metadata_overrides: Any,
) -> ExportReport:
    """:func:`export_onnx`, returning also the parity figure, time and file size."""
    if graph not in GRAPHS:
        raise ExportError(f"graph={graph!r}: expected one of {', '.join(GRAPHS)} (--graph)")
    out_path = check_output_path(out_path, overwrite)
    model, model_path, run = _resolve_source(model_or_run)
    config = _load_config(config, run, model_path)
    dataset = _load_dataset_info(dataset_info, run)
    info = model_info_for(config, dataset, run=run, **metadata_overrides)
    if model is None:  # loaded only now: every cheap check passed first
        model = _load_keras_model(model_path)
    _check_keras_model(model, model_path)

    start = time.perf_counter()
    proto = _convert(model, info, opset, graph)
    max_abs_diff = None
    with atomic_output(out_path, overwrite) as tmp:
        _save(proto, tmp)
        if check:
            max_abs_diff = _parity(model, tmp, info)
        written = read_model_info(tmp)
        if written != info:
            raise ExportError(
                f"metadata read back from the ONNX file differs from what was written:\n"
                f"written:\n{info.summary()}\nread:\n{written.summary()}"
            )
    seconds = time.perf_counter() - start
    size = out_path.stat().st_size
    log.info("exported %s graph %s (%.1f MB) in %.1f s", graph, out_path, size / 1e6, seconds)
    return ExportReport(written, out_path, max_abs_diff, seconds, size)


def model_info_for(
    config: TrainConfig | None,
    dataset_info: dict | None = None,
    *,
    run: Path | None = None,
    **overrides: Any,
) -> ModelInfo:
    """The :class:`~geocore.model_info.ModelInfo` of a model trained with ``config``.

    What the data pipeline recorded in ``dataset_info`` (resolution, target
    kind and shape, diameter range) wins over what ``config`` asked for; the
    resolution falls back to ``config.resolution_m``, then
    ``config.source_resolution_m``. Synthetic data may have no resolution
    (``resolution_m=None``: no physical scale) and no missing-data value (its
    black background is data). The epochs are the rows of the
    run's ``history.csv`` (epochs actually trained), else ``config.epochs``.
    ``overrides`` win over everything.

    Raises
    ------
    ExportError
        Neither a configuration nor a dataset description nor overrides give
        the target kind, or no resolution for non-synthetic data; an unknown
        override name.

    Examples
    --------
    >>> from training.config import preset_config
    >>> info = model_info_for(preset_config("O-4"), {"resolution_m": 231.5, "description": "x"})
    >>> info.target_kind, info.kernel_size, info.resolution_m, info.input_scaling
    ('outline', 7, 231.5, 'unit_range')
    """
    dataset_info = dataset_info or {}
    known = {f.name for f in dataclasses.fields(ModelInfo)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ExportError(f"unknown metadata fields {unknown}; known: {', '.join(sorted(known))}")
    values: dict[str, Any] = {
        "created": datetime.date.today().isoformat(),
        "project_version": __version__,
        "input_name": "image",
        "output_name": "probability",
    }
    data_kind = dataset_info.get("data_kind")
    if config is not None:
        resolution_m = _first(config.resolution_m, config.source_resolution_m)
        values.update(
            tile_size_px=config.tile_size_px,
            target_kind=config.target_kind,
            inner_ratio=config.inner_ratio,
            ring_width_px=config.ring_width_px,
            min_diameter_km=config.min_diameter_km,
            max_diameter_km=config.max_diameter_km,
            threshold=config.threshold,
            preset=config.preset,
            kernel_size=config.kernel_size,
            filter_multiple=config.filter_multiple,
            training_data=config.data_kind,
            epochs=_epochs_trained(run) or config.epochs,
        )
        if resolution_m is not None:
            values["resolution_m"] = resolution_m
        if data_kind is not None and data_kind != config.data_kind:
            log.warning(
                "dataset.json says data_kind=%r, config.json %r", data_kind, config.data_kind
            )
        data_kind = data_kind or config.data_kind
    values.update({k: dataset_info[k] for k in _FROM_DATASET if k in dataset_info})
    if data_kind == "synthetic":  # black is the background of the dots, not missing data
        values["missing_value"] = None
    if dataset_info.get("description"):
        values["training_data"] = str(dataset_info["description"])
    values.update(overrides)
    if values.get("target_kind") is None:
        raise ExportError(
            "cannot write the model's metadata: there is no training configuration "
            "(config.json); pass --resolution-m and --target-kind (resolution_m=..., "
            "target_kind=...), e.g. --resolution-m 231.5 --target-kind outline"
        )
    if values.get("resolution_m") is None and not (
        "resolution_m" in values and data_kind == "synthetic"
    ):
        raise ExportError(
            f"cannot write the model's metadata: no resolution for {data_kind or 'unknown'} "
            "training data in dataset.json or config.json; pass --resolution-m "
            "(resolution_m=...), the metres per pixel of the training images, e.g. 231.5"
        )
    return ModelInfo(**values)


# ---------------------------------------------------------------- inputs
def _resolve_source(model_or_run: Any) -> tuple[Any, Path | None, Path | None]:
    """(keras model or None, model file or None, run folder or None)."""
    if not isinstance(model_or_run, str | os.PathLike):
        if not hasattr(model_or_run, "predict"):
            raise ExportError(
                f"cannot export {type(model_or_run).__name__}: give a run folder, a .keras file "
                "or a keras.Model"
            )
        return model_or_run, None, None
    path = Path(model_or_run)
    if path.is_dir():
        found = [path / name for name in CHECKPOINTS if (path / name).is_file()]
        if not found:
            raise ExportError(
                f"run folder {str(path)!r} has no checkpoint ({' or '.join(CHECKPOINTS)}); "
                "train it first or give a .keras file"
            )
        return None, found[0], path
    if not path.exists():
        raise ExportError(
            f"{str(path)!r} does not exist; give a run folder (runs/NAME) or a .keras model file"
        )
    if path.suffix != ".keras":
        raise ExportError(
            f"{str(path)!r} is not a run folder or a .keras file; export a run folder "
            "(runs/NAME) or its checkpoints/best.keras"
        )
    return None, path, None


def _load_keras_model(path: Path) -> Any:
    keras = _import_keras()
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as err:  # Keras raises many types for a broken file
        raise ExportError(f"cannot load Keras model {str(path)!r}: {err}") from err
    log.info("loaded %s", path)
    return model


def _load_config(
    config: TrainConfig | str | os.PathLike | None, run: Path | None, model_path: Path | None
) -> TrainConfig | None:
    if isinstance(config, TrainConfig):
        return config
    if config is None and run is None:
        return None
    path = Path(config) if config is not None else run / "config.json"
    if not path.is_file():
        raise ExportError(
            f"no training configuration {str(path)!r} for {str(model_path)!r}; pass "
            "config=... (or export the .keras file with --resolution-m and --target-kind)"
        )
    try:
        return TrainConfig.load(path)
    except ConfigError as err:
        raise ExportError(f"cannot read configuration {str(path)!r}: {err}") from err


def _load_dataset_info(dataset_info: dict | str | os.PathLike | None, run: Path | None) -> dict:
    if isinstance(dataset_info, dict):
        return dataset_info
    if dataset_info is None:
        if run is None or not (run / "dataset.json").is_file():
            if run is not None:
                log.warning("run %s has no dataset.json; training data left undescribed", run)
            return {}
        dataset_info = run / "dataset.json"
    path = Path(dataset_info)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ExportError(f"cannot read dataset description {str(path)!r}: {err}") from err
    if not isinstance(data, dict):
        raise ExportError(f"{str(path)!r} must hold a JSON object (DatasetInfo.to_dict())")
    return data


def _epochs_trained(run: Path | None) -> int | None:
    """Rows of the run's Keras ``history.csv``: the epochs actually trained."""
    if run is None or not (run / "history.csv").is_file():
        return None
    with open(run / "history.csv", newline="", encoding="utf-8") as handle:
        return sum(1 for _ in csv.DictReader(handle)) or None


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


# ---------------------------------------------------------------- conversion
def _import_keras():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import keras
    except ImportError as err:
        raise ExportError("exporting needs TensorFlow/Keras; pip install -e '.[train]'") from err
    return keras


def _check_keras_model(model: Any, model_path: Path | None) -> None:
    name = str(model_path) if model_path else getattr(model, "name", "model")
    try:
        inputs, outputs = list(model.inputs), list(model.outputs)
    except (AttributeError, ValueError) as err:  # a subclassed model that was never built
        raise ExportError(
            f"model {name!r} has no defined inputs ({err}); build it with keras.Input, as "
            "training.model.build_unet does"
        ) from err
    shapes = [tuple(t.shape) for t in inputs + outputs]
    good = len(inputs) == 1 and len(outputs) == 1
    good = good and all(len(s) == 4 and s[3] == 1 for s in shapes)
    if not good:
        raise ExportError(
            f"model {name!r} has inputs/outputs {shapes}; a crater model maps one "
            "(None, None, None, 1) image to one (None, None, None, 1) probability map"
        )
    if any(d is not None for d in tuple(inputs[0].shape)[:3]):
        raise ExportError(
            f"model {name!r} has input shape {tuple(inputs[0].shape)}; rebuild it with "
            "keras.Input(shape=(None, None, 1)) so that any tile size works"
        )


def _convert(model: Any, info: ModelInfo, opset: int, graph_kind: str = DEFAULT_GRAPH):
    """The ONNX graph (fast writer or tf2onnx), named dynamic axes, output name, metadata."""
    _import_keras()
    import onnx

    if graph_kind == "fast":
        from .onnx_graph import fast_graph

        proto = fast_graph(
            model, input_name=info.input_name, output_name=info.output_name, opset=opset
        )
    else:
        proto = _tf2onnx(model, info, opset)
    graph = proto.graph
    _rename_output(graph, info.output_name)
    for value in (graph.input[0], graph.output[0]):
        dims = value.type.tensor_type.shape.dim
        for dim, axis in zip(dims, _DYNAMIC_AXES, strict=False):
            if dim.HasField("dim_value"):
                raise ExportError(
                    f"converted graph fixed the {axis} of {value.name!r} to {dim.dim_value}; "
                    "the model must accept any size"
                )
            dim.dim_param = axis
    preset = f" {info.preset}" if info.preset else ""
    proto.doc_string = (
        f"Mars crater segmentation UNet{preset} (DeLatte et al. 2018): "
        f"{info.input_name} (N, H, W, 1) -> {info.output_name} (N, H, W, 1); {graph_kind} "
        "graph written by training.export. Contract in the crater.* metadata; read it with "
        "geocore.model_info.read_model_info."
    )
    del proto.metadata_props[:]
    for key, value in info.to_metadata().items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    try:
        onnx.checker.check_model(proto)
    except onnx.checker.ValidationError as err:
        raise ExportError(f"the converted ONNX model is not valid: {err}") from err
    return proto


def _tf2onnx(model: Any, info: ModelInfo, opset: int):
    """tf2onnx's conversion, checked to have one input and one output."""
    import tensorflow as tf
    import tf2onnx

    logging.getLogger("tf2onnx").setLevel(logging.WARNING)
    spec = (tf.TensorSpec((None, None, None, 1), tf.float32, name=info.input_name),)
    try:
        proto, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=opset)
    except Exception as err:  # tf2onnx raises many types
        raise ExportError(f"tf2onnx could not convert the model (opset {opset}): {err}") from err
    graph = proto.graph
    if len(graph.input) != 1 or len(graph.output) != 1:
        raise ExportError(
            f"converted graph has {len(graph.input)} inputs and {len(graph.output)} outputs; "
            "expected one of each"
        )
    return proto


def _rename_output(graph, name: str) -> None:
    """Give the graph's single output tensor the name ``name``."""
    old = graph.output[0].name
    if old == name:
        return
    for node in graph.node:
        node.output[:] = [name if n == old else n for n in node.output]
        node.input[:] = [name if n == old else n for n in node.input]
    graph.output[0].name = name


def _save(proto, path: Path) -> None:
    import onnx

    try:
        onnx.save(proto, str(path))
    except (OSError, ValueError) as err:
        raise ExportError(f"cannot write ONNX file {str(path)!r}: {err}") from err


def _parity(model: Any, path: Path, info: ModelInfo) -> float:
    """Largest |Keras - onnxruntime| on a seeded random input; raises above the tolerance."""
    import onnxruntime

    x = np.random.default_rng(0).uniform(-1.0, 1.0, PARITY_SHAPE).astype(np.float32)
    expected = np.asarray(model(x, training=False))
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    actual = session.run([info.output_name], {info.input_name: x})[0]
    if actual.shape != expected.shape:
        raise ExportError(
            f"onnxruntime returned shape {actual.shape} for input {PARITY_SHAPE}, Keras "
            f"{expected.shape}; the export lost the dynamic height/width"
        )
    diff = float(np.max(np.abs(actual.astype(np.float64) - expected)))
    log.info("parity Keras vs onnxruntime on %s: max |diff| = %.3g", PARITY_SHAPE, diff)
    if not diff < PARITY_TOLERANCE:
        raise ExportError(
            f"Keras and onnxruntime disagree: max |diff| = {diff:.3g} on a random "
            f"{PARITY_SHAPE} input (tolerance {PARITY_TOLERANCE:g}); nothing was written. "
            "Try --graph tf2onnx or another --opset"
        )
    return diff


# ---------------------------------------------------------------- command line
def build_parser() -> argparse.ArgumentParser:
    """The ``python -m training.export`` argument parser."""
    from geocore.targets import KINDS

    p = argparse.ArgumentParser(
        prog="python -m training.export",
        description=(
            "Export a trained crater UNet (a run folder runs/NAME or a .keras file) to ONNX "
            "with dynamic batch, height and width, and its contract (input scaling, m/px, "
            "tile size, target kind, threshold ...) in the file's metadata. The export checks "
            "Keras against onnxruntime and the metadata before the file appears."
        ),
        epilog=(
            "examples:\n  python -m training.export runs/O-1 --out o1.onnx\n"
            "  python -m training.export model.keras --out m.onnx --resolution-m 100 "
            "--target-kind ring"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", metavar="RUN_OR_MODEL", help="run folder or .keras model file")
    p.add_argument("--out", required=True, metavar="FILE", help="the .onnx file to write")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    p.add_argument(
        "--threshold",
        type=float,
        metavar="T",
        help="recommended probability threshold (default: the run's config.threshold)",
    )
    p.add_argument(
        "--resolution-m",
        type=float,
        metavar="R",
        help="metres per pixel of the training images (default: from dataset.json/config.json)",
    )
    p.add_argument(
        "--target-kind",
        choices=KINDS,
        help="what the model draws (default: the run's config.target_kind)",
    )
    p.add_argument(
        "--extraction",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="crater extraction setting stored in the model (a geocore ExtractionParams field, "
        "e.g. correlation_threshold=0.5); repeat for several",
    )
    p.add_argument(
        "--graph",
        choices=GRAPHS,
        default=DEFAULT_GRAPH,
        help="fast: NCHW / space-to-depth graph written from the weights (default, ~1.2x "
        "faster on the CPU); tf2onnx: tf2onnx's conversion (for comparison, or for layers "
        "the fast writer does not know)",
    )
    p.add_argument(
        "--opset", type=int, default=DEFAULT_OPSET, help=f"ONNX opset (default {DEFAULT_OPSET})"
    )
    p.add_argument(
        "--no-check", action="store_true", help="skip the Keras vs onnxruntime comparison"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    return p


def _extraction_settings(items: list[str]) -> dict:
    """``["correlation_threshold=0.5", ...]`` -> a checked extraction dict."""
    from geocore.extraction import ExtractionParams

    from .config import parse_value

    settings: dict = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ExportError(
                f"--extraction {item!r}: write KEY=VALUE, e.g. correlation_threshold=0.5"
            )
        settings[key.strip()] = parse_value(value)
    ExtractionParams.from_dict(settings)  # an unknown key or a bad value fails here, named
    return settings


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 on an expected error)."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    overrides = {
        name: getattr(args, name)
        for name in ("threshold", "resolution_m", "target_kind")
        if getattr(args, name) is not None
    }
    try:
        if args.extraction:
            overrides["extraction"] = _extraction_settings(args.extraction)
        report = export_onnx_report(
            args.source,
            args.out,
            overwrite=args.overwrite,
            opset=args.opset,
            check=not args.no_check,
            graph=args.graph,
            **overrides,
        )
    except GeocoreError as err:
        print(f"training.export: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("training.export: interrupted; no output was left behind", file=sys.stderr)
        return 130
    parity = (
        "skipped (--no-check)"
        if report.max_abs_diff is None
        else f"max |Keras - onnxruntime| = {report.max_abs_diff:.2e} on a random "
        f"{'x'.join(map(str, PARITY_SHAPE))} input (tolerance {PARITY_TOLERANCE:g})"
    )
    print(
        f"wrote {report.path} ({args.graph} graph, {report.size_bytes / 1e6:.2f} MB) in "
        f"{report.seconds:.1f} s"
    )
    print(f"parity: {parity}")
    print(report.info.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
