"""Incident hotspots (热点追踪): counts per grid or hexagon over a period, their Gi*, and emerging patterns.

The counts respect what the caller may read (the incident rules); the statistics come from
`gis_core.geo.spatial_stats`. Hexagons are cut by PostGIS `ST_HexagonGrid` in the metric CRS over the
district, and incidents are assigned to them in process with an STRtree; grid counts are
grouped by PostgreSQL, since every incident carries its grid. Units and their contiguity
weights are cached per boundary revision. Every count is a units × time-bins matrix, so the
period's hotspots and their emergence share one query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import numpy as np
import shapely
import sqlalchemy as sa
from scipy import sparse

from gis_core.geo.spatial_stats import emerging, gi_star, mann_kendall, queen_weights, with_self
from gis_core.incidents.queries import IncidentFilter, where_clause
from gis_core.platform.auth import User
from gis_core.platform.clock import iso, month_starts
from gis_core.platform.errors import InvalidInput

UNITS = ("grid", "hex")
#: a bin: a fixed length from the period's start, or the district's calendar months
Step = timedelta | Literal["month"]
BINS: dict[str, Step] = {"day": timedelta(days=1), "week": timedelta(days=7), "month": "month"}
WEIGHTS = "queen contiguity (boundaries that touch), each unit its own neighbour, binary (Getis-Ord Gi*)"
#: Most time bins in one emerging-hotspot request (a year of days).
MAX_BINS = 400


@dataclass(frozen=True)
class HotspotQuery:
    """What to count: a period, optionally a category (item or 2-digit major class), the units."""

    since: datetime
    until: datetime
    category: str | None = None
    unit: str = "grid"
    hex_size_m: float = 250.0
    as_of: datetime | None = None  # grids as they were then (boundary versions); None: today's


@dataclass
class Counts:
    """Units (id, code, name), their WGS 84 polygons, and incident counts per unit and time bin."""

    units: list[dict[str, Any]]
    geoms: np.ndarray
    counts: np.ndarray  # (units, bins)
    edges: list[datetime]  # bins + 1 boundaries
    weights: sparse.csr_matrix  # queen contiguity of the units, empty diagonal
    weights_star: sparse.csr_matrix  # the Gi* weights (each unit its own neighbour)


def _incident_filter(user: User, q: HotspotQuery, params: dict[str, Any]) -> str:
    if q.since >= q.until:
        raise InvalidInput("the period must end after it starts", where="query.to")
    if q.unit not in UNITS:
        raise InvalidInput(f"unit is one of {', '.join(UNITS)}", where="query.unit")
    return where_clause(user, IncidentFilter(category=q.category, since=q.since, until=q.until), params)


@dataclass(frozen=True)
class Units:
    """The areal units of one kind at one boundary revision, with their contiguity weights.

    Built once per (revision, unit, size, CRS) and shared: cutting hexagons and finding who
    touches whom cost far more than counting a year of incidents.
    """

    units: list[dict[str, Any]]
    geoms: np.ndarray  # WGS 84 polygons
    metric: np.ndarray | None  # hexagons in the metric CRS, for assigning incidents
    grid_index: dict[int, int]  # grid id -> row, for grids
    weights: sparse.csr_matrix  # queen contiguity, empty diagonal
    weights_star: sparse.csr_matrix  # with each unit its own neighbour (Gi*)


_UNITS: dict[tuple[Any, ...], Units] = {}
_UNITS_KEPT = 8


def _grids_as_of(
    conn: sa.Connection, as_of: datetime, epsg: int
) -> tuple[list[dict[str, Any]], np.ndarray, np.ndarray]:
    """The grids valid at `as_of` (boundary versions): units, WGS 84 polygons, metric polygons."""
    rows = conn.execute(
        sa.text(
            "SELECT code, name, ST_AsBinary(geom) AS wkb, ST_AsBinary(ST_Transform(geom, :epsg)) AS metric "
            "FROM boundary_version WHERE level = 'grid' AND valid_from <= :t "
            "AND (valid_to IS NULL OR valid_to > :t) ORDER BY code"
        ),
        {"t": as_of, "epsg": epsg},
    ).all()
    units = [{"id": r.code, "code": r.code, "name": r.name} for r in rows]
    return (
        units,
        shapely.from_wkb([bytes(r.wkb) for r in rows]),
        shapely.from_wkb([bytes(r.metric) for r in rows]),
    )


def _grids(conn: sa.Connection) -> tuple[list[dict[str, Any]], np.ndarray, dict[int, int]]:
    rows = conn.execute(
        sa.text("SELECT g.id, g.code, g.name, ST_AsBinary(g.geom) AS wkb FROM grid g ORDER BY g.code")
    ).all()
    units = [{"id": r.code, "code": r.code, "name": r.name} for r in rows]
    return units, shapely.from_wkb([bytes(r.wkb) for r in rows]), {r.id: k for k, r in enumerate(rows)}


def _hexes(
    conn: sa.Connection, size_m: float, epsg: int
) -> tuple[list[dict[str, Any]], np.ndarray, np.ndarray]:
    """Hexagons meeting the district (every district of a demo city): units, WGS 84 and metric polygons."""
    params = {"size": size_m, "epsg": epsg}
    # hexagons over the district's bounding box; which touch the district is decided in
    # process against a prepared polygon (PostGIS took ~1 s for it on the densified boundary)
    district_wkb = conn.execute(
        sa.text("SELECT ST_AsBinary(ST_Transform(ST_Union(geom), :epsg)) FROM district"), params
    ).scalar_one()
    hexes = conn.execute(
        sa.text(
            "SELECT h.i, h.j, ST_AsBinary(h.geom) AS metric, ST_AsBinary(ST_Transform(h.geom, 4326)) AS wkb "
            "FROM (SELECT ST_SetSRID(ST_Extent(geom)::geometry, 4326) AS box FROM district) d, "
            "ST_HexagonGrid(:size, ST_Transform(d.box, :epsg)) AS h "
            "ORDER BY h.i, h.j"
        ),
        params,
    ).all()
    district = shapely.from_wkb(bytes(district_wkb))
    shapely.prepare(district)
    metric = shapely.from_wkb([bytes(h.metric) for h in hexes])
    inside = shapely.intersects(district, metric)
    size = int(size_m)
    units = [
        {"id": f"H{size}_{h.i}_{h.j}", "code": f"H{size}_{h.i}_{h.j}", "name": None}
        for h, k in zip(hexes, inside, strict=True)
        if k
    ]
    wgs = shapely.from_wkb([bytes(h.wkb) for h, k in zip(hexes, inside, strict=True) if k])
    return units, wgs, metric[inside]


def units_of(
    conn: sa.Connection, unit: str, hex_size_m: float, epsg: int, as_of: datetime | None = None
) -> Units:
    """The units and weights for `unit`, from the cache while the boundaries have not changed."""
    if unit not in UNITS:
        raise InvalidInput(f"unit is one of {', '.join(UNITS)}", where="query.unit")
    if unit == "hex" and not 50 <= hex_size_m <= 5000:
        raise InvalidInput("hex_size must be 50–5,000 metres", where="query.hex_size")
    # xmin names the transaction that last moved the revision: unlike the number, it is never
    # reused by a later change after a rolled-back one
    revision = tuple(conn.execute(sa.text("SELECT revision, xmin::text FROM boundary_revision")).one())
    database = conn.engine.url.render_as_string(hide_password=True)
    key = (database, revision, unit, hex_size_m if unit == "hex" else None, epsg, as_of)
    found = _UNITS.get(key)
    if found is not None:
        return found
    metric: np.ndarray | None = None
    index: dict[int, int] = {}
    if unit == "hex":
        units, geoms, metric = _hexes(conn, hex_size_m, epsg)
    elif as_of is not None:  # incidents are then counted by where they are, in the grids of then
        units, geoms, metric = _grids_as_of(conn, as_of, epsg)
    else:
        units, geoms, index = _grids(conn)
    w = queen_weights(geoms)
    built = Units(units, geoms, metric, index, w, with_self(w))
    while len(_UNITS) >= _UNITS_KEPT:
        _UNITS.pop(next(iter(_UNITS)))
    _UNITS[key] = built
    return built


def bin_edges(since: datetime, until: datetime, step: Step | None) -> list[datetime]:
    """Boundaries of the bins from `since` to `until`.

    Fixed-length bins start at `since` and the last ends at `until` (it may be shorter);
    months are the district's calendar months, the first and last cut at `since` and `until`.
    """
    if step is None:
        return [since, until]
    if step == "month":
        edges = [since, *month_starts(since, until)]
    else:
        edges = [since]
        while edges[-1] + step < until and len(edges) <= MAX_BINS:
            edges.append(edges[-1] + step)
    if len(edges) > MAX_BINS:
        raise InvalidInput(
            f"at most {MAX_BINS} time bins: choose a longer bin or a shorter period", where="query.bin"
        )
    return [*edges, until]


def counts(conn: sa.Connection, user: User, q: HotspotQuery, epsg: int, step: Step | None = None) -> Counts:
    """Incidents `user` may read, counted per unit (grid or hexagon) and per time bin of `step`."""
    params: dict[str, Any] = {"epsg": epsg}
    cond = _incident_filter(user, q, params)
    edges = bin_edges(q.since, q.until, step)
    u = units_of(conn, q.unit, q.hex_size_m, epsg, q.as_of)
    matrix = np.zeros((len(u.units), len(edges) - 1), dtype=int)
    params["edges"] = edges
    if u.metric is None:
        # today's grids: incidents carry their grid: the database counts, and only (grid, bin, n) rows travel
        rows = conn.execute(
            sa.text(
                "SELECT i.grid_id, width_bucket(i.reported_at, CAST(:edges AS timestamptz[])) - 1 AS b, "
                "count(*) AS n "
                f"FROM incident i WHERE {cond} AND i.grid_id IS NOT NULL GROUP BY 1, 2"  # noqa: S608 - bound parameters only
            ),
            params,
        ).all()
        for r in rows:
            k = u.grid_index.get(r.grid_id)
            if k is not None and 0 <= r.b < matrix.shape[1]:
                matrix[k, r.b] += r.n
        return Counts(u.units, u.geoms, matrix, edges, u.weights, u.weights_star)
    points = conn.execute(
        sa.text(
            "SELECT width_bucket(i.reported_at, CAST(:edges AS timestamptz[])) - 1 AS b, "
            "ST_AsBinary(ST_Transform(i.geom, :epsg)) AS m "
            f"FROM incident i WHERE {cond}"  # noqa: S608 - cond is built from bound parameters
        ),
        params,
    ).all()
    if points:
        b = np.array([p.b for p in points], dtype=int)
        pts = shapely.from_wkb([bytes(p.m) for p in points])
        point_idx, cell_idx = shapely.STRtree(u.metric).query(pts, predicate="intersects")
        _, first = np.unique(point_idx, return_index=True)  # a point on a shared edge counts once
        np.add.at(matrix, (cell_idx[first], b[point_idx[first]]), 1)
    return Counts(u.units, u.geoms, matrix, edges, u.weights, u.weights_star)


def _weights_info(w: Any, n: int) -> dict[str, Any]:
    return {"description": WEIGHTS, "units": n, "mean_neighbours": round(float(w.sum()) / max(n, 1), 3)}


def _feature(unit: dict[str, Any], geom: shapely.Geometry, props: dict[str, Any]) -> dict[str, Any]:
    body = {k: v for k, v in unit.items() if k != "id"} | props
    return {
        "type": "Feature",
        "id": unit["id"],
        "geometry": shapely.geometry.mapping(geom),
        "properties": body,
    }


def hotspots(conn: sa.Connection, user: User, q: HotspotQuery, projected_epsg: int) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of units with count, Gi* z, p and confidence bin, and the weights used."""
    c = counts(conn, user, q, projected_epsg)
    y = c.counts.sum(axis=1).astype(float)
    w = c.weights
    stats = gi_star(y, c.weights_star) if y.sum() > 0 and len(y) >= 3 else None
    features = []
    for k, (u, g) in enumerate(zip(c.units, c.geoms, strict=True)):
        props: dict[str, Any] = {"count": int(y[k])}
        if stats is not None:
            level = int(stats.bin[k])
            props.update(
                z=float(stats.z[k]),
                p=float(stats.p[k]),
                bin=level,
                confidence=[None, 0.90, 0.95, 0.99][abs(level)],
                kind="hot" if level > 0 else "cold" if level < 0 else None,
            )
        features.append(_feature(u, g, props))
    return {
        "type": "FeatureCollection",
        "unit": q.unit,
        "period": {"from": iso(q.since), "to": iso(q.until)},
        "category": q.category,
        "total": int(y.sum()),
        "weights": _weights_info(w, len(c.units)),
        "features": features,
    }


def emerging_of(c: Counts) -> tuple[np.ndarray, np.ndarray, list[tuple[str | None, str | None]]]:
    """Gi* z and confidence bins per unit and time bin of `c`, and each unit's (kind, pattern).

    Gi* is computed per bin over the same spatial weights; a bin with no incidents at all (or
    the same count everywhere) has no hotspots (z 0).
    """
    n, nb = c.counts.shape
    z = np.zeros((n, nb))
    level = np.zeros((n, nb), dtype=int)
    for k in range(nb):
        y = c.counts[:, k].astype(float)
        if y.sum() > 0 and n >= 3 and y.std() > 0:
            s = gi_star(y, c.weights_star)
            z[:, k], level[:, k] = s.z, s.bin
    return z, level, emerging(z, level)


def emerging_hotspots(
    conn: sa.Connection, user: User, q: HotspotQuery, step: str, projected_epsg: int
) -> dict[str, Any]:
    """Per unit: the emerging pattern over time bins of `step`, with counts, Gi* z and trend per unit.

    Gi* is computed per bin over the same spatial weights; a bin with no incidents at all has
    no hotspots (z 0). The trend is Mann-Kendall on the unit's z series.
    """
    if step not in BINS:
        raise InvalidInput(f"bin is one of {', '.join(BINS)}", where="query.bin")
    c = counts(conn, user, q, projected_epsg, BINS[step])
    n = len(c.units)
    w = c.weights
    z, level, classes = emerging_of(c)
    features = []
    for i, (u, g) in enumerate(zip(c.units, c.geoms, strict=True)):
        tau, p = mann_kendall(z[i])
        kind, pattern = classes[i]
        features.append(
            _feature(
                u,
                g,
                {
                    "count": int(c.counts[i].sum()),
                    "kind": kind,
                    "pattern": pattern,
                    "trend": {"tau": round(tau, 4), "p": round(p, 4)},
                    "counts": c.counts[i].tolist(),
                    "z": np.round(z[i], 3).tolist(),
                    "bins": level[i].tolist(),
                },
            )
        )
    return {
        "type": "FeatureCollection",
        "unit": q.unit,
        "period": {"from": iso(q.since), "to": iso(q.until)},
        "bin": step,
        "edges": [iso(e) for e in c.edges],
        "category": q.category,
        "total": int(c.counts.sum()),
        "weights": _weights_info(w, n),
        "significance": "a bin is hot (cold) when its Gi* is significant at 95 %; trend: Mann-Kendall at 5 %",
        "features": features,
    }
