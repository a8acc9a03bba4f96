"""Liveness and readiness: `/healthz` checks the database, PostGIS and the lookup index."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.deps import ConnDep
from gis_core.platform.db import health

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
