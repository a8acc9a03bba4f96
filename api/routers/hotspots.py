"""`GET /api/v1/hotspots`: 热点追踪, incidents per grid or hexagon with Getis-Ord Gi*, and their emergence."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from api import replicas
from api.deps import CurrentUser, SettingsDep, require_roles
from gis_core.incidents.hotspots import HotspotQuery, emerging_hotspots, hotspots
from gis_core.platform.auth import ANALYSTS

router = APIRouter(prefix="/api/v1", tags=["hotspots"])
READERS = require_roles(*ANALYSTS)


def _query(
    since: Annotated[datetime | None, Query(alias="from", description="Start (default: see below)")] = None,
    until: Annotated[datetime | None, Query(alias="to", description="End, exclusive (default: now)")] = None,
    category: Annotated[
        str | None, Query(pattern=r"^\d{2}(\d{2})?$", description="Item or major class")
    ] = None,
    unit: Annotated[str, Query(pattern="^(grid|hex)$")] = "grid",
    hex_size: Annotated[float, Query(ge=50, le=5000, description="Hexagon edge in metres")] = 250.0,
    as_of: Annotated[
        datetime | None, Query(description="Grids as they were then (boundary history); default today's")
    ] = None,
) -> Callable[[timedelta], HotspotQuery]:
    """The period, category and units of a hotspot request, given the endpoint's default span."""

    def with_span(span: timedelta) -> HotspotQuery:
        end = until or datetime.now(UTC)
        return HotspotQuery(
            since=since or end - span,
            until=end,
            category=category,
            unit=unit,
            hex_size_m=hex_size,
            as_of=as_of,
        )

    return with_span


QueryDep = Annotated[Callable[[timedelta], HotspotQuery], Depends(_query)]


@router.get(
    "/hotspots", summary="Incident hotspots per grid or hexagon (Getis-Ord Gi*)", dependencies=[READERS]
)
def get_hotspots(
    request: Request,
    user: CurrentUser,
    settings: SettingsDep,
    query: QueryDep,
    geometry: Annotated[
        bool, Query(description="false: no polygons (a map that draws the units already paints by code)")
    ] = True,
) -> JSONResponse:
    """Counts of the incidents you may read, per unit, with Gi* z, p and hot/cold bins (90/95/99 %).

    The period defaults to the year before `to`. The wall asks without geometry and colours the
    grid tiles it already has (8.4 MB of polygons for 1,035 grids otherwise).
    """
    q = query(timedelta(days=365))
    body: dict[str, Any] = replicas.read(
        request, user, lambda c: hotspots(c, user, q, settings.projected_epsg)
    )
    if not geometry:
        for f in body["features"]:
            f["geometry"] = None  # GeoJSON's unlocated feature: the unit is named by its id (code)
    return JSONResponse(body, media_type="application/geo+json", headers=replicas.read_from_header(request))


@router.get(
    "/hotspots/emerging",
    summary="Emerging hotspots: the pattern of each unit's Gi* over time bins (Mann-Kendall trend)",
    dependencies=[READERS],
)
def get_emerging(
    request: Request,
    user: CurrentUser,
    settings: SettingsDep,
    query: QueryDep,
    bin: Annotated[
        str,
        Query(
            pattern="^(day|week|month)$", description="Time bin (days and weeks from `from`; calendar months)"
        ),
    ] = "week",
) -> JSONResponse:
    """Each unit's pattern (new, consecutive, intensifying, persistent, …) and trend.

    The period defaults to the 12 weeks before `to`.
    """
    q = query(timedelta(weeks=12))
    body: dict[str, Any] = replicas.read(
        request, user, lambda c: emerging_hotspots(c, user, q, bin, settings.projected_epsg)
    )
    return JSONResponse(body, media_type="application/geo+json", headers=replicas.read_from_header(request))
