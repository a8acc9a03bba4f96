"""A worker's trajectory (轨迹查看).

The stored fixes read back as runs, stays, time outside the
worker's own grid and road coverage, computed in the metric CRS with numpy and shapely.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import numpy as np
import shapely
import sqlalchemy as sa

from gis_core.field.tracks import GAP_S, REASON_NAMES
from gis_core.geo.crs import transformer
from gis_core.platform.clock import iso, iso_epoch
from gis_core.platform.errors import NotFound

#: Stay point: at least this long (s) within this distance (m) of where it began.
STAY_S, STAY_M = 300.0, 50.0
#: Road coverage: a road stretch within this distance (m) of the track counts as patrolled.
COVER_M = 30.0


def stay_points(
    t: np.ndarray, x: np.ndarray, y: np.ndarray, radius_m: float = STAY_M, min_s: float = STAY_S
) -> list[tuple[int, int]]:
    """(first, last) fix indices of each stay: at least `min_s` within `radius_m` of its first fix.

    The stay-point rule of Li et al. (2008), over fixes of one worker in time order.
    """
    stays = []
    i, n = 0, len(t)
    while i < n:
        j = i + 1
        while j < n and math.hypot(x[j] - x[i], y[j] - y[i]) <= radius_m and t[j] - t[j - 1] <= GAP_S:
            j += 1
        if t[j - 1] - t[i] >= min_s:
            stays.append((i, j - 1))
            i = j
        else:
            i += 1
    return stays


def segments(t: np.ndarray, gap_s: float = GAP_S) -> list[slice]:
    """Runs of fixes with no gap longer than `gap_s` between neighbours."""
    cuts = np.flatnonzero(np.diff(t) > gap_s) + 1
    bounds = [0, *cuts.tolist(), len(t)]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]


def road_coverage(
    roads: shapely.Geometry, area: shapely.Geometry, track: shapely.Geometry, within_m: float = COVER_M
) -> tuple[float, float]:
    """(road length in `area`, of it within `within_m` of `track`), metres, all in one metric CRS."""
    in_area = shapely.intersection(roads, area)
    total = float(shapely.length(in_area))
    if total == 0 or track is None or shapely.is_empty(track):
        return total, 0.0
    return total, float(shapely.length(shapely.intersection(in_area, shapely.buffer(track, within_m))))


def _track_geometry(x: np.ndarray, y: np.ndarray, runs: list[slice]) -> shapely.Geometry:
    parts = [
        shapely.LineString(np.column_stack([x[r], y[r]]))
        if r.stop - r.start > 1
        else shapely.Point(x[r.start], y[r.start])
        for r in runs
    ]
    return shapely.GeometryCollection(parts) if parts else shapely.GeometryCollection()


def own_area(
    conn: sa.Connection, worker_id: int, epsg: int
) -> tuple[shapely.Geometry | None, shapely.Geometry | None]:
    """The worker's own grid(s) and the roads meeting them, both in the metric CRS (None when unassigned)."""
    row = conn.execute(
        sa.text(
            "WITH own AS (SELECT ST_Union(g.geom) geom FROM worker_grid wg JOIN grid g ON g.id = wg.grid_id "
            "  WHERE wg.worker_id = :w) "
            "SELECT ST_AsBinary(ST_Transform(own.geom, :epsg)), "
            "  (SELECT ST_AsBinary(ST_Transform(ST_Collect(r.geom), :epsg)) FROM road r "
            "   WHERE ST_Intersects(r.geom, own.geom)) "
            "FROM own"
        ),
        {"w": worker_id, "epsg": epsg},
    ).one()
    grid = shapely.from_wkb(bytes(row[0])) if row[0] is not None else None
    roads = shapely.from_wkb(bytes(row[1])) if row[1] is not None else shapely.MultiLineString()
    return grid, roads


def trajectory(
    conn: sa.Connection,
    worker_id: int,
    since: datetime,
    until: datetime,
    projected_epsg: int,
    simplify_m: float | None = None,
) -> dict[str, Any]:
    """A worker's cleaned track over [since, until) as a GeoJSON Feature with times and statistics.

    The geometry is a MultiLineString, one part per run without a long gap, with
    `properties.times` holding each vertex's ISO time (after optional simplification by
    `simplify_m` metres, Douglas-Peucker). Statistics always use every stored fix.
    """
    exists = conn.execute(sa.text("SELECT code FROM worker WHERE id = :w"), {"w": worker_id}).scalar()
    if exists is None:
        raise NotFound(f"worker {worker_id} does not exist", where="path.worker_id")
    rows = conn.execute(
        sa.text(
            "SELECT extract(epoch FROM recorded_at), ST_X(m), ST_Y(m) "
            "FROM (SELECT recorded_at, ST_Transform(geom, :epsg) m FROM track_point "
            "      WHERE worker_id = :w AND recorded_at >= :a AND recorded_at < :b) s ORDER BY 1"
        ),
        {"w": worker_id, "a": since, "b": until, "epsg": projected_epsg},
    ).all()
    rejected: dict[str, int] = dict(
        conn.execute(
            sa.text(
                "SELECT reason, count(*) FROM track_rejected WHERE worker_id = :w "
                "AND recorded_at >= :a AND recorded_at < :b GROUP BY reason"
            ),
            {"w": worker_id, "a": since, "b": until},
        ).all()
    )
    arr = np.array(rows, dtype=float).reshape(-1, 3)
    t, x, y = arr[:, 0], arr[:, 1], arr[:, 2]
    runs = segments(t)
    distance = sum(float(np.hypot(np.diff(x[r]), np.diff(y[r])).sum()) for r in runs)
    grid, roads = own_area(conn, worker_id, projected_epsg)
    outside_s = 0.0
    tracked_s = sum(float(t[r][-1] - t[r][0]) for r in runs if len(t[r]))
    if grid is not None and len(t):
        out = ~shapely.contains_xy(grid, x, y)
        for r in runs:
            outside_s += float((np.diff(t[r]) * out[r][:-1]).sum())
    track = _track_geometry(x, y, runs)
    road_m, covered_m = road_coverage(roads, grid, track) if grid is not None else (0.0, 0.0)
    inverse = transformer(projected_epsg, 4326)
    stops = []
    for i, j in stay_points(t, x, y):
        lon, lat = inverse.transform(float(x[i : j + 1].mean()), float(y[i : j + 1].mean()))
        stops.append(
            {
                "from": iso_epoch(t[i]),
                "to": iso_epoch(t[j]),
                "duration_s": round(float(t[j] - t[i]), 1),
                "lon": round(lon, 7),
                "lat": round(lat, 7),
            }
        )
    lines, times = [], []
    for r in runs:
        part = np.column_stack([x[r], y[r], t[r]])
        if simplify_m and len(part) > 2:
            part = shapely.get_coordinates(
                shapely.simplify(shapely.LineString(part), simplify_m, preserve_topology=False),
                include_z=True,
            )
        lon, lat = inverse.transform(part[:, 0], part[:, 1])
        lines.append(np.round(np.column_stack([lon, lat]), 7).tolist())
        times.append([iso_epoch(v) for v in part[:, 2]])
    return {
        "type": "Feature",
        "id": worker_id,
        "geometry": {"type": "MultiLineString", "coordinates": lines},
        "properties": {
            "worker_id": worker_id,
            "worker_code": exists,
            "from": iso(since),
            "to": iso(until),
            "times": times,
            "fixes": len(t),
            "rejected": {name: int(rejected.get(name, 0)) for name in REASON_NAMES.values()},
            "distance_m": round(distance, 1),
            "outside_own_grid_s": round(outside_s, 1),
            # time on patrol (between fixes of one run) inside the worker's own grids
            "inside_own_grid_s": round(tracked_s - outside_s, 1) if grid is not None else 0.0,
            "stops": stops,
            "coverage": {
                "road_m": round(road_m, 1),
                "covered_m": round(covered_m, 1),
                "share": round(covered_m / road_m, 4) if road_m else None,
                "within_m": COVER_M,
            },
        },
    }


# ---------------------------------------------------------------- who may upload and read
