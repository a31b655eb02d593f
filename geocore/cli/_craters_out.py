"""Shared pieces of the ``detect`` and ``extract`` commands: options, output checks, writing."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ..atomic import check_output_path
from ..crater import CraterCatalog
from ..errors import OutputWriteError


def add_output_options(p: argparse.ArgumentParser) -> None:
    """Options for the crater outputs, the diameter range and extraction."""
    out = p.add_argument_group("output")
    out.add_argument("--out", help="GeoPackage of crater circles (needs georeferenced rasters)")
    out.add_argument(
        "--csv",
        help="CSV: source, x_px, y_px, diameter_px, diameter_km, lon, lat, confidence",
    )
    out.add_argument("--points", action="store_true", help="GeoPackage: also a layer of centres")
    out.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    ext = p.add_argument_group("craters")
    ext.add_argument("--min-diameter-km", type=float, default=2.0, help="smallest DIAMETER, km")
    ext.add_argument("--max-diameter-km", type=float, default=32.0, help="largest DIAMETER, km")
    ext.add_argument("--threshold", type=float, help="probability threshold (default: the model's)")
    ext.add_argument(
        "--method",
        choices=("fast", "template"),
        help="crater extraction: fast (default) or the DeepMoon-style template reference",
    )
    p.add_argument(
        "--resolution-m", type=float, help="m/px of plain images (PNG/JPEG without georeferencing)"
    )
    p.add_argument("--band", type=int, help="band to read from a multi-band raster (1-based)")


def check_outputs(args) -> None:
    """Refuse bad output options before any work is done."""
    if not args.out and not args.csv:
        raise OutputWriteError(
            "give at least one output: --out craters.gpkg and/or --csv craters.csv"
        )
    if args.out and Path(args.out).suffix.lower() != ".gpkg":
        raise OutputWriteError(f"--out must be a GeoPackage (.gpkg), got {args.out!r}")
    if args.csv and Path(args.csv).suffix.lower() != ".csv":
        raise OutputWriteError(f"--csv must end in .csv, got {args.csv!r}")
    for path in (args.out, args.csv):
        if path:
            check_output_path(path, args.overwrite)
    if not 0 <= args.min_diameter_km < args.max_diameter_km:
        raise OutputWriteError(
            f"need 0 <= --min-diameter-km < --max-diameter-km, got "
            f"{args.min_diameter_km} and {args.max_diameter_km}"
        )


def check_georeferenced_for_gpkg(args, grids) -> None:
    """A GeoPackage needs lon/lat: refuse pixel-only rasters before running."""
    if args.out:
        plain = [name for name, grid in grids if not grid.is_georeferenced]
        if plain:
            raise OutputWriteError(
                f"{plain[0]} has no georeferencing, so its craters have pixel coordinates only; "
                "write them with --csv, or georeference the image"
            )


def craters_of_sources(args, sources, predictor, model_resolution_m, params, verb: str):
    """Run the block-wise detector over each source with a progress bar; one catalogue."""
    from ..detection import detect_craters
    from ._progress import ProgressBar

    found = []
    for source in sources:
        bar = ProgressBar(f"{verb} {source.name}")
        t0 = time.perf_counter()
        try:
            craters = detect_craters(
                source,
                predictor,
                model_resolution_m=model_resolution_m,
                extraction=params,
                min_diameter_km=args.min_diameter_km,
                max_diameter_km=args.max_diameter_km,
                block_px=args.block_px,
                progress=bar,
            )
        finally:
            bar.close()
        print(f"{source.name}: {len(craters)} craters in {time.perf_counter() - t0:.1f} s")
        found.append(craters)
    return CraterCatalog.concat(found)


def write_outputs(args, catalog: CraterCatalog, start: float) -> None:
    """Write the requested files and print a summary."""
    from ..vector_io import write_craters

    if args.out:
        points = "crater_centres" if args.points else None
        write_craters(args.out, catalog, overwrite=args.overwrite, points_layer=points)
    if args.csv:
        write_craters(args.csv, catalog, overwrite=args.overwrite)
    written = " and ".join(p for p in (args.out, args.csv) if p)
    print(f"{len(catalog)} craters written to {written} in {time.perf_counter() - start:.1f} s")
