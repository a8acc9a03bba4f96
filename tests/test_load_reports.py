"""200 concurrent clients with retries and duplicate keys: exactly one incident per key, none lost."""

import httpx
import sqlalchemy as sa

from tests.live import live_server
from tests.load import run_load, stored_per_key
from tests.photos import jpeg


def test_two_hundred_clients_store_each_report_exactly_once(settings, engine):
    with engine.connect() as c:
        points = c.execute(
            sa.text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grid) s")
        ).all()
    with live_server(settings, workers=2) as base:
        token = httpx.post(
            f"{base}/api/v1/auth/token", data={"username": "gridworker", "password": "onegrid-demo"}
        ).json()["access_token"]
        result = run_load(
            base, token, [tuple(p) for p in points], jpeg(320, 240), clients=200, reports_per_client=3
        )
    assert result.failures == []
    assert result.acknowledged == result.keys and len(result.keys) == 600  # none lost
    assert result.replays > 100  # the duplicate paths were exercised
    with engine.connect() as c:
        stored = stored_per_key(c, result.keys)
        events, photos = c.execute(
            sa.text(
                "SELECT (SELECT count(*) FROM incident_event e JOIN incident i ON i.id = e.incident_id "
                "        WHERE i.idempotency_key = ANY(:k)), "
                "       (SELECT count(DISTINCT p.sha256) FROM incident_photo p "
                "        JOIN incident i ON i.id = p.incident_id WHERE i.idempotency_key = ANY(:k))"
            ),
            {"k": list(result.keys)},
        ).one()
    assert stored == dict.fromkeys(result.keys, 1)  # exactly one per key
    assert result.created == 600 and events == 600 and photos == 600  # a distinct photo each
