"""Rate limits on logins (per client address) and report submissions (per user).

Moving windows kept in each server process's memory: with N worker processes a client gets
at most N times the limit, which still stops a password guesser or a runaway phone; the
lock-out after failed logins lives in the database.

(The `limits` library's in-memory storage did this before; it starts a timer thread on
every hit to expire old entries, a thread per report under load. A deque of hit times per
key needs no thread.)
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from gis_core.platform.errors import RateLimited

WINDOW_S = 60.0
#: After this many hits, keys whose hits have all left the window are forgotten.
SWEEP_EVERY = 10_000


class Limiter:
    """At most `per_minute` hits per key in any 60-second window."""

    def __init__(self, per_minute: int, what: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = per_minute
        self.what = what
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._until_sweep = SWEEP_EVERY

    def __len__(self) -> int:
        """How many keys are remembered."""
        return len(self._hits)

    def hit(self, key: str, where: str | None = None) -> None:
        """Count one hit for `key`; a 429 problem (with Retry-After) when over the limit."""
        now = self._clock()
        with self._lock:
            self._until_sweep -= 1
            if self._until_sweep <= 0:
                self._sweep(now)
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - WINDOW_S:
                hits.popleft()
            if len(hits) < self.limit:
                hits.append(now)
                return
            wait = max(1, math.ceil(hits[0] + WINDOW_S - now))
        raise RateLimited(
            f"more than {self.limit} {self.what} a minute; retry in {wait} s", retry_after=wait, where=where
        )

    def _sweep(self, now: float) -> None:
        self._until_sweep = SWEEP_EVERY
        for key in [k for k, hits in self._hits.items() if not hits or hits[-1] <= now - WINDOW_S]:
            del self._hits[key]
