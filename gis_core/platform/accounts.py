"""Accounts: the checks that run at start-up, and what an admin does with accounts.

Admins create accounts with a one-time password that must be changed at the first login,
disable and enable them, reset passwords and set roles and places, from the command line
(`onegrid user …`) or the admin API and page; each change is a row of the append-only admin
log. These run as the tables' owner (the request role may not read password hashes).
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from gis_core.platform.auth import ROLES, _hasher, announce_revoked, hash_password
from gis_core.platform.errors import Conflict, Forbidden, InvalidInput, NotFound

DEMO_PASSWORD = "onegrid-demo"
"""The demo accounts' published password; refused outside demo mode."""


class DefaultSecretError(RuntimeError):
    """Demo accounts with the published demo password exist outside demo mode."""


def refuse_demo_passwords(conn: sa.Connection) -> None:
    """Raise if any account still has the published demo password (outside demo mode)."""
    rows = conn.execute(
        sa.text("SELECT username, password_hash FROM app_user WHERE password_hash IS NOT NULL")
    )
    weak = [r.username for r in rows if _hasher().verify(DEMO_PASSWORD, r.password_hash)]
    if weak:
        raise DefaultSecretError(
            f"accounts {weak} still use the demo password; change them or set ONEGRID_DEMO_MODE=true"
        )


# ---------------------------------------------------------------- accounts without the demo
#: The password policy: long enough, of mixed kinds (or a long pass phrase), not the name.
PASSWORD_MIN = 10
PHRASE_MIN = 16
_KINDS = (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^A-Za-z0-9]")
_ACCOUNT_COLUMNS = (
    "u.id, u.username, u.display_name, u.role, u.jurisdiction_code, u.department_code, u.active, "
    "u.must_change_password, u.created_at, u.password_changed_at, w.code AS worker_code"
)
_ACCOUNTS = f"SELECT {_ACCOUNT_COLUMNS} FROM app_user u LEFT JOIN worker w ON w.user_id = u.id"  # noqa: S608


def check_password(username: str, password: str, where: str = "body.password") -> None:
    """Refuse a password the policy does not allow, saying what it needs."""
    if len(password) < PASSWORD_MIN:
        raise InvalidInput(f"a password has at least {PASSWORD_MIN} characters", where=where)
    kinds = sum(bool(re.search(k, password)) for k in _KINDS)
    if kinds < 3 and len(password) < PHRASE_MIN:
        raise InvalidInput(
            "use three of lower case, upper case, digits and other characters, "
            f"or a pass phrase of {PHRASE_MIN} characters or more",
            where=where,
        )
    if username.lower() in password.lower() or password == DEMO_PASSWORD:
        raise InvalidInput("a password may not contain the username or be the demo password", where=where)


@dataclass(frozen=True)
class Account:
    """An account as an admin describes it: who, which role, and where they act."""

    username: str
    display_name: str
    role: str
    jurisdiction_code: str | None = None
    department_code: str | None = None
    worker_code: str | None = None  # a grid worker's record, linked to this account


def log(
    conn: sa.Connection, actor: str, action: str, subject: str, data: dict[str, Any] | None = None
) -> None:
    """Append one change to the admin log (it cannot be edited or deleted)."""
    conn.execute(
        sa.text(
            "INSERT INTO admin_log (actor, action, subject, data) VALUES (:a, :x, :s, CAST(:d AS jsonb))"
        ),
        {"a": actor, "x": action, "s": subject, "d": json.dumps(data or {}, ensure_ascii=False)},
    )


def _exists(conn: sa.Connection, sql: str, value: str) -> bool:
    return conn.execute(sa.text(sql), {"v": value}).first() is not None


def _check_place(conn: sa.Connection, a: Account, user_id: int | None) -> None:
    """The role is known and its place exists (an officer's street or community, a department, a worker)."""
    if a.role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", where="body.role")
    needs = {
        "street_officer": ("jurisdiction_code", "SELECT 1 FROM street WHERE code = :v", "a street's code"),
        "community_officer": (
            "jurisdiction_code",
            "SELECT 1 FROM community WHERE code = :v",
            "a community's code",
        ),
        "department_handler": (
            "department_code",
            "SELECT 1 FROM department WHERE code = :v AND level = 'district'",
            "a district department's code",
        ),
        "grid_worker": (
            "worker_code",
            "SELECT 1 FROM worker WHERE code = :v AND active",
            "an active worker's code",
        ),
    }.get(a.role)
    if needs is None:
        return
    field, sql, what = needs
    value = getattr(a, field)
    if not value or not _exists(conn, sql, value):
        raise InvalidInput(f"a {a.role} needs {what} in {field}", where=f"body.{field}")
    if a.role == "grid_worker":
        other = conn.execute(
            sa.text("SELECT u.username FROM worker w JOIN app_user u ON u.id = w.user_id WHERE w.code = :v"),
            {"v": value},
        ).scalar()
        if other is not None and (user_id is None or other != a.username):
            raise Conflict(f"worker {value} already has the account {other!r}", where="body.worker_code")


def _link_worker(conn: sa.Connection, a: Account, user_id: int) -> None:
    conn.execute(sa.text("UPDATE worker SET user_id = NULL WHERE user_id = :u"), {"u": user_id})
    if a.role == "grid_worker":
        conn.execute(
            sa.text("UPDATE worker SET user_id = :u WHERE code = :v"), {"u": user_id, "v": a.worker_code}
        )


def one_time_password() -> str:
    """A password for an admin to hand over, to be changed at the first login (it meets the policy)."""
    return "Og-" + secrets.token_urlsafe(12)


def account(conn: sa.Connection, username: str) -> dict[str, Any]:
    """One account as an admin sees it (no password hash); 404 when there is none."""
    row = conn.execute(sa.text(f"{_ACCOUNTS} WHERE u.username = :n"), {"n": username}).mappings().first()
    if row is None:
        raise NotFound(f"no account {username!r}", where="path.username")
    return dict(row)


def accounts(conn: sa.Connection) -> list[dict[str, Any]]:
    """Every account, by role and name."""
    return [dict(r) for r in conn.execute(sa.text(f"{_ACCOUNTS} ORDER BY u.role, u.username")).mappings()]


def add(conn: sa.Connection, actor: str, a: Account) -> tuple[dict[str, Any], str]:
    """Create an account with a one-time password (returned once, never stored in clear)."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]{3,40}", a.username):
        raise InvalidInput("a username is 3-40 letters, digits, '.', '_' or '-'", where="body.username")
    if not a.display_name.strip():
        raise InvalidInput("a display name is required", where="body.display_name")
    _check_place(conn, a, None)
    password = one_time_password()
    row = conn.execute(
        sa.text(
            "INSERT INTO app_user (username, display_name, password_hash, role, jurisdiction_code, "
            "department_code, must_change_password) VALUES (:n, :d, :h, :r, :j, :dept, true) "
            "ON CONFLICT (username) DO NOTHING RETURNING id"
        ),
        {
            "n": a.username,
            "d": a.display_name.strip(),
            "h": hash_password(password),
            "r": a.role,
            "j": a.jurisdiction_code,
            "dept": a.department_code,
        },
    ).first()
    if row is None:
        raise Conflict(f"the account {a.username!r} exists already", where="body.username")
    _link_worker(conn, a, row.id)
    log(conn, actor, "user.add", a.username, _described(a))
    return account(conn, a.username), password


def vouched(conn: sa.Connection, issuer: str, subject: str, a: Account) -> int:
    """The id of the account an identity provider vouches for, made or brought in line with its claims.

    The provider is the source of truth for role and place: a change there changes the account
    at its next login (logged, its other sessions ended). It has no local password.
    """
    actor = f"oidc:{issuer}"
    uid = conn.execute(
        sa.text("SELECT id FROM app_user WHERE sso_issuer = :i AND sso_subject = :s FOR UPDATE"),
        {"i": issuer, "s": subject},
    ).scalar()
    if uid is None:
        if not re.fullmatch(r"[A-Za-z0-9_.@-]{3,80}", a.username):
            raise InvalidInput(f"the provider's username {a.username!r} is unusable", where="claims.username")
        _check_place(conn, a, None)
        uid = conn.execute(
            sa.text(
                "INSERT INTO app_user (username, display_name, role, jurisdiction_code, department_code, "
                "sso_issuer, sso_subject) VALUES (:n, :d, :r, :j, :dept, :i, :s) "
                "ON CONFLICT (username) DO NOTHING RETURNING id"
            ),
            {"n": a.username, "d": a.display_name, "r": a.role, "j": a.jurisdiction_code,
             "dept": a.department_code, "i": issuer, "s": subject},
        ).scalar()  # fmt: skip
        if uid is None:
            raise Conflict(
                f"a local account {a.username!r} exists; an admin renames or disables it first",
                where="claims.username",
            )
        _link_worker(conn, a, uid)
        log(conn, actor, "user.sso_add", a.username, _described(a) | {"subject": subject})
        return int(uid)
    now = conn.execute(sa.text(f"{_ACCOUNTS} WHERE u.id = :i"), {"i": uid}).mappings().one()
    if not now["active"]:
        raise Forbidden(f"the account {now['username']!r} is disabled", where="claims.username")
    was = (now["role"], now["jurisdiction_code"], now["department_code"], now["worker_code"])
    if was != (a.role, a.jurisdiction_code, a.department_code, a.worker_code):
        _check_place(conn, a, uid)
        revoked = _move(conn, a, uid)
        change = _described(a) | {"from": now["role"], "revoked": revoked}
        log(conn, actor, "user.sso_update", now["username"], change)
    return int(uid)


def _described(a: Account) -> dict[str, Any]:
    return {k: v for k, v in vars(a).items() if k != "username" and v is not None}


def revoke_all(conn: sa.Connection, user_id: int) -> int:
    """Revoke every live token and API key of an account; every server process forgets them at once."""
    digests = (
        conn.execute(
            sa.text(
                "UPDATE api_token SET revoked_at = now() WHERE user_id = :u AND revoked_at IS NULL "
                "RETURNING token_hash"
            ),
            {"u": user_id},
        )
        .scalars()
        .all()
    )
    announce_revoked(conn, list(digests))
    return len(digests)


def set_active(conn: sa.Connection, actor: str, username: str, active: bool) -> dict[str, Any]:
    """Enable or disable an account; disabling ends its sessions and API keys at once."""
    acc = account(conn, username)
    if not active and actor == username:
        raise Conflict("an admin does not disable their own account", where="path.username")
    conn.execute(sa.text("UPDATE app_user SET active = :a WHERE id = :i"), {"a": active, "i": acc["id"]})
    revoked = 0 if active else revoke_all(conn, acc["id"])
    log(conn, actor, "user.enable" if active else "user.disable", username, {"revoked": revoked})
    return account(conn, username)


def reset_password(conn: sa.Connection, actor: str, username: str) -> tuple[dict[str, Any], str]:
    """A new one-time password; the old one and every session end; the lock-out is lifted."""
    acc = account(conn, username)
    password = one_time_password()
    conn.execute(
        sa.text(
            "UPDATE app_user SET password_hash = :h, must_change_password = true, failed_logins = 0, "
            "locked_until = NULL WHERE id = :i"
        ),
        {"h": hash_password(password), "i": acc["id"]},
    )
    revoked = revoke_all(conn, acc["id"])
    log(conn, actor, "user.reset_password", username, {"revoked": revoked})
    return account(conn, username), password


def _move(conn: sa.Connection, a: Account, uid: int) -> int:
    """Give account `uid` the role and place of `a` (checked); its sessions end. Returns how many."""
    conn.execute(
        sa.text("UPDATE app_user SET role = :r, jurisdiction_code = :j, department_code = :d WHERE id = :i"),
        {"r": a.role, "j": a.jurisdiction_code, "d": a.department_code, "i": uid},
    )
    _link_worker(conn, a, uid)
    return revoke_all(conn, uid)


def set_role(conn: sa.Connection, actor: str, a: Account) -> dict[str, Any]:
    """Give an account a role and a place; its sessions end (they carry the old role)."""
    acc = account(conn, a.username)
    if actor == a.username and a.role != acc["role"]:
        raise Conflict("an admin does not change their own role", where="path.username")
    _check_place(conn, a, acc["id"])
    revoked = _move(conn, a, acc["id"])
    log(conn, actor, "user.set_role", a.username, _described(a) | {"from": acc["role"], "revoked": revoked})
    return account(conn, a.username)


def change_password(conn: sa.Connection, username: str, new_password: str) -> None:
    """The account's own new password (its old one checked by the caller), meeting the policy."""
    check_password(username, new_password, where="body.new_password")
    row = conn.execute(
        sa.text(
            "UPDATE app_user SET password_hash = :h, must_change_password = false, "
            "password_changed_at = now() WHERE username = :n RETURNING id"
        ),
        {"h": hash_password(new_password), "n": username},
    ).first()
    if row is None:
        raise NotFound(f"no account {username!r}", where="body.username")
    log(conn, username, "user.password", username)


def admin_log(conn: sa.Connection, subject: str | None, limit: int) -> list[dict[str, Any]]:
    """The admin log, newest first (one account's when `subject` is given)."""
    rows = conn.execute(
        sa.text(
            "SELECT id, at, actor, action, subject, data FROM admin_log "
            "WHERE CAST(:s AS text) IS NULL OR subject = :s ORDER BY id DESC LIMIT :n"
        ),
        {"s": subject, "n": limit},
    ).mappings()
    return [dict(r) for r in rows]
