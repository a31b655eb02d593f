"""Benchmark geocore.synthetic.render_scene: speed, and realism against real THEMIS Day IR.

1. Speed: render a --size x --size scene (default 2048) on a THEMIS tile grid at
   231.5 m/px with --craters catalogue craters (D 2-64 km, power law slope 2);
   best of --repeat runs, for the current renderer ("new") and the one it
   replaced ("old", kept below for the comparison).
2. Realism: the same statistics on real and synthetic images, per image, then the
   median (and quartiles) over the images:
     std        grey-level standard deviation
     psd slope  slope of the radially averaged power spectrum (log-log, Hann window,
                frequencies 4/N .. 0.25 cycles per pixel)
     grad p50   median gradient magnitude (grey levels per pixel, central differences)
     grad p90   its 90th percentile
   Real: the 777 THEMIS Day IR images at 100 m/px (416 px) in
   ../shared/data/themis_dayir_100m/train/images, and the same images area-averaged
   to 231.5 m/px (180 px). Synthetic: --scenes scenes per resolution (--size px, seeds
   --seed, --seed + 1, ...), cut into tiles of the same sizes, with a Robbins-like
   catalogue (N(>1 km) = 0.0035 per km², D 1-64 km, cumulative slope 1.5, as in the
   labels of the real images) and render_scene's default background of smaller craters.
   No real image nor any part of one is written anywhere.

Usage:
  .venv/bin/python bench/bench_synthetic.py [--data ../shared/data] [--size 2048]
      [--craters 1500] [--repeat 3] [--scenes 3] [--json results.json]
      [--picture docs/img/synthetic_scene.png] [--overwrite]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from geocore.crater import CraterCatalog
from geocore.grid import PixelGrid
from geocore.resample import resample
from geocore.synthetic import random_catalog, render_scene

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data"
TILE = "thm_dir_N-30_090"
REAL_M = 100.0  # resolution of the real images
TILE_PX = {100.0: 416, 231.5: 180}  # 41.6 km either way
CATALOG_DENSITY = 0.0035  # craters >= 1 km per km², Robbins labels of the real images
STATS = ("std", "psd slope", "grad p50", "grad p90")


# ---------------------------------------------------------------- statistics
def image_stats(image: np.ndarray) -> dict[str, float]:
    """The four realism statistics of one grey image."""
    img = np.asarray(image, dtype=np.float64)
    gy, gx = np.gradient(img)
    grad = np.hypot(gx, gy)
    return {
        "std": float(img.std()),
        "psd slope": spectrum_slope(img),
        "grad p50": float(np.median(grad)),
        "grad p90": float(np.percentile(grad, 90)),
    }


def spectrum_slope(img: np.ndarray) -> float:
    """Log-log slope of the radially averaged power spectrum, 4/N .. 0.25 cycles/px."""
    h, w = img.shape
    window = np.outer(np.hanning(h), np.hanning(w))
    power = np.abs(np.fft.fft2((img - img.mean()) * window)) ** 2
    f = np.hypot(*np.meshgrid(np.fft.fftfreq(h), np.fft.fftfreq(w), indexing="ij"))
    edges = np.geomspace(4.0 / min(h, w), 0.25, 13)
    which = np.digitize(f.ravel(), edges) - 1
    ok = (which >= 0) & (which < len(edges) - 1)
    sums = np.bincount(which[ok], power.ravel()[ok], minlength=len(edges) - 1)
    counts = np.bincount(which[ok], minlength=len(edges) - 1)
    centres = np.sqrt(edges[1:] * edges[:-1])
    good = counts > 0
    slope, _ = np.polyfit(np.log(centres[good]), np.log(sums[good] / counts[good]), 1)
    return float(slope)


def summary(rows: list[dict[str, float]]) -> dict[str, list[float]]:
    """Median and quartiles of each statistic over images."""
    return {k: np.percentile([r[k] for r in rows], [50, 25, 75]).round(3).tolist() for k in STATS}


def tiles(image: np.ndarray, size: int):
    for r in range(0, image.shape[0] - size + 1, size):
        for c in range(0, image.shape[1] - size + 1, size):
            yield image[r : r + size, c : c + size]


# ---------------------------------------------------------------- scenes
def scene_grid(resolution_m: float, size: int) -> PixelGrid:
    tile = PixelGrid.from_themis_tile(TILE)
    return tile.scaled(resolution_m / tile.resolution_m).window(0, 0, size, size)


def grid_bbox(grid: PixelGrid) -> tuple[float, float, float, float]:
    lon, lat = grid.pixel_to_lonlat([0, grid.width], [grid.height, 0], offset="corner")
    return float(lon[0]), float(lat[0]), float(lon[1]), float(lat[1])


def realistic_catalog(grid: PixelGrid, seed: int) -> CraterCatalog:
    west, south, east, north = grid_bbox(grid)
    area_km2 = grid.width * grid.height * grid.resolution_m**2 / 1e6
    n = round(CATALOG_DENSITY * area_km2)
    return random_catalog((west, south, east, north), n, 1.0, 64.0, slope=1.5, seed=seed)


def real_images(data: Path):
    folder = data / "themis_dayir_100m" / "train" / "images"
    from PIL import Image

    for path in sorted(folder.glob("*.jpg")):
        with Image.open(path) as im:
            yield np.asarray(im.convert("L"))


# ------------------------------------------------- the renderer it replaced
def old_render_scene(grid: PixelGrid, catalog: CraterCatalog, seed: int = 0, noise: float = 6.0):
    """render_scene before the THEMIS-like scene model (thin shading at the rim)."""
    rng = np.random.default_rng(seed)
    height = 4.0 * _old_smooth_noise(rng, grid.height, grid.width, 48)
    albedo = 18.0 * _old_smooth_noise(rng, grid.height, grid.width, 160)
    cat = catalog.sorted_by_diameter()
    cx, cy = grid.lonlat_to_pixel(cat.lon_deg, cat.lat_deg)
    stretch = 1.0 / np.cos(np.radians(np.clip(cat.lat_deg, -85.0, 85.0)))
    radius_px = cat.diameter_km * 500.0 / grid.resolution_m
    for x0, y0, r, k in zip(np.atleast_1d(cx), np.atleast_1d(cy), radius_px, stretch, strict=True):
        rx, ry = 1.6 * r * k, 1.6 * r
        c0, c1 = max(int(x0 - rx), 0), min(int(x0 + rx) + 2, grid.width)
        r0, r1 = max(int(y0 - ry), 0), min(int(y0 + ry) + 2, grid.height)
        if c0 >= c1 or r0 >= r1:
            continue
        cols = np.arange(c0, c1, dtype=np.float32)[None, :]
        rows = np.arange(r0, r1, dtype=np.float32)[:, None]
        d = np.sqrt(((cols - x0) / k) ** 2 + (rows - y0) ** 2) / max(r, 0.5)
        bowl = np.where(d < 1.0, 0.2 * r * (d**2 - 1.0), 0.0)
        rim = 0.08 * r * np.exp(-(((d - 1.0) / 0.25) ** 2))
        patch = height[r0:r1, c0:c1]
        inside = d < 1.6
        patch[inside] = np.where(d < 1.0, 0.3 * patch, patch)[inside] + (bowl + rim)[inside]
    shade = np.zeros_like(height)
    shade[:, 1:-1] = (height[:, 2:] - height[:, :-2]) * 0.5
    image = 120.0 + albedo - 90.0 * np.tanh(shade) + rng.normal(0.0, noise, height.shape)
    return np.clip(image, 1, 255).astype(np.uint8)


def _old_smooth_noise(rng, height: int, width: int, scale_px: int) -> np.ndarray:
    field = rng.normal(0.0, 1.0, (height, width)).astype(np.float32)
    radius = max(1, scale_px // 2)
    for axis in (0, 1, 0, 1, 0, 1):
        pad = [(0, 0), (0, 0)]
        pad[axis] = (radius + 1, radius)
        total = np.cumsum(np.pad(field, pad, mode="reflect"), axis=axis, dtype=np.float32)
        n = field.shape[axis]
        upper = np.take(total, np.arange(2 * radius + 1, 2 * radius + 1 + n), axis=axis)
        field = (upper - np.take(total, np.arange(0, n), axis=axis)) / np.float32(2 * radius + 1)
    return field / float(field.std())


RENDERERS = {"old": old_render_scene, "new": render_scene}


# ---------------------------------------------------------------- main
def time_renderers(size: int, n_craters: int, repeat: int) -> dict[str, float]:
    grid = scene_grid(PixelGrid.from_themis_tile(TILE).resolution_m, size)
    catalog = random_catalog(grid_bbox(grid), n_craters, 2.0, 64.0, seed=0)
    times = {}
    for name, render in RENDERERS.items():
        best = np.inf
        for _ in range(repeat):
            start = time.perf_counter()
            render(grid, catalog, seed=0)
            best = min(best, time.perf_counter() - start)
        times[name] = round(best, 3)
        print(f"speed  {name}: {size}x{size} px, {n_craters} craters: {best:.2f} s", flush=True)
    return times


def realism(data: Path | None, size: int, first_seed: int, scenes: int, picture: Path | None):
    results: dict[str, dict] = {}
    if data is not None:
        real = list(real_images(data))
        results["real 100 m"] = summary([image_stats(im) for im in real])
        low = [resample(im.astype(np.float32), REAL_M / 231.5) for im in real]
        results["real 231.5 m"] = summary([image_stats(im) for im in low])
    for res in TILE_PX:
        for name, render in RENDERERS.items():
            rows = []
            for seed in range(first_seed, first_seed + scenes):
                grid = scene_grid(res, size)
                catalog = realistic_catalog(grid, seed)
                scene = render(grid, catalog, seed=seed)
                rows += [image_stats(t) for t in tiles(scene, TILE_PX[res])]
                if picture is not None and name == "new" and res != REAL_M and seed == first_seed:
                    write_picture(picture, crop_around_largest(scene, grid, catalog, 512))
            results[f"{name} {res:g} m"] = summary(rows)
            print(f"realism {name} {res:g} m: {len(rows)} tiles", flush=True)
    return results


def crop_around_largest(scene, grid: PixelGrid, catalog: CraterCatalog, size: int):
    """A size x size crop of the scene centred (as far as it can be) on its largest crater."""
    i = int(np.argmax(catalog.diameter_km))
    x, y = grid.lonlat_to_pixel(catalog.lon_deg[i], catalog.lat_deg[i])
    c0 = int(np.clip(round(x) - size // 2, 0, scene.shape[1] - size))
    r0 = int(np.clip(round(y) - size // 2, 0, scene.shape[0] - size))
    return scene[r0 : r0 + size, c0 : c0 + size]


def write_picture(path: Path, image: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path, optimize=True)
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KB)")


def print_table(results: dict) -> None:
    print(f"{'images':<16}" + "".join(f"{k:>24}" for k in STATS))
    for name, stats in results.items():
        cells = "".join(f"{f'{m:.2f} [{a:.2f}, {b:.2f}]':>24}" for m, a, b in stats.values())
        print(f"{name:<16}{cells}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--size", type=int, default=2048, help="scene size in pixels")
    parser.add_argument("--craters", type=int, default=1500, help="craters in the speed test")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0, help="seed of the first scene")
    parser.add_argument("--scenes", type=int, default=3, help="scenes per resolution and renderer")
    parser.add_argument("--json", type=Path, help="write the figures to this JSON file")
    parser.add_argument(
        "--picture", type=Path, help="write a 512 px crop of the first 231.5 m scene"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace --json / --picture")
    args = parser.parse_args(argv)
    for path in (args.json, args.picture):
        if path is not None and path.exists() and not args.overwrite:
            parser.error(f"{path} exists; pass --overwrite to replace it")
    data = args.data
    if not (data / "themis_dayir_100m").is_dir():
        print(f"{data} has no themis_dayir_100m: synthetic figures only", file=sys.stderr)
        data = None
    out = {"speed_s": time_renderers(args.size, args.craters, args.repeat)}
    out["realism"] = realism(data, args.size, args.seed, args.scenes, args.picture)
    print_table(out["realism"])
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
