"""预警: each rule raises once per cause, escalates, clears when the cause ends; people act on warnings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import shapely
import sqlalchemy as sa
from pyproj import Transformer

from gis_core.field import warning_rules
from gis_core.field.patrol import key_points
from gis_core.incidents.escalation import overdue_cause_key
from tests.conftest import assert_problem

NOW = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def _active(conn, rule, key):
    return conn.execute(
        sa.text(
            "SELECT id, level, state FROM warning WHERE rule = :r AND cause_key = :k AND state <> 'cleared'"
        ),
        {"r": rule, "k": key},
    ).all()


def _events(conn, warning_id):
    return [
        r[0]
        for r in conn.execute(
            sa.text("SELECT action FROM warning_event WHERE warning_id = :w ORDER BY at, id"),
            {"w": warning_id},
        )
    ]


def test_an_offline_camera_raises_one_warning_until_it_comes_back(conn, settings):
    cam = conn.execute(sa.text("SELECT id FROM camera WHERE online ORDER BY id LIMIT 1")).scalar_one()
    conn.execute(sa.text("UPDATE camera SET online = false WHERE id = :c"), {"c": cam})
    first = warning_rules.evaluate(conn, NOW, settings, ["camera_offline"])["camera_offline"]
    (w,) = _active(conn, "camera_offline", f"camera:{cam}")
    assert w.level == "yellow" and w.state == "raised" and first["raised"] >= 1
    offline = conn.execute(sa.text("SELECT count(*) FROM camera WHERE NOT online")).scalar_one()
    assert first["causes"] == offline
    again = warning_rules.evaluate(conn, NOW + timedelta(minutes=1), settings, ["camera_offline"])
    assert again["camera_offline"]["raised"] == 0  # once per cause, not once per check
    assert _active(conn, "camera_offline", f"camera:{cam}") == [w] and _events(conn, w.id) == ["raise"]
    conn.execute(sa.text("UPDATE camera SET online = true WHERE id = :c"), {"c": cam})
    warning_rules.evaluate(conn, NOW + timedelta(minutes=2), settings, ["camera_offline"])
    assert _active(conn, "camera_offline", f"camera:{cam}") == []
    assert _events(conn, w.id) == ["raise", "clear"]


def test_an_overdue_incident_escalates_to_red_in_the_same_warning(conn, settings):
    inc = conn.execute(sa.text("SELECT min(id) FROM incident")).scalar_one()
    conn.execute(
        sa.text("UPDATE incident SET state = 'dispatched', level = 'street', due_at = :d WHERE id = :i"),
        {"d": NOW - timedelta(hours=2), "i": inc},
    )
    warning_rules.evaluate(conn, NOW, settings, ["incident_overdue"])
    (w,) = _active(conn, "incident_overdue", overdue_cause_key(inc, "street"))
    assert w.level == "orange"
    later = warning_rules.evaluate(conn, NOW + timedelta(hours=23), settings, ["incident_overdue"])
    assert later["incident_overdue"]["escalated"] >= 1
    assert _active(conn, "incident_overdue", overdue_cause_key(inc, "street")) == [(w.id, "red", "raised")]
    conn.execute(sa.text("UPDATE incident SET state = 'resolved' WHERE id = :i"), {"i": inc})
    warning_rules.evaluate(conn, NOW + timedelta(hours=24), settings, ["incident_overdue"])
    assert _active(conn, "incident_overdue", overdue_cause_key(inc, "street")) == []


def test_a_worker_away_from_their_grid_on_shift_is_warned(conn, settings, spot):
    far = conn.execute(
        sa.text(
            "SELECT ST_X(ST_PointOnSurface(g.geom)), ST_Y(ST_PointOnSurface(g.geom)) FROM grid g "
            "WHERE NOT EXISTS (SELECT 1 FROM worker_grid wg JOIN grid o ON o.id = wg.grid_id "
            "WHERE wg.worker_id = 1 AND ST_DWithin(o.geom::geography, g.geom::geography, 200)) LIMIT 1"
        )
    ).one()
    move = sa.text(
        "UPDATE worker_position SET recorded_at = :t, geom = ST_SetSRID(ST_MakePoint(:x, :y), 4326) WHERE worker_id = 1"
    )
    conn.execute(move, {"t": NOW - timedelta(minutes=2), "x": far[0], "y": far[1]})
    warning_rules.evaluate(conn, NOW, settings, ["worker_outside_grid"])
    assert [w.level for w in _active(conn, "worker_outside_grid", "worker:1")] == ["blue"]
    conn.execute(move, {"t": NOW - timedelta(minutes=1), "x": spot[0], "y": spot[1]})  # back in own grid
    warning_rules.evaluate(conn, NOW, settings, ["worker_outside_grid"])
    assert _active(conn, "worker_outside_grid", "worker:1") == []


def test_unpatrolled_key_points_are_warned(conn, settings, manifest):
    end = datetime.fromisoformat(manifest["tracks"]["to"])
    warning_rules.evaluate(conn, end, settings, ["key_point_unpatrolled"])
    want = {f"key_point:{k['code']}" for k in key_points(conn, end, settings.projected_epsg) if k["overdue"]}
    got = {
        r[0]
        for r in conn.execute(
            sa.text(
                "SELECT cause_key FROM warning WHERE rule = 'key_point_unpatrolled' AND state <> 'cleared'"
            )
        )
    }
    assert got == want and want


LATTICE_END = datetime(2026, 11, 1, tzinfo=UTC)


def _lattice(conn, reports):
    """A 20 × 20 district of 200 m grids (shadowing the real ones in this transaction), with
    `reports` [(row, column, time)] of class 0101 filed in it."""
    n, size, x0, y0 = 20, 200.0, 520_000.0, 4_440_000.0
    to_ll = Transformer.from_crs(4550, 4326, always_xy=True)
    community = conn.execute(sa.text("SELECT min(id) FROM community")).scalar_one()
    conn.execute(
        sa.text(
            "CREATE TEMP TABLE grid (id int PRIMARY KEY, code text, name text, community_id int, "
            "geom geometry(Polygon, 4326))"
        )
    )
    conn.execute(sa.text("CREATE TEMP TABLE incident (LIKE public.incident INCLUDING DEFAULTS)"))
    conn.execute(sa.text("UPDATE boundary_revision SET revision = revision + 1"))  # not the cached units
    for r in range(n):
        for c in range(n):
            box = shapely.box(x0 + c * size, y0 + r * size, x0 + (c + 1) * size, y0 + (r + 1) * size)
            ll = shapely.transform(box, lambda xy: np.column_stack(to_ll.transform(xy[:, 0], xy[:, 1])))
            conn.execute(
                sa.text("INSERT INTO grid VALUES (:i, :code, :code, :cm, ST_GeomFromText(:w, 4326))"),
                {"i": r * n + c + 1, "code": f"L{r:02d}{c:02d}", "cm": community, "w": ll.wkt},
            )
    _file(conn, reports, "T")


def _file(conn, reports, prefix):
    """File `reports` [(row, column, time)] of class 0101 in the lattice's grids."""
    for k, (r, c, at) in enumerate(reports):
        conn.execute(
            sa.text(
                "INSERT INTO incident (code, category_code, source, state, level, reported_at, grid_id, geom) "
                "SELECT :code, '0101', 'citizen', 'closed', 'grid', :at, id, ST_PointOnSurface(geom) "
                "FROM grid WHERE id = :g"
            ),
            {"code": f"{prefix}{k}", "at": at, "g": r * 20 + c + 1},
        )


def _trickle(rng, count, days_from, days_to):
    """`count` reports anywhere on the lattice, between `days_from` and `days_to` days before its end."""
    return [
        (
            int(rng.integers(20)),
            int(rng.integers(20)),
            LATTICE_END - timedelta(days=float(rng.uniform(days_from, days_to))),
        )
        for _ in range(count)
    ]


def test_emerging_hotspots_are_warned_only_where_they_emerge(conn, settings):
    """A year-long trickle of reports everywhere, then a burst in a 3 × 3 block in the last week."""
    rng = np.random.default_rng(7)
    burst = [
        (
            int(rng.integers(9, 12)),
            int(rng.integers(9, 12)),
            LATTICE_END - timedelta(days=float(rng.uniform(0, 6))),
        )
        for _ in range(60)
    ]
    _lattice(conn, _trickle(rng, 600, 0, 84) + burst)
    causes = warning_rules.emerging_hotspot(conn, LATTICE_END, settings)
    codes = {c.key for c in causes}
    assert "hotspot:01:L1010" in codes  # the block's centre
    ring = {f"hotspot:01:L{r:02d}{c:02d}" for r in range(8, 13) for c in range(8, 13)}
    assert codes <= ring, codes - ring  # and nowhere else, despite 6,400 tests
    assert all(c.level in ("yellow", "orange") and "市容环境" in c.message for c in causes)


def test_a_single_report_in_a_quiet_week_raises_no_hotspot(conn, settings):
    """Issue 18 item 6: with the last week empty, one report made its grid and neighbours 'new hotspots'."""
    rng = np.random.default_rng(11)
    _lattice(conn, [*_trickle(rng, 600, 8, 84), (10, 10, LATTICE_END - timedelta(days=1))])
    assert warning_rules.emerging_hotspot(conn, LATTICE_END, settings) == []
    # two more beside it that week are a cluster of three, and a warning where they are
    more = [(10, 11, LATTICE_END - timedelta(days=2)), (11, 10, LATTICE_END - timedelta(days=3))]
    _file(conn, more, "M")
    codes = {c.key for c in warning_rules.emerging_hotspot(conn, LATTICE_END, settings)}
    assert codes and codes <= {"hotspot:01:L1010", "hotspot:01:L1011", "hotspot:01:L1110"}, codes


def test_cold_chain_readings_raise_and_clear_a_warning(client, auth, engine):
    with engine.connect() as c:
        site, risk = c.execute(
            sa.text("SELECT code, risk_level FROM cold_chain_site ORDER BY code LIMIT 1")
        ).one()
    now = datetime.now(UTC).replace(microsecond=0)

    def post(minutes_ago, temp):
        reading = {
            "site": site,
            "t": (now - timedelta(minutes=minutes_ago)).isoformat(),
            "temperature_c": temp,
        }
        r = client.post("/api/v1/cold-chain/readings", json={"readings": [reading]}, headers=auth())
        assert r.status_code == 200, r.text
        return r.json()

    def active():
        body = client.get(
            "/api/v1/warnings", params={"rule": "cold_chain_temperature"}, headers=auth()
        ).json()
        return [f for f in body["features"] if f["properties"]["cause_key"].endswith(f":{site_id}")]

    with engine.connect() as c:
        site_id = c.execute(
            sa.text("SELECT id FROM cold_chain_site WHERE code = :c"), {"c": site}
        ).scalar_one()
    assert post(10, -19.5)["stored"] == 1 and active() == []
    warm = post(5, 2.0)
    assert warm["warnings"]["raised"] == 1
    (w,) = active()
    assert w["properties"]["level"] == ("red" if risk == "high" else "orange")
    assert "2.0" in w["properties"]["message"]
    assert post(5, 2.0)["duplicates"] == 1  # the gateway resent it
    assert len(active()) == 1
    post(1, -20.0)
    assert active() == []
    bad = client.post(
        "/api/v1/cold-chain/readings",
        json={"readings": [{"site": "NOPE", "t": now.isoformat(), "temperature_c": 1}]},
        headers=auth(),
    )
    assert assert_problem(bad, 404)["where"] == "body.readings[0].site"
    hot = {"readings": [{"site": site, "t": now.isoformat(), "temperature_c": 500}]}
    assert assert_problem(client.post("/api/v1/cold-chain/readings", json=hot, headers=auth()), 422)
    assert_problem(client.post("/api/v1/cold-chain/readings", json=hot, headers=auth("street")), 403)


def test_people_acknowledge_and_clear_with_a_timeline(client, auth):
    summary = client.post("/api/v1/warnings/check", headers=auth()).json()["rules"]
    assert set(summary) == set(warning_rules.RULES)
    warnings = client.get("/api/v1/warnings", headers=auth()).json()["features"]
    assert warnings and all(f["properties"]["state"] != "cleared" for f in warnings)
    street = client.get("/api/v1/warnings", headers=auth("street")).json()["features"]
    assert len(street) < len(warnings)
    wid = next(f["id"] for f in warnings if f["properties"]["state"] == "raised")
    url = f"/api/v1/warnings/{wid}"
    acked = client.post(f"{url}/acknowledge", json={"note": "已通知"}, headers=auth())
    assert acked.status_code == 200 and acked.json()["properties"]["state"] == "acknowledged"
    assert assert_problem(client.post(f"{url}/acknowledge", headers=auth()), 409, "conflict")
    assert_problem(client.post(f"{url}/clear", headers=auth("gridworker")), 403)
    cleared = client.post(f"{url}/clear", json={"note": "已处置"}, headers=auth()).json()
    timeline = cleared["properties"]["timeline"]
    assert [e["action"] for e in timeline] == ["raise", "acknowledge", "clear"]
    assert [e["note"] for e in timeline][1:] == ["已通知", "已处置"] and timeline[0]["actor"] is None
    assert assert_problem(client.post(f"{url}/clear", headers=auth()), 409)
    assert_problem(client.get("/api/v1/warnings/99999999", headers=auth()), 404)


@pytest.mark.parametrize(
    ("params", "status", "where"),
    [({"state": "sleeping"}, 422, "query.state"), ({"rule": "moon_phase"}, 400, "query.rule")],
)
def test_bad_warning_queries_are_problems(client, auth, params, status, where):
    assert (
        assert_problem(client.get("/api/v1/warnings", params=params, headers=auth()), status)["where"]
        == where
    )


def test_migration_0015_repairs_what_the_old_escalation_left(conn):
    """Old escalation blanked district deadlines and keyed its warning '<id>:<level>:<state>'."""
    from gis_core.platform.db import execute_sql_file

    inc = conn.execute(sa.text("SELECT min(id) FROM incident")).scalar_one()
    raised = NOW - timedelta(days=30)
    conn.execute(
        sa.text("UPDATE incident SET state = 'in_progress', level = 'district', due_at = NULL WHERE id = :i"),
        {"i": inc},
    )
    conn.execute(
        sa.text(
            "INSERT INTO warning (rule, cause_key, subject_type, subject_id, level, message, raised_at, geom) "
            "SELECT 'incident_overdue', :k, 'incident', id, 'red', 'x', :t, geom FROM incident WHERE id = :i"
        ),
        {"k": f"{inc}:district:in_progress", "t": raised, "i": inc},
    )
    execute_sql_file(conn, "schema_0015.sql")
    due = conn.execute(sa.text("SELECT due_at FROM incident WHERE id = :i"), {"i": inc}).scalar_one()
    assert due == raised
    assert _active(conn, "incident_overdue", overdue_cause_key(inc, "district"))
