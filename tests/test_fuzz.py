"""Bad input, generated: schemathesis fuzzes every operation of the OpenAPI spec against a real
server, and hypothesis throws arbitrary coordinates and polygons at the spatial inputs.

Bounded (a fixed number of examples per operation, derandomised so a failure reproduces);
the property everywhere: a 4xx problem, never a 5xx, and nothing stored by a rejected request.
"""

import json
import math
import uuid

import pytest
import schemathesis
import shapely
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from api.app import create_app
from gis_core.ingest.demo_load import DEMO_PASSWORD
from gis_core.platform.settings import Settings
from tests.conftest import assert_problem
from tests.live import live_server

pytestmark = pytest.mark.fuzz  # runs last (tests/conftest.py): it files reports at random

# the spec as the app publishes it; the SSE stream never ends and logout would end the session
schema = schemathesis.openapi.from_dict(create_app(Settings()).openapi()).exclude(
    path_regex=r"^/api/v1/(events|auth/logout)$"
)
BOUNDED = settings(max_examples=6)  # per operation; the profile of tests/conftest.py does the rest


@pytest.fixture(scope="module")
def server(settings):
    with live_server(settings, workers=1) as base:
        import httpx

        r = httpx.post(f"{base}/api/v1/auth/token", data={"username": "commander", "password": DEMO_PASSWORD})
        yield base, {"Authorization": f"Bearer {r.json()['access_token']}"}


@schema.parametrize()
@BOUNDED
def test_no_generated_request_gets_a_server_error(case, server):
    base, headers = server
    if case.headers and "Idempotency-Key" in case.headers:
        case.headers["Idempotency-Key"] = str(uuid.uuid4())  # a replay is not what this test is about
    r = case.call(base_url=base, headers=headers, timeout=30)
    assert r.status_code < 500, f"{case.method} {case.formatted_path}: {r.status_code} {r.text[:500]}"
    if 400 <= r.status_code < 500 and not case.path.startswith("/open311/"):  # Open311 has its own format
        content_type = (r.headers.get("content-type") or [""])[0]
        assert content_type.startswith("application/problem+json"), (
            case.method,
            case.formatted_path,
            r.text[:300],
        )


coordinate = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-200, max_value=200),
    st.floats(min_value=122.9, max_value=123.2),  # around the demo district
)
CRSS = ["EPSG:4326", "EPSG:4490", "GCJ-02", "BD-09", "EPSG:3857", "EPSG:999999", "WGS84", "", "EPSG:4550"]


@given(lon=coordinate, lat=coordinate, crs=st.sampled_from(CRSS))
@settings(max_examples=150)
def test_any_coordinate_is_located_or_a_problem(client, auth, lon, lat, crs):
    r = client.get("/api/v1/lookup", params={"lon": repr(lon), "lat": repr(lat), "crs": crs}, headers=auth())
    if r.status_code == 200:
        assert math.isfinite(lon) and math.isfinite(lat)
        assert r.json()["grid"]["code"]
    else:
        assert r.status_code in (400, 404, 422), r.text
        assert r.headers["content-type"].startswith("application/problem+json")


ring_point = st.tuples(st.floats(122.95, 123.15), st.floats(41.05, 41.2))


@given(points=st.lists(ring_point, min_size=0, max_size=8), close=st.booleans())
@settings(max_examples=120)
def test_any_polygon_is_answered_or_refused_as_invalid(client, auth, points, close):
    ring = [list(p) for p in points] + ([list(points[0])] if close and points else [])
    geometry = {"type": "Polygon", "coordinates": [ring]}
    r = client.post("/api/v1/spatial/grid/polygon", json={"geometry": geometry, "limit": 1}, headers=auth())
    try:
        valid = shapely.geometry.shape(geometry).is_valid and len(ring) >= 4 and ring[0] == ring[-1]
    except (ValueError, TypeError, shapely.errors.GEOSException):
        valid = False
    if not valid:
        assert r.status_code == 400, (geometry, r.text)
        assert_problem(r, 400)  # invalid or self-intersecting: refused, and said where
        assert r.json()["where"].startswith("body.geometry")
    else:
        assert r.status_code in (200, 400), r.text  # a valid polygon may still lie outside the district
        if r.status_code == 400:
            assert_problem(r, 400)


@given(lon=coordinate, lat=coordinate)
@settings(max_examples=60)
def test_a_report_outside_the_district_is_refused_and_stores_nothing(client, auth, engine, lon, lat):
    key = f"fuzz-{uuid.uuid4()}"
    r = client.post(
        "/api/v1/incidents",
        headers={**auth("citizen"), "Idempotency-Key": key},
        data={"category": "0101", "lon": repr(lon), "lat": repr(lat)},
    )
    index = client.app.state.grid_cache.get()
    inside = math.isfinite(lon) and math.isfinite(lat) and index.locate(lon, lat) is not None
    with engine.connect() as c:
        stored = c.execute(
            sa.text("SELECT count(*) FROM incident WHERE idempotency_key = :k"), {"k": key}
        ).scalar()
    if inside:
        assert r.status_code == 201 and stored == 1, r.text
    else:
        assert r.status_code in (400, 422) and stored == 0, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        json.loads(r.text)


def test_found_by_fuzzing_a_utc_offset_postgresql_refuses_is_a_400(client, auth):
    r = client.get(
        "/api/v1/incidents/stats",
        params={"from": "2000-01-01T00:00:00Z", "to": "2000-01-01T00:00:00+16:00"},
        headers=auth(),
    )
    assert "time zone displacement out of range" in assert_problem(r, 400, "invalid-input")["detail"]


def test_found_by_fuzzing_an_unclosed_ring_is_refused_not_closed_silently(client, auth):
    ring = [[123.0, 41.125], [123.0, 41.1875], [122.96875, 41.125]]
    r = client.post(
        "/api/v1/spatial/grid/polygon",
        json={"geometry": {"type": "Polygon", "coordinates": [ring]}},
        headers=auth(),
    )
    assert assert_problem(r, 400)["where"] == "body.geometry.coordinates[0]"
