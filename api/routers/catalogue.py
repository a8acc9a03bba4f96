"""`GET /api/v1/categories`: the incident catalogue (major classes and items, routing defaults)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import ConnDep
from gis_core.incidents import categories as catalogue

router = APIRouter(prefix="/api/v1", tags=["catalogue"])


@router.get("/categories", summary="Incident categories grouped by major class")
def categories(conn: ConnDep) -> list[dict[str, Any]]:
    """The 16 major classes, each with its items, handling level, department and deadlines."""
    return catalogue.categories(conn)


@router.get("/departments", summary="Who handles at each level (for dispatch and split)")
def departments(conn: ConnDep) -> list[dict[str, Any]]:
    """Every department with its code, name and the level it handles at."""
    return catalogue.departments(conn)
