"""One thread per process that LISTENs on PostgreSQL channels and hands each notice to its handler.

The database announces what in-process state depends on (grid boundaries for the lookup
index, changed extents for the tile cache, revoked tokens): every server worker hears it,
however many there are. After a lost connection the thread reconnects and calls
`on_connect`, because notices sent meanwhile are gone.
"""

from __future__ import annotations

import logging
import os
import select
import threading
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

log = logging.getLogger(__name__)


class Listener(threading.Thread):
    """LISTENs on the channels of `handlers`; reconnects after failures."""

    def __init__(
        self,
        engine: sa.Engine,
        handlers: dict[str, Callable[[str], None]],
        on_connect: Callable[[], None] = lambda: None,
        coalesce: frozenset[str] = frozenset(),
    ):
        """Listen for `handlers`' channels; call `on_connect` after each (re)connection.

        `coalesce`: channels whose notices only say "look again": of those that arrived
        together, the handler gets the last one only (a busy minute's reports then cost one
        read per batch, not one per report).
        """
        super().__init__(name="onegrid-listener", daemon=True)
        self._engine = engine
        self._handlers = handlers
        self._on_connect = on_connect
        self._coalesce = coalesce
        self._stopping = threading.Event()
        self.listening = threading.Event()
        # a byte on this pipe wakes the wait for notices at once: a server's shutdown (and every
        # test server's) need not sit out the wait's timeout
        self._wake_r, self._wake_w = os.pipe()
        self._pipe_lock, self._pipe_open = threading.Lock(), True

    def stop(self) -> None:
        """Ask the thread to end; it wakes at once."""
        self._stopping.set()
        with self._pipe_lock:  # never a byte into a descriptor the ended thread gave back
            if self._pipe_open:
                os.write(self._wake_w, b"x")

    def _dispatch(self, channel: str, payload: str) -> None:
        try:
            self._handlers[channel](payload)
        except sa.exc.OperationalError as exc:  # the database went away: the reconnect catches up
            log.warning("handling a notice on %s failed: database unavailable (%s)", channel, exc.orig)
        except Exception:  # noqa: BLE001 - one bad notice must not stop the others
            log.exception("handling a notice on %s failed", channel)

    def _dispatch_batch(self, dbapi: Any) -> None:
        notes = list(dbapi.notifies)
        dbapi.notifies.clear()
        last = {n.channel: i for i, n in enumerate(notes) if n.channel in self._coalesce}
        for i, note in enumerate(notes):
            if last.get(note.channel, i) == i:
                self._dispatch(note.channel, note.payload)

    def run(self) -> None:  # noqa: D102
        while not self._stopping.is_set():
            try:
                raw = self._engine.raw_connection()
                try:
                    dbapi: Any = raw.driver_connection
                    dbapi.autocommit = True
                    with dbapi.cursor() as cur:
                        for channel in self._handlers:
                            cur.execute(f'LISTEN "{channel}"')
                    self._on_connect()  # anything may have changed while we were away
                    self.listening.set()
                    while not self._stopping.is_set():
                        ready = select.select([dbapi, self._wake_r], [], [], 1.0)[0]
                        if dbapi in ready:
                            dbapi.poll()
                            self._dispatch_batch(dbapi)
                finally:
                    self.listening.clear()
                    raw.invalidate()
            except Exception:  # noqa: BLE001 - keep listening through database restarts
                log.warning("listener lost its connection; retrying", exc_info=True)
                self._stopping.wait(1.0)
        with self._pipe_lock:
            self._pipe_open = False
            os.close(self._wake_r)
            os.close(self._wake_w)
