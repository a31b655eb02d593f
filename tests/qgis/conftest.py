"""Fixtures for tests that run inside real QGIS (QGIS's own Python, numpy 1.24).

These tests run with ``.venv-qgis`` (Debian's python3 with QGIS plus pytest-qgis),
started by ``make test-qgis``. Code that needs rasterio or geopandas runs in the
project's main environment through a subprocess (``GEOCORE_PYTHON``).
"""

from __future__ import annotations

import csv
import math
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def geocore_python() -> str:
    """The Python of the project's main environment (with rasterio, geopandas)."""
    python = os.environ.get("GEOCORE_PYTHON", str(ROOT / ".venv" / "bin" / "python"))
    if not Path(python).exists():
        pytest.fail(f"the project's environment {python} is missing; run `make venv` first")
    return python


@pytest.fixture(scope="session")
def run_geocore(geocore_python):
    """Run ``python -m geocore ARGS`` in the main environment; returns the completed process."""

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [geocore_python, "-m", "geocore", *map(str, args)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        )
        if check and proc.returncode != 0:
            sys.stderr.write(proc.stderr)
            raise AssertionError(f"geocore {args[0]} failed: {proc.stderr.strip()}")
        return proc

    return run


# --------------------------------------------------------------- plugin test data
# Runs in the main environment (onnx, rasterio): a tiny ONNX "oracle" model whose output is
# sigmoid(10 x) of the scaled input, and small synthetic Mars rasters on which known craters
# are drawn as the ring targets the model "predicts", so the craters found are known exactly.
PLUGIN_DATA_SCRIPT = """
import csv, sys
from pathlib import Path
import numpy as np
from PIL import Image
from geocore.body import MARS
from geocore.crater import CraterCatalog
from geocore.grid import PixelGrid
from geocore.projection import Equirectangular, Geographic
from geocore.raster_io import write_geotiff
from geocore.targets import rasterize_targets

out = Path(sys.argv[1])
size_deg, west, north, width, height = 1 / 128, 100.0, -7.0, 384, 384
res_m = MARS.metres_per_degree * size_deg
lon = [100.6, 101.7, 102.4, 100.8, 101.9, 102.6]
lat = [-7.6, -7.5, -8.0, -9.0, -9.3, -9.5]
diameter_km = [20.0, 12.0, 30.0, 28.0, 16.0, 8.0]
truth = CraterCatalog(np.array(lon), np.array(lat), np.array(diameter_km))
with open(out / "truth.csv", "w", newline="") as handle:
    writer = csv.writer(handle)
    writer.writerow(["lon", "lat", "diameter_km"])
    writer.writerows(zip(lon, lat, diameter_km))

eqc = PixelGrid((res_m, 0, west * res_m / size_deg, 0, -res_m, north * res_m / size_deg),
                width, height, Equirectangular(MARS))
geo = PixelGrid((size_deg, 0, west, 0, -size_deg, north), width, height, Geographic(MARS))
for name, grid in (("mars_eqc.tif", eqc), ("mars_geographic.tif", geo)):
    rings = rasterize_targets(grid, truth, kind="ring", ring_width_px=4.0)
    write_geotiff(out / name, (rings * 254 + 1).astype(np.uint8), grid)

sys.path.insert(0, "tests")
from oracle_model import write_oracle_model

write_oracle_model(out / "oracle.onnx", res_m, min_diameter_km=4.0, max_diameter_km=40.0,
                   threshold=0.5, preset="oracle",
                   training_data="none: sigmoid(10 x) of the input")

# a THEMIS tile image known by its name only (downsampled 32 times: 240 x 240 px)
image = np.random.default_rng(0).integers(1, 256, (240, 240), dtype=np.uint8)
Image.fromarray(image).save(out / "thm_dir_N-30_090.png")
"""


@dataclass(frozen=True)
class MarsRaster:
    """A synthetic Mars GeoTIFF with the craters drawn on it.

    ``path``: the GeoTIFF; ``truth_csv``: its craters (columns lon, lat, diameter_km);
    ``craters``: the same as a list of ``(lon_deg, lat_deg, diameter_km)``; ``authid``: the
    CRS the raster is in; ``resolution_m``: its pixel size on the Mars sphere.
    """

    path: Path
    truth_csv: Path
    craters: tuple[tuple[float, float, float], ...]
    authid: str
    resolution_m: float


@pytest.fixture(scope="session")
def plugin_test_data(geocore_python, tmp_path_factory) -> Path:
    """Folder with oracle.onnx, mars_eqc.tif, mars_geographic.tif, truth.csv and a THEMIS PNG."""
    out = tmp_path_factory.mktemp("plugin_data")
    proc = subprocess.run(
        [geocore_python, "-c", PLUGIN_DATA_SCRIPT, str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise AssertionError(f"making the plugin test data failed: {proc.stderr[-2000:]}")
    return out


def _mars_raster(folder: Path, name: str, authid: str) -> MarsRaster:
    with open(folder / "truth.csv", newline="") as handle:
        rows = [
            (float(r["lon"]), float(r["lat"]), float(r["diameter_km"]))
            for r in csv.DictReader(handle)
        ]
    return MarsRaster(
        folder / name, folder / "truth.csv", tuple(rows), authid, 3_396_190.0 * math.pi / 180 / 128
    )


@pytest.fixture(scope="session")
def tiny_model_path(plugin_test_data) -> Path:
    """A tiny ONNX model with crater.* metadata: probability = sigmoid(10 * (2 x / 255 - 1)).

    Ring targets (4 px wide), resolution that of the ``mars_geotiff`` rasters (463 m/px),
    threshold 0.5, trained diameter range 4-40 km.
    """
    return plugin_test_data / "oracle.onnx"


@pytest.fixture(scope="session")
def mars_geotiff(plugin_test_data) -> MarsRaster:
    """384 x 384 px GeoTIFF in IAU_2015:49910 (equirectangular), lon 100..103, lat -10..-7.

    Six craters of 8-30 km are drawn as ring targets (value 255 on 1), which the
    ``tiny_model_path`` model turns into its probability map.
    """
    return _mars_raster(plugin_test_data, "mars_eqc.tif", "IAU_2015:49910")


@pytest.fixture(scope="session")
def mars_geotiff_geographic(plugin_test_data) -> MarsRaster:
    """The ``mars_geotiff`` scene in IAU_2015:49900 (geographic, 1/128 degree pixels)."""
    return _mars_raster(plugin_test_data, "mars_geographic.tif", "IAU_2015:49900")


@pytest.fixture(scope="session")
def themis_png(plugin_test_data) -> Path:
    """A 240 x 240 px image named like the THEMIS tile thm_dir_N-30_090 (no georeferencing)."""
    return plugin_test_data / "thm_dir_N-30_090.png"


@pytest.fixture(scope="session")
def bad_rasters(mars_geotiff_geographic, tmp_path_factory) -> dict[str, Path]:
    """Copies of the geographic Mars raster that crater detection must refuse (made with GDAL).

    Keys: ``earth`` (labelled EPSG:4326), ``earth_projected`` (EPSG:3857), ``no_crs``,
    ``three_bands`` (IAU_2015:49900, 3 bands), ``rotated`` (a rotated geotransform).
    """
    from osgeo import gdal

    out = tmp_path_factory.mktemp("bad_rasters")
    src = str(mars_geotiff_geographic.path)
    paths = {name: out / f"{name}.tif" for name in ("earth", "earth_projected", "no_crs")}
    gdal.Translate(str(paths["earth"]), src, outputSRS="EPSG:4326")
    gdal.Translate(str(paths["earth_projected"]), src, outputSRS="EPSG:3857",
                   outputBounds=[1.1e7, -7.8e5, 1.15e7, -1.1e6])  # fmt: skip
    gdal.Translate(str(paths["no_crs"]), src)
    dataset = gdal.Open(str(paths["no_crs"]), gdal.GA_Update)
    dataset.SetSpatialRef(None)
    dataset.SetProjection("")
    dataset = None
    paths["three_bands"] = out / "three_bands.tif"
    gdal.Translate(str(paths["three_bands"]), src, bandList=[1, 1, 1])
    paths["rotated"] = out / "rotated.tif"
    gdal.Translate(str(paths["rotated"]), src)
    dataset = gdal.Open(str(paths["rotated"]), gdal.GA_Update)
    c, a, _, f, _, e = dataset.GetGeoTransform()
    dataset.SetGeoTransform((c, a * 0.98, a * 0.2, f, a * 0.2, e * 0.98))
    dataset = None
    return paths


# ------------------------------------------------------------- the plugin zip
@pytest.fixture(scope="session")
def plugin_zip(tmp_path_factory) -> Path:
    """``crater_qgis_plugin.zip`` built by ``scripts/build_plugin.py`` into a temporary folder."""
    out = tmp_path_factory.mktemp("zip") / "crater_qgis_plugin.zip"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_plugin.py"), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="session")
def plugin_profile(plugin_zip, tmp_path_factory) -> Path:
    """A fresh QGIS configuration folder (``QGIS_CUSTOM_CONFIG_PATH``) with the zip installed.

    The zip is unpacked into ``profiles/default/python/plugins`` as "Install from ZIP" does.
    """
    import zipfile

    config = tmp_path_factory.mktemp("qgis_config")
    plugins = config / "profiles" / "default" / "python" / "plugins"
    plugins.mkdir(parents=True)
    with zipfile.ZipFile(plugin_zip) as archive:
        archive.extractall(plugins)
    return config


@pytest.fixture(scope="session")
def qgis_process_env(plugin_profile) -> dict[str, str]:
    """Environment for ``qgis_process.bin`` with the installed plugin and this onnxruntime.

    QGIS's Python is Debian's; onnxruntime lives in the test environment's site-packages,
    as it would after a user's ``pip install --user onnxruntime``.
    """
    import site

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(
        QT_QPA_PLATFORM="offscreen",
        QGIS_CUSTOM_CONFIG_PATH=str(plugin_profile),
        PYTHONPATH=os.pathsep.join(site.getsitepackages()),
    )
    return env
