"""Crater-level evaluation of an exported model on held-out labelled images.

``python -m training.evaluate MODEL.onnx --run RUN`` runs the ONNX model the way
``geocore detect`` does (:func:`geocore.detection.detect_craters`: resampling to
the model's resolution, windowed inference, the model's extraction settings)
over the validation images of a training run (the image ids of the run's
``dataset.json``, so the images the model never trained on), and matches the
craters found with the images' labels (:func:`geocore.metrics.evaluate`,
DeepMoon's rule in pixels, each image on its own). Craters cut by an image's
edge are matched but not counted (see :mod:`geocore.matching`).

With several ``--threshold`` values the network runs once per image and only
the extraction is repeated; the table then shows how the probability threshold
trades recall for precision. Choosing the threshold on these images means they
are no longer an independent test of that choice: say so where the figure is
reported.

Only geocore and onnxruntime are used (no TensorFlow), so it runs beside a
training job.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import parse_value

__all__ = [
    "ImageSet",
    "evaluate_model",
    "load_image_set",
    "main",
    "metrics_table",
    "settings_grid",
]

log = logging.getLogger(__name__)

#: The real THEMIS Day IR 100 m/px set, beside the project.
DEFAULT_DATA = Path("../shared/data/themis_dayir_100m/train")


@dataclass(frozen=True)
class ImageSet:
    """Images with their ground-truth craters, at one resolution."""

    paths: tuple[Path, ...]
    truth: object  # geocore.crater.CraterCatalog with a ``source`` column (file names)
    resolution_m: float


def load_image_set(
    data: str | Path,
    ids: list[str] | None = None,
    *,
    labels: str = "labels_robbins",
    resolution_m: float = 100.0,
    limit: int | None = None,
) -> ImageSet:
    """Images of a labelled-images folder (``images/`` + ``labels/``), or only ``ids`` of them.

    ``limit`` keeps the first images only (their labels only, so that the
    others' craters do not count as missed).
    """
    from geocore.crater import CraterCatalog
    from geocore.yolo import IMAGE_SUFFIXES, read_yolo_labels
    from training.data.common import image_size

    data = Path(data)
    images = data / "images"
    if not images.is_dir():
        raise SystemExit(f"error: {images} is not a folder; give --data a folder with images/")
    if ids is None:
        paths = sorted(p for p in images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    else:
        paths = [images / name for name in ids]
        missing = [p.name for p in paths if not p.exists()]
        if missing:
            raise SystemExit(
                f"error: {len(missing)} image(s) of the split are not in {images} "
                f"(e.g. {missing[0]}); give the --data folder the run was trained on"
            )
    paths = paths[:limit] if limit else paths
    truth = []
    for path in paths:
        label = data / labels / (path.stem + ".txt")
        if label.exists():
            truth.append(read_yolo_labels(label, image_size(path), resolution_m, source=path.name))
    catalog = CraterCatalog.concat(truth) if truth else CraterCatalog.empty()
    return ImageSet(tuple(paths), catalog, resolution_m)


def _read_gray(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("L"))


def evaluate_model(
    model,
    images: ImageSet,
    settings: list[dict] | None = None,
    *,
    min_diameter_km: float = 2.0,
    max_diameter_km: float = 32.0,
    overlays: str | Path | None = None,
) -> list[tuple[dict, object]]:
    """Metrics of ``model`` on ``images`` for each extraction setting.

    Parameters
    ----------
    settings : list of dict, optional
        Overrides of the model's extraction parameters
        (:meth:`geocore.extraction.ExtractionParams.for_model`), e.g.
        ``[{"threshold": 0.3}, {"threshold": 0.4}]``; default: the model's own.
    overlays : path, optional
        Folder for one PNG per image: the image with the labelled craters (blue)
        and the craters found with the first setting (red).

    Returns
    -------
    list of (dict, Metrics)
        Each setting with its :class:`geocore.metrics.Metrics` (pixel mode, per image).
    """
    from geocore.crater import CraterCatalog
    from geocore.detection import ArraySource, detect_craters
    from geocore.extraction import ExtractionParams
    from geocore.grid import PixelGrid
    from geocore.metrics import evaluate

    info = model.info
    settings = settings or [{}]
    params = [ExtractionParams.for_model(info, **s) for s in settings]
    found: list[list] = [[] for _ in settings]
    region = None
    for path in images.paths:
        pixels = _read_gray(path)
        grid = PixelGrid.from_resolution(pixels.shape[1], pixels.shape[0], images.resolution_m)
        region = region or grid
        if pixels.shape != (region.height, region.width):
            raise SystemExit(f"error: {path.name} is not {region.width} x {region.height} px")
        source = ArraySource(pixels, grid, nodata=None, name=path.name)
        cache: dict[str, np.ndarray] = {}

        def predictor(image, cache=cache, **kwargs):
            if "prob" not in cache:  # one network run per image, reused for every setting
                cache["prob"] = model.predict(image, **kwargs)
            return cache["prob"]

        for i, p in enumerate(params):
            craters = detect_craters(
                source, predictor, model_resolution_m=info.resolution_m, extraction=p,
                min_diameter_km=min_diameter_km / 1.25, max_diameter_km=max_diameter_km * 1.25,
            )  # fmt: skip
            found[i].append(craters)
        if overlays is not None:
            _write_overlay(Path(overlays) / (path.stem + ".png"), pixels, found[0][-1],
                           images.truth[images.truth.source == path.name])  # fmt: skip
    out = []
    for setting, p, craters in zip(settings, params, found, strict=True):
        detected = CraterCatalog.concat(craters) if craters else CraterCatalog.empty()
        metrics = evaluate(
            _pixel_only(detected), _pixel_only(images.truth), region=region, mode="pixel",
            min_diameter_km=min_diameter_km, max_diameter_km=max_diameter_km,
        )  # fmt: skip
        out.append(({"threshold": p.threshold, **setting}, metrics))
    return out


def settings_grid(thresholds=None, method=None, sweeps=()) -> list[dict]:
    """Every combination of thresholds and ``KEY=V1,V2`` sweeps of extraction fields.

    Examples
    --------
    >>> grid = settings_grid([0.3, 0.4], sweeps=["correlation_threshold=0.4,0.5"])
    >>> [(s["threshold"], s["correlation_threshold"]) for s in grid]
    [(0.3, 0.4), (0.3, 0.5), (0.4, 0.4), (0.4, 0.5)]
    """
    axes: list[list[tuple[str, object]]] = []
    if thresholds:
        axes.append([("threshold", float(t)) for t in thresholds])
    if method:
        axes.append([("method", method)])
    for sweep in sweeps:
        key, _, values = sweep.partition("=")
        if not key or not values:
            raise SystemExit(
                f"error: --sweep {sweep!r}: write KEY=V1,V2 (e.g. correlation_threshold=0.4,0.5)"
            )
        axes.append([(key.strip(), parse_value(v)) for v in values.split(",")])
    return [dict(combo) for combo in itertools.product(*axes)] if axes else [{}]


def _write_overlay(path: Path, pixels: np.ndarray, found, truth) -> None:
    from PIL import Image, ImageDraw

    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(pixels).convert("RGB")
    draw = ImageDraw.Draw(image)
    for catalog, colour in ((truth, (40, 200, 255)), (found, (255, 64, 32))):
        if not len(catalog) or catalog.x_px is None:
            continue
        for x, y, d in zip(catalog.x_px, catalog.y_px, catalog.diameter_px, strict=True):
            draw.ellipse((x - d / 2, y - d / 2, x + d / 2, y + d / 2), outline=colour, width=2)
    image.save(path)


def _pixel_only(catalog):
    """The catalogue without lon/lat (pixel grids give none; matching is per image in px)."""
    n = len(catalog)
    return catalog.replace(lon_deg=np.full(n, np.nan), lat_deg=np.full(n, np.nan))


def metrics_row(setting: dict, m) -> dict:
    """One JSON-friendly row of figures."""
    return {
        **setting,
        "tp": m.true_positives,
        "fp": m.false_positives,
        "fn": m.false_negatives,
        "precision": m.precision,
        "recall": m.recall,
        "f1": m.f1,
        "median_x_error": m.median_lon_error,
        "median_y_error": m.median_lat_error,
        "median_diameter_error": m.median_diameter_error,
        "bins": [_bin_row(b) for b in m.bins],
    }


def _bin_row(b) -> dict:
    return {
        "bin": b.label,
        "tp": b.tp_reference,
        "fp": b.false_positives,
        "fn": b.false_negatives,
        "precision": b.precision,
        "recall": b.recall,
        "f1": b.f1,
        "median_diameter_error": b.median_diameter_error,
    }


def metrics_table(rows: list[dict], setting_keys: list[str]) -> str:
    """A Markdown table of ``metrics_row`` results, one line per setting and bin.

    ``setting_keys`` names the row fields that make up the setting (e.g. ``threshold``).
    """
    head = "| setting | bin | TP | FP | FN | precision | recall | F1 | median dD |"
    lines = [head, "|" + "---|" * 9]
    for r in rows:
        setting = ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}"
                            for k, v in r.items() if k in setting_keys)  # fmt: skip
        for label, b in [("all", r), *[(b["bin"], b) for b in r["bins"]]]:
            lines.append(
                f"| {setting} | {label} | {b['tp']} | {b['fp']} | {b['fn']} | "
                f"{b['precision']:.3f} | {b['recall']:.3f} | {b['f1']:.3f} | "
                f"{b['median_diameter_error']:.3f} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m training.evaluate MODEL.onnx --run RUN``."""
    p = argparse.ArgumentParser(
        prog="python -m training.evaluate",
        description=__doc__.split("\n\n")[0]
        + " Prints precision, recall, F1 and median errors, overall and per diameter bin.",
    )
    p.add_argument("model", help="exported ONNX model (python -m training.export)")
    p.add_argument("--run", help="training run folder: evaluate on its validation images")
    p.add_argument(
        "--data", default=str(DEFAULT_DATA), help=f"labelled-images folder (default {DEFAULT_DATA})"
    )
    p.add_argument("--labels", default="labels_robbins", help="label folder inside --data")
    p.add_argument("--ids", help="text file naming the images to evaluate, one file name per line")
    p.add_argument("--split", choices=("validation", "train", "all"), default="validation")
    p.add_argument("--source-resolution-m", type=float, default=100.0, help="images' m/px")
    p.add_argument("--threshold", type=float, nargs="+", help="probability threshold(s)")
    p.add_argument("--method", choices=("fast", "template"), help="extraction method")
    p.add_argument(
        "--sweep", action="append", default=[], metavar="KEY=V1,V2",
        help="also try these values of an extraction field (ExtractionParams), e.g. "
        "correlation_threshold=0.4,0.5; every combination is evaluated",
    )  # fmt: skip
    p.add_argument("--min-diameter-km", type=float, default=2.0)
    p.add_argument("--max-diameter-km", type=float, default=32.0)
    p.add_argument("--limit", type=int, help="evaluate on the first N images only")
    p.add_argument("--json", help="also write the figures to this JSON file")
    p.add_argument(
        "--overlays", help="folder for one PNG per image: labels (blue) and craters found (red)"
    )
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    from geocore.errors import GeocoreError
    from geocore.inference import OnnxCraterModel

    ids, data = None, args.data
    if args.run:
        dataset = json.loads((Path(args.run) / "dataset.json").read_text())
        key = {"validation": ["val_ids"], "train": ["train_ids"], "all": ["train_ids", "val_ids"]}
        ids = sorted(i for k in key[args.split] for i in dataset[k])
    elif args.ids:
        ids = [line.strip() for line in Path(args.ids).read_text().splitlines() if line.strip()]
    elif args.split != "all":
        p.error("--split validation/train needs --run (the run's dataset.json names the images)")
    try:
        model = OnnxCraterModel.load(args.model)
        images = load_image_set(
            data, ids, labels=args.labels, resolution_m=args.source_resolution_m, limit=args.limit
        )
        start = time.perf_counter()
        settings = settings_grid(args.threshold, args.method, args.sweep)
        results = evaluate_model(
            model, images, settings, min_diameter_km=args.min_diameter_km,
            max_diameter_km=args.max_diameter_km, overlays=args.overlays,
        )  # fmt: skip
    except GeocoreError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - start
    rows = [metrics_row(setting, m) for setting, m in results]
    print(f"{len(images.paths)} images, {seconds:.1f} s; model {args.model}")
    print(metrics_table(rows, list(results[0][0])))
    if args.json:
        report = {"model": str(args.model), "images": len(images.paths), "split": args.split,
                  "run": args.run, "seconds": seconds, "results": rows}  # fmt: skip
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
