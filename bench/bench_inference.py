"""Inference throughput of the default crater network: the engine vs Keras vs matmul peak.

Builds the paper's default Symmetric UNet (``build_unet(preset_config("O-1"))``,
731,473 parameters, untrained: speed does not depend on the weights), exports
it with ``training.export.export_onnx`` into a folder, once per graph
(``fast``, the default, and ``tf2onnx``), and measures in Mpx/s (input pixels
per second):

* the machine's fp32 peak: numpy float32 matmul of 4096 x 4096 (2 n^3 FLOP),
  in a subprocess on 2 BLAS threads and on 1;
* the network's cost, computed from its layers (2 k^2 c_in c_out FLOP per
  output pixel of each convolution, at that convolution's resolution);
* the network in the engine's own session (``OnnxCraterModel.load(path,
  providers="cpu", threads=T)``, batches of windows through
  ``session.run`` as ``predict`` sends them), for both exported files, on 2
  threads and on 1; then, for the default (fast) file, one setting changed
  at a time: graph optimisation level, thread spinning, window size, batch
  size, I/O binding;
* Keras ``predict`` on the same batches;
* the engine end to end (:meth:`geocore.inference.OnnxCraterModel.predict` on
  an 8-bit image: scaling, overlapping windows, stitching), as image pixels
  per second and as network-input pixels per second (image rate x the
  windows' overlap factor).

The machine is shared with other jobs, whose load comes and goes, so the
figures are measured in ``--repeats`` rounds: each round measures the matmul
peak and then every case once (a fresh session, one warm-up run, one timed
run), in a shuffled order. Every figure thus sees the load swings alike; the
best of the rounds (the least disturbed) and the median are printed, and the
fraction of peak is best against best. ``--pause-training`` stops the
background ``python -m training.train`` processes (SIGSTOP) during the rounds
and always continues them (SIGCONT) at the end, also on an error or Ctrl-C.

    python bench/bench_inference.py [--repeats 5] [--megapixels 2] [--json out.json]
        [--graphs DIR]        # keep the graphs; rerun on a machine without TensorFlow
        [--pause-training]    # pause `python -m training.train` while timing
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MATMUL_N = 4096
PEAK_SNIPPET = f"""
import time, numpy as np
n = {MATMUL_N}
a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
b = np.random.default_rng(1).standard_normal((n, n), dtype=np.float32)
a @ b
best = 0.0
for _ in range(2):
    t = time.perf_counter(); a @ b; best = max(best, 2 * n**3 / (time.perf_counter() - t) / 1e9)
print(best)
"""


# ---------------------------------------------------------------- measuring
@dataclass
class Case:
    """One figure: ``make()`` builds a fresh runner (session...), each call processes ``pixels``."""

    label: str
    make: Callable[[], Callable[[], object]]
    pixels: int
    threads: int = 2
    settings: dict = field(default_factory=dict)
    mpx: list[float] = field(default_factory=list)

    def measure(self) -> None:
        run = self.make()
        run()  # warm-up: graph optimisation, memory arena, TensorFlow tracing
        start = time.perf_counter()
        run()
        self.mpx.append(self.pixels / (time.perf_counter() - start) / 1e6)


def matmul_gflops(threads: int) -> float:
    """GFLOP/s of one float32 matmul, in a subprocess with ``threads`` BLAS threads."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    out = subprocess.run(
        [sys.executable, "-c", PEAK_SNIPPET], env=env, capture_output=True, text=True, check=True
    )
    return float(out.stdout)


# ---------------------------------------------------------------- the network
def conv_flops_per_pixel(model) -> tuple[float, list[tuple[str, float]]]:
    """FLOP per input pixel of the convolutions (2 k^2 c_in c_out at each one's resolution).

    The resolution of each convolution is read from the model itself (one
    run on a 128 x 128 input), so the count follows the layers, not a note.
    """
    import keras

    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    probe = keras.Model(model.inputs, [layer.output for layer in convs])
    outputs = probe.predict(np.zeros((1, 128, 128, 1), np.float32), verbose=0)
    rows = []
    for layer, out in zip(convs, outputs, strict=True):
        kh, kw, c_in, c_out = layer.kernel.shape
        share = out.shape[1] * out.shape[2] / 128**2  # output pixels per input pixel
        rows.append((layer.name, 2.0 * kh * kw * c_in * c_out * share))
    return sum(f for _, f in rows), rows


# ---------------------------------------------------------------- onnxruntime
def session(path: Path, threads: int, level: str = "ENABLE_ALL", spinning: bool = True):
    """A session like the engine's, with one setting changed (level, spinning)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, f"ORT_{level}")
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def engine_session(path: Path, threads: int):
    """The session of ``OnnxCraterModel.load``, exactly as the engine opens it."""
    from geocore.inference import OnnxCraterModel

    return OnnxCraterModel.load(path, providers="cpu", threads=threads).session


def ort_runner(sess, batch: np.ndarray, binding: bool = False):
    """A function that runs ``sess`` on ``batch`` (NHWC), as the engine does."""
    import onnxruntime as ort

    inp, out = sess.get_inputs()[0], sess.get_outputs()[0]
    if not binding:
        return lambda: sess.run([out.name], {inp.name: batch})
    io = sess.io_binding()
    value = ort.OrtValue.ortvalue_from_numpy(batch)
    io.bind_ortvalue_input(inp.name, value)
    result = np.empty(batch.shape, np.float32)  # preallocated, written by onnxruntime
    io.bind_output(out.name, "cpu", 0, np.float32, list(result.shape), result.ctypes.data)

    def run():
        sess.run_with_iobinding(io)
        return [result, value, batch]  # keeps the bound buffers alive with the closure

    return run


def windows(window: int, batch: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (batch, window, window, 1)).astype(np.float32)


# ---------------------------------------------------------------- pausing other jobs
def training_pids() -> list[int]:
    """Process ids of running ``python -m training.train`` jobs (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # the process ended meanwhile, or is not ours to read
            continue
        if b"-m" in argv and b"training.train" in argv:
            found.append(int(entry.name))
    return found


@contextlib.contextmanager
def training_paused(enabled: bool) -> Iterator[Callable[[], None]]:
    """SIGSTOP the training jobs for the duration; SIGCONT them always, also on SIGTERM.

    Yields a function that pauses jobs started since (call it before each round).
    """
    stopped: list[int] = []

    def pause_new() -> None:
        new = [pid for pid in training_pids() if pid not in stopped] if enabled else []
        for pid in new:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
                stopped.append(pid)
        if new:
            print(f"paused training job(s) {new} while timing")

    def terminate(signum, frame):
        raise SystemExit(128 + signum)  # runs the finally clause below

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        pause_new()
        yield pause_new
    finally:
        for pid in stopped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        if stopped:
            print(f"resumed training job(s) {stopped}")
        signal.signal(signal.SIGTERM, previous)


# ---------------------------------------------------------------- main
GRAPHS = ("fast", "tf2onnx")


def build_graphs(folder: Path) -> dict:
    """Build the network and export it with ``export_onnx`` (each graph) into ``folder``.

    Returns the manifest (parameters, FLOP per pixel, graph files), also
    written as ``manifest.json`` beside the parity input and Keras' output.
    """
    import keras
    import tensorflow as tf

    from training.config import preset_config
    from training.export import export_onnx_report
    from training.model import build_unet

    model = build_unet(preset_config("O-1"))
    flop_px, rows = conv_flops_per_pixel(model)
    full_res = sum(f for name, f in rows if name in ("down1_conv", "up1_conv", "probability"))
    print(
        f"network: {model.count_params():,} parameters; {flop_px / 1e3:.2f} kFLOP per input "
        f"pixel = {flop_px * 512**2 / 1e9:.2f} GFLOP per 512 x 512 pass "
        f"({100 * full_res / flop_px:.0f}% in the three full-resolution convolutions); "
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}"
    )
    graphs = {}
    for graph in GRAPHS:
        graphs[graph] = f"o1_{graph}.onnx"
        report = export_onnx_report(
            model, folder / graphs[graph], resolution_m=231.5, target_kind="outline", graph=graph
        )
        print(
            f"  export_onnx graph={graph!r}: {report.seconds:.1f} s, "
            f"{report.size_bytes / 1e6:.2f} MB, max |Keras - onnxruntime| = "
            f"{report.max_abs_diff:.1e}"
        )
    x = windows(256, 2)
    np.save(folder / "parity_input.npy", x)
    np.save(folder / "parity_keras.npy", model(x, training=False).numpy())
    manifest = {"params": model.count_params(), "flop_per_px": flop_px, "graphs": graphs}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="rounds (timed runs per figure)")
    parser.add_argument(
        "--megapixels", type=float, default=2.0, help="input pixels per timed run (Mpx)"
    )
    parser.add_argument("--image-px", type=int, default=3072, help="engine test image side")
    parser.add_argument("--skip-keras", action="store_true", help="skip Keras predict")
    parser.add_argument(
        "--graphs",
        type=Path,
        metavar="DIR",
        help="keep the exported graphs in DIR; if DIR has them already (manifest.json), "
        "use them (no TensorFlow needed; Keras predict is skipped without it)",
    )
    parser.add_argument(
        "--pause-training",
        action="store_true",
        help="pause running `python -m training.train` jobs while timing (always resumed)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)

    import onnxruntime as ort

    from geocore.inference import DEFAULT_OVERLAP_PX, OnnxCraterModel, default_window_px
    from geocore.tiling import WindowLayout

    start_load = os.getloadavg()
    print(
        f"machine: {os.cpu_count()} cores ({platform.processor() or platform.machine()}), "
        f"load {start_load[0]:.2f} {start_load[1]:.2f} {start_load[2]:.2f}; numpy "
        f"{np.__version__}, onnxruntime {ort.__version__}"
    )

    # ---------------------------------------------------------------- network and graphs
    folder = args.graphs or Path(tempfile.mkdtemp(prefix="bench_inference_"))
    reuse = (folder / "manifest.json").is_file()
    if reuse:
        manifest = json.loads((folder / "manifest.json").read_text())
        print(f"graphs from {folder}: {manifest['flop_per_px'] / 1e3:.2f} kFLOP per pixel")
    else:
        folder.mkdir(parents=True, exist_ok=True)
        manifest = build_graphs(folder)
    flop_px = manifest["flop_per_px"]
    graphs = {label: folder / name for label, name in manifest["graphs"].items()}
    x, expected = np.load(folder / "parity_input.npy"), np.load(folder / "parity_keras.npy")
    for label, path in graphs.items():
        diff = np.abs(ort_runner(engine_session(path, 2), x)()[0] - expected).max()
        print(f"  parity {label}: max |Keras - onnxruntime| = {diff:.1e}")

    # ---------------------------------------------------------------- the cases
    n_px = int(args.megapixels * 1e6)
    cases: list[Case] = []

    def ort_case(label, graph, threads=2, level=None, window=512, batch=1, **options):
        x = windows(window, batch)
        calls = max(1, round(n_px / x[..., 0].size))

        def make(path=graphs[graph]):
            if level is None and not options:
                sess = engine_session(path, threads)
            else:
                sess = session(path, threads, level or "ENABLE_ALL", options.get("spin", True))
            run = ort_runner(sess, x, options.get("binding", False))
            return lambda: [run() for _ in range(calls)]

        settings = {"graph": graph, "level": level or "engine", "window": window,
                    "batch": batch, **options}  # fmt: skip
        cases.append(Case(label, make, calls * x[..., 0].size, threads, settings))

    for graph in graphs:  # the engine's session and batch (1 window on the CPU)
        ort_case(f"{graph}, engine session, batch 1", graph)
        ort_case(f"{graph}, engine session, batch 4", graph, batch=4)
        ort_case(f"{graph}, engine session, 1 thread", graph, threads=1)
    graph = "fast"
    for level in ("DISABLE_ALL", "ENABLE_BASIC", "ENABLE_EXTENDED"):
        ort_case(f"{graph} ORT_{level}", graph, level=level)
    ort_case(f"{graph} no spinning", graph, spin=False)
    ort_case(f"{graph} I/O binding", graph, binding=True)
    for window, batch in ((256, 4), (1024, 1), (512, 2), (512, 8)):
        ort_case(f"{graph} window {window} batch {batch}", graph, window=window, batch=batch)

    model = None
    try:
        from training.config import preset_config
        from training.model import build_unet

        model = None if args.skip_keras else build_unet(preset_config("O-1"))
    except ImportError as err:  # no TensorFlow on this machine
        print(f"Keras predict skipped: {err}")
    for batch in (4, 8) if model is not None else ():
        x = windows(512, batch)
        calls = max(1, round(n_px / x[..., 0].size))

        def make(x=x, batch=batch, calls=calls):
            return lambda: [model.predict(x, batch_size=batch, verbose=0) for _ in range(calls)]

        settings = {"engine": "keras", "window": 512, "batch": batch}
        cases.append(Case(f"Keras predict batch {batch}", make, calls * x[..., 0].size, 2,
                          settings))  # fmt: skip

    side = args.image_px
    image = np.random.default_rng(0).integers(1, 256, (side, side)).astype(np.uint8)
    default = (default_window_px(512), DEFAULT_OVERLAP_PX)
    for graph in graphs:
        for window, overlap in sorted({default, (512, 128), (1024, 256)}):
            kwargs = {"window_px": window, "overlap_px": overlap}

            def make(path=graphs[graph], kwargs=kwargs):
                engine = OnnxCraterModel.load(path, providers="cpu", threads=2)
                return lambda: engine.predict(image, **kwargs)

            layout = WindowLayout.plan(side, side, window_px=window, overlap_px=overlap)
            work = len(layout) * layout.window_height_px * layout.window_width_px / side**2
            label = f"engine predict, {graph}, {window}/{overlap} (x{work:.2f} px)"
            settings = {"engine": "geocore", "graph": graph, "work": work, **kwargs}
            cases.append(Case(label, make, side * side, 2, settings))

    # ---------------------------------------------------------------- rounds
    print(
        f"{args.repeats} rounds; each round measures the fp32 matmul peak ({MATMUL_N}^2, 2 and "
        f"1 BLAS threads) and every case once (~{args.megapixels:g} Mpx of windows, or "
        f"a {side}^2 uint8 image for the engine), in a shuffled order, so that every figure "
        "sees the machine's load swings alike"
    )
    peaks: dict[int, list[float]] = {1: [], 2: []}
    rng = random.Random(0)
    with training_paused(args.pause_training) as pause_new:
        for r in range(args.repeats):
            pause_new()
            start = time.perf_counter()
            for threads in (2, 1):
                peaks[threads].append(matmul_gflops(threads))
            for case in rng.sample(cases, len(cases)):
                case.measure()
            load = os.getloadavg()[0]
            print(
                f"  round {r + 1}: {time.perf_counter() - start:.0f} s, load {load:.2f}, peak "
                f"{peaks[2][-1]:.0f} / {peaks[1][-1]:.0f} GFLOP/s (2 / 1 threads)"
            )

    # ---------------------------------------------------------------- report
    peak = {t: max(v) for t, v in peaks.items()}
    print(
        f"fp32 matmul peak: 2 threads best {peak[2]:.1f} (median "
        f"{statistics.median(peaks[2]):.1f}), 1 thread best {peak[1]:.1f} (median "
        f"{statistics.median(peaks[1]):.1f}) GFLOP/s; network {flop_px / 1e3:.2f} kFLOP/px"
    )
    print(
        f"  {'case':48s} {'best':>6s} {'median':>6s} Mpx/s  GFLOP/s  % of peak (best); "
        "engine predict: image Mpx/s, then network Mpx/s = image x overlap factor"
    )
    rows = []
    for case in cases:
        best, median = max(case.mpx), statistics.median(case.mpx)
        work = case.settings.get("work", 1.0)  # network pixels per image pixel
        gflops = best * work * flop_px / 1e3
        fraction = gflops / peak[case.threads]
        network = f" (network {best * work:5.2f})" if work != 1.0 else ""
        print(
            f"  {case.label:48s} {best:6.2f} {median:6.2f}{network:18s} {gflops:6.1f}  "
            f"{100 * fraction:5.1f}% ({case.threads} thr.)"
        )
        rows.append({"label": case.label, "mpx_s": case.mpx, "best_mpx_s": best,
                     "median_mpx_s": median, "best_gflop_s": gflops,
                     "fraction_of_peak": fraction, "threads": case.threads,
                     **case.settings})  # fmt: skip
    if args.json:
        summary = {"start_load": start_load, "peak_gflop_s": peaks, "flop_per_px": flop_px,
                   "figures": rows}  # fmt: skip
        args.json.write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
