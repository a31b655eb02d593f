"""Build ``crater_qgis_plugin.zip``, ready for QGIS's "Install from ZIP".

The zip holds one folder, ``crater_qgis_plugin/``, with the plugin's code,
``metadata.txt``, ``icon.svg`` and ``LICENSE`` from the repository root, and
geocore vendored under ``_vendor/geocore`` (its package only, with the bundled
default model when ``geocore/models/crater_default.onnx`` exists), so that the
plugin needs nothing but QGIS and onnxruntime. Entries are sorted and dated
1980-01-01, so the same sources give the same zip.

Usage: ``python3 scripts/build_plugin.py [--out crater_qgis_plugin.zip] [--overwrite]``
(``make plugin``). Standard library only.
"""

from __future__ import annotations

import argparse
import os
import sys
import uuid
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = "crater_qgis_plugin"
#: Files copied from the repository root into the plugin folder.
ROOT_FILES = ("metadata.txt", "icon.svg", "LICENSE")
#: File suffixes taken from the plugin and geocore packages.
SUFFIXES = {".py", ".typed", ".onnx", ".svg", ".qml"}
_SKIP_DIRS = {"__pycache__", "_vendor", ".pytest_cache"}
_DATE = (1980, 1, 1, 0, 0, 0)


def _package_files(package: Path) -> list[Path]:
    files = []
    for path in sorted(package.rglob("*")):
        relative = path.relative_to(package)
        if any(part in _SKIP_DIRS for part in relative.parts[:-1]):
            continue
        if path.is_file() and path.suffix in SUFFIXES and path.name not in _SKIP_DIRS:
            files.append(path)
    return files


def plugin_entries(root: Path = ROOT) -> list[tuple[str, Path]]:
    """``(name in the zip, source file)`` for every file of the plugin zip, sorted.

    Raises
    ------
    SystemExit
        A file the zip needs is missing from the repository.
    """
    entries = []
    for name in ROOT_FILES:
        source = root / name
        if not source.is_file():
            raise SystemExit(f"build_plugin: {source} is missing; the plugin zip needs it")
        entries.append((f"{PLUGIN}/{name}", source))
    for source in _package_files(root / PLUGIN):
        entries.append((f"{PLUGIN}/{source.relative_to(root / PLUGIN).as_posix()}", source))
    geocore = root / "geocore"
    for source in _package_files(geocore):
        name = f"{PLUGIN}/_vendor/geocore/{source.relative_to(geocore).as_posix()}"
        entries.append((name, source))
    return sorted(entries)


def build(out: Path, overwrite: bool = False, root: Path = ROOT) -> list[str]:
    """Write the plugin zip to ``out`` (through a temporary file); the names it holds.

    Raises
    ------
    SystemExit
        ``out`` exists and ``overwrite`` is false, or its folder is missing.
    """
    out = Path(out)
    if out.exists() and not overwrite:
        raise SystemExit(f"build_plugin: {out} already exists; pass --overwrite to replace it")
    if not out.parent.is_dir():
        raise SystemExit(f"build_plugin: folder {out.parent} does not exist; create it first")
    entries = plugin_entries(root)
    tmp = out.with_name(f".{out.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, source in entries:
                info = zipfile.ZipInfo(name, date_time=_DATE)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, source.read_bytes())
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return [name for name, _ in entries]


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / f"{PLUGIN}.zip", help="zip to write")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing zip")
    args = parser.parse_args(argv)
    names = build(args.out, args.overwrite)
    model = any(name.endswith("models/crater_default.onnx") for name in names)
    print(
        f"{args.out}: {len(names)} files, geocore vendored, "
        f"{'with' if model else 'without'} a bundled default model"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
