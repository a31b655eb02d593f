"""``geocore targets``: a crater target raster (filled disks, outlines or rings) as a PNG."""

from __future__ import annotations

import argparse
import time

_DESCRIPTION = """\
Rasterise a crater catalogue onto the grid of a THEMIS tile (--tile) or of another raster
(--like) as a training target: filled disks, outlines (a disk minus an inner disk at
--inner-ratio of the radius, as DeLatte et al. 2018) or rings --ring-width-px wide centred
on the rim (as the follow-up's 4 and 8 px rings). Craters are drawn largest first, so a
small crater on a large one keeps its own shape.

Each crater covers the pixels whose centre lies within its radius on the Mars sphere
(great-circle distance), so in the equirectangular THEMIS tiles craters are ellipses
stretched by 1/cos(lat), at their true size.

The output is an 8-bit grayscale PNG of the grid's size: 255 = crater, 0 = background
(divide by 255 for 0/1 training labels).

SOURCE may be anything `geocore catalog` reads: a folder of Robbins CSV_Tile_*.csv files,
one Robbins tile .csv, the Robbins .tsv release, or a geocore .csv / .gpkg."""

_EPILOG = """\
examples:
  python -m geocore targets --tile thm_dir_N-30_090 --catalog ../shared/data/robbins2012_pm30 \\
      --kind ring --ring-width-px 8 --min-diameter-km 4 --max-diameter-km 64 --out ring8.png
  python -m geocore targets --like thm_dir_N-30_090.tif --catalog robbins.gpkg --kind outline \\
      --out thm_dir_N-30_090_outline.png
(the seed's "2-32 km" craters are radii: diameters 4-64 km)"""

#: Pixel value of crater pixels in the PNG (background is 0).
PNG_CRATER_VALUE = 255


def register(subparsers) -> None:
    """Add the ``targets`` command."""
    from ..targets import KINDS

    p = subparsers.add_parser(
        "targets",
        help="rasterise craters as a target PNG (filled, outline or ring; 255 = crater)",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--tile", metavar="NAME", help="THEMIS tile, e.g. thm_dir_N-30_090")
    where.add_argument(
        "--like",
        metavar="RASTER",
        help="use the grid (size and georeferencing) of this raster, e.g. a GeoTIFF",
    )
    p.add_argument(
        "--resolution-m",
        type=float,
        metavar="M",
        help="with --like: pixel size in m of a raster without georeferencing (the "
        "catalogue must then give pixel positions x_px, y_px)",
    )
    p.add_argument("--catalog", required=True, metavar="SOURCE", help="crater catalogue")
    p.add_argument("--kind", choices=KINDS, default="filled", help="target kind (default filled)")
    p.add_argument(
        "--inner-ratio",
        type=float,
        default=0.7,
        metavar="R",
        help="outline: radius of the hole as a fraction of the crater radius, 0..1 (default 0.7)",
    )
    p.add_argument(
        "--ring-width-px",
        type=float,
        default=4.0,
        metavar="W",
        help="ring: width in pixels along a meridian, centred on the rim (default 4)",
    )
    p.add_argument(
        "--min-diameter-km",
        type=float,
        metavar="D",
        help="draw craters at least D km across (rim-to-rim diameter, not radius)",
    )
    p.add_argument(
        "--max-diameter-km",
        type=float,
        metavar="D",
        help="draw craters at most D km across (rim-to-rim diameter, not radius)",
    )
    p.add_argument(
        "--out",
        required=True,
        metavar="PNG",
        help="PNG to write: 8-bit grayscale, 255 = crater, 0 = background",
    )
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    p.set_defaults(func=run)


def run(args) -> int:
    """Run ``geocore targets``."""
    import numpy as np

    from ..atomic import atomic_output, check_output_path
    from ..catalog import check_diameter_range, read_catalog
    from ..errors import GridError, OutputWriteError
    from ..grid import PixelGrid
    from ..targets import TargetSpec, craters_on_grid

    # Everything the user typed is checked before the catalogue is read.
    spec = TargetSpec(args.kind, args.inner_ratio, args.ring_width_px)
    check_diameter_range(args.min_diameter_km, args.max_diameter_km)
    out = check_output_path(args.out, overwrite=args.overwrite)
    if out.suffix.lower() != ".png":
        raise OutputWriteError(
            f"cannot write {args.out!r}: targets are written as PNG; give a name ending in .png"
        )
    if args.resolution_m is not None and args.like is None:
        raise GridError("--resolution-m goes with --like RASTER; a --tile knows its resolution")

    if args.tile is not None:
        grid = PixelGrid.from_themis_tile(args.tile)
    else:
        from ..raster_io import read_grid

        grid = read_grid(args.like, resolution_m=args.resolution_m)
    catalog = read_catalog(args.catalog).filter(
        min_diameter_km=args.min_diameter_km, max_diameter_km=args.max_diameter_km
    )

    start = time.perf_counter()
    target = spec.rasterize(grid, catalog)
    seconds = time.perf_counter() - start
    drawn = int(np.count_nonzero(craters_on_grid(grid, catalog, spec)))

    from PIL import Image

    image = Image.fromarray(target * np.uint8(PNG_CRATER_VALUE))
    with atomic_output(out, overwrite=args.overwrite) as tmp:
        image.save(tmp, format="PNG", optimize=False)
    covered = float(np.count_nonzero(target)) / target.size
    craters = "crater" if drawn == 1 else "craters"
    print(
        f"drew {drawn} {craters} ({spec.kind}) on {grid.width} x {grid.height} px in "
        f"{seconds:.2f} s, {covered:.1%} of pixels set; wrote {out} (255 = crater)"
    )
    return 0
