"""Point → district / street / community / grid (+ the grid's workers), in process.

Every report, GPS fix and wall click asks this, so it is answered from an in-memory
STRtree of grid polygons rather than a database round trip. PostGIS stays the source
of truth: the index is rebuilt when the `boundary_revision` moves, which the database
announces on the `onegrid_boundaries` channel (heard by `gis_core.platform.notify.Listener`).
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, field, replace

import numpy as np
import shapely
import sqlalchemy as sa

from gis_core.geo.models import Community, District, Grid, Street, Worker, WorkerGrid
from gis_core.platform.auth import STAFF, User
from gis_core.platform.errors import LocationOutsideDistrict
from gis_core.platform.pii import mask_phone

log = logging.getLogger(__name__)

#: Metres per degree: of latitude (mean), and of longitude at the equator (scaled by cos φ).
M_PER_DEG_LAT = 111_195.0

#: 64 points on the unit circle, scaled and moved by `GridIndex.within` on every report: a
#: quarter of the time of buffering a point and scaling the result.
_ANGLES = np.linspace(0, 2 * np.pi, 64, endpoint=False)
_UNIT_CIRCLE = np.column_stack([np.cos(_ANGLES), np.sin(_ANGLES)])  # shapely closes the ring


@dataclass(frozen=True)
class Unit:
    """One administrative unit: its code, name and kind."""

    code: str
    name: str
    kind: str


@dataclass(frozen=True)
class WorkerRef:
    """A grid worker responsible for a grid."""

    id: int
    code: str
    name: str
    phone: str | None
    is_primary: bool


@dataclass(frozen=True)
class Location:
    """The units that contain a point, and who is responsible for its grid."""

    district: Unit
    street: Unit
    community: Unit
    grid: Unit
    workers: tuple[WorkerRef, ...] = field(default_factory=tuple)
    grid_id: int = 0


def workers_seen_by(user: User, location: Location) -> list[WorkerRef]:
    """The grid's workers as `user` sees them.

    Staff, who dispatch to them, get full phone numbers; anyone else a masked one.
    """
    if user.role in STAFF:
        return list(location.workers)
    return [replace(w, phone=mask_phone(w.phone)) for w in location.workers]


def _grids_query() -> sa.Select:  # type: ignore[type-arg]
    """Grids with their community, street and district, in code order."""
    return (
        sa.select(
            Grid.id,
            Grid.code,
            Grid.name,
            Grid.kind,
            sa.func.ST_AsBinary(Grid.geom).label("wkb"),
            Community.code.label("c_code"),
            Community.name.label("c_name"),
            Community.kind.label("c_kind"),
            Street.code.label("s_code"),
            Street.name.label("s_name"),
            Street.kind.label("s_kind"),
            District.code.label("d_code"),
            District.name.label("d_name"),
        )
        .join(Community, Community.id == Grid.community_id)
        .join(Street, Street.id == Community.street_id)
        .join(District, District.id == Street.district_id)
        .order_by(Grid.code)
    )


def _workers_query() -> sa.Select:  # type: ignore[type-arg]
    """Active workers per grid, primary first."""
    return (
        sa.select(
            WorkerGrid.grid_id, Worker.id, Worker.code, Worker.name, Worker.phone, WorkerGrid.is_primary
        )
        .join(Worker, Worker.id == WorkerGrid.worker_id)
        .where(Worker.active)
        .order_by(WorkerGrid.grid_id, sa.not_(WorkerGrid.is_primary), Worker.code)
    )


class GridIndex:
    """An immutable snapshot of the grid layer at one boundary revision."""

    def __init__(self, revision: int, locations: list[Location], polygons: list[shapely.Geometry]):
        self.revision = revision
        self._locations = locations
        self._polygons = np.array(polygons, dtype=object)
        shapely.prepare(self._polygons)
        self._tree = shapely.STRtree(self._polygons)

    def __len__(self) -> int:
        return len(self._locations)

    @classmethod
    def load(cls, conn: sa.Connection) -> GridIndex:
        """Read the grid layer and its workers (call inside one snapshot)."""
        revision = int(conn.execute(sa.text("SELECT revision FROM boundary_revision")).scalar_one())
        workers: dict[int, list[WorkerRef]] = {}
        for r in conn.execute(_workers_query()):
            workers.setdefault(r.grid_id, []).append(WorkerRef(r.id, r.code, r.name, r.phone, r.is_primary))
        locations, polygons = [], []
        for r in conn.execute(_grids_query()):
            locations.append(
                Location(
                    district=Unit(r.d_code.strip(), r.d_name, "district"),
                    street=Unit(r.s_code.strip(), r.s_name, r.s_kind),
                    community=Unit(r.c_code.strip(), r.c_name, r.c_kind),
                    grid=Unit(r.code, r.name, r.kind),
                    workers=tuple(workers.get(r.id, ())),
                    grid_id=r.id,
                )
            )
            polygons.append(shapely.from_wkb(bytes(r.wkb)))
        return cls(revision, locations, polygons)

    def locate(self, lon: float, lat: float) -> Location | None:
        """The units containing WGS84 (lon, lat); on a shared edge the lowest grid code wins."""
        hits = self._tree.query(shapely.Point(lon, lat), predicate="intersects")
        if hits.size == 0:
            return None
        return self._locations[int(hits.min())]  # rows are ordered by grid code

    def require(self, lon: float, lat: float, where: str) -> Location:
        """As `locate`, for a point a request gave: outside the district is a 400 problem at `where`."""
        found = self.locate(lon, lat)
        if found is None:
            raise LocationOutsideDistrict(f"({lon:.6f}, {lat:.6f}) is not inside the district", where=where)
        return found

    def within(self, lon: float, lat: float, metres: float) -> list[Location]:
        """Grids within `metres` of a WGS84 point, in code order.

        The circle is drawn in a local equirectangular frame (an ellipse in lon/lat), which
        over tens of metres is exact to well under a centimetre.
        """
        radii = (metres / (M_PER_DEG_LAT * math.cos(math.radians(lat))), metres / M_PER_DEG_LAT)
        circle = shapely.polygons(_UNIT_CIRCLE * radii + (lon, lat))
        hits = self._tree.query(circle, predicate="intersects")
        return [self._locations[int(i)] for i in sorted(hits)]

    def locate_many(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Index into the grid list for each point (-1 outside), vectorised."""
        pts = shapely.points(lon, lat)
        pairs = self._tree.query(pts, predicate="intersects")
        out = np.full(len(pts), -1, dtype=np.int64)
        # iterate in reverse so that the smallest grid index per point is the one left
        order = np.argsort(-pairs[1], kind="stable")
        out[pairs[0][order]] = pairs[1][order]
        return out

    def location(self, i: int) -> Location:
        """The i-th grid's location record (for `locate_many` results)."""
        return self._locations[i]


class GridIndexCache:
    """The current GridIndex of a process, rebuilt when the boundary revision moves.

    Give it an engine apart from the request pool (see `api.app`): a rebuild triggered by a
    request must not wait for a connection that requests are holding.
    """

    def __init__(self, engine: sa.Engine):
        self._engine = engine
        self._index: GridIndex | None = None
        self._seen_revision = -1
        self._dirty = False
        self._lock = threading.Lock()

    def note_revision(self, revision: int) -> None:
        """Record that the database has reached `revision` (from a NOTIFY)."""
        self._seen_revision = max(self._seen_revision, revision)

    def invalidate(self) -> None:
        """Force one rebuild on next use (e.g. after the listener reconnects)."""
        self._dirty = True

    def current(self) -> GridIndex | None:
        """The index if it is up to date, without blocking; None when it needs a rebuild."""
        index = self._index
        if index is not None and not self._dirty and index.revision >= self._seen_revision:
            return index
        return None

    def get(self) -> GridIndex:
        """The index, rebuilt first if invalidated or a newer revision has been announced."""
        index = self._index
        if index is not None and not self._dirty and index.revision >= self._seen_revision:
            return index
        with self._lock:
            index = self._index
            if index is None or self._dirty or index.revision < self._seen_revision:
                self._dirty = False  # before loading: an invalidation during the load re-dirties it
                with self._engine.connect() as conn:
                    conn = conn.execution_options(isolation_level="REPEATABLE READ")
                    with conn.begin():
                        index = GridIndex.load(conn)
                self._index = index
                log.info("grid index rebuilt: %d grids at revision %d", len(index), index.revision)
            return index

    def refresh_if_changed(self) -> GridIndex:
        """Ask the database for its revision and rebuild if needed (no listener required)."""
        with self._engine.connect() as conn:
            self.note_revision(
                int(conn.execute(sa.text("SELECT revision FROM boundary_revision")).scalar_one())
            )
        return self.get()
