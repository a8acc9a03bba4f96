"""Reads from a real streaming replica (issue 25): tiles, items and hotspots come from it; a caller's own
report reads back at once while the replica's replay is paused, and others' reads move to the primary
until it catches up; the replica stopped under eight clients' load fails no request."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from gis_core.platform import replicas
from gis_core.platform.embedded_db import EmbeddedCluster
from gis_core.platform.settings import Settings
from tests.live import live_server


@pytest.fixture(scope="module")
def replica(request, db_url):
    """A streaming replica of the cluster that holds the test database, and its URL for that database."""
    if Settings().embedded:
        cluster = request.getfixturevalue("owned_cluster")
    else:
        cluster = EmbeddedCluster(Settings(database_url=None))
        if cluster.port != make_url(db_url).port:
            pytest.skip("DATABASE_URL names a server OneGrid does not run; its replicas are the DBA's")
    made = replicas.add(cluster)
    try:
        yield cluster, made, make_url(db_url).set(port=made.port).render_as_string(hide_password=False)
    finally:
        replicas.remove(cluster, made)


def _login(base: str, user: str) -> dict[str, str]:
    r = httpx.post(f"{base}/api/v1/auth/token", data={"username": user, "password": "onegrid-demo"})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _until(what, seconds: float = 15.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found := what():
            return found
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_reads_go_to_a_fresh_replica_and_never_fail_for_it(settings, spot, replica):
    cluster, made, replica_url = replica
    on_replica = sa.create_engine(replica_url, isolation_level="AUTOCOMMIT")
    env = {
        "ONEGRID_REPLICA_URLS": replica_url,
        "ONEGRID_REPLICA_MAX_LAG_S": "1",
        "ONEGRID_REPLICA_CHECK_S": "0.2",
    }
    with live_server(settings, **env) as base:
        commander, planner = _login(base, "commander"), _login(base, "planner")
        items = f"{base}/collections/grid/items?limit=5"
        _until(lambda: httpx.get(items, headers=planner).headers.get("X-Read-From") == made.name)
        # items, a tile and hotspots, served by the replica: its pg_stat_activity shows the pools
        assert (
            httpx.get(f"{base}/collections/grid/items?limit=3", headers=commander).headers["X-Read-From"]
            == made.name
        )
        tile = httpx.get(f"{base}/tiles/incidents_open/12/3463/1549.pbf", headers=commander)
        assert tile.status_code in (200, 204) and tile.headers["X-Read-From"] == made.name
        hot = httpx.get(f"{base}/api/v1/hotspots", params={"geometry": "false"}, headers=planner)
        assert hot.status_code == 200 and hot.headers["X-Read-From"] == made.name
        with on_replica.connect() as c:
            pools = set(c.execute(sa.text("SELECT application_name FROM pg_stat_activity")).scalars())
        assert {f"onegrid-read-{made.name}", f"onegrid-tiles-{made.name}"} <= pools

        # replay paused: the reporter's own report reads back at once (from the primary) ...
        with on_replica.connect() as c:
            c.execute(sa.text("SELECT pg_wal_replay_pause()"))
        lon, lat, _ = spot
        filed = httpx.post(f"{base}/api/v1/incidents", data={"category": "0101", "lon": lon, "lat": lat},
                           headers=commander | {"Idempotency-Key": str(uuid.uuid4())})  # fmt: skip
        code = filed.json()["properties"]["code"]
        mine = httpx.get(f"{base}/collections/incidents_open/items", params={"code": code}, headers=commander)
        assert mine.json()["numberReturned"] == 1 and mine.headers["X-Read-From"] == "primary"

        # ... and the others' reads move to the primary once the replica falls behind, then come back
        def theirs() -> httpx.Response:
            return httpx.get(
                f"{base}/collections/incidents_open/items", params={"code": code}, headers=planner
            )

        moved = _until(lambda: (r := theirs()).headers["X-Read-From"] == "primary" and r)
        assert moved.json()["numberReturned"] == 1
        with on_replica.connect() as c:
            c.execute(sa.text("SELECT pg_wal_replay_resume()"))
        back = _until(lambda: (r := theirs()).headers["X-Read-From"] == made.name and r)
        assert back.json()["numberReturned"] == 1

        # eight clients reading while the replica stops: every request answered
        answers: Counter[tuple[int, str]] = Counter()
        stop = threading.Event()

        def client(i: int) -> None:
            with httpx.Client(headers=(planner, commander)[i % 2], timeout=30) as h:
                while not stop.is_set():
                    r = h.get(f"{base}/collections/grid/items?limit=20&offset={i}")
                    answers[(r.status_code, r.headers.get("X-Read-From", "?"))] += 1

        threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        replicas.stop(cluster, made)
        time.sleep(1.0)
        stop.set()
        for t in threads:
            t.join()
    on_replica.dispose()
    statuses = {status for status, _ in answers}
    assert statuses == {200}, answers
    assert answers[(200, made.name)] > 0 and answers[(200, "primary")] > 0, answers
