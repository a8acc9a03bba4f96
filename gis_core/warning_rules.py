"""Warnings (预警查看): rules that raise them, once per cause, and the actions on them.

Each rule looks at the district as it is at `now` and names its causes (an overdue incident, an
offline camera, a warm cold store, a worker away from their grid on shift, an emerging hotspot,
a key point nobody visited). `evaluate` raises a warning for each cause that has no warning yet
(the partial unique index on (rule, cause_key) makes that once per cause, however often and
from however many processes the rules run), raises the level of one whose cause worsened, and
clears those whose cause has ended. People acknowledge and clear warnings; every step is in
`warning_event`, the warning's timeline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import shapely
import sqlalchemy as sa
from scipy import stats

from gis_core.auth import User
from gis_core.errors import Conflict, NotFound
from gis_core.incidents.workflow import ACTIVE_STATES
from gis_core.scope import jurisdiction_clause
from gis_core.settings import Settings

LEVELS = ("blue", "yellow", "orange", "red")
PATTERN_ZH = {"new": "新", "consecutive": "连续", "intensifying": "加剧"}
#: One evaluation at a time across all server processes.
_LOCK = "SELECT pg_advisory_xact_lock(hashtext('onegrid-warning-rules'))"


@dataclass(frozen=True)
class Cause:
    """Why a warning should be up: its key within the rule, subject, level, message and place."""

    key: str
    subject_type: str
    subject_id: int | None
    level: str
    message: str
    geom: shapely.Geometry  # WGS 84


def _sql_rule(sql: str) -> Callable[[sa.Connection, datetime, Settings], list[Cause]]:
    """A rule given as one SELECT of (key, subject_type, subject_id, level, message, wkb)."""

    def run(conn: sa.Connection, now: datetime, settings: Settings) -> list[Cause]:
        params = {
            "now": now,
            "active": list(ACTIVE_STATES),
            "on_duty": timedelta(minutes=settings.on_duty_minutes),
            "cold_max": settings.cold_chain_max_c,
            "reading_window": timedelta(hours=2),
        }
        return [
            Cause(r.key, r.subject_type, r.subject_id, r.level, r.message, shapely.from_wkb(bytes(r.wkb)))
            for r in conn.execute(sa.text(sql), params)
        ]

    return run


#: key as `escalation.overdue_cause_key`: the warning escalation raises is this rule's own
incident_overdue = _sql_rule("""
SELECT 'incident:' || i.id || ':' || i.level AS key, 'incident' AS subject_type, i.id AS subject_id,
       CASE WHEN i.level = 'district' OR :now - i.due_at > interval '24 hours' THEN 'red' ELSE 'orange' END
         AS level,
       '事件 ' || i.code || ' 已超时' AS message, ST_AsBinary(i.geom) AS wkb
FROM incident i WHERE i.state = ANY(:active) AND i.due_at < :now
""")

camera_offline = _sql_rule("""
SELECT 'camera:' || c.id AS key, 'camera' AS subject_type, c.id AS subject_id, 'yellow' AS level,
       '探头 ' || c.code || ' 离线' AS message, ST_AsBinary(c.geom) AS wkb
FROM camera c WHERE NOT c.online
""")

cold_chain_temperature = _sql_rule("""
SELECT 'cold_chain:' || s.id AS key, 'cold_chain_site' AS subject_type, s.id AS subject_id,
       CASE WHEN s.risk_level = 'high' THEN 'red' ELSE 'orange' END AS level,
       s.name || ' 温度异常 ' || round(r.temperature_c::numeric, 1) || '℃' AS message,
       ST_AsBinary(ST_PointOnSurface(s.geom)) AS wkb
FROM cold_chain_site s
CROSS JOIN LATERAL (SELECT temperature_c, recorded_at FROM cold_chain_reading
                    WHERE site_id = s.id AND recorded_at <= :now
                    ORDER BY recorded_at DESC LIMIT 1) r
WHERE r.recorded_at > :now - CAST(:reading_window AS interval) AND r.temperature_c > :cold_max
""")

worker_outside_grid = _sql_rule("""
SELECT 'worker:' || p.worker_id AS key, 'worker' AS subject_type, p.worker_id AS subject_id,
       'blue' AS level, '网格员 ' || w.name || ' 值班期间不在本网格' AS message, ST_AsBinary(p.geom) AS wkb
FROM worker_position p JOIN worker w ON w.id = p.worker_id AND w.active
WHERE p.recorded_at > :now - CAST(:on_duty AS interval) AND p.recorded_at <= :now
  AND EXISTS (SELECT 1 FROM worker_grid wg WHERE wg.worker_id = p.worker_id)
  AND NOT EXISTS (SELECT 1 FROM worker_grid wg JOIN grid g ON g.id = wg.grid_id
                  WHERE wg.worker_id = p.worker_id
                    AND ST_DWithin(g.geom::geography, p.geom::geography, 50))
""")


def key_point_unpatrolled(conn: sa.Connection, now: datetime, settings: Settings) -> list[Cause]:
    """Key points (fire, flood) with no fix within 50 m for longer than their patrol interval."""
    from gis_core.patrol import key_points

    out = []
    for k in key_points(conn, now, settings.projected_epsg):
        if not k["overdue"]:
            continue
        hours = k["hours_since"]
        late = hours is None or hours > 2 * k["patrol_interval_h"]
        since = "从未巡查" if hours is None else f"{hours:.0f} 小时未巡查"
        out.append(
            Cause(
                f"key_point:{k['code']}",
                "key_point",
                None,
                "orange" if late else "yellow",
                f"{k['name']} {since}",
                shapely.Point(k["lon"], k["lat"]),
            )
        )
    return out


#: reports in a grid's neighbourhood (itself included) in the last week before it can be warned of
HOTSPOT_MIN_REPORTS = 3


def emerging_hotspot(conn: sa.Connection, now: datetime, settings: Settings) -> list[Cause]:
    """Grids that became hot for a class of incident in the last 12 weeks.

    New, consecutive or intensifying weekly Gi* hotspots whose last week is also significant
    after the false discovery rate is held at 5 % over all grids and classes: with 16 classes
    and 1,035 grids, a plain 95 % test would raise hundreds of warnings by chance alone. And
    evidence, not only significance: in a week with almost nothing reported, Gi*'s normal
    approximation makes one report a "hotspot" in its grid and every neighbour, so a grid is
    warned of only with a report of its own that week and at least `HOTSPOT_MIN_REPORTS` in its
    neighbourhood.
    """
    from gis_core.hotspots import fdr
    from gis_core.incidents.hotspots import BINS, HotspotQuery, counts, emerging_of

    district = User(0, "system", "预警规则", "commander", None, None)
    majors = conn.execute(sa.text("SELECT DISTINCT major_code, major_name FROM category ORDER BY 1")).all()
    found = []  # (major, name, unit, pattern, z of the last week)
    for major, major_name in majors:
        query = HotspotQuery(since=now - timedelta(weeks=12), until=now, category=major, unit="grid")
        c = counts(conn, district, query, settings.projected_epsg, BINS["week"])
        z, _, classes = emerging_of(c)
        own = c.counts[:, -1]
        around = c.weights_star @ own  # the grid and its neighbours, the last week
        for i, (kind, pattern) in enumerate(classes):
            if kind == "hot" and pattern in PATTERN_ZH and own[i] >= 1 and around[i] >= HOTSPOT_MIN_REPORTS:
                found.append((major, major_name, c.units[i], c.geoms[i], pattern, z[i, -1]))
    if not found:
        return []
    tests = len(majors) * len(c.units)  # every class and grid was tested in the last week
    p_last = 2 * stats.norm.sf(np.abs([f[5] for f in found]))
    # BH over all tests: the untested (not hot) ones count with p = 1
    q_last = fdr(np.concatenate([p_last, np.ones(tests - len(found))]))[: len(found)]
    return [
        Cause(
            f"hotspot:{major}:{unit['code']}",
            "grid",
            None,
            "orange" if pattern == "intensifying" else "yellow",
            f"网格 {unit['name']} 出现{PATTERN_ZH[pattern]}{major_name}热点",
            geom,
        )
        for (major, major_name, unit, geom, pattern, _), qk in zip(found, q_last, strict=True)
        if qk <= 0.05
    ]


def report_off_track(conn: sa.Connection, now: datetime, settings: Settings) -> list[Cause]:
    """Open grid-worker reports filed away from the worker's own track, or with no track at all."""
    from gis_core.incidents.track_check import check

    check(conn, now, settings.report_track_max_m)
    rows = conn.execute(
        sa.text(
            "SELECT i.id, i.code, i.track_check ->> 'status' AS status, i.track_check ->> 'distance_m' AS d, "
            "ST_AsBinary(i.geom) AS wkb FROM incident i "
            "WHERE i.state = ANY(:active) AND i.track_check ->> 'status' IN ('far', 'no_track')"
        ),
        {"active": list(ACTIVE_STATES)},
    ).all()
    return [
        Cause(
            f"incident:{r.id}",
            "incident",
            r.id,
            "yellow",
            f"事件 {r.code} 上报位置与轨迹相差 {float(r.d):.0f} 米"
            if r.status == "far"
            else f"事件 {r.code} 上报时无轨迹",
            shapely.from_wkb(bytes(r.wkb)),
        )
        for r in rows
    ]


RULES: dict[str, Callable[[sa.Connection, datetime, Settings], list[Cause]]] = {
    "incident_overdue": incident_overdue,
    "camera_offline": camera_offline,
    "cold_chain_temperature": cold_chain_temperature,
    "worker_outside_grid": worker_outside_grid,
    "key_point_unpatrolled": key_point_unpatrolled,
    "emerging_hotspot": emerging_hotspot,
    "report_off_track": report_off_track,
}

#: rules whose causes change slowly run at most this often (s), not at every tick: a key
#: point is due after hours, a weekly hotspot pattern changes by the week, and the two cost
#: ~0.3 s and ~0.5 s of the database per run on the full district (issue 26)
EVERY_S = {"key_point_unpatrolled": 600.0, "emerging_hotspot": 3600.0}


def due_rules(conn: sa.Connection, settings: Settings) -> list[str]:
    """The rules due at this tick of the scheduler (which the deployment has claimed).

    Every rule runs at each tick but the slow ones, each claimed at its own cadence.
    """
    from gis_core.schedule import claim

    every = settings.warning_interval_s
    return [
        name
        for name in RULES
        if name not in EVERY_S or claim(conn, f"warning rule {name}", max(every, EVERY_S[name]))
    ]


_RAISE = """
INSERT INTO warning AS w (rule, cause_key, subject_type, subject_id, level, message, raised_at, geom)
SELECT :rule, c.key, c.subject_type, c.subject_id, c.level, c.message, :now, ST_GeomFromWKB(c.wkb, 4326)
FROM unnest(CAST(:keys AS text[]), CAST(:types AS text[]), CAST(:ids AS bigint[]),
            CAST(:levels AS text[]), CAST(:messages AS text[]), CAST(:wkbs AS bytea[]))
     AS c(key, subject_type, subject_id, level, message, wkb)
ON CONFLICT (rule, cause_key) WHERE state <> 'cleared'
DO UPDATE SET level = EXCLUDED.level, message = EXCLUDED.message
    WHERE array_position(CAST(:order AS text[]), EXCLUDED.level)
        > array_position(CAST(:order AS text[]), w.level)
RETURNING w.id, (xmax = 0) AS raised
"""
_CLEAR_ENDED = """
UPDATE warning SET state = 'cleared', cleared_at = :now
WHERE rule = :rule AND state <> 'cleared' AND NOT (cause_key = ANY(CAST(:keys AS text[])))
RETURNING id
"""


def evaluate(
    conn: sa.Connection, now: datetime, settings: Settings, rules: list[str] | None = None
) -> dict[str, dict[str, int]]:
    """Run the rules (all, or those named) at `now`: raise, escalate and clear. Per rule, the counts."""
    conn.execute(sa.text(_LOCK))
    summary = {}
    for name in list(RULES) if rules is None else rules:
        causes = RULES[name](conn, now, settings)
        rows = conn.execute(
            sa.text(_RAISE),
            {
                "rule": name,
                "now": now,
                "keys": [c.key for c in causes],
                "types": [c.subject_type for c in causes],
                "ids": [c.subject_id for c in causes],
                "levels": [c.level for c in causes],
                "messages": [c.message for c in causes],
                "wkbs": [shapely.to_wkb(c.geom) for c in causes],
                "order": list(LEVELS),
            },
        ).all()
        raised = [r.id for r in rows if r.raised]
        cleared = [
            r.id
            for r in conn.execute(
                sa.text(_CLEAR_ENDED), {"rule": name, "now": now, "keys": [c.key for c in causes]}
            )
        ]
        _log(conn, raised, "raise", None, now, "")
        _log(conn, cleared, "clear", None, now, "条件解除 (the cause has ended)")
        summary[name] = {
            "causes": len(causes),
            "raised": len(raised),
            "escalated": len(rows) - len(raised),
            "cleared": len(cleared),
        }
    return summary


def _log(
    conn: sa.Connection, ids: list[int], action: str, actor: int | None, now: datetime, note: str
) -> None:
    if ids:
        conn.execute(
            sa.text(
                "INSERT INTO warning_event (warning_id, action, actor_user_id, at, note) "
                "SELECT unnest(CAST(:ids AS bigint[])), :a, :u, :now, :note"
            ),
            {"ids": ids, "a": action, "u": actor, "now": now, "note": note},
        )


# ---------------------------------------------------------------- reading and acting
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
    _log(conn, [warning_id], action, user.id, now, note)
    return one(conn, user, warning_id)
