"""Test fixtures: a real PostGIS database per session, built from the project's migrations.

The database lives in the tests' own embedded cluster (`var/test-cluster`, never the one
`make demo` serves), or on the server that DATABASE_URL / ONEGRID_DATABASE_URL names. It is
created fresh, migrated, loaded with the demo district at a small scale, and dropped at the
end. If PostGIS cannot be reached the run fails: database tests never skip.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from gis_core.platform.db import database_url
from gis_core.platform.settings import Settings
from tests.demo_db import TEST_SCALE, TEST_SEED, demo_database, drop_template

__all__ = ["TEST_SCALE", "TEST_SEED", "demo_database"]  # what test modules take from here

# generated inputs (tests/test_fuzz.py): reproducible, no example database left in the checkout
hypothesis_settings.register_profile(
    "onegrid", database=None, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
hypothesis_settings.load_profile("onegrid")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Fuzz tests last: the reports and actions they generate must not surprise other tests."""
    items.sort(key=lambda item: item.get_closest_marker("fuzz") is not None)


def test_cluster_settings() -> Settings:
    """Settings of the tests' own embedded cluster: `var/test-cluster`, on the demo's port + 1000.

    Never the cluster `make demo` serves (`var/pgdata`): a test that stops or restarts its
    cluster must not take a demo's database away. Default ports lie in 55000–55999, so
    +1000 never lands on another checkout's default cluster.
    """
    demo = Settings(database_url=None)
    return Settings(
        database_url=None, var_dir=demo.var_dir / "test-cluster", db_port=demo.embedded_port + 1000
    )


@pytest.fixture(scope="session")
def owned_cluster():
    """The tests' own cluster, started for this session (kept under var/ between runs, for speed).

    Stopped at the end only if this session started it: a session inside another (the
    isolation test's) leaves its parent's server running.
    """
    from gis_core.platform.embedded_db import EmbeddedCluster

    cluster = EmbeddedCluster(test_cluster_settings())
    started_here = not (cluster.is_initialised() and cluster.is_running())
    cluster.start()
    yield cluster
    drop_template(cluster.url("postgres"))
    if started_here:
        cluster.stop()


@pytest.fixture(scope="session")
def db_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """URL of a fresh, migrated database with the small demo district loaded.

    On DATABASE_URL's server when it is set, else in the tests' own cluster (`owned_cluster`).
    """
    settings = Settings()
    if settings.embedded:
        server = request.getfixturevalue("owned_cluster").url("postgres")
    else:
        server = database_url(settings)
    with demo_database(server) as url:
        yield url
    drop_template(server)


@pytest.fixture(scope="session")
def settings(db_url: str) -> Settings:
    """Settings pointing at the test database; escalation and warning rules run on the tests' own clock."""
    return Settings(
        database_url=db_url,
        escalation_interval_s=0,
        warning_interval_s=0,
        photo_dir=Path(tempfile.mkdtemp(prefix="onegrid-photos-")),
        # the suite logs in and reports far faster than a person; tests/test_accounts.py
        # checks the limits on an app of its own
        login_per_minute=1_000_000,
        reports_per_minute=1_000_000,
        webhook_poll_s=0,  # the tests post webhooks themselves; test_webhooks checks a live server's deliverer
    )


@pytest.fixture(scope="session")
def engine(db_url: str) -> Iterator[sa.Engine]:
    """An engine on the test database."""
    eng = sa.create_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def conn(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection whose transaction is rolled back after the test."""
    with engine.connect() as c:
        tx = c.begin()
        try:
            yield c
        finally:
            tx.rollback()


@pytest.fixture(scope="session")
def manifest(engine: sa.Engine) -> dict:
    """The demo manifest (counts, planted hotspots) stored by the loader."""
    with engine.connect() as c:
        return c.execute(sa.text("SELECT manifest FROM demo_manifest")).scalar_one()


def first_grid_spot(engine: sa.Engine) -> tuple[float, float, str]:
    """(lon, lat, grid code): a point well inside the first grid (by code) of the database."""
    with engine.connect() as c:
        x, y, code = c.execute(
            sa.text(
                "SELECT ST_X(p), ST_Y(p), code FROM (SELECT ST_PointOnSurface(ST_Buffer(geom, -0.0004)) p, code "
                "FROM grid ORDER BY code LIMIT 1) s"
            )
        ).one()
    return x, y, code


@pytest.fixture(scope="session")
def spot(engine: sa.Engine) -> tuple[float, float, str]:
    """(lon, lat, grid code): a point well inside the grid worker's grid (the first grid).

    The demo's street and community officers' areas contain it too, so every role's
    jurisdiction covers reports filed there.
    """
    return first_grid_spot(engine)


@pytest.fixture(scope="session")
def client(settings: Settings):
    """A TestClient on the app, lifespan included."""
    from fastapi.testclient import TestClient

    from api.app import create_app

    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture(scope="session")
def token(client) -> callable:
    """token(username) → a bearer token for that demo account (cached)."""
    cache: dict[str, str] = {}

    def get(username: str) -> str:
        if username not in cache:
            from gis_core.ingest.demo_load import DEMO_PASSWORD

            r = client.post("/api/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD})
            assert r.status_code == 200, r.text
            cache[username] = r.json()["access_token"]
        return cache[username]

    return get


@pytest.fixture(scope="session")
def auth(token) -> callable:
    """auth(username) → Authorization headers for that demo account."""
    return lambda username="commander": {"Authorization": f"Bearer {token(username)}"}


@pytest.fixture(scope="session")
def grid_point(engine):
    """A point inside the first grid (by code)."""
    with engine.connect() as c:
        return c.execute(
            sa.text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grid ORDER BY code LIMIT 1) s"
            )
        ).one()


def edge_of_the_workers_grid(engine, username: str) -> tuple[float, float]:
    """A point ~5 m inside a grid next to `username`'s own, by their shared edge (flagged, joint)."""
    with engine.connect() as c:
        return c.execute(
            sa.text(
                "SELECT ST_X(p), ST_Y(p) FROM grid a JOIN grid b ON ST_Relate(a.geom, b.geom, 'F***1****') "
                "JOIN worker_grid wg ON wg.grid_id = b.id JOIN worker w ON w.id = wg.worker_id "
                "JOIN app_user u ON u.id = w.user_id AND u.username = :u "
                "AND a.id NOT IN (SELECT wg2.grid_id FROM worker_grid wg2 WHERE wg2.worker_id = w.id), "
                "LATERAL ST_PointOnSurface(ST_Intersection(ST_Buffer(ST_Intersection(a.geom, b.geom), 0.00005), "
                "a.geom)) p ORDER BY a.code LIMIT 1"
            ),
            {"u": username},
        ).one()


ACCOUNT_PASSWORD = "correct horse battery"


@pytest.fixture
def account(engine):
    """A fresh citizen account of its own (password ACCOUNT_PASSWORD), so that locking it disturbs no other test."""
    from gis_core.platform.auth import hash_password

    name = f"lock-{uuid.uuid4().hex[:8]}"
    with engine.begin() as c:
        uid = c.execute(
            sa.text(
                "INSERT INTO app_user (username, display_name, password_hash, role) "
                "VALUES (:n, '测试居民', :h, 'citizen') RETURNING id"
            ),
            {"n": name, "h": hash_password(ACCOUNT_PASSWORD)},
        ).scalar()
    yield name
    with engine.begin() as c:
        c.execute(sa.text("DELETE FROM app_user WHERE id = :i"), {"i": uid})


def plant_resident(engine, lon: float, lat: float, id_number: str, name: str = "欧阳明月") -> int:
    """Insert a resident at (lon, lat) (the test-scale demo may have none where a test needs one)."""
    from gis_core.platform.sealing import sealer

    seal = sealer()
    with engine.begin() as c:
        return c.execute(
            sa.text(
                "INSERT INTO person (household_no, name, id_number_sealed, id_number_digest, phone_sealed, "
                "phone_digest, gender, birth_date, residency, geom) "
                "VALUES ('HTEST', :name, :idn, :idd, :ph, :phd, 'F', '1988-07-15', 'resident', "
                "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) RETURNING id"
            ),
            {
                "name": name,
                **dict(zip(("idn", "idd"), seal.seal_and_digest(id_number), strict=True)),
                **dict(zip(("ph", "phd"), seal.seal_and_digest("13900001111"), strict=True)),
                "lon": lon,
                "lat": lat,
            },
        ).scalar_one()


def opened(token) -> str | None:
    """A sealed value from the database, opened (what the server reads back)."""
    from gis_core.platform.sealing import sealer

    return sealer().open(token)


def assert_problem(resp, status: int, code: str | None = None) -> dict:
    """Assert an RFC 9457 problem response and return its body."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body = resp.json()
    assert body["status"] == status
    assert body["title"] and body["detail"] and body["type"].startswith("/problems/")
    if code:
        assert body["type"] == f"/problems/{code}", body
    return body


@pytest.fixture
def fresh_worker(engine):
    """fresh_worker(grid_code=None, name=…) → (username, worker id): a grid worker of the test's own.

    Its track starts empty, so a test can walk it anywhere without another test's fixes making
    a jump of it. When the test ends the worker, its account, track and check-ins are gone, so
    the district is the demo's again for the tests that count it.
    """
    made: list[tuple[str, int]] = []

    def make(grid_code: str | None = None, name: str = "测试网格员") -> tuple[str, int]:
        made.append(_fresh_worker(engine, grid_code, name))
        return made[-1]

    yield make
    with engine.begin() as c:
        for username, worker in made:
            c.execute(sa.text("DELETE FROM point_call_task WHERE worker_id = :w"), {"w": worker})
            c.execute(
                sa.text("DELETE FROM worker WHERE id = :w"), {"w": worker}
            )  # its track and check-ins with it
            c.execute(sa.text("DELETE FROM app_user WHERE username = :u"), {"u": username})


def _fresh_worker(engine, grid_code: str | None, name: str) -> tuple[str, int]:
    """A grid worker account (password: the demo's) on `grid_code` (default: the first grid)."""
    from gis_core.ingest.demo_load import DEMO_PASSWORD
    from gis_core.platform.auth import hash_password

    username = f"gw-{uuid.uuid4().hex[:8]}"
    with engine.begin() as c:
        uid = c.execute(
            sa.text(
                "INSERT INTO app_user (username, display_name, password_hash, role) "
                "VALUES (:n, :d, :h, 'grid_worker') RETURNING id"
            ),
            {"n": username, "d": name, "h": hash_password(DEMO_PASSWORD)},
        ).scalar()
        worker = c.execute(
            sa.text(
                "INSERT INTO worker (code, name, phone, user_id) VALUES (:c, :d, '13900000000', :u) RETURNING id"
            ),
            {"c": username.upper(), "d": name, "u": uid},
        ).scalar()
        c.execute(
            sa.text(
                "INSERT INTO worker_grid (worker_id, grid_id) "
                "SELECT :w, id FROM grid WHERE code = coalesce(:g, (SELECT min(code) FROM grid))"
            ),
            {"w": worker, "g": grid_code},
        )
    return username, int(worker)


@pytest.fixture
def plant_key_point(engine):
    """plant_key_point(lon, lat, name=…) → code: a key point patrolled every 24 h, gone after the test."""
    made: list[str] = []

    def plant(lon: float, lat: float, name: str = "测试防汛点") -> str:
        made.append(f"KP-{uuid.uuid4().hex[:8]}")
        with engine.begin() as c:
            c.execute(
                sa.text(
                    "INSERT INTO key_point (code, name, kind, patrol_interval_h, geom) "
                    "VALUES (:c, :n, 'flood', 24, ST_SetSRID(ST_MakePoint(:x, :y), 4326))"
                ),
                {"c": made[-1], "n": name, "x": lon, "y": lat},
            )
        return made[-1]

    yield plant
    with engine.begin() as c:
        c.execute(
            sa.text("DELETE FROM warning WHERE cause_key = ANY(:k)"), {"k": [f"key_point:{k}" for k in made]}
        )
        c.execute(sa.text("DELETE FROM key_point WHERE code = ANY(:k)"), {"k": made})


@pytest.fixture
def empty_database(db_url):
    """A database of the test's own beside the test database, empty (not even migrated); dropped after."""
    base = sa.engine.make_url(db_url)
    name = f"onegrid_empty_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
