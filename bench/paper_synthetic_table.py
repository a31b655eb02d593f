"""Reproduce the synthetic-data table of DeLatte et al. (2018) at CPU scale.

Trains S-1, S-4, S-5 and S-6 with ``python -m training.train`` (same data,
seed and schedule for all four), then prints a Markdown table of their final
loss and pixel accuracy beside the paper's Table 1 figures. Runs go to
``--runs`` (default runs/paper-synthetic); existing runs are reused, so the
table can be re-printed without training again.

    python bench/paper_synthetic_table.py --epochs 10 --train-images 96 --val-images 32
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

PRESETS = ("S-1", "S-4", "S-5", "S-6")
#: Table 1 of the paper: pixel accuracy after 50 epochs (domain notes: S 0.985-0.995, S-5 0.863).
PAPER = {"S-1": "0.985-0.995", "S-4": "0.985-0.995", "S-5": "0.863", "S-6": "0.985-0.995"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("runs/paper-synthetic"))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--train-images", type=int, default=96)
    parser.add_argument("--val-images", type=int, default=32)
    parser.add_argument("--tile-size-px", type=int, default=512)
    parser.add_argument("--presets", nargs="+", default=list(PRESETS))
    args = parser.parse_args(argv)

    for preset in args.presets:
        run = args.runs / preset
        if (run / "metrics.json").exists():
            continue
        cmd = [sys.executable, "-m", "training.train", "--preset", preset, "-q",
               "--epochs", str(args.epochs), "--tile-size-px", str(args.tile_size_px),
               "--synthetic-train-images", str(args.train_images),
               "--synthetic-val-images", str(args.val_images), "--out", str(run)]  # fmt: skip
        print("$", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)

    print()
    print("| preset | kernel | filters | parameters | epochs | s/epoch | loss | accuracy "
          "| val_loss | val_accuracy | paper accuracy (50 epochs) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for preset in args.presets:
        run = args.runs / preset
        metrics = json.loads((run / "metrics.json").read_text())
        config = json.loads((run / "config.json").read_text())
        last = metrics["last"]
        print(
            f"| {preset} | {config['kernel_size']}x{config['kernel_size']} "
            f"| x{config['filter_multiple']:g} | {metrics['parameters']:,} | {metrics['epochs']} "
            f"| {metrics['seconds_per_epoch']} | {last['loss']:.4f} | {last['accuracy']:.4f} "
            f"| {last['val_loss']:.4f} | {last['val_accuracy']:.4f} | {PAPER.get(preset, '-')} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
