"""OAuth2 password flow: tokens in, tokens out, and who am I."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field

from api.auth_db import auth_transaction
from api.deps import CurrentUser, SettingsDep, oauth2_scheme, password_user
from gis_core.platform import accounts, api_keys
from gis_core.platform.auth import issue_token, revoke_token
from gis_core.platform.errors import InvalidInput
from gis_core.publishing import edge

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class TokenOut(BaseModel):
    """An OAuth2 bearer token response."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int


class Me(BaseModel):
    """The caller's identity and scope."""

    id: int
    username: str
    display_name: str
    role: str
    jurisdiction_code: str | None
    department_code: str | None


@router.post(
    "/token",
    response_model=TokenOut,
    summary="Log in (OAuth2 password flow)",
    responses={401: {"description": "Wrong credentials"}, 429: {"description": "Locked or rate-limited"}},
)
def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], request: Request, settings: SettingsDep
) -> TokenOut:
    """Exchange a username and password for a bearer token.

    Attempts are limited per client address; repeated wrong passwords lock the account
    for a while (429 problem with Retry-After either way).
    """
    user = password_user(request, form.username, form.password, where="body.username")
    ttl = timedelta(minutes=settings.token_ttl_minutes)
    with auth_transaction(request) as conn:
        value, _ = issue_token(conn, user, ttl)
    return TokenOut(access_token=value, expires_in=int(ttl.total_seconds()))


@router.post("/logout", status_code=204, summary="Revoke the current token")
def logout(user: CurrentUser, request: Request, token: Annotated[str, Depends(oauth2_scheme)]) -> None:
    """Revoke the bearer token used for this request, committed before the answer goes out."""
    with auth_transaction(request) as conn:
        revoke_token(conn, token)


class PasswordChangeIn(BaseModel):
    """An account's own new password, with its current (or one-time) one."""

    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=200, description="the current or one-time password")
    new_password: str = Field(min_length=1, max_length=200)


@router.post(
    "/password",
    status_code=204,
    summary="Change my password (required after a one-time password)",
    responses={400: {"description": "Against the password policy"}, 401: {"description": "Wrong password"}},
)
def change_password(body: PasswordChangeIn, request: Request) -> None:
    """Checked like a login (rate limit, lock-out); the new one meets the policy and is not the old one."""
    user = password_user(request, body.username, body.password, where="body.password", changing=True)
    if body.new_password == body.password:
        raise InvalidInput("the new password is the old one", where="body.new_password")
    with auth_transaction(request) as conn:
        accounts.change_password(conn, user.username, body.new_password)


@router.get("/me", response_model=Me, summary="Who am I")
def me(user: CurrentUser) -> Me:
    """The authenticated user."""
    return Me(**user.__dict__)


@router.get("/reader-class", status_code=204, summary="The tile edge cache's class of the caller")
async def reader_class(user: CurrentUser, response: Response) -> None:
    """`X-Reader-Class`: the edge (`onegrid edge`) keeps tiles per class (`gis_core.publishing.edge`)."""
    response.headers["X-Reader-Class"] = edge.reader_class(user)


class ApiKeyIn(BaseModel):
    """What the key is for (shown in the list, so that the right one can be revoked)."""

    name: str = Field(min_length=1, max_length=100, description="e.g. 'QGIS on the planning office PC'")


@router.post(
    "/api-keys", status_code=201, summary="A new API key (the HTTP Basic password for QGIS and GDAL)"
)
def new_api_key(body: ApiKeyIn, user: CurrentUser, request: Request, settings: SettingsDep) -> dict[str, Any]:
    """The key is in this answer only; it is stored hashed. It reads what your account reads."""
    with auth_transaction(request) as conn:
        return api_keys.issue(conn, user, body.name, timedelta(days=settings.api_key_days))


@router.get("/api-keys", summary="My API keys (without the secrets)")
def my_api_keys(user: CurrentUser, request: Request) -> list[dict[str, Any]]:
    """Each key's id, name, issue and expiry times, and when it was revoked."""
    with request.app.state.auth_engine.connect() as conn:
        return api_keys.listed(conn, user)


@router.delete("/api-keys/{key_id}", status_code=204, summary="Revoke one of my API keys")
def revoke_api_key(key_id: int, user: CurrentUser, request: Request) -> None:
    """Revoked at once in every server process; 404 for a key that is not yours."""
    with auth_transaction(request) as conn:
        api_keys.revoke(conn, user, key_id)
