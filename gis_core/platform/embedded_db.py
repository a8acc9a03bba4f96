"""The project-local PostgreSQL 15 + PostGIS cluster used when no DATABASE_URL is given.

It lives under `var/` (loopback only, its own port, password auth) and is created on
first start. PostgreSQL refuses to run as root, so under root every server command runs
as the `postgres` system user, and the data directory is owned by it.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from gis_core.platform.settings import Settings

SUPERUSER = "onegrid"


class EmbeddedDbError(RuntimeError):
    """The embedded cluster could not be initialised, started or stopped."""


def _is_root() -> bool:
    return os.geteuid() == 0


def _as_server_user(cmd: list[str]) -> list[str]:
    """Prefix a server command so it runs as `postgres` when we are root."""
    if _is_root():
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def _server_user_can_reach(path: Path) -> bool:
    """Whether the `postgres` user may traverse to `path` (a checkout under /root may not)."""
    return subprocess.run(_as_server_user(["test", "-x", str(path)]), check=False).returncode == 0


@dataclass
class EmbeddedCluster:
    """One local cluster: where it lives, how to reach it, and its life cycle."""

    settings: Settings

    @property
    def var_dir(self) -> Path:
        """Folder for the password file and (normally) the data directory."""
        return self.settings.var_dir

    @property
    def data_dir(self) -> Path:
        """The cluster's data directory.

        Under root the checkout may sit where `postgres` cannot go (e.g. /root); the data
        directory then moves to /var/lib/onegrid/<hash of the checkout>.
        """
        here = self.var_dir / "pgdata"
        if not _is_root():
            return here
        self.var_dir.mkdir(parents=True, exist_ok=True)
        if _server_user_can_reach(self.var_dir):
            return here
        digest = hashlib.sha1(str(self.var_dir.resolve()).encode()).hexdigest()[:12]
        return Path("/var/lib/onegrid") / digest / "pgdata"

    @property
    def password_file(self) -> Path:
        """The generated superuser password, readable by the invoking user only."""
        return self.var_dir / "db-password"

    @property
    def port(self) -> int:
        """TCP port on 127.0.0.1."""
        return self.settings.embedded_port

    def _bin(self, name: str) -> str:
        path = self.settings.pg_bin / name
        if not path.exists():
            raise EmbeddedDbError(
                f"{path} not found: install postgresql-15 and postgresql-15-postgis-3 (make setup)"
            )
        return str(path)

    def url(self, database: str | None = None) -> str:
        """SQLAlchemy URL of a database in this cluster."""
        password = quote(self.password_file.read_text().strip(), safe="")
        db = database or self.settings.db_name
        return f"postgresql+psycopg2://{SUPERUSER}:{password}@127.0.0.1:{self.port}/{db}"

    def is_initialised(self) -> bool:
        """Whether initdb has run."""
        return (self.data_dir / "PG_VERSION").exists() and self.password_file.exists()

    def is_running(self) -> bool:
        """Whether this cluster's own server runs and answers on its port."""
        return self._postmaster_running() and self._port_answers()

    def _port_answers(self) -> bool:
        res = subprocess.run(
            [self._bin("pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)], check=False
        )
        return res.returncode == 0

    def _postmaster_running(self) -> bool:
        """Whether this data directory's postmaster runs (not merely some server on the port)."""
        if not (self.data_dir / "postmaster.pid").exists():
            return False
        res = subprocess.run(
            _as_server_user([self._bin("pg_ctl"), "-D", str(self.data_dir), "status"]),
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return res.returncode == 0

    def initialise(self) -> None:
        """Run initdb with a fresh random superuser password, loopback-only settings."""
        data = self.data_dir
        if data.exists() and any(data.iterdir()):
            if (data / "PG_VERSION").exists() and not self.password_file.exists():
                raise EmbeddedDbError(f"{data} exists but {self.password_file} is missing")
            return
        self.var_dir.mkdir(parents=True, exist_ok=True)
        data.mkdir(parents=True, exist_ok=True)
        password = secrets.token_urlsafe(24)
        self.password_file.write_text(password + "\n")
        self.password_file.chmod(0o600)
        pwfile = data.parent / ".initdb-pw"
        pwfile.write_text(password + "\n")
        if _is_root():
            pg = pwd.getpwnam("postgres")
            for p in (data, pwfile):
                os.chown(p, pg.pw_uid, pg.pw_gid)
            os.chmod(data.parent, 0o755)
        try:
            subprocess.run(
                _as_server_user(
                    [
                        self._bin("initdb"),
                        "-D",
                        str(data),
                        "-U",
                        SUPERUSER,
                        "--pwfile",
                        str(pwfile),
                        "--auth=scram-sha-256",
                        "-E",
                        "UTF8",
                        "--locale=C.UTF-8",
                    ]
                ),
                check=True,
                stdout=subprocess.DEVNULL,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        conf = (
            "\n# OneGrid embedded cluster\n"
            "listen_addresses = '127.0.0.1'\n"
            f"port = {self.port}\n"
            "unix_socket_directories = ''\n"
            "max_connections = 200\n"
            "shared_buffers = 512MB\n"
            "work_mem = 32MB\n"
            "maintenance_work_mem = 512MB\n"
            "max_wal_size = 4GB\n"
            "synchronous_commit = on\n"
            f"timezone = '{self.settings.timezone}'\n"
        )
        self._append_as_server_user(data / "postgresql.conf", conf)

    def _append_as_server_user(self, path: Path, text: str) -> None:
        subprocess.run(_as_server_user(["sh", "-c", f'cat >> "{path}"']), input=text.encode(), check=True)

    def start(self) -> None:
        """Initialise on first use, start the server, and create the application database."""
        self.initialise()
        if not self._postmaster_running():
            if self._port_answers():  # two checkouts whose paths hash to one port, or another server
                raise EmbeddedDbError(
                    f"port {self.port} is taken by another PostgreSQL server; "
                    "set ONEGRID_DB_PORT to a free port for this checkout"
                )
            self.pg_start(self.data_dir, self.port)
        self._wait_ready()
        self.create_database(self.settings.db_name)

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.is_running():
            if time.monotonic() > deadline:
                raise EmbeddedDbError("embedded PostgreSQL did not become ready")
            time.sleep(0.2)

    def create_database(self, name: str) -> None:
        """Create a database with PostGIS and pgRouting when it does not exist yet."""
        import sqlalchemy as sa

        engine = sa.create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                exists = conn.execute(
                    sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
                ).scalar()
                if not exists:
                    conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        finally:
            engine.dispose()

    def stop(self) -> None:
        """Stop the server (fast shutdown) if it runs."""
        if (self.data_dir / "postmaster.pid").exists():
            self.pg_stop(self.data_dir)

    def pg_start(self, data_dir: Path, port: int) -> None:
        """`pg_ctl start` a data directory of this installation (the cluster's or a replica's) on `port`.

        Waits until it accepts connections; an `EmbeddedDbError` with the end of its log if not.
        """
        log = data_dir / "server.log"
        res = subprocess.run(
            _as_server_user(
                [
                    self._bin("pg_ctl"),
                    "-D",
                    str(data_dir),
                    "-l",
                    str(log),
                    "-w",
                    "-t",
                    "60",
                    "-o",
                    f"-p {port}",
                    "start",
                ]
            ),
            check=False,
            stdout=subprocess.DEVNULL,
        )
        if res.returncode != 0:
            tail = subprocess.run(
                _as_server_user(["tail", "-n", "20", str(log)]), capture_output=True, text=True, check=False
            ).stdout
            raise EmbeddedDbError(f"pg_ctl start failed ({data_dir}, port {port}):\n{tail}")

    def pg_stop(self, data_dir: Path) -> None:
        """`pg_ctl stop -m fast` a data directory of this installation (its sessions end)."""
        subprocess.run(
            _as_server_user([self._bin("pg_ctl"), "-D", str(data_dir), "-m", "fast", "-w", "stop"]),
            check=False,
            stdout=subprocess.DEVNULL,
        )

    def status(self) -> dict[str, object]:
        """What a person asks: where, which port, initialised, running."""
        return {
            "data_dir": str(self.data_dir),
            "port": self.port,
            "initialised": self.is_initialised(),
            "running": self.is_initialised() and self.is_running(),
        }

    def destroy(self) -> None:
        """Stop and delete the cluster (tests of the life cycle only)."""
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.password_file.unlink(missing_ok=True)
