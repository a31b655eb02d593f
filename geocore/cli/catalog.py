"""``geocore catalog``: convert a crater catalogue (e.g. Robbins 2012) for QGIS or craterstats."""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)

_DESCRIPTION = """\
Read a crater catalogue, keep the craters inside a box and a diameter range, drop
duplicates and write them as a GeoPackage (for QGIS), a CSV or a craterstats .diam file.

SOURCE may be: a folder of Robbins per-tile CSV_Tile_*.csv files; the Robbins & Hynek
(2012) release RobbinsCraters_20121016.tsv; one Robbins tile .csv; or a .csv / .gpkg
written by geocore (columns lon, lat, diameter_km). The format is told from the file.

Diameters are in km (rim to rim). Longitudes are degrees east and may be given as
-180..180 or 0..360; latitudes are planetocentric degrees. Output longitudes are -180..180."""

_EPILOG = """\
examples:
  python -m geocore catalog ../shared/data/robbins2012_pm30 --out robbins.gpkg \\
      --min-diameter-km 2 --max-diameter-km 32
  python -m geocore catalog RobbinsCraters_20121016.tsv --out gale.csv --bbox 135 -8 140 -3
  python -m geocore catalog craters.csv --out craters.diam --bbox 350 -10 10 10 \\
      --area-km2 1398272
A box runs east from WEST to EAST: 170 -10 -170 10 crosses 180 E, 350 -10 10 10 crosses 0 E."""


def register(subparsers) -> None:
    """Add the ``catalog`` command."""
    p = subparsers.add_parser(
        "catalog",
        help="convert a crater catalogue (Robbins 2012, CSV, GeoPackage) to .gpkg/.csv/.diam",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", metavar="SOURCE", help="catalogue file or folder (see above)")
    p.add_argument(
        "--out",
        required=True,
        metavar="OUT",
        help="file to write; its suffix picks the format: .gpkg, .csv or .diam",
    )
    p.add_argument(
        "--bbox",
        nargs=4,
        type=float,
        metavar=("WEST", "SOUTH", "EAST", "NORTH"),
        help="keep craters whose centre is in this box, degrees (longitudes -180..180 or "
        "0..360; the box runs east from WEST to EAST, so it may cross 180 E or 0 E)",
    )
    p.add_argument(
        "--min-diameter-km",
        type=float,
        metavar="D",
        help="keep craters at least D km across (rim-to-rim diameter, not radius)",
    )
    p.add_argument(
        "--max-diameter-km",
        type=float,
        metavar="D",
        help="keep craters at most D km across (rim-to-rim diameter, not radius)",
    )
    p.add_argument(
        "--area-km2",
        type=float,
        metavar="A",
        help="for a .diam output: the counting area in km^2 that craterstats needs (default: "
        "estimated from the craters' extent, with a warning)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    p.set_defaults(func=run)


def run(args) -> int:
    """Run ``geocore catalog``."""
    from ..atomic import check_output_path
    from ..catalog import check_bbox, check_diameter_range, read_catalog
    from ..errors import OutputWriteError
    from ..vector_io import SUFFIXES, write_craters

    # Everything the user typed is checked before a large catalogue is read.
    bbox = check_bbox(args.bbox) if args.bbox is not None else None
    check_diameter_range(args.min_diameter_km, args.max_diameter_km)
    out = check_output_path(args.out, overwrite=args.overwrite)
    if out.suffix.lower() not in SUFFIXES:
        raise OutputWriteError(
            f"cannot write {args.out!r}: unknown suffix {out.suffix!r}; "
            f"use one of {', '.join(SUFFIXES)}"
        )
    options = {}
    if args.area_km2 is not None:
        if out.suffix.lower() != ".diam":
            raise OutputWriteError(
                f"--area-km2 applies to a .diam output only, not {out.suffix!r}; drop it"
            )
        options["area_km2"] = args.area_km2

    catalog = read_catalog(args.source)
    selected = catalog.filter(bbox, args.min_diameter_km, args.max_diameter_km)
    unique = selected.drop_duplicates()
    log.info(
        "%d craters read from %s, %d kept by the filters, %d duplicates dropped",
        len(catalog), args.source, len(selected), len(selected) - len(unique),
    )  # fmt: skip
    write_craters(out, unique, overwrite=args.overwrite, **options)
    print(
        f"{len(unique)} craters written to {out} "
        f"(of {len(catalog)} read; {len(selected) - len(unique)} duplicates dropped)"
    )
    return 0
