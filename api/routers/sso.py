"""Single sign-on: the browser's round trip through the district's identity provider."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Cookie, Query, Request
from fastapi.responses import RedirectResponse

from api.auth_db import auth_transaction
from api.deps import SettingsDep
from gis_core.platform import oidc
from gis_core.platform.auth import issue_token
from gis_core.platform.errors import AuthError, InvalidInput

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])

#: The cookie binding a login's state to the browser that began it (no login CSRF).
STATE_COOKIE = "onegrid_oidc_state"


@router.get("/providers", summary="Single sign-on offered to the login forms")
def providers(settings: SettingsDep) -> dict[str, Any]:
    """`{"oidc": {...}}` when a provider is configured, so the forms offer 统一身份认证登录; else `{}`."""
    if not settings.oidc_issuer:
        return {}
    return {"oidc": {"issuer": settings.oidc_issuer, "login": "/api/v1/auth/oidc/login"}}


def _redirect_uri(request: Request, settings: SettingsDep) -> str:
    return settings.oidc_redirect_url or str(request.url_for("oidc_callback"))


@router.get("/oidc/login", summary="Log in at the identity provider (302 there)", status_code=302)
def oidc_login(
    request: Request, settings: SettingsDep, next: Annotated[str, Query(max_length=500)] = "/"
) -> RedirectResponse:
    """Send the browser to the provider with a state, a nonce and a PKCE challenge; back to `next` after."""
    with auth_transaction(request) as conn:
        url, state = oidc.begin(conn, settings, _redirect_uri(request, settings), next)
    out = RedirectResponse(url, status_code=302)
    out.set_cookie(
        STATE_COOKIE, state, max_age=oidc.LOGIN_MINUTES * 60, httponly=True, samesite="lax",
        path="/api/v1/auth/oidc", secure=request.url.scheme == "https",
    )  # fmt: skip
    return out


@router.get("/oidc/callback", name="oidc_callback", summary="The provider's answer (302 to the page)")
def oidc_callback(
    request: Request,
    settings: SettingsDep,
    state: Annotated[str, Query(max_length=200)] = "",
    code: Annotated[str, Query(max_length=2000)] = "",
    error: Annotated[str, Query(max_length=200)] = "",
    error_description: Annotated[str, Query(max_length=500)] = "",
    bound: Annotated[str | None, Cookie(alias=STATE_COOKIE)] = None,
) -> RedirectResponse:
    """Check the answer, issue a OneGrid token and return to the page with it in the fragment.

    The fragment never reaches a server or a Referer; the page's session script keeps the token
    and clears the address.
    """
    if error:
        raise AuthError(f"the identity provider says {error}: {error_description}", where="query.error")
    if not (state and code):
        raise InvalidInput("state and code are required", where="query.state")
    if bound != state:
        raise InvalidInput("this login was not begun in this browser", where="query.state")
    with auth_transaction(request) as conn:  # taken for good, whatever happens next
        pending = oidc.take(conn, state)
    claims = oidc.exchange(settings, pending, code)
    with auth_transaction(request) as conn:
        user = oidc.account_of(conn, settings, claims)
        token, _ = issue_token(conn, user, timedelta(minutes=settings.token_ttl_minutes))
    out = RedirectResponse(f"{pending.next_path}#sso_token={quote(token)}", status_code=302)
    out.delete_cookie(STATE_COOKIE, path="/api/v1/auth/oidc")
    return out
