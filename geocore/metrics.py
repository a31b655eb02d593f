"""Crater-level metrics: precision, recall, F1 and fractional errors, overall and per diameter bin.

:func:`evaluate` matches detections with a reference catalogue
(:func:`geocore.matching.match_catalogs`, DeepMoon's rule, one to one) and counts:

* **TP** (true positives): matched pairs with at least one ``COUNTED`` crater;
* **FP**: ``COUNTED`` detections left unmatched; **FN**: ``COUNTED`` reference
  craters left unmatched. Craters cut by the region's edge or in the diameter
  tolerance band are matched but not counted alone (see :mod:`geocore.matching`).

``precision = TP / (TP + FP)``, ``recall = TP / (TP + FN)``; each is NaN when its
denominator is 0 (no detection, or no reference crater, to score). ``f1`` is the
harmonic mean ``2 P R / (P + R)``; it is 0 when there is no true positive but
something to score (e.g. no detection at all while craters exist: P is NaN, R is 0),
and NaN when there is nothing to score or when P or R is NaN with true positives
present (a bin holding only detections matched to craters of other bins). Overall
this is ``2 TP / (2 TP + FP + FN)``.

Median fractional errors (``lon_error``, ``lat_error``, ``diameter_error``, see
:mod:`geocore.matching`) are taken over the true-positive pairs; NaN when there
are none.

Diameter bins
    Bins are in km, half-open ``[low, high)`` except the last, which is closed
    ``[low, high]`` (so a 32 km crater is in 16-32 with ``max = 32``). A bin's
    recall side is binned by the **reference** diameter: ``tp_reference`` counts
    the true-positive pairs whose reference crater is in the bin, ``false_negatives``
    the unmatched counted reference craters in it. Its precision side is binned by
    the **detected** diameter: ``tp_detected`` counts the true-positive pairs whose
    detection is in the bin, ``false_positives`` the unmatched counted detections in
    it. So a pair of a 3.9 km crater detected as 4.1 km adds to the recall of 2-4
    km and to the precision of 4-8 km. Median errors of a bin are over the pairs
    binned by reference diameter. Craters outside every bin count only overall.

Only numpy and the standard library are imported: the module runs in QGIS.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from .body import MARS, Body
from .crater import CraterCatalog
from .errors import CraterValueError
from .grid import PixelGrid
from .matching import DEFAULT_DIAMETER_MARGIN, MatchResult, Status, match_catalogs

__all__ = ["DEFAULT_BINS", "BinMetrics", "Metrics", "check_bins", "compute_metrics", "evaluate"]

#: Diameter bins of the seed's crater range, km (half-open, the last one closed).
DEFAULT_BINS: tuple[tuple[float, float], ...] = ((2.0, 4.0), (4.0, 8.0), (8.0, 16.0), (16.0, 32.0))

_ERRORS = ("median_lon_error", "median_lat_error", "median_diameter_error")


def _ratio(num: int, den: int) -> float:
    return num / den if den else math.nan


def _f1(precision: float, recall: float, tp: int, scored: int) -> float:
    if tp == 0:
        return 0.0 if scored else math.nan
    if math.isnan(precision) or math.isnan(recall):
        return math.nan
    return 2.0 * precision * recall / (precision + recall)


def _median(values: np.ndarray) -> float:
    return float(np.median(values)) if values.size else math.nan


def _clean(value):
    """JSON-safe value: NaN -> None, numpy scalars -> Python."""
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


@dataclass(frozen=True)
class BinMetrics:
    """Counts and scores of one diameter bin (see the module docstring for the binning).

    Examples
    --------
    >>> b = BinMetrics(2.0, 4.0, tp_reference=3, tp_detected=4, false_positives=0,
    ...                false_negatives=1)
    >>> b.precision, b.recall, round(b.f1, 3)
    (1.0, 0.75, 0.857)
    """

    min_diameter_km: float
    max_diameter_km: float
    tp_reference: int
    tp_detected: int
    false_positives: int
    false_negatives: int
    median_lon_error: float = math.nan
    median_lat_error: float = math.nan
    median_diameter_error: float = math.nan

    def __post_init__(self) -> None:
        for name in ("tp_reference", "tp_detected", "false_positives", "false_negatives"):
            value = getattr(self, name)
            if int(value) != value or value < 0:
                raise ValueError(f"{name} must be a count >= 0, got {value!r}")
            object.__setattr__(self, name, int(value))

    @property
    def precision(self) -> float:
        """``tp_detected / (tp_detected + false_positives)``; NaN with no detection."""
        return _ratio(self.tp_detected, self.tp_detected + self.false_positives)

    @property
    def recall(self) -> float:
        """``tp_reference / (tp_reference + false_negatives)``; NaN with no reference crater."""
        return _ratio(self.tp_reference, self.tp_reference + self.false_negatives)

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall (0 / NaN rules in the module docstring)."""
        tp = self.tp_reference + self.tp_detected
        scored = tp + self.false_positives + self.false_negatives
        return _f1(self.precision, self.recall, tp, scored)

    @property
    def label(self) -> str:
        """E.g. ``"2-4 km"``."""
        return f"{self.min_diameter_km:g}-{self.max_diameter_km:g} km"

    def to_dict(self) -> dict:
        """A JSON-ready dict (NaN as None), scores included."""
        out = {k: _clean(v) for k, v in asdict(self).items()}
        out.update(precision=_clean(self.precision), recall=_clean(self.recall))
        out["f1"] = _clean(self.f1)
        return out


@dataclass(frozen=True)
class Metrics:
    """Crater-level scores of a detection against a reference catalogue.

    Parameters
    ----------
    mode : {"sphere", "pixel"}
        How craters were compared.
    true_positives, false_positives, false_negatives : int
        See the module docstring.
    median_lon_error, median_lat_error, median_diameter_error : float
        Over the true-positive pairs; NaN when there are none.
    bins : tuple of BinMetrics
        Per diameter bin.
    ignored_detected, ignored_reference : int
        Craters matched-but-uncounted or unmatched-and-uncounted (cut by the region
        edge, or in the diameter tolerance band): in no count.
    excluded_detected, excluded_reference : int
        Craters outside the region or the diameter range (with its band).
    region : str or None
        Description of the region, e.g. ``"bbox 90 -30 120 0"``.
    min_diameter_km, max_diameter_km, diameter_margin : float or None
        The diameter range used and its tolerance band.
    """

    mode: str
    true_positives: int
    false_positives: int
    false_negatives: int
    median_lon_error: float
    median_lat_error: float
    median_diameter_error: float
    bins: tuple[BinMetrics, ...] = ()
    ignored_detected: int = 0
    ignored_reference: int = 0
    excluded_detected: int = 0
    excluded_reference: int = 0
    region: str | None = None
    min_diameter_km: float | None = None
    max_diameter_km: float | None = None
    diameter_margin: float = DEFAULT_DIAMETER_MARGIN

    def __post_init__(self) -> None:
        object.__setattr__(self, "bins", tuple(self.bins))

    @property
    def precision(self) -> float:
        """``TP / (TP + FP)``; NaN when no detection is scored."""
        return _ratio(self.true_positives, self.true_positives + self.false_positives)

    @property
    def recall(self) -> float:
        """``TP / (TP + FN)``; NaN when no reference crater is scored."""
        return _ratio(self.true_positives, self.true_positives + self.false_negatives)

    @property
    def f1(self) -> float:
        """``2 TP / (2 TP + FP + FN)``; NaN when nothing is scored."""
        scored = self.true_positives + self.false_positives + self.false_negatives
        return _f1(self.precision, self.recall, self.true_positives, scored)

    def to_dict(self) -> dict:
        """A JSON-ready dict (NaN as None): settings, counts, scores, errors and bins."""
        out = {k: _clean(v) for k, v in asdict(self).items() if k != "bins"}
        out.update(precision=_clean(self.precision), recall=_clean(self.recall), f1=_clean(self.f1))
        out["bins"] = [b.to_dict() for b in self.bins]
        return out

    def to_table(self) -> str:
        """The metrics as a plain-text table, overall then per bin.

        Examples
        --------
        >>> m = Metrics("sphere", 8, 2, 2, 0.1, 0.05, 0.02)
        >>> m.to_table().splitlines()[2].split()
        ['all', '8', '8', '2', '2', '0.800', '0.800', '0.800', '0.100', '0.050', '0.020']
        """

        def num(v: float) -> str:
            return f"{'-':>10}" if math.isnan(v) else f"{v:10.3f}"

        def row(label, counts, scores) -> str:
            return (
                f"{label:<9}" + "".join(f"{c:>7}" for c in counts) + "".join(num(v) for v in scores)
            )

        settings = [f"matched on the {self.mode}" if self.mode == "sphere" else "matched in pixels"]
        settings.append(f"region {self.region or 'none (whole catalogues)'}")
        if self.min_diameter_km is not None or self.max_diameter_km is not None:
            low = "0" if self.min_diameter_km is None else f"{self.min_diameter_km:g}"
            high = "inf" if self.max_diameter_km is None else f"{self.max_diameter_km:g}"
            settings.append(f"diameters {low}-{high} km (margin {self.diameter_margin:.0%})")
        lines = [
            "; ".join(settings),
            f"{'bin (km)':<9}"
            + "".join(f"{h:>7}" for h in ("TP_ref", "TP_det", "FN", "FP"))
            + "".join(
                f"{h:>10}" for h in ("precision", "recall", "F1", "lon_err", "lat_err", "diam_err")
            ),
        ]
        tp = self.true_positives
        errors = [getattr(self, e) for e in _ERRORS]
        lines.append(
            row("all", (tp, tp, self.false_negatives, self.false_positives),
                [self.precision, self.recall, self.f1, *errors])
        )  # fmt: skip
        for b in self.bins:
            label = f"{b.min_diameter_km:g}-{b.max_diameter_km:g}"
            lines.append(
                row(label, (b.tp_reference, b.tp_detected, b.false_negatives, b.false_positives),
                    [b.precision, b.recall, b.f1, *(getattr(b, e) for e in _ERRORS)])
            )  # fmt: skip
        lines.append(
            f"not scored: {self.ignored_detected} detections, {self.ignored_reference} reference "
            "craters cut by the region edge or in the diameter margin\n"
            f"excluded: {self.excluded_detected} detections, {self.excluded_reference} reference "
            "craters outside the region or the diameter range"
        )
        return "\n".join(lines)


def check_bins(bins: Sequence[Sequence[float]]) -> tuple[tuple[float, float], ...]:
    """Validate diameter bins ``[(low, high), ...]`` in km: increasing, not overlapping.

    Raises
    ------
    CraterValueError
        A bin that is not two numbers ``0 <= low < high``, or bins out of order.

    Examples
    --------
    >>> check_bins([(2, 4), (4, 8)])
    ((2.0, 4.0), (4.0, 8.0))
    """
    out = []
    for item in bins:
        try:
            low, high = (float(v) for v in item)
        except (TypeError, ValueError):
            raise CraterValueError(
                f"diameter bin {item!r} must be two numbers (low_km, high_km), e.g. (2, 4)"
            ) from None
        if not (math.isfinite(low) and math.isfinite(high) and 0 <= low < high):
            raise CraterValueError(
                f"diameter bin ({low:g}, {high:g}) km must have 0 <= low < high, e.g. (2, 4)"
            )
        if out and low < out[-1][1]:
            raise CraterValueError(
                f"diameter bin ({low:g}, {high:g}) km overlaps or precedes "
                f"({out[-1][0]:g}, {out[-1][1]:g}); give bins in increasing order"
            )
        out.append((low, high))
    return tuple(out)


def _in_bin(diameter_km: np.ndarray, low: float, high: float, last: bool) -> np.ndarray:
    upper = diameter_km <= high if last else diameter_km < high
    return (diameter_km >= low) & upper


def compute_metrics(
    match: MatchResult,
    detected: CraterCatalog,
    reference: CraterCatalog,
    bins: Sequence[Sequence[float]] = DEFAULT_BINS,
    **settings,
) -> Metrics:
    """Count and score a :class:`~geocore.matching.MatchResult`.

    Parameters
    ----------
    match : MatchResult
        From :func:`~geocore.matching.match_catalogs` on these two catalogues.
    detected, reference : CraterCatalog
        The catalogues that were matched (their ``diameter_km`` are binned).
    bins : sequence of (low_km, high_km)
        Diameter bins.
    **settings
        ``region``, ``min_diameter_km``, ``max_diameter_km``, ``diameter_margin``
        to record in the :class:`Metrics`.

    Raises
    ------
    CraterValueError
        Bad bins, or catalogues that are not those of ``match``.
    """
    bins = check_bins(bins)
    if match.detected_status.size != len(detected) or match.reference_status.size != len(reference):
        raise CraterValueError(
            f"the match was made on {match.detected_status.size} detections and "
            f"{match.reference_status.size} reference craters, not on these catalogues "
            f"({len(detected)} and {len(reference)}); pass the catalogues that were matched"
        )
    counted = match.pair_counted
    pair_det, pair_ref = match.detected_index[counted], match.reference_index[counted]
    errors = [match.lon_error[counted], match.lat_error[counted], match.diameter_error[counted]]
    fp_rows = match.unmatched_detected[
        match.detected_status[match.unmatched_detected] == Status.COUNTED
    ]
    fn_rows = match.unmatched_reference[
        match.reference_status[match.unmatched_reference] == Status.COUNTED
    ]
    det_d, ref_d = np.asarray(detected.diameter_km), np.asarray(reference.diameter_km)

    per_bin = []
    for i, (low, high) in enumerate(bins):
        last = i == len(bins) - 1
        by_ref = _in_bin(ref_d[pair_ref], low, high, last)
        per_bin.append(
            BinMetrics(
                low,
                high,
                tp_reference=int(by_ref.sum()),
                tp_detected=int(_in_bin(det_d[pair_det], low, high, last).sum()),
                false_positives=int(_in_bin(det_d[fp_rows], low, high, last).sum()),
                false_negatives=int(_in_bin(ref_d[fn_rows], low, high, last).sum()),
                **{name: _median(e[by_ref]) for name, e in zip(_ERRORS, errors, strict=True)},
            )
        )

    def uncounted(status: np.ndarray, paired: np.ndarray) -> tuple[int, int]:
        matchable = np.isin(status, (Status.EDGE, Status.MARGIN))
        in_counted_pair = np.zeros(status.size, dtype=bool)
        in_counted_pair[paired] = True
        ignored = int(np.count_nonzero(matchable & ~in_counted_pair))
        excluded = int(np.count_nonzero(np.isin(status, (Status.OUTSIDE, Status.OUT_OF_RANGE))))
        return ignored, excluded

    ignored_d, excluded_d = uncounted(match.detected_status, pair_det)
    ignored_r, excluded_r = uncounted(match.reference_status, pair_ref)
    return Metrics(
        mode=match.mode,
        true_positives=int(counted.sum()),
        false_positives=int(fp_rows.size),
        false_negatives=int(fn_rows.size),
        **{name: _median(e) for name, e in zip(_ERRORS, errors, strict=True)},
        bins=tuple(per_bin),
        ignored_detected=ignored_d,
        ignored_reference=ignored_r,
        excluded_detected=excluded_d,
        excluded_reference=excluded_r,
        **settings,
    )


def _describe_region(region) -> str | None:
    if region is None:
        return None
    if isinstance(region, PixelGrid):
        kind = "georeferenced" if region.is_georeferenced else "pixel"
        return f"{kind} grid {region.width} x {region.height} px"
    return "bbox " + " ".join(f"{float(v):g}" for v in region)


def evaluate(
    detected: CraterCatalog,
    reference: CraterCatalog,
    *,
    bins: Sequence[Sequence[float]] = DEFAULT_BINS,
    region=None,
    min_diameter_km: float | None = None,
    max_diameter_km: float | None = None,
    diameter_margin: float = DEFAULT_DIAMETER_MARGIN,
    mode: str = "auto",
    body: Body = MARS,
) -> Metrics:
    """Match detections with a reference catalogue and score them.

    Parameters
    ----------
    detected, reference : CraterCatalog
        The craters found and the ground truth.
    bins : sequence of (low_km, high_km)
        Diameter bins (default 2-4, 4-8, 8-16, 16-32 km).
    region, min_diameter_km, max_diameter_km, diameter_margin, mode, body
        As :func:`geocore.matching.match_catalogs`.

    Returns
    -------
    Metrics

    Raises
    ------
    CatalogFormatError, CoordinateError, GridError, CraterValueError
        As :func:`~geocore.matching.match_catalogs`; bad bins.

    Examples
    --------
    >>> from geocore.crater import Crater
    >>> truth = CraterCatalog.from_craters([Crater(10, 0, 3.0), Crater(11, 0, 20.0)])
    >>> found = CraterCatalog.from_craters([Crater(10.001, 0, 3.1), Crater(12, 1, 5.0)])
    >>> m = evaluate(found, truth)
    >>> m.true_positives, m.false_positives, m.false_negatives, m.f1
    (1, 1, 1, 0.5)
    >>> [(b.label, b.recall) for b in m.bins][:2]
    [('2-4 km', 1.0), ('4-8 km', nan)]
    """
    bins = check_bins(bins)
    match = match_catalogs(
        detected, reference, region=region, min_diameter_km=min_diameter_km,
        max_diameter_km=max_diameter_km, diameter_margin=diameter_margin, mode=mode, body=body,
    )  # fmt: skip
    return compute_metrics(
        match, detected, reference, bins, region=_describe_region(region),
        min_diameter_km=min_diameter_km, max_diameter_km=max_diameter_km,
        diameter_margin=float(diameter_margin),
    )  # fmt: skip
