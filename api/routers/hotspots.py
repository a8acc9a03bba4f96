"""`GET /api/v1/hotspots`: 热点追踪, incidents per grid or hexagon with Getis-Ord Gi*."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from api.deps import ConnDep, CurrentUser, SettingsDep, require_roles
from gis_core.incidents.hotspots import HotspotQuery, hotspots

router = APIRouter(prefix="/api/v1", tags=["hotspots"])
READERS = require_roles(
    "admin", "commander", "street_officer", "community_officer", "department_handler", "planner"
)


@router.get(
    "/hotspots", summary="Incident hotspots per grid or hexagon (Getis-Ord Gi*)", dependencies=[READERS]
)
def get_hotspots(
    user: CurrentUser,
    conn: ConnDep,
    settings: SettingsDep,
    since: Annotated[datetime | None, Query(alias="from", description="Start (default: a year ago)")] = None,
    until: Annotated[datetime | None, Query(alias="to", description="End, exclusive (default: now)")] = None,
    category: Annotated[
        str | None, Query(pattern=r"^\d{2}(\d{2})?$", description="Item or major class")
    ] = None,
    unit: Annotated[str, Query(pattern="^(grid|hex)$")] = "grid",
    hex_size: Annotated[float, Query(ge=50, le=5000, description="Hexagon edge in metres")] = 250.0,
) -> JSONResponse:
    """Counts of the incidents you may read, per unit, with Gi* z, p and hot/cold bins (90/95/99 %)."""
    until = until or datetime.now(UTC)
    since = since or until - timedelta(days=365)
    q = HotspotQuery(since=since, until=until, category=category, unit=unit, hex_size_m=hex_size)
    body: dict[str, Any] = hotspots(conn, user, q, settings.projected_epsg)
    return JSONResponse(body, media_type="application/geo+json")
