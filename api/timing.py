"""Where a request's time went: a request id on every answer, phases timed, slow requests logged.

`RequestTimer` gives each request an id (the client's `X-Request-ID` when it is a sane one,
else a new one), answers with it and with `Server-Timing` (the phases timed before the answer
began: admission, auth, pool, render), counts and times it for `/metrics`, and logs one JSON
line for every request slower than `slow_request_ms`: its id, route, status, and the phases
that code marked with `gis_core.platform.timing.phase` (waiting for an admission slot, the token
check, waiting for a pooled connection, rendering), plus the time to the first byte and the last.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gis_core.platform.timing import PHASES as _phases

log = logging.getLogger("onegrid.requests")
_SANE_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,64}$")


class RequestTimer:
    """Outermost middleware: request id in and out, phases, a log line for each slow request."""

    def __init__(self, app: ASGIApp, slow_ms: float, metrics: Any = None):
        self.app = app
        self.slow_ms = slow_ms
        self.metrics = metrics  # api.metrics.Metrics: each answer counted and timed by route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: D102
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"")
        rid = given if _SANE_ID.match(given) else uuid.uuid4().hex[:16].encode()
        phases: dict[str, float] = {}
        token = _phases.set(phases)
        t0 = time.perf_counter()
        status = 0
        first_byte = last_byte = None

        async def timed_send(message: Message) -> None:
            nonlocal status, first_byte, last_byte
            if message["type"] == "http.response.start":
                status = message["status"]
                first_byte = time.perf_counter()
                extra = [(b"x-request-id", rid), (b"x-content-type-options", b"nosniff")]
                if phases:  # where the time went so far, for the browser's devtools (Server-Timing)
                    timing = ", ".join(f"{name};dur={ms:.1f}" for name, ms in phases.items())
                    extra.append((b"server-timing", timing.encode()))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                last_byte = time.perf_counter()

        try:
            await self.app(scope, receive, timed_send)
        finally:
            _phases.reset(token)
            total = ((last_byte or time.perf_counter()) - t0) * 1000
            route = scope.get("route")
            if self.metrics is not None:  # by route template: one series per route, not per tile
                self.metrics.observe(
                    scope["method"], getattr(route, "path", "unmatched"), status, total / 1000
                )
            if total >= self.slow_ms:
                log.warning(
                    "slow request %s",
                    json.dumps(
                        {
                            "request_id": rid.decode(),
                            "method": scope["method"],
                            "route": getattr(route, "path", scope["path"]),
                            "path": scope["path"],  # which tile, which incident
                            "query": scope.get("query_string", b"").decode("latin-1")[:1000],  # which filter
                            "status": status,
                            "total_ms": round(total, 3),
                            "first_byte_ms": round((first_byte - t0) * 1000, 3) if first_byte else None,
                            "phases_ms": phases,
                        },
                        ensure_ascii=False,
                    ),
                )
