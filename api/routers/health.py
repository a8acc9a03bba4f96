"""Liveness and readiness: `/healthz` checks the database, PostGIS and the lookup index."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter, Request

from api.deps import ConnDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Health check (database included)")
def healthz(conn: ConnDep, request: Request) -> dict[str, object]:
    """200 when the database answers and PostGIS is installed; 503 problem otherwise."""
    postgis = conn.execute(sa.text("SELECT postgis_lib_version()")).scalar()
    revision = conn.execute(sa.text("SELECT revision FROM boundary_revision")).scalar()
    index = request.app.state.grid_cache.get()
    return {
        "status": "ok",
        "database": "ok",
        "postgis": postgis,
        "boundary_revision": revision,
        "grids_indexed": len(index),
    }
