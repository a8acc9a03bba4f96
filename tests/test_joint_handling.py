"""Joint handling across a grid edge (跨网格联动, issue 18 item 12).

A report 5 m inside a grid next to the demo grid worker's own is flagged with the worker's grid;
the worker on the other side read 404 on it. Now both sides read it, each finishes its own
share, and an area's statistics count it on both sides.
"""

import threading

import sqlalchemy as sa

from tests.conftest import assert_problem, edge_of_the_workers_grid
from tests.test_incidents import post


def _worker_grid_codes(engine, username="gridworker"):
    with engine.connect() as c:
        return set(
            c.execute(
                sa.text(
                    "SELECT g.code FROM worker_grid wg JOIN worker w ON w.id = wg.worker_id "
                    "JOIN app_user u ON u.id = w.user_id JOIN grid g ON g.id = wg.grid_id WHERE u.username = :u"
                ),
                {"u": username},
            ).scalars()
        )


def _report_across(client, auth, engine):
    x, y = edge_of_the_workers_grid(engine, "gridworker")
    r = post(client, auth, lon=x, lat=y, description="路灯不亮，两边网格交界")
    assert r.status_code == 201, r.text
    p = r.json()["properties"]
    mine = _worker_grid_codes(engine)
    other_side = sorted(mine & set(p["adjacent_grid_codes"]))
    assert p["grid_code"] not in mine and other_side, (p["grid_code"], p["adjacent_grid_codes"], mine)
    return r.json()["id"], p["grid_code"], other_side[0]


def test_the_worker_across_the_edge_reads_the_report_and_finishes_their_share(client, auth, engine):
    incident_id, own_grid, worker_grid = _report_across(client, auth, engine)

    got = client.get(f"/api/v1/incidents/{incident_id}", headers=auth("gridworker"))
    assert got.status_code == 200, got.text  # was 404: it lies in the neighbour's grid
    listed = client.get("/api/v1/incidents", params={"limit": 1000}, headers=auth("gridworker")).json()
    assert incident_id in [f["id"] for f in listed["features"]]
    shares = got.json()["properties"]["shares"]
    assert [(s["grid_code"], s["own"], s["done_at"]) for s in shares][0] == (own_grid, True, None)
    assert {s["grid_code"] for s in shares} >= {own_grid, worker_grid}

    done = client.post(
        f"/api/v1/incidents/{incident_id}/shares/{worker_grid}/done",
        json={"note": "本网格一侧已处置"},
        headers=auth("gridworker"),
    )
    assert done.status_code == 200, done.text
    after = {s["grid_code"]: s for s in done.json()["properties"]["shares"]}
    assert after[worker_grid]["done_by"] == "gridworker" and after[worker_grid]["note"] == "本网格一侧已处置"
    assert after[worker_grid]["done_at"] is not None and after[own_grid]["done_at"] is None
    timeline = done.json()["properties"]["timeline"]
    assert timeline[-1]["action"] == "share_done" and timeline[-1]["data"] == {"grid_code": worker_grid}
    assert timeline[-1]["to_state"] == timeline[-1]["from_state"] == "reported"  # the incident's own loop

    again = client.post(
        f"/api/v1/incidents/{incident_id}/shares/{worker_grid}/done", headers=auth("gridworker")
    )
    assert assert_problem(again, 409)["where"] == "path.grid_code"
    theirs = client.post(
        f"/api/v1/incidents/{incident_id}/shares/{own_grid}/done", headers=auth("gridworker")
    )
    assert_problem(theirs, 403)
    unknown = client.post(
        f"/api/v1/incidents/{incident_id}/shares/210602000000000/done", headers=auth("gridworker")
    )
    assert_problem(unknown, 404)
    as_citizen = client.post(
        f"/api/v1/incidents/{incident_id}/shares/{own_grid}/done", headers=auth("citizen")
    )
    assert_problem(as_citizen, 403)
    assert client.get(f"/api/v1/incidents/{incident_id}", headers=auth("handler")).status_code == 404


def test_an_area_counts_a_joint_report_on_both_sides(client, auth, engine):
    def total(code):
        r = client.get("/api/v1/incidents/stats", params={"area": code}, headers=auth("commander"))
        assert r.status_code == 200, r.text
        return r.json()["total"]

    incident_id, own_grid, across = _report_across(client, auth, engine)
    before = {code: total(code) for code in (own_grid, across)}
    # one more report, the same place: both sides gain one
    _report_across(client, auth, engine)
    assert total(own_grid) == before[own_grid] + 1
    assert total(across) == before[across] + 1
    listed = client.get(
        "/api/v1/incidents", params={"area": across, "limit": 1000}, headers=auth("commander")
    )
    assert incident_id in [f["id"] for f in listed.json()["features"]]


def test_a_report_inside_a_grid_has_no_shares(client, auth, spot):
    x, y, _ = spot
    r = post(client, auth, lon=x, lat=y)
    assert r.status_code == 201
    got = client.get(f"/api/v1/incidents/{r.json()['id']}", headers=auth("citizen")).json()
    assert got["properties"]["near_boundary"] is False and got["properties"]["shares"] == []


def test_two_finishing_one_share_at_once_have_one_winner(client, auth, engine):
    incident_id, _, worker_grid = _report_across(client, auth, engine)
    url = f"/api/v1/incidents/{incident_id}/shares/{worker_grid}/done"
    statuses: list[int] = []
    start = threading.Barrier(2)

    def finish(user):
        start.wait()
        statuses.append(client.post(url, json={"note": user}, headers=auth(user)).status_code)

    racers = [threading.Thread(target=finish, args=(u,)) for u in ("gridworker", "commander")]
    for t in racers:
        t.start()
    for t in racers:
        t.join(10)
    assert sorted(statuses) == [200, 409]
    with engine.connect() as c:
        events = c.execute(
            sa.text("SELECT count(*) FROM incident_event WHERE incident_id = :i AND action = 'share_done'"),
            {"i": incident_id},
        ).scalar()
    assert events == 1
