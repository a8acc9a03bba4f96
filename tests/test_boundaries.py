"""Boundary stewardship: edits keep the partition, re-anchor what is pinned, keep versions; refusals change nothing."""

from datetime import UTC, datetime

import numpy as np
import pytest
import shapely
import sqlalchemy as sa

from gis_core.ingest import boundary_ops
from gis_core.ingest.topology import check_topology
from gis_core.platform.errors import Conflict
from tests.conftest import assert_problem, demo_database

PINNED = ("person", "building", "incident", "camera")


# The edits change the district's grids for good: they run on a district of their own, so the
# rest of the suite keeps the demo as it was generated.
@pytest.fixture(scope="module")
def own_url(db_url):
    with demo_database(db_url, prefix="onegrid_bnd") as url:
        yield url


@pytest.fixture(scope="module")
def engine(own_url):
    eng = sa.create_engine(own_url)
    yield eng
    eng.dispose()


@pytest.fixture(scope="module")
def client(own_url, settings):
    from fastapi.testclient import TestClient

    from api.app import create_app

    with TestClient(create_app(settings.model_copy(update={"database_url": own_url}))) as c:
        yield c


@pytest.fixture(scope="module")
def auth(client):
    from gis_core.ingest.demo_load import DEMO_PASSWORD

    tokens: dict[str, str] = {}

    def headers(username="commander"):
        if username not in tokens:
            r = client.post("/api/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD})
            tokens[username] = r.json()["access_token"]
        return {"Authorization": f"Bearer {tokens[username]}"}

    return headers


def rows(engine, sql, **params):
    with engine.connect() as c:
        return c.execute(sa.text(sql), params).all()


def grid(engine, code):
    return shapely.from_wkb(
        bytes(rows(engine, "SELECT ST_AsBinary(geom) FROM grid WHERE code = :c", c=code)[0][0])
    )


def anchored_right(engine, table, level="grid"):
    """Rows whose grid (or community) is not the one that contains them, recounted by ST_Contains."""
    return rows(engine, f"SELECT count(*) FROM {table} t JOIN {level} g ON g.id = t.{level}_id "
                        "WHERE NOT ST_Intersects(g.geom, ST_PointOnSurface(t.geom))")[0][0]  # fmt: skip


def pair(engine):
    """Two grids of one community that share an edge, the first with pinned residents."""
    return rows(
        engine,
        "SELECT a.code, b.code FROM grid a JOIN grid b ON a.community_id = b.community_id AND a.code < b.code "
        "AND ST_Relate(a.geom, b.geom, '****1****') ORDER BY (SELECT count(*) FROM person p WHERE p.grid_id = a.id) DESC, "
        "a.code LIMIT 1",
    )[0]


def cutting_line(g):
    """A straight line through a grid's inner point, across its shorter width, long enough to cross it."""
    p = g.representative_point()
    ring = shapely.minimum_rotated_rectangle(g).exterior.coords
    (x0, y0), (x1, y1), (x2, y2) = ring[0], ring[1], ring[2]
    short = (
        np.array([x1 - x0, y1 - y0])
        if np.hypot(x1 - x0, y1 - y0) < np.hypot(x2 - x1, y2 - y1)
        else np.array([x2 - x1, y2 - y1])
    )
    d = short / np.linalg.norm(short) * 0.2
    return {"type": "LineString", "coordinates": [[p.x - d[0], p.y - d[1]], [p.x + d[0], p.y + d[1]]]}


def test_a_split_keeps_the_partition_reanchors_and_keeps_both_versions(client, auth, engine):
    code, _ = pair(engine)
    g = grid(engine, code)
    before_grids = rows(engine, "SELECT count(*) FROM grid")[0][0]
    body = {"code": code, "line": cutting_line(g), "reason": "新建小区划出网格"}
    preview = client.post("/api/v1/boundaries/split?preview=true", json=body, headers=auth("admin"))
    assert preview.status_code == 200, preview.text
    assert (
        preview.json()["applied"] is False and rows(engine, "SELECT count(*) FROM grid")[0][0] == before_grids
    )
    t_before = datetime.now(UTC)
    done = client.post("/api/v1/boundaries/split", json=body, headers=auth("admin")).json()
    new_code = done["units"][1]["code"]
    assert done["applied"] and rows(engine, "SELECT count(*) FROM grid")[0][0] == before_grids + 1
    assert done["units"][0]["area_before_m2"] == pytest.approx(
        done["units"][0]["area_after_m2"] + done["units"][1]["area_after_m2"], rel=1e-6
    )
    with engine.connect() as c:
        assert check_topology(c) == []
    for table in PINNED:
        assert anchored_right(engine, table) == 0, table
    moved = rows(
        engine, "SELECT count(*) FROM person p JOIN grid g ON g.id = p.grid_id WHERE g.code = :n", n=new_code
    )[0][0]
    assert done["reanchored"].get("person", 0) == moved
    history = client.get(f"/api/v1/boundaries/{code}/history", headers=auth("admin")).json()
    assert [v["operation"] for v in history][-1] == "split" and history[-2]["valid_to"] is not None
    assert history[0]["operation"] == "recorded" and history[0]["valid_from"] is None  # since records began
    assert history[-1]["changed_by"] == "admin" and history[-1]["reason"] == "新建小区划出网格"
    # a point in the cut part: the old grid before the edit, the new one after
    cut = grid(engine, new_code).representative_point()
    then = client.get("/api/v1/lookup", params={"lon": cut.x, "lat": cut.y, "as_of": t_before.isoformat()},
                      headers=auth()).json()  # fmt: skip
    now = client.get("/api/v1/lookup", params={"lon": cut.x, "lat": cut.y}, headers=auth()).json()
    assert (then["grid"]["code"], now["grid"]["code"]) == (code, new_code)
    # last year's figures on last year's grids: hotspots as of before the split count the old grid whole
    period = {
        "unit": "grid",
        "geometry": "false",
        "from": "2000-01-01T00:00:00Z",
        "to": datetime.now(UTC).isoformat(),
    }
    old = client.get(
        "/api/v1/hotspots", params={**period, "as_of": t_before.isoformat()}, headers=auth()
    ).json()
    new = client.get("/api/v1/hotspots", params=period, headers=auth()).json()
    old_ids, new_ids = {f["id"] for f in old["features"]}, {f["id"] for f in new["features"]}
    assert code in old_ids and new_code not in old_ids and {code, new_code} <= new_ids
    counted = {f["id"]: f["properties"]["count"] for f in old["features"]}
    (recount,) = rows(engine, "SELECT count(*) FROM incident i JOIN boundary_version v ON v.code = :c AND v.level = 'grid' "
                              "AND v.valid_to IS NOT NULL AND ST_Intersects(v.geom, i.geom)", c=code)[0]  # fmt: skip
    assert counted[code] == recount and old["total"] == new["total"]


def test_a_merge_retires_one_grid_and_moves_what_was_pinned_to_it(client, auth, engine):
    a, b = pair(engine)
    inside_b = rows(
        engine, "SELECT count(*) FROM person p JOIN grid g ON g.id = p.grid_id WHERE g.code = :b", b=b
    )[0][0]
    t_before = datetime.now(UTC)
    done = client.post("/api/v1/boundaries/merge", json={"codes": [a, b], "reason": "村网格合并"},
                       headers=auth("admin")).json()  # fmt: skip
    assert done["units"][1]["area_after_m2"] is None and done["reanchored"].get("person", 0) == inside_b
    assert not rows(engine, "SELECT 1 FROM grid WHERE code = :b", b=b)
    with engine.connect() as c:
        assert check_topology(c) == []
    for table in PINNED:
        assert anchored_right(engine, table) == 0, table
    history = client.get(f"/api/v1/boundaries/{b}/history", headers=auth("admin")).json()
    assert history[-1]["valid_to"] is not None  # retired
    p = shapely.from_wkb(bytes(rows(engine, "SELECT ST_AsBinary(geom) FROM boundary_version WHERE code = :b "
                                            "ORDER BY id DESC LIMIT 1", b=b)[0][0])).representative_point()  # fmt: skip
    then = client.get(
        "/api/v1/lookup", params={"lon": p.x, "lat": p.y, "as_of": t_before.isoformat()}, headers=auth()
    )
    assert then.json()["grid"]["code"] == b


def test_a_redraw_moves_the_shared_boundary_and_what_lies_across_it(client, auth, engine):
    a, b = pair(engine)
    ga, gb = grid(engine, a), grid(engine, b)
    edge = shapely.intersection(ga.boundary, gb.boundary)
    bite = shapely.intersection(gb, edge.interpolate(0.5, normalized=True).buffer(0.002))  # ~150 m into b
    new_a, new_b = shapely.union(ga, bite), shapely.difference(gb, bite)
    body = {"codes": [a, b], "geometries": [shapely.geometry.mapping(new_a), shapely.geometry.mapping(new_b)],
            "reason": "按道路调整网格边界"}  # fmt: skip
    done = client.post("/api/v1/boundaries/redraw", json=body, headers=auth("admin"))
    assert done.status_code == 200, done.text
    with engine.connect() as c:
        assert check_topology(c) == []
    for table in PINNED:
        assert anchored_right(engine, table) == 0, table
    assert grid(engine, a).area > ga.area and grid(engine, b).area < gb.area


def test_moving_a_grid_to_the_next_community_moves_both_outlines(client, auth, engine):
    code, target = rows(
        engine,
        "SELECT g.code, c.code FROM grid g JOIN community c ON c.id <> g.community_id "
        "AND ST_Relate(g.geom, c.geom, '****1****') WHERE (SELECT count(*) FROM grid x WHERE x.community_id = g.community_id) > 1 "
        "ORDER BY g.code LIMIT 1",
    )[0]
    done = client.post("/api/v1/boundaries/move", json={"code": code, "community_code": target.strip(), "reason": "划归"},
                       headers=auth("admin"))  # fmt: skip
    assert done.status_code == 200, done.text
    assert (
        rows(
            engine,
            "SELECT c.code FROM grid g JOIN community c ON c.id = g.community_id WHERE g.code = :g",
            g=code,
        )[0][0]
        == target
    )
    with engine.connect() as c:
        assert check_topology(c) == []
    for table in PINNED:
        assert anchored_right(engine, table, "community") == 0, table


@pytest.mark.parametrize("case", ["split_misses", "merge_apart", "redraw_gap"])
def test_a_refused_edit_changes_nothing_and_names_where(client, auth, engine, case):
    a, b = pair(engine)
    far = rows(engine, "SELECT g.code FROM grid g, grid x WHERE x.code = :a AND NOT ST_Intersects(g.geom, x.geom) "
                       "ORDER BY g.code LIMIT 1", a=a)[0][0]  # fmt: skip
    ga, gb = grid(engine, a), grid(engine, b)
    if case == "split_misses":
        p = ga.representative_point()
        op, body, says = (
            "split",
            {"code": a, "line": {"type": "LineString", "coordinates": [[p.x, p.y], [p.x + 1e-5, p.y]]}},
            "does not cut",
        )
    elif case == "merge_apart":
        op, body, says = "merge", {"codes": [a, far]}, "do not share a boundary"
    else:
        hole = ga.representative_point().buffer(0.001)
        op, body, says = "redraw", {"codes": [a, b], "geometries": [shapely.geometry.mapping(shapely.difference(ga, hole)),
                                                                    shapely.geometry.mapping(gb)]}, "leave a gap"  # fmt: skip
    versions = rows(engine, "SELECT count(*) FROM boundary_version")[0][0]
    outlines = rows(engine, "SELECT md5(string_agg(ST_AsBinary(geom)::text, '' ORDER BY code)) FROM grid")[0][
        0
    ]
    problem = assert_problem(
        client.post(f"/api/v1/boundaries/{op}", json={**body, "reason": "试"}, headers=auth("admin")), 400
    )
    assert says in problem["detail"] and problem["where"].startswith("body.") and problem.get("place"), (
        problem
    )
    assert rows(engine, "SELECT count(*) FROM boundary_version")[0][0] == versions
    assert (
        rows(engine, "SELECT md5(string_agg(ST_AsBinary(geom)::text, '' ORDER BY code)) FROM grid")[0][0]
        == outlines
    )


def test_only_admins_edit_and_an_edit_says_why(client, auth, engine):
    a, b = pair(engine)
    assert_problem(
        client.post(
            "/api/v1/boundaries/merge", json={"codes": [a, b], "reason": "x"}, headers=auth("commander")
        ),
        403,
    )
    body = assert_problem(
        client.post("/api/v1/boundaries/merge", json={"codes": [a, b]}, headers=auth("admin")), 400
    )
    assert body["where"] == "body.reason"
    assert_problem(client.post("/api/v1/boundaries/rotate", json={"reason": "x"}, headers=auth("admin")), 404)


def test_a_concurrent_edit_of_the_same_grids_is_a_conflict_and_the_partition_holds(engine):
    """While one edit holds the grids (its transaction open), a second edit of them is refused at once."""
    a, b = pair(engine)
    holder = engine.connect()
    tx = holder.begin()
    holder.execute(sa.text("SELECT 1 FROM grid WHERE code = :a FOR UPDATE"), {"a": a})
    try:
        with pytest.raises(Conflict):
            boundary_ops.edit(engine, "merge", {"codes": [a, b], "reason": "并发"}, "admin")
    finally:
        tx.rollback()
        holder.close()
    done = boundary_ops.edit(engine, "merge", {"codes": [a, b], "reason": "并发之后"}, "admin")
    assert done.applied
    with engine.connect() as c:
        assert check_topology(c) == []


def test_the_cli_previews_an_edit_and_shows_history(engine, own_url, tmp_path):
    import json
    import subprocess
    import sys

    a, b = pair(engine)
    edit = tmp_path / "merge.json"
    edit.write_text(json.dumps({"codes": [a, b], "reason": "预览"}), encoding="utf-8")
    env = {"ONEGRID_DATABASE_URL": own_url, "PATH": "/usr/bin:/bin"}

    def onegrid(*args):
        return subprocess.run([sys.executable, "-m", "gis_core.cli", "boundary", *args], capture_output=True,
                              text=True, env=env, check=False)  # fmt: skip

    preview = onegrid("merge", str(edit), "--preview")
    assert preview.returncode == 0, preview.stderr
    assert json.loads(preview.stdout)["applied"] is False and rows(
        engine, "SELECT 1 FROM grid WHERE code = :b", b=b
    )
    history = onegrid("history", a)
    assert history.returncode == 0 and json.loads(history.stdout)[0]["code"] == a
    refused = onegrid("history", "999999999999999")
    assert refused.returncode == 1 and "ever had code" in json.loads(refused.stdout)["refused"]
