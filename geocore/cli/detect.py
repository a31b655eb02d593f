"""``geocore detect``: find craters on Mars rasters with an ONNX model."""

from __future__ import annotations

import time

from ..errors import ModelError
from ._craters_out import (
    add_output_options,
    check_georeferenced_for_gpkg,
    check_outputs,
    craters_of_sources,
    write_outputs,
)

_DESCRIPTION = """\
Detect craters on one or more Mars rasters with a crater segmentation model (ONNX) and write them
as a GeoPackage of true circles on the Mars sphere and/or a CSV.

RASTER is a georeferenced GeoTIFF in a Mars CRS (geographic or equirectangular), a THEMIS
256 px/degree tile image recognised by its name (thm_dir_N-30_090.png), or a plain PNG/JPEG with
--resolution-m (then craters have pixel coordinates only: CSV, no GeoPackage). The raster is read
block by block and brought to the model's resolution (from its metadata), so rasters of any size
fit in memory. Diameters are in km."""


def register(subparsers) -> None:
    """Add the ``detect`` command."""
    import argparse

    p = subparsers.add_parser(
        "detect",
        help="detect craters on rasters with an ONNX model",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("rasters", nargs="+", metavar="RASTER", help="raster file(s)")
    p.add_argument("--model", help="ONNX model (default: the bundled model)")
    p.add_argument(
        "--device", choices=("auto", "cpu", "cuda"), default="auto", help="onnxruntime device"
    )
    p.add_argument("--threads", type=int, help="CPU threads for onnxruntime (default: all)")
    p.add_argument("--block-px", type=int, default=2048, help="block size at the model's m/px")
    add_output_options(p)
    p.set_defaults(func=run)


def load_model(args=None, *, model=None, device="auto", threads=None):
    """The ONNX model asked for (``args.model`` or ``model``), or the bundled default."""
    from ..inference import OnnxCraterModel
    from ..model_info import default_model_path

    if args is not None:
        model, device, threads = args.model, args.device, args.threads
    path = model or default_model_path()
    if path is None:
        raise ModelError(
            "no model given and this installation has no bundled default model; "
            "pass --model path/to/model.onnx (see `python -m training.export`)"
        )
    return OnnxCraterModel.load(path, providers=device, threads=threads)


def extraction_params(info, args):
    """Extraction settings: the model's, with the command line's threshold and method."""
    from ..extraction import ExtractionParams

    values = dict(info.extraction or {})
    values.setdefault("target_kind", info.target_kind)
    if info.ring_width_px is not None and info.target_kind == "ring":
        values.setdefault("ring_width_px", info.ring_width_px)
    if info.inner_ratio is not None and info.target_kind == "outline":
        values.setdefault("inner_ratio", info.inner_ratio)
    values.setdefault("threshold", info.threshold)
    if args.threshold is not None:
        values["threshold"] = args.threshold
    if args.method is not None:
        values["method"] = args.method
    return ExtractionParams.from_dict(values)


def run(args) -> int:
    """Run ``geocore detect``."""
    from ..raster_io import RasterioSource

    start = time.perf_counter()
    check_outputs(args)
    sources = [
        RasterioSource(p, band=args.band, resolution_m=args.resolution_m) for p in args.rasters
    ]
    try:
        check_georeferenced_for_gpkg(args, [(s.name, s.grid) for s in sources])
        model = load_model(args)
        params = extraction_params(model.info, args)
        info = model.info
        print(
            f"model {args.model or 'bundled default'}: {info.target_kind} targets at "
            f"{info.resolution_m:.1f} m/px, threshold {params.threshold}, {params.method} "
            f"extraction, on {', '.join(model.providers)}"
        )
        catalog = craters_of_sources(
            args, sources, model.predict, info.resolution_m, params, "detect"
        )
    finally:
        for source in sources:
            source.close()
    write_outputs(args, catalog, start)
    return 0
