"""The incident catalogue: 16 major classes, each with its items, handling level, department and deadlines."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from gis_core.incidents.workflow import LEVELS
from gis_core.platform.accounts import log
from gis_core.platform.errors import Conflict, InvalidInput, NotFound


def categories(conn: sa.Connection) -> list[dict[str, Any]]:
    """The major classes in code order, each with its items and their routing defaults."""
    rows = conn.execute(
        sa.text(
            "SELECT c.*, d.name AS department_name FROM category c "
            "JOIN department d ON d.code = c.department_code ORDER BY c.code"
        )
    )
    majors: dict[str, dict[str, Any]] = {}
    for r in rows:
        m = majors.setdefault(
            r.major_code,
            {"code": r.major_code, "name": r.major_name, "name_en": r.major_name_en, "items": []},
        )
        m["items"].append(
            {
                "code": r.code,
                "name": r.name,
                "name_en": r.name_en,
                "handling_level": r.handling_level,
                "department": {"code": r.department_code, "name": r.department_name},
                "deadlines_hours": {
                    "accept": float(r.accept_hours),
                    "dispatch": float(r.dispatch_hours),
                    "handle": float(r.handle_hours),
                },
            }
        )
    return list(majors.values())


def items(conn: sa.Connection) -> list[Any]:
    """Every catalogue item as a row (code order): what Open311 lists as services."""
    return list(conn.execute(sa.text("SELECT * FROM category ORDER BY code")))


def departments(conn: sa.Connection) -> list[dict[str, Any]]:
    """Departments by level (grid, community, street, district), then code."""
    rows = conn.execute(
        sa.text(
            "SELECT code, name, level FROM department ORDER BY array_position("
            "ARRAY['grid', 'community', 'street', 'district'], level), code"
        )
    )
    return [dict(r._mapping) for r in rows]


def exists(conn: sa.Connection, code: str) -> bool:
    """Whether `code` is a catalogue item."""
    return conn.execute(sa.text("SELECT 1 FROM category WHERE code = :c"), {"c": code}).first() is not None


# ---------------------------------------------------------------- the catalogue as data (admins)
#: What an admin may change of an item; a change of routing or deadlines is a new version
#: (migration 0024's triggers), which new incidents take and earlier ones do not.
EDITABLE = (
    "major_code",
    "major_name",
    "name",
    "name_en",
    "handling_level",
    "department_code",
    "accept_hours",
    "dispatch_hours",
    "handle_hours",
)
MAX_HOURS = 720


def _checked(conn: sa.Connection, item: dict[str, Any]) -> dict[str, Any]:
    if "handling_level" in item and item["handling_level"] not in LEVELS:
        raise InvalidInput(f"handling_level must be one of {', '.join(LEVELS)}", where="body.handling_level")
    if (
        "department_code" in item
        and not conn.execute(
            sa.text("SELECT 1 FROM department WHERE code = :d"), {"d": item["department_code"]}
        ).first()
    ):
        raise InvalidInput(f"no department {item['department_code']!r}", where="body.department_code")
    for stage in ("accept_hours", "dispatch_hours", "handle_hours"):
        if stage in item and not (isinstance(item[stage], int | float) and 0 < item[stage] <= MAX_HOURS):
            raise InvalidInput(f"{stage} is more than 0 and at most {MAX_HOURS}", where=f"body.{stage}")
    return item


def _as(conn: sa.Connection, actor: str) -> None:
    """Name the admin for the version the triggers write."""
    conn.execute(sa.text("SELECT set_config('onegrid.actor', :a, true)"), {"a": actor})


def edit(conn: sa.Connection, actor: str, code: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Change an item; its version moves on when routing or deadlines change. 404 for an unknown code."""
    unknown = set(changes) - set(EDITABLE)
    if unknown or not changes:
        raise InvalidInput(f"change any of {', '.join(EDITABLE)}", where=f"body.{next(iter(unknown), '')}")
    _checked(conn, changes)
    _as(conn, actor)
    sets = ", ".join(f"{k} = :{k}" for k in changes)  # names from EDITABLE, values bound
    row = conn.execute(
        sa.text(f"UPDATE category SET {sets} WHERE code = :code RETURNING version"),  # noqa: S608
        {**changes, "code": code},
    ).first()
    if row is None:
        raise NotFound(f"no catalogue item {code!r}", where="path.code")
    log(conn, actor, "catalogue.edit", code, changes | {"version": row.version})
    return item(conn, code)


def add(conn: sa.Connection, actor: str, new: dict[str, Any]) -> dict[str, Any]:
    """A new item (of a new or an existing class), at version 1."""
    if not re.fullmatch(r"\d{4}", str(new.get("code", ""))) or str(new["code"])[:2] != str(
        new.get("major_code")
    ):
        raise InvalidInput("an item's code is 4 digits starting with its class's 2", where="body.code")
    _checked(conn, new)
    _as(conn, actor)
    done = conn.execute(
        sa.text(
            "INSERT INTO category (code, major_code, major_name, major_name_en, name, name_en, "
            "handling_level, department_code, accept_hours, dispatch_hours, handle_hours) "
            "VALUES (:code, :major_code, :major_name, :major_name_en, :name, :name_en, :handling_level, "
            ":department_code, :accept_hours, :dispatch_hours, :handle_hours) "
            "ON CONFLICT (code) DO NOTHING RETURNING code"
        ),
        {"major_name_en": "", "name_en": "", **new},
    ).first()
    if done is None:
        raise Conflict(f"the catalogue has {new['code']} already", where="body.code")
    log(conn, actor, "catalogue.add", new["code"], new)
    return item(conn, new["code"])


def delete(conn: sa.Connection, actor: str, code: str) -> None:
    """Remove an item nobody has reported under; one in use is refused with how often it is used."""
    used = conn.execute(
        sa.text("SELECT count(*) FROM incident WHERE category_code = :c"), {"c": code}
    ).scalar_one()
    if used:
        raise Conflict(
            f"{used} incidents are filed under {code}: it stays", where="path.code", incidents=used
        )
    if (
        conn.execute(sa.text("DELETE FROM category WHERE code = :c RETURNING code"), {"c": code}).first()
        is None
    ):
        raise NotFound(f"no catalogue item {code!r}", where="path.code")
    log(conn, actor, "catalogue.delete", code)


def item(conn: sa.Connection, code: str) -> dict[str, Any]:
    """One item with its current version and every earlier one (newest first)."""
    row = conn.execute(sa.text("SELECT * FROM category WHERE code = :c"), {"c": code}).mappings().first()
    if row is None:
        raise NotFound(f"no catalogue item {code!r}", where="path.code")
    versions = conn.execute(
        sa.text("SELECT * FROM category_version WHERE category_code = :c ORDER BY version DESC"), {"c": code}
    ).mappings()
    return {
        **{k: float(v) if k.endswith("_hours") else v for k, v in row.items()},
        "versions": [{k: float(v) if k.endswith("_hours") else v for k, v in r.items()} for r in versions],
    }
