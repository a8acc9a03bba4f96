"""轨迹核验: grid workers' reports checked against their own track; misfits flagged and warned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from pyproj import Geod

from gis_core.field import warning_rules
from gis_core.incidents.track_check import check

GEOD = Geod(ellps="WGS84")
T0 = datetime(2026, 11, 10, 1, 0, tzinfo=UTC)


def _report(conn, code, lon, lat, at, user_id):
    return conn.execute(
        sa.text(
            "INSERT INTO incident (code, category_code, source, state, level, reporter_user_id, reported_at, geom) "
            "VALUES (:c, '0101', 'grid_worker', 'reported', 'grid', :u, :t, ST_SetSRID(ST_MakePoint(:x, :y), 4326)) "
            "RETURNING id"
        ),
        {"c": code, "u": user_id, "t": at, "x": lon, "y": lat},
    ).scalar_one()


def _status(conn, incident_id):
    return conn.execute(
        sa.text("SELECT track_check FROM incident WHERE id = :i"), {"i": incident_id}
    ).scalar_one()


def test_reports_are_checked_against_the_workers_own_track(conn, settings, spot):
    lon, lat, _ = spot
    user_id = conn.execute(sa.text("SELECT id FROM app_user WHERE username = 'gridworker'")).scalar_one()
    conn.execute(sa.text("SELECT ensure_track_partitions(:a, :b)"), {"a": T0, "b": T0 + timedelta(days=1)})
    # worker 1 stands at the spot for 20 minutes (a fix every 30 s)
    conn.execute(
        sa.text(
            "INSERT INTO track_point (worker_id, recorded_at, accuracy_m, geom) "
            "SELECT 1, :t + k * interval '30 seconds', 5, ST_SetSRID(ST_MakePoint(:x, :y), 4326) "
            "FROM generate_series(0, 40) k"
        ),
        {"t": T0, "x": lon, "y": lat},
    )
    far_lon, far_lat, _ = GEOD.fwd(lon, lat, 90, 500)
    here = _report(conn, "TC-OK", lon, lat, T0 + timedelta(minutes=10, seconds=10), user_id)
    away = _report(conn, "TC-FAR", far_lon, far_lat, T0 + timedelta(minutes=10, seconds=10), user_id)
    trackless = _report(conn, "TC-NONE", lon, lat, T0 + timedelta(hours=3), user_id)
    recent = _report(conn, "TC-WAIT", lon, lat, T0 + timedelta(hours=3, minutes=10), user_id)

    counts = check(conn, T0 + timedelta(hours=3, minutes=20))
    assert _status(conn, here)["status"] == "ok" and _status(conn, here)["distance_m"] < 1
    assert _status(conn, away)["status"] == "far" and abs(_status(conn, away)["distance_m"] - 500) < 1
    assert _status(conn, trackless)["status"] == "no_track"  # 20 minutes on, still no fix near it
    assert _status(conn, recent) is None  # 10 minutes on: the phone may not have uploaded yet
    assert counts == {"ok": 1, "far": 1, "no_track": 1}
    assert check(conn, T0 + timedelta(hours=3, minutes=21)) == {
        "ok": 0,
        "far": 0,
        "no_track": 0,
    }  # decided once

    warning_rules.evaluate(conn, T0 + timedelta(hours=3, minutes=40), settings, ["report_off_track"])
    flagged = dict(
        conn.execute(
            sa.text(
                "SELECT subject_id, message FROM warning WHERE rule = 'report_off_track' AND state <> 'cleared' "
                "AND subject_id = ANY(:ids)"
            ),
            {"ids": [here, away, trackless, recent]},
        ).all()
    )
    assert set(flagged) == {away, trackless, recent}  # the last one had no track after 15 minutes either
    assert "500 米" in flagged[away] and "无轨迹" in flagged[trackless]


def test_the_handler_sees_the_check_on_the_incident(client, auth):
    body = client.get("/api/v1/incidents", params={"limit": 1}, headers=auth("handler")).json()
    assert body["features"] and "track_check" in body["features"][0]["properties"]
