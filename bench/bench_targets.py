"""Benchmark the target rasteriser and compare it with the seed authors' masks.

1. Time: rasterise a full 7680 x 7680 THEMIS tile's targets (filled, outline, ring 4 px,
   ring 8 px) from the real Robbins tile catalogue (or, without ../shared/data, from
   10,000 synthetic craters); best of --repeat runs.
2. IoU (only when ../shared/data is present): our targets against the seed authors'
   masks in ../shared/data/delatte_targets, for four ways of drawing the same craters:

   ours        true geometry on the sphere (ellipses), D 3.71-63.9 km, painter's order
   ours 4-64   the same with round diameter bounds, D 4-64 km
   circles     circles of the true radius at the true centre in pixel space (no 1/cos(lat))
   as seed     the seed's drawing rules run through our rasteriser: circles of radius
               RAD_PX (= ceil(true radius in px)) at whole-pixel centres; disks reach
               RAD_PX + 0.5 (PIL ellipse), rings are w + 1 px wide (cv2 thickness w)

Usage: .venv/bin/python bench/bench_targets.py [--data ../shared/data] [--repeat 3]
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np

from geocore.crater import CraterCatalog
from geocore.grid import PixelGrid
from geocore.targets import TargetSpec
from geocore.themis import ThemisTile

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data"
SEED_TILES = ("thm_dir_N-30_090", "thm_dir_N00_030", "thm_dir_N00_300")
# The seed drew 9 <= RAD_PX <= 138 (radius 2-32 km in ceil'd pixels): true D 3.705-63.9 km.
SEED_RANGE_KM = (3.71, 63.9)
SPECS = {
    "filled": TargetSpec("filled"),
    "outline": TargetSpec("outline", inner_ratio=0.7),
    "ring4": TargetSpec("ring", ring_width_px=4),
    "ring8": TargetSpec("ring", ring_width_px=8),
}
SEED_SUFFIX = {"filled": "", "ring4": "_4_edge", "ring8": "_8_edge"}


def tile_csv(data: Path, tile: ThemisTile) -> Path:
    west, south, east, north = tile.bounds_deg
    matches = sorted(
        (data / "robbins2012_pm30").glob(f"CSV_Tile_*_{south}_{north}_{west}_{east}_px.csv")
    )
    if len(matches) != 1:
        raise SystemExit(f"no Robbins tile CSV for {tile.name} in {data / 'robbins2012_pm30'}")
    return matches[0]


def seed_mask_path(data: Path, tile: ThemisTile, kind: str) -> Path:
    west, south, east, north = tile.bounds_deg
    name = f"{tile.name}_{south}_{north}_{west}_{east}_2_32_km_segrng{SEED_SUFFIX[kind]}.png"
    return data / "delatte_targets" / name


def read_rad_px(path: Path) -> dict[str, np.ndarray]:
    """The pixel columns of a Robbins tile CSV as the seed used them (corner convention)."""
    with open(path, newline="", encoding="latin-1") as fh:
        rows = list(csv.DictReader(fh))
    return {k: np.array([float(r[k]) for r in rows]) for k in ("LONG_X_PX", "LAT_Y_PX", "RAD_PX")}


def best_time(fn, repeat: int) -> tuple[float, np.ndarray]:
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a > 0, b > 0
    return np.count_nonzero(a & b) / max(1, np.count_nonzero(a | b))


def timing_table(data: Path | None, tiles, repeat: int) -> None:
    from geocore.catalog import read_catalog
    from geocore.synthetic import random_catalog

    print(f"\n## Time to rasterise a 7680 x 7680 tile (best of {repeat})")
    print(f"{'tile':<18} {'catalogue':<22} {'kind':<8} {'craters':>7} {'seconds':>8}")
    for name in tiles:
        tile = ThemisTile.from_name(name)
        grid = tile.grid
        if data is not None:
            full = read_catalog(tile_csv(data, tile))
            catalogs = {
                "Robbins, all D >= 1 km": full,
                "Robbins, D 3.71-63.9": full.filter(None, *SEED_RANGE_KM),
            }
        else:
            catalogs = {"synthetic, D 2-64": random_catalog(tile.bounds_deg, 10_000, seed=0)}
        for label, cat in catalogs.items():
            for kind, spec in SPECS.items():
                seconds, _ = best_time(lambda s=spec, c=cat, g=grid: s.rasterize(g, c), repeat)
                print(f"{name:<18} {label:<22} {kind:<8} {len(cat):>7} {seconds:>8.3f}")


def iou_table(data: Path, tiles) -> None:
    from PIL import Image

    from geocore.catalog import read_catalog

    print("\n## IoU with the seed authors' masks (delatte_targets)")
    variants = ("ours", "ours 4-64", "circles", "as seed")
    print(
        f"{'tile':<18} {'kind':<7} " + " ".join(f"{v:>10}" for v in variants) + "  set px ours/seed"
    )
    for name in tiles:
        tile = ThemisTile.from_name(name)
        grid = tile.grid
        res_m = grid.resolution_m
        path = tile_csv(data, tile)
        full = read_catalog(path)
        seed_cols = read_rad_px(path)
        pixel_grid = PixelGrid.from_resolution(grid.width, grid.height, res_m)
        in_range = full.filter(None, *SEED_RANGE_KM)
        circles = in_range.with_pixels(grid)  # true centres, diameter along a meridian
        chosen = (seed_cols["RAD_PX"] >= 9) & (seed_cols["RAD_PX"] <= 138)
        as_seed = CraterCatalog(
            full.lon_deg[chosen],
            full.lat_deg[chosen],
            full.diameter_km[chosen],
            x_px=seed_cols["LONG_X_PX"][chosen],  # cv2/PIL centre = whole pixel index
            y_px=seed_cols["LAT_Y_PX"][chosen],
            diameter_px=2 * seed_cols["RAD_PX"][chosen],
        )
        for kind in SEED_SUFFIX:
            theirs = np.asarray(Image.open(seed_mask_path(data, tile, kind))) > 0
            spec = SPECS[kind]
            if spec.kind == "ring":  # cv2.circle(thickness=w) covers r - w/2 .. r + w/2 inclusive
                seed_spec, seed_cat = (
                    TargetSpec("ring", ring_width_px=spec.ring_width_px + 1),
                    as_seed,
                )
            else:  # PIL's ellipse in the box x - r .. x + r covers about d <= r + 0.5
                seed_spec, seed_cat = spec, as_seed.replace(diameter_px=as_seed.diameter_px + 1)
            ours = spec.rasterize(grid, in_range)
            scores = [
                iou(ours, theirs),
                iou(spec.rasterize(grid, full, min_diameter_km=4, max_diameter_km=64), theirs),
                iou(spec.rasterize(pixel_grid, circles), theirs),
                iou(seed_spec.rasterize(pixel_grid, seed_cat), theirs),
            ]
            ratio = np.count_nonzero(ours) / np.count_nonzero(theirs)
            print(
                f"{name:<18} {kind:<7} "
                + " ".join(f"{s:>10.4f}" for s in scores)
                + f"  {ratio:>8.3f}"
            )


def union_of_rings(shape, cat: CraterCatalog, spec: TargetSpec) -> np.ndarray:
    """Rings OR-ed together, no painter's clearing (what cv2.circle calls add up to)."""
    out = np.zeros(shape, dtype=bool)
    reach = cat.diameter_px / 2 + spec.ring_width_px
    for x, y, r, c in zip(cat.x_px, cat.y_px, reach, range(len(cat)), strict=True):
        c0, r0 = max(0, int(x - r) - 1), max(0, int(y - r) - 1)
        c1, r1 = min(shape[1], int(x + r) + 2), min(shape[0], int(y + r) + 2)
        if c0 >= c1 or r0 >= r1:
            continue
        one = cat[[c]].replace(x_px=[x - c0], y_px=[y - r0])
        window = PixelGrid.from_resolution(c1 - c0, r1 - r0, 1000.0)
        out[r0:r1, c0:c1] |= spec.rasterize(window, one) > 0
    return out


def steps_table(data: Path, name: str) -> None:
    """From our targets to the seed's masks, one drawing rule at a time (one tile)."""
    from PIL import Image

    from geocore.catalog import read_catalog

    tile = ThemisTile.from_name(name)
    grid = tile.grid
    path = tile_csv(data, tile)
    full = read_catalog(path)
    cols = read_rad_px(path)
    chosen = (cols["RAD_PX"] >= 9) & (cols["RAD_PX"] <= 138)
    cat = full[chosen]  # the seed's selection (3.705 < D <= 63.9 km)
    pixel_grid = PixelGrid.from_resolution(grid.width, grid.height, grid.resolution_m)
    true_px = cat.with_pixels(grid)
    whole_px = true_px.replace(x_px=cols["LONG_X_PX"][chosen], y_px=cols["LAT_Y_PX"][chosen])
    ceil_px = whole_px.replace(diameter_px=2 * cols["RAD_PX"][chosen])
    print(f"\n## From our targets to the seed's masks, step by step ({name})")
    print(f"{'step':<58} " + " ".join(f"{k:>7}" for k in SEED_SUFFIX))
    theirs = {k: np.asarray(Image.open(seed_mask_path(data, tile, k))) > 0 for k in SEED_SUFFIX}

    def seed_width(spec):
        if spec.kind == "ring":
            return TargetSpec("ring", ring_width_px=spec.ring_width_px + 1)
        return spec

    def fatter(c, spec):  # PIL disks reach r + 0.5
        return c if spec.kind == "ring" else c.replace(diameter_px=c.diameter_px + 1)

    steps = [
        ("ours: true shape on the sphere, true radius, ring w", lambda s: s.rasterize(grid, cat)),
        ("circles in pixel space (no 1/cos(lat))", lambda s: s.rasterize(pixel_grid, true_px)),
        ("+ centres on whole pixels", lambda s: s.rasterize(pixel_grid, whole_px)),
        ("+ radius RAD_PX = ceil(radius px)", lambda s: s.rasterize(pixel_grid, ceil_px)),
        ("+ disks to RAD_PX + 0.5, rings w + 1 px (PIL / cv2)",
         lambda s: seed_width(s).rasterize(pixel_grid, fatter(ceil_px, s))),
        ("+ rings OR-ed, no painter's clearing (= seed's rules)",
         lambda s: union_of_rings(theirs["filled"].shape, fatter(ceil_px, s), seed_width(s))
         if s.kind == "ring" else s.rasterize(pixel_grid, fatter(ceil_px, s))),
    ]  # fmt: skip
    for label, draw in steps:
        scores = [iou(draw(SPECS[k]), theirs[k]) for k in SEED_SUFFIX]
        print(f"{label:<58} " + " ".join(f"{v:>7.4f}" for v in scores))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="../shared/data")
    parser.add_argument("--tiles", nargs="+", default=list(SEED_TILES), help="THEMIS tiles")
    parser.add_argument("--repeat", type=int, default=3, help="timing runs per case (best kept)")
    parser.add_argument("--no-iou", action="store_true", help="skip the comparison")
    parser.add_argument(
        "--steps", metavar="TILE", help="also go from our targets to the seed's, rule by rule"
    )
    args = parser.parse_args(argv)
    data = args.data if (args.data / "robbins2012_pm30").is_dir() else None
    if data is None:
        print(f"{args.data} not found: timing synthetic craters, no IoU")
    timing_table(data, args.tiles, args.repeat)
    if data is not None and not args.no_iou:
        iou_table(data, args.tiles)
        if args.steps:
            steps_table(data, args.steps)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
