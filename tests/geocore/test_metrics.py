"""Tests of geocore.metrics: counts, scores, bins, NaN rules, JSON and table output."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from geocore.body import MARS
from geocore.crater import CraterCatalog
from geocore.errors import CraterValueError
from geocore.matching import match_catalogs
from geocore.metrics import DEFAULT_BINS, BinMetrics, Metrics, check_bins, compute_metrics, evaluate

KM_PER_DEG = MARS.metres_per_degree / 1000.0


def cat(*rows) -> CraterCatalog:
    if not rows:
        return CraterCatalog.empty()
    lon, lat, d = (np.array(v, dtype=float) for v in zip(*rows, strict=True))
    return CraterCatalog(lon, lat, d)


def test_perfect_match_scores_one():
    ref = cat((0, 0, 3.0), (1, 0, 5.0), (2, 0, 10.0), (3, 0, 20.0), (4, 0, 40.0))
    m = evaluate(ref, ref)
    assert (m.true_positives, m.false_positives, m.false_negatives) == (5, 0, 0)
    assert (m.precision, m.recall, m.f1) == (1.0, 1.0, 1.0)
    assert (m.median_lon_error, m.median_lat_error, m.median_diameter_error) == (0, 0, 0)
    # the 40 km crater is in no bin but counts overall
    assert [(b.tp_reference, b.tp_detected) for b in m.bins] == [(1, 1)] * 4


def test_counts_scores_and_median_errors():
    ref = cat((0, 0, 10.0), (1, 0, 10.0), (2, 0, 10.0), (3, 0, 10.0))
    shift = 0.5 / KM_PER_DEG  # 0.5 km east: lon error 0.1 of the 5 km radius
    det = cat((0, 0, 11.0), (1 + shift, 0, 10.0), (2, 0, 9.0), (5, 0, 10.0))
    m = evaluate(det, ref)
    assert (m.true_positives, m.false_positives, m.false_negatives) == (3, 1, 1)
    assert m.precision == m.recall == m.f1 == 0.75
    assert m.median_lon_error == pytest.approx(0.0, abs=1e-9)  # errors 0, 0.1, 0
    assert m.median_lat_error == 0.0
    assert m.median_diameter_error == pytest.approx(0.1)  # 0.1, 0, 0.1


def test_pairs_are_binned_by_reference_for_recall_and_detection_for_precision():
    ref = cat((0, 0, 3.9), (1, 0, 6.0), (2, 0, 32.0))
    det = cat((0, 0, 4.1), (3, 0, 5.0), (2, 0, 31.0))
    m = evaluate(det, ref)
    b24, b48, b816, b1632 = m.bins
    assert (b24.tp_reference, b24.tp_detected, b24.false_negatives, b24.false_positives) == (
        1, 0, 0, 0,
    )  # fmt: skip
    assert (b48.tp_reference, b48.tp_detected, b48.false_negatives, b48.false_positives) == (
        0, 1, 1, 1,
    )  # fmt: skip
    assert (b816.tp_reference, b816.tp_detected) == (0, 0)
    assert (b1632.tp_reference, b1632.tp_detected) == (1, 1)  # 32 km: the last bin is closed
    assert b24.recall == 1.0 and math.isnan(b24.precision)
    assert b48.recall == 0.0 and b48.precision == 0.5
    # the 3.9 -> 4.1 pair's error is in the bin of its reference
    assert b24.median_diameter_error == pytest.approx(0.2 / 3.9)
    assert math.isnan(b48.median_diameter_error)


def test_bin_edges_are_half_open():
    ref = cat((0, 0, 4.0))
    m = evaluate(ref, ref)
    assert [b.tp_reference for b in m.bins] == [0, 1, 0, 0]


def test_empty_inputs_give_nan_not_errors():
    empty, some = cat(), cat((0, 0, 3.0), (1, 0, 5.0))
    m = evaluate(empty, empty)
    assert (m.true_positives, m.false_positives, m.false_negatives) == (0, 0, 0)
    assert math.isnan(m.precision) and math.isnan(m.recall) and math.isnan(m.f1)
    assert math.isnan(m.median_diameter_error)
    m = evaluate(empty, some)  # found nothing: precision undefined, recall and F1 0
    assert math.isnan(m.precision) and m.recall == 0.0 and m.f1 == 0.0
    m = evaluate(some, empty)  # found only false craters
    assert m.precision == 0.0 and math.isnan(m.recall) and m.f1 == 0.0
    assert all(math.isnan(b.f1) for b in evaluate(empty, empty).bins)


def test_bin_f1_rules():
    assert BinMetrics(2, 4, 3, 4, 0, 1).f1 == pytest.approx(2 * 1.0 * 0.75 / 1.75)
    # detections matched to craters of other bins only: precision 1, recall undefined
    assert math.isnan(BinMetrics(2, 4, 0, 2, 0, 0).f1)
    assert BinMetrics(2, 4, 0, 0, 3, 0).f1 == 0.0
    assert math.isnan(BinMetrics(2, 4, 0, 0, 0, 0).f1)
    with pytest.raises(ValueError, match="count >= 0"):
        BinMetrics(2, 4, -1, 0, 0, 0)


def test_to_dict_is_strict_json_and_table_lists_every_bin():
    ref = cat((0, 0, 3.0), (1, 0, 20.0))
    det = cat((0, 0, 3.1), (5, 0, 6.0))
    m = evaluate(det, ref, region=(-1, -1, 6, 1), min_diameter_km=2, max_diameter_km=32)
    data = json.loads(json.dumps(m.to_dict(), allow_nan=False))
    assert data["true_positives"] == 1 and data["f1"] == 0.5
    assert data["region"] == "bbox -1 -1 6 1" and data["min_diameter_km"] == 2
    assert [b["min_diameter_km"] for b in data["bins"]] == [2, 4, 8, 16]
    assert data["bins"][1]["recall"] is None and data["bins"][1]["precision"] == 0.0
    table = m.to_table().splitlines()
    assert table[0].startswith("matched on the sphere; region bbox -1 -1 6 1; diameters 2-32 km")
    assert [line.split()[0] for line in table[2:7]] == ["all", "2-4", "4-8", "8-16", "16-32"]
    assert table[2].split()[1:8] == ["1", "1", "1", "1", "0.500", "0.500", "0.500"]
    assert table[3].split()[-1] != "-" and table[4].split()[-1] == "-"


def test_custom_bins_and_bad_bins():
    ref = cat((0, 0, 3.0), (1, 0, 50.0))
    m = evaluate(ref, ref, bins=[(1, 10), (10, 100)])
    assert [b.tp_reference for b in m.bins] == [1, 1]
    assert check_bins(DEFAULT_BINS) == DEFAULT_BINS
    with pytest.raises(CraterValueError, match="0 <= low < high"):
        evaluate(ref, ref, bins=[(4, 2)])
    with pytest.raises(CraterValueError, match="increasing order"):
        evaluate(ref, ref, bins=[(2, 8), (4, 16)])
    with pytest.raises(CraterValueError, match="two numbers"):
        evaluate(ref, ref, bins=[2, 4])


def test_compute_metrics_refuses_other_catalogues():
    ref = cat((0, 0, 3.0))
    match = match_catalogs(ref, ref)
    assert compute_metrics(match, ref, ref).true_positives == 1
    with pytest.raises(CraterValueError, match="pass the catalogues that were matched"):
        compute_metrics(match, cat((0, 0, 3.0), (1, 0, 3.0)), ref)


def test_metrics_value_is_frozen():
    m = Metrics("sphere", 1, 0, 0, 0.0, 0.0, 0.0)
    with pytest.raises(AttributeError):
        m.true_positives = 2
