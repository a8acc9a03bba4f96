"""`onegrid db backup` / `onegrid db restore`: the whole database with pg_dump and pg_restore.

The custom format (-Fc) holds schema, data, row-level security policies, grants and the
audit log. A restore loads the dump into a new database beside the current one and swaps
the two only when the load succeeded, so a restore that fails leaves the database as it
was (and `pg_restore --clean` never has to drop a partitioned table's constraints in
place, which it cannot). The request role is cluster-wide, not in any dump: a restore
creates it first, so a dump moves to a fresh cluster too. The password travels in the
environment, never in argv.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from gis_core.platform.db import execute_sql_file
from gis_core.platform.settings import Settings


class BackupError(RuntimeError):
    """pg_dump or pg_restore failed; the message carries its stderr."""


def _libpq(url: str) -> tuple[list[str], dict[str, str]]:
    """Connection options for the PostgreSQL client tools, and their environment."""
    u = make_url(url)
    args = ["-h", u.host or "127.0.0.1", "-p", str(u.port or 5432), "-U", u.username or "postgres"]
    env = {**os.environ, "PGPASSWORD": u.password or "", "PGDATABASE": u.database or ""}
    return args, env


def _run(cmd: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"{Path(cmd[0]).name} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")


def backup(url: str, path: Path, settings: Settings) -> Path:
    """Dump the database at `url` to `path` (custom format); returns `path`."""
    args, env = _libpq(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    _run([str(settings.pg_bin / "pg_dump"), *args, "-Fc", "-f", str(path)], env)
    return path


def restore(url: str, path: Path, settings: Settings) -> None:
    """Replace the database at `url` with the dump at `path`, all or nothing.

    Sessions on the old database are ended (a server's pools reconnect by name).
    """
    if not path.is_file():
        raise BackupError(f"no dump at {path}")
    target = make_url(url)
    name = target.database or ""
    loading = f"{name}_restoring_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            execute_sql_file(conn, "request_role.sql")
            conn.exec_driver_sql(f'CREATE DATABASE "{loading}"')
        args, env = _libpq(target.set(database=loading).render_as_string(hide_password=False))
        try:
            cmd = [str(settings.pg_bin / "pg_restore"), *args, "-d", loading]
            _run([*cmd, "--single-transaction", "--exit-on-error", str(path)], env)
        except BackupError:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{loading}"')
            raise
        restored = sa.create_engine(target.set(database=loading), isolation_level="AUTOCOMMIT")
        try:
            with restored.connect() as conn:  # extension functions' flags are not in a dump
                execute_sql_file(conn, "postgis_leakproof.sql")
        finally:
            restored.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.exec_driver_sql(f'ALTER DATABASE "{loading}" RENAME TO "{name}"')
    finally:
        admin.dispose()
