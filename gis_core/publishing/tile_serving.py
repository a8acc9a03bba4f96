"""Serving one vector tile.

The process's cache first, else a render kept for the next reader; and the audit of a tile that
carries personal data unmasked (a cached one too: it is still a read).

A cache hit never leaves the event loop; a render and an audit row run in the thread pool.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from anyio import to_thread

from gis_core.platform.auth import User
from gis_core.platform.scope import act_as
from gis_core.platform.timing import phase
from gis_core.publishing import audit, tiles
from gis_core.publishing.tile_cache import CachedTile, TileCache


@dataclass(frozen=True)
class Served:
    """A tile and how this process had it: `hit`, `miss` (rendered and kept) or `pass` (never cached)."""

    tile: CachedTile
    cache: str
    read_from: str = "primary"  # where a rendered tile was read: the primary or a replica's name


class TileServer:
    """The tile cache, the tile pool (autocommit, tile timeout) and the pool audit rows go through."""

    def __init__(
        self,
        cache: TileCache,
        tile_engine: sa.Engine,
        engine: sa.Engine,
        replica_for: Callable[[User, float], Any] | None = None,
    ):
        """`engine` binds the audit row to the reader (row-level security), like any request.

        `replica_for(user, since)`: a replica (with a `tile_engine`, a `name`, and `up` to clear
        when it fails) that has replayed everything committed before `since`, or None.
        """
        self.cache, self.tile_engine, self.engine = cache, tile_engine, engine
        self.replica_for = replica_for

    async def serve(self, req: tiles.TileRequest, user: User, where: audit.ReadContext) -> Served:
        """The tile of `req` as `user` sees it, audited when it carries personal data unmasked."""
        key = tiles.cache_key(req, user)
        found = self.cache.get(key) if key is not None else None
        source = "cache"
        if found is None:
            tile, source = await to_thread.run_sync(self._render, req, user, key)
        else:
            tile = found
        if tile.size and audit.unmasked_fields(req.layers, user, req.z):
            await to_thread.run_sync(self._log, req, user, where)
        return Served(tile, "hit" if found is not None else ("miss" if key is not None else "pass"), source)

    def _render(
        self, req: tiles.TileRequest, user: User, key: tuple[object, ...] | None
    ) -> tuple[CachedTile, str]:
        """Render a tile (on a fresh replica if there is one) and keep it under `key` (None: not cached)."""
        generation = self.cache.generation
        replica = self.replica_for(user, self.cache.changed_at) if self.replica_for else None
        if replica is not None:
            try:
                with replica.tile_engine.connect() as conn, phase("render"):
                    tile = CachedTile.of(tiles.render(conn, req, user))
            except sa.exc.DBAPIError:  # stopped, restarting, a recovery conflict: the primary answers
                replica.up = False
            else:
                self._keep(key, req, tile, generation)
                return tile, replica.name
        return self._render_on_primary(req, user, key, generation), "primary"

    def _keep(
        self, key: tuple[object, ...] | None, req: tiles.TileRequest, tile: CachedTile, generation: int
    ) -> None:
        if key is not None:
            self.cache.put(key, tile, {t for layer in req.layers for t in layer.watched}, generation)

    def _render_on_primary(
        self, req: tiles.TileRequest, user: User, key: tuple[object, ...] | None, generation: int
    ) -> CachedTile:
        for attempt in (1, 2):
            with phase("pool"):
                conn = self.tile_engine.connect()
            try:
                with conn, phase("render"):
                    tile = CachedTile.of(tiles.render(conn, req, user))
                break
            except sa.exc.DBAPIError as exc:
                # the tile pool skips the ping, so a connection that died while idle (a database
                # restart, a terminated backend) is found out by its first statement; SQLAlchemy
                # then retires the pool's older connections, and a tile, being a read, is asked once more
                if attempt == 2 or not exc.connection_invalidated:
                    raise
        self._keep(key, req, tile, generation)
        return tile

    def _log(self, req: tiles.TileRequest, user: User, where: audit.ReadContext) -> None:
        with self.engine.begin() as conn:
            act_as(conn, user)
            audit.log_read(conn, user, req.layers, "tile", None, where, req.z)
