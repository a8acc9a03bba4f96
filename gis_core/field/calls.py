"""Point-calls (多人点调): call chosen workers to a point; they acknowledge, their track says they arrived.

A call is stored once per idempotency key, like a report. Arrival is not claimed by anyone: the
database marks a task arrived at the first fix within the call's `arrive_m` of the point after
the call (trigger `point_call_arrivals` on `track_point`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from gis_core.field.tracks import workers_in_area
from gis_core.platform.auth import User
from gis_core.platform.errors import Conflict, Forbidden, InvalidInput, NotFound
from gis_core.platform.scope import jurisdiction_clause

ARRIVE_M = 50.0
MAX_WORKERS = 50


@dataclass(frozen=True)
class CallRequest:
    """What the caller asks: a point (WGS 84), a message and the workers to call."""

    lon: float
    lat: float
    message: str
    worker_ids: tuple[int, ...]


def _fingerprint(user: User, r: CallRequest) -> str:
    payload = {"u": user.id, "x": r.lon, "y": r.lat, "m": r.message, "w": sorted(r.worker_ids)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _check_workers(conn: sa.Connection, user: User, ids: tuple[int, ...]) -> None:
    """Every worker exists, is active and works in the caller's area; else a problem naming the first."""
    if not 1 <= len(ids) <= MAX_WORKERS:
        raise InvalidInput(f"call 1 to {MAX_WORKERS} workers", where="body.worker_ids")
    if len(set(ids)) != len(ids):
        raise InvalidInput("a worker is listed twice", where="body.worker_ids")
    known = workers_in_area(conn, user, list(ids), active_only=True)
    for k, worker_id in enumerate(ids):
        if worker_id not in known:
            raise NotFound(
                f"worker {worker_id} does not exist, is inactive or is not in your area",
                where=f"body.worker_ids[{k}]",
            )


def create(
    conn: sa.Connection, user: User, r: CallRequest, key: str, now: datetime
) -> tuple[dict[str, Any], bool]:
    """Store the call and one task per worker, once per `key`: (the call, whether it was a replay)."""
    fingerprint = _fingerprint(user, r)
    existing = conn.execute(
        sa.text("SELECT id, request_hash FROM point_call WHERE idempotency_key = :k"), {"k": key}
    ).first()
    if existing is None:
        _check_workers(conn, user, r.worker_ids)
        row = conn.execute(
            sa.text(
                "INSERT INTO point_call (message, created_by, created_at, arrive_m, idempotency_key, "
                "request_hash, geom) VALUES (:m, :u, :now, :arrive, :k, :h, "
                "ST_SetSRID(ST_MakePoint(:x, :y), 4326)) "
                "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id"
            ),
            {
                "m": r.message,
                "u": user.id,
                "now": now,
                "arrive": ARRIVE_M,
                "k": key,
                "h": fingerprint,
                "x": r.lon,
                "y": r.lat,
            },
        ).first()
        if row is not None:
            conn.execute(
                sa.text(
                    "INSERT INTO point_call_task (call_id, worker_id) SELECT :c, unnest(CAST(:w AS int[]))"
                ),
                {"c": row.id, "w": list(r.worker_ids)},
            )
            return get(conn, user, int(row.id)), False
        # a concurrent retry with the same key got there first
        existing = conn.execute(
            sa.text("SELECT id, request_hash FROM point_call WHERE idempotency_key = :k"), {"k": key}
        ).one()
    if existing.request_hash != fingerprint:
        raise Conflict("this Idempotency-Key was used for a different call", where="header.Idempotency-Key")
    return get(conn, user, int(existing.id)), True


def _readable(user: User, params: dict[str, Any]) -> str:
    """Calls `user` may read: those in their area, and for a grid worker those that call them."""
    area = jurisdiction_clause(user, "c", params)
    if user.role == "grid_worker":
        called = (
            "EXISTS (SELECT 1 FROM point_call_task t JOIN worker w ON w.id = t.worker_id "
            "WHERE t.call_id = c.id AND w.user_id = :scope_uid)"
        )
        return f"({area} OR {called})"
    return area


_CALLS = """
SELECT c.id, c.message, c.created_at, c.arrive_m, ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat,
       u.display_name AS created_by,
       (SELECT json_agg(json_build_object(
            'worker_id', t.worker_id, 'code', w.code, 'name', w.name,
            'acknowledged_at', t.acknowledged_at, 'arrived_at', t.arrived_at,
            'state', CASE WHEN t.arrived_at IS NOT NULL THEN 'arrived'
                          WHEN t.acknowledged_at IS NOT NULL THEN 'acknowledged' ELSE 'called' END)
            ORDER BY t.worker_id)
          FROM point_call_task t JOIN worker w ON w.id = t.worker_id WHERE t.call_id = c.id) AS tasks
FROM point_call c JOIN app_user u ON u.id = c.created_by
WHERE {cond}
"""


def get(conn: sa.Connection, user: User, call_id: int) -> dict[str, Any]:
    """One call with its tasks; 404 when it does not exist or is not the caller's to read."""
    params: dict[str, Any] = {"id": call_id}
    cond = f"c.id = :id AND {_readable(user, params)}"
    row = conn.execute(sa.text(_CALLS.format(cond=cond)), params).mappings().first()
    if row is None:
        raise NotFound(f"call {call_id} does not exist or is not in your area", where="path.call_id")
    return dict(row)


def recent(conn: sa.Connection, user: User, since: datetime | None, limit: int) -> list[dict[str, Any]]:
    """The newest calls the user may read (a grid worker: including those that call them)."""
    params: dict[str, Any] = {"limit": limit}
    cond = _readable(user, params)
    if since is not None:
        cond += " AND c.created_at >= :since"
        params["since"] = since
    sql = _CALLS.format(cond=cond) + " ORDER BY c.created_at DESC, c.id DESC LIMIT :limit"
    return [dict(r) for r in conn.execute(sa.text(sql), params).mappings()]


def acknowledge(conn: sa.Connection, user: User, call_id: int, now: datetime) -> dict[str, Any]:
    """The calling worker says they are on their way; the first acknowledgement's time is kept."""
    get(conn, user, call_id)  # 404 unless readable
    row = conn.execute(
        sa.text(
            "UPDATE point_call_task t SET acknowledged_at = coalesce(t.acknowledged_at, :now) "
            "FROM worker w WHERE w.id = t.worker_id AND w.user_id = :u AND t.call_id = :c "
            "RETURNING t.worker_id"
        ),
        {"now": now, "u": user.id, "c": call_id},
    ).first()
    if row is None:
        raise Forbidden("only a worker this call calls can acknowledge it", where="path.call_id")
    return get(conn, user, call_id)
