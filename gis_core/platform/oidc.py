"""Single sign-on with a district's identity provider: OpenID Connect, authorization code with PKCE.

The seeds' districts ask for one account for every system (中山: "一个账号、一个密码访问所有应用
系统"). OneGrid is a relying party: `begin` sends the browser to the provider with a state, a
nonce and a PKCE challenge kept server-side (table `oidc_login`); `take` takes that state once,
`exchange` trades the code for tokens at the provider's token endpoint, checks the ID token (PyJWT: the
provider's signature from its JWKS, issuer, audience, expiry, nonce), maps its claims to a role
and a place by configuration, and returns the account it vouches for (made at the first login).
OneGrid then issues its own bearer token as for a password login. Local passwords stay.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
import sqlalchemy as sa

from gis_core.platform import accounts
from gis_core.platform.auth import ROLES, User, user_with_id
from gis_core.platform.errors import AuthError, Forbidden, InvalidInput, NotFound, ServiceUnavailable
from gis_core.platform.settings import Settings

#: How long a login may stay at the provider before its state is refused.
LOGIN_MINUTES = 10
#: Signature algorithms accepted on an ID token (asymmetric only: a shared-secret HS256 token
#: could be forged by anyone holding the client secret).
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]


@dataclass(frozen=True)
class Provider:
    """What OneGrid needs of the provider's discovery document."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


def configured(settings: Settings) -> str:
    """The provider's issuer; NotFound when single sign-on is not configured."""
    if not settings.oidc_issuer:
        raise NotFound("single sign-on is not configured (ONEGRID_OIDC_ISSUER)", where="path")
    return settings.oidc_issuer.rstrip("/")


@lru_cache(maxsize=4)
def provider(issuer: str) -> Provider:
    """The provider's endpoints from its discovery document (which must name the same issuer)."""
    try:
        doc = httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=10).raise_for_status().json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ServiceUnavailable(f"the provider is unreachable: {exc}", where="oidc.issuer") from None
    if doc.get("issuer", "").rstrip("/") != issuer:
        raise ServiceUnavailable(f"the provider calls itself {doc.get('issuer')!r}", where="oidc.discovery")
    return Provider(issuer, doc["authorization_endpoint"], doc["token_endpoint"], doc["jwks_uri"])


@lru_cache(maxsize=4)
def _keys(jwks_uri: str) -> jwt.PyJWKClient:
    return jwt.PyJWKClient(jwks_uri, cache_keys=True, lifespan=3600, timeout=10)


def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def safe_next(path: str) -> str:
    """A path on this server to return to after the login (never another site: no open redirect)."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path or any(c < " " for c in path):
        raise InvalidInput("next must be a path on this server, such as /console", where="query.next")
    return path


def begin(conn: sa.Connection, settings: Settings, redirect_uri: str, next_path: str) -> tuple[str, str]:
    """Start a login: (the provider's authorization URL to send the browser to, the state)."""
    p = provider(configured(settings))
    state, nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48)
    conn.execute(sa.text("DELETE FROM oidc_login WHERE created_at < now() - make_interval(mins => :m)"),
                 {"m": LOGIN_MINUTES})  # fmt: skip
    conn.execute(
        sa.text(
            "INSERT INTO oidc_login (state, verifier, nonce, next_path, redirect_uri) "
            "VALUES (:s, :v, :n, :p, :r)"
        ),
        {"s": state, "v": verifier, "n": nonce, "p": safe_next(next_path), "r": redirect_uri},
    )
    query = {
        "response_type": "code",
        "client_id": settings.oidc_client_id,
        "redirect_uri": redirect_uri,
        "scope": settings.oidc_scopes,
        "state": state,
        "nonce": nonce,
        "code_challenge": _challenge(verifier),
        "code_challenge_method": "S256",
    }
    return f"{p.authorization_endpoint}?{urlencode(query)}", state


@dataclass(frozen=True)
class Pending:
    """A login under way, as `begin` left it."""

    verifier: str
    nonce: str
    next_path: str
    redirect_uri: str


def take(conn: sa.Connection, state: str) -> Pending:
    """Take a login's state, once: a replayed or forged callback finds none (400) and changes nothing."""
    row = conn.execute(
        sa.text(
            "DELETE FROM oidc_login WHERE state = :s AND created_at > now() - make_interval(mins => :m) "
            "RETURNING verifier, nonce, next_path, redirect_uri"
        ),
        {"s": state, "m": LOGIN_MINUTES},
    ).first()
    if row is None:
        raise InvalidInput("unknown, used or expired login state; start the login again", where="query.state")
    return Pending(*row)


def exchange(settings: Settings, pending: Pending, code: str) -> dict[str, Any]:
    """Trade the code for tokens at the provider (no database held meanwhile); the ID token's claims."""
    p = provider(configured(settings))
    secret = settings.oidc_client_secret
    try:
        answer = httpx.post(
            p.token_endpoint,
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": pending.redirect_uri,
                "code_verifier": pending.verifier,
                **({} if secret else {"client_id": settings.oidc_client_id}),
            },
            auth=(settings.oidc_client_id, secret.get_secret_value()) if secret else None,
            timeout=10,
        )
    except httpx.HTTPError as exc:
        raise ServiceUnavailable(f"the identity provider is unreachable: {exc}", where="oidc.token") from None
    if answer.status_code != 200:
        raise AuthError(f"the identity provider refused the code: {answer.text[:200]}", where="query.code")
    return verify_id_token(answer.json().get("id_token", ""), settings, pending.nonce)


def verify_id_token(token: str, settings: Settings, nonce: str | None) -> dict[str, Any]:
    """The claims of an ID token this provider signed for OneGrid, unexpired; AuthError otherwise."""
    p = provider(configured(settings))
    try:
        key = _keys(p.jwks_uri).get_signing_key_from_jwt(token)
        claims: dict[str, Any] = jwt.decode(
            token,
            key.key,
            algorithms=ALGORITHMS,
            audience=settings.oidc_client_id,
            issuer=p.issuer,
            options={"require": ["iss", "sub", "aud", "exp", "iat"]},
        )
    except (jwt.PyJWTError, jwt.PyJWKClientError) as exc:
        raise AuthError(f"ID token refused: {exc}", where="oidc.id_token") from None
    if nonce is not None and claims.get("nonce") != nonce:
        raise AuthError("ID token refused: its nonce is not this login's", where="oidc.id_token")
    return claims


def account_of(conn: sa.Connection, settings: Settings, claims: dict[str, Any]) -> User:
    """The account (made, or brought in line) for an ID token's claims, mapped by the settings."""
    raw = claims.get(settings.oidc_role_claim)
    role = settings.oidc_roles.get(str(raw)) or (raw if raw in ROLES else None)
    if role is None:
        raise Forbidden(
            f"the provider gives no OneGrid role (claim {settings.oidc_role_claim!r} is {raw!r})",
            where=f"claims.{settings.oidc_role_claim}",
        )
    username = str(claims.get(settings.oidc_username_claim) or claims["sub"])

    def claim(name: str) -> str | None:
        value = claims.get(name)
        return str(value) if value else None

    account = accounts.Account(
        username=username,
        display_name=str(claims.get("name") or username),
        role=str(role),
        jurisdiction_code=claim(settings.oidc_jurisdiction_claim),
        department_code=claim(settings.oidc_department_claim),
        worker_code=claim(settings.oidc_worker_claim),
    )
    # by id: the account is the provider's subject's, whatever the name it goes by there now
    user = user_with_id(conn, accounts.vouched(conn, str(claims["iss"]), str(claims["sub"]), account))
    assert user is not None  # vouched refuses a disabled account
    return user
