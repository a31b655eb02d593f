"""Fixtures for tests that run inside real QGIS (QGIS's own Python, numpy 1.24).

These tests run with ``.venv-qgis`` (Debian's python3 with QGIS plus pytest-qgis),
started by ``make test-qgis``. Code that needs rasterio or geopandas runs in the
project's main environment through a subprocess (``GEOCORE_PYTHON``).
"""

from __future__ import annotations

import os
import subprocess
import sys
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
