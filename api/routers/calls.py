"""多人点调 calls: the command centre calls workers to a point; workers acknowledge; tracks show arrival."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response
from pydantic import AwareDatetime, BaseModel, Field

from api.deps import ConnDep, CurrentUser, GridIndexDep, SettingsDep, require_roles
from gis_core.field import calls, dispatch, tracks
from gis_core.geo.crs import input_point
from gis_core.platform.auth import COORDINATING, FIELD
from gis_core.platform.errors import Conflict, InvalidInput, NotFound

router = APIRouter(prefix="/api/v1", tags=["point-call"])
CALLERS = require_roles(*COORDINATING)
READERS = require_roles(*FIELD)


class CallIn(BaseModel):
    """A call: where to go, why, and who."""

    lon: float = Field(allow_inf_nan=False)
    lat: float = Field(allow_inf_nan=False)
    crs: str | None = Field(default=None, description="CRS of lon/lat (default EPSG:4326; GCJ-02 accepted)")
    message: str = Field(min_length=1, max_length=500)
    worker_ids: list[int] = Field(description="Workers to call, 1 to 50 (from /workers/nearby)")


@router.post(
    "/calls",
    status_code=201,
    summary="Call workers to a point (多人点调)",
    dependencies=[CALLERS],
    responses={200: {"description": "A retry of an earlier call: the stored call"}},
)
def create_call(
    body: CallIn,
    response: Response,
    user: CurrentUser,
    conn: ConnDep,
    index: GridIndexDep,
    idempotency_key: Annotated[
        str, Header(alias="Idempotency-Key", min_length=8, max_length=200, description="Unique per call")
    ],
) -> dict[str, Any]:
    """Store the call and a task per worker, once per Idempotency-Key (201 new, 200 on a retry)."""
    lon, lat = input_point(body.lon, body.lat, body.crs, where="body")
    index.require(lon, lat, where="body.lon,lat")
    request = calls.CallRequest(lon, lat, body.message, tuple(body.worker_ids))
    call, replayed = calls.create(conn, user, request, idempotency_key, datetime.now(UTC))
    if replayed:
        response.status_code = 200
    response.headers["Location"] = f"/api/v1/calls/{call['id']}"
    return call


@router.get("/calls", summary="Recent calls (a grid worker: those that call them)", dependencies=[READERS])
def list_calls(
    user: CurrentUser,
    conn: ConnDep,
    since: Annotated[AwareDatetime | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    """The newest calls first, each with its workers' states (called, acknowledged, arrived)."""
    return {"calls": calls.recent(conn, user, since, limit)}


@router.get("/calls/{call_id}", summary="One call with its tasks", dependencies=[READERS])
def get_call(call_id: int, user: CurrentUser, conn: ConnDep) -> dict[str, Any]:
    """The call, its point and message, and each worker's acknowledgement and arrival."""
    return calls.get(conn, user, call_id)


@router.get(
    "/calls/{call_id}/route",
    summary="The walking route to a call's point and its ETA (pgRouting)",
    dependencies=[READERS],
)
def call_route(
    call_id: int,
    user: CurrentUser,
    conn: ConnDep,
    settings: SettingsDep,
    lon: Annotated[
        float | None, Query(allow_inf_nan=False, description="From here (default: my newest fix)")
    ] = None,
    lat: Annotated[float | None, Query(allow_inf_nan=False)] = None,
) -> dict[str, Any]:
    """A GeoJSON Feature: the route over the road network, its length, walking time and ETA."""
    call = calls.get(conn, user, call_id)
    if (lon is None) != (lat is None):
        raise InvalidInput("give both lon and lat, or neither", where="query.lon")
    if lon is None or lat is None:
        here = tracks.newest_position(conn, user.id)
        if here is None:
            raise Conflict("no position of yours yet: give lon and lat, or start patrol", where="query.lon")
        lon, lat = here
    found = dispatch.route(
        conn, (lon, lat), (call["lon"], call["lat"]), datetime.now(UTC), settings.projected_epsg
    )
    if found is None:
        raise NotFound("no way on foot over the road network from here to the call", where="query.lon")
    found["properties"]["call_id"] = call_id
    return found


@router.post(
    "/calls/{call_id}/acknowledge",
    summary="A called worker acknowledges (on my way)",
    dependencies=[require_roles("grid_worker")],
)
def acknowledge_call(call_id: int, user: CurrentUser, conn: ConnDep) -> dict[str, Any]:
    """Record the worker's acknowledgement once; repeating it changes nothing."""
    return calls.acknowledge(conn, user, call_id, datetime.now(UTC))
