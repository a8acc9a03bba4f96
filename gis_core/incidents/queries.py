"""Reading incidents: filtered GeoJSON pages, one incident with its timeline, and statistics.

Rows a user may read follow their role: citizens their own reports, grid workers their
grids (and their own reports), officers their street or community, department handlers what
is dispatched to their department, the command centre, admins and planners everything.
PostgreSQL's row-level security enforces that (migrations 0009, 0017); `scope_clause` says the
same in SQL, so that the planner can use the area's indexes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from gis_core.incidents import shares
from gis_core.incidents.workflow import (
    ACTIVE_STATES,
    AWAITING_RATING_STATES,
    HANDLING_STATES,
    OPEN_STATES,
    STATES,
    allowed_actions,
    snapshot,
    state_in,
    worker_grids,
)
from gis_core.platform.auth import OFFICERS, User
from gis_core.platform.clock import iso
from gis_core.platform.errors import InvalidInput, NotFound
from gis_core.platform.scope import check_area_code, jurisdiction_clause, officer_unit, worker_grids_sql

MAX_LIMIT = 1000


def scope_clause(user: User, params: dict[str, Any], alias: str = "i") -> str:
    """SQL condition (on `alias`) limiting incidents to what `user` may read.

    Everyone reads their own reports (and follows them, as the phone page does), wherever they
    are; beyond those, a department handler reads those dispatched to their department, the others
    their area's.
    The row-level security policies of migrations 0009 and 0017 say the same.
    """
    params["scope_uid"] = user.id
    own = f"{alias}.reporter_user_id = :scope_uid"
    if user.role == "citizen":
        return own
    if user.role == "department_handler":
        params["scope_dept"] = user.department_code
        # dispatched to the department: not the reports the command centre has yet to sort
        return f"({own} OR ({alias}.department_code = :scope_dept AND {alias}.dispatched_at IS NOT NULL))"
    return f"({own} OR {jurisdiction_clause(user, alias, params)}{shared_clause(user, alias, params)})"


def shared_clause(user: User, alias: str, params: dict[str, Any]) -> str:
    """` OR` the incidents flagged near an edge of `user`'s area, from the other side (migration 0019).

    Empty for roles without an area, and for the district-wide, who read everything anyway.
    """
    if user.role == "grid_worker":
        return f" OR {alias}.shared_grid_ids && ARRAY({worker_grids_sql(user, params)})"
    if user.role in OFFICERS:
        level, unit = officer_unit(user, params)
        return f" OR {unit} = ANY ({alias}.shared_{level}_ids)"
    return ""


@dataclass
class IncidentFilter:
    """Filters of the incident list."""

    state: list[str] | None = None
    category: str | None = None  # item code, or a 2-digit major class
    area: str | None = None  # any level's code: district, street, community (12) or grid (15)
    bbox: tuple[float, float, float, float] | None = None
    since: datetime | None = None
    until: datetime | None = None
    overdue: bool | None = None
    mine: bool = False
    assigned: bool = False  # the caller is its handler now (a desk's or a grid worker's inbox)
    limit: int = 100
    offset: int = 0


def base(source: str = "incident") -> str:
    """FROM clause of incident reads: `source` (the table, or a CTE of new rows) as i, with names."""
    return f"""
FROM {source} i
LEFT JOIN grid g ON g.id = i.grid_id
LEFT JOIN community c ON c.id = i.community_id
LEFT JOIN street s ON s.id = i.street_id
JOIN category cat ON cat.code = i.category_code
"""


_BASE = base()
#: An incident's own fields, as lists and single reads return them (needs :active).
COLUMNS = """
i.id, i.code, i.category_code, cat.name AS category_name, cat.major_name, i.description, i.source, i.state,
i.level, i.department_code, i.reported_at, i.accepted_at, i.dispatched_at, i.resolved_at, i.closed_at,
i.due_at, i.rating, i.near_boundary, i.adjacent_grid_codes, i.version, i.escalations, i.reopened,
i.merged_into, i.track_check, i.parent_id, i.subtasks,
g.code AS grid_code, c.code AS community_code, s.code AS street_code,
g.name AS grid_name, c.name AS community_name, s.name AS street_name,
(i.due_at IS NOT NULL AND i.due_at < now() AND i.state = ANY(:active)) AS overdue,
ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat
"""


def where_clause(user: User, f: IncidentFilter, params: dict[str, Any]) -> str:
    """SQL condition on alias i (g, c, s joined for `f.area`): what `user` may read and `f` asks."""
    conds = [scope_clause(user, params)]
    params["active"] = list(ACTIVE_STATES)
    if f.state:
        bad = [s for s in f.state if s not in STATES]
        if bad:
            raise InvalidInput(f"unknown state {bad[0]!r}; one of {', '.join(STATES)}", where="query.state")
        conds.append("i.state = ANY(:states)")
        params["states"] = f.state
    if f.category:
        conds.append("(i.category_code = :cat OR left(i.category_code, 2) = :cat)")
        params["cat"] = f.category
    if f.area:
        params["area"] = check_area_code(f.area)
        # a joint incident (across a grid edge) counts on both sides: its shares name the others
        conds.append(
            "(g.code = :area OR c.code = :area OR s.code = :area OR left(g.code, 6) || '000000' = :area"
            " OR (cardinality(i.shared_grid_ids) > 0 AND EXISTS (SELECT 1 FROM grid sg"
            " JOIN community sc ON sc.id = sg.community_id JOIN street ss ON ss.id = sc.street_id"
            " WHERE sg.id = ANY (i.shared_grid_ids)"
            " AND :area IN (sg.code, sc.code, ss.code))))"
        )
    if f.bbox:
        minx, miny, maxx, maxy = f.bbox
        if minx > maxx or miny > maxy:
            raise InvalidInput("bbox must be minLon,minLat,maxLon,maxLat with min ≤ max", where="query.bbox")
        conds.append("i.geom && ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326)")
        params.update(minx=minx, miny=miny, maxx=maxx, maxy=maxy)
    if f.since:
        conds.append("i.reported_at >= :since")
        params["since"] = f.since
    if f.until:
        conds.append("i.reported_at < :until")
        params["until"] = f.until
    if f.overdue is not None:
        conds.append(
            ("" if f.overdue else "NOT ")
            + "(i.due_at IS NOT NULL AND i.due_at < now() AND i.state = ANY(:active))"
        )
    if f.mine:
        conds.append("i.reporter_user_id = :scope_uid")
    if f.assigned:
        conds.append(assigned_clause(user, params))
    return " AND ".join(conds)


def assigned_clause(user: User, params: dict[str, Any]) -> str:
    """Incidents dispatched to `user` to handle, at their level (what workflow's handler check allows)."""
    handling = f"{state_in('i.state', HANDLING_STATES)} AND i.subtasks = 0"  # a split parent: its sub-tasks
    if user.role == "department_handler":
        params["assigned_dept"] = user.department_code
        return f"(i.level = 'district' AND i.department_code = :assigned_dept AND {handling})"
    if user.role in OFFICERS:
        level, unit = officer_unit(user, params)
        return f"(i.level = '{level}' AND i.{level}_id = {unit} AND {handling})"
    if user.role == "grid_worker":  # an active worker's grids, as the workflow's handler check has them
        grids = f"{worker_grids_sql(user, params)} AND w.active"
        return f"(i.level = 'grid' AND {handling} AND i.grid_id IN ({grids}))"
    return "false"  # the centre, planners and residents handle nothing themselves


def feature(row: Mapping[Any, Any]) -> dict[str, Any]:
    """An incident's fields (COLUMNS, by name) as a GeoJSON Feature (RFC 7946)."""
    props = {k: v for k, v in row.items() if k not in ("lon", "lat")}
    for k, v in props.items():
        if isinstance(v, datetime):
            props[k] = iso(v)
    return {
        "type": "Feature",
        "id": row["id"],
        "geometry": {"type": "Point", "coordinates": [row["lon"], row["lat"]]},
        "properties": props,
    }


def list_incidents(conn: sa.Connection, user: User, f: IncidentFilter) -> tuple[list[dict[str, Any]], int]:
    """A page of incidents the user may read, newest first, and how many match in all."""
    if not 1 <= f.limit <= MAX_LIMIT or f.offset < 0:
        raise InvalidInput(f"limit must be 1..{MAX_LIMIT} and offset ≥ 0", where="query.limit")
    params: dict[str, Any] = {"limit": f.limit, "offset": f.offset}
    where = where_clause(user, f, params)
    total = conn.execute(sa.text(f"SELECT count(*) {_BASE} WHERE {where}"), params).scalar_one()
    rows = conn.execute(
        sa.text(
            f"SELECT {COLUMNS} {_BASE} WHERE {where} "
            "ORDER BY i.reported_at DESC, i.id DESC LIMIT :limit OFFSET :offset"
        ),
        params,
    ).all()
    return [feature(r._mapping) for r in rows], int(total)


def summary(conn: sa.Connection, user: User, incident_id: int) -> dict[str, Any]:
    """One incident's own fields as a GeoJSON Feature (one query; what a list item holds)."""
    params: dict[str, Any] = {"id": incident_id}
    where = where_clause(user, IncidentFilter(), params)
    row = conn.execute(sa.text(f"SELECT {COLUMNS} {_BASE} WHERE i.id = :id AND {where}"), params).first()
    if row is None:
        raise NotFound(f"incident {incident_id} does not exist or is not yours to see", where="path.id")
    return feature(row._mapping)


def get_incident(conn: sa.Connection, user: User, incident_id: int) -> dict[str, Any]:
    """One incident with timeline, photos, duplicate candidates and the caller's allowed actions."""
    out = summary(conn, user, incident_id)
    events = conn.execute(
        sa.text(
            "SELECT e.id, e.action, e.from_state, e.to_state, e.at, e.note, e.level, e.department_code, "
            "e.data, "
            "u.username AS actor FROM incident_event e LEFT JOIN app_user u ON u.id = e.actor_user_id "
            "WHERE e.incident_id = :id ORDER BY e.at, e.id"
        ),
        {"id": incident_id},
    ).all()
    out["properties"]["timeline"] = [
        {**{k: v for k, v in e._mapping.items() if k != "at"}, "at": iso(e.at)} for e in events
    ]
    photos = conn.execute(
        sa.text(
            "SELECT sha256, width, height, position FROM incident_photo WHERE incident_id = :id "
            "ORDER BY position"
        ),
        {"id": incident_id},
    ).all()
    out["properties"]["photos"] = [
        {
            "url": f"/api/v1/photos/{p.sha256}.jpg",
            "thumbnail": f"/api/v1/photos/{p.sha256}.thumb.jpg",
            "width": p.width,
            "height": p.height,
        }
        for p in photos
    ]
    dups = conn.execute(
        sa.text(
            "SELECT d.candidate_id AS id, o.code, o.state, round(d.distance_m::numeric, 1) AS distance_m "
            "FROM incident_duplicate d JOIN incident o ON o.id = d.candidate_id WHERE d.incident_id = :id "
            # nearest first, and among equally near the latest (the console shows the first three)
            "ORDER BY d.distance_m, o.reported_at DESC, o.id DESC"
        ),
        {"id": incident_id},
    ).all()
    out["properties"]["possible_duplicates"] = [
        {"id": d.id, "code": d.code, "state": d.state, "distance_m": float(d.distance_m)} for d in dups
    ]
    out["properties"]["shares"] = shares.of(conn, incident_id)
    out["properties"]["children"] = [
        dict(r._mapping) | {"due_at": iso(r.due_at) if r.due_at else None}
        for r in conn.execute(
            sa.text(
                "SELECT k.id, k.code, k.state, k.level, k.department_code, d.name AS department_name, "
                "k.due_at "
                "FROM incident k LEFT JOIN department d ON d.code = k.department_code "
                "WHERE k.parent_id = :id ORDER BY k.id"
            ),
            {"id": incident_id},
        )
    ]
    inc = snapshot(conn, incident_id)
    out["properties"]["allowed_actions"] = allowed_actions(user, inc, worker_grids(conn, user))
    return out


def stats(conn: sa.Connection, user: User, f: IncidentFilter) -> dict[str, Any]:
    """Counts, 办结率, 满意率, median times and where incidents were closed, for a filter.

    A split report counts once (its parent), not once more per sub-task.
    """
    params: dict[str, Any] = {"open": list(OPEN_STATES), "awaiting": list(AWAITING_RATING_STATES)}
    where = f"{where_clause(user, f, params)} AND i.parent_id IS NULL"  # every figure counts reports
    row = conn.execute(
        sa.text(f"""
        SELECT count(*) AS total,
               count(*) FILTER (WHERE i.state = ANY(:open)) AS open,
               count(*) FILTER (WHERE i.state = ANY(:awaiting)) AS awaiting_rating,
               count(*) FILTER (WHERE i.state = 'closed') AS closed,
               count(*) FILTER (WHERE i.state = 'rejected') AS rejected,
               count(*) FILTER (WHERE i.state = 'merged') AS merged,
               count(*) FILTER (WHERE i.due_at IS NOT NULL AND i.due_at < now() AND i.state = ANY(:active))
                   AS overdue,
               count(*) FILTER (WHERE i.rating IN ('satisfied', 'basic')) AS satisfied,
               count(*) FILTER (WHERE i.rating IS NOT NULL) AS rated,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM i.accepted_at - i.reported_at))
                   AS median_accept_s,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM i.resolved_at - i.reported_at))
                   AS median_resolve_s,
               count(*) FILTER (WHERE i.state = 'closed' AND i.closed_level = 'grid') AS closed_grid,
               count(*) FILTER (WHERE i.state = 'closed' AND i.closed_level = 'community')
                   AS closed_community,
               count(*) FILTER (WHERE i.state = 'closed' AND i.closed_level = 'street') AS closed_street,
               count(*) FILTER (WHERE i.state = 'closed' AND i.closed_level = 'district') AS closed_district
        {_BASE} WHERE {where}"""),
        params,
    ).one()
    by_state: dict[str, int] = dict(
        conn.execute(
            sa.text(f"SELECT i.state, count(*) {_BASE} WHERE {where} GROUP BY i.state"), params
        ).all()
    )
    handled = row.total - row.rejected - row.merged

    def ratio(a: int, b: int) -> float | None:
        return round(a / b, 4) if b else None

    return {
        "total": row.total,
        "open": row.open,
        "awaiting_rating": row.awaiting_rating,
        "by_state": by_state,
        "overdue": row.overdue,
        "completion_rate": ratio(row.closed, handled),
        "satisfaction_rate": ratio(row.satisfied, row.rated),
        "median_seconds_to_accept": row.median_accept_s,
        "median_seconds_to_resolve": row.median_resolve_s,
        "closed_at_level": {
            "grid": row.closed_grid,
            "community": row.closed_community,
            "street": row.closed_street,
            "district": row.closed_district,
        },
        "closed_within_street_share": ratio(
            row.closed_grid + row.closed_community + row.closed_street, row.closed
        ),
        "definitions": {
            "open": ", ".join(OPEN_STATES),
            "awaiting_rating": ", ".join(AWAITING_RATING_STATES),
            "completion_rate": "closed / (all − rejected − merged)",
            "satisfaction_rate": "(satisfied + basic) / rated",
        },
    }


def to_json(obj: Any) -> str:
    """JSON with datetimes as ISO strings in the district's zone."""
    return json.dumps(obj, default=lambda o: iso(o) if isinstance(o, datetime) else str(o))
