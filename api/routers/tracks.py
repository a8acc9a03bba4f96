"""Track uploads from phones and trajectory views (轨迹查看)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, NotRequired

import numpy as np
from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime, Field
from typing_extensions import TypedDict  # pydantic needs this one on Python < 3.12

from api.deps import BulkJsonBody, ConnDep, CurrentUser, SettingsDep, require_roles
from gis_core.field import tracks, trajectory
from gis_core.geo.crs import input_points
from gis_core.platform.auth import AREA_READERS, TRACK_UPLOADERS
from gis_core.platform.errors import Forbidden, InvalidInput, TooLarge

router = APIRouter(prefix="/api/v1", tags=["tracks"])
#: Devices that upload: a worker's phone (own fixes), or a gateway account of the command centre.
UPLOADERS = require_roles(*TRACK_UPLOADERS)
READERS = require_roles(*AREA_READERS)


class FixIn(TypedDict):
    """One GPS fix."""

    worker_id: NotRequired[
        Annotated[int | None, Field(description="Whose fix; a grid worker's own by default")]
    ]
    t: Annotated[AwareDatetime, Field(description="When it was taken, with its UTC offset")]
    lon: float
    lat: float
    accuracy: NotRequired[Annotated[float | None, Field(ge=0, description="Horizontal accuracy, metres")]]
    speed: NotRequired[Annotated[float | None, Field(ge=0, description="Speed reported by the phone, m/s")]]


class TrackBatch(TypedDict):
    """A batch of fixes as a phone uploads them; a retried batch stores nothing twice."""

    crs: NotRequired[
        Annotated[str | None, Field(description="CRS of lon/lat (default EPSG:4326; GCJ-02 accepted)")]
    ]
    fixes: list[FixIn]


#: Batches are validated from the raw bytes: 20,000 fixes are not 20,000 model objects.
TRACK_BATCH = BulkJsonBody(TrackBatch)


@router.post(
    "/tracks",
    summary="Upload GPS fixes (batched, retry-safe)",
    dependencies=[UPLOADERS],
    openapi_extra=TRACK_BATCH.openapi,
)
def upload_fixes(
    body: Annotated[TrackBatch, Depends(TRACK_BATCH)], user: CurrentUser, conn: ConnDep, settings: SettingsDep
) -> dict[str, Any]:
    """Store the fixes taken as truth; count duplicates and refused fixes (poor accuracy, jumps)."""
    batch = body["fixes"]
    n = len(batch)
    if n > settings.track_max_batch:
        raise TooLarge(f"at most {settings.track_max_batch} fixes per upload", where="body.fixes")
    own = tracks.worker_of_user(conn, user.id)
    workers = np.array(
        [w if (w := f.get("worker_id")) is not None else (own or 0) for f in batch], dtype=np.int64
    )
    if user.role == "grid_worker":
        if own is None or (workers != own).any():
            raise Forbidden("a grid worker uploads their own fixes only", where="body.fixes.worker_id")
    elif (workers == 0).any():
        raise InvalidInput("worker_id is required", where=f"body.fixes[{int(np.argmin(workers))}].worker_id")
    tracks.check_workers(conn, workers)
    t = np.array([f["t"].timestamp() for f in batch], dtype=float)
    late = datetime.now(UTC).timestamp() + tracks.CLOCK_SKEW.total_seconds()
    if n and t.max() > late:
        raise InvalidInput("a fix is dated in the future", where=f"body.fixes[{int(np.argmax(t))}].t")
    lon, lat = input_points(
        np.array([f["lon"] for f in batch], dtype=float),
        np.array([f["lat"] for f in batch], dtype=float),
        body.get("crs"),
        where="body.fixes",
    )
    fixes = tracks.Fixes(
        worker_id=workers,
        t=t,
        lon=lon,
        lat=lat,
        accuracy_m=np.array([f.get("accuracy") for f in batch], dtype=float),
        speed_mps=np.array([f.get("speed") for f in batch], dtype=float),
    )
    limits = tracks.Limits(settings.track_max_accuracy_m, settings.track_max_speed_mps)
    result = tracks.ingest(conn, fixes, limits, settings.projected_epsg)
    return {
        "received": result.received,
        "stored": result.stored,
        "duplicates": result.duplicates,
        "rejected": result.rejected,
        "limits": {"max_accuracy_m": limits.max_accuracy_m, "max_speed_mps": limits.max_speed_mps},
    }


@router.get(
    "/workers/{worker_id}/trajectory",
    summary="A worker's cleaned track and its statistics",
    dependencies=[READERS],
)
def get_trajectory(
    worker_id: int,
    user: CurrentUser,
    conn: ConnDep,
    settings: SettingsDep,
    since: Annotated[datetime | None, Query(alias="from", description="Start (default: a day ago)")] = None,
    until: Annotated[datetime | None, Query(alias="to", description="End, exclusive (default: now)")] = None,
    simplify: Annotated[float | None, Query(gt=0, le=500, description="Simplify the line (metres)")] = None,
) -> dict[str, Any]:
    """GeoJSON Feature: the track with a time per vertex, stops, distance, time outside own grid, coverage."""
    until = until or datetime.now(UTC)
    since = since or until - timedelta(days=1)
    if since >= until:
        raise InvalidInput("the period must end after it starts", where="query.to")
    if until - since > timedelta(days=31):
        raise InvalidInput("a trajectory covers at most 31 days", where="query.from")
    tracks.check_readable(conn, user, worker_id)
    return trajectory.trajectory(conn, worker_id, since, until, settings.projected_epsg, simplify)
