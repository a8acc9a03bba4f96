"""多人点调: on-duty workers nearest a point on foot, for the command centre to call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from api.deps import ConnDep, CurrentUser, GridIndexDep, SettingsDep, require_roles
from gis_core import dispatch
from gis_core.crs import input_point
from gis_core.errors import LocationOutsideDistrict

router = APIRouter(prefix="/api/v1", tags=["point-call"])
CALLERS = require_roles("admin", "commander", "street_officer", "community_officer")


@router.get(
    "/workers/nearby", summary="On-duty workers ranked by walking time to a point", dependencies=[CALLERS]
)
def workers_nearby(
    user: CurrentUser,
    conn: ConnDep,
    settings: SettingsDep,
    index: GridIndexDep,
    lon: float,
    lat: float,
    crs: Annotated[
        str | None, Query(description="CRS of lon/lat (default EPSG:4326; GCJ-02 accepted)")
    ] = None,
    radius: Annotated[
        float, Query(gt=0, le=5000, description="Search radius, metres (straight line)")
    ] = 1000,
    at: Annotated[AwareDatetime | None, Query(description="As of (default: now); for replays")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    """Workers whose newest fix is recent and within `radius`, soonest on foot first, with ETA.

    Walking time is over the road network (pgRouting); those with no way there come last.
    Only workers in the caller's area are listed.
    """
    wlon, wlat = input_point(lon, lat, crs, where="query")
    if index.locate(wlon, wlat) is None:
        raise LocationOutsideDistrict(
            f"({wlon:.6f}, {wlat:.6f}) is not inside the district", where="query.lon,lat"
        )
    when = at or datetime.now(UTC)
    on_duty = timedelta(minutes=settings.on_duty_minutes)
    found = dispatch.nearby(conn, user, wlon, wlat, radius, when, on_duty, settings.projected_epsg, limit)
    return {
        "point": {"lon": wlon, "lat": wlat},
        "at": when.isoformat(),
        "on_duty_minutes": settings.on_duty_minutes,
        "walk_mps": dispatch.WALK_MPS,
        "workers": found,
    }
