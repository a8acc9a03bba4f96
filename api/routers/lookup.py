"""`GET /api/v1/lookup`: which district, street, community and grid contain a point."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.deps import CurrentUser, GridIndexDep
from gis_core.geo.crs import input_point
from gis_core.geo.lookup import workers_seen_by
from gis_core.platform.errors import LookupOutsideDistrict

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
def lookup(
    user: CurrentUser,
    index: GridIndexDep,
    lon: Annotated[float, Query(description="Longitude (or x) in `crs`", allow_inf_nan=False)],
    lat: Annotated[float, Query(description="Latitude (or y) in `crs`", allow_inf_nan=False)],
    crs: Annotated[
        str, Query(description="EPSG:4326 (default), EPSG:4490, GCJ-02, BD-09, any EPSG code")
    ] = "EPSG:4326",
) -> LookupOut:
    """Resolve a point; 404 problem outside the district, 400 for bad coordinates or CRS."""
    wlon, wlat = input_point(lon, lat, crs)
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
