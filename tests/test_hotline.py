"""Hotline intake (issue 22): a case with a spoken address joins the loop once, placed by its address or
queued for a person to place; bad cases are refused and store nothing."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from tests.conftest import assert_problem, opened

URL = "/api/v1/intake/hotline"


@pytest.fixture(scope="module")
def room(engine):
    """A room's standard address, its point's grid, and a category code with its item name."""
    with engine.connect() as c:
        return c.execute(
            sa.text(
                "SELECT a.code, a.full_name, g.code AS grid, (SELECT name FROM category WHERE code = '0101') AS item "
                "FROM address a JOIN grid g ON g.id = a.grid_id WHERE a.level = 'room' ORDER BY a.code DESC LIMIT 1"
            )
        ).one()


def _case(**over) -> dict:
    case = {
        "case_number": f"8890-{uuid.uuid4().hex[:10]}",
        "received_at": "2026-12-04T09:30:00+08:00",
        "address": "",
        "category": "0101",
        "description": "楼道口垃圾堆放三天无人清理",
        "caller_phone": "13812345678",
        "deadline": "2026-12-06T09:30:00+08:00",
    }
    return case | over


def _counts(engine) -> tuple[int, int]:
    with engine.connect() as c:
        return c.execute(
            sa.text("SELECT (SELECT count(*) FROM hotline_case), (SELECT count(*) FROM incident)")
        ).one()


def test_a_clear_address_becomes_an_incident_once(client, auth, engine, room):
    case = _case(address=room.full_name.replace("元宝区", ""), category=room.item)
    first = client.post(URL, json=case, headers=auth("commander"))
    assert first.status_code == 201, first.text
    out = first.json()
    assert out["state"] == "placed" and not out["replayed"]
    code = out["incident"]["code"]
    before = _counts(engine)
    again = client.post(URL, json=case, headers=auth("commander"))  # the hotline's retry after a timeout
    assert again.status_code == 200 and again.json()["replayed"] and again.json()["incident"]["code"] == code
    assert _counts(engine) == before
    changed = client.post(URL, json=case | {"description": "另一件事"}, headers=auth("commander"))
    assert assert_problem(changed, 409)["where"] == "body.case_number"
    assert _counts(engine) == before
    with engine.connect() as c:
        inc = c.execute(
            sa.text(
                "SELECT i.source, i.category_code, g.code AS grid, i.description, h.address_code, "
                "h.caller_phone_sealed, h.caller_phone_digest FROM incident i JOIN grid g ON g.id = i.grid_id "
                "JOIN hotline_case h ON h.incident_id = i.id WHERE i.code = :c"
            ),
            {"c": code},
        ).one()
    assert (inc.source, inc.category_code, inc.grid, inc.address_code) == (
        "hotline",
        "0101",
        room.grid,
        room.code,
    )
    assert case["case_number"] in inc.description and case["address"] in inc.description
    assert (
        b"13812345678" not in bytes(inc.caller_phone_sealed)
        and opened(inc.caller_phone_sealed) == "13812345678"
    )
    status = client.get(f"{URL}/{case['case_number']}", headers=auth("commander")).json()
    assert (status["state"], status["incident"]["code"], status["incident"]["state"]) == (
        "placed",
        code,
        "reported",
    )


def test_an_unplaceable_address_waits_in_the_queue_until_placed_by_hand(client, auth, engine, room):
    case = _case(address="元宝区那个卖菜的市场后边")
    resp = client.post(URL, json=case, headers=auth("commander"))
    assert resp.status_code == 201 and resp.json()["state"] == "unplaced" and resp.json()["incident"] is None
    queue = client.get(f"{URL}/queue", headers=auth("commander")).json()["cases"]
    assert case["case_number"] in [q["case_number"] for q in queue]
    placed = client.post(
        f"{URL}/{case['case_number']}/place", json={"address_code": room.code}, headers=auth()
    )
    assert placed.status_code == 200, placed.text
    inc = placed.json()["incident"]
    assert placed.json()["state"] == "placed" and inc["state"] == "reported"
    queue = client.get(f"{URL}/queue", headers=auth("commander")).json()["cases"]
    assert case["case_number"] not in [q["case_number"] for q in queue]
    twice = client.post(
        f"{URL}/{case['case_number']}/place", json={"address_code": room.code}, headers=auth()
    )
    assert_problem(twice, 409)
    # the resend after placing answers with the incident it became
    again = client.post(URL, json=case, headers=auth("commander"))
    assert again.status_code == 200 and again.json()["incident"]["code"] == inc["code"]
    accepted = client.post(
        f"/api/v1/incidents/{inc['id']}/actions", json={"action": "accept", "version": 1}, headers=auth()
    )
    assert accepted.status_code == 200, accepted.text  # and it continues like any report


@pytest.mark.parametrize(
    ("over", "where"),
    [
        ({"address": "锦" * 10_000}, "body.address"),
        ({"address": ""}, "body.address"),
        ({"address": "！？。。，，；"}, "body.address"),
        ({"case_number": ""}, "body.case_number"),
        ({"case_number": "x" * 65}, "body.case_number"),
        ({"case_number": "8890 '; DROP TABLE incident; --"}, "body.case_number"),
        ({"category": "不存在的类别"}, "body.category"),
        ({"category": "类" * 300}, "body.category"),
        ({"received_at": "2026-12-04T09:30:00"}, "body.received_at"),
    ],
    ids=[
        "10k-address",
        "empty-address",
        "punctuation",
        "empty-number",
        "long-number",
        "quote-number",
        "unknown-category",
        "long-category",
        "no-zone",
    ],  # fmt: skip
)
def test_a_bad_case_is_a_400_naming_the_field_and_stores_nothing(client, auth, engine, room, over, where):
    before = _counts(engine)
    body = assert_problem(
        client.post(URL, json=_case(address=room.full_name) | over, headers=auth("commander")), 400
    )
    assert body["where"] == where
    assert _counts(engine) == before


def test_a_case_without_a_number_is_refused(client, auth, engine, room):
    before = _counts(engine)
    case = _case(address=room.full_name)
    del case["case_number"]
    assert (
        assert_problem(client.post(URL, json=case, headers=auth("commander")), 422)["where"]
        == "body.case_number"
    )
    assert _counts(engine) == before


@pytest.mark.parametrize("who", ["citizen", "gridworker", "handler", "planner"])
def test_only_the_command_centre_takes_hotline_cases(client, auth, engine, room, who):
    before = _counts(engine)
    assert_problem(client.post(URL, json=_case(address=room.full_name), headers=auth(who)), 403)
    assert_problem(client.get(f"{URL}/queue", headers=auth(who)), 403)
    assert _counts(engine) == before


def test_a_category_by_name_with_a_wrong_character_is_the_catalogues(client, auth, room):
    resp = client.post(
        URL, json=_case(address=room.full_name, category="暴露拉圾"), headers=auth("commander")
    )
    assert resp.status_code == 201, resp.text
    status = client.get(f"{URL}/{resp.json()['case_number']}", headers=auth()).json()
    assert status["state"] == "placed"
