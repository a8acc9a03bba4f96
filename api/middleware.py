"""Admission control: at most as many requests in flight as the pool has connections.

FastAPI runs sync dependencies and endpoints in a threadpool. Past the pool size, requests
would sit in threads waiting for a connection while the requests that hold connections wait
for a thread: a deadlock that only the pool timeout breaks. Queuing the excess here, on the
event loop, holds neither threads nor connections, so load degrades into latency, not errors.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Receive, Scope, Send

#: Paths that never touch the database (static files), which need no slot.
UNLIMITED_PREFIXES = ("/static/", "/vendor/")


class ConcurrencyLimit:
    """Let at most `limit` HTTP requests run at once; the rest wait their turn."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app = app
        self.limit = limit
        self._slots: asyncio.Semaphore | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: D102
        if scope["type"] != "http" or scope["path"].startswith(UNLIMITED_PREFIXES):
            await self.app(scope, receive, send)
            return
        if self._slots is None:  # created on the serving loop
            self._slots = asyncio.Semaphore(self.limit)
        async with self._slots:
            await self.app(scope, receive, send)
