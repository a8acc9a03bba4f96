"""CQL2 filters on items (OGC API Features Part 3), each checked against the same selection in PostGIS."""

import json
from urllib.parse import quote

import pytest

from gis_core.publishing.layers import get_layer
from tests.conftest import assert_problem
from tests.test_features import all_pages, rows


@pytest.fixture(scope="module")
def place(engine):
    """Values of the demo that the filters name: a point inside, a box, instants of the incidents."""
    (lon, lat) = rows(engine, "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grid "
                              "ORDER BY code LIMIT 1 OFFSET 3) g")[0]  # fmt: skip
    (x0, y0, x1, y1) = rows(engine, "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                                    "(SELECT ST_Extent(geom) e FROM grid WHERE code IN "
                                    "(SELECT code FROM grid ORDER BY code LIMIT 12)) b")[0]  # fmt: skip
    (t1, t2, n) = rows(engine, "SELECT to_timestamp(percentile_cont(0.3) WITHIN GROUP (ORDER BY e)), "
                               "to_timestamp(percentile_cont(0.7) WITHIN GROUP (ORDER BY e)), count(*) FROM "
                               f"(SELECT extract(epoch FROM recorded_at) e FROM {get_layer('workers').source} t) o"
                               )[0]  # fmt: skip
    assert n >= 10, "the demo has workers' positions to filter"
    (reach,) = rows(engine, "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY range_m) FROM camera")[0]
    return {
        "point": f"POINT({lon} {lat})",
        "box": f"POLYGON(({x0} {y0},{x1} {y0},{x1} {y1},{x0} {y1},{x0} {y0}))",
        "env": (x0, y0, x1, y1),
        "t1": t1.isoformat().replace("+00:00", "Z"),
        "t2": t2.isoformat().replace("+00:00", "Z"),
        "reach": reach,
        "lon": lon,
        "lat": lat,
    }


# (collection, CQL2 text, the same selection as SQL on the layer's table, alias t)
CASES = [
    ("grid", "kind = 'urban'", "t.kind = 'urban'"),
    ("grid", "kind <> 'urban'", "t.kind <> 'urban'"),
    ("grid", "NOT (kind = 'urban' OR kind = 'rural')", "t.kind NOT IN ('urban', 'rural')"),
    ("grid", "kind IN ('school', 'enterprise')", "t.kind IN ('school', 'enterprise')"),
    ("grid", "code LIKE '%0_1'", "t.code LIKE '%0_1'"),
    ("grid", "CASEI(kind) = casei('URBAN') AND code > '0'", "lower(t.kind) = 'urban'"),
    ("cameras", "range_m > {reach}", "t.range_m > {reach}"),
    ("cameras", "range_m >= {reach} AND NOT (online = true)", "t.range_m >= {reach} AND NOT t.online"),
    ("cameras", "online = false OR fov_deg < 60", "NOT t.online OR t.fov_deg < 60"),
    ("cameras", "bearing_deg BETWEEN 90 AND 180", "t.bearing_deg BETWEEN 90 AND 180"),
    ("cameras", "bearing_deg + fov_deg / 2 > 300", "t.bearing_deg + t.fov_deg / 2.0 > 300"),
    ("buildings", "floors * 3 >= 50 AND (use = 'residential' OR floors = 7)",
     "t.floors * 3 >= 50 AND (t.use = 'residential' OR t.floors = 7)"),
    ("buildings", "address IS NULL OR floors IS NULL", "t.address IS NULL OR t.floors IS NULL"),
    ("workers", "T_INTERSECTS(recorded_at, INTERVAL('{t1}', '{t2}'))", "t.recorded_at BETWEEN '{t1}' AND '{t2}'"),
    ("workers", "T_INTERSECTS(recorded_at, INTERVAL('{t2}', '..')) AND accuracy_m < 10",
     "t.recorded_at >= '{t2}' AND t.accuracy_m < 10"),
    ("workers", "T_BEFORE(recorded_at, TIMESTAMP('{t1}'))", "t.recorded_at < '{t1}'"),
    ("workers", "T_AFTER(recorded_at, TIMESTAMP('{t2}')) OR code LIKE '%1'",
     "t.recorded_at > '{t2}' OR t.code LIKE '%1'"),
    ("workers", "T_DISJOINT(recorded_at, INTERVAL('..', '{t1}'))", "t.recorded_at > '{t1}'"),
    ("workers", "recorded_at < TIMESTAMP('{t1}')", "t.recorded_at < '{t1}'"),
    ("grid", "S_INTERSECTS(geometry, {point})", "ST_Intersects(t.geom, ST_GeomFromText('{point}', 4326))"),
    ("buildings", "S_WITHIN(geometry, {box}) AND floors > 3",
     "ST_Within(t.geom, ST_GeomFromText('{box}', 4326)) AND t.floors > 3"),
    ("grid", "S_INTERSECTS(geometry, BBOX({env[0]}, {env[1]}, {env[2]}, {env[3]})) AND NOT kind = 'rural'",
     "ST_Intersects(t.geom, ST_MakeEnvelope({env[0]}, {env[1]}, {env[2]}, {env[3]}, 4326)) AND t.kind <> 'rural'"),
    ("grid", "S_DISJOINT(geometry, {box})", "NOT ST_Intersects(t.geom, ST_GeomFromText('{box}', 4326))"),
    ("grid", "S_CONTAINS(geometry, {point})", "ST_Contains(t.geom, ST_GeomFromText('{point}', 4326))"),
]  # fmt: skip


def _expected(engine, layer_id, sql):
    layer = get_layer(layer_id)
    return {
        r[0]
        for r in rows(engine, f"SELECT t.{layer.key} FROM {layer.source} t WHERE ({layer.where}) AND ({sql})")
    }


@pytest.mark.parametrize("collection,text,sql", CASES, ids=[c[1][:40] for c in CASES])
def test_a_filter_selects_what_postgis_selects(client, auth, engine, place, collection, text, sql):
    text, sql = text.format(**place), sql.format(**place)
    want = _expected(engine, collection, sql)
    feats, matched = all_pages(
        client, f"/collections/{collection}/items?limit=5000&filter={quote(text)}", auth("commander")
    )
    assert {f["id"] for f in feats} == want and matched == {len(want)}
    everything = rows(engine, f"SELECT count(*) FROM {get_layer(collection).source} t")[0][0]
    assert 0 < len(want) < everything or "DISJOINT" in text or "IS NULL" in text  # the case discriminates


def test_cql2_json_selects_as_the_text_does(client, auth, engine, place):
    tree = {
        "op": "and",
        "args": [
            {"op": "s_intersects", "args": [{"property": "geometry"}, {"bbox": list(place["env"])}]},
            {"op": "in", "args": [{"property": "kind"}, ["urban", "school"]]},
        ],
    }
    url = f"/collections/grid/items?limit=5000&filter-lang=cql2-json&filter={quote(json.dumps(tree))}"
    feats, _ = all_pages(client, url, auth())
    x0, y0, x1, y1 = place["env"]
    want = _expected(engine, "grid", f"ST_Intersects(t.geom, ST_MakeEnvelope({x0}, {y0}, {x1}, {y1}, 4326)) "
                                     "AND t.kind IN ('urban', 'school')")  # fmt: skip
    assert {f["id"] for f in feats} == want and want


def test_a_filter_geometry_in_another_crs(client, auth, engine, place):
    """filter-crs: a point given in the Gauss-Krüger zone (northing first) selects the grid it lies in."""
    from pyproj import Transformer

    e, n = Transformer.from_crs(4326, 4550, always_xy=True).transform(place["lon"], place["lat"])
    text = quote(f"S_INTERSECTS(geometry, POINT({n} {e}))")
    crs = quote("http://www.opengis.net/def/crs/EPSG/0/4550")
    body = client.get(f"/collections/grid/items?filter={text}&filter-crs={crs}", headers=auth()).json()
    want = _expected(engine, "grid", f"ST_Intersects(t.geom, ST_GeomFromText('{place['point']}', 4326))")
    assert {f["id"] for f in body["features"]} == want and len(want) == 1


@pytest.mark.parametrize(
    "text,says,position",
    [
        ("kind = = 'urban'", "not a valid cql2-text filter at character 8", 8),
        ("kind = 'urban' AND", "at character 19", 19),
        ("colour = 'red'", "unknown property 'colour'", 1),
        ("kind = 'urban' AND floors > 3", "unknown property 'floors'", 20),
        ("kind > 3", "cannot compare string with number", 1),
        ("geometry = 'x'", "is a geometry", 1),
        ("S_INTERSECTS(kind, POINT(124.4 40.1))", "'kind' is not the geometry", 14),
        ("S_INTERSECTS(geometry, POLYGON((124 40,125 41,125 40,124 41,124 40)))", "invalid geometry", None),
        ("S_INTERSECTS(geometry, POINT(500 40))", "longitude/latitude", None),
        ("T_MEETS(name, INTERVAL('2026-01-01', '2026-02-01'))", "cannot compare string with timestamp", 9),
        ("kind = 'urban'; DROP TABLE grid", "at character 15", 15),
        ("\"kind; DROP TABLE grid; --\" = 'x'", "unknown property", 2),
        ("(" * 500 + "kind = 'urban'" + ")" * 500, "nests at most", None),
        ("NOT " * 1000 + "kind = 'urban'", "nests at most", None),
        ("-" * 1000 + "1 > 0", "nests at most", None),
    ],
)
def test_bad_filters_are_problems_naming_where(client, auth, engine, text, says, position):
    before = rows(engine, "SELECT count(*) FROM grid")[0][0]
    body = assert_problem(client.get(f"/collections/grid/items?filter={quote(text)}", headers=auth()), 400)
    assert body["where"] == "query.filter" and says in body["detail"], body
    assert body.get("position") == position
    assert rows(engine, "SELECT count(*) FROM grid")[0][0] == before


def test_an_injected_quote_is_a_value_not_sql(client, auth, engine):
    for text in ("kind = 'x'' OR ''1''=''1'", "name = 'a'' OR 1=1 --'"):
        body = client.get(f"/collections/grid/items?filter={quote(text)}", headers=auth()).json()
        assert body["numberMatched"] == 0, body
    unclosed = quote("kind = 'urban'' AND pg_sleep(5) IS NULL")
    assert_problem(client.get(f"/collections/grid/items?filter={unclosed}", headers=auth()), 400)


def test_filter_lang_and_crs_must_be_known(client, auth):
    bad = assert_problem(
        client.get("/collections/grid/items?filter=true&filter-lang=sql", headers=auth()), 422
    )
    assert bad["where"] == "query.filter-lang"
    bad = assert_problem(
        client.get("/collections/grid/items?filter=true&filter-crs=EPSG:2000", headers=auth()), 400
    )
    assert bad["where"] == "query.filter-crs"
    bad = assert_problem(
        client.get("/collections/grid/items?filter-lang=cql2-json&filter={", headers=auth()), 400
    )
    assert bad["where"] == "query.filter"


def test_queryables_name_what_the_reader_may_filter(client, auth):
    grid = client.get("/collections/grid/queryables", headers=auth())
    assert grid.headers["content-type"].startswith("application/schema+json")
    props = grid.json()["properties"]
    assert props["kind"] == {"title": "kind", "type": "string"} and "geometry" in props
    cams = client.get("/collections/cameras/queryables", headers=auth()).json()["properties"]
    assert (cams["online"]["type"], cams["range_m"]["type"]) == ("boolean", "number")
    inc = client.get("/collections/incidents_open/queryables", headers=auth()).json()["properties"]
    assert inc["reported_at"] == {"title": "reported_at", "type": "string", "format": "date-time"}
    persons = client.get("/collections/persons/queryables", headers=auth("planner")).json()["properties"]
    assert "id_number" not in persons and "phone" not in persons  # sealed: not comparable in SQL
    links = client.get("/collections/grid", headers=auth()).json()["links"]
    assert any(link["rel"].endswith("/queryables") for link in links)
    conf = set(client.get("/conformance").json()["conformsTo"])
    assert "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text" in conf
    assert "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter" in conf
    assert_problem(client.get("/collections/persons/queryables", headers=auth("citizen")), 403)


def test_a_filter_respects_the_reader_rows(client, auth, engine):
    """A filter narrows what the reader may see; it never widens it."""
    community = client.get("/collections/persons/items?limit=1", headers=auth("community")).json()
    filtered = client.get(f"/collections/persons/items?limit=1&filter={quote('gender <> ' + chr(39) + 'x' + chr(39))}",
                          headers=auth("community")).json()  # fmt: skip
    (everyone,) = rows(engine, "SELECT count(*) FROM person")[0]
    assert filtered["numberMatched"] == community["numberMatched"] < everyone


def test_the_server_survives_a_deep_json_filter(client, auth):
    """The parser would overflow its stack a few thousand levels down; the bound stops it first."""
    tree: dict = {"op": "=", "args": [{"property": "kind"}, "urban"]}
    for _ in range(300):
        tree = {"op": "not", "args": [tree]}
    text = json.dumps(tree)
    assert_problem(client.get(f"/collections/grid/items?filter-lang=cql2-json&filter={quote(text)}",
                              headers=auth()), 400)  # fmt: skip
    assert (
        client.get("/collections/grid/items?limit=1&filter=kind%3D'urban'", headers=auth()).status_code == 200
    )
