"""Engines, sessions and migrations: one place that knows how to reach the database."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import psycopg2 as postgresql_psycopg2
from sqlalchemy.orm import Session, sessionmaker

from gis_core.platform.settings import Settings, get_settings


def database_url(settings: Settings | None = None) -> str:
    """The URL OneGrid uses: DATABASE_URL when given, else the embedded cluster's."""
    settings = settings or get_settings()
    if settings.database_url:
        url = settings.database_url
        if url.startswith("postgresql://") or url.startswith("postgres://"):
            url = "postgresql+psycopg2://" + url.split("://", 1)[1]
        return url
    from gis_core.platform.embedded_db import EmbeddedCluster

    return EmbeddedCluster(settings).url()


def make_engine(
    url: str | None = None,
    settings: Settings | None = None,
    pool_size: int | None = None,
    max_overflow: int | None = None,
    statement_timeout_ms: int | None = None,
    autocommit: bool = False,
    pre_ping: bool = True,
    request_role: bool = False,
    name: str = "",
) -> sa.Engine:
    """An engine with the pool sizes and statement timeout of the settings (JIT off), unless given here.

    `autocommit` suits single-statement reads (tiles): no BEGIN and COMMIT round trips.
    With `pre_ping` a connection that sat idle in the pool is pinged first (`ping_when_idle`);
    without it a connection gone stale after a database restart fails one request (503,
    Retry-After) and SQLAlchemy discards the pool's older connections.
    With `request_role` every connection runs as `onegrid_app` (migration 0009): bound by
    row-level security, so it reads only what the transaction's user may (`scope.act_as`).
    Every session keeps the district's time zone, whatever the server's default, so times read
    back carry the district's offset; `name` shows in `pg_stat_activity` as `onegrid-<name>`.
    """
    settings = settings or get_settings()
    timeout = settings.statement_timeout_ms if statement_timeout_ms is None else statement_timeout_ms
    engine = sa.create_engine(
        url or database_url(settings),
        pool_size=settings.pool_size if pool_size is None else pool_size,
        max_overflow=settings.pool_max_overflow if max_overflow is None else max_overflow,
        # no JIT: compiling took 14 ms of a 1 ms tile whenever the estimate crossed jit_above_cost
        connect_args={
            "options": f"-c statement_timeout={timeout} -c jit=off -c timezone={settings.timezone}",
            "application_name": f"onegrid-{name}" if name else "onegrid",
        },
        **({"isolation_level": "AUTOCOMMIT"} if autocommit else {}),
    )
    if request_role:
        sa.event.listen(engine, "connect", _set_request_role)
    if pre_ping:
        ping_when_idle(engine)
    return engine


#: Seconds a pooled connection may sit unused before its next checkout pings it.
PING_IDLE_S = 1.0


def ping_when_idle(engine: sa.Engine, idle_s: float = PING_IDLE_S) -> sa.Engine:
    """Ping a pooled connection at checkout if it sat idle for `idle_s`; a dead one is replaced.

    A connection idle across a database restart is dead, and SQLAlchemy's `pool_pre_ping`
    finds out with a `SELECT 1` before every checkout. Under load that round trip was one
    statement in six of a report's; a connection handed back milliseconds ago has not
    outlived a restart, so only one that sat idle is pinged. One that dies in use fails its
    request (503), and SQLAlchemy then drops the pool's older connections.
    """

    @sa.event.listens_for(engine, "checkin")
    def _returned(_dbapi_conn, record) -> None:  # type: ignore[no-untyped-def]
        record.info["returned_at"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _check(dbapi_conn, record, _proxy) -> None:  # type: ignore[no-untyped-def]
        returned = record.info.get("returned_at")
        if returned is None or time.monotonic() - returned < idle_s:
            return  # new, or in steady use
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as exc:
            if engine.dialect.is_disconnect(exc, dbapi_conn, None):
                raise sa.exc.DisconnectionError() from exc  # the pool opens a fresh one
            raise

    return engine


#: The role requests run as (migration 0009): no superuser, no table of its own, no BYPASSRLS.
REQUEST_ROLE = "onegrid_app"


def _set_request_role(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    with dbapi_conn.cursor() as cur:
        cur.execute(f"SET ROLE {REQUEST_ROLE}")
    dbapi_conn.commit()


def make_sessionmaker(engine: sa.Engine) -> sessionmaker[Session]:
    """Sessions bound to `engine`; objects stay usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(engine: sa.Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session


def sql_file(name: str) -> str:
    """The text of a packaged `.sql` file from `gis_core/sql/`."""
    return resources.files("gis_core.sql").joinpath(name).read_text(encoding="utf-8")


def execute_sql_file(connection: sa.Connection, name: str) -> None:
    """Run a packaged `.sql` file on `connection`, inside its transaction.

    It goes through the driver directly: the SQL holds format() patterns and casts that
    SQLAlchemy's text() would read as bind parameters.
    """
    with connection.connection.driver_connection.cursor() as cur:  # type: ignore[union-attr]
        cur.execute(sql_file(name))


def alembic_config(url: str):  # type: ignore[no-untyped-def]
    """An Alembic config pointing at OneGrid's packaged migrations."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", "gis_core:migrations")
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str | None = None, revision: str = "head") -> None:
    """Bring the schema up to `revision` with Alembic."""
    from alembic import command

    command.upgrade(alembic_config(url or database_url()), revision)


def _pyformat(stmt: sa.TextClause) -> str:
    """`stmt` as psycopg2 takes it: `%(name)s` placeholders."""
    return str(stmt.compile(dialect=postgresql_psycopg2.dialect()))


class Prepared:
    """A statement PostgreSQL parses and plans once per connection, then only executes.

    psycopg2 sends each statement as text, to be parsed and planned anew every time. For
    the report insert (three tables, triggers, the answer's joins) that was 0.6 ms of 1.7.
    Here the statement is `PREPARE`d on a connection's first use (prepared statements live
    as long as the session and survive a rollback) and run by `EXECUTE` after that, its
    parameters still bound by the driver. Needs a session per connection, as `SET ROLE`
    does already: not a transaction-mode pooler.
    """

    def __init__(self, name: str, stmt: sa.TextClause, before: str | None = None):
        """`before`: SQL text (`:name` parameters) sent ahead of each EXECUTE in the same round trip."""
        compiled = _pyformat(stmt)
        if "%%" in compiled:
            raise ValueError("a literal % in a prepared statement is not supported")
        names: list[str] = []

        def positional(m: re.Match[str]) -> str:
            if m.group(1) not in names:
                names.append(m.group(1))
            return f"${names.index(m.group(1)) + 1}"

        self.name = name
        self._prepare = f"PREPARE {name} AS " + re.sub(r"%\((\w+)\)s", positional, compiled)
        self._execute = f"EXECUTE {name}(" + ", ".join(f"%({n})s" for n in names) + ")"
        if before is not None:
            self._execute = f"{_pyformat(sa.text(before))}; {self._execute}"

    def execute(self, conn: sa.Connection, params: dict[str, Any]) -> sa.CursorResult[Any]:
        """Run the statement with `params` on `conn`, preparing it first if this connection has not."""
        prepared = conn.connection.info.setdefault("onegrid_prepared", set())  # gone with the connection
        if self.name not in prepared:
            conn.exec_driver_sql(self._prepare)
            prepared.add(self.name)
        return conn.exec_driver_sql(self._execute, params)


def health(conn: sa.Connection) -> dict[str, object]:
    """What `/healthz` reports of the database: PostGIS's version and the boundary revision."""
    return {
        "postgis": conn.execute(sa.text("SELECT postgis_lib_version()")).scalar(),
        "boundary_revision": conn.execute(sa.text("SELECT revision FROM boundary_revision")).scalar(),
    }
