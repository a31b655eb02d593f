"""``make plugin``'s zip: its contents, and that it installs into a fresh QGIS profile and loads.

The install test runs in a separate QGIS Python without the repository on its path, so the
plugin must find geocore in its own ``_vendor`` folder, as on a user's machine.
"""

from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.qgis

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "scripts" / "build_plugin.py"

# Runs in QGIS's Python from the fresh profile: load the plugin as QGIS does, register its
# Processing provider, detect craters with the tiny model, unload.
LOAD_SCRIPT = """
import json, sys
from qgis.core import QgsApplication
app = QgsApplication([], False)
app.initQgis()
plugins = sys.argv[1]
sys.path.append(QgsApplication.pkgDataPath() + "/python/plugins")  # QGIS's own: processing
import qgis.utils
from processing.core.Processing import Processing
Processing.initialize()
qgis.utils.plugin_paths = [plugins]
sys.path.insert(0, plugins)
qgis.utils.updateAvailablePlugins()
out = {"available": "crater_qgis_plugin" in qgis.utils.available_plugins}
out["name"] = qgis.utils.pluginMetadata("crater_qgis_plugin", "name")
out["loaded"] = qgis.utils.loadPlugin("crater_qgis_plugin")
out["started"] = qgis.utils.startProcessingPlugin("crater_qgis_plugin")
import geocore
out["geocore"] = geocore.__file__
registry = QgsApplication.processingRegistry()
out["algorithms"] = sorted(a.id() for a in registry.providerById("craterdetect").algorithms())
import processing
result = processing.run("craterdetect:detectcraters", {
    "INPUT": sys.argv[2], "MODEL": sys.argv[3], "MIN_DIAMETER_KM": 4, "MAX_DIAMETER_KM": 40,
    "OUTPUT": "memory:"})
out["craters"] = result["CRATER_COUNT"]
out["heavy"] = [m for m in ("rasterio", "geopandas", "pyproj", "shapely", "tensorflow")
                if m in sys.modules]
# startProcessingPlugin does not mark the plugin active, so unloadPlugin would skip it;
# headless (qgis_process, scripts) QGIS gives the plugin no iface
try:
    qgis.utils.plugins["crater_qgis_plugin"].unload()
    out["unload_error"] = None
except Exception as err:
    out["unload_error"] = repr(err)
out["provider_after_unload"] = registry.providerById("craterdetect") is not None
del result
print("RESULT " + json.dumps(out))
app.exitQgis()
"""


def names_in(zip_path):
    with zipfile.ZipFile(zip_path) as archive:
        return archive.namelist()


def test_zip_holds_plugin_metadata_and_vendored_geocore(plugin_zip):
    names = names_in(plugin_zip)
    for name in (
        "metadata.txt",
        "icon.svg",
        "LICENSE",
        "__init__.py",
        "layer_source.py",
        "processing/provider.py",
        "processing/detect_algorithm.py",
        "_vendor/geocore/__init__.py",
        "_vendor/geocore/detection.py",
        "_vendor/geocore/py.typed",
    ):
        assert f"crater_qgis_plugin/{name}" in names, name
    assert all(n.startswith("crater_qgis_plugin/") for n in names)
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or "/tests/" in n]
    assert not [n for n in names if n.startswith("crater_qgis_plugin/_vendor/") and
                not n.startswith("crater_qgis_plugin/_vendor/geocore/")]  # fmt: skip
    has_model = (ROOT / "geocore" / "models" / "crater_default.onnx").is_file()
    assert ("crater_qgis_plugin/_vendor/geocore/models/crater_default.onnx" in names) == has_model


def test_metadata_follows_qgis_conventions(plugin_zip):
    with zipfile.ZipFile(plugin_zip) as archive:
        text = archive.read("crater_qgis_plugin/metadata.txt").decode("utf-8")
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    meta = parser["general"]
    for key in ("name", "description", "about", "version", "author", "email", "repository",
                "tracker", "category", "icon"):  # fmt: skip
        assert meta.get(key, "").strip(), key
    assert meta["qgisMinimumVersion"] == "3.22"
    assert meta["hasProcessingProvider"] == "yes"
    assert f"crater_qgis_plugin/{meta['icon']}" in names_in(plugin_zip)
    about = meta["about"]
    assert "onnxruntime" in about and "OSGeo4W Shell" in about and "pip install" in about
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert meta["version"] == project["version"]


def test_build_is_reproducible_and_never_clobbers(tmp_path):
    first, again = tmp_path / "first.zip", tmp_path / "again.zip"
    for out in (first, again):
        proc = subprocess.run([sys.executable, str(BUILD), "--out", str(out)], capture_output=True)
        assert proc.returncode == 0, proc.stderr
    assert again.read_bytes() == first.read_bytes()
    proc = subprocess.run(
        [sys.executable, str(BUILD), "--out", str(again)], capture_output=True, text=True
    )
    assert proc.returncode != 0 and "pass --overwrite" in proc.stderr
    assert again.read_bytes() == first.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again.zip", "first.zip"]  # no temp


def test_zip_installs_into_a_fresh_profile_and_loads(
    plugin_profile, tmp_path, mars_geotiff, tiny_model_path
):
    plugins = plugin_profile / "profiles" / "default" / "python" / "plugins"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(QT_QPA_PLATFORM="offscreen", QGIS_CUSTOM_CONFIG_PATH=str(plugin_profile))
    proc = subprocess.run(
        [sys.executable, "-c", LOAD_SCRIPT, str(plugins), str(mars_geotiff.path),
         str(tiny_model_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = json.loads(lines[-1][len("RESULT ") :])
    assert out["available"] and out["name"] == "Mars Crater Detection"
    assert out["loaded"] and out["started"]
    # geocore came from the zip, not from the repository
    assert Path(out["geocore"]).is_relative_to(plugins / "crater_qgis_plugin" / "_vendor")
    assert out["algorithms"] == [
        "craterdetect:detectcraters",
        "craterdetect:evaluatecraters",
        "craterdetect:georeferencethemis",
    ]
    assert out["craters"] == 6
    assert out["heavy"] == []
    assert out["unload_error"] is None  # unload() must work without an iface
    assert not out["provider_after_unload"]
