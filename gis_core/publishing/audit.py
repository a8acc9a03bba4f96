"""The personal-data audit log: one append-only row per unmasked read (who, what, when, why).

Rows go to `pii_access` (migration 0009), which no role may update or delete, in the same
transaction as the read when there is one, so a read that fails leaves no row and a read
that succeeds always leaves one. Admins read the log through the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from gis_core.platform.auth import User
from gis_core.publishing.layers import Layer

_INSERT = sa.text(
    "INSERT INTO pii_access (user_id, username, role, action, resource, fields, rows, reason, client) "
    "VALUES (:uid, :username, :role, :action, :resource, :fields, :rows, :reason, :client)"
)


@dataclass(frozen=True)
class ReadContext:
    """Where a read came from: the resource read, the reader's stated reason (if any), their address."""

    resource: str
    reason: str = ""
    client: str | None = None


def unmasked_fields(layers: tuple[Layer, ...] | list[Layer], user: User, z: int | None = None) -> list[str]:
    """The personal fields `user` reads unmasked from `layers` (at zoom `z`: clusters carry none)."""
    out = []
    for layer in layers:
        if z is not None and layer.clustered(z):
            continue
        visible = set(layer.visible_fields(user, in_tiles=z is not None))
        if user.role in layer.pii_roles:
            out += [f"{layer.id}.{f}" for f in layer.pii if f in visible]
    return out


def record(
    conn: sa.Connection,
    user: User,
    action: str,
    resource: str,
    fields: list[str],
    rows: int | None,
    reason: str,
    client: str | None = None,
) -> None:
    """Log one unmasked read of `fields` (`rows` records; None when unknown, as in a tile)."""
    conn.execute(
        _INSERT,
        {
            "uid": user.id,
            "username": user.username,
            "role": user.role,
            "action": action,
            "resource": resource,
            "fields": fields,
            "rows": rows,
            "reason": reason[:500],
            "client": client,
        },
    )


def log_read(
    conn: sa.Connection,
    user: User,
    layers: tuple[Layer, ...] | list[Layer],
    action: str,
    rows: int | None,
    where: ReadContext,
    z: int | None = None,
) -> None:
    """Log the read if it carried personal data unmasked (nothing is logged for masked or empty reads).

    With no reason given, the kind of read is the reason.
    """
    fields = unmasked_fields(layers, user, z)
    if fields and rows != 0:
        record(
            conn, user, action, where.resource, fields, rows, where.reason or f"{action} read", where.client
        )


def entries(
    conn: sa.Connection,
    since: datetime | None = None,
    until: datetime | None = None,
    username: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """The newest log rows first, filtered by time and user."""
    conds: list[str] = ["true"]
    params: dict[str, Any] = {"limit": limit}
    if since is not None:
        conds.append("at >= :since")
        params["since"] = since
    if until is not None:
        conds.append("at < :until")
        params["until"] = until
    if username:
        conds.append("username = :username")
        params["username"] = username
    sql = f"SELECT * FROM pii_access WHERE {' AND '.join(conds)} ORDER BY id DESC LIMIT :limit"  # noqa: S608
    return [dict(r._mapping) for r in conn.execute(sa.text(sql), params)]
