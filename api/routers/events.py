"""`GET /api/v1/events`: the map wall's live feed as Server-Sent Events, resumable by event id."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from api.deps import CurrentUser
from api.live import CLOSING, OVERFLOW
from gis_core.platform import live
from gis_core.platform.auth import User
from gis_core.platform.clock import iso
from gis_core.platform.errors import InvalidInput

router = APIRouter(prefix="/api/v1", tags=["live"])
#: Events replayed to a client that resumes; further behind, it is told to reload instead.
MAX_REPLAY = 10_000
KEEPALIVE_S = 15.0


async def _user(
    user: CurrentUser,
    access_token: Annotated[
        str | None, Query(description="For EventSource, which cannot send headers")
    ] = None,
) -> User:
    """The caller; `access_token` is declared here for the spec (`deps.get_caller` reads it)."""
    return user


def _frame(e: live.Event) -> str:
    body = json.dumps(e.data | {"at": iso(e.at)}, ensure_ascii=False, default=str)
    return f"id: {e.id}\nevent: {e.kind}\ndata: {body}\n\n"


def _audience(request: Request, user: User) -> live.Audience:
    with request.app.state.hub.engine.connect() as conn:
        return live.audience(conn, user)


def _replay(request: Request, audience: live.Audience, after: int) -> list[live.Event] | None:
    with request.app.state.hub.engine.connect() as conn:
        events = live.since(conn, after, MAX_REPLAY + 1)
        if len(events) > MAX_REPLAY or (after and not events and after < live.head(conn) - MAX_REPLAY):
            return None
    return [e for e in events if audience.sees(e)]


@router.get(
    "/events",
    summary="Live events (Server-Sent Events)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def events(
    request: Request,
    user: Annotated[User, Depends(_user)],
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    after: Annotated[
        int | None, Query(ge=0, description="Resume after this event id (as Last-Event-ID)")
    ] = None,
) -> StreamingResponse:
    """New incidents and state changes, warnings, worker positions and call tasks in your area.

    Each event has an `id`; a client that reconnects with `Last-Event-ID` (EventSource does so
    itself) gets what it missed, or a `reset` event when it missed too much and should reload.
    Without one, the feed starts now.
    """
    if last_event_id is not None:
        if not last_event_id.strip().isdigit():
            raise InvalidInput("Last-Event-ID is an event id", where="header.Last-Event-ID")
        after = int(last_event_id)
    hub = request.app.state.hub
    # the feed's own short connections (not the request pool: a wall stays for hours)
    audience = await run_in_threadpool(_audience, request, user)

    async def stream() -> AsyncIterator[str]:
        # first, so nothing falls between replay and live
        sub = await run_in_threadpool(hub.subscribe, audience, asyncio.get_running_loop())
        try:
            yield "retry: 3000\n\n"
            sent = hub.last if after is None else after
            if after is not None:
                replay = await run_in_threadpool(_replay, request, audience, after)
                if replay is None:
                    yield 'event: reset\ndata: {"reason": "too far behind: reload"}\n\n'
                    sent = hub.last
                else:
                    for e in replay:
                        sent = e.id
                        yield _frame(e)
            while not await request.is_disconnected():
                try:
                    e = await asyncio.wait_for(sub.queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    yield ": keepalive\n\n"
                    continue
                if e is OVERFLOW:
                    yield 'event: reset\ndata: {"reason": "too slow: reconnect"}\n\n'
                    return
                if e is CLOSING:  # the server is stopping: end now, the client reconnects
                    yield ": server stopping, reconnect\n\n"
                    return
                if e.id > sent:
                    sent = e.id
                    yield _frame(e)
        finally:
            hub.unsubscribe(sub)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
