"""The server's tile cache: rendered tiles kept until the rows under them change.

Each entry remembers the tables its layers read. A change notice (table, lon/lat extent)
from the database drops exactly the entries of that table whose tile, with its buffer,
touches the extent, at every zoom; every other tile stays. A render that was running
while a change arrived is not stored, so no stale tile outlives its notice.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gis_core.publishing.tiles import BUFFER, EXTENT, etag, tile_bounds_lonlat


@dataclass(frozen=True)
class CachedTile:
    """A rendered tile: gzip-compressed body (empty for a tile with no feature) and its ETag."""

    gz: bytes
    etag: str
    size: int

    @classmethod
    def of(cls, data: bytes) -> CachedTile:
        """Wrap freshly rendered MVT bytes."""
        return cls(gzip.compress(data, compresslevel=6) if data else b"", etag(data), len(data))

    def body(self) -> bytes:
        """The uncompressed MVT bytes."""
        return gzip.decompress(self.gz) if self.gz else b""


class TileCache:
    """An LRU of rendered tiles, invalidated by changed extents per table."""

    def __init__(self, max_entries: int = 20_000):
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[Any, ...], tuple[CachedTile, tuple[str, ...]]] = OrderedDict()
        self._by_table: dict[str, set[tuple[Any, ...]]] = {}
        self._generation = 0
        self._lock = threading.Lock()
        self.hits = self.misses = self.invalidated = 0
        #: set each time a change notice has been applied (tests wait on it)
        self.changed = threading.Event()
        #: when the last change notice came (monotonic): a replica renders a tile only once it has
        #: replayed past it, or it would put back what the notice just took out
        self.changed_at = float("-inf")

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def generation(self) -> int:
        """Bumped by every change notice; a render records it before reading the database."""
        return self._generation

    def get(self, key: tuple[Any, ...]) -> CachedTile | None:
        """The cached tile for `key`, or None."""
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return found[0]

    def put(self, key: tuple[Any, ...], tile: CachedTile, tables: Iterable[str], generation: int) -> None:
        """Keep `tile`, unless a change arrived since `generation` (the render may predate it)."""
        tables = tuple(tables)
        with self._lock:
            if generation != self._generation:
                return
            self._entries[key] = (tile, tables)
            self._entries.move_to_end(key)
            for t in tables:
                self._by_table.setdefault(t, set()).add(key)
            while len(self._entries) > self.max_entries:
                self._drop(next(iter(self._entries)))

    def _drop(self, key: tuple[Any, ...]) -> None:
        _, tables = self._entries.pop(key)
        for t in tables:
            self._by_table[t].discard(key)

    def invalidate(self, table: str, bbox: tuple[float, float, float, float]) -> int:
        """Drop every cached tile of `table` whose buffered extent touches `bbox`; return how many."""
        west, south, east, north = bbox
        dropped = 0
        with self._lock:
            self._generation += 1
            self.changed_at = time.monotonic()
            for key in list(self._by_table.get(table, ())):
                _, z, x, y, _ = key
                w, s, e, n = tile_bounds_lonlat(z, x, y, margin=BUFFER / EXTENT)
                if w <= east and west <= e and s <= north and south <= n:
                    self._drop(key)
                    dropped += 1
            self.invalidated += dropped
        self.changed.set()
        return dropped

    def clear(self) -> None:
        """Forget everything (after the change feed was interrupted)."""
        with self._lock:
            self._generation += 1
            self.changed_at = time.monotonic()
            self._entries.clear()
            self._by_table.clear()
        self.changed.set()

    def on_notice(self, payload: str) -> None:
        """Apply a change notice from the `onegrid_tiles` channel."""
        note = json.loads(payload)
        self.invalidate(note["table"], tuple(note["bbox"]))  # type: ignore[arg-type]
