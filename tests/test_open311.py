"""Open311 GeoReport v2: responses checked field by field against the spec; spec-format errors."""

import uuid
from datetime import datetime

import pytest
import sqlalchemy as sa

SERVICE_FIELDS = {
    "service_code": str,
    "service_name": str,
    "description": str,
    "metadata": bool,
    "type": str,
    "keywords": str,
    "group": str,
}
REQUEST_FIELDS = {
    "service_request_id": str,
    "status": str,
    "status_notes": (str, type(None)),
    "service_name": str,
    "service_code": str,
    "description": (str, type(None)),
    "agency_responsible": (str, type(None)),
    "service_notice": (str, type(None)),
    "requested_datetime": str,
    "updated_datetime": (str, type(None)),
    "expected_datetime": (str, type(None)),
    "address": (str, type(None)),
    "address_id": (str, type(None)),
    "zipcode": (str, type(None)),
    "lat": float,
    "long": float,
    "media_url": (str, type(None)),
}


def check_fields(obj, spec):
    assert set(obj) == set(spec), set(obj) ^ set(spec)
    for k, t in spec.items():
        assert isinstance(obj[k], t), (k, obj[k])


def iso_with_zone(text):
    dt = datetime.fromisoformat(text)
    assert dt.tzinfo is not None  # the spec requires a time zone
    return dt


@pytest.fixture(scope="module")
def key(token):
    return token("citizen")


@pytest.fixture(scope="module")
def spot(engine):
    with engine.connect() as c:
        return c.execute(
            sa.text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grid "
                "ORDER BY code DESC LIMIT 1) s"
            )
        ).one()


def test_services_list(client):
    services = client.get("/open311/v2/services.json").json()
    assert len(services) == 51
    for s in services:
        check_fields(s, SERVICE_FIELDS)
        assert s["type"] in ("realtime", "batch", "blackbox") and s["metadata"] is False
    assert {s["group"] for s in services} >= {"市容环境", "冷链监管", "森林防火", "防汛防台"}


def test_service_definition(client):
    assert client.get("/open311/v2/services/0101.json").json() == {"service_code": "0101", "attributes": []}
    r = client.get("/open311/v2/services/9999.json")
    assert r.status_code == 404 and r.json()[0]["code"] == 404 and r.json()[0]["description"]


def test_post_then_get_request(client, key, spot):
    r = client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": key,
            "service_code": "0201",
            "lat": spot[1],
            "long": spot[0],
            "description": "路灯不亮",
        },
    )
    assert r.status_code == 200, r.text
    (created,) = r.json()
    assert set(created) == {"service_request_id", "service_notice", "account_id"}
    sid = created["service_request_id"]
    (one,) = client.get(f"/open311/v2/requests/{sid}.json", params={"api_key": key}).json()
    check_fields(one, REQUEST_FIELDS)
    assert one["status"] == "open" and one["service_code"] == "0201" and one["description"] == "路灯不亮"
    assert one["lat"] == pytest.approx(spot[1]) and one["long"] == pytest.approx(spot[0])
    assert one["agency_responsible"] == "street_office" and one["service_notice"] == created["service_notice"]
    assert iso_with_zone(one["expected_datetime"]) > iso_with_zone(one["requested_datetime"])
    listed = client.get(
        "/open311/v2/requests.json", params={"api_key": key, "service_code": "0201", "status": "open"}
    ).json()
    assert sid in [x["service_request_id"] for x in listed]
    for x in listed:
        check_fields(x, REQUEST_FIELDS)
        assert x["status"] == "open" and x["service_code"] == "0201"
    by_id = client.get("/open311/v2/requests.json", params={"api_key": key, "service_request_id": sid}).json()
    assert [x["service_request_id"] for x in by_id] == [sid]


def test_closed_status_filter(client, auth):
    rows = client.get(
        "/open311/v2/requests.json",
        params={
            "status": "closed",
            "start_date": "2025-11-01T00:00:00+08:00",
            "end_date": "2026-11-01T00:00:00+08:00",
        },
        headers=auth("commander"),
    ).json()
    assert rows and all(r["status"] == "closed" for r in rows) and len(rows) <= 1000


@pytest.mark.parametrize(
    "data,status",
    [
        ({"service_code": "0101"}, 400),  # no location
        ({"service_code": "9999", "lat": 40.15, "long": 124.38}, 400),
        ({"service_code": "0101", "lat": 39.9, "long": 116.4}, 400),  # outside the district
        ({"lat": 40.15, "long": 124.38}, 400),  # no service_code
    ],
)
def test_post_errors_in_spec_format(client, key, data, status):
    r = client.post("/open311/v2/requests.json", data={"api_key": key, **data})
    assert r.status_code == status
    body = r.json()
    assert isinstance(body, list) and body[0]["code"] == status and body[0]["description"]


def test_missing_api_key_is_a_401_in_spec_format(client):
    r = client.get("/open311/v2/requests.json")
    assert r.status_code == 401 and r.json() == [{"code": 401, "description": "api_key is required"}]


def test_bad_dates_and_status(client, key):
    assert (
        client.get(
            "/open311/v2/requests.json", params={"api_key": key, "start_date": "yesterday"}
        ).status_code
        == 400
    )
    assert (
        client.get("/open311/v2/requests.json", params={"api_key": key, "status": "lost"}).json()[0]["code"]
        == 400
    )


def test_a_retried_post_with_an_idempotency_key_answers_the_same_request(client, key, spot, engine):
    body = {
        "api_key": key,
        "service_code": "0201",
        "lat": spot[1],
        "long": spot[0],
        "description": "井盖松动",
    }
    headers = {"Idempotency-Key": f"open311-retry-{uuid.uuid4()}"}
    (first,) = client.post("/open311/v2/requests.json", data=body, headers=headers).json()
    (again,) = client.post("/open311/v2/requests.json", data=body, headers=headers).json()
    assert again == first and first["service_notice"]
    with engine.connect() as c:
        stored = c.execute(
            sa.text("SELECT code FROM incident WHERE idempotency_key = :k"), {"k": headers["Idempotency-Key"]}
        ).scalar_one()
    assert stored == first["service_notice"]


@pytest.mark.parametrize(
    "ctype",
    ["application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=UTF-8"],
)
def test_raw_utf8_form_body_is_read_as_utf8(client, key, spot, ctype):
    """What `curl -d` sends: raw UTF-8 bytes, no %-escapes, usually no charset."""
    body = f"api_key={key}&service_code=0201&lat={spot[1]}&long={spot[0]}&description=核验中文 路灯不亮"
    r = client.post("/open311/v2/requests.json", content=body.encode(), headers={"Content-Type": ctype})
    assert r.status_code == 200, r.text
    sid = r.json()[0]["service_request_id"]
    (one,) = client.get(f"/open311/v2/requests/{sid}.json", params={"api_key": key}).json()
    assert one["description"] == "核验中文 路灯不亮"


def test_percent_escaped_and_latin1_declared_form_bodies_keep_their_meaning(client, key, spot):
    escaped = "%E6%A0%B8%E9%AA%8C"  # 核验, escaped by a browser
    r = client.post(
        "/open311/v2/requests.json",
        content=f"api_key={key}&service_code=0201&lat={spot[1]}&long={spot[0]}&description={escaped}+ok".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    sid = r.json()[0]["service_request_id"]
    (one,) = client.get(f"/open311/v2/requests/{sid}.json", params={"api_key": key}).json()
    assert one["description"] == "核验 ok"
    r = client.post(  # a client that says Latin-1 means it
        "/open311/v2/requests.json",
        content=f"api_key={key}&service_code=0201&lat={spot[1]}&long={spot[0]}&description=caf".encode()
        + b"\xe9",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=ISO-8859-1"},
    )
    sid = r.json()[0]["service_request_id"]
    (one,) = client.get(f"/open311/v2/requests/{sid}.json", params={"api_key": key}).json()
    assert one["description"] == "café"
