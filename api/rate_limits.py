"""Rate limits on logins (per client address) and report submissions (per user), one per deployment.

They are shared by every server process and host through PostgreSQL (migration 0030), so N of
them give one limit, not N.

A sliding-window counter: per key, the hits of this minute and of the last one; a hit is allowed
while this minute's hits plus the last minute's, weighted by the share of it still inside the
moving 60 s window, stay within the limit. One statement per hit, on the small auth pool,
timed by the database's clock (every host agrees on it). Refused hits count too, so a client
that keeps hammering stays refused. The lock-out after failed logins is the accounts' own
(also in the database).

The key carries the limit, so apps configured with different limits (the test suite's strict
one beside its relaxed one) count apart; hosts configured alike share the count.
"""

from __future__ import annotations

import math
import threading
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from gis_core.platform.db import Prepared
from gis_core.platform.errors import RateLimited

WINDOW_S = 60.0
#: After this many hits in a process, windows older than two minutes are deleted.
SWEEP_EVERY = 1_000

_HIT = sa.text(
    """
    WITH t AS (SELECT coalesce(CAST(:at AS timestamptz), clock_timestamp()) AS now),
    w AS (SELECT now, date_bin('1 minute', now, timestamptz '2000-01-01 00:00+00') AS start FROM t),
    cur AS (
        INSERT INTO rate_window AS r (key, window_start, hits) SELECT :k, w.start, 1 FROM w
        ON CONFLICT (key, window_start) DO UPDATE SET hits = r.hits + 1
        RETURNING hits
    )
    SELECT cur.hits, coalesce(prev.hits, 0) AS prev, extract(epoch FROM w.now - w.start) AS into_window
    FROM cur, w
    LEFT JOIN rate_window prev ON prev.key = :k AND prev.window_start = w.start - interval '1 minute'
    """
)
#: the same statement prepared once per connection: it runs before every report (gis_core.platform.db)
_HIT_PREPARED = Prepared("onegrid_rate_hit", _HIT)
_SWEEP = sa.text(
    "DELETE FROM rate_window "
    "WHERE window_start < coalesce(CAST(:at AS timestamptz), now()) - interval '2 minutes'"
)


class Limiter:
    """At most `per_minute` hits per key in any 60-second window, for every process of the deployment."""

    def __init__(self, engine: sa.Engine, per_minute: int, what: str) -> None:
        self.engine = engine
        self.limit = per_minute
        self.what = what
        self._lock = threading.Lock()
        self._until_sweep = SWEEP_EVERY

    def hit(self, key: str, where: str | None = None, at: datetime | None = None) -> None:
        """Count one hit for `key`; a 429 problem (with Retry-After) when over the limit.

        Blocking (one round trip): call it from a worker thread. `at`: the time of the hit
        (tests); the database's clock otherwise.
        """
        with self.engine.connect() as conn:
            self.hit_on(conn, key, where, at)

    def _refuse_if_over(self, row: Any, where: str | None) -> None:
        into = float(row.into_window)
        weight = max(0.0, 1.0 - into / WINDOW_S)
        if row.hits + row.prev * weight <= self.limit:
            return
        # the earlier minute's weight falls as the window moves; this minute's hits stay till it ends
        room = self.limit - row.hits
        wait = WINDOW_S - into if room < 0 or row.prev == 0 else WINDOW_S * (weight - room / row.prev)
        wait = max(1, math.ceil(min(wait, WINDOW_S - into + WINDOW_S)))
        raise RateLimited(
            f"more than {self.limit} {self.what} a minute; retry in {wait} s", retry_after=wait, where=where
        )

    def hit_on(
        self, conn: sa.Connection, key: str, where: str | None = None, at: datetime | None = None
    ) -> None:
        """`hit` on a connection of the caller's (committed at once, before the caller's transaction)."""
        row = _HIT_PREPARED.execute(conn, {"k": f"{self.what}/{self.limit}/{key}", "at": at}).one()
        if self._sweep_due():
            conn.execute(_SWEEP, {"at": at})
        conn.commit()
        self._refuse_if_over(row, where)

    def _sweep_due(self) -> bool:
        with self._lock:
            self._until_sweep -= 1
            if self._until_sweep > 0:
                return False
            self._until_sweep = SWEEP_EVERY
            return True
