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

import numpy as np
import shapely
import sqlalchemy as sa
from scipy import stats

from gis_core.field.warning_actions import log_events
from gis_core.incidents.workflow import ACTIVE_STATES
from gis_core.platform.auth import User
from gis_core.platform.db import sql_file
from gis_core.platform.settings import Settings

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


def _sql_rule(name: str) -> Callable[[sa.Connection, datetime, Settings], list[Cause]]:
    """A rule given as one SELECT of (key, subject_type, subject_id, level, message, wkb).

    The SELECT is `gis_core/sql/rule_<name>.sql`.
    """
    sql = sql_file(f"rule_{name}.sql")

    def run(conn: sa.Connection, now: datetime, settings: Settings) -> list[Cause]:
        params = {
            "now": now,
            "active": list(ACTIVE_STATES),
            "on_duty": timedelta(minutes=settings.on_duty_minutes),
            "cold_max": settings.cold_chain_max_c,
            "reading_window": timedelta(hours=settings.cold_chain_reading_window_h),
            "worker_grid_m": settings.worker_grid_tolerance_m,
        }
        return [
            Cause(r.key, r.subject_type, r.subject_id, r.level, r.message, shapely.from_wkb(bytes(r.wkb)))
            for r in conn.execute(sa.text(sql), params)
        ]

    return run


incident_overdue = _sql_rule("incident_overdue")

camera_offline = _sql_rule("camera_offline")

cold_chain_temperature = _sql_rule("cold_chain_temperature")

worker_outside_grid = _sql_rule("worker_outside_grid")


def key_point_unpatrolled(conn: sa.Connection, now: datetime, settings: Settings) -> list[Cause]:
    """Key points (fire, flood) with no fix within 50 m for longer than their patrol interval."""
    from gis_core.field.patrol import key_points

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
    from gis_core.geo.spatial_stats import fdr
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
    from gis_core.platform.schedule import claim

    every = settings.warning_interval_s
    return [
        name
        for name in RULES
        if name not in EVERY_S or claim(conn, f"warning rule {name}", max(every, EVERY_S[name]))
    ]


_RAISE = sql_file("warning_raise.sql")
_CLEAR_ENDED = sql_file("warning_clear_ended.sql")


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
        log_events(conn, raised, "raise", None, now, "")
        log_events(conn, cleared, "clear", None, now, "条件解除 (the cause has ended)")
        summary[name] = {
            "causes": len(causes),
            "raised": len(raised),
            "escalated": len(rows) - len(raised),
            "cleared": len(cleared),
        }
    return summary
