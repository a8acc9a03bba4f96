"""OAuth2 password flow: tokens in, tokens out, and who am I."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from api.deps import CurrentUser, SettingsDep, oauth2_scheme
from gis_core.platform.auth import Lockout, authenticate, issue_token, revoke_token, token_digest

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
    request.app.state.login_limiter.hit(request.client.host if request.client else "?", where="body.username")
    lockout = Lockout(settings.login_failures_max, settings.login_lock_minutes)
    with request.app.state.auth_engine.connect() as conn:  # the owner: credentials are not a request's
        try:
            user = authenticate(conn, form.username, form.password, lockout)
            ttl = timedelta(minutes=settings.token_ttl_minutes)
            value, _ = issue_token(conn, user, ttl)
        finally:
            conn.commit()  # a failure's count too
    return TokenOut(access_token=value, expires_in=int(ttl.total_seconds()))


@router.post("/logout", status_code=204, summary="Revoke the current token")
def logout(user: CurrentUser, request: Request, token: Annotated[str, Depends(oauth2_scheme)]) -> None:
    """Revoke the bearer token used for this request, committed before the answer goes out."""
    with request.app.state.auth_engine.begin() as conn:
        revoke_token(conn, token)
    request.app.state.token_cache.forget(token_digest(token))


@router.get("/me", response_model=Me, summary="Who am I")
def me(user: CurrentUser) -> Me:
    """The authenticated user."""
    return Me(**user.__dict__)
