"""The personal-data audit log: written on every unmasked read, readable by admins."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import ConnDep, require_roles
from gis_core.publishing import audit

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get("/pii", summary="Unmasked personal-data reads (admins)", dependencies=[require_roles("admin")])
def pii_log(
    conn: ConnDep,
    since: datetime | None = None,
    until: datetime | None = None,
    username: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Who read whose personal data, when, what and why: newest first."""
    return audit.entries(conn, since, until, username, limit)
