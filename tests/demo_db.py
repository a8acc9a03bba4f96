"""Demo databases for tests: the small demo district, loaded once per server and session.

The first database a session asks of a server is built as before (created, migrated, the demo
loaded) as a template; every later one with the same district is a copy of it (`CREATE DATABASE
… TEMPLATE`, a file copy: about half a second instead of five). Nobody connects to a template,
as PostgreSQL requires; it is dropped when the session lets go of its server.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from gis_core.platform.db import migrate

TEST_SCALE = 0.02
TEST_SEED = 20261122

#: server (host:port) → this session's template of the small demo district there
_TEMPLATES: dict[str, str] = {}


def _server(url: URL) -> str:
    return f"{url.host}:{url.port}"


def _admin(url: URL) -> sa.Engine:
    # pre-ping: tests/test_faults.py restarts the server under this pool
    return sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT", pool_pre_ping=True)


def _build(admin: sa.Engine, base: URL, name: str, districts: int, scale: float) -> None:
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    migrate(url)
    from gis_core.ingest.demo_load import load_demo

    engine = sa.create_engine(url)
    load_demo(engine, scale=scale, seed=TEST_SEED, districts=districts)
    engine.dispose()


@contextmanager
def demo_database(
    server_url: str, prefix: str = "onegrid_test", districts: int = 1, scale: float = TEST_SCALE
) -> Iterator[str]:
    """A fresh, migrated database with the small demo district on the server at `server_url`; dropped after.

    Any database's URL on that server will do (the shared test database's, for a district of a
    test's own): the database part is replaced. `districts`: a demo city of that many instead.
    """
    base = make_url(server_url)
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = _admin(base)
    try:
        if (districts, scale) == (1, TEST_SCALE):
            template = _TEMPLATES.get(_server(base))
            if template is None:
                template = f"onegrid_template_{os.getpid()}_{uuid.uuid4().hex[:6]}"
                _build(admin, base, template, 1, TEST_SCALE)
                _TEMPLATES[_server(base)] = template
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        else:
            _build(admin, base, name, districts, scale)
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def drop_template(server_url: str) -> None:
    """Drop this session's template on the server at `server_url`, if it made one."""
    base = make_url(server_url)
    template = _TEMPLATES.pop(_server(base), None)
    if template is None:
        return
    admin = _admin(base)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)'))
    admin.dispose()
