"""Vector tiles and TileJSON from the layer definitions in `layers/`."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Header, Request, Response

from api.deps import ConnDep, CurrentUser
from gis_core import tiles
from gis_core.layers import get_layer

router = APIRouter(tags=["tiles"])
MVT = "application/vnd.mapbox-vector-tile"
_NUMBERS = ("integer", "bigint", "smallint", "real", "double precision", "numeric")


def _tilejson_type(pg_type: str) -> str:
    """TileJSON's field type for a PostgreSQL type."""
    if pg_type == "boolean":
        return "Boolean"
    return "Number" if pg_type.startswith(_NUMBERS) else "String"


@router.get(
    "/tiles/{layers}/{z}/{x}/{y}.pbf",
    summary="Vector tile of one or more layers (comma list)",
    responses={200: {"content": {MVT: {}}}, 204: {"description": "No feature in this tile"}},
)
def tile(
    layers: str,
    z: int,
    x: int,
    y: int,
    user: CurrentUser,
    conn: ConnDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """A Mapbox Vector Tile (WebMercatorQuad); ETag/If-None-Match give 304 for an unchanged tile."""
    data = tiles.render(conn, layers, z, x, y)
    if not data:
        return Response(status_code=204)
    tag = tiles.etag(data)
    headers = {"ETag": tag, "Cache-Control": "private, no-cache"}
    if if_none_match == tag:
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=MVT, headers=headers)


@router.get("/tiles/{layer}.json", summary="TileJSON 3.0 for a layer")
def tilejson(layer: str, request: Request, conn: ConnDep) -> dict[str, Any]:
    """What a map client needs to show the layer: tile URL, zooms, bounds, fields, legend."""
    spec = get_layer(layer)
    minx, miny, maxx, maxy = conn.execute(
        sa.text(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
            "FROM (SELECT ST_Extent(geom) e FROM district) d"
        )
    ).one()
    types: dict[str, str] = dict(
        conn.execute(
            sa.text(
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = CAST(:t AS regclass) AND attnum > 0"
            ),
            {"t": spec.table},
        ).all()
    )
    base = str(request.base_url).rstrip("/")
    return {
        "tilejson": "3.0.0",
        "name": spec.title_zh,
        "description": spec.title_en,
        "scheme": "xyz",
        "tiles": [f"{base}/tiles/{spec.id}/{{z}}/{{x}}/{{y}}.pbf"],
        "minzoom": spec.minzoom,
        "maxzoom": spec.maxzoom,
        "bounds": [minx, miny, maxx, maxy] if minx is not None else [-180, -85.05, 180, 85.05],
        "center": [(minx + maxx) / 2, (miny + maxy) / 2, max(spec.minzoom, 12)] if minx is not None else None,
        "vector_layers": [
            {
                "id": spec.id,
                "description": spec.title_zh,
                "minzoom": spec.minzoom,
                "maxzoom": spec.maxzoom,
                "fields": {f: _tilejson_type(types.get(f, "")) for f in spec.fields},
            }
        ],
        "legend": list(spec.legend),
    }
