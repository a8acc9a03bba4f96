"""预警查看: warnings raised by the rules, acknowledged and cleared by people; cold-chain readings in."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import ConnDep, CurrentUser, SettingsDep, require_roles
from gis_core.field import warning_actions, warning_rules
from gis_core.platform.auth import COMMAND, COORDINATING, FIELD
from gis_core.platform.errors import InvalidInput

router = APIRouter(prefix="/api/v1", tags=["warnings"])
READERS = require_roles(*FIELD)
ACTORS = require_roles(*COORDINATING)
#: The monitoring system's gateway posts as the command centre.
GATEWAYS = require_roles(*COMMAND)


class Note(BaseModel):
    """An optional note for the timeline."""

    note: str = Field(default="", max_length=500)


@router.get("/warnings", summary="Warnings in your area (active by default)", dependencies=[READERS])
def list_warnings(
    user: CurrentUser,
    conn: ConnDep,
    state: Annotated[str, Query(pattern="^(active|raised|acknowledged|cleared|all)$")] = "active",
    rule: Annotated[str | None, Query(description=", ".join(warning_rules.RULES))] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of warnings, newest first."""
    if rule is not None and rule not in warning_rules.RULES:
        raise InvalidInput(f"rule is one of {', '.join(warning_rules.RULES)}", where="query.rule")
    return warning_actions.search(conn, user, state, rule, limit)


@router.get("/warnings/{warning_id}", summary="One warning and its timeline", dependencies=[READERS])
def get_warning(warning_id: int, user: CurrentUser, conn: ConnDep) -> dict[str, Any]:
    """The warning as a GeoJSON Feature; `properties.timeline` lists raise, acknowledge and clear."""
    return warning_actions.one(conn, user, warning_id)


@router.post("/warnings/{warning_id}/acknowledge", summary="Acknowledge a warning", dependencies=[ACTORS])
def acknowledge_warning(
    warning_id: int, user: CurrentUser, conn: ConnDep, body: Note | None = None
) -> dict[str, Any]:
    """Raised → acknowledged; 409 from any other state."""
    return warning_actions.act(
        conn, user, warning_id, "acknowledge", (body or Note()).note, datetime.now(UTC)
    )


@router.post("/warnings/{warning_id}/clear", summary="Clear a warning", dependencies=[ACTORS])
def clear_warning(
    warning_id: int, user: CurrentUser, conn: ConnDep, body: Note | None = None
) -> dict[str, Any]:
    """Raised or acknowledged → cleared; 409 when already cleared. A cause that persists is raised anew."""
    return warning_actions.act(conn, user, warning_id, "clear", (body or Note()).note, datetime.now(UTC))


@router.post("/warnings/check", summary="Run the warning rules now", dependencies=[GATEWAYS])
def check_warnings(conn: ConnDep, settings: SettingsDep) -> dict[str, Any]:
    """Per rule: causes found, warnings raised, escalated and cleared (a server timer runs them too)."""
    return {"rules": warning_rules.evaluate(conn, datetime.now(UTC), settings)}
