"""OGC API Features (Part 1 core + GeoJSON) for every published layer, and the spatial queries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from api import replicas
from api.deps import ConnDep, CurrentUser, read_context
from api.replicas import audit_conn, read_from_header
from gis_core.platform.clock import iso
from gis_core.platform.errors import InvalidInput
from gis_core.platform.settings import get_settings
from gis_core.publishing import cql2_filter, features
from gis_core.publishing.audit import log_read
from gis_core.publishing.layers import Layer, get_layer, readable_layers
from gis_core.publishing.output_crs import CRS84, OutputCrs, output_crs, supported

router = APIRouter(tags=["features"])

GEOJSON = "application/geo+json"
QUERYABLES = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
_CQL2 = "http://www.opengis.net/spec/cql2/1.0/conf/"
_PART3 = "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    *(_PART3 + c for c in ("queryables", "queryables-query-parameters", "filter", "features-filter")),
    *(
        _CQL2 + c
        for c in (
            "basic-cql2",
            "cql2-text",
            "cql2-json",
            "advanced-comparison-operators",
            "case-insensitive-comparison",
            "basic-spatial-functions",
            "basic-spatial-functions-plus",
            "spatial-functions",
            "temporal-functions",
            "arithmetic",
        )
    ),  # fmt: skip
]
#: Query parameters of /items that are not property filters.
ITEM_PARAMS = {"bbox", "bbox-crs", "limit", "offset", "datetime", "sortby", "crs", "f"} | {
    "filter", "filter-lang", "filter-crs",
}  # fmt: skip

#: Listed in the API description: GDAL 3.6 sends CQL text only when this enum names `cql-text`.
FilterLang = Literal["cql2-text", "cql2-json", "cql-text"]
Limit = Annotated[int, Query(ge=1, le=features.MAX_LIMIT, description="Page size")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="Features to skip")]


def _readable(layer_id: str, user: Any, where: str = "path.layer") -> Layer:
    """The layer, if the caller may read it (404 unknown, 403 not theirs)."""
    layer = get_layer(layer_id, where=where)
    layer.check_readable(user)
    return layer


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _geojson(
    body: dict[str, Any], crs: OutputCrs | None = None, request: Request | None = None
) -> JSONResponse:
    headers = {"Content-Crs": f"<{crs.uri if crs else CRS84}>"}
    if request is not None:  # a read answered by api.replicas.read: where from
        headers |= read_from_header(request)
    return JSONResponse(body, media_type=GEOJSON, headers=headers)


def _read(request: Request, user: Any, layers: list[Layer], action: str, fn: Any) -> Any:
    """`fn(conn)` → features, on a fresh replica or the primary, then the audit of the read (api.replicas)."""

    def run(conn: sa.Connection) -> Any:
        found = fn(conn)
        feats = found[0] if isinstance(found, tuple) else found
        with audit_conn(request, user, conn) as a:
            log_read(
                a, user, layers, action, len(feats) if isinstance(feats, list) else 1, read_context(request)
            )
        return found

    return replicas.read(request, user, run)


def _output_crs(crs: str | None, where: str = "query.crs") -> OutputCrs:
    """One of the CRSs each collection lists (CRS84 when absent); a 400 problem otherwise."""
    return output_crs(crs, get_settings().projected_epsg, where)


@router.get("/", summary="OGC API landing page")
def landing(request: Request) -> dict[str, Any]:
    """What this service offers and where (OGC API - Features landing page)."""
    base = _base(request)
    return {
        "title": "OneGrid 一张网 GIS",
        "description": "Grid-governance layers: district, streets, communities, grids and all they anchor.",
        "links": [
            {"href": f"{base}/", "rel": "self", "type": "application/json", "title": "This document"},
            {
                "href": f"{base}/openapi.json",
                "rel": "service-desc",
                "type": "application/vnd.oai.openapi+json;version=3.0",
                "title": "OpenAPI definition",
            },
            {"href": f"{base}/docs", "rel": "service-doc", "type": "text/html", "title": "API documentation"},
            {"href": f"{base}/conformance", "rel": "conformance", "type": "application/json"},
            {
                "href": f"{base}/tileMatrixSets",
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes",
                "type": "application/json",
            },
            {
                "href": f"{base}/collections",
                "rel": "data",
                "type": "application/json",
                "title": "Collections",
            },
        ],
    }


@router.get("/conformance", summary="OGC API conformance classes")
def conformance() -> dict[str, list[str]]:
    """The conformance classes this service implements."""
    from api.routers.ogc_tiles import CONFORMANCE as TILES

    return {"conformsTo": CONFORMANCE + TILES}


def _collection(layer: Layer, base: str, bbox: list[float] | None) -> dict[str, Any]:
    href = f"{base}/collections/{layer.id}"
    return {
        "id": layer.id,
        "title": layer.title_zh,
        "description": layer.title_en,
        "itemType": "feature",
        "crs": supported(get_settings().projected_epsg),
        "storageCrs": CRS84,
        "extent": {"spatial": {"bbox": [bbox or [-180, -90, 180, 90]], "crs": CRS84}},
        "links": [
            {"href": href, "rel": "self", "type": "application/json"},
            {"href": f"{href}/items", "rel": "items", "type": GEOJSON, "title": layer.title_zh},
            {"href": f"{href}/queryables", "rel": QUERYABLES, "type": "application/schema+json"},
            # the draft's relation name, which GDAL 3.6 follows
            {"href": f"{href}/queryables", "rel": "queryables", "type": "application/json"},
            {"href": f"{base}/tiles/{layer.id}.json", "rel": "tiles", "type": "application/json"},
            {"href": f"{href}/tiles", "rel": "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector",
             "type": "application/json", "title": f"{layer.title_zh} (OGC API Tiles)"},
        ],
    }  # fmt: skip


def _district_bbox(conn: ConnDep) -> list[float] | None:
    bounds = features.district_bounds(conn)
    return list(bounds) if bounds else None


@router.get("/collections", summary="The layers the caller may read")
def collections(request: Request, user: CurrentUser, conn: ConnDep) -> dict[str, Any]:
    """Every published layer this caller may read, as OGC API collections."""
    base, bbox = _base(request), _district_bbox(conn)
    return {
        "links": [{"href": f"{base}/collections", "rel": "self", "type": "application/json"}],
        "collections": [_collection(layer, base, bbox) for layer in readable_layers(user)],
    }


@router.get("/collections/{collectionId}", summary="One collection")
def collection(collectionId: str, request: Request, user: CurrentUser, conn: ConnDep) -> dict[str, Any]:  # noqa: N803
    """One layer's collection description."""
    layer = _readable(collectionId, user, where="path.collectionId")
    return _collection(layer, _base(request), _district_bbox(conn))


@router.get("/collections/{collectionId}/queryables", summary="What a CQL2 filter may name, with types")
def collection_queryables(
    collectionId: str,  # noqa: N803
    request: Request,
    user: CurrentUser,
    conn: ConnDep,
) -> JSONResponse:
    """The collection's queryables as a JSON Schema (OGC API Features Part 3)."""
    layer = _readable(collectionId, user, where="path.collectionId")
    body = cql2_filter.queryables(conn, layer, user, str(request.url))
    # JSON Schema's own type, unless the client takes only plain JSON (GDAL 3.6 asks for that)
    accept = request.headers.get("accept", "*/*")
    plain = "application/json" in accept and not any(t in accept for t in ("schema+json", "*/*"))
    return JSONResponse(body, media_type="application/json" if plain else "application/schema+json")


def _item_query(request: Request, layer: Layer, user: Any, limit: int, offset: int) -> features.ItemQuery:
    """Filters from the query string; unknown parameters are 400 problems, not silently ignored."""
    params = request.query_params
    visible = layer.visible_fields(user)
    props = {}
    for name in params:
        if name in ITEM_PARAMS:
            continue
        if name not in visible:
            raise InvalidInput(
                f"unknown parameter {name!r}; filterable fields: {', '.join(visible)}", where=f"query.{name}"
            )
        values = params.getlist(name)
        if len(values) != 1 or not values[0]:
            raise InvalidInput(f"give {name!r} exactly one non-empty value", where=f"query.{name}")
        props[name] = values[0]
    bbox_crs = _output_crs(params.get("bbox-crs"), "query.bbox-crs")
    filter_crs = _output_crs(params.get("filter-crs"), "query.filter-crs")
    return features.ItemQuery(
        bbox=features.parse_bbox(params["bbox"], crs=bbox_crs) if "bbox" in params else None,
        interval=features.parse_datetime(params["datetime"]) if "datetime" in params else None,
        properties=props,
        sortby=features.parse_sortby(params["sortby"], layer, user) if "sortby" in params else [],
        filter=cql2_filter.parse(params["filter"], params.get("filter-lang"), filter_crs)
        if "filter" in params
        else None,
        limit=limit,
        offset=offset,
    )


def _page(
    request: Request, feats: list[dict[str, Any]], matched: int, limit: int, offset: int, **extra: Any
) -> dict[str, Any]:
    """A GeoJSON FeatureCollection page with OGC counts and self/next/prev links."""
    url = request.url
    links = [{"href": str(url), "rel": "self", "type": GEOJSON}]
    if offset + len(feats) < matched:
        links.append(
            {"href": str(url.include_query_params(offset=offset + limit)), "rel": "next", "type": GEOJSON}
        )
    if offset > 0:
        prev = max(offset - limit, 0)
        links.append({"href": str(url.include_query_params(offset=prev)), "rel": "prev", "type": GEOJSON})
    return {
        "type": "FeatureCollection",
        **extra,
        "timeStamp": iso(datetime.now(UTC), "seconds"),
        "numberMatched": matched,
        "numberReturned": len(feats),
        "features": feats,
        "links": links,
    }


@router.get(
    "/collections/{collectionId}/items",
    summary="Features of a collection (bbox, datetime, CQL2 filter, property filters, sortby, CRS, paging)",
    response_class=JSONResponse,
    responses={200: {"content": {GEOJSON: {}}}},
)
def collection_items(
    collectionId: str,  # noqa: N803
    request: Request,
    user: CurrentUser,
    limit: Limit = 100,
    offset: Offset = 0,
    bbox: Annotated[
        str | None, Query(description="minLon,minLat,maxLon,maxLat (CRS84, or in bbox-crs)")
    ] = None,
    datetime: Annotated[str | None, Query(description="RFC 3339 instant or interval (`..` open)")] = None,
    sortby: Annotated[str | None, Query(description="+field,-field")] = None,
    crs: Annotated[str | None, Query(description="Output CRS: one the collection lists")] = None,
    filter_: Annotated[
        str | None, Query(alias="filter", description="CQL2 text, or JSON with filter-lang")
    ] = None,
    filter_lang: Annotated[
        FilterLang, Query(alias="filter-lang", description="The filter's language")
    ] = "cql2-text",
) -> JSONResponse:
    """A page of features; any other parameter named like a field filters on equality."""
    layer = _readable(collectionId, user, where="path.collectionId")
    out = _output_crs(crs)
    q = _item_query(request, layer, user, limit, offset)
    feats, matched = _read(
        request, user, [layer], "features", lambda c: features.items(c, layer, user, q, out)
    )
    return _geojson(_page(request, feats, matched, limit, offset), out, request)


@router.get(
    "/collections/{collectionId}/items/{featureId}",
    summary="One feature",
    response_class=JSONResponse,
    responses={200: {"content": {GEOJSON: {}}}},
)
def collection_item(
    collectionId: str,  # noqa: N803
    featureId: str,  # noqa: N803
    request: Request,
    user: CurrentUser,
    crs: Annotated[str | None, Query(description="Output CRS: one the collection lists")] = None,
) -> JSONResponse:
    """One feature by id."""
    layer = _readable(collectionId, user, where="path.collectionId")
    out = _output_crs(crs)
    feat = _read(request, user, [layer], "feature", lambda c: features.item(c, layer, user, featureId, out))
    base = _base(request)
    feat["links"] = [
        {"href": str(request.url), "rel": "self", "type": GEOJSON},
        {"href": f"{base}/collections/{layer.id}", "rel": "collection", "type": "application/json"},
    ]
    return _geojson(feat, out, request)
