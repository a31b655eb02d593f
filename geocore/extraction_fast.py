"""The fast crater extraction method: coarse search, rim fit, scoring, duplicates.

:func:`fast_method` is what :func:`geocore.extraction.extract_craters` runs for
``method="fast"`` (docs/extraction.md describes each step and its measurements):

0. isolated specks removed (:func:`geocore.coarse_search.despeckle`);
1. candidates from :func:`geocore.coarse_search.coarse_candidates`, merged when
   they are one crater at neighbouring radii or positions;
2. strong candidates fitted (:func:`geocore.rim_fit.fit_rims`) and scored;
3. a second search where the craters found are erased: what is left of craters
   hidden under others (painter's order) stands out; its candidates are fitted
   too (filled targets: weak candidates of the first search are fitted where
   their rim is not on the disks found, and the second search starts at 16 px);
4. scoring by the reference's correlation, a strict duplicate rule, and pairs
   that DeepMoon's rule calls one resolved by leaving the better one out.

Only numpy is needed.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from .coarse_search import coarse_candidates, coarse_radii, despeckle, edge_band
from .crater_duplicates import check_cancel, duplicate_pairs_px, row_index, suppress
from .rim_fit import fit_rims
from .template_matching import CraterWindows, RimGeometry

__all__ = ["fast_method"]

log = logging.getLogger("geocore.extraction")

# coarse maxima closer than this (d^2/min(r)^2, |dr|/min(r)) are one crater
_MERGE = (0.5, 0.25)
# filled targets: the coarse search runs on the band this wide inside each blob's edge
_BAND_PX = 4
# the first search's candidates fitted at once; on filled targets the others are fitted
# only when less than _EXPLAINED of the set pixels on their rim lie on the disks already
# found, and at least _RIM_SET are set
_STRONG = 0.45
_EXPLAINED = 0.6
_RIM_SET = 4
# the coarse search's templates: stretch within +-2.5 % of the band's (a tenth of a pixel
# on a template of 4 coarse pixels)
_COARSE_STRETCH_TOLERANCE = 0.05
# the second search (craters found erased): its threshold above the first one's (below,
# and from this radius on, for filled targets)
_SECOND_MARGIN = 0.05
_SECOND_RADIUS_PX = 16.0


def fast_method(prob, scale, binary, stretch, rmin, rmax, params, cancel):
    """Craters ``(x, y, r, score)`` of a thresholded map by the fast method.

    ``prob`` is the caller's map (``scale`` means probability 1), ``binary`` its
    thresholded copy, ``stretch`` the stretch of each row (None: circles),
    ``rmin, rmax`` the radius range in pixels along a meridian.
    """
    # isolated specks (noise of a probability map) would each answer the coarse search
    binary = despeckle(binary)
    check_cancel(cancel)
    if not binary.any():
        return (np.empty(0),) * 4
    # what the coarse search and the rim test look at: the map, or for filled targets the
    # band inside each blob's edge, matched as a ring (a disk template also answers along
    # the straight-ish edge of any larger disk; its boundary does not)
    evidence, rim, shrink = binary, params.geometry, 0.0
    if rim.kind == "filled":
        check_cancel(cancel)
        evidence = edge_band(binary, _BAND_PX)
        rim, shrink = RimGeometry("ring", float(_BAND_PX)), _BAND_PX / 2.0
    search = _Search(evidence, rim, shrink, stretch, rmin, rmax, params, cancel)
    x, y, r, coarse_score, k = search.candidates(0, params.fast_candidate_threshold)
    if x.size == 0:
        return (np.empty(0),) * 4
    geometry = params.geometry
    # largest window: the rim fit's, around the largest crater, stretched
    outer = geometry.edges(float(search.radii[-1]))[1]
    k_max = 1.0 if stretch is None else float(stretch.max())
    windows = CraterWindows(binary, geometry, 2.4 * max(outer, 4.0) * k_max + 8, cancel)
    # strong candidates first
    strong = coarse_score >= _STRONG
    found = _refine(windows, prob, scale, params, x[strong], y[strong], r[strong], k[strong])
    if params.target_kind == "filled":
        # the edge bands of overlapping disks cross: erased, the disks found would cut the
        # bands of their neighbours, so small weak candidates are tested on the bands
        weak = np.flatnonzero(~strong)
        known = search.footprints(found, params.correlation_threshold)
        weak = weak[search.unexplained(known, x[weak], y[weak], r[weak], k[weak])]
        log.debug("fast method: %d weak candidates fitted, others on known rims", weak.size)
        more = _refine(windows, prob, scale, params, x[weak], y[weak], r[weak], k[weak])
        found = tuple(np.concatenate(p) for p in zip(found, more, strict=True))
        first = search.level_of(_SECOND_RADIUS_PX)
        threshold = params.fast_candidate_threshold - 0.1
    else:
        first, threshold = 1, params.fast_candidate_threshold + _SECOND_MARGIN
    # craters largely hidden under others keep only arcs of rim, too weak for the first
    # search; with the craters found erased, what is left of them stands out
    if first is not None:
        known = search.footprints(found, params.correlation_threshold, grow=2.0)
        mx, my, mr, _, mk = search.candidates(first, max(0.05, threshold), erased=known)
        fresh = np.ones(mx.size, dtype=bool)
        if params.target_kind == "filled":
            fresh = search.unexplained(known, mx, my, mr, mk)
        log.debug("fast method: %d more candidates where found craters are erased", fresh.sum())
        more = _refine(windows, prob, scale, params, mx[fresh], my[fresh], mr[fresh], mk[fresh])
        found = tuple(np.concatenate(p) for p in zip(found, more, strict=True))
    check_cancel(cancel)
    x, y, r, score, k = found
    ok = score > params.correlation_threshold
    x, y, r, score, k = x[ok], y[ok], r[ok], score[ok], k[ok]
    log.debug("fast method: %d of %d candidates above the correlation threshold", x.size, ok.size)
    rule = (params.fast_same_distance_ratio2, params.fast_same_radius_ratio)
    keep = suppress(score, *duplicate_pairs_px(x, y, r, stretch, *rule))
    x, y, r, score, k = x[keep], y[keep], r[keep], score[keep], k[keep]
    keep = _explain_away(windows, x, y, r, k, score, stretch, params.correlation_threshold)
    return x[keep], y[keep], r[keep], score[keep]


class _Search:
    """The coarse search of one map, and what it knows of the craters found."""

    def __init__(self, evidence, rim, shrink, stretch, rmin, rmax, params, cancel):
        self.evidence, self.rim, self.shrink, self.stretch = evidence, rim, shrink, stretch
        self.params, self.cancel = params, cancel
        self.radii, self.levels = coarse_radii(
            rmin, rmax, params.fast_radii_per_octave, params.fast_coarse_radius_px
        )

    def level_of(self, radius_px: float) -> int | None:
        """Index of the first searched radius at least ``radius_px`` on its own level."""
        inner = np.arange(1, self.radii.size - 1)
        ok = inner[(self.radii[inner] >= radius_px - 1e-9)]
        if ok.size == 0:
            return None
        first = int(ok[0])
        # start where a level starts: that level's map is then the coarsest needed
        while first > 1 and self.levels[first - 1] == self.levels[first]:
            first -= 1
        return first

    def candidates(self, first: int, threshold: float, erased=None):
        """Merged coarse maxima ``(x, y, r, score, k)`` of the radii from index ``first``.

        The radius before ``first`` (or the extra one below the range) is searched
        too, on the level of ``first``, and its maxima dropped after the merge.
        """
        lo = max(0, first - 1)
        radii, levels = self.radii[lo:], self.levels[lo:].copy()
        levels[0] = levels[min(1, levels.size - 1)]
        evidence = self.evidence if erased is None else self.evidence & ~erased
        x, y, r, score = coarse_candidates(
            evidence,
            self.rim,
            self.shrink,
            self.stretch,
            radii,
            levels,
            threshold,
            stretch_tolerance=max(self.params.stretch_tolerance, _COARSE_STRETCH_TOLERANCE),
            block_px=self.params.block_px,
            cancel=self.cancel,
        )
        # merge the maxima of one crater at neighbouring radii and positions, strictly, so
        # that a neighbour is never merged away before its own fit
        keep = suppress(score, *duplicate_pairs_px(x, y, r, self.stretch, *_MERGE))
        keep &= (r > radii[0] * 1.0001) & (r < radii[-1] * 0.9999)  # the extra radii
        height, width = self.evidence.shape
        x, y, r = np.clip(x[keep], 0, width - 1), np.clip(y[keep], 0, height - 1), r[keep]
        k = np.ones(x.size)
        if self.stretch is not None:
            k = self.stretch[row_index(y, self.stretch.size)]
        return x, y, r, score[keep], k

    def footprints(self, found, threshold, grow=1.0):
        """Footprints (as the search sees them) of the craters found above ``threshold``."""
        x, y, r, score, k = found
        ok = score > threshold
        return _footprints(
            self.evidence.shape, self.rim, x[ok], y[ok], r[ok] - self.shrink, k[ok], grow
        )

    def unexplained(self, known, x, y, r, k):
        """Candidates whose rim is not mostly on the footprints ``known``."""
        frac = _explained_fraction(self.evidence, known, self.rim, x, y, r - self.shrink, k)
        return frac < _EXPLAINED


def _refine(windows, prob, scale, params, x, y, r, k):
    """Fit candidates at full resolution and score them: ``(x, y, r, score, k)``."""
    if x.size == 0:
        return x, y, r, np.empty(0), k
    fx, fy, fr = fit_rims(windows, prob, scale, params.threshold, x, y, r, k)
    check_cancel(windows.cancel)
    score = windows.score(fx, fy, fr, k)
    # where the fitted crater fails, the coarse one may pass (a fit pulled by a neighbour)
    retry = np.flatnonzero((score <= params.correlation_threshold) & ((fx != x) | (fr != r)))
    coarse = windows.score(x[retry], y[retry], r[retry], k[retry])
    better = retry[coarse > score[retry]]
    fx[better], fy[better], fr[better] = x[better], y[better], r[better]
    score[better] = np.maximum(score[better], coarse[coarse > score[retry]])
    return fx, fy, fr, score, k


def _footprints(shape, geometry: RimGeometry, x, y, r, k, grow=1.5) -> np.ndarray:
    """Boolean map of the craters' footprints, grown by ``grow`` pixels."""
    out = np.zeros(shape, dtype=bool)
    inner, outer = geometry.edges_array(r)
    inner, outer = inner - grow, outer + grow
    rows = zip(x.tolist(), y.tolist(), k.tolist(), inner.tolist(), outer.tolist(), strict=True)
    for xi, yi, ki, lo, hi in rows:
        r0, r1 = max(0, math.floor(yi - hi)), min(shape[0], math.ceil(yi + hi) + 1)
        c0, c1 = max(0, math.floor(xi - hi * ki)), min(shape[1], math.ceil(xi + hi * ki) + 1)
        if r0 >= r1 or c0 >= c1:
            continue
        dy = np.arange(r0, r1)[:, None] - yi
        dx = (np.arange(c0, c1)[None, :] - xi) / ki
        d2 = dx * dx + dy * dy
        inside = d2 <= hi * hi
        if lo > 0:
            inside &= d2 > lo * lo
        out[r0:r1, c0:c1] |= inside
    return out


def _explained_fraction(binary, explained, geometry, x, y, r, k) -> np.ndarray:
    """Fraction of the set pixels on each candidate's rim that lie on known footprints.

    The rim is sampled in 32 directions at 21 radii from 0.8 to 1.2 times the
    radius of the footprint's middle; a candidate with fewer than ``_RIM_SET``
    samples set counts as explained (1).
    """
    inner, outer = geometry.edges_array(r)
    middle = np.where(np.isfinite(inner), (inner + outer) / 2.0, outer - 1.0)
    angles = np.linspace(0.0, 2.0 * np.pi, 32, endpoint=False)
    # the coarse radius may be off by 10-15 %: sample densely enough not to step over a rim
    radii = middle[:, None, None] * np.linspace(0.8, 1.2, 21)[None, :, None]
    cols = np.round(x[:, None, None] + radii * np.cos(angles) * k[:, None, None]).astype(np.int64)
    rows = np.round(y[:, None, None] + radii * np.sin(angles)).astype(np.int64)
    inside = (cols >= 0) & (cols < binary.shape[1]) & (rows >= 0) & (rows < binary.shape[0])
    cols, rows = np.clip(cols, 0, binary.shape[1] - 1), np.clip(rows, 0, binary.shape[0] - 1)
    on = binary[rows, cols] & inside
    known = on & explained[rows, cols]
    total = on.sum(axis=(1, 2))
    fraction = np.where(total > 0, known.sum(axis=(1, 2)) / np.maximum(total, 1), 1.0)
    # hardly anything set on the rim (isolated specks): as good as explained
    return np.where(total < _RIM_SET, 1.0, fraction)


def _explain_away(windows, x, y, r, k, score, stretch, threshold) -> np.ndarray:
    """Resolve craters that DeepMoon's rule calls one: keep each that its betters do not explain.

    In decreasing score, a crater with kept neighbours (by DeepMoon's rule) is
    scored again with their footprints left out of its window; it is kept when
    that score is still above ``threshold`` (a real crater overlapping another
    keeps most of its rim; a mis-sized or mis-placed copy of a kept one does not).
    """
    n = x.size
    i, j = duplicate_pairs_px(x, y, r, stretch)
    kept = np.ones(n, dtype=bool)
    if i.size == 0:
        return kept
    src, dst = np.concatenate([i, j]), np.concatenate([j, i])
    order = np.argsort(src, kind="stable")
    src, dst = src[order], dst[order]
    start = np.searchsorted(src, np.arange(n + 1)).tolist()
    involved = np.zeros(n, dtype=bool)
    involved[src] = True
    kept[involved] = False
    for c in np.lexsort((np.arange(n), -score)).tolist():
        if not involved[c]:
            continue
        others = dst[start[c] : start[c + 1]]
        others = others[kept[others]]
        if others.size == 0 or windows.score_without(c, others, x, y, r, k) > threshold:
            kept[c] = True
    return kept



