"""PostgreSQL restarted in the middle of a load of report submissions and track uploads.

Phones keep sending: each report under its own idempotency key, each track batch as is,
both retried until the server acknowledges them. While the database is down the server
must answer 503 with Retry-After (never 500), come back by itself when it returns, and
afterwards every acknowledged report and fix must be stored exactly once.

The cluster restarted is always one the tests own (`tests/conftest.py: owned_cluster`), never
a demo's nor DATABASE_URL's server: with DATABASE_URL set, the test makes its database there.
"""

import collections
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from gis_core.ingest.demo_load import DEMO_PASSWORD
from gis_core.platform.embedded_db import EmbeddedCluster
from gis_core.platform.settings import Settings
from tests.conftest import demo_database, first_grid_spot
from tests.live import live_server

DOWN_S = 4.0


@dataclass
class Target:
    """A database in a cluster this test owns, and what the test needs of it."""

    cluster: EmbeddedCluster
    settings: Settings
    engine: sa.Engine
    spot: tuple[float, float, str]


@pytest.fixture
def target(settings, engine, client, spot, owned_cluster) -> Iterator[Target]:
    """The session's database when it lives in the tests' own cluster; else one made there for this test.

    Either way the cluster restarted is one the tests own, never a demo's or DATABASE_URL's.
    """
    if make_url(settings.database_url).port == owned_cluster.port:
        yield Target(owned_cluster, settings, engine, spot)
        engine.dispose()  # the session's own pooled connections died with the server
        client.app.state.tile_engine.dispose()
        return
    with demo_database(owned_cluster.url("postgres"), prefix="onegrid_fault") as url:
        own = sa.create_engine(url)
        try:
            yield Target(
                owned_cluster, settings.model_copy(update={"database_url": url}), own, first_grid_spot(own)
            )
        finally:
            own.dispose()


class Phones:
    """Report and track clients that retry until acknowledged, and what they saw."""

    def __init__(self, base, tokens, spot, tag):
        self.base, self.tokens, self.spot, self.tag = base, tokens, spot, tag
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.statuses: collections.Counter = collections.Counter()
        self.retry_after: set[str] = set()
        self.reports_sent: set[str] = set()
        self.reports_acked: dict[str, int] = {}
        self.fixes_acked: set[datetime] = set()
        self.transport_errors = 0
        self.crashes: list[str] = []

    def guarded(self, work, *args):
        """Run a phone; an exception is recorded (a dead thread would otherwise pass unnoticed)."""
        try:
            work(*args)
        except BaseException as exc:  # noqa: BLE001 - reported by the test's assertions
            with self.lock:
                self.crashes.append(repr(exc))

    def _post(self, client, path, **kw):
        """POST until a 2xx (retrying 503s and lost connections); None once told to stop."""
        while True:
            try:
                r = client.post(path, **kw)
            except httpx.TransportError:
                with self.lock:
                    self.transport_errors += 1
                time.sleep(0.2)
                continue
            with self.lock:
                self.statuses[r.status_code] += 1
                if r.status_code == 503:
                    self.retry_after.add(r.headers.get("Retry-After", ""))
            if r.is_success:
                return r
            assert r.status_code == 503, (path, r.status_code, r.text)  # nothing but "come back later"
            time.sleep(0.2)  # a phone waits less than Retry-After: the test must not take minutes

    def reporter(self, user):
        lon, lat, _ = self.spot
        h = {"Authorization": f"Bearer {self.tokens[user]}"}
        with httpx.Client(base_url=self.base, timeout=10) as client:
            while not self.stop.is_set():
                key = f"{self.tag}-{uuid.uuid4()}"
                with self.lock:
                    self.reports_sent.add(key)
                r = self._post(
                    client,
                    "/api/v1/incidents",
                    headers={**h, "Idempotency-Key": key},
                    data={"category": "0101", "description": "故障演练", "lon": str(lon), "lat": str(lat)},
                )
                with self.lock:
                    self.reports_acked[key] = r.json()["id"]

    def tracker(self, start):
        lon, lat, _ = self.spot
        h = {"Authorization": f"Bearer {self.tokens['gridworker']}"}
        t = start
        with httpx.Client(base_url=self.base, timeout=10) as client:
            while not self.stop.is_set():
                times = [t + timedelta(seconds=10 * k) for k in range(20)]
                fixes = [
                    {
                        "t": x.isoformat(),
                        "lon": lon + 1e-6 * (k % 5),
                        "lat": lat,
                        "accuracy": 5.0,
                        "speed": 0.5,
                    }
                    for k, x in enumerate(times)
                ]
                r = self._post(client, "/api/v1/tracks", json={"fixes": fixes}, headers=h)
                assert r.json()["rejected"] == {"accuracy": 0, "jump": 0}
                with self.lock:
                    self.fixes_acked.update(times)
                t = times[-1] + timedelta(seconds=10)


def test_a_database_restart_mid_load_loses_and_duplicates_nothing(target):
    settings, engine, spot, cluster = target.settings, target.engine, target.spot, target.cluster
    tag = f"fault-{uuid.uuid4().hex[:8]}"
    start = datetime(2026, 11, 20, 1, 0, tzinfo=UTC) + timedelta(days=uuid.uuid4().int % 300 / 100)
    with live_server(settings, workers=2) as base:
        tokens = {
            u: httpx.post(
                f"{base}/api/v1/auth/token", data={"username": u, "password": DEMO_PASSWORD}
            ).json()["access_token"]
            for u in ("citizen", "gridworker", "street")
        }
        phones = Phones(base, tokens, spot, tag)
        threads = [
            threading.Thread(target=phones.guarded, args=(phones.reporter, u))
            for u in ("citizen", "gridworker", "street")
        ]
        threads.append(threading.Thread(target=phones.guarded, args=(phones.tracker, start)))
        for th in threads:
            th.start()
        try:
            time.sleep(2.0)
            before = len(phones.reports_acked)
            cluster.stop()
            down_at = time.monotonic()
            while time.monotonic() - down_at < DOWN_S:
                time.sleep(0.2)
            with phones.lock:
                during = dict(phones.statuses)
            cluster.start()
            time.sleep(3.0)  # the server finds its feet without help
            after_restart = len(phones.reports_acked)
        finally:
            phones.stop.set()
            for th in threads:
                th.join(60)
        # a fresh request after the fault is served normally
        r = httpx.get(
            f"{base}/api/v1/incidents?limit=1", headers={"Authorization": f"Bearer {tokens['citizen']}"}
        )
        assert r.status_code == 200
    engine.dispose()  # pooled connections died with the server
    assert not any(th.is_alive() for th in threads) and phones.crashes == []
    assert before > 0 and after_restart > before  # work went on before and after the outage
    assert during.get(503, 0) > 0 and phones.retry_after and phones.retry_after <= {"5"}
    assert 500 not in phones.statuses and set(phones.statuses) <= {200, 201, 503}
    assert set(phones.reports_acked) == phones.reports_sent  # every report was acknowledged in the end
    with engine.connect() as c:
        stored = collections.Counter(
            c.execute(
                sa.text("SELECT idempotency_key FROM incident WHERE idempotency_key LIKE :p"),
                {"p": f"{tag}-%"},
            ).scalars()
        )
        events = c.execute(
            sa.text(
                "SELECT count(*) FROM incident_event e JOIN incident i ON i.id = e.incident_id "
                "WHERE i.idempotency_key LIKE :p"
            ),
            {"p": f"{tag}-%"},
        ).scalar()
        ids = dict(
            c.execute(
                sa.text("SELECT idempotency_key, id FROM incident WHERE idempotency_key LIKE :p"),
                {"p": f"{tag}-%"},
            ).all()
        )
        fixes = collections.Counter(
            c.execute(
                sa.text("SELECT recorded_at FROM track_point WHERE worker_id = 1 AND recorded_at >= :a"),
                {"a": start},
            ).scalars()
        )
    assert set(stored) == set(phones.reports_acked) and max(stored.values()) == 1  # none lost, none twice
    assert ids == phones.reports_acked  # the id each phone was told is the stored one
    assert events == len(stored)  # one 'report' timeline row each, not one per attempt
    assert set(fixes) >= phones.fixes_acked and max(fixes.values()) == 1
    assert len(phones.fixes_acked) >= 40
    print(  # the figures of docs/reliability.md (pytest -s)
        f"fault test: {sum(phones.statuses.values())} answers {dict(phones.statuses)}, "
        f"{phones.transport_errors} transport errors, {len(stored)} reports, {len(phones.fixes_acked)} fixes"
    )
