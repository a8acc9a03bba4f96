"""Vector tiles, TileJSON and the map wall's MapLibre style, all from the definitions in `layers/`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response

from api.deps import ConnDep, CurrentUser, read_context
from gis_core.publishing import audit, edge, tiles
from gis_core.publishing import glyphs as font_glyphs
from gis_core.publishing.features import district_bounds
from gis_core.publishing.layers import get_layer, registry
from gis_core.publishing.style import wall_style
from gis_core.publishing.tilejson import tilejson as layer_tilejson

router = APIRouter(tags=["tiles"])


def _edge_keeps(request: Request, req: tiles.TileRequest, user: Any, generation: int, cache: str) -> str:
    """Seconds the edge may keep the tile ("0": not at all), remembered for its purge.

    Only tiles of cached (slowly changing) layers, the same for the reader's whole class, with no
    personal field unmasked, and rendered with no change notice arriving meanwhile. `cache`: how
    this process had it (`pass`: a layer or reader its cache never keeps, nor may the edge).
    """
    if (
        cache == "pass"
        or audit.unmasked_fields(req.layers, user, req.z)
        or not edge.shared_within_class(user, [layer.view_key(user) for layer in req.layers])
        or request.app.state.tile_cache.generation != generation
    ):
        return "0"
    tables = tuple(sorted({t for layer in req.layers for t in layer.watched}))
    request.app.state.edge.keep(
        edge.Kept(edge.reader_class(user), request.url.path, request.url.query, tables, req.z, req.x, req.y)
    )
    return str(edge.TTL_S)


MVT = "application/vnd.mapbox-vector-tile"


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
    state = request.app.state
    generation = state.tile_cache.generation
    served = await state.tile_server.serve(req, user, read_context(request))
    tile = served.tile
    headers = {
        "Cache-Control": "private, no-cache",
        "Vary": "Authorization, Accept-Encoding",
        "X-Cache": served.cache,  # this process's cache: hit, miss (rendered and kept), pass (never cached)
        "X-Read-From": served.read_from,  # cache, primary or a replica's name
    }
    if state.edge is not None:  # the edge cache in front: may it keep this tile for the reader's class?
        # first: nginx reads X-Accel-Expires before Cache-Control only when it comes first
        headers = {"X-Accel-Expires": _edge_keeps(request, req, user, generation, served.cache), **headers}
    if not tile.size:
        return Response(status_code=204, headers=headers)
    headers["ETag"] = tile.etag
    if if_none_match == tile.etag:
        return Response(status_code=304, headers=headers)
    if "gzip" in accept_encoding:
        return Response(tile.gz, media_type=MVT, headers={**headers, "Content-Encoding": "gzip"})
    return Response(tile.body(), media_type=MVT, headers=headers)


@router.get("/tiles/{layer}.json", summary="TileJSON 3.0 for a layer")
def tilejson(layer: str, request: Request, conn: ConnDep) -> dict[str, Any]:
    """What a map client needs to show the layer: tile URL, zooms, bounds, fields, legend."""
    return layer_tilejson(conn, get_layer(layer), str(request.base_url).rstrip("/"))


@router.get("/styles/wall.json", summary="MapLibre style of the map wall, built from layers/")
def style(request: Request, user: CurrentUser, conn: ConnDep) -> dict[str, Any]:
    """A MapLibre GL style with every layer the caller may read, drawn on OneGrid's own tiles."""
    bounds = district_bounds(conn)
    readable = [layer for layer in registry().values() if layer.readable_by(user)]
    return wall_style(str(request.base_url).rstrip("/"), readable, bounds)


@router.get(
    "/fonts/{fontstack}/{glyph_range}.pbf",
    summary="Font glyphs (SDF) for map labels",
    responses={200: {"content": {"application/x-protobuf": {}}}},
)
def glyphs(fontstack: str, glyph_range: str) -> Response:
    """256 characters of the label font as MapLibre's glyph PBF; public, like a font file, and cached."""
    font_glyphs.font_stack(fontstack)
    body = font_glyphs.glyph_range(font_glyphs.parse_range(glyph_range))
    return Response(
        body, media_type="application/x-protobuf", headers={"Cache-Control": "public, max-age=86400"}
    )
