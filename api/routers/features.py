"""OGC API Features (Part 1 core + GeoJSON) for every published layer, and the spatial queries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.deps import ConnDep, CurrentUser, read_context
from gis_core.geo.crs import input_point, parse_crs
from gis_core.platform.clock import iso
from gis_core.platform.errors import InvalidInput, UnknownCRSError
from gis_core.publishing import features
from gis_core.publishing.audit import log_read
from gis_core.publishing.layers import Layer, get_layer, readable_layers

router = APIRouter(tags=["features"])
spatial = APIRouter(prefix="/api/v1/spatial", tags=["spatial queries"])

GEOJSON = "application/geo+json"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
#: Query parameters of /items that are not property filters.
ITEM_PARAMS = {"bbox", "limit", "offset", "datetime", "sortby", "crs", "f"}

Limit = Annotated[int, Query(ge=1, le=features.MAX_LIMIT, description="Page size")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="Features to skip")]


def _readable(layer_id: str, user: Any, where: str = "path.layer") -> Layer:
    """The layer, if the caller may read it (404 unknown, 403 not theirs)."""
    layer = get_layer(layer_id, where=where)
    layer.check_readable(user)
    return layer


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _geojson(body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(body, media_type=GEOJSON)


def _output_crs(crs: str | None) -> Any:
    """WGS84 (default) or GCJ-02 for Chinese basemaps; other CRSs are not offered."""
    spec = parse_crs(crs, where="query.crs")
    if spec.kind == "gcj02" or spec.kind == "epsg" and spec.epsg == 4326:
        return spec
    raise UnknownCRSError(f"output is offered in CRS84 or GCJ-02, not {spec.label}", where="query.crs")


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
        "crs": [CRS84],
        "extent": {"spatial": {"bbox": [bbox or [-180, -90, 180, 90]], "crs": CRS84}},
        "links": [
            {"href": href, "rel": "self", "type": "application/json"},
            {"href": f"{href}/items", "rel": "items", "type": GEOJSON, "title": layer.title_zh},
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
    return features.ItemQuery(
        bbox=features.parse_bbox(params["bbox"]) if "bbox" in params else None,
        interval=features.parse_datetime(params["datetime"]) if "datetime" in params else None,
        properties=props,
        sortby=features.parse_sortby(params["sortby"], layer, user) if "sortby" in params else [],
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
    summary="Features of a collection (bbox, datetime, property filters, sortby, paging)",
    response_class=JSONResponse,
    responses={200: {"content": {GEOJSON: {}}}},
)
def collection_items(
    collectionId: str,  # noqa: N803
    request: Request,
    user: CurrentUser,
    conn: ConnDep,
    limit: Limit = 100,
    offset: Offset = 0,
    bbox: Annotated[str | None, Query(description="minLon,minLat,maxLon,maxLat (CRS84)")] = None,
    datetime: Annotated[str | None, Query(description="RFC 3339 instant or interval (`..` open)")] = None,
    sortby: Annotated[str | None, Query(description="+field,-field")] = None,
    crs: Annotated[str | None, Query(description="Output CRS: CRS84 (default) or GCJ-02")] = None,
) -> JSONResponse:
    """A page of features; any other parameter named like a field filters on equality."""
    layer = _readable(collectionId, user, where="path.collectionId")
    q = _item_query(request, layer, user, limit, offset)
    feats, matched = features.items(conn, layer, user, q, _output_crs(crs))
    log_read(conn, user, [layer], "features", len(feats), read_context(request))
    return _geojson(_page(request, feats, matched, limit, offset))


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
    conn: ConnDep,
    crs: Annotated[str | None, Query(description="Output CRS: CRS84 (default) or GCJ-02")] = None,
) -> JSONResponse:
    """One feature by id."""
    layer = _readable(collectionId, user, where="path.collectionId")
    feat = features.item(conn, layer, user, featureId, _output_crs(crs))
    log_read(conn, user, [layer], "feature", 1, read_context(request))
    base = _base(request)
    feat["links"] = [
        {"href": str(request.url), "rel": "self", "type": GEOJSON},
        {"href": f"{base}/collections/{layer.id}", "rel": "collection", "type": "application/json"},
    ]
    return _geojson(feat)


# ---------------------------------------------------------------- spatial queries

Lon = Annotated[float, Query(description="Longitude (or x) in `crs`", allow_inf_nan=False)]
Lat = Annotated[float, Query(description="Latitude (or y) in `crs`", allow_inf_nan=False)]
InCrs = Annotated[str, Query(description="CRS of lon/lat: EPSG:4326 (default), GCJ-02, BD-09, any EPSG")]


@spatial.get("/{layer}/radius", summary="Features within a radius in metres, nearest first")
def radius_query(
    layer: str,
    request: Request,
    user: CurrentUser,
    conn: ConnDep,
    lon: Lon,
    lat: Lat,
    radius: Annotated[float, Query(gt=0, le=features.MAX_RADIUS_M, description="Metres")],
    crs: InCrs = "EPSG:4326",
    limit: Limit = 100,
    offset: Offset = 0,
) -> JSONResponse:
    """Features within `radius` metres of the point, each with `distance_m`."""
    spec = _readable(layer, user)
    wlon, wlat = input_point(lon, lat, crs)
    q = features.ItemQuery(limit=limit, offset=offset)
    feats, matched = features.within_radius(conn, spec, user, wlon, wlat, radius, q)
    log_read(conn, user, [spec], "spatial", len(feats), read_context(request))
    return _geojson(_page(request, feats, matched, limit, offset))


@spatial.get("/{layer}/nearest", summary="The N nearest features, with distances")
def nearest_query(
    layer: str,
    request: Request,
    user: CurrentUser,
    conn: ConnDep,
    lon: Lon,
    lat: Lat,
    n: Annotated[int, Query(ge=1, le=features.MAX_NEAREST)] = 10,
    crs: InCrs = "EPSG:4326",
) -> JSONResponse:
    """The `n` features nearest to the point (metres on the ellipsoid), nearest first."""
    spec = _readable(layer, user)
    wlon, wlat = input_point(lon, lat, crs)
    feats = features.nearest(conn, spec, user, wlon, wlat, n)
    log_read(conn, user, [spec], "spatial", len(feats), read_context(request))
    return _geojson({"type": "FeatureCollection", "numberReturned": len(feats), "features": feats})


class PolygonQuery(BaseModel):
    """A GeoJSON (Multi)Polygon in lon/lat, and paging."""

    geometry: dict[str, Any] = Field(description="GeoJSON Polygon or MultiPolygon in CRS84")
    limit: int = Field(default=100, ge=1, le=features.MAX_LIMIT)
    offset: int = Field(default=0, ge=0)


@spatial.post("/{layer}/polygon", summary="Features within a posted polygon")
def polygon_query(
    layer: str,
    request: Request,
    user: CurrentUser,
    conn: ConnDep,
    body: Annotated[PolygonQuery, Body()],
) -> JSONResponse:
    """Features that intersect the polygon; an invalid or self-intersecting polygon is a 400 problem."""
    spec = _readable(layer, user)
    polygon = features.check_geometry(body.geometry)
    q = features.ItemQuery(limit=body.limit, offset=body.offset)
    feats, matched = features.within_polygon(conn, spec, user, polygon, q)
    log_read(conn, user, [spec], "spatial", len(feats), read_context(request))
    return _geojson(_page(request, feats, matched, body.limit, body.offset))


@spatial.get("/{layer}/area", summary="Features inside a district, street, community or grid")
def area_query(
    layer: str,
    request: Request,
    user: CurrentUser,
    conn: ConnDep,
    code: Annotated[str, Query(description="12-digit unit code or 15-digit grid code")],
    limit: Limit = 100,
    offset: Offset = 0,
) -> JSONResponse:
    """Features inside the unit with `code`, at any level of the hierarchy."""
    spec = _readable(layer, user)
    q = features.ItemQuery(limit=limit, offset=offset)
    feats, matched = features.within_area(conn, spec, user, code, q)
    log_read(conn, user, [spec], "spatial", len(feats), read_context(request))
    return _geojson(_page(request, feats, matched, limit, offset))
