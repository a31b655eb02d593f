"""``geocore evaluate``: crater-level precision, recall, F1 and errors of detections."""

from __future__ import annotations

import argparse
import json

_DESCRIPTION = """\
Match detected craters one to one with a reference catalogue using DeepMoon's rule (same
crater when d^2 / min(r1, r2)^2 < 1.8 and |r1 - r2| / min(r1, r2) < 1), then print
precision, recall, F1 and the median fractional longitude, latitude and diameter errors,
overall and per diameter bin (recall binned by the reference diameter, precision by the
detected diameter).

DETECTIONS and SOURCE may be anything `geocore catalog` reads: a geocore .csv / .gpkg (e.g.
from `geocore detect`), a folder of Robbins CSV_Tile_*.csv files, one Robbins tile .csv or
the Robbins .tsv release. Craters with lon/lat are compared on the Mars sphere (distances
in km); detections with pixel positions only (x_px, y_px, diameter_px) are compared in
pixels with a pixel reference: YOLO label files (--yolo-images, --resolution-m).

Give the area that was searched with --bbox (or --image-size for plain images): reference
craters outside it are not expected, and craters cut by its edge are matched but not
counted alone: a cut crater found by an uncut detection is a true positive, a missed one
no false negative, an unmatched cut detection no false positive, and a cut crater matched
by a cut detection is left out. Likewise for craters within --diameter-margin beyond
--min/--max-diameter-km, so a 1.95 km detection of a 2.05 km crater is a match with
--min-diameter-km 2. Precision, recall and F1 are "-" (null in JSON) when undefined."""

_EPILOG = """\
examples:
  python -m geocore evaluate craters.gpkg --catalog ../shared/data/robbins2012_pm30 \\
      --bbox 90 -30 120 0 --min-diameter-km 2 --max-diameter-km 32
  python -m geocore evaluate craters.csv --catalog labels/ --yolo-images images/ \\
      --resolution-m 100 --image-size 416 416 --json
Without --bbox the whole reference is expected: give the region of your rasters."""


def register(subparsers) -> None:
    """Add the ``evaluate`` command."""
    from ..matching import DEFAULT_DIAMETER_MARGIN, MODES
    from ..metrics import DEFAULT_BINS

    edges = [DEFAULT_BINS[0][0], *(high for _, high in DEFAULT_BINS)]
    p = subparsers.add_parser(
        "evaluate",
        help="precision, recall, F1 and errors of detected craters against a catalogue",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("detections", metavar="DETECTIONS", help="detected craters (see above)")
    p.add_argument("--catalog", required=True, metavar="SOURCE", help="reference craters")
    p.add_argument(
        "--bbox",
        nargs=4,
        type=float,
        metavar=("WEST", "SOUTH", "EAST", "NORTH"),
        help="the area searched, degrees (longitudes -180..180 or 0..360, running east from "
        "WEST to EAST)",
    )
    p.add_argument(
        "--min-diameter-km", type=float, metavar="D", help="score craters at least D km across"
    )
    p.add_argument(
        "--max-diameter-km", type=float, metavar="D", help="score craters at most D km across"
    )
    p.add_argument(
        "--diameter-margin",
        type=float,
        default=DEFAULT_DIAMETER_MARGIN,
        metavar="F",
        help="craters within this fraction beyond the diameter range are matched but not "
        f"counted alone (default {DEFAULT_DIAMETER_MARGIN})",
    )
    p.add_argument(
        "--bins",
        nargs="+",
        type=float,
        default=edges,
        metavar="KM",
        help=f"diameter bin edges in km (default {' '.join(f'{e:g}' for e in edges)})",
    )
    p.add_argument(
        "--match",
        choices=MODES,
        default="auto",
        help="compare on the sphere (lon/lat) or in pixels; auto: sphere when every crater "
        "has lon/lat (default)",
    )
    p.add_argument(
        "--yolo-images",
        metavar="DIR",
        help="read SOURCE as a folder of YOLO label files whose images are in DIR",
    )
    p.add_argument(
        "--resolution-m",
        type=float,
        metavar="M",
        help="with --yolo-images: pixel size of the images in metres",
    )
    p.add_argument(
        "--image-size",
        nargs=2,
        type=int,
        metavar=("WIDTH", "HEIGHT"),
        help="pixel matching: the images' size, so that craters cut by their edges are "
        "treated as such",
    )
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    """Run ``geocore evaluate``."""
    from ..catalog import check_bbox, check_diameter_range, read_catalog
    from ..errors import CoordinateError, CraterValueError, GridError
    from ..grid import PixelGrid
    from ..matching import check_diameter_margin
    from ..metrics import check_bins, evaluate

    # Everything the user typed is checked before a large catalogue is read.
    region = check_bbox(args.bbox) if args.bbox is not None else None
    check_diameter_range(args.min_diameter_km, args.max_diameter_km)
    check_diameter_margin(args.diameter_margin)
    if len(args.bins) < 2:
        raise CraterValueError(f"--bins needs at least two edges, e.g. 2 4 8; got {args.bins}")
    bins = check_bins(list(zip(args.bins[:-1], args.bins[1:], strict=True)))
    if (args.yolo_images is None) != (args.resolution_m is None):
        raise GridError(
            "--yolo-images and --resolution-m go together: YOLO labels need their images' "
            "folder (for their sizes) and pixel size in metres"
        )
    if args.image_size is not None:
        if region is not None:
            raise CoordinateError("give --bbox (lon/lat) or --image-size (pixels), not both")
        width, height = args.image_size
        region = PixelGrid.from_resolution(width, height, args.resolution_m or 1.0)

    detected = read_catalog(args.detections)
    if args.yolo_images is not None:
        from ..yolo import read_yolo_folder

        reference = read_yolo_folder(args.catalog, args.yolo_images, args.resolution_m)
    else:
        reference = read_catalog(args.catalog)
    metrics = evaluate(
        detected, reference, bins=bins, region=region, min_diameter_km=args.min_diameter_km,
        max_diameter_km=args.max_diameter_km, diameter_margin=args.diameter_margin,
        mode=args.match,
    )  # fmt: skip
    if args.json:
        out = {"detections": str(args.detections), "catalog": str(args.catalog)}
        out.update(n_detections=len(detected), n_reference=len(reference))
        out.update(metrics.to_dict())
        print(json.dumps(out, indent=2))
    else:
        print(
            f"{len(detected)} detections ({args.detections}) against {len(reference)} "
            f"reference craters ({args.catalog})"
        )
        print(metrics.to_table())
    return 0
