"""Addresses taken from a loaded demo and written the ways people write them, for the geocoder's tests and benchmark.

Each sampled address (a room, or a building where it has none) is perturbed one way, in turn:
the administrative prefix dropped; digits full-width or in Chinese numerals; the unit and room
re-spelled (3-2-502, 2-502, 3栋); one character of the road's name wrong; an alias (the estate
people call the door plate by, or a road's former name) in place of the standard name.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import cn2an
import sqlalchemy as sa

from data.names import GIVEN, PLACE

KINDS = ("prefix", "numerals", "respelled", "typo", "alias")

_SAMPLE = sa.text(
    """
    SELECT a.code, a.level, a.full_name, b.code AS building, b.label AS building_label, door.label AS door,
           road.label AS road, u.label AS unit, CASE WHEN a.level = 'room' THEN a.label END AS room,
           (SELECT alias FROM address_alias x WHERE x.address_id = door.id AND x.kind = 'estate' LIMIT 1) AS estate,
           (SELECT alias FROM address_alias x WHERE x.address_id = road.id AND x.kind = 'former' LIMIT 1) AS former
    FROM address a
    JOIN address b ON b.building_id = a.building_id AND b.level = 'building'
    JOIN address door ON door.id = b.parent_id
    JOIN address road ON road.id = door.parent_id
    LEFT JOIN address u ON u.id = a.parent_id AND u.level = 'unit'
    WHERE a.level = 'room' OR (a.level = 'building' AND NOT EXISTS (SELECT 1 FROM address c WHERE c.parent_id = a.id))
    ORDER BY md5(a.code || :seed)
    LIMIT :n
    """
)


@dataclass(frozen=True)
class Case:
    """One perturbed address and what it should find."""

    text: str
    kind: str
    building: str  # the expected building's code
    room: str | None  # the expected room's code, when the address is a room's


def sample(conn: sa.Connection, n: int, seed: int = 1) -> list[Case]:
    """`n` addresses from the loaded demo, each perturbed by the next of KINDS."""
    rng = random.Random(seed)
    out = []
    for i, r in enumerate(conn.execute(_SAMPLE, {"n": n, "seed": str(seed)})):
        kind = KINDS[i % len(KINDS)]
        out.append(Case(_perturb(r, kind, rng), kind, r.building, r.code if r.level == "room" else None))
    return out


def _tail(r: sa.Row) -> tuple[str, str]:  # type: ignore[type-arg]
    """(road, the parts after it) of the standard address."""
    i = r.full_name.index(r.road)
    return r.road, r.full_name[i + len(r.road) :]


def _perturb(r: sa.Row, kind: str, rng: random.Random) -> str:  # type: ignore[type-arg]
    road, rest = _tail(r)
    prefix = r.full_name[: r.full_name.index(r.road)]
    if kind == "alias" and r.estate:
        return r.estate + rest[len(r.door) :]
    if kind == "alias" and r.former:
        return prefix + r.former + rest
    if kind in ("prefix", "alias"):
        return road + rest
    if kind == "numerals":
        return prefix + road + _numerals(r, rng)
    if kind == "respelled":
        return road + _respelled(r, rng)
    i = rng.randrange(len(road) - 1) if len(road) > 1 else 0  # the suffix (路, 街, 组) stays
    wrong = rng.choice([c for c in PLACE + GIVEN if c != road[i]])
    return road[:i] + wrong + road[i + 1 :] + rest


def _digits(s: str) -> int:
    return int("".join(c for c in s if c.isdigit()))


def _numerals(r: sa.Row, rng: random.Random) -> str:  # type: ignore[type-arg]
    """The numbered parts in Chinese numerals (the room digit by digit, as said aloud) or full-width digits."""
    if rng.random() < 0.5:
        return _tail(r)[1].translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"})
    out = f"{cn2an.an2cn(_digits(r.door))}号"
    if r.building_label:
        out += f"{cn2an.an2cn(_digits(r.building_label))}号楼"
    if r.unit:
        out += f"{cn2an.an2cn(_digits(r.unit))}单元"
    if r.room:
        out += "".join("零一二三四五六七八九"[int(c)] for c in str(_digits(r.room))) + "室"
    return out


def _respelled(r: sa.Row, rng: random.Random) -> str:  # type: ignore[type-arg]
    """The building, unit and room as 3-2-502, 3栋2-502 or 2-502."""
    door = r.door
    b = _digits(r.building_label) if r.building_label else None
    if not r.room:
        return door + (f"{b}栋" if b else "")
    u, room = _digits(r.unit) if r.unit else None, _digits(r.room)
    if b and u and rng.random() < 0.5:
        return f"{door}{b}-{u}-{room}"
    head = door + (f"{b}栋" if b else "")
    return head + (f"{u}-{room}" if u else f"{room}室")


def top1(conn: sa.Connection, codes: list[str | None]) -> list[tuple[str | None, str | None]]:
    """(building code, room code) of each answer's top candidate (None where it has none or is coarser)."""
    rows = dict(
        conn.execute(
            sa.text(
                "SELECT a.code, b.code FROM address a "
                "JOIN address b ON b.building_id = a.building_id AND b.level = 'building' WHERE a.code = ANY(:c)"
            ),
            {"c": [c for c in codes if c]},
        ).all()
    )
    return [(rows.get(c) if c else None, c) for c in codes]
