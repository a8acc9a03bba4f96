"""The one place where errors become RFC 9457 problem+json responses."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg2.errors import QueryCanceled
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from gis_core.platform import errors as e

log = logging.getLogger(__name__)

PROBLEM = "application/problem+json"
_STATUS: dict[type[e.OneGridError], int] = {
    e.InvalidInput: 400,
    e.UnknownCRSError: 400,
    e.AuthError: 401,
    e.Forbidden: 403,
    e.NotFound: 404,
    e.LookupOutsideDistrict: 404,
    e.Conflict: 409,
    e.NotThere: 422,
    e.ServiceUnavailable: 503,
    e.RateLimited: 429,
    e.TooLarge: 413,
    e.NotAnImage: 415,
}


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    request: Request,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem+json response; `type` names the problem, `where` points at the input."""
    body = {
        "type": f"/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def status_of(exc: e.OneGridError) -> int:
    """HTTP status for a domain error (most specific class wins)."""
    for cls in type(exc).__mro__:
        if cls in _STATUS:
            return _STATUS[cls]  # type: ignore[index]
    return 400


def _where(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc)


def install(app: FastAPI) -> None:
    """Register the handlers on `app`."""

    @app.exception_handler(e.OneGridError)
    async def _domain(request: Request, exc: e.OneGridError) -> JSONResponse:
        status = status_of(exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        if status == 503:
            headers = {"Retry-After": "5"}
        if isinstance(exc, e.RateLimited):
            headers = {"Retry-After": str(exc.retry_after)}
        return problem(
            status, exc.code, exc.title, exc.detail, request, headers, where=exc.where, **exc.extra
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errs = [
            {"where": _where(err["loc"]), "detail": err["msg"], "type": err["type"]} for err in exc.errors()
        ]
        detail = "; ".join(f"{x['where']}: {x['detail']}" for x in errs)
        return problem(
            422,
            "validation-error",
            "Request validation failed",
            detail,
            request,
            where=errs[0]["where"] if errs else None,
            errors=errs,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not-found", 405: "method-not-allowed", 401: "unauthorized"}.get(
            exc.status_code, "http-error"
        )
        return problem(
            exc.status_code,
            code,
            str(exc.detail),
            str(exc.detail),
            request,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(OperationalError)
    async def _db_down(request: Request, exc: OperationalError) -> JSONResponse:
        if isinstance(exc.orig, QueryCanceled):
            # psycopg2 files a statement timeout under OperationalError: the database answered,
            # it was the query that ran out of time (a cold cache, a lock held elsewhere)
            log.warning("query timed out on %s: %s", request.url.path, exc.orig)
            return problem(
                503,
                "query-timeout",
                "Query timed out",
                "the database took longer than this request's time limit; retry shortly",
                request,
                headers={"Retry-After": "2"},
            )
        log.warning("database unavailable: %s", exc.orig)
        return problem(
            503,
            "unavailable",
            "Service unavailable",
            "the database cannot be reached; retry shortly",
            request,
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(DataError)
    async def _bad_value(request: Request, exc: DataError) -> JSONResponse:
        # a value the checks let through but PostgreSQL refuses (a UTC offset past ±15:59, a
        # number out of range): the request's fault, and nothing was stored (the transaction failed)
        detail = str(getattr(exc.orig, "pgerror", None) or exc.orig).strip().splitlines()[0]
        return problem(400, "invalid-input", "Invalid input", f"a value was refused: {detail}", request)

    @app.exception_handler(DBAPIError)
    async def _db_error(request: Request, exc: DBAPIError) -> JSONResponse:
        if exc.connection_invalidated:
            return await _db_down(request, exc)  # type: ignore[arg-type]
        log.exception("database error")
        return problem(
            500, "internal-error", "Internal error", "an unexpected database error occurred", request
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return problem(500, "internal-error", "Internal error", "an unexpected error occurred", request)
