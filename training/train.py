r"""``python -m training.train``: train the Symmetric UNet on one of the paper's experiments.

Examples
--------
python -m training.train --preset S-1 --epochs 5 --out runs/s1
python -m training.train --preset O-1 --data-kind labelled-images \\
    --data ../shared/data/themis_dayir_100m/train --resolution-m 231.5 --epochs 20 --out runs/o1
python -m training.train --out runs/o1 --resume --epochs 30
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import platform
import sys
import time
import types
import typing
from pathlib import Path

from geocore.errors import GeocoreError

from .config import FIELD_HELP, ConfigError, TrainConfig, preset_config

__all__ = ["build_parser", "main", "train"]

log = logging.getLogger(__name__)

RUN_FILES = ("config.json", "dataset.json", "history.csv", "metrics.json")


class RunFolderError(GeocoreError, FileExistsError):
    """The run folder cannot be used (not empty without --resume, or not a run)."""


# ------------------------------------------------------------------ arguments
def _field_type(field: dataclasses.Field):
    hint = typing.get_type_hints(TrainConfig)[field.name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if isinstance(hint, types.UnionType) and args:
        return args[0], True
    return hint, False


def build_parser() -> argparse.ArgumentParser:
    """The parser: run options plus one option per configuration field."""
    parser = argparse.ArgumentParser(
        prog="python -m training.train",
        description="Train the Symmetric UNet of DeLatte et al. (2018) on one of its experiments.",
        epilog=__doc__.split("Examples\n--------\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--preset", help="experiment: S-1..S-8, C-1..C-8, O-1..O-8 (default O-1)")
    parser.add_argument(
        "--data",
        help="data folder: THEMIS tiles (themis-tiles) or images + labels (labelled-images); "
        "not needed for synthetic data",
    )
    parser.add_argument(
        "--catalog",
        help="themis-tiles: crater catalogue (default DATA/catalog, else "
        "../shared/data/robbins2012_pm30)",
    )
    parser.add_argument(
        "--labels",
        default="labels_robbins",
        help="labelled-images: label folder inside --data (default labels_robbins)",
    )
    parser.add_argument("--out", required=True, help="run folder to create, e.g. runs/o1")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out from its last checkpoint (up to --epochs in total)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="one line per epoch")
    group = parser.add_argument_group("configuration (override the preset)")
    for field in dataclasses.fields(TrainConfig):
        if field.name == "preset":
            continue
        flag = "--" + field.name.replace("_", "-")
        kind, _optional = _field_type(field)
        help_text = FIELD_HELP.get(field.name, "")
        if kind is bool:
            group.add_argument(flag, action=argparse.BooleanOptionalAction, help=help_text)
        else:
            default = "none" if field.default is None else field.default
            group.add_argument(
                flag,
                type=kind,
                metavar=field.name.split("_")[-1].upper() if kind is not str else "TEXT",
                help=f"{help_text} (default: preset's, else {default})",
            )
    return parser


def _overrides(args: argparse.Namespace) -> dict:
    names = {f.name for f in dataclasses.fields(TrainConfig)} - {"preset"}
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


# ------------------------------------------------------------------ run folder
def _prepare_run(args: argparse.Namespace) -> tuple[TrainConfig, Path, int]:
    out = Path(args.out)
    overrides = _overrides(args)
    if args.resume:
        if not (out / "config.json").is_file():
            raise RunFolderError(f"cannot resume: {str(out)!r} holds no run (no config.json)")
        config = TrainConfig.load(out)
        changed = sorted(set(overrides) - {"epochs", "crater_metric_every"})
        if changed or (args.preset and args.preset.upper() != config.preset):
            raise ConfigError(
                f"a resumed run keeps its configuration; only --epochs may change (got "
                f"{changed or ['--preset']}); start a new run folder to change it"
            )
        config = config.replace(**overrides)
        done = _epochs_done(out / "history.csv")
        if done >= config.epochs:
            raise ConfigError(
                f"the run in {str(out)!r} already has {done} epochs; ask for more with --epochs"
            )
        return config, out, done
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RunFolderError(
            f"run folder {str(out)!r} is not empty; choose a new --out, or pass --resume to "
            "continue the run in it"
        )
    config = preset_config(args.preset or "O-1", **overrides)
    if config.data_kind != "synthetic" and not args.data:
        raise ConfigError(
            f"--data is needed for data kind {config.data_kind!r}: the folder of THEMIS tiles "
            "or of images with labels"
        )
    return config, out, 0


def _epochs_done(history_csv: Path) -> int:
    if not history_csv.exists():
        return 0
    lines = history_csv.read_text(encoding="utf-8").strip().splitlines()
    return max(0, len(lines) - 1)


def _hardware() -> dict:
    import tensorflow as tf

    gpus = [d.name for d in tf.config.list_physical_devices("GPU")]
    return {
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "gpus": gpus,
        "tensorflow": tf.__version__,
    }


def _strategy():
    """MirroredStrategy over all GPUs when there are several, else the default."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def _optimizer(config: TrainConfig):
    import keras

    make = {
        "adam": keras.optimizers.Adam,
        "sgd": keras.optimizers.SGD,
        "rmsprop": keras.optimizers.RMSprop,
    }[config.optimizer]
    return make(learning_rate=config.learning_rate)


def _validation_examples(val_ds, n: int = 3):
    import numpy as np

    images, targets = [], []
    for image, target, _ in val_ds.unbatch().take(n):
        images.append(image.numpy())
        targets.append(target.numpy())
    if not images:
        return np.zeros((0, 1, 1, 1), "float32"), np.zeros((0, 1, 1, 1), "float32")
    return np.stack(images), np.stack(targets)


# ------------------------------------------------------------------ training
def train(
    config: TrainConfig,
    out: Path,
    data: str | None,
    initial_epoch: int = 0,
    verbose: int = 1,
    catalog: str | None = None,
    labels: str = "labels_robbins",
) -> dict:
    """Train (or resume) a run in ``out``; returns the figures written to ``metrics.json``."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    from .callbacks import CraterMetricCallback, EpochTimer, FiguresCallback
    from .crater_metrics import default_crater_evaluator
    from .data import make_datasets
    from .losses import make_loss
    from .model import build_unet

    keras.utils.set_random_seed(config.seed)
    train_ds, val_ds, info = make_datasets(
        config, data, catalog=catalog, labels=labels, initial_epoch=initial_epoch
    )
    if config.steps_per_epoch:  # Keras does not restart a finite dataset between epochs then
        train_ds = train_ds.repeat()
    out.mkdir(parents=True, exist_ok=True)
    (out / "checkpoints").mkdir(exist_ok=True)
    if initial_epoch == 0:
        config.save(out / "config.json")
        (out / "dataset.json").write_text(json.dumps(info.to_dict(), indent=2) + "\n")

    with _strategy().scope():
        if initial_epoch:
            from . import losses  # noqa: F401  (registers the custom losses for loading)

            model = keras.models.load_model(out / "checkpoints" / "last.keras")
        else:
            model = build_unet(config)
            model.compile(
                optimizer=_optimizer(config),
                loss=make_loss(config.loss, config.positive_weight),
                weighted_metrics=["accuracy"],
            )
    title = f"{config.preset}: {config.data_kind}, {config.target_kind} targets"
    callbacks = [
        EpochTimer(),
        keras.callbacks.ModelCheckpoint(
            out / "checkpoints" / "best.keras", monitor="val_loss", save_best_only=True
        ),
        keras.callbacks.ModelCheckpoint(out / "checkpoints" / "last.keras"),
        keras.callbacks.CSVLogger(out / "history.csv", append=initial_epoch > 0),
        FiguresCallback(out, _validation_examples(val_ds), title),
    ]
    if config.crater_metric_every:
        evaluator = default_crater_evaluator(config, data)
        if evaluator is not None:
            callbacks.append(
                CraterMetricCallback(
                    evaluator, config.crater_metric_every, out / "crater_metrics.csv"
                )
            )
    start = time.perf_counter()
    model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=config.epochs,
        initial_epoch=initial_epoch,
        steps_per_epoch=config.steps_per_epoch,
        validation_steps=config.validation_steps,
        callbacks=callbacks,
        verbose=verbose,
        shuffle=False,  # the pipeline shuffles, reproducibly, per epoch
    )
    seconds = time.perf_counter() - start
    return _write_metrics(out, model, info, seconds, config.epochs - initial_epoch)


def _write_metrics(out: Path, model, info, seconds: float, epochs_run: int) -> dict:
    from .plots import read_history

    history = read_history(out / "history.csv")
    val_loss = history.get("val_loss", [])
    best = min(range(len(val_loss)), key=val_loss.__getitem__) if val_loss else None
    metrics = {
        "epochs": len(history.get("epoch", [])),
        "best_epoch": None if best is None else best + 1,
        "best": {k: v[best] for k, v in history.items() if best is not None and k != "epoch"},
        "last": {k: v[-1] for k, v in history.items() if v and k != "epoch"},
        "parameters": int(model.count_params()),
        "train_seconds_this_session": round(seconds, 1),
        "seconds_per_epoch": round(seconds / max(epochs_run, 1), 1),
        "train_items": info.n_train,
        "val_items": info.n_val,
        "hardware": _hardware(),
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    return metrics


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        config, out, done = _prepare_run(args)
        verbose = 2 if args.quiet or not sys.stdout.isatty() else 1
        metrics = train(
            config,
            out,
            args.data,
            initial_epoch=done,
            verbose=verbose,
            catalog=args.catalog,
            labels=args.labels,
        )
    except GeocoreError as err:
        print(f"train: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"train: interrupted; resume with --out {args.out} --resume", file=sys.stderr)
        return 130
    last = metrics["last"]
    print(
        f"trained {config.preset} for {metrics['epochs']} epochs in {args.out}: "
        f"val_loss {last.get('val_loss', float('nan')):.4f}, "
        f"val_accuracy {last.get('val_accuracy', float('nan')):.4f}, "
        f"{metrics['seconds_per_epoch']} s/epoch"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
