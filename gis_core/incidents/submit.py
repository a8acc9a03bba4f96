"""随手拍 submission: validate, locate, route by place and category, store exactly once.

A phone on a poor network retries; each submission carries an idempotency key. The same key
with the same content returns the incident stored the first time (nothing new is stored);
the same key with different content is a conflict. The key is a UNIQUE column, so two
retries racing each other still store one incident.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from gis_core.geo.crs import parse_crs, to_wgs84, valid_lonlat
from gis_core.geo.lookup import GridIndex
from gis_core.incidents import queries
from gis_core.incidents.photos import Photo, digest, inspect, photo_rows, store_photos
from gis_core.incidents.workflow import ACTIVE_STATES, OPEN_STATES
from gis_core.platform.auth import COMMAND, User
from gis_core.platform.db import Prepared, sql_file
from gis_core.platform.errors import Conflict, InvalidInput, TooManyPhotos
from gis_core.platform.scope import ACT_AS_SQL, act_as_params
from gis_core.platform.settings import Settings

SOURCE_BY_ROLE = {"grid_worker": "grid_worker", "citizen": "citizen"}
IDEMPOTENCY_KEY_MAX = 200

# One statement stores the report: the incident, its first timeline row, its photos' rows and
# its links to possible duplicates, open reports of the same category close by and recent (the
# search sees the statement's snapshot, so never the new report itself). The foreign keys are
# checked at the end of the statement, when all of them exist. The event id is drawn first,
# because a RETURNING would have to pass the timeline's read policy, which cannot see the
# incident before the statement ends. The statement returns the incident with the fields a
# read gives (queries.COLUMNS, fixed text), so a new report costs one round trip and its answer
# no second query. Prepared once per connection: planned anew for every report, it spent
# 0.6 ms of its 1.7 ms in the planner.
_INSERT = Prepared(
    "onegrid_submit_incident",
    sa.text(sql_file("report_insert.sql") + " SELECT " + queries.COLUMNS + queries.base("i")),
)


@dataclass
class Submission:
    """What a reporter sent."""

    category: str
    description: str = ""
    lon: float | None = None
    lat: float | None = None
    crs: str | None = None
    source: str | None = None
    photos: list[bytes] = field(default_factory=list)
    _digests: list[str] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def photo_digests(self) -> list[str]:
        """Each photo's SHA-256: part of the request's fingerprint, and the name it is stored under."""
        # kept by hand: Python 3.11's cached_property takes one lock for all instances, and 20
        # requests' threads queued on it while each hashed a phone photo
        if self._digests is None:
            self._digests = [digest(p) for p in self.photos]
        return self._digests


@dataclass(frozen=True)
class Submitted:
    """The stored incident's id, whether this call was a replay, and its fields."""

    id: int
    replayed: bool
    feature: dict[str, Any]  # as `queries.summary` gives it; on a replay, as stored the first time


def request_hash(user: User, s: Submission) -> str:
    """A fingerprint of the submission's content, to tell a retry from a different report."""
    payload = {
        "u": user.id,
        "c": s.category,
        "d": s.description,
        "x": s.lon,
        "y": s.lat,
        "crs": s.crs or "",
        "src": s.source or "",
        "p": s.photo_digests,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


# What every submission needs before anything else, in one round trip: the reporter named for
# row-level security, then the key's earlier incident (if any), the category, and, when the
# earlier incident is this very report (same fingerprint), its fields for the answer. A retry
# is then answered by this statement alone, whoever the reporter (their own report, which
# row-level security always lets them read). Prepared: planned once per connection.
_KEY_AND_CATEGORY = Prepared(
    "onegrid_submit_key",
    sa.text(
        "SELECT k.id AS key_id, k.request_hash AS key_hash, c.code AS cat_code, "
        "c.handling_level AS cat_level, c.department_code AS cat_department, "
        "c.accept_hours AS cat_accept_hours, c.version AS cat_version, r.* "
        "FROM (SELECT) AS one "
        "LEFT JOIN incident_by_key(:k) AS k ON true "
        "LEFT JOIN category AS c ON c.code = :c "
        f"LEFT JOIN LATERAL (SELECT {queries.COLUMNS} {queries.base()} "
        # LIMIT: a subquery the planner cannot flatten into a hash join over every incident
        "                    WHERE i.id = k.id AND k.request_hash = :hash LIMIT 1) AS r ON true"
    ),
    before=ACT_AS_SQL,
)
_KEY_AND_CATEGORY_FIELDS = (
    "key_id",
    "key_hash",
    "cat_code",
    "cat_level",
    "cat_department",
    "cat_accept_hours",
    "cat_version",
)


def _look_up(conn: sa.Connection, user: User, category: str, key: str, fingerprint: str) -> Any:
    """The row of `_KEY_AND_CATEGORY` for this submission."""
    params = {"k": key, "c": category, "hash": fingerprint, "active": list(ACTIVE_STATES)}
    return _KEY_AND_CATEGORY.execute(conn, {**params, **act_as_params(user)}).one()


def _replay(known: Any, fingerprint: str) -> Submitted | None:
    """The submission stored earlier under the key (`_look_up`'s row), if any; 409 if it differs."""
    if known.key_id is None:
        return None
    if known.key_hash != fingerprint:
        raise Conflict(
            "this Idempotency-Key was used for a different report",
            where="header.Idempotency-Key",
            incident_id=known.key_id,
        )
    stored = {k: v for k, v in known._mapping.items() if k not in _KEY_AND_CATEGORY_FIELDS}
    return Submitted(known.key_id, replayed=True, feature=queries.feature(stored))


def _location(s: Submission, photos: list[Photo]) -> tuple[float, float]:
    if s.lon is None and s.lat is None:
        gps = photos[0].gps if photos else None
        if gps is None:
            raise InvalidInput(
                "no location: send lon and lat, or a first photo with GPS in its EXIF", where="body.lon,lat"
            )
        return gps
    if s.lon is None or s.lat is None:
        raise InvalidInput("send both lon and lat", where="body.lon,lat")
    spec = parse_crs(s.crs, where="body.crs")
    if spec.kind == "epsg" and spec.epsg not in (4326, 4490) or not valid_lonlat(s.lon, s.lat):
        raise InvalidInput(
            "lon/lat must be geographic WGS84, CGCS2000, GCJ-02 or BD-09 coordinates", where="body.lon,lat"
        )
    lon, lat = to_wgs84(s.lon, s.lat, spec)
    return float(lon), float(lat)


def submit(
    conn: sa.Connection,
    index: GridIndex,
    settings: Settings,
    user: User,
    s: Submission,
    key: str,
    now: datetime,
) -> Submitted:
    """Store a report once per idempotency key; route it by location and category.

    Binds `conn`'s transaction to `user` (row-level security) in its first statement, so the
    caller need not.
    """
    if not key or len(key) > IDEMPOTENCY_KEY_MAX:
        raise InvalidInput(
            f"an Idempotency-Key header of 1-{IDEMPOTENCY_KEY_MAX} characters is required",
            where="header.Idempotency-Key",
        )
    if len(s.photos) > settings.photo_max_count:
        raise TooManyPhotos(
            f"{len(s.photos)} photos; at most {settings.photo_max_count}",
            where=f"body.photos[{settings.photo_max_count}]",
        )
    fingerprint = request_hash(user, s)
    known = _look_up(conn, user, s.category, key, fingerprint)
    done = _replay(known, fingerprint)
    if done:
        return done
    if known.cat_code is None:
        raise InvalidInput(f"unknown category {s.category!r}; see /api/v1/categories", where="body.category")
    checked = [
        inspect(p, settings.photo_max_bytes, settings.photo_max_pixels, f"body.photos[{i}]", sha256=d)
        for i, (p, d) in enumerate(zip(s.photos, s.photo_digests, strict=True))
    ]
    lon, lat = _location(s, [c[1] for c in checked])
    place = index.require(lon, lat, where="body.lon,lat")
    source = (
        s.source
        if user.role in COMMAND and s.source in ("hotline", "camera")
        else SOURCE_BY_ROLE.get(user.role, "citizen")
    )
    store_photos(
        [
            (data, img, photo, f"body.photos[{i}]")
            for i, (data, (img, photo)) in enumerate(zip(s.photos, checked, strict=True))
        ],
        settings.photo_dir,
    )
    # the units across a nearby grid edge, from the in-process index: this is a hot path
    adjacent = [
        loc.grid.code
        for loc in index.within(lon, lat, settings.boundary_flag_m)
        if loc.grid.code != place.grid.code
    ]
    level = known.cat_level
    photos = [photo for _, photo in checked]
    row = _INSERT.execute(
        conn,
        {
            "now": now,
            "cat": known.cat_code,
            "cver": known.cat_version,
            "desc": s.description,
            "src": source,
            "lvl": level,
            "dept": known.cat_department,
            "uid": user.id,
            "uname": user.display_name,
            "due": now + timedelta(hours=float(known.cat_accept_hours)),
            "near": bool(adjacent),
            "adj": list(adjacent),
            "key": key,
            "hash": fingerprint,
            "x": lon,
            "y": lat,
            "event": json.dumps({"grid": place.grid.code, "adjacent_grids": list(adjacent)}),
            **photo_rows(photos),
            "active": list(ACTIVE_STATES),
            # possible duplicates: open (suspended included) and recent, among everyone's reports
            "open": list(OPEN_STATES),
            "since": now - timedelta(days=settings.duplicate_days),
            "r": settings.duplicate_radius_m,
            "deg": settings.duplicate_radius_m / 70_000,  # ≥ r metres in both axes below 50° N
        },
    ).first()
    if row is None:  # a concurrent retry with the same key got there first (and has committed)
        raced = _replay(_look_up(conn, user, s.category, key, fingerprint), fingerprint)
        assert raced is not None
        return raced
    return Submitted(int(row.id), replayed=False, feature=queries.feature(row._mapping))
