"""A server you can watch: `/metrics` moves with what happens, is not public, and `/readyz` says when to send traffic."""

from __future__ import annotations

import threading
import uuid

from prometheus_client.parser import text_string_to_metric_families

from api.metrics import Metrics
from tests.conftest import assert_problem
from tests.mvt import tile_of

TILE_ROUTE = "/tiles/{layers}/{z}/{x}/{y}.pbf"


def scrape(client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def test_a_tile_a_cache_hit_and_a_report_move_the_right_metrics(client, auth, spot, monkeypatch):
    assert_problem(client.get("/metrics"), 403)  # a client not allowed: not public
    monkeypatch.setattr(client.app.state.settings, "metrics_clients", ["testclient"])
    lon, lat, _ = spot
    z = 15
    x, y = tile_of(lon, lat, z)
    tile = f"/tiles/grid/{z}/{x}/{y}.pbf"
    client.app.state.tile_cache.clear()
    before = scrape(client)
    rendered = client.get(tile, headers=auth())  # rendered: a miss
    assert rendered.status_code == 200 and "render;dur=" in rendered.headers["server-timing"]
    assert rendered.headers["x-request-id"]
    assert client.get(tile, headers=auth()).status_code == 200  # the same view: a hit
    form = {"category": "0101", "description": "指标测试", "lon": str(lon), "lat": str(lat)}
    key = str(uuid.uuid4())
    assert (
        client.post(
            "/api/v1/incidents", data=form, headers={**auth("citizen"), "Idempotency-Key": key}
        ).status_code
        == 201
    )
    assert (
        client.post(
            "/api/v1/incidents", data=form, headers={**auth("citizen"), "Idempotency-Key": key}
        ).status_code
        == 200
    )
    after = scrape(client)

    def moved(name, **labels):
        k = (name, tuple(sorted(labels.items())))
        return after.get(k, 0) - before.get(k, 0)

    assert moved("onegrid_tile_cache_misses_total") == 1 and moved("onegrid_tile_cache_hits_total") == 1
    assert moved("onegrid_requests_total", method="GET", route=TILE_ROUTE, status="200") == 2
    assert moved("onegrid_request_seconds_count", method="GET", route=TILE_ROUTE) == 2
    assert moved("onegrid_requests_total", method="POST", route="/api/v1/incidents", status="201") == 1
    assert moved("onegrid_reports_stored_total") == 1  # the retry is not a second report
    assert ("onegrid_pool_connections_in_use", (("pool", "requests"),)) in after
    assert ("onegrid_live_clients", ()) in after
    assert not [
        k for k in after if k[0] == "onegrid_requests_total" and dict(k[1])["route"].endswith(f"{y}.pbf")
    ]


def test_escalations_and_raised_warnings_are_counted_from_the_jobs():
    m = Metrics()
    m.job_done("escalation", [11, 12, 13])
    m.job_done("escalation", None)  # another process's turn
    m.job_done(
        "warning rules",
        {"key_point_overdue": {"raised": 2, "escalated": 1}, "cold_chain_temperature": {"raised": 0}},
    )
    assert m.escalations._value.get() == 3
    assert m.warnings.labels("key_point_overdue")._value.get() == 2


def test_ready_only_while_the_database_notices_are_heard(client, monkeypatch):
    assert client.app.state.listener.listening.wait(5)
    assert client.get("/readyz").json() == {"status": "ready"}
    monkeypatch.setattr(client.app.state.listener, "listening", threading.Event())  # as after a restart
    assert_problem(client.get("/readyz"), 503)
    assert client.get("/healthz").status_code == 200  # alive all the same


def test_live_feed_lag_is_the_time_from_an_events_insert_to_its_read(engine, client):
    """The hub times each event it reads for its walls against the event's own insert time."""
    import asyncio
    import time

    import sqlalchemy as sa

    from api.live import Hub
    from gis_core.platform import live

    hub, lags = Hub(engine), []
    hub.lag = lags.append
    loop = asyncio.new_event_loop()
    try:
        sub = hub.subscribe(live.Audience(everything=True), loop)
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO live_event (kind, data) VALUES ('probe', '{}')"))
        time.sleep(0.3)  # the feed is read 0.3 s after the insert
        hub.on_notice()
        assert len(lags) == 1 and 0.3 <= lags[0] < 5.0
        hub.unsubscribe(sub)
    finally:
        loop.close()
    # the server's own hub reports into its /metrics histogram
    assert client.app.state.hub.lag == client.app.state.metrics.live_lag.observe
