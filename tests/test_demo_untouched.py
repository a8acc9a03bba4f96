"""`make test` beside a running demo: the demo's cluster is never stopped, restarted or slowed.

A demo server runs on the default embedded cluster, as `make demo` leaves it. The fault test,
the one test that restarts PostgreSQL, runs in a pytest of its own beside it: once as `make
test` runs on a fresh machine (no DATABASE_URL), once with DATABASE_URL naming the demo's
server, as for a district's own PostgreSQL. Meanwhile a client polls the demo; afterwards the
demo's postmaster must have kept its start time, and every poll must have been answered.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid

import httpx
import pytest
import sqlalchemy as sa

from gis_core.platform.db import migrate
from gis_core.platform.embedded_db import EmbeddedCluster
from gis_core.platform.settings import PROJECT_ROOT, Settings
from tests.live import live_server

STARTED = sa.text("SELECT pg_postmaster_start_time()")


@pytest.fixture(scope="module")
def demo():
    """The default cluster (the one `make demo` serves), running, with a migrated database of ours in it."""
    cluster = EmbeddedCluster(Settings(database_url=None))
    was_running = cluster.is_initialised() and cluster.is_running()
    cluster.start()
    name = f"onegrid_demo_probe_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(cluster.url("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        migrate(cluster.url(name))
        yield cluster, cluster.url(name)
    finally:
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        if not was_running:
            cluster.stop()


class Poller:
    """Asks the demo's health check every 0.1 s, as a wall or a phone would keep asking."""

    def __init__(self, base: str):
        self.base, self.stop, self.answers = base, threading.Event(), []
        self.thread = threading.Thread(target=self.run)

    def run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=5) as client:
            while not self.stop.is_set():
                try:
                    self.answers.append(client.get("/healthz").status_code)
                except httpx.TransportError as exc:
                    self.answers.append(repr(exc))
                time.sleep(0.1)


@pytest.mark.parametrize("database_url", [False, True], ids=["own-cluster", "DATABASE_URL"])
def test_the_fault_test_leaves_a_running_demo_alone(demo, database_url, settings, engine, client):
    cluster, demo_url = demo
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ONEGRID_DATABASE_URL")}
    if database_url:
        env["DATABASE_URL"] = demo_url  # the session's database on the demo's server, as on a district's own
    probe = sa.create_engine(demo_url)
    with probe.connect() as c:
        started = c.execute(STARTED).scalar_one()
    with live_server(settings.model_copy(update={"database_url": demo_url})) as base:
        poller = Poller(base)
        poller.thread.start()
        try:
            run = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "tests/test_faults.py"],
                cwd=PROJECT_ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
            )
        finally:
            poller.stop.set()
            poller.thread.join(10)
    with probe.connect() as c:
        assert c.execute(STARTED).scalar_one() == started  # the demo's postmaster never restarted
    probe.dispose()
    # without DATABASE_URL the nested run restarted the tests' own cluster, under this session too
    engine.dispose()
    client.app.state.tile_engine.dispose()

    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "1 passed" in run.stdout and "skipped" not in run.stdout, run.stdout[-2000:]
    assert len(poller.answers) > 50 and set(poller.answers) == {200}, poller.answers
