"""Service circles (15/10/5 分钟服务圈): walking isochrones over the road network, and who lies outside.

pgRouting's `pgr_drivingDistance` gives every road node within the walking time of a centre
(its nearest road node); each road edge leaving a reached node is walked as far as the
remaining time allows (`ST_LineSubstring`). The polygon is that reached network widened by
`access_m` on each side, with flat ends where a walk stops part-way along an edge and round
joins at reached nodes, so it holds exactly the nodes within the time on a network whose
unreached nodes are more than `access_m` from any reached stretch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
import sqlalchemy as sa

#: Residents reach the road through their doorway, courtyard or lane: a band on each side.
ACCESS_M = 60.0

_REACH = """
WITH start AS (
    SELECT c.id AS center_id, v.id AS vertex
    FROM unnest(CAST(:centers AS int[]), CAST(:lons AS float8[]), CAST(:lats AS float8[])) AS c(id, lon, lat)
    CROSS JOIN LATERAL (SELECT id FROM road_vertex
                        ORDER BY geom <-> ST_SetSRID(ST_MakePoint(c.lon, c.lat), 4326) LIMIT 1) v
), dd AS (
    SELECT d.from_v AS vertex, d.node, d.agg_cost
    FROM pgr_drivingDistance('SELECT id, source, target, cost, reverse_cost FROM road',
                             (SELECT array_agg(DISTINCT vertex) FROM start), :limit, directed => true) d
)
SELECT s.center_id, 'node' AS kind, ST_AsBinary(ST_Transform(v.geom, :epsg)) AS wkb
FROM dd JOIN start s ON s.vertex = dd.vertex JOIN road_vertex v ON v.id = dd.node
UNION ALL
SELECT s.center_id, 'edge', ST_AsBinary(ST_Transform(
    CASE WHEN r.source = dd.node
         THEN ST_LineSubstring(r.geom, 0, LEAST(1, (:limit - dd.agg_cost) / NULLIF(r.cost, 0)))
         ELSE ST_LineSubstring(r.geom, GREATEST(0, 1 - (:limit - dd.agg_cost) / NULLIF(r.reverse_cost, 0)), 1)
    END, :epsg))
FROM dd JOIN start s ON s.vertex = dd.vertex
JOIN road r ON (r.source = dd.node AND r.cost >= 0) OR (r.target = dd.node AND r.reverse_cost >= 0)
"""


@dataclass(frozen=True)
class Circle:
    """One centre's isochrone in the metric CRS."""

    center_id: int
    minutes: float
    polygon: shapely.Geometry


def isochrones(
    conn: sa.Connection,
    centers: list[tuple[int, float, float]],
    minutes: float,
    epsg: int,
    access_m: float = ACCESS_M,
) -> list[Circle]:
    """Walking isochrones of `minutes` from each (id, lon, lat) centre, polygons in EPSG `epsg`."""
    if not centers:
        return []
    rows = conn.execute(
        sa.text(_REACH),
        {
            "centers": [c[0] for c in centers],
            "lons": [float(c[1]) for c in centers],
            "lats": [float(c[2]) for c in centers],
            "limit": minutes * 60.0,
            "epsg": epsg,
        },
    ).all()
    parts: dict[int, list[shapely.Geometry]] = {c[0]: [] for c in centers}
    kinds: dict[int, list[str]] = {c[0]: [] for c in centers}
    for center_id, kind, wkb in rows:
        parts[center_id].append(shapely.from_wkb(bytes(wkb)))
        kinds[center_id].append(kind)
    out = []
    for cid, geoms in parts.items():
        g = np.array(geoms, dtype=object)
        is_node = np.array(kinds[cid]) == "node"
        pieces = [
            shapely.buffer(g[is_node], access_m, quad_segs=8),
            shapely.buffer(g[~is_node], access_m, cap_style="flat", quad_segs=8),
        ]
        polygon = shapely.union_all(np.concatenate(pieces)) if len(g) else shapely.Polygon()
        out.append(Circle(cid, minutes, shapely.make_valid(polygon)))
    return out


def centers(conn: sa.Connection) -> list[dict[str, Any]]:
    """Every service centre: id, code, name, level, its standard circle minutes, lon/lat."""
    rows = conn.execute(
        sa.text(
            "SELECT id, code, name, level, circle_minutes, ST_X(geom) lon, ST_Y(geom) lat "
            "FROM service_center ORDER BY id"
        )
    ).mappings()
    return [dict(r) for r in rows]


def service_circles(conn: sa.Connection, epsg: int, minutes: float | None = None) -> list[Circle]:
    """Each centre's circle: of `minutes`, or of its own standard (district 15, street 10, community 5)."""
    out: list[Circle] = []
    all_centers = centers(conn)
    groups = sorted({c["circle_minutes"] for c in all_centers}) if minutes is None else [minutes]
    for m in groups:
        chosen = [c for c in all_centers if minutes is not None or c["circle_minutes"] == m]
        out += isochrones(conn, [(c["id"], c["lon"], c["lat"]) for c in chosen], float(m), epsg)
    return out


def outside(conn: sa.Connection, circles: list[Circle], epsg: int) -> dict[str, Any]:
    """Households and special-care persons outside every circle, with the buildings and persons.

    A building counts by its point on surface, a person by their home point.
    """
    covered = shapely.union_all([c.polygon for c in circles]) if circles else shapely.Polygon()
    shapely.prepare(covered)
    buildings = list(
        conn.execute(
            sa.text(
                "SELECT b.id, b.households, g.code AS grid_code, ST_X(p) x, ST_Y(p) y FROM "
                "(SELECT id, households, grid_id, ST_Transform(ST_PointOnSurface(geom), :epsg) p "
                " FROM building"
                " WHERE households > 0) b LEFT JOIN grid g ON g.id = b.grid_id"
            ),
            {"epsg": epsg},
        ).all()
    )
    persons = list(
        conn.execute(
            sa.text(
                "SELECT p.id, g.code AS grid_code, ST_X(m) x, ST_Y(m) y FROM "
                "(SELECT id, grid_id, ST_Transform(geom, :epsg) m FROM person "
                " WHERE cardinality(care_tags) > 0) p "
                "LEFT JOIN grid g ON g.id = p.grid_id"
            ),
            {"epsg": epsg},
        ).all()
    )

    def out_of(rows: list[Any]) -> np.ndarray:
        if not rows:
            return np.zeros(0, dtype=bool)
        xy = np.array([(r.x, r.y) for r in rows], dtype=float)
        return ~shapely.contains_xy(covered, xy[:, 0], xy[:, 1])

    b_out, p_out = out_of(buildings), out_of(persons)
    return {
        "households": int(sum(r.households for r, o in zip(buildings, b_out, strict=True) if o)),
        "households_total": int(sum(r.households for r in buildings)),
        "buildings": [r.id for r, o in zip(buildings, b_out, strict=True) if o],
        "uncovered": [  # the buildings outside, at their point on surface in the metric CRS
            {"id": r.id, "households": int(r.households), "grid_code": r.grid_code, "x": r.x, "y": r.y}
            for r, o in zip(buildings, b_out, strict=True)
            if o
        ],
        "special_care": int(p_out.sum()),
        "special_care_total": len(persons),
        "special_care_ids": [r.id for r, o in zip(persons, p_out, strict=True) if o],
        "by_grid": _by_grid(buildings, b_out),
    }


def _by_grid(buildings: list[Any], out: np.ndarray) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r, o in zip(buildings, out, strict=True):
        if o and r.grid_code:
            counts[r.grid_code] = counts.get(r.grid_code, 0) + int(r.households)
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def as_geojson(conn: sa.Connection, epsg: int, minutes: float | None = None) -> dict[str, Any]:
    """The circles as WGS 84 GeoJSON, and the households and special-care residents outside.

    Counts only, in all and per grid, for the wall (服务圈) and the API. Residents are counted
    as the connection's user may read them (row-level security).
    """
    from gis_core.geo.crs import WGS84, transformer

    circles = service_circles(conn, epsg, minutes)
    by_id = {c["id"]: c for c in centers(conn)}
    to_ll = transformer(epsg, WGS84)
    features = []
    for c in circles:
        poly = shapely.transform(c.polygon, lambda xy: np.column_stack(to_ll.transform(xy[:, 0], xy[:, 1])))
        centre = by_id[c.center_id]
        features.append(
            {
                "type": "Feature",
                "id": centre["code"],
                "geometry": shapely.geometry.mapping(shapely.set_precision(poly, 1e-7)),
                "properties": {
                    "code": centre["code"],
                    "name": centre["name"],
                    "level": centre["level"],
                    "minutes": c.minutes,
                    "area_km2": round(c.polygon.area / 1e6, 3),
                },
            }
        )
    out = outside(conn, circles, epsg)
    return {
        "type": "FeatureCollection",
        "features": features,
        "outside": {
            k: out[k]
            for k in ("households", "households_total", "special_care", "special_care_total", "by_grid")
        },
    }
