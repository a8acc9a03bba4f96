"""Standard addresses from a file (issue 22): a road to its rooms in one file, found by the geocoder at
once; a file with one bad address stores nothing; a re-import changes nothing."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from gis_core.geo.geocode import geocode
from gis_core.geo.lookup import GridIndex
from gis_core.ingest.importers import ImportRejected, import_file
from gis_core.platform.auth import user_named
from gis_core.platform.scope import act_as

PREFIX = "000TEST"  # codes that sort before the demo's, removed after each test


def _feature(code, level, label, lon, lat, **props):
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {"code": f"{PREFIX}{code}", "level": level, "label": label, **props}}  # fmt: skip


def _file(tmp_path, features) -> object:
    path = tmp_path / "addresses.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False))
    return path


def _stored(engine) -> int:
    with engine.connect() as c:
        return c.execute(
            sa.text("SELECT count(*) FROM address WHERE code LIKE :p"), {"p": f"{PREFIX}%"}
        ).scalar()


@pytest.fixture
def place(engine, spot):
    """A point well inside the district, and a building there; the test's addresses removed afterwards."""
    lon, lat, _ = spot
    with engine.connect() as c:
        building = c.execute(sa.text("SELECT code FROM building ORDER BY code LIMIT 1")).scalar_one()
    yield lon, lat, building
    with engine.begin() as c:
        c.execute(sa.text("DELETE FROM address WHERE code LIKE :p AND level = 'road'"), {"p": f"{PREFIX}%"})


def _district(lon, lat, building):
    return [
        _feature("R1", "road", "测试新路", lon, lat, aliases="旧测试路"),
        _feature("D1", "door", "8号", lon, lat, parent_code=f"{PREFIX}R1", number=8, aliases="测试花园"),
        _feature(
            "B1", "building", "2号楼", lon, lat, parent_code=f"{PREFIX}D1", number=2, building_code=building
        ),
        _feature(
            "U1", "unit", "1单元", lon, lat, parent_code=f"{PREFIX}B1", number=1, building_code=building
        ),
        _feature(
            "H1", "room", "301室", lon, lat, parent_code=f"{PREFIX}U1", number=301, building_code=building
        ),
    ]


def test_a_file_of_addresses_is_found_at_once_and_a_reimport_changes_nothing(engine, tmp_path, place):
    lon, lat, building = place
    path = _file(tmp_path, _district(lon, lat, building)[::-1])  # children first in the file: order is ours
    report = import_file(engine, path, "address")
    assert (report.inserted, report.updated, report.unchanged) == (5, 0, 0)
    again = import_file(engine, path, "address")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 5)
    with engine.begin() as c:
        index = GridIndex.load(c)
        user = user_named(c, "commander")
        act_as(c, user)
        full = geocode(c, index, user, "测试新路八号2号楼1单元301", 1)[0]
        estate = geocode(c, index, user, "测试花园2-1-301", 1)[0]
        former = geocode(c, index, user, "旧测试路8号2栋1单元301室", 1)[0]
        row = c.execute(
            sa.text(
                "SELECT full_name, grid_id IS NOT NULL AS anchored, building_id FROM address WHERE code = :c"
            ),
            {"c": f"{PREFIX}H1"},
        ).one()
    assert full.code == estate.code == former.code == f"{PREFIX}H1"
    assert row.full_name == "测试新路8号2号楼1单元301室" and row.anchored and row.building_id is not None


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda f: f[4]["properties"].pop("parent_code"), "parent_code"),
        (lambda f: f[4]["properties"].update(number="三零一"), "whole number"),
        (
            lambda f: f[4]["properties"].update(parent_code=f"{PREFIX}R1"),
            "parent must be a unit or building",
        ),  # a room straight on a road
        (lambda f: f[4]["properties"].update(level="flat"), "level"),
        (lambda f: f[3]["geometry"].update(coordinates=[100.0, 30.0]), "outside the district"),
        (lambda f: f[3]["properties"].update(code=f"{PREFIX}B1"), "duplicate"),
        (
            lambda f: f[2].update(
                geometry={"type": "LineString", "coordinates": [[124.3, 40.1], [124.4, 40.1]]}
            ),
            "point",
        ),
    ],
    ids=[
        "no-parent",
        "bad-number",
        "room-on-a-road",
        "unknown-level",
        "outside",
        "duplicate",
        "not-a-point",
    ],
)
def test_one_bad_address_refuses_the_file(engine, tmp_path, place, change, reason):
    features = _district(*place)
    change(features)
    with pytest.raises(ImportRejected) as refused:
        import_file(engine, _file(tmp_path, features), "address")
    assert any(reason in r["reason"] for r in refused.value.report.rejected), refused.value.report.rejected
    assert _stored(engine) == 0


def test_a_road_named_like_a_street_is_not_read_into_the_streets_prefix(engine, tmp_path, place):
    """Found by the benchmark: a road 七道街 matched every address beginning 元宝区七道街道… (its trigrams
    lie inside the street's name), as well as the address's own road when its numbers exist on both."""
    lon, lat, building = place
    with engine.connect() as c:
        room = c.execute(
            sa.text(
                "SELECT s.name AS street, r.full_name, d.number AS door, b.number AS building, "
                "u.number AS unit, r.number AS room FROM address r "
                "JOIN address u ON u.id = r.parent_id AND u.level = 'unit' JOIN address b ON b.id = u.parent_id "
                "JOIN address d ON d.id = b.parent_id JOIN street s ON s.id = r.street_id "
                "WHERE r.level = 'room' AND s.name LIKE '%街道' ORDER BY r.code LIMIT 1"
            )
        ).one()
    features = _district(lon, lat, building)  # the same numbers on a road called like the street
    for f, value in zip(
        features, (room.street.removesuffix("道"), room.door, room.building, room.unit, room.room)
    ):
        f["properties"]["label" if f["properties"]["level"] == "road" else "number"] = value
    import_file(engine, _file(tmp_path, features), "address")
    with engine.begin() as c:
        index = GridIndex.load(c)
        user = user_named(c, "commander")
        act_as(c, user)
        found = geocode(c, index, user, room.full_name, 5)
    assert found[0].address == room.full_name
    assert not [c.address for c in found if c.code.startswith(PREFIX)]
