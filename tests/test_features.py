"""OGC API Features and the spatial queries, checked against independent computations."""

import json

import pytest
import shapely
import sqlalchemy as sa
from pyproj import Geod

from gis_core.geo.crs import wgs84_to_gcj02
from tests.conftest import assert_problem, opened

GEOD = Geod(ellps="WGS84")


def rows(engine, sql, **params):
    with engine.connect() as c:
        return c.execute(sa.text(sql), params).all()


def all_pages(client, url, headers):
    """Follow `next` links to the end; returns every feature and the pages' numberMatched."""
    feats, matched = [], set()
    while url:
        body = client.get(url, headers=headers).json()
        feats += body["features"]
        matched.add(body["numberMatched"])
        url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
    return feats, matched


def test_landing_conformance_and_collections(client, auth):
    landing = client.get("/").json()
    rels = {link["rel"] for link in landing["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= rels
    assert (
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"
        in client.get("/conformance").json()["conformsTo"]
    )
    ids = {c["id"] for c in client.get("/collections", headers=auth()).json()["collections"]}
    assert {
        "district",
        "street",
        "community",
        "grid",
        "roads",
        "buildings",
        "cameras",
        "persons",
        "workers",
    } <= ids
    citizen = {c["id"] for c in client.get("/collections", headers=auth("citizen")).json()["collections"]}
    assert "persons" not in citizen and "workers" not in citizen and "grid" in citizen
    grid = client.get("/collections/grid", headers=auth()).json()
    assert grid["itemType"] == "feature" and any(link["rel"] == "items" for link in grid["links"])
    assert_problem(client.get("/collections/nope", headers=auth()), 404)
    assert_problem(client.get("/collections/persons", headers=auth("citizen")), 403)


def test_paging_visits_every_feature_once(client, auth, engine):
    (n,) = rows(engine, "SELECT count(*) FROM building")[0]
    feats, matched = all_pages(client, "/collections/buildings/items?limit=37", auth())
    assert matched == {n} and len(feats) == n == len({f["id"] for f in feats})
    page = client.get("/collections/buildings/items?limit=37&offset=37", headers=auth()).json()
    assert page["numberReturned"] == 37 and {link["rel"] for link in page["links"]} >= {"next", "prev"}
    assert (
        client.get("/collections/buildings/items?limit=5", headers=auth()).headers["content-type"]
        == "application/geo+json"
    )


def test_bbox_property_filter_and_sortby_agree_with_the_source(client, auth, engine):
    src = rows(engine, "SELECT id, kind, ST_AsBinary(geom) FROM grid")
    (minx, miny, maxx, maxy) = shapely.from_wkb(bytes(src[0][2])).bounds
    bbox = (minx - 0.01, miny - 0.01, maxx + 0.01, maxy + 0.01)
    want = {
        i
        for i, kind, g in src
        if kind == "urban" and shapely.from_wkb(bytes(g)).intersects(shapely.box(*bbox))
    }
    url = f"/collections/grid/items?bbox={','.join(map(str, bbox))}&kind=urban&sortby=-code&limit=1000"
    body = client.get(url, headers=auth()).json()
    assert {f["id"] for f in body["features"]} == want and want
    codes = [f["properties"]["code"] for f in body["features"]]
    assert codes == sorted(codes, reverse=True)


def test_datetime_interval_filters_on_the_layer_time(client, auth, engine):
    src = rows(
        engine,
        "SELECT id FROM incident WHERE state IN ('reported','accepted','dispatched','in_progress','suspended','resolved') "
        "AND reported_at >= '2026-06-01T00:00:00Z' AND reported_at <= '2026-09-01T00:00:00Z'",
    )
    feats, _ = all_pages(
        client,
        "/collections/incidents_open/items?datetime=2026-06-01T00:00:00Z/2026-09-01T00:00:00Z&limit=500",
        auth(),
    )
    assert {f["id"] for f in feats} == {r[0] for r in src}
    _, matched = all_pages(
        client, "/collections/incidents_open/items?datetime=../2000-01-01T00:00:00Z", auth()
    )
    assert matched == {0}


def test_one_item_and_gcj02_output(client, auth, engine):
    (gid, x, y) = rows(engine, "SELECT id, ST_X(geom), ST_Y(geom) FROM camera ORDER BY id LIMIT 1")[0]
    f = client.get(f"/collections/cameras/items/{gid}", headers=auth()).json()
    assert f["id"] == gid and f["geometry"]["coordinates"] == pytest.approx([x, y], abs=1e-7)
    g = client.get(f"/collections/cameras/items/{gid}?crs=GCJ-02", headers=auth()).json()
    assert g["geometry"]["coordinates"] == pytest.approx(list(wgs84_to_gcj02(x, y)), abs=1e-7)
    assert_problem(client.get("/collections/cameras/items/999999999", headers=auth()), 404)


def test_personal_data_and_rows_follow_the_role(client, auth, engine):
    (pid, name, idn, phone) = rows(
        engine,
        "SELECT id, name, id_number_sealed, phone_sealed FROM person WHERE phone_sealed IS NOT NULL "
        "ORDER BY id LIMIT 1",
    )[0]
    idn, phone = opened(idn), opened(phone)
    full = client.get(f"/collections/persons/items/{pid}", headers=auth("commander")).json()["properties"]
    masked = client.get(f"/collections/persons/items/{pid}", headers=auth("planner")).json()["properties"]
    assert (full["name"], full["id_number"], full["phone"]) == (name, idn, phone)
    assert (
        masked["id_number"] == idn[:4] + "**********" + idn[-4:]
        and masked["name"][0] == name[0] != masked["name"]
    )
    assert masked["phone"] != phone and masked["phone"][-4:] == phone[-4:]
    (n,) = rows(
        engine,
        "SELECT count(*) FROM person WHERE community_id = (SELECT id FROM community WHERE code = "
        "(SELECT jurisdiction_code FROM app_user WHERE username = 'community'))",
    )[0]
    assert (
        client.get("/collections/persons/items?limit=1", headers=auth("community")).json()["numberMatched"]
        == n
    )
    assert_problem(client.get("/collections/persons/items", headers=auth("citizen")), 403)


@pytest.mark.parametrize(
    "query,where",
    [
        ("bbox=124.5,40.1,124.3,40.2", "query.bbox"),
        ("bbox=1,2,3", "query.bbox"),
        ("bbox=200,0,201,1", "query.bbox"),
        ("limit=1000000000", "query.limit"),
        ("limit=0", "query.limit"),
        ("kind=", "query.kind"),
        ("kind=urban&kind=rural", "query.kind"),
        ("filter=kind%3D%3D'urban'", "query.filter"),
        ("crs=EPSG:2000", "query.crs"),
        ("bbox-crs=EPSG:4550&bbox=1,2,3", "query.bbox"),
        ("colour=red", "query.colour"),
        ("datetime=yesterday", "query.datetime"),
        ("datetime=2026-01-01T00:00:00", "query.datetime"),
        ("datetime=2026-02-01T00:00:00Z/2026-01-01T00:00:00Z", "query.datetime"),
        ("sortby=-nonexistent", "query.sortby"),
        ("crs=EPSG:999999", "query.crs"),
    ],
)
def test_bad_item_queries_are_problems(client, auth, query, where):
    body = assert_problem(
        client.get(f"/collections/grid/items?{query}", headers=auth()), 422 if "limit" in query else 400
    )
    assert body["where"] == where
    assert_problem(
        client.get("/collections/cameras/items?datetime=2026-01-01T00:00:00Z", headers=auth()), 400
    )


# ---------------------------------------------------------------- workers, warnings and other layers


def test_workers_say_whether_they_are_on_duty(client, auth, engine):
    """Issue 18 item 10: the wall drew month-old positions as workers out there now."""
    with engine.begin() as c:
        worker, at = c.execute(
            sa.text("SELECT worker_id, recorded_at FROM worker_position ORDER BY worker_id LIMIT 1")
        ).one()
        c.execute(
            sa.text(
                "UPDATE worker_position SET recorded_at = now() - interval '5 minutes' WHERE worker_id = :w"
            ),
            {"w": worker},
        )
    try:
        feats = client.get("/collections/workers/items?limit=2000", headers=auth()).json()["features"]
        duty = {f["id"]: f["properties"]["on_duty"] for f in feats}
        with engine.connect() as c:
            want = dict(
                c.execute(
                    sa.text(
                        "SELECT p.worker_id, p.recorded_at > now() - interval '30 minutes' FROM worker_position p "
                        "JOIN worker w ON w.id = p.worker_id WHERE w.active"
                    )
                ).all()
            )
        assert duty == want and duty[worker] is True and not all(duty.values())
    finally:
        with engine.begin() as c:
            c.execute(
                sa.text("UPDATE worker_position SET recorded_at = :t WHERE worker_id = :w"),
                {"t": at, "w": worker},
            )


def test_the_warning_list_says_how_many_match_beyond_its_limit(client, auth, engine):
    body = client.get("/api/v1/warnings?state=all&limit=1", headers=auth()).json()
    with engine.connect() as c:
        total = c.execute(sa.text("SELECT count(*) FROM warning")).scalar()
    assert body["numberReturned"] == min(1, total) and body["numberMatched"] == total


def test_grid_risk_counts_residents_per_class_without_a_person_in_sight(client, auth, engine):
    """Issue 18 item 15: the four-colour classes per grid were summed in the browser from every person."""
    with engine.connect() as c:
        want = {
            code: (n, a, d)
            for code, n, a, d in c.execute(
                sa.text(
                    "SELECT g.code, count(p.id), count(p.id) FILTER (WHERE p.risk_class = 'A'), "
                    "count(p.id) FILTER (WHERE p.risk_class = 'D') FROM grid g "
                    "LEFT JOIN person p ON p.grid_id = g.id GROUP BY g.code"
                )
            )
        }
        mine = set(
            c.execute(
                sa.text(
                    "SELECT g.code FROM grid g JOIN worker_grid wg ON wg.grid_id = g.id JOIN worker w "
                    "ON w.id = wg.worker_id JOIN app_user u ON u.id = w.user_id WHERE u.username = 'gridworker'"
                )
            ).scalars()
        )
    got = {
        f["properties"]["code"]: f["properties"]
        for f in client.get("/collections/grid_risk/items?limit=2000", headers=auth()).json()["features"]
    }
    assert {k: (p["persons"], p["risk_a"], p["risk_d"]) for k, p in got.items()} == want
    assert set(next(iter(got.values()))) == {
        "code",
        "name",
        "persons",
        "risk_a",
        "risk_b",
        "risk_c",
        "risk_d",
    }
    # a grid worker's counts are their own grids' residents, nobody else's
    theirs = {
        f["properties"]["code"]: f["properties"]["persons"]
        for f in client.get("/collections/grid_risk/items?limit=2000", headers=auth("gridworker")).json()[
            "features"
        ]
    }
    assert mine and all(theirs[k] == want[k][0] for k in mine)
    assert all(n == 0 for k, n in theirs.items() if k not in mine)
    assert_problem(client.get("/collections/grid_risk/items", headers=auth("citizen")), 403)


def test_party_organisations_are_published(client, auth, engine):
    with engine.connect() as c:
        n = c.execute(sa.text("SELECT count(*) FROM party_org")).scalar()
    body = client.get("/collections/party_orgs/items?limit=1000", headers=auth("citizen")).json()
    assert n > 0 and body["numberMatched"] == n
    assert {"code", "name", "level", "members"} <= set(body["features"][0]["properties"])


def test_shops_and_units_are_published_in_their_buildings_with_contacts_masked_by_role(client, auth, engine):
    with engine.connect() as c:
        rows = {
            r.code: r
            for r in c.execute(
                sa.text(
                    "SELECT u.code, u.kind, u.contact_name, u.contact_phone, ST_Contains(b.geom, u.geom) AS housed, "
                    "u.grid_id IS NOT NULL AS pinned FROM unit u JOIN building b ON b.id = u.building_id"
                )
            )
        }
    assert {r.kind for r in rows.values()} >= {"shop", "enterprise", "school"}
    assert all(r.housed and r.pinned for r in rows.values())  # inside the building, in a grid
    seen = {}
    for role in ("gridworker", "planner"):
        body = client.get("/collections/units/items?limit=5000", headers=auth(role)).json()
        assert body["numberMatched"] == len(rows)
        seen[role] = {f["properties"]["code"]: f["properties"] for f in body["features"]}
    code, row = next(iter(rows.items()))
    assert seen["gridworker"][code]["contact_phone"] == row.contact_phone  # field staff call the shop
    masked = seen["planner"][code]
    assert masked["contact_phone"] != row.contact_phone and "****" in masked["contact_phone"]
    assert masked["contact_name"] != row.contact_name
    assert_problem(client.get("/collections/units/items", headers=auth("citizen")), 403)


def test_a_unit_file_imports_all_or_nothing(engine, tmp_path, grid_point):
    from gis_core.ingest.importers import ImportRejected, import_file

    x, y = grid_point
    good = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [x, y]}}
    features = [
        {**good, "properties": {"code": "U-IMP-1", "name": "王记面馆", "kind": "shop", "industry": "餐饮"}},
        {**good, "properties": {"code": "U-IMP-2", "name": "社区卫生站", "kind": "medical", "employees": 6}},
    ]
    path = tmp_path / "units.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False))
    report = import_file(engine, path, "unit")
    assert report.rejected == []
    with engine.begin() as c:
        got = c.execute(
            sa.text(
                "SELECT code, kind, contact_name, employees, grid_id IS NOT NULL FROM unit "
                "WHERE code LIKE 'U-IMP-%' ORDER BY code"
            )
        ).all()
        c.execute(sa.text("DELETE FROM unit WHERE code LIKE 'U-IMP-%'"))
    assert [tuple(r) for r in got] == [
        ("U-IMP-1", "shop", None, 0, True),
        ("U-IMP-2", "medical", None, 6, True),
    ]

    # one unit without a name: the file is refused whole, the good one beside it is not stored
    features = [
        {**good, "properties": {"code": "U-IMP-3", "name": "李记超市"}},
        {**good, "properties": {"code": "U-IMP-4"}},
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False))
    with pytest.raises(ImportRejected) as refused:
        import_file(engine, path, "unit")
    assert refused.value.report.rejected == [{"feature": 1, "code": "U-IMP-4", "reason": "missing name"}]
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM unit WHERE code LIKE 'U-IMP-%'")).scalar() == 0
