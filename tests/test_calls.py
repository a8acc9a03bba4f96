"""多人点调 calls: stored once per key, acknowledged by the called, arrival taken from their track."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from pyproj import Geod

from tests.conftest import assert_problem

GEOD = Geod(ellps="WGS84")


def _count(engine, key=None):
    with engine.connect() as c:
        if key:
            return c.execute(
                sa.text("SELECT count(*) FROM point_call WHERE idempotency_key = :k"), {"k": key}
            ).scalar()
        return c.execute(sa.text("SELECT count(*) FROM point_call")).scalar()


def _call(client, auth, body, key=None, user="commander"):
    headers = auth(user) | {"Idempotency-Key": key or f"call-{uuid.uuid4()}"}
    return client.post("/api/v1/calls", json=body, headers=headers)


def test_a_call_is_stored_once_and_a_changed_replay_is_refused(client, auth, engine, spot):
    lon, lat, _ = spot
    body = {"lon": lon, "lat": lat, "message": "请速到现场核查", "worker_ids": [1, 2]}
    key = f"call-{uuid.uuid4()}"
    first = _call(client, auth, body, key)
    assert first.status_code == 201, first.text
    call = first.json()
    assert first.headers["Location"] == f"/api/v1/calls/{call['id']}"
    assert [(t["worker_id"], t["state"]) for t in call["tasks"]] == [(1, "called"), (2, "called")]
    again = _call(client, auth, body, key)  # the phone retried
    assert again.status_code == 200 and again.json()["id"] == call["id"]
    assert _count(engine, key) == 1
    changed = _call(client, auth, body | {"message": "别的事"}, key)
    assert assert_problem(changed, 409, "conflict")["where"] == "header.Idempotency-Key"
    assert client.get(f"/api/v1/calls/{call['id']}", headers=auth()).json()["message"] == "请速到现场核查"


def test_the_called_worker_acknowledges_and_their_track_marks_arrival(client, auth, spot):
    lon, lat, _ = spot
    call = _call(client, auth, {"lon": lon, "lat": lat, "message": "到此集合", "worker_ids": [1, 2]}).json()
    mine = client.get("/api/v1/calls", headers=auth("gridworker")).json()["calls"]
    assert call["id"] in [c["id"] for c in mine]
    url = f"/api/v1/calls/{call['id']}/acknowledge"
    acked = client.post(url, headers=auth("gridworker")).json()
    when = acked["tasks"][0]["acknowledged_at"]
    assert acked["tasks"][0]["state"] == "acknowledged" and acked["tasks"][1]["state"] == "called"
    assert client.post(url, headers=auth("gridworker")).json()["tasks"][0]["acknowledged_at"] == when
    assert_problem(client.post(url, headers=auth("street")), 403)
    # worker 1 walks in: 200 m east, then 20 m east of the point a minute later
    now = datetime.now(UTC).replace(microsecond=0)
    far, near = GEOD.fwd(lon, lat, 90, 200), GEOD.fwd(lon, lat, 90, 20)
    fixes = [
        {"t": now.isoformat(), "lon": far[0], "lat": far[1], "accuracy": 5},
        {"t": (now + timedelta(seconds=60)).isoformat(), "lon": near[0], "lat": near[1], "accuracy": 5},
    ]
    r = client.post("/api/v1/tracks", json={"fixes": fixes}, headers=auth("gridworker"))
    assert r.status_code == 200 and r.json()["stored"] == 2, r.text
    tasks = client.get(f"/api/v1/calls/{call['id']}", headers=auth()).json()["tasks"]
    assert tasks[0]["state"] == "arrived"
    assert datetime.fromisoformat(tasks[0]["arrived_at"]) == now + timedelta(seconds=60)
    assert tasks[1]["state"] == "called" and tasks[1]["arrived_at"] is None


def test_bad_calls_are_problems_and_store_nothing(client, auth, engine, spot):
    lon, lat, _ = spot
    ok = {"lon": lon, "lat": lat, "message": "核查", "worker_ids": [1]}
    before = _count(engine)
    assert_problem(_call(client, auth, ok | {"lon": 116.4, "lat": 39.9}), 400, "outside-district")
    assert assert_problem(_call(client, auth, ok | {"lat": 95}), 400)["where"].startswith("body")
    assert assert_problem(_call(client, auth, ok | {"crs": "EPSG:99999"}), 400)["where"] == "body.crs"
    assert (
        assert_problem(_call(client, auth, ok | {"worker_ids": [1, 999999]}), 404)["where"]
        == "body.worker_ids[1]"
    )
    assert assert_problem(_call(client, auth, ok | {"worker_ids": []}), 400)["where"] == "body.worker_ids"
    assert assert_problem(_call(client, auth, ok | {"worker_ids": [1, 1]}), 400)["where"] == "body.worker_ids"
    assert assert_problem(_call(client, auth, ok | {"message": "x" * 501}), 422)["where"] == "body.message"
    no_key = client.post("/api/v1/calls", json=ok, headers=auth())
    assert assert_problem(no_key, 422)["where"] == "header.Idempotency-Key"
    assert_problem(_call(client, auth, ok, user="gridworker"), 403)
    assert _count(engine) == before


def test_officers_call_only_workers_of_their_area(client, auth, engine, spot):
    lon, lat, _ = spot
    with engine.connect() as c:
        outsider = c.execute(
            sa.text(
                "SELECT wg.worker_id FROM worker_grid wg JOIN grid g ON g.id = wg.grid_id "
                "JOIN community cm ON cm.id = g.community_id JOIN street s ON s.id = cm.street_id "
                "WHERE s.code <> (SELECT jurisdiction_code FROM app_user WHERE username = 'street') LIMIT 1"
            )
        ).scalar_one()
    r = _call(
        client, auth, {"lon": lon, "lat": lat, "message": "核查", "worker_ids": [1, outsider]}, user="street"
    )
    assert assert_problem(r, 404)["where"] == "body.worker_ids[1]"
    assert (
        _call(
            client, auth, {"lon": lon, "lat": lat, "message": "核查", "worker_ids": [1]}, user="street"
        ).status_code
        == 201
    )
