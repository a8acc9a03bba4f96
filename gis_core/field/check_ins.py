"""打卡: a grid worker checks in at a key point, and the server, not the phone, says whether they were there.

A check-in is accepted when one of the worker's own stored fixes of the last `window` lies
within `KEY_POINT_M` of the point (the same distance that counts a key point as patrolled),
and is stored once per Idempotency-Key, like a report: a phone that retries after a lost
answer gets the stored check-in back.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from gis_core.field.patrol import KEY_POINT_M
from gis_core.field.tracks import CLOCK_SKEW, worker_of_user
from gis_core.platform.auth import User
from gis_core.platform.errors import Forbidden, InvalidInput, NotFound, NotThere

#: How far to look for the nearest fix, to tell a worker who is not there how far off they are.
NEAR_M = 2_000.0
_NEAREST_FIX = """
SELECT k.id, k.name,
       (SELECT min(ST_Distance(ST_Transform(t.geom, :epsg), ST_Transform(k.geom, :epsg)))
        FROM track_point t
        WHERE t.worker_id = :w AND t.recorded_at > :since AND t.recorded_at <= :latest
          AND t.geom && ST_Transform(ST_Expand(ST_Transform(k.geom, :epsg), :box), 4326)) AS distance_m
FROM key_point k WHERE k.code = :code
"""
_STORED = """
SELECT c.id, k.code, k.name, c.at, c.distance_m, c.worker_id FROM key_point_check_in c
JOIN key_point k ON k.id = c.key_point_id WHERE c.idempotency_key = :key
"""


def _stored(conn: sa.Connection, key: str) -> dict[str, Any] | None:
    row = conn.execute(sa.text(_STORED), {"key": key}).mappings().first()
    return None if row is None else dict(row) | {"distance_m": round(float(row["distance_m"]), 1)}


def check_in(
    conn: sa.Connection, user: User, code: str, key: str, now: datetime, window: timedelta, epsg: int
) -> tuple[dict[str, Any], bool]:
    """Check the caller in at key point `code`: (the check-in, whether it was a retry).

    422 when none of their fixes of the last `window` came within `KEY_POINT_M` of it.
    """
    worker = worker_of_user(conn, user.id)
    if worker is None:
        raise Forbidden("only a grid worker checks in at a key point", where="header.Authorization")
    earlier = _stored(conn, key)
    if earlier is not None:
        if (earlier["code"], earlier["worker_id"]) != (code, worker):
            raise InvalidInput(
                "this Idempotency-Key was used for another check-in", where="header.Idempotency-Key"
            )
        return earlier, True
    params = {
        "code": code,
        "w": worker,
        "since": now - window,
        "latest": now + CLOCK_SKEW,
        "epsg": epsg,
        "box": NEAR_M,
    }
    point = conn.execute(sa.text(_NEAREST_FIX), params).first()
    if point is None:
        raise NotFound(f"key point {code!r} does not exist", where="path.code")
    if point.distance_m is None or point.distance_m > KEY_POINT_M:
        near = (
            "no fix of yours"
            if point.distance_m is None
            else f"your nearest fix was {point.distance_m:.0f} m away"
        )
        raise NotThere(
            f"{near} within {KEY_POINT_M:.0f} m of {point.name} "
            f"in the last {window.total_seconds() / 60:.0f} minutes",
            where="path.code",
            distance_m=None if point.distance_m is None else round(float(point.distance_m), 1),
            within_m=KEY_POINT_M,
        )
    conn.execute(
        sa.text(
            "INSERT INTO key_point_check_in (key_point_id, worker_id, at, distance_m, idempotency_key) "
            "VALUES (:k, :w, :now, :d, :key) ON CONFLICT (idempotency_key) DO NOTHING"
        ),
        {"k": point.id, "w": worker, "now": now, "d": point.distance_m, "key": key},
    )
    stored = _stored(conn, key)
    assert stored is not None  # ours, or a concurrent retry's with the same key
    return stored, False


_MY_KEY_POINTS = """
SELECT k.code, k.name, k.kind, k.patrol_interval_h, ST_X(k.geom) AS lon, ST_Y(k.geom) AS lat,
       g.code AS grid_code,
       (SELECT max(c.at) FROM key_point_check_in c WHERE c.key_point_id = k.id AND c.worker_id = :w)
           AS checked_in_at
FROM key_point k JOIN grid g ON g.id = k.grid_id
JOIN worker_grid wg ON wg.grid_id = g.id AND wg.worker_id = :w
ORDER BY k.code
"""
_MY_GRIDS = """
SELECT g.code, g.name, c.name AS community_name, s.name AS street_name, ST_AsGeoJSON(g.geom, 7) AS geometry
FROM grid g JOIN worker_grid wg ON wg.grid_id = g.id AND wg.worker_id = :w
JOIN community c ON c.id = g.community_id JOIN street s ON s.id = c.street_id ORDER BY g.code
"""


def my_field(conn: sa.Connection, user: User, since: datetime) -> dict[str, Any]:
    """A grid worker's own ground: who they are, their grids, their key points and check-ins since `since`."""
    worker = (
        conn.execute(
            sa.text(
                "SELECT id, code, name, phone FROM worker WHERE user_id = :u AND active ORDER BY id LIMIT 1"
            ),
            {"u": user.id},
        )
        .mappings()
        .first()
    )
    if worker is None:
        raise Forbidden("this account is not an active grid worker's", where="header.Authorization")
    w = worker["id"]
    grids = conn.execute(sa.text(_MY_GRIDS), {"w": w}).mappings().all()
    points = conn.execute(sa.text(_MY_KEY_POINTS), {"w": w}).mappings().all()
    checked = conn.execute(
        sa.text(
            "SELECT count(DISTINCT key_point_id) FROM key_point_check_in WHERE worker_id = :w AND at >= :s"
        ),
        {"w": w, "s": since},
    ).scalar_one()
    return {
        "worker": dict(worker),
        "grids": {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "id": g["code"],
                    "geometry": json.loads(g["geometry"]),
                    "properties": {k: v for k, v in g.items() if k != "geometry"},
                }
                for g in grids
            ],
        },
        "key_points": [dict(p) for p in points],
        "key_points_checked_today": int(checked),
        "since": since,
    }
