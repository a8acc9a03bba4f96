"""The district's clock: one zone for every time an answer carries, and its calendar months.

Times are stored as `timestamptz` and computed in UTC; what leaves OneGrid is written in the
district's zone with its offset (`2026-12-03T08:00:00+08:00`), so one answer never mixes
`Z` and `+08:00`. Database sessions keep the same zone (`gis_core.platform.db.make_engine`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from gis_core.platform.settings import get_settings


@lru_cache
def zone(name: str | None = None) -> ZoneInfo:
    """The district's zone (`ONEGRID_TIMEZONE`), or the zone named."""
    return ZoneInfo(name or get_settings().timezone)


def local(at: datetime) -> datetime:
    """`at` in the district's zone (a naive time is taken as UTC)."""
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(zone())


def midnight(at: datetime) -> datetime:
    """The district's midnight that starts `at`'s day ("today" for a worker's figures)."""
    return local(at).replace(hour=0, minute=0, second=0, microsecond=0)


def iso(at: datetime, timespec: str = "auto") -> str:
    """ISO 8601 with the district's offset."""
    return local(at).isoformat(timespec=timespec)


def iso_epoch(seconds: float) -> str:
    """A Unix time as ISO 8601 with the district's offset, to the second."""
    return iso(datetime.fromtimestamp(float(seconds), UTC), "seconds")


def month_starts(since: datetime, until: datetime) -> list[datetime]:
    """Midnights of the first day of each district month strictly between `since` and `until`."""
    start = local(since)
    year, month = start.year, start.month
    out: list[datetime] = []
    while True:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        edge = datetime(year, month, 1, tzinfo=zone())
        if edge >= until:
            return out
        out.append(edge)
