"""Duplicate craters: DeepMoon's "same crater" rule, pair listing and greedy suppression.

Two craters ``(x1, y1, r1)`` and ``(x2, y2, r2)`` are the same when
``d^2 / min(r1, r2)^2 < distance_ratio2`` and ``|r1 - r2| / min(r1, r2) <
radius_ratio`` (DeepMoon, Silburt et al. 2019: 1.8 and 1.0). In one map the x
distance is divided by the pair's ``1/cos(lat)`` stretch.

* :func:`duplicate_pairs` lists the pairs through a grid of cells per radius
  class (memory linear in the pairs, not the square of the craters).
* :func:`greedy_keep` keeps craters best first, each kept crater removing its
  duplicates; :func:`suppress` does the same from the pairs in vectorised
  rounds, :func:`nms_px` with a loop over a grid of kept craters (memory linear
  in the craters, for the 10^5-10^6 maxima of the template method).

Only numpy is needed.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from .errors import CancelledError

__all__ = [
    "DISTANCE_RATIO2",
    "RADIUS_RATIO",
    "check_cancel",
    "duplicate_pairs",
    "duplicate_pairs_px",
    "greedy_keep",
    "grid_pairs",
    "nms_px",
    "row_index",
    "suppress",
]

# DeepMoon's duplicate / match rule: d^2 / min(r)^2 < 1.8 and |r1 - r2| / min(r) < 1
DISTANCE_RATIO2 = 1.8
RADIUS_RATIO = 1.0


def check_cancel(cancel) -> None:
    """Raise :class:`CancelledError` when ``cancel`` is given and returns True."""
    if cancel is not None and cancel():
        raise CancelledError("crater extraction cancelled")


def row_index(y, n):
    """The row of each pixel-centre ``y``, clipped to ``0..n-1``."""
    return np.clip(np.round(y).astype(np.int64), 0, n - 1)


def nms_px(
    x,
    y,
    r,
    score,
    stretch,
    distance_ratio2=DISTANCE_RATIO2,
    radius_ratio=RADIUS_RATIO,
    cancel=None,
) -> np.ndarray:
    """Mask of craters kept by greedy suppression (best score first) with DeepMoon's rule.

    A loop over the craters in decreasing score that looks up the kept craters
    in the neighbouring cells of a grid per radius class: memory linear in the
    number of craters (the template method can have 10^5-10^6 maxima); the same
    result as :func:`greedy_keep` on :func:`duplicate_pairs_px`.
    """
    if x.size == 0:
        return np.zeros(0, dtype=bool)
    k = np.ones(x.size) if stretch is None else stretch[row_index(y, stretch.size)]
    base = 1.0 + radius_ratio
    reach = math.sqrt(distance_ratio2)
    cls = np.floor(np.log(np.maximum(r, 1e-12)) / math.log(base)).astype(np.int64)
    k_max = float(k.max())
    cells: dict[tuple[int, int, int], list[int]] = {}
    keep = np.zeros(x.size, dtype=bool)
    xs, ys, rs, ks, cs = x.tolist(), y.tolist(), r.tolist(), k.tolist(), cls.tolist()
    for count, i in enumerate(np.lexsort((np.arange(x.size), -score)).tolist()):
        if count % 65536 == 0:
            check_cancel(cancel)
        xi, yi, ri, ki, ci = xs[i], ys[i], rs[i], ks[i], cs[i]
        duplicate = False
        for c in (ci - 1, ci, ci + 1):
            size = reach * base ** (c + 1)
            gx, gy = math.floor(xi / (size * k_max)), math.floor(yi / size)
            for dx in (-1, 0, 1):
                for dy in (-1, 0, 1):
                    for j in cells.get((c, gx + dx, gy + dy), ()):
                        rmin = min(ri, rs[j])
                        ddx = (xi - xs[j]) / ((ki + ks[j]) / 2.0)
                        d2 = (ddx * ddx + (yi - ys[j]) ** 2) / (rmin * rmin)
                        if d2 < distance_ratio2 and abs(ri - rs[j]) / rmin < radius_ratio:
                            duplicate = True
                            break
                    if duplicate:
                        break
                if duplicate:
                    break
            if duplicate:
                break
        if not duplicate:
            keep[i] = True
            size = reach * base ** (ci + 1)
            key = (ci, math.floor(xi / (size * k_max)), math.floor(yi / size))
            cells.setdefault(key, []).append(i)
    return keep


def duplicate_pairs_px(
    x, y, r, stretch, distance_ratio2=DISTANCE_RATIO2, radius_ratio=RADIUS_RATIO
):
    """Duplicate pairs among craters of one map; x distances are divided by the stretch."""
    if stretch is None:
        return duplicate_pairs(np.stack([x, y], 1), r, None, distance_ratio2, radius_ratio)
    k = stretch[np.clip(np.round(y).astype(int), 0, stretch.size - 1)]
    return duplicate_pairs(np.stack([x, y], 1), r, k, distance_ratio2, radius_ratio)


def duplicate_pairs(points, radius, stretch, distance_ratio2, radius_ratio):
    """Pairs ``(i, j)`` (i < j) that are the same crater by DeepMoon's rule.

    ``points`` is ``(n, dim)``; with ``stretch`` (per point, 2-D only) the x
    distance of a pair is divided by the pair's mean stretch.
    """
    n = radius.size
    if n < 2:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    radius = np.maximum(np.asarray(radius, float), 1e-12)
    base = 1.0 + radius_ratio
    k_max = 1.0 if stretch is None else float(np.max(stretch))
    reach = math.sqrt(distance_ratio2)
    cls = np.floor(np.log(radius) / math.log(base)).astype(np.int64)
    found_i, found_j = [], []
    for c in np.unique(cls):
        a = np.flatnonzero(cls == c)
        b = np.flatnonzero((cls == c) | (cls == c + 1))
        cell = reach * base ** (c + 1)
        scale = np.full(points.shape[1], cell)
        scale[0] *= k_max
        ia, ib = grid_pairs(points[a] / scale, points[b] / scale)
        ia, ib = a[ia], b[ib]
        keep = (ia < ib) | (cls[ib] != c)
        found_i.append(ia[keep])
        found_j.append(ib[keep])
    i, j = np.concatenate(found_i), np.concatenate(found_j)
    i, j = np.minimum(i, j), np.maximum(i, j)
    delta = points[i] - points[j]
    if stretch is not None:
        delta[:, 0] /= (stretch[i] + stretch[j]) / 2.0
    rmin = np.minimum(radius[i], radius[j])
    same = (np.sum(delta * delta, axis=1) / rmin**2 < distance_ratio2) & (
        np.abs(radius[i] - radius[j]) / rmin < radius_ratio
    )
    return i[same], j[same]


def grid_pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs of points of ``a`` and ``b`` in the same or neighbouring unit cells."""
    if a.shape[0] == 0 or b.shape[0] == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    ca, cb = np.floor(a).astype(np.int64), np.floor(b).astype(np.int64)
    low = np.minimum(ca.min(0), cb.min(0)) - 1
    ca, cb = ca - low, cb - low
    extent = np.maximum(ca.max(0), cb.max(0)) + 2
    strides = np.cumprod(np.concatenate([[1], extent[:-1]]))
    key_b = cb @ strides
    order = np.argsort(key_b, kind="stable")
    sorted_b = key_b[order]
    out_a, out_b = [], []
    for offset in itertools.product((-1, 0, 1), repeat=a.shape[1]):
        key = (ca + np.array(offset)) @ strides
        lo, hi = np.searchsorted(sorted_b, key, "left"), np.searchsorted(sorted_b, key, "right")
        count = hi - lo
        total = int(count.sum())
        if total == 0:
            continue
        ia = np.repeat(np.arange(a.shape[0]), count)
        within = np.arange(total) - np.repeat(np.cumsum(count) - count, count)
        out_a.append(ia)
        out_b.append(order[np.repeat(lo, count) + within])
    if not out_a:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(out_a), np.concatenate(out_b)


def greedy_keep(score, i, j) -> np.ndarray:
    """Keep craters in decreasing score; each kept crater removes its duplicates."""
    n = score.size
    keep = np.ones(n, dtype=bool)
    if i.size == 0:
        return keep
    src = np.concatenate([i, j])
    dst = np.concatenate([j, i])
    order = np.argsort(src, kind="stable")
    src, dst = src[order], dst[order]
    start = np.searchsorted(src, np.arange(n + 1))
    involved = np.zeros(n, dtype=bool)
    involved[src] = True
    rank = np.lexsort((np.arange(n), -score))
    start_l, dst_l = start.tolist(), dst
    for c in rank[involved[rank]].tolist():
        if keep[c]:
            keep[dst_l[start_l[c] : start_l[c + 1]]] = False
    return keep

def suppress(score, i, j, max_rounds: int = 64) -> np.ndarray:
    """:func:`greedy_keep` in vectorised rounds over the pairs (the same mask).

    Each round keeps the craters whose better neighbours are all removed and
    removes the neighbours of the craters kept; the rounds needed are the
    longest chain of ever better neighbours, a handful on crater maps. After
    ``max_rounds`` the rest is left to :func:`greedy_keep`'s loop.

    Examples
    --------
    >>> suppress(np.array([0.9, 0.8, 0.7]), np.array([0, 1]), np.array([1, 2])).tolist()
    [True, False, True]
    """
    n = score.size
    keep = np.ones(n, dtype=bool)
    if i.size == 0:
        return keep
    rank = np.empty(n, dtype=np.int64)
    rank[np.lexsort((np.arange(n), -score))] = np.arange(n)
    better = np.where(rank[i] < rank[j], i, j)
    worse = np.where(rank[i] < rank[j], j, i)
    state = np.zeros(n, dtype=np.int8)  # 0 undecided, 1 kept, -1 removed
    has_better = np.zeros(n, dtype=bool)
    has_better[worse] = True
    state[~has_better] = 1
    for _ in range(max_rounds):
        state[worse[(state[better] == 1) & (state[worse] == 0)]] = -1
        open_edges = (state[better] != -1) & (state[worse] == 0)
        if not open_edges.any() and not (state == 0).any():
            break
        blocked = np.zeros(n, dtype=bool)
        blocked[worse[open_edges]] = True
        state[(state == 0) & ~blocked] = 1
        if not (state == 0).any():
            state[worse[(state[better] == 1) & (state[worse] == 0)]] = -1
            break
    undecided = np.flatnonzero(state == 0)
    if undecided.size:  # a long chain: finish in rank order with a loop
        order = np.argsort(worse, kind="stable")
        worse_s, better_s = worse[order], better[order]
        start = np.searchsorted(worse_s, np.arange(n + 1)).tolist()
        for c in undecided[np.argsort(rank[undecided])].tolist():
            above = better_s[start[c] : start[c + 1]]
            state[c] = -1 if (state[above] == 1).any() else 1
    return state == 1
