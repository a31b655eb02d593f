"""``geocore georef``: a georeferenced GeoTIFF copy of a THEMIS tile image."""

from __future__ import annotations

import time

from ..raster_io import georeference_themis
from ._progress import ProgressBar


def register(subparsers) -> None:
    """Add the ``georef`` command."""
    p = subparsers.add_parser(
        "georef",
        help="write a georeferenced GeoTIFF of a THEMIS tile image",
        description=(
            "Write a GeoTIFF copy of a THEMIS Day IR 256 px/degree tile image (e.g. "
            "thm_dir_N-30_090.png, 7680 x 7680 px) in the Mars equirectangular CRS "
            "(IAU_2015:49910), read and written window by window. The tile is told by the "
            "file name, or by --tile."
        ),
    )
    p.add_argument("image", help="tile image (PNG, JPEG or TIFF), e.g. thm_dir_N-30_090.png")
    p.add_argument("--out", required=True, help="GeoTIFF to write, e.g. tile.tif")
    p.add_argument("--tile", help="tile name when the file name does not say it")
    p.add_argument(
        "--nodata",
        type=float,
        default=0.0,
        help="pixel value marking missing data (default 0: THEMIS black streaks)",
    )
    p.add_argument("--no-nodata", action="store_true", help="mark no value as missing")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.set_defaults(func=run)


def run(args) -> int:
    """Run ``geocore georef``."""
    start = time.perf_counter()
    bar = ProgressBar("georef")
    try:
        grid = georeference_themis(
            args.image,
            args.out,
            tile=args.tile,
            overwrite=args.overwrite,
            nodata=None if args.no_nodata else args.nodata,
            progress=bar,
        )
    finally:
        bar.close()
    print(
        f"wrote {args.out}: {grid.width} x {grid.height} px, {grid.resolution_m:.1f} m/px, "
        f"Mars equirectangular, in {time.perf_counter() - start:.1f} s"
    )
    return 0
