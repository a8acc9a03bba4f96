"""The incident catalogue: 16 major classes, each with its items, handling level, department and deadlines."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


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
