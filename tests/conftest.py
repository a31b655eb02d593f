"""Shared test fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real Mars data folder ``../shared/data``; skips the test when it is absent."""
    if not (SHARED_DATA / "robbins2012_pm30").is_dir():
        pytest.skip(f"real data not available: {SHARED_DATA} is absent (only in a full checkout)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def oracle_model():
    """Factory ``oracle_model(path, resolution_m, **model_info_fields) -> path``.

    Writes the tiny ONNX model of ``tests/oracle_model.py`` (its output is
    ``sigmoid(10 * image)``: it predicts the craters an image already draws).
    """
    pytest.importorskip("onnx")
    from oracle_model import write_oracle_model

    return write_oracle_model
