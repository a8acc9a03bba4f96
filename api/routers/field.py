"""The grid worker's own ground for the phone app: my grids and key points, and 打卡 check-ins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Response

from api.deps import ConnDep, CurrentUser, SettingsDep, require_roles
from gis_core.field import check_ins
from gis_core.platform.clock import midnight

router = APIRouter(prefix="/api/v1", tags=["patrol"])
WORKERS = require_roles("grid_worker")


@router.get(
    "/me/field", summary="My grids, key points and today's check-ins (grid workers)", dependencies=[WORKERS]
)
def my_field(user: CurrentUser, conn: ConnDep) -> dict[str, Any]:
    """Who I am as a worker, my grids as GeoJSON, my key points with my last check-in, and today's count."""
    return check_ins.my_field(conn, user, midnight(datetime.now(UTC)))


@router.post(
    "/key-points/{code}/check-ins",
    status_code=201,
    summary="打卡: check in at a key point (the server checks my own track)",
    dependencies=[WORKERS],
    responses={200: {"description": "A retry: the stored check-in"}, 422: {"description": "Not there"}},
)
def check_in(
    code: str,
    user: CurrentUser,
    conn: ConnDep,
    settings: SettingsDep,
    response: Response,
    idempotency_key: Annotated[
        str, Header(alias="Idempotency-Key", min_length=8, max_length=200, description="Unique per check-in")
    ],
) -> dict[str, Any]:
    """Accepted when one of my fixes of the last `ONEGRID_CHECK_IN_WINDOW_S` lies within 50 m of the point."""
    window = timedelta(seconds=settings.check_in_window_s)
    done, replayed = check_ins.check_in(
        conn, user, code, idempotency_key, datetime.now(UTC), window, settings.projected_epsg
    )
    if replayed:
        response.status_code = 200
        response.headers["Idempotency-Replayed"] = "true"
    return done
