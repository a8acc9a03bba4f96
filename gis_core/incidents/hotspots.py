"""Incident hotspots (热点追踪): counts per grid or hexagon over a period, and their Gi*.

The counts respect what the caller may read (the incident rules); the statistics come from
`gis_core.hotspots`. Hexagons are cut by PostGIS `ST_HexagonGrid` in the metric CRS over the
district, and incidents are assigned to them in process with an STRtree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import shapely
import sqlalchemy as sa

from gis_core.auth import User
from gis_core.errors import InvalidInput
from gis_core.hotspots import gi_star, queen_weights, with_self
from gis_core.incidents.queries import IncidentFilter, where_clause

UNITS = ("grid", "hex")
WEIGHTS = "queen contiguity (boundaries that touch), each unit its own neighbour, binary (Getis-Ord Gi*)"


@dataclass(frozen=True)
class HotspotQuery:
    """What to count: a period, optionally a category (item or 2-digit major class), the units."""

    since: datetime
    until: datetime
    category: str | None = None
    unit: str = "grid"
    hex_size_m: float = 250.0


def _incident_filter(user: User, q: HotspotQuery, params: dict[str, Any]) -> str:
    if q.since >= q.until:
        raise InvalidInput("the period must end after it starts", where="query.to")
    if q.unit not in UNITS:
        raise InvalidInput(f"unit is one of {', '.join(UNITS)}", where="query.unit")
    return where_clause(user, IncidentFilter(category=q.category, since=q.since, until=q.until), params)


def _grid_counts(conn: sa.Connection, user: User, q: HotspotQuery) -> tuple[list[dict[str, Any]], np.ndarray]:
    params: dict[str, Any] = {}
    cond = _incident_filter(user, q, params)
    rows = conn.execute(
        sa.text(
            "SELECT g.code, g.name, ST_AsBinary(g.geom) AS wkb, "
            f"(SELECT count(*) FROM incident i WHERE i.grid_id = g.id AND {cond}) AS n "
            "FROM grid g ORDER BY g.code"
        ),
        params,
    ).all()
    units = [{"id": r.code, "code": r.code, "name": r.name, "count": int(r.n)} for r in rows]
    return units, shapely.from_wkb([bytes(r.wkb) for r in rows])


def _hex_counts(
    conn: sa.Connection, user: User, q: HotspotQuery, epsg: int
) -> tuple[list[dict[str, Any]], np.ndarray]:
    if not 50 <= q.hex_size_m <= 5000:
        raise InvalidInput("hex_size must be 50–5,000 metres", where="query.hex_size")
    params: dict[str, Any] = {"size": q.hex_size_m, "epsg": epsg}
    cond = _incident_filter(user, q, params)
    # hexagons over the district's bounding box; which touch the district is decided in
    # process against a prepared polygon (PostGIS took ~1 s for it on the densified boundary)
    district_wkb = conn.execute(
        sa.text("SELECT ST_AsBinary(ST_Transform(geom, :epsg)) FROM district"), params
    ).scalar_one()
    hexes = conn.execute(
        sa.text(
            "SELECT h.i, h.j, ST_AsBinary(h.geom) AS metric, ST_AsBinary(ST_Transform(h.geom, 4326)) AS wkb "
            "FROM district d, ST_HexagonGrid(:size, ST_Transform(ST_Envelope(d.geom), :epsg)) AS h "
            "ORDER BY h.i, h.j"
        ),
        params,
    ).all()
    district = shapely.from_wkb(bytes(district_wkb))
    shapely.prepare(district)
    inside = shapely.intersects(district, shapely.from_wkb([bytes(h.metric) for h in hexes]))
    hexes = [h for h, keep in zip(hexes, inside, strict=True) if keep]
    points = conn.execute(
        sa.text(f"SELECT ST_AsBinary(ST_Transform(i.geom, :epsg)) FROM incident i WHERE {cond}"),
        params,
    ).scalars()
    cells = shapely.from_wkb([bytes(h.metric) for h in hexes])
    pts = shapely.from_wkb([bytes(p) for p in points])
    counts = np.zeros(len(cells), dtype=int)
    if len(pts):
        point_idx, cell_idx = shapely.STRtree(cells).query(pts, predicate="intersects")
        _, first = np.unique(point_idx, return_index=True)  # a point on a shared edge counts once
        np.add.at(counts, cell_idx[first], 1)
    size = int(q.hex_size_m)
    units = [
        {"id": f"H{size}_{h.i}_{h.j}", "code": f"H{size}_{h.i}_{h.j}", "name": None, "count": int(c)}
        for h, c in zip(hexes, counts, strict=True)
    ]
    return units, shapely.from_wkb([bytes(h.wkb) for h in hexes])


def hotspots(conn: sa.Connection, user: User, q: HotspotQuery, projected_epsg: int) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of units with count, Gi* z, p and confidence bin, and the weights used."""
    if q.unit == "hex":
        units, geoms = _hex_counts(conn, user, q, projected_epsg)
    else:
        units, geoms = _grid_counts(conn, user, q)
    y = np.array([u["count"] for u in units], dtype=float)
    w = queen_weights(geoms)
    stats = gi_star(y, with_self(w)) if y.sum() > 0 and len(y) >= 3 else None
    features = []
    for k, (u, g) in enumerate(zip(units, geoms, strict=True)):
        props = {**u}
        props.pop("id")
        if stats is not None:
            level = int(stats.bin[k])
            props.update(
                z=float(stats.z[k]),
                p=float(stats.p[k]),
                bin=level,
                confidence=[None, 0.90, 0.95, 0.99][abs(level)],
                kind="hot" if level > 0 else "cold" if level < 0 else None,
            )
        features.append(
            {"type": "Feature", "id": u["id"], "geometry": shapely.geometry.mapping(g), "properties": props}
        )
    return {
        "type": "FeatureCollection",
        "unit": q.unit,
        "period": {"from": q.since.isoformat(), "to": q.until.isoformat()},
        "category": q.category,
        "total": int(y.sum()),
        "weights": {
            "description": WEIGHTS,
            "units": len(units),
            "mean_neighbours": round(float(w.sum()) / max(len(units), 1), 3),
        },
        "features": features,
    }
