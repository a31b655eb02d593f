"""Benchmark crater extraction: the fast method against the template reference, full tiles.

Maps (7680 x 7680, one THEMIS tile each):

seed   the seed authors' masks in ../shared/data/delatte_targets, a "perfect prediction":
       filled disks, 4 px and 8 px rings (drawn as plain circles of the seed's RAD_PX,
       without the 1/cos(lat) stretch, so they are extracted with stretch="none").
       Truth: the Robbins craters of the tile with 3.71 <= D <= 63.9 km (what the seed drew).
own    our own targets (geocore.targets.rasterize_targets: true ellipses, stretched by
       1/cos(lat), painter's order), extracted with stretch="auto": filled, outline (0.7),
       4 px rings, and 4 px rings blurred into a probability map with speckle ("ring4-prob"),
       from the real catalogue (same range) and from a seeded synthetic catalogue
       (geocore.synthetic.random_catalog, 2000 craters, D 3.71-63.9 km).

Scores: geocore.metrics.evaluate (one-to-one matching with DeepMoon's rule on the sphere,
the tile's grid as region; craters cut by the edge or in the 25 % diameter margin are
matched but not counted alone). Times: wall and CPU seconds of extract_craters alone
(PNG reading and truth loading excluded); ratio = template / fast.

Usage:
  .venv/bin/python bench/bench_extraction.py [--data ../shared/data] [--tile NAME ...]
      [--maps seed own] [--kinds filled ring4 ...] [--method fast template]
      [--catalog real synthetic] [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from geocore.catalog import load_catalog
from geocore.extraction import ExtractionParams, extract_craters
from geocore.metrics import evaluate
from geocore.synthetic import random_catalog
from geocore.targets import rasterize_targets
from geocore.themis import ThemisTile

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data"
SEED_TILES = ("thm_dir_N-30_090", "thm_dir_N00_030", "thm_dir_N00_300")
RANGE_KM = (3.71, 63.9)  # the seed drew 9 <= RAD_PX <= 138: true D 3.705-63.9 km
SEED_KINDS = {
    "filled": ("", "filled", 4.0),
    "ring4": ("_4_edge", "ring", 4.0),
    "ring8": ("_8_edge", "ring", 8.0),
}
OWN_KINDS = {
    "filled": ("filled", 4.0),
    "outline": ("outline", 4.0),
    "ring4": ("ring", 4.0),
    "ring4-prob": ("ring", 4.0),
}
BINS = ((3.71, 8.0), (8.0, 16.0), (16.0, 32.0), (32.0, 63.9))


def seed_mask(data: Path, tile: ThemisTile, suffix: str) -> np.ndarray:
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None
    west, south, east, north = tile.bounds_deg
    name = f"{tile.name}_{south}_{north}_{west}_{east}_2_32_km_segrng{suffix}.png"
    return np.asarray(Image.open(data / "delatte_targets" / name))


def probability_map(mask: np.ndarray, seed: int = 0) -> np.ndarray:
    """A CNN-like map: the target blurred (Gaussian, sigma 1.2 px), 0.5 % speckle, in [0, 1]."""
    prob = mask.astype(np.float32)
    radius = 4
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / 1.2) ** 2).astype(np.float32)
    taps /= taps.sum()
    for axis in (0, 1):
        padded = np.pad(prob, [(radius, radius) if a == axis else (0, 0) for a in (0, 1)])
        prob = sum(
            t * np.take(padded, np.arange(i, i + prob.shape[axis]), axis=axis)
            for i, t in enumerate(taps)
        )
    prob = np.clip(prob / max(float(prob.max()), 1e-6) * 1.1, 0.0, 1.0)
    rng = np.random.default_rng(seed)
    speckle = rng.random(prob.shape, dtype=np.float32) < 0.005
    prob[speckle] = rng.random(int(speckle.sum()), dtype=np.float32)
    return prob


def run(prob, grid, params, truth):
    start, cpu = time.perf_counter(), time.process_time()
    found = extract_craters(
        prob, grid, params, min_diameter_km=RANGE_KM[0], max_diameter_km=RANGE_KM[1]
    )
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    metrics = evaluate(
        found,
        truth,
        region=grid,
        min_diameter_km=RANGE_KM[0],
        max_diameter_km=RANGE_KM[1],
        bins=BINS,
    )
    return found, metrics, wall, cpu


def row(label: str, method: str, found, m, wall: float, cpu: float) -> dict:
    out = dict(
        map=label,
        method=method,
        craters=len(found),
        tp=m.true_positives,
        fp=m.false_positives,
        fn=m.false_negatives,
        precision=m.precision,
        recall=m.recall,
        f1=m.f1,
        diameter_error=m.median_diameter_error,
        lon_error=m.median_lon_error,
        lat_error=m.median_lat_error,
        wall_s=wall,
        cpu_s=cpu,
    )
    print(
        f"{label:<34} {method:<8} {len(found):>6} {m.true_positives:>5} {m.false_positives:>5} "
        f"{m.false_negatives:>5} {m.precision:>7.4f} {m.recall:>7.4f} {m.f1:>7.4f} "
        f"{m.median_diameter_error:>7.4f} {wall:>8.2f} {cpu:>8.2f}",
        flush=True,
    )
    return out


def maps(args, data: Path):
    """Yield (label, prob, grid, params, truth) for every map asked for."""
    for name in args.tile:
        tile = ThemisTile.from_name(name)
        grid = tile.grid
        west, south, east, north = tile.bounds_deg
        real = None
        if data is not None:
            real = load_catalog(
                data / "robbins2012_pm30", bbox=(west - 1, south - 1, east + 1, north + 1)
            )
        if "seed" in args.maps and data is not None:
            for kind in args.kinds:
                if kind not in SEED_KINDS:
                    continue
                suffix, target, width = SEED_KINDS[kind]
                params = ExtractionParams(target_kind=target, ring_width_px=width, stretch="none")
                yield f"{name} seed {kind}", seed_mask(data, tile, suffix), grid, params, real
        if "own" in args.maps:
            catalogs = {}
            if "real" in args.catalog and real is not None:
                catalogs["real"] = real.filter(None, *RANGE_KM)
            if "synthetic" in args.catalog:
                catalogs["synthetic"] = random_catalog(tile.bounds_deg, 2000, *RANGE_KM, seed=1)
            for source, truth in catalogs.items():
                for kind in args.kinds:
                    if kind not in OWN_KINDS:
                        continue
                    target, width = OWN_KINDS[kind]
                    mask = rasterize_targets(grid, truth, target, ring_width_px=width)
                    prob = probability_map(mask) if kind.endswith("-prob") else mask
                    params = ExtractionParams(target_kind=target, ring_width_px=width)
                    yield f"{name} own-{source} {kind}", prob, grid, params, truth


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--tile", nargs="+", default=list(SEED_TILES))
    parser.add_argument("--maps", nargs="+", default=["seed", "own"], choices=["seed", "own"])
    parser.add_argument(
        "--kinds", nargs="+", default=["filled", "outline", "ring4", "ring8", "ring4-prob"]
    )
    parser.add_argument(
        "--catalog", nargs="+", default=["real", "synthetic"], choices=["real", "synthetic"]
    )
    parser.add_argument(
        "--method", nargs="+", default=["fast", "template"], choices=["fast", "template"]
    )
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    args = parser.parse_args(argv)
    data = args.data if (args.data / "robbins2012_pm30").is_dir() else None
    if data is None:
        print(
            f"no real data in {args.data}: only own maps of synthetic catalogues", file=sys.stderr
        )
        args.catalog = ["synthetic"]
    header = ("map", "method", "found", "TP", "FP", "FN", "P", "R", "F1", "dD", "wall s", "cpu s")
    print(
        f"{header[0]:<34} {header[1]:<8} "
        + " ".join(f"{h:>5}" for h in header[2:6])
        + " "
        + " ".join(f"{h:>7}" for h in header[6:10])
        + " "
        + " ".join(f"{h:>8}" for h in header[10:])
    )
    rows = []
    for label, prob, grid, params, truth in maps(args, data):
        times = {}
        for method in args.method:
            found, m, wall, cpu = run(prob, grid, params.replace(method=method), truth)
            rows.append(row(label, method, found, m, wall, cpu))
            times[method] = (wall, cpu)
        if len(times) == 2:
            (tw, tc), (fw, fc) = times["template"], times["fast"]
            print(
                f"{'':<34} ratio    template/fast: wall {tw / fw:.1f}x, cpu {tc / fc:.1f}x",
                flush=True,
            )
    import resource

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"peak resident memory of this process: {peak_mb:.0f} MB")
    if args.json:
        clean = [
            {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
            for r in rows
        ]
        args.json.write_text(json.dumps(clean, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
