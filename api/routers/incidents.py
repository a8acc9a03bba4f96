"""Snap-and-report over HTTP: submit, read, act on incidents; serve their public photos."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile

from api.deps import (
    ConnDep,
    CurrentUser,
    FormBody,
    GridIndexDep,
    SettingsDep,
    require_roles,
    transaction,
)
from gis_core.incidents import actions, queries, shares, workflow
from gis_core.incidents import submit as submitting
from gis_core.incidents.photos import paths, readable
from gis_core.platform.auth import FIELD
from gis_core.platform.errors import InvalidInput, NotFound, PhotoTooLarge
from gis_core.publishing.features import parse_bbox

router = APIRouter(prefix="/api/v1", tags=["incidents"])


def _now() -> datetime:
    return datetime.now(UTC)


def _etag(version: int) -> str:
    return f'"v{version}"'


class ReportFields(BaseModel):
    """A report's text fields (multipart/form-data, with its photos under `photos`)."""

    category: str = Field(description="Catalogue item code, e.g. 0101")
    description: str = Field(default="", max_length=2000)
    lon: float | None = Field(default=None, allow_inf_nan=False)
    lat: float | None = Field(default=None, allow_inf_nan=False)
    crs: str | None = Field(default=None, description="EPSG:4326 (default), EPSG:4490, GCJ-02 or BD-09")
    source: str | None = Field(default=None, description="hotline or camera (command centre only)")


REPORT_FORM = FormBody(ReportFields, files="photos", files_description="Up to 9 JPEG/PNG/WebP photos")


@router.post(
    "/incidents",
    status_code=201,
    summary="Submit a report (随手拍)",
    responses={
        200: {"description": "A retry of an earlier submission: the stored incident"},
        429: {"description": "Over the per-user submission limit"},
    },
    openapi_extra=REPORT_FORM.openapi,
)
async def submit_incident(
    request: Request,
    response: Response,
    user: CurrentUser,
    index: GridIndexDep,
    settings: SettingsDep,
    idempotency_key: Annotated[
        str, Header(alias="Idempotency-Key", description="Unique per report; reuse on retry")
    ],
    form: Annotated[tuple[ReportFields, list[UploadFile]], Depends(REPORT_FORM, scope="function")],
) -> dict[str, Any]:
    """Store a report once per Idempotency-Key: 201 when new, 200 with the same incident on a retry.

    The body is the incident's own fields (as in a list); GET the Location for its timeline,
    photos and possible duplicates.
    """
    fields, photos = form
    limit = settings.photo_max_bytes
    blobs = []
    for i, f in enumerate(photos):
        data = await f.read(limit + 1)  # never hold more than the limit (+1 to know it was exceeded)
        blobs.append(data)
        if len(data) > limit:
            raise PhotoTooLarge(
                f"photo is over {limit:,} bytes", where=f"body.photos[{i}]", limit_bytes=limit
            )
    sub = submitting.Submission(**fields.model_dump(), photos=blobs)

    def store() -> submitting.Submitted:
        # commits before the answer is sent; submit binds the user in its first statement
        # the quota counted on the report's own connection (api.rate_limits), then the report
        with transaction(request, user, bind=False, quota="header.Authorization") as conn:
            return submitting.submit(conn, index, settings, user, sub, idempotency_key, _now())

    # the database and Pillow work is blocking: off the event loop, in one thread hop
    done = await run_in_threadpool(store)
    # the incident's own fields (on a retry, as stored the first time); its timeline, photos
    # and duplicates are one GET away (Location)
    body = done.feature
    response.headers["Location"] = f"/api/v1/incidents/{done.id}"
    response.headers["ETag"] = _etag(body["properties"]["version"])
    if done.replayed:
        response.status_code = 200
        response.headers["Idempotency-Replayed"] = "true"
    else:
        request.app.state.metrics.reports.inc()
    return body


def _filter(
    state: str | None,
    category: str | None,
    area: str | None,
    bbox: str | None,
    since: datetime | None,
    until: datetime | None,
    overdue: bool | None,
    mine: bool,
    limit: int = 100,
    offset: int = 0,
    assigned: bool = False,
) -> queries.IncidentFilter:
    return queries.IncidentFilter(
        state=state.split(",") if state else None,
        category=category,
        area=area,
        bbox=parse_bbox(bbox) if bbox else None,
        since=since,
        until=until,
        overdue=overdue,
        mine=mine,
        assigned=assigned,
        limit=limit,
        offset=offset,
    )


@router.get("/incidents", summary="List incidents as GeoJSON")
def list_incidents(
    request: Request,
    user: CurrentUser,
    conn: ConnDep,
    state: Annotated[str | None, Query(description="Comma-separated states")] = None,
    category: Annotated[str | None, Query(description="Item code or 2-digit major class")] = None,
    area: Annotated[str | None, Query(description="District/street/community (12) or grid (15) code")] = None,
    bbox: Annotated[str | None, Query(description="minLon,minLat,maxLon,maxLat (WGS84)")] = None,
    since: Annotated[datetime | None, Query(alias="from")] = None,
    until: Annotated[datetime | None, Query(alias="to")] = None,
    overdue: bool | None = None,
    mine: bool = False,
    assigned: Annotated[bool, Query(description="Only those dispatched to me to handle (my inbox)")] = False,
    limit: Annotated[int, Query(ge=1, le=queries.MAX_LIMIT)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """A FeatureCollection page, newest first, with numberMatched and next/prev links."""
    f = _filter(state, category, area, bbox, since, until, overdue, mine, limit, offset, assigned)
    features, total = queries.list_incidents(conn, user, f)
    links = []
    if offset + limit < total:
        links.append({"rel": "next", "href": str(request.url.include_query_params(offset=offset + limit))})
    if offset > 0:
        links.append(
            {"rel": "prev", "href": str(request.url.include_query_params(offset=max(0, offset - limit)))}
        )
    return {
        "type": "FeatureCollection",
        "numberMatched": total,
        "numberReturned": len(features),
        "features": features,
        "links": links,
    }


@router.get("/incidents/stats", summary="Counts, completion and satisfaction rates, median times")
def incident_stats(
    user: CurrentUser,
    conn: ConnDep,
    area: str | None = None,
    category: str | None = None,
    since: Annotated[datetime | None, Query(alias="from")] = None,
    until: Annotated[datetime | None, Query(alias="to")] = None,
) -> dict[str, Any]:
    """Statistics over the incidents the caller may read, for an area and period."""
    return queries.stats(conn, user, _filter(None, category, area, None, since, until, None, False))


@router.get("/incidents/{incident_id}", summary="One incident with timeline, photos and allowed actions")
def get_incident(incident_id: int, user: CurrentUser, conn: ConnDep, response: Response) -> dict[str, Any]:
    """The incident as a GeoJSON Feature; its ETag carries the version for If-Match."""
    body = queries.get_incident(conn, user, incident_id)
    response.headers["ETag"] = _etag(body["properties"]["version"])
    return body


class PartIn(BaseModel):
    """One sub-task of a split: who handles it."""

    level: str = Field(description="grid, community, street or district")
    department: str | None = Field(default=None, description="department code (the level's own by default)")
    note: str = Field(default="", max_length=500, description="what this unit is to do")


class ActionIn(BaseModel):
    """A workflow action and what it needs."""

    action: str = Field(description=", ".join(workflow.ACTIONS))
    version: int | None = Field(default=None, description="The version acted on (or send If-Match)")
    note: str = Field(default="", max_length=2000)
    rating: str | None = Field(default=None, description="rate: satisfied, basic or unsatisfied")
    level: str | None = Field(default=None, description="dispatch: grid, community, street or district")
    department: str | None = Field(default=None, description="dispatch: department code")
    target_id: int | None = Field(default=None, description="merge: the incident this one duplicates")
    hours: int | None = Field(default=None, description="extend: hours added to the deadline (1-720)")
    parts: list[PartIn] | None = Field(default=None, description="split: 2 to 10 sub-tasks (JSON only)")


#: JSON, or multipart/form-data with before/after photos (处置前后照片) under `photos`.
ACTION_BODY = FormBody(
    ActionIn, files="photos", files_description="Up to 9 JPEG/PNG/WebP photos", json_too=True
)
_IF_MATCH = re.compile(r'^\s*(?:W/)?"?v?(\d+)"?\s*$')


@router.post(
    "/incidents/{incident_id}/actions",
    summary="Take a workflow action",
    openapi_extra=ACTION_BODY.openapi,
    responses={200: {"description": "The incident after the action (or, on a retry, as it is now)"}},
)
def act(
    incident_id: int,
    form: Annotated[tuple[ActionIn, list[UploadFile]], Depends(ACTION_BODY, scope="function")],
    user: CurrentUser,
    conn: ConnDep,
    settings: SettingsDep,
    response: Response,
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
    idempotency_key: Annotated[
        str | None,
        Header(alias="Idempotency-Key", min_length=8, max_length=200, description="A phone's retry-safe key"),
    ] = None,
) -> dict[str, Any]:
    """Apply an action on the version the caller saw: 409 if stale or not allowed in this state.

    With an Idempotency-Key, a retry of an action already taken changes nothing and answers
    with the incident as it is now (header `Idempotency-Replayed: true`).
    """
    body, files = form
    version = body.version
    if if_match is not None:
        m = _IF_MATCH.match(if_match)
        if not m:
            raise InvalidInput('If-Match must be an ETag such as "v3"', where="header.If-Match")
        version = int(m.group(1))
    limit = settings.photo_max_bytes
    photos = []
    for i, f in enumerate(files):
        data = f.file.read(limit + 1)  # never hold more than the limit (+1 to know it was exceeded)
        if len(data) > limit:
            raise PhotoTooLarge(
                f"photo is over {limit:,} bytes", where=f"body.photos[{i}]", limit_bytes=limit
            )
        photos.append(data)
    taken = actions.act(
        conn,
        user,
        incident_id,
        body.action,
        version,
        body.model_dump(),
        _now(),
        idempotency_key,
        photos,
        settings,
    )
    if taken.replayed:
        response.headers["Idempotency-Replayed"] = "true"
    out = queries.get_incident(conn, user, incident_id)
    response.headers["ETag"] = _etag(out["properties"]["version"])
    return out


class ShareDoneIn(BaseModel):
    """What a side did for its share of a joint incident."""

    note: str = Field(default="", max_length=2000)


@router.post(
    "/incidents/{incident_id}/shares/{grid_code}/done",
    summary="跨网格联动: finish one side's share of an incident across a grid edge",
    dependencies=[require_roles(*FIELD)],
)
def share_done(
    incident_id: int, grid_code: str, user: CurrentUser, conn: ConnDep, body: ShareDoneIn | None = None
) -> dict[str, Any]:
    """The incident's shares after this one is done: 403 outside your area, 409 if done already."""
    shares.finish(conn, user, incident_id, grid_code, (body or ShareDoneIn()).note, _now())
    return queries.get_incident(conn, user, incident_id)


_PHOTO = re.compile(r"^([0-9a-f]{64})\.(jpg|thumb\.jpg)$")


@router.get(
    "/photos/{name}", summary="A report photo (EXIF stripped) or its thumbnail", response_class=FileResponse
)
def photo(name: str, user: CurrentUser, conn: ConnDep, settings: SettingsDep) -> FileResponse:
    """Public copies only; the uploaded originals (with EXIF) are never served.

    A photo (and its thumbnail) is readable exactly when an incident it belongs to is: the
    look-up runs under the caller's row-level security, and an unreadable photo is as absent
    as a missing one.
    """
    m = _PHOTO.match(name)
    if not m:
        raise NotFound("no such photo", where="path.name")
    if not readable(conn, m.group(1)):
        raise NotFound("no such photo", where="path.name")
    where = paths(settings.photo_dir, m.group(1))["thumb" if m.group(2) == "thumb.jpg" else "public"]
    if not where.exists():
        raise NotFound("no such photo", where="path.name")
    return FileResponse(where, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})
