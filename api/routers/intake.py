"""Hotline intake (8890, 12345): `POST /api/v1/intake/hotline`, the manual-location queue, placing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from api.deps import CurrentUser, GridIndexDep, SettingsDep, require_roles, transaction
from gis_core.channels import hotline
from gis_core.platform.auth import COMMAND

router = APIRouter(prefix="/api/v1/intake/hotline", tags=["intake"])
#: the hotline system's account and the command centre that sorts its cases
INTAKE = require_roles(*COMMAND)
CaseNumber = Annotated[str, Path(max_length=64, description="The hotline's case number")]


class CaseIn(BaseModel):
    """A hotline case as the hotline sends it."""

    case_number: str = Field(description="The hotline's own number; a case is stored once per number")
    received_at: datetime = Field(description="When the call was taken (RFC 3339 with a zone)")
    address: str = Field(description="The address the caller said, as written down: 锦山路12号3号楼2单元502")
    category: str = Field(description="A catalogue code (0101) or an item's name (暴露垃圾)")
    description: str = ""
    caller_phone: str | None = Field(default=None, max_length=32)
    deadline: datetime | None = Field(default=None, description="The hotline's own deadline for the case")
    line: str = Field(default="8890", max_length=16, description="Which line: 8890, 12345")


class PlaceIn(BaseModel):
    """Where a queued case is: a standard address's code, or a point (WGS84)."""

    address_code: str | None = None
    lon: float | None = Field(default=None, allow_inf_nan=False)
    lat: float | None = Field(default=None, allow_inf_nan=False)


def _out(i: hotline.Intake) -> dict[str, Any]:
    return {"case_number": i.case_number, "state": i.state, "replayed": i.replayed,
            "incident": i.incident, "candidates": i.candidates}  # fmt: skip


@router.post("", status_code=201, summary="Take a hotline case into the loop", dependencies=[INTAKE])
async def take(
    request: Request,
    response: Response,
    user: CurrentUser,
    index: GridIndexDep,
    settings: SettingsDep,
    body: CaseIn,
) -> dict[str, Any]:
    """201 with `state` placed (and its incident) or unplaced (queued, with candidates).

    200 with `replayed` for a case number sent before with the same content; 409 with different content.
    """
    case = hotline.HotlineCase(**body.model_dump())

    def run() -> hotline.Intake:
        with transaction(request, user) as conn:
            return hotline.intake(conn, index, settings, user, case, datetime.now(UTC))

    done = await run_in_threadpool(run)
    if done.replayed:
        response.status_code = 200
    return _out(done)


@router.get("/queue", summary="Cases whose address could not be placed", dependencies=[INTAKE])
async def queue(request: Request, user: CurrentUser) -> dict[str, Any]:
    """Oldest first, each with the geocoder's best candidates to choose from."""

    def run() -> list[dict[str, Any]]:
        with transaction(request, user) as conn:
            return hotline.queue(conn)

    return {"cases": await run_in_threadpool(run)}


@router.post("/{case_number}/place", summary="Place a queued case by hand", dependencies=[INTAKE])
async def place(
    request: Request,
    user: CurrentUser,
    index: GridIndexDep,
    settings: SettingsDep,
    case_number: CaseNumber,
    body: PlaceIn,
) -> dict[str, Any]:
    """At `address_code` (a candidate's, or any standard address) or at `lon`/`lat`.

    It then continues as a placed case (routed, dispatched, told back to the hotline). 409 when
    already placed.
    """

    def run() -> hotline.Intake:
        with transaction(request, user) as conn:
            return hotline.place(
                conn,
                index,
                settings,
                user,
                case_number,
                datetime.now(UTC),
                body.address_code,
                body.lon,
                body.lat,
            )

    return _out(await run_in_threadpool(run))


@router.get("/{case_number}", summary="A hotline case's state", dependencies=[INTAKE])
async def case_status(request: Request, user: CurrentUser, case_number: CaseNumber) -> dict[str, Any]:
    """Placed or unplaced, and its incident's code, state, level, department and deadline."""

    def run() -> hotline.Intake:
        with transaction(request, user) as conn:
            return hotline.status(conn, case_number)

    return _out(await run_in_threadpool(run))
