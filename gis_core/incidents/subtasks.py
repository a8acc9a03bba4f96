"""拆分: an incident split into sub-tasks for several units, and the parent that follows them.

Each sub-task is an incident of its own (same place, category and photos; its own level,
department, deadline and timeline) that runs the handling part of the loop. The parent waits
in progress, handled by nobody itself; when the last sub-task is resolved the parent is resolved
too, and its reporter rates the parent: a satisfied rating closes every sub-task with it, an
unsatisfied one sends every sub-task back to its handler. Sub-tasks resolving at the same time
each lock the parent before counting, so the last one always sees the others.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from gis_core.incidents.workflow import CLOSED_STATES, snapshot, transition

#: A sub-task is finished for its parent when resolved, or ended (closed, rejected, merged).
FINISHED = ("resolved", *CLOSED_STATES)

_CHILD = sa.text("""
WITH child AS (
    INSERT INTO incident (code, category_code, category_version, description, source, state, level,
                          department_code,
                          reporter_name, reported_at, accepted_at, dispatched_at, due_at, near_boundary,
                          adjacent_grid_codes, geom, updated_at, parent_id)
    SELECT p.code || '-' || (SELECT count(*) + 1 FROM incident k WHERE k.parent_id = p.id), p.category_code,
           p.category_version,
           CASE WHEN :note = '' THEN p.description ELSE :note || '（' || p.description || '）' END,
           p.source, 'dispatched', :level, :dept, p.reporter_name, p.reported_at, p.accepted_at, :now,
           :now + make_interval(secs => :handle_s), p.near_boundary, p.adjacent_grid_codes, p.geom, :now, p.id
    FROM incident p WHERE p.id = :parent
    RETURNING id, level, department_code
), ev AS (
    INSERT INTO incident_event (incident_id, action, from_state, to_state, actor_user_id, at, note, level,
                                department_code, data)
    SELECT child.id, 'split', NULL, 'dispatched', :uid, :now, :note, child.level, child.department_code,
           jsonb_build_object('parent_id', CAST(:parent AS bigint))
    FROM child
), photos AS (
    INSERT INTO incident_photo (incident_id, sha256, content_type, width, height, bytes, position,
                                taken_lon, taken_lat)
    SELECT child.id, ph.sha256, ph.content_type, ph.width, ph.height, ph.bytes, ph.position,
           ph.taken_lon, ph.taken_lat
    FROM child, incident_photo ph WHERE ph.incident_id = :parent
)
SELECT id FROM child
""")


def _create(
    conn: sa.Connection, parent: sa.Row[Any], parts: list[dict[str, str]], actor: int | None, now: datetime
) -> None:
    for part in parts:
        conn.execute(
            _CHILD,
            {
                "note": part["note"],
                "level": part["level"],
                "dept": part["department"],
                "now": now,
                "handle_s": float(parent.handle_hours) * 3600,
                "parent": parent.id,
                "uid": actor,
            },
        )


def _children(conn: sa.Connection, parent_id: int, state: str) -> list[int]:
    return list(
        conn.execute(
            sa.text("SELECT id FROM incident WHERE parent_id = :p AND state = :s ORDER BY id"),
            {"p": parent_id, "s": state},
        ).scalars()
    )


def _with_parent(conn: sa.Connection, parent_id: int, action: str, to_state: str, now: datetime) -> None:
    """Move each resolved sub-task along with its rated parent (closed, or back to its handler)."""
    for child_id in _children(conn, parent_id, "resolved"):
        child = snapshot(conn, child_id)
        if to_state == "closed":
            changes: dict[str, Any] = {"closed_at": now, "closed_level": child.level}
            note = "主事件已评价办结"
        else:
            changes = {
                "resolved_at": None,
                "due_at": now + timedelta(hours=float(child.handle_hours)),
                "reopened": sa.text("reopened + 1"),
            }
            note = "主事件评价不满意，重新办理"
        transition(conn, child, action, to_state, changes, {"parent_id": parent_id}, None, note, now)


def _parent_done(conn: sa.Connection, parent_id: int, now: datetime) -> None:
    """Resolve the parent once no sub-task is left unfinished (the parent row locked first)."""
    conn.execute(sa.text("SELECT 1 FROM incident WHERE id = :p FOR UPDATE"), {"p": parent_id})
    left = conn.execute(
        sa.text("SELECT count(*) FROM incident WHERE parent_id = :p AND NOT (state = ANY(:done))"),
        {"p": parent_id, "done": list(FINISHED)},
    ).scalar_one()
    parent = snapshot(conn, parent_id)
    if left == 0 and parent.state == "in_progress":
        transition(
            conn,
            parent,
            "subtasks_resolved",
            "resolved",
            {"resolved_at": now, "due_at": None},
            {},
            None,
            "子任务全部办结",
            now,
        )


def follow_up(
    conn: sa.Connection,
    inc: sa.Row[Any],
    action: str,
    to_state: str,
    data: dict[str, Any],
    actor: int | None,
    now: datetime,
) -> None:
    """What an action on a split incident or one of its sub-tasks sets going, in the same transaction."""
    if action == "split":
        _create(conn, snapshot(conn, inc.id), data["parts"], actor, now)
    elif inc.parent_id and to_state in FINISHED:
        _parent_done(conn, inc.parent_id, now)
    elif inc.subtasks and action == "rate":
        closed = to_state == "closed"
        _with_parent(
            conn,
            inc.id,
            "closed_with_parent" if closed else "reopened_with_parent",
            "closed" if closed else "dispatched",
            now,
        )
