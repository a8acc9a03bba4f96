"""One zone in every answer (the district's, with its offset), and months that are calendar months."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from gis_core.incidents.hotspots import BINS, bin_edges
from gis_core.platform.clock import iso, month_starts

ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def times_in(value, path="$"):
    """Every (path, string) in a JSON value that is an ISO 8601 date-time."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from times_in(v, f"{path}.{k}")
    elif isinstance(value, list):
        for k, v in enumerate(value):
            yield from times_in(v, f"{path}[{k}]")
    elif isinstance(value, str) and ISO.match(value):
        yield path, value


def test_month_bins_are_the_districts_calendar_months():
    since = datetime(2026, 1, 15, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
    until = datetime(2026, 4, 10, tzinfo=UTC)
    edges = bin_edges(since, until, BINS["month"])
    assert [iso(e) for e in edges] == [
        "2026-01-15T12:00:00+08:00",
        "2026-02-01T00:00:00+08:00",
        "2026-03-01T00:00:00+08:00",
        "2026-04-01T00:00:00+08:00",
        "2026-04-10T08:00:00+08:00",
    ]
    # a month boundary is local midnight: 31 Dec 16:00 UTC is already 1 January there
    assert month_starts(datetime(2025, 12, 31, 15, 0, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)) == [
        datetime(2025, 12, 31, 16, 0, tzinfo=UTC)
    ]


def test_answers_carry_every_time_in_the_districts_zone(client, auth, engine, spot, manifest):
    lon, lat, _ = spot
    with engine.connect() as c:
        latest = c.execute(sa.text("SELECT max(recorded_at) FROM worker_position")).scalar_one()
    at = (latest + timedelta(minutes=1)).astimezone(UTC)  # asked in UTC
    h = manifest["hotspots"][0]
    until = datetime.fromisoformat(h["to"]).astimezone(UTC)
    period = {"from": (until - timedelta(days=90)).isoformat(), "to": until.isoformat()}
    answers = {
        "nearby": client.get(
            "/api/v1/workers/nearby",
            params={"lon": lon, "lat": lat, "radius": 5000, "at": at.isoformat(), "limit": 100},
            headers=auth("commander"),
        ),
        "trajectory": client.get(
            "/api/v1/workers/1/trajectory",
            params={"from": (at - timedelta(days=2)).isoformat(), "to": at.isoformat()},
            headers=auth("commander"),
        ),
        "emerging": client.get(
            "/api/v1/hotspots/emerging", params={**period, "bin": "month"}, headers=auth("commander")
        ),
        "incidents": client.get("/api/v1/incidents?limit=20", headers=auth("commander")),
        "items": client.get("/collections/incidents_open/items?limit=20", headers=auth("commander")),
    }
    seen = {}
    for name, r in answers.items():
        assert r.status_code == 200, (name, r.text[:300])
        found = list(times_in(r.json()))
        seen[name] = len(found)
        wrong = [(p, v) for p, v in found if not v.endswith("+08:00")]
        assert not wrong, (name, wrong[:5])
    assert all(seen.values()), seen  # each answer had times to check
    assert answers["nearby"].json()["workers"], "a worker on duty, with fix time and ETA"


def test_an_incident_code_carries_the_date_in_the_districts_zone(client, settings, spot):
    """The code's date was Shanghai's whatever ONEGRID_TIMEZONE said: the one zone spelt out in SQL."""
    from gis_core.incidents.submit import Submission, submit
    from gis_core.platform.auth import user_named
    from gis_core.platform.db import make_engine

    west = settings.model_copy(update={"timezone": "Etc/GMT+12"})  # UTC-12: a day behind Shanghai
    engine = make_engine(settings=west, request_role=True, pool_size=1, name="zone-test")
    now = datetime(2026, 12, 3, 20, 0, tzinfo=UTC)  # 12-03 08:00 at UTC-12, 12-04 04:00 in Shanghai
    x, y, _ = spot
    try:
        with engine.begin() as c:
            done = submit(
                c,
                client.app.state.grid_cache.get(),
                west,
                user_named(c, "citizen"),
                Submission("0101", lon=x, lat=y),
                f"zone-{datetime.now(UTC).timestamp()}",
                now,
            )
    finally:
        engine.dispose()
    assert done.feature["properties"]["code"].startswith("YB20261203-"), done.feature["properties"]["code"]
