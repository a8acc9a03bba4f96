"""GET /api/v1/events: live events over SSE from any server process, resumable, scoped to the area."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
import sqlalchemy as sa

from tests.feeds import Feed, file_report, token_for
from tests.live import live_server


def test_a_report_filed_on_one_server_reaches_walls_on_another_and_a_wall_resumes(settings, spot):
    lon, lat, _ = spot
    with live_server(settings) as a, live_server(settings) as b:
        wall = Feed(b, token_for(b, "commander"))
        wall.start()
        assert wall.ready.wait(10)
        time.sleep(0.3)
        t0 = time.monotonic()
        first = file_report(a, token_for(a, "gridworker"), lon, lat)
        got = wall.wait_for(lambda d: d["id"] == first)
        assert got is not None and time.monotonic() - t0 < 2.0  # the acceptance: on the wall within 2 s
        wall.stop.set()
        # the wall was away while two more reports came in; it resumes from the last id it saw
        missed = [file_report(a, token_for(a, "gridworker"), lon, lat) for _ in range(2)]
        back = Feed(b, token_for(b, "commander"), last_id=got["id"])
        back.start()
        ids = [json.loads(back.wait_for(lambda d, m=m: d["id"] == m)["data"])["id"] for m in missed]
        assert ids == missed


def test_a_wall_that_connects_after_a_quiet_spell_starts_now(settings, spot):
    # with no wall connected the server reads no events at all; the first wall must still
    # start at the newest event, not be handed what came in while nobody watched
    lon, lat, _ = spot
    with live_server(settings) as base:
        token = token_for(base, "gridworker")
        before = [file_report(base, token, lon, lat) for _ in range(2)]
        time.sleep(0.3)  # the notices arrive and are passed over
        wall = Feed(base, token_for(base, "commander"))
        wall.start()
        assert wall.ready.wait(10)
        time.sleep(0.3)
        after = file_report(base, token, lon, lat)
        seen = []
        got = wall.wait_for(lambda d: seen.append(d["id"]) or d["id"] == after)
        assert got is not None and seen == [after] and not set(before) & set(seen)


def test_a_street_wall_sees_only_its_street(settings, engine, spot):
    lon, lat, _ = spot
    with engine.connect() as c:
        other = c.execute(
            sa.text(
                "SELECT ST_X(ST_PointOnSurface(g.geom)), ST_Y(ST_PointOnSurface(g.geom)) FROM grid g "
                "JOIN community cm ON cm.id = g.community_id JOIN street s ON s.id = cm.street_id "
                "WHERE s.code <> (SELECT jurisdiction_code FROM app_user WHERE username = 'street') LIMIT 1"
            )
        ).one()
    with live_server(settings) as base:
        street = Feed(base, token_for(base, "street"))
        street.start()
        assert street.ready.wait(10)
        time.sleep(0.3)
        token = token_for(base, "gridworker")
        outside = file_report(base, token, other[0], other[1])
        inside = file_report(base, token, lon, lat)
        seen = []
        got = street.wait_for(lambda d: seen.append(d["id"]) or d["id"] == inside)
        assert got is not None and outside not in seen


def test_the_feed_refuses_bad_requests(settings):
    with live_server(settings) as base:
        assert httpx.get(f"{base}/api/v1/events").status_code == 401
        r = httpx.get(
            f"{base}/api/v1/events",
            headers={"Authorization": f"Bearer {token_for(base, 'commander')}", "Last-Event-ID": "yesterday"},
        )
        assert r.status_code == 400 and r.json()["where"] == "header.Last-Event-ID"


def test_open_walls_do_not_hold_the_servers_request_slots(settings):
    """More walls than the pool has connections (2 + 1 here), and requests still get through."""
    with live_server(settings, ONEGRID_POOL_SIZE=2, ONEGRID_POOL_MAX_OVERFLOW=1) as base:
        token = token_for(base, "commander")
        walls = [Feed(base, token) for _ in range(6)]
        for w in walls:
            w.start()
        assert all(w.ready.wait(10) for w in walls)
        r = httpx.get(
            f"{base}/api/v1/incidents",
            params={"limit": 1},
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        )
        assert r.status_code == 200


def test_the_listener_coalesces_look_again_notices_and_keeps_the_others(engine):
    """Notices that arrive together: a coalesced channel's handler runs once, with the last."""
    from gis_core.platform.notify import Listener

    seen: dict[str, list[str]] = {"t_look": [], "t_each": []}
    done = threading.Event()

    def each(payload):
        seen["t_each"].append(payload)
        if payload == "4":
            done.set()

    listener = Listener(
        engine,
        {"t_look": seen["t_look"].append, "t_each": each},
        coalesce=frozenset({"t_look"}),
    )
    listener.start()
    try:
        assert listener.listening.wait(10)
        with engine.begin() as c:  # delivered together, at commit
            for k in range(5):
                c.execute(sa.text("SELECT pg_notify('t_look', :p), pg_notify('t_each', :p)"), {"p": str(k)})
        assert done.wait(10)
        time.sleep(0.2)
    finally:
        listener.stop()
    assert seen["t_each"] == ["0", "1", "2", "3", "4"]
    assert 1 <= len(seen["t_look"]) < 5 and seen["t_look"][-1] == "4"


@pytest.mark.parametrize("workers", [1, 2])
def test_a_server_with_walls_connected_stops_cleanly_and_at_once(settings, tmp_path, workers):
    """Each open feed held shutdown for the whole graceful timeout, then was cancelled."""
    log = (tmp_path / "server.log").open("w+")
    walls = []
    with live_server(settings, workers=workers, stderr=log) as base:
        token = token_for(base, "commander")
        walls = [Feed(base, token) for _ in range(4)]
        for w in walls:
            w.start()
        assert all(w.ready.wait(10) for w in walls)
    for w in walls:
        w.join(5)
        assert not w.is_alive()  # its stream ended: the server closed it
    log.seek(0)
    text = log.read()
    # uvicorn says so when a request outlives its graceful timeout (2 s here)
    assert "Cancel" not in text and "graceful shutdown exceeded" not in text, text
