"""Cold-chain watch (冷链监管): sites, their probes' readings, their cameras and alert history.

Readings come in from the sites' gateways (`store_readings`, once each however often a batch is
resent); the warning rule `cold_chain_temperature` raises and clears the alerts; these reads
give the command centre one site's picture: where it is, which cameras watch it, how warm it has
been, and every alert it raised.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from gis_core.platform.clock import iso
from gis_core.platform.errors import InvalidInput, NotFound

#: The longest period one readings request covers (a month of half-hourly readings: 1,500 rows).
MAX_PERIOD = timedelta(days=31)

_SITE = """
SELECT s.id, s.code, s.name, s.category, s.risk_level, g.code AS grid_code,
       ST_X(ST_PointOnSurface(s.geom)) AS lon, ST_Y(ST_PointOnSurface(s.geom)) AS lat,
       (SELECT json_build_object('t', r.recorded_at, 'temperature_c', r.temperature_c)
          FROM cold_chain_reading r WHERE r.site_id = s.id ORDER BY r.recorded_at DESC LIMIT 1) AS latest
FROM cold_chain_site s LEFT JOIN grid g ON g.id = s.grid_id WHERE s.code = :code
"""
_CAMERAS = """
SELECT c.code, c.name, c.online, ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat
FROM cold_chain_camera cc JOIN camera c ON c.id = cc.camera_id WHERE cc.site_id = :id ORDER BY c.code
"""


def _site_row(conn: sa.Connection, code: str) -> Any:
    row = conn.execute(sa.text(_SITE), {"code": code}).mappings().first()
    if row is None:
        raise NotFound(f"no cold-chain site {code!r}", where="path.code")
    return row


def site(conn: sa.Connection, code: str, limit_c: float) -> dict[str, Any]:
    """One site: where, what, the cameras that watch it, its latest reading and the alarm limit."""
    row = _site_row(conn, code)
    latest = row["latest"]
    return {
        "code": row["code"],
        "name": row["name"],
        "category": row["category"],
        "risk_level": row["risk_level"],
        "grid_code": row["grid_code"],
        "lon": row["lon"],
        "lat": row["lat"],
        "limit_c": limit_c,
        "latest": None
        if latest is None
        else {"t": iso(datetime.fromisoformat(latest["t"])), "temperature_c": latest["temperature_c"]},
        "cameras": [dict(c) for c in conn.execute(sa.text(_CAMERAS), {"id": row["id"]}).mappings()],
    }


def readings(
    conn: sa.Connection, code: str, since: datetime, until: datetime, limit_c: float
) -> dict[str, Any]:
    """A site's readings in [since, until], oldest first, with how many were above the limit."""
    if until <= since:
        raise InvalidInput("to must be after from", where="query.to")
    if until - since > MAX_PERIOD:
        raise InvalidInput(f"at most {MAX_PERIOD.days} days per request", where="query.from")
    row = _site_row(conn, code)
    rows = conn.execute(
        sa.text(
            "SELECT recorded_at, temperature_c FROM cold_chain_reading "
            "WHERE site_id = :id AND recorded_at BETWEEN :a AND :b ORDER BY recorded_at"
        ),
        {"id": row["id"], "a": since, "b": until},
    ).all()
    return {
        "site": code,
        "from": iso(since),
        "to": iso(until),
        "limit_c": limit_c,
        "above_limit": sum(1 for r in rows if r.temperature_c > limit_c),
        "readings": [{"t": iso(r.recorded_at), "temperature_c": r.temperature_c} for r in rows],
    }


def alerts(conn: sa.Connection, code: str) -> dict[str, Any]:
    """Every temperature alert the site raised, newest first, each with its timeline.

    Read through the caller's row-level security: an alert outside their area is not listed.
    """
    row = _site_row(conn, code)
    found = conn.execute(
        sa.text(
            "SELECT w.id, w.level, w.state, w.message, w.raised_at, w.acknowledged_at, w.cleared_at, "
            "  (SELECT json_agg(json_build_object('action', e.action, 'at', e.at, 'note', e.note) "
            "          ORDER BY e.at, e.id) FROM warning_event e WHERE e.warning_id = w.id) AS timeline "
            "FROM warning w WHERE w.rule = 'cold_chain_temperature' AND w.subject_id = :id "
            "ORDER BY w.raised_at DESC, w.id DESC"
        ),
        {"id": row["id"]},
    ).mappings()
    out = []
    for a in found:
        item = {k: (iso(v) if isinstance(v, datetime) else v) for k, v in a.items() if k != "timeline"}
        item["timeline"] = [{**e, "at": iso(datetime.fromisoformat(e["at"]))} for e in (a["timeline"] or [])]
        out.append(item)
    return {"site": code, "alerts": out}


def store_readings(conn: sa.Connection, readings: list[tuple[str, datetime, float]]) -> dict[str, int]:
    """Store cold-chain readings (site code, time, °C) once each; unknown site codes raise 404."""
    codes = sorted({r[0] for r in readings})
    known: dict[str, int] = dict(
        conn.execute(sa.text("SELECT code, id FROM cold_chain_site WHERE code = ANY(:c)"), {"c": codes}).all()
    )
    for k, (code, _, _) in enumerate(readings):
        if code not in known:
            raise NotFound(f"no cold-chain site {code!r}", where=f"body.readings[{k}].site")
    stored = conn.execute(
        sa.text(
            "INSERT INTO cold_chain_reading (site_id, recorded_at, temperature_c) "
            "SELECT * FROM unnest(CAST(:s AS int[]), CAST(:t AS timestamptz[]), CAST(:v AS real[])) "
            "ON CONFLICT DO NOTHING"
        ),
        {"s": [known[r[0]] for r in readings], "t": [r[1] for r in readings], "v": [r[2] for r in readings]},
    ).rowcount
    return {"received": len(readings), "stored": int(stored), "duplicates": len(readings) - int(stored)}
