"""Boundary stewardship for admins: edits of the partition (with a preview) and each outline's history."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.concurrency import run_in_threadpool

from api.deps import ConnDep, CurrentUser, require_roles
from gis_core.ingest import boundaries, boundary_ops

router = APIRouter(prefix="/api/v1/boundaries", tags=["boundaries"])


@router.post(
    "/{operation}",
    summary="Redraw, split, merge or move grids, keeping the partition (preview=true: what would change)",
    dependencies=[require_roles("admin")],
)
async def edit_boundary(
    operation: str,
    request: Request,
    user: CurrentUser,
    body: Annotated[
        dict[str, Any], Body(description="The edit (see README: boundary stewardship) and its reason")
    ],
    preview: Annotated[
        bool, Query(description="Run the edit and roll it back: what it would change")
    ] = False,
) -> dict[str, Any]:
    """One edit in one transaction, or (preview) what it would change.

    A refused edit changes nothing and names the places (400); a concurrent edit of the same
    grids is a 409. Runs as the database owner: it re-anchors rows in every area the change
    touches, whatever the admin's own row rules.
    """
    engine = request.app.state.auth_engine
    result = await run_in_threadpool(boundary_ops.edit, engine, operation, body, user.username, preview)
    return result.as_dict()


@router.get("/{code}/history", summary="Every version of a street's, community's or grid's outline")
def boundary_history(code: str, conn: ConnDep, user: CurrentUser) -> list[dict[str, Any]]:  # noqa: ARG001
    """Versions oldest first: valid from/to (from null: since records began), operation, who and why, area."""
    return boundaries.history(conn, code)
