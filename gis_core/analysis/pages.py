"""Where `OneGrid`'s frames get their features.

Straight from `gis_core` as an account, or from a
running server over its HTTP API, page after page either way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from gis_core.platform.auth import User, user_named
from gis_core.platform.errors import NotFound

#: Features per page, from the database or the server.
PAGE = 10_000


def account(engine: sa.Engine, username: str) -> User:
    """The active account `username`, as the pages read as it."""
    with engine.connect() as conn:
        user = user_named(conn, username)
    if user is None:
        raise NotFound(f"no active account {username!r}", where="username")
    return user


class DatabasePages:
    """Pages of features straight from `gis_core`, as the account reads them."""

    def __init__(self, engine: sa.Engine, user: User, epsg: int) -> None:
        self.engine, self.user, self.epsg = engine, user, epsg

    def _paged(
        self, size: int, fetch: Callable[[sa.Connection, int], tuple[list[dict[str, Any]], int]]
    ) -> Iterator[dict[str, Any]]:
        """Every feature of a paged query: `fetch(conn, offset)` gives a page and how many match in all."""
        offset = 0
        with self.engine.connect() as conn:
            while True:
                page, matched = fetch(conn, offset)
                yield from page
                offset += size
                if offset >= matched:
                    return

    def layer(self, name: str, filters: dict[str, str]) -> Iterator[dict[str, Any]]:
        """Every feature of the published layer `name` the account may read, filtered by property."""
        from gis_core.publishing.features import ItemQuery, items
        from gis_core.publishing.layers import get_layer

        layer = get_layer(name)
        return self._paged(
            PAGE,
            lambda conn, offset: items(
                conn, layer, self.user, ItemQuery(properties=filters, limit=PAGE, offset=offset)
            ),
        )

    def incidents(self, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every incident the account may read that matches `params` (state, category, area, from, to)."""
        from gis_core.incidents.queries import MAX_LIMIT, IncidentFilter, list_incidents

        def fetch(conn: sa.Connection, offset: int) -> tuple[list[dict[str, Any]], int]:
            f = IncidentFilter(
                state=params["state"].split(",") if params["state"] else None,
                category=params["category"],
                area=params["area"],
                since=params["from"],
                until=params["to"],
                limit=MAX_LIMIT,
                offset=offset,
            )
            return list_incidents(conn, self.user, f)

        return self._paged(MAX_LIMIT, fetch)

    def hotspots(self, params: dict[str, Any]) -> dict[str, Any]:
        """The hotspot answer for `params`, emerging by `bin` when one is given."""
        from gis_core.incidents.hotspots import HotspotQuery, emerging_hotspots, hotspots

        q = HotspotQuery(params["from"], params["to"], params["category"], params["unit"], params["hex_size"])
        with self.engine.connect() as conn:
            if params.get("bin"):
                return emerging_hotspots(conn, self.user, q, params["bin"], self.epsg)
            return hotspots(conn, self.user, q, self.epsg)

    def trajectory(self, worker_id: int, since: datetime, until: datetime) -> dict[str, Any]:
        """A worker's trajectory over [since, until), if the account may read it."""
        from gis_core.field import tracks, trajectory

        with self.engine.connect() as conn:
            tracks.check_readable(conn, self.user, worker_id)
            return trajectory.trajectory(conn, worker_id, since, until, self.epsg)


class ServerPages:
    """Pages of features from a running server, following its `next` links."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def _follow(self, url: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        query: dict[str, Any] | None = {
            k: v.isoformat() if isinstance(v, datetime) else v for k, v in params.items() if v is not None
        }
        next_url: str | None = url
        while next_url:
            r = self.client.get(next_url, params=query)
            r.raise_for_status()
            body = r.json()
            yield from body["features"]
            next_url = next((link["href"] for link in body.get("links", []) if link["rel"] == "next"), None)
            query = None  # the next link carries every parameter

    def layer(self, name: str, filters: dict[str, str]) -> Iterator[dict[str, Any]]:
        """Every feature of the published layer `name` the account may read, filtered by property."""
        return self._follow(f"/collections/{name}/items", {"limit": PAGE, **filters})

    def incidents(self, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every incident the account may read that matches `params` (state, category, area, from, to)."""
        from gis_core.incidents.queries import MAX_LIMIT

        return self._follow("/api/v1/incidents", {"limit": MAX_LIMIT, **params})

    def hotspots(self, params: dict[str, Any]) -> dict[str, Any]:
        """The hotspot answer for `params`, emerging by `bin` when one is given."""
        path = "/api/v1/hotspots/emerging" if params.get("bin") else "/api/v1/hotspots"
        query = {
            k: v.isoformat() if isinstance(v, datetime) else v for k, v in params.items() if v is not None
        }
        r = self.client.get(path, params=query)
        r.raise_for_status()
        return r.json()  # type: ignore[no-any-return]

    def trajectory(self, worker_id: int, since: datetime, until: datetime) -> dict[str, Any]:
        """A worker's trajectory over [since, until), if the account may read it."""
        r = self.client.get(
            f"/api/v1/workers/{worker_id}/trajectory",
            params={"from": since.isoformat(), "to": until.isoformat()},
        )
        r.raise_for_status()
        return r.json()  # type: ignore[no-any-return]
