"""拆分, 督办, 延期 and actions as a phone takes them: with photos, retried with the same key."""

import threading
import uuid
from datetime import datetime

import pytest
import sqlalchemy as sa

from tests.conftest import assert_problem
from tests.photos import jpeg

PARTS = [
    {"level": "community", "note": "社区协调物业清理"},
    {"level": "district", "department": "urban_mgmt", "note": "城管执法"},
]


def report(client, auth, spot, user="citizen", category="0101", photos=()):
    files = [("photos", (f"p{k}.jpg", p, "image/jpeg")) for k, p in enumerate(photos)]
    r = client.post(
        "/api/v1/incidents",
        data={"category": category, "lon": spot[0], "lat": spot[1]},
        files=files or None,
        headers={**auth(user), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


def read(client, auth, user, i):
    r = client.get(f"/api/v1/incidents/{i}", headers=auth(user))
    return r


def act(client, auth, user, i, action, files=None, key=None, **body):
    etag = read(client, auth, user, i).headers["ETag"]
    headers = {**auth(user), "If-Match": etag, **({"Idempotency-Key": key} if key else {})}
    if files:
        data = {"action": action, **{k: str(v) for k, v in body.items()}}
        return client.post(f"/api/v1/incidents/{i}/actions", data=data, files=files, headers=headers)
    return client.post(f"/api/v1/incidents/{i}/actions", json={"action": action, **body}, headers=headers)


def ok(r):
    assert r.status_code == 200, r.text
    return r.json()["properties"]


def inbox(client, auth, user):
    page = client.get("/api/v1/incidents?assigned=true&limit=1000", headers=auth(user)).json()
    return {f["id"] for f in page["features"]}


def test_a_split_report_closes_only_after_every_sub_task_and_is_rated_once(client, auth, spot, engine):
    parent = report(client, auth, spot, photos=[jpeg()])
    ok(act(client, auth, "commander", parent, "accept"))
    p = ok(act(client, auth, "commander", parent, "split", parts=PARTS, note="需社区与城管联合处置"))
    assert p["state"] == "in_progress" and p["subtasks"] == 2
    assert p["allowed_actions"] == []  # handled, pressed and timed through its sub-tasks
    kids = p["children"]
    assert [(k["level"], k["department_code"], k["state"]) for k in kids] == [
        ("community", "community_office", "dispatched"),
        ("district", "urban_mgmt", "dispatched"),
    ]
    assert [k["code"] for k in kids] == [f"{p['code']}-1", f"{p['code']}-2"]
    community_task, city_task = kids[0]["id"], kids[1]["id"]

    # each desk sees its own part, nobody the parent as work; the reporter sees the parent only
    assert city_task in inbox(client, auth, "handler") and community_task not in inbox(
        client, auth, "handler"
    )
    assert community_task in inbox(client, auth, "community") and city_task not in inbox(
        client, auth, "community"
    )
    assert parent not in inbox(client, auth, "community") | inbox(client, auth, "handler")
    assert_problem(read(client, auth, "citizen", city_task), 404)
    child = read(client, auth, "handler", city_task).json()["properties"]
    assert len(child["photos"]) == 1 and child["parent_id"] == parent  # the reporter's photo goes with it
    assert child["description"].startswith("城管执法")
    not_theirs = client.post(
        f"/api/v1/incidents/{community_task}/actions",
        json={"action": "start", "version": 1},
        headers=auth("handler"),
    )
    assert_problem(not_theirs, 404)  # not theirs: not even seen

    ok(act(client, auth, "handler", city_task, "start"))
    done = ok(
        act(
            client,
            auth,
            "handler",
            city_task,
            "resolve",
            files=[("photos", ("after.jpg", jpeg(), "image/jpeg"))],
        )
    )
    assert len(done["photos"]) == 2 and done["timeline"][-1]["data"]["photos"] == 1
    assert read(client, auth, "commander", parent).json()["properties"]["state"] == "in_progress"
    ok(act(client, auth, "community", community_task, "start"))
    ok(act(client, auth, "community", community_task, "resolve"))
    p = read(client, auth, "citizen", parent).json()["properties"]
    assert p["state"] == "resolved" and p["timeline"][-1]["action"] == "subtasks_resolved"

    # 不满意: back to every department; the parent waits for them again
    assert_problem(act(client, auth, "commander", city_task, "rate", rating="satisfied"), 403)  # rated as one
    p = ok(act(client, auth, "citizen", parent, "rate", rating="unsatisfied"))
    assert p["state"] == "in_progress" and p["children"] == []  # the reporter reads no sub-task
    p = read(client, auth, "commander", parent).json()["properties"]
    assert {k["state"] for k in p["children"]} == {"dispatched"}
    assert city_task in inbox(client, auth, "handler")
    for user, task in (("handler", city_task), ("community", community_task)):
        ok(act(client, auth, user, task, "start"))
        ok(act(client, auth, user, task, "resolve"))
    assert ok(act(client, auth, "citizen", parent, "rate", rating="satisfied"))["state"] == "closed"
    p = read(client, auth, "commander", parent).json()["properties"]
    assert {k["state"] for k in p["children"]} == {"closed"}
    with engine.connect() as c:
        steps = c.execute(
            sa.text("SELECT action FROM incident_event WHERE incident_id = :i ORDER BY id"), {"i": city_task}
        ).scalars()
        assert list(steps) == [
            "split",
            "start",
            "resolve",
            "reopened_with_parent",
            "start",
            "resolve",
            "closed_with_parent",
        ]
        counted = c.execute(
            sa.text("SELECT count(*) FROM incident WHERE id = :i OR parent_id = :i"), {"i": parent}
        )
        assert counted.scalar() == 3


@pytest.mark.parametrize(
    ("parts", "where"),
    [
        ([PARTS[0]], "body.parts"),
        ([PARTS[0], PARTS[0]], "body.parts"),
        ([PARTS[0], {"level": "district", "department": "community_office"}], "body.parts[1].department"),
        ([PARTS[0], {"level": "province"}], "body.parts[1].level"),
    ],
)
def test_a_split_that_names_no_clear_units_is_refused_and_changes_nothing(client, auth, spot, parts, where):
    i = report(client, auth, spot)
    ok(act(client, auth, "commander", i, "accept"))
    problem = assert_problem(act(client, auth, "commander", i, "split", parts=parts), 400)
    assert problem["where"] == where
    p = read(client, auth, "commander", i).json()["properties"]
    assert p["state"] == "accepted" and p["version"] == 2 and p["children"] == []


def test_two_sub_tasks_resolved_at_the_same_moment_resolve_the_parent_once(settings, engine, spot):
    """Real concurrency, several rounds: the last to finish always sees the other one."""
    import httpx

    from tests.live import live_server

    with live_server(settings) as base:

        def token(user):
            r = httpx.post(f"{base}/api/v1/auth/token", data={"username": user, "password": "onegrid-demo"})
            return {"Authorization": f"Bearer {r.json()['access_token']}"}

        h = {u: token(u) for u in ("commander", "handler", "community")}
        parents = []
        for _ in range(4):
            i = httpx.post(
                f"{base}/api/v1/incidents",
                data={"category": "0101", "lon": spot[0], "lat": spot[1]},
                headers={**h["commander"], "Idempotency-Key": str(uuid.uuid4())},
            ).json()["id"]
            httpx.post(
                f"{base}/api/v1/incidents/{i}/actions",
                json={"action": "accept", "version": 1},
                headers=h["commander"],
            )
            kids = httpx.post(
                f"{base}/api/v1/incidents/{i}/actions",
                json={"action": "split", "version": 2, "parts": PARTS},
                headers=h["commander"],
            ).json()["properties"]["children"]
            tasks = [("community", kids[0]["id"]), ("handler", kids[1]["id"])]
            for user, k in tasks:
                httpx.post(
                    f"{base}/api/v1/incidents/{k}/actions",
                    json={"action": "start", "version": 1},
                    headers=h[user],
                )
            barrier = threading.Barrier(2)
            codes = []

            def resolve(user, k, barrier=barrier, codes=codes):
                with httpx.Client(base_url=base, headers=h[user]) as c:
                    barrier.wait()
                    codes.append(
                        c.post(
                            f"/api/v1/incidents/{k}/actions", json={"action": "resolve", "version": 2}
                        ).status_code
                    )

            threads = [threading.Thread(target=resolve, args=t) for t in tasks]
            [t.start() for t in threads]
            [t.join() for t in threads]
            assert codes == [200, 200]
            parents.append(i)
    with engine.connect() as c:
        for i in parents:
            state = c.execute(sa.text("SELECT state FROM incident WHERE id = :i"), {"i": i}).scalar()
            resolved = c.execute(
                sa.text(
                    "SELECT count(*) FROM incident_event WHERE incident_id = :i AND action = 'subtasks_resolved'"
                ),
                {"i": i},
            ).scalar()
            assert (state, resolved) == ("resolved", 1)


def test_urge_and_extend_are_on_the_record_and_extend_moves_the_deadline(client, auth, spot):
    i = report(client, auth, spot, category="0202")
    ok(act(client, auth, "commander", i, "accept"))
    before = ok(act(client, auth, "commander", i, "dispatch", level="district", department="urban_mgmt"))
    assert_problem(act(client, auth, "commander", i, "urge"), 400)  # 督办 says why
    p = ok(act(client, auth, "commander", i, "urge", note="群众反映强烈，请今日办结"))
    assert p["state"] == "dispatched" and p["timeline"][-1]["note"] == "群众反映强烈，请今日办结"
    assert_problem(act(client, auth, "handler", i, "urge", note="x"), 403)
    problem = assert_problem(act(client, auth, "commander", i, "extend", hours=0, note="需协调"), 400)
    assert problem["where"] == "body.hours"
    p = ok(act(client, auth, "commander", i, "extend", hours=48, note="需协调供水公司"))
    moved = datetime.fromisoformat(p["due_at"]) - datetime.fromisoformat(before["due_at"])
    assert moved.total_seconds() == 48 * 3600 and p["timeline"][-1]["data"]["hours"] == 48


def test_a_retried_action_is_taken_once_and_answered_as_it_is(client, auth, spot, engine):
    """A phone that lost the answer sends the same request again: same key, same If-Match."""
    i = report(client, auth, spot)
    etag = read(client, auth, "community", i).headers["ETag"]
    key = str(uuid.uuid4())
    headers = {**auth("community"), "If-Match": etag, "Idempotency-Key": key}
    first = client.post(f"/api/v1/incidents/{i}/actions", json={"action": "accept"}, headers=headers)
    again = client.post(f"/api/v1/incidents/{i}/actions", json={"action": "accept"}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.headers["Idempotency-Replayed"] == "true" and "Idempotency-Replayed" not in first.headers
    assert again.json()["properties"]["version"] == first.json()["properties"]["version"] == 2
    with engine.connect() as c:
        n = c.execute(
            sa.text("SELECT count(*) FROM incident_event WHERE incident_id = :i AND action = 'accept'"),
            {"i": i},
        )
        assert n.scalar() == 1
    other = report(client, auth, spot)  # a key names one action on one incident
    r = client.post(
        f"/api/v1/incidents/{other}/actions",
        json={"action": "accept"},
        headers={**headers, "If-Match": '"v1"'},
    )
    assert assert_problem(r, 400)["where"] == "header.Idempotency-Key"
    assert read(client, auth, "community", other).json()["properties"]["state"] == "reported"


def test_an_action_with_an_oversized_or_broken_photo_changes_nothing(client, auth, spot, settings):
    i = report(client, auth, spot)
    ok(act(client, auth, "community", i, "accept"))
    ok(act(client, auth, "community", i, "dispatch"))
    ok(act(client, auth, "gridworker", i, "start"))
    big = b"\xff\xd8" + b"0" * settings.photo_max_bytes
    r = act(client, auth, "gridworker", i, "resolve", files=[("photos", ("big.jpg", big, "image/jpeg"))])
    assert assert_problem(r, 413)["where"] == "body.photos[0]"
    r = act(
        client, auth, "gridworker", i, "resolve", files=[("photos", ("x.jpg", b"not a photo", "image/jpeg"))]
    )
    assert assert_problem(r, 415)["where"] == "body.photos[0]"
    p = read(client, auth, "gridworker", i).json()["properties"]
    assert p["state"] == "in_progress" and p["photos"] == []


def test_as_system_steps_beyond_the_users_reach_and_always_back(settings):
    """`as_system` leaves the request role bound after it, and after an error inside it."""
    from gis_core.platform.db import make_engine
    from gis_core.platform.scope import as_system

    engine = make_engine(settings=settings, request_role=True, pool_size=1, max_overflow=0)
    try:
        with engine.begin() as c:
            assert c.execute(sa.text("SELECT current_user")).scalar() == "onegrid_app"
            with as_system(c):
                assert c.execute(sa.text("SELECT current_user")).scalar() != "onegrid_app"
            assert c.execute(sa.text("SELECT current_user")).scalar() == "onegrid_app"
        with pytest.raises(sa.exc.DBAPIError), engine.begin() as c, as_system(c):
            c.execute(sa.text("SELECT 1 / 0"))
        with engine.connect() as c:  # the same pooled connection, after the rollback
            assert c.execute(sa.text("SELECT current_user")).scalar() == "onegrid_app"
    finally:
        engine.dispose()
