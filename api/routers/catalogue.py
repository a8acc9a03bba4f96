"""`GET /api/v1/categories`: the incident catalogue (major classes and items, routing defaults)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter

from api.deps import ConnDep

router = APIRouter(prefix="/api/v1", tags=["catalogue"])


@router.get("/categories", summary="Incident categories grouped by major class")
def categories(conn: ConnDep) -> list[dict[str, object]]:
    """The 16 major classes, each with its items, handling level, department and deadlines."""
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
