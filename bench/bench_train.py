"""Training speed of the Symmetric UNet on this machine, beside the paper's GTX 1080 figures.

Times ``train_on_batch`` on random 512 x 512 batches (after a warm-up) for the
architectures of experiments -1 (3x3, x1), -4 (7x7, x1), -7 (11x11, x1) and
-8 (7x7, x2); S-, C- and O- experiments of one number share the network, so
their step time is the same. An epoch of the paper is 6 training tiles of
7680 x 7680 px = 1,350 sub-images of 512 x 512.

    python bench/bench_train.py [--steps 5] [--batch-size 8] [--variants 1 8]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

#: Seconds per epoch on one GTX 1080, DeLatte et al. (2018) (C experiments).
PAPER_SECONDS_PER_EPOCH = {1: 35, 4: 75, 7: 137, 8: 130}
PAPER_IMAGES_PER_EPOCH = 6 * 15 * 15


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5, help="timed steps per variant")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--size", type=int, default=512, help="sub-image side, px")
    parser.add_argument("--variants", type=int, nargs="+", default=[1, 4, 7, 8])
    args = parser.parse_args(argv)

    import keras
    import numpy as np
    import tensorflow as tf

    from training.config import preset_config
    from training.model import build_unet

    rng = np.random.default_rng(0)
    shape = (args.batch_size, args.size, args.size, 1)
    x = rng.uniform(-1, 1, shape).astype("float32")
    y = (rng.uniform(0, 1, shape) > 0.9).astype("float32")
    cpu = platform.processor() or platform.machine()
    gpus = tf.config.list_physical_devices("GPU")
    print(f"machine: {os.cpu_count()} cores ({cpu}), GPUs: {len(gpus)}, TF {tf.__version__}")
    print(f"batch {args.batch_size} x {args.size}^2 px, {args.steps} timed steps after 1 warm-up")
    header = "variant  params      s/step  s/image  s/epoch (1350 img)  paper GTX 1080 s/epoch"
    print(header)
    for n in args.variants:
        config = preset_config(f"C-{n}")
        model = build_unet(config)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
        model.train_on_batch(x, y)  # warm-up: graph tracing
        start = time.perf_counter()
        for _ in range(args.steps):
            model.train_on_batch(x, y)
        per_step = (time.perf_counter() - start) / args.steps
        per_image = per_step / args.batch_size
        paper = PAPER_SECONDS_PER_EPOCH.get(n, "-")
        print(
            f"-{n} {config.kernel_size:>2}x{config.kernel_size:<2} x{config.filter_multiple:<3g}"
            f" {model.count_params():>10,}  {per_step:6.2f}  {per_image:7.3f}"
            f"  {per_image * PAPER_IMAGES_PER_EPOCH:18.0f}  {paper:>22}"
        )
        keras.backend.clear_session()
    return 0


if __name__ == "__main__":
    sys.exit(main())
