"""End-to-end ``geocore detect``: time and peak memory on large rasters.

Writes a synthetic Mars raster of ``--size`` x ``--size`` px (ring targets of
random craters drawn strip by strip on an equirectangular grid at
``--resolution-m``, so the file is made in bounded memory), then runs
``python -m geocore detect`` on it in a child process and reports its wall time
and peak resident memory. The model is ``--model`` or, by default, a tiny
"oracle" ONNX graph (``sigmoid(10 x)``: the raster already draws the craters),
which isolates the engine's own cost (reading, resampling, windowing,
extraction, output) from the network's; the network's throughput is measured
by ``bench/bench_inference.py``.

    python bench/bench_detect.py --size 7680
    python bench/bench_detect.py --size 30000 --resolution-m 115.77
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def oracle_model(path: Path, resolution_m: float) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from oracle_model import write_oracle_model

    write_oracle_model(path, resolution_m, tile_size_px=512)


def write_scene(path: Path, size: int, resolution_m: float, model_m: float, seed: int) -> int:
    import rasterio

    from geocore.body import MARS
    from geocore.crs import crs_for_projection, portable_wkt
    from geocore.grid import PixelGrid
    from geocore.projection import Equirectangular
    from geocore.synthetic import random_catalog
    from geocore.targets import rasterize_targets

    proj = Equirectangular(MARS)
    x0, y0 = proj.forward(90.0, 0.0)
    grid = PixelGrid((resolution_m, 0, float(x0), 0, -resolution_m, float(y0)), size, size, proj)
    (west, north), (east, south) = (grid.pixel_to_lonlat(0, 0, offset="corner"),
                                    grid.pixel_to_lonlat(size, size, offset="corner"))  # fmt: skip
    area_deg2 = (east - west) * (north - south)
    craters = random_catalog((west, south, east, north), int(2.5 * area_deg2), 3.0, 60.0, seed=seed)
    ring_px = 4.0 * model_m / resolution_m
    profile = {"driver": "GTiff", "width": size, "height": size, "count": 1, "dtype": "uint8",
               "crs": rasterio.crs.CRS.from_wkt(portable_wkt(crs_for_projection(proj))),
               "transform": rasterio.Affine(*grid.transform), "tiled": True, "compress": "deflate",
               "BIGTIFF": "YES"}  # fmt: skip
    strip = 2048
    with rasterio.open(path, "w", **profile) as dst:
        for row in range(0, size, strip):
            h = min(strip, size - row)
            sub = grid.window(0, row, size, h)
            mask = rasterize_targets(sub, craters, kind="ring", ring_width_px=ring_px)
            dst.write((mask * 255).astype(np.uint8)[None], window=((row, row + h), (0, size)))
    return len(craters)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=7680, help="raster side, px")
    parser.add_argument("--resolution-m", type=float, default=231.54, help="raster m/px")
    parser.add_argument("--model", type=Path, help="ONNX model (default: the oracle graph)")
    parser.add_argument("--model-resolution-m", type=float, default=231.54)
    parser.add_argument("--workdir", type=Path, help="folder for the files (default: a temp dir)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--block-px", type=int, default=2048, help="detect --block-px")
    args = parser.parse_args(argv)

    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-detect-"))
    work.mkdir(parents=True, exist_ok=True)
    scene = work / f"scene_{args.size}.tif"
    t0 = time.perf_counter()
    n = write_scene(scene, args.size, args.resolution_m, args.model_resolution_m, args.seed)
    print(f"wrote {scene} ({args.size}^2 px, {args.resolution_m} m/px, {n} craters drawn) "
          f"in {time.perf_counter() - t0:.0f} s")  # fmt: skip
    model = args.model
    if model is None:
        model = work / "oracle.onnx"
        oracle_model(model, args.model_resolution_m)
    out = work / f"craters_{args.size}.csv"
    out.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "geocore", "detect", str(scene), "--model", str(model),
           "--csv", str(out), "--min-diameter-km", "3", "--max-diameter-km", "60",
           "--block-px", str(args.block_px)]  # fmt: skip
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    seconds = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    mpx = args.size**2 / 1e6
    print(f"detect: {mpx:.0f} Mpx in {seconds:.1f} s ({mpx / seconds:.1f} Mpx/s), "
          f"peak memory of the detect process {peak_mb:.0f} MB")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
