"""`GET /api/v1/lookup`: which district, street, community and grid contain a point."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from api.deps import CurrentUser, GridIndexDep, transaction
from gis_core.geo.crs import input_point
from gis_core.geo.lookup import workers_seen_by
from gis_core.ingest.boundaries import located_as_of
from gis_core.platform.errors import InvalidInput, LookupOutsideDistrict

router = APIRouter(prefix="/api/v1", tags=["lookup"])


class UnitOut(BaseModel):
    """An administrative unit."""

    code: str
    name: str
    kind: str


class WorkerOut(BaseModel):
    """A grid worker responsible for the grid."""

    code: str
    name: str
    phone: str | None
    is_primary: bool


class LookupOut(BaseModel):
    """The units containing the point and the grid's workers."""

    lon: float
    lat: float
    crs: str
    district: UnitOut
    street: UnitOut
    community: UnitOut
    grid: UnitOut
    workers: list[WorkerOut]


@router.get("/lookup", response_model=LookupOut, summary="Point → district/street/community/grid")
async def lookup(
    request: Request,
    user: CurrentUser,
    index: GridIndexDep,
    lon: Annotated[float, Query(description="Longitude (or x) in `crs`", allow_inf_nan=False)],
    lat: Annotated[float, Query(description="Latitude (or y) in `crs`", allow_inf_nan=False)],
    crs: Annotated[
        str, Query(description="EPSG:4326 (default), EPSG:4490, GCJ-02, BD-09, any EPSG code")
    ] = "EPSG:4326",
    as_of: Annotated[
        datetime | None, Query(description="RFC 3339 time: the street, community and grid of then")
    ] = None,
) -> LookupOut:
    """Resolve a point; 404 problem outside the district, 400 for bad coordinates or CRS.

    With `as_of`, the units are the versions valid at that time (boundary history), and the
    workers those now assigned to that grid code, if it still exists.
    """
    wlon, wlat = input_point(lon, lat, crs)
    if as_of is not None:
        return await run_in_threadpool(_as_of, request, user, index, wlon, wlat, as_of)
    found = index.locate(wlon, wlat)
    if found is None:
        raise LookupOutsideDistrict(
            f"no grid of the district contains ({wlon:.6f}, {wlat:.6f})", where="query.lon,lat"
        )
    return LookupOut(
        lon=wlon,
        lat=wlat,
        crs="EPSG:4326",
        district=UnitOut(**found.district.__dict__),
        street=UnitOut(**found.street.__dict__),
        community=UnitOut(**found.community.__dict__),
        grid=UnitOut(**found.grid.__dict__),
        workers=[
            WorkerOut(code=w.code, name=w.name, phone=w.phone, is_primary=w.is_primary)
            for w in workers_seen_by(user, found)
        ],
    )


def _as_of(request: Request, user: Any, index: Any, lon: float, lat: float, as_of: datetime) -> LookupOut:
    if as_of.tzinfo is None:
        raise InvalidInput("as_of needs a time zone (Z or an offset)", where="query.as_of")
    with transaction(request, user) as conn:
        units = located_as_of(conn, lon, lat, as_of)
    if units is None:
        raise LookupOutsideDistrict(
            f"no grid of the district contained ({lon:.6f}, {lat:.6f}) at {as_of.isoformat()}",
            where="query.lon,lat",
        )
    now = index.locate(lon, lat)
    district = now.district.__dict__ if now else {"code": "", "name": "", "kind": "district"}
    workers = workers_seen_by(user, now) if now and now.grid.code == units["grid"]["code"] else []
    return LookupOut(
        lon=lon,
        lat=lat,
        crs="EPSG:4326",
        district=UnitOut(**district),
        street=UnitOut(**units["street"]),
        community=UnitOut(**units["community"]),
        grid=UnitOut(**units["grid"]),
        workers=[
            WorkerOut(code=w.code, name=w.name, phone=w.phone, is_primary=w.is_primary) for w in workers
        ],
    )
