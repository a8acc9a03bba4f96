"""Warnings (预警查看) as people read and act on them.

The list of their area, one warning with its
timeline, acknowledge and clear. The rules that raise them are in `warning_rules`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from gis_core.platform.auth import User
from gis_core.platform.errors import Conflict, NotFound
from gis_core.platform.scope import jurisdiction_clause


def log_events(
    conn: sa.Connection, ids: list[int], action: str, actor: int | None, now: datetime, note: str
) -> None:
    """One timeline entry per warning in `ids`: who did what, when, and why."""
    if ids:
        conn.execute(
            sa.text(
                "INSERT INTO warning_event (warning_id, action, actor_user_id, at, note) "
                "SELECT unnest(CAST(:ids AS bigint[])), :a, :u, :now, :note"
            ),
            {"ids": ids, "a": action, "u": actor, "now": now, "note": note},
        )


_COLUMNS = """
w.id, w.rule, w.cause_key, w.subject_type, w.subject_id, w.level, w.state, w.message,
w.raised_at, w.acknowledged_at, w.cleared_at, g.code AS grid_code, ST_AsGeoJSON(w.geom)::json AS geometry
"""


def _feature(row: Any) -> dict[str, Any]:
    props = {k: v for k, v in row.items() if k not in ("geometry", "id")}
    return {"type": "Feature", "id": row["id"], "geometry": row["geometry"], "properties": props}


def search(conn: sa.Connection, user: User, state: str, rule: str | None, limit: int) -> dict[str, Any]:
    """Warnings the user may read (their area), newest first: `state` active, one state, or all."""
    params: dict[str, Any] = {"limit": limit}
    conds = [jurisdiction_clause(user, "w", params)]
    if state == "active":
        conds.append("w.state <> 'cleared'")
    elif state != "all":
        conds.append("w.state = :state")
        params["state"] = state
    if rule:
        conds.append("w.rule = :rule")
        params["rule"] = rule
    rows = conn.execute(
        sa.text(
            f"SELECT {_COLUMNS} FROM warning w LEFT JOIN grid g ON g.id = w.grid_id "  # noqa: S608
            f"WHERE {' AND '.join(conds)} ORDER BY w.raised_at DESC, w.id DESC LIMIT :limit"
        ),
        params,
    ).mappings()
    features = [_feature(r) for r in rows]
    params.pop("limit")
    matched = conn.execute(
        sa.text(f"SELECT count(*) FROM warning w WHERE {' AND '.join(conds)}"),  # noqa: S608
        params,
    ).scalar_one()
    return {
        "type": "FeatureCollection",
        "numberMatched": matched,  # all that match: the list may hold only the newest `limit`
        "numberReturned": len(features),
        "features": features,
    }


def one(conn: sa.Connection, user: User, warning_id: int) -> dict[str, Any]:
    """A warning with its timeline; 404 when missing or outside the user's area."""
    params: dict[str, Any] = {"id": warning_id}
    cond = jurisdiction_clause(user, "w", params)
    row = (
        conn.execute(
            sa.text(
                f"SELECT {_COLUMNS} FROM warning w LEFT JOIN grid g ON g.id = w.grid_id "  # noqa: S608
                f"WHERE w.id = :id AND {cond}"
            ),
            params,
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"warning {warning_id} does not exist or is not in your area", where="path.warning_id")
    feature = _feature(row)
    feature["properties"]["timeline"] = [
        dict(r)
        for r in conn.execute(
            sa.text(
                "SELECT e.action, e.at, e.note, u.display_name AS actor FROM warning_event e "
                "LEFT JOIN app_user u ON u.id = e.actor_user_id WHERE e.warning_id = :id ORDER BY e.at, e.id"
            ),
            {"id": warning_id},
        ).mappings()
    ]
    return feature


def act(
    conn: sa.Connection, user: User, warning_id: int, action: str, note: str, now: datetime
) -> dict[str, Any]:
    """Acknowledge (raised → acknowledged) or clear (raised or acknowledged → cleared) a warning.

    The state changes in one conditional UPDATE, so two people acting at once cannot both win:
    the second gets a 409 with the state the first left.
    """
    one(conn, user, warning_id)  # 404 unless the user may read it
    allowed = {"acknowledge": ("raised",), "clear": ("raised", "acknowledged")}[action]
    new_state, stamp = {
        "acknowledge": ("acknowledged", "acknowledged_at"),
        "clear": ("cleared", "cleared_at"),
    }[action]
    done = conn.execute(
        sa.text(
            f"UPDATE warning SET state = :s, {stamp} = :now "  # noqa: S608 - stamp is one of two column names
            "WHERE id = :id AND state = ANY(:allowed) RETURNING id"
        ),
        {"s": new_state, "now": now, "id": warning_id, "allowed": list(allowed)},
    ).first()
    if done is None:
        state = conn.execute(sa.text("SELECT state FROM warning WHERE id = :id"), {"id": warning_id}).scalar()
        raise Conflict(f"cannot {action} a warning that is {state}", where="path.warning_id", state=state)
    log_events(conn, [warning_id], action, user.id, now, note)
    return one(conn, user, warning_id)
