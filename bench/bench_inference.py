"""Inference throughput of the default crater network: onnxruntime vs Keras vs matmul peak.

Builds the paper's default Symmetric UNet (``build_unet(preset_config("O-1"))``,
731,473 parameters, untrained: speed does not depend on the weights), exports
it with ``training.export.export_onnx`` into a temporary folder, and measures
in Mpx/s (input pixels per second):

* the machine's fp32 peak: numpy float32 matmul of 4096 x 4096 (2 n^3 FLOP),
  on 2 threads and, in a subprocess, on 1 thread;
* the network's cost, computed from its layers (2 k^2 c_in c_out FLOP per
  output pixel of each convolution, at that convolution's resolution);
* onnxruntime on batches of windows: first the exported graph (tf2onnx as
  ``export_onnx`` writes it; tf2onnx with ``inputs_as_nchw``; the same
  weights written directly as plain NCHW ONNX graphs by :func:`nchw_graph`,
  variants ``resize``, ``fold`` and ``s2d``), then, for the tf2onnx file and
  the fastest graph, one setting changed at a time: graph optimisation level,
  intra-op threads, thread spinning, window size, batch size, I/O binding;
* Keras ``predict`` on the same batches;
* the engine end to end (:meth:`geocore.inference.OnnxCraterModel.predict` on
  an 8-bit image: scaling, overlapping windows, stitching).

The machine is shared with other jobs, whose load comes and goes, so the
figures are measured in ``--repeats`` rounds: each round measures the matmul
peak and then every case once (a fresh session, one warm-up run, one timed
run), in a shuffled order. Every figure thus sees the load swings alike; the
best of the rounds (the least disturbed) and the median are printed, and the
fraction of peak is best against best. Run it when ``uptime`` shows a low load.

    python bench/bench_inference.py [--repeats 5] [--megapixels 2] [--json out.json]
        [--graphs DIR]   # keep the graphs; rerun on a machine without TensorFlow
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
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


def upsample_conv_kernel(kernel: np.ndarray) -> np.ndarray:
    """Weights of ``conv(upsample_nearest_x2(x))`` as four convolutions of ``x``.

    Output pixel ``(2i + a, 2j + b)`` of a k x k 'same' convolution of the
    nearest-upsampled input reads input pixels ``(i + (a + dy - p) // 2, ...)``
    (p = k // 2), so each phase ``(a, b)`` is a convolution of the
    low-resolution input. Returns ``(4, c_out, c_in, K, K)``, phase ``2 a + b``
    first, K = 2 ceil(p / 2) + 1 (3 for k = 3).
    """
    c_out, c_in, k, _ = kernel.shape
    p = k // 2
    q = -(-p // 2)
    out = np.zeros((2, 2, c_out, c_in, 2 * q + 1, 2 * q + 1), np.float64)
    for a, b, dy, dx in np.ndindex(2, 2, k, k):
        out[a, b, :, :, (a + dy - p) // 2 + q, (b + dx - p) // 2 + q] += kernel[:, :, dy, dx]
    return out.reshape(4, c_out, c_in, 2 * q + 1, 2 * q + 1)


def space_to_depth_kernel(kernel: np.ndarray) -> np.ndarray:
    """A full-resolution k x k 'same' convolution as a convolution in space-to-depth form.

    In space-to-depth form (ONNX ``SpaceToDepth``, blocks first) channel
    ``(2 a + b) C + c`` at pixel ``(i, j)`` is channel ``c`` at full-resolution
    pixel ``(2 i + a, 2 j + b)``. Returns ``(4 c_out, 4 c_in, K, K)``.
    """
    c_out, c_in, k, _ = kernel.shape
    p = k // 2
    q = -(-p // 2)
    out = np.zeros((2, 2, c_out, 2, 2, c_in, 2 * q + 1, 2 * q + 1), np.float64)
    for a, b, dy, dx in np.ndindex(2, 2, k, k):
        (ry, a2), (rx, b2) = divmod(a + dy - p, 2), divmod(b + dx - p, 2)
        out[a, b, :, a2, b2, :, ry + q, rx + q] += kernel[:, :, dy, dx]
    return out.reshape(4 * c_out, 4 * c_in, 2 * q + 1, 2 * q + 1)


def nchw_graph(model, info, path: Path, variant: str = "resize") -> None:
    """The UNet's weights as a plain NCHW ONNX graph, same contract as the tf2onnx export.

    NHWC input -> Transpose (a reshape: one channel) -> Conv+Relu,
    AveragePool ... upsampling -> Conv+Relu -> Add ... Conv 1x1 -> Sigmoid ->
    Transpose. ``variant`` says how upsampling is written:

    * ``"resize"``: one ``Resize(nearest, x2)``, which onnxruntime runs in
      its blocked NCHWc layout, instead of tf2onnx's Transpose/Tile/Reshape
      chain for Keras' ``UpSampling2D`` (a repeat);
    * ``"fold"``: each upsampling and the convolution after it become one
      low-resolution convolution with 4x the outputs and a ``DepthToSpace``;
    * ``"s2d"``: ``"resize"``, but the full-resolution layers (first and last
      two convolutions, first pooling, last skip connection) run in
      space-to-depth form at half resolution with 4x the channels: the
      input goes through ``SpaceToDepth``, the last upsampling is folded into
      its convolution, the first pooling is a 1x1 convolution, and one
      ``DepthToSpace`` of the single-channel output ends the graph. No
      full-resolution tensor of more than one channel exists.

    All compute the same function as the Keras model (to float rounding).
    """
    import keras
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, weights = [], []

    def add(op, inputs, output, **attrs):
        nodes.append(helper.make_node(op, inputs, [output], **attrs))
        return output

    def const(name, array):
        weights.append(numpy_helper.from_array(np.ascontiguousarray(array, np.float32), name))
        return name

    def conv(x, name, kernel, bias, act):
        k = kernel.shape[-1]
        w, b = const(f"{name}_w", kernel), const(f"{name}_b", bias)
        c = add("Conv", [x, w, b], f"{name}_c", pads=[k // 2] * 4, kernel_shape=[k, k])
        return add(act, [c], name)

    s2d = variant == "s2d"
    current = add("Transpose", [info.input_name], "x_in", perm=[0, 3, 1, 2])
    if s2d:
        current = add("SpaceToDepth", [current], "x_s2d", blocksize=2)
    skips, level, upsampled = {}, 0, False
    for layer in model.layers:
        name = f"t_{layer.name}"  # tensor names: never the graph's output name
        if isinstance(layer, keras.layers.Conv2D):
            kernel, bias = layer.get_weights()
            kernel = kernel.transpose(3, 2, 0, 1).astype(np.float64)  # (c_out, c_in, k, k)
            act = "Sigmoid" if layer.activation.__name__ == "sigmoid" else "Relu"
            if upsampled and (variant == "fold" or (s2d and level == 0)):
                phases = upsample_conv_kernel(kernel)
                if s2d:  # stay in space-to-depth form: channel (2a + b) C + c
                    current = conv(current, name, phases.reshape(-1, *phases.shape[2:]),
                                   np.tile(bias, 4), act)  # fmt: skip
                else:  # DepthToSpace "CRD" wants channel 4c + 2a + b
                    phases = phases.transpose(1, 0, 2, 3, 4).reshape(-1, *phases.shape[2:])
                    folded = conv(current, f"{name}_f", phases, np.repeat(bias, 4), act)
                    current = add("DepthToSpace", [folded], name, blocksize=2, mode="CRD")
            elif s2d and level == 0:
                current = conv(current, name, space_to_depth_kernel(kernel), np.tile(bias, 4), act)
            else:
                if upsampled:
                    scales = const(f"{name}_scales", np.array([1, 1, 2, 2]))
                    current = add("Resize", [current, "", scales], f"{name}_up", mode="nearest",
                                  coordinate_transformation_mode="asymmetric",
                                  nearest_mode="floor")  # fmt: skip
                current = conv(current, name, kernel, bias, act)
            upsampled = False
            if layer.name.startswith("down"):
                skips[layer.name.split("_")[0][4:]] = current
        elif isinstance(layer, keras.layers.AveragePooling2D):
            if s2d and level == 0:  # the mean of the four phases: a 1x1 convolution
                channels = layer.input.shape[-1]
                mean = np.tile(np.eye(channels) / 4, (1, 4))[:, :, None, None]
                w = const(f"{name}_w", mean)
                current = add("Conv", [current, w], name, kernel_shape=[1, 1])
            else:
                current = add("AveragePool", [current], name, kernel_shape=[2, 2], strides=[2, 2])
            level += 1
        elif isinstance(layer, keras.layers.UpSampling2D):
            upsampled, level = True, level - 1  # written with the convolution that follows
        elif isinstance(layer, keras.layers.Add):
            skip = skips[layer.name.split("_")[0][2:]]
            current = add("Add", [current, skip], name)
    if s2d:
        current = add("DepthToSpace", [current], "y_d2s", blocksize=2, mode="DCR")
    add("Transpose", [current], info.output_name, perm=[0, 2, 3, 1])
    dims = ["batch", "height", "width", 1]
    graph = helper.make_graph(
        nodes,
        f"symmetric_unet_nchw_{variant}",
        [helper.make_tensor_value_info(info.input_name, TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info(info.output_name, TensorProto.FLOAT, dims)],
        initializer=weights,
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 8
    helper.set_model_props(proto, info.to_metadata())
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))


def tf2onnx_nchw(model, info, path: Path) -> None:
    """tf2onnx with ``inputs_as_nchw`` (input N, 1, H, W: not the engine's contract)."""
    import onnx
    import tensorflow as tf
    import tf2onnx

    spec = (tf.TensorSpec((None, None, None, 1), tf.float32, name=info.input_name),)
    proto, _ = tf2onnx.convert.from_keras(
        model,
        input_signature=spec,
        opset=17,
        inputs_as_nchw=[info.input_name],
    )
    onnx.save(proto, str(path))


# ---------------------------------------------------------------- onnxruntime
def session(path: Path, threads: int, level: str = "ENABLE_ALL", spinning: bool = True):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, f"ORT_{level}")
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def ort_runner(sess, batch: np.ndarray, binding: bool = False):
    """A function that runs ``sess`` on ``batch`` (NHWC, or NCHW if the graph wants it)."""
    import onnxruntime as ort

    inp, out = sess.get_inputs()[0], sess.get_outputs()[0]
    if inp.shape[1] == 1:  # an NCHW graph
        batch = np.ascontiguousarray(batch.transpose(0, 3, 1, 2))
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


# ---------------------------------------------------------------- main
def build_graphs(folder: Path) -> dict:
    """Build the network, export it and write the graph variants into ``folder``.

    Returns the manifest (parameters, FLOP per pixel, graph files), also
    written as ``manifest.json`` with the parity input and Keras' output.
    """
    import keras
    import tensorflow as tf

    from training.config import preset_config
    from training.export import export_onnx
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
    start = time.perf_counter()
    info = export_onnx(model, folder / "o1.onnx", resolution_m=231.5, target_kind="outline")
    print(f"exported with training.export.export_onnx in {time.perf_counter() - start:.1f} s")
    graphs = {"tf2onnx": "o1.onnx", "tf2onnx inputs_as_nchw": "o1_tf_nchw.onnx"}
    tf2onnx_nchw(model, info, folder / graphs["tf2onnx inputs_as_nchw"])
    for variant in ("resize", "fold", "s2d"):
        graphs[f"NCHW {variant}"] = f"o1_nchw_{variant}.onnx"
        nchw_graph(model, info, folder / graphs[f"NCHW {variant}"], variant)
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
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)

    import onnxruntime as ort

    from geocore.inference import OnnxCraterModel
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
        out = ort_runner(session(path, 2), x)()[0]
        out = out.transpose(0, 2, 3, 1) if out.shape != expected.shape else out
        diff = np.abs(out - expected).max()
        print(f"  parity {label}: max |Keras - onnxruntime| = {diff:.1e}")

    # ---------------------------------------------------------------- the cases
    n_px = int(args.megapixels * 1e6)
    cases: list[Case] = []

    def ort_case(label, graph, threads=2, level="ENABLE_ALL", window=512, batch=4, **options):
        x = windows(window, batch)
        calls = max(1, round(n_px / x[..., 0].size))

        def make(path=graphs[graph]):
            sess = session(path, threads, level, options.get("spin", True))
            run = ort_runner(sess, x, options.get("binding", False))
            return lambda: [run() for _ in range(calls)]

        settings = {"graph": graph, "level": level, "window": window, "batch": batch, **options}
        cases.append(Case(label, make, calls * x[..., 0].size, threads, settings))

    for graph in graphs:
        ort_case(graph, graph)
    for graph in ("tf2onnx", "NCHW s2d"):
        for level in ("DISABLE_ALL", "ENABLE_BASIC", "ENABLE_EXTENDED"):
            ort_case(f"{graph} ORT_{level}", graph, level=level)
        ort_case(f"{graph} 1 thread", graph, threads=1)
        ort_case(f"{graph} no spinning", graph, spin=False)
        for window, batch in ((256, 16), (1024, 1)):
            ort_case(f"{graph} window {window} batch {batch}", graph, window=window, batch=batch)
        for batch in (1, 2, 8):
            ort_case(f"{graph} window 512 batch {batch}", graph, batch=batch)
        ort_case(f"{graph} I/O binding", graph, binding=True)

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
    for graph in ("tf2onnx", "NCHW s2d"):
        for window, overlap, batch in ((512, 128, 4), (512, 128, 1), (1024, 128, 1)):
            kwargs = {"window_px": window, "overlap_px": overlap, "batch_size": batch}

            def make(path=graphs[graph], kwargs=kwargs):
                engine = OnnxCraterModel.load(path, providers="cpu", threads=2)
                return lambda: engine.predict(image, **kwargs)

            layout = WindowLayout.plan(side, side, window_px=window, overlap_px=overlap)
            work = len(layout) * layout.window_height_px * layout.window_width_px / side**2
            label = f"engine {graph} {window}/{overlap} batch {batch} (x{work:.2f} px)"
            cases.append(Case(label, make, side * side, 2, {"engine": "geocore", **kwargs}))

    # ---------------------------------------------------------------- rounds
    print(
        f"{args.repeats} rounds; each round measures the fp32 matmul peak ({MATMUL_N}^2, 2 and "
        f"1 BLAS threads) and every case once (~{args.megapixels:g} Mpx of 512 px windows, or "
        f"a {side}^2 uint8 image for the engine), in a shuffled order, so that every figure "
        "sees the machine's load swings alike"
    )
    peaks: dict[int, list[float]] = {1: [], 2: []}
    rng = random.Random(0)
    for r in range(args.repeats):
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
    print(f"  {'case':44s} {'best':>6s} {'median':>6s} Mpx/s  GFLOP/s  % of peak (best)")
    rows = []
    for case in cases:
        best, median = max(case.mpx), statistics.median(case.mpx)
        gflops = best * flop_px / 1e3
        fraction = gflops / peak[case.threads]
        print(
            f"  {case.label:44s} {best:6.2f} {median:6.2f}        {gflops:6.1f}  "
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
