"""Patrol coverage (巡查覆盖) from workers' tracks: per grid, per worker, and of key points.

Tracks are drawn as one line per worker and day (fixes in time order) in the metric CRS; a
road stretch within `COVER_M` of a line counts as patrolled (`gis_core.field.trajectory.road_coverage`).
A key point counts as patrolled when a fix came within `KEY_POINT_M` of it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import shapely
import sqlalchemy as sa

from gis_core.field.trajectory import COVER_M, covered_length

KEY_POINT_M = 50.0

_LINES = """
SELECT worker_id, ST_AsBinary(ST_Transform(ST_MakeLine(geom ORDER BY recorded_at), :epsg)) AS wkb
FROM track_point WHERE recorded_at >= :a AND recorded_at < :b
GROUP BY worker_id, date_trunc('day', recorded_at)
"""
#: The last fix within :r metres of key point `k` before :at (:epsg the metric CRS), as a column.
LAST_PATROL = """(SELECT max(t.recorded_at) FROM track_point t
         WHERE t.recorded_at < :at
           AND t.geom && ST_Transform(ST_Expand(ST_Transform(k.geom, :epsg), :r), 4326)
           AND ST_DWithin(ST_Transform(t.geom, :epsg), ST_Transform(k.geom, :epsg), :r)) AS last_patrol"""
_KEY_POINTS = f"""
SELECT k.code, k.name, k.kind, k.patrol_interval_h, ST_X(k.geom) lon, ST_Y(k.geom) lat, g.code AS grid_code,
       {LAST_PATROL}
FROM key_point k LEFT JOIN grid g ON g.id = k.grid_id ORDER BY k.code
"""  # noqa: S608 - a fixed fragment


def _lines(conn: sa.Connection, since: datetime, until: datetime, epsg: int) -> list[Any]:
    return list(conn.execute(sa.text(_LINES), {"a": since, "b": until, "epsg": epsg}).all())


def coverage(conn: sa.Connection, since: datetime, until: datetime, epsg: int) -> list[dict[str, Any]]:
    """Per grid: road length, patrolled length by anyone's track, by its own workers' tracks, and shares."""
    grids = conn.execute(
        sa.text(
            "SELECT g.id, g.code, g.name, ST_AsBinary(ST_Transform(g.geom, :epsg)) AS wkb, "
            "  array_remove(array_agg(wg.worker_id), NULL) AS workers "
            "FROM grid g LEFT JOIN worker_grid wg ON wg.grid_id = g.id GROUP BY g.id ORDER BY g.code"
        ),
        {"epsg": epsg},
    ).all()
    roads = shapely.from_wkb(
        [
            bytes(r[0])
            for r in conn.execute(
                sa.text("SELECT ST_AsBinary(ST_Transform(geom, :epsg)) FROM road"), {"epsg": epsg}
            )
        ]
    )
    lines = _lines(conn, since, until, epsg)
    track_geoms = shapely.from_wkb([bytes(r.wkb) for r in lines])
    track_worker = np.array([r.worker_id for r in lines], dtype=int)
    # each line buffered once, then unioned per grid: far faster than buffering collections
    # of thousands of self-crossing GPS lines for every grid they pass
    zones = shapely.buffer(track_geoms, COVER_M)
    road_tree, track_tree = shapely.STRtree(roads), shapely.STRtree(track_geoms)
    out = []
    for g in grids:
        area = shapely.from_wkb(bytes(g.wkb))
        near_roads = roads[road_tree.query(area, predicate="intersects")]
        near = track_tree.query(shapely.buffer(area, COVER_M), predicate="intersects")
        network = shapely.union_all(near_roads) if len(near_roads) else shapely.MultiLineString()
        any_zone = shapely.union_all(zones[near]) if len(near) else None
        own = near[np.isin(track_worker[near], list(g.workers))]
        own_zone = shapely.union_all(zones[own]) if len(own) else None
        road_m, by_any = covered_length(network, area, any_zone)
        _, by_own = covered_length(network, area, own_zone)
        out.append(
            {
                "grid_code": g.code,
                "grid_name": g.name,
                "workers": len(g.workers),
                "worker_ids": sorted(g.workers),
                "road_m": round(road_m, 1),
                "patrolled_m": round(by_any, 1),
                "patrolled_by_own_m": round(by_own, 1),
                "share": round(by_any / road_m, 4) if road_m else None,
                "share_by_own": round(by_own / road_m, 4) if road_m else None,
            }
        )
    return out


def key_points(conn: sa.Connection, at: datetime, epsg: int) -> list[dict[str, Any]]:
    """Each key point: when a fix last came within `KEY_POINT_M` of it (before `at`), and whether overdue."""
    rows = conn.execute(sa.text(_KEY_POINTS), {"at": at, "epsg": epsg, "r": KEY_POINT_M}).mappings()
    out = []
    for r in rows:
        last = r["last_patrol"]
        hours = None if last is None else (at - last).total_seconds() / 3600
        out.append(
            dict(r) | {"hours_since": hours, "overdue": hours is None or hours > r["patrol_interval_h"]}
        )
    return out
