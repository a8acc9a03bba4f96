"""OGC API - Tiles (Core, TileSet, tilesets list, geodata tilesets, MVT) over OneGrid's vector tiles.

Every published layer is a collection with one vector tileset in the WebMercatorQuad tile
matrix set; its tiles are the same tiles `/tiles/{layer}/{z}/{x}/{y}.pbf` serves (the same
fields, rows and masks for the caller, the same cache), so clients that find tiles through the
standard (GDAL's OGCAPI driver, QGIS) and the wall read one thing.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response

from api.deps import ConnDep, CurrentUser
from api.routers.features import _base, _readable
from api.routers.tiles import MVT, tile
from gis_core.platform.errors import NotFound
from gis_core.publishing import features, tile_matrix
from gis_core.publishing.layers import Layer

router = APIRouter(tags=["ogc api tiles"])

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
    "http://www.opengis.net/spec/tms/2.0/conf/json-tilematrixset",
]
JSON = "application/json"
TILESETS_REL = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"
SCHEME_REL = "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme"


def _matrix_set(tile_matrix_set_id: str) -> None:
    if tile_matrix_set_id != tile_matrix.ID:
        raise NotFound(f"tile matrix sets: {tile_matrix.ID}", where="path.tileMatrixSetId")


@router.get("/tileMatrixSets", summary="The tile matrix sets tiles are served in")
def tile_matrix_sets(request: Request) -> dict[str, Any]:
    """WebMercatorQuad only."""
    href = f"{_base(request)}/tileMatrixSets/{tile_matrix.ID}"
    return {
        "tileMatrixSets": [
            {"id": tile_matrix.ID, "uri": tile_matrix.URI, "title": "WebMercatorQuad",
             "links": [{"href": href, "rel": "self", "type": "application/json"}]}
        ]
    }  # fmt: skip


@router.get("/tileMatrixSets/{tileMatrixSetId}", summary="A tile matrix set's definition (OGC TMS 2.0)")
def tile_matrix_set(tileMatrixSetId: str) -> dict[str, Any]:  # noqa: N803
    """Its zooms 0-24: scale, cell size, origin and matrix size of each."""
    _matrix_set(tileMatrixSetId)
    return tile_matrix.definition()


def _tileset_link(layer: Layer, base: str) -> dict[str, Any]:
    href = f"{base}/collections/{layer.id}/tiles/{tile_matrix.ID}"
    return {
        "href": href,
        "rel": "self",
        "type": "application/json",
        "title": f"{layer.title_zh} (vector tiles)",
    }


@router.get("/collections/{collectionId}/tiles", summary="A collection's tilesets")
def tilesets(collectionId: str, request: Request, user: CurrentUser) -> dict[str, Any]:  # noqa: N803
    """One vector tileset, in WebMercatorQuad."""
    layer = _readable(collectionId, user, where="path.collectionId")
    base = _base(request)
    return {
        "links": [{"href": f"{base}/collections/{layer.id}/tiles", "rel": "self", "type": JSON}],
        "tilesets": [
            {"title": layer.title_zh, "dataType": "vector", "crs": tile_matrix.CRS,
             "tileMatrixSetURI": tile_matrix.URI,
             "links": [_tileset_link(layer, base),
                       {**_tileset_link(layer, base), "rel": "http://www.opengis.net/def/rel/ogc/1.0/tileset"},
                       {"href": f"{base}/tileMatrixSets/{tile_matrix.ID}", "rel": SCHEME_REL,
                        "type": "application/json"}]}
        ],
    }  # fmt: skip


@router.get("/collections/{collectionId}/tiles/{tileMatrixSetId}", summary="A collection's vector tileset")
def tileset(
    collectionId: str,
    tileMatrixSetId: str,
    request: Request,
    user: CurrentUser,
    conn: ConnDep,  # noqa: N803
) -> dict[str, Any]:
    """The tileset's zooms and, per zoom, the tiles that cover the district; the tile URL template."""
    layer = _readable(collectionId, user, where="path.collectionId")
    _matrix_set(tileMatrixSetId)
    base = _base(request)
    bbox = features.district_bounds(conn) or (-180.0, -85.0, 180.0, 85.0)
    return {
        "title": layer.title_zh,
        "description": layer.title_en,
        "dataType": "vector",
        "crs": tile_matrix.CRS,
        "tileMatrixSetURI": tile_matrix.URI,
        # the draft's link to the definition, which GDAL 3.6 (Debian 12) follows
        "tileMatrixSetDefinition": f"{base}/tileMatrixSets/{tile_matrix.ID}",
        "tileMatrixSetLimits": tile_matrix.limits(bbox, layer.minzoom, layer.maxzoom),
        "boundingBox": {"lowerLeft": list(bbox[:2]), "upperRight": list(bbox[2:]),
                        "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"},
        "layers": [{"id": layer.id, "title": layer.title_zh, "dataType": "vector",
                    "geometryDimension": {"point": 0, "line": 1, "polygon": 2}[layer.geometry_type],
                    "minTileMatrix": str(layer.minzoom), "maxTileMatrix": str(layer.maxzoom)}],
        "links": [
            _tileset_link(layer, base),
            {"href": f"{base}/tileMatrixSets/{tile_matrix.ID}", "rel": SCHEME_REL, "type": JSON},
            {"href": _tileset_link(layer, base)["href"] + "/{tileMatrix}/{tileRow}/{tileCol}",
             "rel": "item", "type": MVT, "templated": True},
        ],
    }  # fmt: skip


@router.get(
    "/collections/{collectionId}/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}",
    summary="A vector tile of a collection (OGC API Tiles path)",
    responses={200: {"content": {MVT: {}}}, 204: {"description": "No feature in this tile"}},
)
async def collection_tile(
    collectionId: str,  # noqa: N803
    tileMatrixSetId: str,  # noqa: N803
    tileMatrix: int,  # noqa: N803
    tileRow: int,  # noqa: N803
    tileCol: int,  # noqa: N803
    request: Request,
    user: CurrentUser,
    if_none_match: Annotated[str | None, Header()] = None,
    accept_encoding: Annotated[str, Header()] = "",
) -> Response:
    """The same tile as `/tiles/{collectionId}/{tileMatrix}/{tileCol}/{tileRow}.pbf`."""
    _readable(collectionId, user, where="path.collectionId")
    _matrix_set(tileMatrixSetId)
    return await tile(
        collectionId, tileMatrix, tileCol, tileRow, request, user, if_none_match, accept_encoding
    )
