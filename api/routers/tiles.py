"""Vector tiles, TileJSON and the map wall's MapLibre style, all from the definitions in `layers/`."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Header, Request, Response
from fastapi.concurrency import run_in_threadpool

from api.deps import ConnDep, CurrentUser
from api.routers.audit import log_read
from api.timing import phase
from gis_core import audit, tiles
from gis_core.auth import User
from gis_core.features import district_bounds
from gis_core.layers import get_layer, registry
from gis_core.scope import act_as
from gis_core.style import wall_style
from gis_core.tile_cache import CachedTile

router = APIRouter(tags=["tiles"])
MVT = "application/vnd.mapbox-vector-tile"
_NUMBERS = ("integer", "bigint", "smallint", "real", "double precision", "numeric")


def _render(request: Request, req: tiles.TileRequest, user: User, key: tuple[Any, ...] | None) -> CachedTile:
    """Render a tile from the database and keep it under `key` (None: a layer is not cached)."""
    state = request.app.state
    generation = state.tile_cache.generation
    for attempt in (1, 2):
        with phase("pool"):
            conn = state.tile_engine.connect()  # autocommit, tile statement timeout (see api.app)
        try:
            with conn, phase("render"):
                tile = CachedTile.of(tiles.render(conn, req, user))
            break
        except sa.exc.DBAPIError as exc:
            # the tile pool skips the ping, so a connection that died while idle (a database
            # restart, a terminated backend) is found out by its first statement; SQLAlchemy then
            # retires the pool's older connections, and a tile, being a read, is asked once more
            if attempt == 2 or not exc.connection_invalidated:
                raise
    if key is not None:
        state.tile_cache.put(key, tile, {t for layer in req.layers for t in layer.watched}, generation)
    return tile


def _log_tile(request: Request, user: User, req: tiles.TileRequest) -> None:
    """Audit a tile that carries personal data unmasked (a cached one too: it is still a read)."""
    with request.app.state.engine.begin() as conn:
        act_as(conn, user)
        log_read(request, conn, user, req.layers, "tile", None, req.z)


@router.get(
    "/tiles/{layers}/{z}/{x}/{y}.pbf",
    summary="Vector tile of one or more layers (comma list)",
    responses={200: {"content": {MVT: {}}}, 204: {"description": "No feature in this tile"}},
)
async def tile(
    layers: str,
    z: int,
    x: int,
    y: int,
    request: Request,
    user: CurrentUser,
    if_none_match: Annotated[str | None, Header()] = None,
    accept_encoding: Annotated[str, Header()] = "",
) -> Response:
    """A Mapbox Vector Tile (WebMercatorQuad) with the fields and rows the caller may see.

    Tiles of layers that change rarely come from the server cache, which drops a tile as
    soon as a row under it changes; ETag/If-None-Match answer 304 for an unchanged tile.
    """
    req = tiles.tile_request(layers, z, x, y, user)
    key = tiles.cache_key(req, user)
    found: CachedTile | None = request.app.state.tile_cache.get(key) if key is not None else None
    tile = found if found is not None else await run_in_threadpool(_render, request, req, user, key)
    if tile.size and audit.unmasked_fields(req.layers, user, z):
        await run_in_threadpool(_log_tile, request, user, req)
    headers = {
        "Cache-Control": "private, no-cache",
        "Vary": "Authorization, Accept-Encoding",
        # this process's cache: hit, miss (rendered and kept), pass (a layer never cached)
        "X-Cache": "hit" if found is not None else ("miss" if key is not None else "pass"),
    }
    if not tile.size:
        return Response(status_code=204, headers=headers)
    headers["ETag"] = tile.etag
    if if_none_match == tile.etag:
        return Response(status_code=304, headers=headers)
    if "gzip" in accept_encoding:
        return Response(tile.gz, media_type=MVT, headers={**headers, "Content-Encoding": "gzip"})
    return Response(tile.body(), media_type=MVT, headers=headers)


def _tilejson_type(pg_type: str) -> str:
    """TileJSON's field type for a PostgreSQL type."""
    if pg_type == "boolean":
        return "Boolean"
    return "Number" if pg_type.startswith(_NUMBERS) else "String"


@router.get("/tiles/{layer}.json", summary="TileJSON 3.0 for a layer")
def tilejson(layer: str, request: Request, conn: ConnDep) -> dict[str, Any]:
    """What a map client needs to show the layer: tile URL, zooms, bounds, fields, legend."""
    spec = get_layer(layer)
    bounds = district_bounds(conn)
    types: dict[str, str] = {}
    if spec.table:
        types = dict(
            conn.execute(
                sa.text(
                    "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                    "WHERE attrelid = CAST(:t AS regclass) AND attnum > 0"
                ),
                {"t": spec.table},
            ).all()
        )
    else:  # the layer's own SELECT, described without running it
        cols = ", ".join(spec.fields)
        sql = f"SELECT {cols} FROM {spec.source} t LIMIT 0"  # noqa: S608 - identifiers checked by Layer
        result = conn.execute(sa.text(sql))
        oids = {d[0]: d[1] for d in result.cursor.description} if result.cursor else {}
        types = {
            name: conn.execute(sa.text("SELECT format_type(:o, NULL)"), {"o": oid}).scalar_one()
            for name, oid in oids.items()
        }
    base = str(request.base_url).rstrip("/")
    fields = {f: _tilejson_type(types.get(f, "")) for f in spec.fields}
    if spec.cluster_below is not None:
        fields["count"] = "Number"
    return {
        "tilejson": "3.0.0",
        "name": spec.title_zh,
        "description": spec.title_en,
        "scheme": "xyz",
        "tiles": [f"{base}/tiles/{spec.id}/{{z}}/{{x}}/{{y}}.pbf"],
        "minzoom": spec.minzoom,
        "maxzoom": spec.maxzoom,
        "bounds": list(bounds) if bounds else [-180, -85.05, 180, 85.05],
        "center": [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, max(spec.minzoom, 12)]
        if bounds
        else None,
        "vector_layers": [
            {
                "id": spec.id,
                "description": spec.title_zh,
                "minzoom": spec.minzoom,
                "maxzoom": spec.maxzoom,
                "fields": fields,
            }
        ],
        "legend": list(spec.legend),
    }


@router.get("/styles/wall.json", summary="MapLibre style of the map wall, built from layers/")
def style(request: Request, user: CurrentUser, conn: ConnDep) -> dict[str, Any]:
    """A MapLibre GL style with every layer the caller may read, drawn on OneGrid's own tiles."""
    bounds = district_bounds(conn)
    readable = [layer for layer in registry().values() if layer.readable_by(user)]
    return wall_style(str(request.base_url).rstrip("/"), readable, bounds)
