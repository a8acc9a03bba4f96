"""Hotline intake (8890 / 12345, 接诉即办): a case with a spoken address joins the same loop as a report.

A case is stored once per case number (the hotline resends on a timeout; the same case again
is answered as the first time, a different case under the same number is a conflict). Its
address is geocoded; a confident match at a door plate or finer becomes an incident at once,
through the same submission as a phone's report (routed by place and category, linked to
possible duplicates, source 'hotline', idempotency key ``hotline:<case number>``). Anything
less waits in the manual-location queue with the best candidates, until a dispatcher places it
at a standard address or a point; then it continues as if it had been placed at intake.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from gis_core.geo.geocode import Candidate, check_query, geocode
from gis_core.geo.lookup import GridIndex
from gis_core.incidents.submit import Submission, submit
from gis_core.platform.auth import User
from gis_core.platform.errors import Conflict, InvalidInput, NotFound
from gis_core.platform.sealing import sealer
from gis_core.platform.settings import Settings

CASE_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
#: levels precise enough to place a case without a person looking at it
PLACEABLE = ("room", "unit", "building", "door")
DESCRIPTION_MAX = 2000


@dataclass(frozen=True)
class HotlineCase:
    """A case as the hotline sends it."""

    case_number: str
    received_at: datetime
    address: str
    category: str  # a catalogue code (0101) or an item's name as the operator wrote it (暴露垃圾)
    description: str = ""
    caller_phone: str | None = None
    deadline: datetime | None = None
    line: str = "8890"


@dataclass(frozen=True)
class Intake:
    """What became of a case: placed (with its incident) or waiting to be placed (with candidates)."""

    case_number: str
    state: str
    replayed: bool
    incident: dict[str, Any] | None
    candidates: list[dict[str, Any]]


def _fingerprint(c: HotlineCase) -> str:
    payload = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(c).items()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _check(c: HotlineCase) -> None:
    if not CASE_NUMBER.match(c.case_number or ""):
        raise InvalidInput(
            "case_number is required: 1-64 letters, digits and _ . : - (the hotline's own number)",
            where="body.case_number",
        )
    check_query(c.address, where="body.address")
    if c.received_at.tzinfo is None or (c.deadline is not None and c.deadline.tzinfo is None):
        raise InvalidInput("times need a time zone (Z or an offset)", where="body.received_at")
    if len(c.description) > DESCRIPTION_MAX:
        raise InvalidInput(f"description has at most {DESCRIPTION_MAX} characters", where="body.description")


# an item's name a character or so wrong (as typed on a call) is still that item
_CATEGORY = sa.text(
    """
    SELECT code FROM (
        SELECT code, code = :c OR name = :c OR major_name || name = :c AS exact,
               1 - levenshtein(name, :c)::float8 / greatest(length(name), length(:c)) AS score
        FROM category) AS c
    WHERE exact OR score >= 0.7
    ORDER BY exact DESC, score DESC, code
    LIMIT 1
    """
)


def category_of(conn: sa.Connection, text: str) -> str:
    """The catalogue code for a hotline's category: the code, an item's name, or a name close to one."""
    if not 1 <= len(text.strip()) <= 100:  # and levenshtein reads at most 255 characters
        raise InvalidInput("category: a code or an item's name, 1-100 characters", where="body.category")
    code = conn.execute(_CATEGORY, {"c": text.strip()}).scalar()
    if code is None:
        raise InvalidInput(
            f"no catalogue item is called {text!r}; see /api/v1/categories", where="body.category"
        )
    return str(code)


def _placeable(found: list[Candidate], min_score: float) -> Candidate | None:
    """The top candidate when it is precise and clearly ahead of the next; None otherwise."""
    if not found or found[0].level not in PLACEABLE or found[0].score < min_score:
        return None
    if len(found) > 1 and found[1].score >= found[0].score - 0.05 and found[1].code != found[0].code:
        return None
    return found[0]


_INSERT = sa.text(
    """
    INSERT INTO hotline_case (case_number, line, received_at, caller_phone_sealed, caller_phone_digest,
                              address_text, category_code, description, hotline_due_at, request_hash, state)
    VALUES (:n, :line, :recv, :ps, :pd, :addr, :cat, :desc, :due, :hash, 'unplaced')
    ON CONFLICT (case_number) DO NOTHING
    RETURNING id
    """
)
_EXISTING = sa.text(
    "SELECT h.case_number, h.state, h.request_hash, h.candidates, h.incident_id FROM hotline_case h "
    "WHERE h.case_number = :n"
)


def intake(
    conn: sa.Connection, index: GridIndex, settings: Settings, user: User, c: HotlineCase, now: datetime
) -> Intake:
    """Store the case once; place it now if its address is clear, else queue it (module docstring)."""
    _check(c)
    fingerprint = _fingerprint(c)
    category = category_of(conn, c.category)
    phone_sealed, phone_digest = sealer(settings).seal_and_digest(c.caller_phone or None)
    params = {
        "n": c.case_number,
        "line": c.line,
        "recv": c.received_at,
        "ps": phone_sealed,
        "pd": phone_digest,
        "addr": c.address,
        "cat": category,
        "desc": c.description,
        "due": c.deadline,
        "hash": fingerprint,
    }
    if conn.execute(_INSERT, params).first() is None:  # stored before (or by a racing resend, now committed)
        return _replayed(conn, c.case_number, fingerprint)
    found = geocode(conn, index, user, c.address, limit=5)
    best = _placeable(found, settings.hotline_place_min_score)
    if best is None:
        conn.execute(
            sa.text("UPDATE hotline_case SET candidates = CAST(:c AS jsonb) WHERE case_number = :n"),
            {"n": c.case_number, "c": json.dumps([_brief(x) for x in found], ensure_ascii=False)},
        )
        return Intake(c.case_number, "unplaced", False, None, [_brief(x) for x in found])
    incident = _open_incident(conn, index, settings, user, c.case_number, best.lon, best.lat, best.code, now)
    return Intake(c.case_number, "placed", False, incident, [])


def _brief(c: Candidate) -> dict[str, Any]:
    return {"code": c.code, "level": c.level, "address": c.address, "lon": c.lon, "lat": c.lat,
            "score": c.score, "grid": c.grid}  # fmt: skip


def _replayed(conn: sa.Connection, number: str, fingerprint: str) -> Intake:
    row = conn.execute(_EXISTING, {"n": number}).one()
    if row.request_hash != fingerprint:
        raise Conflict(
            f"case {number} was received before with different content",
            where="body.case_number",
            state=row.state,
        )
    return Intake(number, row.state, True, _incident(conn, row.incident_id), list(row.candidates))


def _incident(conn: sa.Connection, incident_id: int | None) -> dict[str, Any] | None:
    if incident_id is None:
        return None
    row = conn.execute(
        sa.text("SELECT code, state, level, department_code, due_at FROM incident WHERE id = :i"),
        {"i": incident_id},
    ).first()
    return dict(row._mapping) | {"id": incident_id} if row else {"id": incident_id}


def _open_incident(
    conn: sa.Connection,
    index: GridIndex,
    settings: Settings,
    user: User,
    number: str,
    lon: float,
    lat: float,
    address_code: str | None,
    now: datetime,
) -> dict[str, Any]:
    """The case's incident, submitted as a report from the hotline at (lon, lat); the case marked placed."""
    case = conn.execute(
        sa.text(
            "SELECT line, category_code, description, address_text FROM hotline_case WHERE case_number = :n"
        ),
        {"n": number},
    ).one()
    text = f"【{case.line}热线 {number}】{case.description}（来电地址：{case.address_text}）"
    s = Submission(category=case.category_code, description=text, lon=lon, lat=lat, source="hotline")
    done = submit(conn, index, settings, user, s, f"hotline:{number}", now)
    conn.execute(
        sa.text(
            "UPDATE hotline_case SET state = 'placed', incident_id = :i, address_code = :a, placed_by = :u, "
            "placed_at = :now WHERE case_number = :n"
        ),
        {"i": done.id, "a": address_code, "u": user.id, "now": now, "n": number},
    )
    return _incident(conn, done.id) or {}


def place(
    conn: sa.Connection,
    index: GridIndex,
    settings: Settings,
    user: User,
    number: str,
    now: datetime,
    address_code: str | None = None,
    lon: float | None = None,
    lat: float | None = None,
) -> Intake:
    """Place a queued case by hand, at a standard address (its code) or a point; it then continues."""
    row = conn.execute(
        sa.text("SELECT state FROM hotline_case WHERE case_number = :n FOR UPDATE"), {"n": number}
    ).first()
    if row is None:
        raise NotFound(f"no hotline case {number}", where="path.case_number")
    if row.state != "unplaced":
        raise Conflict(f"case {number} is already placed", where="path.case_number", state=row.state)
    if address_code is not None:
        point = conn.execute(
            sa.text("SELECT ST_X(geom) AS lon, ST_Y(geom) AS lat FROM address WHERE code = :c"),
            {"c": address_code},
        ).first()
        if point is None:
            raise InvalidInput(
                f"no standard address has the code {address_code!r}", where="body.address_code"
            )
        lon, lat = point.lon, point.lat
    elif lon is None or lat is None:
        raise InvalidInput("send address_code, or lon and lat", where="body")
    index.require(lon, lat, where="body.lon,lat")
    incident = _open_incident(conn, index, settings, user, number, lon, lat, address_code, now)
    return Intake(number, "placed", False, incident, [])


def queue(conn: sa.Connection, limit: int = 100) -> list[dict[str, Any]]:
    """The cases waiting to be placed, oldest first, with their candidates."""
    rows = conn.execute(
        sa.text(
            "SELECT case_number, line, received_at, address_text, category_code, description, "
            "hotline_due_at, candidates FROM hotline_case WHERE state = 'unplaced' "
            "ORDER BY received_at, id LIMIT :l"
        ),
        {"l": limit},
    )
    return [dict(r._mapping) for r in rows]


def status(conn: sa.Connection, number: str) -> Intake:
    """A case's state, and its incident's where it has one."""
    row = conn.execute(_EXISTING, {"n": number}).first()
    if row is None:
        raise NotFound(f"no hotline case {number}", where="path.case_number")
    return Intake(number, row.state, True, _incident(conn, row.incident_id), list(row.candidates))
