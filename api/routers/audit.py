"""The personal-data audit log: written on every unmasked read, readable by admins."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import unquote

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request

from api.deps import ConnDep, require_roles
from gis_core import audit
from gis_core.auth import User
from gis_core.layers import Layer

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
#: The caller may say why they read personal data (percent-encoded UTF-8, headers being ASCII);
#: otherwise the kind of read is the reason.
REASON_HEADER = "X-Access-Reason"


def log_read(
    request: Request,
    conn: sa.Connection,
    user: User,
    layers: tuple[Layer, ...] | list[Layer],
    action: str,
    rows: int | None,
    z: int | None = None,
) -> None:
    """Log the read if it carried personal data unmasked (nothing is logged for masked or empty reads)."""
    fields = audit.unmasked_fields(layers, user, z)
    if not fields or rows == 0:
        return
    resource = request.url.path
    reason = unquote(request.headers.get(REASON_HEADER, "")) or f"{action} read"
    client = request.client.host if request.client else None
    audit.record(conn, user, action, resource, fields, rows, reason, client)


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
