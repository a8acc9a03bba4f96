"""The phone app's ground: my grids and key points, 打卡 check-ins the server decides, routes to a call."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from pyproj import Geod

from gis_core.platform.live import Audience, Event
from tests.conftest import assert_problem

GEOD = Geod(ellps="WGS84")


def walk(client, auth, user, points, start=None, step_s=20):
    """Upload fixes at `points` (lon, lat), `step_s` apart, ending now."""
    now = start or datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=step_s * len(points))
    fixes = [
        {"t": (now + timedelta(seconds=step_s * k)).isoformat(), "lon": x, "lat": y, "accuracy": 5}
        for k, (x, y) in enumerate(points)
    ]
    r = client.post("/api/v1/tracks", json={"fixes": fixes}, headers=auth(user))
    assert r.status_code == 200 and r.json()["stored"] == len(points), r.text


def check_in(client, auth, user, code, key=None):
    return client.post(
        f"/api/v1/key-points/{code}/check-ins",
        headers={**auth(user), "Idempotency-Key": key or str(uuid.uuid4())},
    )


def test_a_check_in_is_accepted_only_where_my_own_track_puts_me(
    client, auth, engine, spot, fresh_worker, plant_key_point
):
    lon, lat, _ = spot
    user, _ = fresh_worker()
    other, _ = fresh_worker()
    code = plant_key_point(lon, lat)
    problem = assert_problem(check_in(client, auth, user, code), 422, "not-there")
    assert "distance_m" not in problem and problem["where"] == "path.code"  # no fix at all yet
    far = GEOD.fwd(lon, lat, 0, 120)[:2]
    walk(client, auth, user, [far])
    problem = assert_problem(check_in(client, auth, user, code), 422, "not-there")
    assert 115 < problem["distance_m"] < 125
    near = GEOD.fwd(lon, lat, 0, 30)[:2]
    walk(
        client,
        auth,
        user,
        [GEOD.fwd(lon, lat, 0, 75)[:2], near],
        start=datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=10),
        step_s=5,
    )
    key = str(uuid.uuid4())
    first = check_in(client, auth, user, code, key)
    assert first.status_code == 201, first.text
    assert 25 < first.json()["distance_m"] < 35 and first.json()["code"] == code
    again = check_in(client, auth, user, code, key)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    # a worker checks in as themselves only: another's key is not theirs, another's track not either
    assert_problem(check_in(client, auth, other, code, key), 400)
    assert_problem(check_in(client, auth, other, code), 422, "not-there")
    assert_problem(check_in(client, auth, "commander", code), 403)
    assert_problem(check_in(client, auth, user, "KP-nowhere"), 404)
    with engine.connect() as c:
        n = c.execute(
            sa.text("SELECT count(*) FROM key_point_check_in WHERE idempotency_key = :k"), {"k": key}
        )
        assert n.scalar() == 1
    field = client.get("/api/v1/me/field", headers=auth(user)).json()
    assert field["key_points_checked_today"] == 1
    mine = {k["code"]: k for k in field["key_points"]}
    assert mine[code]["checked_in_at"] is not None
    assert [g["id"] for g in field["grids"]["features"]] == [spot[2]]
    assert field["grids"]["features"][0]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert_problem(client.get("/api/v1/me/field", headers=auth("commander")), 403)


def test_the_route_to_a_call_follows_the_roads_and_says_when_i_arrive(
    client, auth, engine, spot, fresh_worker
):
    lon, lat, _ = spot
    user, worker = fresh_worker()
    start = GEOD.fwd(lon, lat, 45, 400)[:2]
    call = client.post(
        "/api/v1/calls",
        json={"lon": lon, "lat": lat, "message": "请到此处核查", "worker_ids": [worker]},
        headers={**auth(), "Idempotency-Key": str(uuid.uuid4())},
    ).json()
    url = f"/api/v1/calls/{call['id']}/route"
    assert_problem(client.get(url, headers=auth(user)), 409)  # no position yet: nowhere to start from
    r = client.get(url, params={"lon": start[0], "lat": start[1]}, headers=auth(user))
    assert r.status_code == 200, r.text
    route = r.json()
    assert route["geometry"]["type"] == "LineString"
    line = route["geometry"]["coordinates"]
    assert line[0] == [round(start[0], 7), round(start[1], 7)] and line[-1] == [round(lon, 7), round(lat, 7)]
    straight = GEOD.inv(start[0], start[1], lon, lat)[2]
    p = route["properties"]
    assert straight <= p["distance_m"] < 3 * straight  # along the roads, not through the blocks
    steps = [GEOD.inv(*a, *b)[2] for a, b in zip(line, line[1:], strict=False)]
    assert sum(steps) == pytest.approx(p["distance_m"], rel=0.02)  # drawn in walking order, no jump back
    assert abs(p["walk_s"] - p["distance_m"] / p["walk_mps"]) < 1.0
    eta = datetime.fromisoformat(p["eta"]) - datetime.now(UTC)
    assert abs(eta.total_seconds() - p["walk_s"]) < 30
    walk(client, auth, user, [start])  # now the phone's newest fix is the start
    assert client.get(url, headers=auth(user)).json()["properties"]["distance_m"] == p["distance_m"]
    assert_problem(client.get(url, params={"lon": start[0]}, headers=auth(user)), 400)
    outsider, _ = fresh_worker(grid_code=_another_street_grid(engine, spot[2]))
    assert_problem(client.get(url, params={"lon": start[0], "lat": start[1]}, headers=auth(outsider)), 404)


def _another_street_grid(engine, code):
    with engine.connect() as c:
        return c.execute(
            sa.text(
                "SELECT g.code FROM grid g JOIN community c ON c.id = g.community_id "
                "WHERE c.street_id <> (SELECT c2.street_id FROM grid g2 JOIN community c2 ON c2.id = g2.community_id "
                "WHERE g2.code = :c) ORDER BY g.code LIMIT 1"
            ),
            {"c": code},
        ).scalar_one()


def test_a_called_worker_hears_their_call_wherever_it_is_and_nobody_elses():
    """The feed's audience: a worker's calls reach them outside their grids; others' calls do not."""
    me = Audience(grids=frozenset({7}), worker_id=42)
    call = {"call_id": 1, "message": "到桥头集合", "lon": 124.4, "lat": 40.1}
    assert me.sees(Event(1, datetime.now(UTC), "call.task", call | {"worker_id": 42}, 99, 9, 1))
    assert not me.sees(Event(2, datetime.now(UTC), "call.task", call | {"worker_id": 43}, 99, 9, 1))
    assert not me.sees(Event(3, datetime.now(UTC), "incident.new", {"worker_id": 42}, 99, 9, 1))
