"""Hotspot statistics over areal units (grids, hexes): contiguity weights and Getis-Ord Gi*.

Pure functions over arrays, no database and no HTTP, so the map wall's hotspot API and the
planners' notebooks share them. The analytical Gi* follows PySAL esda's `G_Local(star=True)`
exactly (a test holds the two within 1e-9 on the same weights), without esda's numba start-up
on a request path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy import sparse, stats

#: Two-sided confidence levels of the hot/cold bins, most confident first.
CONFIDENCE = (0.99, 0.95, 0.90)


def queen_weights(polygons: np.ndarray) -> sparse.csr_matrix:
    """Binary queen contiguity: 1 where two polygons' boundaries touch, the diagonal empty.

    Geometric, so a corner touching a neighbour's edge counts; libpysal's `Queen` links
    only polygons that share a vertex, a subset of these pairs.
    """
    tree = shapely.STRtree(polygons)
    left, right = tree.query(polygons, predicate="intersects")
    keep = left != right
    touching = shapely.intersects(
        shapely.boundary(polygons[left[keep]]), shapely.boundary(polygons[right[keep]])
    )
    rows, cols = left[keep][touching], right[keep][touching]
    n = len(polygons)
    return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))


def with_self(w: sparse.spmatrix, transform: str = "b") -> sparse.csr_matrix:
    """The Gi* weights: `w` with each unit its own neighbour (self-weight 1), then transformed.

    `transform` is "b" (binary, the classic Getis-Ord form and the default) or "r" (each row
    sums to 1, esda's default; its analytical moments then give much weaker z-scores).
    """
    n = w.shape[0]
    out = sparse.csr_matrix(w, dtype=float, copy=True)
    out.setdiag(1.0)
    out.eliminate_zeros()
    if transform.lower() == "r":
        sums = np.asarray(out.sum(axis=1)).ravel()
        out = sparse.diags(1.0 / sums) @ out
    elif transform.lower() != "b":
        raise ValueError("transform is 'b' (binary) or 'r' (row-standardised)")
    return sparse.csr_matrix(out).reshape((n, n))


@dataclass(frozen=True)
class GiStar:
    """Gi* per unit: statistic, expectation, variance, z-score, p-value and confidence bin."""

    g: np.ndarray
    expected: np.ndarray
    variance: np.ndarray
    z: np.ndarray
    p: np.ndarray  # one-sided, as esda's p_norm: P(Z > |z|)
    bin: np.ndarray  # +3/+2/+1 hot at 99/95/90 %, -1/-2/-3 cold, 0 not significant


def gi_star(y: np.ndarray, w: sparse.spmatrix) -> GiStar:
    """Getis-Ord Gi* of counts `y` over Gi* weights `w` (see `with_self`), analytical inference.

    The moments are esda's: E[G_i] = W_i / n and
    V[G_i] = W_i (n - W_i) / ((n - 1) n²) · s² / ȳ², with W_i the row sum of `w`.
    """
    y = np.asarray(y, dtype=float).ravel()
    n = len(y)
    if n < 3 or y.sum() <= 0:
        raise ValueError("Gi* needs at least three units and a positive total")
    w = sparse.csr_matrix(w)
    g = (w @ y) / y.sum()
    mean = y.sum() / n
    variance_y = (y**2).sum() / n - mean**2
    card = np.asarray(w.sum(axis=1)).ravel()
    expected = card / n
    variance = card * (n - card) / (n - 1) / n**2 * variance_y / mean**2
    z = (g - expected) / np.sqrt(variance)
    p = stats.norm.sf(np.abs(z))
    two_sided = 2 * p
    level = np.zeros(n, dtype=int)
    for rank, conf in zip((3, 2, 1), CONFIDENCE, strict=True):
        level = np.where((level == 0) & (two_sided <= 1 - conf), rank, level)
    return GiStar(g, expected, variance, z, p, level * np.sign(z).astype(int))
