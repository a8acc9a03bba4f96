"""Answers in the CRS a client asks for (OGC API Features Part 2, CRS by reference).

Every layer is stored in WGS84. A client may ask for CRS84 (the default, longitude first),
WGS84 or CGCS2000 by EPSG code (latitude first, as EPSG defines them), the district's
Gauss-Krüger zone (northing first), Web Mercator, or China's GCJ-02 and BD-09 (longitude
first; not EPSG systems, so they are named by URNs of this server). Coordinates follow the
axis order of the CRS, which is what Part 2 requires and what GDAL and QGIS expect; the
answer says which CRS it is in with a `Content-Crs` header.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pyproj
import shapely

from gis_core.geo.crs import CrsSpec, from_wgs84, parse_crs, to_wgs84, valid_lonlat
from gis_core.platform.errors import InvalidInput, UnknownCRSError

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/{}"
#: URNs for the two Chinese systems, which no registry names.
URNS = {"gcj02": "urn:x-onegrid:crs:gcj-02", "bd09": "urn:x-onegrid:crs:bd-09"}
_CRS84_NAMES = {"crs84", "ogc:crs84", CRS84.lower(), "http://www.opengis.net/def/crs/ogc/1.3/crs84"}


@dataclass(frozen=True)
class OutputCrs:
    """A CRS answers are given in: what it is, its URI and whether its first axis is northing."""

    spec: CrsSpec
    uri: str
    northing_first: bool

    @property
    def is_crs84(self) -> bool:
        """Longitude/latitude in degrees, longitude first: what is stored."""
        return self.uri == CRS84

    @property
    def projected(self) -> bool:
        """Coordinates in metres (rounded to millimetres, not to degrees' decimals)."""
        return self.spec.epsg is not None and _projected(self.spec.epsg)


def supported(projected_epsg: int) -> list[str]:
    """The URIs of every CRS offered, CRS84 first (the storage CRS)."""
    codes = [4326, 4490, projected_epsg, 3857]
    return [CRS84, *(EPSG_URI.format(c) for c in dict.fromkeys(codes)), *URNS.values()]


@lru_cache(maxsize=64)
def _projected(epsg: int) -> bool:
    return bool(pyproj.CRS.from_epsg(epsg).is_projected)


@lru_cache(maxsize=64)
def _northing_first(epsg: int) -> bool:
    return pyproj.CRS.from_epsg(epsg).axis_info[0].direction in ("north", "south")


def output_crs(text: str | None, projected_epsg: int, where: str = "query.crs") -> OutputCrs:
    """A `crs`-like parameter → one of the offered CRSs (CRS84 when absent); 400 otherwise."""
    if text is None or text.strip().lower() in _CRS84_NAMES or text.strip() == "":
        return OutputCrs(CrsSpec("epsg", 4326), CRS84, False)
    key = text.strip().lower()
    spec = next((CrsSpec(kind) for kind, urn in URNS.items() if key == urn), None) or parse_crs(text, where)
    if spec.kind != "epsg":
        return OutputCrs(spec, URNS[spec.kind], False)
    uri = EPSG_URI.format(spec.epsg)
    offered = supported(projected_epsg)
    if uri not in offered:
        raise UnknownCRSError(f"{spec.label} is not offered; offered: {', '.join(offered)}", where=where)
    return OutputCrs(spec, uri, _northing_first(spec.epsg))


def _out(c: np.ndarray, crs: OutputCrs) -> np.ndarray:
    x, y = from_wgs84(c[:, 0], c[:, 1], crs.spec)
    xy = np.column_stack([y, x] if crs.northing_first else [x, y])
    return np.round(xy, 3 if crs.projected else 9)


def geometry_out(geometry: dict[str, Any] | None, crs: OutputCrs) -> dict[str, Any] | None:
    """A WGS84 GeoJSON geometry in `crs`, in its axis order."""
    if geometry is None or crs.is_crs84:
        return geometry
    moved = shapely.transform(shapely.geometry.shape(geometry), lambda c: _out(c, crs))
    return shapely.geometry.mapping(moved)  # type: ignore[no-any-return]


def bbox_in(
    box: tuple[float, float, float, float], crs: OutputCrs, where: str = "query.bbox"
) -> tuple[float, ...]:
    """A bbox given in `crs` (its axis order) → the WGS84 box that holds it."""
    if crs.is_crs84:
        return box
    a, b, c, d = box
    minx, miny, maxx, maxy = (b, a, d, c) if crs.northing_first else (a, b, c, d)
    if minx > maxx or miny > maxy:
        raise InvalidInput("bbox must give the lower corner first", where=where)
    ring = shapely.segmentize(shapely.box(minx, miny, maxx, maxy), max(maxx - minx, maxy - miny) / 16 or 1)
    coords = shapely.get_coordinates(ring)
    lon, lat = to_wgs84(coords[:, 0], coords[:, 1], crs.spec)
    lon, lat = np.asarray(lon), np.asarray(lat)
    if not all(valid_lonlat(float(x), float(y)) for x, y in zip(lon, lat, strict=True)):
        raise InvalidInput(f"bbox is outside the area of {crs.uri}", where=where)
    return float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())
