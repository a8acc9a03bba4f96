"""FastAPI dependencies: database connection per request, the current user, the lookup index."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar
from urllib.parse import unquote

import sqlalchemy as sa
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.security import OAuth2PasswordBearer
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.datastructures import UploadFile

from gis_core.geo.lookup import GridIndex
from gis_core.platform.auth import (
    Lockout,
    User,
    authenticate,
    known_roles,
    token_digest,
    token_user_and_expiry,
)
from gis_core.platform.errors import AuthError, Forbidden
from gis_core.platform.scope import act_as
from gis_core.platform.settings import Settings
from gis_core.platform.timing import phase
from gis_core.publishing.audit import ReadContext

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


async def get_settings_dep(request: Request) -> Settings:
    """The app's settings (async: no threadpool hop for an attribute read)."""
    return request.app.state.settings  # type: ignore[no-any-return]


async def get_caller(request: Request, token: Annotated[str | None, Depends(oauth2_scheme)]) -> User | None:
    """Whoever the request's credentials name, or None for an anonymous request.

    The credential is the bearer token, or `api_key` (Open311: query string, or form field
    on POST) or `access_token` (browsers' EventSource cannot send headers) for the clients
    that cannot send one. A dead credential is a 401 problem, never anonymous.
    """
    key = token
    path = request.url.path
    if not key and path.startswith("/open311/"):
        key = request.query_params.get("api_key")
        if not key and request.method == "POST":
            form_key = (await request.form()).get("api_key")
            key = form_key if isinstance(form_key, str) else None
    elif not key and path == "/api/v1/events":
        key = request.query_params.get("access_token")
    if not key:
        header = request.headers.get("authorization", "")
        if header[:6].lower() == "basic ":
            return await user_of_basic(request, header)
    return await user_of_token(request, key) if key else None


#: Where HTTP Basic is taken (besides the landing page): what desktop GIS clients read.
BASIC_PATHS = ("/collections", "/conformance", "/tiles/", "/api/v1/spatial/")


async def user_of_basic(request: Request, header: str) -> User:
    """The user of HTTP Basic credentials: an API key of theirs, or their password, as the password.

    For QGIS and GDAL, on the OGC API, tiles and spatial queries only. A key is checked as a
    token is (cached, revocable at once); a password as the login checks it (rate limit per
    address, lock-out after failures), then trusted for `basic_cache_seconds`, so that a
    client's many tile requests cost one password check, not one each.
    """
    path = request.url.path
    if not (path == "/" or path.startswith(BASIC_PATHS)):
        raise AuthError(
            "HTTP Basic is for the OGC API, tiles and spatial queries; send a bearer token here",
            where="header.Authorization",
        )
    try:
        username, colon, secret = base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        colon = ""
    if not colon:
        raise AuthError(
            "malformed HTTP Basic credentials: base64 of username:password", where="header.Authorization"
        )
    state = request.app.state
    digest = token_digest(f"{username}\0{secret}")
    known = state.basic_cache.get(digest)
    if known and known[1] > time.monotonic():
        return known[0]  # type: ignore[no-any-return]
    try:
        user = await user_of_token(request, secret)  # an API key (or a login's token) as the password
    except AuthError:
        user = await _once(
            state.basic_checks, digest, lambda: run_in_threadpool(password_user, request, username, secret)
        )
        state.basic_cache[digest] = (user, time.monotonic() + state.settings.basic_cache_seconds)
        return user
    if user.username != username:
        raise AuthError("that key belongs to another account", where="header.Authorization")
    return user


def password_user(
    request: Request,
    username: str,
    password: str,
    where: str = "header.Authorization",
    changing: bool = False,
) -> User:
    """A username and password checked as every login is: rate limit per address, lock-out after failures."""
    state = request.app.state
    state.login_limiter.hit(request.client.host if request.client else "?", where=where)
    settings = state.settings
    lockout = Lockout(settings.login_failures_max, settings.login_lock_minutes)
    with state.auth_engine.connect() as conn:  # the owner: credentials are not a request's
        try:
            return authenticate(conn, username, password, lockout, changing)
        except AuthError as exc:
            raise AuthError(exc.detail, where=where) from None  # the credential that was wrong
        finally:
            conn.commit()  # a failure's count too


Caller = Annotated[User | None, Depends(get_caller)]


@contextmanager
def transaction(
    request: Request, caller: User | None, bind: bool = True, quota: str | None = None
) -> Iterator[sa.Connection]:
    """A connection in a transaction bound to the caller (row-level security) that commits on success.

    Blocking: enter it in a worker thread. `ConnDep` does; a hot endpoint can instead run its
    whole body in one thread hop (`with transaction(...)` inside), where the dependency costs three.
    `bind=False` leaves the binding to the body's first statement (a round trip fewer); until
    then the transaction is anonymous and reads no protected row. `quota`: count the caller's
    report quota first, on this connection, committed at once (429 when over; `api.rate_limits`).
    """
    with request.app.state.engine.connect() as conn:
        if quota is not None and caller is not None:
            request.app.state.report_limiter.hit_on(conn, f"user:{caller.id}", quota)
        with conn.begin():
            if bind:
                act_as(conn, caller)
            yield conn
    if caller is not None and request.method not in ("GET", "HEAD", "OPTIONS"):
        request.app.state.replicas.wrote(caller.id)


def get_conn(request: Request, caller: Caller) -> Iterator[sa.Connection]:
    """`transaction` as a dependency."""
    with transaction(request, caller) as conn:
        yield conn


async def get_grid_index(request: Request) -> GridIndex:
    """The process's current grid index; a rebuild (after a boundary change) runs in a thread."""
    cache = request.app.state.grid_cache
    return cache.current() or await run_in_threadpool(cache.get)  # type: ignore[no-any-return]


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
#: Scope "function": the transaction commits before the response is sent, so a commit that
#: fails is the client's 503, never an acknowledged report that was not stored.
ConnDep = Annotated[sa.Connection, Depends(get_conn, scope="function")]
GridIndexDep = Annotated[GridIndex, Depends(get_grid_index)]


def _user_from_db(engine: sa.Engine, token: str) -> tuple[User, datetime]:
    with phase("auth"), engine.connect() as conn:
        return token_user_and_expiry(conn, token)


async def user_of_token(request: Request, token: str) -> User:
    """The user behind a live token; AuthError otherwise.

    Answered from the process's token cache when it can be, so that reads which need no
    database (a cached tile) make no trip to it; otherwise from the small auth pool, never
    from the request pool, so that no request ever waits for a second pooled connection.
    An entry due a refresh is answered and checked again in the background; requests that
    miss at once share one check. (When every in-flight request of a client checked its
    token itself at the cache's expiry, each opened an overflow connection of the auth pool:
    the cached tiles' slowest answers, 35-180 ms where the rest took 2-8 ms.)
    """
    state = request.app.state
    user, refresh = state.token_cache.lookup(token, time.monotonic())
    if user is None:
        return await _check_once(state, token)
    if refresh:
        _check_once(state, token).add_done_callback(_drop_result)
    return user  # type: ignore[no-any-return]


def _check_once(state: Any, token: str) -> asyncio.Future[User]:
    """The check of `token` in flight, or a new one; it fills the cache when it is done."""
    digest = token_digest(token)

    async def run() -> User:
        generation = state.token_cache.generation
        now = time.monotonic()
        try:
            user, expires = await run_in_threadpool(_user_from_db, state.auth_engine, token)
        except AuthError:
            state.token_cache.forget(digest)  # revoked, expired or its account disabled: now
            raise
        state.token_cache.put(token, user, expires, now, generation)
        return user

    return _once(state.token_checks, digest, run)


def _once(
    checks: dict[str, asyncio.Future[User]], key: str, run: Callable[[], Awaitable[User]]
) -> asyncio.Future[User]:
    """The check under `key` in flight, or `run()` started as one: requests that miss at once share it."""
    check = checks.get(key)
    if check is None:
        check = checks[key] = asyncio.ensure_future(run())
        check.add_done_callback(lambda _: checks.pop(key, None))
    # shielded: a waiter that goes away (a client that hung up) does not cancel the others' check
    return asyncio.shield(check)


def _drop_result(check: asyncio.Future[User]) -> None:
    """Read a background refresh's outcome, so that a failure (the entry is gone) is not left unretrieved."""
    if not check.cancelled():
        check.exception()


async def get_current_user(caller: Caller) -> User:
    """The authenticated caller; 401 problem when no credential came."""
    if caller is None:
        raise AuthError("a bearer token is required", where="header.Authorization")
    return caller


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_roles(*roles: str):  # type: ignore[no-untyped-def]
    """A dependency that lets only `roles` through (403 problem otherwise).

    A misspelt role name fails at import, not by letting nobody in.
    """
    roles = known_roles(roles, "require_roles")

    async def check(user: CurrentUser) -> User:  # async: no threadpool hop for a comparison
        if user.role not in roles:
            raise Forbidden(f"role {user.role!r} may not do this", allowed_roles=list(roles))
        return user

    return Depends(check)


class BulkJsonBody:
    """A JSON request body validated from its raw bytes by pydantic-core, for bulk uploads.

    FastAPI's own body handling decodes to Python dicts and then builds a model object per
    item: about 6 µs per GPS fix, a third of a 20,000-fix upload. A TypedDict schema validated
    straight from the bytes takes under 1 µs an item. Errors are the usual 422 problem with
    `body.…` locations, and `openapi` (pass it as the route's `openapi_extra`) documents the
    same schema.
    """

    def __init__(self, schema: Any) -> None:
        self.adapter = TypeAdapter(schema)
        self.openapi = {
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _inline_refs(self.adapter.json_schema())}},
            }
        }

    async def __call__(self, request: Request) -> Any:
        """The validated body, or a 422 problem naming each wrong place."""
        try:
            return self.adapter.validate_json(await request.body())
        except ValidationError as exc:
            raise _validation_error(exc) from None


def _validation_error(exc: ValidationError) -> RequestValidationError:
    """The 422 problem of a body that failed validation, each error located under `body`."""
    errors = exc.errors(include_url=False, include_context=False, include_input=False)
    return RequestValidationError([{**err, "loc": ("body", *err["loc"])} for err in errors])


M = TypeVar("M", bound=BaseModel)


class FormBody(Generic[M]):
    """A multipart/form-data body: its text fields validated by one model, its files listed.

    FastAPI checks each `Form()` and `File()` parameter on its own: ~0.1 ms a request, 3 % of
    a report's server CPU on the busiest write path. Here Starlette parses the form and one
    `model_validate` checks the fields. As with `Form()`, an empty value counts as not sent and
    an empty file input as no file. Errors are the usual 422 problem with `body.…` locations;
    `openapi` (pass it as the route's `openapi_extra`) documents the same body. A dependency
    with `scope="function"` (`Depends(body, scope="function")`): the form's spooled files are
    closed when the endpoint returns.
    """

    def __init__(self, model: type[M], files: str, files_description: str, json_too: bool = False) -> None:
        self.model = model
        self.files = files
        self.json_too = json_too  # also take the fields as a JSON object (then without files)
        plain = _inline_refs(model.model_json_schema())
        schema = _inline_refs(model.model_json_schema())
        schema["properties"][files] = {
            "type": "array",
            "items": {"type": "string", "contentMediaType": "application/octet-stream"},
            "description": files_description,
        }
        content = {"multipart/form-data": {"schema": schema}}
        if json_too:
            content = {"application/json": {"schema": plain}, **content}
        self.openapi = {"requestBody": {"required": True, "content": content}}

    async def __call__(self, request: Request) -> AsyncIterator[tuple[M, list[UploadFile]]]:
        """The validated fields and the uploaded files, or a 422 problem naming each wrong place."""
        if self.json_too and not request.headers.get("content-type", "").startswith("multipart/form-data"):
            try:
                valid = self.model.model_validate_json(await request.body())
            except ValidationError as exc:
                raise _validation_error(exc) from None
            yield valid, []
            return
        form = await request.form()
        try:
            fields = {k: v for k, v in form.multi_items() if k != self.files and v != ""}
            files = []
            for i, f in enumerate(form.getlist(self.files)):
                if f == "":  # an empty value is a value not sent
                    continue
                if not isinstance(f, UploadFile):
                    raise RequestValidationError(
                        [
                            {
                                "type": "value_error",
                                "loc": ("body", f"{self.files}[{i}]"),
                                "msg": "Expected a file",
                            }
                        ]
                    )
                if f.filename or f.size:  # a browser sends an empty part for a file input left empty
                    files.append(f)
            try:
                valid = self.model.model_validate(fields)
            except ValidationError as exc:
                raise _validation_error(exc) from None
            yield valid, files
        finally:
            await form.close()


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """The JSON schema with its local `$defs` written in place (OpenAPI resolves no `#/$defs/…`)."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return walk(defs[ref.removeprefix("#/$defs/")])
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(schema)  # type: ignore[no-any-return]


#: The caller may say why they read personal data (percent-encoded UTF-8, headers being ASCII);
#: otherwise the kind of read is the reason.
REASON_HEADER = "X-Access-Reason"


def read_context(request: Request) -> ReadContext:
    """The audit log's view of a request: the path read, the stated reason, the client's address."""
    return ReadContext(
        resource=request.url.path,
        reason=unquote(request.headers.get(REASON_HEADER, "")),
        client=request.client.host if request.client else None,
    )
