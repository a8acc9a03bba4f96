"""Rate limits on logins (per client address) and report submissions (per user).

Moving windows from the `limits` library, kept in each server process's memory: with N
worker processes a client gets at most N times the limit, which still stops a password
guesser or a runaway phone; the lock-out after failed logins lives in the database.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from gis_core.errors import RateLimited


class Limiter:
    """At most `per_minute` hits per key in any 60-second window."""

    def __init__(self, per_minute: int, what: str) -> None:
        self.item = RateLimitItemPerMinute(per_minute)
        self.what = what
        self._window = MovingWindowRateLimiter(MemoryStorage())

    def hit(self, key: str, where: str | None = None) -> None:
        """Count one hit for `key`; a 429 problem (with Retry-After) when over the limit."""
        if self._window.hit(self.item, key):
            return
        reset_at, _ = self._window.get_window_stats(self.item, key)
        wait = max(1, math.ceil(reset_at - time.time()))
        raise RateLimited(
            f"more than {self.item.amount} {self.what} a minute; retry in {wait} s",
            retry_after=wait,
            where=where,
        )
