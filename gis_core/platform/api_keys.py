"""API keys: named, long-lived tokens for desktop GIS clients, which send them as an HTTP Basic password.

QGIS as Debian ships it authenticates with Basic, PKI or Esri tokens, not bearer tokens; an
API key lets it (and GDAL) read the OGC API and tiles without keeping the account's password
in a project file. A key is a token row with a name (migration 0021): checked, cached and
revoked exactly as a login's token is, but listed and revoked by its owner, by id.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from gis_core.platform.auth import User, announce_revoked, issue_token, token_digest
from gis_core.platform.clock import iso
from gis_core.platform.errors import NotFound


def issue(conn: sa.Connection, user: User, name: str, ttl: timedelta) -> dict[str, Any]:
    """A new key for `user`: its id, name, expiry and the key itself (shown this once, stored hashed)."""
    key, expires = issue_token(conn, user, ttl)
    key_id = conn.execute(
        sa.text("UPDATE api_token SET name = :n WHERE token_hash = :h RETURNING id"),
        {"n": name, "h": token_digest(key)},
    ).scalar_one()
    return {"id": key_id, "name": name, "expires_at": iso(expires), "key": key}


def listed(conn: sa.Connection, user: User) -> list[dict[str, Any]]:
    """`user`'s keys, newest first, without the secret."""
    rows = conn.execute(
        sa.text(
            "SELECT id, name, issued_at, expires_at, revoked_at FROM api_token "
            "WHERE user_id = :u AND name IS NOT NULL ORDER BY id DESC"
        ),
        {"u": user.id},
    ).all()
    return [{k: iso(v) if isinstance(v, datetime) else v for k, v in r._mapping.items()} for r in rows]


def revoke(conn: sa.Connection, user: User, key_id: int) -> None:
    """Revoke one of `user`'s keys; every server process forgets it at once. 404 for another's or none."""
    digest = conn.execute(
        sa.text(
            "UPDATE api_token SET revoked_at = coalesce(revoked_at, now()) "
            "WHERE id = :id AND user_id = :u AND name IS NOT NULL RETURNING token_hash"
        ),
        {"id": key_id, "u": user.id},
    ).scalar()
    if digest is None:
        raise NotFound(f"you have no API key {key_id}", where="path.key_id")
    announce_revoked(conn, [digest])
