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

from gis_core.auth import User
from gis_core.crs import UnknownCRS, parse_crs, to_wgs84, valid_lonlat
from gis_core.errors import Conflict, InvalidInput, UnknownCRSError
from gis_core.lookup import GridIndex
from gis_core.photos import Photo, digest, inspect, store_photo
from gis_core.settings import Settings

SOURCE_BY_ROLE = {"grid_worker": "grid_worker", "citizen": "citizen"}
IDEMPOTENCY_KEY_MAX = 200


class TooManyPhotos(InvalidInput):
    """More photos than a report may carry."""

    code = "too-many-photos"
    title = "Too many photos"


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


@dataclass(frozen=True)
class Submitted:
    """The stored incident's id, and whether this call was a replay of an earlier one."""

    id: int
    replayed: bool


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
        "p": [digest(p) for p in s.photos],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _existing(conn: sa.Connection, key: str, fingerprint: str) -> Submitted | None:
    row = conn.execute(
        # every reporter's keys, not only the caller's (row-level security): keys are unique
        sa.text("SELECT id, request_hash FROM incident_by_key(:k)"),
        {"k": key},
    ).first()
    if row is None:
        return None
    if row.request_hash != fingerprint:
        raise Conflict(
            "this Idempotency-Key was used for a different report",
            where="header.Idempotency-Key",
            incident_id=row.id,
        )
    return Submitted(row.id, replayed=True)


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
    try:
        spec = parse_crs(s.crs)
    except UnknownCRS as exc:
        raise UnknownCRSError(str(exc), where="body.crs") from exc
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
    """Store a report once per idempotency key; route it by location and category."""
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
    done = _existing(conn, key, fingerprint)
    if done:
        return done
    cat = conn.execute(sa.text("SELECT * FROM category WHERE code = :c"), {"c": s.category}).first()
    if cat is None:
        raise InvalidInput(f"unknown category {s.category!r}; see /api/v1/categories", where="body.category")
    checked = [
        inspect(p, settings.photo_max_bytes, settings.photo_max_pixels, where=f"body.photos[{i}]")
        for i, p in enumerate(s.photos)
    ]
    lon, lat = _location(s, [c[1] for c in checked])
    place = index.require(lon, lat, where="body.lon,lat")
    source = (
        s.source
        if user.role == "commander" and s.source in ("hotline", "camera")
        else SOURCE_BY_ROLE.get(user.role, "citizen")
    )
    for data, (img, photo) in zip(s.photos, checked, strict=True):
        store_photo(data, img, photo, settings.photo_dir)
    # the units across a nearby grid edge, from the in-process index: this is a hot path
    adjacent = [
        loc.grid.code
        for loc in index.within(lon, lat, settings.boundary_flag_m)
        if loc.grid.code != place.grid.code
    ]
    level = cat.handling_level
    row = conn.execute(
        sa.text("""
        INSERT INTO incident (code, category_code, description, source, state, level, department_code,
                              reporter_user_id, reporter_name, reported_at, due_at, near_boundary,
                              adjacent_grid_codes, idempotency_key, request_hash, geom, updated_at)
        VALUES ('YB' || to_char(:now AT TIME ZONE 'Asia/Shanghai', 'YYYYMMDD') || '-'
                    || lpad(nextval('incident_code_seq')::text, 6, '0'),
                :cat, :desc, :src, 'reported', :lvl, :dept, :uid, :uname, :now, :due, :near, :adj,
                :key, :hash,
                ST_SetSRID(ST_MakePoint(:x, :y), 4326), :now)
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING id"""),
        {
            "now": now,
            "cat": cat.code,
            "desc": s.description,
            "src": source,
            "lvl": level,
            "dept": cat.department_code,
            "uid": user.id,
            "uname": user.display_name,
            "due": now + timedelta(hours=float(cat.accept_hours)),
            "near": bool(adjacent),
            "adj": list(adjacent),
            "key": key,
            "hash": fingerprint,
            "x": lon,
            "y": lat,
        },
    ).first()
    if row is None:  # a concurrent retry with the same key got there first
        raced = _existing(conn, key, fingerprint)
        assert raced is not None
        return raced
    incident_id = int(row.id)
    event_id = conn.execute(
        sa.text(
            "INSERT INTO incident_event (incident_id, action, from_state, to_state, actor_user_id, at, "
            "level, department_code, data) "
            "VALUES (:i, 'report', NULL, 'reported', :u, :now, :l, :d, CAST(:data AS jsonb)) "
            "RETURNING id"
        ),
        {
            "i": incident_id,
            "u": user.id,
            "now": now,
            "l": level,
            "d": cat.department_code,
            "data": json.dumps({"grid": place.grid.code, "adjacent_grids": list(adjacent)}),
        },
    ).scalar()
    for pos, (_, photo) in enumerate(checked):
        conn.execute(
            sa.text(
                "INSERT INTO incident_photo (incident_id, event_id, sha256, content_type, width, height, "
                "bytes, position, taken_lon, taken_lat) VALUES (:i, :e, :h, :ct, :w, :hh, :b, :p, :tx, :ty)"
            ),
            {
                "i": incident_id,
                "e": event_id,
                "h": photo.sha256,
                "ct": photo.content_type,
                "w": photo.width,
                "hh": photo.height,
                "b": photo.bytes,
                "p": pos,
                "tx": photo.gps[0] if photo.gps else None,
                "ty": photo.gps[1] if photo.gps else None,
            },
        )
    _link_duplicates(conn, incident_id, settings, now)
    return Submitted(incident_id, replayed=False)


def _link_duplicates(conn: sa.Connection, incident_id: int, settings: Settings, now: datetime) -> None:
    """Link open incidents of the same category close by and recent, for the handler to merge."""
    # among everyone's reports, not only those the reporter may read (row-level security)
    conn.execute(
        sa.text("SELECT link_incident_duplicates(:id, :open, :since, :r, :deg)"),
        {
            "open": ["reported", "accepted", "dispatched", "in_progress", "suspended"],
            "since": now - timedelta(days=settings.duplicate_days),
            "r": settings.duplicate_radius_m,
            "deg": settings.duplicate_radius_m / 70_000,  # ≥ r metres in both axes below 50° N
            "id": incident_id,
        },
    )


def as_dict(row: Any) -> dict[str, Any]:
    """A row as a plain dict."""
    return dict(row._mapping)
