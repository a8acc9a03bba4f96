"""Open311 GeoReport v2 facade over the catalogue and the incident workflow (JSON format).

Services are catalogue items; a service request is an incident. Status is `open` until the
loop ends (closed, rejected or merged). Errors use the spec's format,
`[{"code": <status>, "description": "..."}]`, not problem+json. The `api_key` parameter
carries a OneGrid bearer token (the Authorization header works too); `services.json` is public.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Header, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from api.deps import Caller, ConnDep, GridIndexDep, SettingsDep, transaction
from api.errors import status_of
from gis_core.incidents import categories as catalogue
from gis_core.incidents import queries
from gis_core.incidents import submit as submitting
from gis_core.incidents.workflow import CLOSED_STATES, STATES
from gis_core.platform.auth import User
from gis_core.platform.errors import AuthError, InvalidInput, NotFound, OneGridError

MAX_RESULTS = 1000
DEFAULT_WINDOW = timedelta(days=90)


def _error(status: int, description: str) -> JSONResponse:
    return JSONResponse([{"code": status, "description": description}], status_code=status)


class Open311Route(APIRoute):
    """Renders every error of these routes in GeoReport v2's format."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:  # noqa: D102
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                first = exc.errors()[0]
                return _error(400, f"{'.'.join(map(str, first['loc']))}: {first['msg']}")
            except OneGridError as exc:
                where = f" ({exc.where})" if exc.where else ""
                return _error(status_of(exc), exc.detail + where)
            except HTTPException as exc:
                return _error(exc.status_code, str(exc.detail))

        return route


router = APIRouter(prefix="/open311/v2", tags=["open311"], route_class=Open311Route)


async def open311_user(caller: Caller) -> User:
    """The caller, from a bearer token or `api_key` (query string, or form body on POST)."""
    if caller is None:
        raise AuthError("api_key is required")
    return caller


Open311User = Annotated[User, Depends(open311_user)]


def _service(r: Any) -> dict[str, Any]:
    return {
        "service_code": r.code,
        "service_name": r.name,
        "description": f"{r.major_name} / {r.name} ({r.name_en})",
        "metadata": False,
        "type": "realtime",
        "keywords": r.name_en.lower(),
        "group": r.major_name,
    }


@router.get("/services.json", summary="Open311: service list")
def services(conn: ConnDep) -> list[dict[str, Any]]:
    """Every catalogue item as an Open311 service."""
    return [_service(r) for r in catalogue.items(conn)]


@router.get("/services/{service_code}.json", summary="Open311: service definition")
def service_definition(service_code: str, conn: ConnDep) -> dict[str, Any]:
    """A service's definition; OneGrid services take no extra attributes."""
    if not catalogue.exists(conn, service_code):
        raise NotFound(f"service_code {service_code} not found")
    return {"service_code": service_code, "attributes": []}


def _request(f: dict[str, Any], base: str) -> dict[str, Any]:
    p = f["properties"]
    return {
        "service_request_id": str(f["id"]),
        "status": "closed" if p["state"] in CLOSED_STATES else "open",
        "status_notes": f"{p['state']} ({p['level']})",
        "service_name": p["category_name"],
        "service_code": p["category_code"],
        "description": p["description"],
        "agency_responsible": p["department_code"],
        "service_notice": p["code"],
        "requested_datetime": p["reported_at"],
        "updated_datetime": (
            p.get("closed_at")
            or p.get("resolved_at")
            or p.get("dispatched_at")
            or p.get("accepted_at")
            or p["reported_at"]
        ),
        "expected_datetime": p["due_at"],
        "address": p["grid_code"],
        "address_id": p["grid_code"],
        "zipcode": None,
        "lat": f["geometry"]["coordinates"][1],
        "long": f["geometry"]["coordinates"][0],
        "media_url": (base + p["photos"][0]["url"]) if p.get("photos") else None,
    }


def _iso(text: str | None, where: str) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInput(f"{where} must be an ISO 8601 datetime", where=where) from exc


@router.get("/requests.json", summary="Open311: query service requests")
def get_requests(
    request: Request,
    user: Open311User,
    conn: ConnDep,
    service_request_id: str | None = None,
    service_code: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    status: str | None = None,
) -> list[dict[str, Any]]:
    """Requests the caller may see; by default the last 90 days, at most 1,000."""
    base = str(request.base_url).rstrip("/")
    if service_request_id:
        ids = [s.strip() for s in service_request_id.split(",") if s.strip()]
        if not all(i.isdigit() for i in ids):
            raise InvalidInput("service_request_id must be comma-separated ids", where="service_request_id")
        out = []
        for i in ids:
            try:
                out.append(_request(queries.get_incident(conn, user, int(i)), base))
            except NotFound:
                continue
        return out
    end = _iso(end_date, "end_date") or datetime.now(UTC)
    start = _iso(start_date, "start_date") or end - DEFAULT_WINDOW
    states = None
    if status:
        wanted = {s.strip() for s in status.split(",")}
        if not wanted <= {"open", "closed"}:
            raise InvalidInput("status must be open, closed or both", where="status")
        states = [s for s in STATES if ("closed" if s in CLOSED_STATES else "open") in wanted]
    f = queries.IncidentFilter(state=states, category=service_code, since=start, until=end, limit=MAX_RESULTS)
    features, _ = queries.list_incidents(conn, user, f)
    return [_request(x, base) for x in features]


@router.get("/requests/{service_request_id}.json", summary="Open311: one service request")
def get_request(
    request: Request, service_request_id: int, user: Open311User, conn: ConnDep
) -> list[dict[str, Any]]:
    """The request as a one-element list, as the spec has it."""
    return [_request(queries.get_incident(conn, user, service_request_id), str(request.base_url).rstrip("/"))]


@router.post("/requests.json", summary="Open311: create a service request")
async def post_request(
    request: Request,
    user: Open311User,
    index: GridIndexDep,
    settings: SettingsDep,
    service_code: Annotated[str, Form()],
    lat: Annotated[float | None, Form(allow_inf_nan=False)] = None,
    long: Annotated[float | None, Form(allow_inf_nan=False)] = None,
    address_string: Annotated[str | None, Form()] = None,
    description: Annotated[str, Form(max_length=2000)] = "",
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> list[dict[str, Any]]:
    """Create an incident; lat/long are required (addresses are not geocoded here)."""
    if lat is None or long is None:
        raise InvalidInput(
            "lat and long are required; address_string alone cannot be located", where="lat,long"
        )
    sub = submitting.Submission(category=service_code, description=description, lon=long, lat=lat)
    # Open311 clients send no idempotency key; one is honoured when they do
    key = idempotency_key or f"open311-{uuid.uuid4()}"

    def store() -> submitting.Submitted:
        # the reporter's quota counted first; commits before the answer is sent; submit binds the user
        with transaction(request, user, bind=False, quota="header.Authorization") as conn:
            return submitting.submit(conn, index, settings, user, sub, key, datetime.now(UTC))

    # blocking database and routing work: off the event loop, in one thread hop
    done = await run_in_threadpool(store)
    code = done.feature["properties"]["code"]
    return [{"service_request_id": str(done.id), "service_notice": code, "account_id": None}]
