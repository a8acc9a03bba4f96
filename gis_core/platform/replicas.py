"""Streaming replicas for reads (issue 25): made on this machine from the embedded cluster, or named.

`onegrid db replica add` takes a base backup of the embedded cluster (`pg_basebackup -R`: a
physical copy that follows the primary's WAL as a hot standby) into `var/replica-<n>/`, on the
primary's port + n, and starts it; `list`, `stop`, `start` and `remove` manage them. Replicas on
other machines are named by `ONEGRID_REPLICA_URLS`. Which reads go where is the API's business
(`api.replicas`); here is only where the replicas are.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from gis_core.platform.embedded_db import (
    SUPERUSER,
    EmbeddedCluster,
    EmbeddedDbError,
    _as_server_user,
    _is_root,
)
from gis_core.platform.settings import Settings

_DIR = re.compile(r"^replica-(\d+)$")


@dataclass(frozen=True)
class Replica:
    """An embedded replica: its number, data directory and port."""

    n: int
    data_dir: Path
    port: int

    @property
    def name(self) -> str:
        """replica-<n>, as `list` shows it and `pg_stat_activity` names its pools."""
        return f"replica-{self.n}"


def embedded_replicas(cluster: EmbeddedCluster) -> list[Replica]:
    """The replicas made beside the embedded cluster, by number."""
    found = []
    for d in sorted(cluster.data_dir.parent.glob("replica-*")):
        m = _DIR.match(d.name)
        if m and (d / "standby.signal").exists():
            found.append(Replica(int(m[1]), d, cluster.port + int(m[1])))
    return sorted(found, key=lambda r: r.n)


def replica_urls(settings: Settings) -> list[tuple[str, str]]:
    """(name, URL) of every replica reads may use: ONEGRID_REPLICA_URLS, else the embedded ones."""
    if settings.replica_urls:
        return [
            (f"replica-{i + 1}", u.strip())
            for i, u in enumerate(settings.replica_urls.split(","))
            if u.strip()
        ]
    if not settings.embedded:
        return []
    cluster = EmbeddedCluster(settings)
    base = make_url(cluster.url(settings.db_name))
    return [
        (r.name, base.set(port=r.port).render_as_string(hide_password=False))
        for r in embedded_replicas(cluster)
    ]


def add(cluster: EmbeddedCluster) -> Replica:
    """A new streaming replica of the running embedded cluster, started."""
    if not cluster.is_running():
        raise EmbeddedDbError("start the embedded cluster first (onegrid db start)")
    taken = {r.n for r in embedded_replicas(cluster)}
    n = next(i for i in range(1, 100) if i not in taken)
    replica = Replica(n, cluster.data_dir.parent / f"replica-{n}", cluster.port + n)
    remove(cluster, replica)  # a half-made one from an interrupted add
    replica.data_dir.mkdir(mode=0o700)
    if _is_root():  # the server user writes it
        pg = pwd.getpwnam("postgres")
        os.chown(replica.data_dir, pg.pw_uid, pg.pw_gid)
    password = cluster.password_file.read_text().strip()
    subprocess.run(
        _as_server_user(
            [
                cluster._bin("pg_basebackup"),
                "-h",
                "127.0.0.1",
                "-p",
                str(cluster.port),
                "-U",
                SUPERUSER,
                "-D",
                str(replica.data_dir),
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
                "--no-password",
            ]  # fmt: skip
        ),
        check=True,
        env={**os.environ, "PGPASSWORD": password},
        stdout=subprocess.DEVNULL,
    )
    # its own port; queries on it hold back the primary's vacuum rather than being cancelled
    conf = f"\n# OneGrid replica {n}\nport = {replica.port}\nhot_standby = on\nhot_standby_feedback = on\n"
    subprocess.run(
        _as_server_user(["sh", "-c", f'cat >> "{replica.data_dir / "postgresql.auto.conf"}"']),
        input=conf.encode(),
        check=True,
    )
    start(cluster, replica)
    return replica


def start(cluster: EmbeddedCluster, replica: Replica) -> None:
    """Start a stopped replica (it catches up from the primary's WAL)."""
    cluster.pg_start(replica.data_dir, replica.port)


def stop(cluster: EmbeddedCluster, replica: Replica) -> None:
    """Stop a replica (fast: its sessions end; reads move to the primary)."""
    cluster.pg_stop(replica.data_dir)


def remove(cluster: EmbeddedCluster, replica: Replica) -> None:
    """Stop a replica and delete its data directory."""
    stop(cluster, replica)
    if _is_root():
        subprocess.run(["rm", "-rf", str(replica.data_dir)], check=False)
    else:
        shutil.rmtree(replica.data_dir, ignore_errors=True)


def by_name(cluster: EmbeddedCluster, name: str) -> Replica:
    """The embedded replica called `name` (replica-<n>, or just <n>)."""
    for r in embedded_replicas(cluster):
        if name in (r.name, str(r.n)):
            return r
    raise EmbeddedDbError(f"no replica {name}; `onegrid db replica list` shows them")


def command(cluster: EmbeddedCluster, action: str, name: str | None) -> int:
    """`onegrid db replica add|list|start|stop|remove [NAME]`, printed for the operator."""
    if action == "add":
        r = add(cluster)
        print(f"{r.name} streaming from the embedded cluster on 127.0.0.1:{r.port} ({r.data_dir})")
    elif action == "list":
        for r in embedded_replicas(cluster):
            running = (r.data_dir / "postmaster.pid").exists()
            print(f"{r.name}\t127.0.0.1:{r.port}\t{'running' if running else 'stopped'}\t{r.data_dir}")
    elif action in ("start", "stop", "remove") and name:
        {"start": start, "stop": stop, "remove": remove}[action](cluster, by_name(cluster, name))
        print(f"{name}: {action} done")
    else:
        print("usage: onegrid db replica add | list | start NAME | stop NAME | remove NAME", file=sys.stderr)
        return 2
    return 0
