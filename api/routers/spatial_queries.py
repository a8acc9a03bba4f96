"""`/api/v1/spatial/{layer}/…`: radius, nearest, polygon and area queries on any published layer.

With the caller's fields, rows and masks, read from a fresh replica where there is one.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.deps import CurrentUser
from api.routers.features import Limit, Offset, _geojson, _output_crs, _page, _read, _readable
from gis_core.geo.crs import input_point
from gis_core.publishing import features

router = APIRouter(prefix="/api/v1/spatial", tags=["spatial queries"])

Lon = Annotated[float, Query(description="Longitude (or x) in `crs`", allow_inf_nan=False)]
Lat = Annotated[float, Query(description="Latitude (or y) in `crs`", allow_inf_nan=False)]
InCrs = Annotated[str, Query(description="CRS of lon/lat: EPSG:4326 (default), GCJ-02, BD-09, any EPSG")]
OutCrs = Annotated[
    str | None, Query(alias="out-crs", description="CRS of the answer: one the collections list")
]


@router.get("/{layer}/radius", summary="Features within a radius in metres, nearest first")
def radius_query(
    layer: str,
    request: Request,
    user: CurrentUser,
    lon: Lon,
    lat: Lat,
    radius: Annotated[float, Query(gt=0, le=features.MAX_RADIUS_M, description="Metres")],
    crs: InCrs = "EPSG:4326",
    limit: Limit = 100,
    offset: Offset = 0,
    out_crs: OutCrs = None,
) -> JSONResponse:
    """Features within `radius` metres of the point, each with `distance_m`."""
    spec, out = _readable(layer, user), _output_crs(out_crs, "query.out-crs")
    wlon, wlat = input_point(lon, lat, crs)
    q = features.ItemQuery(limit=limit, offset=offset)
    feats, matched = _read(
        request,
        user,
        [spec],
        "spatial",
        lambda c: features.within_radius(c, spec, user, wlon, wlat, radius, q, out),
    )
    return _geojson(_page(request, feats, matched, limit, offset), out, request)


@router.get("/{layer}/nearest", summary="The N nearest features, with distances")
def nearest_query(
    layer: str,
    request: Request,
    user: CurrentUser,
    lon: Lon,
    lat: Lat,
    n: Annotated[int, Query(ge=1, le=features.MAX_NEAREST)] = 10,
    crs: InCrs = "EPSG:4326",
    out_crs: OutCrs = None,
) -> JSONResponse:
    """The `n` features nearest to the point (metres on the ellipsoid), nearest first."""
    spec, out = _readable(layer, user), _output_crs(out_crs, "query.out-crs")
    wlon, wlat = input_point(lon, lat, crs)
    feats = _read(
        request, user, [spec], "spatial", lambda c: features.nearest(c, spec, user, wlon, wlat, n, out)
    )
    return _geojson(
        {"type": "FeatureCollection", "numberReturned": len(feats), "features": feats}, out, request
    )


class PolygonQuery(BaseModel):
    """A GeoJSON (Multi)Polygon in lon/lat, and paging."""

    geometry: dict[str, Any] = Field(description="GeoJSON Polygon or MultiPolygon in CRS84")
    limit: int = Field(default=100, ge=1, le=features.MAX_LIMIT)
    offset: int = Field(default=0, ge=0)


@router.post("/{layer}/polygon", summary="Features within a posted polygon")
def polygon_query(
    layer: str,
    request: Request,
    user: CurrentUser,
    body: Annotated[PolygonQuery, Body()],
    out_crs: OutCrs = None,
) -> JSONResponse:
    """Features that intersect the polygon; an invalid or self-intersecting polygon is a 400 problem."""
    spec, out = _readable(layer, user), _output_crs(out_crs, "query.out-crs")
    polygon = features.check_geometry(body.geometry)
    q = features.ItemQuery(limit=body.limit, offset=body.offset)
    feats, matched = _read(
        request, user, [spec], "spatial", lambda c: features.within_polygon(c, spec, user, polygon, q, out)
    )
    return _geojson(_page(request, feats, matched, body.limit, body.offset), out, request)


@router.get("/{layer}/area", summary="Features inside a district, street, community or grid")
def area_query(
    layer: str,
    request: Request,
    user: CurrentUser,
    code: Annotated[str, Query(description="12-digit unit code or 15-digit grid code")],
    limit: Limit = 100,
    offset: Offset = 0,
    out_crs: OutCrs = None,
) -> JSONResponse:
    """Features inside the unit with `code`, at any level of the hierarchy."""
    spec, out = _readable(layer, user), _output_crs(out_crs, "query.out-crs")
    q = features.ItemQuery(limit=limit, offset=offset)
    feats, matched = _read(
        request, user, [spec], "spatial", lambda c: features.within_area(c, spec, user, code, q, out)
    )
    return _geojson(_page(request, feats, matched, limit, offset), out, request)
