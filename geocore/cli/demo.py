"""``geocore demo``: crater detection end to end on a built-in synthetic Mars scene.

Draws a reproducible population of craters in a window of a THEMIS tile,
renders them as a THEMIS Day IR-like image (:func:`geocore.synthetic.render_scene`),
writes it as a georeferenced GeoTIFF in a Mars CRS, runs the crater detector
on it exactly as ``geocore detect`` does (the bundled model unless ``--model``
is given), and writes what a crater counter looks at in QGIS: the craters
found as a GeoPackage, CSV and craterstats ``.diam`` file, the known craters,
and an overlay picture. As the scene's craters are known, it prints the
precision, recall and F1 of the detection (2-32 km by default).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..atomic import atomic_output
from ..errors import OutputExistsError, OutputWriteError
from ..themis import ThemisTile

#: Colours of the overlay picture: detections, and known craters not found.
FOUND_RGB = (255, 64, 32)
MISSED_RGB = (40, 200, 255)


def register(subparsers) -> None:
    """Add the ``demo`` command."""
    import argparse

    p = subparsers.add_parser(
        "demo",
        help="detect craters on a built-in synthetic Mars scene and score the result",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", default="demo_output", help="output folder (default demo_output)")
    p.add_argument("--model", help="ONNX model (default: the bundled model)")
    p.add_argument("--tile", default="thm_dir_N-30_090", help="THEMIS tile whose grid is used")
    p.add_argument(
        "--size-px", type=int, default=1536, help="scene side in px at 256 px/degree (1536)"
    )
    p.add_argument("--craters", type=int, default=400, help="number of synthetic craters (400)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the scene")
    p.add_argument("--min-diameter-km", type=float, default=2.0, help="smallest crater scored")
    p.add_argument("--max-diameter-km", type=float, default=32.0, help="largest crater scored")
    p.add_argument("--threshold", type=float, help="probability threshold (default: the model's)")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.set_defaults(func=run)


def run(args) -> int:
    """Run ``geocore demo``."""
    from ..detection import detect_craters
    from ..extraction import ExtractionParams
    from ..geometry import lonlat_box_area_km2
    from ..matching import match_catalogs
    from ..metrics import compute_metrics
    from ..raster_io import RasterioSource, write_geotiff
    from ..synthetic import random_catalog, render_scene
    from ..vector_io import write_craters
    from ._progress import ProgressBar
    from .detect import load_model

    start = time.perf_counter()
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise OutputWriteError(f"--out {str(out)!r} is a file; give a folder name")
    if out.is_dir() and any(out.iterdir()) and not args.overwrite:
        raise OutputExistsError(
            f"folder {str(out)!r} is not empty; pass --overwrite to replace the demo's files"
        )
    if not 128 <= args.size_px <= 7680:
        raise OutputWriteError(f"--size-px must be 128..7680, got {args.size_px}")
    model = load_model(model=args.model)  # before writing anything: no model, no demo files
    out.mkdir(parents=True, exist_ok=True)

    tile = ThemisTile.from_name(args.tile)
    offset = (7680 - args.size_px) // 2
    grid = tile.grid.window(offset, offset, args.size_px, args.size_px)
    west, north = grid.pixel_to_lonlat(-0.5, -0.5)
    east, south = grid.pixel_to_lonlat(args.size_px - 0.5, args.size_px - 0.5)
    bbox = (float(west), float(south), float(east), float(north))
    # the truth reaches below and above the scored range, as real surfaces do
    truth = random_catalog(
        bbox, args.craters, args.min_diameter_km / 1.5, args.max_diameter_km * 1.5, seed=args.seed
    ).with_pixels(grid)
    scene = render_scene(grid, truth, seed=args.seed)
    write_geotiff(out / "scene.tif", scene, grid, nodata=0, overwrite=args.overwrite)

    info = model.info
    overrides = {} if args.threshold is None else {"threshold": args.threshold}
    params = ExtractionParams.for_model(info, **overrides)
    bar = ProgressBar("detecting craters")
    t0 = time.perf_counter()
    with RasterioSource(out / "scene.tif") as source:
        try:
            found = detect_craters(
                source, model.predict, model_resolution_m=info.resolution_m, extraction=params,
                min_diameter_km=args.min_diameter_km, max_diameter_km=args.max_diameter_km,
                progress=bar,
            )  # fmt: skip
        finally:
            bar.close()
    seconds = time.perf_counter() - t0

    area_km2 = lonlat_box_area_km2(*bbox)
    write_craters(out / "craters.gpkg", found, overwrite=args.overwrite)
    write_craters(out / "craters.csv", found, overwrite=args.overwrite)
    write_craters(out / "craters.diam", found, overwrite=args.overwrite, area_km2=area_km2)
    write_craters(out / "truth.gpkg", truth, overwrite=args.overwrite)
    diameters = {"min_diameter_km": args.min_diameter_km, "max_diameter_km": args.max_diameter_km}
    match = match_catalogs(found, truth, region=grid, **diameters)
    metrics = compute_metrics(match, found, truth, **diameters)
    _write_overlay(out / "overlay.png", scene, found, truth, match, args.overwrite)

    print(
        f"geocore demo: synthetic scene of {args.size_px} x {args.size_px} px "
        f"({grid.resolution_m:.1f} m/px) in {tile.name}, {len(truth)} known craters"
    )
    print(f"model: {model.source} ({info.resolution_m:g} m/px, {info.target_kind} targets)")
    print(f"craters found: {len(found)} in {seconds:.1f} s")
    print(
        f"{args.min_diameter_km:g}-{args.max_diameter_km:g} km against the known craters: "
        f"precision {metrics.precision:.3f}, recall {metrics.recall:.3f}, F1 {metrics.f1:.3f} "
        f"({metrics.true_positives} found, {metrics.false_positives} invented, "
        f"{metrics.false_negatives} missed), median diameter error "
        f"{100 * metrics.median_diameter_error:.1f} %"
    )
    for b in metrics.bins:
        print(f"  {b.label:>9}: precision {b.precision:.3f}, recall {b.recall:.3f}, F1 {b.f1:.3f}")
    for name in sorted(p.name for p in out.iterdir()):
        print(f"  wrote {out / name}")
    print(f"done in {time.perf_counter() - start:.1f} s; open scene.tif and craters.gpkg in QGIS")
    return 0


def _write_overlay(path: Path, scene, found, truth, match, overwrite: bool) -> None:
    """The scene with the craters found (red) and the known craters missed (blue)."""
    from PIL import Image, ImageDraw

    image = Image.fromarray(scene).convert("RGB")
    draw = ImageDraw.Draw(image)
    width = max(1, round(scene.shape[0] / 768))
    matched = np.zeros(len(truth), bool)
    matched[match.reference_index] = True
    counted = np.asarray(match.reference_status) == 0
    missed = truth[np.flatnonzero(~matched & counted)]
    for catalog, colour in ((missed, MISSED_RGB), (found, FOUND_RGB)):
        if not len(catalog):
            continue
        stretch = 1.0 / np.cos(np.radians(catalog.lat_deg))
        columns = (catalog.x_px, catalog.y_px, catalog.diameter_px, stretch)
        for x, y, d, k in zip(*columns, strict=True):
            rx, ry = d / 2 * k, d / 2
            draw.ellipse((x - rx, y - ry, x + rx, y + ry), outline=colour, width=width)
    with atomic_output(path, overwrite) as tmp:
        image.save(tmp, format="PNG")
