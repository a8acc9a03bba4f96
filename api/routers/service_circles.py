"""`GET /api/v1/service-circles`: 服务圈, walking isochrones of the service centres and who lies outside."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import ConnDep, SettingsDep, require_roles
from gis_core.geo import service_circles
from gis_core.platform.auth import ANALYSTS

router = APIRouter(prefix="/api/v1", tags=["analysis"])
READERS = require_roles(*ANALYSTS)


@router.get(
    "/service-circles",
    summary="Service centres' walking circles and the households outside them",
    dependencies=[READERS],
)
def get_service_circles(
    conn: ConnDep,
    settings: SettingsDep,
    minutes: Annotated[
        float | None,
        Query(gt=0, le=30, description="One walk for every centre (default: each its own 15/10/5)"),
    ] = None,
) -> dict[str, Any]:
    """Circles as GeoJSON (over the road network, pgRouting), and who lies outside them all.

    `outside`: households and special-care residents beyond every circle, in all and per grid
    (counts only).
    """
    return service_circles.as_geojson(conn, settings.projected_epsg, minutes)
