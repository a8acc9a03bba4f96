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

from gis_core.platform.errors import AuthError, PasswordChangeRequired, RateLimited

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

# ---- the one vocabulary of role groups: routers, layers and scopes take them from here
#: The street and community offices: an area each.
OFFICERS = ("street_officer", "community_officer")
#: The command centre, and the admins who run it.
COMMAND = ("admin", "commander")
#: Who sorts, dispatches and calls: the command centre and the offices.
COORDINATING = (*COMMAND, *OFFICERS)
#: Read the whole district (planners with personal fields masked).
DISTRICT_WIDE = ("admin", "commander", "planner")
#: Staff on the loop, who see each other's phone numbers and the operational layers.
STAFF = (*COORDINATING, "grid_worker", "department_handler")
#: Coordinators and the grid workers in their area: warnings, point-calls.
FIELD = (*COORDINATING, "grid_worker")
#: Who reads the analyses: coordinators, handlers and planners.
ANALYSTS = (*COORDINATING, "department_handler", "planner")
#: Who watches the wall's tours: coordinators and planners.
WATCHERS = (*COORDINATING, "planner")
#: Who reads residents and tracks: field staff and planners.
AREA_READERS = (*FIELD, "planner")
#: Who watches the district's places (key points, cold-chain sites): staff and planners.
PLACE_WATCHERS = (*STAFF, "planner")
#: Who uploads GPS tracks: grid workers, and the command centre for corrections.
TRACK_UPLOADERS = ("grid_worker", *COMMAND)


def known_roles(roles: tuple[str, ...] | list[str] | set[str], where: str) -> tuple[str, ...]:
    """`roles`, checked against ROLES: a misspelt role would silently let nobody in."""
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise ValueError(f"{where}: unknown role(s) {', '.join(unknown)}; roles are {', '.join(ROLES)}")
    return tuple(roles)


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


_USER_SQL = (
    "SELECT id, username, display_name, role, jurisdiction_code, department_code FROM app_user "
    "WHERE active AND "
)


def user_named(conn: sa.Connection, username: str) -> User | None:
    """The active account `username` as the domain functions take a user (notebooks, jobs, tests)."""
    row = conn.execute(sa.text(_USER_SQL + "username = :u"), {"u": username}).first()
    return None if row is None else User(*row)


def user_with_id(conn: sa.Connection, uid: int) -> User | None:
    """The active account with id `uid`, as the domain functions take a user."""
    row = conn.execute(sa.text(_USER_SQL + "id = :i"), {"i": uid}).first()
    return None if row is None else User(*row)


_LOGIN_SQL = sa.text(
    "SELECT u.id, u.username, u.display_name, u.role, u.jurisdiction_code, u.department_code, "
    "u.password_hash, u.active, u.failed_logins, u.must_change_password, "
    "ceil(extract(epoch FROM u.locked_until - now()))::int AS locked_s "
    "FROM app_user u WHERE u.username = :u FOR UPDATE"
)
_TOKEN_SQL = sa.text(
    "SELECT u.id, u.username, u.display_name, u.role, u.jurisdiction_code, u.department_code, t.expires_at "
    "FROM api_token t JOIN app_user u ON u.id = t.user_id "
    "WHERE t.token_hash = :h AND t.revoked_at IS NULL AND t.expires_at > now() AND u.active"
)


@dataclass(frozen=True)
class Lockout:
    """After `failures` wrong passwords in a row an account locks for `minutes` (from the settings)."""

    failures: int
    minutes: float


def authenticate(
    conn: sa.Connection, username: str, password: str, lockout: Lockout, changing: bool = False
) -> User:
    """Check a username and password; raise AuthError on a mismatch, RateLimited while locked.

    An account with a one-time password gets no session (PasswordChangeRequired) until it has
    chosen its own; `changing`: the check before that change.

    Failures are counted on `conn`: the caller commits them even when this raises. A
    locked account refuses even the right password until the lock ends; a success resets
    the count.
    """
    global _DUMMY_HASH
    row = conn.execute(_LOGIN_SQL, {"u": username}).first()
    if row is None or row.password_hash is None or not row.active:
        _DUMMY_HASH = _DUMMY_HASH or hash_password(secrets.token_hex(8))
        _hasher().verify(password, _DUMMY_HASH)
        raise AuthError("incorrect username or password")
    if row.locked_s is not None and row.locked_s > 0:
        raise RateLimited(
            f"too many failed logins: the account is locked for {row.locked_s} s", retry_after=row.locked_s
        )
    if not _hasher().verify(password, row.password_hash):
        locks = row.failed_logins + 1 >= lockout.failures
        conn.execute(
            sa.text(
                "UPDATE app_user SET failed_logins = CASE WHEN :locks THEN 0 ELSE failed_logins + 1 END, "
                "locked_until = CASE WHEN :locks THEN now() + make_interval(secs => :s) END WHERE id = :id"
            ),
            {"locks": locks, "s": lockout.minutes * 60, "id": row.id},
        )
        raise AuthError("incorrect username or password")
    if row.failed_logins or row.locked_s is not None:
        reset = "UPDATE app_user SET failed_logins = 0, locked_until = NULL WHERE id = :id"
        conn.execute(sa.text(reset), {"id": row.id})
    if row.must_change_password and not changing:
        raise PasswordChangeRequired(
            "this is a one-time password: choose your own first (POST /api/v1/auth/password)",
            where="body.password",
        )
    return User(row.id, row.username, row.display_name, row.role, row.jurisdiction_code, row.department_code)


def token_digest(token: str) -> str:
    """The SHA-256 hex digest under which a token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(conn: sa.Connection, user: User, ttl: timedelta) -> tuple[str, datetime]:
    """Create a bearer token for `user`; returns the token and its expiry."""
    token = secrets.token_urlsafe(32)
    expires = datetime.now(UTC) + ttl
    conn.execute(
        sa.text("INSERT INTO api_token (token_hash, user_id, expires_at) VALUES (:h, :u, :e)"),
        {"h": token_digest(token), "u": user.id, "e": expires},
    )
    return token, expires


def user_for_token(conn: sa.Connection, token: str) -> User:
    """The user a live (unexpired, unrevoked) token belongs to; AuthError otherwise."""
    return token_user_and_expiry(conn, token)[0]


def token_user_and_expiry(conn: sa.Connection, token: str) -> tuple[User, datetime]:
    """The user a live token belongs to and when the token expires; AuthError otherwise."""
    row = conn.execute(_TOKEN_SQL, {"h": token_digest(token)}).first()
    if row is None:
        raise AuthError("token is invalid, expired or revoked")
    return User(*row[:-1]), row[-1]


#: Where a connection keeps the digests it revoked, for its own process to forget at commit.
REVOKED = "onegrid_revoked"


def announce_revoked(conn: sa.Connection, digests: list[str]) -> None:
    """Tell every server process to forget these tokens when the transaction commits (NOTIFY).

    The notice reaches this process too, but a moment later through its listener; the digests
    are also kept on the connection so that the request that revoked forgets them before it
    answers (`api.deps.auth_transaction`): no window in which a revoked token still works here.
    """
    for d in digests:
        conn.execute(sa.text("SELECT pg_notify('onegrid_tokens', :h)"), {"h": d})
    conn.info.setdefault(REVOKED, []).extend(digests)


def revoke_token(conn: sa.Connection, token: str) -> None:
    """Revoke a token so it no longer authenticates; every server process is told to forget it."""
    conn.execute(
        sa.text("UPDATE api_token SET revoked_at = now() WHERE token_hash = :h AND revoked_at IS NULL"),
        {"h": token_digest(token)},
    )
    announce_revoked(conn, [token_digest(token)])


class TokenCache:
    """Users of recently seen tokens, so that cheap reads (cached tiles) need no database trip.

    An entry lives `ttl_s` seconds at most, and never past the token's expiry. A revocation
    (NOTIFY on `onegrid_tokens`) drops it at once in every process; a deactivated account
    or a changed role takes effect within `ttl_s`. Past `REFRESH_AT` of its life an entry is
    still answered but due for a check in the background (`lookup`), so a busy client's
    requests never wait for its token check, and the checks of many clients do not all
    fall due in the same instant.
    """

    #: Share of an entry's life after which it is refreshed in the background.
    REFRESH_AT = 0.75

    def __init__(self, ttl_s: float = 30.0, max_entries: int = 10_000):
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[str, tuple[User, float, float]] = {}  # digest → user, expires, refresh at
        self._generation = 0

    @property
    def generation(self) -> int:
        """Bumped by every forget or clear; a check records it before asking the database."""
        return self._generation

    def get(self, token: str, now: float) -> User | None:
        """The cached user of `token`, if still fresh."""
        return self.lookup(token, now)[0]

    def lookup(self, token: str, now: float) -> tuple[User | None, bool]:
        """The cached user of `token` (None when unknown or expired), and whether it is due a refresh."""
        found = self._entries.get(token_digest(token))
        if found is None or found[1] <= now:
            return None, False
        return found[0], found[2] <= now

    def put(self, token: str, user: User, expires_at: datetime, now: float, generation: int) -> None:
        """Remember `token`'s user until `ttl_s` from `now` or the token's expiry.

        Not when a revocation arrived since `generation`: the database answer may predate it.
        """
        if generation != self._generation:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        life = min(self.ttl_s, (expires_at - datetime.now(UTC)).total_seconds())
        self._entries[token_digest(token)] = (user, now + life, now + self.REFRESH_AT * life)

    def clear(self) -> None:
        """Forget every token (revocations may have been missed)."""
        self._generation += 1
        self._entries.clear()

    def forget(self, digest: str) -> None:
        """Drop the token with this SHA-256 digest (a revocation notice)."""
        self._generation += 1
        self._entries.pop(digest, None)
