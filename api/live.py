"""The process's fan-out of live events: one read of the database per notice, a queue per client."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa

from gis_core.platform import live

log = logging.getLogger(__name__)
#: Events a slow client may have waiting before it is dropped (it reconnects and resumes).
QUEUE_SIZE = 2_000
#: Marks a client that fell too far behind.
OVERFLOW = None
#: Marks the end of the feed: the server is shutting down (EventSource reconnects, elsewhere).
CLOSING = live.Event(0, datetime.fromtimestamp(0, UTC), "closing", {}, None, None, None)


@dataclass(eq=False)
class Subscriber:
    """One connected wall: what it may see, and its events waiting to be sent."""

    audience: live.Audience
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[live.Event | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE + 2))
    overflowed: bool = False

    def offer(self, event: live.Event) -> None:
        """Queue `event` (on the event loop's thread); past the limit, queue the overflow mark once."""
        if self.overflowed:
            return
        if self.queue.qsize() >= QUEUE_SIZE:
            self.overflowed = True
            self.queue.put_nowait(OVERFLOW)
        else:
            self.queue.put_nowait(event)


class Hub:
    """Reads new events when the database says there are some, and hands each to its audience."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine  # the background pool: the listener's reads and the feeds' set-up
        self._subscribers: set[Subscriber] = set()
        self._lock = threading.Lock()
        with engine.connect() as conn:
            self.last = live.head(conn)
        # with no client connected a notice reads nothing (a busy district sends hundreds a
        # second); the first client to arrive moves `last` up to the newest event instead
        self._behind = False
        self._closing = False
        self.lag: Callable[[float], None] | None = None  # seconds from each event's insert to its read

    def subscribe(self, audience: live.Audience, loop: asyncio.AbstractEventLoop) -> Subscriber:
        """A new client's queue, fed on `loop`.

        Blocking (it may read the newest event id): call it in a worker thread.
        """
        sub = Subscriber(audience, loop)
        with self._lock:
            if self._behind:
                with self.engine.connect() as conn:
                    self.last = live.head(conn)
                self._behind = False
            self._subscribers.add(sub)
            if self._closing:  # subscribed as the server began to stop: end at once
                loop.call_soon_threadsafe(sub.queue.put_nowait, CLOSING)
        return sub

    def close(self) -> None:
        """End every feed of this process (the server is stopping), so none holds up its shutdown."""
        with self._lock:
            self._closing = True
            subscribers = list(self._subscribers)
        for sub in subscribers:
            sub.loop.call_soon_threadsafe(sub.queue.put_nowait, CLOSING)

    def unsubscribe(self, sub: Subscriber) -> None:
        """Forget a client that went away."""
        with self._lock:
            self._subscribers.discard(sub)

    @property
    def clients(self) -> int:
        """How many walls are connected to this process."""
        return len(self._subscribers)

    def on_notice(self, _payload: str = "") -> None:
        """Read every event after the last one read and offer it to each client allowed to see it."""
        with self._lock:
            if not self._subscribers:
                self._behind = True
                return
            with self.engine.connect() as conn:
                while True:
                    events = live.since(conn, self.last, 5_000)
                    if not events:
                        return
                    if self.lag is not None:
                        now = datetime.now(UTC)
                        for e in events:
                            self.lag((now - e.at).total_seconds())
                    self.last = events[-1].id
                    subscribers = list(self._subscribers)
                    for sub in subscribers:
                        mine = [e for e in events if sub.audience.sees(e)]
                        for e in mine:
                            sub.loop.call_soon_threadsafe(sub.offer, e)
