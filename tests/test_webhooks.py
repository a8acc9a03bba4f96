"""Outbound webhooks (issue 22): what is committed is told, in order per case, signed; failures are retried
and dead letters replayed; subscriptions are an admin's, to receivers that are not metadata services."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import sqlalchemy as sa

from gis_core.channels.webhooks import deliver_due
from gis_core.incidents.actions import act
from gis_core.platform.auth import user_named
from gis_core.platform.scope import act_as
from gis_core.platform.settings import Settings
from tests.conftest import assert_problem
from tests.live import live_server

SECRET = "a-shared-secret-for-the-hotline"
EVENTS = ["report", "accept", "dispatch", "resolve", "rate"]


class Receiver:
    """A hotline's receiver on loopback: fails the first try of every third delivery, answers every tenth
    slowly, one beyond the sender's timeout; keeps what it accepted."""

    def __init__(self, fail_all: bool = False):
        self.accepted: list[dict[str, Any]] = []
        self.tries: dict[str, int] = {}
        self.fail_all = fail_all
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver's server

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                delivery = self.headers["X-OneGrid-Delivery"]
                with receiver.lock:
                    tries = receiver.tries[delivery] = receiver.tries.get(delivery, 0) + 1
                n = int(delivery)
                if n % 10 == 7 and tries == 1:
                    time.sleep(1.5 if n % 200 == 17 else 0.15)  # 17, 217…: past the sender's 1 s timeout
                fail = receiver.fail_all or (n % 3 == 0 and tries == 1)
                if not fail:
                    with receiver.lock:
                        receiver.accepted.append({"headers": dict(self.headers), "body": body})
                self.send_response(500 if fail else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hotline/events"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def subscribed(client, auth, receiver: Receiver, **over: Any) -> Iterator[dict]:
    body = {"name": f"hotline-{time.monotonic_ns()}", "url": receiver.url, "events": EVENTS,
            "sources": ["hotline"], "secret": SECRET} | over  # fmt: skip
    resp = client.post("/api/v1/webhooks", json=body, headers=auth("admin"))
    assert resp.status_code == 201, resp.text
    try:
        yield resp.json()
    finally:
        client.delete(f"/api/v1/webhooks/{resp.json()['id']}", headers=auth("admin"))
        receiver.close()


def _fast(settings: Settings, **over: Any) -> Settings:
    return settings.model_copy(update={"webhook_retry_base_s": 0.02, "webhook_timeout_s": 1.0} | over)


def _drain(engine, settings: Settings, most_s: float = 60.0) -> None:
    """Deliver until nothing is pending."""
    deadline = time.monotonic() + most_s
    while time.monotonic() < deadline:
        if not deliver_due(engine, settings):
            with engine.connect() as c:
                pending = c.execute(
                    sa.text(
                        "SELECT count(*) FROM webhook_delivery WHERE delivered_at IS NULL AND dead_at IS NULL"
                    )
                ).scalar()
            if not pending:
                return
            time.sleep(0.02)
    raise AssertionError("deliveries still pending")


def _verify(received: dict[str, Any]) -> dict[str, Any]:
    h, body = received["headers"], received["body"]
    mac = hmac.new(
        SECRET.encode(), f"{h['X-OneGrid-Timestamp']}.".encode() + body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(h["X-OneGrid-Signature"], f"sha256={mac}")
    return json.loads(body)


def test_two_hundred_hotline_cases_are_told_back_in_order_and_signed(client, auth, engine, settings):
    receiver = Receiver()
    with engine.connect() as c:
        rooms = (
            c.execute(
                sa.text("SELECT full_name FROM address WHERE level = 'room' ORDER BY md5(code) LIMIT 200")
            )
            .scalars()
            .all()
        )
    with subscribed(client, auth, receiver):
        cases = {}
        for i, address in enumerate(rooms):
            number = f"RT-{time.monotonic_ns()}-{i}"
            body = {"case_number": number, "received_at": "2026-12-04T10:00:00+08:00", "address": address,
                    "category": "0101", "description": "往返测试"}  # fmt: skip
            resp = client.post("/api/v1/intake/hotline", json=body, headers=auth("commander"))
            assert resp.status_code == 201 and resp.json()["state"] == "placed", resp.text
            cases[number] = resp.json()["incident"]["id"]
        resend = client.post("/api/v1/intake/hotline", json=body, headers=auth("commander"))
        assert resend.status_code == 200  # a case sent twice is stored once
        now = datetime.now(UTC)
        with engine.connect() as c:
            commander, handler = user_named(c, "commander"), user_named(c, "handler")
        steps = [(commander, "accept", {}), (commander, "dispatch", {"level": "district", "department": "urban_mgmt"}),
                 (handler, "start", {}), (handler, "resolve", {}), (commander, "rate", {"rating": "satisfied"})]  # fmt: skip
        for incident in cases.values():  # the whole loop of a case in one transaction: five timeline rows
            with engine.begin() as c:
                for version, (user, action, extra) in enumerate(steps, start=1):
                    act_as(c, user)
                    act(c, user, incident, action, version, {"note": "", **extra}, now)
        _drain(engine, _fast(settings))
        with engine.connect() as c:
            want = c.execute(
                sa.text(
                    "SELECT incident_id, array_agg(id ORDER BY id) FROM incident_event "
                    "WHERE incident_id = ANY(:i) AND action = ANY(:e) GROUP BY 1"
                ),  # fmt: skip
                {"i": list(cases.values()), "e": EVENTS},
            ).all()
            dead = c.execute(
                sa.text("SELECT count(*) FROM webhook_delivery WHERE dead_at IS NOT NULL")
            ).scalar()
    assert dead == 0
    got: dict[str, list[int]] = {}
    for r in receiver.accepted:
        payload = _verify(r)
        got.setdefault(payload["case_number"], []).append(payload["event_id"])
    assert set(got) == set(cases)
    want_by_case = {n: dict(want)[i] for n, i in cases.items()}
    for number, ids in got.items():
        # every event told at least once, and in order as a receiver sees them after dropping repeats (a
        # post the sender gave up on after its timeout may still land later, after the retry and beyond)
        assert list(dict.fromkeys(ids)) == want_by_case[number], number
    assert all(len(want_by_case[n]) == len(EVENTS) for n in cases)
    assert (
        sum(t > 1 for t in receiver.tries.values()) >= len(receiver.tries) // 3
    )  # the failures were retried


def test_a_rolled_back_action_tells_nothing_and_other_sources_are_not_told(client, auth, engine, spot):
    receiver = Receiver()
    with subscribed(client, auth, receiver) as sub:
        with engine.connect() as c:
            before = c.execute(sa.text("SELECT count(*) FROM webhook_delivery WHERE subscription_id = :s"),
                               {"s": sub["id"]}).scalar()  # fmt: skip
        lon, lat, _ = spot
        r = client.post("/api/v1/incidents", data={"category": "0101", "lon": lon, "lat": lat},
                        headers=auth("citizen") | {"Idempotency-Key": f"wh-{time.monotonic_ns()}"})  # fmt: skip
        assert r.status_code == 201, r.text
        with engine.connect() as c:
            tx = c.begin()
            c.execute(sa.text("UPDATE incident SET source = 'hotline' WHERE id = :i"), {"i": r.json()["id"]})
            c.execute(sa.text("INSERT INTO incident_event (incident_id, action, from_state, to_state) "
                              "VALUES (:i, 'accept', 'reported', 'accepted')"), {"i": r.json()["id"]})  # fmt: skip
            inside = c.execute(sa.text("SELECT count(*) FROM webhook_delivery WHERE subscription_id = :s"),
                               {"s": sub["id"]}).scalar()  # fmt: skip
            tx.rollback()
            after = c.execute(sa.text("SELECT count(*) FROM webhook_delivery WHERE subscription_id = :s"),
                              {"s": sub["id"]}).scalar()  # fmt: skip
    assert (before, inside, after) == (0, 1, 0)  # queued with the action, gone with its rollback


def _onegrid(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"ONEGRID_DATABASE_URL": db_url, "PATH": "/usr/bin:/bin", "ONEGRID_WEBHOOK_POLL_S": "0.05"}
    done = subprocess.run(  # noqa: S603 - our own command
        [sys.executable, "-m", "gis_core.cli", "webhooks", *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    return done


def test_dead_letters_are_listed_and_replayed(client, auth, engine, settings, spot, db_url):
    failing = Receiver(fail_all=True)
    with subscribed(client, auth, failing, sources=[]) as sub:
        lon, lat, _ = spot
        r = client.post("/api/v1/incidents", data={"category": "0101", "lon": lon, "lat": lat},
                        headers=auth("citizen") | {"Idempotency-Key": f"wh-{time.monotonic_ns()}"})  # fmt: skip
        assert r.status_code == 201
        _drain(engine, _fast(settings, webhook_max_attempts=3))
        dead = client.get("/api/v1/webhooks/dead", headers=auth("admin")).json()["deliveries"]
        mine = [d for d in dead if d["subscription"] == sub["name"]]
        assert len(mine) == 1 and mine[0]["attempts"] == 3 and mine[0]["last_status"] == 500
        assert_problem(client.get("/api/v1/webhooks/dead", headers=auth("commander")), 403)
        failing.fail_all = False
        listed = _onegrid(db_url, "dead").stdout  # the operator's view of the same list
        assert f'"id": {mine[0]["id"]},' in listed and sub["name"] in listed
        resp = client.post("/api/v1/webhooks/dead/replay", json=[mine[0]["id"]], headers=auth("admin"))
        assert resp.json() == {"requeued": 1}
        assert _onegrid(db_url, "deliver", "--once").returncode == 0  # a deliverer of its own drains it
        assert [json.loads(a["body"])["incident"]["code"] for a in failing.accepted] == [
            r.json()["properties"]["code"]
        ]


def test_a_server_delivers_by_itself(settings, engine, spot):
    """The deliverer every server process runs, on a live server."""
    receiver = Receiver()
    with live_server(settings, ONEGRID_WEBHOOK_POLL_S="0.1") as base:
        import httpx

        admin = {"Authorization": "Bearer " + httpx.post(f"{base}/api/v1/auth/token", data={
            "username": "admin", "password": "onegrid-demo"}).json()["access_token"]}  # fmt: skip
        sub = httpx.post(f"{base}/api/v1/webhooks", headers=admin, json={
            "name": f"live-{time.monotonic_ns()}", "url": receiver.url, "events": ["report"]}).json()  # fmt: skip
        try:
            lon, lat, _ = spot
            r = httpx.post(f"{base}/api/v1/incidents", data={"category": "0101", "lon": lon, "lat": lat},
                           headers=admin | {"Idempotency-Key": f"wh-{time.monotonic_ns()}"})  # fmt: skip
            assert r.status_code == 201, r.text
            deadline = time.monotonic() + 10
            while not receiver.accepted and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            httpx.delete(f"{base}/api/v1/webhooks/{sub['id']}", headers=admin)
            receiver.close()
    assert [json.loads(a["body"])["incident"]["code"] for a in receiver.accepted] == [
        r.json()["properties"]["code"]
    ]


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.org/x",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/hook",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://0.0.0.0/x",
        "javascript:alert(1)",
        "http:///nohost",
    ],  # fmt: skip
)
def test_a_receiver_that_is_not_http_or_is_a_metadata_service_is_refused(client, auth, engine, url):
    with engine.connect() as c:
        before = c.execute(sa.text("SELECT count(*) FROM webhook_subscription")).scalar()
    body = {"name": f"bad-{time.monotonic_ns()}", "url": url}
    assert (
        assert_problem(client.post("/api/v1/webhooks", json=body, headers=auth("admin")), 400)["where"]
        == "body.url"
    )
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM webhook_subscription")).scalar() == before


@pytest.mark.parametrize("who", ["commander", "planner", "citizen", "gridworker"])
def test_only_admins_manage_subscriptions(client, auth, who):
    body = {"name": f"x-{who}", "url": "http://127.0.0.1:9/x"}
    assert_problem(client.post("/api/v1/webhooks", json=body, headers=auth(who)), 403)
    assert_problem(client.get("/api/v1/webhooks", headers=auth(who)), 403)


def test_the_secret_is_shown_once_and_stored_sealed(client, auth, engine):
    receiver = Receiver()
    with subscribed(client, auth, receiver, secret=None) as sub:
        assert len(sub["secret"]) >= 32
        listed = client.get("/api/v1/webhooks", headers=auth("admin")).json()["subscriptions"]
        assert all("secret" not in s for s in listed) and sub["id"] in [s["id"] for s in listed]
        with engine.connect() as c:
            stored = c.execute(sa.text("SELECT secret_sealed FROM webhook_subscription WHERE id = :i"),
                               {"i": sub["id"]}).scalar()  # fmt: skip
        assert sub["secret"].encode() not in bytes(stored)
