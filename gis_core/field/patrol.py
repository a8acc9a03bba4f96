"""Patrol coverage (巡查覆盖) from workers' tracks: per grid, per worker, and of key points.

Tracks are drawn as lines per worker and day (fixes in time order) in the metric CRS; a road
within `COVER_M` of a line counts as patrolled (as `gis_core.field.trajectory.road_coverage`
does for one worker), measured in PostGIS in short pieces.
A key point counts as patrolled when a fix came within `KEY_POINT_M` of it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from gis_core.field.trajectory import COVER_M

KEY_POINT_M = 50.0

#: Metres of road per piece: a piece counts as patrolled when its midpoint is within `COVER_M`
#: of a track, so a patrolled stretch's ends are right to half a piece.
PIECE_M = 10.0
#: Steps between fixes per indexed stretch of track: short stretches keep their boxes tight for the index.
STRETCH_FIXES = 8

#: Each worker-day's track in the metric CRS (one line, fixes in time order, transformed at once),
#: cut into stretches of `STRETCH_FIXES` steps; each stretch ends on the fix the next one starts
#: from, so no step between fixes is lost.
_TRACK_STRETCHES = """
CREATE TEMP TABLE patrol_stretch ON COMMIT DROP AS
WITH day AS (
    SELECT worker_id, ST_Transform(ST_MakeLine(geom ORDER BY recorded_at), :epsg) AS line
    FROM track_point WHERE recorded_at >= :a AND recorded_at < :b
    GROUP BY worker_id, date_trunc('day', recorded_at) HAVING count(*) > 1
)
SELECT d.worker_id, ST_MakeLine(ARRAY(
           SELECT ST_PointN(d.line, j) FROM generate_series(i, least(i + :steps, ST_NPoints(d.line))) j
       )) AS geom
FROM day d, generate_series(1, ST_NPoints(d.line) - 1, :steps) i
"""
#: The roads of each grid in `PIECE_M` pieces, each marked 2 when one of the grid's own workers'
#: stretches passes within :r metres of its midpoint, 1 when only others' do, 0 when none.
_PER_GRID = """
WITH g AS (
    SELECT g.id, g.code, g.name, g.geom, ST_Transform(g.geom, :epsg) AS m,
           array_remove(array_agg(wg.worker_id ORDER BY wg.worker_id), NULL) AS workers
    FROM grid g LEFT JOIN worker_grid wg ON wg.grid_id = g.id GROUP BY g.id
), piece AS (
    SELECT g.id AS grid_id, g.workers, ST_Length(s.geom) AS len, ST_LineInterpolatePoint(s.geom, 0.5) AS mid
    FROM g JOIN road r ON r.geom && g.geom AND ST_Intersects(r.geom, g.geom)
    CROSS JOIN LATERAL ST_DumpSegments(
        ST_Segmentize(ST_CollectionExtract(ST_Intersection(ST_Transform(r.geom, :epsg), g.m), 2), :piece)
    ) s
), hit AS (
    SELECT grid_id, len, CASE
        WHEN EXISTS (SELECT 1 FROM patrol_stretch t
                     WHERE ST_DWithin(t.geom, piece.mid, :r) AND t.worker_id = ANY(piece.workers)) THEN 2
        WHEN EXISTS (SELECT 1 FROM patrol_stretch t WHERE ST_DWithin(t.geom, piece.mid, :r)) THEN 1
        ELSE 0 END AS by
    FROM piece
)
SELECT g.code, g.name, g.workers, coalesce(sum(h.len), 0) AS road_m,
       coalesce(sum(h.len) FILTER (WHERE h.by > 0), 0) AS by_any,
       coalesce(sum(h.len) FILTER (WHERE h.by = 2), 0) AS by_own
FROM g LEFT JOIN hit h ON h.grid_id = g.id GROUP BY g.code, g.name, g.workers ORDER BY g.code
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


def coverage(conn: sa.Connection, since: datetime, until: datetime, epsg: int) -> list[dict[str, Any]]:
    """Per grid: road length, patrolled length by anyone's track, by its own workers' tracks, and shares.

    Computed where the fixes are: the week's tracks as short indexed stretches, the roads as
    `PIECE_M` pieces, one index probe per piece (3.5 M fixes of the full district in seconds,
    where buffering and unioning whole GPS lines took minutes).
    """
    conn.execute(sa.text("DROP TABLE IF EXISTS pg_temp.patrol_stretch"))
    conn.execute(sa.text(_TRACK_STRETCHES), {"a": since, "b": until, "epsg": epsg, "steps": STRETCH_FIXES})
    conn.execute(sa.text("CREATE INDEX ON patrol_stretch USING gist (geom)"))
    conn.execute(sa.text("ANALYZE patrol_stretch"))
    rows = conn.execute(sa.text(_PER_GRID), {"epsg": epsg, "r": COVER_M, "piece": PIECE_M}).all()
    conn.execute(sa.text("DROP TABLE patrol_stretch"))
    return [
        {
            "grid_code": g.code,
            "grid_name": g.name,
            "workers": len(g.workers),
            "worker_ids": list(g.workers),
            "road_m": round(g.road_m, 1),
            "patrolled_m": round(g.by_any, 1),
            "patrolled_by_own_m": round(g.by_own, 1),
            "share": round(g.by_any / g.road_m, 4) if g.road_m else None,
            "share_by_own": round(g.by_own / g.road_m, 4) if g.road_m else None,
        }
        for g in rows
    ]


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
