"""Which database a read goes to: a fresh enough streaming replica, or the primary (issue 25).

Every `ONEGRID_REPLICA_CHECK_S` the process samples the primary's WAL position and each
replica's replay position. A replica is *safe since* the latest sample time whose primary
position it has replayed: everything committed before then is on it. A read may go to a
replica safe since `now - ONEGRID_REPLICA_MAX_LAG_S`, and a caller's read after their own
write only to one safe since that write (read-your-writes; otherwise the primary). A replica
that cannot be reached, or that fails a read (stopped, restarting, a recovery conflict), is
skipped until its next good check, and the read runs again on the primary: no request fails
for a replica. Writes never go to replicas. `X-Read-From` says where a read was served.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import sqlalchemy as sa
from fastapi import Request

from gis_core.platform.auth import User
from gis_core.platform.db import make_engine
from gis_core.platform.scope import act_as
from gis_core.platform.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")
_LSN = sa.text("SELECT pg_current_wal_lsn() - '0/0'")
_REPLAY = sa.text("SELECT pg_last_wal_replay_lsn() - '0/0'")
#: SQLSTATE classes and codes that mean "this server cannot answer now": try the primary
_UNAVAILABLE = ("08", "57P01", "57P02", "57P03", "40001", "25006")


@dataclass
class ReplicaState:
    """One replica as this process last saw it: a pool for reads in a transaction, one for tiles."""

    name: str
    engine: sa.Engine
    tile_engine: sa.Engine
    up: bool = False
    safe_since: float = float("-inf")


@dataclass
class ReplicaRouter:
    """The process's replicas, their freshness, and its callers' last writes."""

    primary: sa.Engine
    replicas: list[ReplicaState]
    max_lag_s: float
    history: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=600))
    writes: dict[int, float] = field(default_factory=dict)
    _turn: Iterator[int] = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_settings(cls, settings: Settings, primary: sa.Engine) -> ReplicaRouter:
        """The replicas of the settings (`gis_core.platform.replicas.replica_urls`), none checked yet."""
        from gis_core.platform.replicas import replica_urls

        engines = [
            ReplicaState(
                name,
                make_engine(url, settings, request_role=True, name=f"read-{name}"),
                # like the primary's tile pool: autocommit, the tile timeout, no ping
                make_engine(
                    url,
                    settings,
                    statement_timeout_ms=settings.tile_timeout_ms,
                    autocommit=True,
                    pre_ping=False,
                    request_role=True,
                    name=f"tiles-{name}",
                ),  # fmt: skip
            )
            for name, url in replica_urls(settings)
        ]
        return cls(primary, engines, settings.replica_max_lag_s)

    def dispose(self) -> None:
        """Close the replicas' pools."""
        for r in self.replicas:
            r.engine.dispose()
            r.tile_engine.dispose()

    def check(self) -> None:
        """Sample the primary's WAL position and each replica's replay position (blocking)."""
        if not self.replicas:
            return
        with self.primary.connect() as conn:
            self.history.append((time.monotonic(), int(conn.execute(_LSN).scalar_one())))
        for r in self.replicas:
            try:
                with r.engine.connect() as conn:
                    replayed = int(conn.execute(_REPLAY).scalar_one() or 0)
            except sa.exc.DBAPIError:
                r.up = False
                continue
            r.up = True
            r.safe_since = max((t for t, lsn in self.history if lsn <= replayed), default=float("-inf"))

    def wrote(self, user_id: int) -> None:
        """Note a caller's committed write: their next reads need a replica that has it."""
        self.writes[user_id] = time.monotonic()

    def pick(self, user: User | None, since: float = float("-inf")) -> ReplicaState | None:
        """A replica fresh enough for `user`'s read now (and safe since `since`), in turn; None: primary."""
        need = max(time.monotonic() - self.max_lag_s, since)
        if user is not None:
            need = max(need, self.writes.get(user.id, float("-inf")))
        fresh = [r for r in self.replicas if r.up and r.safe_since >= need]
        if not fresh:
            return None
        with self._lock:
            return fresh[next(self._turn) % len(fresh)]

    def down(self, replica: ReplicaState) -> None:
        """Skip `replica` until its next good check (it failed a read)."""
        replica.up = False


def unavailable(exc: sa.exc.DBAPIError) -> bool:
    """Whether a database error means the server cannot answer now (not that the query is wrong)."""
    code = getattr(exc.orig, "pgcode", None) or ""
    # no SQLSTATE at all: the connection could not be made or was lost (a statement timeout has one,
    # and is the query's own doing: it is not repeated on the primary)
    return (
        exc.connection_invalidated
        or code.startswith(_UNAVAILABLE)
        or (not code and isinstance(exc, sa.exc.OperationalError))
    )


def read(request: Request, user: User, fn: Callable[[sa.Connection], T]) -> T:
    """`fn(conn)` on a fresh replica (bound to `user`), else on the primary; blocking.

    A replica that fails is skipped and the read runs again on the primary: reads are repeatable.
    """
    from api.deps import transaction

    router: ReplicaRouter = request.app.state.replicas
    replica = router.pick(user)
    if replica is not None:
        try:
            with replica.engine.begin() as conn:
                act_as(conn, user)
                request.state.read_from = replica.name
                return fn(conn)
        except sa.exc.DBAPIError as exc:
            if not unavailable(exc):
                raise
            log.warning("%s failed a read (%s); the primary answers", replica.name, type(exc.orig).__name__)
            router.down(replica)
    request.state.read_from = "primary"
    with transaction(request, user) as conn:
        return fn(conn)


@contextmanager
def audit_conn(request: Request, user: User, conn: sa.Connection) -> Iterator[sa.Connection]:
    """Where a read's audit row is written: the read's own transaction, or one of its own on the primary.

    A replica takes no writes: after a read there, the row goes to the primary.
    """
    from api.deps import transaction

    if getattr(request.state, "read_from", "primary") == "primary":
        yield conn
        return
    with transaction(request, user) as primary:
        yield primary


def read_from_header(request: Request) -> dict[str, Any]:
    """The `X-Read-From` header of a read answered by `read`."""
    return {"X-Read-From": getattr(request.state, "read_from", "primary")}
