"""Liveness, readiness and metrics.

`/healthz` checks the database, PostGIS and the lookup index (is this process alive and able to
answer); `/readyz` also that it hears the database's notices (live feed, cache invalidation),
so a balancer sends it traffic only then; `/metrics` is Prometheus's (`api.metrics`).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import ConnDep
from gis_core.platform.db import health
from gis_core.platform.errors import Forbidden, ServiceUnavailable

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Health check (database included)")
def healthz(conn: ConnDep, request: Request) -> dict[str, object]:
    """200 when the database answers and PostGIS is installed; 503 problem otherwise."""
    index = request.app.state.grid_cache.get()
    return {
        "status": "ok",
        "database": "ok",
        **health(conn),
        "grids_indexed": len(index),
    }


@router.get("/readyz", summary="Ready for traffic: the database answers and its notices are heard")
def readyz(conn: ConnDep, request: Request) -> dict[str, object]:
    """200 when ready; 503 problem while the database's notices are not being heard (after a restart)."""
    health(conn)
    if not request.app.state.listener.listening.is_set():
        raise ServiceUnavailable("not listening to the database's notices yet", where="listener")
    return {"status": "ready"}


@router.get("/metrics", summary="Prometheus metrics of this server process (allowed clients only)")
def metrics(request: Request) -> Response:
    """The text exposition format; 403 for a client not in `ONEGRID_METRICS_CLIENTS`."""
    allowed = request.app.state.settings.metrics_clients
    client = request.client.host if request.client else ""
    if client not in allowed:
        raise Forbidden(f"metrics are for {', '.join(allowed)}; not {client}", where="client")
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
