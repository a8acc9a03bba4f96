"""Admission control and compression, as pure ASGI middleware.

Admission: oversized bodies refused up front; no more requests in flight than connections.

FastAPI runs sync dependencies and endpoints in a threadpool. Past the pool size, requests
would sit in threads waiting for a connection while the requests that hold connections wait
for a thread: a deadlock that only the pool timeout breaks. Queuing the excess here, on the
event loop, holds neither threads nor connections, so load degrades into latency, not errors.
"""

from __future__ import annotations

import asyncio
import re

from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gis_core.platform.timing import phase

#: Paths that need no slot: static files never touch the database, and the live feed holds
#: its request open for hours on its own short-lived connections (it would starve the rest).
UNLIMITED_PREFIXES = ("/static/", "/vendor/", "/api/v1/events")


class Admission:
    """Refuse bodies over `max_body` bytes (413 problem); let at most `limit` requests run at once.

    A pure ASGI middleware: Starlette's BaseHTTPMiddleware re-streams every response and
    cost a measurable share of each request.
    """

    def __init__(self, app: ASGIApp, limit: int, max_body: int):
        self.app = app
        self.limit = limit
        self.max_body = max_body
        self._slots: asyncio.Semaphore | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: D102
        if scope["type"] != "http" or scope["path"].startswith(UNLIMITED_PREFIXES):
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_body:
            detail = f"the body is {int(length):,} bytes; the limit is {self.max_body:,}"
            response = JSONResponse(
                {
                    "type": "/problems/request-too-large",
                    "title": "Request too large",
                    "status": 413,
                    "detail": detail,
                    "instance": scope["path"],
                    "where": "header.Content-Length",
                },
                status_code=413,
                media_type="application/problem+json",
            )
            await response(scope, receive, send)
            return
        if self._slots is None:  # created on the serving loop
            self._slots = asyncio.Semaphore(self.limit)
        with phase("admission"):
            await self._slots.acquire()
        try:
            await self.app(scope, receive, send)
        finally:
            self._slots.release()


_RAW_BYTE = re.compile(rb"[\x80-\xff]")
_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


class FormUtf8:
    """Read URL-encoded form bodies as UTF-8 when they name no charset.

    Starlette decodes a urlencoded body's raw bytes as Latin-1 and only its %-escapes as
    UTF-8, so `curl -d 'description=路灯不亮'` was stored as mojibake. The WHATWG rule for
    this media type is UTF-8; escaping each raw non-ASCII byte here (a byte-wise mapping,
    so chunk by chunk) lets the parser decode both spellings alike, for every form route.
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: D102
        if scope["type"] == "http" and scope["method"] in _WITH_BODY:  # a GET (a tile) pays one look
            ctype = dict(scope["headers"]).get(b"content-type", b"").lower()
            if ctype.startswith(b"application/x-www-form-urlencoded") and (
                b"charset" not in ctype or b"utf-8" in ctype or b"utf8" in ctype
            ):
                await self.app(scope, _escaping(receive), send)
                return
        await self.app(scope, receive, send)


def _escaping(receive: Receive) -> Receive:
    async def wrapped() -> Message:
        message = await receive()
        if message["type"] == "http.request" and message.get("body"):
            message["body"] = _RAW_BYTE.sub(lambda m: b"%%%02X" % m.group()[0], message["body"])
        return message

    return wrapped


class Compression:
    """gzip for JSON, GeoJSON, HTML, CSS and JS over `minimum` bytes, when the client accepts it.

    Starlette's GZipMiddleware does the work (event streams, images and already-encoded
    answers pass as they are; large bodies are compressed in a thread). Tiles bypass it:
    their route answers with the tile's own stored gzip, and the cached-tile path is kept
    free of any per-message wrapper (issue 26's tail).
    """

    def __init__(self, app: ASGIApp, minimum: int = 1024, level: int = 6):
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=minimum, compresslevel=level)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: D102
        if scope["type"] != "http" or scope["path"].startswith("/tiles/"):
            await self.app(scope, receive, send)
            return
        await self.gzip(scope, receive, send)
