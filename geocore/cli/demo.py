"""``geocore demo``: the geocore pipeline on a built-in synthetic Mars scene.

Draws a reproducible set of craters on a THEMIS tile's grid, renders them as a
shaded-relief image, and writes everything a crater counter would look at in
QGIS: the georeferenced scene, its outline target raster, the craters as a
GeoPackage, CSV and craterstats ``.diam`` file, and an overlay picture. With
``--catalog`` a real catalogue (e.g. ``../shared/data/robbins2012_pm30``) gives
the craters instead.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..atomic import atomic_output
from ..errors import OutputExistsError, OutputWriteError
from ..themis import ThemisTile


def register(subparsers) -> None:
    """Add the ``demo`` command."""
    p = subparsers.add_parser(
        "demo",
        help="run geocore end to end on a built-in synthetic Mars scene",
        description=__doc__,
    )
    p.add_argument("--out", default="demo_output", help="output folder (default demo_output)")
    p.add_argument("--tile", default="thm_dir_N-30_090", help="THEMIS tile whose grid is used")
    p.add_argument(
        "--downsample",
        type=int,
        default=4,
        help="work at 1/N of the tile's 256 px/degree (default 4: 1920 px, 926 m/px)",
    )
    p.add_argument("--craters", type=int, default=600, help="number of synthetic craters")
    p.add_argument("--seed", type=int, default=0, help="random seed of the scene")
    p.add_argument(
        "--catalog", help="use this crater catalogue (file or folder) instead of synthetic craters"
    )
    p.add_argument("--min-diameter-km", type=float, default=4.0, help="smallest crater (km)")
    p.add_argument("--max-diameter-km", type=float, default=64.0, help="largest crater (km)")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.set_defaults(func=run)


def run(args) -> int:
    """Run ``geocore demo``."""
    from ..catalog import read_catalog
    from ..geometry import lonlat_box_area_km2
    from ..raster_io import write_geotiff
    from ..synthetic import random_catalog, render_scene
    from ..targets import rasterize_targets
    from ..vector_io import write_craters

    start = time.perf_counter()
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise OutputWriteError(f"--out {str(out)!r} is a file; give a folder name")
    if out.is_dir() and any(out.iterdir()) and not args.overwrite:
        raise OutputExistsError(
            f"folder {str(out)!r} is not empty; pass --overwrite to replace the demo's files"
        )
    if args.downsample < 1:
        raise OutputWriteError(f"--downsample must be 1 or more, got {args.downsample}")
    out.mkdir(parents=True, exist_ok=True)

    tile = ThemisTile.from_name(args.tile)
    grid = tile.grid.scaled(args.downsample)
    if args.catalog:
        craters = read_catalog(args.catalog)
        source = args.catalog
    else:
        craters = random_catalog(
            tile.bounds_deg,
            args.craters,
            args.min_diameter_km,
            args.max_diameter_km,
            seed=args.seed,
        )
        source = f"{args.craters} synthetic craters (seed {args.seed})"
    craters = craters.filter(
        bbox=tile.bounds_deg,
        min_diameter_km=args.min_diameter_km,
        max_diameter_km=args.max_diameter_km,
    ).with_pixels(grid)

    scene = render_scene(grid, craters, seed=args.seed)
    target = rasterize_targets(grid, craters, kind="outline")
    write_geotiff(out / "scene.tif", scene, grid, nodata=0, overwrite=args.overwrite)
    write_geotiff(out / "target_outline.tif", target, grid, overwrite=args.overwrite)
    write_craters(out / "craters.gpkg", craters, overwrite=args.overwrite)
    write_craters(out / "craters.csv", craters, overwrite=args.overwrite)
    area_km2 = lonlat_box_area_km2(*tile.bounds_deg)
    write_craters(out / "craters.diam", craters, overwrite=args.overwrite, area_km2=area_km2)
    _write_overlay(out / "overlay.png", scene, target, args.overwrite)

    sizes = craters.diameter_km
    print(f"geocore demo on {tile.name} at {grid.resolution_m:.0f} m/px ({grid.width} px square)")
    print(f"  craters: {len(craters)} from {source}")
    if len(craters):
        print(
            f"  diameters: {sizes.min():.1f}-{sizes.max():.1f} km, median {np.median(sizes):.1f} km"
        )
    for name in sorted(p.name for p in out.iterdir()):
        print(f"  wrote {out / name}")
    print(f"done in {time.perf_counter() - start:.1f} s; open scene.tif and craters.gpkg in QGIS")
    return 0


def _write_overlay(path: Path, scene: np.ndarray, target: np.ndarray, overwrite: bool) -> None:
    """The scene in gray with the target outlines in orange, as a PNG."""
    from PIL import Image

    rgb = np.repeat(scene[..., None], 3, axis=2)
    rgb[target > 0] = (255, 140, 0)
    with atomic_output(path, overwrite) as tmp:
        Image.fromarray(rgb).save(tmp, format="PNG")
