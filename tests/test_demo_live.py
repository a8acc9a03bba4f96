"""`onegrid demo live` drives a demo district through the public API, and refuses a database that is not one."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime

import httpx
import pytest
import sqlalchemy as sa

from data.demo_live import Client, NotADemo, run
from gis_core.platform.db import migrate
from tests.conftest import demo_database
from tests.live import live_server


@pytest.fixture(scope="module")
def own_demo(db_url):
    """A demo district of the simulator's own (it writes accounts, reports and fixes)."""
    with demo_database(db_url, prefix="onegrid_live") as url:
        yield url


def test_it_refuses_a_database_that_is_not_a_demo(empty_database):
    migrate(empty_database)  # a real district's database: the schema, no demo manifest
    engine = sa.create_engine(empty_database)
    with pytest.raises(NotADemo):
        run("http://127.0.0.1:9", engine, seconds=1)
    done = subprocess.run(
        [sys.executable, "-m", "gis_core.cli", "demo", "live", "--url", "http://127.0.0.1:9", "--seconds", "1"],
        env={**os.environ, "ONEGRID_DATABASE_URL": empty_database},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1 and "refused" in done.stderr
    with engine.connect() as c:  # it wrote nothing, not even its accounts
        assert c.execute(sa.text("SELECT count(*) FROM app_user")).scalar() == 0
    engine.dispose()


def test_the_district_moves_and_what_it_was_told_was_stored_is_stored_once(own_demo, settings):
    started = datetime.now(UTC)
    engine = sa.create_engine(own_demo)
    with live_server(settings.model_copy(update={"database_url": own_demo})) as base:
        said: list[str] = []
        sim = run(base, engine, speed=1200, scale=10, seconds=15, say=said.append)
    tally = sim.tally
    assert said[0].startswith("demo live:") and said[-1].startswith("sent ")
    assert tally["fixes"] > 50 and tally["reports"] >= 3 and tally["accept"] >= 1 and tally["readings"] >= 1
    assert not [k for k in tally if k.startswith(("fixes refused", "reports refused", "readings refused"))], (
        tally
    )
    with engine.connect() as c:
        reports = c.execute(
            sa.text(
                "SELECT count(*) FROM incident WHERE description = '模拟上报（demo live）' AND reported_at >= :t"
            ),
            {"t": started},
        ).scalar()
        fixes = c.execute(
            sa.text("SELECT count(*) FROM track_point WHERE recorded_at >= :t"), {"t": started}
        ).scalar()
        accepted = c.execute(
            sa.text("SELECT count(*) FROM incident_event WHERE action = 'accept' AND at >= :t"),
            {"t": started},
        ).scalar()
    engine.dispose()
    assert reports == tally["reports"] == len(sim.acked["reports"])  # each report the server took, once
    assert fixes == tally["fixes"] == len(sim.acked["fixes"])  # one fix per upload, none twice
    assert accepted == tally["accept"]


def test_its_logins_leave_room_for_the_people_at_the_same_address(settings):
    """Found in use: `make demo` started the simulator, whose fifty-odd actors logged in at once
    from 127.0.0.1 and used up the address's login limit, so the person opening the wall on the
    same machine was refused (429) for the first minutes. It paces its logins under the limit."""
    limited = settings.model_copy(update={"login_per_minute": 30})
    with live_server(limited) as base:
        tally: Counter[str] = Counter()
        sim = Client(base, tally)
        got = 0
        for _ in range(40):  # forty actors' first logins within a few seconds
            sim.tokens.clear()
            sim.retry_at.clear()
            got += sim._token("gridworker") is not None
        assert 0 < got < 30 and not tally  # paced: no refusals, room left
        person = httpx.post(
            f"{base}/api/v1/auth/token", data={"username": "commander", "password": "onegrid-demo"}
        )
        assert person.status_code == 200, person.text
