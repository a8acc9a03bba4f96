"""200 concurrent clients with retries and duplicate keys: exactly one incident per key, none lost."""

import httpx
import sqlalchemy as sa

from tests.live import live_server
from tests.load import run_load
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
        stored = c.execute(
            sa.text(
                "SELECT idempotency_key, count(*) FROM incident WHERE idempotency_key = ANY(:k) GROUP BY 1"
            ),
            {"k": list(result.keys)},
        ).all()
        events = c.execute(
            sa.text(
                "SELECT count(*) FROM incident_event e JOIN incident i ON i.id = e.incident_id "
                "WHERE i.idempotency_key = ANY(:k)"
            ),
            {"k": list(result.keys)},
        ).scalar()
    assert len(stored) == 600 and all(n == 1 for _, n in stored)  # exactly one per key
    assert result.created == 600 and events == 600
