"""Joint handling across a boundary (跨网格联动): each side's share of a report near a grid edge.

A report flagged near an edge is read by the units on both sides (migration 0019), and each
grid involved has a share: its own side of the work, finished by whoever's area holds that
grid, with a note. The incident's own workflow (accept, dispatch, resolve) stays with its own
grid's chain; a share is the other side's part in it, and its record that it did that part.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from gis_core.platform.auth import User
from gis_core.platform.clock import iso
from gis_core.platform.errors import Conflict, Forbidden, NotFound

_SHARES = sa.text("""
SELECT g.code AS grid_code, g.name AS grid_name, c.code AS community_code, c.name AS community_name,
       s.own, s.done_at, u.username AS done_by, s.note
FROM incident_share s JOIN grid g ON g.id = s.grid_id JOIN community c ON c.id = g.community_id
LEFT JOIN app_user u ON u.id = s.done_by
WHERE s.incident_id = :id ORDER BY s.own DESC, g.code
""")
# RLS (reach_update) lets the update through only where the caller's area holds the grid
_FINISH = sa.text("""
UPDATE incident_share s SET done_at = :now, done_by = :uid, note = :note
FROM grid g WHERE g.id = s.grid_id AND g.code = :grid AND s.incident_id = :id AND s.done_at IS NULL
RETURNING s.grid_id
""")


def of(conn: sa.Connection, incident_id: int) -> list[dict[str, Any]]:
    """The incident's shares, its own grid's first; empty unless it lies across an edge."""
    return [
        {**r._mapping, "done_at": iso(r.done_at) if r.done_at else None}
        for r in conn.execute(_SHARES, {"id": incident_id})
    ]


def finish(
    conn: sa.Connection, user: User, incident_id: int, grid_code: str, note: str, now: datetime
) -> None:
    """Mark `grid_code`'s share of the incident done, as `user` (the incident read after shows the shares).

    404 when the incident is not readable or has no share for that grid; 403 when the grid is
    outside the caller's area; 409 when that share is done already (two at once: one wins).
    """
    if grid_code not in {s["grid_code"] for s in of(conn, incident_id)}:
        raise NotFound(f"incident {incident_id} has no share for grid {grid_code}", where="path.grid_code")
    done = conn.execute(
        _FINISH, {"now": now, "uid": user.id, "note": note, "grid": grid_code, "id": incident_id}
    ).first()
    if done is None:  # done already (perhaps by a finisher who won just now), or not in the area
        if _done_at(conn, incident_id, grid_code) is not None:
            raise Conflict(f"grid {grid_code}'s share is done already", where="path.grid_code")
        raise Forbidden(f"grid {grid_code} is not in your area", where="path.grid_code")
    conn.execute(
        sa.text(
            "INSERT INTO incident_event (incident_id, action, from_state, to_state, actor_user_id, at, note, "
            "level, department_code, data) SELECT id, 'share_done', state, state, :uid, :now, :note, level, "
            "department_code, jsonb_build_object('grid_code', CAST(:grid AS text)) "
            "FROM incident WHERE id = :id"
        ),
        {"uid": user.id, "now": now, "note": note, "grid": grid_code, "id": incident_id},
    )


def _done_at(conn: sa.Connection, incident_id: int, grid_code: str) -> datetime | None:
    """When the share was done, read afresh (a new snapshot sees a finisher who just committed)."""
    return conn.execute(
        sa.text(
            "SELECT s.done_at FROM incident_share s JOIN grid g ON g.id = s.grid_id "
            "WHERE s.incident_id = :id AND g.code = :grid"
        ),
        {"id": incident_id, "grid": grid_code},
    ).scalar()
