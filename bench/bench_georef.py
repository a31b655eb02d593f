"""Time and peak memory of ``geocore georef`` on a full 7680 x 7680 THEMIS tile image.

Makes a synthetic tile PNG (no real data needed), then georeferences it in a
child process so that its peak resident memory can be read on its own.

    python bench/bench_georef.py [--size 7680] [--workdir /tmp/bench-georef]
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
from PIL import Image


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=7680, help="tile size in px (default 7680)")
    parser.add_argument("--workdir", type=Path, default=None, help="folder for the files")
    args = parser.parse_args(argv)

    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-georef-"))
    work.mkdir(parents=True, exist_ok=True)
    src = work / "thm_dir_N-30_090.png"
    if not src.exists():
        rng = np.random.default_rng(0)
        rows = [rng.integers(1, 255, (512, args.size), dtype=np.uint8)]
        image = np.concatenate(rows * (args.size // 512 + 1))[: args.size]
        Image.fromarray(image).save(src, compress_level=1)
        del image, rows
    out = work / "tile.tif"
    out.unlink(missing_ok=True)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "geocore", "georef", str(src), "--out", str(out)], check=True
    )
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    tile_mb = args.size * args.size / 1e6
    png_mb = src.stat().st_size / 1e6
    print(f"tile {args.size} x {args.size} px ({tile_mb:.0f} Mpx, {png_mb:.0f} MB PNG)")
    print(f"georef: {seconds:.1f} s, peak memory of the georef process {peak_mb:.0f} MB")
    print(f"GeoTIFF {out.stat().st_size / 1e6:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
