"""Multi-person point-call (多人点调): which on-duty workers can reach a point soonest, on foot.

Ranked by walking time over the road network (pgRouting `pgr_dijkstraCost`, many workers to
one point), not by straight line: a worker across a river is far however close they look.
A worker is on duty when their newest fix (`worker_position`) is recent. Each walk is the
worker's fix → their nearest road node → the network → the point's nearest road node → the
point, the two short legs in straight line at `WALK_MPS`.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import shapely
import sqlalchemy as sa

from gis_core.field.tracks import CLOCK_SKEW
from gis_core.platform.auth import User
from gis_core.platform.scope import jurisdiction_clause

#: Walking speed for the legs off the network (the road costs are seconds at this speed too).
WALK_MPS = 1.3

_NEARBY = """
WITH target AS (
    SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS geom
), target_v AS (
    SELECT v.id, ST_Distance(ST_Transform(v.geom, :epsg), ST_Transform(t.geom, :epsg)) AS leg_m
    FROM target t CROSS JOIN LATERAL (
        SELECT id, geom FROM road_vertex ORDER BY geom <-> t.geom LIMIT 1) v
), candidates AS (
    SELECT p.worker_id, w.code, w.name, p.recorded_at, p.geom,
           ST_Distance(ST_Transform(p.geom, :epsg), ST_Transform(t.geom, :epsg)) AS straight_m,
           v.id AS vertex,
           ST_Distance(ST_Transform(p.geom, :epsg), ST_Transform(v.geom, :epsg)) AS leg_m
    FROM worker_position p
    JOIN worker w ON w.id = p.worker_id AND w.active
    CROSS JOIN target t
    CROSS JOIN LATERAL (SELECT id, geom FROM road_vertex ORDER BY geom <-> p.geom LIMIT 1) v
    WHERE p.recorded_at > :since AND p.recorded_at <= :latest
      AND (CASE WHEN CAST(:area AS text) IS NULL
                THEN ST_DWithin(ST_Transform(p.geom, :epsg), ST_Transform(t.geom, :epsg), :radius)
                ELSE ST_Intersects(p.geom, ST_GeomFromText(:area, 4326)) END)
      AND {scope}
), walks AS (
    SELECT d.start_vid AS vertex, d.agg_cost
    FROM pgr_dijkstraCost(
        -- only the roads within reach: a walker who leaves this box has lost anyway
        format('SELECT id, source, target, cost, reverse_cost FROM road '
               'WHERE geom && ST_Expand(ST_SetSRID(ST_MakePoint(%s, %s), 4326), %s)',
               CAST(:lon AS float8), CAST(:lat AS float8), CAST(:box_deg AS float8)),
        (SELECT array_agg(DISTINCT vertex) FROM candidates),
        (SELECT id FROM target_v),
        directed => true) d
)
SELECT c.worker_id, c.code, c.name, c.recorded_at, ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat,
       c.straight_m,
       CASE WHEN c.vertex = tv.id THEN 0 ELSE w.agg_cost END AS network_s,
       c.leg_m + tv.leg_m AS legs_m
FROM candidates c CROSS JOIN target_v tv LEFT JOIN walks w ON w.vertex = c.vertex
"""


def nearby(
    conn: sa.Connection,
    user: User,
    lon: float,
    lat: float,
    radius_m: float,
    at: datetime,
    on_duty: timedelta,
    epsg: int,
    limit: int = 20,
    area: shapely.Geometry | None = None,
) -> list[dict[str, Any]]:
    """On-duty workers within `radius_m` (straight line) of the point, soonest on foot first.

    With `area` (a polygon), the workers inside it instead, walking to the point. Those with
    no way there on the network come last, with `walk_s` None.
    """
    params: dict[str, Any] = {
        "area": None if area is None else area.wkt,
        "lon": lon,
        "lat": lat,
        "radius": radius_m,
        "epsg": epsg,
        "at": at,
        "since": at - on_duty,
        "latest": at + CLOCK_SKEW,  # a phone's clock may run a little fast
        # a walk of up to twice the radius stays inside this box (degrees of latitude, generous
        # for longitude at these latitudes)
        "box_deg": 2.5 * radius_m / 111_000 / 0.7,
    }
    scope = jurisdiction_clause(user, "p", params)
    rows = conn.execute(sa.text(_NEARBY.format(scope=scope)), params).mappings().all()
    out = []
    for r in rows:
        walk = None if r["network_s"] is None else float(r["network_s"]) + float(r["legs_m"]) / WALK_MPS
        out.append(
            {
                "worker_id": r["worker_id"],
                "code": r["code"],
                "name": r["name"],
                "lon": r["lon"],
                "lat": r["lat"],
                "fix_at": r["recorded_at"],
                "straight_m": round(float(r["straight_m"]), 1),
                "walk_s": None if walk is None else round(walk, 1),
                "eta": None if walk is None else at + timedelta(seconds=walk),
            }
        )
    out.sort(key=lambda w: (w["walk_s"] is None, w["walk_s"] or 0.0, w["straight_m"]))
    return out[:limit]


_ROUTE = """
WITH ends AS (
    SELECT e.n, e.geom, v.id AS vertex, v.geom AS vgeom
    FROM (VALUES (1, ST_SetSRID(ST_MakePoint(:x0, :y0), 4326)), (2, ST_SetSRID(ST_MakePoint(:x1, :y1), 4326)))
         AS e(n, geom)
    CROSS JOIN LATERAL (SELECT id, geom FROM road_vertex ORDER BY geom <-> e.geom LIMIT 1) v
), path AS (
    SELECT p.seq, p.node, p.edge FROM pgr_dijkstra(
        format('SELECT id, source, target, cost, reverse_cost FROM road '
               'WHERE geom && ST_Expand(ST_MakeEnvelope(%s, %s, %s, %s, 4326), %s)',
               CAST(least(:x0, :x1) AS float8), CAST(least(:y0, :y1) AS float8),
               CAST(greatest(:x0, :x1) AS float8), CAST(greatest(:y0, :y1) AS float8), CAST(:pad AS float8)),
        (SELECT vertex FROM ends WHERE n = 1), (SELECT vertex FROM ends WHERE n = 2), directed => true) p
)
SELECT (SELECT vertex FROM ends WHERE n = 1) = (SELECT vertex FROM ends WHERE n = 2) AS same_vertex,
       (SELECT count(*) FROM path) AS steps,
       -- one line in walking order: here, each road in the direction walked, the point
       (SELECT ST_AsGeoJSON(ST_RemoveRepeatedPoints(ST_MakeLine(pt ORDER BY seq, k)), 7) FROM (
            SELECT -1 AS seq, 0 AS k, geom AS pt FROM ends WHERE n = 1
            UNION ALL
            SELECT p.seq, d.path[1], d.geom FROM path p JOIN road r ON r.id = p.edge,
                   ST_DumpPoints(CASE WHEN r.source = p.node THEN r.geom ELSE ST_Reverse(r.geom) END) d
            UNION ALL
            SELECT 2147483647, 0, geom FROM ends WHERE n = 2) pts) AS geometry,
       (SELECT coalesce(sum(r.length_m), 0) FROM path p JOIN road r ON r.id = p.edge) AS network_m,
       (SELECT coalesce(sum(CASE WHEN r.source = p.node THEN r.cost ELSE r.reverse_cost END), 0)
          FROM path p JOIN road r ON r.id = p.edge) AS network_s,
       (SELECT sum(ST_Distance(ST_Transform(geom, :epsg), ST_Transform(vgeom, :epsg))) FROM ends) AS legs_m
"""


def route(
    conn: sa.Connection, start: tuple[float, float], end: tuple[float, float], at: datetime, epsg: int
) -> dict[str, Any] | None:
    """The walking route from `start` to `end` (lon, lat) over the road network, with its length and ETA.

    A GeoJSON Feature with one LineString in walking order (straight legs from `start` to the
    nearest road node and from the last node to `end`); None when the network does not
    connect the two.
    """
    x0, y0 = start
    x1, y1 = end
    span_deg = max(abs(x1 - x0), abs(y1 - y0))
    row = conn.execute(
        sa.text(_ROUTE),
        # roads within a margin of the two points' box: a detour of half the distance, at least 1 km
        {"x0": x0, "y0": y0, "x1": x1, "y1": y1, "epsg": epsg, "pad": max(span_deg / 2, 0.012)},
    ).one()
    if not row.steps and not row.same_vertex:
        return None
    walk_s = float(row.network_s) + float(row.legs_m) / WALK_MPS
    return {
        "type": "Feature",
        "geometry": json.loads(row.geometry),
        "properties": {
            "distance_m": round(float(row.network_m) + float(row.legs_m), 1),
            "walk_s": round(walk_s, 1),
            "eta": at + timedelta(seconds=walk_s),
            "walk_mps": WALK_MPS,
        },
    }
