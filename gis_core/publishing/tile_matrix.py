"""The WebMercatorQuad tile matrix set (OGC Two Dimensional Tile Matrix Set 2.0).

Every OneGrid vector tile follows it: its definition as JSON, and a bounding box's tile limits per zoom.
"""

from __future__ import annotations

import math
from typing import Any

from gis_core.publishing.tiles import HALF

ID = "WebMercatorQuad"
URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
CRS = "http://www.opengis.net/def/crs/EPSG/0/3857"
#: Half the equator in Web Mercator metres (the tiles' own constant): the origin is (-ORIGIN, ORIGIN).
ORIGIN = HALF
TILE = 256
#: The standard's pixel size (0.28 mm), which turns a cell size into a scale denominator.
PIXEL_M = 0.00028


def definition(max_zoom: int = 24) -> dict[str, Any]:
    """The tile matrix set as OGC TMS 2.0 JSON, zooms 0..`max_zoom`."""
    matrices = []
    for z in range(max_zoom + 1):
        cell = 2 * ORIGIN / TILE / 2**z
        matrices.append(
            {
                "id": str(z),
                "identifier": str(z),  # TMS 1.0's name for it: GDAL 3.6 (Debian 12) reads that one
                "topLeftCorner": [-ORIGIN, ORIGIN],
                "scaleDenominator": cell / PIXEL_M,
                "cellSize": cell,
                "cornerOfOrigin": "topLeft",
                "pointOfOrigin": [-ORIGIN, ORIGIN],
                "tileWidth": TILE,
                "tileHeight": TILE,
                "matrixWidth": 2**z,
                "matrixHeight": 2**z,
            }
        )
    return {
        "id": ID,
        # TMS 1.0's fields as well, for clients of that draft (GDAL 3.6's OGC API driver)
        "identifier": ID,
        "supportedCRS": CRS,
        "boundingBox": {
            "type": "BoundingBoxType",
            "crs": CRS,
            "lowerCorner": [-ORIGIN, -ORIGIN],
            "upperCorner": [ORIGIN, ORIGIN],
        },  # fmt: skip
        "title": "Google Maps Compatible for the World",
        "uri": URI,
        "crs": CRS,
        "orderedAxes": ["X", "Y"],
        "wellKnownScaleSet": "http://www.opengis.net/def/wkss/OGC/1.0/GoogleMapsCompatible",
        "tileMatrices": matrices,
    }


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """(column, row) of the tile holding (lon, lat) at zoom `z`."""
    n = 2**z
    col = int((lon + 180) / 360 * n)
    lat_r = math.radians(max(min(lat, 85.05112878), -85.05112878))
    row = int((1 - math.asinh(math.tan(lat_r)) / math.pi) / 2 * n)
    return min(max(col, 0), n - 1), min(max(row, 0), n - 1)


def limits(bbox: tuple[float, float, float, float], min_zoom: int, max_zoom: int) -> list[dict[str, Any]]:
    """For each zoom, the rows and columns of the tiles covering `bbox` (west, south, east, north)."""
    out = []
    for z in range(min_zoom, max_zoom + 1):
        (min_col, min_row), (max_col, max_row) = tile_of(bbox[0], bbox[3], z), tile_of(bbox[2], bbox[1], z)
        out.append(
            {"tileMatrix": str(z), "minTileRow": min_row, "maxTileRow": max_row,
             "minTileCol": min_col, "maxTileCol": max_col}
        )  # fmt: skip
    return out
