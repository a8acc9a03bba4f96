"""Where incidents concentrate without areal units: kernel density surfaces and DBSCAN clusters.

The density is a binned Gaussian KDE: points are counted on a fine raster in the metric CRS
and smoothed with `scipy.ndimage.gaussian_filter` (bandwidth = the kernel's σ), which equals
the exact KDE up to the binning and is fast for any number of points. Clusters come from
PostGIS `ST_ClusterDBSCAN` over the incidents a reader may see.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlalchemy as sa
from scipy import ndimage

from gis_core.incidents.queries import IncidentFilter, where_clause
from gis_core.platform.auth import User
from gis_core.platform.errors import InvalidInput


@dataclass(frozen=True)
class Surface:
    """A density raster: `values[row, col]` points per km², row 0 at `north`, cells of `cell_m` metres."""

    values: np.ndarray
    west: float
    north: float
    cell_m: float

    def at(self, x: float, y: float) -> float:
        """The density at metric point (x, y)."""
        col = int((x - self.west) // self.cell_m)
        row = int((self.north - y) // self.cell_m)
        if 0 <= row < self.values.shape[0] and 0 <= col < self.values.shape[1]:
            return float(self.values[row, col])
        return 0.0

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) in the metric CRS."""
        rows, cols = self.values.shape
        return self.west, self.north - rows * self.cell_m, self.west + cols * self.cell_m, self.north


def kde(
    x: np.ndarray,
    y: np.ndarray,
    bandwidth_m: float = 200.0,
    cell_m: float = 25.0,
    bounds: tuple[float, float, float, float] | None = None,
) -> Surface:
    """Gaussian kernel density of points (metric x, y) in points per km²; integrates to the point count."""
    if bandwidth_m <= 0 or cell_m <= 0:
        raise InvalidInput("bandwidth and cell size must be positive", where="query.bandwidth")
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    pad = 4 * bandwidth_m  # the kernel is cut at 4 σ: all but ~e⁻⁸ of each point stays on the raster
    if bounds is None:
        if len(x) == 0:
            raise InvalidInput("no points and no bounds: nothing to estimate", where="query")
        bounds = (x.min() - pad, y.min() - pad, x.max() + pad, y.max() + pad)
    west, south, east, north = bounds
    cols = max(1, int(np.ceil((east - west) / cell_m)))
    rows = max(1, int(np.ceil((north - south) / cell_m)))
    if rows * cols > 25_000_000:
        raise InvalidInput("the raster would exceed 25 million cells: use larger cells", where="query.cell")
    counts, _, _ = np.histogram2d(
        north - y, x - west, bins=(rows, cols), range=((0, rows * cell_m), (0, cols * cell_m))
    )
    smooth = ndimage.gaussian_filter(counts, sigma=bandwidth_m / cell_m, mode="constant", truncate=4.0)
    per_km2 = smooth / (cell_m * cell_m) * 1e6
    return Surface(per_km2, west, north, cell_m)


_CLUSTERS = """
WITH pts AS (
    SELECT i.id, ST_Transform(i.geom, :epsg) AS m FROM incident i
    LEFT JOIN grid g ON g.id = i.grid_id LEFT JOIN community c ON c.id = i.community_id
    LEFT JOIN street s ON s.id = i.street_id WHERE {cond}
), labelled AS (
    SELECT id, m, ST_ClusterDBSCAN(m, eps := :eps, minpoints := :minpts) OVER () AS k FROM pts
)
SELECT k, count(*) AS n, array_agg(id ORDER BY id) AS ids,
       ST_X(ST_Transform(ST_Centroid(ST_Collect(m)), 4326)) AS lon,
       ST_Y(ST_Transform(ST_Centroid(ST_Collect(m)), 4326)) AS lat,
       ST_AsGeoJSON(ST_Transform(ST_ConvexHull(ST_Collect(m)), 4326), 7) AS hull
FROM labelled WHERE k IS NOT NULL GROUP BY k ORDER BY n DESC, k
"""


def clusters(
    conn: sa.Connection, user: User, f: IncidentFilter, eps_m: float, min_points: int, epsg: int
) -> list[dict[str, Any]]:
    """DBSCAN clusters of the incidents `user` may read under `f`: size, centre, hull, members.

    `eps_m` is the neighbourhood radius in metres, `min_points` the core size (PostGIS
    `ST_ClusterDBSCAN` in the metric CRS). Largest first; noise points belong to none.
    """
    if eps_m <= 0 or min_points < 1:
        raise InvalidInput("eps must be positive and min_points at least 1", where="query.eps")
    params: dict[str, Any] = {"eps": eps_m, "minpts": min_points, "epsg": epsg}
    cond = where_clause(user, f, params)
    sql = _CLUSTERS.format(cond=cond)
    rows = conn.execute(sa.text(sql), params).all()
    return [
        {"cluster": i, "size": r.n, "lon": r.lon, "lat": r.lat, "hull": r.hull, "incident_ids": list(r.ids)}
        for i, r in enumerate(rows)
    ]
