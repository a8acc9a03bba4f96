"""Soak (`make soak`, not part of `make test`): the demo simulator at `--speed 60` for 30 minutes
(30 hours of the district's rhythm) against two server workers, with a PostgreSQL restart at
half time and a `kill -9` of one worker at two thirds. Afterwards: every report and fix the
server acknowledged is stored exactly once; no open incident is without a deadline; a wall that
reconnects with Last-Event-ID has seen every event once, in order; the surviving worker's memory
grew less than 10 % from the fifth minute to the end. `SOAK_MINUTES` shortens it for a try.

The cluster restarted is the tests' own (`owned_cluster`), never a demo's nor DATABASE_URL's.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import httpx
import psutil
import sqlalchemy as sa

from data.demo_live import run
from gis_core.ingest.demo_load import DEMO_PASSWORD
from tests.conftest import demo_database
from tests.live import live_server

MINUTES = float(os.environ.get("SOAK_MINUTES", "30"))
SPEED = 60.0


class Wall(threading.Thread):
    """A wall's live feed: it reconnects after any failure with the last event id it saw."""

    def __init__(self, base: str):
        super().__init__(daemon=True)
        self.base, self.ids, self.reconnects, self.stopping = base, [], 0, threading.Event()
        self.port = 0  # the local port of its current connection (the soak kills the worker serving it)

    def run(self) -> None:
        token = None
        while not self.stopping.is_set():
            try:
                if token is None:
                    r = httpx.post(
                        f"{self.base}/api/v1/auth/token",
                        data={"username": "commander", "password": DEMO_PASSWORD},
                    )
                    token = r.raise_for_status().json()["access_token"]
                headers = {"Authorization": f"Bearer {token}"}
                if self.ids:
                    headers["Last-Event-ID"] = str(self.ids[-1])
                with httpx.stream(
                    "GET", f"{self.base}/api/v1/events", headers=headers, timeout=httpx.Timeout(10, read=60)
                ) as r:
                    if r.status_code == 401:
                        token = None
                        continue
                    r.raise_for_status()
                    self.port = r.extensions["network_stream"].get_extra_info("socket").getsockname()[1]
                    for line in r.iter_lines():
                        if line.startswith("id:"):
                            self.ids.append(int(line[3:].strip()))
                        if self.stopping.is_set():
                            return
            except (httpx.HTTPError, ValueError):
                pass
            self.reconnects += 1
            time.sleep(1)


def workers_of(port: int) -> list[psutil.Process]:
    """The uvicorn worker processes serving `port` (not multiprocessing's resource tracker)."""
    parent = next(
        p
        for p in psutil.process_iter(["cmdline"])
        if "uvicorn" in " ".join(p.info["cmdline"] or []) and str(port) in (p.info["cmdline"] or [])
    )
    return [c for c in parent.children() if "resource_tracker" not in " ".join(c.cmdline())]


def serving(workers: list[psutil.Process], server_port: int, client_port: int) -> psutil.Process:
    """The worker holding the connection from `client_port`."""
    for w in workers:
        for conn in w.net_connections(kind="tcp"):
            if (
                conn.laddr
                and conn.laddr.port == server_port
                and conn.raddr
                and conn.raddr.port == client_port
            ):
                return w
    raise AssertionError(f"no worker serves the wall's connection from port {client_port}")


def test_soak(owned_cluster, settings):
    with demo_database(owned_cluster.url("postgres"), prefix="onegrid_soak") as url:
        engine = sa.create_engine(url, pool_pre_ping=True)  # it outlives the restart
        started = time.time()
        with live_server(settings.model_copy(update={"database_url": url}), workers=2) as base:
            port = int(base.rsplit(":", 1)[1])
            wall = Wall(base)
            wall.start()
            marks: dict[str, object] = {}

            def between(sim, elapsed: float) -> None:
                total = MINUTES * 60
                if "kill9" not in marks and elapsed > 2 * total / 3:  # the worker the wall is on
                    victim = serving(workers_of(port), port, wall.port)
                    os.kill(victim.pid, signal.SIGKILL)
                    marks["kill9"] = round(elapsed)
                    marks["killed"] = victim.pid
                if "rss_5min" not in marks and elapsed > min(300, total / 6):
                    marks["rss_5min"] = {w.pid: w.memory_info().rss for w in workers_of(port)}
                if "pg_restart" not in marks and elapsed > total / 2:
                    owned_cluster.stop()
                    time.sleep(5)
                    owned_cluster.start()
                    marks["pg_restart"] = round(elapsed)

            sim = run(base, engine, speed=SPEED, seconds=MINUTES * 60, say=print, between=between)
            marks["rss_end"] = {w.pid: w.memory_info().rss for w in workers_of(port)}
            time.sleep(5)  # the wall catches up with the last events
            wall.stopping.set()
        with engine.connect() as c:
            stored_reports = set(
                c.execute(
                    sa.text(
                        "SELECT idempotency_key FROM incident WHERE description = '模拟上报（demo live）'"
                    )
                ).scalars()
            )
            fixes = {
                f"{w}|{t}"
                for w, t in c.execute(
                    sa.text("SELECT worker_id, to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') "
                            "FROM track_point WHERE recorded_at >= to_timestamp(:t)"),
                    {"t": started},
                )
            }  # fmt: skip
            stuck = c.execute(
                sa.text(
                    "SELECT count(*) FROM incident WHERE state IN ('reported', 'accepted', 'dispatched', 'in_progress') "
                    "AND due_at IS NULL"
                )
            ).scalar()
            first, last = (wall.ids[0], wall.ids[-1]) if wall.ids else (0, 0)
            events = list(
                c.execute(
                    sa.text("SELECT id FROM live_event WHERE id BETWEEN :a AND :b ORDER BY id"),
                    {"a": first, "b": last},
                ).scalars()
            )
        engine.dispose()
    acked_fixes = {k.replace("+00:00", "") for k in sim.acked["fixes"]}
    (survivor,) = [pid for pid in marks["rss_5min"] if pid != marks["killed"]]  # type: ignore[attr-defined]
    rss_5min, rss_end = marks["rss_5min"][survivor], marks["rss_end"][survivor]  # type: ignore[index]
    growth = rss_end / rss_5min - 1
    summary = {
        "minutes": MINUTES, "speed": SPEED, "sent": sim.progress(), "marks": {k: v for k, v in marks.items() if not k.startswith("rss")},
        "reports_acked": len(sim.acked["reports"]), "reports_stored": len(stored_reports),
        "fixes_acked": len(acked_fixes), "events_seen": len(wall.ids), "wall_reconnects": wall.reconnects,
        "rss_5min_mb": round(rss_5min / 2**20, 1), "rss_end_mb": round(rss_end / 2**20, 1),
        "rss_growth": round(growth, 3), "stuck_without_deadline": stuck,
    }  # fmt: skip
    print("\n[soak] " + json.dumps(summary, ensure_ascii=False))
    assert (
        sim.acked["reports"] and sim.acked["reports"] <= stored_reports
    )  # every acknowledged report is there
    assert acked_fixes <= fixes  # every acknowledged fix; the primary key keeps each once
    assert stuck == 0
    assert (
        wall.ids == sorted(set(wall.ids)) and wall.ids == events
    )  # every event, once, in order, across outages
    assert growth < 0.10
