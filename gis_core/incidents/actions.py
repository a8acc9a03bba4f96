"""A person's workflow action, taken once, with its photos and what it sets going.

Checked against the state machine, applied on the version they saw, with its photos, and
followed through to a split incident's parent or children (`subtasks`).

A phone that lost the answer retries with the same Idempotency-Key: the action is not taken
again, and the retry is answered with the incident as it is (`Taken.replayed`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from gis_core.incidents import subtasks
from gis_core.incidents.photos import Photo, inspect, photo_rows, store_photos
from gis_core.incidents.workflow import (
    ACTIONS,
    allowed_actions,
    may,
    plan,
    snapshot,
    transition,
    worker_grids,
)
from gis_core.platform.auth import User
from gis_core.platform.errors import Conflict, Forbidden, InvalidInput
from gis_core.platform.scope import as_system
from gis_core.platform.settings import Settings


@dataclass(frozen=True)
class Taken:
    """What came of an action: the incident's version after it, and whether it was a retry."""

    version: int
    replayed: bool


def _earlier(conn: sa.Connection, incident_id: int, key: str | None) -> Taken | None:
    """The action this key already took on this incident (None when the key is new)."""
    if key is None:
        return None
    row = conn.execute(
        sa.text(
            "SELECT e.incident_id, i.version FROM incident_event e JOIN incident i ON i.id = e.incident_id "
            "WHERE e.idempotency_key = :k"
        ),
        {"k": key},
    ).first()
    if row is None:
        return None
    if row.incident_id != incident_id:
        raise InvalidInput(
            "this Idempotency-Key was used for another incident", where="header.Idempotency-Key"
        )
    return Taken(int(row.version), replayed=True)


def _attach(conn: sa.Connection, incident_id: int, event_id: int, photos: Sequence[Photo]) -> None:
    conn.execute(
        sa.text(
            "INSERT INTO incident_photo (incident_id, event_id, sha256, content_type, width, height, bytes, "
            "position, taken_lon, taken_lat) "
            "SELECT :i, :e, p.sha, p.type, p.w, p.h, p.b, "
            "       (SELECT count(*) FROM incident_photo o WHERE o.incident_id = :i) + p.n - 1, p.lon, p.lat "
            "FROM unnest(CAST(:p_sha AS text[]), CAST(:p_type AS text[]), CAST(:p_w AS int[]), "
            "            CAST(:p_h AS int[]), CAST(:p_bytes AS int[]), CAST(:p_lon AS float8[]), "
            "            CAST(:p_lat AS float8[])) WITH ORDINALITY AS p(sha, type, w, h, b, lon, lat, n)"
        ),
        {"i": incident_id, "e": event_id, **photo_rows(photos)},
    )


def act(
    conn: sa.Connection,
    user: User,
    incident_id: int,
    action: str,
    version: int | None,
    body: dict[str, Any],
    now: datetime,
    key: str | None = None,
    photos: Sequence[bytes] = (),
    settings: Settings | None = None,
) -> Taken:
    """Take `action` on an incident as `user`, expecting it at `version`, once per `key`.

    409 when the state does not allow the action (naming the state and what is allowed) or
    the version is stale; 403 when the state allows it but the user may not. Photos (before
    and after, 处置前后) are checked like a report's, stripped, and attached to the timeline row.
    """
    if action not in ACTIONS:
        raise InvalidInput(f"unknown action {action!r}; one of {', '.join(ACTIONS)}", where="body.action")
    done = _earlier(conn, incident_id, key)
    if done:
        return done
    try:
        return _act(conn, user, incident_id, action, version, body, now, key, photos, settings)
    except Conflict:
        # a retry that raced its own first try: that one took the action, this one is its answer
        done = _earlier(conn, incident_id, key)
        if done:
            return done
        raise


def _act(
    conn: sa.Connection,
    user: User,
    incident_id: int,
    action: str,
    version: int | None,
    body: dict[str, Any],
    now: datetime,
    key: str | None,
    photos: Sequence[bytes],
    settings: Settings | None,
) -> Taken:
    if version is None:
        raise InvalidInput(
            "send the version you acted on, as If-Match or body.version", where="header.If-Match"
        )
    inc = snapshot(conn, incident_id)
    grids = worker_grids(conn, user)
    allowed = allowed_actions(user, inc, grids)
    spec = ACTIONS[action]
    if inc.state not in spec.sources:
        raise Conflict(
            f"cannot {action} an incident that is {inc.state}",
            where="body.action",
            current_state=inc.state,
            allowed_actions=allowed,
        )
    if not may(user, spec, inc, grids):
        self_rating = spec.who == "rater" and inc.resolved_by == user.id
        raise Forbidden(
            "whoever resolved an incident may not rate it"
            if self_rating
            else f"{user.role} {user.username!r} may not {action} this incident",
            where="body.action",
            current_state=inc.state,
            allowed_actions=allowed,
        )
    if version != inc.version:
        raise Conflict(
            f"stale version {version}; the incident is at version {inc.version}",
            where="header.If-Match",
            current_state=inc.state,
            current_version=inc.version,
            allowed_actions=allowed,
        )
    checked: list[Photo] = []
    if photos:
        assert settings is not None, "photos need the settings' limits and store"
        if len(photos) > settings.photo_max_count:
            raise InvalidInput(f"at most {settings.photo_max_count} photos", where="body.photos")
        opened = [
            inspect(p, settings.photo_max_bytes, settings.photo_max_pixels, f"body.photos[{i}]")
            for i, p in enumerate(photos)
        ]
        store_photos(
            [
                (p, img, ph, f"body.photos[{i}]")
                for i, (p, (img, ph)) in enumerate(zip(photos, opened, strict=True))
            ],
            settings.photo_dir,
        )
        checked = [ph for _, ph in opened]
    to_state, changes, data = plan(action, inc, body, now, conn)
    if checked:
        data["photos"] = len(checked)
    note = str(body.get("note") or "")
    new_version, event_id = transition(conn, inc, action, to_state, changes, data, user.id, note, now, key)
    if checked:
        _attach(conn, inc.id, event_id, checked)
    if action == "split" or inc.parent_id or inc.subtasks:
        with as_system(conn):  # a sub-task's handler cannot read the parent it finishes
            subtasks.follow_up(conn, inc, action, to_state, data, user.id, now)
    return Taken(new_version, replayed=False)
