"""SLA escalation: incidents past their stage deadline move one level up, once per deadline.

Several server processes may run the scheduler; a transaction-level advisory lock lets one
of them work at a time, and rows are locked FOR UPDATE SKIP LOCKED. Each escalation goes
through the same conditional transition as a person's action, is written to the timeline
(actor: the system) and raises an 'incident_overdue' warning, once per incident and level,
under the same cause key as the warning rule's (`overdue_cause_key`), so the rules keep it.
At district level there is nowhere higher to go: the deadline stays, the incident stays
overdue until it is resolved, and its red warning is raised once.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from gis_core.incidents.workflow import ACTIVE_STATES, plan, snapshot, transition

ADVISORY_LOCK = 0x0E6D  # "onegrid escalation"


def escalate_overdue(conn: sa.Connection, now: datetime, limit: int = 500) -> list[int]:
    """Handle what is overdue at `now`: escalate it, or at district level raise its red warning once.

    Returns the ids handled (empty when another process holds the lock or nothing is due);
    call again until empty to drain a backlog larger than `limit`.
    """
    if not conn.execute(sa.text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": ADVISORY_LOCK}).scalar():
        return []
    due = (
        conn.execute(
            sa.text(
                "SELECT id FROM incident i WHERE state = ANY(:s) AND due_at < :now "
                "AND subtasks = 0 "  # a split parent is late through its sub-tasks, which escalate
                "AND (level <> 'district' OR NOT EXISTS (SELECT 1 FROM warning w "
                "     WHERE w.rule = 'incident_overdue' AND w.state <> 'cleared' "
                "       AND w.cause_key = 'incident:' || i.id || :at_top)) "
                "ORDER BY due_at LIMIT :n FOR UPDATE SKIP LOCKED"
            ),
            {"s": list(ACTIVE_STATES), "now": now, "n": limit, "at_top": ":district"},
        )
        .scalars()
        .all()
    )
    done = []
    for incident_id in due:
        inc = snapshot(conn, incident_id)
        _raise_warning(conn, inc, now)
        if inc.level == "district":  # the red warning is the escalation; the deadline stays
            done.append(int(inc.id))
            continue
        to_state, changes, data = plan("escalate", inc, {}, now, conn)
        data["reason"] = "overdue"
        transition(conn, inc, "escalate", to_state, changes, data, None, "超时自动上报", now)
        done.append(int(inc.id))
    return done


def _raise_warning(conn: sa.Connection, inc: sa.Row, now: datetime) -> None:  # type: ignore[type-arg]
    conn.execute(
        sa.text("""
        INSERT INTO warning (rule, cause_key, subject_type, subject_id, level, message, raised_at, geom)
        SELECT 'incident_overdue', :key, 'incident', i.id,
               CASE WHEN i.level = 'district' THEN 'red' ELSE 'orange' END,
               '事件超时: ' || i.code || ' (' || i.state || ', ' || i.level || ')', :now, i.geom
        FROM incident i WHERE i.id = :id
        ON CONFLICT (rule, cause_key) WHERE state <> 'cleared' DO NOTHING"""),
        {"key": overdue_cause_key(inc.id, inc.level), "now": now, "id": inc.id},
    )


def overdue_cause_key(incident_id: int, level: str) -> str:
    """The one cause key of 'incident overdue at this level', shared with the warning rule."""
    return f"incident:{incident_id}:{level}"
