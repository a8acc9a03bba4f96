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


def standardise(w: sparse.spmatrix, how: str = "b") -> sparse.csr_matrix:
    """Weights as given ("b", binary) or with each row summing to 1 ("r", row-standardised)."""
    out = sparse.csr_matrix(w, dtype=float, copy=True)
    if how.lower() == "r":
        sums = np.asarray(out.sum(axis=1)).ravel()
        out = sparse.csr_matrix(sparse.diags(1.0 / np.where(sums == 0, 1.0, sums)) @ out)
    elif how.lower() != "b":
        raise ValueError("transform is 'b' (binary) or 'r' (row-standardised)")
    return out


def with_self(w: sparse.spmatrix, transform: str = "b") -> sparse.csr_matrix:
    """The Gi* weights: `w` with each unit its own neighbour (self-weight 1), then transformed.

    `transform` is "b" (binary, the classic Getis-Ord form and the default) or "r" (each row
    sums to 1, esda's default; its analytical moments then give much weaker z-scores).
    """
    out = sparse.csr_matrix(w, dtype=float, copy=True)
    out.setdiag(1.0)
    out.eliminate_zeros()
    return standardise(out, transform)


def conditional_randomization(
    values: np.ndarray, w: sparse.spmatrix, permutations: int, seed: int | None = None
) -> np.ndarray:
    """(n, permutations): Σⱼ wᵢⱼ·x over neighbours drawn at random from the units other than i.

    The conditional randomisation of local statistics (Anselin 1995), drawn as esda draws it:
    one table of random other-unit indices shared by all units, shifted past each unit's own
    index. `w` must have an empty diagonal. Vectorised in numpy, in chunks of ~4 M draws.
    """
    w = sparse.csr_matrix(w)
    values = np.asarray(values, dtype=float)
    n = len(values)
    card = np.diff(w.indptr)
    out = np.zeros((n, permutations))
    kmax = int(card.max()) if n else 0
    if kmax == 0 or permutations <= 0:
        return out
    if kmax >= n:
        raise ValueError("a unit cannot have every other unit as a neighbour")
    rng = np.random.default_rng(seed)
    # the first kmax entries of a random permutation of 0..n-2, per draw
    ids = (
        np.argpartition(rng.random((permutations, n - 1)), kmax - 1, axis=1)[:, :kmax]
        if n - 1 > kmax
        else (np.tile(np.arange(n - 1), (permutations, 1)))
    )
    for k in np.unique(card[card > 0]):
        units = np.flatnonzero(card == k)
        weights = np.stack([w.data[w.indptr[i] : w.indptr[i] + k] for i in units])
        draw = ids[:, :k]
        step = max(1, 4_000_000 // (permutations * int(k)))
        for a in range(0, len(units), step):
            chunk = units[a : a + step]
            shifted = draw[None, :, :] + (draw[None, :, :] >= chunk[:, None, None])
            out[chunk] = np.einsum("mpk,mk->mp", values[shifted], weights[a : a + step])
    return out


def pseudo_p(observed: np.ndarray, simulated: np.ndarray) -> np.ndarray:
    """Folded pseudo p-value as esda's p_sim: (extremes + 1) / (permutations + 1), on `observed`'s side."""
    permutations = simulated.shape[1]
    larger = (simulated >= observed[:, None]).sum(axis=1)
    larger = np.minimum(larger, permutations - larger)
    return (larger + 1.0) / (permutations + 1.0)  # type: ignore[no-any-return]


def fdr(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values): compare with alpha to control the FDR."""
    return stats.false_discovery_control(np.asarray(p, dtype=float), method="bh")  # type: ignore[no-any-return]


@dataclass(frozen=True)
class GiStar:
    """Gi* per unit: statistic, expectation, variance, z-score, p-value and confidence bin."""

    g: np.ndarray
    expected: np.ndarray
    variance: np.ndarray
    z: np.ndarray
    p: np.ndarray  # one-sided, as esda's p_norm: P(Z > |z|)
    bin: np.ndarray  # +3/+2/+1 hot at 99/95/90 %, -1/-2/-3 cold, 0 not significant
    p_sim: np.ndarray | None = None  # permutation pseudo p-value (esda's p_sim), when drawn
    q_sim: np.ndarray | None = None  # p_sim adjusted for the false discovery rate (Benjamini-Hochberg)


def gi_star(y: np.ndarray, w: sparse.spmatrix, permutations: int = 0, seed: int | None = None) -> GiStar:
    """Getis-Ord Gi* of counts `y` over Gi* weights `w` (see `with_self`).

    Analytical inference always, with esda's moments: E[G_i] = W_i / n and
    V[G_i] = W_i (n - W_i) / ((n - 1) n²) · s² / ȳ², with W_i the row sum of `w`. With
    `permutations`, also conditional-randomisation pseudo p-values (the unit's own count kept,
    its neighbours drawn from the others, as esda) and their FDR-adjusted q-values.
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
    p_sim = q_sim = None
    if permutations:
        self_w = w.diagonal()
        sims = (
            conditional_randomization(y, w - sparse.diags(self_w), permutations, seed) + (self_w * y)[:, None]
        )
        p_sim = pseudo_p(g * y.sum(), sims)
        q_sim = fdr(p_sim)
    return GiStar(g, expected, variance, z, p, level * np.sign(z).astype(int), p_sim, q_sim)


@dataclass(frozen=True)
class LocalMoran:
    """Local Moran's I per unit, as esda's `Moran_Local` (standardised values, row weights by default)."""

    Is: np.ndarray
    q: np.ndarray  # quadrant: 1 high-high, 2 low-high, 3 low-low, 4 high-low
    expected: np.ndarray  # total randomisation (Sokal 1998), esda's EI
    variance: np.ndarray  # esda's VI
    p_sim: np.ndarray | None = None
    q_sim: np.ndarray | None = None


def local_moran(
    y: np.ndarray, w: sparse.spmatrix, how: str = "r", permutations: int = 0, seed: int | None = None
) -> LocalMoran:
    """Local Moran's I of `y` over contiguity `w` (empty diagonal), transformed by `how` ("r" or "b")."""
    y = np.asarray(y, dtype=float).ravel()
    n = len(y)
    if n < 3 or y.std() == 0:
        raise ValueError("Local Moran's I needs at least three units that are not all equal")
    w = standardise(w, how)
    z = (y - y.mean()) / y.std()
    den = (z * z).sum()
    lag = w @ z
    local = (n - 1) * z * lag / den
    quadrant = np.select([(z > 0) & (lag > 0), (z <= 0) & (lag > 0), (z <= 0) & (lag <= 0)], [1, 2, 3], 4)
    m2 = den / n
    b2 = ((z**4).sum() / n) / m2**2
    wi = np.asarray(w.sum(axis=1)).ravel()
    wi2 = np.asarray(w.multiply(w).sum(axis=1)).ravel()
    expected = -wi / (n - 1)
    variance = wi2 * (n - b2) / (n - 1) + (wi**2 - wi2) * (2 * b2 - n) / ((n - 1) * (n - 2)) - expected**2
    p_sim = q_sim = None
    if permutations:
        sims = (n - 1) * z[:, None] * conditional_randomization(z, w, permutations, seed) / den
        p_sim = pseudo_p(local, sims)
        q_sim = fdr(p_sim)
    return LocalMoran(local, quadrant, expected, variance, p_sim, q_sim)


# ---------------------------------------------------------------- emerging hotspots over time bins

#: Emerging-pattern classes (ESRI's Emerging Hot Spot Analysis), each for hot and for cold spots.
PATTERNS = (
    "new",
    "consecutive",
    "intensifying",
    "persistent",
    "diminishing",
    "sporadic",
    "oscillating",
    "historical",
)


def mann_kendall(series: np.ndarray) -> tuple[float, float]:
    """Mann-Kendall trend of a series in time order: (Kendall's tau against time, two-sided p)."""
    series = np.asarray(series, dtype=float)
    if len(series) < 3 or np.all(series == series[0]):
        return 0.0, 1.0
    res = stats.kendalltau(np.arange(len(series)), series)
    return float(res.statistic), float(res.pvalue)


def _pattern(hot: np.ndarray, opposite: np.ndarray, z: np.ndarray, alpha: float) -> str | None:
    """The pattern of one unit's significant bins `hot` (True/False per time bin, oldest first)."""
    if not hot.any():
        return None
    share, final = hot.mean(), bool(hot[-1])
    if share >= 0.9:
        if not final:
            return "historical"
        tau, p = mann_kendall(z)
        if p < alpha:
            return "intensifying" if tau > 0 else "diminishing"
        return "persistent"
    if not final:
        return None
    if hot.sum() == 1:
        return "new"
    run = len(hot) - (np.flatnonzero(~hot)[-1] + 1) if (~hot).any() else len(hot)
    if run == hot.sum():
        return "consecutive"
    return "oscillating" if opposite.any() else "sporadic"


def emerging(
    z: np.ndarray, level: np.ndarray, alpha: float = 0.05, min_level: int = 2
) -> list[tuple[str | None, str | None]]:
    """(kind, pattern) per unit from Gi* z-scores and bins over time, shape (units, bins).

    A bin counts as hot when its Gi* is at least `min_level` (2: 95 %). The trend of
    intensifying / diminishing spots is Mann-Kendall on the unit's z series at `alpha`.
    Hot patterns take precedence; a unit never hot is judged for cold patterns the same way.
    """
    out: list[tuple[str | None, str | None]] = []
    for zi, li in zip(np.asarray(z, dtype=float), np.asarray(level), strict=True):
        hot, cold = li >= min_level, li <= -min_level
        pattern = _pattern(hot, cold, zi, alpha)
        if pattern is not None:
            out.append(("hot", pattern))
            continue
        pattern = _pattern(cold, hot, -zi, alpha)
        out.append(("cold", pattern) if pattern is not None else (None, None))
    return out
