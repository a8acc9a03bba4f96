"""The application factory: settings, engine and lookup index live for the app's lifespan."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import signal
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI

from api import errors
from api.live import Hub
from api.metrics import Metrics
from api.middleware import Admission, Compression, FormUtf8
from api.rate_limits import Limiter
from api.replicas import ReplicaRouter
from api.routers import (
    admin,
    audit,
    auth,
    boundaries,
    calls,
    catalogue,
    cold_chain,
    dispatch,
    events,
    features,
    field,
    geocode,
    health,
    hotspots,
    incidents,
    intake,
    lookup,
    ogc_tiles,
    open311,
    pages,
    service_cards,
    service_circles,
    spatial_queries,
    sso,
    tiles,
    tour,
    tracks,
    warnings,
    webhooks,
)
from api.timing import RequestTimer
from gis_core.geo.lookup import GridIndexCache
from gis_core.platform.auth import TokenCache
from gis_core.platform.db import make_engine
from gis_core.platform.notify import Listener
from gis_core.platform.settings import Settings, get_settings
from gis_core.publishing.edge import EdgeRegistry
from gis_core.publishing.tile_cache import TileCache
from gis_core.publishing.tile_serving import TileServer

log = logging.getLogger(__name__)


Job = Callable[[sa.Connection, Settings], Any]  # what it did, for the metrics (api.metrics.job_done)


async def _every(
    engine: sa.Engine, settings: Settings, interval_s: float, job: str, work: Job, metrics: Metrics
) -> None:
    """Every `interval_s` seconds (0: never), run blocking `work` off the event loop, if it is due.

    It runs in one transaction, once per interval for the whole deployment: another worker
    whose timer fired first has done it (`gis_core.platform.schedule`).
    """
    from gis_core.platform.schedule import run_if_due

    while interval_s > 0:
        await asyncio.sleep(interval_s)
        try:
            done = await asyncio.to_thread(
                run_if_due, engine, job, interval_s, lambda conn: work(conn, settings)
            )
            metrics.job_done(job, done)
        except Exception:  # noqa: BLE001 - a failed tick must not stop the scheduler
            log.exception("%s tick failed", job)


async def _check_replicas(replicas: ReplicaRouter, settings: Settings) -> None:
    """Sample the primary's and the replicas' WAL positions every ONEGRID_REPLICA_CHECK_S."""
    while True:
        try:
            await asyncio.to_thread(replicas.check)
        except Exception:  # noqa: BLE001 - the primary away: reads go to it anyway, and fail or not there
            log.exception("replica check failed")
        await asyncio.sleep(settings.replica_check_s)


async def _deliver_webhooks(engine: sa.Engine, settings: Settings) -> None:
    """Post due webhook deliveries batch after batch while there are any, then look every poll interval.

    Every process runs one; they share the work through the outbox's row locks (SKIP LOCKED).
    """
    from gis_core.channels.webhooks import deliver_due

    while True:
        try:
            sent = await asyncio.to_thread(deliver_due, engine, settings)
        except Exception:  # noqa: BLE001 - a failed batch (database away) must not stop the deliverer
            log.exception("webhook delivery failed")
            sent = 0
        if not sent:
            await asyncio.sleep(settings.webhook_poll_s)


def _escalate(conn: sa.Connection, settings: Settings) -> list[int]:  # noqa: ARG001
    """Escalate overdue incidents; the ids handled."""
    from gis_core.incidents.escalation import escalate_overdue

    done = escalate_overdue(conn, datetime.now(UTC))
    if done:
        log.info("escalated %d overdue incidents", len(done))
    return done


def _check_warnings(conn: sa.Connection, settings: Settings) -> dict[str, dict[str, int]]:
    """Run the warning rules: raise, escalate and clear warnings; per rule, the counts."""
    from gis_core.field.warning_rules import due_rules, evaluate

    summary = evaluate(conn, datetime.now(UTC), settings, due_rules(conn, settings))
    log.info("warning rules: %s", summary)
    return summary


def _prune_events(conn: sa.Connection, settings: Settings) -> None:
    """Forget live events older than the retention (a wall further behind reloads)."""
    from gis_core.platform.live import prune

    prune(conn, timedelta(hours=settings.event_retention_h))


def scheduled_jobs(settings: Settings) -> dict[str, tuple[float, Job]]:
    """The district-wide work every server process keeps a timer for: name → (interval s, work)."""
    return {
        "escalation": (settings.escalation_interval_s, _escalate),
        "warning rules": (settings.warning_interval_s, _check_warnings),
        # events are read within seconds; an hourly sweep keeps the table to the retention
        "event pruning": (3600.0 if settings.event_retention_h > 0 else 0.0, _prune_events),
    }


def _on_exit_signal(callback: Callable[[], object]) -> None:
    """Call `callback` first when the server is told to stop (SIGINT, SIGTERM), then uvicorn's handler.

    uvicorn waits for running requests before it shuts the app's lifespan down, and a live
    feed runs until its client leaves: without this, every connected wall held shutdown up
    for the whole graceful timeout and was then cancelled ("Cancel N running task(s)").
    Signals reach only the main thread; elsewhere (a test client) there is nothing to hook.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(sig)

        def handler(signum: int, frame: Any, previous: Any = previous) -> None:
            callback()
            if callable(previous):
                previous(signum, frame)

        signal.signal(sig, handler)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the OneGrid API for `settings` (default: from the environment)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # requests run as the row-level-security-bound role; background work, logins and
        # token checks as the owner
        engine = make_engine(settings=settings, request_role=True, name="requests")
        # background work (LISTEN, the live feed's reads, index rebuilds, escalation) never
        # competes with requests for pooled connections: it has a small pool of its own. (Not
        # unpooled: the feed reads after every new event, and a fresh connection per read cost
        # PostgreSQL a backend start and its warm-up each time.)
        background = make_engine(
            settings=settings,
            pool_size=settings.background_pool_size,
            max_overflow=settings.background_pool_overflow,
            statement_timeout_ms=0,
            name="background",
        )
        if not settings.demo_mode:
            from gis_core.platform.accounts import refuse_demo_passwords

            with background.connect() as conn:
                refuse_demo_passwords(conn)
        cache = GridIndexCache(background)
        await asyncio.to_thread(cache.get)  # warm: the first requests need not build it
        tile_cache = TileCache(settings.tile_cache_entries)
        token_cache = TokenCache(settings.token_cache_seconds)

        # the tile edge cache in front, if any: what it may keep, purged on the same notices (in a
        # thread of its own: a purge is a request to the edge, and the notices must not wait for it)
        edge = EdgeRegistry(settings.edge_purge_url) if settings.edge_purge_url else None
        purger = ThreadPoolExecutor(max_workers=1, thread_name_prefix="edge-purge")

        def tiles_changed(payload: str) -> None:
            tile_cache.on_notice(payload)
            if edge is not None:
                note = json.loads(payload)
                purger.submit(edge.on_notice, note["table"], tuple(note["bbox"]))

        def reconnected() -> None:  # notices sent while we were away are lost
            cache.invalidate()
            tile_cache.clear()
            if edge is not None:
                purger.submit(edge.on_notice, None, None)
            token_cache.clear()
            hub.on_notice()  # catch up: the events are in the table even if their notices are lost

        hub = Hub(background)
        hub.lag = app.state.metrics.live_lag.observe
        listener = Listener(
            background,
            {
                "onegrid_boundaries": lambda payload: cache.note_revision(int(payload or 0)),
                "onegrid_tiles": tiles_changed,
                "onegrid_tokens": token_cache.forget,
                "onegrid_events": hub.on_notice,
            },
            on_connect=reconnected,
            coalesce=frozenset({"onegrid_events"}),  # the hub reads everything new each time
        )
        listener.start()
        loop = asyncio.get_running_loop()  # a signal handler may interrupt a holder of the hub's lock
        _on_exit_signal(lambda: loop.call_soon_threadsafe(hub.close))
        app.state.engine = engine
        # token checks that miss the token cache use their own small pool (see api.deps)
        app.state.auth_engine = make_engine(
            settings=settings,
            pool_size=settings.auth_pool_size,
            max_overflow=settings.auth_pool_overflow,
            name="auth",
        )
        # tiles are one read each: autocommit, the tile timeout set when a connection opens,
        # no ping per checkout (a tile whose connection died idle is rendered again on a fresh one)
        app.state.tile_engine = make_engine(
            settings=settings,
            statement_timeout_ms=settings.tile_timeout_ms,
            autocommit=True,
            pre_ping=False,
            request_role=True,
            name="tiles",
        )
        # rate limits count in the database, on the auth pool: one limit for every process and host
        app.state.login_limiter = Limiter(app.state.auth_engine, settings.login_per_minute, "login attempts")
        app.state.report_limiter = Limiter(app.state.auth_engine, settings.reports_per_minute, "reports")
        app.state.grid_cache = cache
        app.state.tile_cache = tile_cache
        # streaming replicas for reads that tolerate a little lag (api.replicas), checked every second
        app.state.replicas = replicas = ReplicaRouter.from_settings(settings, background)
        app.state.edge = edge
        app.state.tile_server = TileServer(tile_cache, app.state.tile_engine, engine, replicas.pick)
        app.state.token_cache = token_cache
        app.state.token_checks = {}  # token digest → its check in flight (api.deps)
        app.state.basic_cache = {}  # digest of HTTP Basic username and password → (user, trusted until)
        app.state.basic_checks = {}  # the same digest → its password check in flight
        app.state.listener = listener
        app.state.hub = hub
        schedulers = [
            asyncio.create_task(_every(background, settings, every, job, work, app.state.metrics))
            for job, (every, work) in scheduled_jobs(settings).items()
        ]
        if replicas.replicas:
            schedulers.append(asyncio.create_task(_check_replicas(replicas, settings)))
        if settings.webhook_poll_s > 0:
            schedulers.append(asyncio.create_task(_deliver_webhooks(background, settings)))
        # what start-up built (routes, models, the grid index: ~200,000 objects) lives as long
        # as the process: out of the collector's sight, so that each full collection under
        # load does not walk it again (in a report load those took ~4.5 % of the workers' CPU)
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            for task in schedulers:
                task.cancel()
            listener.stop()
            listener.join(timeout=3)
            engine.dispose()
            app.state.auth_engine.dispose()
            app.state.tile_engine.dispose()
            replicas.dispose()
            purger.shutdown(wait=False)
            background.dispose()

    app = FastAPI(
        title="OneGrid",
        version="0.1.0",
        summary="Grid-governance GIS server: district → street → community → grid, and all it anchors.",
        lifespan=lifespan,
        docs_url=None,  # served by api.routers.pages from node_modules: FastAPI's default loads a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.metrics = Metrics()
    app.state.metrics.state = app.state
    errors.install(app)
    # routes are matched in this order, each router's in turn: the busiest paths (map tiles,
    # phones' reports and tracks) come first, where matching them costs least
    for router in (
        tiles.router,
        incidents.router,
        tracks.router,
        health.router,
        auth.router,
        admin.router,
        audit.router,
        lookup.router,
        catalogue.router,
        open311.router,
        pages.router,
        features.router,
        spatial_queries.router,
        hotspots.router,
        service_circles.router,
        service_cards.router,
        dispatch.router,
        calls.router,
        field.router,
        warnings.router,
        cold_chain.router,
        events.router,
        tour.router,
        sso.router,
        ogc_tiles.router,
        boundaries.router,
        geocode.router,
        intake.router,
        webhooks.router,
    ):
        app.include_router(router)
    pages.mount_static(app)
    # 9 photos at the limit plus form fields
    max_body = settings.photo_max_count * settings.photo_max_bytes + 1024 * 1024
    app.add_middleware(Admission, limit=settings.pool_size + settings.pool_max_overflow, max_body=max_body)
    app.add_middleware(FormUtf8)
    app.add_middleware(Compression)  # inside the timer: a request's time includes its compression
    app.add_middleware(RequestTimer, slow_ms=settings.slow_request_ms, metrics=app.state.metrics)
    return app
