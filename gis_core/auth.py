"""Users, password hashing (pwdlib/Argon2) and opaque bearer tokens with expiry and revocation.

Tokens are random strings handed to the client once; only their SHA-256 is stored, so a
database leak does not leak usable tokens, and revoking one is a row update. No signing
secret exists, hence none can be left at a default.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import sqlalchemy as sa
from pwdlib import PasswordHash

from gis_core.errors import AuthError

ROLES = (
    "admin",
    "commander",
    "street_officer",
    "community_officer",
    "grid_worker",
    "department_handler",
    "planner",
    "citizen",
)


@lru_cache
def _hasher() -> PasswordHash:
    return PasswordHash.recommended()


def hash_password(password: str) -> str:
    """An Argon2id hash of `password`."""
    return _hasher().hash(password)


# A real hash to verify against when the user does not exist, so timing does not tell.
_DUMMY_HASH: str | None = None


@dataclass(frozen=True)
class User:
    """The authenticated caller: who, which role, and where they may act."""

    id: int
    username: str
    display_name: str
    role: str
    jurisdiction_code: str | None
    department_code: str | None


_LOGIN_SQL = sa.text(
    "SELECT u.id, u.username, u.display_name, u.role, u.jurisdiction_code, u.department_code, "
    "u.password_hash, u.active FROM app_user u WHERE u.username = :u"
)
_TOKEN_SQL = sa.text(
    "SELECT u.id, u.username, u.display_name, u.role, u.jurisdiction_code, u.department_code "
    "FROM api_token t JOIN app_user u ON u.id = t.user_id "
    "WHERE t.token_hash = :h AND t.revoked_at IS NULL AND t.expires_at > now() AND u.active"
)


def authenticate(conn: sa.Connection, username: str, password: str) -> User:
    """Check a username and password; raise AuthError on any mismatch."""
    global _DUMMY_HASH
    row = conn.execute(_LOGIN_SQL, {"u": username}).first()
    if row is None or row.password_hash is None or not row.active:
        _DUMMY_HASH = _DUMMY_HASH or hash_password(secrets.token_hex(8))
        _hasher().verify(password, _DUMMY_HASH)
        raise AuthError("incorrect username or password")
    if not _hasher().verify(password, row.password_hash):
        raise AuthError("incorrect username or password")
    return User(row.id, row.username, row.display_name, row.role, row.jurisdiction_code, row.department_code)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(conn: sa.Connection, user: User, ttl: timedelta) -> tuple[str, datetime]:
    """Create a bearer token for `user`; returns the token and its expiry."""
    token = secrets.token_urlsafe(32)
    expires = datetime.now(UTC) + ttl
    conn.execute(
        sa.text("INSERT INTO api_token (token_hash, user_id, expires_at) VALUES (:h, :u, :e)"),
        {"h": _digest(token), "u": user.id, "e": expires},
    )
    return token, expires


def user_for_token(conn: sa.Connection, token: str) -> User:
    """The user a live (unexpired, unrevoked) token belongs to; AuthError otherwise."""
    row = conn.execute(_TOKEN_SQL, {"h": _digest(token)}).first()
    if row is None:
        raise AuthError("token is invalid, expired or revoked")
    return User(*row)


def revoke_token(conn: sa.Connection, token: str) -> None:
    """Revoke a token so it no longer authenticates."""
    conn.execute(
        sa.text("UPDATE api_token SET revoked_at = now() WHERE token_hash = :h AND revoked_at IS NULL"),
        {"h": _digest(token)},
    )
