"""SLA escalation: incidents past their stage deadline move one level up, once per deadline.

Several server processes may run the scheduler; a transaction-level advisory lock lets one
of them work at a time, and rows are locked FOR UPDATE SKIP LOCKED. Each escalation goes
through the same conditional transition as a person's action, is written to the timeline
(actor: the system) and raises an 'incident_overdue' warning, once per incident and level.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from gis_core.incidents.workflow import ACTIVE_STATES, plan, snapshot, transition

ADVISORY_LOCK = 0x0E6D  # "onegrid escalation"


def escalate_overdue(conn: sa.Connection, now: datetime, limit: int = 500) -> list[int]:
    """Handle what is overdue at `now`: escalate it, or at district level warn and stop its clock.

    Returns the ids handled (empty when another process holds the lock or nothing is due);
    call again until empty to drain a backlog larger than `limit`.
    """
    if not conn.execute(sa.text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": ADVISORY_LOCK}).scalar():
        return []
    due = (
        conn.execute(
            sa.text(
                "SELECT id FROM incident WHERE state = ANY(:s) AND due_at < :now ORDER BY due_at LIMIT :n "
                "FOR UPDATE SKIP LOCKED"
            ),
            {"s": list(ACTIVE_STATES), "now": now, "n": limit},
        )
        .scalars()
        .all()
    )
    done = []
    for incident_id in due:
        inc = snapshot(conn, incident_id)
        _raise_warning(conn, inc, now)
        if inc.level == "district":
            # nowhere higher to go: the red warning is the escalation; stop re-checking it
            conn.execute(sa.text("UPDATE incident SET due_at = NULL WHERE id = :i"), {"i": inc.id})
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
        {"key": f"{inc.id}:{inc.level}:{inc.state}", "now": now, "id": inc.id},
    )
