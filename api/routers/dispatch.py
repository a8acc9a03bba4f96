"""多人点调: on-duty workers nearest a point on foot, for the command centre to call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import numpy as np
import shapely
from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, Field
from pyproj import Geod

from api.deps import ConnDep, CurrentUser, GridIndexDep, SettingsDep, require_roles
from gis_core.field import dispatch
from gis_core.geo.crs import input_point
from gis_core.platform.auth import COORDINATING
from gis_core.platform.clock import iso
from gis_core.publishing.features import check_geometry

router = APIRouter(prefix="/api/v1", tags=["point-call"])
GEOD = Geod(ellps="WGS84")
CALLERS = require_roles(*COORDINATING)


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
    index.require(wlon, wlat, where="query.lon,lat")
    when = at or datetime.now(UTC)
    on_duty = timedelta(minutes=settings.on_duty_minutes)
    found = dispatch.nearby(conn, user, wlon, wlat, radius, when, on_duty, settings.projected_epsg, limit)
    return {
        "point": {"lon": wlon, "lat": wlat},
        "at": iso(when),
        "on_duty_minutes": settings.on_duty_minutes,
        "walk_mps": dispatch.WALK_MPS,
        "workers": _local(found),
    }


class AreaCall(BaseModel):
    """Who is on duty inside an area, walking to a point in it."""

    geometry: dict[str, Any] = Field(description="GeoJSON Polygon or MultiPolygon, lon/lat")
    at: AwareDatetime | None = Field(default=None, description="As of (default: now)")
    limit: int = Field(default=50, ge=1, le=200)


@router.post(
    "/workers/nearby",
    summary="On-duty workers inside a polygon, by walking time to it",
    dependencies=[CALLERS],
)
def workers_in_area(
    body: AreaCall, user: CurrentUser, conn: ConnDep, settings: SettingsDep, index: GridIndexDep
) -> dict[str, Any]:
    """Workers on duty inside the polygon, ranked by walking time to its point on surface.

    An invalid or self-intersecting polygon, or one whose point lies outside the district, is a
    400 problem.
    """
    area = check_geometry(body.geometry)
    centre = area.point_on_surface()
    index.require(centre.x, centre.y, where="body.geometry")
    xy = shapely.get_coordinates(area)
    _, _, metres = GEOD.inv(np.full(len(xy), centre.x), np.full(len(xy), centre.y), xy[:, 0], xy[:, 1])
    reach = float(metres.max())  # the farthest corner: sizes the road network searched
    when = body.at or datetime.now(UTC)
    found = dispatch.nearby(
        conn,
        user,
        centre.x,
        centre.y,
        reach,
        when,
        timedelta(minutes=settings.on_duty_minutes),
        settings.projected_epsg,
        body.limit,
        area=area,
    )
    return {"point": {"lon": centre.x, "lat": centre.y}, "at": iso(when), "workers": _local(found)}


def _local(workers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fix times and ETAs in the district's zone, like every time in an answer."""
    return [w | {k: iso(w[k]) for k in ("fix_at", "eta") if w[k] is not None} for w in workers]
