"""The application factory: settings, engine and lookup index live for the app's lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import errors
from api.routers import auth, catalogue, health, lookup
from gis_core.db import make_engine
from gis_core.lookup import BoundaryListener, GridIndexCache
from gis_core.settings import Settings, get_settings

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the OneGrid API for `settings` (default: from the environment)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings=settings)
        if not settings.demo_mode:
            from gis_core.accounts import refuse_demo_passwords

            with engine.connect() as conn:
                refuse_demo_passwords(conn)
        cache = GridIndexCache(engine)
        listener = BoundaryListener(engine, cache)
        listener.start()
        app.state.engine = engine
        app.state.grid_cache = cache
        app.state.listener = listener
        try:
            yield
        finally:
            listener.stop()
            listener.join(timeout=3)
            engine.dispose()

    app = FastAPI(
        title="OneGrid",
        version="0.1.0",
        summary="Grid-governance GIS server: district → street → community → grid, and all it anchors.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    errors.install(app)
    for router in (health.router, auth.router, lookup.router, catalogue.router):
        app.include_router(router)
    return app
