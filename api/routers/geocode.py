"""`GET /api/v1/geocode` and `/geocode/reverse`: standard addresses (一标三实) from text, and at a point."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from api.deps import CurrentUser, GridIndexDep, require_roles, transaction
from gis_core.geo import geocode as gc
from gis_core.geo.crs import input_point
from gis_core.platform.auth import DISTRICT_WIDE, STAFF

router = APIRouter(prefix="/api/v1", tags=["addresses"])
#: staff on the loop and planners; residents report with a point, not by searching the register
READERS = require_roles(*dict.fromkeys((*STAFF, *DISTRICT_WIDE)))


@router.get("/geocode", summary="Address text → ranked standard addresses", dependencies=[READERS])
async def geocode(
    request: Request,
    user: CurrentUser,
    index: GridIndexDep,
    q: Annotated[
        str, Query(description="An address as written or said: 锦山路12号3号楼2单元502室, 锦绣花园3-2-502")
    ],
    limit: Annotated[int, Query(ge=1, le=20)] = 5,
) -> dict[str, Any]:
    """Candidates best first, each with its grid and the grid's workers.

    Each: code, level (room/unit/building/door/road/community), address, point, score, street,
    community, grid, workers. Units and rooms only inside the caller's reach.
    """

    def run() -> list[gc.Candidate]:
        with transaction(request, user) as conn:
            return gc.geocode(conn, index, user, q, limit)

    found = await run_in_threadpool(run)
    return {"query": q, "candidates": [c.__dict__ for c in found]}


@router.get(
    "/geocode/reverse",
    summary="Point → the building there and the nearest door plate",
    dependencies=[READERS],
)
async def reverse(
    request: Request,
    user: CurrentUser,
    index: GridIndexDep,
    lon: Annotated[float, Query(allow_inf_nan=False)],
    lat: Annotated[float, Query(allow_inf_nan=False)],
    crs: Annotated[str, Query(description="EPSG:4326 (default), EPSG:4490, GCJ-02, BD-09")] = "EPSG:4326",
    radius: Annotated[float, Query(gt=0, le=2000, description="Metres to look for a door plate")] = 300.0,
) -> dict[str, Any]:
    """The building the point falls in and the nearest door plate.

    `building`: the building's standard address (or null); `door`: the nearest door plate within
    `radius` metres (or null), with its distance.
    """
    wlon, wlat = input_point(lon, lat, crs)
    index.require(wlon, wlat, where="query.lon,lat")

    def run() -> dict[str, Any]:
        with transaction(request, user) as conn:
            return gc.reverse(conn, index, user, wlon, wlat, radius)

    return {"lon": wlon, "lat": wlat, **(await run_in_threadpool(run))}
