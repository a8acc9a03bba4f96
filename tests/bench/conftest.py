"""Benchmark fixtures: the full-scale demo district in its own database, loaded once per run."""

from __future__ import annotations

import json
import os
import platform
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from gis_core.platform.db import database_url, migrate
from gis_core.platform.settings import PROJECT_ROOT, Settings

#: `ONEGRID_BENCH_DISTRICTS=6`: the same benchmarks on a demo city of six districts (`make bench-city`)
DISTRICTS = int(os.environ.get("ONEGRID_BENCH_DISTRICTS", "1"))
BENCH_DB = "onegrid_bench" if DISTRICTS == 1 else f"onegrid_bench_city{DISTRICTS}"
RESULTS = (
    PROJECT_ROOT / "var" / "bench" / ("results.json" if DISTRICTS == 1 else f"results-city{DISTRICTS}.json")
)
_results: dict[str, object] = {}


def record(name: str, value: object) -> None:
    """Keep a figure for var/bench/results.json (copied into docs/benchmarks.md by hand)."""
    _results[name] = value
    print(f"\n[bench] {name}: {value}")


def pytest_sessionfinish(session, exitstatus):  # noqa: ARG001
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "districts": DISTRICTS,
    }
    RESULTS.write_text(json.dumps({"meta": meta, **_results}, indent=2, ensure_ascii=False))


@pytest.fixture(scope="session")
def bench_url() -> str:
    """A database `onegrid_bench` with the full demo district, freshly loaded (timed).

    With `ONEGRID_BENCH_DISTRICTS=N`, `onegrid_bench_cityN` with a demo city of N districts.

    `ONEGRID_BENCH_REUSE=1` keeps an already loaded `onegrid_bench` (migrated to head) for quick
    iterations on one benchmark; its rows carry earlier runs' writes, so published figures come
    from a fresh load.
    """
    settings = Settings()
    if settings.embedded:
        from gis_core.platform.embedded_db import EmbeddedCluster

        EmbeddedCluster(settings).start()
    base = make_url(database_url(settings))
    if os.environ.get("ONEGRID_BENCH_REUSE") == "1":
        url = base.set(database=BENCH_DB).render_as_string(hide_password=False)
        migrate(url)
        return url
    admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)'))
        c.execute(sa.text(f'CREATE DATABASE "{BENCH_DB}"'))
    admin.dispose()
    url = base.set(database=BENCH_DB).render_as_string(hide_password=False)
    migrate(url)
    from gis_core.ingest.demo_load import load_demo

    engine = sa.create_engine(url)
    t0 = time.monotonic()
    manifest = load_demo(engine, scale=1.0, progress=print, districts=DISTRICTS)
    record("full_demo_load_seconds", round(time.monotonic() - t0, 1))
    record("full_demo_counts", manifest["counts"])
    if DISTRICTS > 1:
        record(
            "city_districts", [(d["code"], d["name"], d["counts"]["grids"]) for d in manifest["districts"]]
        )
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def bench_engine(bench_url):
    eng = sa.create_engine(bench_url)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def bench_commander(bench_engine):
    """The demo commander (all rows, unmasked), as the domain functions take a user."""
    from gis_core.platform.auth import user_named

    with bench_engine.connect() as c:
        return user_named(c, "commander")


@pytest.fixture(scope="session")
def bench_photo_dir():
    """Where the benchmarks' servers keep photos, removed when the session ends, not before.

    This machine's root file system is ext4 without a journal, and there ext4 skips every
    inode freed in the last one to six minutes when it looks for a free one
    (`recently_deleted()`): creating a file costs 0.05 ms normally and up to 0.8 ms after a
    mass deletion. pytest's `tmp_path` deletes the session three runs back at start-up, here
    12,000 earlier photos, just before the benchmark writes its own. A report writes three
    files per photo, so the figure would measure that clean-up instead of OneGrid.
    """
    path = RESULTS.parent / "photos"
    shutil.rmtree(path, ignore_errors=True)  # left by an interrupted session
    path.mkdir(parents=True)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def quiet_database(engine, most_s: float = 180.0) -> dict[str, object]:
    """Wait until the database does nothing but what we ask: no autovacuum, no other backend busy.

    The benchmarks before this one write a district and thousands of reports; autovacuum and
    the checkpointer then work for a minute or more, on the same two cores the server and the
    load generator share. A timed pass measures the server, not that aftermath: so a
    CHECKPOINT, then two quiet seconds in a row. What was busy, and how long the wait took,
    go in the results.
    """
    busy_sql = sa.text(
        "SELECT coalesce(backend_type, '') || ': ' || left(coalesce(query, ''), 60) FROM pg_stat_activity "
        "WHERE pid <> pg_backend_pid() AND (backend_type = 'autovacuum worker' "
        "OR (backend_type = 'client backend' AND state = 'active'))"
    )
    seen: set[str] = set()
    t0 = time.monotonic()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(sa.text("CHECKPOINT"))
        quiet = 0
        while quiet < 2 and time.monotonic() - t0 < most_s:
            busy = c.execute(busy_sql).scalars().all()
            seen.update(busy)
            quiet = 0 if busy else quiet + 1
            time.sleep(1.0)
    return {"waited_s": round(time.monotonic() - t0, 1), "busy": sorted(seen)}


def cpu_seconds(command: str) -> float:
    """CPU time (user + system) used so far by every process whose command is `command` (from /proc).

    A pass over cached tiles needs no database: PostgreSQL CPU during it is other work (autovacuum,
    a checkpoint) competing with the server and the load generator for the same two cores.
    """
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # a process that ended meanwhile
        if text[text.index("(") + 1 : text.rindex(")")] == command:
            fields = text[text.rindex(")") + 2 :].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")
