"""Deadlines.

Overdue incidents escalate a level at a time, suspended time does not count, and overdue stays
overdue until resolved.
"""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from gis_core.incidents.escalation import escalate_overdue
from tests.test_workflow import new_incident


def test_overdue_incidents_escalate_one_level_at_a_time(client, auth, engine, spot):
    i = new_incident(client, auth, spot)
    client.post(
        f"/api/v1/incidents/{i}/actions", json={"action": "accept", "version": 1}, headers=auth("commander")
    )
    client.post(
        f"/api/v1/incidents/{i}/actions", json={"action": "dispatch", "version": 2}, headers=auth("commander")
    )
    with engine.connect() as c:
        due = c.execute(sa.text("SELECT due_at FROM incident WHERE id = :i"), {"i": i}).scalar()
    # other incidents may be overdue too; only look at ours
    levels = []
    clock = due
    for _ in range(4):
        clock = clock + timedelta(minutes=1)
        with engine.begin() as c:
            # a tick handles at most 500; drain it, then ours must have moved exactly once
            moved = []
            while batch := escalate_overdue(c, clock):
                moved += batch
            assert moved.count(i) == 1
            level, state, clock_due = c.execute(
                sa.text("SELECT level, state, due_at FROM incident WHERE id = :i"), {"i": i}
            ).one()
        levels.append(level)
        clock = max(clock, clock_due)
    # at district level it was handled once (its red warning), and keeps its deadline
    assert levels == ["community", "street", "district", "district"]
    assert clock_due is not None and clock_due < clock
    with engine.begin() as c:
        later = []
        while batch := escalate_overdue(c, clock + timedelta(hours=1)):
            later += batch
    assert i not in later
    with engine.connect() as c:
        events = c.execute(
            sa.text(
                "SELECT action, actor_user_id, data FROM incident_event WHERE incident_id = :i AND action = 'escalate'"
            ),
            {"i": i},
        ).all()
        warnings = c.execute(
            sa.text(
                "SELECT level, cause_key FROM warning WHERE rule = 'incident_overdue' AND subject_id = :i ORDER BY id"
            ),
            {"i": i},
        ).all()
    assert len(events) == 3 and all(e.actor_user_id is None and e.data["reason"] == "overdue" for e in events)
    assert len(warnings) == 4 and warnings[-1].level == "red"  # one per level it was overdue at
    assert len({w.cause_key for w in warnings}) == 4


def test_suspended_time_does_not_count_against_the_deadline(client, auth, engine, spot):
    i = new_incident(client, auth, spot)
    for n, (who, action) in enumerate(
        [
            ("commander", "accept"),
            ("commander", "dispatch"),
            ("gridworker", "start"),
            ("gridworker", "suspend"),
        ],
        start=1,
    ):
        assert (
            client.post(
                f"/api/v1/incidents/{i}/actions", json={"action": action, "version": n}, headers=auth(who)
            ).status_code
            == 200
        )
    with engine.begin() as c:
        due = c.execute(sa.text("SELECT due_at FROM incident WHERE id = :i"), {"i": i}).scalar()
        # pretend it was suspended three hours ago, and that the deadline passed meanwhile
        c.execute(
            sa.text(
                "UPDATE incident SET suspended_at = now() - interval '3 hours', "
                "due_at = now() - interval '1 hour' WHERE id = :i"
            ),
            {"i": i},
        )
        assert i not in escalate_overdue(c, datetime.now(UTC))  # suspended: not escalated
    r = client.post(
        f"/api/v1/incidents/{i}/actions", json={"action": "resume", "version": 5}, headers=auth("gridworker")
    )
    assert r.status_code == 200
    with engine.connect() as c:
        new_due = c.execute(sa.text("SELECT due_at FROM incident WHERE id = :i"), {"i": i}).scalar()
    now = datetime.now(UTC)
    assert abs((new_due - (now + timedelta(hours=2))).total_seconds()) < 60  # -1 h + 3 h paused
    assert due is not None


def test_an_incident_overdue_at_district_level_stays_overdue_until_resolved(
    client, auth, engine, spot, settings
):
    """Escalation to the top blanked the deadline; the rules then cleared its red warning."""
    from gis_core.field.warning_rules import evaluate

    i = new_incident(client, auth, spot)
    client.post(
        f"/api/v1/incidents/{i}/actions", json={"action": "accept", "version": 1}, headers=auth("commander")
    )
    client.post(
        f"/api/v1/incidents/{i}/actions",
        json={"action": "dispatch", "version": 2, "level": "district", "department": "urban_mgmt"},
        headers=auth("commander"),
    )
    with engine.begin() as c:
        # the deadline passed a day ago (the clock of this database is real: the API says now())
        c.execute(sa.text("UPDATE incident SET due_at = now() - interval '1 day' WHERE id = :i"), {"i": i})
    now = datetime.now(UTC)
    with engine.begin() as c:
        while escalate_overdue(c, now):
            pass
        for _ in range(2):  # the rules run every minute: they keep the warning escalation raised
            evaluate(c, now, settings, rules=["incident_overdue"])
        warnings = c.execute(
            sa.text("SELECT level, state FROM warning WHERE rule = 'incident_overdue' AND subject_id = :i"),
            {"i": i},
        ).all()
        due = c.execute(sa.text("SELECT due_at FROM incident WHERE id = :i"), {"i": i}).scalar()
    assert due is not None
    assert [tuple(w) for w in warnings] == [("red", "raised")]
    one = client.get(f"/api/v1/incidents/{i}", headers=auth("commander")).json()
    assert one["properties"]["overdue"] is True
    listed = client.get(
        "/api/v1/incidents", params={"overdue": "true", "limit": 1000}, headers=auth("commander")
    ).json()
    assert i in [f["id"] for f in listed["features"]]
    # resolved: no longer overdue, and the rules clear the warning
    v = one["properties"]["version"]
    for action in ("start", "resolve"):
        r = client.post(
            f"/api/v1/incidents/{i}/actions", json={"action": action, "version": v}, headers=auth("handler")
        )
        assert r.status_code == 200, r.text
        v += 1
    with engine.begin() as c:
        evaluate(c, datetime.now(UTC), settings, rules=["incident_overdue"])
        state = c.execute(
            sa.text("SELECT state FROM warning WHERE rule = 'incident_overdue' AND subject_id = :i"), {"i": i}
        ).scalar()
    assert state == "cleared"
    assert (
        client.get(f"/api/v1/incidents/{i}", headers=auth("commander")).json()["properties"]["overdue"]
        is False
    )
