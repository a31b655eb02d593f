"""``geocore extract``: craters from an existing probability or target map, without a model."""

from __future__ import annotations

import argparse
import time

import numpy as np

from ._craters_out import (
    add_output_options,
    check_georeferenced_for_gpkg,
    check_outputs,
    craters_of_sources,
    write_outputs,
)

_DESCRIPTION = """\
Find craters in probability maps or target masks (e.g. a model's output saved as a GeoTIFF, or
the seed authors' ring masks) and write them like `detect`. Maps are 8-bit 0/255 or 0/1 masks or
float probabilities in [0, 1]. Georeferencing comes from the raster, from a THEMIS tile name in
the file name, from --tile, or from --resolution-m (pixel coordinates only)."""


def register(subparsers) -> None:
    """Add the ``extract`` command."""
    p = subparsers.add_parser(
        "extract",
        help="craters from probability or target maps, without a model",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("maps", nargs="+", metavar="PROB_RASTER", help="probability or target map(s)")
    p.add_argument("--tile", help="THEMIS tile of an un-georeferenced map, e.g. thm_dir_N-30_090")
    p.add_argument(
        "--kind",
        choices=("ring", "outline", "filled"),
        default="ring",
        help="what the map draws for a crater (default ring)",
    )
    p.add_argument("--ring-width-px", type=float, default=4.0, help="ring width, px (default 4)")
    p.add_argument("--inner-ratio", type=float, default=0.7, help="outline hole ratio (0.7)")
    p.add_argument(
        "--no-stretch",
        action="store_true",
        help="craters are plain circles in pixels (maps drawn without the 1/cos(lat) stretch, "
        "such as the seed authors' masks)",
    )
    p.add_argument("--block-px", type=int, default=4096, help="block size, px")
    add_output_options(p)
    p.set_defaults(func=run)


def _to_probability(image: np.ndarray, **_) -> np.ndarray:
    """Identity predictor: masks 0/255 or 0/1 and float maps to [0, 1]."""
    image = np.asarray(image, dtype=np.float32)
    peak = float(image.max()) if image.size else 0.0
    return image / 255.0 if peak > 1.0 else image


def run(args) -> int:
    """Run ``geocore extract``."""
    from ..extraction import ExtractionParams
    from ..raster_io import RasterioSource, themis_grid_for_shape
    from ..themis import ThemisTile

    start = time.perf_counter()
    check_outputs(args)
    params = ExtractionParams(
        method=args.method or "fast",
        threshold=0.5 if args.threshold is None else args.threshold,
        target_kind=args.kind,
        ring_width_px=args.ring_width_px,
        inner_ratio=args.inner_ratio,
        stretch="none" if args.no_stretch else "auto",
    )
    sources = [RasterioSource(p, band=args.band, resolution_m=args.resolution_m) for p in args.maps]
    try:
        if args.tile:
            tile = ThemisTile.from_name(args.tile)
            for source in sources:
                source.grid = themis_grid_for_shape(tile, source.grid.width, source.grid.height)
        check_georeferenced_for_gpkg(args, [(s.name, s.grid) for s in sources])
        for source in sources:
            source.nodata = None  # 0 is "no crater" in a map, not missing data
        catalog = craters_of_sources(args, sources, _to_probability, None, params, "extract")
    finally:
        for source in sources:
            source.close()
    write_outputs(args, catalog, start)
    return 0
