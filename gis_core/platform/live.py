"""Live events for the map wall: what happened since an event id, and who may see each.

Triggers append events to `live_event` and NOTIFY `onegrid_events` (migration 0007); the API
reads what is new once per notice and fans it out (`api.live.Hub`). Each event carries the
grid, community and street of its place, so a street officer's wall sees their street only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from gis_core.platform.auth import User
from gis_core.platform.scope import act_as


@dataclass(frozen=True)
class Event:
    """One live event: its id (for resuming), time, kind, data and place in the hierarchy."""

    id: int
    at: datetime
    kind: str
    data: dict[str, Any]
    grid_id: int | None
    community_id: int | None
    street_id: int | None


def head(conn: sa.Connection) -> int:
    """The newest event id (0 when there is none)."""
    return int(conn.execute(sa.text("SELECT coalesce(max(id), 0) FROM live_event")).scalar_one())


def since(conn: sa.Connection, after: int, limit: int) -> list[Event]:
    """Events after id `after`, oldest first, at most `limit`."""
    rows = conn.execute(
        sa.text(
            "SELECT id, at, kind, data, grid_id, community_id, street_id FROM live_event "
            "WHERE id > :after ORDER BY id LIMIT :limit"
        ),
        {"after": after, "limit": limit},
    ).all()
    return [Event(*r) for r in rows]


def prune(conn: sa.Connection, keep: timedelta) -> int:
    """Forget events older than `keep`; a client further behind is told to reload."""
    return int(
        conn.execute(
            sa.text("DELETE FROM live_event WHERE at < clock_timestamp() - CAST(:keep AS interval)"),
            {"keep": keep},
        ).rowcount
    )


@dataclass(frozen=True)
class Audience:
    """Whose wall: the whole district, or some streets, communities or grids."""

    everything: bool = False
    streets: frozenset[int] = frozenset()
    communities: frozenset[int] = frozenset()
    grids: frozenset[int] = frozenset()
    worker_id: int | None = None  # a grid worker's own record: their calls reach them anywhere

    def sees(self, e: Event) -> bool:
        """Whether this audience may see `e` (events without a place: district-wide only)."""
        return (
            self.everything
            or e.street_id in self.streets
            or e.community_id in self.communities
            or e.grid_id in self.grids
            or (
                self.worker_id is not None
                and e.kind == "call.task"
                and e.data.get("worker_id") == self.worker_id
            )
        )


def audience(conn: sa.Connection, user: User) -> Audience:
    """The events `user` may see: their reach as the row-level security policies compute it."""
    act_as(conn, user)
    row = conn.execute(
        sa.text(
            "SELECT coalesce((r).everything, false), (r).street_id, (r).community_id, (r).grids, "
            "(r).worker_id FROM (SELECT onegrid_reach() AS r) s"
        )
    ).one()
    everything, street, community, grids, worker = row
    return Audience(
        everything=bool(everything),
        streets=frozenset([street] if street is not None else []),
        communities=frozenset([community] if community is not None else []),
        grids=frozenset(grids or []),
        worker_id=worker,
    )
