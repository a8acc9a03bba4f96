"""全区巡游: a patrol tour of the district for the map wall, stop by stop with a live summary.

The stops (streets, communities or key points) are ordered as a short closed tour, not by
code: nearest neighbour from the westernmost stop, then 2-opt until no swap shortens it.
Each stop carries its extent, centre, a summary (open and overdue incidents, active warnings,
workers on duty, cameras online) and its nearest cameras, so the wall can fly, dwell and show.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
import shapely
import sqlalchemy as sa

from gis_core.field.patrol import KEY_POINT_M, LAST_PATROL
from gis_core.geo.crs import transformer
from gis_core.incidents.workflow import ACTIVE_STATES, OPEN_STATES
from gis_core.platform.auth import DISTRICT_WIDE, User
from gis_core.platform.errors import InvalidInput

LEVELS = ("street", "community", "key_point")
NEAREST_CAMERAS = 3


def order(xy: np.ndarray) -> list[int]:
    """A short closed tour through the points `xy` (metric): nearest neighbour, then 2-opt."""
    n = len(xy)
    if n < 3:
        return list(range(n))
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    tour = [int(np.argmin(xy[:, 0]))]
    left = set(range(n)) - set(tour)
    while left:
        nxt = min(left, key=lambda j: d[tour[-1], j])
        tour.append(nxt)
        left.remove(nxt)
    improved = True
    while improved:
        improved = False
        for i in range(1, n - 1):
            for j in range(i + 1, n):
                a, b, c, e = tour[i - 1], tour[i], tour[j], tour[(j + 1) % n]
                if d[a, c] + d[b, e] < d[a, b] + d[c, e] - 1e-9:
                    tour[i : j + 1] = reversed(tour[i : j + 1])
                    improved = True
    return tour


def length(xy: np.ndarray, tour: list[int]) -> float:
    """The closed tour's length in the units of `xy`."""
    p = xy[tour + tour[:1]]
    return float(np.hypot(*np.diff(p, axis=0).T).sum())


def _units(conn: sa.Connection, user: User, level: str, within: str | None) -> list[Any]:
    params: dict[str, Any] = {"within": within}
    conds = ["(CAST(:within AS text) IS NULL OR s.code = :within OR c.code = :within)"]
    if user.role not in DISTRICT_WIDE:
        params["area"] = (user.jurisdiction_code or "").strip()
        conds.append("(s.code = :area OR c.code = :area)")
    if level == "street":
        sql = (
            "SELECT DISTINCT s.id, s.code, s.name, ST_AsBinary(s.geom) AS wkb FROM street s "
            "JOIN community c ON c.street_id = s.id WHERE "
        )
    elif level == "community":
        sql = (
            "SELECT c.id, c.code, c.name, ST_AsBinary(c.geom) AS wkb FROM community c "
            "JOIN street s ON s.id = c.street_id WHERE "
        )
    else:
        sql = (
            "SELECT k.id, k.code, k.name, ST_AsBinary(k.geom) AS wkb FROM key_point k "
            "JOIN community c ON c.id = k.community_id JOIN street s ON s.id = c.street_id WHERE "
        )
    return list(conn.execute(sa.text(sql + " AND ".join(conds)), params).all())


_SUMMARY = """
SELECT
  (SELECT count(*) FROM incident i WHERE i.{col} = :id AND i.state = ANY(:open)) AS open_incidents,
  (SELECT count(*) FROM incident i WHERE i.{col} = :id AND i.state = ANY(:active) AND i.due_at < :now)
      AS overdue_incidents,
  (SELECT count(*) FROM warning w WHERE w.{col} = :id AND w.state <> 'cleared') AS active_warnings,
  (SELECT count(*) FROM worker_position p WHERE p.{col} = :id AND p.recorded_at > :since
      AND p.recorded_at <= :now) AS workers_on_duty,
  (SELECT count(*) FILTER (WHERE online) FROM camera m WHERE m.{col} = :id) AS cameras_online,
  (SELECT count(*) FROM camera m WHERE m.{col} = :id) AS cameras
"""
_KEY_POINT = f"SELECT k.patrol_interval_h, {LAST_PATROL} FROM key_point k WHERE k.id = :id"  # noqa: S608
_CAMERAS = """
WITH here AS (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS p)
SELECT code, name, online, ST_X(geom) AS lon, ST_Y(geom) AS lat,
       round(ST_Distance(geom::geography, here.p::geography)) AS distance_m
FROM camera, here ORDER BY geom <-> here.p LIMIT :n
"""


def tour(
    conn: sa.Connection,
    user: User,
    level: str,
    within: str | None,
    now: datetime,
    on_duty: timedelta,
    epsg: int,
) -> dict[str, Any]:
    """The ordered stops of a tour at `level` (within an area code, and the user's area)."""
    if level not in LEVELS:
        raise InvalidInput(f"level is one of {', '.join(LEVELS)}", where="query.level")
    units = _units(conn, user, level, within)
    if not units:
        return {"level": level, "stops": [], "length_m": 0.0}
    geoms = shapely.from_wkb([bytes(u.wkb) for u in units])
    centres = shapely.point_on_surface(geoms)
    lon, lat = shapely.get_x(centres), shapely.get_y(centres)
    x, y = transformer(4326, epsg).transform(lon, lat)
    xy = np.column_stack([x, y])
    ordered = order(xy)
    col = {"street": "street_id", "community": "community_id"}.get(level)
    stops = []
    for k in ordered:
        u = units[k]
        params = {
            "id": u.id,
            "now": now,
            "since": now - on_duty,
            "open": list(OPEN_STATES),
            "active": list(ACTIVE_STATES),
        }
        if col:
            summary = dict(conn.execute(sa.text(_SUMMARY.format(col=col)), params).mappings().one())
        else:
            at = {"at": now, "epsg": epsg, "r": KEY_POINT_M}
            kp = conn.execute(sa.text(_KEY_POINT), {**params, **at}).mappings().one()
            last = kp["last_patrol"]
            hours = None if last is None else (now - last).total_seconds() / 3600
            summary = {
                "last_patrol": last,
                "hours_since_patrol": None if hours is None else round(hours, 1),
                "overdue": hours is None or hours > kp["patrol_interval_h"],
            }
        cams = conn.execute(
            sa.text(_CAMERAS), {"lon": float(lon[k]), "lat": float(lat[k]), "n": NEAREST_CAMERAS}
        ).mappings()
        minx, miny, maxx, maxy = shapely.bounds(geoms[k]).tolist()
        stops.append(
            {
                "code": u.code,
                "name": u.name,
                "centre": [round(float(lon[k]), 6), round(float(lat[k]), 6)],
                "extent": [minx, miny, maxx, maxy],
                "summary": summary,
                "cameras": [dict(c) for c in cams],
            }
        )
    return {"level": level, "stops": stops, "length_m": round(length(xy, ordered), 1)}
