"""For admins: accounts (one-time passwords, roles and places), the catalogue as data, and the admin log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from api.auth_db import auth_transaction
from api.deps import CurrentUser, require_roles
from gis_core.incidents import categories as catalogue
from gis_core.platform import accounts

router = APIRouter(prefix="/api/v1/admin", tags=["admin"], dependencies=[require_roles("admin")])


class AccountIn(BaseModel):
    """A new account: who, which role, and where they act."""

    username: str = Field(min_length=3, max_length=40)
    display_name: str = Field(min_length=1, max_length=100)
    role: str
    jurisdiction_code: str | None = Field(default=None, description="street or community code (officers)")
    department_code: str | None = Field(default=None, description="district department (handlers)")
    worker_code: str | None = Field(default=None, description="the worker record (grid workers)")


class AccountPatch(BaseModel):
    """What changes: enabled or not, and/or the role and place (given together)."""

    active: bool | None = None
    role: str | None = None
    jurisdiction_code: str | None = None
    department_code: str | None = None
    worker_code: str | None = None


def _actor(user: Any) -> str:
    return str(user.username)


@router.get("/users", summary="Every account (no password hashes)")
def list_users(request: Request) -> list[dict[str, Any]]:
    """Accounts by role and name, with whether each must still change its one-time password."""
    with request.app.state.auth_engine.connect() as conn:
        return accounts.accounts(conn)


@router.post("/users", status_code=201, summary="Create an account with a one-time password")
def add_user(body: AccountIn, user: CurrentUser, request: Request, response: Response) -> dict[str, Any]:
    """The account and its one-time password (shown this once; it must be changed at the first login)."""
    with auth_transaction(request) as conn:
        acc, password = accounts.add(conn, _actor(user), accounts.Account(**body.model_dump()))
    response.headers["Location"] = f"/api/v1/admin/users/{acc['username']}"
    return {"account": acc, "one_time_password": password}


@router.patch("/users/{username}", summary="Enable, disable, or set role and place")
def patch_user(username: str, body: AccountPatch, user: CurrentUser, request: Request) -> dict[str, Any]:
    """Disabling ends the account's sessions and API keys at once; so does a new role."""
    with auth_transaction(request) as conn:
        acc = accounts.account(conn, username)
        if body.role is not None:
            place = body.model_dump(exclude={"active"})
            acc = accounts.set_role(
                conn, _actor(user), accounts.Account(username, acc["display_name"], **place)
            )
        if body.active is not None and body.active != acc["active"]:
            acc = accounts.set_active(conn, _actor(user), username, body.active)
        return acc


@router.post("/users/{username}/reset-password", summary="A new one-time password")
def reset_password(username: str, user: CurrentUser, request: Request) -> dict[str, Any]:
    """The old password and every session end; the new one must be changed at the next login."""
    with auth_transaction(request) as conn:
        acc, password = accounts.reset_password(conn, _actor(user), username)
    return {"account": acc, "one_time_password": password}


@router.get("/log", summary="The admin log, newest first")
def log(
    request: Request,
    subject: Annotated[str | None, Query(description="one account's entries")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    """Every change an admin made to an account (and each password chosen), append-only."""
    with request.app.state.auth_engine.connect() as conn:
        return accounts.admin_log(conn, subject, limit)


class CategoryIn(BaseModel):
    """A new catalogue item (of a new or an existing class)."""

    code: str = Field(description="4 digits, the first two its class's")
    major_code: str
    major_name: str = Field(min_length=1)
    name: str = Field(min_length=1)
    name_en: str = ""
    handling_level: str
    department_code: str
    accept_hours: float
    dispatch_hours: float
    handle_hours: float


@router.post("/categories", status_code=201, summary="A new catalogue item")
def add_category(body: CategoryIn, user: CurrentUser, request: Request) -> dict[str, Any]:
    """The item at version 1; reports may use it at once."""
    with auth_transaction(request) as conn:
        return catalogue.add(conn, _actor(user), body.model_dump())


@router.patch(
    "/categories/{code}", summary="Change a catalogue item (a new version for routing or deadlines)"
)
def edit_category(code: str, body: dict[str, Any], user: CurrentUser, request: Request) -> dict[str, Any]:
    """Any of the item's names, class, handling level, department and stage deadlines.

    New incidents take the new version; those reported before keep theirs.
    """
    with auth_transaction(request) as conn:
        return catalogue.edit(conn, _actor(user), code, body)


@router.get("/categories/{code}", summary="A catalogue item with its versions")
def get_category(code: str, request: Request) -> dict[str, Any]:
    """The item now and every version before, who made each and from when."""
    with request.app.state.auth_engine.connect() as conn:
        return catalogue.item(conn, code)


@router.delete("/categories/{code}", status_code=204, summary="Remove a catalogue item nobody reported under")
def delete_category(code: str, user: CurrentUser, request: Request) -> None:
    """409 while any incident is filed under it."""
    with auth_transaction(request) as conn:
        catalogue.delete(conn, _actor(user), code)
