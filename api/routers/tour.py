"""全区巡游: the district patrol tour the wall plays, stop by stop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from api.deps import ConnDep, CurrentUser, SettingsDep, require_roles
from gis_core.field import tour
from gis_core.platform.auth import WATCHERS
from gis_core.platform.scope import check_area_code

router = APIRouter(prefix="/api/v1", tags=["map wall"])
VIEWERS = require_roles(*WATCHERS)


@router.get(
    "/patrol/tour", summary="An ordered patrol tour with a live summary per stop", dependencies=[VIEWERS]
)
def patrol_tour(
    user: CurrentUser,
    conn: ConnDep,
    settings: SettingsDep,
    level: Annotated[str, Query(pattern="^(street|community|key_point)$")] = "street",
    within: Annotated[str | None, Query(description="A street or community code")] = None,
    at: Annotated[AwareDatetime | None, Query(description="As of (default: now)")] = None,
) -> dict[str, Any]:
    """Stops in a short closed order (not by code): extent, centre, summary, nearest cameras."""
    area = check_area_code(within, where="query.within") if within else None
    return tour.tour(
        conn,
        user,
        level,
        area,
        at or datetime.now(UTC),
        timedelta(minutes=settings.on_duty_minutes),
        settings.projected_epsg,
    )
