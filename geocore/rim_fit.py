"""Rim fit: a crater's centre and radius at full resolution from the map's threshold crossings.

The crossings near a candidate (sub-pixel, between a pixel and its right or
lower neighbour) are split into inner and outer edges by their direction
relative to the centre. Two robust passes find, in each of 16 directions, the
rim's distance as the mode of a histogram of the edges' distances (the edges of
neighbouring craters rarely win it) and fit ``distance = R + a cos(theta) + b
sin(theta)`` over the directions, which moves the centre by ``(a, b)``; two
circle fits (Kasa's algebraic fit, one centre and one radius per edge class)
refine it. docs/extraction.md has the details.

Only numpy is needed.
"""

from __future__ import annotations

import numpy as np

from .crater_duplicates import check_cancel
from .template_matching import CraterWindows, RimGeometry

__all__ = ["fit_rims"]

_SECTORS = 16
_BINS = 32
# half-widths of the robust passes' search bands, fractions of the outer radius
_SECTOR_PASSES = (0.3, 0.12)
_FIT_CHUNK = 2048


def fit_rims(windows: CraterWindows, prob, scale, threshold, x, y, r, k):
    """Refine centres and radii by fitting circles (in stretched units) to the rim's edges."""
    geometry = windows.geometry
    inner0, outer0 = geometry.edges_array(r)
    # the first pass looks +-reach around each edge; the centre may be off by as much
    reach = np.maximum(4.0, _SECTOR_PASSES[0] * outer0)
    hy = np.ceil(outer0 + 2 * reach + 1).astype(np.int64)
    hx = np.ceil(hy * k).astype(np.int64)
    owner, px, py, axis, sign = windows.crossings(prob, scale, threshold, x, y, hx, hy)
    owner = owner.astype(np.int64)
    m = x.size
    d = np.hypot((px - x[owner]) / k[owner], py - y[owner])
    lowest = np.where(np.isfinite(inner0), inner0, outer0) - 2 * reach
    near = (d > lowest[owner]) & (d < (outer0 + 2 * reach)[owner])
    order = np.argsort(owner[near], kind="stable")  # by crater, for chunks of craters
    owner, px, py = owner[near][order], px[near][order], py[near][order]
    axis, sign = axis[near][order], sign[near][order]
    start = np.searchsorted(owner, np.arange(m + 1))
    cx, cy = x.astype(float).copy(), y.astype(float).copy()
    r_in, r_out = inner0.copy(), outer0.copy()
    has_inner = np.isfinite(inner0)
    # robust passes: the rim's distance in each of 16 directions (the mode of a histogram,
    # which the edges of neighbouring craters rarely win), then a sinusoid fit; by chunks
    # of craters to bound the histograms' memory
    for rel in _SECTOR_PASSES:
        for c0 in range(0, m, _FIT_CHUNK):
            check_cancel(windows.cancel)
            c = slice(c0, min(m, c0 + _FIT_CHUNK))
            p = slice(start[c.start], start[c.stop])
            cx[c], cy[c], r_in[c], r_out[c] = _sector_pass(
                owner[p] - c0,
                px[p],
                py[p],
                axis[p],
                sign[p],
                cx[c],
                cy[c],
                r_in[c],
                r_out[c],
                k[c],
                has_inner[c],
                rel,
            )
    got_in = got_out = np.zeros(m, dtype=bool)
    # precise passes: circle fit to the edges near the rim
    for rel, floor in ((0.06, 1.5), (0.04, 1.0)):
        check_cancel(windows.cancel)
        u = (px - cx[owner]) / k[owner]
        v = py - cy[owner]
        outward = np.where(axis == 0, sign * u, sign * v) > 0
        d = np.hypot(u, v)
        tol = np.maximum(floor, rel * r_out)[owner]
        w_out = (outward & (np.abs(d - r_out[owner]) < tol)).astype(float)
        w_in = (~outward & has_inner[owner] & (np.abs(d - r_in[owner]) < tol)).astype(float)
        # Kasa's circle fit: u^2 + v^2 = 2 a u + 2 b v + (R^2 - a^2 - b^2)
        sol, n_in, n_out = _solve_edges(owner, 2 * u, 2 * v, u * u + v * v, w_in, w_out, m)
        enough = n_in + n_out >= 12
        da, db = np.where(enough, sol[:, 0], 0.0), np.where(enough, sol[:, 1], 0.0)
        cx, cy = cx + da * k, cy + db
        shift2 = da * da + db * db
        got_in = enough & (n_in >= 6)
        got_out = enough & (n_out >= 6)
        r_in = np.where(got_in, np.sqrt(np.maximum(sol[:, 2] + shift2, 0.0)), r_in)
        r_out = np.where(got_out, np.sqrt(np.maximum(sol[:, 3] + shift2, 0.0)), r_out)
    fitted = _radius_from_edges(geometry, r, r_in, r_out, got_in, got_out)
    # a fit that wandered off (to a neighbour) keeps the coarse estimate
    moved = np.hypot((cx - x) / k, cy - y) > 0.5 * r
    moved |= (cx < 0) | (cy < 0) | (cx > windows.width - 1) | (cy > windows.height - 1)
    wrong = moved | ~(np.abs(np.log(np.maximum(fitted, 1e-9) / r)) < np.log(1.4))
    return np.where(wrong, x, cx), np.where(wrong, y, cy), np.where(wrong, r, fitted)




def _sector_pass(owner, px, py, axis, sign, cx, cy, r_in, r_out, k, has_inner, rel):
    """One robust update of centres and edge radii from per-direction rim distances.

    For each crater, edge class (inner, outer) and direction sector, the rim's
    distance is the mode of the edges' distances within ``+-rel * r_out``; then
    ``distance = R_class + a cos(theta) + b sin(theta)`` is fitted over the
    sectors (one trimming pass), which moves the centre by ``(a, b)``.
    """
    m = cx.size
    u = (px - cx[owner]) / k[owner]
    v = py - cy[owner]
    d = np.hypot(u, v)
    outer = np.where(axis == 0, sign * u, sign * v) > 0
    radius = np.where(outer, r_out[owner], r_in[owner])
    half = np.maximum(4.0, rel * r_out)[owner]
    radius = np.where(np.isfinite(radius), radius, -1e9)
    b = np.clip(np.floor((d - radius + half) / (2.0 * half) * _BINS), -1, _BINS).astype(np.int64)
    use = (outer | has_inner[owner]) & (b >= 0) & (b < _BINS) & (d > 0)
    sector = np.floor((np.arctan2(v, u) + np.pi) / (2 * np.pi) * _SECTORS).astype(np.int64)
    group = (owner * 2 + outer) * _SECTORS + np.minimum(sector, _SECTORS - 1)
    n_groups = m * 2 * _SECTORS
    g, b, d, u, v = group[use], b[use], d[use], u[use], v[use]
    counts = np.bincount(g * _BINS + b, minlength=n_groups * _BINS).reshape(n_groups, _BINS)
    smooth = counts.copy()
    smooth[:, 1:] += counts[:, :-1]
    smooth[:, :-1] += counts[:, 1:]
    mode = np.argmax(smooth, axis=1)
    near = np.abs(b - mode[g]) <= 1
    g, d, u, v = g[near], d[near], u[near], v[near]
    n = np.bincount(g, minlength=n_groups)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = np.bincount(g, d, n_groups) / n
        cos_t = np.bincount(g, u / d, n_groups) / n
        sin_t = np.bincount(g, v / d, n_groups) / n
    ok = n >= 3
    grp = np.flatnonzero(ok)
    own, cls = grp // (2 * _SECTORS), (grp // _SECTORS) % 2
    rho, cos_t, sin_t = rho[grp], cos_t[grp], sin_t[grp]
    keep = np.ones(grp.size, dtype=bool)
    sol = np.zeros((m, 4))
    for _ in range(2):  # fit, drop sectors far off the fit, fit again
        w_in = (keep & (cls == 0)).astype(float)
        w_out = (keep & (cls == 1)).astype(float)
        sol, n_in, n_out = _solve_edges(own, cos_t, sin_t, rho, w_in, w_out, m)
        fit = np.where(cls == 1, sol[own, 3], sol[own, 2]) + sol[own, 0] * cos_t
        fit += sol[own, 1] * sin_t
        keep = np.abs(rho - fit) < np.maximum(1.5, 0.05 * sol[own, 3])
    enough = n_in + n_out >= 5
    cx = np.where(enough, cx + sol[:, 0] * k, cx)
    cy = np.where(enough, cy + sol[:, 1], cy)
    r_in = np.where(enough & (n_in >= 3), sol[:, 2], r_in)
    r_out = np.where(enough & (n_out >= 3), sol[:, 3], r_out)
    return cx, cy, r_in, r_out


def _solve_edges(owner, f1, f2, target, w_in, w_out, m):
    """Weighted least squares ``target = a f1 + b f2 + c_edge`` per crater.

    One ``(a, b)`` per crater and one constant per edge class (inner, outer);
    returns the solutions ``(m, 4)`` and the weights of inner and outer rows. A
    small ridge keeps empty classes (constant 0) and degenerate sets solvable.
    """
    w = w_in + w_out

    def tot(values):
        return np.bincount(owner, values, m)

    n_in, n_out = tot(w_in), tot(w_out)
    a = np.zeros((m, 4, 4))
    rhs = np.zeros((m, 4))
    a[:, 0, 0], a[:, 1, 1], a[:, 0, 1] = tot(w * f1 * f1), tot(w * f2 * f2), tot(w * f1 * f2)
    a[:, 0, 2], a[:, 0, 3] = tot(w_in * f1), tot(w_out * f1)
    a[:, 1, 2], a[:, 1, 3] = tot(w_in * f2), tot(w_out * f2)
    a[:, 2, 2], a[:, 3, 3] = n_in, n_out
    a = np.triu(a) + np.transpose(np.triu(a, 1), (0, 2, 1))
    a += (1e-9 * (np.trace(a, axis1=1, axis2=2) + 1.0))[:, None, None] * np.eye(4)
    rhs[:, 0], rhs[:, 1] = tot(w * target * f1), tot(w * target * f2)
    rhs[:, 2], rhs[:, 3] = tot(w_in * target), tot(w_out * target)
    return np.nan_to_num(np.linalg.solve(a, rhs[..., None])[..., 0]), n_in, n_out


def _radius_from_edges(geometry: RimGeometry, r, r_in, r_out, got_in, got_out):
    """The crater radius from the fitted edge radii (the coarse one where none was fitted)."""
    if geometry.kind == "ring":
        half = geometry.width_px / 2.0
        one = np.where(got_out, r_out - half, np.where(got_in, r_in + half, r))
        return np.where(got_in & got_out, (r_in + r_out) / 2.0, one)
    if geometry.kind == "outline":
        return np.where(got_out, r_out, np.where(got_in, r_in / geometry.inner_ratio, r))
    return np.where(got_out, r_out, r)
